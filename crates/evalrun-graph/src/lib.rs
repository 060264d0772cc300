//! Load-time graph edits: what evalrun does to an ONNX export before ONNX Runtime loads it.
//!
//! Every edit is named ([`Edit`]), chosen by the run's settings ([`Edits`], `--graph-edits`),
//! and reported ([`EditReport`]): applied (and how often), not applicable (and why), or
//! refused by ONNX Runtime (the caller loads the graph unedited and says so). The report goes
//! into the backend's fingerprint, so responses computed by different graphs never answer each
//! other from the request cache, and into the record.
//!
//! The crate reads and writes the protobuf wire format itself ([`proto`]): a model's headers
//! are read once, its weights are never read (they are referenced where they lie in the file,
//! or copied byte for byte), and no ONNX Runtime, tokenizer or tensor library is involved.
//!
//! | edit | graphs | what it changes numerically |
//! |---|---|---|
//! | `weights_in_place` | all | nothing (the same bytes, read by ONNX Runtime from the file) |
//! | `nan_guards` | all | nothing for the rows evalrun builds (a softmax row is never all masked) |
//! | `log_softmax` | causal LMs | the log-softmax in float32 inside the graph, summed in f64, instead of f64 on the host from the whole `logits` tensor |
//! | `lm_head` | causal LMs | none: each logit is the same dot product, run only at the scored positions |
//! | `attention_blocks` | causal LMs | sums agree to the last bits (masked keys weigh exactly zero) |
//! | `cross_attention` | seq2seq decoders with a cache | beam search's products round differently in the last bits (logits within 3.6e-6 on T5-Base) |

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub mod edits;
mod proto;
mod weights;

pub use edits::attention_blocks::Blocks;
pub use edits::lm_head::{ARGMAX, HEAD_CHUNK, HEAD_POSITIONS, SCORES, TARGET_IDS, TARGET_LOGPROB};
pub use weights::MIN_BYTES;

/// One load-time edit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Edit {
    /// Large initializers become external-data references to their own bytes in the file
    /// (one copy of the weights while loading).
    WeightsInPlace,
    /// `Where(IsNaN(p), 0, p)` after attention softmaxes becomes `Identity(p)`.
    NanGuards,
    /// LogSoftmax, GatherElements and ArgMax appended after `logits`: ONNX Runtime returns the
    /// target's log-probability and the argmax instead of the logits.
    LogSoftmax,
    /// The LM head runs only at the scored positions, in chunks (needs `log_softmax`).
    LmHead,
    /// Long windows' causal attention in blocks of query rows.
    AttentionBlocks,
    /// Cross-attention reads one row of cached encoder keys and values per input, for all of
    /// its beams.
    CrossAttention,
}

impl Edit {
    /// Every edit, in the order a pass applies them.
    pub const ALL: [Edit; 6] = [
        Edit::WeightsInPlace,
        Edit::NanGuards,
        Edit::LogSoftmax,
        Edit::LmHead,
        Edit::AttentionBlocks,
        Edit::CrossAttention,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Edit::WeightsInPlace => "weights_in_place",
            Edit::NanGuards => "nan_guards",
            Edit::LogSoftmax => "log_softmax",
            Edit::LmHead => "lm_head",
            Edit::AttentionBlocks => "attention_blocks",
            Edit::CrossAttention => "cross_attention",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.name() == name)
    }

    /// Whether the edit is ever made to a graph of this role.
    pub fn applies_to(self, role: Role) -> bool {
        match self {
            Edit::WeightsInPlace | Edit::NanGuards => true,
            Edit::LogSoftmax | Edit::LmHead | Edit::AttentionBlocks => role == Role::CausalLm,
            Edit::CrossAttention => role == Role::CachedDecoder,
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Edit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a graph is, as far as the edits care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// An encoder (with a head or an embedding), a seq2seq encoder, or a seq2seq decoder
    /// without a cache: only the edits every graph takes.
    Plain,
    /// A causal LM scored by log-likelihood.
    CausalLm,
    /// A seq2seq decoder that reads the encoder's cached keys and values (the merged decoder,
    /// or the split `-with-past` one).
    CachedDecoder,
}

/// Why an edit list could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    #[error(
        "unknown graph edit `{name}`; the edits are {}, or `auto` (all) and `none`",
        known()
    )]
    UnknownEdit { name: String },
    #[error("`{spec}` mixes edits to add and edits to remove (`-name`); give either a list of the edits wanted or `-name,...` to remove some from `auto`")]
    Mixed { spec: String },
    #[error(
        "the graph-edit list is empty; give `auto`, `none` or edit names ({})",
        known()
    )]
    Empty,
}

