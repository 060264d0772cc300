//! [`Hub`]: cache-first downloads and listings over the Hub's HTTP protocol.
//!
//! Resolution order for [`Hub::download`]:
//! 1. the revision's commit is known locally (`refs/<revision>`, or the revision is a commit)
//!    and `snapshots/<commit>/<path>` exists → that path, with **no network request**. This is
//!    what huggingface_hub does for a pinned commit; evalrun does it for branches too, so runs
//!    are reproducible and fast. [`Hub::refresh`] asks the Hub instead;
//! 2. offline → [`HubError::Offline`];
//! 3. `HEAD` the resolve URL (commit, etag, size, CDN location), record `refs/<revision>`,
//!    reuse `blobs/<etag>` if present, else take the blob lock, download to
//!    `blobs/<etag>.incomplete` (resuming), verify, rename, and link the snapshot path.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use reqwest::blocking::{Client, Response};
use reqwest::header::{HeaderMap, CONTENT_LENGTH, CONTENT_RANGE, ETAG, LOCATION, RANGE};
use reqwest::{Method, Url};
use serde::Deserialize;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::cache::RepoCache;
use crate::config::HubConfig;
use crate::error::{status_error, HubError, Target};
use crate::repo::{is_commit_hash, is_lower_hex, validate_file_path, RepoId, RepoType};

const MAX_REDIRECTS: usize = 10;
/// How far past its high-water mark a failed download attempt must have brought the file for
/// the failure not to count against the retry budget.
const MIN_PROGRESS: u64 = 1 << 20;
const HEADER_REPO_COMMIT: &str = "x-repo-commit";
const HEADER_LINKED_ETAG: &str = "x-linked-etag";
const HEADER_LINKED_SIZE: &str = "x-linked-size";
const HEADER_ERROR_CODE: &str = "x-error-code";
const HEADER_ERROR_MESSAGE: &str = "x-error-message";

/// What a `HEAD` on a file's resolve URL says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMetadata {
    /// The commit the revision resolved to (`X-Repo-Commit`).
    pub commit: String,
    /// Normalized `X-Linked-Etag` or `ETag`: sha256 for LFS files, git blob sha1 otherwise.
    pub etag: String,
    /// `X-Linked-Size` or `Content-Length`.
    pub size: Option<u64>,
    /// Where to `GET` the bytes: the CDN URL for LFS files, else the resolve URL.
    pub location: String,
    /// Whether `location` is the resolve URL itself (the token is only sent there, as
    /// huggingface_hub does: CDN URLs are pre-signed).
    pub location_is_endpoint: bool,
}

/// A repo listing: the commit the revision resolved to and every file in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoInfo {
    pub commit: String,
    pub files: Vec<String>,
}

/// A Hub client bound to one cache directory. Cheap to share by reference across threads.
pub struct Hub {
    config: HubConfig,
    client: Client,
}

impl fmt::Debug for Hub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // HubConfig's Debug redacts the token.
        f.debug_struct("Hub").field("config", &self.config).finish()
    }
}

/// Why one attempt failed: retry it, or give up at once.
enum Failure {
    Retry(String),
    Fatal(HubError),
}

impl From<HubError> for Failure {
    fn from(e: HubError) -> Self {
        Failure::Fatal(e)
    }
}

