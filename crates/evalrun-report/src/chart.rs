//! The SVG chart of a report: for one reference table, one panel per kind of quantity
//! (scores ×100, perplexities, bits, …), so that numbers on different scales never share an
//! axis. Per panel: one labelled row per (task, metric), one bar per run with its 95% interval
//! as a whisker, the published value as a black tick, an x axis with round tick steps and its
//! title, and the numbers in columns to the right of the plot, where no tick can cross them.
//!
//! Pure string building from comparison rows: no files, no records, no reference lookups.

use std::fmt::Write as _;

use crate::compare::Row;

/// One colour per run, in column order (Observable's ten categorical colours).
pub const COLOURS: [&str; 10] = [
    "#4269d0", "#efb118", "#ff725c", "#6cc5b0", "#3ca951", "#ff8ab7", "#a463f2", "#97bbf5",
    "#9c6b4e", "#9498a0",
];

/// The colour of the run in column `index`.
pub fn colour(index: usize) -> &'static str {
    COLOURS[index % COLOURS.len()]
}

/// What a row's numbers measure, as shown: rows of different kinds get separate axes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Quantity {
    /// Fractions and correlations shown ×100.
    Percent,
    /// Perplexities, as they are (lower is better).
    Perplexity,
    /// Bits per byte or character, as they are (lower is better).
    Bits,
    /// Anything else, multiplied by the row's display scale.
    Other(f64),
}

impl Quantity {
    pub fn of(row: &Row) -> Self {
        if row.metric.contains("perplexity") {
            Quantity::Perplexity
        } else if row.metric.starts_with("bits") {
            Quantity::Bits
        } else if row.scale == 100.0 {
            Quantity::Percent
        } else {
            Quantity::Other(row.scale)
        }
    }

    /// The axis title, naming the scale.
    pub fn title(self, log: bool) -> String {
        let log = if log { "; log scale" } else { "" };
        match self {
            Quantity::Percent => "score (×100)".into(),
            Quantity::Perplexity => format!("perplexity (lower is better{log})"),
            Quantity::Bits => "bits per byte or character (lower is better)".into(),
            Quantity::Other(1.0) => "value (as recorded)".into(),
            Quantity::Other(scale) => format!("value (×{scale})"),
        }
    }
}

/// The round step (1, 2 or 5 × 10ᵏ) nearest above `raw`.
pub fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let magnitude = 10f64.powf(raw.log10().floor());
    let fraction = raw / magnitude;
    let nice = if fraction <= 1.0 + 1e-9 {
        1.0
    } else if fraction <= 2.0 + 1e-9 {
        2.0
    } else if fraction <= 5.0 + 1e-9 {
        5.0
    } else {
        10.0
    };
    nice * magnitude
}

/// Ticks covering `[low, high]` with about `target` round steps: the first tick is at or below
/// `low`, the last at or above `high`.
pub fn nice_ticks(low: f64, high: f64, target: usize) -> Vec<f64> {
    let (low, high) = if high > low {
        (low, high)
    } else {
        (low, low + 1.0)
    };
    let step = nice_step((high - low) / target.max(1) as f64);
    let first = (low / step + 1e-9).floor() as i64;
    let last = (high / step - 1e-9).ceil() as i64;
    (first..=last)
        .map(|i| {
            let v = i as f64 * step;
            // Round away the binary noise of the multiplication (0.30000000000000004), and -0.
            let v = (v / step).round() * step;
            let digits = decimals(step) as i32;
            let p = 10f64.powi(digits);
            let v = (v * p).round() / p;
            if v == 0.0 {
                0.0
            } else {
                v
            }
        })
        .collect()
}

/// Powers of ten covering `[low, high]` (both > 0), with 2× and 5× between them when the range
/// spans at most three decades.
pub fn log_ticks(low: f64, high: f64) -> Vec<f64> {
    let first = low.log10().floor() as i32;
    let last = (high.log10().ceil() as i32).max(first + 1);
    let fine = last - first <= 3;
    let mut ticks = Vec::new();
    for e in first..=last {
        let base = 10f64.powi(e);
        ticks.push(base);
        if fine && e < last {
            ticks.push(2.0 * base);
            ticks.push(5.0 * base);
        }
    }
    ticks
}