fn known() -> String {
    Edit::ALL.map(Edit::name).join(", ")
}

/// The edits a run asks for (`--graph-edits`), and the block sizes of `attention_blocks`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edits {
    bits: u8,
    /// Where `attention_blocks` takes the blocked branch; [`Blocks::default`] for runs,
    /// smaller in tests so that a tiny fixture's windows exercise it.
    pub blocks: Blocks,
}

impl Default for Edits {
    fn default() -> Self {
        Self::auto()
    }
}

impl Edits {
    /// Every edit: the default.
    pub fn auto() -> Self {
        Self {
            bits: Edit::ALL.iter().fold(0, |b, e| b | e.bit()),
            blocks: Blocks::default(),
        }
    }

    /// None: every graph is loaded exactly as exported.
    pub fn none() -> Self {
        Self {
            bits: 0,
            blocks: Blocks::default(),
        }
    }

    pub fn contains(&self, edit: Edit) -> bool {
        self.bits & edit.bit() != 0
    }

    pub fn with(mut self, edit: Edit) -> Self {
        self.bits |= edit.bit();
        self
    }

    pub fn without(mut self, edit: Edit) -> Self {
        self.bits &= !edit.bit();
        self
    }

    /// The same edits, `attention_blocks` taking the blocked branch as `blocks` says.
    pub fn with_blocks(mut self, blocks: Blocks) -> Self {
        self.blocks = blocks;
        self
    }

    pub fn iter(&self) -> impl Iterator<Item = Edit> + '_ {
        Edit::ALL.into_iter().filter(|e| self.contains(*e))
    }

    /// `auto`, `none`, the edits wanted (`lm_head,nan_guards`), or edits taken from `auto`
    /// (`-attention_blocks`). Names are separated by commas; spaces around them are ignored.
    pub fn parse(spec: &str) -> Result<Self, GraphError> {
        let names: Vec<&str> = spec
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .collect();
        match names.as_slice() {
            [] => return Err(GraphError::Empty),
            ["auto"] => return Ok(Self::auto()),
            ["none"] => return Ok(Self::none()),
            _ => {}
        }
        let removing = names.iter().filter(|n| n.starts_with('-')).count();
        if removing != 0 && removing != names.len() {
            return Err(GraphError::Mixed { spec: spec.into() });
        }
        let mut edits = if removing > 0 {
            Self::auto()
        } else {
            Self::none()
        };
        for name in names {
            let bare = name.strip_prefix('-').unwrap_or(name);
            let edit = Edit::from_name(bare).ok_or_else(|| GraphError::UnknownEdit {
                name: bare.to_string(),
            })?;
            edits = if removing > 0 {
                edits.without(edit)
            } else {
                edits.with(edit)
            };
        }
        Ok(edits)
    }
}

/// `auto`, `none`, or the names in [`Edit::ALL`] order: what [`Edits::parse`] reads back.
impl fmt::Display for Edits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.bits == Self::auto().bits {
            f.write_str("auto")
        } else if self.bits == 0 {
            f.write_str("none")
        } else {
            let names: Vec<&str> = self.iter().map(Edit::name).collect();
            f.write_str(&names.join(","))
        }
    }
}

impl FromStr for Edits {
    type Err = GraphError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// What became of one edit on one graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Made, at this many places (initializers referenced, guards removed, attentions
    /// rewritten; 1 for the scoring nodes and the head).
    Applied(usize),
    /// Asked for, but the graph does not have the shape the edit needs.
    NotApplicable(String),
    /// Made, but ONNX Runtime refused the edited graph (its message): the graph was loaded
    /// unedited.
    Refused(String),
}

impl Status {
    /// `applied`, `not applicable` or `refused`.
    pub fn word(&self) -> &'static str {
        match self {
            Status::Applied(_) => "applied",
            Status::NotApplicable(_) => "not applicable",
            Status::Refused(_) => "refused",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub edit: Edit,
    pub status: Status,
}

/// What [`prepare`] made of the edits asked for, for one graph: one outcome per edit that was
/// asked for and applies to the graph's role, in [`Edit::ALL`] order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditReport {
    pub graph: PathBuf,
    pub outcomes: Vec<Outcome>,
    /// The block sizes `attention_blocks` used, where it applied.
    pub blocks: Option<Blocks>,
}

impl EditReport {
    pub fn status(&self, edit: Edit) -> Option<&Status> {
        self.outcomes
            .iter()
            .find(|o| o.edit == edit)
            .map(|o| &o.status)
    }

    pub fn is_applied(&self, edit: Edit) -> bool {
        matches!(self.status(edit), Some(Status::Applied(_)))
    }

