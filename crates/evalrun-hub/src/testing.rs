//! A fake Hugging Face Hub for tests (feature `testing`): a real HTTP/1.1 server on
//! `127.0.0.1:0` (std `TcpListener`, one thread per connection, `Connection: close`) that
//! serves the Hub's URL scheme and headers from in-memory repos, logs every request, and
//! injects faults (dropped connections, error statuses, corrupted bytes, delays, redirects).
//!
//! It never reaches beyond the loopback interface and is not meant for production use.
//!
//! ```no_run
//! use evalrun_hub::testing::{FakeRepo, HubServer};
//! use evalrun_hub::RepoType;
//! let server = HubServer::start(vec![FakeRepo::new(RepoType::Model, "org/tiny")
//!     .file("config.json", b"{}".to_vec(), false)
//!     .file("model.onnx", vec![0u8; 1024], true)]);
//! let endpoint = server.endpoint(); // http://127.0.0.1:PORT
//! # drop(endpoint);
//! ```

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::hub::hex;
use crate::repo::RepoType;

/// A token the server accepts for gated repos unless told otherwise ([`HubServer::add_token`]).
pub const TEST_TOKEN: &str = "hf_evalrunTestToken0123456789abcdef";

/// sha256 of `bytes`, lowercase hex (an LFS file's etag).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Git blob id of `bytes`: sha1 of `"blob <len>\0" + bytes` (a non-LFS file's etag).
pub fn git_blob_sha1(bytes: &[u8]) -> String {
    let mut hasher = Sha1::new();
    hasher.update(format!("blob {}\0", bytes.len()).as_bytes());
    hasher.update(bytes);
    hex(&hasher.finalize())
}

/// An in-memory repo served by [`HubServer`].
#[derive(Debug, Clone)]
pub struct FakeRepo {
    pub kind: RepoType,
    pub id: String,
    /// 40 hex; the server answers for revision `main` and for this commit.
    pub commit: String,
    /// `(path, bytes, lfs)`. LFS files are served through a redirect to `/cdn/<sha256>`.
    pub files: Vec<(String, Vec<u8>, bool)>,
    /// Resolve requests need `Authorization: Bearer <accepted token>`.
    pub gated: bool,
}

impl FakeRepo {
    /// An empty repo whose commit is derived from its id (stable across runs).
    pub fn new(kind: RepoType, id: &str) -> Self {
        let commit = hex(&Sha1::digest(
            format!("evalrun fake commit {id}").as_bytes(),
        ));
        FakeRepo {
            kind,
            id: id.to_string(),
            commit,
            files: Vec::new(),
            gated: false,
        }
    }

    /// Adds a file (any path, even one a client must refuse, such as `../evil`).
    pub fn file(mut self, path: &str, bytes: impl Into<Vec<u8>>, lfs: bool) -> Self {
        self.files.push((path.to_string(), bytes.into(), lfs));
        self
    }

    pub fn gated(mut self) -> Self {
        self.gated = true;
        self
    }

    pub fn with_commit(mut self, commit: &str) -> Self {
        self.commit = commit.to_string();
        self
    }

    /// The etag the server reports for `path`: sha256 for LFS files, git blob sha1 otherwise.
    pub fn etag(&self, path: &str) -> Option<String> {
        self.files.iter().find(|f| f.0 == path).map(|(_, b, lfs)| {
            if *lfs {
                sha256_hex(b)
            } else {
                git_blob_sha1(b)
            }
        })
    }
}

