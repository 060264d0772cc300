//! The crate's error type. Messages are sentences with the offending values in backticks;
//! no variant ever carries the access token (URLs never contain it and headers are never
//! copied into an error).

use std::fmt;
use std::path::PathBuf;

use crate::repo::RepoType;

/// What a request was about: a repo at a revision, and optionally one file in it.
///
/// Its `Display` is used inside error messages: ``file `config.json` of model `org/name` (revision `main`)``.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub kind: RepoType,
    pub repo: String,
    pub revision: String,
    pub file: Option<String>,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "file `{file}` of ")?;
        }
        write!(
            f,
            "{} `{}` (revision `{}`)",
            self.kind.singular(),
            self.repo,
            self.revision
        )
    }
}

/// Everything that can go wrong while talking to the Hub or using its cache.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// A repo id (`org/name[@revision]`) or revision that could be used to escape the cache
    /// or that the Hub would not accept.
    #[error("invalid repo id `{input}`: {reason}")]
    InvalidRepoId { input: String, reason: String },

    /// A file name (asked for by a caller or returned by a listing) that would escape the
    /// snapshot directory.
    #[error("refusing file name `{path}` in {repo}: {reason}")]
    UnsafePath {
        repo: String,
        path: String,
        reason: String,
    },

    /// 404: the repo, revision or file does not exist (or, for a private repo, the token
    /// does not give access to it).
    #[error(
        "{target} was not found on the Hub ({}, HTTP {status}){hint}",
        code.as_deref().unwrap_or("no error code")
    )]
    NotFound {
        target: Box<Target>,
        status: u16,
        code: Option<String>,
        hint: &'static str,
    },

    /// 401/403: authentication is required, the token is invalid, or the repo is gated and
    /// its terms have not been accepted.
    #[error(
        "access to {target} was refused (HTTP {status}{}): {}",
        code.as_deref().map(|c| format!(", {c}")).unwrap_or_default(),
        unauthorized_hint(*gated, *token_sent)
    )]
    Unauthorized {
        target: Box<Target>,
        status: u16,
        code: Option<String>,
        /// The repo is gated (`X-Error-Code: GatedRepo`).
        gated: bool,
        /// Whether a token was sent with the request (the token itself is never kept).
        token_sent: bool,
    },

    /// Any other HTTP error that retrying does not fix (4xx other than 401/403/404/408/429).
    #[error(
        "the Hub answered HTTP {status} for {target}{}",
        message.as_deref().map(|m| format!(": {m}")).unwrap_or_default()
    )]
    Http {
        target: Box<Target>,
        status: u16,
        message: Option<String>,
    },

    /// 5xx, timeouts and connection errors that persisted through every retry, or a
    /// failure that retrying cannot fix (the host name does not resolve).
    #[error(
        "could not reach the Hub at `{endpoint}` for {target} after {attempts} attempt{}: {detail}. Without network, run with `--offline` (HF_HUB_OFFLINE=1) on a filled cache, or fetch the model once where the Hub is reachable (`evalrun fetch`) and copy the cache",
        if *attempts == 1 { "" } else { "s" }
    )]
    Network {
        target: Box<Target>,
        endpoint: String,
        attempts: u32,
        detail: String,
    },

    /// The downloaded bytes do not hash to the file's etag. Nothing was kept.
    #[error(
        "checksum mismatch for {target}: expected {algorithm} `{expected}`, got `{actual}`; the partial download was deleted"
    )]
    Checksum {
        target: Box<Target>,
        algorithm: &'static str,
        expected: String,
        actual: String,
    },

    /// Offline mode (HF_HUB_OFFLINE or `--offline`) and the file is not in the cache.
    #[error(
        "{target} is not in the Hub cache `{}` and offline mode is on (HF_HUB_OFFLINE or --offline); download it once while online or point HF_HUB_CACHE at a cache that has it",
        cache_dir.display()
    )]
    Offline {
        target: Box<Target>,
        cache_dir: PathBuf,
    },

    /// The server's answer was not what the Hub protocol promises (missing commit or etag,
    /// malformed JSON...).
    #[error("unexpected answer from the Hub for {target}: {reason}")]
    BadResponse { target: Box<Target>, reason: String },

    /// The HTTP client could not be built (TLS initialisation).
    #[error("could not initialise the HTTP client: {0}")]
    Client(String),

    #[error("I/O error on `{}`: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn unauthorized_hint(gated: bool, token_sent: bool) -> &'static str {
    match (gated, token_sent) {
        (true, false) => "the repo is gated: set HF_TOKEN to a Hugging Face access token of an account that accepted the model's terms on its Hub page",
        (true, true) => "the repo is gated and the token in HF_TOKEN does not give access: accept the model's terms on its Hub page with that account",
        (false, false) => "set HF_TOKEN to a Hugging Face access token that can read this repo (and accept the model's terms on its Hub page if it is gated)",
        (false, true) => "the token in HF_TOKEN was refused: check that it is valid and can read this repo (and accept the model's terms if it is gated)",
    }
}

impl HubError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        HubError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Builds the error for a non-retryable HTTP status. `code` is the Hub's `X-Error-Code`.
pub(crate) fn status_error(
    target: Target,
    status: u16,
    code: Option<String>,
    message: Option<String>,
    token_sent: bool,
) -> HubError {
    let target = Box::new(target);
    match (status, code.as_deref()) {
        // The Hub answers 401 + RepoNotFound for repos that are private or do not exist.
        (401, Some("RepoNotFound")) | (404, _) => {
            let hint = match (code.as_deref(), token_sent) {
                (Some("RepoNotFound"), false) => {
                    "; if the repo is private, set HF_TOKEN to a token that can read it"
                }
                (Some("RevisionNotFound"), _) => "; check the revision (branch, tag or commit)",
                _ => "",
            };
            HubError::NotFound {
                target,
                status,
                code,
                hint,
            }
        }
        (401 | 403, _) => HubError::Unauthorized {
            gated: code.as_deref() == Some("GatedRepo"),
            target,
            status,
            code,
            token_sent,
        },
        _ => HubError::Http {
            target,
            status,
            message,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(file: Option<&str>) -> Target {
        Target {
            kind: RepoType::Model,
            repo: "org/name".into(),
            revision: "main".into(),
            file: file.map(Into::into),
        }
    }

    #[test]
    fn messages_name_repo_revision_and_file() {
        let e = status_error(
            target(Some("a.bin")),
            404,
            Some("EntryNotFound".into()),
            None,
            false,
        );
        let s = e.to_string();
        assert!(s.contains("`a.bin`") && s.contains("`org/name`") && s.contains("`main`"));
        assert!(s.contains("EntryNotFound"), "{s}");

        let e = status_error(target(None), 401, Some("GatedRepo".into()), None, false);
        assert!(matches!(e, HubError::Unauthorized { gated: true, .. }));
        let s = e.to_string();
        assert!(s.contains("HF_TOKEN") && s.contains("terms"), "{s}");

        let e = status_error(target(None), 401, Some("RepoNotFound".into()), None, false);
        assert!(matches!(e, HubError::NotFound { .. }), "{e}");
    }
}
