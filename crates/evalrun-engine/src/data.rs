//! Where a task's data comes from, for every kind: `--data-dir` (the `../shared/data` layout),
//! the Hub's Parquet conversion (GLUE, SuperGLUE) or a pinned original URL (LM files), and
//! which failures mean "skip this task in a suite run".

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use evalrun_tasks::lm::LmDataset;
use evalrun_tasks::parquet::HubSplit;
use evalrun_tasks::t2t::T2tDataset;
use evalrun_tasks::{DataError, Dataset, Task};

use crate::error::{EngineError, Result};
use crate::resolve::ModelResolver;

/// One task's rows, whatever the kind.
#[derive(Debug, Clone)]
pub enum Data {
    Head(Dataset),
    Lm(LmDataset),
    TextToText(T2tDataset),
}

impl Data {
    pub fn len(&self) -> usize {
        match self {
            Data::Head(d) => d.examples.len(),
            Data::Lm(d) => d.documents.len(),
            Data::TextToText(d) => d.examples.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn split(&self) -> &str {
        match self {
            Data::Head(d) => &d.split,
            Data::Lm(_) => "test",
            Data::TextToText(d) => &d.split,
        }
    }

    pub fn path(&self) -> &Path {
        match self {
            Data::Head(d) => &d.path,
            Data::Lm(d) => &d.path,
            Data::TextToText(d) => &d.path,
        }
    }

    pub fn sha256(&self) -> &str {
        match self {
            Data::Head(d) => &d.sha256,
            Data::Lm(d) => &d.sha256,
            Data::TextToText(d) => &d.sha256,
        }
    }

    /// The evaluation unit of each row: a row is its own unit (an example, a document),
    /// except that text-to-text rows of one group (a MultiRC question) form one unit, the
    /// bootstrap's. Units are numbered in order of first appearance.
    fn unit_of_rows(&self) -> Vec<usize> {
        match self {
            Data::TextToText(d) => {
                let mut of_group: std::collections::HashMap<u64, usize> = Default::default();
                let mut next = 0;
                d.examples
                    .iter()
                    .map(|e| {
                        let mut fresh = || {
                            next += 1;
                            next - 1
                        };
                        match e.group {
                            Some(g) => *of_group.entry(g).or_insert_with(fresh),
                            None => fresh(),
                        }
                    })
                    .collect()
            }
            _ => (0..self.len()).collect(),
        }
    }

    /// Evaluation units (what `--shard` deals out).
    pub fn units(&self) -> usize {
        self.unit_of_rows().into_iter().max().map_or(0, |u| u + 1)
    }

    /// Keeps the units whose number `% count == index`: deterministic, whatever the batching.
    pub fn shard(&mut self, shard: crate::Shard) {
        fn retain<T>(rows: &mut Vec<T>, units: &[usize], shard: crate::Shard) {
            let mut row = 0;
            rows.retain(|_| {
                row += 1;
                units[row - 1] % shard.count == shard.index
            });
        }
        let units = self.unit_of_rows();
        match self {
            Data::Head(d) => retain(&mut d.examples, &units, shard),
            Data::Lm(d) => retain(&mut d.documents, &units, shard),
            Data::TextToText(d) => retain(&mut d.examples, &units, shard),
        }
    }

    /// Why these rows cannot be scored, if they cannot: a labelled split with rows that have
    /// no label (they would silently drop out of the metric while `n` counted them), or LM
    /// documents without text. `labelled` is false for test-server splits.
    pub fn unscorable(&self, labelled: bool) -> Option<String> {
        let describe = |missing: Vec<usize>, total: usize, what: &str| {
            let first: Vec<String> = missing
                .iter()
                .take(5)
                .map(|i| (i + 1).to_string())
                .collect();
            format!(
                "{} of its {total} rows have no {what} (row{} {}{}); every row of a labelled split must have one (for an unlabelled test file use `--split test --submission-dir DIR`)",
                missing.len(),
                if missing.len() == 1 { "" } else { "s" },
                first.join(", "),
                if missing.len() > 5 { ", …" } else { "" }
            )
        };
        match self {
            Data::Head(d) if labelled => {
                let missing: Vec<usize> = (0..d.examples.len())
                    .filter(|&i| d.examples[i].gold.is_none())
                    .collect();
                (!missing.is_empty()).then(|| describe(missing, d.examples.len(), "label"))
            }
            Data::TextToText(d) if labelled => {
                let missing: Vec<usize> = (0..d.examples.len())
                    .filter(|&i| d.examples[i].gold.is_none())
                    .collect();
                (!missing.is_empty())
                    .then(|| describe(missing, d.examples.len(), "label (or answer)"))
            }
            Data::Lm(d) => d
                .documents
                .iter()
                .all(|doc| doc.text.trim().is_empty())
                .then(|| "it has no text to score (every document is empty)".to_string()),
            _ => None,
        }
    }

    /// Keeps the first `n` evaluation units (examples, documents).
    pub fn truncate(&mut self, n: usize) {
        match self {
            Data::Head(d) => d.examples.truncate(n),
            Data::Lm(d) => d.documents.truncate(n),
            Data::TextToText(d) => d.examples.truncate(n),
        }
    }
}

/// Where data lives: a directory, or the Hub and pinned URLs through the cache.
pub struct DataSource<'a> {
    pub data_dir: Option<&'a Path>,
    pub resolver: &'a ModelResolver,
}

impl DataSource<'_> {
    /// For messages.
    pub fn origin(&self) -> String {
        match self.data_dir {
            Some(dir) => format!("`{}`", dir.display()),
            None => "the Hub (no --data-dir given)".into(),
        }
    }

