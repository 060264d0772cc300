//! The two GLUE averages, named so that nobody mixes them up.
//!
//! * **BERT-table average**: the plain mean of the nine numbers in BERT's Table 1 (MNLI-m and
//!   MNLI-mm counted separately; F1 for QQP and MRPC, Spearman for STS-B, MCC for CoLA,
//!   accuracy otherwise), WNLI and AX excluded.
//! * **GLUE group average** (T5 `compute_avg_glue`, the GLUE leaderboard convention): average the
//!   metrics inside each task first (MRPC F1+acc, STS-B Pearson+Spearman, QQP F1+acc, MNLI m+mm),
//!   then average over the tasks (CoLA, SST-2, MRPC, STS-B, QQP, MNLI, QNLI, RTE, WNLI).

use std::collections::BTreeMap;

/// Per-task metric values, keyed by task name then metric name (raw fractions).
pub type TaskMetrics = BTreeMap<String, BTreeMap<String, f64>>;

/// An average together with which of its inputs were present.
#[derive(Debug, Clone, PartialEq)]
pub struct Average {
    pub value: f64,
    /// Inputs that were present, in the average's canonical order.
    pub included: Vec<String>,
    /// Inputs that the full average needs but that this run lacks.
    pub missing: Vec<String>,
}

impl Average {
    pub fn is_complete(&self) -> bool {
        self.missing.is_empty()
    }
}

/// (task, metric) pairs of BERT's Table 1, in its column order.
pub const BERT_TABLE: [(&str, &str); 9] = [
    ("mnli_matched", "accuracy"),
    ("mnli_mismatched", "accuracy"),
    ("qqp", "f1"),
    ("qnli", "accuracy"),
    ("sst2", "accuracy"),
    ("cola", "mcc"),
    ("stsb", "spearman"),
    ("mrpc", "f1"),
    ("rte", "accuracy"),
];

/// Tasks of the GLUE group average, each with the metric values averaged inside it.
pub const GLUE_GROUP: [(&str, &[(&str, &str)]); 9] = [
    ("cola", &[("cola", "mcc")]),
    ("sst2", &[("sst2", "accuracy")]),
    ("mrpc", &[("mrpc", "f1"), ("mrpc", "accuracy")]),
    ("stsb", &[("stsb", "pearson"), ("stsb", "spearman")]),
    ("qqp", &[("qqp", "f1"), ("qqp", "accuracy")]),
    (
        "mnli",
        &[
            ("mnli_matched", "accuracy"),
            ("mnli_mismatched", "accuracy"),
        ],
    ),
    ("qnli", &[("qnli", "accuracy")]),
    ("rte", &[("rte", "accuracy")]),
    ("wnli", &[("wnli", "accuracy")]),
];

/// Tasks of the SuperGLUE average (T5 paper Tables 14/15, the SuperGLUE leaderboard): metrics
/// averaged inside each task (CB macro-F1 + accuracy, MultiRC F1a + EM, ReCoRD F1 + EM), then
/// over the eight tasks. SuperGLUE's RTE is `superglue_rte` here.
pub const SUPERGLUE: [(&str, &[(&str, &str)]); 8] = [
    ("boolq", &[("boolq", "accuracy")]),
    ("cb", &[("cb", "macro_f1"), ("cb", "accuracy")]),
    ("copa", &[("copa", "accuracy")]),
    ("multirc", &[("multirc", "f1"), ("multirc", "exact_match")]),
    ("record", &[("record", "f1"), ("record", "exact_match")]),
    ("rte", &[("superglue_rte", "accuracy")]),
    ("wic", &[("wic", "accuracy")]),
    ("wsc", &[("wsc", "accuracy")]),
];

/// The SuperGLUE average over whichever of its tasks are complete; `None` if none are.
pub fn superglue_average(metrics: &TaskMetrics) -> Option<Average> {
    grouped_average(metrics, &SUPERGLUE)
}

