//! `--batch-size auto`: the largest batch whose estimated peak memory fits a budget
//! (`--max-memory`, default half of the memory available when the run starts), as lm-eval's
//! `--batch_size auto` picks the largest batch that does not run out of memory. On a CPU an
//! allocation past the limit is not an error one can catch and retry (the kernel kills the
//! process), so the batch is chosen from an estimate instead of by trial: the model's weights
//! (twice the graph files: ONNX Runtime's copy plus the bytes it loaded from, measured 1.9× on
//! GPT-2 124M) plus, per batch, the tensors one layer keeps alive at once (hidden states,
//! feed-forward activations, attention scores), the logits and, for decoders, the key/value
//! caches, all doubled for the arena's power-of-two growth. Pure, except [`available_memory`].

use std::path::Path;

use serde_json::Value;

use crate::error::RuntimeError;

/// The most rows `auto` picks (lm-eval's default `max_batch_size`): past this a CPU gains
/// nothing and padding waste grows.
pub const MAX_AUTO_BATCH: usize = 64;

/// Tensors are float32.
const F32: u64 = 4;
/// The arena grows in powers of two, so up to twice what is live is reserved.
const ARENA: u64 = 2;
/// Live `[batch, tokens, hidden]` tensors within one transformer layer (residual, layer norm,
/// query, key, value, attention context, projection, spare).
const HIDDEN_TENSORS: u64 = 8;
/// Live `[batch, heads, tokens, tokens]` tensors (scores, masked scores, softmax).
const SCORE_TENSORS: u64 = 3;

/// The sizes of a transformer `config.json` that set its activation memory, under the names
/// BERT, GPT-2 and T5 configs use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Architecture {
    pub layers: u64,
    pub decoder_layers: u64,
    pub hidden: u64,
    pub heads: u64,
    /// Per-head width × heads (T5's `d_kv * num_heads`; `hidden` elsewhere).
    pub attention_width: u64,
    pub intermediate: u64,
    pub vocab: u64,
}