impl Hub {
    /// Builds the HTTP client (rustls; redirects are followed by hand so that absolute
    /// redirects of a `HEAD` are reported rather than followed).
    pub fn new(config: HubConfig) -> Result<Self, HubError> {
        let client = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.connect_timeout)
            // Blocking reqwest applies this to waiting for headers and to each body read.
            .timeout(config.read_timeout)
            .user_agent(concat!("evalrun-hub/", env!("CARGO_PKG_VERSION"), "; rust"))
            .build()
            .map_err(|e| HubError::Client(error_chain(&e)))?;
        Ok(Hub { config, client })
    }

    /// [`Hub::new`] with [`HubConfig::from_env`].
    pub fn from_env() -> Result<Self, HubError> {
        Self::new(HubConfig::from_env())
    }

    pub fn config(&self) -> &HubConfig {
        &self.config
    }

    pub fn cache_dir(&self) -> &Path {
        &self.config.cache_dir
    }

    /// The local path of `path` in `repo`: from the cache when the revision's commit is known
    /// and the file is in its snapshot (no network request), else downloaded. Returns
    /// `snapshots/<commit>/<path>` (a symlink into `blobs/`).
    pub fn download(&self, repo: &RepoId, path: &str) -> Result<PathBuf, HubError> {
        self.fetch(repo, path, false)
    }

    /// Like [`Hub::download`] but always asks the Hub which commit the revision points to now
    /// (a `HEAD`), updating `refs/<revision>` and downloading the file if it changed. When the
    /// Hub cannot be reached and the file is cached, the cached path is returned with a
    /// warning (huggingface_hub does the same).
    pub fn refresh(&self, repo: &RepoId, path: &str) -> Result<PathBuf, HubError> {
        self.fetch(repo, path, true)
    }

    /// [`Hub::download`] for each path, in order; stops at the first error.
    pub fn download_many(&self, repo: &RepoId, paths: &[&str]) -> Result<Vec<PathBuf>, HubError> {
        paths.iter().map(|p| self.download(repo, p)).collect()
    }

    /// A file from its original URL, pinned by sha256 (datasets that live outside the Hub, such
    /// as OpenAI's LAMBADA or Mikolov's PTB): kept as `<cache>/.evalrun-urls/<sha256>`,
    /// downloaded like a blob (lock, `.incomplete`, `Range` resume, retries) and kept only when
    /// its sha256 matches. Cached files need no request; offline, a missing one is an error.
    pub fn download_url(&self, url: &str, sha256: &str) -> Result<PathBuf, HubError> {
        let sha256 = sha256.to_ascii_lowercase();
        let name = url.rsplit('/').next().unwrap_or("file").to_string();
        let target = Target {
            kind: RepoType::Dataset,
            repo: url.to_string(),
            revision: format!("sha256:{sha256}"),
            file: Some(name),
        };
        if !is_lower_hex(&sha256, 64) {
            return Err(HubError::BadResponse {
                target: Box::new(target),
                reason: "the pinned sha256 is not 64 hex digits".into(),
            });
        }
        let dir = self.config.cache_dir.join(".evalrun-urls");
        let blob = dir.join(&sha256);
        if blob.is_file() {
            return Ok(blob);
        }
        if self.config.offline {
            return Err(HubError::Offline {
                target: Box::new(target),
                cache_dir: self.config.cache_dir.clone(),
            });
        }
        let locks = dir.join(".locks");
        fs::create_dir_all(&locks).map_err(|e| HubError::io(&locks, e))?;
        let lock_path = locks.join(format!("{sha256}.lock"));
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| HubError::io(&lock_path, e))?;
        lock.lock().map_err(|e| HubError::io(&lock_path, e))?;
        if !blob.is_file() {
            let meta = FileMetadata {
                commit: String::new(),
                etag: sha256.clone(),
                size: None,
                location: url.to_string(),
                location_is_endpoint: false,
            };
            let incomplete = dir.join(format!("{sha256}.incomplete"));
            self.download_to(&dir, &incomplete, &blob, &meta, &target)?;
        }
        Ok(blob)
    }

    /// The cached snapshot path of `path`, if the revision's commit is known locally and the
    /// file is in its snapshot. Never touches the network.
    pub fn cached_path(&self, repo: &RepoId, path: &str) -> Option<PathBuf> {
        repo.validate().ok()?;
        validate_file_path(path).ok()?;
        let cache = RepoCache::new(&self.config.cache_dir, repo);
        let commit = cache.resolve_commit(&repo.revision)?;
        let pointer = cache.pointer_path(&commit, path);
        // `is_file` follows the symlink: a link whose blob was deleted is not a hit.
        pointer.is_file().then_some(pointer)
    }

    /// `snapshots/<commit>/` for the revision's locally known commit, if it exists.
    pub fn snapshot_dir(&self, repo: &RepoId) -> Option<PathBuf> {
        repo.validate().ok()?;
        let cache = RepoCache::new(&self.config.cache_dir, repo);
        let dir = cache.snapshot_dir(&cache.resolve_commit(&repo.revision)?);
        dir.is_dir().then_some(dir)
    }

    /// The files of `repo` at its revision. Online: the Hub's listing API (which also
    /// records `refs/<revision>`); offline: the files in the cached snapshot, or
    /// [`HubError::Offline`] when there is none.
    pub fn list_files(&self, repo: &RepoId) -> Result<Vec<String>, HubError> {
        repo.validate()?;
        if self.config.offline {
            return self
                .list_cached_files(repo)?
                .ok_or_else(|| HubError::Offline {
                    target: Box::new(repo.target(None)),
                    cache_dir: self.config.cache_dir.clone(),
                });
        }
        Ok(self.repo_info(repo)?.files)
    }

    /// The files present in the cached snapshot (which may be a subset of the repo: only
    /// what was downloaded), without any network request. `None` when nothing is cached.
    pub fn list_cached_files(&self, repo: &RepoId) -> Result<Option<Vec<String>>, HubError> {
        repo.validate()?;
        let cache = RepoCache::new(&self.config.cache_dir, repo);
        match cache.resolve_commit(&repo.revision) {
            Some(commit) => cache.list_snapshot(&commit),
            None => Ok(None),
        }
    }

    /// Whether `path` is one of the repo's files ([`Hub::list_files`]).
    pub fn file_exists(&self, repo: &RepoId, path: &str) -> Result<bool, HubError> {
        Ok(self.list_files(repo)?.iter().any(|f| f == path))
    }

    /// `GET {endpoint}/api/{models|datasets}/{repo}/revision/{revision}`. Every file name is
    /// checked with the same rules as a caller's path; one that could escape the cache makes
    /// the whole listing an error. Records `refs/<revision>`.
    pub fn repo_info(&self, repo: &RepoId) -> Result<RepoInfo, HubError> {
        repo.validate()?;
        if self.config.offline {
            return Err(HubError::Offline {
                target: Box::new(repo.target(None)),
                cache_dir: self.config.cache_dir.clone(),
            });
        }
        let target = repo.target(None);
        let url = repo.info_url(&self.config.endpoint);
        let body = self.retrying(&target, || {
            let response = self.get(&url, true, None, &target)?;
            if !response.status().is_success() {
                return Err(self.status_failure(response, &target, true));
            }
            response
                .bytes()
                .map_err(|e| Failure::Retry(format!("reading the listing: {}", error_chain(&e))))
        })?;

        let (commit, files) = parse_listing(&body, &target)?;
        RepoCache::new(&self.config.cache_dir, repo).write_ref(&repo.revision, &commit)?;
        Ok(RepoInfo { commit, files })
    }

    /// `HEAD` on the file's resolve URL, following relative redirects (renamed repos) but
    /// not absolute ones (the CDN location of LFS files), as huggingface_hub does.
    pub fn file_metadata(&self, repo: &RepoId, path: &str) -> Result<FileMetadata, HubError> {
        repo.validate()?;
        let target = repo.target(Some(path));
        self.check_path(&target, path)?;
        if self.config.offline {
            return Err(HubError::Offline {
                target: Box::new(target),
                cache_dir: self.config.cache_dir.clone(),
            });
        }
        let url = repo.resolve_url(&self.config.endpoint, path);
        self.retrying(&target, || {
            let mut current = parse_url(&url, &target)?;
            for _ in 0..MAX_REDIRECTS {
                let response = self.send(Method::HEAD, &current, true, None, &target)?;
                let status = response.status();
                if status.is_redirection() {
                    let location = header(response.headers(), LOCATION.as_str());
                    if let Some(location) = location.filter(|l| is_relative(l)) {
                        tracing::debug!(%target, location, "following a relative redirect");
                        current = join_url(&current, &location, &target)?;
                        continue;
                    }
                }
                if status.is_success() || status.is_redirection() {
                    return Ok(self.parse_metadata(response.headers(), &current, &target)?);
                }
                return Err(self.status_failure(response, &target, true));
            }
            Err(Failure::Fatal(HubError::BadResponse {
                target: Box::new(target.clone()),
                reason: format!("more than {MAX_REDIRECTS} redirects"),
            }))
        })
    }

    fn check_path(&self, target: &Target, path: &str) -> Result<(), HubError> {
        validate_file_path(path).map_err(|reason| HubError::UnsafePath {
            repo: Target {
                file: None,
                ..target.clone()
            }
            .to_string(),
            path: path.to_string(),
            reason,
        })
    }

    fn fetch(&self, repo: &RepoId, path: &str, check_remote: bool) -> Result<PathBuf, HubError> {
        repo.validate()?;
        let target = repo.target(Some(path));
        self.check_path(&target, path)?;
        let cached = self.cached_path(repo, path);
        if let (Some(cached), false) = (&cached, check_remote) {
            tracing::debug!(%target, path = %cached.display(), "cache hit, no request");
            return Ok(cached.clone());
        }
        if self.config.offline {
            return match cached {
                Some(cached) => Ok(cached),
                None => Err(HubError::Offline {
                    target: Box::new(target),
                    cache_dir: self.config.cache_dir.clone(),
                }),
            };
        }

        let meta = match self.file_metadata(repo, path) {
            Ok(meta) => meta,
            Err(e @ HubError::Network { .. }) => match cached {
                Some(cached) => {
                    tracing::warn!(%target, error = %e, "the Hub is unreachable; using the cached file");
                    return Ok(cached);
                }
                None => return Err(e),
            },
            Err(e) => return Err(e),
        };
        let cache = RepoCache::new(&self.config.cache_dir, repo);
        cache.write_ref(&repo.revision, &meta.commit)?;

        let pointer = cache.pointer_path(&meta.commit, path);
        let blob = cache.blob_path(&meta.etag);
        if pointer.is_file() && blob.is_file() {
            return Ok(pointer);
        }
        if blob.is_file() {
            return cache.link_pointer(&meta.etag, &meta.commit, path);
        }

        let _lock = cache.lock_blob(&meta.etag)?;
        // Another process (Rust or Python) may have finished it while we waited.
        if blob.is_file() {
            tracing::debug!(%target, "blob downloaded by another process while waiting for the lock");
        } else {
            self.download_blob(&cache, &meta, &target)?;
        }
        cache.link_pointer(&meta.etag, &meta.commit, path)
    }

    /// Downloads to `blobs/<etag>.incomplete` (resuming what is there), verifies, and renames
    /// to `blobs/<etag>`. The caller holds the blob lock.
    fn download_blob(
        &self,
        cache: &RepoCache,
        meta: &FileMetadata,
        target: &Target,
    ) -> Result<(), HubError> {
        self.download_to(
            &cache.blobs_dir(),
            &cache.incomplete_path(&meta.etag),
            &cache.blob_path(&meta.etag),
            meta,
            target,
        )
    }

    /// Downloads `meta.location` into `incomplete` (resuming), verifies, renames to `blob`.
    fn download_to(
        &self,
        blobs: &Path,
        incomplete: &Path,
        blob: &Path,
        meta: &FileMetadata,
        target: &Target,
    ) -> Result<(), HubError> {
        fs::create_dir_all(blobs).map_err(|e| HubError::io(blobs, e))?;
        let incomplete = incomplete.to_path_buf();
        tracing::info!(%target, size = ?meta.size, "downloading");
        let progress = self.progress_bar(meta.size, target.file.as_deref().unwrap_or(""));

        // A failed attempt counts against the retry budget unless it moved the bytes on disk
        // at least MIN_PROGRESS past their previous high-water mark: a server that truncates
        // every body and ignores `Range` restarts at 0 each time, and one that drips bytes
        // is cut by the stall rule, so both run out of retries. Whatever the retries, a file
        // that has not made such progress for `no_progress_deadline` is given up.
        let mut high_water = fs::metadata(&incomplete).map_or(0, |m| m.len());
        let mut last_progress = std::time::Instant::now();
        let mut failures = 0u32;
        loop {
            match self.fetch_attempt(meta, &incomplete, target, &progress) {
                Ok(()) => break,
                Err((Failure::Fatal(e), _)) => {
                    progress.abandon();
                    return Err(e);
                }
                Err((Failure::Retry(detail), on_disk)) => {
                    if on_disk >= high_water.saturating_add(MIN_PROGRESS) {
                        failures = 1;
                        last_progress = std::time::Instant::now();
                    } else {
                        failures += 1;
                    }
                    high_water = high_water.max(on_disk);
                    let stuck = last_progress.elapsed();
                    if failures > self.config.max_retries
                        || stuck >= self.config.no_progress_deadline
                    {
                        progress.abandon();
                        let detail = if failures > self.config.max_retries {
                            detail
                        } else {
                            format!(
                                "{detail}; no progress for {} s (the limit)",
                                stuck.as_secs()
                            )
                        };
                        return Err(self.network_error(target, failures, detail));
                    }
                    let delay = self.backoff(failures);
                    tracing::warn!(%target, attempt = failures, ?delay, %detail, "download interrupted; resuming");
                    std::thread::sleep(delay);
                }
            }
        }
        progress.finish_and_clear();

        if let Err(e) = verify(&incomplete, meta, target) {
            let _ = fs::remove_file(&incomplete);
            return Err(e);
        }
        fs::rename(&incomplete, blob).map_err(|e| HubError::io(blob, e))?;
        tracing::debug!(%target, blob = %blob.display(), "stored blob");
        Ok(())
    }

    /// One `GET` (with `Range` when part of the file is there). A failure carries the bytes
    /// on disk when it happened.
    fn fetch_attempt(
        &self,
        meta: &FileMetadata,
        incomplete: &Path,
        target: &Target,
        progress: &ProgressBar,
    ) -> Result<(), (Failure, u64)> {
        let io_fatal = |e: io::Error| (Failure::Fatal(HubError::io(incomplete, e)), 0);
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(incomplete)
            .map_err(io_fatal)?;
        let mut have = file.metadata().map_err(io_fatal)?.len();
        if let Some(size) = meta.size {
            if have == size {
                return Ok(());
            }
            if have > size {
                file.set_len(0).map_err(io_fatal)?;
                have = 0;
            }
        }

        let range = (have > 0).then_some(have);
        let mut response = self
            .get(&meta.location, meta.location_is_endpoint, range, target)
            .map_err(|f| (f, have))?;
        match response.status().as_u16() {
            206 => {
                let expected = format!("bytes {have}-");
                let ok = header(response.headers(), CONTENT_RANGE.as_str())
                    .is_some_and(|r| r.starts_with(&expected));
                if !ok {
                    file.set_len(0).map_err(io_fatal)?;
                    return Err((
                        Failure::Retry(
                            "the server answered an unexpected range; restarting".into(),
                        ),
                        0,
                    ));
                }
                tracing::debug!(%target, from = have, "resuming");
            }
            200 => {
                if have > 0 {
                    tracing::debug!(%target, "the server ignored the Range header; restarting");
                }
                file.set_len(0).map_err(io_fatal)?;
                have = 0;
            }
            416 => {
                file.set_len(0).map_err(io_fatal)?;
                return Err((
                    Failure::Retry("range not satisfiable; restarting".into()),
                    0,
                ));
            }
            _ => {
                let sent = meta.location_is_endpoint;
                return Err((self.status_failure(response, target, sent), have));
            }
        }
        file.seek(SeekFrom::Start(have)).map_err(io_fatal)?;
        progress.set_position(have);

        let mut written = 0u64;
        let mut buf = vec![0u8; 256 * 1024];
        // The stall rule: at least `stall_bytes` in every `stall_window`.
        let mut window_start = std::time::Instant::now();
        let mut window_bytes = 0u64;
        loop {
            match response.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    file.write_all(&buf[..n]).map_err(|e| {
                        (Failure::Fatal(HubError::io(incomplete, e)), have + written)
                    })?;
                    written += n as u64;
                    window_bytes += n as u64;
                    progress.inc(n as u64);
                    if window_start.elapsed() >= self.config.stall_window {
                        if window_bytes < self.config.stall_bytes {
                            let _ = file.sync_all();
                            let detail = format!(
                                "the download stalled: {window_bytes} bytes in the last {} s (at least {} expected)",
                                self.config.stall_window.as_secs(),
                                self.config.stall_bytes
                            );
                            return Err((Failure::Retry(detail), have + written));
                        }
                        window_start = std::time::Instant::now();
                        window_bytes = 0;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let detail = format!(
                        "the connection failed after {} bytes: {}",
                        have + written,
                        error_chain(&e)
                    );
                    return Err((Failure::Retry(detail), have + written));
                }
            }
        }
        file.sync_all()
            .map_err(|e| (Failure::Fatal(HubError::io(incomplete, e)), have + written))?;
        let total = have + written;
        if let Some(size) = meta.size.filter(|&s| total < s) {
            let detail = format!("the connection closed after {total} of {size} bytes");
            return Err((Failure::Retry(detail), total));
        }
        Ok(())
    }

    fn parse_metadata(
        &self,
        headers: &HeaderMap,
        url: &Url,
        target: &Target,
    ) -> Result<FileMetadata, HubError> {
        let bad = |reason: String| HubError::BadResponse {
            target: Box::new(target.clone()),
            reason,
        };
        let commit = header(headers, HEADER_REPO_COMMIT).ok_or_else(|| {
            bad(format!(
                "no `X-Repo-Commit` header: `{}` does not look like a Hugging Face Hub (check HF_ENDPOINT and proxies)",
                self.config.endpoint
            ))
        })?;
        if !is_commit_hash(&commit) {
            return Err(bad(format!(
                "`X-Repo-Commit` is `{commit}`, not a commit hash"
            )));
        }
        let etag = header(headers, HEADER_LINKED_ETAG)
            .or_else(|| header(headers, ETAG.as_str()))
            .map(|e| normalize_etag(&e))
            .ok_or_else(|| bad("no `ETag` or `X-Linked-Etag` header".into()))?;
        if !is_safe_etag(&etag) {
            return Err(bad(format!("the etag `{etag}` cannot name a cache file")));
        }
        let size = header(headers, HEADER_LINKED_SIZE)
            .or_else(|| header(headers, CONTENT_LENGTH.as_str()))
            .and_then(|s| s.parse::<u64>().ok());
        let (location, location_is_endpoint) = match header(headers, LOCATION.as_str()) {
            Some(location) => (join_url(url, &location, target)?.to_string(), false),
            None => (url.to_string(), true),
        };
        Ok(FileMetadata {
            commit,
            etag,
            size,
            location,
            location_is_endpoint,
        })
    }

    /// `GET`, following redirects by hand; the token is dropped when a redirect leaves the
    /// origin it was meant for.
    fn get(
        &self,
        url: &str,
        send_token: bool,
        range_from: Option<u64>,
        target: &Target,
    ) -> Result<Response, Failure> {
        let mut current = parse_url(url, target)?;
        let mut send_token = send_token;
        for _ in 0..MAX_REDIRECTS {
            let response = self.send(Method::GET, &current, send_token, range_from, target)?;
            let status = response.status();
            if status.is_redirection() {
                if let Some(location) = header(response.headers(), LOCATION.as_str()) {
                    let next = join_url(&current, &location, target)?;
                    if next.origin() != current.origin() {
                        send_token = false;
                    }
                    current = next;
                    continue;
                }
            }
            if status.is_success() || status.as_u16() == 416 {
                return Ok(response);
            }
            return Err(self.status_failure(response, target, send_token));
        }
        Err(Failure::Fatal(HubError::BadResponse {
            target: Box::new(target.clone()),
            reason: format!("more than {MAX_REDIRECTS} redirects"),
        }))
    }

    fn send(
        &self,
        method: Method,
        url: &Url,
        send_token: bool,
        range_from: Option<u64>,
        target: &Target,
    ) -> Result<Response, Failure> {
        let mut request = self.client.request(method.clone(), url.clone());
        if let (true, Some(token)) = (send_token, &self.config.token) {
            request = request.bearer_auth(token.expose());
        }
        if let Some(from) = range_from {
            request = request.header(RANGE, format!("bytes={from}-"));
        }
        tracing::trace!(%method, %url, ?range_from, "request");
        request.send().map_err(|e| {
            if e.is_builder() {
                Failure::Fatal(HubError::BadResponse {
                    target: Box::new(target.clone()),
                    reason: format!("cannot build a request for `{url}`: {}", error_chain(&e)),
                })
            } else if e.is_connect() && is_name_resolution(&error_chain(&e)) {
                // A name that does not resolve will not resolve in 15 s either.
                Failure::Fatal(self.network_error(
                    target,
                    1,
                    format!(
                        "the host `{}` does not resolve (no network, or a wrong HF_ENDPOINT)",
                        url.host_str().unwrap_or_default()
                    ),
                ))
            } else {
                Failure::Retry(format!("{method} `{url}`: {}", error_chain(&e)))
            }
        })
    }

    /// A server's `X-Error-Message`, fit to print: the token (should a server echo it) and
    /// control characters removed, and at most 300 characters.
    fn server_message(&self, message: Option<String>) -> Option<String> {
        let mut message = message?;
        if let Some(token) = self
            .config
            .token
            .as_ref()
            .filter(|t| !t.expose().is_empty())
        {
            message = message.replace(token.expose(), "<redacted>");
        }
        let mut clean: String = message
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        if clean.chars().count() > 300 {
            clean = clean.chars().take(300).collect::<String>() + "…";
        }
        Some(clean)
    }

    fn status_failure(&self, response: Response, target: &Target, send_token: bool) -> Failure {
        let status = response.status().as_u16();
        let headers = response.headers();
        let code = self.server_message(header(headers, HEADER_ERROR_CODE));
        let message = self.server_message(header(headers, HEADER_ERROR_MESSAGE));
        if status >= 500 || status == 408 || status == 429 {
            let mut detail = format!("HTTP {status} from `{}`", response.url());
            if let Some(message) = message {
                detail.push_str(&format!(": {message}"));
            }
            return Failure::Retry(detail);
        }
        let token_sent = send_token && self.config.token.is_some();
        Failure::Fatal(status_error(
            target.clone(),
            status,
            code,
            message,
            token_sent,
        ))
    }

    fn retrying<T>(
        &self,
        target: &Target,
        mut attempt: impl FnMut() -> Result<T, Failure>,
    ) -> Result<T, HubError> {
        let started = std::time::Instant::now();
        let mut failures = 0u32;
        loop {
            match attempt() {
                Ok(value) => return Ok(value),
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Retry(detail)) => {
                    failures += 1;
                    if failures > self.config.max_retries {
                        return Err(self.network_error(target, failures, detail));
                    }
                    if started.elapsed() >= self.config.no_progress_deadline {
                        let detail = format!(
                            "{detail}; gave up after {} s (the limit)",
                            started.elapsed().as_secs()
                        );
                        return Err(self.network_error(target, failures, detail));
                    }
                    let delay = self.backoff(failures);
                    tracing::warn!(%target, attempt = failures, ?delay, %detail, "request failed; retrying");
                    std::thread::sleep(delay);
                }
            }
        }
    }

    fn network_error(&self, target: &Target, attempts: u32, detail: String) -> HubError {
        HubError::Network {
            target: Box::new(target.clone()),
            endpoint: self.config.endpoint.clone(),
            attempts,
            detail,
        }
    }

    /// `backoff_base * 2^(failures-1)`, capped at `backoff_max`.
    fn backoff(&self, failures: u32) -> Duration {
        let factor = 1u32 << failures.saturating_sub(1).min(16);
        self.config
            .backoff_base
            .saturating_mul(factor)
            .min(self.config.backoff_max)
    }

    fn progress_bar(&self, size: Option<u64>, name: &str) -> ProgressBar {
        if !self.config.progress {
            return ProgressBar::hidden();
        }
        // indicatif's stderr target draws nothing when stderr is not a terminal.
        let bar = ProgressBar::with_draw_target(size, ProgressDrawTarget::stderr());
        let template = if size.is_some() {
            "{msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}"
        } else {
            "{msg} {bytes} {binary_bytes_per_sec}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(name.to_string());
        bar
    }
}

