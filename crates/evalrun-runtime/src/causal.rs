//! Causal language models (Optimum `text-generation` and `text-generation-with-past`
//! exports): log-likelihoods of scored tokens in [`Window`]s.
//!
//! Inputs fed: `input_ids`, `attention_mask`, `position_ids` when the graph takes it, and for
//! exports with past, empty `past_key_values.*` tensors (sequence length 0) plus
//! `use_cache_branch = false` for merged decoders — so both exports compute the same thing.
//! Outputs: by default the graph is extended at load time ([`crate::scoring_graph`]) so that
//! ONNX Runtime returns only the target's log-probability and the argmax — per scored token
//! where the LM head can be rewritten to run at the scored positions alone, per position
//! otherwise; evalrun sums them in f64. Where the graph
//! cannot be extended (the reason is logged), or without the `log_softmax` edit
//! (`--graph-edits -log_softmax`, or `none`), it reads
//! `logits` `[batch, tokens, vocab]` and takes the log-softmax in f64 for the scored positions
//! itself. Either way batches are cut by a token budget so that `batch × tokens × vocab` stays
//! bounded.

use std::path::Path;

use evalrun_core::lm::Window;
use ort::session::{OutputSelector, RunOptions, Session, SessionInputValue};
use ort::value::{Tensor, TensorElementType, ValueType};

use evalrun_graph::{self as graph, Edit, EditReport, Edits, Role};

use crate::encode::TextEncoder;
use crate::error::RuntimeError;
use crate::model::{ModelConfig, ModelFiles};
use crate::seq2seq::present_name;
use crate::session::{ort_error, Runtime};

/// Where the log-softmax over the vocabulary is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scoring {
    /// Inside the graph: ONNX Runtime returns the target logit, log-sum-exp and argmax.
    InGraph,
    /// On the host, from the whole `logits` tensor.
    HostLogits,
}

impl Scoring {
    pub fn as_str(self) -> &'static str {
        match self {
            Scoring::InGraph => "in-graph",
            Scoring::HostLogits => "host-logits",
        }
    }
}

/// The log-likelihood of one window's scored tokens.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WindowScore {
    /// Σ log p(target), natural log.
    pub loglikelihood: f64,
    /// Scored tokens.
    pub tokens: usize,
    /// Whether every target was the argmax (lm-eval's `is_greedy`).
    pub greedy: bool,
    /// The argmax token at each scored position.
    pub greedy_tokens: Vec<u32>,
}

/// An empty past tensor to feed: name, element type and shape with sequence length 0.
#[derive(Debug, Clone)]
struct PastInput {
    name: String,
    heads: i64,
    head_dim: i64,
}

pub struct CausalLm {
    session: Session,
    files: ModelFiles,
    config: ModelConfig,
    encoder: TextEncoder,
    takes_position_ids: bool,
    past: Vec<PastInput>,
    use_cache_branch: bool,
    scoring: Scoring,
    /// The LM head reads only [`graph::HEAD_POSITIONS`] (in-graph scoring only).
    head_positions: bool,
    /// Causal attentions with a blocked branch for long windows ([`crate::attention_blocks`]).
    attention_blocks: usize,
    shared_prefix: bool,
    /// End-of-text token: the prefix of the first rolling window and the padding token.
    eot: u32,
    edits: EditReport,
    tokens: SpecialTokens,
}

/// lm-eval's HFLM model arguments for special tokens (`--add-bos-token`, `--prefix-token`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenOptions {
    /// `Some(false)`: encode without special tokens; `Some(true)`/`None`: with the tokenizer's.
    pub add_bos_token: Option<bool>,
    /// The prefix token, by id or by its text; default the tokenizer's BOS, else its EOS.
    pub prefix_token: Option<String>,
}

/// The special tokens a causal LM's texts are encoded with, resolved as lm-eval's HFLM does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecialTokens {
    /// `--add-bos-token` as given.
    pub add_bos_token: Option<bool>,
    /// `prefix_token_id`: `--prefix-token`, else the tokenizer's `bos_token`, else its
    /// `eos_token`, else the config's `eos_token_id`, else `<|endoftext|>`.
    pub prefix: u32,
    /// The prefix token's text.
    pub prefix_text: String,
    /// What encoding a text adds before it (`[]`, or e.g. `[1]` for Llama's `<s>`), by probe.
    pub added_before: Vec<u32>,
}

