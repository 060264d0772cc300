//! Head tasks (`kind = "head"`): GLUE-style classification and regression through a model's
//! `logits`, and similarity through the cosine of two sentence embeddings.
//!
//! Requests: `classify(text_a, text_b?)` per example, or `embed(text)` for every first text
//! and then every second text. Responses become class predictions (argmax through the label
//! mapping) or scores, then confusion counts / paired scores, then metrics.

use std::fmt::Write as _;

use evalrun_core::request::{ModelInfo, ModelKind, Request, Response};
use evalrun_core::{ConfusionMatrix, Example, Gold, Metric, PairedScores};
use evalrun_report::PredictionLine;
use evalrun_tasks::{Dataset, LabelSpec, TaskSpec};

use crate::error::{bail, Result};
use crate::score::{single_units, Recorder, Scored};
use crate::Settings;

/// What one example asks of the model.
pub fn requests(task: &TaskSpec, data: &Dataset, info: &ModelInfo) -> Result<Vec<Request>> {
    let examples = &data.examples;
    match (info.kind, &task.labels) {
        (ModelKind::Classifier, LabelSpec::Regression {}) if info.num_labels != Some(1) => bail!(
            "task `{}` is a regression task, but the model's `logits` has {} columns, not 1",
            task.name,
            info.num_labels.unwrap_or(0)
        ),
        (ModelKind::Classifier, _) => Ok(examples
            .iter()
            .map(|e| Request::Classify {
                text_a: e.text_a.clone(),
                text_b: e.text_b.clone(),
            })
            .collect()),
        (ModelKind::Embedding, LabelSpec::Regression {}) => {
            if examples.iter().any(|e| e.text_b.is_none()) {
                bail!(
                    "task `{}` has single texts; similarity scoring needs sentence pairs",
                    task.name
                );
            }
            // All first texts, then all second texts: one embedding each.
            Ok(examples
                .iter()
                .map(|e| e.text_a.clone())
                .chain(examples.iter().map(|e| e.text_b.clone().unwrap_or_default()))
                .map(|text| Request::Embed { text })
                .collect())
        }
        (ModelKind::Embedding, LabelSpec::Classification { .. }) => bail!(
            "task `{}` needs a classification head (output `logits`), but the model's output is `{}`; \
             embedding models can only score similarity tasks (stsb, stsbenchmark)",
            task.name,
            info.output
        ),
        (other, _) => bail!(
            "task `{}` is a head task; a {} cannot answer it",
            task.name,
            other.name()
        ),
    }
}

/// One example's prediction.
enum Prediction {
    /// A head class index, with the raw head outputs in the model's order.
    Class {
        class: usize,
        logits: Vec<f32>,
    },
    Score(f64),
}

pub fn score(
    task: &TaskSpec,
    data: &Dataset,
    info: &ModelInfo,
    preset_labels: Option<&[String]>,
    responses: Vec<Response>,
    settings: &Settings,
) -> Result<Scored> {
    let examples = &data.examples;
    let mut label_mapping = None;
    let predictions: Vec<Prediction> = match (info.kind, &task.labels) {
        (ModelKind::Classifier, LabelSpec::Classification { .. }) => {
            let mapping = LabelMapping::new(task, info, preset_labels)?;
            let predictions = responses
                .into_iter()
                .map(|r| match r {
                    Response::Logits { logits } => Prediction::Class {
                        class: mapping.head_class(&logits),
                        logits,
                    },
                    other => unreachable!("classify answers with logits, not {other:?}"),
                })
                .collect();
            label_mapping = Some(mapping.description);
            predictions
        }
        (ModelKind::Classifier, LabelSpec::Regression {}) => responses
            .into_iter()
            .map(|r| match r {
                Response::Logits { logits } => Prediction::Score(f64::from(logits[0])),
                other => unreachable!("classify answers with logits, not {other:?}"),
            })
            .collect(),
        (_, _) => {
            let embeddings: Vec<Vec<f32>> = responses
                .into_iter()
                .map(|r| match r {
                    Response::Embedding { embedding } => embedding,
                    other => unreachable!("embed answers with embeddings, not {other:?}"),
                })
                .collect();
            let (a, b) = embeddings.split_at(examples.len());
            a.iter()
                .zip(b)
                .map(|(x, y)| Prediction::Score(cosine(x, y)))
                .collect()
        }
    };
    let mut scored = score_predictions(task, examples, predictions, settings);
    scored.scoring = info.scoring.clone();
    scored.label_mapping = label_mapping;
    Ok(scored)
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (norm(a) * norm(b)).max(1e-12)
}

