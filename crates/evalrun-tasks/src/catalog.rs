//! One registry for every task file: the embedded `tasks/**/*.toml` plus any directory the
//! user adds, whatever their kind.
//!
//! Every file has one schema head (`name`, `version`, `description`, `protocol`, `metrics`,
//! `table_metric`) and a `kind` that says which request section follows:
//!
//! | `kind` | requests | section |
//! |---|---|---|
//! | `head` | classify (head logits) or embed (cosine of sentence embeddings) | `[labels]`, `[splits.*]` |
//! | `lm` | rolling, loglikelihood (last word/token, cloze candidates) | `request`, `reader`, `paths` |
//! | `text_to_text` | generate, or loglikelihood of each label (rank classification) | `preprocess`, `[splits.*]` |
//!
//! Entries are keyed by their path below `tasks/` (`glue/mrpc`, `t5/glue/mrpc`), so tasks of
//! the same name and different kinds coexist; `--task` names are looked up among the tasks of
//! the kind the model answers. A file without `kind` takes it from its folder (`lm/`, `t5/`),
//! else `head`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::TaskError;
use crate::lm::LmTaskSpec;
use crate::spec::TaskSpec;
use crate::t2t::T2tTaskSpec;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// Encoder tasks: a classification/regression head, or embedding similarity.
    Head,
    /// Causal-LM tasks.
    Lm,
    /// T5 text-to-text tasks.
    TextToText,
}

impl TaskKind {
    pub fn name(self) -> &'static str {
        match self {
            TaskKind::Head => "head",
            TaskKind::Lm => "lm",
            TaskKind::TextToText => "text_to_text",
        }
    }
}

/// One task of any kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Task {
    Head(TaskSpec),
    Lm(LmTaskSpec),
    TextToText(T2tTaskSpec),
}

impl Task {
    pub fn kind(&self) -> TaskKind {
        match self {
            Task::Head(_) => TaskKind::Head,
            Task::Lm(_) => TaskKind::Lm,
            Task::TextToText(_) => TaskKind::TextToText,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Task::Head(t) => &t.name,
            Task::Lm(t) => &t.name,
            Task::TextToText(t) => &t.name,
        }
    }

    pub fn version(&self) -> u32 {
        match self {
            Task::Head(t) => t.version,
            Task::Lm(t) => t.version,
            Task::TextToText(t) => t.version,
        }
    }

    pub fn description(&self) -> &str {
        match self {
            Task::Head(t) => &t.description,
            Task::Lm(t) => &t.description,
            Task::TextToText(t) => &t.description,
        }
    }

    pub fn protocol(&self) -> &str {
        match self {
            Task::Head(t) => &t.protocol,
            Task::Lm(t) => &t.protocol,
            Task::TextToText(t) => &t.protocol,
        }
    }

    /// The suites that run this task (`glue`, `superglue`, `gpt2-paper`, …).
    pub fn suites(&self) -> Vec<&str> {
        match self {
            Task::Head(t) => vec![t.suite.as_str()],
            Task::Lm(t) => t.suites.iter().map(String::as_str).collect(),
            Task::TextToText(t) => vec![t.suite.as_str()],
        }
    }

    pub fn metric_names(&self) -> Vec<String> {
        match self {
            Task::Head(t) => t.metrics.iter().map(|m| m.name().to_string()).collect(),
            Task::Lm(t) => t.metrics.clone(),
            Task::TextToText(t) => t.metrics.clone(),
        }
    }

    pub fn table_metric(&self) -> String {
        match self {
            Task::Head(t) => t.table_metric.name().to_string(),
            Task::Lm(t) => t.table_metric.clone(),
            Task::TextToText(t) => t.table_metric.clone(),
        }
    }

    /// Whether `names` (a `--task` list) names this task itself (not only through `all`):
    /// its name, its group or alias. A task named explicitly whose data is absent is an error;
    /// one selected through `all` or a suite is skipped.
    pub fn named_in(&self, names: &[String]) -> bool {
        names.iter().any(|n| {
            n == self.name()
                || match self {
                    Task::Head(t) => t.group.as_deref() == Some(n.as_str()),
                    Task::Lm(_) => false,
                    Task::TextToText(t) => t.alias.as_deref() == Some(n.as_str()) || n == "mnli",
                }
        })
    }
}

/// A task with where it came from.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Path below `tasks/` (or the added directory) without `.toml`: `t5/glue/mrpc`.
    pub key: String,
    /// The file, for messages.
    pub file: String,
    pub task: Task,
}

#[derive(Debug, Clone, Default)]
pub struct Catalog {
    entries: Vec<Entry>,
}