/// A fault applied to the next matching request(s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Send the headers (with the full `Content-Length`) and this many body bytes, then close
    /// the socket. `GET` only.
    DropAfter(usize),
    /// Answer with this status and an empty body (any method).
    Status(u16),
    /// Serve corrupted bytes (same length) with the right headers. `GET` only.
    WrongBytes,
    /// Wait this long before answering normally (any method).
    Delay(Duration),
    /// Answer `307` with this `Location` (relative or absolute), as the Hub does for a
    /// renamed repo (any method).
    Redirect(String),
    /// Ignore any `Range` header (answer 200 with the full `Content-Length`), send this many
    /// body bytes, then close. `GET` only.
    TruncateIgnoringRange(usize),
    /// Send the headers, then one body byte per interval. `GET` only.
    Drip(Duration),
    /// Read the request, then send nothing for this long and close (any method).
    Hang(Duration),
    /// Answer this status with this `X-Error-Message` (any method).
    ErrorMessage(u16, String),
}

impl Fault {
    fn applies_to(&self, method: &str) -> bool {
        match self {
            Fault::DropAfter(_)
            | Fault::WrongBytes
            | Fault::TruncateIgnoringRange(_)
            | Fault::Drip(_) => method == "GET",
            Fault::Status(_) | Fault::Delay(_) | Fault::Redirect(_) | Fault::Hang(_) => true,
            Fault::ErrorMessage(..) => true,
        }
    }
}

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLog {
    pub method: String,
    /// The request target as sent (percent-encoded, with any query).
    pub path: String,
    /// The `Range` header, if any.
    pub range: Option<String>,
    /// Whether an `Authorization` header was sent (its value is not kept).
    pub authorization: bool,
}

struct PendingFault {
    suffix: String,
    fault: Fault,
    remaining: usize,
}

struct State {
    repos: Vec<FakeRepo>,
    endpoint: String,
    tokens: Mutex<Vec<String>>,
    log: Mutex<Vec<RequestLog>>,
    faults: Mutex<Vec<PendingFault>>,
    stopping: AtomicBool,
}

/// The fake Hub. Stops on [`HubServer::stop`] or drop; connections are refused after that.
pub struct HubServer {
    addr: SocketAddr,
    state: Arc<State>,
    accept: Option<JoinHandle<()>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl HubServer {
    /// Binds `127.0.0.1:0` and serves `repos`. Gated repos accept [`TEST_TOKEN`].
    pub fn start(repos: Vec<FakeRepo>) -> HubServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let state = Arc::new(State {
            repos,
            endpoint: format!("http://{addr}"),
            tokens: Mutex::new(vec![TEST_TOKEN.to_string()]),
            log: Mutex::new(Vec::new()),
            faults: Mutex::new(Vec::new()),
            stopping: AtomicBool::new(false),
        });
        let accept_state = Arc::clone(&state);
        let accept = std::thread::Builder::new()
            .name("fake-hub-accept".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if accept_state.stopping.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let state = Arc::clone(&accept_state);
                    let _ = std::thread::Builder::new()
                        .name("fake-hub-conn".into())
                        .spawn(move || handle_connection(stream, &state));
                }
                // The listener is dropped here: later connections are refused.
            })
            .expect("spawn the accept thread");
        HubServer {
            addr,
            state,
            accept: Some(accept),
        }
    }

    /// `http://127.0.0.1:PORT`, to use as `HF_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        self.state.endpoint.clone()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RequestLog> {
        lock(&self.state.log).clone()
    }

    pub fn clear_requests(&self) {
        lock(&self.state.log).clear();
    }

    /// Accepts another bearer token for gated repos.
    pub fn add_token(&self, token: &str) {
        lock(&self.state.tokens).push(token.to_string());
    }

    /// Applies `fault` to the next request whose path (or full URL) ends with
    /// `path_or_url_suffix` and to which the fault applies.
    pub fn inject(&self, path_or_url_suffix: &str, fault: Fault) {
        self.inject_n(path_or_url_suffix, fault, 1);
    }

    /// Like [`HubServer::inject`], for the next `times` matching requests.
    pub fn inject_n(&self, path_or_url_suffix: &str, fault: Fault, times: usize) {
        let suffix = match path_or_url_suffix.strip_prefix(&self.state.endpoint) {
            Some(path) => path.to_string(),
            None => path_or_url_suffix.to_string(),
        };
        lock(&self.state.faults).push(PendingFault {
            suffix,
            fault,
            remaining: times,
        });
    }

    /// Stops accepting connections and waits for the accept thread; later connections are
    /// refused. Requests already being answered finish on their own.
    pub fn stop(&mut self) {
        if let Some(accept) = self.accept.take() {
            self.state.stopping.store(true, Ordering::SeqCst);
            // Wake the blocking accept().
            let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
            let _ = accept.join();
        }
    }
}

