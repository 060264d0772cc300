//! Encoder-decoder models (T5) in Optimum's `text2text-generation(-with-past)` export layout:
//! `encoder_model.onnx` plus either `decoder_model_merged.onnx` (one graph, `use_cache_branch`
//! picks the branch) or `decoder_model.onnx` with, optionally, `decoder_with_past_model.onnx`.
//!
//! The encoder runs once per batch. Decoding is batched and greedy by default, with the key/value
//! cache: the first step runs the decoder without past (it also returns the cross-attention
//! keys/values, which are then reused), every later step feeds one token per row and the cache.
//! Without the cache (`use_cache = false`) each step re-runs the decoder on the whole prefix; both
//! give the same strings (tested). Greedy rows that reach `</s>` leave the batch once a quarter of it
//! has finished, so short outputs do not wait on the longest (refilling their slots from the queue,
//! continuous batching proper, would need a per-row decoder attention mask and position, which
//! Optimum's T5 decoder graphs do not take). Beam search follows transformers' `generate(num_beams=…,
//! length_penalty=…, early_stopping=False)` step for step (`GenerationMixin._beam_search`, 4.57).
//! Rank classification scores each option's tokens (with `</s>`) under teacher forcing.

use std::path::{Path, PathBuf};

use ort::session::{Session, SessionInputValue};
use ort::value::{DynValue, Tensor};
use serde::Deserialize;

use crate::batch::plan_tokens;
use crate::encode::TextEncoder;
use crate::error::RuntimeError;
use crate::session::{ort_error, Runtime};
use evalrun_graph::{Edit, EditReport, Edits, Role};

/// The files of a seq2seq export.
#[derive(Debug, Clone)]
pub struct Seq2SeqFiles {
    pub dir: PathBuf,
    pub encoder: PathBuf,
    /// `decoder_model_merged.onnx`, preferred when present.
    pub merged: Option<PathBuf>,
    pub decoder: Option<PathBuf>,
    pub decoder_with_past: Option<PathBuf>,
    pub tokenizer: PathBuf,
    pub config: PathBuf,
}

impl Seq2SeqFiles {
    /// Whether `dir` holds an encoder-decoder export (its `encoder_model.onnx`).
    pub fn is_seq2seq(dir: &Path) -> bool {
        dir.join("encoder_model.onnx").is_file()
    }

    pub fn locate(dir: &Path) -> Result<Self, RuntimeError> {
        if !dir.is_dir() {
            return Err(RuntimeError::ModelNotFound {
                dir: dir.to_path_buf(),
            });
        }
        let file = |name: &str| Some(dir.join(name)).filter(|p| p.is_file());
        let encoder = file("encoder_model.onnx").ok_or_else(|| RuntimeError::MissingFile {
            path: dir.join("encoder_model.onnx"),
            why: "a seq2seq export has an encoder graph",
        })?;
        let merged = file("decoder_model_merged.onnx");
        let decoder = file("decoder_model.onnx");
        if merged.is_none() && decoder.is_none() {
            return Err(RuntimeError::MissingFile {
                path: dir.join("decoder_model.onnx"),
                why: "a seq2seq export has `decoder_model_merged.onnx` or `decoder_model.onnx`",
            });
        }
        let tokenizer = file("tokenizer.json").ok_or_else(|| RuntimeError::MissingFile {
            path: dir.join("tokenizer.json"),
            why: "evalrun tokenizes with the HF tokenizers library",
        })?;
        let config = file("config.json").ok_or_else(|| RuntimeError::MissingFile {
            path: dir.join("config.json"),
            why: "it names the decoder start, end and padding tokens",
        })?;
        Ok(Self {
            dir: dir.to_path_buf(),
            encoder,
            merged,
            decoder,
            decoder_with_past: file("decoder_with_past_model.onnx"),
            tokenizer,
            config,
        })
    }

    /// The decoder graph that defines the model (for provenance hashes).
    pub fn decoder_graph(&self) -> &Path {
        self.merged
            .as_deref()
            .or(self.decoder.as_deref())
            .expect("located: one of them exists")
    }
}

/// The parts of `config.json` (and `tokenizer_config.json`) decoding needs.
#[derive(Debug, Clone, Deserialize)]
pub struct Seq2SeqConfig {
    pub decoder_start_token_id: u32,
    pub eos_token_id: u32,
    pub pad_token_id: u32,
    pub vocab_size: usize,
    #[serde(default)]
    pub model_type: Option<String>,
}

/// How to decode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GenerateOptions {
    /// New tokens at most, `</s>` included.
    pub max_new_tokens: usize,
    /// Inputs per batch (beams multiply the rows).
    pub batch_size: usize,
    /// Padded input tokens per batch at most (`--batch-tokens`; default unbounded).
    pub batch_tokens: Option<usize>,
    /// Use the key/value cache (the `-with-past` graphs).
    pub use_cache: bool,
    /// 1 = greedy.
    pub beams: usize,
    /// Beam scores are divided by `generated_length ^ length_penalty` (transformers' convention).
    pub length_penalty: f64,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self {
            max_new_tokens: 8,
            batch_size: 32,
            batch_tokens: None,
            use_cache: true,
            beams: 1,
            length_penalty: 1.0,
        }
    }
}

