//! `evalrun`: re-measure published model-card results on ONNX Runtime.
//!
//! This binary holds flags, settings and rendering only: it resolves flags into
//! [`evalrun_engine::Settings`] once ([`settings`]), hands them to the engine, draws progress on
//! stderr ([`progress`]), prints the markdown table on stdout and has the engine write the record
//! files. Errors exit with code 2 (1 is reserved for the regression gate's "outside tolerance").

mod commands;
mod fetch;
mod interrupt;
mod progress;
mod reproduce;
mod settings;
mod stdout;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "evalrun",
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("EVALRUN_GIT_COMMIT"), ")"),
    about = "Re-measure published model-card results (GLUE, SuperGLUE, STS, GPT-2 LM, T5) on ONNX Runtime"
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
    /// Run any tasks of the model's kind: `evalrun run --model M --task stsb,stsbenchmark`
    /// (encoders), `--task wikitext2,lambada_openai` (causal LMs), `--task squad_v1` (T5).
    Run(RunArgs),
    /// The GLUE suite (default `--task all`): cola, sst2, mrpc, stsb, qqp, mnli, qnli, rte, wnli, ax.
    /// A classification export is scored by its head; a seq2seq (T5) export as text-to-text.
    Glue(RunArgs),
    /// The SuperGLUE suite as T5 text-to-text (default `--task all`): boolq, cb, copa, multirc, wic, rte,
    /// wsc, record, and the diagnostics axb, axg.
    Superglue(RunArgs),
    /// Measured vs published: one table for one or more result records.
    Report(commands::ReportArgs),
    /// Run every cell of a model's published tables that can run here and write one document
    /// (reproduction.md, reproduction.html): `evalrun reproduce t5-base --data-dir DATA`.
    Reproduce(reproduce::ReproduceArgs),
    /// Metric deltas between two runs, and the examples whose prediction changed.
    Diff(commands::DiffArgs),
    /// Download what a run needs (models per task, Hub data) into the Hub cache, for offline runs:
    /// `evalrun fetch glue --model bert-base-uncased`.
    Fetch(fetch::FetchArgs),
    /// Export a Hub repository with only PyTorch weights to ONNX (optimum), cached beside its
    /// snapshot; prints the directory.
    Export(fetch::ExportArgs),
    /// Regression gate: exit 0 within tolerance of the baseline, 1 outside, 2 on error.
    Check(commands::CheckArgs),
    /// Measure run-to-run spread (repeated runs, or one run's bootstrap) for tolerances.
    Calibrate(commands::CalibrateArgs),
    /// Causal-LM tasks (default `--task all`): wikitext2, ptb_gpt2, lambada_openai, … or the
    /// `gpt2-paper` suite (see `evalrun tasks`).
    Lm(RunArgs),
    /// Token, word and byte perplexity of a text file under a causal LM (an ad-hoc rolling task).
    Perplexity(PerplexityArgs),
    /// Combine shard records (`--shard I/N`) into the record of one unsharded run: every
    /// metric and interval computed once over all units, without the model.
    Merge(commands::MergeArgs),
    /// List the known tasks.
    Tasks {
        /// Also load task files from this directory.
        #[arg(long)]
        tasks_dir: Option<std::path::PathBuf>,
    },
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Model: a directory (Optimum export layout; `{task}` is replaced by each task's model task,
    /// `mnli` for both MNLI halves and AX), a preset (`bert-base-uncased`, `t5-base`, see
    /// presets/models.toml) or a Hub repo id (`org/name[@revision]`).
    #[arg(long)]
    model: Option<String>,
    /// More presets (TOML, same layout as presets/models.toml); same names replace built-in ones.
    #[arg(long, env = "EVALRUN_PRESETS")]
    presets: Option<std::path::PathBuf>,
    /// Never contact the Hub: use the cache only (also HF_HUB_OFFLINE=1).
    #[arg(long)]
    offline: bool,
    /// Comma-separated task names, group names (`mnli`) or `all`.
    #[arg(long, value_delimiter = ',')]
    task: Vec<String>,
    /// Directory laid out like ../shared/data (glue/<TASK>/dev.tsv, ...). Without it, tasks read
    /// their Parquet split from the Hub (`nyu-mll/glue`, `aps/super_glue`) through the cache.
    #[arg(long, env = "EVALRUN_DATA_DIR")]
    data_dir: Option<std::path::PathBuf>,
    /// Split to evaluate (default: each task's own, `dev` for GLUE). `test` writes submission files.
    #[arg(long)]
    split: Option<String>,
    /// Where `--split test` writes the test-server files (GLUE: CoLA.tsv … AX.tsv; SuperGLUE as
    /// text-to-text: BoolQ.jsonl … AX-g.jsonl).
    #[arg(long)]
    submission_dir: Option<std::path::PathBuf>,
    /// Rows per ONNX Runtime call (default: 8 for causal LMs, 32 otherwise), or `auto`: the
    /// largest batch (at most 64) whose estimated peak memory fits `--max-memory`, chosen when
    /// the model loads and written in the record (as lm-eval's `--batch_size auto`).
    #[arg(long)]
    batch_size: Option<String>,
    /// With `--batch-size auto`: the memory budget, a size (`4GiB`, `512MiB`, `2GB`) or a
    /// share of the memory available at start (`50%`, the default).
    #[arg(long)]
    max_memory: Option<String>,
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
    /// Text-to-text: most new tokens per output (default per task: 8 classification, 32 SQuAD,
    /// 128 CNN/DM, 256 WMT).
    #[arg(long)]
    max_new_tokens: Option<usize>,
    /// Text-to-text: beam width (default: the task's, greedy for classification and SQuAD,
    /// 4 for WMT and CNN/DM).
    #[arg(long)]
    beams: Option<usize>,
    /// Text-to-text: beam scores are divided by length^penalty (default: the task's, 0.6 for WMT/CNN/DM).
    #[arg(long)]
    length_penalty: Option<f64>,
    /// Text-to-text: decode without the key/value cache (re-runs the decoder on the whole prefix).
    #[arg(long)]
    no_kv_cache: bool,
    /// Text-to-text: score every label string and take the best (T5's rank_classification)
    /// instead of generating.
    #[arg(long)]
    rank_classification: bool,
    /// Evaluate only the first N examples (documents for rolling LM tasks) of each task. The
    /// record says so; the scores are not comparable to published ones.
    #[arg(long)]
    limit: Option<usize>,
    /// Causal LM: window length in tokens (default: the model's n_positions).
    #[arg(long)]
    context: Option<usize>,
    /// Causal LM: strided windows as in the transformers perplexity guide (max_length =
    /// context) instead of lm-eval's disjoint rolling windows.
    #[arg(long)]
    stride: Option<usize>,
    /// At most this many padded tokens (rows × longest row) per call, for every model kind
    /// (default: 1024 for causal LMs, where it bounds batch × tokens × vocab logits; no bound
    /// otherwise; `--batch-size auto` picks a causal LM's when not given).
    #[arg(long)]
    batch_tokens: Option<usize>,
    /// Request cache: a directory holding one SQLite file of model responses (keyed by the
    /// model's fingerprint and the request). A re-run answers from it; after a crash or Ctrl-C
    /// the same command resumes. Default: off.
    #[arg(long, env = "EVALRUN_CACHE")]
    cache: Option<std::path::PathBuf>,
    /// `read-write` (default), `read` (never write) or `refresh` (recompute and overwrite).
    #[arg(long, default_value = "read-write")]
    cache_mode: String,
    /// Evaluate one shard: `I/N` (0-based) keeps every N-th unit (example; document for
    /// rolling LM tasks; question for MultiRC) starting at I, or `auto` (Slurm array or
    /// Kubernetes Indexed Job). Combine the shard records with `evalrun merge`.
    #[arg(long)]
    shard: Option<String>,
    /// `--shard auto` in a Kubernetes Indexed Job: the number of shards (the Job's completions).
    #[arg(long, env = "EVALRUN_SHARD_COUNT")]
    shard_count: Option<usize>,
    /// Load-time graph edits: `auto` (default: every edit that applies), `none` (every graph
    /// exactly as exported; causal LMs then take the log-softmax on the host, in f64), the
    /// edits wanted (`lm_head,log_softmax`) or edits taken from `auto` (`-attention_blocks`).
    /// Edits: weights_in_place, nan_guards, log_softmax, lm_head, attention_blocks,
    /// cross_attention. The record and the cache key say which were applied.
    #[arg(long, env = "EVALRUN_GRAPH_EDITS", allow_hyphen_values = true)]
    graph_edits: Option<String>,
    /// Causal LM: score every (context, continuation) pair alone instead of scoring the
    /// candidates that share a context against its key/value cache.
    #[arg(long)]
    no_shared_prefix: bool,
    /// Causal LM: lm-eval's `add_bos_token`: `false` encodes every text without special
    /// tokens, `true` with the tokenizer's (default: the tokenizer as saved, as lm-eval's HFLM).
    #[arg(long)]
    add_bos_token: Option<bool>,
    /// Causal LM: lm-eval's `prefix_token_id`, the token before the first rolling window and an
    /// empty context, by id or text (default: the tokenizer's BOS, else its EOS).
    #[arg(long)]
    prefix_token: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct PerplexityArgs {
    /// The text file, scored as one text.
    #[arg(long)]
    file: std::path::PathBuf,
    #[command(flatten)]
    run: RunArgs,
}

/// Flags → settings → engine → table on stdout and files.
fn run(command: &'static str, suite: Option<&'static str>, args: RunArgs) -> anyhow::Result<()> {
    let outputs = settings::Outputs::of(&args);
    outputs.validate()?;
    let settings = settings::resolve(command, suite, args, None)?;
    evaluate(&settings, &outputs)
}

fn evaluate(
    settings: &evalrun_engine::Settings,
    outputs: &settings::Outputs,
) -> anyhow::Result<()> {
    let runtime = settings::runtime(settings)?;
    let mut settings = settings.clone();
    if let Some(cache) = &settings.cache {
        settings.interrupt = Some(interrupt::install(&cache.dir)?);
    }
    let evaluation = evalrun_engine::evaluate(&settings, &runtime, &progress::Bars::new())
        .map_err(interrupt::explain)?;
    if let Some(cache) = evaluation
        .record
        .cache
        .as_ref()
        .filter(|_| !progress::quiet())
    {
        eprintln!(
            "cache: {} of {} requests answered from `{}`, {} computed by the model",
            cache.hits,
            cache.hits + cache.computed,
            cache.path,
            cache.computed
        );
    }
    evaluation.write(outputs.predictions.as_deref(), outputs.output.as_deref())?;
    stdout::write(&evalrun_report::markdown::render(
        &evaluation.record,
        &evaluation.order,
    ))?;
    Ok(())
}

fn perplexity(args: PerplexityArgs) -> anyhow::Result<()> {
    let outputs = settings::Outputs::of(&args.run);
    outputs.validate()?;
    let settings = settings::resolve("perplexity", None, args.run, Some(args.file))?;
    evaluate(&settings, &outputs)
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

/// The error and its causes, each cause once: an error whose message already quotes its
/// source (`cannot write `x`: Permission denied`) does not print the source again.
fn message(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    progress::set_quiet(cli.quiet);
    let ok = |r: anyhow::Result<()>| r.map(|()| ExitCode::SUCCESS);
    let result = match cli.command {
        Command::Run(args) => ok(run("run", None, args)),
        Command::Glue(args) => ok(run("glue", Some("glue"), args)),
        Command::Superglue(args) => ok(run("superglue", Some("superglue"), args)),
        Command::Fetch(args) => ok(fetch::fetch(args)),
        Command::Export(args) => ok(fetch::export(args)),
        Command::Report(args) => commands::report(args),
        Command::Reproduce(args) => ok(reproduce::reproduce(args)),
        Command::Diff(args) => commands::diff(args),
        Command::Check(args) => commands::check(args),
        Command::Calibrate(args) => commands::calibrate(args),
        Command::Perplexity(args) => ok(perplexity(args)),
        Command::Lm(args) => ok(run("lm", None, args)),
        Command::Merge(args) => ok(commands::merge(args)),
        Command::Tasks { tasks_dir } => ok(commands::list_tasks(tasks_dir.as_deref())),
    };
    match result {
        Ok(code) => code,
        Err(error) if error.downcast_ref::<stdout::ClosedPipe>().is_some() => ExitCode::SUCCESS,
        Err(error) if error.downcast_ref::<interrupt::Interrupted>().is_some() => {
            eprintln!("{error}");
            ExitCode::from(130)
        }
        Err(error) => {
            eprintln!("error: {}", message(&error));
            ExitCode::from(2)
        }
    }
}