    /// `split` (default: the task's own) of `task`.
    pub fn load(&self, task: &Task, split: Option<&str>) -> Result<Data> {
        match task {
            Task::Head(t) => {
                let split = split.unwrap_or(&t.default_split);
                if let Some(dir) = self.data_dir {
                    return Ok(Data::Head(evalrun_tasks::load_split(t, split, dir)?));
                }
                let hub = hub_source(
                    &t.name,
                    split,
                    t.splits.get(split).and_then(|s| s.hub.as_ref()),
                    t.splits.keys(),
                )?;
                let path = from_hub(&t.name, self.resolver.dataset_file(&hub.dataset, &hub.path))?;
                Ok(Data::Head(evalrun_tasks::parquet::load_split(
                    t, split, hub, &path,
                )?))
            }
            Task::TextToText(t) => {
                let split = split.unwrap_or(&t.default_split);
                if let Some(dir) = self.data_dir {
                    return Ok(Data::TextToText(evalrun_tasks::t2t::load(t, split, dir)?));
                }
                let hub = hub_source(&t.name, split, t.hub.get(split), t.splits.keys())?;
                let path = from_hub(&t.name, self.resolver.dataset_file(&hub.dataset, &hub.path))?;
                Ok(Data::TextToText(evalrun_tasks::parquet::load_t2t_split(
                    t, split, hub, &path,
                )?))
            }
            Task::Lm(t) => {
                if split.is_some_and(|s| s != "test") {
                    return Err(DataError::NoSuchSplit {
                        task: t.name.clone(),
                        split: split.unwrap_or_default().to_string(),
                        available: "test".into(),
                    }
                    .into());
                }
                match (self.data_dir, &t.url) {
                    (Some(dir), _) => Ok(Data::Lm(t.load(dir)?)),
                    (None, Some(source)) => {
                        let path = from_hub(
                            &t.name,
                            self.resolver
                                .hub()
                                .and_then(|h| Ok(h.download_url(&source.url, &source.sha256)?)),
                        )?;
                        Ok(Data::Lm(t.load_file(path)?))
                    }
                    (None, None) => Err(EngineError::Absent(format!(
                        "task `{}` has no pinned URL; pass --data-dir (a directory with `{}`)",
                        t.name, t.paths[0]
                    ))),
                }
            }
        }
    }
}

/// A download for a task that has no `--data-dir`: a failure says so first, since forgetting
/// the flag is the usual reason evalrun went to the Hub at all.
fn from_hub<T, E: Into<EngineError>>(task: &str, result: std::result::Result<T, E>) -> Result<T> {
    result.map_err(|e| EngineError::Context {
        context: format!(
            "no `--data-dir` was given (nor EVALRUN_DATA_DIR), so task `{task}` reads its data from the Hub; to read local files laid out like ../shared/data, pass `--data-dir DIR`"
        ),
        source: Box::new(e.into()),
    })
}

fn hub_source<'a, K: std::fmt::Display>(
    task: &str,
    split: &str,
    hub: Option<&'a HubSplit>,
    mut splits: impl Iterator<Item = K>,
) -> Result<&'a HubSplit> {
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
    Err(EngineError::Absent(format!(
        "task `{task}` has no Hub source for its `{split}` split; pass --data-dir"
    )))
}

/// Missing files, splits and sources are skipped in suite runs; anything else is an error.
pub fn is_absent(error: &EngineError) -> bool {
    matches!(error.root(), EngineError::Absent(_))
        || matches!(
            error.find::<DataError>(),
            Some(DataError::Missing { .. } | DataError::NoSuchSplit { .. })
        )
}

fn absent_reason(error: &EngineError) -> String {
    match error.find::<DataError>() {
        Some(DataError::Missing { path, .. }) => format!("data not present: `{}`", path.display()),
        _ => error.to_string(),
    }
}

/// The loaded (task, data) pairs and the skipped tasks with their reasons.
pub type Loaded<'t> = (Vec<(&'t Task, Data)>, BTreeMap<String, String>);

/// Loads every task's data before any model: a task whose data is absent is skipped with its
/// reason unless it was named explicitly; any other failure, or nothing loaded, is an error.
pub fn load_all<'t>(
    tasks: &[&'t Task],
    explicit: impl Fn(&Task) -> bool,
    mut load: impl FnMut(&Task) -> Result<Data>,
    origin: &str,
) -> Result<Loaded<'t>> {
    let mut datasets = Vec::new();
    let mut skipped = BTreeMap::new();
    for &task in tasks {
        match load(task) {
            Ok(data) => datasets.push((task, data)),
            Err(error) if !explicit(task) && is_absent(&error) => {
                tracing::warn!("skipping {}: {error}", task.name());
                skipped.insert(task.name().to_string(), absent_reason(&error));
            }
            Err(error) => return Err(error),
        }
    }
    if datasets.is_empty() {
        return Err(EngineError::Message(format!(
            "none of the requested tasks has its data in {origin}"
        )));
    }
    Ok((datasets, skipped))
}

/// Why a file parsed to no rows, when its bytes say so: empty, or lines ended by a bare CR
/// (classic Mac), which no reader splits.
pub fn emptiness_hint(path: &Path) -> String {
    match std::fs::read(path) {
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => " (the file is empty)".into(),
        Ok(bytes) if bytes.contains(&b'\r') && !bytes.contains(&b'\n') => {
            " (its lines end in a bare CR, old Mac style; convert them to LF, e.g. `tr '\\r' '\\n'`)"
                .into()
        }
        Ok(_) => " (only a header, or no row the reader accepts)".into(),
        Err(_) => String::new(),
    }
}

/// A path as shown in records: relative to the working directory when it lies below it, so
/// records committed as baselines carry no machine-specific prefix.
pub fn relative_to_cwd(path: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(PathBuf::from))
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string()
}
