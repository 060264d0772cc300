//! The engine: the one place that knows both tasks and models.
//!
//! One run, top to bottom: task files → dataset rows → examples → batched model calls
//! (classification heads, or sentence embeddings for similarity) → per-example results →
//! metric accumulators → result record → markdown table / files.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context as _};
use evalrun_core::bootstrap::{self, BootstrapSpec, Interval};
use evalrun_core::{ConfusionMatrix, Example, Gold, Metric, PairedScores, Prediction};
use evalrun_report::record::BuildInfo;
use evalrun_report::{
    sha256_file, write_atomic, DataProvenance, ModelProvenance, PredictionLine, RunRecord,
    RuntimeProvenance, TaskResult,
};
use evalrun_runtime::{Head, Model, Runtime, RuntimeOptions};
use evalrun_tasks::{load_split, Dataset, LabelSpec, TaskRegistry, TaskSpec};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::resolve::ModelResolver;
use crate::settings::Settings;

/// A task's split: from `--data-dir` when given, else from its Hub Parquet source.
fn load_data(
    task: &TaskSpec,
    split: &str,
    settings: &Settings,
    resolver: &ModelResolver,
) -> anyhow::Result<Dataset> {
    if let Some(dir) = &settings.data_dir {
        return Ok(load_split(task, split, dir)?);
    }
    let hub = crate::sources::hub_source(
        &task.name,
        split,
        task.splits.get(split).and_then(|s| s.hub.as_ref()),
        task.splits.keys(),
    )?;
    let path = resolver.dataset_file(&hub.dataset, &hub.path)?;
    Ok(evalrun_tasks::parquet::load_split(task, split, hub, &path)?)
}

pub fn list_tasks(tasks_dir: Option<&Path>) -> anyhow::Result<()> {
    let registry = registry(tasks_dir)?;
    let mut out = String::from(
        "| Task | Suite | Version | Metrics | Description |\n|---|---|---:|---|---|\n",
    );
    for task in registry.iter() {
        let metrics: Vec<&str> = task.metrics.iter().map(|m| m.name()).collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            task.name,
            task.suite,
            task.version,
            metrics.join(", "),
            task.description
        );
    }
    out.push_str("\n| LM task | Version | Metrics | Corresponds to |\n|---|---:|---|---|\n");
    for task in crate::lm::lm_tasks()? {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            task.name,
            task.version,
            task.metrics.join(", "),
            task.corresponds_to
        );
    }
    out.push_str("\n| T5 text-to-text task | Suite | Version | Metrics | Description |\n|---|---|---:|---|---|\n");
    for task in evalrun_tasks::t2t::embedded()? {
        let _ = writeln!(
            out,
            "| {}{} | {} | {} | {} | {} |",
            task.name,
            task.alias
                .as_deref()
                .map(|a| format!(" (`{a}` in `evalrun {}`)", task.suite))
                .unwrap_or_default(),
            task.suite,
            task.version,
            task.metrics.join(", "),
            task.description
        );
    }
    print!("{out}");
    Ok(())
}

fn registry(tasks_dir: Option<&Path>) -> anyhow::Result<TaskRegistry> {
    let mut registry = TaskRegistry::embedded()?;
    if let Some(dir) = tasks_dir {
        registry.add_dir(dir)?;
    }
    Ok(registry)
}

/// A model directory, opened once and shared by the tasks that use it.
struct LoadedModel {
    model: Model,
    provenance: ModelProvenance,
    /// A preset's head label order, overriding `id2label`.
    labels: Option<Vec<String>>,
}

/// Everything one evaluation produced, before anything is written.
pub struct Execution {
    pub record: RunRecord,
    pub lines: Vec<PredictionLine>,
    pub submissions: Vec<(PathBuf, String)>,
    /// Task names in table order.
    pub order: Vec<String>,
}

/// Evaluates, then writes the requested files (each atomically, only after every task
/// succeeded) and prints the table.
pub fn run(settings: Settings) -> anyhow::Result<()> {
    let execution = execute(&settings, &runtime(&settings)?)?;
    write_outputs(&settings, &execution)?;
    print!(
        "{}",
        evalrun_report::markdown::render(&execution.record, &execution.order)
    );
    Ok(())
}

pub fn write_outputs(settings: &Settings, execution: &Execution) -> anyhow::Result<()> {
    if let Some(path) = &settings.predictions {
        let mut text = String::new();
        for line in &execution.lines {
            text.push_str(&serde_json::to_string(line)?);
            text.push('\n');
        }
        write_atomic(path, text.as_bytes())?;
    }
    for (path, text) in &execution.submissions {
        write_atomic(path, text.as_bytes())?;
    }
    if let Some(path) = &settings.output {
        let mut json = serde_json::to_string_pretty(&execution.record)?;
        json.push('\n');
        write_atomic(path, json.as_bytes())?;
    }
    Ok(())
}

