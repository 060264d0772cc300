//! `--model` → a local model directory: an existing directory as is; a preset name
//! (`bert-base-uncased`, per task) or a Hub repo id (`org/name[@revision]`) through the Hub
//! cache (shared with Python's huggingface_hub), downloading only the files the model layout
//! needs; repositories with only PyTorch weights are exported once with optimum
//! (`evalrun export`) and the export is cached beside the snapshot.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::error::{bail, Context as _};
use evalrun_hub::{Hub, HubConfig, RepoId};

use crate::presets::{ModelKind, Presets};

/// A model ready to open.
#[derive(Debug, Clone)]
pub struct ResolvedModel {
    pub dir: PathBuf,
    /// The head's label names in column order, from a preset (overrides `id2label`).
    pub labels: Option<Vec<String>>,
    /// Where it came from, for records: `local`, or `org/name@commit (preset …)`.
    pub origin: String,
}

/// Files a model directory may carry beside its graphs.
const SIDE_FILES: &[&str] = &[
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "sentence_bert_config.json",
    "modules.json",
    "1_Pooling/config.json",
];

/// ONNX layouts, most specific first: (required graph files, optional ones).
const LAYOUTS: &[(&[&str], &[&str])] = &[
    (&["encoder_model.onnx", "decoder_model_merged.onnx"], &[]),
    (
        &["encoder_model.onnx", "decoder_model.onnx"],
        &["decoder_with_past_model.onnx"],
    ),
    (&["model.onnx"], &["model.onnx_data"]),
    (&["decoder_model_merged.onnx"], &[]),
    (&["decoder_model.onnx"], &[]),
];

const WEIGHTS: &[&str] = &[
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
];

pub struct ModelResolver {
    presets: Presets,
    offline: bool,
    hub: OnceLock<Hub>,
}

impl ModelResolver {
    pub fn new(presets_file: Option<&Path>, offline: bool) -> crate::Result<Self> {
        Ok(Self {
            presets: Presets::load(presets_file)?,
            offline,
            hub: OnceLock::new(),
        })
    }

    pub fn presets(&self) -> &Presets {
        &self.presets
    }

    /// The Hub client (created on first use: local runs never touch the network stack).
    pub fn hub(&self) -> crate::Result<&Hub> {
        if let Some(hub) = self.hub.get() {
            return Ok(hub);
        }
        let config = HubConfig::from_env();
        let offline = self.offline || config.offline;
        let hub = Hub::new(config.with_offline(offline))?;
        Ok(self.hub.get_or_init(|| hub))
    }

    /// Resolves `spec` (with `{task}` replaced by `model_task`) for one task.
    pub fn resolve(&self, spec: &str, model_task: &str) -> crate::Result<ResolvedModel> {
        let local = spec.replace("{task}", model_task);
        if Path::new(&local).is_dir() {
            return self.local_model(Path::new(&local), None);
        }
        if let Some(preset) = self.presets.get(spec) {
            if let Some(dir) = preset.local_dir(model_task) {
                if !dir.is_dir() {
                    bail!(
                        "preset `{spec}` names the directory `{}` for task `{model_task}`, which does not exist",
                        dir.display()
                    );
                }
                let mut model = self.local_model(&dir, None)?;
                model.origin = format!("{} (preset `{spec}`)", dir.display());
                return Ok(model);
            }
            let Some((repo, labels)) = preset.for_task(model_task) else {
                bail!(
                    "preset `{spec}` has no checkpoint for task `{model_task}` (it has: {})",
                    preset.tasks.keys().cloned().collect::<Vec<_>>().join(", ")
                );
            };
            let mut model = self.hub_model(repo, Some(preset.kind))?;
            model.labels = labels.map(<[String]>::to_vec);
            model.origin = format!("{} (preset `{spec}`)", model.origin);
            return Ok(model);
        }
        if let Some(why) = looks_like_a_path(&local) {
            bail!("model directory `{local}` does not exist ({why}); a path is never looked up on the Hub. Check the path, or give a preset ({}) or a Hub repo id (`org/name`)",
                self.presets.names().collect::<Vec<_>>().join(", "));
        }
        let looks_like_repo = local.contains('/') && local.split('/').count() == 2;
        if looks_like_repo {
            return self.hub_model(&local, None);
        }
        bail!(
            "model `{local}` is not a directory, a preset ({}) or a Hub repo id (`org/name[@revision]`)",
            self.presets.names().collect::<Vec<_>>().join(", ")
        )
    }

