//! ONNX Runtime sessions: environment set-up, model loading with input/output checks, and the
//! batched calls that produce logits or sentence embeddings.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use ort::environment::Environment;
use ort::ep::ExecutionProvider as _;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::{Session, SessionInputValue};
use ort::value::{Tensor, TensorElementType, ValueType};

use evalrun_graph::{EditReport, Edits, Prepared, Role};

use crate::batch::{pad, plan_tokens, Batching, PaddedBatch};
use crate::encode::{Encoded, TextEncoder};
use crate::error::RuntimeError;
use crate::library::{find_library, version_from_file_name};
use crate::model::{ModelConfig, ModelFiles, Pooling};

pub(crate) fn ort_error<E: fmt::Display>(context: &str) -> impl FnOnce(E) -> RuntimeError + '_ {
    move |e| RuntimeError::Ort {
        context: context.to_string(),
        message: e.to_string(),
    }
}

/// Where the graph runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    Cpu,
    Cuda(i32),
}

impl FromStr for Device {
    type Err = RuntimeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || RuntimeError::BadDevice {
            device: s.to_string(),
        };
        match s {
            "cpu" => Ok(Device::Cpu),
            "cuda" => Ok(Device::Cuda(0)),
            _ => {
                let id = s.strip_prefix("cuda:").ok_or_else(bad)?;
                id.parse::<i32>()
                    .ok()
                    .filter(|i| *i >= 0)
                    .map(Device::Cuda)
                    .ok_or_else(bad)
            }
        }
    }
}

impl serde::Serialize for Device {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Device {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => f.write_str("cpu"),
            Device::Cuda(id) => write!(f, "cuda:{id}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    pub device: Device,
    /// Intra-op threads.
    pub threads: usize,
    /// ONNX Runtime session configuration entries (`EVALRUN_ORT_CONFIG=key=value,...`, e.g.
    /// `session.disable_prepacking=1`), for profiling memory and speed; they go into the
    /// record and the backend's fingerprint.
    pub config: Vec<(String, String)>,
    /// ONNX Runtime's per-node profile of every session, written to `PREFIX_<date>.json`
    /// when the session ends (`EVALRUN_ORT_PROFILE=PREFIX`).
    pub profile: Option<String>,
}

impl RuntimeOptions {
    /// `threads` intra-op threads on the CPU, no configuration entries, no profile.
    pub fn cpu(threads: usize) -> Self {
        Self {
            device: Device::Cpu,
            threads,
            config: Vec::new(),
            profile: None,
        }
    }
}

/// A loaded ONNX Runtime library and its environment.
pub struct Runtime {
    environment: Environment,
    library: PathBuf,
    version: String,
    options: RuntimeOptions,
}

impl Runtime {
    pub fn new(options: RuntimeOptions) -> Result<Self, RuntimeError> {
        let library = find_library()?;
        if let Device::Cuda(_) = options.device {
            let provider = library.with_file_name("libonnxruntime_providers_cuda.so");
            if !provider.is_file() {
                return Err(RuntimeError::CudaUnavailable {
                    reason: format!(
                        "`{}` is not beside `{}`, so this is a CPU-only build (the `onnxruntime` wheel)",
                        provider.file_name().unwrap_or_default().to_string_lossy(),
                        library.display()
                    ),
                });
            }
        }
        let builder = ort::init_from(&library).map_err(|e| RuntimeError::LibraryLoad {
            path: library.clone(),
            message: e.to_string(),
        })?;
        // ONNX Runtime's own logger writes ANSI-coloured lines to stderr; its errors reach us as
        // `Result`s anyway, so its log goes through tracing (shown with `-v`/`-vv`).
        let logger: ort::logging::LoggerFunction =
            std::sync::Arc::new(|level, category, _id, location, message| match level {
                ort::logging::LogLevel::Error | ort::logging::LogLevel::Fatal => {
                    tracing::info!(target: "onnxruntime", %category, %location, "{message}")
                }
                _ => tracing::debug!(target: "onnxruntime", %category, %location, "{message}"),
            });
        let environment = builder
            .with_name("evalrun")
            .with_logger(logger)
            .build()
            .map_err(ort_error("creating the environment"))?;
        let version = version_from_file_name(&library)
            .unwrap_or_else(|| version_from_build_info(ort::info()));
        tracing::info!(library = %library.display(), %version, "loaded ONNX Runtime");
        Ok(Self {
            environment,
            library,
            version,
            options,
        })
    }