impl Architecture {
    /// Reads `config.json`; a missing size is an error naming the file and the keys tried.
    pub fn from_config(path: &Path) -> Result<Self, RuntimeError> {
        let text = std::fs::read_to_string(path).map_err(|e| RuntimeError::BadConfig {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let config: Value = serde_json::from_str(&text).map_err(|e| RuntimeError::BadConfig {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Self::from_json(&config).map_err(|message| RuntimeError::BadConfig {
            path: path.to_path_buf(),
            message: format!("{message} (`--batch-size auto` sizes batches from it)"),
        })
    }

    fn from_json(config: &Value) -> Result<Self, String> {
        let get = |keys: &[&str]| keys.iter().find_map(|k| config.get(*k)?.as_u64());
        let need = |keys: &[&str]| {
            get(keys).ok_or_else(|| format!("none of `{}` is a number", keys.join("`, `")))
        };
        let layers = need(&["num_hidden_layers", "n_layer", "num_layers"])?;
        let hidden = need(&["hidden_size", "n_embd", "d_model"])?;
        let heads = need(&["num_attention_heads", "n_head", "num_heads"])?;
        let attention_width = get(&["d_kv"]).map_or(hidden, |d| d * heads);
        Ok(Self {
            layers,
            decoder_layers: get(&["num_decoder_layers"]).unwrap_or(layers),
            hidden,
            heads,
            attention_width,
            intermediate: get(&["intermediate_size", "n_inner", "d_ff"]).unwrap_or(4 * hidden),
            vocab: need(&["vocab_size"])?,
        })
    }

    /// One encoder (or decoder without cache) pass over `rows` × `tokens`, outputs excluded.
    fn layer_peak(&self, rows: u64, tokens: u64) -> u64 {
        F32 * rows
            * tokens
            * (HIDDEN_TENSORS * self.hidden
                + 2 * self.intermediate
                + SCORE_TENSORS * self.heads * tokens)
    }
}

/// What one call of the model looks like, per family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// Classifier or embedding model on rows of at most `tokens`; `outputs` floats per token
    /// come back (the hidden size for token states, 0 for pooled heads).
    Encoder { tokens: u64, outputs: u64 },
    /// Causal LM windows of at most `context` tokens, at most `batch_tokens` padded tokens per
    /// call: logits (and their log-softmax) for every token, plus the present keys/values.
    Causal { context: u64, batch_tokens: u64 },
    /// Encoder over `input` tokens, then a decoder over `beams` rows per input for `new_tokens`
    /// steps with self- and cross-attention caches; with `shared_encoder` the encoder states and
    /// cross-attention caches have one row per input, not per beam
    /// ([`crate::cross_attention`]).
    Seq2seq {
        input: u64,
        beams: u64,
        new_tokens: u64,
        shared_encoder: bool,
    },
}

/// Estimated peak bytes of one call with `rows` rows, weights excluded.
pub fn batch_bytes(arch: &Architecture, work: Workload, rows: u64) -> u64 {
    let live = match work {
        Workload::Encoder { tokens, outputs } => {
            arch.layer_peak(rows, tokens) + F32 * rows * tokens * outputs
        }
        Workload::Causal {
            context,
            batch_tokens,
        } => {
            // Rows shorter than the window share the token budget, so a call holds at most
            // max(budget, context) tokens; attention is widest for full windows.
            let tokens = (rows * context).min(batch_tokens.max(context));
            let full_rows = (tokens / context).max(1);
            let attention = arch.layer_peak(full_rows, context);
            let logits = 2 * F32 * tokens * arch.vocab;
            let present = 2 * F32 * arch.layers * tokens * arch.attention_width;
            attention + logits + present
        }
        Workload::Seq2seq {
            input,
            beams,
            new_tokens,
            shared_encoder,
        } => {
            let decoding = rows * beams;
            let encoder_rows = if shared_encoder { rows } else { decoding };
            let encoder = arch.layer_peak(rows, input) + F32 * encoder_rows * input * arch.hidden;
            let cache = |rows: u64, tokens: u64| {
                2 * F32 * arch.decoder_layers * rows * tokens * arch.attention_width
            };
            // Past and present self-attention caches are both alive across a step.
            let caches = cache(encoder_rows, input) + 2 * cache(decoding, new_tokens);
            let logits = 2 * F32 * decoding * arch.vocab;
            encoder + caches + logits
        }
    };
    ARENA * live
}

/// Memory the loaded graphs take: twice their files' sizes.
pub fn weight_bytes(graphs: &[&Path]) -> u64 {
    graphs
        .iter()
        .flat_map(|g| {
            // External data sits beside the graph as `<name>_data` or `<name>.data`.
            let name = g.file_name().map(|n| n.to_string_lossy().into_owned());
            let siblings = name.map_or_else(Vec::new, |n| {
                vec![
                    g.with_file_name(format!("{n}_data")),
                    g.with_file_name(format!("{n}.data")),
                ]
            });
            std::iter::once(g.to_path_buf()).chain(siblings)
        })
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| 2 * m.len())
        .sum()
}

/// What `--batch-size auto` was given: the budget, and for seq2seq models the decoding that
/// sizes the caches (the widest a task may ask when not given).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutoOptions {
    pub max_memory: u64,
    pub beams: usize,
    pub new_tokens: usize,
    /// Decoding with the key/value cache (beams share the encoder rows only then).
    pub use_cache: bool,
}

/// The batch `auto` chose, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutoBatch {
    pub rows: usize,
    pub weights: u64,
    pub per_batch: u64,
    pub budget: u64,
}

