//! What a task asks of a model, as data: a few request kinds and their responses, and the
//! [`Backend`] interface that answers them.
//!
//! Tasks build [`Request`]s; the engine groups them by [`RequestKind`], hands each group to one
//! backend call and re-attaches the [`Response`]s by position. Nothing here knows ONNX Runtime
//! (the runtime crate implements [`Backend`]) or any task (the engine builds the requests).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The kinds of request, as lm-eval's request types plus the encoder heads'.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    /// A text or text pair through a classification/regression head: its logits.
    Classify,
    /// A text through a sentence-embedding model: its pooled embedding.
    Embed,
    /// Σ log p(continuation | context).
    Loglikelihood,
    /// Σ log p(text) over the backend's window policy.
    Rolling,
    /// Text generated for an input.
    Generate,
}

impl RequestKind {
    pub fn name(self) -> &'static str {
        match self {
            RequestKind::Classify => "classify",
            RequestKind::Embed => "embed",
            RequestKind::Loglikelihood => "loglikelihood",
            RequestKind::Rolling => "rolling",
            RequestKind::Generate => "generate",
        }
    }
}

impl std::fmt::Display for RequestKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What is scored after the context of a loglikelihood request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Continuation {
    /// This text, tokenized as lm-eval's `_encode_pair` does (trailing context spaces move to
    /// the continuation).
    Text(String),
    /// The context's own last token, given all tokens before it (Megatron's LAMBADA).
    LastToken,
}

/// Decoding settings of a generate request.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GenerationOptions {
    /// New tokens at most, end-of-sequence included.
    pub max_new_tokens: usize,
    /// 1 = greedy.
    pub beams: usize,
    /// Beam scores are divided by `length ^ length_penalty`.
    pub length_penalty: f64,
    /// Decode with the key/value cache graphs when the export has them.
    pub use_cache: bool,
}

/// One request, as data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Request {
    Classify {
        text_a: String,
        text_b: Option<String>,
    },
    Embed {
        text: String,
    },
    Loglikelihood {
        context: String,
        continuation: Continuation,
    },
    Rolling {
        text: String,
    },
    Generate {
        input: String,
        options: GenerationOptions,
    },
}

impl Request {
    pub fn kind(&self) -> RequestKind {
        match self {
            Request::Classify { .. } => RequestKind::Classify,
            Request::Embed { .. } => RequestKind::Embed,
            Request::Loglikelihood { .. } => RequestKind::Loglikelihood,
            Request::Rolling { .. } => RequestKind::Rolling,
            Request::Generate { .. } => RequestKind::Generate,
        }
    }
}

/// The answer to one request, same position as the request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Response {
    /// Raw head outputs in the model's column order.
    Logits {
        logits: Vec<f32>,
    },
    Embedding {
        embedding: Vec<f32>,
    },
    Loglikelihood(LoglikelihoodResponse),
    Rolling(RollingResponse),
    Generated {
        text: String,
        /// New tokens, end-of-sequence excluded.
        tokens: usize,
    },
}

impl Response {
    /// The kind of request this response answers.
    pub fn kind(&self) -> RequestKind {
        match self {
            Response::Logits { .. } => RequestKind::Classify,
            Response::Embedding { .. } => RequestKind::Embed,
            Response::Loglikelihood(_) => RequestKind::Loglikelihood,
            Response::Rolling(_) => RequestKind::Rolling,
            Response::Generated { .. } => RequestKind::Generate,
        }
    }
}

/// Σ log p of a continuation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoglikelihoodResponse {
    /// Natural log, accumulated in f64.
    pub loglikelihood: f64,
    /// Scored tokens.
    pub tokens: usize,
    /// Whether every scored token was the argmax (lm-eval's `is_greedy`); `None` where the
    /// backend does not compute it (seq2seq label scoring).
    pub greedy: Option<bool>,
    /// The argmax tokens at the scored positions, decoded.
    pub greedy_text: Option<String>,
}

/// Σ log p of a whole text over windows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollingResponse {
    pub loglikelihood: f64,
    /// Scored tokens.
    pub tokens: usize,
    pub greedy: bool,
    /// The text's length in tokens.
    pub text_tokens: usize,
    /// Per window: (Σ log p, scored tokens), in window order.
    pub windows: Vec<(f64, usize)>,
}

/// What a backend is: the model kind decides which request kinds it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// An encoder with a classification/regression head (`logits`).
    Classifier,
    /// An encoder whose output is a sentence embedding (pooled here or in the graph).
    Embedding,
    /// A decoder-only language model (GPT-2).
    CausalLm,
    /// An encoder-decoder (T5).
    Seq2seq,
}