/// ONNX Runtime with the run's device and threads. ONNX Runtime allows one environment per
/// process, so a process that evaluates several times creates this once.
pub fn runtime(settings: &Settings) -> anyhow::Result<Runtime> {
    Ok(Runtime::new(RuntimeOptions {
        device: settings.device,
        threads: settings.threads,
    })?)
}

pub fn execute(settings: &Settings, runtime: &Runtime) -> anyhow::Result<Execution> {
    let started = Instant::now();
    let registry = registry(settings.tasks_dir.as_deref())?;
    let tasks = registry.resolve(settings.suite, &settings.tasks)?;
    let explicit = |task: &TaskSpec| {
        settings
            .tasks
            .iter()
            .any(|t| *t == task.name || Some(t.as_str()) == task.group.as_deref())
    };

    let resolver = ModelResolver::new(settings.presets.as_deref(), settings.offline)?;
    // Data first: it is cheap, and a missing file should not cost a model load.
    let (datasets, skipped) = crate::sources::load_all(
        &tasks,
        |t: &TaskSpec| t.name.clone(),
        explicit,
        |task| {
            let split = settings
                .split
                .clone()
                .unwrap_or_else(|| task.default_split.clone());
            load_data(task, &split, settings, &resolver)
        },
        &settings.data_origin(),
    )?;

    let mut models: HashMap<PathBuf, LoadedModel> = HashMap::new();
    let mut record = new_record(settings, runtime, skipped);
    let mut lines: Vec<PredictionLine> = Vec::new();
    let mut submissions: Vec<(PathBuf, String)> = Vec::new();

    for (task, dataset) in &datasets {
        let resolved = resolver.resolve(&settings.model, task.model_task())?;
        let dir = resolved.dir.clone();
        if !models.contains_key(&dir) {
            let mut loaded = load_model(runtime, &dir, settings.max_length)?;
            loaded.labels = resolved.labels.clone();
            loaded.provenance.source = Some(resolved.origin.clone()).filter(|o| o != "local");
            models.insert(dir.clone(), loaded);
        }
        let loaded = models.get_mut(&dir).expect("inserted above");
        let task_started = Instant::now();
        let outcome = evaluate(
            task,
            dataset,
            loaded,
            settings.batch_size,
            settings.bootstrap,
        )
        .with_context(|| format!("task `{}` with model `{}`", task.name, dir.display()))?;
        let wall = task_started.elapsed().as_secs_f64();

        lines.extend(outcome.lines);
        if let Some(dir) = &settings.submission_dir {
            if let Some(file) = &task.submission_file {
                submissions.push((dir.join(file), outcome.submission));
            }
        }
        let mut provenance = loaded.provenance.clone();
        provenance.scoring = outcome.scoring.to_string();
        provenance.label_mapping = outcome.label_mapping;
        record.results.insert(
            task.name.clone(),
            TaskResult {
                metrics: outcome.metrics,
                n: dataset.examples.len(),
                split: dataset.split.clone(),
                task_version: task.version,
                protocol: task.protocol.clone(),
                table_metric: task.table_metric.name().to_string(),
                model: provenance,
                data: DataProvenance {
                    path: dataset.path.display().to_string(),
                    sha256: dataset.sha256.clone(),
                    labels_path: task.splits[&dataset.split]
                        .labels_from
                        .as_ref()
                        .zip(settings.data_dir.as_ref())
                        .map(|(l, dir)| dir.join(&l.path).display().to_string()),
                    labels_sha256: dataset.labels_sha256.clone(),
                },
                wall_seconds: wall,
                examples_per_second: dataset.examples.len() as f64 / wall.max(1e-9),
                ci: outcome.ci,
                bootstrap: (settings.bootstrap.resamples > 0).then_some(settings.bootstrap),
                sums: BTreeMap::new(),
                windows: None,
            },
        );
    }
    record.compute_averages();
    record.wall_seconds = started.elapsed().as_secs_f64();

    let order: Vec<String> = tasks.iter().map(|t| t.name.clone()).collect();
    Ok(Execution {
        record,
        lines,
        submissions,
        order,
    })
}