impl SpecialTokens {
    fn resolve(
        files: &ModelFiles,
        config: &ModelConfig,
        encoder: &TextEncoder,
        options: &TokenOptions,
    ) -> Result<Self, RuntimeError> {
        let named = |key: &str| -> Option<u32> {
            tokenizer_special(files, key).and_then(|t| encoder.token_id(&t))
        };
        let prefix = match &options.prefix_token {
            Some(given) => match given.parse::<u32>() {
                Ok(id) => id,
                Err(_) => encoder.token_id(given).ok_or_else(|| RuntimeError::Limit {
                    option: "--prefix-token",
                    message: format!("`{given}` is neither a token id nor a token of `{}`", files.tokenizer.display()),
                })?,
            },
            None => named("bos_token")
                .or_else(|| named("eos_token"))
                .or(config.eos_token_id)
                .or_else(|| encoder.token_id("<|endoftext|>"))
                .ok_or_else(|| RuntimeError::BadConfig {
                    path: files.tokenizer.clone(),
                    message: "no prefix token: the tokenizer names no `bos_token` or `eos_token`, `config.json` no `eos_token_id`; pass `--prefix-token`".into(),
                })?,
        };
        let prefix_text = encoder.decode(&[prefix], false)?;
        let probe = "x";
        let plain = encoder.encode_text(probe, false)?;
        let special = encoder.encode_text(probe, options.add_bos_token.unwrap_or(true))?;
        let added_before = if special.ends_with(&plain) {
            special[..special.len() - plain.len()].to_vec()
        } else {
            Vec::new()
        };
        Ok(Self {
            add_bos_token: options.add_bos_token,
            prefix,
            prefix_text,
            added_before,
        })
    }

    /// For the record and the table: `BOS <s> (1) added, prefix <s> (1)`.
    pub fn describe(&self, encoder: &TextEncoder) -> String {
        let name = |ids: &[u32]| encoder.decode(ids, false).unwrap_or_default();
        let added = if self.added_before.is_empty() {
            "no BOS added".to_string()
        } else {
            format!(
                "BOS {} ({}) added",
                name(&self.added_before),
                join(&self.added_before)
            )
        };
        format!("{added}, prefix {} ({})", self.prefix_text, self.prefix)
    }
}

fn join(ids: &[u32]) -> String {
    ids.iter().map(u32::to_string).collect::<Vec<_>>().join(" ")
}

/// A special token's text from `tokenizer_config.json` (else `special_tokens_map.json`): a
/// string or `{"content": ...}`; `None` where absent or null.
fn tokenizer_special(files: &ModelFiles, key: &str) -> Option<String> {
    for name in ["tokenizer_config.json", "special_tokens_map.json"] {
        let Ok(text) = std::fs::read_to_string(files.dir.join(name)) else {
            continue;
        };
        let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        match json.get(key) {
            Some(serde_json::Value::String(s)) => return Some(s.clone()),
            Some(serde_json::Value::Object(o)) => {
                return o
                    .get("content")
                    .and_then(|c| c.as_str())
                    .map(str::to_string)
            }
            Some(serde_json::Value::Null) => return None,
            _ => continue,
        }
    }
    None
}

impl CausalLm {
    /// Loads with every graph edit that applies ([`Edits::auto`]).
    pub fn load(runtime: &Runtime, dir: &Path) -> Result<Self, RuntimeError> {
        Self::load_with(runtime, dir, &Edits::auto())
    }