/// Maps the model's output columns onto the task's head label order.
struct LabelMapping {
    /// `to_head[model column] = head label index`.
    to_head: Vec<usize>,
    description: String,
}

impl LabelMapping {
    fn new(task: &TaskSpec, info: &ModelInfo, preset_labels: Option<&[String]>) -> Result<Self> {
        let head = task.labels.head_names();
        let num_labels = info.num_labels.unwrap_or(0);
        if num_labels != head.len() {
            bail!(
                "the model has {num_labels} labels but task `{}` needs {} ({})",
                task.name,
                head.len(),
                head.join(", ")
            );
        }
        let names = preset_labels
            .map(<[String]>::to_vec)
            .or_else(|| info.label_names.clone());
        let generic = |n: &str| {
            n.strip_prefix("LABEL_")
                .is_some_and(|d| d.parse::<usize>().is_ok())
        };
        match names {
            Some(names) if names.len() == num_labels && !names.iter().all(|n| generic(n)) => {
                let key = |s: &str| s.to_lowercase().replace(['-', ' '], "_");
                let mut to_head = Vec::with_capacity(num_labels);
                for name in &names {
                    let Some(i) = head.iter().position(|h| key(h) == key(name)) else {
                        bail!(
                            "config.json `id2label` name `{name}` matches none of task `{}`'s labels ({}); \
                             export the model with the task's label names or generic LABEL_i names",
                            task.name,
                            head.join(", ")
                        );
                    };
                    if to_head.contains(&i) {
                        bail!("config.json `id2label` names two columns `{}`", head[i]);
                    }
                    to_head.push(i);
                }
                Ok(Self {
                    to_head,
                    description: format!("id2label names: [{}]", names.join(", ")),
                })
            }
            _ => Ok(Self {
                to_head: (0..num_labels).collect(),
                description: format!("generic labels, HF glue index order: [{}]", head.join(", ")),
            }),
        }
    }

    /// argmax over the logits (first maximum wins, as numpy's argmax), as a head label index.
    fn head_class(&self, logits: &[f32]) -> usize {
        let mut best = 0;
        for (i, v) in logits.iter().enumerate() {
            if *v > logits[best] {
                best = i;
            }
        }
        self.to_head[best]
    }
}

fn line(
    task: &TaskSpec,
    example: &Example,
    label: serde_json::Value,
    prediction: serde_json::Value,
) -> PredictionLine {
    let mut line = PredictionLine::new(&task.name, example.id, label, prediction);
    line.text_a = Some(example.text_a.clone());
    line.text_b = example.text_b.clone();
    line
}

/// Every metric of `task` over `rows` examples, each resampled alone for its interval.
fn per_row_metrics(
    scored: &mut Scored,
    rows: usize,
    task: &TaskSpec,
    settings: &Settings,
    value: &dyn Fn(Metric, &[usize]) -> f64,
) {
    let units = single_units(rows);
    let mut put = Recorder {
        metrics: &mut scored.metrics,
        ci: &mut scored.ci,
        units: &units,
        spec: settings.bootstrap,
    };
    for &metric in &task.metrics {
        put.rows(metric.name(), &|rows| value(metric, rows));
    }
}

