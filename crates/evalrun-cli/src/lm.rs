//! `evalrun lm`: causal-LM tasks (`tasks/lm/*.toml`): rolling perplexity on WikiText, PTB and
//! 1BW, and LAMBADA's last word / last token.
//!
//! One run: task file → documents → token windows (lm-eval's disjoint rolling windows, or the
//! transformers guide's strided ones with `--stride`) → batched ONNX Runtime calls → per-
//! document log-likelihoods → sums → metrics → record with the sums and the window policy.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context as _};
use clap::Args;
use evalrun_core::lm::{continuation_window, rolling_windows, strided_windows, Window};
use evalrun_report::record::BuildInfo;
use evalrun_report::{
    sha256_file, write_atomic, DataProvenance, ModelProvenance, RunRecord, RuntimeProvenance,
    TaskResult,
};
use evalrun_runtime::{CausalLm, Device, Runtime, RuntimeOptions};
use evalrun_tasks::lm::{parse, LmDataset, LmRequest, LmTaskSpec};
use evalrun_tasks::DataError;

#[derive(Args, Debug)]
pub struct LmArgs {
    /// A causal-LM export (Optimum `text-generation` or `text-generation-with-past`), a preset
    /// (`gpt2`) or a Hub repo id (`org/name[@revision]`).
    #[arg(long)]
    model: String,
    /// Comma-separated LM task names, a suite (`gpt2-paper`: GPT-2's Table 3 columns with the
    /// paper-style variants), or `all` (see `evalrun tasks`).
    #[arg(long, value_delimiter = ',', default_value = "all")]
    task: Vec<String>,
    /// Directory laid out like ../shared/data (lm/wikitext-2/…, lm/lambada/…). Without it, tasks
    /// with a pinned original URL (lambada_openai, ptb_gpt2) download it into the cache.
    #[arg(long, env = "EVALRUN_DATA_DIR")]
    data_dir: Option<PathBuf>,
    #[command(flatten)]
    pub options: LmOptions,
    /// One JSON line per document/example: task, id, loglikelihood, tokens (and greedy).
    #[arg(long)]
    predictions: Option<PathBuf>,
}

/// A local directory as is; a preset or Hub repo through the cache (EVALRUN_PRESETS adds presets,
/// HF_HUB_OFFLINE=1 keeps it offline).
pub fn resolve_model(model: &str) -> anyhow::Result<PathBuf> {
    if std::path::Path::new(model).is_dir() {
        return Ok(PathBuf::from(model));
    }
    let presets = std::env::var_os("EVALRUN_PRESETS").map(PathBuf::from);
    let resolver = crate::resolve::ModelResolver::new(presets.as_deref(), false)?;
    Ok(resolver.resolve(model, "")?.dir)
}

/// Model-call options shared by `evalrun lm` and `evalrun perplexity`.
#[derive(Args, Debug)]
pub struct LmOptions {
    /// Window length in tokens (default: the model's n_positions / max_position_embeddings).
    #[arg(long)]
    pub context: Option<usize>,
    /// Strided windows as in the transformers perplexity guide (max_length = context) instead
    /// of lm-eval's disjoint rolling windows.
    #[arg(long)]
    pub stride: Option<usize>,
    /// At most this many windows per ONNX Runtime call.
    #[arg(long, default_value_t = 8)]
    pub batch_size: usize,
    /// At most this many padded tokens per call (bounds batch × tokens × vocab logits).
    #[arg(long, default_value_t = 2048)]
    pub batch_tokens: usize,
    /// ONNX Runtime intra-op threads (default: available cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// `cpu`, `cuda` or `cuda:N` (never falls back silently).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Write the result record (JSON) here.
    #[arg(long)]
    pub output: Option<PathBuf>,
}

/// The embedded LM task files.
pub fn lm_tasks() -> anyhow::Result<Vec<LmTaskSpec>> {
    evalrun_tasks::EMBEDDED_TASKS
        .iter()
        .filter(|(file, _)| file.starts_with("lm/"))
        .map(|(file, text)| Ok(parse(&format!("tasks/{file}"), text)?))
        .collect()
}

