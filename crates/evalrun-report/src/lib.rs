//! Result records, per-example predictions files, and reports: comparisons with published
//! tables rendered as markdown, LaTeX, CSV, JSON or an HTML page with SVG charts.
//!
//! The record is the durable output of a run: raw metric values (fractions, never ×100) with
//! the provenance needed to trust or reproduce them. Files are written to a temporary name and
//! renamed into place, so a failed run never leaves a file that looks complete.

pub mod chart;
pub mod check;
pub mod compare;
pub mod diff;
pub mod markdown;
pub mod record;
pub mod reference;
pub mod render;
pub mod significance;
pub mod write;

pub use compare::{Cell, LabelledRun, Row};
pub use record::{
    CacheUse, DataProvenance, GraphHash, ModelProvenance, PredictionLine, PredictionsDigest,
    RunConfig, RunRecord, RuntimeProvenance, ShardModel, ShardRecord, ShardTask, TaskResult,
};
pub use render::Meta;
pub use write::{
    check_destination, refuse_overlap, sha256_bytes, sha256_file, stage, write_atomic, ReportError,
    Staged,
};
