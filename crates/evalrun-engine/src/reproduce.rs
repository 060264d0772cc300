//! `evalrun reproduce`: the published tables a model names (its preset's `tables`, or
//! `--reference`), turned into the tasks that measure their cells, and the reason for every
//! cell that cannot be measured here.
//!
//! ```text
//! preset `t5-base` → tables (t5-base: Table 14, Table 15 dev anchors)
//!   → every cell's task, its alternates' tasks and each average's inputs
//!   → those of the model's kind (the rest: "no such task for a seq2seq export")
//!   → one engine run that skips absent data ("data not present: …")
//!   → the record, whose `skipped` map names every cell left unmeasured
//! ```
//!
//! Rendering the document is the CLI's; this module only decides what runs.

use std::collections::BTreeMap;

use evalrun_core::average::{BERT_TABLE, GLUE_GROUP, SUPERGLUE};
use evalrun_report::reference::{self, ReferenceTable};
use evalrun_report::RunRecord;
use evalrun_runtime::Family;
use evalrun_tasks::Catalog;

use crate::error::bail;
use crate::resolve::ModelResolver;
use crate::{catalog, detect_family, family_name, task_kind, Result, Settings};

/// What a reproduction runs and what it cannot.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The reference specs the tables came from (`bert-base-glue`, `gpt2-zero-shot/117M`).
    pub references: Vec<String>,
    pub tables: Vec<ReferenceTable>,
    /// Task names to run, in table order.
    pub tasks: Vec<String>,
    /// Cells' tasks that no task file of the model's kind measures, with the reason.
    pub unrunnable: BTreeMap<String, String>,
    pub family: Family,
}

/// The tasks an average needs (its canonical inputs), by the average's record name.
fn average_inputs(name: &str) -> Vec<&'static str> {
    match name {
        "bert_table" => BERT_TABLE.iter().map(|(t, _)| *t).collect(),
        "glue_group" => GLUE_GROUP
            .iter()
            .flat_map(|(_, parts)| parts.iter().map(|(t, _)| *t))
            .collect(),
        "superglue" => SUPERGLUE
            .iter()
            .flat_map(|(_, parts)| parts.iter().map(|(t, _)| *t))
            .collect(),
        _ => Vec::new(),
    }
}

/// Why evalrun has no task for a published cell: said once, here, for the ones it knows.
fn missing_task_reason(task: &str, family: Family) -> String {
    match task {
        "lambada_openai_stopword" => "no public protocol: the GPT-2 paper's LAMBADA stop-word filter was never published (the lm-eval last-word figure stands in, marked ≠protocol)".into(),
        _ => format!("evalrun has no `{task}` task for {}", family_name(family)),
    }
}

