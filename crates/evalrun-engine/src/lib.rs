//! The one evaluation engine: the only place that knows both tasks and models.
//!
//! One run, top to bottom, for every kind of task:
//!
//! ```text
//! --model → resolved directory → model family (encoder, causal LM, seq2seq)
//!   → task files of that kind (one catalog) → data (--data-dir, Hub Parquet, pinned URL) → --limit
//!   → requests (classify | embed | loglikelihood | rolling | generate), grouped by kind
//!   → one backend call per kind → responses re-attached by position
//!   → per-example results → metrics with bootstrap intervals → one TaskResult builder
//!   → record (with its config block) + prediction lines + submission files
//! ```
//!
//! The CLI turns flags into [`Settings`], calls [`evaluate`] and renders the record; it never
//! looks inside a task. Tasks never see ONNX Runtime and the runtime never sees a task: they
//! meet here, through [`evalrun_core::request`].

pub mod data;
pub mod error;
pub mod fetch;
pub mod head;
pub mod lm;
pub mod merge;
pub mod presets;
pub mod reproduce;
pub mod resolve;
pub mod score;
pub mod t2t;
mod time;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

pub use evalrun_cache::CacheMode;
use evalrun_cache::{Cache, CachedBackend, CachedError};
use serde::{Deserialize, Serialize};

use evalrun_core::bootstrap::BootstrapSpec;
use evalrun_core::request::{Backend, ModelKind, Progress, Request, RequestKind, Response};
use evalrun_core::Metric;
use evalrun_report::record::BuildInfo;
use evalrun_report::{
    DataProvenance, GraphHash, ModelProvenance, PredictionLine, RunConfig, RunRecord,
    RuntimeProvenance, TaskResult,
};
use evalrun_runtime::{BackendOptions, Device, Edits, Family, OrtBackend, Runtime, RuntimeError};
use evalrun_tasks::{Catalog, Task, TaskKind};

pub use data::Data;
use error::{bail, Context as _};
pub use error::{EngineError, Result};
use resolve::{ModelResolver, ResolvedModel};
pub use score::Scored;

/// Text-to-text decoding flags.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DecodeFlags {
    pub max_new_tokens: Option<usize>,
    pub beams: Option<usize>,
    pub length_penalty: Option<f64>,
    pub no_kv_cache: bool,
    pub rank_classification: bool,
}

/// Causal-LM window flags.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LmFlags {
    /// Window length (default: the model's positions).
    pub context: Option<usize>,
    /// Strided windows (the transformers guide) instead of lm-eval's disjoint ones.
    pub stride: Option<usize>,
    /// Padded tokens per ONNX Runtime call at most (`--batch-tokens`, every family; causal
    /// LMs default to 1024, others to no bound).
    #[serde(default)]
    pub batch_tokens: Option<usize>,
    /// Score every (context, continuation) pair alone instead of sharing a context's
    /// key/value cache among its candidates (`--no-shared-prefix`).
    #[serde(default)]
    pub no_shared_prefix: bool,
    /// lm-eval's `add_bos_token` model argument (`--add-bos-token true|false`); default: the
    /// tokenizer as saved.
    #[serde(default)]
    pub add_bos_token: Option<bool>,
    /// lm-eval's `prefix_token_id` (`--prefix-token ID|TOKEN`); default: BOS, else EOS.
    #[serde(default)]
    pub prefix_token: Option<String>,
}

/// `--batch-size N` or `--batch-size auto` (with its `--max-memory` budget in bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum BatchSize {
    Rows(usize),
    Auto { max_memory: u64 },
}

/// `--cache DIR --cache-mode MODE`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheSettings {
    pub dir: PathBuf,
    #[serde(with = "mode_name")]
    pub mode: CacheMode,
}

