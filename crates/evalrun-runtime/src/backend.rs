//! ONNX Runtime as an [`evalrun_core::request::Backend`]: one type for the three export
//! families (encoders with a head or an embedding, causal LMs, seq2seq), chosen from the
//! model directory. It answers requests; it never knows which task asked.

use std::path::{Path, PathBuf};

use evalrun_core::lm::{continuation_window, rolling_windows, strided_windows, Window};
use evalrun_core::request::{
    Backend, Continuation, Fingerprint, GenerationOptions, GraphEdit, LoglikelihoodResponse,
    ModelInfo, ModelKind, Progress, Request, RequestKind, Response, RollingResponse,
};
use evalrun_graph::{EditReport, Edits, Status};
use sha2::{Digest, Sha256};

use crate::batch::Batching;
use crate::causal::{CausalLm, Scoring, TokenOptions};
use crate::error::RuntimeError;
use crate::memory::{self, Architecture, AutoOptions, Workload};
use crate::model::{ModelConfig, ModelFiles};
use crate::seq2seq::{GenerateOptions, Seq2SeqFiles, Seq2SeqLm};
use crate::session::{Head, Model, Runtime};

/// The export family of a model directory, decided from its files before any session opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `model.onnx` with a head or an embedding output.
    Encoder,
    CausalLm,
    /// `encoder_model.onnx` + decoder graphs.
    Seq2seq,
}

impl Family {
    /// Seq2seq when the directory has `encoder_model.onnx`; a causal LM when `config.json`
    /// says so (architecture `…LMHeadModel`/`…ForCausalLM`); an encoder otherwise.
    pub fn detect(dir: &Path) -> Result<Self, RuntimeError> {
        if Seq2SeqFiles::is_seq2seq(dir) {
            return Ok(Family::Seq2seq);
        }
        let files = ModelFiles::locate(dir)?;
        let config = ModelConfig::load(&files)?;
        if config.is_seq2seq() {
            return Err(RuntimeError::WrongExport {
                dir: dir.to_path_buf(),
                family: "seq2seq model",
                architecture: config.name(),
                found: format!(
                    "is one file, `{}`, where a seq2seq export has `encoder_model.onnx` and decoder graphs (`feature-extraction` exports the encoder and decoder as one graph)",
                    files.onnx.file_name().unwrap_or_default().to_string_lossy()
                ),
                task: "text2text-generation-with-past",
            });
        }
        Ok(if config.is_causal_lm() {
            Family::CausalLm
        } else {
            Family::Encoder
        })
    }
}

/// How a backend batches and windows; everything here can change an output.
#[derive(Debug, Clone, PartialEq)]
pub struct BackendOptions {
    /// Encoders and seq2seq inputs: truncation length (default: the model's).
    pub max_length: Option<usize>,
    /// Rows per ONNX Runtime call.
    pub batch_size: usize,
    /// Causal LMs: window length (default: the model's positions).
    pub context: Option<usize>,
    /// Causal LMs: strided windows (the transformers guide) instead of lm-eval's disjoint ones.
    pub stride: Option<usize>,
    /// Padded tokens per call at most (`--batch-tokens`); causal LMs default to
    /// [`DEFAULT_CAUSAL_BATCH_TOKENS`], other models to no bound.
    pub batch_tokens: Option<usize>,
    /// `--batch-size auto`: `batch_size` (and a causal LM's unset token budget) are chosen at
    /// load time to fit the memory budget.
    pub auto: Option<AutoOptions>,
    /// The load-time graph edits asked for (`--graph-edits`); each is made where it applies.
    pub graph_edits: Edits,
    /// Causal LMs with past: score candidates that share a context against its cache (on by
    /// default; off, `--no-shared-prefix`, scores every pair alone).
    pub shared_prefix: bool,
    /// Causal LMs: lm-eval's `add_bos_token` and `prefix_token_id` (`--add-bos-token`,
    /// `--prefix-token`); default the tokenizer as saved.
    pub tokens: TokenOptions,
}

