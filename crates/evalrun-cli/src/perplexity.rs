//! `evalrun perplexity --model M --file F`: a whole file as one text, scored by a causal LM
//! with lm-eval's disjoint rolling windows (default) or the transformers guide's strided
//! windows (`--stride S`), reported as token, word (whitespace) and byte perplexity and bits
//! per byte.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context as _};
use clap::Args;
use evalrun_core::lm::{rolling_windows, strided_windows};
use evalrun_report::record::BuildInfo;
use evalrun_report::{
    sha256_file, write_atomic, DataProvenance, ModelProvenance, RunRecord, RuntimeProvenance,
    TaskResult,
};
use evalrun_runtime::{CausalLm, Device, Runtime, RuntimeOptions};

#[derive(Args, Debug)]
pub struct PerplexityArgs {
    /// A causal-LM export (Optimum `text-generation` or `text-generation-with-past`).
    #[arg(long)]
    model: PathBuf,
    /// The text file, scored as one text.
    #[arg(long)]
    file: PathBuf,
    /// Window length in tokens (default: the model's n_positions / max_position_embeddings).
    #[arg(long)]
    context: Option<usize>,
    /// Strided windows as in the transformers perplexity guide (max_length = context); without
    /// it, lm-eval's disjoint rolling windows.
    #[arg(long)]
    stride: Option<usize>,
    /// At most this many windows per ONNX Runtime call.
    #[arg(long, default_value_t = 8)]
    batch_size: usize,
    /// At most this many padded tokens per call (bounds batch × tokens × vocab logits).
    #[arg(long, default_value_t = 2048)]
    batch_tokens: usize,
    #[arg(long)]
    threads: Option<usize>,
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Write the result record (JSON) here.
    #[arg(long)]
    output: Option<PathBuf>,
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

pub fn perplexity(args: PerplexityArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read `{}` as UTF-8 text", args.file.display()))?;
    if let Some(0) = args.stride {
        bail!("`--stride` must be at least 1");
    }
    let device: Device = args.device.parse()?;
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let runtime = Runtime::new(RuntimeOptions { device, threads })?;
    let mut lm = CausalLm::load(&runtime, &args.model)?;
    let Some(context) = args.context.or(lm.context()) else {
        bail!(
            "`{}` has no n_positions in config.json; pass `--context N`",
            args.model.display()
        );
    };
    let tokens = lm.encoder().encode_plain(&text)?;
    let (windows, policy) = match args.stride {
        Some(stride) => (
            strided_windows(&tokens, context, stride),
            format!("transformers perplexity guide: max_length {context}, stride {stride}"),
        ),
        None => (
            rolling_windows(&tokens, lm.eot(), context),
            format!("lm-eval disjoint rolling windows: max_length {context}, end-of-text prefix"),
        ),
    };
    let scored_started = Instant::now();
    let scores = lm.score(
        &windows,
        args.batch_size,
        args.batch_tokens.max(context),
        &mut |_| {},
    )?;
    let wall = scored_started.elapsed().as_secs_f64();
    let loglikelihood: f64 = scores.iter().map(|s| s.loglikelihood).sum();
    let scored: usize = scores.iter().map(|s| s.tokens).sum();
    let (words, bytes, characters) = (
        text.split_whitespace().count(),
        text.len(),
        text.chars().count(),
    );
    let metrics = perplexities(loglikelihood, scored, words, bytes);

    let mut sums = BTreeMap::new();
    for (k, v) in [
        ("loglikelihood", loglikelihood),
        ("tokens", scored as f64),
        ("words", words as f64),
        ("bytes", bytes as f64),
        ("characters", characters as f64),
    ] {
        sums.insert(k.to_string(), v);
    }
    let result = TaskResult {
        metrics: metrics.clone(),
        n: windows.len(),
        split: "file".into(),
        task_version: 1,
        protocol: "whole file as one text; token = scored BPE tokens, word = whitespace-separated, byte = UTF-8 bytes".into(),
        table_metric: "token_perplexity".into(),
        model: ModelProvenance {
            path: lm.files().onnx.display().to_string(),
            sha256: sha256_file(&lm.files().onnx)?,
            tokenizer_sha256: sha256_file(&lm.files().tokenizer)?,
            scoring: if lm.has_past() { "causal lm (with-past export, empty past)".into() } else { "causal lm".into() },
            max_length: context,
            label_mapping: None,
        },
        data: DataProvenance { path: args.file.display().to_string(), sha256: sha256_file(&args.file)?, labels_path: None, labels_sha256: None },
        wall_seconds: wall,
        examples_per_second: scored as f64 / wall.max(1e-9),
        ci: BTreeMap::new(),
        bootstrap: None,
        sums,
        windows: Some(policy.clone()),
    };
    let mut results = BTreeMap::new();
    results.insert("perplexity".to_string(), result);
    let record = RunRecord {
        evalrun: BuildInfo {
            version: env!("CARGO_PKG_VERSION").into(),
            git_commit: env!("EVALRUN_GIT_COMMIT").into(),
        },
        command: "perplexity".into(),
        runtime: RuntimeProvenance {
            ort_version: runtime.version().to_string(),
            ort_library: runtime.library().display().to_string(),
            execution_provider: runtime.execution_provider().to_string(),
            device: device.to_string(),
            threads,
            batch_size: args.batch_size,
        },
        results,
        skipped: BTreeMap::new(),
        averages: BTreeMap::new(),
        wall_seconds: started.elapsed().as_secs_f64(),
    };
    if let Some(path) = &args.output {
        write_atomic(
            path,
            (serde_json::to_string_pretty(&record)? + "\n").as_bytes(),
        )?;
    }
    let fmt = |k: &str| metrics[k].map_or_else(|| "n/a".to_string(), |v| format!("{v:.4}"));
    let mut out = String::from("| File | Tokens scored | Windows | Token ppl | Word ppl | Byte ppl | Bits/byte |\n|---|---:|---:|---:|---:|---:|---:|\n");
    let _ = writeln!(
        out,
        "| {} | {scored} | {} | {} | {} | {} | {} |",
        args.file.display(),
        windows.len(),
        fmt("token_perplexity"),
        fmt("word_perplexity"),
        fmt("byte_perplexity"),
        fmt("bits_per_byte")
    );
    let _ = writeln!(out, "\nWindows: {policy}. Σ log-likelihood {loglikelihood:.6} nats over {scored} tokens; {words} words, {bytes} bytes.");
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}
