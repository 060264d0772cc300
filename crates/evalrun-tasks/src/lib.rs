//! Task definitions and dataset readers.
//!
//! A task is a declarative, versioned TOML file under `tasks/` (see [`spec::TaskSpec`]); the
//! files are embedded in the binary at build time and more can be loaded from a directory.
//! This crate turns a task and a data directory into [`evalrun_core::Example`]s. It never
//! touches a model: scoring a request belongs to the runtime, and metrics to `evalrun-core`.

pub mod catalog;
pub mod data;
pub mod error;
pub mod lm;
pub mod parquet;
pub mod preprocess;
pub mod registry;
pub mod spec;
pub mod t2t;

#[cfg(test)]
mod fuzz;

pub use catalog::{Catalog, Task, TaskKind};
pub use data::{load_split, Dataset};
pub use error::{DataError, TaskError};
pub use spec::{LabelSpec, SplitSpec, TaskSpec};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_tasks.rs"));
}
pub use embedded::EMBEDDED_TASKS;
