//! Responses, not scores, kept across runs.
//!
//! [`Cache`] is one SQLite database (`evalrun-cache.sqlite` under `--cache DIR`, WAL mode,
//! schema-versioned) that maps a request key to the backend's response. The key is the
//! sha256 of the backend's [`Fingerprint`] (every graph's and the tokenizer's sha256,
//! lengths, window policy, batch size, device, threads) and the request itself (its kind and
//! payload, decoding options included), so equal keys mean equal responses.
//!
//! [`CachedBackend`] wraps any [`Backend`] at the one seam the engine calls: it answers what
//! the cache holds, sends the rest to the model in batches and commits each batch's responses
//! in one transaction as soon as the batch is done. A killed process loses at most the batch
//! in flight; re-running the same command computes only what is missing. It can also keep
//! every response it handed out, which is what a shard record carries to `evalrun merge`;
//! [`Replay`] answers from such responses without a model.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use evalrun_core::request::{
    Backend, Fingerprint, ModelInfo, NoProgress, Progress, Request, RequestKind, Response,
};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use sha2::{Digest, Sha256};

/// The database file inside `--cache DIR`.
pub const FILE_NAME: &str = "evalrun-cache.sqlite";
/// `PRAGMA application_id` of an evalrun cache ("evrc").
pub const APPLICATION_ID: i32 = 0x6576_7263;
/// `PRAGMA user_version`: bumped whenever the key or the stored response changes meaning.
/// 2: the key names the graph edits applied and the scoring path (version 1 keys did not, so
/// responses of differently edited graphs could answer each other).
pub const SCHEMA_VERSION: i32 = 2;

/// Why an older schema cannot be read.
fn schema_note(found: i32) -> &'static str {
    if found < SCHEMA_VERSION {
        " (an older evalrun wrote it: its keys do not name the graph edits and the scoring path that computed each response, so it cannot be trusted to answer this one)"
    } else {
        " (a newer evalrun wrote it)"
    }
}

/// How a run uses the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CacheMode {
    /// Answer from the cache, store what the model computes.
    #[default]
    ReadWrite,
    /// Answer from the cache, never write (a shared, read-only cache).
    Read,
    /// Ignore what is stored, recompute everything and overwrite it.
    Refresh,
}

impl CacheMode {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "read-write" => CacheMode::ReadWrite,
            "read" => CacheMode::Read,
            "refresh" => CacheMode::Refresh,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            CacheMode::ReadWrite => "read-write",
            CacheMode::Read => "read",
            CacheMode::Refresh => "refresh",
        }
    }

    fn reads(self) -> bool {
        self != CacheMode::Refresh
    }

    fn writes(self) -> bool {
        self != CacheMode::Read
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cannot create the cache directory `{}`: {source}", path.display())]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot lock `{}` to open the cache beside it: {source}", path.display())]
    Lock {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`{}` is not an evalrun cache ({reason}); give --cache a directory of its own", path.display())]
    Foreign { path: PathBuf, reason: String },
    #[error("`{}` is an evalrun cache of schema version {found}; this evalrun reads version {SCHEMA_VERSION}{}. Delete it (responses are recomputed) or use another --cache directory", path.display(), schema_note(*found))]
    Schema { path: PathBuf, found: i32 },
    #[error("the cache `{}` is damaged ({detail}); delete it (responses are recomputed) or use another --cache directory", path.display())]
    Corrupt { path: PathBuf, detail: String },
    #[error("cache `{}`: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
}

/// The key of one request for a backend with `fingerprint`: hex sha256.
pub fn key(fingerprint: &Fingerprint, request: &Request) -> String {
    #[derive(serde::Serialize)]
    struct Keyed<'a> {
        schema: i32,
        fingerprint: &'a Fingerprint,
        request: &'a Request,
    }
    let json = serde_json::to_vec(&Keyed {
        schema: SCHEMA_VERSION,
        fingerprint,
        request,
    })
    .expect("requests serialize");
    let digest = Sha256::digest(&json);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// One SQLite file of responses.
pub struct Cache {
    path: PathBuf,
    mode: CacheMode,
    /// `None`: `read` mode and no database yet (every request misses).
    conn: Option<Connection>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("path", &self.path)
            .field("mode", &self.mode)
            .finish()
    }
}