    /// How many places `edit` changed (0 unless applied).
    pub fn count(&self, edit: Edit) -> usize {
        match self.status(edit) {
            Some(Status::Applied(n)) => *n,
            _ => 0,
        }
    }

    /// The edits applied, in [`Edit::ALL`] order.
    pub fn applied(&self) -> impl Iterator<Item = Edit> + '_ {
        self.outcomes
            .iter()
            .filter(|o| matches!(o.status, Status::Applied(_)))
            .map(|o| o.edit)
    }

    /// ONNX Runtime refused the edited graph: every applied edit becomes refused, with its
    /// message.
    pub fn refuse(&mut self, message: &str) {
        for o in &mut self.outcomes {
            if let Status::Applied(_) = o.status {
                o.status = Status::Refused(message.to_string());
            }
        }
    }

    /// The applied edits as the backend's fingerprint and the record name them:
    /// `weights_in_place,nan_guards,...`; attention blocks of other than the default sizes
    /// carry them (`attention_blocks(24/4/8)`).
    pub fn fingerprint(&self) -> String {
        let names: Vec<String> = self
            .applied()
            .map(|e| match (e, self.blocks) {
                (Edit::AttentionBlocks, Some(b)) if b != Blocks::default() => {
                    format!("{e}({}/{}/{})", b.min_tokens, b.blocks, b.min_block)
                }
                _ => e.name().to_string(),
            })
            .collect();
        names.join(",")
    }
}

/// A graph ready for ONNX Runtime: the `ModelProto` to load from memory (`None`: load the file
/// as it is), the folder its external-data references resolve in, and the report.
#[derive(Debug)]
pub struct Prepared {
    pub bytes: Option<Vec<u8>>,
    pub folder: PathBuf,
    pub report: EditReport,
}

