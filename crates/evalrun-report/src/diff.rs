//! `evalrun diff`: metric deltas between two runs and the examples whose prediction changed.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

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

/// Examples present in both files whose prediction differs (scores: by more than 1e-9).
pub fn changed_predictions(a: &[PredictionLine], b: &[PredictionLine]) -> Vec<ChangedPrediction> {
    let index: BTreeMap<(&str, usize), &PredictionLine> =
        b.iter().map(|l| ((l.task.as_str(), l.id), l)).collect();
    let mut changed = Vec::new();
    for line in a {
        let Some(other) = index.get(&(line.task.as_str(), line.id)) else {
            continue;
        };
        let differs = match (line.prediction.as_f64(), other.prediction.as_f64()) {
            (Some(x), Some(y)) => (x - y).abs() > 1e-9,
            _ => line.prediction != other.prediction,
        };
        if differs {
            changed.push(ChangedPrediction {
                task: line.task.clone(),
                id: line.id,
                label: line.label.clone(),
                a: line.prediction.clone(),
                b: other.prediction.clone(),
            });
        }
    }
    changed
}

/// Markdown: the metric table (×100 deltas), then per task the count and first `limit` changes.
pub fn render(
    deltas: &[MetricDelta],
    changed: Option<&[ChangedPrediction]>,
    a_name: &str,
    b_name: &str,
    limit: usize,
) -> String {
    let fmt = |v: Option<f64>| v.map_or_else(|| "–".into(), |v| format!("{:.2}", v * 100.0));
    let mut out =
        format!("| Task | Metric | {a_name} | {b_name} | Δ (×100) |\n|---|---|---:|---:|---:|\n");
    for d in deltas {
        let delta = match (d.a, d.b) {
            (Some(a), Some(b)) => format!("{:+.2}", (b - a) * 100.0),
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
    if let Some(changed) = changed {
        let mut by_task: BTreeMap<&str, Vec<&ChangedPrediction>> = BTreeMap::new();
        for c in changed {
            by_task.entry(c.task.as_str()).or_default().push(c);
        }
        let _ = writeln!(out, "\n{} examples changed prediction.", changed.len());
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