#[derive(Deserialize)]
struct KindOnly {
    #[serde(default)]
    kind: Option<TaskKind>,
}

/// Parses one task file of any kind; `key` (its path below the tasks folder) decides the kind
/// when the file does not say it.
pub fn parse_task(key: &str, file: &str, text: &str) -> Result<Task, TaskError> {
    let invalid = |message: String| TaskError::Invalid {
        file: file.to_string(),
        message,
    };
    let declared = toml::from_str::<KindOnly>(text)
        .map_err(|e| invalid(e.to_string()))?
        .kind;
    let kind = declared.unwrap_or(if key.starts_with("lm/") {
        TaskKind::Lm
    } else if key.starts_with("t5/") {
        TaskKind::TextToText
    } else {
        TaskKind::Head
    });
    Ok(match kind {
        TaskKind::Head => Task::Head(crate::registry::parse(file, text)?),
        TaskKind::Lm => Task::Lm(crate::lm::parse(file, text)?),
        TaskKind::TextToText => Task::TextToText(crate::t2t::parse(file, text)?),
    })
}

impl Catalog {
    /// The task files compiled into this build.
    pub fn embedded() -> Result<Self, TaskError> {
        let mut catalog = Self::default();
        for (file, text) in crate::EMBEDDED_TASKS {
            let key = file.trim_end_matches(".toml").to_string();
            let label = format!("tasks/{file}");
            let task = parse_task(&key, &label, text)?;
            catalog.insert(key, label, task, false)?;
        }
        Ok(catalog)
    }

