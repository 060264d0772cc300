//! The record-level subcommands: `report`, `diff`, `check` and `calibrate`. They read result
//! records (and predictions files); only `calibrate --repeat` runs evaluations.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::{Args, ValueEnum};
use evalrun_core::bootstrap::BootstrapSpec;
use evalrun_report::check::{self, Rule, Spread, ToleranceFile, DEFAULT_RULE};
use evalrun_report::compare::{compare, LabelledRun};
use evalrun_report::{
    diff, reference, render, significance, write_atomic, PredictionLine, RunRecord,
};

use crate::RunArgs;

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Md,
    Csv,
    Json,
    Html,
    /// booktabs tables for a paper (`\usepackage{booktabs}`).
    Latex,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Result records (`--output` of a run), each a column named after its file stem. Several
    /// are shown side by side; `--label` adds named columns after these.
    runs: Vec<PathBuf>,
    /// A result record with its column name: `--label NAME=FILE`. Repeatable; columns follow the
    /// positional records in the order given (the same file may appear twice).
    #[arg(long = "label", value_name = "NAME=FILE", value_parser = parse_label)]
    labels: Vec<(String, PathBuf)>,
    /// Published numbers to compare with: `bert-base-glue`, `bert-base-glue/model-card`,
    /// `minilm-sts`, `gpt2-zero-shot`, `t5-base`, or a TOML file in the same format. Repeatable.
    #[arg(long)]
    reference: Vec<String>,
    #[arg(long, value_enum, default_value = "md")]
    format: Format,
    /// The report's title (markdown, LaTeX and HTML headers).
    #[arg(long, default_value = "evalrun report")]
    title: String,
    /// Write here instead of stdout.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Also write the chart (measured vs published) as SVG here.
    #[arg(long)]
    svg: Option<PathBuf>,
}

