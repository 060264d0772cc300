//! `evalrun merge`: shard records → the record of one unsharded run.
//!
//! A shard record carries every response its shard received, keyed like the request cache.
//! The merge checks that the shards belong to one run (same count, every index once, equal
//! settings, data, task versions and model fingerprints), then runs the whole evaluation
//! again through [`run_with`] with a backend that answers from those responses. Every metric,
//! average and bootstrap interval is therefore computed once over all units, by the same code
//! as an unsharded run: the same numbers, byte for byte, and the same prediction lines.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use evalrun_cache::Replay;
use evalrun_core::request::{ModelInfo, ModelKind, Response};
use evalrun_report::{RunRecord, ShardRecord, ShardTask};
use evalrun_runtime::Family;
use evalrun_tasks::Task;

use crate::error::{bail, EngineError, Result};
use crate::resolve::{ModelResolver, ResolvedModel};
use crate::{catalog, run_with, Evaluation, Models, Reporter, Settings};

/// A model's info, fingerprint, responses by request key and the shard file each response
/// was read from, from all shards.
type Answers = (
    ModelInfo,
    BTreeMap<String, String>,
    HashMap<String, Response>,
    HashMap<String, String>,
);

/// Settings fields that may differ between the shards of one run.
const PER_SHARD: &[&str] = &["shard", "command_line", "cache"];

/// Merges shard records (path, record) into one evaluation.
pub fn merge(shards: &[(PathBuf, RunRecord)], reporter: &dyn Reporter) -> Result<Evaluation> {
    if shards.is_empty() {
        bail!("`evalrun merge` needs the shard records (SHARD.json …)");
    }
    let mut blocks: Vec<(&Path, &RunRecord, &ShardRecord)> = Vec::new();
    for (path, record) in shards {
        let Some(block) = &record.shard else {
            bail!(
                "`{}` is not a shard record: it was written without `--shard I/N`",
                path.display()
            );
        };
        blocks.push((path, record, block));
    }
    let (first_path, first, head) = blocks[0];
    let count = head.count;
    let mut by_index: BTreeMap<usize, &Path> = BTreeMap::new();
    for &(path, _, block) in &blocks {
        if block.count != count {
            bail!(
                "`{}` is shard {}/{} but `{}` is shard {}/{}: the shards of one run share one count",
                first_path.display(),
                head.index,
                count,
                path.display(),
                block.index,
                block.count
            );
        }
        if let Some(other) = by_index.insert(block.index, path) {
            bail!(
                "`{}` and `{}` are both shard {}/{count}: the shards overlap",
                other.display(),
                path.display(),
                block.index
            );
        }
    }
    let missing: Vec<usize> = (0..count).filter(|i| !by_index.contains_key(i)).collect();
    if let Some(&i) = missing.first() {
        let units: Vec<String> = (0..3).map(|k| (i + k * count).to_string()).collect();
        bail!(
            "shard {i}/{count} is missing (units {}, … of every task){}; merge needs all {count} shards",
            units.join(", "),
            if missing.len() > 1 {
                format!(", and {} more", missing.len() - 1)
            } else {
                String::new()
            }
        );
    }
    for &(path, record, block) in &blocks[1..] {
        same_run(first_path, first, head, path, record, block)?;
    }

    let mut settings: Settings = serde_json::from_value(head.settings.clone()).map_err(|e| {
        EngineError::Message(format!(
            "`{}`: the shard's settings do not parse ({e}); it was written by another evalrun",
            first_path.display()
        ))
    })?;
    settings.shard = None;
    settings.cache = None;
    settings.interrupt = None;
    settings.command_line = without_shard(&settings.command_line);

    // Every response of every shard, per model directory.
    let mut models: BTreeMap<String, Answers> = BTreeMap::new();
    let mut conflicts = 0usize;
    for &(path, _, block) in &blocks {
        for (dir, model) in &block.models {
            let entry = models.entry(dir.clone()).or_insert_with(|| {
                (
                    model.info.clone(),
                    model.fingerprint.clone(),
                    HashMap::new(),
                    HashMap::new(),
                )
            });
            for (key, response) in &model.responses {
                match entry.2.get(key) {
                    Some(known) if known != response => conflicts += 1,
                    Some(_) => {}
                    None => {
                        entry.2.insert(key.clone(), response.clone());
                        entry.3.insert(key.clone(), path.display().to_string());
                    }
                }
            }
        }
    }
    if conflicts > 0 {
        tracing::warn!(
            "{conflicts} identical requests were answered differently by two shards; the lower shard's answer is used"
        );
    }
    let family = match models.values().next().map(|m| m.0.kind) {
        Some(ModelKind::Classifier | ModelKind::Embedding) | None => Family::Encoder,
        Some(ModelKind::CausalLm) => Family::CausalLm,
        Some(ModelKind::Seq2seq) => Family::Seq2seq,
    };
    let catalog = catalog(settings.tasks_dir.as_deref())?;
    let resolver = ModelResolver::new(settings.presets.as_deref(), settings.offline)?;
    let mut replay = Replayed {
        tasks: &head.tasks,
        models,
    };
    let ran = run_with(
        &settings,
        &catalog,
        &resolver,
        family,
        first.runtime.clone(),
        reporter,
        &mut replay,
    )?;
    let mut evaluation = ran.evaluation;
    for (name, task) in &ran.tasks {
        let kept: usize = blocks
            .iter()
            .filter_map(|(_, _, b)| b.tasks.get(name))
            .map(|t| t.kept)
            .sum();
        if kept != task.units {
            bail!(
                "task `{name}`: the shards kept {kept} of its {} units; they were not cut from one run",
                task.units
            );
        }
    }
    // The merge's wall time is not the run's: report the shards' total model time.
    evaluation.record.wall_seconds = blocks.iter().map(|(_, r, _)| r.wall_seconds).sum();
    Ok(evaluation)
}