enum Decoder {
    Merged(Session),
    Split {
        first: Session,
        with_past: Option<Session>,
    },
}

pub struct Seq2SeqLm {
    encoder: Session,
    decoder: Decoder,
    files: Seq2SeqFiles,
    config: Seq2SeqConfig,
    text: TextEncoder,
    /// Decoder self-attention cache inputs (`past_key_values.{i}.decoder.{key,value}`).
    decoder_past: Vec<String>,
    /// Cross-attention cache inputs (`past_key_values.{i}.encoder.{key,value}`).
    encoder_past: Vec<String>,
    /// Heads and head size of the cache tensors (for the empty past fed to a merged graph).
    heads: i64,
    head_dim: i64,
    cleanup_spaces: bool,
    /// The decoder's cross-attention reads one row of encoder keys and values per input for
    /// all its beams ([`evalrun_graph::edits::cross_attention`]).
    shared_cross_attention: bool,
    /// What became of the graph edits, per graph loaded (encoder first).
    edits: Vec<EditReport>,
}

/// One batch being decoded: encoder outputs and the cache, `rows` wide.
struct Batch {
    rows: usize,
    enc_len: usize,
    hidden: DynValue,
    mask: Vec<i64>,
    /// Every row's decoder input so far (start token first).
    tokens: Vec<Vec<i64>>,
    decoder_past: Option<Vec<DynValue>>,
    encoder_past: Option<Vec<DynValue>>,
}

/// `past_key_values.0.key` → `present.0.key`: the cache output Optimum pairs with a past input
/// (seq2seq decoders and causal LMs alike).
pub(crate) fn present_name(past: &str) -> String {
    past.replacen("past_key_values.", "present.", 1)
}

impl Seq2SeqLm {
    /// Opens the export; inputs are truncated to `max_input_tokens` (`</s>` included), as
    /// transformers' tokenizer does with `truncation=True, max_length=…`.
    pub fn load(
        runtime: &Runtime,
        dir: &Path,
        max_input_tokens: usize,
    ) -> Result<Self, RuntimeError> {
        Self::load_with(runtime, dir, max_input_tokens, &Edits::auto())
    }

    /// [`Seq2SeqLm::load`] with these graph edits.
    pub fn load_with(
        runtime: &Runtime,
        dir: &Path,
        max_input_tokens: usize,
        edits: &Edits,
    ) -> Result<Self, RuntimeError> {
        let files = Seq2SeqFiles::locate(dir)?;
        let text = std::fs::read_to_string(&files.config).map_err(|e| RuntimeError::BadConfig {
            path: files.config.clone(),
            message: e.to_string(),
        })?;
        let config: Seq2SeqConfig =
            serde_json::from_str(&text).map_err(|e| RuntimeError::BadConfig {
                path: files.config.clone(),
                message: format!("{e} (a seq2seq config needs decoder_start_token_id, eos_token_id, pad_token_id and vocab_size)"),
            })?;
        let cleanup_spaces = tokenizer_cleanup(&files.dir);
        let (encoder, report) = runtime.session(&files.encoder, Role::Plain, edits)?;
        let mut reports = vec![report];
        require_inputs(&encoder, &files.encoder, &["input_ids", "attention_mask"])?;
        require_output(&encoder, &files.encoder, "last_hidden_state")?;
        let mut cross_shared = 0;
        let decoder = match (&files.merged, &files.decoder) {
            (Some(merged), _) => {
                let (session, report) = runtime.session(merged, Role::CachedDecoder, edits)?;
                cross_shared = report.count(Edit::CrossAttention);
                reports.push(report);
                require_inputs(
                    &session,
                    merged,
                    &[
                        "input_ids",
                        "encoder_attention_mask",
                        "encoder_hidden_states",
                        "use_cache_branch",
                    ],
                )?;
                Decoder::Merged(session)
            }
            (None, Some(first)) => {
                let (session, report) = runtime.session(first, Role::Plain, edits)?;
                reports.push(report);
                require_inputs(
                    &session,
                    first,
                    &[
                        "input_ids",
                        "encoder_attention_mask",
                        "encoder_hidden_states",
                    ],
                )?;
                let with_past = match &files.decoder_with_past {
                    Some(path) => {
                        let (session, report) =
                            runtime.session(path, Role::CachedDecoder, edits)?;
                        cross_shared = report.count(Edit::CrossAttention);
                        reports.push(report);
                        Some(session)
                    }
                    None => None,
                };
                Decoder::Split {
                    first: session,
                    with_past,
                }
            }
            (None, None) => unreachable!("located"),
        };
        let past_source = match &decoder {
            Decoder::Merged(s) => Some(s),
            Decoder::Split { with_past, .. } => with_past.as_ref(),
        };
        let (mut decoder_past, mut encoder_past) = (Vec::new(), Vec::new());
        let (mut heads, mut head_dim) = (0, 0);
        if let Some(session) = past_source {
            for input in session.inputs() {
                let name = input.name();
                if !name.starts_with("past_key_values.") {
                    continue;
                }
                if let Some(shape) = input.dtype().tensor_shape() {
                    heads = shape.get(1).copied().unwrap_or(0);
                    head_dim = shape.get(3).copied().unwrap_or(0);
                }
                if name.contains(".encoder.") {
                    encoder_past.push(name.to_string());
                } else {
                    decoder_past.push(name.to_string());
                }
            }
        }
        for (name, path) in [
            (&decoder_past, files.decoder_graph()),
            (&encoder_past, files.decoder_graph()),
        ] {
            if name.is_empty() && past_source.is_some() {
                return Err(RuntimeError::MissingInput {
                    name: "past_key_values.*".into(),
                    path: path.to_path_buf(),
                    present: "no cache inputs".into(),
                });
            }
        }
        let text = TextEncoder::load(
            &files.tokenizer,
            max_input_tokens,
            Some(config.pad_token_id),
        )?;
        // Every layer's cross-attention, or the rows are repeated per beam as before.
        let shared_cross_attention = cross_shared > 0 && 2 * cross_shared == encoder_past.len();
        tracing::info!(
            encoder = %files.encoder.display(),
            decoder = %files.decoder_graph().display(),
            cache = past_source.is_some(),
            shared_cross_attention,
            "seq2seq model loaded"
        );
        Ok(Self {
            encoder,
            decoder,
            files,
            config,
            text,
            decoder_past,
            encoder_past,
            heads,
            head_dim,
            cleanup_spaces,
            shared_cross_attention,
            edits: reports,
        })
    }