/// Reads the headers of the model at `path` and makes the edits of `edits` that apply to its
/// `role`, each where the graph allows. Never fails: a file that cannot be read this way is
/// loaded as it is, every edit marked not applicable with the reason (ONNX Runtime then says
/// what is wrong with it, if anything).
pub fn prepare(path: &Path, role: Role, edits: &Edits) -> Prepared {
    let wanted: Vec<Edit> = edits.iter().filter(|e| e.applies_to(role)).collect();
    let mut report = EditReport {
        graph: path.to_path_buf(),
        outcomes: Vec::new(),
        blocks: None,
    };
    let folder = weights::model_folder(path);
    if wanted.is_empty() {
        return Prepared {
            bytes: None,
            folder,
            report,
        };
    }
    let has = |e: Edit| wanted.contains(&e);
    let plan = weights::Plan {
        reference_weights: has(Edit::WeightsInPlace),
        nan_guards: has(Edit::NanGuards),
        log_softmax: has(Edit::LogSoftmax),
        lm_head: has(Edit::LmHead),
        attention_blocks: has(Edit::AttentionBlocks).then_some(edits.blocks),
        cross_attention: has(Edit::CrossAttention),
    };
    let rewritten = match weights::rewrite(path, plan) {
        Ok(r) => r,
        Err(why) => {
            report.outcomes = wanted
                .iter()
                .map(|&edit| Outcome {
                    edit,
                    status: Status::NotApplicable(why.clone()),
                })
                .collect();
            return Prepared {
                bytes: None,
                folder,
                report,
            };
        }
    };
    let counted = |n: usize, why: &str| match n {
        0 => Status::NotApplicable(why.to_string()),
        n => Status::Applied(n),
    };
    for &edit in &wanted {
        let status = match edit {
            Edit::WeightsInPlace => counted(
                rewritten.referenced + rewritten.external_before,
                "no initializer of 1024 bytes or more",
            ),
            Edit::NanGuards => counted(
                rewritten.nan_guards,
                "no NaN guard after a softmax (or the graph has subgraphs)",
            ),
            Edit::LogSoftmax => match &rewritten.log_softmax {
                Ok(()) => Status::Applied(1),
                Err(why) => Status::NotApplicable(why.clone()),
            },
            Edit::LmHead => match (&rewritten.log_softmax, rewritten.head_gathered) {
                (_, true) => Status::Applied(1),
                (Err(_), false) if !has(Edit::LogSoftmax) => Status::NotApplicable(
                    "needs log_softmax: the gathered head ends in the scoring nodes".into(),
                ),
                (Err(why), false) => Status::NotApplicable(format!("log_softmax: {why}")),
                (Ok(()), false) => Status::NotApplicable(
                    "no single `logits = MatMul(hidden, W)` in the main graph (or opset < 11)"
                        .into(),
                ),
            },
            Edit::AttentionBlocks => counted(
                rewritten.attention_blocks,
                "no causal attention of the shape it rewrites (or opset < 13, or subgraphs)",
            ),
            Edit::CrossAttention => counted(
                rewritten.cross_attention,
                "no cross-attention that reads the cached encoder keys and values alone (or opset < 13)",
            ),
        };
        report.outcomes.push(Outcome { edit, status });
    }
    if report.is_applied(Edit::AttentionBlocks) {
        report.blocks = Some(edits.blocks);
    }
    // Nothing changed and the weights are copied: the file itself is the same model.
    let changed = report.applied().next().is_some();
    Prepared {
        bytes: changed.then_some(rewritten.bytes),
        folder: if changed { rewritten.folder } else { folder },
        report,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_lists_parse_and_print_back() {
        assert_eq!(Edits::parse("auto").unwrap(), Edits::auto());
        assert_eq!(Edits::parse(" none ").unwrap(), Edits::none());
        let some = Edits::parse("lm_head, nan_guards").unwrap();
        assert_eq!(
            some.iter().collect::<Vec<_>>(),
            [Edit::NanGuards, Edit::LmHead]
        );
        assert_eq!(some.to_string(), "nan_guards,lm_head");
        let less = Edits::parse("-attention_blocks,-cross_attention").unwrap();
        assert!(!less.contains(Edit::AttentionBlocks) && less.contains(Edit::LmHead));
        assert_eq!(
            less.to_string(),
            "weights_in_place,nan_guards,log_softmax,lm_head"
        );
        for edits in [Edits::auto(), Edits::none(), some, less] {
            assert_eq!(Edits::parse(&edits.to_string()).unwrap(), edits);
        }
        let unknown = Edits::parse("lm_head,flash").unwrap_err();
        assert_eq!(
            unknown,
            GraphError::UnknownEdit {
                name: "flash".into()
            }
        );
        let message = unknown.to_string();
        for e in Edit::ALL {
            assert!(message.contains(e.name()), "{message}");
        }
        assert!(matches!(
            Edits::parse("lm_head,-nan_guards"),
            Err(GraphError::Mixed { .. })
        ));
        assert_eq!(Edits::parse(" , "), Err(GraphError::Empty));
    }

    #[test]
    fn edits_apply_by_role() {
        let roles = |e: Edit| {
            [Role::Plain, Role::CausalLm, Role::CachedDecoder]
                .into_iter()
                .filter(|r| e.applies_to(*r))
                .count()
        };
        assert_eq!(roles(Edit::WeightsInPlace), 3);
        assert_eq!(roles(Edit::NanGuards), 3);
        assert!(Edit::LmHead.applies_to(Role::CausalLm));
        assert!(!Edit::LmHead.applies_to(Role::CachedDecoder));
        assert!(Edit::CrossAttention.applies_to(Role::CachedDecoder));
        assert!(!Edit::CrossAttention.applies_to(Role::CausalLm));
    }

    #[test]
    fn a_file_that_cannot_be_read_is_loaded_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.onnx");
        std::fs::write(&path, [0x0a, 0xff, 0x01]).unwrap();
        let prepared = prepare(&path, Role::CausalLm, &Edits::auto());
        assert!(prepared.bytes.is_none());
        assert_eq!(prepared.report.outcomes.len(), 5);
        for o in &prepared.report.outcomes {
            match &o.status {
                Status::NotApplicable(why) => {
                    assert!(why.contains("not a readable ONNX ModelProto"), "{why}")
                }
                other => panic!("{other:?}"),
            }
        }
        let none = prepare(&path, Role::CausalLm, &Edits::none());
        assert!(none.bytes.is_none() && none.report.outcomes.is_empty());
    }

    #[test]
    fn refusal_turns_every_applied_edit_refused() {
        let mut report = EditReport {
            graph: "m.onnx".into(),
            outcomes: vec![
                Outcome {
                    edit: Edit::WeightsInPlace,
                    status: Status::Applied(3),
                },
                Outcome {
                    edit: Edit::NanGuards,
                    status: Status::NotApplicable("none".into()),
                },
                Outcome {
                    edit: Edit::AttentionBlocks,
                    status: Status::Applied(2),
                },
            ],
            blocks: Some(Blocks {
                min_tokens: 24,
                blocks: 4,
                min_block: 8,
            }),
        };
        assert_eq!(
            report.fingerprint(),
            "weights_in_place,attention_blocks(24/4/8)"
        );
        report.refuse("bad graph");
        assert_eq!(report.applied().count(), 0);
        assert_eq!(report.fingerprint(), "");
        assert_eq!(
            report.status(Edit::AttentionBlocks),
            Some(&Status::Refused("bad graph".into()))
        );
    }
}