/// Decimals needed to print multiples of `step`.
fn decimals(step: f64) -> usize {
    if step >= 1.0 {
        0
    } else {
        (-step.log10() - 1e-9).ceil().max(0.0) as usize
    }
}

/// A horizontal axis: the domain, its ticks and how values map onto it.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub low: f64,
    pub high: f64,
    pub ticks: Vec<f64>,
    pub log: bool,
    pub title: String,
    decimals: usize,
}

impl Axis {
    /// An axis for `values` (already on the display scale). Linear axes include 0, so bar
    /// lengths mean something; perplexities spanning more than 20× go on a log axis.
    pub fn fit(quantity: Quantity, values: &[f64]) -> Self {
        let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        let min = finite.iter().copied().fold(f64::INFINITY, f64::min);
        let max = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let log = quantity == Quantity::Perplexity && min > 0.0 && max / min > 20.0;
        if log {
            let ticks = log_ticks(min, max);
            return Self {
                low: ticks[0],
                high: *ticks.last().unwrap(),
                ticks,
                log,
                title: quantity.title(true),
                decimals: 0,
            };
        }
        let (min, max) = if finite.is_empty() {
            (0.0, 1.0)
        } else {
            (min.min(0.0), max.max(0.0))
        };
        let mut ticks = nice_ticks(min, max, 5);
        let step = ticks.get(1).map_or(1.0, |t| t - ticks[0]);
        let high = *ticks.last().unwrap();
        // A little below zero (an interval's end) does not earn a whole step of empty axis:
        // the axis then ends just below the lowest value, without a tick there.
        let low = if min < 0.0 && ticks[0] < min - step / 2.0 {
            min - 0.03 * (high - min)
        } else {
            ticks[0]
        };
        ticks.retain(|t| *t >= low);
        Self {
            low,
            high,
            decimals: decimals(step),
            ticks,
            log,
            title: quantity.title(false),
        }
    }

    /// Where `v` falls, 0 at `low` and 1 at `high` (clamped).
    pub fn position(&self, v: f64) -> f64 {
        let p = if self.log {
            (v.max(self.low).log10() - self.low.log10()) / (self.high.log10() - self.low.log10())
        } else {
            (v - self.low) / (self.high - self.low)
        };
        p.clamp(0.0, 1.0)
    }

    /// Where bars start: 0 on a linear axis, the left edge on a log axis.
    pub fn base(&self) -> f64 {
        if self.log {
            self.low
        } else {
            0.0
        }
    }

    /// A tick's number: as many decimals as the step needs, thousands grouped from 10,000.
    pub fn tick_label(&self, v: f64) -> String {
        if self.log && v < 1.0 {
            return format!("{v}");
        }
        let text = format!("{v:.*}", self.decimals);
        if v.abs() < 10_000.0 {
            return text;
        }
        let (sign, digits) = text.split_at(usize::from(text.starts_with('-')));
        let (whole, fraction) = digits.split_at(digits.find('.').unwrap_or(digits.len()));
        let mut grouped = String::new();
        for (i, c) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        format!("{sign}{grouped}{fraction}")
    }
}

pub(crate) fn escape_xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Decimals a row's values print with: three for bits (as the stdout table prints them), two
/// for everything else.
pub(crate) fn row_decimals(row: &Row) -> usize {
    if row.metric.starts_with("bits") {
        3
    } else {
        2
    }
}

/// A value of `row` on its display scale, as every renderer prints it.
pub(crate) fn number(row: &Row, v: f64) -> String {
    format!("{:.*}", row_decimals(row), v * row.scale)
}

/// `measured ± half-interval` on the row's display scale, or `None` without a measurement.
pub(crate) fn measured_text(cell: &crate::compare::Cell, row: &Row) -> Option<String> {
    let m = cell.measured?;
    Some(match cell.ci {
        Some(ci) => format!(
            "{} ± {}",
            number(row, m),
            number(row, (ci.high - ci.low) / 2.0)
        ),
        None => number(row, m),
    })
}

