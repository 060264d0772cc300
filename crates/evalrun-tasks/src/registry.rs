//! Head task files (`kind = "head"`): parsing and validation, GLUE's column order, and the
//! directory walk the [`crate::Catalog`] uses.

use std::path::Path;

use evalrun_core::Metric;

use crate::error::TaskError;
use crate::spec::{LabelSpec, TaskSpec};

/// GLUE's columns in the order papers print them.
pub(crate) const GLUE_ORDER: [&str; 11] = [
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

/// GLUE's conventional column order; other tasks follow, alphabetically.
pub(crate) fn canonical_rank(name: &str) -> (usize, String) {
    (
        GLUE_ORDER
            .iter()
            .position(|n| *n == name)
            .unwrap_or(GLUE_ORDER.len()),
        name.to_string(),
    )
}

pub(crate) fn collect_toml(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> Result<(), TaskError> {
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
    const HEAD_METRICS: [Metric; 5] = [
        Metric::Accuracy,
        Metric::F1,
        Metric::Mcc,
        Metric::Pearson,
        Metric::Spearman,
    ];
    if let Some(m) = spec.metrics.iter().find(|m| !HEAD_METRICS.contains(m)) {
        return Err(invalid(format!(
            "metric `{m}` does not apply to a head task (accuracy, f1, mcc, pearson, spearman)"
        )));
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
