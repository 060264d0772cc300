//! `evalrun reproduce MODEL`: every cell of the model's published tables that can run here,
//! in one command, and one self-contained document (`reproduction.md`, `reproduction.html`)
//! with the measured value ± interval, the published value and its source, Δ, the markers, the
//! reason for every cell not measured, and the run's provenance.

use std::path::{Path, PathBuf};

use anyhow::bail;
use clap::Args;
use evalrun_report::compare::compare;
use evalrun_report::render::{self, Meta};
use evalrun_report::{write_atomic, LabelledRun, RunRecord};

use crate::{interrupt, progress, settings, RunArgs};

#[derive(Args, Debug)]
pub struct ReproduceArgs {
    /// A preset, which names its published tables (`bert-base-uncased` → BERT GLUE card and dev
    /// anchors, `gpt2` → GPT-2 Table 3 117M and lm-eval, `t5-base` → T5 Tables 14/15,
    /// `all-minilm-l6-v2` → MTEB STS), or any model with `--reference`.
    #[arg(id = "reproduce_model", value_name = "MODEL")]
    model: String,
    /// Published tables to reproduce instead of the preset's: `NAME`, `NAME/TABLE` or a TOML
    /// file (as `evalrun report --reference`). Repeatable.
    #[arg(long)]
    reference: Vec<String>,
    /// Directory for reproduction.{md,html,json} and predictions.jsonl
    /// (default: reproduction/<model>).
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    run: RunArgs,
}

/// `reproduction/<model>` with path separators and `{}` made plain.
fn default_out(model: &str) -> PathBuf {
    let name: String = model
        .trim_matches(|c| c == '.' || c == '/')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    Path::new("reproduction").join(name)
}

pub fn reproduce(args: ReproduceArgs) -> anyhow::Result<()> {
    let refused = [
        ("--model", args.run.model.is_some()),
        ("--task", !args.run.task.is_empty()),
        ("--output", args.run.output.is_some()),
        ("--predictions", args.run.predictions.is_some()),
        ("--split", args.run.split.is_some()),
        ("--submission-dir", args.run.submission_dir.is_some()),
        ("--shard", args.run.shard.is_some()),
    ];
    if let Some((flag, _)) = refused.iter().find(|(_, given)| *given) {
        bail!("`evalrun reproduce` does not take `{flag}`: the model is its first argument, the tasks and splits come from the published tables, and every file goes into `--out DIR`");
    }
    let out = args.out.clone().unwrap_or_else(|| default_out(&args.model));
    let files = Files::in_dir(&out);
    for path in files.all() {
        if path.exists() {
            evalrun_report::check_destination(path)?;
        }
    }
    let mut run = args.run.clone();
    run.model = Some(args.model.clone());
    let mut settings = settings::resolve("reproduce", None, run, None)?;
    let plan = evalrun_engine::reproduce::plan(&settings, &args.reference)?;
    settings.tasks = plan.tasks.clone();
    settings.skip_absent = true;

    let runtime = settings::runtime(&settings)?;
    if let Some(cache) = &settings.cache {
        settings.interrupt = Some(interrupt::install(&cache.dir)?);
    }
    let mut evaluation = evalrun_engine::evaluate(&settings, &runtime, &progress::Bars::new())
        .map_err(interrupt::explain)?;
    plan.annotate(&mut evaluation.record);

    std::fs::create_dir_all(&out)
        .map_err(|e| anyhow::anyhow!("cannot create `{}`: {e}", out.display()))?;
    evaluation.write(Some(&files.predictions), Some(&files.record))?;
    let runs = [LabelledRun {
        label: "measured".into(),
        record: evaluation.record.clone(),
    }];
    let rows = compare(&runs, &plan.tables);
    let labels = vec!["measured".to_string()];
    let mut meta = Meta::from_runs(&format!("Reproduction: {}", args.model), &runs);
    meta.notes.push(format!(
        "Published tables: {}. Every published cell is measured here or says why not.",
        plan.references.join(", ")
    ));
    if settings.limit.is_some() {
        meta.notes.push(
            "Run with --limit: the measured values cover the first examples only and are not comparable to the published ones."
                .into(),
        );
    }
    let provenance = provenance(&evaluation.record);
    let markdown =
        render::markdown(&rows, &labels, &plan.tables, &meta) + &provenance_markdown(&provenance);
    let html = render::html(&rows, &labels, &plan.tables, &meta);
    let html = match html.rfind("</body>") {
        Some(at) => format!(
            "{}{}{}",
            &html[..at],
            provenance_html(&provenance),
            &html[at..]
        ),
        None => html + &provenance_html(&provenance),
    };
    write_atomic(&files.markdown, markdown.as_bytes())?;
    write_atomic(&files.html, html.as_bytes())?;
    crate::stdout::write(&markdown)?;
    if !progress::quiet() {
        eprintln!(
            "reproduction written to `{}` (reproduction.md, reproduction.html, reproduction.json, predictions.jsonl)",
            out.display()
        );
    }
    Ok(())
}

/// The files a reproduction writes.
struct Files {
    record: PathBuf,
    predictions: PathBuf,
    markdown: PathBuf,
    html: PathBuf,
}