fn parse_label(value: &str) -> Result<(String, PathBuf), String> {
    match value.split_once('=') {
        Some((name, file)) if !name.trim().is_empty() && !file.is_empty() => {
            Ok((name.trim().to_string(), PathBuf::from(file)))
        }
        _ => Err(format!(
            "`{value}` is not NAME=FILE (a column name, `=`, a result record)"
        )),
    }
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

fn all_unique(names: &[String]) -> bool {
    names
        .iter()
        .enumerate()
        .all(|(i, s)| !names[..i].contains(s))
}

/// Report columns for records given without a name: file stems, or (when two stems are the
/// same) the last two path components, never a whole local path.
fn column_names(paths: &[PathBuf]) -> Vec<String> {
    let stems = labels(paths);
    if paths.iter().all(|p| p.file_stem().is_some()) && all_unique(&stems) {
        return stems;
    }
    let short: Vec<String> = paths
        .iter()
        .map(|p| render::public_model_name(&p.with_extension("").display().to_string()))
        .collect();
    if all_unique(&short) {
        short
    } else {
        short
            .iter()
            .enumerate()
            .map(|(i, s)| format!("{s} #{}", i + 1))
            .collect()
    }
}

pub fn report(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let mut columns: Vec<(String, &Path)> = column_names(&args.runs)
        .into_iter()
        .zip(args.runs.iter().map(PathBuf::as_path))
        .collect();
    columns.extend(args.labels.iter().map(|(n, p)| (n.clone(), p.as_path())));
    if columns.is_empty() {
        bail!("no result records: give one or more files, or `--label NAME=FILE`");
    }
    for (i, (name, _)) in columns.iter().enumerate() {
        if columns[..i].iter().any(|(n, _)| n == name) {
            bail!("two columns are named `{name}`: name one with `--label NAME=FILE`");
        }
    }
    let inputs: Vec<(&str, &Path)> = columns.iter().map(|(_, p)| ("input record", *p)).collect();
    let mut outputs: Vec<(&str, &Path)> = Vec::new();
    if let Some(p) = &args.output {
        outputs.push(("--output file", p));
    }
    if let Some(p) = &args.svg {
        outputs.push(("--svg file", p));
    }
    for (_, p) in &outputs {
        evalrun_report::check_destination(p)?;
    }
    evalrun_report::refuse_overlap(&outputs, &inputs)?;
    let runs = columns
        .iter()
        .map(|(label, path)| {
            Ok(LabelledRun {
                label: label.clone(),
                record: read_record(path)?,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let names: Vec<String> = columns.into_iter().map(|(n, _)| n).collect();
    let mut tables = Vec::new();
    for spec in &args.reference {
        tables.extend(reference::resolve(spec)?);
    }
    let rows = compare(&runs, &tables);
    let meta = render::Meta::from_runs(&args.title, &runs);
    let text = match args.format {
        Format::Md => render::markdown(&rows, &names, &tables, &meta),
        Format::Csv => render::csv(&rows),
        Format::Json => serde_json::to_string_pretty(&rows)? + "\n",
        Format::Html => render::html(&rows, &names, &tables, &meta),
        Format::Latex => render::latex(&rows, &names, &tables, &meta),
    };
    match &args.output {
        Some(path) => write_atomic(path, text.as_bytes())?,
        None => crate::stdout::write(&text)?,
    }
    if let Some(path) = &args.svg {
        write_atomic(path, render::svg(&rows, &names).as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The first run's record (`--output` JSON): the "before" column.
    #[arg(value_name = "A.json")]
    a: PathBuf,
    /// The second run's record: the "after" column; Δ is B − A.
    #[arg(value_name = "B.json")]
    b: PathBuf,
    /// The two runs' predictions files (A then B), to list the examples that changed.
    #[arg(long, num_args = 2, value_names = ["A.jsonl", "B.jsonl"])]
    predictions: Vec<PathBuf>,
    /// Changed examples listed per task.
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// Paired-bootstrap resamples for Δ's interval and p (with `--predictions`).
    #[arg(long, default_value_t = 1000)]
    bootstrap: usize,
    /// Seed of the paired bootstrap (SplitMix64).
    #[arg(long, default_value_t = 1234)]
    seed: u64,
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

/// Reads a predictions file, warning when it is not the one written with `record`.
fn predictions_of(
    path: &Path,
    record: &RunRecord,
    record_path: &Path,
) -> anyhow::Result<Vec<PredictionLine>> {
    let lines = read_predictions(path)?;
    if lines.is_empty() {
        bail!("`{}` has no prediction lines; `evalrun diff --predictions` needs the files `--predictions` wrote", path.display());
    }
    if let Some(digest) = &record.predictions {
        let sha = evalrun_report::sha256_file(path)?;
        if sha != digest.sha256 {
            tracing::warn!(
                "`{}` is not the predictions file written with `{}` (its sha256 differs from the record's {}); comparing it anyway",
                path.display(),
                record_path.display(),
                &digest.sha256[..12]
            );
        }
    }
    Ok(lines)
}

pub fn diff(args: DiffArgs) -> anyhow::Result<ExitCode> {
    let (a, b) = (read_record(&args.a)?, read_record(&args.b)?);
    let names = labels(&[args.a.clone(), args.b.clone()]);
    let deltas = diff::metric_deltas(&a, &b);
    let lines = match args.predictions.as_slice() {
        [pa, pb] => Some((
            predictions_of(pa, &a, &args.a)?,
            predictions_of(pb, &b, &args.b)?,
        )),
        _ => None,
    };
    let changed = lines.as_ref().map(|(x, y)| diff::changed_predictions(x, y));
    for warning in check::differences(
        &a,
        &b,
        &format!("`{}`", names[0]),
        &format!("`{}`", names[1]),
    ) {
        eprintln!("warning: {warning}");
    }
    crate::stdout::write(&diff::render(
        &deltas,
        changed.as_ref(),
        &names[0],
        &names[1],
        args.limit,
    ))?;
    if let Some((x, y)) = &lines {
        let spec = BootstrapSpec {
            resamples: args.bootstrap,
            seed: args.seed,
            level: 0.95,
        };
        let rows = significance::paired_tests(&a, &b, x, y, spec);
        crate::stdout::write(&format!(
            "\nPaired tests on the examples both runs scored (accuracy: McNemar's exact test; others: paired bootstrap, {} resamples, seed {}); Δ on each metric's scale:\n{}",
            args.bootstrap,
            args.seed,
            significance::render(&rows)
        ))?;
    }
    if let Some(d) = changed.as_ref().filter(|d| !d.rows_correspond()) {
        let count = |m: &BTreeMap<String, Vec<usize>>| m.values().map(Vec::len).sum::<usize>();
        eprintln!(
            "warning: the predictions files do not correspond row for row: {} rows only in A, {} only in B",
            count(&d.only_a),
            count(&d.only_b)
        );
    }
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
    /// Per-metric rules in TOML: `[default]` and `[metrics."task.metric"]` tables with
    /// `absolute`, `relative`, `spread`, `ci` and `direction` (see examples/tolerances.toml).
    #[arg(long)]
    tolerance_file: Option<PathBuf>,
    /// Which moves beyond the tolerance fail, for every metric: `higher` (higher is better:
    /// only drops fail), `lower`, or `both`. Default: each metric's worse direction
    /// (perplexities up, accuracies down); improvements are reported and pass.
    #[arg(long, value_parser = check::Direction::parse)]
    direction: Option<check::Direction>,
    /// Replace the baseline with this run instead of checking.
    #[arg(long)]
    bless: bool,
    /// `tolerance` (default: allowances) or `significant`: a metric with a paired test fails
    /// only when the run is significantly worse than the baseline at `--alpha` (needs
    /// `--predictions`); `significant = true` in a tolerance-file rule does it per metric.
    #[arg(long, default_value = "tolerance", value_parser = ["tolerance", "significant"])]
    rule: String,
    /// Significance level of `--rule significant`.
    #[arg(long, default_value_t = 0.05)]
    alpha: f64,
    /// The run's and the baseline's predictions files (RUN then BASELINE), for paired tests.
    #[arg(long, num_args = 2, value_names = ["RUN.jsonl", "BASELINE.jsonl"])]
    predictions: Vec<PathBuf>,
    /// Paired-bootstrap resamples.
    #[arg(long, default_value_t = 1000)]
    bootstrap: usize,
    /// Seed of the paired bootstrap.
    #[arg(long, default_value_t = 1234)]
    seed: u64,
}

pub fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let run = read_record(&args.run)?;
    if args.bless {
        evalrun_report::refuse_overlap(&[("baseline", &args.baseline)], &[("run", &args.run)])?;
        let bytes = std::fs::read(&args.run)?;
        write_atomic(&args.baseline, &bytes)?;
        crate::stdout::write(&format!(
            "baseline `{}` replaced by `{}`\n",
            args.baseline.display(),
            args.run.display()
        ))?;
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
    for warning in check::provenance_warnings(&run, &baseline) {
        eprintln!("warning: {warning}");
    }
    let mut rows = check::check(
        &run,
        &baseline,
        &tolerances,
        spread.as_ref(),
        fallback,
        args.direction,
    );
    let everywhere = args.rule == "significant";
    if !(args.alpha > 0.0 && args.alpha < 1.0) {
        bail!("`--alpha {}` must be between 0 and 1", args.alpha);
    }
    match args.predictions.as_slice() {
        [run_lines, base_lines] => {
            let spec = BootstrapSpec {
                resamples: args.bootstrap,
                seed: args.seed,
                level: 0.95,
            };
            let paired = significance::paired_tests(
                &baseline,
                &run,
                &predictions_of(base_lines, &baseline, &args.baseline)?,
                &predictions_of(run_lines, &run, &args.run)?,
                spec,
            );
            check::apply_significance(&mut rows, &paired, args.alpha, everywhere);
        }
        _ if everywhere || rows.iter().any(|r| r.significant) => bail!(
            "a paired test needs both runs' predictions: `--predictions RUN.jsonl BASELINE.jsonl`"
        ),
        _ => {}
    }
    crate::stdout::write(&check::render(&rows))?;
    let summary = check::summarize(&rows);
    let failures: Vec<&check::CheckRow> = rows.iter().filter(|r| !r.pass).collect();
    let extras = {
        let mut parts = Vec::new();
        if summary.improved > 0 {
            parts.push(format!(
                "{} improved beyond their tolerance",
                summary.improved
            ));
        }
        if summary.undefined > 0 {
            parts.push(format!("{} undefined in both", summary.undefined));
        }
        if summary.not_gated > 0 {
            parts.push(format!("{} only in the run, not gated", summary.not_gated));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!(" ({})", parts.join("; "))
        }
    };
    // Nothing compared is an error (exit 2), not a failed gate: the run and the baseline do not
    // share a metric (another task set, say), so the rows above say FAIL for want of values.
    if summary.compared == 0 {
        bail!(
            "no metric of `{}` could be compared with the run{extras}; nothing was gated",
            args.baseline.display()
        );
    }
    if failures.is_empty() {
        eprintln!(
            "check passed: {} of {} baseline metrics compared, all within tolerance of `{}`{extras}",
            summary.compared,
            rows.len() - summary.not_gated,
            args.baseline.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    for f in &failures {
        match f.delta {
            Some(_) if f.rule.starts_with("paired test") => eprintln!(
                "FAIL {}.{}: significantly worse than the baseline: {}",
                f.task, f.metric, f.note
            ),
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
    let zero: Vec<&String> = spread
        .spread
        .iter()
        .filter(|(_, v)| **v == 0.0)
        .map(|(k, _)| k)
        .collect();
    if !zero.is_empty() {
        eprintln!(
            "warning: the spread is 0 for {} of {} metrics ({}{}): the evaluation is deterministic, so a `spread = K` rule allows no change at all; give those metrics an `absolute` floor too, or calibrate with `--from RECORD` (bootstrap standard errors)",
            zero.len(),
            spread.spread.len(),
            zero.iter().take(3).map(|k| k.as_str()).collect::<Vec<_>>().join(", "),
            if zero.len() > 3 { ", …" } else { "" }
        );
    }
    let json = serde_json::to_string_pretty(&spread)? + "\n";
    write_atomic(&args.spread, json.as_bytes())?;
    crate::stdout::write(&format!("{json}\n"))?;
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
    crate::stdout::write(&out)?;
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
    let inputs: Vec<(&str, &Path)> = args
        .shards
        .iter()
        .map(|p| ("shard record", p.as_path()))
        .collect();
    let outputs = crate::settings::Outputs {
        output: args.output.clone(),
        predictions: args.predictions.clone(),
    };
    outputs.validate()?;
    let mut named: Vec<(&str, &Path)> = Vec::new();
    if let Some(p) = &args.predictions {
        named.push(("--predictions file", p));
    }
    if let Some(p) = &args.output {
        named.push(("--output record", p));
    }
    evalrun_report::refuse_overlap(&named, &inputs)?;
    let shards = args
        .shards
        .iter()
        .map(|p| Ok((p.clone(), read_record(p)?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let evaluation = evalrun_engine::merge::merge(&shards, &evalrun_engine::Silent)?;
    evaluation.write(args.predictions.as_deref(), args.output.as_deref())?;
    crate::stdout::write(&evalrun_report::markdown::render(
        &evaluation.record,
        &evaluation.order,
    ))?;
    Ok(())
}
