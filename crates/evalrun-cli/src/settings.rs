//! Flags resolved once into the engine's settings (flag > environment > default). Every run
//! command (`run`, `glue`, `superglue`, `lm`, `perplexity`, `calibrate --repeat`, `fetch`)
//! goes through [`resolve`], so an option means the same everywhere.

use std::path::PathBuf;

use anyhow::{bail, Context as _};
use evalrun_core::bootstrap::BootstrapSpec;
use evalrun_engine::{BatchSize, CacheMode, CacheSettings, DecodeFlags, LmFlags, Settings, Shard};
use evalrun_report::record::BuildInfo;
use evalrun_runtime::{memory, Device, Edit, Edits, Runtime, RuntimeOptions};

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

    /// Refuses, before any work starts, outputs that evalrun would not write (a device, a
    /// directory, a dangling link) and two outputs naming one file.
    pub fn validate(&self) -> anyhow::Result<()> {
        let mut outputs = Vec::new();
        if let Some(p) = &self.predictions {
            outputs.push(("--predictions file", p.as_path()));
        }
        if let Some(p) = &self.output {
            outputs.push(("--output record", p.as_path()));
        }
        for (_, path) in &outputs {
            evalrun_report::check_destination(path)?;
        }
        evalrun_report::refuse_overlap(&outputs, &[])?;
        Ok(())
    }
}

pub fn build_info() -> BuildInfo {
    BuildInfo {
        version: env!("CARGO_PKG_VERSION").into(),
        git_commit: env!("EVALRUN_GIT_COMMIT").into(),
    }
}

/// The widest beam search evalrun runs.
const MAX_BEAMS: usize = 64;

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
    let batch_size = batch_size(args.batch_size.as_deref(), args.max_memory.as_deref())?;
    for (flag, value) in [
        ("--batch-tokens", args.batch_tokens),
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
    let device: Device = args.device.parse().context("invalid `--device`")?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = args.threads.unwrap_or(cores);
    if threads > 4 * cores {
        bail!("`--threads {threads}` is more than 4 × the {cores} cores this machine has; ONNX Runtime would start a thread each (use at most {})", 4 * cores);
    }
    if let Some(beams) = args.beams.filter(|b| *b > MAX_BEAMS) {
        bail!("`--beams {beams}` is more than {MAX_BEAMS}: every beam is a decoder row with its own key/value cache (T5 used 4)");
    }
    if args.split.as_deref() == Some("test") && args.submission_dir.is_none() {
        bail!("`--split test` has no labels to score; pass `--submission-dir DIR` for the GLUE/SuperGLUE server files");
    }
    let cache = match args.cache {
        Some(dir) => Some(CacheSettings {
            dir,
            mode: CacheMode::parse(&args.cache_mode).with_context(|| {
                format!(
                    "invalid `--cache-mode {}`: use read-write, read or refresh",
                    args.cache_mode
                )
            })?,
        }),
        None => None,
    };
    let shard = match args.shard.as_deref() {
        None => None,
        Some(text) => Some(shard(text, args.shard_count, &|k| std::env::var(k).ok())?),
    };
    let env = |k: &str| std::env::var(k).ok();
    let graph_edits = graph_edits(args.graph_edits.as_deref(), &env)?;
    let no_shared_prefix =
        args.no_shared_prefix || env("EVALRUN_SHARED_PREFIX").as_deref() == Some("0");
    Ok(Settings {
        cache,
        shard,
        graph_edits,
        skip_absent: false,
        interrupt: None,
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
        batch_size,
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
            no_shared_prefix,
            add_bos_token: args.add_bos_token,
            prefix_token: args.prefix_token,
        },
    })
}

