//! Typed runtime errors; `ort` and `tokenizers` errors are wrapped here, at the boundary.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(
        "ONNX Runtime was not found. Install it into the project's virtual environment with \
         `python3 -m venv .venv && .venv/bin/pip install onnxruntime==1.31.1` (for CUDA: \
         `onnxruntime-gpu==1.31.1`), or point ORT_DYLIB_PATH at a libonnxruntime.so. Looked in: {searched}"
    )]
    LibraryNotFound { searched: String },
    #[error("ONNX Runtime library `{path}` could not be loaded: {message}")]
    LibraryLoad { path: PathBuf, message: String },
    #[error(
        "the CUDA execution provider is not available: {reason}. Install the GPU build with \
         `.venv/bin/pip install onnxruntime-gpu==1.31.1` (it needs the CUDA 12 and cuDNN 9 libraries), \
         or run with `--device cpu`"
    )]
    CudaUnavailable { reason: String },
    #[error("`{device}` is not a device; use `cpu`, `cuda` or `cuda:N`")]
    BadDevice { device: String },
    #[error("no ONNX model in `{dir}`: expected `model.onnx` or `onnx/model.onnx`")]
    ModelNotFound { dir: PathBuf },
    #[error("`{path}` is missing; a model directory needs it ({why})")]
    MissingFile { path: PathBuf, why: &'static str },
    #[error("`{path}` is not valid: {message}")]
    BadConfig { path: PathBuf, message: String },
    #[error("`{option}` {message}")]
    Limit {
        option: &'static str,
        message: String,
    },
    #[error("tokenizer `{path}` does not load: {message}")]
    Tokenizer { path: PathBuf, message: String },
    #[error("model input `{name}` is missing from `{path}` (the model has inputs: {present})")]
    MissingInput {
        name: String,
        path: PathBuf,
        present: String,
    },
    #[error("model input `{name}` of `{path}` is not one evalrun can feed (it feeds input_ids, attention_mask, token_type_ids)")]
    UnexpectedInput { name: String, path: PathBuf },
    #[error("`{}` holds a {family} (`{architecture}` in config.json) exported without what evalrun reads: its graph {found}. Export it again with `optimum-cli export onnx --model CHECKPOINT --task {task} OUT`", dir.display())]
    WrongExport {
        dir: PathBuf,
        family: &'static str,
        architecture: String,
        found: String,
        task: &'static str,
    },
    #[error("model {what} `{name}` of `{path}` is {dtype}: evalrun feeds and reads float32 tensors, so half-precision exports (`optimum-cli export onnx --dtype fp16`, or bf16) are not supported; export with the default `--dtype fp32` (int8 exports from onnxruntime.quantization.quantize_dynamic do run)")]
    HalfPrecision {
        what: &'static str,
        name: String,
        path: PathBuf,
        dtype: &'static str,
    },
    #[error("model input `{name}` of `{path}` has type {found}; evalrun feeds int64 tensors")]
    InputType {
        name: String,
        path: PathBuf,
        found: String,
    },
    #[error("model `{path}` has none of the outputs evalrun reads ({expected}); its outputs are: {present}")]
    MissingOutput {
        path: PathBuf,
        expected: &'static str,
        present: String,
    },
    #[error("request {index}: {message}")]
    BadRequest { index: usize, message: String },
    #[error("a {model} does not answer `{request}` requests")]
    Unsupported {
        request: &'static str,
        model: &'static str,
    },
    #[error("ONNX Runtime failed while {context}: {message}")]
    Ort { context: String, message: String },
    #[error("model output `{name}` has shape {shape:?}, expected {expected}")]
    OutputShape {
        name: String,
        shape: Vec<i64>,
        expected: String,
    },
}
