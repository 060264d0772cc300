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
            tokenizer,
            pad_id: 0,
            max_length: usize::MAX,
        })
    }

    /// Token ids of `text` without special tokens (truncated only if this encoder truncates).
    pub fn encode_plain(&self, text: &str) -> Result<Vec<u32>, RuntimeError> {
        let encoding = self
            .tokenizer
            .encode(text, false)
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
        let batch: Vec<EncodeInput> = inputs
            .iter()
            .map(|(a, b)| match b {
                Some(b) => EncodeInput::Dual((*a).into(), (*b).into()),
                None => EncodeInput::Single((*a).into()),
            })
            .collect();
        let encodings =
            self.tokenizer
                .encode_batch(batch, true)
                .map_err(|e| RuntimeError::Tokenizer {
                    path: "tokenizer.json".into(),
                    message: e.to_string(),
                })?;
        Ok(encodings
            .into_iter()
            .map(|e| Encoded {
                ids: e.get_ids().to_vec(),
                type_ids: e.get_type_ids().to_vec(),
            })
            .collect())
    }
}