mod mode_name {
    use evalrun_cache::CacheMode;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(mode: &CacheMode, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(mode.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<CacheMode, D::Error> {
        let text = String::deserialize(d)?;
        CacheMode::parse(&text).ok_or_else(|| serde::de::Error::custom("unknown cache mode"))
    }
}

/// `--shard I/N`: this run keeps the evaluation units whose position `% count == index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// 0-based.
    pub index: usize,
    pub count: usize,
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Everything one evaluation needs, resolved once from flags by the CLI.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    /// The subcommand (`run`, `glue`, `superglue`, `lm`, `perplexity`, `calibrate`).
    pub command: String,
    /// The arguments as given, for the record.
    pub command_line: Vec<String>,
    pub build: BuildInfo,
    /// A suite alias (`glue`, `superglue`) restricts `--task` to that suite.
    pub suite: Option<String>,
    pub model: String,
    /// Task names, groups, suite aliases or `all`.
    pub tasks: Vec<String>,
    /// `evalrun perplexity --file`: one ad-hoc rolling task over the whole file.
    pub file: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub presets: Option<PathBuf>,
    pub offline: bool,
    pub split: Option<String>,
    pub submission_dir: Option<PathBuf>,
    /// Rows per ONNX Runtime call (default: 8 for causal LMs, 32 otherwise), or `auto`.
    pub batch_size: Option<BatchSize>,
    pub max_length: Option<usize>,
    pub threads: usize,
    pub device: Device,
    pub tasks_dir: Option<PathBuf>,
    pub bootstrap: BootstrapSpec,
    /// The first N evaluation units of each task.
    pub limit: Option<usize>,
    pub decode: DecodeFlags,
    pub lm: LmFlags,
    /// The load-time graph edits (`--graph-edits`): `auto` (default), `none` or a list.
    #[serde(default, with = "edits_spec")]
    pub graph_edits: Edits,
    /// The request cache (default off).
    #[serde(default)]
    pub cache: Option<CacheSettings>,
    #[serde(default)]
    pub shard: Option<Shard>,
    /// Skip named tasks whose data is absent (with their reason) instead of failing:
    /// `evalrun reproduce` names every task of a table, present or not.
    #[serde(default)]
    pub skip_absent: bool,
    /// Set by Ctrl-C: stop after the batch in flight (cached runs).
    #[serde(skip)]
    pub interrupt: Option<Arc<AtomicBool>>,
}

impl Settings {
    /// Defaults for `model` and `tasks`; the CLI overrides the rest.
    pub fn new(command: &str, model: &str, tasks: &[&str]) -> Self {
        Self {
            command: command.into(),
            command_line: Vec::new(),
            build: BuildInfo {
                version: env!("CARGO_PKG_VERSION").into(),
                git_commit: "unknown".into(),
            },
            suite: None,
            model: model.into(),
            tasks: tasks.iter().map(|t| t.to_string()).collect(),
            file: None,
            data_dir: None,
            presets: None,
            offline: false,
            split: None,
            submission_dir: None,
            batch_size: None,
            max_length: None,
            threads: 1,
            device: Device::Cpu,
            tasks_dir: None,
            bootstrap: BootstrapSpec {
                resamples: 1000,
                seed: 1234,
                level: 0.95,
            },
            limit: None,
            decode: DecodeFlags::default(),
            lm: LmFlags::default(),
            graph_edits: Edits::auto(),
            cache: None,
            shard: None,
            skip_absent: false,
            interrupt: None,
        }
    }

    /// Rows per call as given, or the family's default (also the record's figure until
    /// `auto` has chosen).
    fn batch_size(&self, family: Family) -> usize {
        match self.batch_size {
            Some(BatchSize::Rows(n)) => n,
            _ => match family {
                Family::CausalLm => 8,
                _ => 32,
            },
        }
    }

    /// What `--batch-size auto` sizes batches for: the budget, and the widest decoding a
    /// task may ask (4 beams, 256 new tokens) unless the flags say.
    fn auto_batch(&self) -> Option<evalrun_runtime::memory::AutoOptions> {
        match self.batch_size {
            Some(BatchSize::Auto { max_memory }) => Some(evalrun_runtime::memory::AutoOptions {
                max_memory,
                beams: self.decode.beams.unwrap_or(4),
                new_tokens: self.decode.max_new_tokens.unwrap_or(256),
                use_cache: !self.decode.no_kv_cache,
            }),
            _ => None,
        }
    }
}

/// Progress bars for the tasks of a run; the CLI draws them.
pub trait Reporter {
    /// A bar for one task; dropped when the task's model calls are done.
    fn task(&self, name: &str) -> Box<dyn Progress>;
}

/// Reports nothing.
pub struct Silent;

impl Reporter for Silent {
    fn task(&self, _: &str) -> Box<dyn Progress> {
        Box::new(evalrun_core::request::NoProgress)
    }
}

/// Everything one evaluation produced, before anything is written.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub record: RunRecord,
    pub lines: Vec<PredictionLine>,
    pub submissions: Vec<(PathBuf, String)>,
    /// Task names in table order (skipped ones included).
    pub order: Vec<String>,
}

impl Evaluation {
    /// Writes the requested files as one unit. Everything is serialised and staged first
    /// (temporary files beside each destination), so a destination that cannot be written
    /// fails the run before any file changes; then the predictions and submissions are
    /// renamed into place and the record last. The record names the predictions' sha256, so a
    /// record is never silently read beside another run's predictions. If the record cannot
    /// be committed, the files committed with it are removed again.
    pub fn write(&self, predictions: Option<&Path>, output: Option<&Path>) -> Result<()> {
        let mut outputs: Vec<(String, &Path)> = Vec::new();
        if let Some(p) = predictions {
            outputs.push(("--predictions file".into(), p));
        }
        for (path, _) in &self.submissions {
            outputs.push((format!("submission file `{}`", path.display()), path));
        }
        if let Some(p) = output {
            outputs.push(("--output record".into(), p));
        }
        let roles: Vec<(&str, &Path)> = outputs.iter().map(|(r, p)| (r.as_str(), *p)).collect();
        evalrun_report::refuse_overlap(&roles, &[])?;

        let mut record = self.record.clone();
        let mut staged = Vec::new();
        if let Some(path) = predictions {
            let mut text = String::new();
            for line in &self.lines {
                text.push_str(&serde_json::to_string(line).map_err(std::io::Error::other)?);
                text.push('\n');
            }
            record.predictions = Some(evalrun_report::PredictionsDigest {
                sha256: evalrun_report::sha256_bytes(text.as_bytes()),
                lines: self.lines.len(),
            });
            staged.push(evalrun_report::stage(path, text.as_bytes())?);
        }
        for (path, text) in &self.submissions {
            staged.push(evalrun_report::stage(path, text.as_bytes())?);
        }
        let record_file = match output {
            Some(path) => {
                let mut json =
                    serde_json::to_string_pretty(&record).map_err(std::io::Error::other)?;
                json.push('\n');
                Some(evalrun_report::stage(path, json.as_bytes())?)
            }
            None => None,
        };
        let mut committed = Vec::new();
        for file in staged {
            let (path, is_file) = (file.path().to_path_buf(), file.is_file());
            file.commit()?;
            if is_file {
                committed.push(path);
            }
        }
        if let Some(file) = record_file {
            if let Err(e) = file.commit() {
                for path in committed {
                    let _ = std::fs::remove_file(path);
                }
                return Err(e.into());
            }
        }
        Ok(())
    }
}

