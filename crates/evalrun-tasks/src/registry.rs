//! The set of known tasks: the embedded `tasks/**/*.toml` plus any directory the user adds.

use std::collections::BTreeMap;
use std::path::Path;

use evalrun_core::Metric;

use crate::error::TaskError;
use crate::spec::{LabelSpec, TaskSpec};

#[derive(Debug, Clone, Default)]
pub struct TaskRegistry {
    tasks: BTreeMap<String, (String, TaskSpec)>,
}

impl TaskRegistry {
    /// The task files compiled into this build.
    pub fn embedded() -> Result<Self, TaskError> {
        let mut registry = Self::default();
        // Language-model tasks have their own schema (crate::lm).
        for (file, text) in crate::EMBEDDED_TASKS
            .iter()
            .filter(|(f, _)| !f.starts_with("lm/") && !f.starts_with("t5/"))
        {
            registry.insert(format!("tasks/{file}"), parse(file, text)?, false)?;
        }
        Ok(registry)
    }

    /// Adds every `*.toml` below `dir`; a task of the same name replaces the embedded one.
    pub fn add_dir(&mut self, dir: &Path) -> Result<(), TaskError> {
        let mut files = Vec::new();
        collect_toml(dir, &mut files)?;
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file).map_err(|source| TaskError::Io {
                path: file.clone(),
                source,
            })?;
            let label = file.display().to_string();
            let spec = parse(&label, &text)?;
            self.insert(label, spec, true)?;
        }
        Ok(())
    }

    fn insert(
        &mut self,
        file: String,
        spec: TaskSpec,
        replace_embedded: bool,
    ) -> Result<(), TaskError> {
        if let Some((first, _)) = self.tasks.get(&spec.name) {
            let from_embedded = first.starts_with("tasks/");
            if !(replace_embedded && from_embedded) {
                return Err(TaskError::Duplicate {
                    name: spec.name.clone(),
                    first: first.clone(),
                    second: file,
                });
            }
            tracing::info!(task = %spec.name, %file, "task file replaces the embedded definition");
        }
        self.tasks.insert(spec.name.clone(), (file, spec));
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<&TaskSpec> {
        self.tasks.get(name).map(|(_, spec)| spec)
    }

    pub fn iter(&self) -> impl Iterator<Item = &TaskSpec> {
        self.tasks.values().map(|(_, spec)| spec)
    }

    /// Expands a `--task` list: `all` (every task of `suite`), a task name, or a group name
    /// (`mnli`). Order follows the suite's canonical order, duplicates removed.
    pub fn resolve(
        &self,
        suite: Option<&str>,
        names: &[String],
    ) -> Result<Vec<&TaskSpec>, TaskError> {
        let mut chosen: Vec<&TaskSpec> = Vec::new();
        for name in names {
            let name = name.trim();
            let matched: Vec<&TaskSpec> = if name == "all" {
                self.iter()
                    .filter(|t| suite.is_none_or(|s| t.suite == s))
                    .collect()
            } else if let Some(task) = self.get(name) {
                vec![task]
            } else {
                self.iter()
                    .filter(|t| t.group.as_deref() == Some(name))
                    .collect()
            };
            if matched.is_empty() {
                let known: Vec<&str> = self.iter().map(|t| t.name.as_str()).collect();
                return Err(TaskError::Unknown {
                    name: name.to_string(),
                    known: known.join(", "),
                });
            }
            for task in matched {
                if !chosen.iter().any(|c| c.name == task.name) {
                    chosen.push(task);
                }
            }
        }
        chosen.sort_by_key(|t| canonical_rank(&t.name));
        Ok(chosen)
    }
}

/// GLUE's conventional column order; other tasks follow, alphabetically.
fn canonical_rank(name: &str) -> (usize, String) {
    const ORDER: [&str; 11] = [
        "cola",
        "sst2",
        "mrpc",
        "stsb",
        "qqp",
        "mnli_matched",
        "mnli_mismatched",
        "qnli",
        "rte",
        "wnli",
        "ax",
    ];
    (
        ORDER.iter().position(|n| *n == name).unwrap_or(ORDER.len()),
        name.to_string(),
    )
}

