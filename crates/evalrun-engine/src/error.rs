//! The engine's typed error: the library errors it passes on, its own messages, and context
//! layers (`task `rte` with model `…``) that keep the cause as their source.

use std::error::Error as StdError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Task(#[from] evalrun_tasks::TaskError),
    #[error(transparent)]
    Data(#[from] evalrun_tasks::DataError),
    #[error(transparent)]
    Runtime(#[from] evalrun_runtime::RuntimeError),
    #[error(transparent)]
    Hub(#[from] evalrun_hub::HubError),
    #[error(transparent)]
    Report(#[from] evalrun_report::ReportError),
    #[error(transparent)]
    Squad(#[from] evalrun_core::text::SquadError),
    #[error(transparent)]
    Bleu(#[from] evalrun_core::text::BleuError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Cache(#[from] evalrun_cache::CacheError),
    #[error(transparent)]
    Cached(#[from] evalrun_cache::CachedError),
    /// Data that is not there: the task is skipped in a suite run, an error when named.
    #[error("data not present: {0}")]
    Absent(String),
    /// A model of one kind given to a task of another; the message names the right command.
    #[error("{0}")]
    WrongKind(String),
    /// Anything else, as a sentence with the offending value in backticks.
    #[error("{0}")]
    Message(String),
    #[error("{context}")]
    Context {
        context: String,
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;

impl EngineError {
    /// The first error of type `T` in the chain (through context layers).
    pub fn find<T: StdError + 'static>(&self) -> Option<&T> {
        let mut current: Option<&(dyn StdError + 'static)> = Some(self);
        while let Some(e) = current {
            if let Some(t) = e.downcast_ref::<T>() {
                return Some(t);
            }
            // Transparent variants forward `source()` past the error they wrap: step into it.
            current = match e.downcast_ref::<EngineError>() {
                Some(engine) => engine.wrapped().or_else(|| e.source()),
                None => e.source(),
            };
        }
        None
    }

    /// The library error a variant wraps, or a context layer's cause.
    fn wrapped(&self) -> Option<&(dyn StdError + 'static)> {
        Some(match self {
            EngineError::Task(e) => e,
            EngineError::Data(e) => e,
            EngineError::Runtime(e) => e,
            EngineError::Hub(e) => e,
            EngineError::Report(e) => e,
            EngineError::Squad(e) => e,
            EngineError::Bleu(e) => e,
            EngineError::Io(e) => e,
            EngineError::Cache(e) => e,
            EngineError::Cached(e) => e,
            EngineError::Context { source, .. } => source.as_ref(),
            EngineError::Absent(_) | EngineError::WrongKind(_) | EngineError::Message(_) => {
                return None
            }
        })
    }

    /// The innermost engine error (context layers peeled).
    pub fn root(&self) -> &EngineError {
        let mut current = self;
        while let EngineError::Context { source, .. } = current {
            match source.downcast_ref::<EngineError>() {
                Some(inner) => current = inner,
                None => break,
            }
        }
        current
    }
}

/// `anyhow`-style context on results and options, producing [`EngineError::Context`].
pub trait Context<T> {
    fn context(self, context: impl Into<String>) -> Result<T>;
    fn with_context<S: Into<String>>(self, f: impl FnOnce() -> S) -> Result<T>;
}

impl<T, E: StdError + Send + Sync + 'static> Context<T> for std::result::Result<T, E> {
    fn context(self, context: impl Into<String>) -> Result<T> {
        self.map_err(|e| EngineError::Context {
            context: context.into(),
            source: Box::new(e),
        })
    }

    fn with_context<S: Into<String>>(self, f: impl FnOnce() -> S) -> Result<T> {
        self.map_err(|e| EngineError::Context {
            context: f().into(),
            source: Box::new(e),
        })
    }
}

impl<T> Context<T> for Option<T> {
    fn context(self, context: impl Into<String>) -> Result<T> {
        self.ok_or_else(|| EngineError::Message(context.into()))
    }

    fn with_context<S: Into<String>>(self, f: impl FnOnce() -> S) -> Result<T> {
        self.ok_or_else(|| EngineError::Message(f().into()))
    }
}

/// Returns an [`EngineError::Message`] built like `format!`.
macro_rules! bail {
    ($($arg:tt)*) => {
        return Err($crate::error::EngineError::Message(format!($($arg)*)))
    };
}
pub(crate) use bail;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_sees_through_transparent_variants_and_context_layers() {
        let missing = evalrun_tasks::DataError::Missing {
            task: "qqp".into(),
            split: "dev".into(),
            path: "glue/QQP/dev.tsv".into(),
        };
        let error: Result<()> = Err(EngineError::from(missing));
        let error = error.context("loading `qqp`").unwrap_err();
        assert!(matches!(
            error.find::<evalrun_tasks::DataError>(),
            Some(evalrun_tasks::DataError::Missing { .. })
        ));
        assert!(error.find::<std::io::Error>().is_none());
    }
}