impl Cache {
    /// Opens (or creates) `dir/evalrun-cache.sqlite`. A file that is not an evalrun cache, has
    /// another schema version or fails SQLite's integrity check is an error naming it.
    pub fn open(dir: &Path, mode: CacheMode) -> Result<Self, CacheError> {
        let path = dir.join(FILE_NAME);
        // Processes started together race to create the file and switch it to WAL, and SQLite
        // answers that race with "database is locked" without waiting (a lock upgrade that
        // could deadlock is refused, not retried). Opening is serialised by an advisory lock on
        // a file beside the database, released when `open` returns or the process dies.
        let _opening = OpenLock::take(dir, mode)?;
        let exists = path.exists();
        if !exists && mode == CacheMode::Read {
            return Ok(Self {
                path,
                mode,
                conn: None,
            });
        }
        if exists {
            check_header(&path)?;
        }
        let sql = |source| CacheError::Sqlite {
            path: path.clone(),
            source,
        };
        let flags = if mode == CacheMode::Read {
            OpenFlags::SQLITE_OPEN_READ_ONLY
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE
        } | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(&path, flags).map_err(sql)?;
        // Another process may hold the write lock for a batch: wait for it.
        conn.busy_timeout(Duration::from_secs(120)).map_err(sql)?;
        let damaged = |e: rusqlite::Error| classify(&path, e);
        if mode != CacheMode::Read {
            // WAL: readers never block the writer; FULL: a committed batch survives a power cut.
            conn.pragma_update_and_check(None, "journal_mode", "wal", |_| Ok(()))
                .map_err(damaged)?;
            conn.pragma_update(None, "synchronous", "FULL")
                .map_err(damaged)?;
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(damaged)?;
            let app: i32 = tx
                .pragma_query_value(None, "application_id", |r| r.get(0))
                .map_err(damaged)?;
            if app == 0 {
                let tables: i64 = tx
                    .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
                    .map_err(damaged)?;
                if tables > 0 {
                    return Err(CacheError::Foreign {
                        path,
                        reason: "a SQLite database of another program".into(),
                    });
                }
                tx.execute_batch(&format!(
                    "PRAGMA application_id = {APPLICATION_ID};
                     PRAGMA user_version = {SCHEMA_VERSION};
                     CREATE TABLE responses (
                         key TEXT PRIMARY KEY NOT NULL,
                         kind TEXT NOT NULL,
                         response TEXT NOT NULL
                     ) WITHOUT ROWID;"
                ))
                .map_err(damaged)?;
            }
            tx.commit().map_err(damaged)?;
        }
        let cache = Self {
            path,
            mode,
            conn: Some(conn),
        };
        cache.check()?;
        Ok(cache)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn mode(&self) -> CacheMode {
        self.mode
    }

    fn conn(&self) -> Option<&Connection> {
        self.conn.as_ref()
    }

    /// Application id, schema version and SQLite's `quick_check`.
    fn check(&self) -> Result<(), CacheError> {
        let Some(conn) = self.conn() else {
            return Ok(());
        };
        let damaged = |e| classify(&self.path, e);
        let app: i32 = conn
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .map_err(damaged)?;
        if app != APPLICATION_ID {
            return Err(CacheError::Foreign {
                path: self.path.clone(),
                reason: format!("application id {app:#x}, not {APPLICATION_ID:#x}"),
            });
        }
        let version: i32 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(damaged)?;
        if version != SCHEMA_VERSION {
            return Err(CacheError::Schema {
                path: self.path.clone(),
                found: version,
            });
        }
        let verdict: String = conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(damaged)?;
        if verdict != "ok" {
            return Err(CacheError::Corrupt {
                path: self.path.clone(),
                detail: verdict,
            });
        }
        Ok(())
    }

    /// The stored responses of `keys` (`None` where absent, or in `refresh` mode).
    pub fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Response>>, CacheError> {
        let Some(conn) = self.conn().filter(|_| self.mode.reads()) else {
            return Ok(vec![None; keys.len()]);
        };
        let damaged = |e| classify(&self.path, e);
        let mut statement = conn
            .prepare_cached("SELECT response FROM responses WHERE key = ?1")
            .map_err(damaged)?;
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let text: Option<String> = statement
                .query_row([key], |r| r.get(0))
                .optional()
                .map_err(damaged)?;
            out.push(match text {
                None => None,
                Some(text) => {
                    Some(
                        serde_json::from_str(&text).map_err(|e| CacheError::Corrupt {
                            path: self.path.clone(),
                            detail: format!("the response under key {key} does not parse: {e}"),
                        })?,
                    )
                }
            });
        }
        Ok(out)
    }

