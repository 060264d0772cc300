//! The record-level subcommands: `report`, `diff`, `check` and `calibrate`. They read result
//! records (and predictions files); only `calibrate --repeat` runs evaluations.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::{Args, ValueEnum};
use evalrun_report::check::{self, Rule, Spread, ToleranceFile, DEFAULT_RULE};
use evalrun_report::compare::{compare, LabelledRun};
use evalrun_report::{diff, reference, render, write_atomic, PredictionLine, RunRecord};

use crate::RunArgs;

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Md,
    Csv,
    Json,
    Html,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Result records (`--output` of a run); several are shown side by side.
    #[arg(required = true)]
    runs: Vec<PathBuf>,
    /// Published numbers to compare with: `bert-base-glue`, `bert-base-glue/model-card`,
    /// `minilm-sts`, `gpt2-zero-shot`, `t5-base`, or a TOML file in the same format. Repeatable.
    #[arg(long)]
    reference: Vec<String>,
    #[arg(long, value_enum, default_value = "md")]
    format: Format,
    /// Write here instead of stdout.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Also write the chart (measured vs published) as SVG here.
    #[arg(long)]
    svg: Option<PathBuf>,
}

fn read_record(path: &Path) -> anyhow::Result<RunRecord> {
    Ok(RunRecord::read(path)?)
}

fn labels(paths: &[PathBuf]) -> Vec<String> {
    let stems: Vec<String> = paths
        .iter()
        .map(|p| {
            p.file_stem().map_or_else(
                || p.display().to_string(),
                |s| s.to_string_lossy().into_owned(),
            )
        })
        .collect();
    let unique = stems
        .iter()
        .enumerate()
        .all(|(i, s)| !stems[..i].contains(s));
    if unique {
        stems
    } else {
        paths.iter().map(|p| p.display().to_string()).collect()
    }
}