/// The task kind a model family answers.
fn task_kind(family: Family) -> TaskKind {
    match family {
        Family::Encoder => TaskKind::Head,
        Family::CausalLm => TaskKind::Lm,
        Family::Seq2seq => TaskKind::TextToText,
    }
}

fn family_name(family: Family) -> &'static str {
    match family {
        Family::Encoder => "an encoder export (classification head or sentence embedding)",
        Family::CausalLm => "a causal LM",
        Family::Seq2seq => "a seq2seq (T5) export",
    }
}

/// Where a model family's tasks run, for messages that name the right command.
fn commands_for(family: Family, model: &str) -> String {
    match family {
        Family::Encoder => format!(
            "`evalrun glue --model {model}` or `evalrun run --model {model} --task stsb`"
        ),
        Family::CausalLm => format!(
            "`evalrun lm --model {model}` or `evalrun run --model {model} --task wikitext2`"
        ),
        Family::Seq2seq => format!(
            "`evalrun glue --model {model}`, `evalrun superglue --model {model}` or `evalrun run --model {model} --task squad_v1`"
        ),
    }
}

/// The catalog: embedded task files plus `--tasks-dir`.
pub fn catalog(tasks_dir: Option<&Path>) -> Result<Catalog> {
    let mut catalog = Catalog::embedded()?;
    if let Some(dir) = tasks_dir {
        catalog.add_dir(dir)?;
    }
    Ok(catalog)
}

/// The model family of `--model`, decided from files before any session opens: a local
/// directory (with `{task}` tried for the requested and known task names), a preset's kind,
/// or the Hub repository it resolves to.
pub fn detect_family(
    settings: &Settings,
    catalog: &Catalog,
    resolver: &ModelResolver,
) -> Result<Family> {
    // `{task}` → "" would name the parent folder of per-task exports.
    let mut candidates: Vec<String> = Vec::new();
    if !settings.model.contains("{task}") {
        candidates.push(String::new());
    }
    candidates.extend(settings.tasks.iter().cloned());
    for entry in catalog.entries() {
        match &entry.task {
            Task::Head(t) => candidates.push(t.model_task().to_string()),
            other => candidates.push(other.name().to_string()),
        }
    }
    for name in &candidates {
        let dir = settings.model.replace("{task}", name);
        if Path::new(&dir).is_dir() {
            // A local checkpoint without ONNX is exported here (once; cached).
            let resolved = resolver.resolve(&settings.model, name)?;
            return Ok(Family::detect(&resolved.dir)?);
        }
    }
    if let Some(preset) = resolver.presets().get(&settings.model) {
        return Ok(match preset.kind {
            presets::ModelKind::Classification | presets::ModelKind::Embedding => Family::Encoder,
            presets::ModelKind::CausalLm => Family::CausalLm,
            presets::ModelKind::Seq2seq => Family::Seq2seq,
        });
    }
    if settings.model.contains("{task}") {
        // Per-task exports that are not here yet: GLUE heads.
        return Ok(Family::Encoder);
    }
    let resolved = resolver.resolve(&settings.model, "")?;
    Ok(Family::detect(&resolved.dir)?)
}

/// Refuses a model of the wrong kind for the command, naming the command that runs it.
fn check_command(settings: &Settings, family: Family) -> Result<()> {
    let model = &settings.model;
    let wrong = |what: &str| {
        Err(EngineError::WrongKind(format!(
            "`{model}` is {}; {what}. Run it with {}",
            family_name(family),
            commands_for(family, model)
        )))
    };
    match (settings.command.as_str(), settings.suite.as_deref(), family) {
        (_, Some("superglue"), Family::Encoder | Family::CausalLm) => bail!(
            "`evalrun superglue` runs T5 text-to-text tasks; `{model}` is not a seq2seq export (no encoder_model.onnx). Run it with {}",
            commands_for(family, model)
        ),
        (_, Some("glue"), Family::CausalLm) => {
            wrong("GLUE needs a classifier or a seq2seq (T5) model")
        }
        ("lm" | "perplexity", _, Family::Encoder | Family::Seq2seq) => {
            wrong("`evalrun lm` and `evalrun perplexity` need a causal LM (GPT-2)")
        }
        _ => check_flags(settings, family),
    }
}