    /// Loads with these graph edits: with `log_softmax` made, log-probabilities are computed in
    /// the graph ([`Scoring::InGraph`]); without it, or where the graph cannot take it (reason
    /// logged), on the host from `logits` ([`Scoring::HostLogits`]). `lm_head` and
    /// `attention_blocks` are made where the graph allows.
    pub fn load_with(runtime: &Runtime, dir: &Path, edits: &Edits) -> Result<Self, RuntimeError> {
        let files = ModelFiles::locate(dir)?;
        let config = ModelConfig::load(&files)?;
        let (session, report) = runtime.session(&files.onnx, Role::CausalLm, edits)?;
        let outputs: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
        if !outputs.contains(&"logits") && outputs.contains(&"last_hidden_state") {
            return Err(RuntimeError::WrongExport {
                dir: dir.to_path_buf(),
                family: "causal LM",
                architecture: config.name(),
                found: format!(
                    "returns {} and no `logits` (a `feature-extraction` export)",
                    outputs.join(", ")
                ),
                task: "text-generation-with-past",
            });
        }
        let scoring = if report.is_applied(Edit::LogSoftmax) {
            Scoring::InGraph
        } else {
            if let Some(graph::Status::NotApplicable(why)) = report.status(Edit::LogSoftmax) {
                tracing::warn!(model = %files.onnx.display(), reason = %why, "log-probabilities are taken from the whole logits tensor on the host");
            }
            Scoring::HostLogits
        };
        let attention_blocks = report.count(Edit::AttentionBlocks);
        let path = files.onnx.clone();
        let names: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
        for required in ["input_ids", "attention_mask"] {
            if !names.contains(&required) {
                return Err(RuntimeError::MissingInput {
                    name: required.into(),
                    path,
                    present: names.join(", "),
                });
            }
        }
        let mut past = Vec::new();
        let mut use_cache_branch = false;
        for input in session.inputs() {
            let name = input.name();
            match name {
                graph::TARGET_IDS | graph::HEAD_POSITIONS if scoring == Scoring::InGraph => {}
                "input_ids" | "attention_mask" | "position_ids" => match input.dtype() {
                    ValueType::Tensor {
                        ty: TensorElementType::Int64,
                        ..
                    } => {}
                    other => {
                        return Err(RuntimeError::InputType {
                            name: name.into(),
                            path,
                            found: other.to_string(),
                        })
                    }
                },
                "use_cache_branch" => use_cache_branch = true,
                _ if name.starts_with("past_key_values.") => {
                    let shape = input
                        .dtype()
                        .tensor_shape()
                        .map(|s| s.to_vec())
                        .unwrap_or_default();
                    let heads = shape
                        .get(1)
                        .copied()
                        .filter(|d| *d > 0)
                        .or(config.attention_heads.map(|h| h as i64));
                    let head_dim =
                        shape.get(3).copied().filter(|d| *d > 0).or_else(|| {
                            Some((config.hidden_size? / config.attention_heads?) as i64)
                        });
                    match (heads, head_dim, input.dtype()) {
                        (Some(heads), Some(head_dim), ValueType::Tensor { ty: TensorElementType::Float32, .. }) => {
                            past.push(PastInput { name: name.into(), heads, head_dim })
                        }
                        _ => {
                            return Err(RuntimeError::InputType {
                                name: name.into(),
                                path,
                                found: format!("{} (evalrun feeds empty float32 past tensors [batch, heads, 0, head_dim])", input.dtype()),
                            })
                        }
                    }
                }
                _ => {
                    return Err(RuntimeError::UnexpectedInput {
                        name: name.into(),
                        path,
                    })
                }
            }
        }
        let head_positions = scoring == Scoring::InGraph && names.contains(&graph::HEAD_POSITIONS);
        // A gathered head has replaced `logits` by the scoring outputs.
        if !head_positions && !session.outputs().iter().any(|o| o.name() == "logits") {
            let present: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
            return Err(RuntimeError::MissingOutput {
                path,
                expected: "`logits`",
                present: present.join(", "),
            });
        }
        let encoder = TextEncoder::load_untruncated(&files.tokenizer)?;
        let eot = encoder
            .token_id("<|endoftext|>")
            .or(config.eos_token_id)
            .ok_or_else(|| RuntimeError::BadConfig {
                path: files.tokenizer.clone(),
                message: "no end-of-text token (`<|endoftext|>` or `eos_token_id`)".into(),
            })?;
        let takes_position_ids = names.contains(&"position_ids");
        let tokens = SpecialTokens::resolve(&files, &config, &encoder, &TokenOptions::default())?;
        tracing::info!(model = %files.onnx.display(), past = past.len(), use_cache_branch, scoring = scoring.as_str(), head_positions, attention_blocks, "causal LM loaded");
        Ok(Self {
            session,
            files,
            config,
            encoder,
            takes_position_ids,
            past,
            use_cache_branch,
            scoring,
            head_positions,
            attention_blocks,
            shared_prefix: true,
            eot,
            edits: report,
            tokens,
        })
    }

    /// Encodes as lm-eval's HFLM does with `add_bos_token` and `prefix_token_id` set as
    /// `options` says (`None`: the tokenizer as saved).
    pub fn set_special_tokens(&mut self, options: &TokenOptions) -> Result<(), RuntimeError> {
        self.tokens = SpecialTokens::resolve(&self.files, &self.config, &self.encoder, options)?;
        Ok(())
    }