    pub fn library(&self) -> &Path {
        &self.library
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn options(&self) -> &RuntimeOptions {
        &self.options
    }

    /// A session on `path` with graph optimisation level all, the intra-op threads and the
    /// execution provider chosen (CUDA never falls back to the CPU silently), and the graph
    /// edits of `edits` that apply to its `role` made ([`evalrun_graph::prepare`]); the report
    /// says which.
    /// A graph that takes or returns half-precision floats is refused here, before any work
    /// (and before a word about edits it could not take).
    pub fn session(
        &self,
        path: &Path,
        role: Role,
        edits: &Edits,
    ) -> Result<(Session, EditReport), RuntimeError> {
        let (session, report) =
            self.load_prepared(path, evalrun_graph::prepare(path, role, edits))?;
        refuse_half_precision(&session, path)?;
        let refused: Vec<&str> = report
            .outcomes
            .iter()
            .filter_map(|o| match &o.status {
                evalrun_graph::Status::Refused(_) => Some(o.edit.name()),
                _ => None,
            })
            .collect();
        if let Some(evalrun_graph::Status::Refused(message)) = report
            .outcomes
            .iter()
            .map(|o| &o.status)
            .find(|s| matches!(s, evalrun_graph::Status::Refused(_)))
        {
            tracing::warn!(
                "ONNX Runtime refused `{}` with evalrun's graph edits ({}): {message}; loaded it unedited",
                path.display(),
                refused.join(", ")
            );
        }
        Ok((session, report))
    }

    /// Loads a prepared graph. When ONNX Runtime refuses the edited graph, it loads the file
    /// unedited and the report says the edits were refused, with ONNX Runtime's message
    /// ([`Self::session`] warns once, naming them).
    pub fn load_prepared(
        &self,
        path: &Path,
        prepared: Prepared,
    ) -> Result<(Session, EditReport), RuntimeError> {
        let Prepared {
            bytes,
            folder,
            mut report,
        } = prepared;
        if let Some(bytes) = bytes {
            let applied = report.fingerprint();
            tracing::debug!(model = %path.display(), edits = %applied, "loading the edited graph from memory");
            let loaded = self
                .builder()?
                .with_config_entry(
                    "session.model_external_initializers_file_folder_path",
                    folder.to_string_lossy(),
                )
                .map_err(ort_error("setting the external-data folder"))?
                .commit_from_memory(&bytes);
            match loaded {
                Ok(session) => return Ok((session, report)),
                Err(e) => {
                    tracing::debug!(model = %path.display(), edits = %applied, error = %e, "ONNX Runtime refused the edited graph; loading it unedited");
                    report.refuse(&e.to_string());
                }
            }
        }
        let session = self
            .builder()?
            .commit_from_file(path)
            .map_err(|e| RuntimeError::Ort {
                context: format!("loading `{}`", path.display()),
                message: e.to_string(),
            })?;
        Ok((session, report))
    }

    fn builder(&self) -> Result<ort::session::builder::SessionBuilder, RuntimeError> {
        let mut builder = Session::builder(&self.environment)
            .map_err(ort_error("creating a session builder"))?
            .with_optimization_level(GraphOptimizationLevel::All)
            .map_err(ort_error("setting the graph optimisation level"))?
            .with_intra_threads(self.options.threads.max(1))
            .map_err(ort_error("setting the thread count"))?;
        for (key, value) in &self.options.config {
            builder = builder
                .with_config_entry(key, value)
                .map_err(ort_error("setting an ONNX Runtime configuration entry"))?;
        }
        if let Some(prefix) = &self.options.profile {
            builder = builder
                .with_profiling(prefix)
                .map_err(ort_error("enabling the ONNX Runtime profile"))?;
        }
        if let Device::Cuda(id) = self.options.device {
            if !ort::ep::CUDA::is_available().unwrap_or(false) {
                return Err(RuntimeError::CudaUnavailable {
                    reason: "this ONNX Runtime build does not list the CUDA provider".into(),
                });
            }
            let cuda = ort::ep::CUDA::default()
                .with_device_id(id)
                .build()
                .error_on_failure();
            builder = builder.with_execution_providers([cuda]).map_err(|e| {
                RuntimeError::CudaUnavailable {
                    reason: e.to_string(),
                }
            })?;
        }
        Ok(builder)
    }

    pub fn execution_provider(&self) -> &'static str {
        match self.options.device {
            Device::Cpu => "CPUExecutionProvider",
            Device::Cuda(_) => "CUDAExecutionProvider",
        }
    }
}

/// Refuses a graph with a float16 or bfloat16 input or output: evalrun feeds float32 past
/// tensors and reads float32 logits, embeddings and states.
fn refuse_half_precision(session: &Session, path: &Path) -> Result<(), RuntimeError> {
    let inputs = session
        .inputs()
        .iter()
        .map(|i| ("input", i.name(), i.dtype()));
    let outputs = session
        .outputs()
        .iter()
        .map(|o| ("output", o.name(), o.dtype()));
    for (what, name, dtype) in inputs.chain(outputs) {
        let half = match dtype {
            ValueType::Tensor {
                ty: TensorElementType::Float16,
                ..
            } => "float16",
            ValueType::Tensor {
                ty: TensorElementType::Bfloat16,
                ..
            } => "bfloat16",
            _ => continue,
        };
        return Err(RuntimeError::HalfPrecision {
            what,
            name: name.to_string(),
            path: path.to_path_buf(),
            dtype: half,
        });
    }
    Ok(())
}

/// `git-branch=rel-1.31.1, ...` → `1.31.1`.
fn version_from_build_info(info: &str) -> String {
    info.split([',', ' '])
        .find_map(|part| part.strip_prefix("git-branch=rel-"))
        .unwrap_or("unknown")
        .to_string()
}

/// What the graph's outputs give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Head {
    /// `logits` of a sequence-classification (or regression, 1 column) head.
    Logits { num_labels: usize },
    /// A pooled `sentence_embedding` output.
    SentenceEmbedding,
    /// `last_hidden_state`, pooled here as sentence-transformers' config says.
    TokenStates,
}

impl Head {
    /// The graph output this head is read from.
    pub fn output(self) -> &'static str {
        match self {
            Head::Logits { .. } => "logits",
            Head::SentenceEmbedding => "sentence_embedding",
            Head::TokenStates => "last_hidden_state",
        }
    }
}