pub fn report(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let names = labels(&args.runs);
    let runs = args
        .runs
        .iter()
        .zip(&names)
        .map(|(path, label)| {
            Ok(LabelledRun {
                label: label.clone(),
                record: read_record(path)?,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut tables = Vec::new();
    for spec in &args.reference {
        tables.extend(reference::resolve(spec)?);
    }
    let rows = compare(&runs, &tables);
    let text = match args.format {
        Format::Md => render::markdown(&rows, &names, &tables),
        Format::Csv => render::csv(&rows),
        Format::Json => serde_json::to_string_pretty(&rows)? + "\n",
        Format::Html => render::html(&rows, &names, &tables),
    };
    match &args.output {
        Some(path) => write_atomic(path, text.as_bytes())?,
        None => print!("{text}"),
    }
    if let Some(path) = &args.svg {
        write_atomic(path, render::svg(&rows, &names).as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    a: PathBuf,
    b: PathBuf,
    /// The two runs' predictions files (A then B), to list the examples that changed.
    #[arg(long, num_args = 2, value_names = ["A.jsonl", "B.jsonl"])]
    predictions: Vec<PathBuf>,
    /// Changed examples listed per task.
    #[arg(long, default_value_t = 20)]
    limit: usize,
}

fn read_predictions(path: &Path) -> anyhow::Result<Vec<PredictionLine>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).with_context(|| {
                format!(
                    "`{}` line {}: not a predictions line",
                    path.display(),
                    i + 1
                )
            })
        })
        .collect()
}

pub fn diff(args: DiffArgs) -> anyhow::Result<ExitCode> {
    let (a, b) = (read_record(&args.a)?, read_record(&args.b)?);
    let names = labels(&[args.a.clone(), args.b.clone()]);
    let deltas = diff::metric_deltas(&a, &b);
    let changed = match args.predictions.as_slice() {
        [pa, pb] => Some(diff::changed_predictions(
            &read_predictions(pa)?,
            &read_predictions(pb)?,
        )),
        _ => None,
    };
    print!(
        "{}",
        diff::render(
            &deltas,
            changed.as_deref(),
            &names[0],
            &names[1],
            args.limit
        )
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The result record to gate.
    run: PathBuf,
    /// The baseline record; replaced only with `--bless`.
    #[arg(long)]
    baseline: PathBuf,
    /// Default tolerance: absolute (`0.005`) or relative (`2%`). Built-in default: 1e-4.
    #[arg(long)]
    tolerance: Option<String>,
    /// Per-metric rules (TOML; see `evalrun_report::check`).
    #[arg(long)]
    tolerance_file: Option<PathBuf>,
    /// Replace the baseline with this run instead of checking.
    #[arg(long)]
    bless: bool,
}

pub fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let run = read_record(&args.run)?;
    if args.bless {
        let bytes = std::fs::read(&args.run)?;
        write_atomic(&args.baseline, &bytes)?;
        println!(
            "baseline `{}` replaced by `{}`",
            args.baseline.display(),
            args.run.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    if !args.baseline.is_file() {
        bail!(
            "no baseline at `{}`; create it explicitly with `evalrun check {} --baseline {} --bless`",
            args.baseline.display(),
            args.run.display(),
            args.baseline.display()
        );
    }
    let baseline = read_record(&args.baseline)?;
    let fallback = match &args.tolerance {
        Some(t) => Rule::parse(t).map_err(anyhow::Error::msg)?,
        None => DEFAULT_RULE,
    };
    let (tolerances, spread) = match &args.tolerance_file {
        Some(path) => ToleranceFile::read(path)?,
        None => (ToleranceFile::default(), None),
    };
    let rows = check::check(&run, &baseline, &tolerances, spread.as_ref(), fallback);
    print!("{}", check::render(&rows));
    let failures: Vec<&check::CheckRow> = rows.iter().filter(|r| !r.pass).collect();
    if failures.is_empty() {
        eprintln!(
            "check passed: {} metrics within tolerance of `{}`",
            rows.len(),
            args.baseline.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    for f in &failures {
        match f.delta {
            Some(d) => eprintln!(
                "FAIL {}.{}: {:+.6} from the baseline, tolerance {:.6} (outside by {:.6})",
                f.task,
                f.metric,
                d,
                f.tolerance,
                d.abs() - f.tolerance
            ),
            None => eprintln!("FAIL {}.{}: {}", f.task, f.metric, f.note),
        }
    }
    Ok(ExitCode::from(1))
}

#[derive(Args, Debug)]
pub struct CalibrateArgs {
    /// Where to write the spread (JSON), for `spread_file` in a tolerance file.
    #[arg(long)]
    spread: PathBuf,
    /// Existing records of the same evaluation: two or more give the run-to-run standard
    /// deviation; one gives its bootstrap standard errors.
    #[arg(long, conflicts_with = "repeat")]
    from: Vec<PathBuf>,
    /// Run the evaluation (the run flags below) this many times and take the spread.
    #[arg(long)]
    repeat: Option<usize>,
    #[command(flatten)]
    run: RunArgs,
}

fn metric_values(record: &RunRecord) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for (task, result) in &record.results {
        for (metric, value) in &result.metrics {
            if let Some(v) = value {
                out.insert(format!("{task}.{metric}"), *v);
            }
        }
    }
    out
}

/// Sample standard deviation (n − 1) of each metric across records.
fn spread_of_runs(records: &[RunRecord]) -> BTreeMap<String, f64> {
    let values: Vec<BTreeMap<String, f64>> = records.iter().map(metric_values).collect();
    let mut out = BTreeMap::new();
    for key in values[0].keys() {
        let xs: Vec<f64> = values.iter().filter_map(|v| v.get(key).copied()).collect();
        if xs.len() == records.len() {
            let mean = xs.iter().sum::<f64>() / xs.len() as f64;
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (xs.len() - 1) as f64;
            out.insert(key.clone(), var.sqrt());
        }
    }
    out
}

pub fn calibrate(args: CalibrateArgs) -> anyhow::Result<ExitCode> {
    let spread = if !args.from.is_empty() {
        let records = args
            .from
            .iter()
            .map(|p| read_record(p))
            .collect::<anyhow::Result<Vec<_>>>()?;
        if records.len() == 1 {
            let mut spread = BTreeMap::new();
            for (task, result) in &records[0].results {
                for (metric, ci) in &result.ci {
                    spread.insert(format!("{task}.{metric}"), ci.std_error);
                }
            }
            if spread.is_empty() {
                bail!(
                    "`{}` has no bootstrap intervals (it was run with --bootstrap 0)",
                    args.from[0].display()
                );
            }
            Spread {
                method: "bootstrap".into(),
                runs: 1,
                spread,
            }
        } else {
            Spread {
                method: "runs".into(),
                runs: records.len(),
                spread: spread_of_runs(&records),
            }
        }
    } else {
        let Some(repeat) = args.repeat.filter(|n| *n >= 2) else {
            bail!("`evalrun calibrate` needs `--from RECORD...` or `--repeat N` (N ≥ 2) with the run's flags");
        };
        // Any kind of run: the same engine as `evalrun run`.
        let settings = crate::settings::resolve("calibrate", None, args.run, None)?;
        let runtime = crate::settings::runtime(&settings)?;
        let mut records = Vec::with_capacity(repeat);
        for i in 0..repeat {
            tracing::info!("calibration run {} of {repeat}", i + 1);
            records.push(
                evalrun_engine::evaluate(&settings, &runtime, &crate::progress::Bars::new())?
                    .record,
            );
        }
        Spread {
            method: "runs".into(),
            runs: repeat,
            spread: spread_of_runs(&records),
        }
    };
    let json = serde_json::to_string_pretty(&spread)? + "\n";
    write_atomic(&args.spread, json.as_bytes())?;
    println!("{json}");
    Ok(ExitCode::SUCCESS)
}

/// `evalrun tasks`: every task file of every kind, one table.
pub fn list_tasks(tasks_dir: Option<&Path>) -> anyhow::Result<()> {
    use std::fmt::Write as _;
    let catalog = evalrun_engine::catalog(tasks_dir)?;
    let mut out = String::from(
        "| Task | Kind | Key | Suites | Version | Metrics | Description |\n|---|---|---|---|---:|---|---|\n",
    );
    for entry in catalog.entries() {
        let task = &entry.task;
        let _ = writeln!(
            out,
            "| {} | {} | `{}` | {} | {} | {} | {} |",
            task.name(),
            task.kind().name(),
            entry.key,
            task.suites().join(", "),
            task.version(),
            task.metric_names().join(", "),
            task.description().replace('|', "\\|")
        );
    }
    out.push_str("\nKinds: `head` runs on encoder exports (classification heads, sentence embeddings), `lm` on causal LMs, `text_to_text` on seq2seq (T5) exports; `evalrun run --model M --task NAME` picks the task of the model's kind.\n");
    print!("{out}");
    Ok(())
}

#[derive(Args)]
pub struct MergeArgs {
    /// Shard records (`--output` of runs with `--shard I/N`), all N of them, in any order.
    #[arg(required = true)]
    shards: Vec<PathBuf>,
    /// Write the merged record here.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Write the merged prediction lines (all units, in the unsharded run's order) here.
    #[arg(long)]
    predictions: Option<PathBuf>,
}

/// Shard records → one record, as if the run had not been sharded; prints its table.
pub fn merge(args: MergeArgs) -> anyhow::Result<()> {
    let shards = args
        .shards
        .iter()
        .map(|p| Ok((p.clone(), read_record(p)?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let evaluation = evalrun_engine::merge::merge(&shards, &evalrun_engine::Silent)?;
    evaluation.write(args.predictions.as_deref(), args.output.as_deref())?;
    print!(
        "{}",
        evalrun_report::markdown::render(&evaluation.record, &evaluation.order)
    );
    Ok(())
}