    /// The special tokens in effect.
    pub fn special_tokens(&self) -> &SpecialTokens {
        &self.tokens
    }

    /// The prefix of the first rolling window and of an empty context (lm-eval's
    /// `prefix_token_id`).
    pub fn prefix(&self) -> u32 {
        self.tokens.prefix
    }

    /// HFLM's `tok_encode`: the tokenizer's own special tokens (its post-processor, e.g. Llama's
    /// `<s>`) unless `--add-bos-token false`, and none for a text that already starts with the
    /// prefix token's text.
    pub fn tok_encode(&self, text: &str) -> Result<Vec<u32>, RuntimeError> {
        let specials = if text.starts_with(&self.tokens.prefix_text) {
            false
        } else {
            self.tokens.add_bos_token.unwrap_or(true)
        };
        self.encoder.encode_text(text, specials)
    }

    /// HFLM's pair encoding: trailing spaces of the context move to the continuation, the pair
    /// is encoded whole ([`Self::tok_encode`]) and the continuation is what follows the
    /// context's own tokens. An empty context is the prefix token (unless the continuation,
    /// encoded without special tokens, starts with it: then its first token is the context).
    pub fn encode_pair(
        &self,
        context: &str,
        continuation: &str,
    ) -> Result<(Vec<u32>, Vec<u32>), RuntimeError> {
        if context.is_empty() {
            let mut cont = self.encoder.encode_text(continuation, false)?;
            if cont.first() == Some(&self.tokens.prefix) {
                let rest = cont.split_off(1);
                return Ok((cont, rest));
            }
            return Ok((vec![self.tokens.prefix], cont));
        }
        let trimmed = context.trim_end();
        let (context, continuation) = if trimmed.is_empty() || trimmed.len() == context.len() {
            (context, continuation.to_string())
        } else {
            (
                trimmed,
                format!("{}{continuation}", &context[trimmed.len()..]),
            )
        };
        let whole = self.tok_encode(&format!("{context}{continuation}"))?;
        let context_ids = self.tok_encode(context)?;
        let continuation_ids = whole.get(context_ids.len()..).unwrap_or_default().to_vec();
        Ok((context_ids, continuation_ids))
    }

    pub fn files(&self) -> &ModelFiles {
        &self.files
    }

    pub fn encoder(&self) -> &TextEncoder {
        &self.encoder
    }

    pub fn eot(&self) -> u32 {
        self.eot
    }

    /// `n_positions` / `max_position_embeddings`, the default context.
    pub fn context(&self) -> Option<usize> {
        self.config.max_position_embeddings
    }

    /// Where log-probabilities are computed.
    pub fn scoring(&self) -> Scoring {
        self.scoring
    }

    /// What became of the graph edits.
    pub fn edits(&self) -> &EditReport {
        &self.edits
    }

    /// Whether shared-prefix scoring is on.
    pub fn shared_prefix(&self) -> bool {
        self.shared_prefix
    }

    /// How many causal attentions got a blocked branch for long windows
    /// ([`crate::attention_blocks`]).
    pub fn attention_blocks(&self) -> usize {
        self.attention_blocks
    }

    /// Whether the LM head runs only over the scored positions.
    pub fn head_gathered(&self) -> bool {
        self.head_positions
    }

    /// Whether the graph takes past key/values (a `with-past` export).
    pub fn has_past(&self) -> bool {
        !self.past.is_empty()
    }

    /// Turns shared-prefix scoring on or off (on by default for exports with past).
    pub fn set_shared_prefix(&mut self, on: bool) {
        self.shared_prefix = on;
    }