impl Drop for HubServer {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Request {
    method: String,
    target: String,
    headers: HashMap<String, String>,
}

fn read_request(stream: &TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = HashMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            break;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    // HEAD and GET only: no request body to read.
    Some(Request {
        method,
        target,
        headers,
    })
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn new(status: u16) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    fn body(mut self, body: Vec<u8>) -> Self {
        self.body = body;
        self
    }

    fn error(status: u16, code: &str, message: &str) -> Self {
        Reply::new(status)
            .header("X-Error-Code", code)
            .header("X-Error-Message", message)
            .header("Content-Type", "application/json")
            .body(
                serde_json::json!({ "error": message })
                    .to_string()
                    .into_bytes(),
            )
    }
}

fn handle_connection(stream: TcpStream, state: &State) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Some(request) = read_request(&stream) else {
        return;
    };
    let authorization = request.headers.get("authorization").cloned();
    lock(&state.log).push(RequestLog {
        method: request.method.clone(),
        path: request.target.clone(),
        range: request.headers.get("range").cloned(),
        authorization: authorization.is_some(),
    });

    let fault = take_fault(state, &request);
    let mut drop_after = None;
    let mut corrupt = false;
    let mut drip = None;
    let reply = match fault {
        Some(Fault::Hang(duration)) => {
            std::thread::sleep(duration);
            return;
        }
        Some(Fault::ErrorMessage(code, message)) => Reply::error(code, "TestError", &message),
        Some(Fault::TruncateIgnoringRange(n)) => {
            drop_after = Some(n);
            let mut request = Request {
                method: request.method.clone(),
                target: request.target.clone(),
                headers: request.headers.clone(),
            };
            request.headers.remove("range");
            route(state, &request, authorization.as_deref())
        }
        Some(Fault::Drip(interval)) => {
            drip = Some(interval);
            route(state, &request, authorization.as_deref())
        }
        Some(Fault::Status(code)) => Reply::new(code),
        Some(Fault::Redirect(location)) => Reply::new(307).header("Location", location),
        Some(Fault::Delay(delay)) => {
            std::thread::sleep(delay);
            route(state, &request, authorization.as_deref())
        }
        Some(Fault::DropAfter(n)) => {
            drop_after = Some(n);
            route(state, &request, authorization.as_deref())
        }
        Some(Fault::WrongBytes) => {
            corrupt = true;
            route(state, &request, authorization.as_deref())
        }
        None => route(state, &request, authorization.as_deref()),
    };
    let _ = write_reply(&stream, &request, reply, drop_after, corrupt, drip);
    let _ = stream.shutdown(Shutdown::Both);
}

fn take_fault(state: &State, request: &Request) -> Option<Fault> {
    let mut faults = lock(&state.faults);
    let path = request.target.split('?').next().unwrap_or("");
    let index = faults.iter().position(|f| {
        f.remaining > 0
            && f.fault.applies_to(&request.method)
            && (path.ends_with(&f.suffix) || request.target.ends_with(&f.suffix))
    })?;
    let pending = &mut faults[index];
    pending.remaining -= 1;
    let fault = pending.fault.clone();
    if pending.remaining == 0 {
        faults.remove(index);
    }
    Some(fault)
}

