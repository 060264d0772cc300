//! Renders comparison rows as markdown, CSV, JSON or a standalone HTML page with an SVG chart.

use std::fmt::Write as _;

use crate::compare::{Cell, Row};
use crate::reference::ReferenceTable;

fn number(v: f64, scale: f64) -> String {
    format!("{:.2}", v * scale)
}

fn measured(cell: &Cell, scale: f64) -> String {
    match (cell.measured, cell.ci) {
        (Some(m), Some(ci)) => format!(
            "{} ± {}",
            number(m, scale),
            number((ci.high - ci.low) / 2.0, scale)
        ),
        (Some(m), None) => number(m, scale),
        (None, _) => "–".into(),
    }
}

fn delta(cell: &Cell, scale: f64) -> String {
    cell.delta
        .map_or_else(|| "–".into(), |d| format!("{:+.2}", d * scale))
}

fn escape_md(s: &str) -> String {
    s.replace('|', "\\|")
}

/// Markdown that pastes cleanly into an issue or README: the table, then the sources.
pub fn markdown(rows: &[Row], runs: &[String], tables: &[ReferenceTable]) -> String {
    let mut out = String::from("| Task | Metric | Published |");
    for run in runs {
        let _ = write!(out, " {} | Δ |", escape_md(run));
    }
    out.push_str(" Notes |\n|---|---|---:|");
    out.push_str(&"---:|---:|".repeat(runs.len()));
    out.push_str("---|\n");
    for row in rows {
        let published = row
            .published
            .map_or_else(|| "–".into(), |p| number(p, row.scale));
        let published = match (&row.reference, &row.published_split) {
            (Some(r), Some(s)) => format!("{published} ({r}, {s})"),
            _ => published,
        };
        let _ = write!(out, "| {} | {} | {} |", row.task, row.metric, published);
        let mut notes = Vec::new();
        for cell in &row.cells {
            let _ = write!(
                out,
                " {} | {} |",
                measured(cell, row.scale),
                delta(cell, row.scale)
            );
            for marker in &cell.markers {
                let note = if runs.len() > 1 {
                    format!("{}: {marker}", cell.run)
                } else {
                    marker.clone()
                };
                if !notes.contains(&note) {
                    notes.push(note);
                }
            }
        }
        let _ = writeln!(out, " {} |", escape_md(&notes.join("; ")));
    }
    if rows.iter().any(|r| r.cells.iter().any(|c| c.ci.is_some())) {
        out.push_str("\n± is half the 95% bootstrap interval. Δ = measured − published.\n");
    }
    if !tables.is_empty() {
        out.push_str("\nSources:\n");
        for table in tables {
            let _ = writeln!(
                out,
                "- `{}`: {} — {}. Protocol: {}.",
                table.id, table.title, table.source, table.protocol
            );
        }
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(String::new, |v| format!("{v}"))
}

/// One line per (row, run), raw values (not ×100).
pub fn csv(rows: &[Row]) -> String {
    let mut out = String::from("task,metric,reference,published,published_split,run,measured,ci_low,ci_high,delta,run_split,markers\n");
    for row in rows {
        for cell in &row.cells {
            let fields = [
                csv_field(&row.task),
                csv_field(&row.metric),
                csv_field(row.reference.as_deref().unwrap_or("")),
                // Published values are decimal numbers divided by their scale: round away the
                // binary noise of that division.
                opt(row.published.map(|p| (p * 1e12).round() / 1e12)),
                csv_field(row.published_split.as_deref().unwrap_or("")),
                csv_field(&cell.run),
                opt(cell.measured),
                opt(cell.ci.map(|c| c.low)),
                opt(cell.ci.map(|c| c.high)),
                opt(cell.delta),
                csv_field(cell.split.as_deref().unwrap_or("")),
                csv_field(&cell.markers.join("; ")),
            ];
            out.push_str(&fields.join(","));
            out.push('\n');
        }
    }
    out
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const COLOURS: [&str; 6] = [
    "#4269d0", "#efb118", "#ff725c", "#6cc5b0", "#3ca951", "#a463f2",
];

/// A horizontal chart: one group per row, a bar per run (with its interval as a whisker) and a
/// black tick at the published value. Rows are drawn on their display scale.
pub fn svg(rows: &[Row], runs: &[String]) -> String {
    let rows: Vec<&Row> = rows
        .iter()
        .filter(|r| r.cells.iter().any(|c| c.measured.is_some()) || r.published.is_some())
        .collect();
    let (label_width, plot_width, bar, gap) = (230.0, 520.0, 14.0, 10.0);
    let group = bar * runs.len().max(1) as f64 + gap;
    let height = 40.0 + group * rows.len() as f64 + 30.0 + 18.0 * runs.len() as f64;
    let width = label_width + plot_width + 80.0;
    let max = rows
        .iter()
        .flat_map(|r| {
            let published = r.published.map(|p| p * r.scale);
            r.cells
                .iter()
                .filter_map(move |c| c.ci.map(|ci| ci.high).or(c.measured).map(|v| v * r.scale))
                .chain(published)
        })
        .fold(0.0f64, f64::max)
        .max(1e-9);
    let x = |v: f64| label_width + (v.max(0.0) / max) * plot_width;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"10\" y=\"20\" font-size=\"14\" font-weight=\"bold\">Measured (bars, 95% interval) vs published (black tick)</text>\n"
    );
    for (i, row) in rows.iter().enumerate() {
        let top = 40.0 + group * i as f64;
        let _ = writeln!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{} {}</text>",
            label_width - 8.0,
            top + bar * runs.len() as f64 / 2.0 + 4.0,
            escape_html(&row.task),
            escape_html(&row.metric)
        );
        for (j, cell) in row.cells.iter().enumerate() {
            let y = top + bar * j as f64;
            if let Some(m) = cell.measured {
                let v = m * row.scale;
                let _ = writeln!(
                    out,
                    "<rect x=\"{label_width}\" y=\"{y}\" width=\"{:.1}\" height=\"{}\" fill=\"{}\"><title>{}: {:.2}</title></rect>",
                    x(v) - label_width,
                    bar - 2.0,
                    COLOURS[j % COLOURS.len()],
                    escape_html(&cell.run),
                    v
                );
                // The value label goes after the bar and its whisker, so neither hides it.
                let right = cell.ci.map_or(v, |ci| v.max(ci.high * row.scale));
                let _ = writeln!(
                    out,
                    "<text x=\"{:.1}\" y=\"{}\" font-size=\"10\">{:.2}</text>",
                    x(right) + 4.0,
                    y + bar - 4.0,
                    v
                );
                if let Some(ci) = cell.ci {
                    let cy = y + (bar - 2.0) / 2.0;
                    let _ = writeln!(
                        out,
                        "<line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{cy}\" y2=\"{cy}\" stroke=\"#333\" stroke-width=\"1.5\"/>",
                        x(ci.low * row.scale),
                        x(ci.high * row.scale)
                    );
                }
            }
        }
        if let Some(p) = row.published {
            let px = x(p * row.scale);
            let _ = writeln!(
                out,
                "<line x1=\"{px:.1}\" x2=\"{px:.1}\" y1=\"{}\" y2=\"{}\" stroke=\"black\" stroke-width=\"3\"><title>published {:.2}</title></line>",
                top - 2.0,
                top + bar * runs.len() as f64,
                p * row.scale
            );
        }
    }
    let legend_top = 40.0 + group * rows.len() as f64 + 20.0;
    for (j, run) in runs.iter().enumerate() {
        let y = legend_top + 18.0 * j as f64;
        let _ = writeln!(
            out,
            "<rect x=\"{label_width}\" y=\"{y}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{}\" y=\"{}\">{}</text>",
            COLOURS[j % COLOURS.len()],
            label_width + 18.0,
            y + 10.0,
            escape_html(run)
        );
    }
    out.push_str("</svg>\n");
    out
}