    /// Scores `windows` in batches of at most `max_rows` rows and `max_tokens` padded tokens,
    /// longest first; results come back in input order. `progress` gets the indices of the
    /// windows each batch finished.
    ///
    /// With a `with-past` export, windows that share their whole context (multiple-choice
    /// candidates: CBT's ten, any task whose requests share a context of at least
    /// [`MIN_SHARED`] tokens) are scored together: the context but its last token runs once,
    /// its key/value cache is kept, and the continuations run in a batch against it.
    pub fn score(
        &mut self,
        windows: &[Window],
        max_rows: usize,
        max_tokens: usize,
        progress: &mut dyn FnMut(&[usize]),
    ) -> Result<Vec<WindowScore>, RuntimeError> {
        let mut results = vec![WindowScore::default(); windows.len()];
        let mut done = vec![false; windows.len()];
        if self.shared_prefix && self.has_past() {
            for (shared, members) in shared_prefix_groups(windows) {
                let past = self.prefix_past(&windows[members[0]].tokens[..shared])?;
                // The past is `shared` tokens per row: count it in the token budget too.
                self.score_rows(
                    windows,
                    members,
                    shared,
                    Some(&past),
                    max_rows,
                    max_tokens,
                    &mut |batch, scores| {
                        for (&i, score) in batch.iter().zip(scores) {
                            results[i] = score;
                            done[i] = true;
                        }
                        progress(batch);
                    },
                )?;
            }
        }
        let rest: Vec<usize> = (0..windows.len()).filter(|&i| !done[i]).collect();
        self.score_rows(
            windows,
            rest,
            0,
            None,
            max_rows,
            max_tokens,
            &mut |batch, scores| {
                for (&i, score) in batch.iter().zip(scores) {
                    results[i] = score;
                }
                progress(batch);
            },
        )?;
        Ok(results)
    }

    /// Scores the windows `indices`, each fed from token `offset` on (after `offset` tokens of
    /// `past`, when given), longest first in batches cut by rows and padded tokens.
    #[allow(clippy::too_many_arguments)]
    fn score_rows(
        &mut self,
        windows: &[Window],
        mut indices: Vec<usize>,
        offset: usize,
        past: Option<&[Vec<f32>]>,
        max_rows: usize,
        max_tokens: usize,
        done: &mut dyn FnMut(&[usize], Vec<WindowScore>),
    ) -> Result<(), RuntimeError> {
        indices.sort_by(|&a, &b| {
            windows[b]
                .tokens
                .len()
                .cmp(&windows[a].tokens.len())
                .then(a.cmp(&b))
        });
        let mut start = 0;
        while start < indices.len() {
            let width = windows[indices[start]].input().len() - offset;
            let rows = (max_tokens / (width + offset).max(1))
                .clamp(1, max_rows.max(1))
                .min(indices.len() - start);
            let batch = &indices[start..start + rows];
            let scores = self.score_batch(
                &batch.iter().map(|&i| &windows[i]).collect::<Vec<_>>(),
                offset,
                width,
                past,
            )?;
            done(batch, scores);
            start += rows;
        }
        Ok(())
    }

    /// The key/value cache of `prefix` (batch 1), one tensor per past input.
    fn prefix_past(&mut self, prefix: &[u32]) -> Result<Vec<Vec<f32>>, RuntimeError> {
        let len = prefix.len();
        let ids: Vec<i64> = prefix.iter().map(|&t| i64::from(t)).collect();
        let mut inputs = self.inputs(
            ids,
            vec![1; len],
            (0..len as i64).collect(),
            1,
            len,
            0,
            None,
        )?;
        if self.scoring == Scoring::InGraph {
            // Only the key/value cache is read: a gathered head runs at one position.
            inputs.extend(if self.head_positions {
                self.scoring_inputs(vec![0], vec![0, len as i64 - 1], &[1, 1])?
            } else {
                self.scoring_inputs(vec![0; len], Vec::new(), &[1, len as i64, 1])?
            });
        }
        let mut selector = OutputSelector::no_default();
        for p in &self.past {
            selector = selector.with(present_name(&p.name));
        }
        let options = RunOptions::new()
            .map_err(ort_error("creating run options"))?
            .with_outputs(selector);
        let outputs = self
            .session
            .run_with_options(inputs, &options)
            .map_err(ort_error("running a shared prefix"))?;
        let mut past = Vec::with_capacity(self.past.len());
        for p in &self.past {
            let name = present_name(&p.name);
            let value = outputs
                .get(&name)
                .ok_or_else(|| RuntimeError::MissingOutput {
                    path: self.files.onnx.clone(),
                    expected: "a `present.*` output for every `past_key_values.*` input",
                    present: name.clone(),
                })?;
            let (shape, data) = value
                .try_extract_tensor::<f32>()
                .map_err(ort_error("reading a present key/value"))?;
            if shape[..] != [1, p.heads, len as i64, p.head_dim] {
                return Err(RuntimeError::OutputShape {
                    name,
                    shape: shape.to_vec(),
                    expected: format!("[1, {}, {len}, {}]", p.heads, p.head_dim),
                });
            }
            past.push(data.to_vec());
        }
        Ok(past)
    }

