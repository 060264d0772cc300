//! Renders comparison rows for people: markdown (issues, READMEs), LaTeX (booktabs, papers), a
//! standalone HTML page with SVG charts, plus CSV and the chart alone. Every human format has
//! the same shape: a header ([`Meta`]: title, models, date, evalrun version), one group per
//! reference table with its title and source, measured-only rows last, the legend below the
//! tables, then the sources.
//!
//! What is printed comes from records and reference tables only, and no machine-local path
//! leaves here: model names keep their last two path components and absolute or `../` paths in
//! free text are shortened ([`strip_local_paths`]).

use std::fmt::Write as _;

use crate::chart::{self, escape_xml, measured_text, number};
use crate::compare::{LabelledRun, Row};
use crate::reference::ReferenceTable;

/// The header of a report.
#[derive(Debug, Clone, PartialEq)]
pub struct Meta {
    /// e.g. `evalrun report` or `Reproduction: t5-base`.
    pub title: String,
    /// Model names as the user named them, never an absolute or machine-local path (a path is
    /// reduced to its last two components).
    pub models: Vec<String>,
    /// UTC date (`2026-12-03`) the newest record finished, from the records (not the clock).
    pub date: String,
    /// `0.1.0 (commit abc1234)`; several, comma-separated, when the records differ.
    pub evalrun_version: String,
    /// Free lines shown under the header.
    pub notes: Vec<String>,
}

impl Meta {
    /// The header for `runs`: models from each record's configuration (or, in records written
    /// before it existed, from the model files), the date the newest record finished, the
    /// evalrun builds, and a note per run evaluated with `--limit`.
    pub fn from_runs(title: &str, runs: &[LabelledRun]) -> Meta {
        let mut models: Vec<String> = Vec::new();
        let mut builds: Vec<String> = Vec::new();
        let mut notes = Vec::new();
        let mut finished: Option<&str> = None;
        for run in runs {
            let record = &run.record;
            let names = match &record.config {
                Some(config) => vec![public_model_name(&config.model)],
                None => record
                    .results
                    .iter()
                    .map(|(task, result)| match &result.model.source {
                        Some(source) => {
                            public_model_name(source.split_whitespace().next().unwrap_or(source))
                        }
                        None => model_directory(task, &result.model.path),
                    })
                    .collect(),
            };
            for name in names {
                if !models.contains(&name) {
                    models.push(name);
                }
            }
            let build = build_name(&record.evalrun.version, &record.evalrun.git_commit);
            if !builds.contains(&build) {
                builds.push(build);
            }
            if let Some(config) = &record.config {
                if finished.is_none_or(|f| config.finished.as_str() > f) {
                    finished = Some(&config.finished);
                }
                if let Some(limit) = config.limit {
                    notes.push(format!(
                        "{}: `--limit {limit}` — only the first {limit} examples of each task were evaluated; not comparable to published numbers.",
                        run.label
                    ));
                }
            }
        }
        // A `{task}` pattern covers the other models under its directory (GLUE's `ax` runs
        // on the MNLI model), as `--model` did.
        let patterns: Vec<String> = models
            .iter()
            .filter_map(|m| m.strip_suffix("{task}"))
            .filter(|p| !p.is_empty())
            .map(String::from)
            .collect();
        models.retain(|m| {
            m.ends_with("{task}")
                || !patterns.iter().any(|p| {
                    m.strip_prefix(p.as_str())
                        .is_some_and(|rest| !rest.contains('/'))
                })
        });
        let date = finished
            .filter(|f| f.len() >= 10 && f.is_char_boundary(10))
            .map_or_else(|| "not recorded".to_string(), |f| f[..10].to_string());
        Meta {
            title: title.to_string(),
            models,
            date,
            evalrun_version: builds.join(", "),
            notes,
        }
    }
}

/// `0.1.0 (commit abc1234)`, or the version alone when the commit is unknown.
fn build_name(version: &str, commit: &str) -> String {
    let commit = commit.trim();
    if commit.is_empty() || commit == "unknown" {
        version.to_string()
    } else {
        let short: String = commit.chars().take(7).collect();
        format!("{version} (commit {short})")
    }
}

/// The last two components of a path (`/home/a/models/t5-base` → `models/t5-base`); Hub ids
/// (`org/name`) and bare names are unchanged.
pub fn public_model_name(name: &str) -> String {
    let parts: Vec<&str> = name
        .split(['/', '\\'])
        .filter(|p| !p.is_empty() && *p != "." && *p != "..")
        .collect();
    match parts.len() {
        0 => name.to_string(),
        n => parts[n.saturating_sub(2)..].join("/"),
    }
}

