//! Measured vs published, like with like: one row per published (task, metric), one cell per
//! run, with markers wherever the comparison is not like with like (split, protocol, scoring,
//! partial averages). Tasks a reference does not cover follow as measured-only rows.

use evalrun_core::bootstrap::Interval;
use serde::Serialize;

use crate::record::RunRecord;
use crate::reference::ReferenceTable;

/// A record with the label its columns carry (usually the file stem).
#[derive(Debug, Clone)]
pub struct LabelledRun {
    pub label: String,
    pub record: RunRecord,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub task: String,
    pub metric: String,
    /// `file table id` of the reference, when the row has a published value.
    pub reference: Option<String>,
    /// Raw published value (fraction, nats, …).
    pub published: Option<f64>,
    pub published_split: Option<String>,
    /// Display multiplier (100 for percentages).
    pub scale: f64,
    pub cells: Vec<Cell>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cell {
    pub run: String,
    pub measured: Option<f64>,
    pub ci: Option<Interval>,
    pub delta: Option<f64>,
    pub split: Option<String>,
    pub markers: Vec<String>,
    /// Why there is no measurement (`measured` is `None`): the record's reason for skipping the
    /// task, e.g. `data not present: …`. `None` when the run simply has no such task.
    pub reason: Option<String>,
}

/// Percentages are shown ×100; perplexities and bits as they are.
pub fn default_scale(metric: &str) -> f64 {
    if metric.contains("perplexity") || metric.contains("bits") {
        1.0
    } else {
        100.0
    }
}

fn same_split(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        if s == "validation" {
            "dev".to_string()
        } else {
            s.to_string()
        }
    };
    norm(a) == norm(b)
}

fn split_name(split: &str) -> &str {
    if split == "test" {
        "test server"
    } else {
        split
    }
}

fn measured_cell(run: &LabelledRun, task: &str, metric: &str) -> Option<Cell> {
    let result = run.record.results.get(task)?;
    let measured = *result.metrics.get(metric)?;
    Some(Cell {
        run: run.label.clone(),
        measured,
        ci: result.ci.get(metric).copied(),
        delta: None,
        split: Some(result.split.clone()),
        markers: Vec::new(),
        reason: None,
    })
}

/// A cell without a measurement, with the record's reason when it skipped one of `tasks`.
fn empty_cell<'a>(run: &LabelledRun, mut tasks: impl Iterator<Item = &'a str>) -> Cell {
    Cell {
        run: run.label.clone(),
        measured: None,
        ci: None,
        delta: None,
        split: None,
        markers: Vec::new(),
        reason: tasks.find_map(|task| run.record.skipped.get(task).cloned()),
    }
}

/// Builds the comparison rows for `runs` against `tables` (which may be empty).
pub fn compare(runs: &[LabelledRun], tables: &[ReferenceTable]) -> Vec<Row> {
    let mut rows = Vec::new();
    for table in tables {
        for entry in &table.entries {
            let published_split = entry.split.clone().unwrap_or_else(|| table.split.clone());
            let cells = runs
                .iter()
                .map(|run| {
                    let mut cell = match measured_cell(run, &entry.task, &entry.metric) {
                        Some(cell) => cell,
                        None => entry
                            .alternates
                            .iter()
                            .find_map(|alt| {
                                measured_cell(run, &alt.task, &alt.metric).map(|mut cell| {
                                    cell.markers.push(format!(
                                        "≠protocol: {}.{} — {}",
                                        alt.task, alt.metric, alt.note
                                    ));
                                    cell
                                })
                            })
                            .unwrap_or_else(|| {
                                empty_cell(
                                    run,
                                    std::iter::once(entry.task.as_str())
                                        .chain(entry.alternates.iter().map(|a| a.task.as_str())),
                                )
                            }),
                    };
                    if let Some(split) = &cell.split {
                        if !same_split(split, &published_split) {
                            cell.markers.push(format!(
                                "≠split: {} vs {}",
                                split_name(split),
                                split_name(&published_split)
                            ));
                        }
                    }
                    if let (Some(expected), Some(result)) =
                        (&table.scoring, run.record.results.get(&entry.task))
                    {
                        if result.model.scoring != *expected {
                            cell.markers
                                .push(format!("≠scoring: {} vs {expected}", result.model.scoring));
                        }
                    }
                    cell.delta = cell.measured.map(|m| m - entry.raw());
                    cell
                })
                .collect();
            rows.push(Row {
                task: entry.task.clone(),
                metric: entry.metric.clone(),
                reference: Some(table.id.clone()),
                published: Some(entry.raw()),
                published_split: Some(published_split),
                scale: entry.scale(),
                cells,
            });
        }
        for average in &table.averages {
            let cells = runs
                .iter()
                .map(|run| match run.record.averages.get(&average.name) {
                    Some(a) => {
                        let mut markers = Vec::new();
                        if !a.missing.is_empty() {
                            markers.push(format!("partial: without {}", a.missing.join(", ")));
                        }
                        let splits: Vec<&str> = a
                            .included
                            .iter()
                            .filter_map(|t| run.record.results.get(t))
                            .map(|r| r.split.as_str())
                            .collect();
                        if let Some(split) = splits.first() {
                            if !same_split(split, &table.split) {
                                markers.push(format!(
                                    "≠split: {} vs {}",
                                    split_name(split),
                                    split_name(&table.split)
                                ));
                            }
                        }
                        Cell {
                            run: run.label.clone(),
                            measured: Some(a.value),
                            ci: None,
                            delta: Some(a.value - average.raw()),
                            split: splits.first().map(|s| s.to_string()),
                            markers,
                            reason: None,
                        }
                    }
                    None => empty_cell(run, std::iter::empty()),
                })
                .collect();
            rows.push(Row {
                task: "average".into(),
                metric: average.name.clone(),
                reference: Some(table.id.clone()),
                published: Some(average.raw()),
                published_split: Some(table.split.clone()),
                scale: average.scale.unwrap_or(100.0),
                cells,
            });
        }
    }
    // Measured tasks no reference row covers, in run order.
    let covered = |task: &str| {
        tables.iter().any(|t| {
            t.entries
                .iter()
                .any(|e| e.task == task || e.alternates.iter().any(|a| a.task == task))
        })
    };
    let mut extra: Vec<(String, String)> = Vec::new();
    for run in runs {
        for (task, result) in &run.record.results {
            if covered(task) {
                continue;
            }
            let mut metrics: Vec<&String> = result.metrics.keys().collect();
            metrics.sort_by_key(|m| (**m != result.table_metric, (*m).clone()));
            for metric in metrics {
                if !extra.iter().any(|(t, m)| t == task && m == metric) {
                    extra.push((task.clone(), metric.clone()));
                }
            }
        }
    }
    for (task, metric) in extra {
        let cells = runs
            .iter()
            .map(|run| {
                measured_cell(run, &task, &metric)
                    .unwrap_or_else(|| empty_cell(run, std::iter::once(task.as_str())))
            })
            .collect();
        rows.push(Row {
            scale: default_scale(&metric),
            task,
            metric,
            reference: None,
            published: None,
            published_split: None,
            cells,
        });
    }
    rows
}
