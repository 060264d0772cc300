//! The on-disk cache, laid out exactly as huggingface_hub lays it out, so that a cache
//! written by either side is used as-is by the other:
//!
//! ```text
//! <cache>/models--org--name/            (datasets--org--name)
//!     blobs/<etag>                       contents, named by the normalized etag
//!     blobs/<etag>.incomplete            a download in progress (resumable by both sides)
//!     snapshots/<commit>/<path>          relative symlink → ../../blobs/<etag>
//!     refs/<revision>                    the commit hash, no newline
//! <cache>/.locks/models--org--name/<etag>.lock
//! ```
//!
//! This module only knows paths, refs, links and locks; it never talks to the network.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::HubError;
use crate::repo::{is_commit_hash, RepoId};

/// One repo's folder in the cache.
#[derive(Debug, Clone)]
pub struct RepoCache {
    cache_dir: PathBuf,
    folder_name: String,
}

impl RepoCache {
    pub fn new(cache_dir: &Path, repo: &RepoId) -> Self {
        RepoCache {
            cache_dir: cache_dir.to_path_buf(),
            folder_name: repo.folder_name(),
        }
    }

    /// `<cache>/models--org--name`.
    pub fn repo_dir(&self) -> PathBuf {
        self.cache_dir.join(&self.folder_name)
    }

    pub fn blobs_dir(&self) -> PathBuf {
        self.repo_dir().join("blobs")
    }

    pub fn blob_path(&self, etag: &str) -> PathBuf {
        self.blobs_dir().join(etag)
    }

    pub fn incomplete_path(&self, etag: &str) -> PathBuf {
        self.blobs_dir().join(format!("{etag}.incomplete"))
    }

    pub fn lock_path(&self, etag: &str) -> PathBuf {
        self.cache_dir
            .join(".locks")
            .join(&self.folder_name)
            .join(format!("{etag}.lock"))
    }

    pub fn snapshot_dir(&self, commit: &str) -> PathBuf {
        self.repo_dir().join("snapshots").join(commit)
    }

    /// `snapshots/<commit>/<file>`; `file` must have been validated.
    pub fn pointer_path(&self, commit: &str, file: &str) -> PathBuf {
        let mut path = self.snapshot_dir(commit);
        for part in file.split('/') {
            path.push(part);
        }
        path
    }

    fn ref_path(&self, revision: &str) -> PathBuf {
        let mut path = self.repo_dir().join("refs");
        for part in revision.split('/') {
            path.push(part);
        }
        path
    }

    /// The commit a revision points to in this cache: the revision itself when it is a
    /// commit hash, else the content of `refs/<revision>` when that is a commit hash.
    pub fn resolve_commit(&self, revision: &str) -> Option<String> {
        if is_commit_hash(revision) {
            return Some(revision.to_string());
        }
        let path = self.ref_path(revision);
        let text = fs::read_to_string(&path).ok()?;
        let commit = text.trim();
        if is_commit_hash(commit) {
            Some(commit.to_string())
        } else {
            tracing::warn!(path = %path.display(), "ignoring a ref file that does not hold a commit hash");
            None
        }
    }

    /// Records `refs/<revision>` = `commit` (nothing when the revision is the commit), written
    /// to a temporary file and renamed so a reader never sees half a hash.
    pub fn write_ref(&self, revision: &str, commit: &str) -> Result<(), HubError> {
        if revision == commit {
            return Ok(());
        }
        let path = self.ref_path(revision);
        if fs::read_to_string(&path).is_ok_and(|t| t == commit) {
            return Ok(());
        }
        let dir = path.parent().expect("a ref path has a parent");
        fs::create_dir_all(dir).map_err(|e| HubError::io(dir, e))?;
        let tmp = dir.join(format!(
            ".{}.{}.{}.tmp",
            path.file_name().and_then(|n| n.to_str()).unwrap_or("ref"),
            std::process::id(),
            next_counter()
        ));
        let write = || -> io::Result<()> {
            let mut file = File::create(&tmp)?;
            file.write_all(commit.as_bytes())?;
            file.sync_all()?;
            fs::rename(&tmp, &path)
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            HubError::io(&path, e)
        })?;
        tracing::debug!(revision, commit, "recorded ref");
        Ok(())
    }

    /// Opens (creating) `.locks/<folder>/<etag>.lock` and takes an exclusive lock on it,
    /// blocking until any other holder (a Rust or Python process) releases it. The lock is
    /// released when the returned file is dropped. The lock file is never deleted: deleting
    /// it would let a third process lock a different inode.
    pub fn lock_blob(&self, etag: &str) -> Result<File, HubError> {
        let path = self.lock_path(etag);
        let dir = path.parent().expect("a lock path has a parent");
        fs::create_dir_all(dir).map_err(|e| HubError::io(dir, e))?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| HubError::io(&path, e))?;
        tracing::debug!(lock = %path.display(), "waiting for the blob lock");
        file.lock().map_err(|e| HubError::io(&path, e))?;
        Ok(file)
    }

    /// Makes `snapshots/<commit>/<file>` point at `blobs/<etag>` with a relative symlink, as
    /// huggingface_hub does (`../../blobs/<etag>`, one more `../` per directory level of
    /// `file`). Where symlinks are unavailable the blob is copied instead.
    pub fn link_pointer(&self, etag: &str, commit: &str, file: &str) -> Result<PathBuf, HubError> {
        let pointer = self.pointer_path(commit, file);
        let dir = pointer.parent().expect("a pointer path has a parent");
        fs::create_dir_all(dir).map_err(|e| HubError::io(dir, e))?;
        let relative = relative_blob_target(file, etag);
        if let Ok(meta) = fs::symlink_metadata(&pointer) {
            if meta.file_type().is_symlink() && fs::read_link(&pointer).is_ok_and(|t| t == relative)
            {
                return Ok(pointer);
            }
            // A stale link or a copy from an older revision of the same path: replace it.
            fs::remove_file(&pointer).map_err(|e| HubError::io(&pointer, e))?;
        }
        match make_link(&relative, &self.blob_path(etag), &pointer) {
            Ok(()) => Ok(pointer),
            // Another process created the same link between our check and our create.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && pointer.exists() => Ok(pointer),
            Err(e) => Err(HubError::io(&pointer, e)),
        }
    }

    /// The files present in `snapshots/<commit>/` (links whose blob exists), as sorted
    /// `/`-separated paths. `None` when the snapshot directory does not exist.
    pub fn list_snapshot(&self, commit: &str) -> Result<Option<Vec<String>>, HubError> {
        let root = self.snapshot_dir(commit);
        if !root.is_dir() {
            return Ok(None);
        }
        let mut files = Vec::new();
        walk(&root, "", &mut files)?;
        files.sort();
        Ok(Some(files))
    }
}

fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) -> Result<(), HubError> {
    let entries = fs::read_dir(dir).map_err(|e| HubError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| HubError::io(dir, e))?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let path = entry.path();
        let file_type = entry.file_type().map_err(|e| HubError::io(&path, e))?;
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        if file_type.is_dir() {
            walk(&path, &rel, out)?;
        } else if path.is_file() {
            // `is_file` follows the link: a dangling link (blob deleted) is not a cached file.
            out.push(rel);
        }
    }
    Ok(())
}

/// `../../blobs/<etag>` for `file` = `name`, `../../../blobs/<etag>` for `dir/name`, ...
pub fn relative_blob_target(file: &str, etag: &str) -> PathBuf {
    let depth = file.split('/').count();
    let mut target = PathBuf::new();
    for _ in 0..=depth {
        target.push("..");
    }
    target.push("blobs");
    target.push(etag);
    target
}

#[cfg(unix)]
fn make_link(relative: &Path, _blob: &Path, pointer: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(relative, pointer)
}

#[cfg(not(unix))]
fn make_link(_relative: &Path, blob: &Path, pointer: &Path) -> io::Result<()> {
    // huggingface_hub also falls back to copies where symlinks need privileges.
    fs::copy(blob, pointer).map(|_| ())
}

fn next_counter() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_targets_climb_one_level_per_directory() {
        assert_eq!(
            relative_blob_target("config.json", "e"),
            PathBuf::from("../../blobs/e")
        );
        assert_eq!(
            relative_blob_target("onnx/model.onnx", "e"),
            PathBuf::from("../../../blobs/e")
        );
    }

    #[test]
    fn refs_and_links_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let repo = RepoId::model("org/name").unwrap();
        let cache = RepoCache::new(dir.path(), &repo);
        let commit = "c".repeat(40);
        assert_eq!(cache.resolve_commit("main"), None);
        cache.write_ref("main", &commit).unwrap();
        cache.write_ref("refs/pr/1", &commit).unwrap();
        assert_eq!(cache.resolve_commit("main"), Some(commit.clone()));
        assert_eq!(cache.resolve_commit("refs/pr/1"), Some(commit.clone()));
        assert_eq!(
            fs::read_to_string(dir.path().join("models--org--name/refs/main")).unwrap(),
            commit
        );
        assert_eq!(cache.resolve_commit(&commit), Some(commit.clone()));

        fs::create_dir_all(cache.blobs_dir()).unwrap();
        fs::write(cache.blob_path("e1"), b"x").unwrap();
        let p = cache.link_pointer("e1", &commit, "a/b.txt").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"x");
        // Idempotent, and a second call replaces a stale link.
        cache.link_pointer("e1", &commit, "a/b.txt").unwrap();
        fs::write(cache.blob_path("e2"), b"y").unwrap();
        cache.link_pointer("e2", &commit, "a/b.txt").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"y");
        assert_eq!(
            cache.list_snapshot(&commit).unwrap(),
            Some(vec!["a/b.txt".to_string()])
        );
        assert_eq!(cache.list_snapshot(&"d".repeat(40)).unwrap(), None);
    }
}