    /// The model inputs of one call: `[rows, width]` ids and positions, a `[rows, offset +
    /// width]` attention mask, and the past (tiled to every row) or empty past tensors.
    #[allow(clippy::too_many_arguments)]
    fn inputs(
        &self,
        ids: Vec<i64>,
        mask: Vec<i64>,
        positions: Vec<i64>,
        rows: usize,
        width: usize,
        offset: usize,
        past: Option<&[Vec<f32>]>,
    ) -> Result<Vec<(String, SessionInputValue<'static>)>, RuntimeError> {
        let shape = [rows as i64, width as i64];
        let tensor =
            |shape: [i64; 2], data: Vec<i64>| -> Result<SessionInputValue<'static>, RuntimeError> {
                Ok(Tensor::from_array((shape, data))
                    .map_err(ort_error("creating an input tensor"))?
                    .into())
            };
        let mut inputs: Vec<(String, SessionInputValue<'static>)> = vec![
            ("input_ids".into(), tensor(shape, ids)?),
            (
                "attention_mask".into(),
                tensor([rows as i64, (offset + width) as i64], mask)?,
            ),
        ];
        if self.takes_position_ids {
            inputs.push(("position_ids".into(), tensor(shape, positions)?));
        }
        for (k, p) in self.past.iter().enumerate() {
            let data = match past {
                Some(past) => {
                    let one = &past[k];
                    let mut all = Vec::with_capacity(one.len() * rows);
                    for _ in 0..rows {
                        all.extend_from_slice(one);
                    }
                    all
                }
                None => Vec::new(),
            };
            let value =
                Tensor::from_array(([rows as i64, p.heads, offset as i64, p.head_dim], data))
                    .map_err(ort_error("creating a past tensor"))?;
            inputs.push((p.name.clone(), value.into()));
        }
        if self.use_cache_branch {
            let flag = Tensor::from_array(([1i64], vec![past.is_some()]))
                .map_err(ort_error("creating use_cache_branch"))?;
            inputs.push(("use_cache_branch".into(), flag.into()));
        }
        Ok(inputs)
    }

    /// One batch: row `r` feeds `tokens[offset..n - 1]` of its window, right-padded to `width`.
    /// The logits at (row, `p`) predict token `offset + p + 1`.
    fn score_batch(
        &mut self,
        windows: &[&Window],
        offset: usize,
        width: usize,
        past: Option<&[Vec<f32>]>,
    ) -> Result<Vec<WindowScore>, RuntimeError> {
        if windows.iter().all(|w| w.first_target >= w.tokens.len()) {
            // Nothing to score (one-token windows, say): no call, empty scores.
            return Ok(windows
                .iter()
                .map(|w| score_window(w, |_| (0.0, 0)))
                .collect());
        }
        let rows = windows.len();
        let mut ids = Vec::with_capacity(rows * width);
        let mut mask = Vec::with_capacity(rows * (offset + width));
        let mut positions = Vec::with_capacity(rows * width);
        for w in windows {
            let input = &w.input()[offset..];
            ids.extend(
                input
                    .iter()
                    .map(|&t| i64::from(t))
                    .chain(std::iter::repeat_n(
                        i64::from(self.eot),
                        width - input.len(),
                    )),
            );
            mask.extend(
                std::iter::repeat_n(1i64, offset + input.len())
                    .chain(std::iter::repeat_n(0, width - input.len())),
            );
            let last = (offset + input.len()) as i64 - 1;
            positions.extend((offset as i64..(offset + width) as i64).map(|p| p.min(last).max(0)));
        }
        let inputs = self.inputs(ids, mask, positions, rows, width, offset, past)?;
        if self.scoring == Scoring::InGraph {
            return self.score_in_graph(windows, offset, width, inputs);
        }
        let outputs = self
            .session
            .run(inputs)
            .map_err(ort_error("running a batch"))?;
        let (shape, logits) = outputs["logits"]
            .try_extract_tensor::<f32>()
            .map_err(ort_error("reading logits"))?;
        if shape.len() != 3 || shape[0] as usize != rows || shape[1] as usize != width {
            return Err(RuntimeError::OutputShape {
                name: "logits".into(),
                shape: shape.to_vec(),
                expected: format!("[{rows}, {width}, vocab]"),
            });
        }
        let vocab = shape[2] as usize;
        // Rows are independent and ONNX Runtime is idle here: score them on all cores.
        use rayon::prelude::*;
        Ok(windows
            .par_iter()
            .enumerate()
            .map(|(r, w)| {
                score_window(w, |j| {
                    // Token j is predicted at position j - 1.
                    let at = r * width + j - 1 - offset;
                    let (logp, argmax) = log_softmax_argmax(
                        &logits[at * vocab..(at + 1) * vocab],
                        w.tokens[j] as usize,
                    );
                    (logp, argmax as u32)
                })
            })
            .collect())
    }

    /// The extra inputs of the extended graph: the target ids, shaped `shape`, and with a
    /// gathered head the `[scored, 2]` (row, position) pairs they are predicted at.
    fn scoring_inputs(
        &self,
        targets: Vec<i64>,
        positions: Vec<i64>,
        shape: &[i64],
    ) -> Result<Vec<(String, SessionInputValue<'static>)>, RuntimeError> {
        let targets = Tensor::from_array((shape.to_vec(), targets))
            .map_err(ort_error("creating the target ids"))?;
        let mut inputs = vec![(graph::TARGET_IDS.to_string(), targets.into())];
        if self.head_positions {
            let positions = Tensor::from_array(([shape[0], 2], positions))
                .map_err(ort_error("creating the head positions"))?;
            inputs.push((graph::HEAD_POSITIONS.to_string(), positions.into()));
        }
        Ok(inputs)
    }

    /// [`CausalLm::score_batch`] through the extended graph. With a gathered head the scored
    /// tokens of all rows are listed one after another, each with the (row, position) it is
    /// predicted at; otherwise position `p` of row `r` scores token `offset + p + 1` (padding
    /// positions score the end-of-text token and are ignored). Either way window `r`'s token
    /// `j` is at output index `start[r] + j - first(r)`.
    fn score_in_graph(
        &mut self,
        windows: &[&Window],
        offset: usize,
        width: usize,
        mut inputs: Vec<(String, SessionInputValue<'static>)>,
    ) -> Result<Vec<WindowScore>, RuntimeError> {
        let rows = windows.len();
        let gathered = self.head_positions;
        let first = |w: &Window| if gathered { w.first_target } else { offset + 1 };
        let (mut targets, mut positions, mut start) = (Vec::new(), Vec::new(), Vec::new());
        for (r, w) in windows.iter().enumerate() {
            start.push(targets.len());
            let scored = w.tokens[first(w)..].iter().map(|&t| i64::from(t));
            if gathered {
                targets.extend(scored);
                positions.extend(
                    (w.first_target..w.tokens.len())
                        .flat_map(|j| [r as i64, (j - 1 - offset) as i64]),
                );
            } else {
                targets.extend(
                    scored
                        .chain(std::iter::repeat(i64::from(self.eot)))
                        .take(width),
                );
            }
        }
        let n = targets.len() as i64;
        let shape = if gathered {
            vec![n, 1]
        } else {
            vec![rows as i64, width as i64, 1]
        };
        inputs.extend(self.scoring_inputs(targets, positions, &shape)?);
        let wanted = if gathered {
            OutputSelector::no_default().with(graph::SCORES)
        } else {
            OutputSelector::no_default()
                .with(graph::TARGET_LOGPROB)
                .with(graph::ARGMAX)
        };
        let options = RunOptions::new()
            .map_err(ort_error("creating run options"))?
            .with_outputs(wanted);
        let outputs = self
            .session
            .run_with_options(inputs, &options)
            .map_err(ort_error("running a batch"))?;
        // (log-probability, argmax) of output index `at`.
        let (logprob, argmax): (Vec<f32>, Vec<u32>) = if gathered {
            let (got, scores) = outputs[graph::SCORES]
                .try_extract_tensor::<f32>()
                .map_err(ort_error("reading the scoring output"))?;
            if got[..] != [n, 2] {
                return Err(RuntimeError::OutputShape {
                    name: graph::SCORES.into(),
                    shape: got.to_vec(),
                    expected: format!("[{n}, 2]"),
                });
            }
            // The argmax travels as a float32: exact below 2^24.
            scores
                .chunks_exact(2)
                .map(|pair| (pair[0], pair[1] as u32))
                .unzip()
        } else {
            let (got, logprob) = outputs[graph::TARGET_LOGPROB]
                .try_extract_tensor::<f32>()
                .map_err(ort_error("reading the scoring outputs"))?;
            if got[..] != shape[..] {
                return Err(RuntimeError::OutputShape {
                    name: graph::TARGET_LOGPROB.into(),
                    shape: got.to_vec(),
                    expected: format!("{shape:?}"),
                });
            }
            let (got, argmax) = outputs[graph::ARGMAX]
                .try_extract_tensor::<i64>()
                .map_err(ort_error("reading the argmax output"))?;
            if got[..] != shape[..2] {
                return Err(RuntimeError::OutputShape {
                    name: graph::ARGMAX.into(),
                    shape: got.to_vec(),
                    expected: format!("{:?}", &shape[..2]),
                });
            }
            (logprob.to_vec(), argmax.iter().map(|&a| a as u32).collect())
        };
        Ok(windows
            .iter()
            .enumerate()
            .map(|(r, w)| {
                let (start, first) = (start[r], first(w));
                score_window(w, |j| {
                    let at = start + j - first;
                    (f64::from(logprob[at]), argmax[at])
                })
            })
            .collect())
    }
}

