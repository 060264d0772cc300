//! The one markdown table printed on stdout, for every kind of task: a caption naming the
//! model, one row per task (its metrics joined with `/`), skipped tasks, the averages, and the
//! legend below. One convention: fractions and correlations ×100, perplexities and bits as
//! they are (as the papers print them).

use std::fmt::Write as _;

use evalrun_core::{Metric, Scale};

use crate::record::RunRecord;

/// `v` on the metric's scale: fractions ×100, perplexities with two decimals, bits with three.
/// The one rule every table follows (`report`, `diff`).
pub fn on_scale(metric: &str, v: f64) -> String {
    match Metric::from_name(metric) {
        Some(m) if m.scale() == Scale::AsIs => {
            if metric.starts_with("bits") {
                format!("{v:.3}")
            } else {
                format!("{v:.2}")
            }
        }
        _ => format!("{:.2}", v * 100.0),
    }
}

/// A metric's value as tables print it.
pub fn format_value(metric: &str, value: Option<f64>) -> String {
    value.map_or_else(|| "n/a".to_string(), |v| on_scale(metric, v))
}

/// Half a bootstrap interval, on the metric's scale.
fn format_half_width(metric: &str, low: f64, high: f64) -> String {
    on_scale(metric, (high - low) / 2.0)
}

/// The caption line: the model as typed, its kind and the command; a `--limit` warning.
fn caption(record: &RunRecord) -> Option<String> {
    let config = record.config.as_ref()?;
    let mut line = format!(
        "Model: `{}`{} — `evalrun {}`",
        config.model,
        if config.model_kind.is_empty() {
            String::new()
        } else {
            format!(" ({})", config.model_kind)
        },
        record.command
    );
    if let Some(limit) = config.limit {
        let _ = write!(
            line,
            "; `--limit {limit}`: the first {limit} examples of each task, not comparable to published scores"
        );
    }
    Some(line)
}

/// One row per task, then skipped tasks, then the averages; the legend follows the table.
pub fn render(record: &RunRecord, order: &[String]) -> String {
    let mut out = String::new();
    if let Some(line) = caption(record) {
        out.push_str(&line);
        out.push_str("\n\n");
    }
    out.push_str("| Task | Split | n | Metric | Score | Scoring |\n|---|---|---:|---|---:|---|\n");
    let mut as_is = false;
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
                as_is |= ordered
                    .iter()
                    .any(|m| Metric::from_name(m).is_some_and(|m| m.scale() == Scale::AsIs));
                let values: Vec<String> = ordered
                    .iter()
                    .map(|m| {
                        let value = format_value(m, r.metrics.get(*m).copied().flatten());
                        match r.ci.get(*m) {
                            Some(ci) => {
                                format!("{value} ± {}", format_half_width(m, ci.low, ci.high))
                            }
                            None => value,
                        }
                    })
                    .collect();
                (ordered.join(" / "), values.join(" / "))
            };
            let scoring = match &r.windows {
                Some(w) => format!("{}; {w}", r.model.scoring),
                None => r.model.scoring.clone(),
            };
            let _ = writeln!(
                out,
                "| {task} | {} | {} | {metric} | {score} | {} |",
                r.split,
                r.n,
                scoring.replace('|', "\\|")
            );
        } else if let Some(reason) = record.skipped.get(task) {
            let _ = writeln!(
                out,
                "| {task} | – | – | – | skipped | {} |",
                reason.replace('|', "\\|")
            );
        }
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
    out.push('\n');
    out.push_str(if as_is {
        "Scores: fractions and correlations ×100; perplexities and bits as they are (lower is better)."
    } else {
        "Scores: fractions and correlations ×100."
    });
    if record.results.values().any(|r| !r.ci.is_empty()) {
        out.push_str(" ± = half the 95% bootstrap interval.");
    }
    out.push('\n');
    out
}