/// The four normalisations of one log-likelihood sum.
pub fn perplexities(
    loglikelihood: f64,
    tokens: usize,
    words: usize,
    bytes: usize,
) -> BTreeMap<String, Option<f64>> {
    let per = |n: usize| (n > 0).then(|| (-loglikelihood / n as f64).exp());
    let mut m = BTreeMap::new();
    m.insert("token_perplexity".to_string(), per(tokens));
    m.insert("word_perplexity".to_string(), per(words));
    m.insert("byte_perplexity".to_string(), per(bytes));
    m.insert(
        "bits_per_byte".to_string(),
        (bytes > 0).then(|| -loglikelihood / bytes as f64 / std::f64::consts::LN_2),
    );
    m
}

/// Shared by `lm` and `perplexity`: runtime, model and provenance.
pub struct LmSession {
    pub runtime: Runtime,
    pub lm: CausalLm,
    pub context: usize,
    pub threads: usize,
    pub device: Device,
    pub model: ModelProvenance,
}

impl LmSession {
    /// Validates the shared options and opens the model with them.
    pub fn from_options(model: &std::path::Path, options: &LmOptions) -> anyhow::Result<Self> {
        if options.stride == Some(0) {
            bail!("`--stride` must be at least 1");
        }
        Self::open(model, &options.device, options.threads, options.context)
    }

    pub fn open(
        model: &std::path::Path,
        device: &str,
        threads: Option<usize>,
        context: Option<usize>,
    ) -> anyhow::Result<Self> {
        let device: Device = device.parse()?;
        let threads =
            threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let runtime = Runtime::new(RuntimeOptions { device, threads })?;
        let lm = CausalLm::load(&runtime, model)?;
        let Some(context) = context.or(lm.context()) else {
            bail!(
                "`{}` has no n_positions in config.json; pass `--context N`",
                model.display()
            );
        };
        let model = ModelProvenance {
            source: None,
            path: lm.files().onnx.display().to_string(),
            sha256: sha256_file(&lm.files().onnx)?,
            tokenizer_sha256: sha256_file(&lm.files().tokenizer)?,
            scoring: if lm.has_past() {
                "causal lm (with-past export, empty past)".into()
            } else {
                "causal lm".into()
            },
            max_length: context,
            label_mapping: None,
        };
        Ok(Self {
            runtime,
            lm,
            context,
            threads,
            device,
            model,
        })
    }

    /// Windows of one document's token ids under the chosen policy, and the policy in words.
    pub fn rolling(&self, tokens: &[u32], stride: Option<usize>) -> (Vec<Window>, String) {
        match stride {
            Some(s) => (
                strided_windows(tokens, self.context, s),
                format!(
                    "transformers perplexity guide: max_length {}, stride {s}",
                    self.context
                ),
            ),
            None => (
                rolling_windows(tokens, self.lm.eot(), self.context),
                format!(
                    "lm-eval disjoint rolling windows: max_length {}, end-of-text prefix",
                    self.context
                ),
            ),
        }
    }

    pub fn record(
        &self,
        command: &str,
        batch_size: usize,
        results: BTreeMap<String, TaskResult>,
        skipped: BTreeMap<String, String>,
        wall: f64,
    ) -> RunRecord {
        RunRecord {
            evalrun: BuildInfo {
                version: env!("CARGO_PKG_VERSION").into(),
                git_commit: env!("EVALRUN_GIT_COMMIT").into(),
            },
            command: command.into(),
            runtime: RuntimeProvenance {
                ort_version: self.runtime.version().to_string(),
                ort_library: self.runtime.library().display().to_string(),
                execution_provider: self.runtime.execution_provider().to_string(),
                device: self.device.to_string(),
                threads: self.threads,
                batch_size,
            },
            results,
            skipped,
            averages: BTreeMap::new(),
            wall_seconds: wall,
        }
    }
}

/// Per-document outcome.
struct DocumentScore {
    loglikelihood: f64,
    tokens: usize,
    greedy: bool,
    /// Cloze tasks: the chosen candidate (argmax of the candidates' log-likelihoods).
    choice: Option<usize>,
}

