//! Causal language models (Optimum `text-generation` and `text-generation-with-past`
//! exports): log-likelihoods of scored tokens in [`Window`]s.
//!
//! Inputs fed: `input_ids`, `attention_mask`, `position_ids` when the graph takes it, and for
//! exports with past, empty `past_key_values.*` tensors (sequence length 0) plus
//! `use_cache_branch = false` for merged decoders — so both exports compute the same thing.
//! Output: `logits` `[batch, tokens, vocab]`. Log-softmax is taken in f64 for the scored
//! positions only; only one batch of logits is alive at a time, and batches are cut by a
//! token budget so that `batch × tokens × vocab` stays bounded.

use std::path::Path;

use evalrun_core::lm::Window;
use ort::session::{Session, SessionInputValue};
use ort::value::{Tensor, TensorElementType, ValueType};

use crate::encode::TextEncoder;
use crate::error::RuntimeError;
use crate::model::{ModelConfig, ModelFiles};
use crate::session::{ort_error, Runtime};

/// The log-likelihood of one window's scored tokens.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WindowScore {
    /// Σ log p(target), natural log.
    pub loglikelihood: f64,
    /// Scored tokens.
    pub tokens: usize,
    /// Whether every target was the argmax (lm-eval's `is_greedy`).
    pub greedy: bool,
    /// The argmax token at each scored position.
    pub greedy_tokens: Vec<u32>,
}

/// An empty past tensor to feed: name, element type and shape with sequence length 0.
#[derive(Debug, Clone)]
struct PastInput {
    name: String,
    heads: i64,
    head_dim: i64,
}

pub struct CausalLm {
    session: Session,
    files: ModelFiles,
    config: ModelConfig,
    encoder: TextEncoder,
    takes_position_ids: bool,
    past: Vec<PastInput>,
    use_cache_branch: bool,
    /// End-of-text token: the prefix of the first rolling window and the padding token.
    eot: u32,
}

impl CausalLm {
    pub fn load(runtime: &Runtime, dir: &Path) -> Result<Self, RuntimeError> {
        let files = ModelFiles::locate(dir)?;
        let config = ModelConfig::load(&files)?;
        let session = runtime.session(&files.onnx)?;
        let path = files.onnx.clone();
        let names: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
        for required in ["input_ids", "attention_mask"] {
            if !names.contains(&required) {
                return Err(RuntimeError::MissingInput {
                    name: required.into(),
                    path,
                    present: names.join(", "),
                });
            }
        }
        let mut past = Vec::new();
        let mut use_cache_branch = false;
        for input in session.inputs() {
            let name = input.name();
            match name {
                "input_ids" | "attention_mask" | "position_ids" => match input.dtype() {
                    ValueType::Tensor {
                        ty: TensorElementType::Int64,
                        ..
                    } => {}
                    other => {
                        return Err(RuntimeError::InputType {
                            name: name.into(),
                            path,
                            found: other.to_string(),
                        })
                    }
                },
                "use_cache_branch" => use_cache_branch = true,
                _ if name.starts_with("past_key_values.") => {
                    let shape = input
                        .dtype()
                        .tensor_shape()
                        .map(|s| s.to_vec())
                        .unwrap_or_default();
                    let heads = shape
                        .get(1)
                        .copied()
                        .filter(|d| *d > 0)
                        .or(config.attention_heads.map(|h| h as i64));
                    let head_dim =
                        shape.get(3).copied().filter(|d| *d > 0).or_else(|| {
                            Some((config.hidden_size? / config.attention_heads?) as i64)
                        });
                    match (heads, head_dim, input.dtype()) {
                        (Some(heads), Some(head_dim), ValueType::Tensor { ty: TensorElementType::Float32, .. }) => {
                            past.push(PastInput { name: name.into(), heads, head_dim })
                        }
                        _ => {
                            return Err(RuntimeError::InputType {
                                name: name.into(),
                                path,
                                found: format!("{} (evalrun feeds empty float32 past tensors [batch, heads, 0, head_dim])", input.dtype()),
                            })
                        }
                    }
                }
                _ => {
                    return Err(RuntimeError::UnexpectedInput {
                        name: name.into(),
                        path,
                    })
                }
            }
        }
        if !session.outputs().iter().any(|o| o.name() == "logits") {
            let present: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
            return Err(RuntimeError::MissingOutput {
                path,
                expected: "`logits`",
                present: present.join(", "),
            });
        }
        let encoder = TextEncoder::load_untruncated(&files.tokenizer)?;
        let eot = encoder
            .token_id("<|endoftext|>")
            .or(config.eos_token_id)
            .ok_or_else(|| RuntimeError::BadConfig {
                path: files.tokenizer.clone(),
                message: "no end-of-text token (`<|endoftext|>` or `eos_token_id`)".into(),
            })?;
        let takes_position_ids = names.contains(&"position_ids");
        tracing::info!(model = %files.onnx.display(), past = past.len(), use_cache_branch, "causal LM loaded");
        Ok(Self {
            session,
            files,
            config,
            encoder,
            takes_position_ids,
            past,
            use_cache_branch,
            eot,
        })
    }