/// Row labels, made unique within one chart: `task metric`, with ` (2)`, … on repeats.
pub fn row_labels(rows: &[&Row]) -> Vec<String> {
    let mut labels: Vec<String> = Vec::new();
    for row in rows {
        let base = format!("{} {}", row.task, row.metric);
        let mut label = base.clone();
        let mut n = 1;
        while labels.contains(&label) {
            n += 1;
            label = format!("{base} ({n})");
        }
        labels.push(label);
    }
    labels
}

// Layout, in pixels. Text widths are estimated generously (7.2 px per character at 12 px).
const CHAR: f64 = 7.2;
const SMALL_CHAR: f64 = 6.6;
const LINE: f64 = 17.0;
const BAR: f64 = 12.0;
const ROW_GAP: f64 = 9.0;
const PLOT: f64 = 480.0;
const PAD: f64 = 10.0;
const FONT: &str = "font-family=\"system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif\" font-size=\"12\"";

/// A drawn block: SVG elements and the size they take.
struct Drawing {
    body: String,
    width: f64,
    height: f64,
}

/// Rows (with their labels) split into panels by quantity, in order of first appearance.
fn panels<'a>(rows: &[&'a Row], labels: &'a [String]) -> Vec<(Quantity, Vec<(&'a Row, &'a str)>)> {
    let mut panels: Vec<(Quantity, Vec<(&Row, &str)>)> = Vec::new();
    for (row, label) in rows.iter().zip(labels) {
        let q = Quantity::of(row);
        match panels.iter_mut().find(|(p, _)| *p == q) {
            Some((_, rows)) => rows.push((row, label)),
            None => panels.push((q, vec![(row, label)])),
        }
    }
    panels
}

fn values(rows: &[(&Row, &str)]) -> Vec<f64> {
    let mut values = Vec::new();
    for (row, _) in rows {
        values.extend(row.published.map(|p| p * row.scale));
        for cell in &row.cells {
            values.extend(cell.measured.map(|m| m * row.scale));
            if let Some(ci) = cell.ci {
                values.push(ci.low * row.scale);
                values.push(ci.high * row.scale);
            }
        }
    }
    values
}

