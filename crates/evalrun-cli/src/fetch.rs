//! `evalrun fetch SUITE --model M`: download everything a run would need (each task's model and,
//! without `--data-dir`, its Hub data) so that a machine prepared once runs with
//! `HF_HUB_OFFLINE=1`. `evalrun export`: a Hub repository → a local ONNX directory.

use std::fmt::Write as _;

use anyhow::bail;
use clap::Args;

use crate::presets::ModelKind;
use crate::resolve::ModelResolver;
use crate::settings::Settings;
use crate::RunArgs;

#[derive(Args, Debug)]
pub struct FetchArgs {
    /// What the later run will be: `glue`, `superglue`, `run` (with --task) or `lm`.
    pub suite: String,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// A Hub repo id (`org/name[@revision]`) or a preset.
    #[arg(long)]
    pub model: String,
    /// The preset's task whose checkpoint to export (per-task presets).
    #[arg(long, default_value = "")]
    pub task: String,
    /// What to export as when config.json does not say: classification, embedding, causal-lm, seq2seq.
    #[arg(long)]
    pub kind: Option<String>,
    #[arg(long, env = "EVALRUN_PRESETS")]
    pub presets: Option<std::path::PathBuf>,
}

/// (task, model task, Hub data as (dataset, path)).
type Wanted = (String, String, Option<(String, String)>);

pub fn fetch(args: FetchArgs) -> anyhow::Result<()> {
    let suite: Option<&'static str> = match args.suite.as_str() {
        "glue" => Some("glue"),
        "superglue" => Some("superglue"),
        "run" | "lm" => None,
        other => bail!("`evalrun fetch {other}`: expected glue, superglue, run or lm"),
    };
    let lm = args.suite == "lm";
    let mut run = args.run;
    if lm && run.data_dir.is_none() {
        // LM data comes from --data-dir only; fetch prepares the model.
        run.data_dir = Some(".".into());
    }
    let settings = Settings::resolve("fetch", suite, run)?;
    let resolver = ModelResolver::new(settings.presets.as_deref(), settings.offline)?;
    let mut out = String::from("| Task | Model | Data |\n|---|---|---|\n");
    let mut wanted: Vec<Wanted> = Vec::new();
    if lm {
        for task in &settings.tasks {
            wanted.push((task.clone(), String::new(), None));
        }
    } else if crate::t2t::is_seq2seq(&settings)? || suite == Some("superglue") {
        for task in crate::t2t::resolve(settings.suite, &settings.tasks)? {
            let split = settings.split.clone().unwrap_or(task.default_split.clone());
            let data = task
                .hub
                .get(&split)
                .map(|h| (h.dataset.clone(), h.path.clone()));
            wanted.push((task.name.clone(), task.name.clone(), data));
        }
    } else {
        let mut registry = evalrun_tasks::TaskRegistry::embedded()?;
        if let Some(dir) = &settings.tasks_dir {
            registry.add_dir(dir)?;
        }
        for task in registry.resolve(settings.suite, &settings.tasks)? {
            let split = settings.split.clone().unwrap_or(task.default_split.clone());
            let data = task
                .splits
                .get(&split)
                .and_then(|s| s.hub.as_ref())
                .map(|h| (h.dataset.clone(), h.path.clone()));
            wanted.push((task.name.clone(), task.model_task().to_string(), data));
        }
    }
    for (task, model_task, data) in wanted {
        let model = resolver.resolve(&settings.model, &model_task)?;
        let data = match (&settings.data_dir, data) {
            (Some(_), _) => "--data-dir".to_string(),
            (None, Some((dataset, path))) => {
                let local = resolver.dataset_file(&dataset, &path)?;
                format!("{dataset}/{path} → `{}`", local.display())
            }
            (None, None) => "no Hub source (needs --data-dir)".to_string(),
        };
        let _ = writeln!(
            out,
            "| {task} | {} → `{}` | {data} |",
            model.origin,
            model.dir.display()
        );
    }
    print!("{out}");
    Ok(())
}

pub fn export(args: ExportArgs) -> anyhow::Result<()> {
    let resolver = ModelResolver::new(args.presets.as_deref(), false)?;
    let kind = match args.kind.as_deref() {
        None => None,
        Some("classification") => Some(ModelKind::Classification),
        Some("embedding") => Some(ModelKind::Embedding),
        Some("causal-lm") => Some(ModelKind::CausalLm),
        Some("seq2seq") => Some(ModelKind::Seq2seq),
        Some(other) => {
            bail!("`--kind {other}`: expected classification, embedding, causal-lm or seq2seq")
        }
    };
    let model = match resolver.presets().get(&args.model) {
        Some(preset) => {
            let Some((repo, _)) = preset.for_task(&args.task) else {
                bail!(
                    "preset `{}` needs `--task` (one of: {})",
                    args.model,
                    preset.tasks.keys().cloned().collect::<Vec<_>>().join(", ")
                );
            };
            resolver.hub_model(repo, kind.or(Some(preset.kind)))?
        }
        None => resolver.hub_model(&args.model, kind)?,
    };
    println!("{}", model.dir.display());
    Ok(())
}