    /// Stores one batch's responses in one transaction (nothing in `read` mode).
    pub fn put_many(
        &mut self,
        kind: RequestKind,
        entries: &[(&str, &Response)],
    ) -> Result<(), CacheError> {
        if !self.mode.writes() {
            return Ok(());
        }
        let path = self.path.clone();
        let Some(conn) = self.conn.as_mut() else {
            return Ok(());
        };
        let damaged = |e| classify(&path, e);
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(damaged)?;
        {
            let mut statement = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO responses (key, kind, response) VALUES (?1, ?2, ?3)",
                )
                .map_err(damaged)?;
            for (key, response) in entries {
                let json = serde_json::to_string(response).expect("responses serialize");
                statement
                    .execute(params![key, kind.name(), json])
                    .map_err(damaged)?;
            }
        }
        tx.commit().map_err(damaged)
    }
}

/// The lock file beside the database that serialises opening it.
pub const LOCK_FILE_NAME: &str = "evalrun-cache.lock";

/// Held while a cache is opened: exclusive for writers (who create the directory and the lock
/// file), shared for readers where the lock file exists (a read-only directory without one
/// holds no cache a writer is creating).
struct OpenLock(Option<fs::File>);

impl OpenLock {
    fn take(dir: &Path, mode: CacheMode) -> Result<Self, CacheError> {
        let path = dir.join(LOCK_FILE_NAME);
        let io = |source| CacheError::Lock {
            path: path.clone(),
            source,
        };
        if mode == CacheMode::Read {
            return match fs::File::open(&path) {
                Ok(file) => {
                    file.lock_shared().map_err(io)?;
                    Ok(Self(Some(file)))
                }
                Err(_) => Ok(Self(None)),
            };
        }
        fs::create_dir_all(dir).map_err(|source| CacheError::Dir {
            path: dir.to_path_buf(),
            source,
        })?;
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io)?;
        file.lock().map_err(io)?;
        Ok(Self(Some(file)))
    }
}

impl Drop for OpenLock {
    fn drop(&mut self) {
        if let Some(file) = &self.0 {
            let _ = file.unlock();
        }
    }
}