/// The tables to reproduce for `settings.model`: `references` when given, else the preset's.
pub fn plan(settings: &Settings, references: &[String]) -> Result<Plan> {
    let catalog: Catalog = catalog(settings.tasks_dir.as_deref())?;
    let resolver = ModelResolver::new(settings.presets.as_deref(), settings.offline)?;
    let references: Vec<String> = if references.is_empty() {
        match resolver.presets().get(&settings.model) {
            Some(preset) if !preset.tables.is_empty() => preset.tables.clone(),
            Some(_) => bail!(
                "preset `{}` names no published tables; pass `--reference NAME[/TABLE]`",
                settings.model
            ),
            None => bail!(
                "`{}` is not a preset, so evalrun does not know its published tables; pass `--reference NAME[/TABLE]` ({})",
                settings.model,
                reference::EMBEDDED_REFERENCES
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    } else {
        references.to_vec()
    };
    let mut tables = Vec::new();
    for spec in &references {
        tables.extend(reference::resolve(spec)?);
    }
    let family = detect_family(settings, &catalog, &resolver)?;
    let kind = task_kind(family);
    let mut wanted: Vec<String> = Vec::new();
    let mut want = |t: &str| {
        if !wanted.iter().any(|w| w == t) {
            wanted.push(t.to_string());
        }
    };
    for table in &tables {
        for entry in &table.entries {
            want(&entry.task);
            for alt in &entry.alternates {
                want(&alt.task);
            }
        }
        for average in &table.averages {
            for task in average_inputs(&average.name) {
                want(task);
            }
        }
    }
    let known = |name: &str| catalog.tasks(kind).any(|t| t.name() == name);
    let (tasks, missing): (Vec<String>, Vec<String>) = wanted.into_iter().partition(|t| known(t));
    let unrunnable = missing
        .into_iter()
        .map(|t| {
            let why = missing_task_reason(&t, family);
            (t, why)
        })
        .collect();
    if tasks.is_empty() {
        bail!(
            "none of the tasks of {} runs on `{}`, which is {}",
            references.join(", "),
            settings.model,
            family_name(family)
        );
    }
    Ok(Plan {
        references,
        tables,
        tasks,
        unrunnable,
        family,
    })
}

impl Plan {
    /// Names every cell's task that the run did not measure: tasks the model's kind has no
    /// file for join the record's `skipped` map (absent data is already there), so that a
    /// report gives every unmeasured cell its reason.
    pub fn annotate(&self, record: &mut RunRecord) {
        for (task, why) in &self.unrunnable {
            record
                .skipped
                .entry(task.clone())
                .or_insert_with(|| why.clone());
        }
        for task in &self.tasks {
            if !record.results.contains_key(task) && !record.skipped.contains_key(task) {
                record.skipped.insert(task.clone(), "not run".to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture_settings(model: &str) -> Settings {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut settings = Settings::new("reproduce", model, &[]);
        settings.presets = Some(root.join("tests/fixtures/presets.toml"));
        settings.offline = true;
        settings
    }

    #[test]
    fn every_seed_preset_names_tables_that_resolve() {
        let presets = crate::presets::Presets::load(None).unwrap();
        for name in ["bert-base-uncased", "gpt2", "t5-base", "all-minilm-l6-v2"] {
            let preset = presets.get(name).unwrap();
            assert!(!preset.tables.is_empty(), "{name}");
            for spec in &preset.tables {
                assert!(!reference::resolve(spec).unwrap().is_empty(), "{spec}");
            }
        }
    }

    #[test]
    fn gpt2_plan_runs_the_117m_row_and_explains_what_cannot_run() {
        let plan = plan(&fixture_settings("gpt2"), &[]).unwrap();
        assert_eq!(plan.family, Family::CausalLm);
        assert_eq!(
            plan.references,
            ["gpt2-zero-shot/117M", "gpt2-zero-shot/lm-eval-117M"]
        );
        for task in [
            "ptb_gpt2",
            "wikitext2_gpt2",
            "lambada_openai",
            "cbt_cn",
            "enwik8",
        ] {
            assert!(
                plan.tasks.iter().any(|t| t == task),
                "{task}: {:?}",
                plan.tasks
            );
        }
        assert!(plan.unrunnable["lambada_openai_stopword"].contains("stop-word"));
        let mut record: RunRecord = serde_json::from_value(serde_json::json!({
            "evalrun": {"version": "0", "git_commit": "x"}, "command": "reproduce",
            "runtime": {"ort_version": "1", "ort_library": "l", "execution_provider": "CPU",
                        "device": "cpu", "threads": 1, "batch_size": 8},
            "results": {}, "skipped": {"cbt_cn": "data not present: `lm/cbt/x`"}, "wall_seconds": 0.0
        }))
        .unwrap();
        plan.annotate(&mut record);
        assert_eq!(record.skipped["cbt_cn"], "data not present: `lm/cbt/x`");
        assert!(record.skipped["lambada_openai_stopword"].contains("stop-word"));
        assert_eq!(record.skipped["ptb_gpt2"], "not run");
    }

    #[test]
    fn t5_plan_takes_every_superglue_input_and_a_directory_needs_references() {
        let plan = plan(&fixture_settings("t5-base"), &[]).unwrap();
        for task in [
            "wsc",
            "record",
            "superglue_rte",
            "cola",
            "squad_v1",
            "cnndm",
        ] {
            assert!(
                plan.tasks.iter().any(|t| t == task),
                "{task}: {:?}",
                plan.tasks
            );
        }
        assert!(plan.unrunnable.is_empty(), "{:?}", plan.unrunnable);
        let error = plan_error("tests/fixtures/models/t5-tiny");
        assert!(error.contains("--reference"), "{error}");
    }

    fn plan_error(model: &str) -> String {
        plan(&fixture_settings(model), &[]).unwrap_err().to_string()
    }
}
