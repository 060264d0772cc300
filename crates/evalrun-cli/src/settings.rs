//! Flags resolved once into the engine's settings (flag > environment > default). Every run
//! command (`run`, `glue`, `superglue`, `lm`, `perplexity`, `calibrate --repeat`, `fetch`)
//! goes through [`resolve`], so an option means the same everywhere.

use std::path::PathBuf;

use anyhow::{bail, Context as _};
use evalrun_core::bootstrap::BootstrapSpec;
use evalrun_engine::{DecodeFlags, LmFlags, Settings};
use evalrun_report::record::BuildInfo;
use evalrun_runtime::{Device, Runtime, RuntimeOptions};

use crate::RunArgs;

/// Where a run writes its files.
pub struct Outputs {
    pub output: Option<PathBuf>,
    pub predictions: Option<PathBuf>,
}

impl Outputs {
    pub fn of(args: &RunArgs) -> Self {
        Self {
            output: args.output.clone(),
            predictions: args.predictions.clone(),
        }
    }
}

pub fn build_info() -> BuildInfo {
    BuildInfo {
        version: env!("CARGO_PKG_VERSION").into(),
        git_commit: env!("EVALRUN_GIT_COMMIT").into(),
    }
}

pub fn resolve(
    command: &'static str,
    suite: Option<&'static str>,
    args: RunArgs,
    file: Option<PathBuf>,
) -> anyhow::Result<Settings> {
    let Some(model) = args.model else {
        bail!("`evalrun {command}` needs `--model DIR|PRESET|ORG/NAME` (an Optimum export, a preset such as `bert-base-uncased`, or a Hub repo; `{{task}}` is replaced by each task)");
    };
    let tasks: Vec<String> = args
        .task
        .iter()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect();
    if tasks.is_empty() && command == "run" {
        bail!("`evalrun run` needs `--task NAME[,NAME...]` (see `evalrun tasks`)");
    }
    if file.is_some() && !tasks.is_empty() {
        bail!("`evalrun perplexity --file` scores the file; `--task` does not apply");
    }
    for (flag, value) in [
        ("--batch-size", args.batch_size),
        ("--max-length", args.max_length),
        ("--limit", args.limit),
        ("--context", args.context),
        ("--stride", args.stride),
        ("--threads", args.threads),
        ("--beams", args.beams),
        ("--max-new-tokens", args.max_new_tokens),
    ] {
        if value == Some(0) {
            bail!("`{flag}` must be at least 1");
        }
    }
    if args.batch_tokens == 0 {
        bail!("`--batch-tokens` must be at least 1");
    }
    let device: Device = args.device.parse().context("invalid `--device`")?;
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if args.split.as_deref() == Some("test") && args.submission_dir.is_none() {
        bail!("`--split test` has no labels to score; pass `--submission-dir DIR` for the GLUE server files");
    }
    Ok(Settings {
        command: command.to_string(),
        command_line: std::env::args().skip(1).collect(),
        build: build_info(),
        suite: suite.map(str::to_string),
        model,
        tasks,
        file,
        data_dir: args.data_dir,
        presets: args.presets,
        offline: args.offline,
        split: args.split,
        submission_dir: args.submission_dir,
        batch_size: args.batch_size,
        max_length: args.max_length,
        threads,
        device,
        tasks_dir: args.tasks_dir,
        bootstrap: BootstrapSpec {
            resamples: args.bootstrap,
            seed: args.seed,
            level: 0.95,
        },
        limit: args.limit,
        decode: DecodeFlags {
            max_new_tokens: args.max_new_tokens,
            beams: args.beams,
            length_penalty: args.length_penalty,
            no_kv_cache: args.no_kv_cache,
            rank_classification: args.rank_classification,
        },
        lm: LmFlags {
            context: args.context,
            stride: args.stride,
            batch_tokens: args.batch_tokens,
        },
    })
}

/// ONNX Runtime with the run's device and threads. ONNX Runtime allows one environment per
/// process, so a process that evaluates several times creates this once.
pub fn runtime(settings: &Settings) -> anyhow::Result<Runtime> {
    Ok(Runtime::new(RuntimeOptions {
        device: settings.device,
        threads: settings.threads,
    })?)
}