/// A file that exists but does not start like a SQLite database is not ours.
fn check_header(path: &Path) -> Result<(), CacheError> {
    let mut head = [0u8; 16];
    let read = fs::File::open(path)
        .and_then(|mut f| {
            let mut n = 0;
            while n < head.len() {
                let got = f.read(&mut head[n..])?;
                if got == 0 {
                    break;
                }
                n += got;
            }
            Ok(n)
        })
        .map_err(|e| CacheError::Corrupt {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
    if read == 0 {
        // An empty file: a database that was being created; SQLite initialises it.
        return Ok(());
    }
    if read < head.len() || &head != b"SQLite format 3\0" {
        return Err(CacheError::Foreign {
            path: path.to_path_buf(),
            reason: "not a SQLite database".into(),
        });
    }
    Ok(())
}

fn classify(path: &Path, error: rusqlite::Error) -> CacheError {
    use rusqlite::ErrorCode;
    match error.sqlite_error_code() {
        Some(ErrorCode::DatabaseCorrupt) => CacheError::Corrupt {
            path: path.to_path_buf(),
            detail: error.to_string(),
        },
        Some(ErrorCode::NotADatabase) => CacheError::Foreign {
            path: path.to_path_buf(),
            reason: error.to_string(),
        },
        // A stored value of the wrong type or invalid text (a damaged page that SQLite's
        // checks let through): the cache is damaged, as any other damage says.
        _ if matches!(
            error,
            rusqlite::Error::FromSqlConversionFailure(..)
                | rusqlite::Error::InvalidColumnType(..)
                | rusqlite::Error::Utf8Error(..)
        ) =>
        {
            CacheError::Corrupt {
                path: path.to_path_buf(),
                detail: format!("a stored response cannot be read: {error}"),
            }
        }
        _ => CacheError::Sqlite {
            path: path.to_path_buf(),
            source: error,
        },
    }
}

/// Errors of a cached or replayed backend.
#[derive(Debug, thiserror::Error)]
pub enum CachedError {
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// The wrapped model failed on a batch; `positions[i]` is the request index (in the
    /// engine's list) of the batch's `i`-th request.
    #[error("the model failed on a batch of {} requests", positions.len().max(1))]
    Backend {
        positions: Vec<usize>,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("the model answered {answered} of {asked} requests")]
    Short { answered: usize, asked: usize },
    /// Ctrl-C: the batch in flight finished and was stored.
    #[error("interrupted: {answered} of {total} requests of this task are answered")]
    Interrupted { answered: usize, total: usize },
    /// Replay: a request no shard record answers.
    #[error("no shard record answers request {index} ({missing} of {total} requests unanswered)")]
    Missing {
        index: usize,
        missing: usize,
        total: usize,
    },
}

impl CachedError {
    /// The engine's request index of a backend error's batch-relative `index`.
    pub fn position(&self, index: usize) -> usize {
        match self {
            CachedError::Backend { positions, .. } => {
                positions.get(index).copied().unwrap_or(index)
            }
            _ => index,
        }
    }
}

/// Requests answered from the cache and by the model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: usize,
    pub computed: usize,
}

/// A backend with a cache (optional) in front and, optionally, a copy of every response it
/// hands out.
pub struct CachedBackend<B> {
    inner: B,
    fingerprint: Fingerprint,
    cache: Option<Cache>,
    /// Requests per model call when caching (a stored batch).
    batch: usize,
    interrupt: Option<Arc<AtomicBool>>,
    kept: Option<BTreeMap<String, Response>>,
    stats: CacheStats,
}

impl<B: Backend> CachedBackend<B> {
    /// `batch`: requests per model call, committed together.
    pub fn new(inner: B, cache: Option<Cache>, batch: usize) -> Self {
        Self {
            fingerprint: inner.fingerprint(),
            inner,
            cache,
            batch: batch.max(1),
            interrupt: None,
            kept: None,
            stats: CacheStats::default(),
        }
    }

    /// Stop after the current batch once `flag` is set (Ctrl-C).
    pub fn with_interrupt(mut self, flag: Arc<AtomicBool>) -> Self {
        self.interrupt = Some(flag);
        self
    }

    /// Keep every response handed out, by key (for a shard record).
    pub fn keeping(mut self) -> Self {
        self.kept = Some(BTreeMap::new());
        self
    }

    pub fn stats(&self) -> CacheStats {
        self.stats
    }

    pub fn kept(&self) -> Option<&BTreeMap<String, Response>> {
        self.kept.as_ref()
    }

    pub fn inner(&self) -> &B {
        &self.inner
    }

    fn interrupted(&self) -> bool {
        self.interrupt
            .as_ref()
            .is_some_and(|f| f.load(Ordering::SeqCst))
    }

    fn call(
        &mut self,
        kind: RequestKind,
        requests: &[Request],
        positions: &[usize],
        progress: &mut dyn Progress,
    ) -> Result<Vec<Response>, CachedError> {
        let answers =
            self.inner
                .run(kind, requests, progress)
                .map_err(|e| CachedError::Backend {
                    positions: positions.to_vec(),
                    source: Box::new(e),
                })?;
        if answers.len() != requests.len() {
            return Err(CachedError::Short {
                answered: answers.len(),
                asked: requests.len(),
            });
        }
        self.stats.computed += answers.len();
        Ok(answers)
    }
}

impl<B: Backend> Backend for CachedBackend<B> {
    type Error = CachedError;

    fn info(&self) -> &ModelInfo {
        self.inner.info()
    }

    fn fingerprint(&self) -> Fingerprint {
        self.fingerprint.clone()
    }

    fn supports(&self, kind: RequestKind) -> bool {
        self.inner.supports(kind)
    }

    fn batch_size(&self) -> Option<usize> {
        self.inner.batch_size()
    }

    fn batch_tokens(&self) -> Option<usize> {
        self.inner.batch_tokens()
    }

    fn run(
        &mut self,
        kind: RequestKind,
        requests: &[Request],
        progress: &mut dyn Progress,
    ) -> Result<Vec<Response>, CachedError> {
        if self.interrupted() {
            return Err(CachedError::Interrupted {
                answered: 0,
                total: requests.len(),
            });
        }
        if self.cache.is_none() && self.kept.is_none() {
            // Nothing to look up or keep: the model sees the requests exactly as given.
            return self.call(kind, requests, &[], progress);
        }
        let keys: Vec<String> = requests.iter().map(|r| key(&self.fingerprint, r)).collect();
        let mut out = match &self.cache {
            Some(cache) => cache.get_many(&keys)?,
            None => vec![None; requests.len()],
        };
        let missing: Vec<usize> = (0..requests.len()).filter(|&i| out[i].is_none()).collect();
        let hits = requests.len() - missing.len();
        self.stats.hits += hits;
        if self.cache.is_none() {
            // Keeping only: one call, the model's own batching and progress.
            let answers = self.call(kind, requests, &[], progress)?;
            out = answers.into_iter().map(Some).collect();
        } else if !missing.is_empty() {
            progress.set_total(requests.len() as u64, "requests");
            progress.advance(hits as u64);
            let mut answered = hits;
            for batch in missing.chunks(self.batch) {
                let group: Vec<Request> = batch.iter().map(|&i| requests[i].clone()).collect();
                let answers = self.call(kind, &group, batch, &mut NoProgress)?;
                if let Some(cache) = self.cache.as_mut() {
                    let entries: Vec<(&str, &Response)> = batch
                        .iter()
                        .map(|&i| keys[i].as_str())
                        .zip(answers.iter())
                        .collect();
                    cache.put_many(kind, &entries)?;
                }
                answered += batch.len();
                progress.advance(batch.len() as u64);
                for (&i, a) in batch.iter().zip(answers) {
                    out[i] = Some(a);
                }
                if answered < requests.len() && self.interrupted() {
                    return Err(CachedError::Interrupted {
                        answered,
                        total: requests.len(),
                    });
                }
            }
        }
        let out: Vec<Response> = out
            .into_iter()
            .map(|r| r.expect("every request answered"))
            .collect();
        if let Some(kept) = self.kept.as_mut() {
            for (k, r) in keys.into_iter().zip(&out) {
                kept.insert(k, r.clone());
            }
        }
        Ok(out)
    }
}

/// Answers from responses recorded by earlier runs (shard records), never a model.
pub struct Replay {
    info: ModelInfo,
    fingerprint: Fingerprint,
    responses: HashMap<String, Response>,
    /// The file each response was read from, by key (for error messages).
    sources: HashMap<String, String>,
}

impl Replay {
    pub fn new(
        info: ModelInfo,
        fingerprint: Fingerprint,
        responses: HashMap<String, Response>,
    ) -> Self {
        Self {
            info,
            fingerprint,
            responses,
            sources: HashMap::new(),
        }
    }

    /// Names the file each response came from, by key.
    pub fn with_sources(mut self, sources: HashMap<String, String>) -> Self {
        self.sources = sources;
        self
    }
}

impl Backend for Replay {
    type Error = CachedError;

    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn fingerprint(&self) -> Fingerprint {
        self.fingerprint.clone()
    }

    fn source(&self, request: &Request) -> Option<String> {
        self.sources.get(&key(&self.fingerprint, request)).cloned()
    }

    fn run(
        &mut self,
        _kind: RequestKind,
        requests: &[Request],
        _progress: &mut dyn Progress,
    ) -> Result<Vec<Response>, CachedError> {
        let mut out = Vec::with_capacity(requests.len());
        let mut first = None;
        let mut missing = 0;
        for (i, r) in requests.iter().enumerate() {
            match self.responses.get(&key(&self.fingerprint, r)) {
                Some(response) => out.push(response.clone()),
                None => {
                    first.get_or_insert(i);
                    missing += 1;
                }
            }
        }
        match first {
            None => Ok(out),
            Some(index) => Err(CachedError::Missing {
                index,
                missing,
                total: requests.len(),
            }),
        }
    }
}

#[cfg(test)]
mod tests;