/// One section's chart: the run legend, then a panel per quantity.
fn draw_section(rows: &[&Row], runs: &[String]) -> Drawing {
    let runs_n = runs.len().max(1);
    let labels = row_labels(rows);
    let label_width = labels
        .iter()
        .map(|l| l.chars().count() as f64 * CHAR)
        .fold(90.0, f64::max)
        + 16.0;
    let measured_width = rows
        .iter()
        .flat_map(|r| {
            r.cells.iter().map(move |c| {
                measured_text(c, r)
                    .map_or("skipped".len(), |t| t.chars().count())
                    .max("measured ± 95% CI".chars().count())
            })
        })
        .max()
        .unwrap_or(12) as f64
        * SMALL_CHAR
        + 22.0;
    let published_width = rows
        .iter()
        .filter_map(|r| r.published.map(|p| number(r, p).len()))
        .max()
        .unwrap_or(0)
        .max("published".len()) as f64
        * SMALL_CHAR;
    let plot_left = PAD + label_width;
    let plot_right = plot_left + PLOT;
    let measured_x = plot_right + 18.0;
    let published_x = measured_x + measured_width + 12.0;
    let has_published = rows.iter().any(|r| r.published.is_some());
    let width = if has_published {
        published_x + published_width + PAD
    } else {
        measured_x + measured_width + PAD
    };

    let mut out = String::new();
    // The legend: a swatch per run, the interval and the published tick.
    let mut x = plot_left;
    let legend_y = 16.0;
    for (j, run) in runs.iter().enumerate() {
        let _ = writeln!(
            out,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{legend_y:.1}\">{}</text>",
            legend_y - 10.0,
            colour(j),
            x + 17.0,
            escape_xml(run)
        );
        x += 17.0 + run.chars().count() as f64 * CHAR + 18.0;
    }
    let _ = writeln!(
        out,
        "<line x1=\"{x:.1}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#222\" stroke-width=\"1.2\"/><text x=\"{:.1}\" y=\"{legend_y:.1}\">95% interval</text>",
        x + 18.0,
        x + 24.0,
        y = legend_y - 4.0
    );
    x += 24.0 + 12.0 * CHAR + 18.0;
    if has_published {
        let _ = writeln!(
            out,
            "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"black\" stroke-width=\"2.5\"/><text x=\"{:.1}\" y=\"{legend_y:.1}\">published</text>",
            legend_y - 12.0,
            legend_y + 3.0,
            x + 6.0
        );
    }
    let width = width.max(x + 80.0);
    let mut y = 34.0;
    for (quantity, rows) in panels(rows, &labels) {
        let axis = Axis::fit(quantity, &values(&rows));
        let px = |v: f64| plot_left + axis.position(v) * PLOT;
        let group = LINE * runs_n as f64;
        let rows_top = y + 20.0;
        let rows_height = (group + ROW_GAP) * rows.len() as f64;
        let axis_y = rows_top + rows_height;
        // Column headings, over the number columns only.
        let _ = writeln!(
            out,
            "<text x=\"{measured_x:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#555\">measured ± 95% CI</text>",
            y + 12.0
        );
        if has_published {
            let _ = writeln!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#555\" text-anchor=\"end\">published</text>",
                published_x + published_width,
                y + 12.0
            );
        }
        // Grid lines at the ticks, under everything else.
        for &t in &axis.ticks {
            let tx = px(t);
            let (stroke, w) = if !axis.log && t == 0.0 {
                ("#888", 1.0)
            } else {
                ("#e4e4e4", 1.0)
            };
            let _ = writeln!(
                out,
                "<line x1=\"{tx:.1}\" x2=\"{tx:.1}\" y1=\"{rows_top:.1}\" y2=\"{axis_y:.1}\" stroke=\"{stroke}\" stroke-width=\"{w}\"/>"
            );
        }
        for (i, (row, label)) in rows.iter().enumerate() {
            let top = rows_top + (group + ROW_GAP) * i as f64 + ROW_GAP / 2.0;
            let middle = top + group / 2.0;
            if i > 0 {
                let sy = top - ROW_GAP / 2.0;
                let _ = writeln!(
                    out,
                    "<line x1=\"{PAD}\" x2=\"{:.1}\" y1=\"{sy:.1}\" y2=\"{sy:.1}\" stroke=\"#f0f0f0\"/>",
                    width - PAD
                );
            }
            let _ = writeln!(
                out,
                "<text class=\"row-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                plot_left - 10.0,
                middle + 4.0,
                escape_xml(label)
            );
            for (j, cell) in row.cells.iter().enumerate() {
                let line_top = top + LINE * j as f64;
                let bar_y = line_top + (LINE - BAR) / 2.0;
                let text_y = line_top + LINE / 2.0 + 4.0;
                let _ = writeln!(
                    out,
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"8\" height=\"8\" fill=\"{}\"/>",
                    measured_x,
                    text_y - 8.0,
                    colour(j)
                );
                match (cell.measured, measured_text(cell, row)) {
                    (Some(m), Some(text)) => {
                        let v = m * row.scale;
                        let (a, b) = (px(axis.base()), px(v));
                        let _ = writeln!(
                            out,
                            "<rect x=\"{:.1}\" y=\"{bar_y:.1}\" width=\"{:.1}\" height=\"{BAR}\" fill=\"{}\"><title>{}: {}</title></rect>",
                            a.min(b),
                            (a - b).abs().max(1.0),
                            colour(j),
                            escape_xml(&cell.run),
                            escape_xml(&text)
                        );
                        if let Some(ci) = cell.ci {
                            let (l, h) = (px(ci.low * row.scale), px(ci.high * row.scale));
                            let cy = bar_y + BAR / 2.0;
                            let _ = writeln!(
                                out,
                                "<path d=\"M{l:.1},{:.1}v6M{l:.1},{cy:.1}H{h:.1}M{h:.1},{:.1}v6\" stroke=\"#222\" stroke-width=\"1.2\" fill=\"none\"/>",
                                cy - 3.0,
                                cy - 3.0
                            );
                        }
                        let _ = writeln!(
                            out,
                            "<text x=\"{:.1}\" y=\"{text_y:.1}\" font-size=\"11\" class=\"num\">{}</text>",
                            measured_x + 13.0,
                            escape_xml(&text)
                        );
                    }
                    _ => {
                        // A run that says why it has no number shows `skipped` (the reason is
                        // in the tooltip and the table's notes); a run without the task, `–`.
                        let text = match &cell.reason {
                            Some(reason) => format!(
                                "<tspan font-style=\"italic\">skipped</tspan><title>{}</title>",
                                escape_xml(&crate::render::strip_local_paths(reason))
                            ),
                            None => "–".to_string(),
                        };
                        let _ = writeln!(
                            out,
                            "<text x=\"{:.1}\" y=\"{text_y:.1}\" font-size=\"11\" fill=\"#888\">{text}</text>",
                            measured_x + 13.0
                        );
                    }
                }
            }
            if let Some(p) = row.published {
                let v = p * row.scale;
                let tx = px(v);
                let (y1, y2) = (top - 3.0, top + group + 3.0);
                // A white halo keeps the tick visible over a bar of any colour.
                let _ = writeln!(
                    out,
                    "<line x1=\"{tx:.1}\" x2=\"{tx:.1}\" y1=\"{y1:.1}\" y2=\"{y2:.1}\" stroke=\"white\" stroke-width=\"5\"/>\n\
                     <line x1=\"{tx:.1}\" x2=\"{tx:.1}\" y1=\"{y1:.1}\" y2=\"{y2:.1}\" stroke=\"black\" stroke-width=\"2.5\"><title>published {}</title></line>",
                    number(row, p)
                );
                let _ = writeln!(
                    out,
                    "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\" class=\"num\">{}</text>",
                    published_x + published_width,
                    middle + 4.0,
                    number(row, p)
                );
            }
        }
        // The axis: a line, ticks with their numbers, and the title naming the scale.
        let _ = writeln!(
            out,
            "<line x1=\"{plot_left:.1}\" x2=\"{plot_right:.1}\" y1=\"{axis_y:.1}\" y2=\"{axis_y:.1}\" stroke=\"#333\"/>"
        );
        for &t in &axis.ticks {
            let tx = px(t);
            let _ = writeln!(
                out,
                "<line x1=\"{tx:.1}\" x2=\"{tx:.1}\" y1=\"{axis_y:.1}\" y2=\"{:.1}\" stroke=\"#333\"/><text x=\"{tx:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\" class=\"tick\">{}</text>",
                axis_y + 5.0,
                axis_y + 17.0,
                axis.tick_label(t)
            );
        }
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#333\" class=\"axis-title\">{}</text>",
            plot_left + PLOT / 2.0,
            axis_y + 34.0,
            escape_xml(&axis.title)
        );
        y = axis_y + 50.0;
    }
    Drawing {
        body: out,
        width,
        height: y,
    }
}

