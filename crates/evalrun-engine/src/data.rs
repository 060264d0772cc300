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

/// The loaded (task, data) pairs and the skipped tasks with their reasons.
pub type Loaded<T, D> = (Vec<(T, D)>, std::collections::BTreeMap<String, String>);

/// Loads every task's data before any model: a task whose data is absent is skipped with its
/// reason unless it was named explicitly; any other failure, or nothing loaded, is an error.
pub fn load_all<T: Copy, D>(
    tasks: &[T],
    name: impl Fn(T) -> String,
    explicit: impl Fn(T) -> bool,
    mut load: impl FnMut(T) -> anyhow::Result<D>,
    origin: &str,
) -> anyhow::Result<Loaded<T, D>> {
    let mut datasets = Vec::new();
    let mut skipped = std::collections::BTreeMap::new();
    for &task in tasks {
        match load(task) {
            Ok(dataset) => datasets.push((task, dataset)),
            Err(error) if !explicit(task) && is_absent(&error) => {
                tracing::warn!("skipping {}: {error:#}", name(task));
                skipped.insert(name(task), absent_reason(&error));
            }
            Err(error) => return Err(error),
        }
    }
    if datasets.is_empty() {
        anyhow::bail!("none of the requested tasks has its data in {origin}");
    }
    Ok((datasets, skipped))
}