impl Files {
    fn in_dir(dir: &Path) -> Self {
        Self {
            record: dir.join("reproduction.json"),
            predictions: dir.join("predictions.jsonl"),
            markdown: dir.join("reproduction.md"),
            html: dir.join("reproduction.html"),
        }
    }

    fn all(&self) -> [&Path; 4] {
        [&self.record, &self.predictions, &self.markdown, &self.html]
    }
}

/// Whether every task resolves to one model.
fn resolved_len_one(map: &std::collections::BTreeMap<String, String>) -> bool {
    let mut values = map.values();
    let first = values.next();
    values.all(|v| Some(v) == first)
}

/// A short hash for tables: the first 12 hex digits.
fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// The provenance block: model (as named, as resolved, graph hashes), data files and hashes,
/// evalrun, ONNX Runtime, device, command line, dates. Paths are shown relative to the data
/// directory or as the record holds them (relative to the working directory), never absolute.
fn provenance(record: &RunRecord) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    let config = record.config.as_ref();
    if let Some(c) = config {
        rows.push(("Model".into(), format!("`{}` ({})", c.model, c.model_kind)));
        // Tasks that resolve to the same model are named together.
        let mut resolved: Vec<(String, Vec<String>)> = Vec::new();
        for (task, to) in &c.model_resolved {
            let to = plain_path(to);
            match resolved.iter_mut().find(|(t, _)| *t == to) {
                Some((_, tasks)) => tasks.push(task.clone()),
                None => resolved.push((to, vec![task.clone()])),
            }
        }
        let resolved: Vec<String> = resolved
            .into_iter()
            .map(|(to, tasks)| {
                let tasks: Vec<String> = tasks.into_iter().filter(|t| !t.is_empty()).collect();
                if tasks.is_empty()
                    || c.model_resolved.len() == tasks.len() && resolved_len_one(&c.model_resolved)
                {
                    to
                } else {
                    format!("{to} ({})", tasks.join(", "))
                }
            })
            .collect();
        rows.push(("Resolved to".into(), resolved.join("; ")));
    }
    let mut graphs: Vec<String> = Vec::new();
    let mut data: Vec<String> = Vec::new();
    let data_dir = config.and_then(|c| c.data_dir.clone());
    for (task, result) in &record.results {
        let m = &result.model;
        let mut hashes = vec![format!("{} {}", plain_path(&m.path), short(&m.sha256))];
        for g in &m.graphs {
            let line = format!("{} {}", plain_path(&g.path), short(&g.sha256));
            if !hashes.contains(&line) {
                hashes.push(line);
            }
        }
        hashes.push(format!("tokenizer {}", short(&m.tokenizer_sha256)));
        let line = hashes.join(", ");
        if !graphs.contains(&line) {
            graphs.push(line);
        }
        let path = match &data_dir {
            Some(dir) => result
                .data
                .path
                .strip_prefix(dir.as_str())
                .map(|p| p.trim_start_matches('/').to_string())
                .unwrap_or_else(|| plain_path(&result.data.path)),
            None => plain_path(&result.data.path),
        };
        data.push(format!(
            "{task}: `{path}` ({}, n = {}) sha256 {}",
            result.split,
            result.n,
            short(&result.data.sha256)
        ));
    }
    rows.push(("Model files (sha256)".into(), graphs.join("; ")));
    rows.push(("Data (sha256)".into(), data.join("; ")));
    rows.push((
        "evalrun".into(),
        format!(
            "{} (commit {})",
            record.evalrun.version, record.evalrun.git_commit
        ),
    ));
    let rt = &record.runtime;
    rows.push((
        "ONNX Runtime".into(),
        format!(
            "{} ({}, device {}, {} threads, batch size {})",
            rt.ort_version, rt.execution_provider, rt.device, rt.threads, rt.batch_size
        ),
    ));
    if let Some(c) = config {
        rows.push((
            "Command".into(),
            format!(
                "`evalrun {}`",
                c.command_line
                    .iter()
                    .map(|a| plain_path(a))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        ));
        rows.push((
            "Date".into(),
            format!("started {}, finished {}", c.started, c.finished),
        ));
    }
    rows
}

/// A path without the machine's own prefix: an absolute path shows only its last two
/// components.
fn plain_path(text: &str) -> String {
    let path = Path::new(text);
    if !path.is_absolute() {
        return text.to_string();
    }
    let parts: Vec<String> = path
        .components()
        .rev()
        .take(2)
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    format!(
        "…/{}",
        parts.into_iter().rev().collect::<Vec<_>>().join("/")
    )
}

fn provenance_markdown(rows: &[(String, String)]) -> String {
    let mut out = String::from("\n## Provenance\n\n");
    for (key, value) in rows {
        out.push_str(&format!("- **{key}**: {}\n", value.replace('|', "\\|")));
    }
    out
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn provenance_html(rows: &[(String, String)]) -> String {
    let mut out = String::from("<section class=\"provenance\"><h2>Provenance</h2>\n<dl>\n");
    for (key, value) in rows {
        out.push_str(&format!(
            "<dt>{}</dt><dd>{}</dd>\n",
            escape_html(key),
            escape_html(&value.replace('`', ""))
        ));
    }
    out.push_str("</dl></section>\n");
    out
}
