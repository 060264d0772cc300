//! `evalrun diff`: metric deltas between two runs and the examples whose prediction changed.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::markdown::on_scale;
use crate::record::{PredictionLine, RunRecord};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricDelta {
    pub task: String,
    pub metric: String,
    pub a: Option<f64>,
    pub b: Option<f64>,
}

/// Every (task, metric) of either run, in task order.
pub fn metric_deltas(a: &RunRecord, b: &RunRecord) -> Vec<MetricDelta> {
    let mut keys: Vec<(String, String)> = Vec::new();
    for record in [a, b] {
        for (task, result) in &record.results {
            for metric in result.metrics.keys() {
                if !keys.contains(&(task.clone(), metric.clone())) {
                    keys.push((task.clone(), metric.clone()));
                }
            }
        }
    }
    keys.sort();
    let get = |r: &RunRecord, t: &str, m: &str| {
        r.results
            .get(t)
            .and_then(|x| x.metrics.get(m).copied())
            .flatten()
    };
    keys.into_iter()
        .map(|(task, metric)| MetricDelta {
            a: get(a, &task, &metric),
            b: get(b, &task, &metric),
            task,
            metric,
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangedPrediction {
    pub task: String,
    pub id: usize,
    pub label: serde_json::Value,
    pub a: serde_json::Value,
    pub b: serde_json::Value,
}

/// Two predictions files compared row by row: the rows of both whose prediction differs, and
/// the rows that only one file has (a truncated file, another `--limit`, another data file).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct PredictionDiff {
    /// Rows present in both files.
    pub compared: usize,
    pub changed: Vec<ChangedPrediction>,
    /// Per task, the ids only A has.
    pub only_a: BTreeMap<String, Vec<usize>>,
    /// Per task, the ids only B has.
    pub only_b: BTreeMap<String, Vec<usize>>,
}

impl PredictionDiff {
    /// Whether every row of each file has a counterpart in the other.
    pub fn rows_correspond(&self) -> bool {
        self.only_a.is_empty() && self.only_b.is_empty()
    }
}

/// Compares two predictions files (scores differ when by more than 1e-9).
pub fn changed_predictions(a: &[PredictionLine], b: &[PredictionLine]) -> PredictionDiff {
    let index_a: BTreeMap<(&str, usize), &PredictionLine> =
        a.iter().map(|l| ((l.task.as_str(), l.id), l)).collect();
    let index_b: BTreeMap<(&str, usize), &PredictionLine> =
        b.iter().map(|l| ((l.task.as_str(), l.id), l)).collect();
    let mut diff = PredictionDiff::default();
    for (&(task, id), line) in &index_a {
        let Some(other) = index_b.get(&(task, id)) else {
            diff.only_a.entry(task.to_string()).or_default().push(id);
            continue;
        };
        diff.compared += 1;
        let differs = match (line.prediction.as_f64(), other.prediction.as_f64()) {
            (Some(x), Some(y)) => (x - y).abs() > 1e-9,
            _ => line.prediction != other.prediction,
        };
        if differs {
            diff.changed.push(ChangedPrediction {
                task: line.task.clone(),
                id: line.id,
                label: line.label.clone(),
                a: line.prediction.clone(),
                b: other.prediction.clone(),
            });
        }
    }
    for &(task, id) in index_b.keys() {
        if !index_a.contains_key(&(task, id)) {
            diff.only_b.entry(task.to_string()).or_default().push(id);
        }
    }
    diff
}

fn unmatched(out: &mut String, only: &BTreeMap<String, Vec<usize>>, has: &str, lacks: &str) {
    if only.is_empty() {
        return;
    }
    let total: usize = only.values().map(Vec::len).sum();
    let per_task: Vec<String> = only
        .iter()
        .map(|(task, ids)| {
            let first: Vec<String> = ids.iter().take(5).map(usize::to_string).collect();
            format!(
                "{task}: {} (ids {}{})",
                ids.len(),
                first.join(", "),
                if ids.len() > 5 { ", …" } else { "" }
            )
        })
        .collect();
    let _ = writeln!(
        out,
        "\n**{total} rows of {has} have no counterpart in {lacks}** and were not compared: {}.",
        per_task.join("; ")
    );
}

/// Markdown: the metric table (fractions and correlations ×100, perplexities and bits as they
/// are, as `report` prints them), then per task the count and first `limit` changes.
pub fn render(
    deltas: &[MetricDelta],
    predictions: Option<&PredictionDiff>,
    a_name: &str,
    b_name: &str,
    limit: usize,
) -> String {
    let mut out =
        format!("| Task | Metric | {a_name} | {b_name} | Δ |\n|---|---|---:|---:|---:|\n");
    for d in deltas {
        let fmt = |v: Option<f64>| v.map_or_else(|| "–".into(), |v| on_scale(&d.metric, v));
        let delta = match (d.a, d.b) {
            (Some(a), Some(b)) => {
                let text = on_scale(&d.metric, b - a);
                if text.starts_with('-') {
                    text
                } else {
                    format!("+{text}")
                }
            }
            _ => "–".into(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {delta} |",
            d.task,
            d.metric,
            fmt(d.a),
            fmt(d.b)
        );
    }
    if let Some(diff) = predictions {
        let changed = &diff.changed;
        let _ = writeln!(
            out,
            "\n{} examples are in both predictions files; {} changed prediction.",
            diff.compared,
            changed.len()
        );
        unmatched(&mut out, &diff.only_a, a_name, b_name);
        unmatched(&mut out, &diff.only_b, b_name, a_name);
        let mut by_task: BTreeMap<&str, Vec<&ChangedPrediction>> = BTreeMap::new();
        for c in changed {
            by_task.entry(c.task.as_str()).or_default().push(c);
        }
        for (task, items) in by_task {
            let _ = writeln!(out, "\n### {task}: {} changed\n\n| id | label | {a_name} | {b_name} |\n|---:|---|---|---|", items.len());
            for c in items.iter().take(limit) {
                let _ = writeln!(out, "| {} | {} | {} | {} |", c.id, c.label, c.a, c.b);
            }
            if items.len() > limit {
                let _ = writeln!(out, "\n… and {} more", items.len() - limit);
            }
        }
    }
    out
}

#[cfg(test)]
mod scale_tests {
    use super::*;

    /// Perplexities and bits print as they are, fractions ×100 (was: everything ×100, so a word
    /// perplexity of 5422.77 printed as 542276.79).
    #[test]
    fn deltas_are_on_each_metric_s_own_scale() {
        let delta = |metric: &str, a: f64, b: f64| MetricDelta {
            task: "t".into(),
            metric: metric.into(),
            a: Some(a),
            b: Some(b),
        };
        let table = render(
            &[
                delta("word_perplexity", 5422.767889, 5400.5),
                delta("bits_per_byte", 2.383, 2.3831),
                delta("accuracy", 0.5, 0.525),
            ],
            None,
            "a",
            "b",
            5,
        );
        assert!(
            table.contains("| t | word_perplexity | 5422.77 | 5400.50 | -22.27 |"),
            "{table}"
        );
        assert!(
            table.contains("| t | bits_per_byte | 2.383 | 2.383 | +0.000 |"),
            "{table}"
        );
        assert!(
            table.contains("| t | accuracy | 50.00 | 52.50 | +2.50 |"),
            "{table}"
        );
        assert!(!table.contains("542276"), "{table}");
    }
}