fn grouped_average(metrics: &TaskMetrics, groups: &[(&str, &[(&str, &str)])]) -> Option<Average> {
    average_over(groups.iter().map(|(task, parts)| {
        let inner: Option<Vec<f64>> = parts.iter().map(|(t, m)| lookup(metrics, t, m)).collect();
        (*task, inner.as_deref().and_then(mean))
    }))
}

fn lookup(metrics: &TaskMetrics, task: &str, metric: &str) -> Option<f64> {
    metrics
        .get(task)?
        .get(metric)
        .copied()
        .filter(|v| v.is_finite())
}

/// The BERT-table average over whichever of its nine inputs are present; `None` if none are.
pub fn bert_table_average(metrics: &TaskMetrics) -> Option<Average> {
    average_over(
        BERT_TABLE
            .iter()
            .map(|(task, metric)| (*task, lookup(metrics, task, metric))),
    )
}

/// The GLUE group average over whichever of its tasks are complete; `None` if none are.
///
/// A task counts only when every metric averaged inside it is present (MNLI needs both
/// matched and mismatched).
pub fn glue_group_average(metrics: &TaskMetrics) -> Option<Average> {
    grouped_average(metrics, &GLUE_GROUP)
}

/// The mean of the present values, remembering which inputs were present and which missing.
fn average_over<'a>(inputs: impl Iterator<Item = (&'a str, Option<f64>)>) -> Option<Average> {
    let mut values = Vec::new();
    let (mut included, mut missing) = (Vec::new(), Vec::new());
    for (name, value) in inputs {
        match value {
            Some(v) => {
                values.push(v);
                included.push(name.to_string());
            }
            None => missing.push(name.to_string()),
        }
    }
    mean(&values).map(|value| Average {
        value,
        included,
        missing,
    })
}

fn mean(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        None
    } else {
        Some(values.iter().sum::<f64>() / values.len() as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(m: &mut TaskMetrics, task: &str, metric: &str, v: f64) {
        m.entry(task.into()).or_default().insert(metric.into(), v);
    }

    #[test]
    fn bert_table_average_reproduces_the_published_79_6() {
        // BERT-base Table 1 (test server): the nine numbers average to 79.6.
        let mut m = TaskMetrics::new();
        for (task, metric, v) in [
            ("mnli_matched", "accuracy", 84.6),
            ("mnli_mismatched", "accuracy", 83.4),
            ("qqp", "f1", 71.2),
            ("qnli", "accuracy", 90.5),
            ("sst2", "accuracy", 93.5),
            ("cola", "mcc", 52.1),
            ("stsb", "spearman", 85.8),
            ("mrpc", "f1", 88.9),
            ("rte", "accuracy", 66.4),
            ("wnli", "accuracy", 65.1),
        ] {
            put(&mut m, task, metric, v);
        }
        let avg = bert_table_average(&m).unwrap();
        assert!(avg.is_complete());
        assert!((avg.value - 79.6).abs() < 0.05, "{}", avg.value);
    }

    #[test]
    fn group_average_averages_inside_tasks_first() {
        let mut m = TaskMetrics::new();
        put(&mut m, "mrpc", "f1", 0.9);
        put(&mut m, "mrpc", "accuracy", 0.8);
        put(&mut m, "cola", "mcc", 0.5);
        let avg = glue_group_average(&m).unwrap();
        assert!((avg.value - (0.85 + 0.5) / 2.0).abs() < 1e-15);
        assert_eq!(avg.included, vec!["cola", "mrpc"]);
        assert_eq!(avg.missing.len(), 7);
    }

    #[test]
    fn mnli_counts_only_with_both_halves() {
        let mut m = TaskMetrics::new();
        put(&mut m, "mnli_matched", "accuracy", 0.8);
        assert!(glue_group_average(&m).is_none());
        assert_eq!(
            bert_table_average(&m).unwrap().included,
            vec!["mnli_matched"]
        );
    }
}
