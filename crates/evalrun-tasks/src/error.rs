//! Typed errors of task loading and dataset reading. Messages are sentences that name the
//! file, line and field, with values in backticks.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error("task file `{file}` is not valid: {message}")]
    Invalid { file: String, message: String },
    #[error("unknown task `{name}`{scope}; known tasks: {known}")]
    Unknown {
        name: String,
        /// Where it was looked for, e.g. ` (LM tasks) in suite `gpt2-paper``.
        scope: String,
        known: String,
    },
    #[error("task `{name}` is defined twice (`{first}` and `{second}`)")]
    Duplicate {
        name: String,
        first: String,
        second: String,
    },
    #[error("cannot read task directory `{path}`: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Checks a task file's metric names against the ones its engine computes: each of `metrics`
/// must be known, and `table_metric` must be one of them. The message is the `Invalid` one.
pub(crate) fn check_metric_names(
    metrics: &[String],
    table_metric: &str,
    known: &[&str],
) -> Result<(), String> {
    if let Some(m) = metrics.iter().find(|m| !known.contains(&m.as_str())) {
        return Err(format!("unknown metric `{m}`; known: {}", known.join(", ")));
    }
    if !metrics.iter().any(|m| m == table_metric) {
        return Err(format!(
            "`table_metric` `{table_metric}` is not one of `metrics`"
        ));
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("data not present: task `{task}` expects its {split} file at `{path}` (set --data-dir or EVALRUN_DATA_DIR to a directory laid out like ../shared/data)")]
    Missing {
        task: String,
        split: String,
        path: PathBuf,
    },
    #[error("task `{task}` has no `{split}` split (it has: {available})")]
    NoSuchSplit {
        task: String,
        split: String,
        available: String,
    },
    #[error("cannot read `{path}`: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`{path}` line {line}: not valid UTF-8")]
    Encoding { path: PathBuf, line: usize },
    #[error("`{path}` line {line}: expected at least {expected} tab-separated columns (for the `{field}` field at column {column}), found {found}")]
    TooFewColumns {
        path: PathBuf,
        line: usize,
        expected: usize,
        found: usize,
        field: String,
        column: usize,
    },
    #[error("`{path}` line {line}: unknown label `{value}` in field `{field}`; expected one of {expected}")]
    UnknownLabel {
        path: PathBuf,
        line: usize,
        field: String,
        value: String,
        expected: String,
    },
    #[error("`{path}` line {line}: field `{field}` is `{value}`, which is not a number")]
    NotANumber {
        path: PathBuf,
        line: usize,
        field: String,
        value: String,
    },
    #[error("`{path}` line {line}: {message}")]
    Json {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("`{path}` line {line}: {message}")]
    Malformed {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("`{labels}` has {found} labelled rows but `{texts}` has {expected} examples; they must correspond line by line")]
    LabelCountMismatch {
        labels: PathBuf,
        texts: PathBuf,
        found: usize,
        expected: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::check_metric_names;

    #[test]
    fn metric_names_must_be_known_and_include_the_table_metric() {
        let known = ["accuracy", "f1"];
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            check_metric_names(&names(&["f1", "accuracy"]), "f1", &known),
            Ok(())
        );
        assert_eq!(
            check_metric_names(&names(&["f1", "bleu"]), "f1", &known).unwrap_err(),
            "unknown metric `bleu`; known: accuracy, f1"
        );
        assert_eq!(
            check_metric_names(&names(&["accuracy"]), "f1", &known).unwrap_err(),
            "`table_metric` `f1` is not one of `metrics`"
        );
    }
}
