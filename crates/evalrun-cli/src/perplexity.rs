//! `evalrun perplexity --model M --file F`: a whole file as one text, scored by a causal LM
//! with lm-eval's disjoint rolling windows (default) or the transformers guide's strided
//! windows (`--stride S`), reported as token, word (whitespace) and byte perplexity and bits
//! per byte.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use clap::Args;
use evalrun_report::{sha256_file, write_atomic, DataProvenance, TaskResult};

use evalrun_core::lm::strided_guide_weights;

use crate::lm::{perplexities, LmOptions, LmSession};

#[derive(Args, Debug)]
pub struct PerplexityArgs {
    /// A causal-LM export (Optimum `text-generation` or `text-generation-with-past`), a preset
    /// (`gpt2`) or a Hub repo id.
    #[arg(long)]
    model: String,
    /// The text file, scored as one text.
    #[arg(long)]
    file: PathBuf,
    #[command(flatten)]
    options: LmOptions,
}

pub fn perplexity(args: PerplexityArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read `{}` as UTF-8 text", args.file.display()))?;
    let mut session =
        LmSession::from_options(&crate::lm::resolve_model(&args.model)?, &args.options)?;
    let tokens = session.lm.encoder().encode_plain(&text)?;
    let (windows, policy) = session.rolling(&tokens, args.options.stride);
    let scored_started = Instant::now();
    let scores = session.lm.score(
        &windows,
        args.options.batch_size,
        args.options.batch_tokens.max(session.context),
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
    let mut metrics = perplexities(loglikelihood, scored, words, bytes);
    let mut sums = BTreeMap::new();
    if let Some(stride) = args.options.stride {
        // The guide's own aggregation: each window's mean loss weighted by trg_len − 1.
        let weights = strided_guide_weights(tokens.len(), session.context, stride);
        let guide_nll: f64 = scores
            .iter()
            .zip(&weights)
            .map(|(s, &w)| -s.loglikelihood / s.tokens as f64 * w as f64)
            .sum();
        let guide_tokens: usize = weights.iter().sum();
        metrics.insert(
            "token_perplexity".into(),
            (guide_tokens > 0).then(|| (guide_nll / guide_tokens as f64).exp()),
        );
        metrics.insert(
            "token_perplexity_exact".into(),
            (scored > 0).then(|| (-loglikelihood / scored as f64).exp()),
        );
        sums.insert("guide_nll_sum".to_string(), guide_nll);
        sums.insert("guide_tokens".to_string(), guide_tokens as f64);
    }

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
        model: session.model.clone(),
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
    let record = session.record(
        "perplexity",
        args.options.batch_size,
        results,
        BTreeMap::new(),
        started.elapsed().as_secs_f64(),
    );
    if let Some(path) = &args.options.output {
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