/// An empty record for one run: build, command and runtime provenance, and the skipped tasks.
pub fn new_record(
    settings: &Settings,
    runtime: &Runtime,
    skipped: BTreeMap<String, String>,
) -> RunRecord {
    RunRecord {
        evalrun: BuildInfo {
            version: env!("CARGO_PKG_VERSION").into(),
            git_commit: env!("EVALRUN_GIT_COMMIT").into(),
        },
        command: settings.command.to_string(),
        runtime: RuntimeProvenance {
            ort_version: runtime.version().to_string(),
            ort_library: relative_to_cwd(runtime.library()),
            execution_provider: runtime.execution_provider().to_string(),
            device: settings.device.to_string(),
            threads: settings.threads,
            batch_size: settings.batch_size,
        },
        results: BTreeMap::new(),
        skipped,
        averages: BTreeMap::new(),
        wall_seconds: 0.0,
    }
}

/// A path as shown in records: relative to the working directory when it lies below it, so
/// records committed as baselines carry no machine-specific prefix.
pub fn relative_to_cwd(path: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string()
}

fn load_model(
    runtime: &Runtime,
    dir: &Path,
    max_length: Option<usize>,
) -> anyhow::Result<LoadedModel> {
    let model = Model::load(runtime, dir, max_length)?;
    let files = model.files();
    let provenance = ModelProvenance {
        path: files.onnx.display().to_string(),
        sha256: sha256_file(&files.onnx)?,
        tokenizer_sha256: sha256_file(&files.tokenizer)?,
        scoring: String::new(),
        max_length: model.max_length(),
        label_mapping: None,
        source: None,
    };
    Ok(LoadedModel {
        model,
        provenance,
        labels: None,
    })
}

/// What one task produced.
struct Outcome {
    metrics: BTreeMap<String, Option<f64>>,
    ci: BTreeMap<String, Interval>,
    lines: Vec<PredictionLine>,
    submission: String,
    scoring: &'static str,
    label_mapping: Option<String>,
}

fn evaluate(
    task: &TaskSpec,
    dataset: &Dataset,
    loaded: &mut LoadedModel,
    batch_size: usize,
    bootstrap: BootstrapSpec,
) -> anyhow::Result<Outcome> {
    let examples = &dataset.examples;
    let progress = progress_bar(&task.name, examples.len());
    let mut tick = |n: usize| progress.inc(n as u64);
    let model = &mut loaded.model;
    let (predictions, scoring, label_mapping) = match (model.head(), &task.labels) {
        (Head::Logits { num_labels }, LabelSpec::Classification { .. }) => {
            let mapping = LabelMapping::new(task, model, num_labels, loaded.labels.as_deref())?;
            let inputs = pair_inputs(examples);
            let logits = model.classify(&inputs, batch_size, &mut tick)?;
            let predictions = logits
                .into_iter()
                .map(|l| Prediction::Class { class: mapping.head_class(&l), logits: l })
                .collect::<Vec<_>>();
            (predictions, "logits", Some(mapping.description))
        }
        (Head::Logits { num_labels }, LabelSpec::Regression {}) => {
            if num_labels != 1 {
                bail!("task `{}` is a regression task, but the model's `logits` has {num_labels} columns, not 1", task.name);
            }
            let inputs = pair_inputs(examples);
            let logits = model.classify(&inputs, batch_size, &mut tick)?;
            (logits.into_iter().map(|l| Prediction::Score { score: f64::from(l[0]) }).collect(), "logits", None)
        }
        (Head::SentenceEmbedding | Head::TokenStates, LabelSpec::Regression {}) => {
            if examples.iter().any(|e| e.text_b.is_none()) {
                bail!("task `{}` has single texts; similarity scoring needs sentence pairs", task.name);
            }
            let mut texts: Vec<&str> = examples.iter().map(|e| e.text_a.as_str()).collect();
            texts.extend(examples.iter().map(|e| e.text_b.as_deref().unwrap_or_default()));
            progress.set_length(texts.len() as u64);
            let embeddings = model.embed(&texts, batch_size, &mut tick)?;
            let (a, b) = embeddings.split_at(examples.len());
            let scores = a.iter().zip(b).map(|(x, y)| Prediction::Score { score: cosine(x, y) }).collect();
            (scores, "embedding cosine", None)
        }
        (head, LabelSpec::Classification { .. }) => bail!(
            "task `{}` needs a classification head (output `logits`), but the model's output is `{}`; \
             embedding models can only score similarity tasks (stsb, stsbenchmark)",
            task.name,
            head.output()
        ),
    };
    progress.finish_and_clear();
    Ok(score(
        task,
        examples,
        predictions,
        scoring,
        label_mapping,
        bootstrap,
    ))
}

