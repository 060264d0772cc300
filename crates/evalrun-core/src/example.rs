//! Examples as read from a dataset and the per-example outcome of a run.

use serde::{Deserialize, Serialize};

/// One row of a dataset, in file order.
///
/// `id` is the 0-based row index in the data file (header excluded), so that two runs can be
/// diffed example by example.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub id: usize,
    pub text_a: String,
    pub text_b: Option<String>,
    /// Gold label; `None` for unlabelled splits (GLUE test files).
    pub gold: Option<Gold>,
    /// The value of the file's index column, echoed in test-server submission files.
    pub index: Option<String>,
}

/// A gold label: a class index into the task's label names, or a regression score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Gold {
    Class(usize),
    Score(f64),
}

/// What the model said about one example.
#[derive(Debug, Clone, PartialEq)]
pub enum Prediction {
    /// A class index into the task's label names, with the raw head outputs (in the model's
    /// own output order).
    Class { class: usize, logits: Vec<f32> },
    /// A regression value (STS-B head output, or cosine similarity of sentence embeddings).
    Score { score: f64 },
}
