//! Repo ids (`org/name[@revision]`), their validation, and the names derived from them: the
//! cache folder (`models--org--name`) and the Hub's URLs. Pure: no I/O here.

use std::fmt;
use std::str::FromStr;

use crate::error::{HubError, Target};

/// The revision used when none is given, as in huggingface_hub.
pub const DEFAULT_REVISION: &str = "main";

/// Which kind of Hub repo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RepoType {
    Model,
    Dataset,
}

impl RepoType {
    /// `model` / `dataset`, for messages.
    pub fn singular(self) -> &'static str {
        match self {
            RepoType::Model => "model",
            RepoType::Dataset => "dataset",
        }
    }

    /// `models` / `datasets`: the cache folder prefix and the API path segment.
    pub fn plural(self) -> &'static str {
        match self {
            RepoType::Model => "models",
            RepoType::Dataset => "datasets",
        }
    }
}

/// A repo on the Hub at a revision (branch, tag or 40-hex commit).
///
/// The fields are public for reading; build one with [`RepoId::parse`] (or [`RepoId::new`]),
/// which validates it. [`crate::Hub`] validates again before using one, so a hand-built
/// value with a bad id cannot escape the cache.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RepoId {
    pub kind: RepoType,
    /// `org/name` or `name`.
    pub id: String,
    /// Branch, tag or commit; `main` unless given.
    pub revision: String,
}

impl RepoId {
    /// Validates and builds a repo id.
    pub fn new(
        kind: RepoType,
        id: impl Into<String>,
        revision: impl Into<String>,
    ) -> Result<Self, HubError> {
        let repo = RepoId {
            kind,
            id: id.into(),
            revision: revision.into(),
        };
        repo.validate()?;
        Ok(repo)
    }

    /// Parses `org/name[@revision]`.
    pub fn parse(kind: RepoType, input: &str) -> Result<Self, HubError> {
        let (id, revision) = match input.split_once('@') {
            Some((id, revision)) => (id, revision),
            None => (input, DEFAULT_REVISION),
        };
        let repo = RepoId {
            kind,
            id: id.to_string(),
            revision: revision.to_string(),
        };
        repo.validate().map_err(|e| match e {
            HubError::InvalidRepoId { reason, .. } => HubError::InvalidRepoId {
                input: input.to_string(),
                reason,
            },
            other => other,
        })?;
        Ok(repo)
    }

    /// Parses a model id, `org/name[@revision]`.
    pub fn model(input: &str) -> Result<Self, HubError> {
        Self::parse(RepoType::Model, input)
    }

    /// Parses a dataset id, `org/name[@revision]`.
    pub fn dataset(input: &str) -> Result<Self, HubError> {
        Self::parse(RepoType::Dataset, input)
    }

    /// The same repo at another revision.
    pub fn with_revision(&self, revision: impl Into<String>) -> Result<Self, HubError> {
        Self::new(self.kind, self.id.clone(), revision)
    }

    /// Checks the id and revision (see the crate docs for the rules).
    pub fn validate(&self) -> Result<(), HubError> {
        let invalid = |reason: String| HubError::InvalidRepoId {
            input: self.to_string(),
            reason,
        };
        validate_id(&self.id).map_err(invalid)?;
        validate_revision(&self.revision).map_err(invalid)?;
        Ok(())
    }

    /// The cache folder name: `models--org--name` / `datasets--org--name`.
    pub fn folder_name(&self) -> String {
        format!("{}--{}", self.kind.plural(), self.id.replace('/', "--"))
    }

    /// Whether the revision is itself a commit hash (40 lowercase hex), in which case no
    /// `refs/` file is written or needed.
    pub fn revision_is_commit(&self) -> bool {
        is_commit_hash(&self.revision)
    }

    /// For error messages.
    pub fn target(&self, file: Option<&str>) -> Target {
        Target {
            kind: self.kind,
            repo: self.id.clone(),
            revision: self.revision.clone(),
            file: file.map(str::to_string),
        }
    }

    /// `{endpoint}/{repo}/resolve/{revision}/{path}` (`/datasets/` prefix for datasets). As in
    /// huggingface_hub's `hf_hub_url`, the revision is encoded as one segment (`refs/pr/1` →
    /// `refs%2Fpr%2F1`) and the path per segment.
    pub fn resolve_url(&self, endpoint: &str, path: &str) -> String {
        let prefix = match self.kind {
            RepoType::Model => "",
            RepoType::Dataset => "datasets/",
        };
        format!(
            "{endpoint}/{prefix}{}/resolve/{}/{}",
            self.id,
            encode_segment(&self.revision),
            encode_path(path)
        )
    }

    /// `{endpoint}/api/{models|datasets}/{repo}/revision/{revision}`.
    pub fn info_url(&self, endpoint: &str) -> String {
        format!(
            "{endpoint}/api/{}/{}/revision/{}",
            self.kind.plural(),
            self.id,
            encode_segment(&self.revision)
        )
    }
}

impl fmt::Display for RepoId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.id, self.revision)
    }
}

/// Parses a model id; use [`RepoId::dataset`] for datasets.
impl FromStr for RepoId {
    type Err = HubError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RepoId::model(s)
    }
}

fn valid_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