fn wrap(drawing: &Drawing) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" viewBox=\"0 0 {w:.0} {h:.0}\" {FONT}>\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n{}</svg>\n",
        drawing.body,
        w = drawing.width.ceil(),
        h = drawing.height.ceil()
    )
}

/// The chart of one section (the rows of one reference table) as a standalone `<svg>`.
pub fn section_svg(rows: &[&Row], runs: &[String]) -> String {
    wrap(&draw_section(rows, runs))
}

/// Every section of `rows` (grouped by reference table id, measured-only rows last) stacked in
/// one `<svg>`, each under a heading with its table id.
pub fn svg(rows: &[Row], runs: &[String]) -> String {
    let mut groups: Vec<(Option<&str>, Vec<&Row>)> = Vec::new();
    for row in rows {
        let key = row.reference.as_deref();
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, rows)) => rows.push(row),
            None => groups.push((key, vec![row])),
        }
    }
    groups.sort_by_key(|(k, _)| k.is_none());
    let mut body = String::new();
    let (mut width, mut y) = (400.0f64, 0.0);
    for (key, rows) in groups {
        let heading = key.map_or_else(
            || "Measured, no published value".to_string(),
            |k| format!("Reference table {k}"),
        );
        let _ = writeln!(
            body,
            "<text x=\"{PAD}\" y=\"{:.1}\" font-size=\"14\" font-weight=\"bold\">{}</text>",
            y + 20.0,
            escape_xml(&heading)
        );
        let drawing = draw_section(&rows, runs);
        let _ = write!(
            body,
            "<g transform=\"translate(0,{:.1})\">\n{}</g>\n",
            y + 28.0,
            drawing.body
        );
        width = width.max(drawing.width);
        y += 28.0 + drawing.height;
    }
    wrap(&Drawing {
        body,
        width,
        height: y.max(40.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_one_two_or_five_times_a_power_of_ten() {
        assert_eq!(nice_step(18.7), 20.0);
        assert_eq!(nice_step(0.37), 0.5);
        assert_eq!(nice_step(7.0), 10.0);
        assert_eq!(nice_step(1.0), 1.0);
        assert_eq!(nice_step(0.0012), 0.002);
        assert_eq!(
            nice_ticks(0.0, 93.5, 5),
            vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
        );
        assert_eq!(
            nice_ticks(-6.2, 93.5, 5),
            vec![-20.0, 0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
        );
        assert_eq!(nice_ticks(0.0, 1.17, 5), vec![0.0, 0.5, 1.0, 1.5]);
        assert_eq!(nice_ticks(0.0, 0.3, 5), vec![0.0, 0.1, 0.2, 0.3]);
        // A degenerate range still gets an axis.
        assert_eq!(nice_ticks(0.0, 0.0, 5), vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
    }

    #[test]
    fn ticks_cover_the_values_with_few_round_steps() {
        for (low, high) in [(0.0, 37.2), (-13.0, 88.0), (0.0, 12345.0), (0.0, 0.047)] {
            let ticks = nice_ticks(low, high, 5);
            assert!(
                ticks[0] <= low && *ticks.last().unwrap() >= high,
                "{ticks:?}"
            );
            assert!((4..=8).contains(&ticks.len()), "{low}..{high}: {ticks:?}");
            let step = ticks[1] - ticks[0];
            assert_eq!(nice_step(step), step);
        }
    }

    #[test]
    fn perplexities_far_apart_go_on_a_log_axis() {
        let axis = Axis::fit(Quantity::Perplexity, &[29.41, 35.13, 4500.0]);
        assert!(axis.log);
        assert_eq!(axis.ticks.first(), Some(&10.0));
        assert_eq!(axis.ticks.last(), Some(&10000.0));
        assert!(axis.title.contains("log scale"));
        let linear = Axis::fit(Quantity::Perplexity, &[29.41, 37.5]);
        assert!(!linear.log && linear.low == 0.0 && linear.high >= 37.5);
        assert_eq!(
            log_ticks(20.0, 400.0),
            vec![10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0]
        );
        assert_eq!(axis.tick_label(10000.0), "10,000");
        let percent = Axis::fit(Quantity::Percent, &[49.4, 90.5, -3.0]);
        // Slightly negative: the axis ends just below the value, ticks start at 0.
        assert_eq!(percent.ticks, vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
        assert!(percent.low < -3.0 && percent.low > -10.0, "{}", percent.low);
        assert_eq!(percent.title, "score (×100)");
        let mcc = Axis::fit(Quantity::Percent, &[-52.0, 10.0]);
        assert_eq!(mcc.ticks.first(), Some(&-60.0));
        assert_eq!(mcc.tick_label(-60.0), "-60");
    }
}