fn collect_toml(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> Result<(), TaskError> {
    let entries = std::fs::read_dir(dir).map_err(|source| TaskError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in entries {
        let path = entry
            .map_err(|source| TaskError::Io {
                path: dir.to_path_buf(),
                source,
            })?
            .path();
        if path.is_dir() {
            collect_toml(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
    Ok(())
}

/// Parses and validates one task file.
pub fn parse(file: &str, text: &str) -> Result<TaskSpec, TaskError> {
    let invalid = |message: String| TaskError::Invalid {
        file: file.to_string(),
        message,
    };
    let spec: TaskSpec = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
    if spec.metrics.is_empty() {
        return Err(invalid("`metrics` is empty".into()));
    }
    if !spec.metrics.contains(&spec.table_metric) {
        return Err(invalid(format!(
            "`table_metric` `{}` is not one of `metrics`",
            spec.table_metric
        )));
    }
    if !spec.splits.contains_key(&spec.default_split) {
        return Err(invalid(format!(
            "`default_split` `{}` has no `[splits.{0}]` table",
            spec.default_split
        )));
    }
    match &spec.labels {
        LabelSpec::Classification {
            names,
            values,
            positive,
            head,
        } => {
            if names.len() < 2 {
                return Err(invalid(
                    "a classification task needs at least two label names".into(),
                ));
            }
            if values.as_ref().is_some_and(|v| v.len() != names.len()) {
                return Err(invalid(
                    "`labels.values` must have one entry per label name".into(),
                ));
            }
            if let Some(p) = positive {
                if !names.contains(p) {
                    return Err(invalid(format!(
                        "`labels.positive` `{p}` is not a label name"
                    )));
                }
            }
            if spec.metrics.contains(&Metric::F1) && positive.is_none() {
                return Err(invalid("metric `f1` needs `labels.positive`".into()));
            }
            if let Some(head) = head {
                for name in &head.names {
                    let target = head.collapse.get(name).unwrap_or(name);
                    if !names.contains(target) {
                        return Err(invalid(format!("head label `{name}` collapses to `{target}`, which is not a label name")));
                    }
                }
            }
            if let Some(m) = spec.metrics.iter().find(|m| !m.is_classification()) {
                return Err(invalid(format!("metric `{m}` needs a regression task")));
            }
        }
        LabelSpec::Regression {} => {
            if let Some(m) = spec.metrics.iter().find(|m| m.is_classification()) {
                return Err(invalid(format!("metric `{m}` needs a classification task")));
            }
        }
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_tasks_parse_and_glue_all_is_complete() {
        let registry = TaskRegistry::embedded().unwrap();
        let all: Vec<&str> = registry
            .resolve(Some("glue"), &["all".into()])
            .unwrap()
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        assert_eq!(
            all,
            [
                "cola",
                "sst2",
                "mrpc",
                "stsb",
                "qqp",
                "mnli_matched",
                "mnli_mismatched",
                "qnli",
                "rte",
                "wnli",
                "ax"
            ]
        );
    }

    #[test]
    fn group_names_expand_and_unknown_names_fail() {
        let registry = TaskRegistry::embedded().unwrap();
        let mnli: Vec<&str> = registry
            .resolve(None, &["mnli".into()])
            .unwrap()
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        assert_eq!(mnli, ["mnli_matched", "mnli_mismatched"]);
        let err = registry
            .resolve(None, &["nope".into()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown task `nope`"), "{err}");
    }

    #[test]
    fn invalid_files_are_rejected_with_the_reason() {
        let text = r#"
name = "x"
version = 1
suite = "glue"
description = "d"
protocol = "p"
metrics = ["f1"]
table_metric = "f1"
default_split = "dev"
[labels]
kind = "classification"
names = ["a", "b"]
[splits.dev]
path = "x.tsv"
header = false
text_a = 0
"#;
        let err = parse("x.toml", text).unwrap_err().to_string();
        assert!(err.contains("`f1` needs `labels.positive`"), "{err}");
        let err = parse("x.toml", &text.replace("header", "headr"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("x.toml") && err.contains("headr"), "{err}");
    }
}