    /// Downloads (or finds in the cache) what `repo` needs to run.
    pub fn hub_model(&self, repo: &str, kind: Option<ModelKind>) -> crate::Result<ResolvedModel> {
        let hub = self.hub()?;
        let id = RepoId::model(repo)?;
        // Cache first: a snapshot that already holds a complete layout needs no request.
        let cached = hub.list_cached_files(&id)?;
        let files = match cached {
            Some(files) if plan(&files).is_some_and(|p| p.is_complete(&files)) => files,
            _ => hub.list_files(&id)?,
        };
        let Some(plan) = plan(&files) else {
            bail!(
                "`{repo}` has no ONNX graphs and no PyTorch weights (files: {})",
                files.join(", ")
            );
        };
        let wanted: Vec<&str> = plan.files.iter().map(String::as_str).collect();
        let paths = hub.download_many(&id, &wanted)?;
        let snapshot = snapshot_root(&paths[0], &plan.files[0]);
        let commit = snapshot
            .file_name()
            .map(|c| c.to_string_lossy().into_owned())
            .unwrap_or_default();
        let origin = format!("{repo}@{commit}");
        match plan.onnx_dir {
            Some(sub) => Ok(ResolvedModel {
                dir: if sub.is_empty() {
                    snapshot
                } else {
                    onnx_view(&snapshot, sub, &files)?
                },
                labels: None,
                origin,
            }),
            None => {
                let kind = kind
                    .or_else(|| architecture_kind(&snapshot))
                    .with_context(|| {
                        format!("`{repo}` has only PyTorch weights and config.json names no architecture evalrun knows; pass the kind to `evalrun export --kind`")
                    })?;
                let dir = export(&snapshot, repo, kind)?;
                Ok(ResolvedModel {
                    dir,
                    labels: None,
                    origin: format!(
                        "{origin} (exported with optimum, --task {})",
                        kind.optimum_task()
                    ),
                })
            }
        }
    }

    /// A local directory: an ONNX export as it is, or a `save_pretrained` checkpoint
    /// (run_glue's output: config.json and PyTorch/safetensors weights, no ONNX) exported once
    /// with optimum into `<Hub cache>/evalrun-local/<content hash>-<task>`, so an unchanged
    /// directory is exported once and an edited one again.
    pub fn local_model(&self, dir: &Path, kind: Option<ModelKind>) -> crate::Result<ResolvedModel> {
        let has = |f: &str| dir.join(f).is_file();
        let onnx = [
            "model.onnx",
            "onnx/model.onnx",
            "encoder_model.onnx",
            "onnx/encoder_model.onnx",
            "decoder_model.onnx",
            "onnx/decoder_model.onnx",
            "decoder_model_merged.onnx",
            "onnx/decoder_model_merged.onnx",
        ];
        let weights = [
            "model.safetensors",
            "pytorch_model.bin",
            "model.safetensors.index.json",
            "pytorch_model.bin.index.json",
        ];
        if onnx.iter().any(|f| has(f)) || !weights.iter().any(|f| has(f)) {
            return Ok(ResolvedModel {
                dir: dir.to_path_buf(),
                labels: None,
                origin: "local".into(),
            });
        }
        let kind = kind.or_else(|| architecture_kind(dir)).with_context(|| {
            format!("`{}` holds PyTorch weights but its config.json names no architecture evalrun knows; pass `evalrun export --model {} --kind classification|embedding|causal-lm|seq2seq`", dir.display(), dir.display())
        })?;
        let hash = content_hash(dir)?;
        let out = HubConfig::from_env()
            .cache_dir
            .join("evalrun-local")
            .join(format!("{}-{}", &hash[..16], kind.optimum_task()));
        let label = dir.display().to_string();
        let exported = export_to(dir, &label, kind, &out)?;
        Ok(ResolvedModel {
            dir: exported,
            labels: None,
            origin: format!(
                "local `{label}` (content sha256 {}, exported with optimum, --task {})",
                &hash[..16],
                kind.optimum_task()
            ),
        })
    }

    /// A dataset file from the Hub (Parquet), cache first.
    pub fn dataset_file(&self, dataset: &str, path: &str) -> crate::Result<PathBuf> {
        let id = RepoId::dataset(dataset)?;
        Ok(self.hub()?.download(&id, path)?)
    }
}

/// What to download from a repository listing.
struct Plan {
    files: Vec<String>,
    /// `Some("")`: ONNX at the root; `Some("onnx")`: under `onnx/`; `None`: needs an export.
    onnx_dir: Option<&'static str>,
}

impl Plan {
    fn is_complete(&self, present: &[String]) -> bool {
        self.files.iter().all(|f| present.contains(f))
    }
}

