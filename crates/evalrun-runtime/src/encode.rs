//! Tokenization with the HF `tokenizers` library, configured like `transformers` calls it for
//! evaluation: special tokens added, truncation `longest_first` to the maximum length, and no
//! padding (batches are padded later, per batch). A `tokenizer.json` that pins fixed padding
//! (MiniLM's pins 128) has it switched off, so padding stays dynamic.

use std::path::Path;

use tokenizers::{
    EncodeInput, Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy,
};

use crate::error::RuntimeError;

/// One tokenized example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub ids: Vec<u32>,
    pub type_ids: Vec<u32>,
}

impl Encoded {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

pub struct TextEncoder {
    tokenizer: Tokenizer,
    /// The same tokenizer without truncation: evalrun truncates itself (see
    /// [`TextEncoder::encode`]).
    plain: Tokenizer,
    pad_id: u32,
    max_length: usize,
}

impl TextEncoder {
    pub fn load(
        path: &Path,
        max_length: usize,
        fallback_pad_id: Option<u32>,
    ) -> Result<Self, RuntimeError> {
        let fail = |message: String| RuntimeError::Tokenizer {
            path: path.to_path_buf(),
            message,
        };
        let mut tokenizer = Tokenizer::from_file(path).map_err(|e| fail(e.to_string()))?;
        let pad_id = tokenizer
            .get_padding()
            .map(|p| p.pad_id)
            .or_else(|| {
                ["[PAD]", "<pad>"]
                    .iter()
                    .find_map(|t| tokenizer.token_to_id(t))
            })
            .or(fallback_pad_id)
            .unwrap_or(0);
        tokenizer.with_padding(None);
        // Below the special tokens (BERT's [CLS] a [SEP] b [SEP]: 3) truncation cannot keep a
        // single text token, and the tokenizer would silently stop truncating.
        let specials = tokenizer
            .get_post_processor()
            .map_or(0, |p| tokenizers::PostProcessor::added_tokens(p, true));
        if max_length <= specials {
            return Err(RuntimeError::Limit {
                option: "--max-length",
                message: format!(
                    "{max_length} leaves no room for text: `{}` adds {specials} special tokens to a pair of texts; use at least {}",
                    path.display(),
                    specials + 2
                ),
            });
        }
        let mut plain = tokenizer.clone();
        plain
            .with_truncation(None)
            .map_err(|e| fail(e.to_string()))?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                direction: TruncationDirection::Right,
            }))
            .map_err(|e| fail(e.to_string()))?;
        Ok(Self {
            tokenizer,
            plain,
            pad_id,
            max_length,
        })
    }

    /// An encoder for language-model scoring: no padding, no truncation (scoring cuts its
    /// own windows), no special tokens.
    pub fn load_untruncated(path: &Path) -> Result<Self, RuntimeError> {
        let fail = |message: String| RuntimeError::Tokenizer {
            path: path.to_path_buf(),
            message,
        };
        let mut tokenizer = Tokenizer::from_file(path).map_err(|e| fail(e.to_string()))?;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(None)
            .map_err(|e| fail(e.to_string()))?;
        Ok(Self {
            plain: tokenizer.clone(),
            tokenizer,
            pad_id: 0,
            max_length: usize::MAX,
        })
    }

    /// Token ids of `text` without special tokens (truncated only if this encoder truncates).
    pub fn encode_plain(&self, text: &str) -> Result<Vec<u32>, RuntimeError> {
        self.encode_text(text, false)
    }

    /// Token ids of `text`, with the special tokens the tokenizer's post-processor adds
    /// (`add_special_tokens`, as transformers' `tokenizer.encode`) or without them.
    pub fn encode_text(
        &self,
        text: &str,
        add_special_tokens: bool,
    ) -> Result<Vec<u32>, RuntimeError> {
        let encoding = self
            .tokenizer
            .encode(text, add_special_tokens)
            .map_err(|e| RuntimeError::Tokenizer {
                path: "tokenizer.json".into(),
                message: e.to_string(),
            })?;
        Ok(encoding.get_ids().to_vec())
    }

    /// lm-evaluation-harness `_encode_pair`: trailing spaces of the context move to the
    /// continuation, the pair is encoded whole and the continuation is what follows the
    /// context's own tokens.
    pub fn encode_pair(
        &self,
        context: &str,
        continuation: &str,
    ) -> Result<(Vec<u32>, Vec<u32>), RuntimeError> {
        let trimmed = context.trim_end();
        let (context, continuation) = if trimmed.len() < context.len() {
            (
                trimmed,
                format!("{}{continuation}", &context[trimmed.len()..]),
            )
        } else {
            (context, continuation.to_string())
        };
        let whole = self.encode_plain(&format!("{context}{continuation}"))?;
        let context_ids = self.encode_plain(context)?;
        let continuation_ids = whole.get(context_ids.len()..).unwrap_or_default().to_vec();
        Ok((context_ids, continuation_ids))
    }

    /// Text of `ids` (the tokenizer's decoder), optionally without special tokens.
    pub fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String, RuntimeError> {
        self.tokenizer
            .decode(ids, skip_special_tokens)
            .map_err(|e| RuntimeError::Tokenizer {
                path: "tokenizer.json".into(),
                message: e.to_string(),
            })
    }

    /// The id of `token`, if the vocabulary has it.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.tokenizer.token_to_id(token)
    }

    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }

    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// Tokenizes single texts or pairs, in parallel, keeping input order.
    pub fn encode(&self, inputs: &[(&str, Option<&str>)]) -> Result<Vec<Encoded>, RuntimeError> {
        self.encode_with(inputs, true)
    }

    /// Tokens of `text` without special tokens, through truncation's overflow (stride 0).
    fn token_count(&self, text: &str) -> Result<usize, RuntimeError> {
        let e = self
            .tokenizer
            .encode(text, false)
            .map_err(|e| RuntimeError::Tokenizer {
                path: "tokenizer.json".into(),
                message: e.to_string(),
            })?;
        Ok(e.len() + e.get_overflowing().iter().map(|o| o.len()).sum::<usize>())
    }

    /// A prefix of a long `text` that ends where a word ends and still has more than
    /// `above` tokens, or `text` itself. Truncation keeps at most `max_length` tokens, all
    /// from words the prefix holds whole, so the encoding is the same as the whole text's —
    /// without tokenizing 50 MB to keep 512 tokens (that cost 5.7 GB of memory).
    fn prefix<'t>(&self, text: &'t str, above: usize) -> Result<&'t str, RuntimeError> {
        let mut cap = self.max_length.saturating_add(8).saturating_mul(64);
        while text.len() > cap {
            let mut end = cap;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            if let Some(cut) = text[..end].rfind(char::is_whitespace) {
                let prefix = text[..cut].trim_end();
                // A margin for the tokens the cut can change at the prefix's very end.
                if !prefix.is_empty() && self.token_count(prefix)? > above.saturating_add(8) {
                    return Ok(prefix);
                }
            }
            cap = cap.saturating_mul(4);
        }
        Ok(text)
    }

    fn encode_with(
        &self,
        inputs: &[(&str, Option<&str>)],
        cut_long_texts: bool,
    ) -> Result<Vec<Encoded>, RuntimeError> {
        let cap = self.max_length.saturating_add(8).saturating_mul(64);
        let cut = cut_long_texts && self.max_length != usize::MAX;
        let mut batch: Vec<EncodeInput> = Vec::with_capacity(inputs.len());
        for &(a, b) in inputs {
            batch.push(match b {
                // A pair is cut only when one text is short: its token count is then known,
                // the long text's prefix stays the longer one, and longest-first truncation
                // splits the budget exactly as it would for the whole texts.
                Some(b) if cut && a.len() > cap && b.len() <= cap => {
                    let above = self.max_length.max(self.token_count(b)?);
                    EncodeInput::Dual(self.prefix(a, above)?.into(), b.into())
                }
                Some(b) if cut && b.len() > cap && a.len() <= cap => {
                    let above = self.max_length.max(self.token_count(a)?);
                    EncodeInput::Dual(a.into(), self.prefix(b, above)?.into())
                }
                Some(b) => EncodeInput::Dual(a.into(), b.into()),
                None if cut && a.len() > cap => {
                    EncodeInput::Single(self.prefix(a, self.max_length)?.into())
                }
                None => EncodeInput::Single(a.into()),
            });
        }
        if !cut {
            let encodings =
                self.tokenizer
                    .encode_batch(batch, true)
                    .map_err(|e| RuntimeError::Tokenizer {
                        path: "tokenizer.json".into(),
                        message: e.to_string(),
                    })?;
            return Ok(encodings
                .into_iter()
                .map(|e| Encoded {
                    ids: e.get_ids().to_vec(),
                    type_ids: e.get_type_ids().to_vec(),
                })
                .collect());
        }
        self.truncate_and_finish(batch)
    }

    /// What `tokenizers` does for `encode(pair, add_special_tokens = true)` with longest-first
    /// truncation, step by step, except that the tokens truncation drops are dropped rather
    /// than kept as "overflowing" encodings: for a pair the post-processor pairs every
    /// overflow of one text with every overflow of the other, which for two long texts is
    /// quadratic in their length (gigabytes for a few hundred kilobytes of text).
    fn truncate_and_finish(&self, batch: Vec<EncodeInput>) -> Result<Vec<Encoded>, RuntimeError> {
        let fail = |e: tokenizers::Error| RuntimeError::Tokenizer {
            path: "tokenizer.json".into(),
            message: e.to_string(),
        };
        let mut texts: Vec<EncodeInput> = Vec::with_capacity(batch.len() * 2);
        let mut pairs = Vec::with_capacity(batch.len());
        for input in batch {
            match input {
                EncodeInput::Single(a) => {
                    texts.push(EncodeInput::Single(a));
                    pairs.push(false);
                }
                EncodeInput::Dual(a, b) => {
                    texts.push(EncodeInput::Single(a));
                    texts.push(EncodeInput::Single(b));
                    pairs.push(true);
                }
            }
        }
        // Each text alone, no special tokens, no truncation (in parallel).
        let mut encodings = self
            .plain
            .encode_batch(texts, false)
            .map_err(fail)?
            .into_iter();
        let added = |pair: bool| {
            self.plain
                .get_post_processor()
                .map_or(0, |p| tokenizers::PostProcessor::added_tokens(p, pair))
        };
        let mut out = Vec::with_capacity(pairs.len());
        for pair in pairs {
            let mut a = encodings.next().expect("one encoding per text");
            let mut b = if pair {
                let mut b = encodings.next().expect("one encoding per text");
                // `tokenizers` encodes the second text with type id 1.
                b.set_type_ids(vec![1; b.len()]);
                Some(b)
            } else {
                None
            };
            let budget = self.max_length.saturating_sub(added(pair));
            let (keep_a, keep_b) = longest_first(a.len(), b.as_ref().map(|b| b.len()), budget);
            a.truncate(keep_a, 0, TruncationDirection::Right);
            a.take_overflowing();
            if let (Some(b), Some(keep)) = (b.as_mut(), keep_b) {
                b.truncate(keep, 0, TruncationDirection::Right);
                b.take_overflowing();
            }
            let e = self.plain.post_process(a, b, true).map_err(fail)?;
            out.push(Encoded {
                ids: e.get_ids().to_vec(),
                type_ids: e.get_type_ids().to_vec(),
            });
        }
        Ok(out)
    }
}

