//! Model directories in Optimum's export layout, and the parts of their configs evalrun reads.
//!
//! Accepted layouts: `model.onnx` at the root (what `optimum-cli export onnx` writes) or
//! `onnx/model.onnx` (Hub repositories such as sentence-transformers'). Beside it:
//! `tokenizer.json` (required), `config.json`, and for sentence-transformers models
//! `sentence_bert_config.json`, `modules.json` and `1_Pooling/config.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::RuntimeError;

#[derive(Debug, Clone)]
pub struct ModelFiles {
    pub dir: PathBuf,
    pub onnx: PathBuf,
    pub tokenizer: PathBuf,
    pub config: Option<PathBuf>,
}

impl ModelFiles {
    pub fn locate(dir: &Path) -> Result<Self, RuntimeError> {
        if !dir.is_dir() {
            return Err(RuntimeError::ModelNotFound {
                dir: dir.to_path_buf(),
            });
        }
        // Optimum names decoder exports `model.onnx` now and `decoder_model_merged.onnx` /
        // `decoder_model.onnx` in older releases.
        let onnx = [
            "model.onnx",
            "onnx/model.onnx",
            "decoder_model_merged.onnx",
            "decoder_model.onnx",
        ]
        .map(|name| dir.join(name))
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| RuntimeError::ModelNotFound {
            dir: dir.to_path_buf(),
        })?;
        let tokenizer = dir.join("tokenizer.json");
        if !tokenizer.is_file() {
            return Err(RuntimeError::MissingFile {
                path: tokenizer,
                why: "evalrun tokenizes with the HF tokenizers library",
            });
        }
        let config = Some(dir.join("config.json")).filter(|p| p.is_file());
        Ok(Self {
            dir: dir.to_path_buf(),
            onnx,
            tokenizer,
            config,
        })
    }
}

/// How token states become one sentence embedding (sentence-transformers `Pooling`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// Mean over non-padding tokens.
    Mean,
    /// The first token's state.
    Cls,
}

#[derive(Debug, Clone, Default)]
pub struct ModelConfig {
    /// `config.json` `id2label`, by index.
    pub id2label: Option<BTreeMap<usize, String>>,
    pub max_position_embeddings: Option<usize>,
    pub pad_token_id: Option<u32>,
    /// `sentence_bert_config.json` `max_seq_length`.
    pub sentence_max_seq_length: Option<usize>,
    pub pooling: Option<Pooling>,
    /// Whether `modules.json` ends with a `Normalize` module.
    pub normalize: bool,
    pub eos_token_id: Option<u32>,
    pub attention_heads: Option<usize>,
    pub hidden_size: Option<usize>,
    /// `config.json` `architectures` (e.g. `GPT2LMHeadModel`).
    pub architectures: Vec<String>,
    pub model_type: Option<String>,
    /// `config.json` `is_encoder_decoder` (T5, BART, …).
    pub is_encoder_decoder: bool,
}

#[derive(Deserialize)]
struct RawConfig {
    #[serde(default)]
    id2label: Option<BTreeMap<String, String>>,
    #[serde(default)]
    max_position_embeddings: Option<usize>,
    #[serde(default)]
    n_positions: Option<usize>,
    #[serde(default)]
    pad_token_id: Option<u32>,
    #[serde(default)]
    eos_token_id: Option<u32>,
    #[serde(default)]
    n_head: Option<usize>,
    #[serde(default)]
    num_attention_heads: Option<usize>,
    #[serde(default)]
    n_embd: Option<usize>,
    #[serde(default)]
    hidden_size: Option<usize>,
    #[serde(default)]
    architectures: Vec<String>,
    #[serde(default)]
    model_type: Option<String>,
    #[serde(default)]
    is_encoder_decoder: bool,
}

#[derive(Deserialize)]
struct SentenceConfig {
    #[serde(default)]
    max_seq_length: Option<usize>,
}

#[derive(Deserialize)]
struct PoolingConfig {
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_sqrt_len_tokens: bool,
}

