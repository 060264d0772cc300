//! Ctrl-C in a cached run: the first stops after the batch in flight (its responses are
//! committed to the cache), the second exits at once. Re-running the same command resumes.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use evalrun_engine::EngineError;

static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// The flag Ctrl-C sets (the handler is installed once per process).
pub fn install(cache: &Path) -> anyhow::Result<Arc<AtomicBool>> {
    if let Some(flag) = FLAG.get() {
        return Ok(flag.clone());
    }
    let flag = Arc::new(AtomicBool::new(false));
    let set = flag.clone();
    let dir = cache.display().to_string();
    ctrlc::set_handler(move || {
        if set.swap(true, Ordering::SeqCst) {
            eprintln!("\ninterrupted again: exiting now; batches already finished are in the cache `{dir}`");
            std::process::exit(130);
        }
        eprintln!("\ninterrupted: stopping after the current batch (Ctrl-C again to exit now)");
    })?;
    let _ = FLAG.set(flag.clone());
    Ok(flag)
}

/// An interrupted run, told as what to do next.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Interrupted(pub String);

pub fn explain(error: EngineError) -> anyhow::Error {
    match error.find::<evalrun_cache::CachedError>() {
        Some(evalrun_cache::CachedError::Interrupted { answered, total }) => {
            let args: Vec<String> = std::env::args().collect();
            Interrupted(format!(
                "interrupted after the current batch: {answered} of {total} requests of this task are answered and stored in the cache; nothing was written. Run the same command again to resume:\n  {}",
                args.join(" ")
            ))
            .into()
        }
        _ => error.into(),
    }
}