/// Refuses flags that the model's family would silently ignore.
fn check_flags(settings: &Settings, family: Family) -> Result<()> {
    let d = &settings.decode;
    let given = |flags: &[(&'static str, bool)]| -> Vec<&'static str> {
        flags
            .iter()
            .filter(|(_, on)| *on)
            .map(|(f, _)| *f)
            .collect()
    };
    let seq2seq_only = given(&[
        ("--beams", d.beams.is_some()),
        ("--max-new-tokens", d.max_new_tokens.is_some()),
        ("--length-penalty", d.length_penalty.is_some()),
        ("--no-kv-cache", d.no_kv_cache),
        ("--rank-classification", d.rank_classification),
    ]);
    let lm_only = given(&[
        ("--context", settings.lm.context.is_some()),
        ("--stride", settings.lm.stride.is_some()),
    ]);
    let misplaced = [
        (Family::Seq2seq, seq2seq_only, "text-to-text (T5) models"),
        (Family::CausalLm, lm_only, "causal LMs (GPT-2)"),
    ];
    for (owner, flags, applies) in misplaced {
        if let Some(flag) = flags.first().filter(|_| owner != family) {
            bail!(
                "`{flag}` does not apply to `{}`, which is {}; it applies to {applies} only. Remove it",
                settings.model,
                family_name(family)
            );
        }
    }
    if family == Family::CausalLm && settings.max_length.is_some() {
        bail!(
            "`--max-length` does not apply to the causal LM `{}`; its window length is `--context N`",
            settings.model
        );
    }
    Ok(())
}

/// The tasks `settings` asks for among those `family` answers. A name known only for another
/// kind of model is an error that names the kind and the command.
fn select<'c>(settings: &Settings, catalog: &'c Catalog, family: Family) -> Result<Vec<&'c Task>> {
    let kind = task_kind(family);
    let names = if settings.tasks.is_empty() {
        vec!["all".to_string()]
    } else {
        settings.tasks.clone()
    };
    match catalog.resolve(kind, settings.suite.as_deref(), &names) {
        Ok(tasks) => Ok(tasks),
        Err(error) => {
            for name in &names {
                if name == "all"
                    || catalog
                        .resolve(kind, settings.suite.as_deref(), std::slice::from_ref(name))
                        .is_ok()
                {
                    continue;
                }
                for (other, family_other) in [
                    (TaskKind::Head, Family::Encoder),
                    (TaskKind::Lm, Family::CausalLm),
                    (TaskKind::TextToText, Family::Seq2seq),
                ] {
                    if other != kind
                        && catalog
                            .resolve(other, None, std::slice::from_ref(name))
                            .is_ok()
                    {
                        return Err(EngineError::WrongKind(format!(
                            "task `{name}` needs {}, but `{}` is {}. Run `{name}` on a model of its kind; this model runs with {}",
                            family_name(family_other),
                            settings.model,
                            family_name(family),
                            commands_for(family, &settings.model)
                        )));
                    }
                }
            }
            Err(error.into())
        }
    }
}

/// The `{task}` substituted into `--model` for a task.
fn model_task(task: &Task) -> &str {
    match task {
        Task::Head(t) => t.model_task(),
        Task::TextToText(t) => &t.name,
        Task::Lm(_) => "",
    }
}

/// Sends every request to `backend`, one call per request kind, and puts the responses back
/// in request order.
pub fn answer<B: Backend>(
    backend: &mut B,
    requests: &[Request],
    progress: &mut dyn Progress,
) -> Result<Vec<Response>> {
    let mut by_kind: BTreeMap<RequestKind, Vec<usize>> = BTreeMap::new();
    for (i, r) in requests.iter().enumerate() {
        by_kind.entry(r.kind()).or_default().push(i);
    }
    let mut responses: Vec<Option<Response>> = vec![None; requests.len()];
    for (kind, indices) in by_kind {
        if !backend.supports(kind) {
            return Err(EngineError::WrongKind(format!(
                "a {} does not answer `{kind}` requests",
                backend.info().kind.name()
            )));
        }
        // One kind (every task so far): the requests as they are, no copy.
        let copied: Vec<Request>;
        let group: &[Request] = if indices.len() == requests.len() {
            requests
        } else {
            copied = indices.iter().map(|&i| requests[i].clone()).collect();
            &copied
        };
        let answers = backend
            .run(kind, group, progress)
            .map_err(|e| EngineError::Context {
                context: format!("{} `{kind}` requests", group.len()),
                source: Box::new(e),
            })?;
        if answers.len() != group.len() {
            bail!(
                "the backend answered {} of {} `{kind}` requests",
                answers.len(),
                group.len()
            );
        }
        // The one place responses meet their requests: a response of another kind (a
        // hand-edited shard record or cache) is an error here, never a panic in scoring.
        for (position, (i, a)) in indices.into_iter().zip(answers).enumerate() {
            let columns = match (&a, backend.info().num_labels) {
                (Response::Logits { logits }, Some(n)) => Some((logits.len(), n)),
                _ => None,
            };
            if let Some((got, want)) = columns.filter(|(got, want)| got != want) {
                let whence = backend
                    .source(&group[position])
                    .map_or_else(String::new, |s| format!("`{s}`: "));
                return Err(EngineError::Message(format!(
                    "{whence}the response to `{kind}` request {i} has {got} logits, not the model's {want}; the record or cache it was read from was edited or damaged"
                )));
            }
            if a.kind() != kind {
                let whence = backend
                    .source(&group[position])
                    .map_or_else(String::new, |s| format!("`{s}`: "));
                return Err(EngineError::Message(format!(
                    "{whence}the response to `{kind}` request {i} is a `{}` response; the record or cache it was read from was edited or damaged",
                    a.kind()
                )));
            }
            responses[i] = Some(a);
        }
    }
    Ok(responses
        .into_iter()
        .map(|r| r.expect("every index answered"))
        .collect())
}