fn write_reply(
    mut stream: &TcpStream,
    request: &Request,
    reply: Reply,
    drop_after: Option<usize>,
    corrupt: bool,
    drip: Option<Duration>,
) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
    let has_length = reply
        .headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-length"));
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !has_length {
        head.push_str(&format!("Content-Length: {}\r\n", reply.body.len()));
    }
    head.push_str("Connection: close\r\n\r\n");
    stream.write_all(head.as_bytes())?;
    if request.method == "HEAD" {
        return stream.flush();
    }
    let mut body = reply.body;
    if corrupt {
        for b in &mut body {
            *b ^= 0x5a;
        }
    }
    let end = drop_after.map_or(body.len(), |n| n.min(body.len()));
    if let Some(interval) = drip {
        stream.flush()?;
        for byte in &body[..end] {
            std::thread::sleep(interval);
            stream.write_all(std::slice::from_ref(byte))?;
            stream.flush()?;
        }
        return Ok(());
    }
    stream.write_all(&body[..end])?;
    stream.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        302 => "Found",
        307 => "Temporary Redirect",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        416 => "Range Not Satisfiable",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex_digit = |b: u8| (b as char).to_digit(16);
            if let (Some(hi), Some(lo)) = (hex_digit(bytes[i + 1]), hex_digit(bytes[i + 2])) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn route(state: &State, request: &Request, authorization: Option<&str>) -> Reply {
    if request.method != "GET" && request.method != "HEAD" {
        return Reply::new(405);
    }
    let path = request.target.split('?').next().unwrap_or("");
    let range = request.headers.get("range").map(String::as_str);

    if let Some(sha) = path.strip_prefix("/cdn/") {
        let file = state
            .repos
            .iter()
            .flat_map(|r| r.files.iter())
            .find(|(_, bytes, lfs)| *lfs && sha256_hex(bytes) == sha);
        return match file {
            Some((_, bytes, _)) => serve_bytes(bytes, range).header("ETag", format!("\"{sha}\"")),
            None => Reply::error(404, "EntryNotFound", "No such object"),
        };
    }
    for (prefix, kind) in [
        ("/api/models/", RepoType::Model),
        ("/api/datasets/", RepoType::Dataset),
    ] {
        if let Some(rest) = path.strip_prefix(prefix) {
            return listing(state, kind, rest);
        }
    }
    resolve(state, path, range, authorization)
}

fn find_repo<'a>(state: &'a State, kind: RepoType, id: &str) -> Option<&'a FakeRepo> {
    state.repos.iter().find(|r| r.kind == kind && r.id == id)
}

fn known_revision(repo: &FakeRepo, revision: &str) -> bool {
    revision == "main" || revision == repo.commit
}

fn listing(state: &State, kind: RepoType, rest: &str) -> Reply {
    let Some((id, revision)) = rest.split_once("/revision/") else {
        return Reply::error(404, "EntryNotFound", "Unknown API route");
    };
    let revision = percent_decode(revision);
    let Some(repo) = find_repo(state, kind, id) else {
        return Reply::error(404, "RepoNotFound", &format!("Repository {id} not found"));
    };
    if !known_revision(repo, &revision) {
        return Reply::error(
            404,
            "RevisionNotFound",
            &format!("Invalid rev id: {revision}"),
        );
    }
    let siblings: Vec<_> = repo
        .files
        .iter()
        .map(|(path, _, _)| serde_json::json!({ "rfilename": path }))
        .collect();
    let body = serde_json::json!({
        "_id": repo.commit[..24],
        "id": repo.id,
        "sha": repo.commit,
        "private": false,
        "gated": if repo.gated { serde_json::json!("manual") } else { serde_json::json!(false) },
        "siblings": siblings,
    });
    Reply::new(200)
        .header("Content-Type", "application/json")
        .body(body.to_string().into_bytes())
}