/// `tokenizers`' longest-first truncation of one text (`n2 = None`) or a pair to `budget`
/// tokens: how many tokens of each to keep.
fn longest_first(n1: usize, n2: Option<usize>, budget: usize) -> (usize, Option<usize>) {
    let Some(n2) = n2 else {
        return (n1.min(budget), None);
    };
    if n1 + n2 <= budget {
        return (n1, Some(n2));
    }
    // As tokenizers: targets for the shorter and the longer text (a target above a text's
    // length keeps it whole).
    let swap = n1 > n2;
    let short = if swap { n2 } else { n1 };
    let mut short_keep = short;
    let mut long_keep = if short > budget {
        short
    } else {
        short.max(budget - short)
    };
    if short_keep + long_keep > budget {
        short_keep = budget / 2;
        long_keep = short_keep + budget % 2;
    }
    let (short, long) = (short_keep, long_keep);
    if swap {
        (long, Some(short))
    } else {
        (short, Some(long))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fixture(model: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/models")
            .join(model)
            .join("tokenizer.json")
    }

    /// A text of `words` words (some long, accented, CJK or punctuation) and whitespace runs.
    fn text(words: std::ops::Range<usize>) -> impl Strategy<Value = String> {
        let word = prop_oneof![
            Just("the".to_string()),
            Just("évaluation".to_string()),
            Just("don't".to_string()),
            Just("unbelievably".to_string()),
            Just("東京".to_string()),
            Just("x".repeat(150)),
            Just(",".to_string()),
            "[a-z]{1,12}",
        ];
        let space = prop_oneof![Just(" "), Just("  "), Just("\t"), Just("\n")];
        prop::collection::vec((word, space), words)
            .prop_map(|parts| parts.into_iter().map(|(w, s)| w + s).collect::<String>())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        /// evalrun's truncation (long texts cut at a word before tokenizing, overflow dropped)
        /// gives the encodings `tokenizers` gives with its own truncation: singles and pairs,
        /// neither, one or both texts long, for BERT's WordPiece and T5's SentencePiece.
        #[test]
        fn evalrun_truncation_equals_the_tokenizers_own(
            long in text(300..900),
            medium in text(20..60),
            other in text(20..60),
            short in "[a-z ]{0,40}",
            max_length in prop_oneof![Just(12usize), Just(15), Just(16), Just(31), Just(128)],
        ) {
            for model in ["glue-tiny/rte", "t5-tiny"] {
                let encoder = TextEncoder::load(&fixture(model), max_length, None).unwrap();
                let inputs: Vec<(&str, Option<&str>)> = vec![
                    (&long, None),
                    (&long, Some(&short)),
                    (&short, Some(&long)),
                    (&medium, Some(&other)),
                    (&short, Some(&short)),
                    (&short, None),
                    ("", Some(&medium)),
                ];
                let ours = encoder.encode_with(&inputs, true).unwrap();
                let theirs = encoder.encode_with(&inputs, false).unwrap();
                for (i, (x, y)) in ours.iter().zip(&theirs).enumerate() {
                    prop_assert_eq!(&x.ids, &y.ids, "input {}", i);
                    prop_assert_eq!(&x.type_ids, &y.type_ids, "input {}", i);
                }
            }
        }
    }

    #[test]
    fn longest_first_matches_tokenizers_cases() {
        assert_eq!(longest_first(10, None, 4), (4, None));
        assert_eq!(longest_first(2, Some(3), 8), (2, Some(3)));
        // Only the longer is cut.
        assert_eq!(longest_first(2, Some(30), 8).1, Some(6));
        assert_eq!(longest_first(30, Some(2), 8).0, 6);
        // Both: halves, the odd token to the longer.
        assert_eq!(longest_first(20, Some(30), 7), (3, Some(4)));
        assert_eq!(longest_first(30, Some(20), 7), (4, Some(3)));
    }
}
