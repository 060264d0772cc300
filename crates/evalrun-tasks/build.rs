//! Embeds every task file under the repository's `tasks/` directory into the library, so the
//! `evalrun` binary carries its task definitions and adding a task is adding a file.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let tasks = manifest
        .join("../../tasks")
        .canonicalize()
        .expect("tasks/ directory next to crates/");
    println!("cargo:rerun-if-changed={}", tasks.display());
    let mut files = Vec::new();
    collect(&tasks, &mut files);
    files.sort();
    let mut code =
        String::from("/// (path relative to `tasks/`, contents) of every embedded task file.\n");
    code.push_str("pub static EMBEDDED_TASKS: &[(&str, &str)] = &[\n");
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
        let relative = file
            .strip_prefix(&tasks)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        writeln!(
            code,
            "    ({relative:?}, include_str!({:?})),",
            file.display().to_string()
        )
        .unwrap();
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("embedded_tasks.rs");
    std::fs::write(out, code).unwrap();
}