fn plan(files: &[String]) -> Option<Plan> {
    let has = |f: &str| files.iter().any(|x| x == f);
    let side = || {
        SIDE_FILES
            .iter()
            .filter(|f| has(f))
            .map(|f| f.to_string())
            .collect::<Vec<_>>()
    };
    for sub in ["", "onnx"] {
        let at = |f: &str| {
            if sub.is_empty() {
                f.to_string()
            } else {
                format!("{sub}/{f}")
            }
        };
        for (required, optional) in LAYOUTS {
            if required.iter().all(|f| has(&at(f))) {
                let mut out: Vec<String> = required.iter().map(|f| at(f)).collect();
                out.extend(optional.iter().map(|f| at(f)).filter(|f| has(f)));
                out.extend(side());
                return Some(Plan {
                    files: out,
                    onnx_dir: Some(sub),
                });
            }
        }
    }
    let weights: Vec<String> = files
        .iter()
        .filter(|f| {
            WEIGHTS.contains(&f.as_str())
                || (f.starts_with("model-") && f.ends_with(".safetensors"))
                || (f.starts_with("pytorch_model-") && f.ends_with(".bin"))
        })
        .cloned()
        .collect();
    if weights.is_empty() {
        return None;
    }
    let mut out = weights;
    out.extend(side());
    for extra in [
        "vocab.txt",
        "spiece.model",
        "merges.txt",
        "vocab.json",
        "added_tokens.json",
    ] {
        if has(extra) {
            out.push(extra.to_string());
        }
    }
    Some(Plan {
        files: out,
        onnx_dir: None,
    })
}

/// `snapshots/<commit>` from the path of one of its files.
fn snapshot_root(path: &Path, relative: &str) -> PathBuf {
    let mut root = path.to_path_buf();
    for _ in relative.split('/') {
        root.pop();
    }
    root
}

/// Graphs under `onnx/` with tokenizer and config at the root (the Hub's Optimum/transformers.js
/// layout): evalrun opens the snapshot, whose `onnx/model.onnx` it finds itself, except for
/// seq2seq graphs, which get a directory of links beside the snapshot.
fn onnx_view(snapshot: &Path, sub: &str, files: &[String]) -> crate::Result<PathBuf> {
    if files.iter().any(|f| f == "onnx/model.onnx") {
        return Ok(snapshot.to_path_buf());
    }
    let commit = snapshot.file_name().unwrap_or_default();
    let view = snapshot
        .parent()
        .and_then(Path::parent)
        .map(|repo| repo.join("evalrun-onnx").join(commit))
        .context("snapshot outside a cache repository")?;
    std::fs::create_dir_all(&view)?;
    for entry in std::fs::read_dir(snapshot.join(sub))?.chain(std::fs::read_dir(snapshot)?) {
        let entry = entry?;
        let target = entry.path();
        let link = view.join(entry.file_name());
        if target.is_file() && !link.exists() {
            #[cfg(unix)]
            std::os::unix::fs::symlink(&target, &link)?;
            #[cfg(not(unix))]
            std::fs::copy(&target, &link)?;
        }
    }
    Ok(view)
}

fn architecture_kind(snapshot: &Path) -> Option<ModelKind> {
    let text = std::fs::read_to_string(snapshot.join("config.json")).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    value
        .get("architectures")?
        .as_array()?
        .iter()
        .filter_map(|a| a.as_str())
        .find_map(ModelKind::from_architecture)
}

/// Why `spec` reads as a filesystem path rather than a Hub repo id, if it does: it starts
/// with `./`, `../`, `/` or `~`, ends with `/`, or its first component is an existing directory
/// (`models/my-bert` where `models/` exists).
fn looks_like_a_path(spec: &str) -> Option<String> {
    if spec.starts_with("./")
        || spec.starts_with("../")
        || spec.starts_with('/')
        || spec.starts_with('~')
        || spec == "."
        || spec == ".."
    {
        return Some("it is written as a path".into());
    }
    if spec.ends_with('/') {
        return Some("it ends with `/`".into());
    }
    let parent = Path::new(spec)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())?;
    if parent.is_dir() {
        return Some(format!(
            "`{}` is a local directory, but it has no `{}`",
            parent.display(),
            Path::new(spec)
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
        ));
    }
    if Path::new(spec).exists() {
        return Some("it is a file, not a directory".into());
    }
    None
}

/// The Python that runs optimum: `EVALRUN_PYTHON`, else the project's `.venv`, else `python3`.
fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("EVALRUN_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = PathBuf::from(".venv/bin/python");
    if venv.is_file() {
        return venv;
    }
    PathBuf::from("python3")
}

