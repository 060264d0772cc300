//! Flags resolved once into the settings of one run (flag > environment > default).

use std::path::PathBuf;

use anyhow::{bail, Context as _};
use evalrun_core::bootstrap::BootstrapSpec;
use evalrun_runtime::Device;

use crate::RunArgs;

#[derive(Debug, Clone)]
pub struct Settings {
    pub command: &'static str,
    pub suite: Option<&'static str>,
    pub model: String,
    pub tasks: Vec<String>,
    /// `None`: read the tasks' Hub sources.
    pub data_dir: Option<PathBuf>,
    pub presets: Option<PathBuf>,
    pub offline: bool,
    pub split: Option<String>,
    pub submission_dir: Option<PathBuf>,
    pub batch_size: usize,
    pub max_length: Option<usize>,
    pub threads: usize,
    pub device: Device,
    pub output: Option<PathBuf>,
    pub predictions: Option<PathBuf>,
    pub tasks_dir: Option<PathBuf>,
    pub bootstrap: BootstrapSpec,
}

impl Settings {
    pub fn resolve(
        command: &'static str,
        suite: Option<&'static str>,
        args: RunArgs,
    ) -> anyhow::Result<Self> {
        let Some(model) = args.model else {
            bail!("`evalrun {command}` needs `--model DIR|PRESET|ORG/NAME` (an Optimum export, a preset such as `bert-base-uncased`, or a Hub repo; `{{task}}` is replaced by each task)");
        };
        let tasks = if args.task.is_empty() {
            match suite {
                Some(_) => vec!["all".to_string()],
                None => bail!("`evalrun run` needs `--task NAME[,NAME...]` (see `evalrun tasks`)"),
            }
        } else {
            args.task
                .iter()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect()
        };
        if args.batch_size == 0 {
            bail!("`--batch-size` must be at least 1");
        }
        if args.max_length == Some(0) {
            bail!("`--max-length` must be at least 1");
        }
        let device: Device = args.device.parse().context("invalid `--device`")?;
        let threads = args
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        if args.split.as_deref() == Some("test") && args.submission_dir.is_none() {
            bail!("`--split test` has no labels to score; pass `--submission-dir DIR` for the GLUE server files");
        }
        Ok(Self {
            command,
            suite,
            model,
            tasks,
            data_dir: args.data_dir,
            presets: args.presets,
            offline: args.offline,
            split: args.split,
            submission_dir: args.submission_dir,
            batch_size: args.batch_size,
            max_length: args.max_length,
            threads,
            device,
            output: args.output,
            predictions: args.predictions,
            tasks_dir: args.tasks_dir,
            bootstrap: BootstrapSpec {
                resamples: args.bootstrap,
                seed: args.seed,
                level: 0.95,
            },
        })
    }
}

impl Settings {
    /// Where data comes from, for messages.
    pub fn data_origin(&self) -> String {
        match &self.data_dir {
            Some(dir) => format!("`{}`", dir.display()),
            None => "the Hub (no --data-dir given)".into(),
        }
    }
}