/// Builds one task's requests, has `backend` answer them and scores the responses.
pub fn evaluate_task<B: Backend>(
    task: &Task,
    data: &Data,
    backend: &mut B,
    preset_labels: Option<&[String]>,
    settings: &Settings,
    progress: &mut dyn Progress,
) -> Result<Scored> {
    let info = backend.info().clone();
    match (task, data) {
        (Task::Head(t), Data::Head(d)) => {
            let requests = head::requests(t, d, &info)?;
            let responses = answer(backend, &requests, progress)?;
            head::score(t, d, &info, preset_labels, responses, settings)
        }
        (Task::Lm(t), Data::Lm(d)) => {
            let plan = lm::requests(t, d)?;
            let responses = answer(backend, &plan.requests, progress).map_err(|e| {
                match e.find::<RuntimeError>() {
                    Some(RuntimeError::BadRequest { index, message }) => {
                        // A cached backend sends a batch at a time: its index is in the batch.
                        let index = e
                            .find::<CachedError>()
                            .map_or(*index, |c| c.position(*index));
                        EngineError::Message(format!(
                            "`{}` document {}: {message}",
                            d.path.display(),
                            d.documents[plan.owner[index]].id
                        ))
                    }
                    _ => e,
                }
            })?;
            let mut scored = lm::score(t, d, &plan, &info, responses, settings)?;
            scored.scoring = info.scoring.clone();
            Ok(scored)
        }
        (Task::TextToText(t), Data::TextToText(d)) => {
            let requests = t2t::requests(t, d, settings);
            let responses = answer(backend, &requests, progress)?;
            t2t::score(t, d, responses, settings)
        }
        _ => bail!("task `{}` got data of another kind", task.name()),
    }
}

/// The one `TaskResult` builder.
pub fn task_result(
    task: &Task,
    data: &Data,
    scored: &Scored,
    model: ModelProvenance,
    wall: f64,
    n_original: Option<usize>,
    settings: &Settings,
) -> TaskResult {
    let n = data.len();
    let (labels_path, labels_sha256) = match (task, data) {
        (Task::Head(t), Data::Head(d)) => (
            t.splits
                .get(&d.split)
                .and_then(|s| s.labels_from.as_ref())
                .zip(settings.data_dir.as_ref())
                .map(|(l, dir)| dir.join(&l.path).display().to_string()),
            d.labels_sha256.clone(),
        ),
        _ => (None, None),
    };
    TaskResult {
        higher_is_better: scored
            .metrics
            .keys()
            .filter_map(|m| Some((m.clone(), Metric::from_name(m)?.higher_is_better())))
            .collect(),
        metrics: scored.metrics.clone(),
        n,
        split: data.split().to_string(),
        task_version: task.version(),
        protocol: task.protocol().to_string(),
        table_metric: task.table_metric(),
        model,
        data: DataProvenance {
            path: data.path().display().to_string(),
            sha256: data.sha256().to_string(),
            labels_path,
            labels_sha256,
        },
        wall_seconds: wall,
        examples_per_second: n as f64 / wall.max(1e-9),
        tokens_per_second: scored.tokens.map(|t| t as f64 / wall.max(1e-9)),
        n_original,
        ci: scored.ci.clone(),
        bootstrap: (settings.bootstrap.resamples > 0 && !scored.ci.is_empty())
            .then_some(settings.bootstrap),
        sums: scored.sums.clone(),
        windows: scored.windows.clone().filter(|w| !w.is_empty()),
    }
}

/// The provenance of a backend's model for one task.
pub fn model_provenance<B: Backend>(
    backend: &B,
    resolved: &ResolvedModel,
    scored: &Scored,
) -> ModelProvenance {
    let info = backend.info();
    // The graph that defines the model: a seq2seq model's decoder, else the only graph.
    let defining = match info.kind {
        ModelKind::Seq2seq => info.graphs.get(1).or(info.graphs.first()),
        _ => info.graphs.first(),
    };
    let (path, sha256) = defining.cloned().unwrap_or_default();
    ModelProvenance {
        path,
        sha256,
        tokenizer_sha256: info.tokenizer_sha256.clone(),
        scoring: scored.scoring.clone(),
        max_length: info.max_length,
        label_mapping: scored.label_mapping.clone(),
        source: Some(resolved.origin.clone()).filter(|o| o != "local"),
        edits: info.applied_edits(),
        edit_report: info.edits.clone(),
        graphs: if info.graphs.len() > 1 {
            info.graphs
                .iter()
                .map(|(path, sha256)| GraphHash {
                    path: path.clone(),
                    sha256: sha256.clone(),
                })
                .collect()
        } else {
            Vec::new()
        },
    }
}

