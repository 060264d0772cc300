//! Domain types shared by every evalrun crate: examples, labels, per-example results, metric
//! accumulators and the GLUE averages.
//!
//! This crate is pure: no file, network or model access. Everything here is plain data and
//! arithmetic so that it can be unit- and property-tested in isolation.

pub mod average;
pub mod bootstrap;
pub mod example;
pub mod lm;
pub mod metrics;
pub mod request;
pub mod significance;
pub mod t5;
pub mod text;

pub use example::{Example, Gold, Prediction};
pub use metrics::{ConfusionMatrix, Metric, PairedScores, Scale};