/// Contexts shorter than this are not worth a separate prefix call.
pub const MIN_SHARED: usize = 16;

/// Windows that share their whole context (`tokens[..first_target]`, more than
/// [`MIN_SHARED`] tokens), two or more to a group: `(shared, members)` where `shared` =
/// `first_target − 1` tokens can run once as past (the last context token stays in each row,
/// since it predicts the first scored token). Groups come in order of their first member.
pub fn shared_prefix_groups(windows: &[Window]) -> Vec<(usize, Vec<usize>)> {
    let mut groups: std::collections::HashMap<&[u32], Vec<usize>> = Default::default();
    for (i, w) in windows.iter().enumerate() {
        if w.first_target > MIN_SHARED && w.first_target < w.tokens.len() {
            groups
                .entry(&w.tokens[..w.first_target])
                .or_default()
                .push(i);
        }
    }
    let mut groups: Vec<(usize, Vec<usize>)> = groups
        .into_iter()
        .filter(|(_, m)| m.len() > 1)
        .map(|(context, m)| (context.len() - 1, m))
        .collect();
    groups.sort_by_key(|(_, m)| m[0]);
    groups
}

/// A window's score from `at(j)` = (log p(token j), argmax at j's position) for each scored j.
fn score_window(w: &Window, at: impl Fn(usize) -> (f64, u32)) -> WindowScore {
    let mut score = WindowScore {
        loglikelihood: 0.0,
        tokens: 0,
        greedy: true,
        greedy_tokens: Vec::with_capacity(w.targets().len()),
    };
    for j in w.first_target..w.tokens.len() {
        let (logp, best) = at(j);
        score.loglikelihood += logp;
        score.tokens += 1;
        score.greedy &= best == w.tokens[j];
        score.greedy_tokens.push(best);
    }
    score
}