/// Where a run's backends come from: ONNX Runtime behind the request cache, or the responses
/// of shard records ([`merge`]).
pub trait Models {
    type Backend: Backend;
    /// How `--model` resolves for `task`.
    fn resolve(&mut self, task: &Task) -> Result<ResolvedModel>;
    /// A backend for a resolved model directory (called once per directory).
    fn open(&mut self, resolved: &ResolvedModel) -> Result<Self::Backend>;
}

/// ONNX Runtime sessions, each behind the cache (when `--cache` is given) and keeping its
/// responses (when `--shard` is given).
struct OrtModels<'a> {
    runtime: &'a Runtime,
    resolver: &'a ModelResolver,
    settings: &'a Settings,
    options: BackendOptions,
}

impl Models for OrtModels<'_> {
    type Backend = CachedBackend<OrtBackend>;

    fn resolve(&mut self, task: &Task) -> Result<ResolvedModel> {
        self.resolver
            .resolve(&self.settings.model, model_task(task))
    }

    fn open(&mut self, resolved: &ResolvedModel) -> Result<Self::Backend> {
        let backend = OrtBackend::open(self.runtime, &resolved.dir, self.options.clone())?;
        let cache = match &self.settings.cache {
            Some(c) => Some(Cache::open(&c.dir, c.mode)?),
            None => None,
        };
        let batch = backend.batch_size().unwrap_or(self.options.batch_size);
        let mut backend = CachedBackend::new(backend, cache, batch);
        if let Some(flag) = &self.settings.interrupt {
            backend = backend.with_interrupt(flag.clone());
        }
        if self.settings.shard.is_some() {
            backend = backend.keeping();
        }
        Ok(backend)
    }
}

/// What [`run_with`] leaves besides the evaluation: the backends, by model directory, and per
/// task the directory, resolution and unit counts (for shard records).
pub struct Ran<B> {
    pub evaluation: Evaluation,
    pub backends: BTreeMap<PathBuf, B>,
    pub tasks: BTreeMap<String, evalrun_report::ShardTask>,
}

/// Runs the evaluation `settings` describes on ONNX Runtime.
pub fn evaluate(
    settings: &Settings,
    runtime: &Runtime,
    reporter: &dyn Reporter,
) -> Result<Evaluation> {
    let started = Instant::now();
    let started_utc = time::utc_now();
    let catalog = catalog(settings.tasks_dir.as_deref())?;
    let resolver = ModelResolver::new(settings.presets.as_deref(), settings.offline)?;
    let family = detect_family(settings, &catalog, &resolver)?;
    check_command(settings, family)?;
    let options = BackendOptions {
        max_length: settings.max_length,
        batch_size: settings.batch_size(family),
        context: settings.lm.context,
        stride: settings.lm.stride,
        batch_tokens: settings.lm.batch_tokens,
        auto: settings.auto_batch(),
        graph_edits: settings.graph_edits,
        shared_prefix: !settings.lm.no_shared_prefix,
        tokens: evalrun_runtime::TokenOptions {
            add_bos_token: settings.lm.add_bos_token,
            prefix_token: settings.lm.prefix_token.clone(),
        },
    };
    let batch_size = options.batch_size;
    let mut models = OrtModels {
        runtime,
        resolver: &resolver,
        settings,
        options,
    };
    let provenance = RuntimeProvenance {
        ort_version: runtime.version().to_string(),
        ort_library: data::relative_to_cwd(runtime.library()),
        execution_provider: runtime.execution_provider().to_string(),
        device: settings.device.to_string(),
        threads: settings.threads,
        batch_size,
        ort_config: runtime.options().config.iter().cloned().collect(),
        ort_profile: runtime.options().profile.clone(),
    };
    let ran = run_with(
        settings,
        &catalog,
        &resolver,
        family,
        provenance,
        reporter,
        &mut models,
    )?;
    let mut evaluation = ran.evaluation;
    if let Some(cache) = &settings.cache {
        let (hits, computed) = ran.backends.values().fold((0, 0), |(h, c), b| {
            (h + b.stats().hits, c + b.stats().computed)
        });
        evaluation.record.cache = Some(evalrun_report::CacheUse {
            path: cache
                .dir
                .join(evalrun_cache::FILE_NAME)
                .display()
                .to_string(),
            mode: cache.mode.name().to_string(),
            hits,
            computed,
        });
    }
    if let Some(shard) = settings.shard {
        evaluation.record.shard = Some(evalrun_report::ShardRecord {
            index: shard.index,
            count: shard.count,
            settings: serde_json::to_value(settings).map_err(std::io::Error::other)?,
            models: ran
                .backends
                .iter()
                .map(|(dir, b)| {
                    (
                        dir.display().to_string(),
                        evalrun_report::ShardModel {
                            info: b.info().clone(),
                            fingerprint: b.fingerprint(),
                            responses: b.kept().cloned().unwrap_or_default(),
                        },
                    )
                })
                .collect(),
            tasks: ran.tasks,
        });
    }
    evaluation.record.wall_seconds = started.elapsed().as_secs_f64();
    if let Some(config) = evaluation.record.config.as_mut() {
        config.started = started_utc;
    }
    Ok(evaluation)
}

