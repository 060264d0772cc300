//! `evalrun`: re-measure published model-card results on ONNX Runtime.
//!
//! This binary is the only place that knows every crate: it resolves flags into
//! [`settings::Settings`] once, hands them to the [`engine`], prints the markdown table on
//! stdout and writes the record files. Errors exit with code 2 (1 is reserved for the
//! regression gate's "outside tolerance").

mod commands;
mod engine;
mod lm;
mod perplexity;
mod settings;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "evalrun",
    version,
    about = "Re-measure published model-card results (GLUE, STS) on ONNX Runtime"
)]
struct Cli {
    /// More logging (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run any tasks: `evalrun run --model M --task stsb,stsbenchmark`.
    Run(RunArgs),
    /// The GLUE suite (default `--task all`): cola, sst2, mrpc, stsb, qqp, mnli, qnli, rte, wnli, ax.
    Glue(RunArgs),
    /// Measured vs published: one table for one or more result records.
    Report(commands::ReportArgs),
    /// Metric deltas between two runs, and the examples whose prediction changed.
    Diff(commands::DiffArgs),
    /// Regression gate: exit 0 within tolerance of the baseline, 1 outside, 2 on error.
    Check(commands::CheckArgs),
    /// Measure run-to-run spread (repeated runs, or one run's bootstrap) for tolerances.
    Calibrate(commands::CalibrateArgs),
    /// Causal-LM tasks: wikitext2, ptb_gpt2, lambada_openai, … (see `evalrun tasks`).
    Lm(lm::LmArgs),
    /// Token, word and byte perplexity of a text file under a causal LM.
    Perplexity(perplexity::PerplexityArgs),
    /// List the known tasks.
    Tasks {
        /// Also load task files from this directory.
        #[arg(long)]
        tasks_dir: Option<std::path::PathBuf>,
    },
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Model directory (Optimum export layout). `{task}` is replaced by each task's model task
    /// (`mnli` for both MNLI halves and AX), so per-task fine-tuned models run in one command.
    #[arg(long)]
    model: Option<String>,
    /// Comma-separated task names, group names (`mnli`) or `all`.
    #[arg(long, value_delimiter = ',')]
    task: Vec<String>,
    /// Directory laid out like ../shared/data (glue/<TASK>/dev.tsv, ...).
    #[arg(long, env = "EVALRUN_DATA_DIR")]
    data_dir: Option<std::path::PathBuf>,
    /// Split to evaluate (default: each task's own, `dev` for GLUE). `test` writes submission files.
    #[arg(long)]
    split: Option<String>,
    /// Where `--split test` writes the GLUE server files (CoLA.tsv, ..., AX.tsv).
    #[arg(long)]
    submission_dir: Option<std::path::PathBuf>,
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Truncation length (default: min(512, max_position_embeddings), or sentence-transformers' max_seq_length).
    #[arg(long)]
    max_length: Option<usize>,
    /// ONNX Runtime intra-op threads (default: available cores).
    #[arg(long)]
    threads: Option<usize>,
    /// `cpu`, `cuda` or `cuda:N` (CUDA needs the onnxruntime-gpu wheel; never falls back silently).
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Write the result record (JSON) here.
    #[arg(long)]
    output: Option<std::path::PathBuf>,
    /// Write one JSON line per example here.
    #[arg(long)]
    predictions: Option<std::path::PathBuf>,
    /// Also load task files from this directory (same name replaces the built-in task).
    #[arg(long)]
    tasks_dir: Option<std::path::PathBuf>,
    /// Bootstrap resamples for the 95% intervals (0 turns them off).
    #[arg(long, default_value_t = 1000)]
    bootstrap: usize,
    /// Seed of the bootstrap (SplitMix64): same seed, same intervals.
    #[arg(long, default_value_t = 1234)]
    seed: u64,
}

fn init_logging(verbose: u8, quiet: bool) {
    use tracing_subscriber::EnvFilter;
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    let ok = |r: anyhow::Result<()>| r.map(|()| ExitCode::SUCCESS);
    let result = match cli.command {
        Command::Run(args) => {
            ok(settings::Settings::resolve("run", None, args).and_then(engine::run))
        }
        Command::Glue(args) => {
            ok(settings::Settings::resolve("glue", Some("glue"), args).and_then(engine::run))
        }
        Command::Report(args) => commands::report(args),
        Command::Diff(args) => commands::diff(args),
        Command::Check(args) => commands::check(args),
        Command::Calibrate(args) => commands::calibrate(args),
        Command::Perplexity(args) => perplexity::perplexity(args),
        Command::Lm(args) => lm::run(args),
        Command::Tasks { tasks_dir } => ok(engine::list_tasks(tasks_dir.as_deref())),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