/// Turns predictions into metrics (with bootstrap intervals), predictions lines and the
/// submission file body.
fn score_predictions(
    task: &TaskSpec,
    examples: &[Example],
    predictions: Vec<Prediction>,
    settings: &Settings,
) -> Scored {
    let mut scored = Scored::default();
    let mut submission = String::from("index\tprediction\n");
    match &task.labels {
        labels @ LabelSpec::Classification { names, values, .. } => {
            let head = labels.head_names();
            let mut pairs: Vec<(usize, usize)> = Vec::new();
            for (example, prediction) in examples.iter().zip(predictions) {
                let Prediction::Class {
                    class: head_class,
                    logits,
                } = prediction
                else {
                    unreachable!("classification predictions")
                };
                let class = labels.collapse(head_class);
                if let Some(Gold::Class(gold)) = example.gold {
                    pairs.push((gold, class));
                }
                // The server wants the file's own label spelling; AX wants the MNLI label.
                let server_label = if head.len() != names.len() {
                    head[head_class].clone()
                } else {
                    values
                        .as_ref()
                        .map_or_else(|| names[class].clone(), |v| v[class].clone())
                };
                let _ = writeln!(
                    submission,
                    "{}\t{server_label}",
                    example.index.as_deref().unwrap_or_default()
                );
                let label = match example.gold {
                    Some(Gold::Class(g)) => names[g].clone().into(),
                    _ => serde_json::Value::Null,
                };
                let mut l = line(task, example, label, names[class].clone().into());
                l.logits = logits.iter().map(|&x| f64::from(x)).collect();
                scored.lines.push(l);
            }
            if !pairs.is_empty() {
                let positive = labels.positive_index();
                let value = |metric: Metric, matrix: &ConfusionMatrix| match metric {
                    Metric::Accuracy => matrix.accuracy(),
                    Metric::F1 => matrix.f1(positive.expect("validated: f1 has a positive label")),
                    Metric::Mcc => matrix.mcc(),
                    other => unreachable!("validated: `{other}` is not a classification metric"),
                };
                let matrix_of = |rows: &[usize]| {
                    let mut matrix = ConfusionMatrix::new(names.len());
                    for &i in rows {
                        matrix.push(pairs[i].0, pairs[i].1);
                    }
                    matrix
                };
                per_row_metrics(&mut scored, pairs.len(), task, settings, &|metric, rows| {
                    value(metric, &matrix_of(rows))
                });
            }
        }
        LabelSpec::Regression {} => {
            let mut pairs: Vec<(f64, f64)> = Vec::new();
            for (example, prediction) in examples.iter().zip(predictions) {
                let Prediction::Score(score) = prediction else {
                    unreachable!("regression predictions")
                };
                if let Some(Gold::Score(gold)) = example.gold {
                    pairs.push((score, gold));
                }
                let _ = writeln!(
                    submission,
                    "{}\t{score:.3}",
                    example.index.as_deref().unwrap_or_default()
                );
                let label = match example.gold {
                    Some(Gold::Score(g)) => g.into(),
                    _ => serde_json::Value::Null,
                };
                let mut l = line(task, example, label, score.into());
                l.logits = vec![score];
                scored.lines.push(l);
            }
            if !pairs.is_empty() {
                let value = |metric: Metric, scores: &PairedScores| match metric {
                    Metric::Pearson => scores.pearson(),
                    Metric::Spearman => scores.spearman(),
                    other => unreachable!("validated: `{other}` is not a regression metric"),
                };
                let scores_of = |rows: &[usize]| {
                    let mut scores = PairedScores::new();
                    for &i in rows {
                        scores.push(pairs[i].0, pairs[i].1);
                    }
                    scores
                };
                per_row_metrics(&mut scored, pairs.len(), task, settings, &|metric, rows| {
                    value(metric, &scores_of(rows))
                });
            }
        }
    }
    scored.submission = task.submission_file.as_ref().map(|_| submission);
    scored
}