pub fn run(args: LmArgs) -> anyhow::Result<std::process::ExitCode> {
    let started = Instant::now();

    let all = lm_tasks()?;
    let mut chosen: Vec<&LmTaskSpec> = Vec::new();
    for name in &args.task {
        let matched: Vec<&LmTaskSpec> = if name == "all" {
            all.iter().collect()
        } else {
            all.iter()
                .filter(|t| t.name == *name || t.suites.contains(name))
                .collect()
        };
        if matched.is_empty() {
            let known: Vec<&str> = all.iter().map(|t| t.name.as_str()).collect();
            bail!("unknown LM task `{name}`; known: {}", known.join(", "));
        }
        for t in matched {
            if !chosen.iter().any(|c| c.name == t.name) {
                chosen.push(t);
            }
        }
    }
    let mut datasets: Vec<(&LmTaskSpec, LmDataset)> = Vec::new();
    let mut skipped = BTreeMap::new();
    let mut hub: Option<evalrun_hub::Hub> = None;
    for task in chosen {
        let loaded = match (&args.data_dir, &task.url) {
            (Some(dir), _) => task.load(dir),
            (None, Some(source)) => {
                if hub.is_none() {
                    hub = Some(evalrun_hub::Hub::from_env()?);
                }
                let hub = hub.as_ref().expect("set above");
                task.load_file(hub.download_url(&source.url, &source.sha256)?)
            }
            (None, None) => Err(DataError::Missing {
                task: task.name.clone(),
                split: "test".into(),
                path: PathBuf::from(&task.paths[0]),
            }),
        };
        match loaded {
            Ok(d) => datasets.push((task, d)),
            Err(DataError::Missing { path, .. }) if !args.task.contains(&task.name) => {
                tracing::warn!(
                    "skipping {}: data not present at `{}`",
                    task.name,
                    path.display()
                );
                skipped.insert(
                    task.name.clone(),
                    format!("data not present: `{}`", path.display()),
                );
            }
            Err(DataError::Missing { path, .. }) if args.data_dir.is_none() => bail!(
                "task `{}` has no pinned URL; pass --data-dir (a directory with `{}`)",
                task.name,
                path.display()
            ),
            Err(e) => return Err(e.into()),
        }
    }
    if datasets.is_empty() {
        bail!(
            "none of the requested LM tasks has its data under {}",
            args.data_dir.as_ref().map_or_else(
                || "the cache (no --data-dir)".into(),
                |d| format!("`{}`", d.display())
            )
        );
    }
    let mut session =
        LmSession::from_options(&crate::lm::resolve_model(&args.model)?, &args.options)?;
    let mut results = BTreeMap::new();
    let mut lines = String::new();
    for (task, dataset) in &datasets {
        let task_started = Instant::now();
        let (scores, policy) = score_task(&mut session, task, dataset, &args)
            .with_context(|| format!("LM task `{}`", task.name))?;
        let wall = task_started.elapsed().as_secs_f64();
        let loglikelihood: f64 = scores.iter().map(|s| s.loglikelihood).sum();
        let tokens: usize = scores.iter().map(|s| s.tokens).sum();
        let mut sums = BTreeMap::new();
        sums.insert("loglikelihood".to_string(), loglikelihood);
        sums.insert("tokens".to_string(), tokens as f64);
        let metrics = match task.request {
            LmRequest::Rolling => {
                let words: usize = dataset
                    .documents
                    .iter()
                    .map(|d| task.word_count(&d.text))
                    .sum();
                let bytes: usize = dataset.documents.iter().map(|d| d.text.len()).sum();
                let characters: usize = dataset
                    .documents
                    .iter()
                    .map(|d| d.text.chars().count())
                    .sum();
                for (k, v) in [
                    ("words", words),
                    ("bytes", bytes),
                    ("characters", characters),
                ] {
                    sums.insert(k.to_string(), v as f64);
                }
                {
                    let mut m = perplexities(loglikelihood, tokens, words, bytes);
                    let bpc = (characters > 0)
                        .then(|| -loglikelihood / characters as f64 / std::f64::consts::LN_2);
                    m.insert("bits_per_character".into(), bpc);
                    m.into_iter()
                        .filter(|(k, _)| task.metrics.contains(k))
                        .collect()
                }
            }
            LmRequest::Cloze => {
                let correct = dataset
                    .documents
                    .iter()
                    .zip(&scores)
                    .filter(|(d, s)| matches!((&d.cloze, s.choice), (Some(c), Some(i)) if c.candidates[i] == c.answer))
                    .count();
                sums.insert("correct".to_string(), correct as f64);
                sums.insert("examples".to_string(), scores.len() as f64);
                let mut m = BTreeMap::new();
                m.insert(
                    "accuracy".to_string(),
                    Some(correct as f64 / scores.len() as f64),
                );
                m
            }
            LmRequest::LastWord | LmRequest::LastToken => {
                let n = scores.len() as f64;
                let greedy = scores.iter().filter(|s| s.greedy).count();
                sums.insert("greedy".to_string(), greedy as f64);
                sums.insert("examples".to_string(), n);
                let mut m = BTreeMap::new();
                m.insert("accuracy".to_string(), Some(greedy as f64 / n));
                m.insert("perplexity".to_string(), Some((-loglikelihood / n).exp()));
                m
            }
        };
        for (doc, score) in dataset.documents.iter().zip(&scores) {
            let mut line = serde_json::json!({"task": task.name, "id": doc.id, "loglikelihood": score.loglikelihood, "tokens": score.tokens});
            match (task.request, &doc.cloze, score.choice) {
                (LmRequest::Rolling, _, _) => {}
                (LmRequest::Cloze, Some(cloze), Some(choice)) => {
                    line["prediction"] = cloze.candidates[choice].clone().into();
                    line["answer"] = cloze.answer.clone().into();
                }
                _ => line["greedy"] = score.greedy.into(),
            }
            lines.push_str(&line.to_string());
            lines.push('\n');
        }
        results.insert(
            task.name.clone(),
            TaskResult {
                metrics,
                n: dataset.documents.len(),
                split: "test".into(),
                task_version: task.version,
                protocol: task.protocol.clone(),
                table_metric: task.table_metric.clone(),
                model: session.model.clone(),
                data: DataProvenance {
                    path: dataset.path.display().to_string(),
                    sha256: dataset.sha256.clone(),
                    labels_path: None,
                    labels_sha256: None,
                },
                wall_seconds: wall,
                examples_per_second: tokens as f64 / wall.max(1e-9),
                ci: BTreeMap::new(),
                bootstrap: None,
                sums,
                windows: Some(policy),
            },
        );
    }
    let record = session.record(
        "lm",
        args.options.batch_size,
        results,
        skipped,
        started.elapsed().as_secs_f64(),
    );
    if let Some(path) = &args.predictions {
        write_atomic(path, lines.as_bytes())?;
    }
    if let Some(path) = &args.options.output {
        write_atomic(
            path,
            (serde_json::to_string_pretty(&record)? + "\n").as_bytes(),
        )?;
    }
    print!(
        "{}",
        render(
            &record,
            &datasets
                .iter()
                .map(|(t, _)| t.name.clone())
                .chain(record.skipped.keys().cloned())
                .collect::<Vec<_>>()
        )
    );
    Ok(std::process::ExitCode::SUCCESS)
}

