//! Model presets (`presets/models.toml`, embedded; more with `--presets FILE` / EVALRUN_PRESETS):
//! a short name such as `bert-base-uncased` → the Hub checkpoint of each task, with the head's
//! label order where the checkpoint's config does not say it.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{bail, Context as _};
use serde::Deserialize;

const EMBEDDED: &str = include_str!("../../../presets/models.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PresetsFile {
    version: u32,
    #[serde(default)]
    presets: BTreeMap<String, Preset>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    pub description: String,
    /// Where the checkpoints come from (URL, paper).
    pub source: String,
    /// What `optimum-cli export onnx` exports when a repository has no ONNX files.
    pub kind: ModelKind,
    /// One repository for every task.
    #[serde(default)]
    pub repo: Option<String>,
    /// A repository per task (the `{task}` of `--model`, e.g. `mnli` for both halves and AX).
    #[serde(default)]
    pub tasks: BTreeMap<String, PresetTask>,
    /// A local directory instead of a repository (`{task}` substituted), relative to the
    /// presets file: stand-ins such as the test fixtures.
    #[serde(default)]
    pub path: Option<String>,
    /// The published tables this model reproduces (`evalrun reproduce`): reference names as
    /// `--reference` takes them (`bert-base-glue`, `gpt2-zero-shot/117M`).
    #[serde(default)]
    pub tables: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresetTask {
    pub repo: String,
    /// The head's columns in order, overriding `config.json`'s `id2label`.
    #[serde(default)]
    pub labels: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    Classification,
    Embedding,
    CausalLm,
    Seq2seq,
}

impl ModelKind {
    /// The `optimum-cli export onnx --task` value.
    pub fn optimum_task(self) -> &'static str {
        match self {
            ModelKind::Classification => "text-classification",
            ModelKind::Embedding => "feature-extraction",
            ModelKind::CausalLm => "text-generation-with-past",
            ModelKind::Seq2seq => "text2text-generation-with-past",
        }
    }

    /// Guessed from `config.json` `architectures` when there is no preset.
    pub fn from_architecture(name: &str) -> Option<Self> {
        if name.ends_with("ForSequenceClassification") {
            Some(ModelKind::Classification)
        } else if name.ends_with("LMHeadModel") || name.ends_with("ForCausalLM") {
            Some(ModelKind::CausalLm)
        } else if name.ends_with("ForConditionalGeneration") {
            Some(ModelKind::Seq2seq)
        } else if name.ends_with("Model") {
            Some(ModelKind::Embedding)
        } else {
            None
        }
    }
}

impl Preset {
    /// The local directory for a model task, when the preset names one.
    pub fn local_dir(&self, task: &str) -> Option<std::path::PathBuf> {
        self.path
            .as_ref()
            .map(|p| std::path::PathBuf::from(p.replace("{task}", task)))
    }

    /// The repository (and label override) for a model task.
    pub fn for_task(&self, task: &str) -> Option<(&str, Option<&[String]>)> {
        match self.tasks.get(task) {
            Some(t) => Some((t.repo.as_str(), t.labels.as_deref())),
            None => self.repo.as_deref().map(|r| (r, None)),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Presets {
    presets: BTreeMap<String, Preset>,
}

impl Presets {
    /// The embedded presets, then `extra` (a user file), whose names replace embedded ones.
    pub fn load(extra: Option<&Path>) -> crate::Result<Self> {
        let mut presets = parse("presets/models.toml (embedded)", EMBEDDED)?;
        if let Some(path) = extra {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read presets file `{}`", path.display()))?;
            let mut extra = parse(&path.display().to_string(), &text)?;
            // Local paths are relative to the file that names them.
            let base = path.parent().unwrap_or(Path::new(""));
            for preset in extra.values_mut() {
                if let Some(p) = preset.path.as_mut() {
                    *p = base.join(&*p).display().to_string();
                }
            }
            presets.extend(extra);
        }
        Ok(Self { presets })
    }

    pub fn get(&self, name: &str) -> Option<&Preset> {
        self.presets.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.presets.keys().map(String::as_str)
    }
}

fn parse(file: &str, text: &str) -> crate::Result<BTreeMap<String, Preset>> {
    let parsed: PresetsFile =
        toml::from_str(text).with_context(|| format!("presets file `{file}` is not valid"))?;
    if parsed.version != 1 {
        bail!(
            "presets file `{file}` has version {}; this evalrun reads version 1",
            parsed.version
        );
    }
    for (name, preset) in &parsed.presets {
        if preset.repo.is_none() && preset.tasks.is_empty() && preset.path.is_none() {
            bail!("preset `{name}` in `{file}` names no repository (`repo`, `path` or `[presets.{name}.tasks]`)");
        }
    }
    Ok(parsed.presets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_presets_parse_and_name_every_glue_model_task() {
        let presets = Presets::load(None).unwrap();
        let bert = presets.get("bert-base-uncased").unwrap();
        for task in [
            "cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte", "wnli",
        ] {
            assert!(bert.for_task(task).is_some(), "{task}");
        }
        let (_, labels) = bert.for_task("mnli").unwrap();
        assert_eq!(labels.unwrap()[0], "contradiction");
        assert_eq!(presets.get("t5-base").unwrap().kind, ModelKind::Seq2seq);
        assert_eq!(
            presets
                .get("gpt2")
                .unwrap()
                .for_task("wikitext2")
                .unwrap()
                .0,
            "openai-community/gpt2"
        );
    }

    #[test]
    fn a_user_file_replaces_a_preset_of_the_same_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(
            &path,
            "version = 1\n[presets.gpt2]\ndescription = \"mine\"\nsource = \"here\"\nkind = \"causal-lm\"\nrepo = \"me/gpt2\"\n",
        )
        .unwrap();
        let presets = Presets::load(Some(&path)).unwrap();
        assert_eq!(
            presets.get("gpt2").unwrap().repo.as_deref(),
            Some("me/gpt2")
        );
        assert!(presets.get("t5-base").is_some());
    }
}
