//! Atomic file writes and file hashing.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot write `{path}`: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read `{path}`: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot serialise the result record: {0}")]
    Json(#[from] serde_json::Error),
    #[error("`{path}` is not a valid result record: {message}")]
    BadRecord { path: PathBuf, message: String },
    #[error("reference `{name}`: {message}")]
    Reference { name: String, message: String },
    #[error("refusing to write `{path}`: {message}")]
    Destination { path: PathBuf, message: String },
    #[error(
        "refusing to write `{path}`: it is both the {first} and the {second}; name different files"
    )]
    Overlap {
        path: PathBuf,
        first: String,
        second: String,
    },
}

/// Where one output goes, decided before anything is written.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// `/dev/stdout`, `/dev/fd/1`, `/proc/self/fd/1` (and `2` for stderr): written in place.
    Stream(Stream),
    /// A regular file (or the file a symlink names), replaced by a rename.
    File(PathBuf),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Stdout,
    Stderr,
}

fn stream(path: &Path) -> Option<Stream> {
    match path.to_str()? {
        "/dev/stdout" | "/dev/fd/1" | "/proc/self/fd/1" => Some(Stream::Stdout),
        "/dev/stderr" | "/dev/fd/2" | "/proc/self/fd/2" => Some(Stream::Stderr),
        _ => None,
    }
}

fn kind(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt as _;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_fifo() {
        "a named pipe"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// Decides where `path` is written: the standard streams in place, a regular file (new or
/// existing) by rename, a symlink to a regular file through the link (the link stays).
/// Anything else (a device, a pipe, a directory, a dangling link) is refused, so a write
/// never replaces a node that is not a regular file.
fn target(path: &Path) -> Result<Target, ReportError> {
    if let Some(s) = stream(path) {
        return Ok(Target::Stream(s));
    }
    let refuse = |message: String| ReportError::Destination {
        path: path.to_path_buf(),
        message,
    };
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Target::File(path.to_path_buf())),
        Err(source) => Err(ReportError::Write {
            path: path.to_path_buf(),
            source,
        }),
        Ok(meta) if meta.file_type().is_file() => Ok(Target::File(path.to_path_buf())),
        Ok(meta) if meta.file_type().is_symlink() => {
            let real = std::fs::canonicalize(path).map_err(|_| {
                refuse("it is a symlink to a file that does not exist; remove the link or name the file".into())
            })?;
            if let Some(s) = stream(&real) {
                return Ok(Target::Stream(s));
            }
            let meta = std::fs::metadata(&real).map_err(|source| ReportError::Write {
                path: real.clone(),
                source,
            })?;
            if meta.file_type().is_file() {
                Ok(Target::File(real))
            } else {
                Err(refuse(format!(
                    "it is a symlink to `{}`, which is {}; evalrun writes regular files only (or /dev/stdout, /dev/stderr)",
                    real.display(),
                    kind(&meta)
                )))
            }
        }
        Ok(meta) => Err(refuse(format!(
            "it is {}; evalrun writes regular files only (or /dev/stdout, /dev/stderr)",
            kind(&meta)
        ))),
    }
}

/// One output written to a temporary file beside its destination and not yet renamed over
/// it. Dropping it removes the temporary file; [`Staged::commit`] renames it into place.
#[derive(Debug)]
pub struct Staged {
    path: PathBuf,
    kind: StagedKind,
}

#[derive(Debug)]
enum StagedKind {
    Stream(Stream, Vec<u8>),
    File(tempfile::NamedTempFile, PathBuf),
}

/// Writes `bytes` to a temporary file in the destination's directory, created with a random
/// name and `O_CREAT | O_EXCL` (so a planted file or symlink under any name is never opened),
/// synced to disk. Nothing at `path` changes until [`Staged::commit`].
pub fn stage(path: &Path, bytes: &[u8]) -> Result<Staged, ReportError> {
    let target = target(path)?;
    let kind = match target {
        Target::Stream(s) => StagedKind::Stream(s, bytes.to_vec()),
        Target::File(file) => {
            let fail = |source| ReportError::Write {
                path: path.to_path_buf(),
                source,
            };
            let dir = match file.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                _ => PathBuf::from("."),
            };
            std::fs::create_dir_all(&dir).map_err(fail)?;
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            // Keep an existing file's mode; a new file gets the usual 0644.
            let mode = std::fs::metadata(&file).map_or(0o644, |m| {
                use std::os::unix::fs::PermissionsExt as _;
                m.permissions().mode() & 0o7777
            });
            let mut tmp = tempfile::Builder::new()
                .prefix(&format!(".{name}."))
                .suffix(".tmp")
                .permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))
                .tempfile_in(&dir)
                .map_err(fail)?;
            tmp.write_all(bytes).map_err(fail)?;
            tmp.as_file().sync_all().map_err(fail)?;
            StagedKind::File(tmp, file)
        }
    };
    Ok(Staged {
        path: path.to_path_buf(),
        kind,
    })
}

impl Staged {
    /// Renames the temporary file over the destination (or writes the stream).
    pub fn commit(self) -> Result<(), ReportError> {
        let fail = |source| ReportError::Write {
            path: self.path.clone(),
            source,
        };
        match self.kind {
            StagedKind::Stream(Stream::Stdout, bytes) => {
                let mut out = std::io::stdout().lock();
                out.write_all(&bytes)
                    .and_then(|_| out.flush())
                    .map_err(fail)
            }
            StagedKind::Stream(Stream::Stderr, bytes) => {
                std::io::stderr().lock().write_all(&bytes).map_err(fail)
            }
            StagedKind::File(tmp, file) => {
                tmp.persist(&file).map(|_| ()).map_err(|e| fail(e.error))
            }
        }
    }

