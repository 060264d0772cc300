//! Settings for [`crate::Hub`]: endpoint, token, cache directory, offline mode, retries and
//! timeouts. [`HubConfig::from_env`] reads huggingface_hub's environment variables; every
//! field is public so callers (and tests) can set them explicitly instead.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// The public Hub.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// An access token. Its `Debug` is redacted and it has no `Display`, so it cannot end up in
/// a log line or an error message by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    pub fn new(token: impl Into<String>) -> Self {
        Token(token.into())
    }

    /// The secret itself, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// How [`crate::Hub`] reaches the Hub and where it caches.
#[derive(Clone)]
pub struct HubConfig {
    /// Base URL without a trailing slash (`HF_ENDPOINT`).
    pub endpoint: String,
    /// Sent as `Authorization: Bearer …` to the endpoint only (`HF_TOKEN`).
    pub token: Option<Token>,
    /// The huggingface_hub cache (`HF_HUB_CACHE`, `HF_HOME/hub`, ...).
    pub cache_dir: PathBuf,
    /// Never touch the network (`HF_HUB_OFFLINE`, or the CLI's `--offline`).
    pub offline: bool,
    /// Retries after the first attempt, for 5xx, 408, 429, timeouts and connection errors.
    pub max_retries: u32,
    /// First backoff delay; doubles after each failure up to `backoff_max`.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    pub connect_timeout: Duration,
    /// Longest wait for response headers or for any single read of a body.
    pub read_timeout: Duration,
    /// A download attempt that receives fewer than `stall_bytes` in any window this long is
    /// cut and counts as a failure (a server that drips bytes).
    pub stall_window: Duration,
    pub stall_bytes: u64,
    /// A file (or request) that has made no progress for this long is given up, however many
    /// retries are left (a server that hangs, or truncates every body).
    pub no_progress_deadline: Duration,
    /// Show indicatif progress bars on stderr (they hide themselves when stderr is not a
    /// terminal).
    pub progress: bool,
}

impl fmt::Debug for HubConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubConfig")
            .field("endpoint", &self.endpoint)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("cache_dir", &self.cache_dir)
            .field("offline", &self.offline)
            .field("max_retries", &self.max_retries)
            .field("backoff_base", &self.backoff_base)
            .field("backoff_max", &self.backoff_max)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("stall_window", &self.stall_window)
            .field("stall_bytes", &self.stall_bytes)
            .field("no_progress_deadline", &self.no_progress_deadline)
            .field("progress", &self.progress)
            .finish()
    }
}

impl HubConfig {
    /// Defaults plus an explicit cache directory; reads no environment variable.
    pub fn new(cache_dir: impl Into<PathBuf>) -> Self {
        HubConfig {
            endpoint: DEFAULT_ENDPOINT.to_string(),
            token: None,
            cache_dir: cache_dir.into(),
            offline: false,
            max_retries: 5,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(8),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(20),
            stall_window: Duration::from_secs(30),
            stall_bytes: 64 * 1024,
            no_progress_deadline: Duration::from_secs(90),
            progress: true,
        }
    }

    /// Reads `HF_ENDPOINT`, `HF_TOKEN`, `HF_HUB_CACHE` (legacy `HUGGINGFACE_HUB_CACHE`),
    /// `HF_HOME`, `XDG_CACHE_HOME`, `HOME` and `HF_HUB_OFFLINE` with huggingface_hub's rules.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`HubConfig::from_env`] with the variables supplied by `lookup` (for tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let var = |name: &str| lookup(name).filter(|v| !v.is_empty());
        let home = var("HOME").map(PathBuf::from);
        let expand = |value: String| -> PathBuf {
            // os.path.expanduser, for the common `~/...` form.
            match (value.strip_prefix("~/"), &home) {
                (Some(rest), Some(home)) => home.join(rest),
                _ if value == "~" && home.is_some() => home.clone().unwrap_or_default(),
                _ => PathBuf::from(value),
            }
        };
        let hf_home = var("HF_HOME").map(expand).unwrap_or_else(|| {
            let cache = var("XDG_CACHE_HOME")
                .map(expand)
                .or_else(|| home.as_ref().map(|h| h.join(".cache")))
                .unwrap_or_else(|| PathBuf::from(".cache"));
            cache.join("huggingface")
        });
        let cache_dir = var("HF_HUB_CACHE")
            .or_else(|| var("HUGGINGFACE_HUB_CACHE"))
            .map(expand)
            .unwrap_or_else(|| hf_home.join("hub"));

        let mut config = HubConfig::new(cache_dir);
        if let Some(endpoint) = var("HF_ENDPOINT") {
            config.endpoint = endpoint.trim_end_matches('/').to_string();
        }
        config.token = var("HF_TOKEN").map(|t| Token::new(t.trim()));
        config.offline = var("HF_HUB_OFFLINE").is_some_and(|v| is_truthy(&v));
        config
    }

    /// Sets the endpoint, trimming a trailing `/`.
    pub fn with_endpoint(mut self, endpoint: &str) -> Self {
        self.endpoint = endpoint.trim_end_matches('/').to_string();
        self
    }

    pub fn with_token(mut self, token: Option<Token>) -> Self {
        self.token = token;
        self
    }

    pub fn with_offline(mut self, offline: bool) -> Self {
        self.offline = offline;
        self
    }
}

/// huggingface_hub's `_is_true`: `1`, `ON`, `YES`, `TRUE`, any case.
fn is_truthy(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_uppercase().as_str(),
        "1" | "ON" | "YES" | "TRUE"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> HubConfig {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        HubConfig::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn cache_dir_follows_huggingface_hub_rules() {
        let home = [("HOME", "/home/u")];
        assert_eq!(
            config(&home).cache_dir,
            PathBuf::from("/home/u/.cache/huggingface/hub")
        );
        assert_eq!(
            config(&[("HOME", "/home/u"), ("XDG_CACHE_HOME", "/x")]).cache_dir,
            PathBuf::from("/x/huggingface/hub")
        );
        assert_eq!(
            config(&[
                ("XDG_CACHE_HOME", "/x"),
                ("HF_HOME", "~/hf"),
                ("HOME", "/h")
            ])
            .cache_dir,
            PathBuf::from("/h/hf/hub")
        );
        assert_eq!(
            config(&[("HF_HOME", "/hf"), ("HF_HUB_CACHE", "/c")]).cache_dir,
            PathBuf::from("/c")
        );
    }

    #[test]
    fn endpoint_token_offline() {
        let c = config(&[
            ("HF_ENDPOINT", "http://127.0.0.1:9/"),
            ("HF_TOKEN", "hf_secret"),
            ("HF_HUB_OFFLINE", "yes"),
        ]);
        assert_eq!(c.endpoint, "http://127.0.0.1:9");
        assert_eq!(c.token.as_ref().map(Token::expose), Some("hf_secret"));
        assert!(c.offline);
        let debug = format!("{c:?} {:?}", c.token);
        assert!(!debug.contains("hf_secret"), "{debug}");

        let c = config(&[("HF_HUB_OFFLINE", "0")]);
        assert!(!c.offline);
        assert_eq!(c.endpoint, DEFAULT_ENDPOINT);
        assert!(c.token.is_none());
        for v in ["1", "ON", "True", "yes"] {
            assert!(config(&[("HF_HUB_OFFLINE", v)]).offline, "{v}");
        }
    }
}