    pub fn files(&self) -> &ModelFiles {
        &self.files
    }

    pub fn encoder(&self) -> &TextEncoder {
        &self.encoder
    }

    pub fn eot(&self) -> u32 {
        self.eot
    }

    /// `n_positions` / `max_position_embeddings`, the default context.
    pub fn context(&self) -> Option<usize> {
        self.config.max_position_embeddings
    }

    /// Whether the graph takes past key/values (a `with-past` export).
    pub fn has_past(&self) -> bool {
        !self.past.is_empty()
    }

    /// Scores `windows` in batches of at most `max_rows` rows and `max_tokens` padded tokens,
    /// longest first; results come back in input order. `progress` gets the indices of the
    /// windows each batch finished.
    pub fn score(
        &mut self,
        windows: &[Window],
        max_rows: usize,
        max_tokens: usize,
        progress: &mut dyn FnMut(&[usize]),
    ) -> Result<Vec<WindowScore>, RuntimeError> {
        let mut order: Vec<usize> = (0..windows.len()).collect();
        order.sort_by(|&a, &b| {
            windows[b]
                .tokens
                .len()
                .cmp(&windows[a].tokens.len())
                .then(a.cmp(&b))
        });
        let mut results = vec![WindowScore::default(); windows.len()];
        let mut start = 0;
        while start < order.len() {
            let width = windows[order[start]].input().len();
            let rows = (max_tokens / width.max(1))
                .clamp(1, max_rows.max(1))
                .min(order.len() - start);
            let batch = &order[start..start + rows];
            let scores = self.score_batch(
                batch.iter().map(|&i| &windows[i]).collect::<Vec<_>>(),
                width,
            )?;
            for (&i, score) in batch.iter().zip(scores) {
                results[i] = score;
            }
            progress(batch);
            start += rows;
        }
        Ok(results)
    }