/// The model of a record without a configuration: the directory of its model file, with the
/// task's own directory written `{task}` as `--model` would have been.
fn model_directory(task: &str, path: &str) -> String {
    let mut parts: Vec<&str> = path.split(['/', '\\']).filter(|p| !p.is_empty()).collect();
    if parts.last().is_some_and(|p| p.contains('.')) {
        parts.pop();
    }
    let dir = parts
        .iter()
        .map(|p| if *p == task { "{task}" } else { p })
        .collect::<Vec<_>>()
        .join("/");
    public_model_name(&dir)
}

fn is_local_path(token: &str) -> bool {
    let bytes = token.as_bytes();
    (token.starts_with('/') && token.len() > 1 && token[1..].contains('/'))
        || token.starts_with("~/")
        || token.starts_with("./")
        || token.starts_with("../")
        || token.starts_with("file:")
        || (bytes.len() > 2
            && bytes[0].is_ascii_alphabetic()
            && bytes[1] == b':'
            && (bytes[2] == b'\\' || bytes[2] == b'/'))
}

/// `text` with every absolute, home or `./`/`../` path shortened to its last two components
/// (`data not present: `../shared/data/glue/QQP/dev.tsv`` → `… `QQP/dev.tsv``). Repository
/// paths such as `examples/pytorch/README.md` are left alone.
pub fn strip_local_paths(text: &str) -> String {
    let is_delimiter = |c: char| c.is_whitespace() || "`\"'()[]<>,;".contains(c);
    let mut out = String::with_capacity(text.len());
    let mut token = String::new();
    let flush = |token: &mut String, out: &mut String| {
        let trimmed = token.trim_end_matches(['.', ':']);
        if is_local_path(trimmed) {
            let rest = &token[trimmed.len()..];
            let short = public_model_name(trimmed.trim_start_matches("file:"));
            out.push_str(&short);
            out.push_str(rest);
        } else {
            out.push_str(token);
        }
        token.clear();
    };
    for c in text.chars() {
        if is_delimiter(c) {
            flush(&mut token, &mut out);
            out.push(c);
        } else {
            token.push(c);
        }
    }
    flush(&mut token, &mut out);
    out
}

/// The rows of one reference table (or, with `table: None`, the measured-only rows).
#[derive(Debug, Clone)]
pub struct Group<'a> {
    pub table: Option<&'a ReferenceTable>,
    /// 1-based number of the table in the sources list.
    pub source: Option<usize>,
    pub rows: Vec<&'a Row>,
}

impl Group<'_> {
    pub fn title(&self) -> &str {
        self.table
            .map_or("Measured, no published value", |t| t.title.as_str())
    }
}