/// The largest batch in `1..=MAX_AUTO_BATCH` whose weights plus `per_batch(rows)` fit
/// `budget` (`per_batch` grows with rows); an error naming what one row needs when not even
/// that fits.
pub fn choose(
    per_batch: impl Fn(u64) -> u64,
    weights: u64,
    budget: u64,
) -> Result<AutoBatch, RuntimeError> {
    let fits = |rows: usize| weights + per_batch(rows as u64) <= budget;
    if !fits(1) {
        return Err(RuntimeError::Limit {
            option: "--max-memory",
            message: format!(
                "{} is too little for one row: the weights take about {} once loaded and one row about {} more (estimate; raise it or give `--batch-size N`)",
                format_size(budget),
                format_size(weights),
                format_size(per_batch(1)),
            ),
        });
    }
    let (mut lo, mut hi) = (1, MAX_AUTO_BATCH);
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    Ok(AutoBatch {
        rows: lo,
        weights,
        per_batch: per_batch(lo as u64),
        budget,
    })
}

/// `MemAvailable` of `/proc/meminfo`, in bytes; `None` where there is none (not Linux).
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    meminfo_available(&text)
}

fn meminfo_available(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let mut parts = line.split_whitespace().skip(1);
    let value: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        Some("kB") => Some(value * 1024),
        None => Some(value),
        Some(_) => None,
    }
}

/// Parses `--max-memory`: bytes with an optional unit (`512MiB`, `4GiB`, `2GB`, `1.5G`), or a
/// percentage of `available` (`50%`). Binary and decimal units as written; bare `K/M/G/T`
/// are binary.
pub fn parse_size(text: &str, available: Option<u64>) -> Result<u64, String> {
    let t = text.trim();
    if let Some(p) = t.strip_suffix('%') {
        let p: f64 = p
            .trim()
            .parse()
            .map_err(|_| format!("`{text}` is not a percentage"))?;
        if !(p > 0.0 && p <= 100.0) {
            return Err(format!("`{text}`: a percentage must be in (0, 100]"));
        }
        let available =
            available.ok_or_else(|| format!("`{text}`: this system does not report its available memory; give a size such as 4GiB"))?;
        return Ok((available as f64 * p / 100.0) as u64);
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size (examples: 4GiB, 512MiB, 50%)"))?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        other => {
            return Err(format!(
                "`{text}`: unknown unit `{other}` (B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)"
            ))
        }
    };
    let bytes = number * scale as f64;
    if !(bytes >= 1.0 && bytes < u64::MAX as f64) {
        return Err(format!("`{text}` must be at least one byte"));
    }
    Ok(bytes as u64)
}

