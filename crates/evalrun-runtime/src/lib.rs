//! The runtime: the only evalrun crate that imports `ort` and `tokenizers`.
//!
//! It finds the ONNX Runtime library, opens Optimum-layout model directories, checks the
//! graph's inputs and outputs at load time, tokenizes, plans length-sorted batches with
//! dynamic padding, runs them, and hands back per-example outputs in input order. It knows
//! nothing about tasks or metrics: callers give it texts and get logits or embeddings.
//!
//! What evalrun does to a graph before ONNX Runtime loads it (weights referenced in place, the
//! scoring nodes, attention rewrites) lives in `evalrun-graph`: this crate asks it to prepare
//! each graph with the run's `--graph-edits`, loads the result (or, when ONNX Runtime refuses
//! it, the file unedited), and reports what was made in the backend's fingerprint and info.

pub mod backend;
pub mod batch;
pub mod causal;
pub mod encode;
pub mod error;
pub mod library;
pub mod memory;
pub mod model;
pub mod seq2seq;
pub mod session;

pub use backend::{BackendOptions, Family, OrtBackend};
pub use causal::{CausalLm, Scoring, SpecialTokens, TokenOptions, WindowScore};
pub use encode::{Encoded, TextEncoder};
pub use error::RuntimeError;
pub use evalrun_graph::{Edit, EditReport, Edits};
pub use library::find_library;
pub use model::{ModelConfig, ModelFiles, Pooling};
pub use seq2seq::{GenerateOptions, Seq2SeqConfig, Seq2SeqFiles, Seq2SeqLm};
pub use session::{Device, Head, Model, Runtime, RuntimeOptions};