    /// What became of the graph edits, per graph loaded (the encoder, then the decoders).
    pub fn edits(&self) -> &[EditReport] {
        &self.edits
    }

    pub fn files(&self) -> &Seq2SeqFiles {
        &self.files
    }

    pub fn config(&self) -> &Seq2SeqConfig {
        &self.config
    }

    pub fn max_input_tokens(&self) -> usize {
        self.text.max_length()
    }

    /// Whether beam search keeps one row of encoder states and cross-attention cache per input
    /// ([`evalrun_graph::edits::cross_attention`]); only with the key/value cache.
    pub fn shares_cross_attention(&self) -> bool {
        self.shared_cross_attention
    }

    /// Whether decoding can use the key/value cache.
    pub fn has_cache(&self) -> bool {
        !self.decoder_past.is_empty()
    }

    /// Token ids with `</s>` appended, truncated to the input limit.
    pub fn tokenize(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>, RuntimeError> {
        let inputs: Vec<(&str, Option<&str>)> = texts.iter().map(|t| (*t, None)).collect();
        Ok(self
            .text
            .encode(&inputs)?
            .into_iter()
            .map(|e| e.ids)
            .collect())
    }

    /// transformers' `decode(ids, skip_special_tokens=True)`, then `strip()`.
    pub fn decode(&self, ids: &[u32]) -> Result<String, RuntimeError> {
        let text = self.text.decode(ids, true)?;
        let text = if self.cleanup_spaces {
            clean_up_tokenization(&text)
        } else {
            text
        };
        Ok(text.trim().to_string())
    }

    /// Generates for every input (token ids from [`Self::tokenize`]); results in input order,
    /// without the start token and without `</s>`.
    pub fn generate(
        &mut self,
        inputs: &[Vec<u32>],
        options: &GenerateOptions,
        progress: &mut dyn FnMut(usize),
    ) -> Result<Vec<Vec<u32>>, RuntimeError> {
        let lengths: Vec<usize> = inputs.iter().map(Vec::len).collect();
        let mut results = vec![Vec::new(); inputs.len()];
        for chunk in &plan_tokens(&lengths, options.batch_size, options.batch_tokens) {
            let rows: Vec<&[u32]> = chunk.iter().map(|&i| inputs[i].as_slice()).collect();
            let outputs = if options.beams > 1 {
                self.beam_batch(&rows, options)?
            } else {
                self.greedy_batch(&rows, options)?
            };
            for (&i, out) in chunk.iter().zip(outputs) {
                results[i] = out;
            }
            progress(chunk.len());
        }
        Ok(results)
    }

    /// Σ log p(option tokens) for each option (token ids, `</s>` included) given `input`, in f64:
    /// T5's `rank_classification` score.
    pub fn score_options(
        &mut self,
        input: &[u32],
        options: &[Vec<u32>],
    ) -> Result<Vec<f64>, RuntimeError> {
        let rows = options.len();
        let inputs: Vec<&[u32]> = (0..rows).map(|_| input).collect();
        let mut batch = self.encode_batch(&inputs, 1)?;
        let width = options.iter().map(Vec::len).max().unwrap_or(0);
        let start = i64::from(self.config.decoder_start_token_id);
        let pad = i64::from(self.config.pad_token_id);
        batch.tokens = options
            .iter()
            .map(|o| {
                let mut t = vec![start];
                t.extend(o.iter().map(|&x| i64::from(x)));
                t.truncate(o.len()); // inputs are shifted right: the last target is never fed
                t.resize(width, pad);
                t
            })
            .collect();
        let (logits, vocab) = self.run_full(&batch)?;
        Ok(options
            .iter()
            .enumerate()
            .map(|(r, option)| {
                option
                    .iter()
                    .enumerate()
                    .map(|(j, &target)| {
                        let row = &logits[(r * width + j) * vocab..(r * width + j + 1) * vocab];
                        crate::causal::log_softmax_at(row, target as usize).0
                    })
                    .sum()
            })
            .collect())
    }

    // --- batches ---------------------------------------------------------------------------

    /// Pads `inputs` (right, with the pad id), runs the encoder, and repeats every row
    /// `copies` times (beams).
    fn encode_batch(&mut self, inputs: &[&[u32]], copies: usize) -> Result<Batch, RuntimeError> {
        let len = inputs.iter().map(|i| i.len()).max().unwrap_or(0).max(1);
        let pad = i64::from(self.config.pad_token_id);
        let mut ids = Vec::with_capacity(inputs.len() * len);
        let mut mask = Vec::with_capacity(inputs.len() * len);
        for input in inputs {
            ids.extend(input.iter().map(|&t| i64::from(t)));
            ids.extend(std::iter::repeat_n(pad, len - input.len()));
            mask.extend(std::iter::repeat_n(1i64, input.len()));
            mask.extend(std::iter::repeat_n(0i64, len - input.len()));
        }
        let shape = [inputs.len() as i64, len as i64];
        let feed: Vec<(String, SessionInputValue<'_>)> = vec![
            ("input_ids".into(), int_tensor(shape, ids)?),
            ("attention_mask".into(), int_tensor(shape, mask.clone())?),
        ];
        let mut outputs = self
            .encoder
            .run(feed)
            .map_err(ort_error("running the encoder"))?;
        let hidden = outputs
            .remove("last_hidden_state")
            .expect("checked at load time");
        let (hidden, mask) = if copies > 1 {
            let index = repeated(inputs.len(), copies);
            let mask = index
                .iter()
                .flat_map(|&i| mask[i * len..(i + 1) * len].iter().copied())
                .collect();
            (gather_rows(&hidden, &index)?, mask)
        } else {
            (hidden, mask)
        };
        let rows = inputs.len() * copies;
        let start = i64::from(self.config.decoder_start_token_id);
        Ok(Batch {
            rows,
            enc_len: len,
            hidden,
            mask,
            tokens: vec![vec![start]; rows],
            decoder_past: None,
            encoder_past: None,
        })
    }

    fn greedy_batch(
        &mut self,
        inputs: &[&[u32]],
        options: &GenerateOptions,
    ) -> Result<Vec<Vec<u32>>, RuntimeError> {
        let mut batch = self.encode_batch(inputs, 1)?;
        let eos = self.config.eos_token_id;
        let pad = i64::from(self.config.pad_token_id);
        let mut out: Vec<Vec<u32>> = vec![Vec::new(); batch.rows];
        let mut done = vec![false; batch.rows];
        // `alive[r]`: the input that batch row `r` decodes. Once a quarter of the rows have
        // finished, they leave the batch (their caches are dropped, the others' gathered once),
        // so short answers do not keep paying for the longest one.
        let mut alive: Vec<usize> = (0..batch.rows).collect();
        for _ in 0..options.max_new_tokens {
            let (logits, vocab) = self.step(&mut batch, options.use_cache)?;
            for (r, &i) in alive.iter().enumerate() {
                let next = if done[i] {
                    pad
                } else {
                    let token = argmax(&logits[r * vocab..(r + 1) * vocab]) as u32;
                    if token == eos {
                        done[i] = true;
                    } else {
                        out[i].push(token);
                    }
                    i64::from(token)
                };
                batch.tokens[r].push(next);
            }
            let finished = alive.iter().filter(|&&i| done[i]).count();
            if finished == alive.len() {
                break;
            }
            if finished * 4 >= alive.len() {
                let keep: Vec<usize> = (0..alive.len()).filter(|&r| !done[alive[r]]).collect();
                self.select_rows(&mut batch, &keep, true)?;
                alive = keep.iter().map(|&r| alive[r]).collect();
            }
        }
        Ok(out)
    }

    /// transformers 4.57 `_beam_search` with `early_stopping=False`, per input: keep the
    /// `2·beams` best continuations, finished ones (hitting `</s>` among the first `beams`, or
    /// the length limit) enter the finished set with score `Σ log p / generated^penalty`, and an
    /// input stops when no running beam can beat its worst finished one at the current length.
    fn beam_batch(
        &mut self,
        inputs: &[&[u32]],
        options: &GenerateOptions,
    ) -> Result<Vec<Vec<u32>>, RuntimeError> {
        let beams = options.beams;
        let keep = 2 * beams;
        let n = inputs.len();
        // With the cross-attention shared, the encoder side keeps one row per input and the
        // first step runs once per input; the decoder side then becomes `beams` rows each.
        let share = self.shares_cross_attention() && options.use_cache && self.has_cache();
        let mut batch = self.encode_batch(inputs, if share { 1 } else { beams })?;
        let eos = self.config.eos_token_id;
        let lp = options.length_penalty;
        // Per input: running beams (sequence without start, score) and finished beams.
        let mut running_scores: Vec<Vec<f32>> = (0..n)
            .map(|_| {
                (0..beams)
                    .map(|b| if b == 0 { 0.0 } else { -1e9 })
                    .collect()
            })
            .collect();
        let mut running_seqs: Vec<Vec<Vec<u32>>> = vec![vec![Vec::new(); beams]; n];
        let mut finished: Vec<Vec<(f32, Vec<u32>)>> = vec![Vec::new(); n];
        let mut unsatisfied = vec![true; n];
        for step in 0..options.max_new_tokens {
            let (mut logits, vocab) = self.step(&mut batch, options.use_cache)?;
            if share && step == 0 {
                // The first step ran once per input: each input's decoder side (tokens,
                // self-attention cache) and logits become `beams` rows next to each other.
                let index = repeated(batch.rows, beams);
                self.select_rows(&mut batch, &index, false)?;
                logits = index
                    .iter()
                    .flat_map(|&r| logits[r * vocab..(r + 1) * vocab].iter().copied())
                    .collect();
            }
            let generated = step + 1; // tokens after this step, the new one included
            let at_limit = generated >= options.max_new_tokens;
            let mut source_rows = Vec::with_capacity(batch.rows);
            let mut next_tokens = Vec::with_capacity(batch.rows);
            for i in 0..n {
                // Accumulated log-probabilities of every (beam, token) continuation.
                let mut cands: Vec<(f32, usize, u32)> = Vec::with_capacity(beams * vocab);
                for b in 0..beams {
                    let row = &logits[(i * beams + b) * vocab..(i * beams + b + 1) * vocab];
                    let logp = log_softmax_f32(row);
                    let base = running_scores[i][b];
                    cands.extend(
                        logp.iter()
                            .enumerate()
                            .map(|(t, &l)| (l + base, b, t as u32)),
                    );
                }
                let top = top_k(&mut cands, keep);
                let hits: Vec<bool> = top.iter().map(|c| at_limit || c.2 == eos).collect();
                // Running beams for the next step: the best `beams` that did not stop.
                let mut order: Vec<usize> = (0..keep).collect();
                let running_key = |k: usize| top[k].0 + if hits[k] { -1.0e9 } else { 0.0 };
                order.sort_by(|&a, &b| running_key(b).total_cmp(&running_key(a)).then(a.cmp(&b)));
                let chosen: Vec<usize> = order[..beams].to_vec();
                // Finished beams: candidates among the first `beams` that stopped.
                if unsatisfied[i] {
                    let denom = (generated as f64).powf(lp) as f32;
                    for (k, c) in top.iter().enumerate().take(beams) {
                        if hits[k] {
                            let mut seq = running_seqs[i][c.1].clone();
                            if c.2 != eos {
                                seq.push(c.2);
                            }
                            finished[i].push((c.0 / denom, seq));
                        }
                    }
                    finished[i].sort_by(|a, b| b.0.total_cmp(&a.0));
                    finished[i].truncate(beams);
                }
                let mut seqs = Vec::with_capacity(beams);
                let mut scores = Vec::with_capacity(beams);
                for &k in &chosen {
                    let (score, b, token) = top[k];
                    let mut seq = running_seqs[i][b].clone();
                    seq.push(token);
                    seqs.push(seq);
                    scores.push(score + if hits[k] { -1.0e9 } else { 0.0 });
                    source_rows.push(i * beams + b);
                    next_tokens.push(i64::from(token));
                }
                running_seqs[i] = seqs;
                running_scores[i] = scores;
                // Early-stop heuristic (early_stopping=False): best running score at the current
                // length against the worst finished score.
                let best_possible = running_scores[i][0] / (generated as f64).powf(lp) as f32;
                let worst_finished = if finished[i].len() == beams {
                    finished[i]
                        .iter()
                        .map(|f| f.0)
                        .fold(f32::INFINITY, f32::min)
                } else {
                    -1.0e9
                };
                unsatisfied[i] = unsatisfied[i] && best_possible > worst_finished;
            }
            if at_limit || !unsatisfied.iter().any(|u| *u) {
                break;
            }
            self.select_rows(&mut batch, &source_rows, false)?;
            for (r, t) in next_tokens.into_iter().enumerate() {
                batch.tokens[r].push(t);
            }
        }
        Ok(finished
            .into_iter()
            .map(|f| f.into_iter().next().map(|(_, s)| s).unwrap_or_default())
            .collect())
    }

    /// Keeps rows `source[r]`: decoder tokens and the self-attention cache (beam reordering),
    /// and with `encoder_side` also the encoder states, mask and cross-attention cache (rows
    /// leaving the batch; only where the encoder side has a row per decoder row, as in greedy
    /// decoding). An identity `source` copies nothing; a reordering of the same rows
    /// moves only the rows that change, in place (the cache is the decoder's own output, so
    /// no new buffers every step).
    fn select_rows(
        &mut self,
        batch: &mut Batch,
        source: &[usize],
        encoder_side: bool,
    ) -> Result<(), RuntimeError> {
        if source.len() == batch.rows && source.iter().copied().eq(0..batch.rows) {
            return Ok(());
        }
        let same_rows = source.len() == batch.rows;
        debug_assert!(
            !encoder_side || batch.mask.len() == batch.rows * batch.enc_len,
            "the encoder side has one row per decoder row"
        );
        let select = |value: &mut DynValue| -> Result<(), RuntimeError> {
            if same_rows {
                let (_, data) = value
                    .try_extract_tensor_mut::<f32>()
                    .map_err(ort_error("reading the cache"))?;
                reorder_rows(data, source);
            } else {
                *value = gather_rows(value, source)?;
            }
            Ok(())
        };
        batch.tokens = source.iter().map(|&r| batch.tokens[r].clone()).collect();
        if let Some(past) = &mut batch.decoder_past {
            past.iter_mut().try_for_each(select)?;
        }
        if encoder_side {
            if let Some(past) = &mut batch.encoder_past {
                past.iter_mut().try_for_each(select)?;
            }
            select(&mut batch.hidden)?;
            let len = batch.enc_len;
            batch.mask = source
                .iter()
                .flat_map(|&r| batch.mask[r * len..(r + 1) * len].iter().copied())
                .collect();
        }
        batch.rows = source.len();
        Ok(())
    }

    // --- decoder calls ---------------------------------------------------------------------

    /// One decoding step: logits of the last position for every row (`[rows × vocab]`).
    fn step(
        &mut self,
        batch: &mut Batch,
        use_cache: bool,
    ) -> Result<(Vec<f32>, usize), RuntimeError> {
        if !use_cache || !self.has_cache() {
            let (logits, vocab) = self.run_full(batch)?;
            let width = batch.tokens[0].len();
            let mut last = Vec::with_capacity(batch.rows * vocab);
            for r in 0..batch.rows {
                last.extend_from_slice(
                    &logits[(r * width + width - 1) * vocab..(r * width + width) * vocab],
                );
            }
            return Ok((last, vocab));
        }
        let rows = batch.rows as i64;
        // Encoder rows: one per decoder row, or one per input (shared cross-attention).
        let enc_rows = (batch.mask.len() / batch.enc_len.max(1)) as i64;
        let enc_shape = [enc_rows, batch.enc_len as i64];
        let first = batch.decoder_past.is_none();
        let ids: Vec<i64> = batch
            .tokens
            .iter()
            .map(|t| *t.last().expect("start token"))
            .collect();
        let mut feed: Vec<(String, SessionInputValue<'_>)> = vec![
            ("input_ids".into(), int_tensor([rows, 1], ids)?),
            (
                "encoder_attention_mask".into(),
                int_tensor(enc_shape, batch.mask.clone())?,
            ),
        ];
        let merged = matches!(self.decoder, Decoder::Merged(_));
        if first || merged {
            feed.push((
                "encoder_hidden_states".into(),
                SessionInputValue::from(&batch.hidden),
            ));
        }
        if merged {
            if first {
                for name in self.decoder_past.iter().chain(&self.encoder_past) {
                    let empty = Tensor::from_array((
                        [rows, self.heads, 0, self.head_dim],
                        Vec::<f32>::new(),
                    ))
                    .map_err(ort_error("creating an empty cache tensor"))?;
                    feed.push((name.clone(), empty.into()));
                }
            }
            let flag = Tensor::from_array(([1i64], vec![!first]))
                .map_err(ort_error("creating use_cache_branch"))?;
            feed.push(("use_cache_branch".into(), flag.into()));
        }
        if let (Some(dec), Some(enc)) = (&batch.decoder_past, &batch.encoder_past) {
            for (name, value) in self.decoder_past.iter().zip(dec) {
                feed.push((name.clone(), SessionInputValue::from(value)));
            }
            for (name, value) in self.encoder_past.iter().zip(enc) {
                feed.push((name.clone(), SessionInputValue::from(value)));
            }
        }
        let session = match &mut self.decoder {
            Decoder::Merged(s) => s,
            Decoder::Split { first: s, .. } if first => s,
            Decoder::Split {
                with_past: Some(s), ..
            } => s,
            Decoder::Split {
                with_past: None, ..
            } => unreachable!("has_cache"),
        };
        let mut outputs = session
            .run(feed)
            .map_err(ort_error("running the decoder"))?;
        let (shape, logits) = outputs["logits"]
            .try_extract_tensor::<f32>()
            .map_err(ort_error("reading logits"))?;
        let vocab = *shape.last().unwrap_or(&0) as usize;
        if shape.len() != 3 || shape[0] != rows || vocab == 0 {
            return Err(RuntimeError::OutputShape {
                name: "logits".into(),
                shape: shape.to_vec(),
                expected: format!("[{rows}, tokens, vocab]"),
            });
        }
        let width = shape[1] as usize;
        let mut last = Vec::with_capacity(batch.rows * vocab);
        for r in 0..batch.rows {
            last.extend_from_slice(
                &logits[(r * width + width - 1) * vocab..(r * width + width) * vocab],
            );
        }
        let take = |outputs: &mut ort::session::SessionOutputs<'_>, names: &[String]| {
            names
                .iter()
                .map(|n| {
                    outputs
                        .remove(present_name(n))
                        .ok_or_else(|| RuntimeError::MissingOutput {
                            path: self.files.decoder_graph().to_path_buf(),
                            expected: "`present.*` cache outputs",
                            present: n.clone(),
                        })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let dec = take(&mut outputs, &self.decoder_past)?;
        if first {
            batch.encoder_past = Some(take(&mut outputs, &self.encoder_past)?);
        }
        batch.decoder_past = Some(dec);
        Ok((last, vocab))
    }

    /// Runs the decoder without cache on every row's full token list (all rows the same
    /// length): logits `[rows × width × vocab]`.
    fn run_full(&mut self, batch: &Batch) -> Result<(Vec<f32>, usize), RuntimeError> {
        let rows = batch.rows as i64;
        let width = batch.tokens[0].len();
        let ids: Vec<i64> = batch.tokens.iter().flatten().copied().collect();
        let mut feed: Vec<(String, SessionInputValue<'_>)> = vec![
            ("input_ids".into(), int_tensor([rows, width as i64], ids)?),
            (
                "encoder_attention_mask".into(),
                int_tensor([rows, batch.enc_len as i64], batch.mask.clone())?,
            ),
            (
                "encoder_hidden_states".into(),
                SessionInputValue::from(&batch.hidden),
            ),
        ];
        let session = match &mut self.decoder {
            Decoder::Merged(s) => {
                for name in self.decoder_past.iter().chain(&self.encoder_past) {
                    let empty = Tensor::from_array((
                        [rows, self.heads, 0, self.head_dim],
                        Vec::<f32>::new(),
                    ))
                    .map_err(ort_error("creating an empty cache tensor"))?;
                    feed.push((name.clone(), empty.into()));
                }
                let flag = Tensor::from_array(([1i64], vec![false]))
                    .map_err(ort_error("creating use_cache_branch"))?;
                feed.push(("use_cache_branch".into(), flag.into()));
                s
            }
            Decoder::Split { first, .. } => first,
        };
        let outputs = session
            .run(feed)
            .map_err(ort_error("running the decoder"))?;
        let (shape, logits) = outputs["logits"]
            .try_extract_tensor::<f32>()
            .map_err(ort_error("reading logits"))?;
        if shape.len() != 3 || shape[0] != rows || shape[1] as usize != width {
            return Err(RuntimeError::OutputShape {
                name: "logits".into(),
                shape: shape.to_vec(),
                expected: format!("[{rows}, {width}, vocab]"),
            });
        }
        Ok((logits.to_vec(), shape[2] as usize))
    }
}

fn int_tensor(shape: [i64; 2], data: Vec<i64>) -> Result<SessionInputValue<'static>, RuntimeError> {
    Ok(Tensor::from_array((shape, data))
        .map_err(ort_error("creating an input tensor"))?
        .into())
}

/// `0, 0, …, 1, 1, …`: each of `rows` rows `copies` times, next to each other (beams).
fn repeated(rows: usize, copies: usize) -> Vec<usize> {
    (0..rows)
        .flat_map(|r| std::iter::repeat_n(r, copies))
        .collect()
}

/// Rows `source[r]` of a `[rows, …]` float tensor, as a new tensor (`source` may repeat or
/// drop rows).
fn gather_rows(value: &DynValue, source: &[usize]) -> Result<DynValue, RuntimeError> {
    let (shape, data) = value
        .try_extract_tensor::<f32>()
        .map_err(ort_error("reading a batch tensor"))?;
    let rows = shape.first().copied().unwrap_or(0).max(1) as usize;
    let width = data.len() / rows;
    let mut out = Vec::with_capacity(source.len() * width);
    for &s in source {
        out.extend_from_slice(&data[s * width..(s + 1) * width]);
    }
    let mut dims = shape.to_vec();
    dims[0] = source.len() as i64;
    Ok(Tensor::from_array((dims, out))
        .map_err(ort_error("creating a tensor"))?
        .into_dyn())
}

/// Puts row `source[r]` into row `r` of `data` (`source.len()` equal rows), in place: only the
/// rows whose source differs are written, and a source row that is itself overwritten is copied
/// aside first.
fn reorder_rows(data: &mut [f32], source: &[usize]) {
    let rows = source.len();
    if rows == 0 {
        return;
    }
    let width = data.len() / rows;
    let moved = |r: usize| source[r] != r;
    let mut aside: Vec<usize> = Vec::new();
    let mut saved: Vec<f32> = Vec::new();
    for r in (0..rows).filter(|&r| moved(r)) {
        let s = source[r];
        if moved(s) && !aside.contains(&s) {
            aside.push(s);
            saved.extend_from_slice(&data[s * width..(s + 1) * width]);
        }
    }
    for r in (0..rows).filter(|&r| moved(r)) {
        let s = source[r];
        match aside.iter().position(|&a| a == s) {
            Some(k) => {
                data[r * width..(r + 1) * width].copy_from_slice(&saved[k * width..(k + 1) * width])
            }
            None => data.copy_within(s * width..(s + 1) * width, r * width),
        }
    }
}

fn require_inputs(session: &Session, path: &Path, names: &[&str]) -> Result<(), RuntimeError> {
    let present: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
    for name in names {
        if !present.contains(name) {
            return Err(RuntimeError::MissingInput {
                name: (*name).into(),
                path: path.to_path_buf(),
                present: present.join(", "),
            });
        }
    }
    Ok(())
}

fn require_output(session: &Session, path: &Path, name: &str) -> Result<(), RuntimeError> {
    if session.outputs().iter().any(|o| o.name() == name) {
        return Ok(());
    }
    let present: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
    Err(RuntimeError::MissingOutput {
        path: path.to_path_buf(),
        expected: "`last_hidden_state`",
        present: present.join(", "),
    })
}

/// First index of the maximum (torch/numpy `argmax`).
fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}

/// `log_softmax` in f32 terms (computed in f64, rounded once), as beam scores accumulate in f32.
fn log_softmax_f32(row: &[f32]) -> Vec<f32> {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = row.iter().map(|&v| f64::from(v - max).exp()).sum();
    let log_sum = sum.ln();
    row.iter()
        .map(|&v| (f64::from(v - max) - log_sum) as f32)
        .collect()
}

/// The `k` best candidates by score (descending; ties: lower flat index first, as `topk`).
fn top_k(cands: &mut [(f32, usize, u32)], k: usize) -> Vec<(f32, usize, u32)> {
    let k = k.min(cands.len());
    let key = |c: &(f32, usize, u32)| (c.1, c.2);
    cands.select_nth_unstable_by(k.saturating_sub(1), |a, b| {
        b.0.total_cmp(&a.0).then(key(a).cmp(&key(b)))
    });
    let mut top = cands[..k].to_vec();
    top.sort_by(|a, b| b.0.total_cmp(&a.0).then(key(a).cmp(&key(b))));
    top
}

/// `tokenizer_config.json`'s `clean_up_tokenization_spaces` (transformers applies it in `decode`).
fn tokenizer_cleanup(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("tokenizer_config.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| {
            v.get("clean_up_tokenization_spaces")
                .and_then(|b| b.as_bool())
        })
        .unwrap_or(false)
}