/// A model directory with its session and tokenizer.
pub struct Model {
    session: Session,
    files: ModelFiles,
    config: ModelConfig,
    head: Head,
    takes_token_type_ids: bool,
    encoder: TextEncoder,
    edits: EditReport,
}

impl Model {
    /// Opens `dir`, checks the graph's inputs and outputs, and loads the tokenizer with
    /// truncation at `max_length` (default [`ModelConfig::default_max_length`]); every graph
    /// edit that applies is made ([`Edits::auto`]).
    pub fn load(
        runtime: &Runtime,
        dir: &Path,
        max_length: Option<usize>,
    ) -> Result<Self, RuntimeError> {
        Self::load_with(runtime, dir, max_length, &Edits::auto())
    }

    /// [`Model::load`] with these graph edits.
    pub fn load_with(
        runtime: &Runtime,
        dir: &Path,
        max_length: Option<usize>,
        edits: &Edits,
    ) -> Result<Self, RuntimeError> {
        let files = ModelFiles::locate(dir)?;
        let config = ModelConfig::load(&files)?;
        let (session, edits) = runtime.session(&files.onnx, Role::Plain, edits)?;

        let takes_token_type_ids = check_inputs(&session, &files.onnx)?;
        let head = find_head(&session, &files.onnx, &config)?;
        // A checkpoint with a task head exported without it: never score it as an embedding
        // model. A sentence-transformers directory (a pooling module) is an embedding model.
        if let (Head::TokenStates | Head::SentenceEmbedding, Some(architecture), None) =
            (head, config.head_architecture(), config.pooling)
        {
            return Err(RuntimeError::WrongExport {
                dir: dir.to_path_buf(),
                family: "checkpoint with a task head",
                architecture: architecture.to_string(),
                found: format!(
                    "returns `{}` and no `logits` (a `feature-extraction` export)",
                    head.output()
                ),
                task: "text-classification",
            });
        }
        let config_path = files
            .config
            .clone()
            .unwrap_or_else(|| dir.join("config.json"));
        if let (Head::Logits { num_labels }, Some(map)) = (head, &config.id2label) {
            if map.len() != num_labels {
                return Err(RuntimeError::BadConfig {
                    path: config_path.clone(),
                    message: format!(
                        "`id2label` names {} labels but the graph's `logits` output has {num_labels} columns; fix `id2label` (or the export) so they agree",
                        map.len()
                    ),
                });
            }
        }
        let positions = config.max_position_embeddings;
        if positions == Some(0) {
            return Err(RuntimeError::BadConfig {
                path: config_path.clone(),
                message: "`max_position_embeddings` is 0".into(),
            });
        }
        let max_length = max_length.unwrap_or_else(|| config.default_max_length());
        if let Some(p) = positions.filter(|p| max_length > *p) {
            return Err(RuntimeError::Limit {
                option: "--max-length",
                message: format!(
                    "{max_length} is more than the model's {p} positions (`max_position_embeddings` in `{}`)",
                    config_path.display()
                ),
            });
        }
        let encoder = TextEncoder::load(&files.tokenizer, max_length, config.pad_token_id)?;
        tracing::info!(model = %files.onnx.display(), ?head, max_length, "model loaded");
        Ok(Self {
            session,
            files,
            config,
            head,
            takes_token_type_ids,
            encoder,
            edits,
        })
    }