/// log softmax(row)[target] in f64, and whether `target` is the (first) argmax.
pub fn log_softmax_at(row: &[f32], target: usize) -> (f64, bool) {
    let (logp, best) = log_softmax_argmax(row, target);
    (logp, best == target)
}

/// log softmax(row)[target] in f64, and the (first) argmax.
pub fn log_softmax_argmax(row: &[f32], target: usize) -> (f64, usize) {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    // exp in f32 (each term exact to ~1e-7 relative), accumulated in f64.
    let max = row[best];
    let sum: f64 = row.iter().map(|&v| f64::from((v - max).exp())).sum();
    (f64::from(row[target]) - f64::from(max) - sum.ln(), best)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_softmax_of_uniform_logits_is_minus_log_v() {
        let row = vec![0.5f32; 8];
        let (logp, greedy) = log_softmax_at(&row, 3);
        assert!((logp + 8f64.ln()).abs() < 1e-12);
        assert!(!greedy, "ties go to the first index, as argmax does");
        assert!(log_softmax_at(&row, 0).1);
    }

    #[test]
    fn log_softmax_is_stable_for_large_logits() {
        let (logp, greedy) = log_softmax_at(&[1000.0, 0.0, -1000.0], 0);
        assert!(logp.abs() < 1e-12 && greedy);
    }
}