/// The run itself, for any source of backends: tasks → data → `--limit` → `--shard` →
/// requests → answers → scores → record.
pub fn run_with<M: Models>(
    settings: &Settings,
    catalog: &Catalog,
    resolver: &ModelResolver,
    family: Family,
    runtime: RuntimeProvenance,
    reporter: &dyn Reporter,
    models: &mut M,
) -> Result<Ran<M::Backend>> {
    let started = Instant::now();
    let started_utc = time::utc_now();
    let file_task;
    let tasks: Vec<&Task> = match &settings.file {
        Some(path) => {
            if family != Family::CausalLm {
                return Err(EngineError::WrongKind(format!(
                    "`{}` is {}; perplexity needs a causal LM. Run it with {}",
                    settings.model,
                    family_name(family),
                    commands_for(family, &settings.model)
                )));
            }
            file_task = Task::Lm(lm::file_task(path));
            vec![&file_task]
        }
        None => select(settings, catalog, family)?,
    };
    let names = settings.tasks.clone();
    let source = data::DataSource {
        data_dir: settings.data_dir.as_deref(),
        resolver,
    };
    // Data first: it is cheap, and a missing file should not cost a model load.
    let mut originals: HashMap<String, usize> = HashMap::new();
    let mut units: HashMap<String, (usize, usize)> = HashMap::new();
    let (datasets, skipped) = data::load_all(
        &tasks,
        |t| !settings.skip_absent && (settings.file.is_some() || t.named_in(&names)),
        |task| {
            let mut data = match &settings.file {
                Some(path) => Data::Lm(match task {
                    Task::Lm(t) => t
                        .load_file(path.clone())
                        .with_context(|| format!("cannot read `{}`", path.display()))?,
                    _ => unreachable!("the file task is an LM task"),
                }),
                None => source.load(task, settings.split.as_deref())?,
            };
            if data.is_empty() {
                return Err(EngineError::Message(format!(
                    "task `{}` has no examples in `{}`{}",
                    task.name(),
                    data.path().display(),
                    data::emptiness_hint(data.path())
                )));
            }
            let labelled = settings.split.as_deref() != Some("test");
            if let Some(why) = data.unscorable(labelled) {
                return Err(EngineError::Message(format!(
                    "task `{}` cannot be scored on `{}`: {why}",
                    task.name(),
                    data.path().display()
                )));
            }
            originals.insert(task.name().to_string(), data.len());
            if let Some(limit) = settings.limit {
                data.truncate(limit);
            }
            let total = data.units();
            if let Some(shard) = settings.shard {
                data.shard(shard);
                if data.is_empty() {
                    return Err(EngineError::Message(format!(
                        "shard {shard} of task `{}` has no units: the task has {total}, fewer than {} shards",
                        task.name(),
                        shard.count
                    )));
                }
            }
            units.insert(task.name().to_string(), (total, data.units()));
            Ok(data)
        },
        &source.origin(),
    )?;
    if let Some(limit) = settings.limit {
        tracing::warn!(
            "--limit {limit}: each task is scored on its first {limit} examples; the scores are not comparable to published ones"
        );
    }

    let batch_size = settings.batch_size(family);
    let mut backends: BTreeMap<PathBuf, M::Backend> = BTreeMap::new();
    let mut resolved_models: BTreeMap<String, String> = BTreeMap::new();
    let mut shard_tasks = BTreeMap::new();
    let mut results = BTreeMap::new();
    let mut lines = Vec::new();
    let mut submissions = Vec::new();
    for (task, data) in &datasets {
        let resolved = models.resolve(task)?;
        resolved_models.insert(
            model_task(task).to_string(),
            if resolved.origin == "local" {
                resolved.dir.display().to_string()
            } else {
                resolved.origin.clone()
            },
        );
        let dir = resolved.dir.clone();
        if !backends.contains_key(&dir) {
            let backend = models.open(&resolved)?;
            backends.insert(dir.clone(), backend);
        }
        let backend = backends.get_mut(&dir).expect("inserted above");
        let task_started = Instant::now();
        let scored = {
            let mut progress = reporter.task(task.name());
            evaluate_task(
                task,
                data,
                backend,
                resolved.labels.as_deref(),
                settings,
                progress.as_mut(),
            )
            .with_context(|| format!("task `{}` with model `{}`", task.name(), dir.display()))?
        };
        let wall = task_started.elapsed().as_secs_f64();
        let original = originals.get(task.name()).copied();
        let n_original = settings.limit.and(original);
        let model = model_provenance(backend, &resolved, &scored);
        let result = task_result(task, data, &scored, model, wall, n_original, settings);
        let server_file = match task {
            Task::Head(t) => t.submission_file.as_deref(),
            Task::TextToText(t) => t.submission.as_ref().map(|s| s.file.as_str()),
            Task::Lm(_) => None,
        };
        if let (Some(dir), Some(file), Some(body)) =
            (&settings.submission_dir, server_file, &scored.submission)
        {
            submissions.push((dir.join(file), body.clone()));
        }
        let (total, kept) = units.get(task.name()).copied().unwrap_or_default();
        shard_tasks.insert(
            task.name().to_string(),
            evalrun_report::ShardTask {
                model: dir.display().to_string(),
                origin: resolved.origin.clone(),
                labels: resolved.labels.clone(),
                units: total,
                kept,
            },
        );
        lines.extend(scored.lines);
        results.insert(task.name().to_string(), result);
    }

    let kind = backends
        .values()
        .next()
        .map_or("", |b| b.info().kind.name())
        .to_string();
    // What the backends settled on (`--batch-size auto` chooses at load time).
    let batch_size = backends
        .values()
        .filter_map(Backend::batch_size)
        .max()
        .unwrap_or(batch_size);
    let batch_tokens = backends.values().filter_map(Backend::batch_tokens).max();
    let mut runtime = runtime;
    runtime.batch_size = batch_size;
    let mut record = RunRecord {
        evalrun: settings.build.clone(),
        command: settings.command.clone(),
        config: Some(RunConfig {
            started: started_utc,
            finished: time::utc_now(),
            command_line: settings.command_line.clone(),
            model: settings.model.clone(),
            model_resolved: resolved_models,
            model_kind: kind,
            tasks: tasks.iter().map(|t| t.name().to_string()).collect(),
            data_dir: settings.data_dir.as_ref().map(|d| d.display().to_string()),
            split: settings.split.clone(),
            limit: settings.limit,
            batch_size,
            max_length: settings.max_length,
            bootstrap_resamples: settings.bootstrap.resamples,
            seed: settings.bootstrap.seed,
            options: run_options(settings, family, batch_tokens),
        }),
        runtime,
        results,
        skipped,
        averages: BTreeMap::new(),
        wall_seconds: 0.0,
        cache: None,
        shard: None,
        predictions: None,
    };
    record.compute_averages();
    record.wall_seconds = started.elapsed().as_secs_f64();
    let mut order: Vec<String> = tasks.iter().map(|t| t.name().to_string()).collect();
    order.retain(|t| record.results.contains_key(t) || record.skipped.contains_key(t));
    Ok(Ran {
        evaluation: Evaluation {
            record,
            lines,
            submissions,
            order,
        },
        backends,
        tasks: shard_tasks,
    })
}