    pub fn files(&self) -> &ModelFiles {
        &self.files
    }

    /// What became of the graph edits.
    pub fn edits(&self) -> &EditReport {
        &self.edits
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    pub fn head(&self) -> Head {
        self.head
    }

    pub fn max_length(&self) -> usize {
        self.encoder.max_length()
    }

    pub fn encoder(&self) -> &TextEncoder {
        &self.encoder
    }

    /// Head outputs (one row of `num_labels` values per input) for single texts or pairs,
    /// in input order. `progress` is called with the number of examples each batch finished.
    pub fn classify(
        &mut self,
        inputs: &[(&str, Option<&str>)],
        batching: impl Into<Batching>,
        progress: &mut dyn FnMut(usize),
    ) -> Result<Vec<Vec<f32>>, RuntimeError> {
        let Head::Logits { num_labels } = self.head else {
            return Err(RuntimeError::MissingOutput {
                path: self.files.onnx.clone(),
                expected: "`logits`",
                present: self.head.output().to_string(),
            });
        };
        let encoded = self.encoder.encode(inputs)?;
        self.run_batches(&encoded, batching.into(), progress, |shape, data, _| {
            if shape.len() != 2 || shape[1] as usize != num_labels {
                return Err(RuntimeError::OutputShape {
                    name: "logits".into(),
                    shape: shape.to_vec(),
                    expected: format!("[batch, {num_labels}]"),
                });
            }
            Ok(data.chunks(num_labels).map(<[f32]>::to_vec).collect())
        })
    }

    /// L2-normalised sentence embeddings of `texts`, in input order.
    pub fn embed(
        &mut self,
        texts: &[&str],
        batching: impl Into<Batching>,
        progress: &mut dyn FnMut(usize),
    ) -> Result<Vec<Vec<f32>>, RuntimeError> {
        let inputs: Vec<(&str, Option<&str>)> = texts.iter().map(|t| (*t, None)).collect();
        let encoded = self.encoder.encode(&inputs)?;
        let head = self.head;
        let pooling = self.config.pooling.unwrap_or(Pooling::Mean);
        self.run_batches(&encoded, batching.into(), progress, |shape, data, batch| {
            let rows = batch.rows;
            let vectors: Vec<Vec<f64>> = match (head, shape) {
                (Head::SentenceEmbedding, [r, h]) if *r as usize == rows => data
                    .chunks(*h as usize)
                    .map(|v| v.iter().map(|&x| f64::from(x)).collect())
                    .collect(),
                (Head::TokenStates, [r, t, h])
                    if *r as usize == rows && *t as usize == batch.cols =>
                {
                    let (t, h) = (*t as usize, *h as usize);
                    (0..rows)
                        .map(|r| {
                            pool(
                                &data[r * t * h..(r + 1) * t * h],
                                &batch.attention_mask[r * t..(r + 1) * t],
                                h,
                                pooling,
                            )
                        })
                        .collect()
                }
                _ => {
                    return Err(RuntimeError::OutputShape {
                        name: head.output().into(),
                        shape: shape.to_vec(),
                        expected: "[batch, hidden] or [batch, tokens, hidden]".into(),
                    })
                }
            };
            Ok(vectors.into_iter().map(normalize).collect())
        })
    }

    /// Runs length-sorted, dynamically padded batches and re-attaches each batch's rows to
    /// their input positions. `rows_of` turns one batch's output tensor into per-row values.
    fn run_batches<T: Clone + Default>(
        &mut self,
        encoded: &[Encoded],
        batching: Batching,
        progress: &mut dyn FnMut(usize),
        mut rows_of: impl FnMut(&[i64], &[f32], &PaddedBatch) -> Result<Vec<T>, RuntimeError>,
    ) -> Result<Vec<T>, RuntimeError> {
        let lengths: Vec<usize> = encoded.iter().map(Encoded::len).collect();
        let mut results = vec![T::default(); encoded.len()];
        let output = self.head.output();
        for indices in plan_tokens(&lengths, batching.rows, batching.tokens) {
            let rows: Vec<&Encoded> = indices.iter().map(|&i| &encoded[i]).collect();
            let batch = pad(&rows, self.encoder.pad_id());
            let shape = [batch.rows as i64, batch.cols as i64];
            let tensor = |data: &Vec<i64>| -> Result<SessionInputValue<'static>, RuntimeError> {
                Ok(Tensor::from_array((shape, data.clone()))
                    .map_err(ort_error("creating an input tensor"))?
                    .into())
            };
            let mut inputs: Vec<(&str, SessionInputValue<'static>)> = vec![
                ("input_ids", tensor(&batch.input_ids)?),
                ("attention_mask", tensor(&batch.attention_mask)?),
            ];
            if self.takes_token_type_ids {
                inputs.push(("token_type_ids", tensor(&batch.token_type_ids)?));
            }
            let outputs = self
                .session
                .run(inputs)
                .map_err(ort_error("running a batch"))?;
            let value = outputs
                .get(output)
                .ok_or_else(|| RuntimeError::MissingOutput {
                    path: self.files.onnx.clone(),
                    expected: "the output seen at load time",
                    present: output.to_string(),
                })?;
            let (out_shape, data) = value
                .try_extract_tensor::<f32>()
                .map_err(ort_error("reading the output tensor"))?;
            let values = rows_of(out_shape, data, &batch)?;
            for (value, &i) in values.into_iter().zip(&indices) {
                results[i] = value;
            }
            progress(indices.len());
        }
        Ok(results)
    }
}

