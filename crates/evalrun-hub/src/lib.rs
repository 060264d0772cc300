//! A Hugging Face Hub client whose cache is the one Python's `huggingface_hub` uses.
//!
//! It owns: repo ids, the Hub's HTTP protocol (resolve URLs, `HEAD` metadata, the listing
//! API, error codes), retries with backoff, resumable and verified downloads, and the cache
//! layout (`blobs/`, `snapshots/`, `refs/`, `.locks/`). It must not know about tasks, models
//! or ONNX Runtime; callers get file paths back.
//!
//! A cache written by huggingface_hub is used as-is and one written here is usable by
//! huggingface_hub. Downloads are **cache-first**: when the revision's commit is known
//! locally and the file is in its snapshot, no request is made (see [`Hub::download`] and
//! [`Hub::refresh`]).
//!
//! ```no_run
//! use evalrun_hub::{Hub, HubConfig, RepoId};
//! let hub = Hub::new(HubConfig::from_env())?;
//! let repo = RepoId::model("sentence-transformers/all-MiniLM-L6-v2@main")?;
//! let config = hub.download(&repo, "config.json")?;
//! println!("{}", config.display());
//! # Ok::<(), evalrun_hub::HubError>(())
//! ```
//!
//! With the `testing` feature, [`testing`] provides a fake Hub server with fault injection.

pub mod cache;
mod config;
mod error;
mod hub;
mod repo;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::{HubConfig, Token, DEFAULT_ENDPOINT};
pub use error::{HubError, Target};
pub use hub::{FileMetadata, Hub, RepoInfo};
pub use repo::{is_commit_hash, validate_file_path, RepoId, RepoType, DEFAULT_REVISION};