/// `--graph-edits` (or `EVALRUN_GRAPH_EDITS`); without it, `auto` less the edits that the
/// older per-edit variables turn off, which stay as aliases: `EVALRUN_MAP_WEIGHTS=0`
/// (weights_in_place), `EVALRUN_NAN_GUARDS=keep` (nan_guards), `EVALRUN_HOST_LOGITS=1`
/// (log_softmax and lm_head), `EVALRUN_HEAD_GATHER=0` (lm_head), `EVALRUN_ATTENTION_BLOCKS=0`
/// (attention_blocks), `EVALRUN_SHARE_CROSS_ATTENTION=0` (cross_attention).
fn graph_edits(flag: Option<&str>, env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Edits> {
    if let Some(spec) = flag {
        return spec
            .parse()
            .with_context(|| format!("invalid `--graph-edits {spec}`"));
    }
    let mut edits = Edits::auto();
    let is = |name: &str, value: &str| env(name).as_deref() == Some(value);
    let aliases = [
        (is("EVALRUN_MAP_WEIGHTS", "0"), &[Edit::WeightsInPlace][..]),
        (is("EVALRUN_NAN_GUARDS", "keep"), &[Edit::NanGuards]),
        (
            env("EVALRUN_HOST_LOGITS").is_some_and(|v| !v.is_empty() && v != "0"),
            &[Edit::LogSoftmax, Edit::LmHead],
        ),
        (is("EVALRUN_HEAD_GATHER", "0"), &[Edit::LmHead]),
        (
            is("EVALRUN_ATTENTION_BLOCKS", "0"),
            &[Edit::AttentionBlocks],
        ),
        (
            is("EVALRUN_SHARE_CROSS_ATTENTION", "0"),
            &[Edit::CrossAttention],
        ),
    ];
    for (off, edit_list) in aliases {
        if off {
            for &edit in edit_list {
                edits = edits.without(edit);
            }
        }
    }
    Ok(edits)
}

/// `--batch-size N|auto` with `--max-memory SIZE|P%` (default 50% of the memory available).
fn batch_size(text: Option<&str>, max_memory: Option<&str>) -> anyhow::Result<Option<BatchSize>> {
    match text.map(str::trim) {
        None if max_memory.is_some() => {
            bail!("`--max-memory` is the budget of `--batch-size auto`; pass that too")
        }
        None => Ok(None),
        Some("auto") => {
            let available = memory::available_memory();
            let max_memory = memory::parse_size(max_memory.unwrap_or("50%"), available)
                .map_err(|e| anyhow::anyhow!("invalid `--max-memory`: {e}"))?;
            Ok(Some(BatchSize::Auto { max_memory }))
        }
        Some(n) => {
            if max_memory.is_some() {
                bail!("`--max-memory` is the budget of `--batch-size auto`; `--batch-size {n}` is fixed");
            }
            match n.parse::<usize>() {
                Ok(0) => bail!("`--batch-size` must be at least 1"),
                Ok(n) => Ok(Some(BatchSize::Rows(n))),
                Err(_) => bail!("invalid `--batch-size {n}`: a number of rows or `auto`"),
            }
        }
    }
}

/// ONNX Runtime with the run's device and threads. ONNX Runtime allows one environment per
/// process, so a process that evaluates several times creates this once.
pub fn runtime(settings: &Settings) -> anyhow::Result<Runtime> {
    Ok(Runtime::new(RuntimeOptions {
        device: settings.device,
        threads: settings.threads,
        config: ort_config(std::env::var("EVALRUN_ORT_CONFIG").ok().as_deref()),
        profile: std::env::var("EVALRUN_ORT_PROFILE").ok(),
    })?)
}

/// `EVALRUN_ORT_CONFIG=key=value,...`: ONNX Runtime session configuration entries (a key
/// alone means `key=1`), for profiling memory and speed.
fn ort_config(text: Option<&str>) -> Vec<(String, String)> {
    text.unwrap_or_default()
        .split(',')
        .filter(|e| !e.is_empty())
        .map(|entry| {
            let (key, value) = entry.split_once('=').unwrap_or((entry, "1"));
            (key.to_string(), value.to_string())
        })
        .collect()
}

/// `--shard I/N` (0-based), or `auto`: a Slurm array task (`SLURM_ARRAY_TASK_ID` less
/// `SLURM_ARRAY_TASK_MIN`, over `SLURM_ARRAY_TASK_STEP`, of `SLURM_ARRAY_TASK_COUNT`) or a
/// Kubernetes Indexed Job pod (`JOB_COMPLETION_INDEX` of `--shard-count`/`EVALRUN_SHARD_COUNT`).
pub fn shard(
    text: &str,
    count_flag: Option<usize>,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Shard> {
    let number = |name: &str, value: &str| -> anyhow::Result<usize> {
        value
            .trim()
            .parse::<usize>()
            .with_context(|| format!("`{name}={value}` is not a non-negative integer"))
    };
    let (index, count) = if text == "auto" {
        if let Some(id) = env("SLURM_ARRAY_TASK_ID") {
            let id = number("SLURM_ARRAY_TASK_ID", &id)?;
            let min = env("SLURM_ARRAY_TASK_MIN")
                .map(|v| number("SLURM_ARRAY_TASK_MIN", &v))
                .transpose()?
                .unwrap_or(0);
            let step = env("SLURM_ARRAY_TASK_STEP")
                .map(|v| number("SLURM_ARRAY_TASK_STEP", &v))
                .transpose()?
                .unwrap_or(1)
                .max(1);
            let Some(count) = env("SLURM_ARRAY_TASK_COUNT") else {
                bail!(
                    "`--shard auto`: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not"
                );
            };
            let count = count_flag.map_or_else(|| number("SLURM_ARRAY_TASK_COUNT", &count), Ok)?;
            if id < min || (id - min) % step != 0 {
                bail!("`--shard auto`: array task {id} is not on the array's grid (min {min}, step {step}); use `--array=0-{}`", count.saturating_sub(1));
            }
            ((id - min) / step, count)
        } else if let Some(index) = env("JOB_COMPLETION_INDEX") {
            let index = number("JOB_COMPLETION_INDEX", &index)?;
            let count = match count_flag {
                Some(c) => c,
                None => match env("EVALRUN_SHARD_COUNT") {
                    Some(c) => number("EVALRUN_SHARD_COUNT", &c)?,
                    None => bail!("`--shard auto` in a Kubernetes Indexed Job needs the shard count: `--shard-count N` or EVALRUN_SHARD_COUNT (the Job's `completions`)"),
                },
            };
            (index, count)
        } else {
            bail!("`--shard auto` found neither SLURM_ARRAY_TASK_ID (Slurm `sbatch --array`) nor JOB_COMPLETION_INDEX (a Kubernetes Indexed Job); give `--shard I/N`");
        }
    } else {
        let Some((i, n)) = text.split_once('/') else {
            bail!("invalid `--shard {text}`: use `I/N` (0-based, e.g. `0/3`) or `auto`");
        };
        (number("--shard index", i)?, number("--shard count", n)?)
    };
    if count == 0 {
        bail!("`--shard`: the shard count must be at least 1");
    }
    if index >= count {
        bail!("`--shard {index}/{count}`: the index is 0-based and must be below the count");
    }
    Ok(Shard { index, count })
}

#[cfg(test)]
mod tests {
    use super::{graph_edits, ort_config, shard};
    use evalrun_runtime::{Edit, Edits};
    use std::collections::HashMap;

    /// The flag wins; without it the older per-edit variables take edits out of `auto`.
    #[test]
    fn graph_edits_from_the_flag_or_the_old_variables() {
        let none = env(&[]);
        assert_eq!(graph_edits(None, &none).unwrap(), Edits::auto());
        assert_eq!(graph_edits(Some("none"), &none).unwrap(), Edits::none());
        let host = env(&[("EVALRUN_HOST_LOGITS", "1"), ("EVALRUN_MAP_WEIGHTS", "0")]);
        let edits = graph_edits(None, &host).unwrap();
        assert_eq!(
            edits,
            Edits::auto()
                .without(Edit::LogSoftmax)
                .without(Edit::LmHead)
                .without(Edit::WeightsInPlace)
        );
        assert_eq!(graph_edits(Some("auto"), &host).unwrap(), Edits::auto());
        let each = env(&[
            ("EVALRUN_NAN_GUARDS", "keep"),
            ("EVALRUN_HEAD_GATHER", "0"),
            ("EVALRUN_ATTENTION_BLOCKS", "0"),
            ("EVALRUN_SHARE_CROSS_ATTENTION", "0"),
            ("EVALRUN_HOST_LOGITS", "0"),
        ]);
        assert_eq!(
            graph_edits(None, &each).unwrap().to_string(),
            "weights_in_place,log_softmax"
        );
        let bad = graph_edits(Some("-lm_head,fast"), &none).unwrap_err();
        assert!(format!("{bad:#}").contains("invalid `--graph-edits -lm_head,fast`"));
        let unknown = graph_edits(Some("fast"), &none).unwrap_err();
        assert!(
            format!("{unknown:#}")
                .contains("unknown graph edit `fast`; the edits are weights_in_place"),
            "{unknown:#}"
        );
    }

    #[test]
    fn ort_config_entries() {
        assert_eq!(ort_config(None), Vec::<(String, String)>::new());
        assert_eq!(
            ort_config(Some("session.disable_prepacking,a=b,")),
            [
                ("session.disable_prepacking".to_string(), "1".to_string()),
                ("a".into(), "b".into())
            ]
        );
    }

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn shards_from_flags_slurm_and_kubernetes() {
        let none = env(&[]);
        assert_eq!(shard("2/3", None, &none).unwrap().index, 2);
        assert!(shard("3/3", None, &none).is_err());
        assert!(shard("1/0", None, &none).is_err());
        assert!(shard("x", None, &none).is_err());
        assert!(shard("auto", None, &none).is_err());
        // sbatch --array=1-3
        let slurm = env(&[
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
        ]);
        let s = shard("auto", None, &slurm).unwrap();
        assert_eq!((s.index, s.count), (2, 3));
        // --array=0-8:4 → tasks 0, 4, 8
        let stepped = env(&[
            ("SLURM_ARRAY_TASK_ID", "4"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_STEP", "4"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
        ]);
        assert_eq!(shard("auto", None, &stepped).unwrap().index, 1);
        let k8s = env(&[("JOB_COMPLETION_INDEX", "1"), ("EVALRUN_SHARD_COUNT", "4")]);
        let s = shard("auto", None, &k8s).unwrap();
        assert_eq!((s.index, s.count), (1, 4));
        assert!(shard("auto", None, &env(&[("JOB_COMPLETION_INDEX", "1")])).is_err());
        assert_eq!(
            shard("auto", Some(2), &env(&[("JOB_COMPLETION_INDEX", "1")]))
                .unwrap()
                .count,
            2
        );
    }
}
