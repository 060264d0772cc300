//! Data that is not there: which failures mean "skip this task in a suite run" and how to say
//! why, and the Hub source of a split when no `--data-dir` is given.

use evalrun_tasks::parquet::HubSplit;
use evalrun_tasks::DataError;

/// A split with neither a `--data-dir` nor a Hub source.
#[derive(Debug, thiserror::Error)]
#[error(
    "data not present: task `{task}` has no Hub source for its `{split}` split; pass --data-dir"
)]
pub struct NoSource {
    pub task: String,
    pub split: String,
}

pub fn hub_source<'a, K: std::fmt::Display>(
    task: &str,
    split: &str,
    hub: Option<&'a HubSplit>,
    mut splits: impl Iterator<Item = K>,
) -> anyhow::Result<&'a HubSplit> {
    if let Some(hub) = hub {
        return Ok(hub);
    }
    if !splits.any(|s| s.to_string() == split) {
        return Err(DataError::NoSuchSplit {
            task: task.to_string(),
            split: split.to_string(),
            available: String::new(),
        }
        .into());
    }
    Err(NoSource {
        task: task.to_string(),
        split: split.to_string(),
    }
    .into())
}

/// Missing files, splits and sources are skipped in suite runs; anything else is an error.
pub fn is_absent(error: &anyhow::Error) -> bool {
    matches!(
        error.downcast_ref::<DataError>(),
        Some(DataError::Missing { .. } | DataError::NoSuchSplit { .. })
    ) || error.downcast_ref::<NoSource>().is_some()
}

pub fn absent_reason(error: &anyhow::Error) -> String {
    match error.downcast_ref::<DataError>() {
        Some(DataError::Missing { path, .. }) => format!("data not present: `{}`", path.display()),
        _ => error.to_string(),
    }
}