fn resolve(state: &State, path: &str, range: Option<&str>, authorization: Option<&str>) -> Reply {
    let mut segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let kind = if segments.first() == Some(&"datasets") {
        segments.remove(0);
        RepoType::Dataset
    } else {
        RepoType::Model
    };
    let Some(at) = segments
        .iter()
        .position(|s| *s == "resolve")
        .filter(|&i| (1..=2).contains(&i) && segments.len() > i + 2)
    else {
        return Reply::error(404, "EntryNotFound", "Unknown route");
    };
    let id = segments[..at].join("/");
    let revision = percent_decode(segments[at + 1]);
    let file: Vec<String> = segments[at + 2..]
        .iter()
        .map(|s| percent_decode(s))
        .collect();
    let file = file.join("/");

    let Some(repo) = find_repo(state, kind, &id) else {
        return Reply::error(404, "RepoNotFound", &format!("Repository {id} not found"));
    };
    if repo.gated {
        let tokens = lock(&state.tokens);
        let ok = authorization
            .and_then(|a| a.strip_prefix("Bearer "))
            .is_some_and(|t| tokens.iter().any(|k| k == t));
        if !ok {
            return Reply::error(
                401,
                "GatedRepo",
                &format!("Access to model {id} is restricted. You must have access to it and be authenticated to access it. Please log in."),
            );
        }
    }
    if !known_revision(repo, &revision) {
        return Reply::error(
            404,
            "RevisionNotFound",
            &format!("Invalid rev id: {revision}"),
        );
    }
    let Some((_, bytes, lfs)) = repo.files.iter().find(|f| f.0 == file) else {
        return Reply::error(
            404,
            "EntryNotFound",
            &format!("{file} does not exist on \"{revision}\""),
        );
    };
    if *lfs {
        let sha = sha256_hex(bytes);
        let pointer = format!(
            "version https://git-lfs.github.com/spec/v1\noid sha256:{sha}\nsize {}\n",
            bytes.len()
        );
        Reply::new(302)
            .header("Location", format!("{}/cdn/{sha}", state.endpoint))
            .header("X-Repo-Commit", repo.commit.clone())
            .header("X-Linked-Etag", format!("\"{sha}\""))
            .header("X-Linked-Size", bytes.len().to_string())
            .header("ETag", format!("\"{}\"", git_blob_sha1(pointer.as_bytes())))
    } else {
        serve_bytes(bytes, range)
            .header("X-Repo-Commit", repo.commit.clone())
            .header("ETag", format!("\"{}\"", git_blob_sha1(bytes)))
    }
}

/// 200 with the bytes, or 206/416 for a `Range: bytes=N-[M]` header.
fn serve_bytes(bytes: &[u8], range: Option<&str>) -> Reply {
    let len = bytes.len();
    let parsed = range.and_then(|r| r.strip_prefix("bytes=")).map(|spec| {
        let (start, end) = spec.split_once('-').unwrap_or((spec, ""));
        let start = start.trim().parse::<usize>().ok();
        let end = end.trim().parse::<usize>().ok();
        (start, end)
    });
    match parsed {
        Some((Some(start), end)) => {
            if start >= len {
                return Reply::new(416).header("Content-Range", format!("bytes */{len}"));
            }
            let end = end.map_or(len - 1, |e| e.min(len - 1));
            Reply::new(206)
                .header("Accept-Ranges", "bytes")
                .header("Content-Range", format!("bytes {start}-{end}/{len}"))
                .body(bytes[start..=end].to_vec())
        }
        _ => Reply::new(200)
            .header("Accept-Ranges", "bytes")
            .body(bytes.to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_percent_escapes() {
        assert_eq!(percent_decode("refs%2Fpr%2F1"), "refs/pr/1");
        assert_eq!(percent_decode("a%20b"), "a b");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%4"), "%4");
    }

    #[test]
    fn ranges() {
        let r = serve_bytes(b"abcdef", Some("bytes=2-"));
        assert_eq!((r.status, r.body.as_slice()), (206, &b"cdef"[..]));
        let r = serve_bytes(b"abcdef", Some("bytes=6-"));
        assert_eq!(r.status, 416);
        let r = serve_bytes(b"abcdef", None);
        assert_eq!(r.status, 200);
    }
}
