//! Locating `libonnxruntime`.
//!
//! Order: `ORT_DYLIB_PATH` (when set, it must exist); the project's `.venv` (searched upwards from the working directory
//! and from the executable, and `$VIRTUAL_ENV`); the active `python3`'s `onnxruntime/capi`;
//! the system library paths. The PyPI wheels (`onnxruntime`, `onnxruntime-gpu`) ship
//! `onnxruntime/capi/libonnxruntime.so.<version>`.

use std::path::{Path, PathBuf};

use crate::error::RuntimeError;

/// Finds the library, or explains where it looked and how to install it.
pub fn find_library() -> Result<PathBuf, RuntimeError> {
    let mut searched = Vec::new();
    if let Some(path) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        if path.is_file() {
            return Ok(path);
        }
        // An explicit choice that does not exist is an error, not a hint to look elsewhere.
        return Err(RuntimeError::LibraryNotFound {
            searched: format!("ORT_DYLIB_PATH=`{}` (no such file)", path.display()),
        });
    }
    for venv in venv_candidates() {
        if let Some(found) = in_site_packages(&venv) {
            return Ok(found);
        }
        searched.push(format!("`{}`", venv.display()));
    }
    match python_capi_dir() {
        Some(dir) => {
            if let Some(found) = in_dir(&dir) {
                return Ok(found);
            }
            searched.push(format!("python3's onnxruntime at `{}`", dir.display()));
        }
        None => searched.push("python3 (no onnxruntime module)".to_string()),
    }
    for dir in system_dirs() {
        if let Some(found) = in_dir(&dir) {
            return Ok(found);
        }
        searched.push(format!("`{}`", dir.display()));
    }
    Err(RuntimeError::LibraryNotFound {
        searched: searched.join(", "),
    })
}

fn venv_candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(venv) = std::env::var_os("VIRTUAL_ENV") {
        out.push(PathBuf::from(venv));
    }
    let starts = [
        std::env::current_dir().ok(),
        std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(Path::to_path_buf)),
    ];
    for start in starts.into_iter().flatten() {
        for dir in start.ancestors() {
            let venv = dir.join(".venv");
            if venv.is_dir() && !out.contains(&venv) {
                out.push(venv);
            }
        }
    }
    out
}

fn in_site_packages(venv: &Path) -> Option<PathBuf> {
    let lib = std::fs::read_dir(venv.join("lib")).ok()?;
    let mut pythons: Vec<PathBuf> = lib.flatten().map(|e| e.path()).collect();
    pythons.sort();
    pythons
        .into_iter()
        .rev()
        .find_map(|python| in_dir(&python.join("site-packages/onnxruntime/capi")))
}

/// `libonnxruntime.so.<version>` (newest) or `libonnxruntime.so` / `.dylib` in `dir`.
fn in_dir(dir: &Path) -> Option<PathBuf> {
    let entries = std::fs::read_dir(dir).ok()?;
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            (name.starts_with("libonnxruntime.so")
                || name == "libonnxruntime.dylib"
                || name == "onnxruntime.dll")
                && !name.contains("providers")
        })
        .collect();
    found.sort();
    found.pop()
}

fn python_capi_dir() -> Option<PathBuf> {
    let output = std::process::Command::new("python3")
        .args(["-c", "import onnxruntime, os; print(os.path.join(os.path.dirname(onnxruntime.__file__), 'capi'))"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let dir = String::from_utf8(output.stdout).ok()?;
    Some(PathBuf::from(dir.trim()))
}

fn system_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("LD_LIBRARY_PATH")
        .map(|v| std::env::split_paths(&v).collect())
        .unwrap_or_default();
    dirs.extend(
        [
            "/usr/local/lib",
            "/usr/lib",
            "/usr/lib/x86_64-linux-gnu",
            "/usr/lib/aarch64-linux-gnu",
        ]
        .map(PathBuf::from),
    );
    dirs
}

/// The version in a wheel library's file name (`libonnxruntime.so.1.31.1` → `1.31.1`).
pub fn version_from_file_name(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let version = name.strip_prefix("libonnxruntime.so.")?;
    version
        .chars()
        .all(|c| c.is_ascii_digit() || c == '.')
        .then(|| version.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_wheel_layout_in_a_venv() {
        let dir = tempfile::tempdir().unwrap();
        let capi = dir
            .path()
            .join("lib/python3.11/site-packages/onnxruntime/capi");
        std::fs::create_dir_all(&capi).unwrap();
        std::fs::write(capi.join("libonnxruntime_providers_shared.so"), b"").unwrap();
        assert_eq!(in_site_packages(dir.path()), None);
        std::fs::write(capi.join("libonnxruntime.so.1.31.1"), b"").unwrap();
        assert_eq!(
            in_site_packages(dir.path()),
            Some(capi.join("libonnxruntime.so.1.31.1"))
        );
    }

    #[test]
    fn versions_come_from_file_names() {
        assert_eq!(
            version_from_file_name(Path::new("/x/libonnxruntime.so.1.31.1")).as_deref(),
            Some("1.31.1")
        );
        assert_eq!(
            version_from_file_name(Path::new("/x/libonnxruntime.so")),
            None
        );
    }
}