fn pair_inputs(examples: &[Example]) -> Vec<(&str, Option<&str>)> {
    examples
        .iter()
        .map(|e| (e.text_a.as_str(), e.text_b.as_deref()))
        .collect()
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

pub fn progress_bar(task: &str, len: usize) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{prefix:>16} {bar:40} {pos}/{len} [{elapsed_precise}<{eta_precise}] {per_sec}",
    ) {
        bar.set_style(style);
    }
    bar.set_prefix(task.to_string());
    bar
}

/// Maps the model's output columns onto the task's head label order.
struct LabelMapping {
    /// `to_head[model column] = head label index`.
    to_head: Vec<usize>,
    description: String,
}

impl LabelMapping {
    fn new(
        task: &TaskSpec,
        model: &Model,
        num_labels: usize,
        preset_labels: Option<&[String]>,
    ) -> anyhow::Result<Self> {
        let head = task.labels.head_names();
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
            .or_else(|| model.config().label_names());
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

/// Turns predictions into metrics (with bootstrap intervals), predictions lines and the
/// submission file body.
fn score(
    task: &TaskSpec,
    examples: &[Example],
    predictions: Vec<Prediction>,
    scoring: &'static str,
    label_mapping: Option<String>,
    bootstrap: BootstrapSpec,
) -> Outcome {
    let mut lines = Vec::with_capacity(examples.len());
    let mut submission = String::from("index\tprediction\n");
    let mut metrics = BTreeMap::new();
    let mut ci = BTreeMap::new();
    let mut record = |metric: Metric, value: f64, interval: Option<Interval>| {
        metrics.insert(
            metric.name().to_string(),
            Some(value).filter(|v| v.is_finite()),
        );
        if let Some(interval) = interval {
            ci.insert(metric.name().to_string(), interval);
        }
    };
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
                lines.push(PredictionLine {
                    task: task.name.clone(),
                    id: example.id,
                    label: match example.gold {
                        Some(Gold::Class(g)) => names[g].clone().into(),
                        _ => serde_json::Value::Null,
                    },
                    prediction: names[class].clone().into(),
                    logits: logits.iter().map(|&x| f64::from(x)).collect(),
                    input: None,
                    output: None,
                    target: None,
                });
            }
            if !pairs.is_empty() {
                let positive = labels.positive_index();
                let value = |metric: Metric, matrix: &ConfusionMatrix| match metric {
                    Metric::Accuracy => matrix.accuracy(),
                    Metric::F1 => matrix.f1(positive.expect("validated: f1 has a positive label")),
                    Metric::Mcc => matrix.mcc(),
                    Metric::Pearson | Metric::Spearman => {
                        unreachable!("validated: classification metrics only")
                    }
                };
                let matrix_of = |indices: &mut dyn Iterator<Item = usize>| {
                    let mut matrix = ConfusionMatrix::new(names.len());
                    for i in indices {
                        matrix.push(pairs[i].0, pairs[i].1);
                    }
                    matrix
                };
                let full = matrix_of(&mut (0..pairs.len()));
                for &metric in &task.metrics {
                    let interval = bootstrap::bootstrap(pairs.len(), bootstrap, |idx| {
                        value(metric, &matrix_of(&mut idx.iter().copied()))
                    });
                    record(metric, value(metric, &full), interval);
                }
            }
        }
        LabelSpec::Regression {} => {
            let mut pairs: Vec<(f64, f64)> = Vec::new();
            for (example, prediction) in examples.iter().zip(predictions) {
                let Prediction::Score { score } = prediction else {
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
                lines.push(PredictionLine {
                    task: task.name.clone(),
                    id: example.id,
                    label: match example.gold {
                        Some(Gold::Score(g)) => g.into(),
                        _ => serde_json::Value::Null,
                    },
                    prediction: score.into(),
                    logits: vec![score],
                    input: None,
                    output: None,
                    target: None,
                });
            }
            if !pairs.is_empty() {
                let value = |metric: Metric, scores: &PairedScores| match metric {
                    Metric::Pearson => scores.pearson(),
                    Metric::Spearman => scores.spearman(),
                    _ => unreachable!("validated: regression metrics only"),
                };
                let scores_of = |indices: &mut dyn Iterator<Item = usize>| {
                    let mut scores = PairedScores::new();
                    for i in indices {
                        scores.push(pairs[i].0, pairs[i].1);
                    }
                    scores
                };
                let full = scores_of(&mut (0..pairs.len()));
                for &metric in &task.metrics {
                    let interval = bootstrap::bootstrap(pairs.len(), bootstrap, |idx| {
                        value(metric, &scores_of(&mut idx.iter().copied()))
                    });
                    record(metric, value(metric, &full), interval);
                }
            }
        }
    }
    Outcome {
        metrics,
        ci,
        lines,
        submission,
        scoring,
        label_mapping,
    }
}