/// transformers' `PreTrainedTokenizerBase.clean_up_tokenization`.
pub fn clean_up_tokenization(text: &str) -> String {
    text.replace(" .", ".")
        .replace(" ?", "?")
        .replace(" !", "!")
        .replace(" ,", ",")
        .replace(" ' ", "'")
        .replace(" n't", "n't")
        .replace(" 'm", "'m")
        .replace(" 's", "'s")
        .replace(" 've", "'ve")
        .replace(" 're", "'re")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reorder_rows_matches_a_gather() {
        // Every map of 4 rows onto 4 rows (beam reordering repeats and drops rows).
        for code in 0..256usize {
            let source: Vec<usize> = (0..4).map(|r| (code >> (2 * r)) & 3).collect();
            let data: Vec<f32> = (0..12).map(|x| x as f32).collect();
            let expected: Vec<f32> = source
                .iter()
                .flat_map(|&s| data[s * 3..(s + 1) * 3].to_vec())
                .collect();
            let mut got = data.clone();
            reorder_rows(&mut got, &source);
            assert_eq!(got, expected, "source {source:?}");
        }
    }

    #[test]
    fn top_k_breaks_ties_by_index() {
        let mut c = vec![(0.5, 1, 3), (0.9, 0, 1), (0.5, 0, 7), (0.1, 1, 0)];
        let top = top_k(&mut c, 3);
        assert_eq!(top, vec![(0.9, 0, 1), (0.5, 0, 7), (0.5, 1, 3)]);
    }

    #[test]
    fn log_softmax_sums_to_one() {
        let l = log_softmax_f32(&[1.0, 2.0, 3.0]);
        let s: f64 = l.iter().map(|&x| f64::from(x).exp()).sum();
        assert!((s - 1.0).abs() < 1e-6);
    }

    #[test]
    fn cleanup_matches_transformers() {
        assert_eq!(
            clean_up_tokenization("it 's a test . ok ?"),
            "it's a test. ok?"
        );
    }
}
