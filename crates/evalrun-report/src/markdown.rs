//! The markdown table printed on stdout (scores ×100, as the papers print them).

use std::fmt::Write as _;

use crate::record::RunRecord;

fn percent(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_string(), |v| format!("{:.2}", v * 100.0))
}

/// One row per task (its metrics joined with `/`), then skipped tasks, then the averages.
pub fn render(record: &RunRecord, order: &[String]) -> String {
    let mut out = String::new();
    out.push_str(
        "| Task | Split | n | Metric | Score (×100) | Scoring |\n|---|---|---:|---|---:|---|\n",
    );
    for task in order {
        if let Some(r) = record.results.get(task) {
            let (metric, score) = if r.metrics.is_empty() {
                ("–".to_string(), "unlabelled split".to_string())
            } else {
                // The table metric first, then the others.
                let mut ordered: Vec<&str> = vec![r.table_metric.as_str()];
                ordered.extend(
                    r.metrics
                        .keys()
                        .map(String::as_str)
                        .filter(|n| *n != r.table_metric),
                );
                let values: Vec<String> = ordered
                    .iter()
                    .map(|m| {
                        let value = percent(r.metrics.get(*m).copied().flatten());
                        match r.ci.get(*m) {
                            Some(ci) => {
                                format!("{value} ± {:.2}", (ci.high - ci.low) / 2.0 * 100.0)
                            }
                            None => value,
                        }
                    })
                    .collect();
                (ordered.join(" / "), values.join(" / "))
            };
            let _ = writeln!(
                out,
                "| {task} | {} | {} | {metric} | {score} | {} |",
                r.split, r.n, r.model.scoring
            );
        } else if let Some(reason) = record.skipped.get(task) {
            let _ = writeln!(
                out,
                "| {task} | – | – | – | skipped | {} |",
                reason.replace('|', "\\|")
            );
        }
    }
    if record.results.values().any(|r| !r.ci.is_empty()) {
        out.push_str("| | | | | ± = half the 95% bootstrap interval | |\n");
    }
    for (key, label) in [
        ("bert_table", "BERT-table average"),
        ("glue_group", "GLUE group average (T5)"),
        ("superglue", "SuperGLUE average (T5)"),
    ] {
        if let Some(a) = record.averages.get(key) {
            let coverage = if a.missing.is_empty() {
                "all tasks".to_string()
            } else {
                format!("partial: without {}", a.missing.join(", "))
            };
            let _ = writeln!(
                out,
                "| **{label}** | | | {coverage} | **{:.2}** | |",
                a.value * 100.0
            );
        }
    }
    out
}