impl ModelKind {
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Classifier => "classifier",
            ModelKind::Embedding => "embedding model",
            ModelKind::CausalLm => "causal LM",
            ModelKind::Seq2seq => "seq2seq (text-to-text) model",
        }
    }

    /// The request kinds a model of this kind answers.
    pub fn supports(self, kind: RequestKind) -> bool {
        matches!(
            (self, kind),
            (ModelKind::Classifier, RequestKind::Classify)
                | (ModelKind::Embedding, RequestKind::Embed)
                | (
                    ModelKind::CausalLm,
                    RequestKind::Loglikelihood | RequestKind::Rolling
                )
                | (
                    ModelKind::Seq2seq,
                    RequestKind::Loglikelihood | RequestKind::Generate
                )
        )
    }
}

/// What a backend tells the engine about its model: enough to map labels, describe the
/// scoring and record provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub kind: ModelKind,
    /// Output columns of a classification head.
    pub num_labels: Option<usize>,
    /// `config.json` `id2label` names, in column order.
    pub label_names: Option<Vec<String>>,
    /// Truncation length (encoders, seq2seq inputs) or window length (causal LMs).
    pub max_length: usize,
    /// How outputs are produced, in words (`logits`, `embedding cosine`, `causal lm`).
    pub scoring: String,
    /// The graph output read (`logits`, `sentence_embedding`, `last_hidden_state`).
    pub output: String,
    /// The window policy of rolling requests, in words.
    pub windows: Option<String>,
    /// Every graph the model uses, with its sha256, in a fixed order.
    pub graphs: Vec<(String, String)>,
    pub tokenizer_sha256: String,
    /// What the backend did to its graphs before loading them (load-time edits), per graph
    /// and edit; empty when it loaded every graph as exported.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edits: Vec<GraphEdit>,
}

impl ModelInfo {
    /// The names of the edits applied to any graph, each once, in the order first met.
    pub fn applied_edits(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for e in self.edits.iter().filter(|e| e.status == GraphEdit::APPLIED) {
            if !names.contains(&e.edit) {
                names.push(e.edit.clone());
            }
        }
        names
    }
}

/// One load-time edit of one graph, as the backend reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphEdit {
    /// The graph's file name.
    pub graph: String,
    /// The edit (`weights_in_place`, `nan_guards`, `log_softmax`, `lm_head`, …).
    pub edit: String,
    /// `applied`, `not applicable` or `refused` (ONNX Runtime refused the edited graph, which
    /// was then loaded unedited).
    pub status: String,
    /// Places changed, where applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<usize>,
    /// Why not, where not applicable or refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl GraphEdit {
    pub const APPLIED: &'static str = "applied";
}

/// Everything that can change a backend's outputs: equal fingerprints, equal responses.
pub type Fingerprint = BTreeMap<String, String>;

/// Progress of one backend call, in whatever unit the backend counts.
pub trait Progress {
    /// The total in `unit` (`examples`, `documents`, `tokens`); may be called again.
    fn set_total(&mut self, total: u64, unit: &'static str);
    fn advance(&mut self, n: u64);
}

/// Progress that goes nowhere.
pub struct NoProgress;

impl Progress for NoProgress {
    fn set_total(&mut self, _: u64, _: &'static str) {}
    fn advance(&mut self, _: u64) {}
}

/// One model interface: every request kind goes through [`Backend::run`].
pub trait Backend {
    type Error: std::error::Error + Send + Sync + 'static;

    fn info(&self) -> &ModelInfo;

    /// Model and tokenizer sha256, lengths, window policy, device: what can change an output.
    fn fingerprint(&self) -> Fingerprint;

    fn supports(&self, kind: RequestKind) -> bool {
        self.info().kind.supports(kind)
    }

    /// Rows per model call this backend settled on (given, or chosen by `--batch-size
    /// auto`); `None` where it does not batch.
    fn batch_size(&self) -> Option<usize> {
        None
    }

    /// Padded tokens per model call at most, where bounded.
    fn batch_tokens(&self) -> Option<usize> {
        None
    }

    /// Where the response to `request` came from, when not from a model (a shard record's
    /// file), for error messages.
    fn source(&self, _request: &Request) -> Option<String> {
        None
    }

    /// Answers `requests` (all of `kind`), one response per request, same order.
    fn run(
        &mut self,
        kind: RequestKind,
        requests: &[Request],
        progress: &mut dyn Progress,
    ) -> Result<Vec<Response>, Self::Error>;
}