#[derive(Deserialize)]
struct Module {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    path: String,
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, RuntimeError> {
    let text = std::fs::read_to_string(path).map_err(|e| RuntimeError::BadConfig {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    serde_json::from_str(&text).map_err(|e| RuntimeError::BadConfig {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

impl ModelConfig {
    pub fn load(files: &ModelFiles) -> Result<Self, RuntimeError> {
        let mut config = ModelConfig::default();
        if let Some(path) = &files.config {
            let raw: RawConfig = read_json(path)?;
            if let Some(map) = raw.id2label {
                let mut by_index = BTreeMap::new();
                for (key, name) in map {
                    let index = key.parse::<usize>().map_err(|_| RuntimeError::BadConfig {
                        path: path.clone(),
                        message: format!("`id2label` key `{key}` is not an integer"),
                    })?;
                    by_index.insert(index, name);
                }
                config.id2label = Some(by_index);
            }
            config.max_position_embeddings = raw.max_position_embeddings.or(raw.n_positions);
            config.pad_token_id = raw.pad_token_id;
            config.eos_token_id = raw.eos_token_id;
            config.attention_heads = raw.n_head.or(raw.num_attention_heads);
            config.hidden_size = raw.n_embd.or(raw.hidden_size);
            config.architectures = raw.architectures;
            config.model_type = raw.model_type;
            config.is_encoder_decoder = raw.is_encoder_decoder;
        }
        let dir = &files.dir;
        let sentence = dir.join("sentence_bert_config.json");
        if sentence.is_file() {
            config.sentence_max_seq_length = read_json::<SentenceConfig>(&sentence)?.max_seq_length;
        }
        let modules = dir.join("modules.json");
        if modules.is_file() {
            let modules: Vec<Module> = read_json(&modules)?;
            config.normalize = modules.iter().any(|m| m.kind.ends_with("Normalize"));
            if let Some(pooling) = modules.iter().find(|m| m.kind.ends_with("Pooling")) {
                let path = dir.join(&pooling.path).join("config.json");
                let raw: PoolingConfig = read_json(&path)?;
                config.pooling = Some(
                    match (raw.pooling_mode_mean_tokens, raw.pooling_mode_cls_token) {
                        (true, false)
                            if !raw.pooling_mode_max_tokens
                                && !raw.pooling_mode_mean_sqrt_len_tokens =>
                        {
                            Pooling::Mean
                        }
                        (false, true)
                            if !raw.pooling_mode_max_tokens
                                && !raw.pooling_mode_mean_sqrt_len_tokens =>
                        {
                            Pooling::Cls
                        }
                        _ => {
                            return Err(RuntimeError::BadConfig {
                                path,
                                message: "only mean pooling or CLS pooling alone is supported"
                                    .into(),
                            })
                        }
                    },
                );
            }
        }
        Ok(config)
    }

    /// Whether `config.json` describes a decoder-only language model: its architecture is a
    /// `…LMHeadModel`/`…ForCausalLM`, or (without `architectures`) its `model_type` is one.
    pub fn is_causal_lm(&self) -> bool {
        const CAUSAL_TYPES: [&str; 9] = [
            "gpt2", "gpt_neo", "gptj", "gpt_neox", "llama", "mistral", "opt", "bloom", "qwen2",
        ];
        if !self.architectures.is_empty() {
            return self
                .architectures
                .iter()
                .any(|a| a.ends_with("LMHeadModel") || a.ends_with("ForCausalLM"));
        }
        self.model_type
            .as_deref()
            .is_some_and(|t| CAUSAL_TYPES.contains(&t))
            && self.id2label.is_none()
    }

    /// The architecture `config.json` names for a task head (`…ForSequenceClassification`,
    /// `…ForTokenClassification`, …), where it names one: such a checkpoint needs its head in
    /// the graph. Causal LMs and seq2seq models are not heads here.
    pub fn head_architecture(&self) -> Option<&str> {
        self.architectures
            .iter()
            .find(|a| {
                a.contains("For")
                    && !a.ends_with("ForCausalLM")
                    && !a.ends_with("ForConditionalGeneration")
                    && !a.ends_with("ForMaskedLM")
                    && !a.ends_with("ForPreTraining")
            })
            .map(String::as_str)
    }

    /// Whether `config.json` describes an encoder-decoder (seq2seq) model.
    pub fn is_seq2seq(&self) -> bool {
        self.is_encoder_decoder
            || self
                .architectures
                .iter()
                .any(|a| a.ends_with("ForConditionalGeneration"))
    }

    /// The architecture named first, or the model type, for messages.
    pub fn name(&self) -> String {
        self.architectures
            .first()
            .cloned()
            .or_else(|| self.model_type.clone())
            .unwrap_or_else(|| "unknown architecture".into())
    }

    /// Label names in index order, when `config.json` has them.
    pub fn label_names(&self) -> Option<Vec<String>> {
        let map = self.id2label.as_ref()?;
        let names: Vec<String> = map.values().cloned().collect();
        let contiguous = map.keys().copied().eq(0..map.len());
        contiguous.then_some(names)
    }

    /// The default truncation length: sentence-transformers' `max_seq_length` when present,
    /// else min(512, `max_position_embeddings`).
    pub fn default_max_length(&self) -> usize {
        self.sentence_max_seq_length
            .unwrap_or_else(|| self.max_position_embeddings.map_or(512, |m| m.min(512)))
    }
}