    /// Whether this output replaces a file (as opposed to writing a stream).
    pub fn is_file(&self) -> bool {
        matches!(self.kind, StagedKind::File(..))
    }

    /// The path as the user gave it.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Checks, before any work starts, that `path` is a destination evalrun will write (see
/// [`stage`]); nothing is created.
pub fn check_destination(path: &Path) -> Result<(), ReportError> {
    let Target::File(file) = target(path)? else {
        return Ok(());
    };
    // The folder must take a file (the writer stages one beside the target): found out now,
    // not after the whole evaluation.
    let dir = file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let cannot = |e: std::io::Error| ReportError::Destination {
        path: path.to_path_buf(),
        message: format!("its folder `{}` cannot be written: {e}", dir.display()),
    };
    std::fs::create_dir_all(dir).map_err(cannot)?;
    let probe = dir.join(format!(".evalrun-probe-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(cannot)?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so
/// readers see either the old file or the complete new one. See [`stage`] for what is refused.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    stage(path, bytes)?.commit()
}

/// Whether two paths name the same existing file (after symlinks).
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => {
            // Neither exists yet (or one does not): compare what they would be.
            let norm = |p: &Path| {
                let dir = p
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                std::fs::canonicalize(dir)
                    .ok()
                    .map(|d| d.join(p.file_name().unwrap_or_default()))
            };
            matches!((norm(a), norm(b)), (Some(x), Some(y)) if x == y)
        }
    }
}

/// Refuses an output that is one of the command's inputs, or that two outputs share.
/// `outputs` and `inputs` are (flag or role, path) pairs; the standard streams never clash.
pub fn refuse_overlap(
    outputs: &[(&str, &Path)],
    inputs: &[(&str, &Path)],
) -> Result<(), ReportError> {
    for (i, (role, path)) in outputs.iter().enumerate() {
        if stream(path).is_some() {
            continue;
        }
        for (other_role, other) in outputs[..i].iter().chain(inputs) {
            if stream(other).is_none() && same_file(path, other) {
                return Err(ReportError::Overlap {
                    path: path.to_path_buf(),
                    first: other_role.to_string(),
                    second: role.to_string(),
                });
            }
        }
    }
    Ok(())
}

/// Hex sha256 of bytes.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Hex sha256 of a file's bytes, read in chunks.
pub fn sha256_file(path: &Path) -> Result<String, ReportError> {
    let fail = |source| ReportError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(fail)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(fail)?;
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/r.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.path().join("sub"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names.len(), 1);
        assert_eq!(
            sha256_file(&path).unwrap(),
            "3fc4ccfe745870e2c0d99f71f30ff0656c8dedd41cc1d7d3d376b0dbe685e2f3"
        );
    }

    #[test]
    fn a_symlink_is_written_through_and_stays_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.json");
        std::fs::write(&real, "old").unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_atomic(&link, b"new").unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
    }

    #[test]
    fn devices_directories_and_dangling_links_are_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_atomic(dir.path(), b"x").unwrap_err().to_string();
        assert!(err.contains("is a directory"), "{err}");
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        let err = write_atomic(&dangling, b"x").unwrap_err().to_string();
        assert!(err.contains("does not exist"), "{err}");
        assert!(std::fs::symlink_metadata(&dangling)
            .unwrap()
            .file_type()
            .is_symlink());
        // /dev/null is a character device reached through its own name, not a stream name.
        let null = dir.path().join("null");
        std::os::unix::fs::symlink("/dev/null", &null).unwrap();
        let err = write_atomic(&null, b"x").unwrap_err().to_string();
        assert!(err.contains("a character device"), "{err}");
        assert!(std::fs::symlink_metadata(&null)
            .unwrap()
            .file_type()
            .is_symlink());
        let err = write_atomic(Path::new("/dev/null"), b"x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("a character device"), "{err}");
    }

    #[test]
    fn planted_symlinks_with_the_old_temporary_names_are_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        // The old writer's predictable name, and a spread of pids around ours.
        for pid in std::process::id().saturating_sub(50)..std::process::id() + 50 {
            std::os::unix::fs::symlink(&victim, out.join(format!(".r.json.tmp-{pid}"))).unwrap();
        }
        write_atomic(&out.join("r.json"), b"record").unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        assert_eq!(std::fs::read(out.join("r.json")).unwrap(), b"record");
    }

    #[test]
    fn overlapping_outputs_and_inputs_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.json");
        std::fs::write(&a, "{}").unwrap();
        let err = refuse_overlap(&[("--output", &a)], &[("input", &a)]).unwrap_err();
        assert!(
            err.to_string().contains("both the input and the --output"),
            "{err}"
        );
        let new = dir.path().join("new.json");
        let err = refuse_overlap(&[("--predictions", &new), ("--output", &new)], &[]).unwrap_err();
        assert!(
            err.to_string()
                .contains("both the --predictions and the --output"),
            "{err}"
        );
        let other = dir.path().join("other.json");
        refuse_overlap(
            &[("--predictions", &new), ("--output", &other)],
            &[("input", &a)],
        )
        .unwrap();
        let stdout = Path::new("/dev/stdout");
        refuse_overlap(&[("--predictions", stdout), ("--output", stdout)], &[]).unwrap();
    }

    #[test]
    fn a_staged_write_changes_nothing_until_committed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        std::fs::write(&path, "old").unwrap();
        let staged = stage(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        drop(staged);
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        stage(&path, b"new").unwrap().commit().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
    }
}
