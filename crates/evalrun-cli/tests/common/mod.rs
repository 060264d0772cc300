//! Shared helpers for the integration tests: paths to the repository, the real data and the
//! real MiniLM checkpoint, and a way to run the real `evalrun` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// `EVALRUN_DATA_DIR`, else `../shared/data` beside the repository. The real files are
/// required: a test that silently skipped without them could not fail.
pub fn data_dir() -> PathBuf {
    let dir = std::env::var_os("EVALRUN_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/data"));
    assert!(
        dir.join("glue").is_dir(),
        "real data not found at `{}`; set EVALRUN_DATA_DIR",
        dir.display()
    );
    dir
}

pub fn minilm_dir() -> PathBuf {
    let dir = std::env::var_os("EVALRUN_MINILM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/models/all-MiniLM-L6-v2"));
    assert!(
        dir.join("onnx/model.onnx").is_file(),
        "all-MiniLM-L6-v2 not found at `{}`; set EVALRUN_MINILM_DIR",
        dir.display()
    );
    dir
}

pub fn fixtures() -> PathBuf {
    repo_root().join("tests/fixtures")
}

/// The real binary, run from the repository root.
pub fn evalrun(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_evalrun"))
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("evalrun runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn read_jsonl(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}