/// Refuses shards of different runs, naming the first difference.
fn same_run(
    a_path: &Path,
    a: &RunRecord,
    a_block: &ShardRecord,
    b_path: &Path,
    b: &RunRecord,
    b_block: &ShardRecord,
) -> Result<()> {
    let differ = |what: &str, x: &dyn std::fmt::Display, y: &dyn std::fmt::Display| {
        Err(EngineError::Message(format!(
            "`{}` and `{}` are shards of different runs: {what} is `{x}` in one and `{y}` in the other",
            a_path.display(),
            b_path.display()
        )))
    };
    if a.evalrun.version != b.evalrun.version || a.evalrun.git_commit != b.evalrun.git_commit {
        return differ(
            "the evalrun build",
            &format!("{} ({})", a.evalrun.version, a.evalrun.git_commit),
            &format!("{} ({})", b.evalrun.version, b.evalrun.git_commit),
        );
    }
    let strip = |v: &serde_json::Value| -> BTreeMap<String, serde_json::Value> {
        v.as_object()
            .map(|o| {
                o.iter()
                    .filter(|(k, _)| !PER_SHARD.contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (sa, sb) = (strip(&a_block.settings), strip(&b_block.settings));
    for key in sa.keys().chain(sb.keys()) {
        let (x, y) = (sa.get(key), sb.get(key));
        if x != y {
            let show = |v: Option<&serde_json::Value>| v.map_or("absent".into(), |v| v.to_string());
            return differ(&format!("setting `{key}`"), &show(x), &show(y));
        }
    }
    for (name, ta) in &a.results {
        let Some(tb) = b.results.get(name) else {
            return differ(&format!("task `{name}`"), &"present", &"absent");
        };
        if ta.data.sha256 != tb.data.sha256 {
            return differ(
                &format!("the data of `{name}` (sha256)"),
                &ta.data.sha256,
                &tb.data.sha256,
            );
        }
        if ta.task_version != tb.task_version {
            return differ(
                &format!("the version of task `{name}`"),
                &ta.task_version,
                &tb.task_version,
            );
        }
    }
    if a.results.len() != b.results.len() {
        return differ(
            "the task list",
            &a.results.keys().cloned().collect::<Vec<_>>().join(","),
            &b.results.keys().cloned().collect::<Vec<_>>().join(","),
        );
    }
    for (dir, ma) in &a_block.models {
        let Some(mb) = b_block.models.get(dir) else {
            return differ(&format!("model `{dir}`"), &"used", &"not used");
        };
        if ma.fingerprint != mb.fingerprint {
            // The first key whose value differs, or that one side lacks.
            let key = ma
                .fingerprint
                .keys()
                .chain(mb.fingerprint.keys())
                .find(|k| ma.fingerprint.get(*k) != mb.fingerprint.get(*k))
                .map_or("fingerprint".to_string(), |k| k.clone());
            return differ(
                &format!("model `{dir}` ({key})"),
                &ma.fingerprint.get(&key).cloned().unwrap_or_default(),
                &mb.fingerprint.get(&key).cloned().unwrap_or_default(),
            );
        }
    }
    let units = |block: &ShardRecord| -> BTreeMap<String, usize> {
        block
            .tasks
            .iter()
            .map(|(name, t): (&String, &ShardTask)| (name.clone(), t.units))
            .collect()
    };
    if units(a_block) != units(b_block) {
        return differ(
            "the unit counts",
            &format!("{:?}", units(a_block)),
            &format!("{:?}", units(b_block)),
        );
    }
    Ok(())
}

/// The command line without `--shard X` / `--shard=X`.
fn without_shard(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut skip = false;
    for a in args {
        if skip {
            skip = false;
            continue;
        }
        if a == "--shard" || a == "--shard-count" {
            skip = true;
            continue;
        }
        if a.starts_with("--shard=") || a.starts_with("--shard-count=") {
            continue;
        }
        out.push(a.clone());
    }
    out
}

/// Backends that answer from shard records.
struct Replayed<'a> {
    tasks: &'a BTreeMap<String, ShardTask>,
    models: BTreeMap<String, Answers>,
}

impl Models for Replayed<'_> {
    type Backend = Replay;

    fn resolve(&mut self, task: &Task) -> Result<ResolvedModel> {
        let Some(t) = self.tasks.get(task.name()) else {
            bail!("task `{}` is in no shard record", task.name());
        };
        Ok(ResolvedModel {
            dir: PathBuf::from(&t.model),
            labels: t.labels.clone(),
            origin: t.origin.clone(),
        })
    }

    fn open(&mut self, resolved: &ResolvedModel) -> Result<Replay> {
        let key = resolved.dir.display().to_string();
        let Some((info, fingerprint, responses, sources)) = self.models.remove(&key) else {
            bail!("model `{key}` answered no shard");
        };
        Ok(Replay::new(info, fingerprint, responses).with_sources(sources))
    }
}

#[cfg(test)]
mod tests {
    use super::without_shard;

    #[test]
    fn the_merged_command_line_drops_the_shard_flags() {
        let args: Vec<String> = ["glue", "--shard", "1/3", "--model", "m", "--shard-count=3"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(without_shard(&args), ["glue", "--model", "m"]);
    }
}