impl Default for BackendOptions {
    fn default() -> Self {
        Self {
            max_length: None,
            batch_size: 32,
            context: None,
            stride: None,
            batch_tokens: None,
            auto: None,
            graph_edits: Edits::auto(),
            shared_prefix: true,
            tokens: TokenOptions::default(),
        }
    }
}

/// The backend's form of the edit reports: one entry per graph and edit asked for.
fn graph_edits(reports: &[&EditReport]) -> Vec<GraphEdit> {
    let mut out = Vec::new();
    for report in reports {
        let graph = file_name(&report.graph);
        // Reasons name the graph by its file name: records carry no machine paths.
        let full = report.graph.display().to_string();
        for o in &report.outcomes {
            let (count, reason) = match &o.status {
                Status::Applied(n) => (Some(*n), None),
                Status::NotApplicable(why) | Status::Refused(why) => {
                    (None, Some(why.replace(&full, &graph)))
                }
            };
            out.push(GraphEdit {
                graph: graph.clone(),
                edit: o.edit.name().to_string(),
                status: o.status.word().to_string(),
                count,
                reason,
            });
        }
    }
    out
}

/// A causal LM's padded tokens per call unless `--batch-tokens` says otherwise: one
/// 1024-token window, measured as fast as 2048 on GPT-2 124M with 0.6 GiB less peak memory.
pub const DEFAULT_CAUSAL_BATCH_TOKENS: usize = 1024;

/// One model directory opened on ONNX Runtime.
pub struct OrtBackend {
    model: Loaded,
    info: ModelInfo,
    options: BackendOptions,
    device: String,
    threads: usize,
    /// ONNX Runtime session configuration entries the runtime was given.
    ort_config: Vec<(String, String)>,
    /// The ONNX Runtime version: another version may compute (or refuse an edit) otherwise.
    ort_version: String,
}

enum Loaded {
    Encoder(Model),
    Causal { lm: CausalLm, context: usize },
    Seq2seq(Seq2SeqLm),
}

