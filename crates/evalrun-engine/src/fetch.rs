//! Downloads everything a run would need (each task's model and, without `--data-dir`, its Hub
//! Parquet file or pinned URL) so that a machine prepared once runs offline.

use evalrun_tasks::Task;

use crate::data::Data;
use crate::resolve::ModelResolver;
use crate::{catalog, check_command, detect_family, model_task, select, Result, Settings};

/// What one task needs, now in the cache.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub task: String,
    /// `local`, or `org/name@commit (preset …)`.
    pub model_origin: String,
    pub model_dir: std::path::PathBuf,
    /// Where the data is, in words.
    pub data: String,
}

pub fn fetch(settings: &Settings) -> Result<Vec<Fetched>> {
    let catalog = catalog(settings.tasks_dir.as_deref())?;
    let resolver = ModelResolver::new(settings.presets.as_deref(), settings.offline)?;
    let family = detect_family(settings, &catalog, &resolver)?;
    check_command(settings, family)?;
    let source = crate::data::DataSource {
        data_dir: settings.data_dir.as_deref(),
        resolver: &resolver,
    };
    let mut out = Vec::new();
    for task in select(settings, &catalog, family)? {
        let model = resolver.resolve(&settings.model, model_task(task))?;
        let data = if settings.data_dir.is_some() {
            "--data-dir".to_string()
        } else {
            match source.load(task, settings.split.as_deref()) {
                Ok(data) => describe(task, &data),
                Err(e) if crate::data::is_absent(&e) => format!("{e} (needs --data-dir)"),
                Err(e) => return Err(e),
            }
        };
        out.push(Fetched {
            task: task.name().to_string(),
            model_origin: model.origin,
            model_dir: model.dir,
            data,
        });
    }
    Ok(out)
}

fn describe(task: &Task, data: &Data) -> String {
    let source = match task {
        Task::Lm(t) => t.url.as_ref().map(|u| u.url.clone()),
        _ => None,
    };
    match source {
        Some(url) => format!("{url} → `{}`", data.path().display()),
        None => format!("`{}` ({} rows)", data.path().display(), data.len()),
    }
}