/// Checks the finished `.incomplete` file against the size and etag: sha256 for 64-hex
/// etags (LFS), git blob sha1 for 40-hex ones. Other etags are not hashes and only the size
/// is checked.
fn verify(path: &Path, meta: &FileMetadata, target: &Target) -> Result<(), HubError> {
    let len = fs::metadata(path).map_err(|e| HubError::io(path, e))?.len();
    if let Some(size) = meta.size.filter(|&s| s != len) {
        return Err(HubError::Checksum {
            target: Box::new(target.clone()),
            algorithm: "size",
            expected: size.to_string(),
            actual: len.to_string(),
        });
    }
    let (algorithm, actual) = if is_lower_hex(&meta.etag, 64) {
        ("sha256", hash_file::<Sha256>(path, None)?)
    } else if is_lower_hex(&meta.etag, 40) {
        ("git blob sha1", hash_file::<Sha1>(path, Some(len))?)
    } else {
        tracing::debug!(%target, etag = %meta.etag, "etag is not a content hash; checked the size only");
        return Ok(());
    };
    if actual != meta.etag {
        return Err(HubError::Checksum {
            target: Box::new(target.clone()),
            algorithm,
            expected: meta.etag.clone(),
            actual,
        });
    }
    Ok(())
}

/// Hex digest of a file; with `git_blob_len`, of `"blob <len>\0" + contents` (a git blob id).
fn hash_file<D: Digest>(path: &Path, git_blob_len: Option<u64>) -> Result<String, HubError> {
    let mut hasher = D::new();
    if let Some(len) = git_blob_len {
        hasher.update(format!("blob {len}\0").as_bytes());
    }
    let mut file = File::open(path).map_err(|e| HubError::io(path, e))?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| HubError::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// huggingface_hub's `_normalize_etag`: drop a weak `W/` prefix and the quotes.
fn normalize_etag(etag: &str) -> String {
    let etag = etag.trim();
    let etag = etag.strip_prefix("W/").unwrap_or(etag);
    etag.trim_matches('"').to_string()
}

/// The etag becomes a file name in `blobs/`.
fn is_safe_etag(etag: &str) -> bool {
    !etag.is_empty()
        && etag.len() <= 128
        && !etag.starts_with('.')
        && etag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A repo listing (`/api/models/<repo>/revision/<rev>`): its commit and file names, every
/// name checked so that none can escape the snapshot directory.
fn parse_listing(body: &[u8], target: &Target) -> Result<(String, Vec<String>), HubError> {
    #[derive(Deserialize)]
    struct ApiInfo {
        sha: Option<String>,
        #[serde(default)]
        siblings: Vec<ApiSibling>,
    }
    #[derive(Deserialize)]
    struct ApiSibling {
        rfilename: String,
    }
    let info: ApiInfo = serde_json::from_slice(body).map_err(|e| HubError::BadResponse {
        target: Box::new(target.clone()),
        reason: format!("the listing is not the expected JSON: {e}"),
    })?;
    let commit = info
        .sha
        .filter(|s| is_commit_hash(s))
        .ok_or_else(|| HubError::BadResponse {
            target: Box::new(target.clone()),
            reason: "the listing has no 40-hex `sha`".into(),
        })?;
    let mut files = Vec::with_capacity(info.siblings.len());
    for sibling in info.siblings {
        validate_file_path(&sibling.rfilename).map_err(|reason| HubError::UnsafePath {
            repo: target.to_string(),
            path: sibling.rfilename.clone(),
            reason,
        })?;
        files.push(sibling.rfilename);
    }
    Ok((commit, files))
}

/// Whether a connect error's text says the host name did not resolve.
fn is_name_resolution(chain: &str) -> bool {
    let chain = chain.to_ascii_lowercase();
    [
        "dns error",
        "failed to lookup address",
        "name or service not known",
        "no address associated",
    ]
    .iter()
    .any(|m| chain.contains(m))
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// A `Location` with no scheme and no host (`/org/new-name/resolve/...`).
fn is_relative(location: &str) -> bool {
    if location.starts_with("//") {
        return false;
    }
    // A scheme is `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"` before any `/`, `?` or `#`.
    let head = location.split(['/', '?', '#']).next().unwrap_or("");
    match head.split_once(':') {
        Some((scheme, _)) => {
            !(scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
        }
        None => true,
    }
}

fn parse_url(url: &str, target: &Target) -> Result<Url, Failure> {
    Url::parse(url).map_err(|e| {
        Failure::Fatal(HubError::BadResponse {
            target: Box::new(target.clone()),
            reason: format!("invalid URL `{url}`: {e}"),
        })
    })
}

fn join_url(base: &Url, location: &str, target: &Target) -> Result<Url, HubError> {
    base.join(location).map_err(|e| HubError::BadResponse {
        target: Box::new(target.clone()),
        reason: format!("invalid redirect location `{location}`: {e}"),
    })
}

/// The error and its sources, `: `-separated (reqwest's own message is terse).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Hub>();
        assert_send_sync::<HubError>();
    }

    #[test]
    fn etags_are_normalized() {
        assert_eq!(normalize_etag("W/\"abc\""), "abc");
        assert_eq!(normalize_etag("\"abc\""), "abc");
        assert_eq!(normalize_etag("abc"), "abc");
        assert!(!is_safe_etag("../x"));
        assert!(!is_safe_etag("a/b"));
        assert!(is_safe_etag(&"a".repeat(64)));
    }

    #[test]
    fn relative_locations() {
        assert!(is_relative("/org/new/resolve/main/x"));
        assert!(!is_relative("https://cdn.example/x"));
        assert!(!is_relative("//cdn.example/x"));
    }

    proptest::proptest! {
        #[test]
        fn listings_from_arbitrary_and_mutated_bytes_never_panic(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            cuts in proptest::collection::vec((proptest::prelude::any::<usize>(), proptest::prelude::any::<u8>()), 0..6),
        ) {
            let target = Target {
                kind: RepoType::Model,
                repo: "org/name".into(),
                revision: "main".into(),
                file: None,
            };
            let _ = parse_listing(&bytes, &target);
            let mut seed = br#"{"sha": "0123456789abcdef0123456789abcdef01234567", "siblings": [{"rfilename": "config.json"}, {"rfilename": "onnx/model.onnx"}]}"#.to_vec();
            for (at, b) in cuts {
                let at = at % seed.len();
                seed[at] = b;
            }
            match parse_listing(&seed, &target) {
                Ok((commit, files)) => {
                    proptest::prop_assert_eq!(commit.len(), 40);
                    for f in files {
                        proptest::prop_assert!(!f.starts_with('/') && !f.split('/').any(|c| c == ".."), "{}", f);
                    }
                }
                Err(e) => proptest::prop_assert!(e.to_string().contains("org/name"), "{}", e),
            }
        }
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let mut config = HubConfig::new("/nonexistent");
        config.backoff_base = Duration::from_millis(100);
        config.backoff_max = Duration::from_millis(350);
        let hub = Hub::new(config).unwrap();
        assert_eq!(hub.backoff(1), Duration::from_millis(100));
        assert_eq!(hub.backoff(2), Duration::from_millis(200));
        assert_eq!(hub.backoff(3), Duration::from_millis(350));
        assert_eq!(hub.backoff(40), Duration::from_millis(350));
    }

    #[test]
    fn git_blob_ids_match_git() {
        // `printf 'hello\n' | git hash-object --stdin`
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        fs::write(&path, b"hello\n").unwrap();
        assert_eq!(
            hash_file::<Sha1>(&path, Some(6)).unwrap(),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
    }
}
