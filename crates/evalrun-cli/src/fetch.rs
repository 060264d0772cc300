//! `evalrun fetch SUITE --model M`: download everything a run would need (each task's model and,
//! without `--data-dir`, its Hub data or pinned URL) so that a machine prepared once runs with
//! `HF_HUB_OFFLINE=1`. `evalrun export`: a Hub repository → a local ONNX directory.

use std::fmt::Write as _;

use anyhow::bail;
use clap::Args;
use evalrun_engine::presets::ModelKind;
use evalrun_engine::resolve::ModelResolver;

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
    /// A Hub repo id (`org/name[@revision]`), a preset, or a local `save_pretrained`
    /// directory (config.json and PyTorch/safetensors weights, e.g. run_glue's output).
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

pub fn fetch(args: FetchArgs) -> anyhow::Result<()> {
    let (command, suite): (&'static str, Option<&'static str>) = match args.suite.as_str() {
        "glue" => ("glue", Some("glue")),
        "superglue" => ("superglue", Some("superglue")),
        "run" => ("run", None),
        "lm" => ("lm", None),
        other => bail!("`evalrun fetch {other}`: expected glue, superglue, run or lm"),
    };
    let settings = crate::settings::resolve(command, suite, args.run, None)?;
    let mut out = String::from("| Task | Model | Data |\n|---|---|---|\n");
    for f in evalrun_engine::fetch::fetch(&settings)? {
        let _ = writeln!(
            out,
            "| {} | {} → `{}` | {} |",
            f.task,
            f.model_origin,
            f.model_dir.display(),
            f.data
        );
    }
    crate::stdout::write(&out)?;
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
        None if std::path::Path::new(&args.model).is_dir() => {
            resolver.local_model(std::path::Path::new(&args.model), kind)?
        }
        None => resolver.hub_model(&args.model, kind)?,
    };
    crate::stdout::write(&format!("{}\n", model.dir.display()))?;
    Ok(())
}