/// Rows grouped by reference table, in the tables' order; rows whose table is not among
/// `tables` (by id) get a group of their own titled by the id; measured-only rows come last.
pub fn groups<'a>(rows: &'a [Row], tables: &'a [ReferenceTable]) -> Vec<Group<'a>> {
    let mut keys: Vec<Option<&str>> = Vec::new();
    for row in rows {
        let key = row.reference.as_deref();
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys.sort_by_key(|k| k.is_none());
    let mut source = 0;
    keys.into_iter()
        .map(|key| {
            let table = key.and_then(|id| tables.iter().find(|t| t.id == id));
            if key.is_some() {
                source += 1;
            }
            Group {
                table,
                source: key.map(|_| source),
                rows: rows
                    .iter()
                    .filter(|r| r.reference.as_deref() == key)
                    .collect(),
            }
        })
        .collect()
}

fn split_name(split: &str) -> &str {
    match split {
        "test" => "test server",
        s => s,
    }
}

fn same_split(a: &str, b: &str) -> bool {
    fn norm(s: &str) -> &str {
        if s == "validation" {
            "dev"
        } else {
            s
        }
    }
    norm(a) == norm(b)
}

/// `the test server`, `the dev split`.
fn split_phrase(split: &str) -> String {
    match split {
        "test" => "the test server".into(),
        s => format!("the {s} split"),
    }
}

/// The legend printed below the tables, one line each.
pub const LEGEND: [&str; 8] = [
    "Published: the number as printed in its source [n]; fractions and correlations ×100, perplexities and bits as they are.",
    "± = half the 95% bootstrap interval of the measurement (examples resampled).",
    "Δ = measured − published, on the same scale.",
    "≠split: measured on another split than the published number (e.g. dev vs the GLUE test server).",
    "≠protocol: a stand-in measured under another protocol (e.g. last word vs last token, word vs token perplexity).",
    "≠scoring: scored differently from the publication (e.g. embedding cosine vs a regression head).",
    "partial: an average missing some of its tasks (named).",
    "–: not measured; the notes say why when the run recorded a reason.",
];

/// A row's notes: markers and reasons, each once; a note only some runs have names them.
fn row_notes(row: &Row) -> Vec<String> {
    let mut notes: Vec<(String, Vec<&str>)> = Vec::new();
    for cell in &row.cells {
        let reason = cell
            .reason
            .iter()
            .filter(|_| cell.measured.is_none())
            .map(|r| format!("not measured: {r}"));
        for note in cell.markers.iter().cloned().chain(reason) {
            let note = strip_local_paths(&note);
            match notes.iter_mut().find(|(n, _)| *n == note) {
                Some((_, runs)) => runs.push(&cell.run),
                None => notes.push((note, vec![&cell.run])),
            }
        }
    }
    // Notes every run shares first, bare; then those of some runs, once per set of runs.
    let mut out: Vec<String> = Vec::new();
    let mut sets: Vec<(Vec<&str>, Vec<String>)> = Vec::new();
    for (note, runs) in notes {
        if runs.len() == row.cells.len() {
            out.push(note);
        } else {
            match sets.iter_mut().find(|(r, _)| *r == runs) {
                Some((_, notes)) => notes.push(note),
                None => sets.push((runs, vec![note])),
            }
        }
    }
    for (runs, notes) in sets {
        out.push(format!("{}: {}", runs.join(", "), notes.join("; ")));
    }
    out
}

/// A signed difference with `decimals` decimals; one that rounds to zero is `0.00`, never
/// `-0.00`.
fn signed(d: f64, decimals: usize) -> String {
    if d.abs() < 0.5 * 10f64.powi(-(decimals as i32)) {
        format!("{:.*}", decimals, 0.0)
    } else {
        format!("{d:+.*}", decimals)
    }
}

fn delta(cell: &crate::compare::Cell, row: &Row) -> String {
    cell.delta.map_or_else(
        || "–".into(),
        |d| signed(d * row.scale, chart::row_decimals(row)),
    )
}

/// The published value, with its split when the entry's split differs from its table's.
fn published_text(row: &Row, table: Option<&ReferenceTable>) -> Option<(String, Option<String>)> {
    let p = row.published?;
    let split = row
        .published_split
        .as_deref()
        .filter(|s| table.is_none_or(|t| !same_split(&t.split, s)))
        .map(|s| split_name(s).to_string());
    Some((number(row, p), split))
}

fn escape_md(s: &str) -> String {
    s.replace('|', "\\|")
}

fn md_header(meta: &Meta) -> String {
    let mut out = format!("## {}\n\n", strip_local_paths(&meta.title));
    let models: Vec<String> = meta
        .models
        .iter()
        .map(|m| format!("`{}`", public_model_name(m)))
        .collect();
    let _ = writeln!(
        out,
        "Model{}: {} · Date: {} · evalrun {}",
        if meta.models.len() == 1 { "" } else { "s" },
        if models.is_empty() {
            "–".to_string()
        } else {
            models.join(", ")
        },
        meta.date,
        meta.evalrun_version
    );
    if !meta.notes.is_empty() {
        out.push('\n');
        for note in &meta.notes {
            let _ = writeln!(out, "- {}", strip_local_paths(note));
        }
    }
    out
}

fn source_line(table: &ReferenceTable) -> String {
    strip_local_paths(&format!(
        "{}; published on {}. Protocol: {}.",
        table.source.trim_end_matches('.'),
        split_phrase(&table.split),
        table.protocol.trim_end_matches('.')
    ))
}

/// Markdown that pastes cleanly into an issue or README: the header, a table per reference
/// table (Task | Metric | Published | run | Δ | … | Notes), the legend, then the sources.
pub fn markdown(rows: &[Row], runs: &[String], tables: &[ReferenceTable], meta: &Meta) -> String {
    let mut out = md_header(meta);
    let groups = groups(rows, tables);
    for group in &groups {
        let has_published = group.source.is_some();
        out.push('\n');
        match (group.table, group.source) {
            (Some(table), Some(n)) => {
                let _ = writeln!(out, "### {} [{n}]\n", strip_local_paths(&table.title));
                let _ = writeln!(out, "Source [{n}]: {}\n", source_line(table));
            }
            (None, Some(n)) => {
                let id = group.rows[0].reference.as_deref().unwrap_or_default();
                let _ = writeln!(out, "### Reference table `{id}` [{n}]\n");
            }
            _ => {
                let _ = writeln!(out, "### {}\n", group.title());
            }
        }
        out.push_str("| Task | Metric |");
        if has_published {
            out.push_str(" Published |");
        }
        for run in runs {
            out.push_str(&format!(" {} |", escape_md(run)));
            if has_published {
                out.push_str(" Δ |");
            }
        }
        out.push_str(" Notes |\n|---|---|");
        if has_published {
            out.push_str("---:|");
        }
        out.push_str(&if has_published { "---:|---:|" } else { "---:|" }.repeat(runs.len()));
        out.push_str("---|\n");
        for row in &group.rows {
            let _ = write!(
                out,
                "| {} | {} |",
                escape_md(&row.task),
                escape_md(&row.metric)
            );
            if has_published {
                let published = match published_text(row, group.table) {
                    Some((value, split)) => {
                        let source = group.source.map_or(String::new(), |n| format!(" [{n}]"));
                        let split = split.map_or(String::new(), |s| format!(" ({s})"));
                        format!("{value}{source}{split}")
                    }
                    None => "–".into(),
                };
                let _ = write!(out, " {published} |");
            }
            for cell in &row.cells {
                let measured = measured_text(cell, row).unwrap_or_else(|| "–".into());
                let _ = write!(out, " {measured} |");
                if has_published {
                    let _ = write!(out, " {} |", delta(cell, row));
                }
            }
            let _ = writeln!(out, " {} |", escape_md(&row_notes(row).join("; ")));
        }
    }
    out.push('\n');
    for line in LEGEND {
        let _ = writeln!(out, "{line}  ");
    }
    let sourced: Vec<&Group> = groups.iter().filter(|g| g.source.is_some()).collect();
    if !sourced.is_empty() {
        out.push_str("\nSources:\n\n");
        for group in sourced {
            let n = group.source.unwrap_or_default();
            match group.table {
                Some(t) => {
                    let _ = writeln!(
                        out,
                        "{n}. `{}`: {} — {}",
                        t.id,
                        strip_local_paths(&t.title),
                        source_line(t)
                    );
                }
                None => {
                    let id = group.rows[0].reference.as_deref().unwrap_or_default();
                    let _ = writeln!(out, "{n}. `{id}`: not among the given reference tables.");
                }
            }
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

/// `text` for LaTeX's text mode: specials escaped, `` `code` `` as `\texttt`, and the symbols
/// reports use (± Δ ≠ − – — × α →) as LaTeX commands, so the output is plain ASCII for them.
pub fn escape_latex(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut code = false;
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\textbackslash{}"),
            '{' | '}' | '_' | '%' | '&' | '#' | '$' => {
                out.push('\\');
                out.push(c);
            }
            '~' => out.push_str("\\textasciitilde{}"),
            '^' => out.push_str("\\textasciicircum{}"),
            '`' => {
                out.push_str(if code { "}" } else { "\\texttt{" });
                code = !code;
            }
            '±' => out.push_str("$\\pm$"),
            'Δ' => out.push_str("$\\Delta$"),
            '≠' => out.push_str("$\\neq$"),
            '−' => out.push_str("$-$"),
            '–' => out.push_str("--"),
            '—' => out.push_str("---"),
            '×' => out.push_str("$\\times$"),
            'α' => out.push_str("$\\alpha$"),
            '→' => out.push_str("$\\to$"),
            '≤' => out.push_str("$\\leq$"),
            '≥' => out.push_str("$\\geq$"),
            '<' => out.push_str("\\textless{}"),
            '>' => out.push_str("\\textgreater{}"),
            '|' => out.push_str("\\textbar{}"),
            c => out.push(c),
        }
    }
    if code {
        out.push('}');
    }
    out
}

/// A number in math mode with a real minus sign.
fn latex_number(text: &str) -> String {
    format!("${}$", text.replace('±', "\\pm"))
}

/// Footnote marks a, b, …, z, aa, ab, …
fn note_mark(i: usize) -> String {
    let letters = b"abcdefghijklmnopqrstuvwxyz";
    if i < 26 {
        (letters[i] as char).to_string()
    } else {
        format!("{}{}", note_mark(i / 26 - 1), letters[i % 26] as char)
    }
}

fn latex_label(id: &str) -> String {
    id.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// LaTeX for a paper (needs `\usepackage{booktabs}`): one `table` per reference table, its
/// caption naming the source, runs as column pairs (measured, Δ), markers and reasons as
/// lettered notes under the table.
pub fn latex(rows: &[Row], runs: &[String], tables: &[ReferenceTable], meta: &Meta) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "% {}", strip_local_paths(&meta.title));
    let _ = writeln!(
        out,
        "% Model{}: {}",
        if meta.models.len() == 1 { "" } else { "s" },
        meta.models
            .iter()
            .map(|m| public_model_name(m))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        out,
        "% Date: {}; evalrun {}",
        meta.date, meta.evalrun_version
    );
    for note in &meta.notes {
        let _ = writeln!(out, "% {}", strip_local_paths(note));
    }
    out.push_str("% Needs \\usepackage{booktabs}.\n");
    for group in groups(rows, tables) {
        let has_published = group.source.is_some();
        let columns_per_run = if has_published { 2 } else { 1 };
        out.push_str("\n\\begin{table}[htbp]\n\\centering\n\\small\n");
        let what = if has_published {
            "Measured $\\pm$ half the 95\\% bootstrap interval; $\\Delta$ = measured $-$ published."
        } else {
            "Measured $\\pm$ half the 95\\% bootstrap interval."
        };
        let caption = match group.table {
            Some(t) => format!(
                "{}. Source: {} {what}",
                escape_latex(&strip_local_paths(&t.title)),
                escape_latex(&source_line(t))
            ),
            None => format!("{}. {what}", escape_latex(group.title())),
        };
        let _ = writeln!(out, "\\caption{{{caption}}}");
        let label = group.rows[0]
            .reference
            .as_deref()
            .map_or_else(|| "measured-only".to_string(), latex_label);
        let _ = writeln!(out, "\\label{{tab:evalrun-{label}}}");
        let spec = format!(
            "ll{}{}",
            if has_published { "r" } else { "" },
            "r".repeat(columns_per_run * runs.len())
        );
        let _ = writeln!(out, "\\begin{{tabular}}{{{spec}}}\n\\toprule");
        let first_run_column = if has_published { 4 } else { 3 };
        if has_published {
            out.push_str("Task & Metric & Published");
            for run in runs {
                let _ = write!(out, " & \\multicolumn{{2}}{{c}}{{{}}}", escape_latex(run));
            }
            out.push_str(" \\\\\n");
            for j in 0..runs.len() {
                let c = first_run_column + 2 * j;
                let _ = write!(out, "\\cmidrule(lr){{{c}-{}}}", c + 1);
            }
            out.push_str("\n & & ");
            for _ in runs {
                out.push_str(" & Measured & $\\Delta$");
            }
            out.push_str(" \\\\\n");
        } else {
            out.push_str("Task & Metric");
            for run in runs {
                let _ = write!(out, " & {}", escape_latex(run));
            }
            out.push_str(" \\\\\n");
        }
        out.push_str("\\midrule\n");
        let mut notes: Vec<String> = Vec::new();
        for row in &group.rows {
            let _ = write!(
                out,
                "{} & {}",
                escape_latex(&row.task),
                escape_latex(&row.metric)
            );
            if has_published {
                let published = match published_text(row, group.table) {
                    Some((value, Some(split))) => {
                        format!("{value} ({})", escape_latex(&split))
                    }
                    Some((value, None)) => value,
                    None => "--".into(),
                };
                let _ = write!(out, " & {published}");
            }
            for cell in &row.cells {
                let reason = cell
                    .reason
                    .iter()
                    .filter(|_| cell.measured.is_none())
                    .map(|r| format!("not measured: {r}"));
                let marks: Vec<String> = cell
                    .markers
                    .iter()
                    .cloned()
                    .chain(reason)
                    .map(|note| {
                        let note = strip_local_paths(&note);
                        let i = notes.iter().position(|n| *n == note).unwrap_or_else(|| {
                            notes.push(note);
                            notes.len() - 1
                        });
                        note_mark(i)
                    })
                    .collect();
                let marks = if marks.is_empty() {
                    String::new()
                } else {
                    format!("\\textsuperscript{{{}}}", marks.join(","))
                };
                let measured =
                    measured_text(cell, row).map_or_else(|| "--".into(), |t| latex_number(&t));
                let _ = write!(out, " & {measured}{marks}");
                if has_published {
                    let d = cell.delta.map_or_else(
                        || "--".into(),
                        |d| latex_number(&signed(d * row.scale, chart::row_decimals(row))),
                    );
                    let _ = write!(out, " & {d}");
                }
            }
            out.push_str(" \\\\\n");
        }
        out.push_str("\\bottomrule\n\\end{tabular}\n");
        if !notes.is_empty() {
            out.push_str(
                "\\par\\smallskip\n\\begin{minipage}{\\linewidth}\\footnotesize\\raggedright\n",
            );
            for (i, note) in notes.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "\\textsuperscript{{{}}}\\,{}\\par",
                    note_mark(i),
                    escape_latex(note)
                );
            }
            out.push_str("\\end{minipage}\n");
        }
        out.push_str("\\end{table}\n");
    }
    out
}