/// A standalone page: the chart, then the table.
pub fn html(rows: &[Row], runs: &[String], tables: &[ReferenceTable]) -> String {
    let mut out = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>evalrun report</title>\n<style>\
         body{font-family:sans-serif;margin:2em;color:#222} table{border-collapse:collapse;margin-top:1em} \
         th,td{border:1px solid #ccc;padding:4px 8px;font-size:13px} td.n{text-align:right;font-variant-numeric:tabular-nums} \
         .note{color:#a33;font-size:12px}</style></head><body>\n<h1>evalrun report</h1>\n",
    );
    out.push_str(&svg(rows, runs));
    out.push_str("<table>\n<tr><th>Task</th><th>Metric</th><th>Published</th>");
    for run in runs {
        let _ = write!(out, "<th>{}</th><th>Δ</th>", escape_html(run));
    }
    out.push_str("<th>Notes</th></tr>\n");
    for row in rows {
        let published = row
            .published
            .map_or_else(|| "–".into(), |p| number(p, row.scale));
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}{}</td>",
            escape_html(&row.task),
            escape_html(&row.metric),
            published,
            row.published_split
                .as_ref()
                .map_or(String::new(), |s| format!(
                    " <small>({})</small>",
                    escape_html(s)
                ))
        );
        let mut notes = Vec::new();
        for cell in &row.cells {
            let _ = write!(
                out,
                "<td class=\"n\">{}</td><td class=\"n\">{}</td>",
                measured(cell, row.scale),
                delta(cell, row.scale)
            );
            notes.extend(cell.markers.iter().cloned());
        }
        notes.dedup();
        let _ = writeln!(
            out,
            "<td class=\"note\">{}</td></tr>",
            escape_html(&notes.join("; "))
        );
    }
    out.push_str("</table>\n");
    if !tables.is_empty() {
        out.push_str("<h2>Sources</h2><ul>\n");
        for t in tables {
            let _ = writeln!(
                out,
                "<li><b>{}</b>: {} — {}. Protocol: {}.</li>",
                escape_html(&t.id),
                escape_html(&t.title),
                escape_html(&t.source),
                escape_html(&t.protocol)
            );
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</body></html>\n");
    out
}