impl Loaded {
    /// What became of the graph edits, per graph loaded.
    fn edit_reports(&self) -> Vec<&EditReport> {
        match self {
            Loaded::Encoder(m) => vec![m.edits()],
            Loaded::Causal { lm, .. } => vec![lm.edits()],
            Loaded::Seq2seq(m) => m.edits().iter().collect(),
        }
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

fn sha256_file(path: &Path) -> Result<String, RuntimeError> {
    let bytes = std::fs::read(path).map_err(|e| RuntimeError::BadConfig {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    Ok(format!("{:x}", Sha256::digest(&bytes)))
}

fn graph(path: &Path) -> Result<(String, String), RuntimeError> {
    Ok((path.display().to_string(), sha256_file(path)?))
}

impl OrtBackend {
    /// Opens `dir` as its [`Family`] says.
    pub fn open(
        runtime: &Runtime,
        dir: &Path,
        options: BackendOptions,
    ) -> Result<Self, RuntimeError> {
        let device = runtime.options().device.to_string();
        let threads = runtime.options().threads;
        let (model, info) = match Family::detect(dir)? {
            Family::Encoder => {
                let model =
                    Model::load_with(runtime, dir, options.max_length, &options.graph_edits)?;
                let (kind, num_labels, scoring) = match model.head() {
                    Head::Logits { num_labels } => {
                        (ModelKind::Classifier, Some(num_labels), "logits")
                    }
                    Head::SentenceEmbedding | Head::TokenStates => {
                        (ModelKind::Embedding, None, "embedding cosine")
                    }
                };
                let info = ModelInfo {
                    kind,
                    num_labels,
                    label_names: model.config().label_names(),
                    max_length: model.max_length(),
                    scoring: scoring.into(),
                    output: model.head().output().into(),
                    windows: None,
                    graphs: vec![graph(&model.files().onnx)?],
                    tokenizer_sha256: sha256_file(&model.files().tokenizer)?,
                    edits: graph_edits(&[model.edits()]),
                };
                (Loaded::Encoder(model), info)
            }
            Family::CausalLm => {
                let mut lm = CausalLm::load_with(runtime, dir, &options.graph_edits)?;
                lm.set_shared_prefix(options.shared_prefix);
                lm.set_special_tokens(&options.tokens)?;
                let config = dir.join("config.json");
                let context = match (options.context, lm.context()) {
                    (Some(0), _) => {
                        return Err(RuntimeError::Limit {
                            option: "--context",
                            message: "must be at least 1 (the window length in tokens)".into(),
                        })
                    }
                    (_, Some(0)) => {
                        return Err(RuntimeError::BadConfig {
                            path: config,
                            message: "`n_positions` is 0".into(),
                        })
                    }
                    (Some(c), Some(p)) if c > p => {
                        return Err(RuntimeError::Limit {
                            option: "--context",
                            message: format!(
                            "{c} is more than the model's {p} positions (`n_positions` in `{}`)",
                            config.display()
                        ),
                        })
                    }
                    (Some(c), _) | (None, Some(c)) => c,
                    (None, None) => {
                        return Err(RuntimeError::BadConfig {
                            path: config,
                            message: "no `n_positions`; pass `--context N`".into(),
                        })
                    }
                };
                if let Some(s) = options.stride.filter(|s| *s == 0 || *s > context) {
                    return Err(RuntimeError::Limit {
                        option: "--stride",
                        message: format!("{s} must be between 1 and the window length {context}"),
                    });
                }
                let windows = match options.stride {
                    Some(s) => {
                        format!("transformers perplexity guide: max_length {context}, stride {s}")
                    }
                    // The special tokens are named once, in `scoring`.
                    None => format!("lm-eval disjoint rolling windows: max_length {context}"),
                };
                let info = ModelInfo {
                    kind: ModelKind::CausalLm,
                    num_labels: None,
                    label_names: None,
                    max_length: context,
                    scoring: causal_scoring(&lm),
                    output: "logits".into(),
                    windows: Some(windows),
                    graphs: vec![graph(&lm.files().onnx)?],
                    tokenizer_sha256: sha256_file(&lm.files().tokenizer)?,
                    edits: graph_edits(&[lm.edits()]),
                };
                (Loaded::Causal { lm, context }, info)
            }
            Family::Seq2seq => {
                let model = Seq2SeqLm::load_with(
                    runtime,
                    dir,
                    options.max_length.unwrap_or(512),
                    &options.graph_edits,
                )?;
                let files = model.files();
                let mut graphs = vec![graph(&files.encoder)?];
                for path in [&files.merged, &files.decoder, &files.decoder_with_past]
                    .into_iter()
                    .flatten()
                {
                    graphs.push(graph(path)?);
                }
                let info = ModelInfo {
                    kind: ModelKind::Seq2seq,
                    num_labels: None,
                    label_names: None,
                    max_length: model.max_input_tokens(),
                    scoring: "seq2seq".into(),
                    output: "logits".into(),
                    windows: None,
                    graphs,
                    tokenizer_sha256: sha256_file(&files.tokenizer)?,
                    edits: graph_edits(&model.edits().iter().collect::<Vec<_>>()),
                };
                (Loaded::Seq2seq(model), info)
            }
        };
        let auto = options.auto;
        let mut backend = Self {
            model,
            info,
            options,
            device,
            threads,
            ort_config: runtime.options().config.clone(),
            ort_version: runtime.version().to_string(),
        };
        if let Some(auto) = auto {
            backend.choose_batch(dir, auto)?;
        }
        Ok(backend)
    }

    /// `--batch-size auto`: sets the batch size (and a causal LM's token budget when
    /// `--batch-tokens` was not given) to the largest that fits the budget, by estimate.
    fn choose_batch(&mut self, dir: &Path, auto: AutoOptions) -> Result<(), RuntimeError> {
        let arch = Architecture::from_config(&dir.join("config.json"))?;
        let chosen = match &self.model {
            Loaded::Encoder(model) => {
                let outputs = match model.head() {
                    Head::TokenStates => arch.hidden,
                    _ => 0,
                };
                let work = Workload::Encoder {
                    tokens: self.info.max_length as u64,
                    outputs,
                };
                let weights = memory::weight_bytes(&[&model.files().onnx]);
                memory::choose(
                    |r| memory::batch_bytes(&arch, work, r),
                    weights,
                    auto.max_memory,
                )?
            }
            Loaded::Causal { lm, context } => {
                let context = *context as u64;
                let weights = memory::weight_bytes(&[&lm.files().onnx]);
                let fixed = self.options.batch_tokens.map(|t| t as u64);
                let chosen = memory::choose(
                    |r| {
                        let batch_tokens = fixed.unwrap_or(r * context);
                        memory::batch_bytes(
                            &arch,
                            Workload::Causal {
                                context,
                                batch_tokens,
                            },
                            r,
                        )
                    },
                    weights,
                    auto.max_memory,
                )?;
                if fixed.is_none() {
                    self.options.batch_tokens = Some(chosen.rows * context as usize);
                }
                chosen
            }
            Loaded::Seq2seq(model) => {
                let files = model.files();
                // The graphs loaded: the merged decoder when there is one, else the split pair.
                let decoders = match &files.merged {
                    Some(merged) => vec![merged],
                    None => [&files.decoder, &files.decoder_with_past]
                        .into_iter()
                        .flatten()
                        .collect(),
                };
                let paths: Vec<&Path> = std::iter::once(&files.encoder)
                    .chain(decoders)
                    .map(PathBuf::as_path)
                    .collect();
                let weights = memory::weight_bytes(&paths);
                let work = Workload::Seq2seq {
                    input: self.info.max_length as u64,
                    beams: auto.beams.max(1) as u64,
                    new_tokens: auto.new_tokens as u64,
                    shared_encoder: model.shares_cross_attention() && auto.use_cache,
                };
                memory::choose(
                    |r| memory::batch_bytes(&arch, work, r),
                    weights,
                    auto.max_memory,
                )?
            }
        };
        self.options.batch_size = chosen.rows;
        tracing::info!(
            "--batch-size auto: {} rows per call{} (estimated {} for the weights + {} per call, of a {} budget)",
            chosen.rows,
            match (&self.model, self.options.batch_tokens) {
                (Loaded::Causal { .. }, Some(t)) => format!(", at most {t} tokens"),
                _ => String::new(),
            },
            memory::format_size(chosen.weights),
            memory::format_size(chosen.per_batch),
            memory::format_size(chosen.budget),
        );
        Ok(())
    }

    fn causal_batch_tokens(&self) -> usize {
        self.options
            .batch_tokens
            .unwrap_or(DEFAULT_CAUSAL_BATCH_TOKENS)
    }

    /// Whether a seq2seq export has decoder graphs for the key/value cache.
    pub fn has_cache(&self) -> bool {
        match &self.model {
            Loaded::Seq2seq(m) => m.has_cache(),
            _ => false,
        }
    }

    fn rolling_windows(&self, lm: &CausalLm, context: usize, tokens: &[u32]) -> Vec<Window> {
        match self.options.stride {
            Some(s) => strided_windows(tokens, context, s),
            None => rolling_windows(tokens, lm.prefix(), context),
        }
    }
}

/// How a causal LM's log-probabilities are computed, in the record's words: the export
/// (with past or not), then the scoring path.
fn causal_scoring(lm: &CausalLm) -> String {
    let export = if lm.has_past() {
        "causal lm (with-past export, empty past)"
    } else {
        "causal lm"
    };
    let path = match (lm.scoring(), lm.head_gathered()) {
        (Scoring::InGraph, true) => "in-graph log-softmax, gathered head",
        (Scoring::InGraph, false) => "in-graph log-softmax",
        (Scoring::HostLogits, _) => "host log-softmax (f64)",
    };
    format!(
        "{export}: {path}; {}",
        lm.special_tokens().describe(lm.encoder())
    )
}

fn bad_request(index: usize, message: impl Into<String>) -> RuntimeError {
    RuntimeError::BadRequest {
        index,
        message: message.into(),
    }
}

fn unsupported(kind: RequestKind, model: ModelKind) -> RuntimeError {
    RuntimeError::Unsupported {
        request: kind.name(),
        model: model.name(),
    }
}

impl Backend for OrtBackend {
    type Error = RuntimeError;

    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn batch_size(&self) -> Option<usize> {
        Some(self.options.batch_size)
    }

    fn batch_tokens(&self) -> Option<usize> {
        match self.model {
            Loaded::Causal { .. } => Some(self.causal_batch_tokens()),
            _ => self.options.batch_tokens,
        }
    }

    fn fingerprint(&self) -> Fingerprint {
        let mut f = Fingerprint::new();
        for (path, sha) in &self.info.graphs {
            f.insert(format!("graph:{path}"), sha.clone());
        }
        f.insert("tokenizer".into(), self.info.tokenizer_sha256.clone());
        f.insert("kind".into(), self.info.kind.name().into());
        f.insert("max_length".into(), self.info.max_length.to_string());
        if let Some(w) = &self.info.windows {
            f.insert("windows".into(), w.clone());
        }
        f.insert("batch_size".into(), self.options.batch_size.to_string());
        if let Some(t) = self.batch_tokens() {
            f.insert("batch_tokens".into(), t.to_string());
        }
        f.insert("device".into(), self.device.clone());
        f.insert("threads".into(), self.threads.to_string());
        // What computed the responses: the graphs as edited and the scoring path.
        f.insert("scoring".into(), self.info.scoring.clone());
        f.insert("onnxruntime".into(), self.ort_version.clone());
        for report in self.model.edit_reports() {
            f.insert(
                format!("edits:{}", file_name(&report.graph)),
                report.fingerprint(),
            );
        }
        if let Loaded::Causal { lm, .. } = &self.model {
            if lm.has_past() {
                f.insert("shared_prefix".into(), lm.shared_prefix().to_string());
            }
        }
        for (key, value) in &self.ort_config {
            f.insert(format!("ort_config:{key}"), value.clone());
        }
        f
    }

    fn run(
        &mut self,
        kind: RequestKind,
        requests: &[Request],
        progress: &mut dyn Progress,
    ) -> Result<Vec<Response>, RuntimeError> {
        if !self.info.kind.supports(kind) {
            return Err(unsupported(kind, self.info.kind));
        }
        if let Some(i) = requests.iter().position(|r| r.kind() != kind) {
            return Err(bad_request(i, format!("not a `{kind}` request")));
        }
        let batch_size = self.options.batch_size;
        let batching = Batching {
            rows: batch_size,
            tokens: self.options.batch_tokens,
        };
        let causal_tokens = self.causal_batch_tokens();
        match (&mut self.model, kind) {
            (Loaded::Encoder(model), RequestKind::Classify) => {
                let inputs: Vec<(&str, Option<&str>)> = requests
                    .iter()
                    .map(|r| match r {
                        Request::Classify { text_a, text_b } => {
                            (text_a.as_str(), text_b.as_deref())
                        }
                        _ => unreachable!("checked above"),
                    })
                    .collect();
                progress.set_total(inputs.len() as u64, "examples");
                let logits =
                    model.classify(&inputs, batching, &mut |n| progress.advance(n as u64))?;
                Ok(logits
                    .into_iter()
                    .map(|logits| Response::Logits { logits })
                    .collect())
            }
            (Loaded::Encoder(model), RequestKind::Embed) => {
                let texts: Vec<&str> = requests
                    .iter()
                    .map(|r| match r {
                        Request::Embed { text } => text.as_str(),
                        _ => unreachable!("checked above"),
                    })
                    .collect();
                progress.set_total(texts.len() as u64, "texts");
                let embeddings =
                    model.embed(&texts, batching, &mut |n| progress.advance(n as u64))?;
                Ok(embeddings
                    .into_iter()
                    .map(|embedding| Response::Embedding { embedding })
                    .collect())
            }
            (Loaded::Causal { .. }, RequestKind::Rolling) => self.rolling(requests, progress),
            (Loaded::Causal { lm, context }, RequestKind::Loglikelihood) => {
                let context = *context;
                let mut windows = Vec::with_capacity(requests.len());
                for (i, request) in requests.iter().enumerate() {
                    let Request::Loglikelihood {
                        context: text,
                        continuation,
                    } = request
                    else {
                        unreachable!("checked above")
                    };
                    let encoder = lm.encoder();
                    let window = match continuation {
                        Continuation::Text(c) => {
                            let (c, k) = lm.encode_pair(text, c)?;
                            if k.is_empty() {
                                return Err(bad_request(i, "the continuation has no tokens"));
                            }
                            continuation_window(&c, &k, context)
                        }
                        Continuation::LastToken => {
                            let tokens = encoder.encode_plain(text)?;
                            if tokens.len() < 2 {
                                return Err(bad_request(i, "fewer than two tokens"));
                            }
                            let (c, k) = tokens.split_at(tokens.len() - 1);
                            continuation_window(c, k, context)
                        }
                    };
                    windows.push(window);
                }
                progress.set_total(windows.len() as u64, "requests");
                let scores = lm.score(
                    &windows,
                    batch_size,
                    causal_tokens.max(context),
                    &mut |batch| progress.advance(batch.len() as u64),
                )?;
                scores
                    .into_iter()
                    .map(|s| {
                        Ok(Response::Loglikelihood(LoglikelihoodResponse {
                            greedy_text: Some(lm.encoder().decode(&s.greedy_tokens, false)?),
                            loglikelihood: s.loglikelihood,
                            tokens: s.tokens,
                            greedy: Some(s.greedy),
                        }))
                    })
                    .collect()
            }
            (Loaded::Seq2seq(model), RequestKind::Generate) => {
                let mut options: Option<GenerationOptions> = None;
                let mut texts = Vec::with_capacity(requests.len());
                for (i, request) in requests.iter().enumerate() {
                    let Request::Generate { input, options: o } = request else {
                        unreachable!("checked above")
                    };
                    if options.is_some_and(|first| first != *o) {
                        return Err(bad_request(
                            i,
                            "generate requests of one call share their options",
                        ));
                    }
                    options = Some(*o);
                    texts.push(input.as_str());
                }
                let Some(o) = options else {
                    return Ok(Vec::new());
                };
                if o.use_cache && !model.has_cache() {
                    tracing::info!("the export has no decoder cache graph; decoding without it");
                }
                let ids = model.tokenize(&texts)?;
                progress.set_total(ids.len() as u64, "examples");
                let generated = model.generate(
                    &ids,
                    &GenerateOptions {
                        max_new_tokens: o.max_new_tokens,
                        batch_size,
                        batch_tokens: self.options.batch_tokens,
                        use_cache: o.use_cache,
                        beams: o.beams,
                        length_penalty: o.length_penalty,
                    },
                    &mut |n| progress.advance(n as u64),
                )?;
                generated
                    .iter()
                    .map(|g| {
                        Ok(Response::Generated {
                            text: model.decode(g)?,
                            tokens: g.len(),
                        })
                    })
                    .collect()
            }
            (Loaded::Seq2seq(model), RequestKind::Loglikelihood) => {
                // Requests that share a context are scored in one call, as T5's
                // rank_classification scores every label of one input together.
                let mut responses = Vec::with_capacity(requests.len());
                let contexts = requests.chunk_by(|a, b| match (a, b) {
                    (
                        Request::Loglikelihood { context: x, .. },
                        Request::Loglikelihood { context: y, .. },
                    ) => x == y,
                    _ => false,
                });
                progress.set_total(requests.len() as u64, "requests");
                let mut start = 0;
                for group in contexts {
                    let mut continuations = Vec::with_capacity(group.len());
                    let mut context = "";
                    for (offset, request) in group.iter().enumerate() {
                        let Request::Loglikelihood {
                            context: c,
                            continuation,
                        } = request
                        else {
                            unreachable!("checked above")
                        };
                        context = c;
                        match continuation {
                            Continuation::Text(t) => continuations.push(t.as_str()),
                            Continuation::LastToken => {
                                return Err(bad_request(
                                    start + offset,
                                    "a seq2seq model scores a continuation text, not a last token",
                                ))
                            }
                        }
                    }
                    let input = model.tokenize(&[context])?.remove(0);
                    let options = model.tokenize(&continuations)?;
                    let scores = model.score_options(&input, &options)?;
                    for (score, option) in scores.into_iter().zip(&options) {
                        responses.push(Response::Loglikelihood(LoglikelihoodResponse {
                            loglikelihood: score,
                            tokens: option.len(),
                            greedy: None,
                            greedy_text: None,
                        }));
                    }
                    progress.advance(group.len() as u64);
                    start += group.len();
                }
                Ok(responses)
            }
            (_, kind) => Err(unsupported(kind, self.info.kind)),
        }
    }
}

impl OrtBackend {
    fn rolling(
        &mut self,
        requests: &[Request],
        progress: &mut dyn Progress,
    ) -> Result<Vec<Response>, RuntimeError> {
        let Loaded::Causal { lm, context } = &self.model else {
            unreachable!("rolling requests go to causal LMs")
        };
        let context = *context;
        let mut windows: Vec<Window> = Vec::new();
        let mut owner: Vec<usize> = Vec::new();
        let mut text_tokens = Vec::with_capacity(requests.len());
        for (i, request) in requests.iter().enumerate() {
            let Request::Rolling { text } = request else {
                unreachable!("checked by run")
            };
            let tokens = lm.tok_encode(text)?;
            let w = self.rolling_windows(lm, context, &tokens);
            text_tokens.push(tokens.len());
            owner.extend(std::iter::repeat_n(i, w.len()));
            windows.extend(w);
        }
        let total: usize = windows.iter().map(|w| w.targets().len()).sum();
        progress.set_total(total as u64, "tokens");
        let causal_tokens = self.causal_batch_tokens();
        let Loaded::Causal { lm, .. } = &mut self.model else {
            unreachable!("matched above")
        };
        let scores = lm.score(
            &windows,
            self.options.batch_size,
            causal_tokens.max(context),
            &mut |batch| {
                let tokens: usize = batch.iter().map(|&w| windows[w].targets().len()).sum();
                progress.advance(tokens as u64);
            },
        )?;
        let mut responses: Vec<RollingResponse> = text_tokens
            .into_iter()
            .map(|n| RollingResponse {
                loglikelihood: 0.0,
                tokens: 0,
                greedy: true,
                text_tokens: n,
                windows: Vec::new(),
            })
            .collect();
        for (score, &i) in scores.iter().zip(&owner) {
            let r = &mut responses[i];
            r.loglikelihood += score.loglikelihood;
            r.tokens += score.tokens;
            r.greedy &= score.greedy;
            r.windows.push((score.loglikelihood, score.tokens));
        }
        Ok(responses.into_iter().map(Response::Rolling).collect())
    }
}