/// Checks that the graph takes input_ids and attention_mask (and at most token_type_ids
/// besides), all int64. Returns whether it takes token_type_ids.
fn check_inputs(session: &Session, path: &Path) -> Result<bool, RuntimeError> {
    let names: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
    for required in ["input_ids", "attention_mask"] {
        if !names.contains(&required) {
            return Err(RuntimeError::MissingInput {
                name: required.into(),
                path: path.to_path_buf(),
                present: names.join(", "),
            });
        }
    }
    for input in session.inputs() {
        if !["input_ids", "attention_mask", "token_type_ids"].contains(&input.name()) {
            return Err(RuntimeError::UnexpectedInput {
                name: input.name().into(),
                path: path.to_path_buf(),
            });
        }
        match input.dtype() {
            ValueType::Tensor {
                ty: TensorElementType::Int64,
                ..
            } => {}
            other => {
                return Err(RuntimeError::InputType {
                    name: input.name().into(),
                    path: path.to_path_buf(),
                    found: other.to_string(),
                })
            }
        }
    }
    Ok(names.contains(&"token_type_ids"))
}

fn find_head(session: &Session, path: &Path, config: &ModelConfig) -> Result<Head, RuntimeError> {
    let outputs: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
    if let Some(logits) = session.outputs().iter().find(|o| o.name() == "logits") {
        let from_graph = logits
            .dtype()
            .tensor_shape()
            .and_then(|s| s.last().copied())
            .filter(|d| *d > 0)
            .map(|d| d as usize);
        let num_labels = from_graph
            .or_else(|| config.label_names().map(|n| n.len()))
            .ok_or_else(|| RuntimeError::OutputShape {
                name: "logits".into(),
                shape: logits
                    .dtype()
                    .tensor_shape()
                    .map(|s| s.to_vec())
                    .unwrap_or_default(),
                expected: "a fixed number of labels (or `id2label` in config.json)".into(),
            })?;
        return Ok(Head::Logits { num_labels });
    }
    if outputs.contains(&"sentence_embedding") {
        return Ok(Head::SentenceEmbedding);
    }
    if outputs.contains(&"last_hidden_state") {
        return Ok(Head::TokenStates);
    }
    Err(RuntimeError::MissingOutput {
        path: path.to_path_buf(),
        expected: "`logits`, `sentence_embedding` or `last_hidden_state`",
        present: outputs.join(", "),
    })
}