/// `1.50 GiB`, `312.0 MiB`.
pub fn format_size(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= (1u64 << 30) as f64 {
        format!("{:.2} GiB", b / (1u64 << 30) as f64)
    } else {
        format!("{:.1} MiB", b / (1u64 << 20) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn gpt2() -> Architecture {
        Architecture::from_json(&serde_json::json!({
            "n_layer": 12, "n_embd": 768, "n_head": 12, "n_inner": null, "vocab_size": 50257
        }))
        .unwrap()
    }

    fn t5_base() -> Architecture {
        Architecture::from_json(&serde_json::json!({
            "num_layers": 12, "num_decoder_layers": 12, "d_model": 768, "num_heads": 12,
            "d_kv": 64, "d_ff": 3072, "vocab_size": 32128
        }))
        .unwrap()
    }

    #[test]
    fn reads_bert_gpt2_and_t5_names() {
        let bert = Architecture::from_json(&serde_json::json!({
            "num_hidden_layers": 6, "hidden_size": 384, "num_attention_heads": 12,
            "intermediate_size": 1536, "vocab_size": 30522
        }))
        .unwrap();
        assert_eq!(
            (bert.layers, bert.hidden, bert.intermediate),
            (6, 384, 1536)
        );
        assert_eq!(gpt2().intermediate, 4 * 768);
        assert_eq!(t5_base().attention_width, 768);
        let err = Architecture::from_json(&serde_json::json!({"n_layer": 2})).unwrap_err();
        assert!(err.contains("`hidden_size`, `n_embd`, `d_model`"), "{err}");
    }

    #[test]
    fn gpt2_full_window_is_dominated_by_logits() {
        let work = Workload::Causal {
            context: 1024,
            batch_tokens: 1024,
        };
        let one = batch_bytes(&gpt2(), work, 1);
        // Logits and log-softmax of 1024 × 50257 floats (823 MB with the arena's doubling),
        // one layer's attention (403 MB) and the present keys/values (151 MB).
        assert_eq!(one, 1_377_058_816);
        // The token budget caps a call: more rows of full windows cost nothing more.
        assert_eq!(batch_bytes(&gpt2(), work, 8), one);
    }

    #[test]
    fn choose_takes_the_largest_fitting_batch_and_names_the_shortfall() {
        let arch = t5_base();
        let work = Workload::Seq2seq {
            input: 512,
            beams: 4,
            new_tokens: 128,
            shared_encoder: false,
        };
        let weights = (2 * 900) << 20;
        let budget = 8u64 << 30;
        let auto = choose(|r| batch_bytes(&arch, work, r), weights, budget).unwrap();
        assert!(weights + batch_bytes(&arch, work, auto.rows as u64) <= budget);
        assert!(
            auto.rows == MAX_AUTO_BATCH
                || weights + batch_bytes(&arch, work, auto.rows as u64 + 1) > budget
        );
        let err = choose(|r| batch_bytes(&arch, work, r), weights, weights)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("`--max-memory` 1.76 GiB is too little for one row"),
            "{err}"
        );
    }

    #[test]
    fn sizes_parse_with_units_and_percentages() {
        assert_eq!(parse_size("4GiB", None), Ok(4 << 30));
        assert_eq!(parse_size("512MiB", None), Ok(512 << 20));
        assert_eq!(parse_size("2GB", None), Ok(2_000_000_000));
        assert_eq!(parse_size("1.5g", None), Ok(3 << 29));
        assert_eq!(parse_size("50%", Some(1000)), Ok(500));
        assert!(parse_size("50%", None)
            .unwrap_err()
            .contains("available memory"));
        assert!(parse_size("0", None).is_err());
        assert!(parse_size("4 parsecs", None)
            .unwrap_err()
            .contains("unknown unit"));
        assert!(parse_size("150%", Some(1)).is_err());
        assert_eq!(
            meminfo_available("MemTotal: 10 kB\nMemAvailable:   2048 kB\n"),
            Some(2 << 20)
        );
    }

    proptest! {
        #[test]
        fn estimates_grow_with_rows(rows in 1u64..64, tokens in 1u64..1024, beams in 1u64..8) {
            let a = t5_base();
            for work in [
                Workload::Encoder { tokens, outputs: 0 },
                Workload::Causal { context: tokens, batch_tokens: 4096 },
                Workload::Seq2seq { input: tokens, beams, new_tokens: 32, shared_encoder: false },
                Workload::Seq2seq { input: tokens, beams, new_tokens: 32, shared_encoder: true },
            ] {
                prop_assert!(batch_bytes(&a, work, rows) <= batch_bytes(&a, work, rows + 1));
            }
        }

        #[test]
        fn shared_encoder_rows_cost_less_with_beams(rows in 1u64..64, tokens in 1u64..1024, beams in 1u64..8) {
            let a = t5_base();
            let work = |shared_encoder| Workload::Seq2seq { input: tokens, beams, new_tokens: 32, shared_encoder };
            let (shared, repeated) = (batch_bytes(&a, work(true), rows), batch_bytes(&a, work(false), rows));
            prop_assert!(shared <= repeated);
            prop_assert_eq!(shared == repeated, beams == 1);
        }

        #[test]
        fn chosen_batches_fit_their_budget(budget_mib in 1u64..65536, tokens in 1u64..512) {
            let a = gpt2();
            let work = Workload::Encoder { tokens, outputs: 768 };
            if let Ok(auto) = choose(|r| batch_bytes(&a, work, r), 0, budget_mib << 20) {
                prop_assert!(auto.per_batch <= budget_mib << 20);
                prop_assert!((1..=MAX_AUTO_BATCH).contains(&auto.rows));
            }
        }
    }
}