/// Every section stacked in one `<svg>` (see [`chart::svg`]).
pub fn svg(rows: &[Row], runs: &[String]) -> String {
    chart::svg(rows, runs)
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:2em auto;max-width:1200px;padding:0 1.5em;color:#222;line-height:1.4}\
h1{margin-bottom:.2em} h2{margin-top:2em;font-size:1.25em;border-bottom:1px solid #ddd;padding-bottom:.2em}\
dl.meta{display:grid;grid-template-columns:max-content auto;gap:.15em 1em;margin:.5em 0} dl.meta dt{color:#666} dl.meta dd{margin:0}\
.source{color:#444;font-size:14px;margin:.3em 0 .8em} figure{margin:0;overflow-x:auto} svg{max-width:none}\
table{border-collapse:collapse;margin-top:1em;font-size:13px} th,td{border:1px solid #ccc;padding:4px 8px;vertical-align:top}\
th{background:#f6f6f6;text-align:left} td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\
td.note{color:#933;font-size:12px;max-width:28em} .ci{color:#666} sup{line-height:0} sup a{text-decoration:none;font-size:10px}\
.swatch{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:baseline}\
ul.notes li{color:#933} .legend li{font-size:14px} small{color:#666} footer{margin-top:2em;color:#777;font-size:12px}\
svg .num{font-variant-numeric:tabular-nums}";

/// A self-contained page: the header, then per reference table its title, source, chart and
/// table, then the legend and the numbered sources.
pub fn html(rows: &[Row], runs: &[String], tables: &[ReferenceTable], meta: &Meta) -> String {
    let title = escape_xml(&strip_local_paths(&meta.title));
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\n<style>{STYLE}</style></head><body>\n<header><h1>{title}</h1>\n<dl class=\"meta\">"
    );
    let models: Vec<String> = meta
        .models
        .iter()
        .map(|m| format!("<code>{}</code>", escape_xml(&public_model_name(m))))
        .collect();
    let _ = write!(
        out,
        "<dt>Model{}</dt><dd>{}</dd><dt>Date</dt><dd>{}</dd><dt>evalrun</dt><dd>{}</dd>",
        if meta.models.len() == 1 { "" } else { "s" },
        if models.is_empty() {
            "–".to_string()
        } else {
            models.join(", ")
        },
        escape_xml(&meta.date),
        escape_xml(&meta.evalrun_version)
    );
    let columns: Vec<String> = runs
        .iter()
        .enumerate()
        .map(|(j, r)| {
            format!(
                "<span class=\"swatch\" style=\"background:{}\"></span>{}",
                chart::colour(j),
                escape_xml(r)
            )
        })
        .collect();
    let _ = writeln!(
        out,
        "<dt>Run{}</dt><dd>{}</dd></dl>",
        if runs.len() == 1 { "" } else { "s" },
        columns.join(" &nbsp; ")
    );
    if !meta.notes.is_empty() {
        out.push_str("<ul class=\"notes\">\n");
        for note in &meta.notes {
            let _ = writeln!(out, "<li>{}</li>", html_text(note));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</header>\n");
    let groups = groups(rows, tables);
    for group in &groups {
        let has_published = group.source.is_some();
        let id = group.rows[0]
            .reference
            .as_deref()
            .map_or_else(|| "measured-only".to_string(), latex_label);
        let _ = writeln!(out, "<section id=\"table-{id}\">");
        match (group.table, group.source) {
            (Some(table), Some(n)) => {
                let _ = writeln!(
                    out,
                    "<h2>{}</h2>\n<p class=\"source\">Source <a href=\"#source-{n}\">[{n}]</a>: {}</p>",
                    html_text(&table.title),
                    html_text(&source_line(table))
                );
            }
            (None, Some(n)) => {
                let _ = writeln!(
                    out,
                    "<h2>Reference table <code>{}</code> <a href=\"#source-{n}\">[{n}]</a></h2>",
                    escape_xml(&id)
                );
            }
            _ => {
                let _ = writeln!(out, "<h2>{}</h2>", escape_xml(group.title()));
            }
        }
        let _ = write!(
            out,
            "<figure>\n{}</figure>\n",
            chart::section_svg(&group.rows, runs)
        );
        out.push_str("<table>\n<tr><th>Task</th><th>Metric</th>");
        if has_published {
            out.push_str("<th>Published</th>");
        }
        for column in &columns {
            let _ = write!(out, "<th>{column}</th>");
            if has_published {
                out.push_str("<th>Δ</th>");
            }
        }
        out.push_str("<th>Notes</th></tr>\n");
        let source_title = group
            .table
            .map_or_else(String::new, |t| escape_xml(&strip_local_paths(&t.source)));
        for row in &group.rows {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td>",
                escape_xml(&row.task),
                escape_xml(&row.metric)
            );
            if has_published {
                let published = match published_text(row, group.table) {
                    Some((value, split)) => format!(
                        "{value}<sup><a href=\"#source-{n}\" title=\"{source_title}\">[{n}]</a></sup>{}",
                        split.map_or(String::new(), |s| format!(" <small>{}</small>", escape_xml(&s))),
                        n = group.source.unwrap_or_default()
                    ),
                    None => "–".into(),
                };
                let _ = write!(out, "<td class=\"n\">{published}</td>");
            }
            for cell in &row.cells {
                let measured = match (cell.measured, cell.ci) {
                    (Some(m), Some(ci)) => format!(
                        "{} <span class=\"ci\">± {}</span>",
                        number(row, m),
                        number(row, (ci.high - ci.low) / 2.0)
                    ),
                    (Some(m), None) => number(row, m),
                    (None, _) => "–".into(),
                };
                let _ = write!(out, "<td class=\"n\">{measured}</td>");
                if has_published {
                    let _ = write!(out, "<td class=\"n\">{}</td>", delta(cell, row));
                }
            }
            let _ = writeln!(
                out,
                "<td class=\"note\">{}</td></tr>",
                html_text(&row_notes(row).join("; "))
            );
        }
        out.push_str("</table>\n</section>\n");
    }
    out.push_str("<section class=\"legend\"><h2>How to read these tables</h2><ul>\n");
    for line in LEGEND {
        let _ = writeln!(out, "<li>{}</li>", escape_xml(line));
    }
    out.push_str("</ul></section>\n");
    let sourced: Vec<&Group> = groups.iter().filter(|g| g.source.is_some()).collect();
    if !sourced.is_empty() {
        out.push_str("<section id=\"sources\"><h2>Sources</h2><ol>\n");
        for group in sourced {
            let n = group.source.unwrap_or_default();
            match group.table {
                Some(t) => {
                    let _ = writeln!(
                        out,
                        "<li id=\"source-{n}\"><code>{}</code>: {} — {}</li>",
                        escape_xml(&t.id),
                        html_text(&t.title),
                        html_text(&source_line(t))
                    );
                }
                None => {
                    let id = group.rows[0].reference.as_deref().unwrap_or_default();
                    let _ = writeln!(
                        out,
                        "<li id=\"source-{n}\"><code>{}</code>: not among the given reference tables.</li>",
                        escape_xml(id)
                    );
                }
            }
        }
        out.push_str("</ol></section>\n");
    }
    let _ = writeln!(
        out,
        "<footer>Generated by evalrun {} from records finished on {}.</footer>\n</body></html>",
        escape_xml(&meta.evalrun_version),
        escape_xml(&meta.date)
    );
    out
}

/// Free text for HTML: local paths shortened, escaped, `` `code` `` as `<code>`.
fn html_text(text: &str) -> String {
    let escaped = escape_xml(&strip_local_paths(text));
    let mut out = String::with_capacity(escaped.len());
    for (i, part) in escaped.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            out.push_str(part);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::Cell;
    use evalrun_core::bootstrap::Interval;

    fn cell(run: &str, measured: Option<f64>) -> Cell {
        Cell {
            run: run.into(),
            measured,
            ci: measured.map(|m| Interval {
                low: m - 0.02,
                high: m + 0.02,
                std_error: 0.01,
            }),
            delta: None,
            split: Some("dev".into()),
            markers: Vec::new(),
            reason: None,
        }
    }

    fn row(task: &str, metric: &str, reference: Option<&str>, published: Option<f64>) -> Row {
        let scale = crate::compare::default_scale(metric);
        Row {
            task: task.into(),
            metric: metric.into(),
            reference: reference.map(String::from),
            published,
            published_split: published.map(|_| "test".into()),
            scale,
            cells: vec![cell("a", Some(0.5)), cell("b", None)],
        }
    }

    fn table(id: &str, source: &str) -> ReferenceTable {
        ReferenceTable {
            id: id.into(),
            title: format!("Table {id}"),
            source: source.into(),
            split: "test".into(),
            protocol: "p".into(),
            scoring: None,
            entries: Vec::new(),
            averages: Vec::new(),
        }
    }

    fn meta() -> Meta {
        Meta {
            title: "evalrun report".into(),
            models: vec!["/home/alice/models/t5-base".into()],
            date: "2026-12-03".into(),
            evalrun_version: "0.1.0 (commit abc1234)".into(),
            notes: vec!["read from `/tmp/x/y/z.json`".into()],
        }
    }

    #[test]
    fn rows_are_grouped_by_table_in_table_order_with_measured_only_last() {
        let rows = vec![
            row("ax", "mcc", None, None),
            row("qnli", "accuracy", Some("one"), Some(0.9)),
            row("qnli", "accuracy", Some("two"), Some(0.88)),
            row("sst2", "accuracy", Some("one"), Some(0.93)),
            row("qnli", "accuracy", Some("three"), Some(0.91)),
        ];
        let tables = vec![table("one", "s1"), table("two", "s2")];
        let groups = groups(&rows, &tables);
        let shape: Vec<(&str, Option<usize>, usize)> = groups
            .iter()
            .map(|g| (g.title(), g.source, g.rows.len()))
            .collect();
        assert_eq!(
            shape,
            vec![
                ("Table one", Some(1), 2),
                ("Table two", Some(2), 1),
                // A row whose table was not given keeps its own group and source number.
                ("Measured, no published value", Some(3), 1),
                ("Measured, no published value", None, 1),
            ]
        );
        assert!(groups[2].table.is_none());
    }

    #[test]
    fn latex_specials_are_escaped() {
        assert_eq!(
            escape_latex(r"a_b 5% & #1 $x {y} ~z ^w \q"),
            r"a\_b 5\% \& \#1 \$x \{y\} \textasciitilde{}z \textasciicircum{}w \textbackslash{}q"
        );
        assert_eq!(
            escape_latex("≠split: dev — `QQP/dev_x.tsv` ± Δ"),
            r"$\neq$split: dev --- \texttt{QQP/dev\_x.tsv} $\pm$ $\Delta$"
        );
        // An unclosed code span is closed.
        assert_eq!(escape_latex("`a"), r"\texttt{a}");
        assert_eq!(note_mark(0), "a");
        assert_eq!(note_mark(25), "z");
        assert_eq!(note_mark(26), "aa");
    }

    #[test]
    fn local_paths_are_shortened_and_repository_paths_kept() {
        assert_eq!(
            strip_local_paths("data not present: `/home/a/data/glue/QQP/dev.tsv`."),
            "data not present: `QQP/dev.tsv`."
        );
        assert_eq!(
            strip_local_paths(
                "gives 0.82 on ../shared/data/sts/sts-test.csv (../shared/models/README.md)"
            ),
            "gives 0.82 on sts/sts-test.csv (models/README.md)"
        );
        assert_eq!(strip_local_paths(r"C:\Users\a\m.onnx"), "a/m.onnx");
        let kept =
            "huggingface/transformers examples/pytorch/text-classification/README.md; F1/acc";
        assert_eq!(strip_local_paths(kept), kept);
        assert_eq!(
            public_model_name("/home/a/models/glue-tiny/{task}"),
            "glue-tiny/{task}"
        );
        assert_eq!(public_model_name("google-t5/t5-base"), "google-t5/t5-base");
        assert_eq!(public_model_name("gpt2"), "gpt2");
        assert_eq!(
            model_directory("cola", "tests/fixtures/models/glue-tiny/cola/model.onnx"),
            "glue-tiny/{task}"
        );
    }

    /// The text of every `<text class="row-label">` in `svg`.
    fn row_labels_of(svg: &str) -> Vec<String> {
        svg.split("<text class=\"row-label\"")
            .skip(1)
            .map(|s| {
                let start = s.find('>').unwrap() + 1;
                let end = s.find("</text>").unwrap();
                s[start..end].to_string()
            })
            .collect()
    }

    #[test]
    fn html_sections_have_unique_row_labels_split_axes_and_no_local_paths() {
        let mut rows = vec![
            row("qnli", "accuracy", Some("one"), Some(0.9)),
            row("qnli", "accuracy", Some("one"), Some(0.905)),
            row("wikitext2", "word_perplexity", Some("one"), Some(29.41)),
            row("qnli", "accuracy", Some("two"), Some(0.88)),
            row("ax", "mcc", None, None),
        ];
        rows[0].cells[1].reason = Some("data not present: `/home/alice/d/QNLI/dev.tsv`".into());
        rows[2].cells[0].measured = Some(4000.0);
        let tables = vec![
            table("one", "Paper, Table 1; see /home/alice/notes/x.md"),
            table("two", "s2"),
        ];
        let mut meta = meta();
        meta.title = "Reproduction: /home/alice/models/t5-base".into();
        let html = html(&rows, &["a".into(), "b".into()], &tables, &meta);
        assert!(html.contains("<h1>Reproduction: models/t5-base</h1>"));
        let sections: Vec<&str> = html.split("<section id=\"table-").skip(1).collect();
        assert_eq!(sections.len(), 3);
        for section in &sections {
            let labels = row_labels_of(section);
            assert!(!labels.is_empty());
            for (i, l) in labels.iter().enumerate() {
                assert!(!labels[..i].contains(l), "`{l}` twice in a section");
            }
        }
        // Percent and perplexity rows of one table get an axis each.
        assert_eq!(sections[0].matches("class=\"axis-title\"").count(), 2);
        assert!(sections[0].contains("score (×100)"));
        assert!(sections[0].contains("perplexity (lower is better; log scale)"));
        assert!(
            !html.contains("/home/") && !html.contains("/tmp/"),
            "{html}"
        );
        assert!(html.contains("not measured: data not present: <code>QNLI/dev.tsv</code>"));
        assert!(html.contains("<code>models/t5-base</code>") && html.contains("2026-12-03"));
        assert!(html.contains("href=\"#source-1\"") && html.contains("id=\"source-2\""));
    }

    #[test]
    fn markdown_puts_the_legend_below_the_tables_and_drops_published_columns_when_none() {
        let rows = vec![
            row("qnli", "accuracy", Some("one"), Some(0.9)),
            row("ax", "mcc", None, None),
        ];
        let md = markdown(
            &rows,
            &["a".into(), "b".into()],
            &[table("one", "s")],
            &meta(),
        );
        assert!(md.starts_with("## evalrun report\n\nModel: `models/t5-base` · Date: 2026-12-03 · evalrun 0.1.0 (commit abc1234)\n"), "{md}");
        assert!(md.contains("| Task | Metric | Published | a | Δ | b | Δ | Notes |"));
        assert!(md.contains("| qnli | accuracy | 90.00 [1] | 50.00 ± 2.00 | – | – | – |"));
        assert!(md.contains("### Measured, no published value\n\n| Task | Metric | a | b | Notes |\n|---|---|---:|---:|---|\n"));
        assert!(md.find("± = half").unwrap() > md.find("| ax |").unwrap());
        assert!(md.contains("read from `y/z.json`"), "{md}");
    }
}