/// The decoding and window flags that apply to `family` and were given.
/// `batch_tokens`: what the backends settled on, where they bound it.
fn run_options(
    settings: &Settings,
    family: Family,
    batch_tokens: Option<usize>,
) -> BTreeMap<String, String> {
    let mut options = BTreeMap::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            options.insert(k.to_string(), v);
        }
    };
    let causal_default = (family == Family::CausalLm)
        .then_some(evalrun_runtime::backend::DEFAULT_CAUSAL_BATCH_TOKENS);
    put(
        "batch_tokens",
        batch_tokens
            .or(settings.lm.batch_tokens)
            .or(causal_default)
            .map(|v| v.to_string()),
    );
    if settings.graph_edits != Edits::auto() {
        put("graph_edits", Some(settings.graph_edits.to_string()));
    }
    if let Some(BatchSize::Auto { max_memory }) = settings.batch_size {
        put("batch_size", Some("auto".into()));
        put("max_memory", Some(max_memory.to_string()));
    }
    match family {
        Family::Seq2seq => {
            let d = &settings.decode;
            put("max_new_tokens", d.max_new_tokens.map(|v| v.to_string()));
            put("beams", d.beams.map(|v| v.to_string()));
            put("length_penalty", d.length_penalty.map(|v| v.to_string()));
            put("no_kv_cache", d.no_kv_cache.then(|| "true".into()));
            put(
                "rank_classification",
                d.rank_classification.then(|| "true".into()),
            );
        }
        Family::CausalLm => {
            put("context", settings.lm.context.map(|v| v.to_string()));
            put("stride", settings.lm.stride.map(|v| v.to_string()));
            put(
                "no_shared_prefix",
                settings.lm.no_shared_prefix.then(|| "true".into()),
            );
            put(
                "add_bos_token",
                settings.lm.add_bos_token.map(|v| v.to_string()),
            );
            put("prefix_token", settings.lm.prefix_token.clone());
            put(
                "file",
                settings.file.as_ref().map(|f| f.display().to_string()),
            );
        }
        Family::Encoder => {}
    }
    options
}

/// `Settings::graph_edits` as its `--graph-edits` text.
mod edits_spec {
    use evalrun_runtime::Edits;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(edits: &Edits, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(edits)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Edits, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests;