fn validate_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("the repo id is empty".into());
    }
    if id.starts_with('/') {
        return Err("the repo id starts with `/`".into());
    }
    if id.contains("..") {
        return Err("the repo id contains `..`".into());
    }
    if id.contains("--") {
        // `--` separates org and name in the cache folder name.
        return Err("the repo id contains `--`".into());
    }
    let segments: Vec<&str> = id.split('/').collect();
    if segments.len() > 2 {
        return Err("a repo id has at most one `/` (`org/name`)".into());
    }
    for segment in segments {
        if segment.is_empty() {
            return Err("the repo id has an empty part".into());
        }
        if segment.len() > 96 {
            return Err("a repo id part is longer than 96 characters".into());
        }
        if let Some(c) = segment.chars().find(|&c| !valid_char(c)) {
            return Err(format!(
                "`{c}` is not allowed (only letters, digits, `.`, `_` and `-`)"
            ));
        }
        if segment.starts_with(['.', '-']) || segment.ends_with(['.', '-']) {
            return Err("a repo id part may not start or end with `.` or `-`".into());
        }
    }
    Ok(())
}

fn validate_revision(revision: &str) -> Result<(), String> {
    if revision.is_empty() {
        return Err("the revision is empty".into());
    }
    if revision.starts_with('/') {
        return Err(format!("the revision `{revision}` starts with `/`"));
    }
    for segment in revision.split('/') {
        if segment.is_empty() || segment == "." || segment == ".." {
            return Err(format!(
                "the revision `{revision}` has an empty, `.` or `..` part"
            ));
        }
        if let Some(c) = segment.chars().find(|&c| !valid_char(c)) {
            return Err(format!(
                "`{c}` is not allowed in the revision `{revision}` (only letters, digits, `.`, `_`, `-` and `/`)"
            ));
        }
    }
    Ok(())
}

/// 40 lowercase hex digits: a git commit hash (or a git blob sha1).
pub fn is_commit_hash(s: &str) -> bool {
    is_lower_hex(s, 40)
}

pub(crate) fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Checks a file path inside a repo (from a caller or from a listing) so that joining it to a
/// snapshot directory cannot escape it: relative, `/`-separated, no empty, `.` or `..` part,
/// no backslash, no NUL.
pub fn validate_file_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("the file name is empty".into());
    }
    if path.starts_with('/') {
        return Err("absolute paths are not allowed".into());
    }
    if path.contains('\\') {
        return Err("backslashes are not allowed".into());
    }
    if path.contains('\0') {
        return Err("NUL bytes are not allowed".into());
    }
    for segment in path.split('/') {
        match segment {
            "" => {
                return Err("empty path components (`//` or a trailing `/`) are not allowed".into())
            }
            "." | ".." => return Err(format!("`{segment}` path components are not allowed")),
            _ => {}
        }
    }
    // A Windows drive prefix (`C:`) would make `Path::join` replace the snapshot directory.
    if cfg!(windows) && path.contains(':') {
        return Err("`:` is not allowed".into());
    }
    Ok(())
}

/// Percent-encodes everything but RFC 3986 unreserved characters (Python's
/// `quote(s, safe="")`).
pub(crate) fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Encodes each `/`-separated segment (Python's `quote(s)`, whose default keeps `/`).
pub(crate) fn encode_path(path: &str) -> String {
    path.split('/')
        .map(encode_segment)
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ids_and_revisions() {
        let r = RepoId::model("org/name").unwrap();
        assert_eq!(
            (r.kind, r.id.as_str(), r.revision.as_str()),
            (RepoType::Model, "org/name", "main")
        );
        let r = RepoId::dataset("glue@refs/convert/parquet").unwrap();
        assert_eq!(r.id, "glue");
        assert_eq!(r.revision, "refs/convert/parquet");
        assert_eq!(r.folder_name(), "datasets--glue");
        let r: RepoId = "sentence-transformers/all-MiniLM-L6-v2@v1.0"
            .parse()
            .unwrap();
        assert_eq!(
            r.folder_name(),
            "models--sentence-transformers--all-MiniLM-L6-v2"
        );
    }

    #[test]
    fn rejects_bad_ids() {
        for bad in [
            "", "/abs", "a/b/c", "a/../b", "..", "a//b", "a/b@", "a b", "a/b@../x", "a/b@/x",
            "a--b/c", "a/b@x//y", "-a/b", "a\\b",
        ] {
            assert!(RepoId::model(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn builds_urls_like_huggingface_hub() {
        let r = RepoId::model("org/name@refs/pr/1").unwrap();
        assert_eq!(
            r.resolve_url("http://h", "dir/a b.txt"),
            "http://h/org/name/resolve/refs%2Fpr%2F1/dir/a%20b.txt"
        );
        let d = RepoId::dataset("org/data").unwrap();
        assert_eq!(
            d.resolve_url("http://h", "x.parquet"),
            "http://h/datasets/org/data/resolve/main/x.parquet"
        );
        assert_eq!(
            d.info_url("http://h"),
            "http://h/api/datasets/org/data/revision/main"
        );
    }

    #[test]
    fn file_paths_cannot_escape() {
        for bad in ["../evil", "/abs", "a/../b", "a//b", "a\\b", "", "a/", "./a"] {
            assert!(validate_file_path(bad).is_err(), "{bad:?}");
        }
        for good in ["config.json", "onnx/model.onnx", "a..b", ".gitattributes"] {
            assert!(validate_file_path(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn commit_hashes() {
        assert!(is_commit_hash(&"a".repeat(40)));
        assert!(!is_commit_hash(&"A".repeat(40)));
        assert!(!is_commit_hash("main"));
    }
}