fn score_task(
    session: &mut LmSession,
    task: &LmTaskSpec,
    dataset: &LmDataset,
    args: &LmArgs,
) -> anyhow::Result<(Vec<DocumentScore>, String)> {
    let mut windows: Vec<Window> = Vec::new();
    let mut owner: Vec<usize> = Vec::new();
    let mut policy = String::new();
    for (i, doc) in dataset.documents.iter().enumerate() {
        let encoder = session.lm.encoder();
        let doc_windows = match task.request {
            LmRequest::Rolling => {
                let tokens = encoder.encode_plain(&task.detokenize(&doc.text))?;
                let (w, p) = session.rolling(&tokens, args.options.stride);
                policy = p;
                w
            }
            LmRequest::LastWord => {
                let Some((context, word)) = doc.text.rsplit_once(' ') else {
                    bail!(
                        "`{}` document {}: no space to split off the last word",
                        dataset.path.display(),
                        doc.id
                    );
                };
                let (c, k) = encoder.encode_pair(context, &format!(" {word}"))?;
                policy = format!("lm-eval loglikelihood(context, ' ' + last word), left-truncated to {} + 1 tokens", session.context);
                vec![continuation_window(&c, &k, session.context)]
            }
            LmRequest::Cloze => {
                let Some(cloze) = &doc.cloze else {
                    bail!("document {} has no cloze question", doc.id)
                };
                let Some((before, after)) = cloze.query.split_once("XXXXX") else {
                    bail!(
                        "`{}` question {}: no `XXXXX` in the query",
                        dataset.path.display(),
                        doc.id
                    );
                };
                policy = format!(
                    "each candidate + rest of the query given the context and the query's start, left-truncated to {} + 1 tokens; argmax",
                    session.context
                );
                let mut w = Vec::with_capacity(cloze.candidates.len());
                for candidate in &cloze.candidates {
                    let (c, k) = encoder.encode_pair(
                        &format!("{} {before}", cloze.context),
                        &format!("{candidate}{after}"),
                    )?;
                    w.push(continuation_window(&c, &k, session.context));
                }
                w
            }
            LmRequest::LastToken => {
                let tokens = encoder.encode_plain(&doc.text)?;
                if tokens.len() < 2 {
                    bail!(
                        "`{}` document {}: fewer than two tokens",
                        dataset.path.display(),
                        doc.id
                    );
                }
                let (c, k) = tokens.split_at(tokens.len() - 1);
                policy = format!(
                    "last BPE token given all before it, left-truncated to {} + 1 tokens",
                    session.context
                );
                vec![continuation_window(c, k, session.context)]
            }
        };
        owner.extend(std::iter::repeat_n(i, doc_windows.len()));
        windows.extend(doc_windows);
    }
    let scores = session.lm.score(
        &windows,
        args.options.batch_size,
        args.options.batch_tokens.max(session.context),
        &mut |_| {},
    )?;
    let mut documents: Vec<DocumentScore> = dataset
        .documents
        .iter()
        .map(|_| DocumentScore {
            loglikelihood: 0.0,
            tokens: 0,
            greedy: true,
            choice: None,
        })
        .collect();
    if task.request == LmRequest::Cloze {
        // One window per candidate, in candidate order: keep the best (first on ties).
        let mut next = vec![0usize; documents.len()];
        for (score, &doc) in scores.iter().zip(&owner) {
            let d = &mut documents[doc];
            let candidate = next[doc];
            next[doc] += 1;
            if d.choice.is_none() || score.loglikelihood > d.loglikelihood {
                d.choice = Some(candidate);
                d.loglikelihood = score.loglikelihood;
                d.tokens = score.tokens;
            }
        }
        return Ok((documents, policy));
    }
    for (score, &doc) in scores.iter().zip(&owner) {
        let d = &mut documents[doc];
        d.loglikelihood += score.loglikelihood;
        d.tokens += score.tokens;
        d.greedy &= score.greedy;
    }
    Ok((documents, policy))
}

fn render(record: &RunRecord, order: &[String]) -> String {
    let mut out =
        String::from("| Task | n | Metric | Score | Windows |\n|---|---:|---|---:|---|\n");
    for task in order {
        if let Some(r) = record.results.get(task) {
            let mut names: Vec<&String> = r.metrics.keys().collect();
            names.sort_by_key(|m| (**m != r.table_metric, (*m).clone()));
            let values: Vec<String> = names
                .iter()
                .map(|m| {
                    let v = r.metrics[*m];
                    let scale = if m.as_str() == "accuracy" { 100.0 } else { 1.0 };
                    v.map_or_else(|| "n/a".into(), |v| format!("{:.4}", v * scale))
                })
                .collect();
            let names: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
            let _ = writeln!(
                out,
                "| {task} | {} | {} | {} | {} |",
                r.n,
                names.join(" / "),
                values.join(" / "),
                r.windows.as_deref().unwrap_or("")
            );
        } else if let Some(reason) = record.skipped.get(task) {
            let _ = writeln!(out, "| {task} | – | – | skipped | {reason} |");
        }
    }
    out
}