/// The directory an export of `snapshot` is cached in: `<repo>/evalrun-onnx/<commit>-<kind>`.
pub fn export_dir(snapshot: &Path, kind: ModelKind) -> PathBuf {
    let commit = snapshot
        .file_name()
        .map(|c| c.to_string_lossy().into_owned())
        .unwrap_or_default();
    snapshot
        .parent()
        .and_then(Path::parent)
        .map_or_else(|| snapshot.join("evalrun-onnx"), |r| r.join("evalrun-onnx"))
        .join(format!("{commit}-{}", kind.optimum_task()))
}

/// sha256 over a directory's regular files (relative path, length and contents, in path
/// order), hidden entries skipped: the key of a local checkpoint's export.
fn content_hash(dir: &Path) -> crate::Result<String> {
    use sha2::{Digest, Sha256};
    fn walk(base: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let path = entry.path();
            let meta = std::fs::metadata(&path)?;
            if meta.is_dir() {
                walk(base, &path, out)?;
            } else if meta.is_file() {
                out.push(path.strip_prefix(base).unwrap_or(&path).to_path_buf());
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(dir, dir, &mut files).with_context(|| format!("reading `{}`", dir.display()))?;
    files.sort();
    let mut hasher = Sha256::new();
    for rel in files {
        let mut file = std::fs::File::open(dir.join(&rel))
            .with_context(|| format!("reading `{}`", dir.join(&rel).display()))?;
        hasher.update(rel.to_string_lossy().as_bytes());
        hasher.update([0]);
        hasher.update(file.metadata()?.len().to_le_bytes());
        std::io::copy(&mut file, &mut hasher)?;
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Exports `snapshot` with optimum once; later calls find the cached export.
pub fn export(snapshot: &Path, repo: &str, kind: ModelKind) -> crate::Result<PathBuf> {
    export_to(snapshot, repo, kind, &export_dir(snapshot, kind))
}

/// Exports `source` (a Hub snapshot or a local checkpoint) with optimum into `out`, once.
fn export_to(source: &Path, repo: &str, kind: ModelKind, out: &Path) -> crate::Result<PathBuf> {
    let out = out.to_path_buf();
    if out.join("config.json").is_file() {
        return Ok(out);
    }
    let python = python();
    let command = format!(
        "optimum-cli export onnx --model {repo} --task {} DIR",
        kind.optimum_task()
    );
    let usable = Command::new(&python)
        .args(["-c", "import optimum.exporters.onnx"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !usable {
        bail!(
            "`{repo}` has no ONNX files and `{}` cannot import optimum to export it. Export it once with \
             `pip install optimum-onnx && {command}` and pass `--model DIR`, or install optimum-onnx for \
             that Python (EVALRUN_PYTHON selects another one)",
            python.display()
        );
    }
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating `{}`", parent.display()))?;
    }
    let tmp = out.with_extension("tmp-export");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)?;
    }
    tracing::warn!(
        "exporting `{repo}` to ONNX with optimum (once; cached in {})",
        out.display()
    );
    let status = Command::new(&python)
        .args(["-m", "optimum.exporters.onnx", "--model"])
        .arg(source)
        .args(["--task", kind.optimum_task()])
        .arg(&tmp)
        .status()
        .with_context(|| format!("running `{}`", python.display()))?;
    if !status.success() {
        let _ = std::fs::remove_dir_all(&tmp);
        bail!("optimum failed to export `{repo}` ({status}); the command evalrun ran is equivalent to `{command}`");
    }
    std::fs::rename(&tmp, &out)
        .with_context(|| format!("moving the export to `{}`", out.display()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn plans_pick_the_layout_and_only_the_needed_files() {
        let files = names(&[
            "config.json",
            "tokenizer.json",
            "onnx/encoder_model.onnx",
            "onnx/decoder_model.onnx",
            "onnx/decoder_with_past_model.onnx",
            "onnx/decoder_model_merged.onnx",
            "onnx/decoder_model_merged_quantized.onnx",
            "model.safetensors",
        ]);
        let p = plan(&files).unwrap();
        assert_eq!(p.onnx_dir, Some("onnx"));
        assert_eq!(
            p.files,
            names(&[
                "onnx/encoder_model.onnx",
                "onnx/decoder_model_merged.onnx",
                "config.json",
                "tokenizer.json"
            ])
        );
        let p = plan(&names(&[
            "config.json",
            "tokenizer.json",
            "model.safetensors",
            "vocab.txt",
        ]))
        .unwrap();
        assert_eq!(p.onnx_dir, None);
        assert!(p.files.contains(&"vocab.txt".to_string()));
        assert!(plan(&names(&["README.md"])).is_none());
    }
}