    fn score_batch(
        &mut self,
        windows: Vec<&Window>,
        width: usize,
    ) -> Result<Vec<WindowScore>, RuntimeError> {
        let rows = windows.len();
        let mut ids = Vec::with_capacity(rows * width);
        let mut mask = Vec::with_capacity(rows * width);
        let mut positions = Vec::with_capacity(rows * width);
        for w in &windows {
            let input = w.input();
            ids.extend(
                input
                    .iter()
                    .map(|&t| i64::from(t))
                    .chain(std::iter::repeat_n(
                        i64::from(self.eot),
                        width - input.len(),
                    )),
            );
            mask.extend(
                std::iter::repeat_n(1i64, input.len())
                    .chain(std::iter::repeat_n(0, width - input.len())),
            );
            positions.extend((0..width as i64).map(|p| p.min(input.len() as i64 - 1).max(0)));
        }
        let shape = [rows as i64, width as i64];
        let int_tensor = |data: Vec<i64>| -> Result<SessionInputValue<'static>, RuntimeError> {
            Ok(Tensor::from_array((shape, data))
                .map_err(ort_error("creating an input tensor"))?
                .into())
        };
        let mut inputs: Vec<(String, SessionInputValue<'static>)> = vec![
            ("input_ids".into(), int_tensor(ids)?),
            ("attention_mask".into(), int_tensor(mask)?),
        ];
        if self.takes_position_ids {
            inputs.push(("position_ids".into(), int_tensor(positions)?));
        }
        for past in &self.past {
            let empty = Tensor::from_array((
                [rows as i64, past.heads, 0, past.head_dim],
                Vec::<f32>::new(),
            ))
            .map_err(ort_error("creating an empty past tensor"))?;
            inputs.push((past.name.clone(), empty.into()));
        }
        if self.use_cache_branch {
            let flag = Tensor::from_array(([1i64], vec![false]))
                .map_err(ort_error("creating use_cache_branch"))?;
            inputs.push(("use_cache_branch".into(), flag.into()));
        }
        let outputs = self
            .session
            .run(inputs)
            .map_err(ort_error("running a batch"))?;
        let (shape, logits) = outputs["logits"]
            .try_extract_tensor::<f32>()
            .map_err(ort_error("reading logits"))?;
        if shape.len() != 3 || shape[0] as usize != rows || shape[1] as usize != width {
            return Err(RuntimeError::OutputShape {
                name: "logits".into(),
                shape: shape.to_vec(),
                expected: format!("[{rows}, {width}, vocab]"),
            });
        }
        let vocab = shape[2] as usize;
        // Rows are independent and ONNX Runtime is idle here: score them on all cores.
        use rayon::prelude::*;
        Ok(windows
            .par_iter()
            .enumerate()
            .map(|(r, w)| {
                let mut score = WindowScore {
                    loglikelihood: 0.0,
                    tokens: 0,
                    greedy: true,
                    greedy_tokens: Vec::with_capacity(w.targets().len()),
                };
                for (j, &target) in w.tokens.iter().enumerate().skip(w.first_target) {
                    // Token j is predicted at position j - 1.
                    let row = &logits[(r * width + j - 1) * vocab..(r * width + j) * vocab];
                    let (logp, argmax) = log_softmax_argmax(row, target as usize);
                    score.loglikelihood += logp;
                    score.tokens += 1;
                    score.greedy &= argmax == target as usize;
                    score.greedy_tokens.push(argmax as u32);
                }
                score
            })
            .collect())
    }
}

/// log softmax(row)[target] in f64, and whether `target` is the (first) argmax.
pub fn log_softmax_at(row: &[f32], target: usize) -> (f64, bool) {
    let (logp, best) = log_softmax_argmax(row, target);
    (logp, best == target)
}

/// log softmax(row)[target] in f64, and the (first) argmax.
pub fn log_softmax_argmax(row: &[f32], target: usize) -> (f64, usize) {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    // exp in f32 (each term exact to ~1e-7 relative), accumulated in f64.
    let max = row[best];
    let sum: f64 = row.iter().map(|&v| f64::from((v - max).exp())).sum();
    (f64::from(row[target]) - f64::from(max) - sum.ln(), best)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_softmax_of_uniform_logits_is_minus_log_v() {
        let row = vec![0.5f32; 8];
        let (logp, greedy) = log_softmax_at(&row, 3);
        assert!((logp + 8f64.ln()).abs() < 1e-12);
        assert!(!greedy, "ties go to the first index, as argmax does");
        assert!(log_softmax_at(&row, 0).1);
    }

    #[test]
    fn log_softmax_is_stable_for_large_logits() {
        let (logp, greedy) = log_softmax_at(&[1000.0, 0.0, -1000.0], 0);
        assert!(logp.abs() < 1e-12 && greedy);
    }
}