/// Pools one row's token states (`[tokens, hidden]`) over its non-padding tokens.
fn pool(states: &[f32], mask: &[i64], hidden: usize, pooling: Pooling) -> Vec<f64> {
    match pooling {
        Pooling::Cls => states[..hidden].iter().map(|&x| f64::from(x)).collect(),
        Pooling::Mean => {
            let mut sum = vec![0.0f64; hidden];
            let mut count = 0.0f64;
            for (token, &m) in states.chunks(hidden).zip(mask) {
                if m != 0 {
                    count += 1.0;
                    for (s, &x) in sum.iter_mut().zip(token) {
                        *s += f64::from(x);
                    }
                }
            }
            // sentence-transformers clamps the token count at 1e-9.
            sum.iter().map(|s| s / count.max(1e-9)).collect()
        }
    }
}

/// L2 normalisation with torch's `F.normalize` epsilon.
fn normalize(v: Vec<f64>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-12);
    v.iter().map(|x| (x / norm) as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_parse() {
        assert_eq!("cpu".parse::<Device>().unwrap(), Device::Cpu);
        assert_eq!("cuda".parse::<Device>().unwrap(), Device::Cuda(0));
        assert_eq!("cuda:3".parse::<Device>().unwrap(), Device::Cuda(3));
        assert!("gpu"
            .parse::<Device>()
            .unwrap_err()
            .to_string()
            .contains("`gpu` is not a device"));
        assert!("cuda:-1".parse::<Device>().is_err());
    }

    #[test]
    fn mean_pooling_ignores_padding() {
        let states = [1.0, 2.0, 3.0, 4.0, 100.0, 100.0];
        assert_eq!(pool(&states, &[1, 1, 0], 2, Pooling::Mean), vec![2.0, 3.0]);
        assert_eq!(pool(&states, &[1, 1, 0], 2, Pooling::Cls), vec![1.0, 2.0]);
        let n = normalize(vec![3.0, 4.0]);
        assert_eq!(n, vec![0.6, 0.8]);
    }

    #[test]
    fn build_info_versions() {
        assert_eq!(
            version_from_build_info("ORT Build Info: git-branch=rel-1.31.1, git-commit-id=abc"),
            "1.31.1"
        );
    }
}