    /// Adds every `*.toml` below `dir`; a task of the same name and kind replaces the embedded
    /// one.
    pub fn add_dir(&mut self, dir: &Path) -> Result<(), TaskError> {
        let mut files = Vec::new();
        crate::registry::collect_toml(dir, &mut files)?;
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file).map_err(|source| TaskError::Io {
                path: file.clone(),
                source,
            })?;
            let key = file
                .strip_prefix(dir)
                .unwrap_or(&file)
                .with_extension("")
                .to_string_lossy()
                .replace('\\', "/");
            let label = file.display().to_string();
            let task = parse_task(&key, &label, &text)?;
            self.insert(key, label, task, true)?;
        }
        Ok(())
    }

    fn insert(
        &mut self,
        key: String,
        file: String,
        task: Task,
        replace_embedded: bool,
    ) -> Result<(), TaskError> {
        // A name reaches terminals, tables and file names: no control characters, no
        // surrounding spaces, not empty.
        let name = task.name();
        if name.is_empty() || name.trim() != name || name.chars().any(char::is_control) {
            return Err(TaskError::Invalid {
                file,
                message: format!(
                    "task name {name:?} is empty, has surrounding spaces or control characters"
                ),
            });
        }
        let same = |e: &Entry| e.task.kind() == task.kind() && e.task.name() == task.name();
        if let Some(i) = self.entries.iter().position(same) {
            let first = &self.entries[i].file;
            if !(replace_embedded && first.starts_with("tasks/")) {
                return Err(TaskError::Duplicate {
                    name: task.name().to_string(),
                    first: first.clone(),
                    second: file,
                });
            }
            tracing::info!(task = %task.name(), %file, "task file replaces the embedded definition");
            self.entries[i] = Entry { key, file, task };
            return Ok(());
        }
        self.entries.push(Entry { key, file, task });
        Ok(())
    }

    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter()
    }

    pub fn tasks(&self, kind: TaskKind) -> impl Iterator<Item = &Task> {
        self.entries
            .iter()
            .map(|e| &e.task)
            .filter(move |t| t.kind() == kind)
    }

    pub fn get(&self, key: &str) -> Option<&Task> {
        self.entries.iter().find(|e| e.key == key).map(|e| &e.task)
    }

    /// Expands a `--task` list among the tasks of `kind`: `all` (every task of `suite`), a
    /// task name, a group (`mnli`), a suite alias (`gpt2-paper`) or, inside a suite, an alias
    /// (`rte` for SuperGLUE's RTE). Duplicates are removed; head tasks follow GLUE's column
    /// order, the others the order asked.
    pub fn resolve(
        &self,
        kind: TaskKind,
        suite: Option<&str>,
        names: &[String],
    ) -> Result<Vec<&Task>, TaskError> {
        let in_suite = |t: &Task| match t {
            Task::Lm(_) => true,
            _ => suite.is_none_or(|s| t.suites().contains(&s)),
        };
        let mut chosen: Vec<&Task> = Vec::new();
        for name in names {
            let name = name.trim();
            let matches = |t: &Task| match t {
                Task::Head(h) => {
                    (name == "all" && in_suite(t))
                        || h.name == name
                        || (h.group.as_deref() == Some(name)
                            && self.tasks(kind).all(|o| o.name() != name))
                }
                Task::Lm(l) => {
                    name == "all" || l.name == name || l.suites.iter().any(|s| s == name)
                }
                Task::TextToText(x) => {
                    in_suite(t)
                        && (name == "all"
                            || x.name == name
                            || (suite.is_some() && x.alias.as_deref() == Some(name))
                            || (name == "mnli" && x.name.starts_with("mnli_")))
                }
            };
            let matched: Vec<&Task> = self.tasks(kind).filter(|t| matches(t)).collect();
            if matched.is_empty() {
                let known: Vec<&str> = self
                    .tasks(kind)
                    .filter(|t| in_suite(t))
                    .map(|t| match t {
                        Task::TextToText(x) if suite.is_some() => {
                            x.alias.as_deref().unwrap_or(&x.name)
                        }
                        other => other.name(),
                    })
                    .collect();
                return Err(TaskError::Unknown {
                    name: name.to_string(),
                    scope: format!(
                        "{}{}",
                        match kind {
                            TaskKind::Head => "",
                            TaskKind::Lm => " (LM tasks)",
                            TaskKind::TextToText => " (text-to-text tasks)",
                        },
                        suite
                            .map(|s| format!(" in suite `{s}`"))
                            .unwrap_or_default()
                    ),
                    known: known.join(", "),
                });
            }
            for task in matched {
                if !chosen.iter().any(|c| c.name() == task.name()) {
                    chosen.push(task);
                }
            }
        }
        if kind == TaskKind::Head {
            chosen.sort_by_key(|t| crate::registry::canonical_rank(t.name()));
        }
        Ok(chosen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(tasks: &[&Task]) -> Vec<String> {
        tasks.iter().map(|t| t.name().to_string()).collect()
    }

    #[test]
    fn every_embedded_file_parses_with_its_declared_kind() {
        let catalog = Catalog::embedded().unwrap();
        for entry in catalog.entries() {
            let expected = if entry.key.starts_with("lm/") {
                TaskKind::Lm
            } else if entry.key.starts_with("t5/") {
                TaskKind::TextToText
            } else {
                TaskKind::Head
            };
            assert_eq!(entry.task.kind(), expected, "{}", entry.file);
        }
        // The same name under two kinds coexists, under two keys.
        assert!(matches!(catalog.get("glue/mrpc"), Some(Task::Head(_))));
        assert!(matches!(
            catalog.get("t5/glue/mrpc"),
            Some(Task::TextToText(_))
        ));
    }

    #[test]
    fn glue_all_is_complete_and_in_column_order() {
        let catalog = Catalog::embedded().unwrap();
        let all = catalog
            .resolve(TaskKind::Head, Some("glue"), &["all".into()])
            .unwrap();
        assert_eq!(names(&all), crate::registry::GLUE_ORDER);
        assert_eq!(all.len(), 11, "every GLUE task, AX included");
    }

    #[test]
    fn groups_suites_and_aliases_expand_and_unknown_names_fail() {
        let catalog = Catalog::embedded().unwrap();
        let mnli = catalog
            .resolve(TaskKind::Head, None, &["mnli".into()])
            .unwrap();
        assert_eq!(names(&mnli), ["mnli_matched", "mnli_mismatched"]);
        let err = catalog
            .resolve(TaskKind::Head, None, &["nope".into()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown task `nope`"), "{err}");
        let paper = catalog
            .resolve(TaskKind::Lm, None, &["gpt2-paper".into()])
            .unwrap();
        assert!(paper.len() >= 8, "{:?}", names(&paper));
        let rte = catalog
            .resolve(TaskKind::TextToText, Some("superglue"), &["rte".into()])
            .unwrap();
        assert_eq!(names(&rte), ["superglue_rte"]);
        let t5_rte = catalog
            .resolve(TaskKind::TextToText, Some("glue"), &["rte".into()])
            .unwrap();
        assert_eq!(names(&t5_rte), ["rte"]);
        let err = catalog
            .resolve(TaskKind::Lm, None, &["rte".into()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown task `rte` (LM tasks)"), "{err}");
    }

    #[test]
    fn a_kind_field_overrides_the_folder() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tasks/lm/wikitext2.toml"
        ))
        .unwrap();
        let task = parse_task("mine/wikitext2", "x.toml", &text).unwrap();
        assert_eq!(task.kind(), TaskKind::Lm);
        let err = parse_task("x", "x.toml", "kind = \"nope\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("x.toml") && err.contains("nope"), "{err}");
    }
}
