//! The markdown table printed on stdout (scores ×100, as the papers print them).

use std::fmt::Write as _;

use crate::record::RunRecord;

fn percent(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_string(), |v| format!("{:.2}", v * 100.0))
}

/// One row per task (its metrics joined with `/`), then skipped tasks, then the averages.
pub fn render(record: &RunRecord, order: &[String]) -> String {
    let mut out = String::new();
    out.push_str("| Task | Split | n | Metric | Score (×100) | Scoring |\n|---|---|---:|---|---:|---|\n");
    for task in order {
        if let Some(r) = record.results.get(task) {
            let names: Vec<&str> = r.metrics.keys().map(String::as_str).collect();
            let mut ordered: Vec<&str> = vec![r.table_metric.as_str()];
            ordered.extend(names.into_iter().filter(|n| *n != r.table_metric));
            let values: Vec<String> = ordered.iter().map(|m| percent(r.metrics[*m])).collect();
            let _ = writeln!(
                out,
                "| {task} | {} | {} | {} | {} | {} |",
                r.split,
                r.n,
                ordered.join(" / "),
                values.join(" / "),
                r.model.scoring
            );
        } else if let Some(reason) = record.skipped.get(task) {
            let _ = writeln!(out, "| {task} | – | – | – | skipped | {} |", reason.replace('|', "\\|"));
        }
    }
    for (key, label) in [("bert_table", "BERT-table average"), ("glue_group", "GLUE group average (T5)")] {
        if let Some(a) = record.averages.get(key) {
            let coverage = if a.missing.is_empty() {
                "all tasks".to_string()
            } else {
                format!("partial: without {}", a.missing.join(", "))
            };
            let _ = writeln!(out, "| **{label}** | | | {coverage} | **{:.2}** | |", a.value * 100.0);
        }
    }
    out
}
