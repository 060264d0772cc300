//! `evalrun reproduce` on the fixture presets (tests/fixtures/presets.toml: the seed preset
//! names on the tiny fixture models): every published cell of the preset's tables is measured
//! or carries a reason, and the document has its provenance and no machine-local path.

mod common;

use std::path::Path;

use common::*;

/// Runs `evalrun reproduce` and returns (record, markdown, html).
fn reproduce(model: &str, extra: &[&str], out: &Path) -> (serde_json::Value, String, String) {
    let presets = fixtures().join("presets.toml");
    let data = data_dir();
    let mut args = vec![
        "reproduce",
        model,
        "--presets",
        path_str(&presets),
        "--data-dir",
        path_str(&data),
        "--out",
        path_str(out),
        "--bootstrap",
        "50",
    ];
    args.extend(extra);
    let output = evalrun(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    let markdown = std::fs::read_to_string(out.join("reproduction.md")).unwrap();
    assert_eq!(stdout(&output), markdown, "stdout carries the document");
    (
        read_json(&out.join("reproduction.json")),
        markdown,
        std::fs::read_to_string(out.join("reproduction.html")).unwrap(),
    )
}

/// The reference file's tables as TOML values.
/// The reference file's tables as TOML values (`file.toml#id`: that table only).
fn tables(spec: &str) -> Vec<toml::Value> {
    let (file, id) = spec
        .split_once('#')
        .map_or((spec, None), |(f, i)| (f, Some(i)));
    let text = std::fs::read_to_string(repo_root().join("results/reference").join(file)).unwrap();
    let value: toml::Value = toml::from_str(&text).unwrap();
    value["tables"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| id.is_none_or(|id| t["id"].as_str() == Some(id)))
        .cloned()
        .collect()
}

/// Every entry of every table: measured (its metric, or an alternate's) or skipped with a
/// reason that the document prints.
fn every_cell_measured_or_explained(record: &serde_json::Value, markdown: &str, file: &str) {
    let mut measured = 0;
    let mut explained = 0;
    for table in tables(file) {
        for entry in table["entries"].as_array().unwrap() {
            let task = entry["task"].as_str().unwrap();
            let metric = entry["metric"].as_str().unwrap();
            let has = |t: &str, m: &str| record["results"][t]["metrics"][m].is_number();
            let alternates = entry
                .get("alternates")
                .and_then(|a| a.as_array())
                .cloned()
                .unwrap_or_default();
            if has(task, metric)
                || alternates
                    .iter()
                    .any(|a| has(a["task"].as_str().unwrap(), a["metric"].as_str().unwrap()))
            {
                measured += 1;
                continue;
            }
            let reason = record["skipped"][task].as_str().unwrap_or_else(|| {
                panic!("{file}: `{task}.{metric}` neither measured nor explained")
            });
            assert!(!reason.is_empty());
            assert!(
                markdown.contains("not measured"),
                "{file}: the document names why `{task}` is missing"
            );
            explained += 1;
        }
    }
    assert!(measured > 0, "{file}: something was measured");
    eprintln!("{file}: {measured} cells measured, {explained} explained");
}

fn no_local_paths(out: &Path, texts: &[&str]) {
    let absolute = out.parent().unwrap().display().to_string();
    let root = repo_root().canonicalize().unwrap().display().to_string();
    for text in texts {
        assert!(!text.contains(&absolute), "a temporary path leaked");
        assert!(!text.contains(&root), "the checkout's absolute path leaked");
    }
}

#[test]
fn t5_base_every_published_cell_is_measured_or_says_why() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("t5");
    let (record, markdown, html) = reproduce("t5-base", &["--limit", "40"], &out);
    every_cell_measured_or_explained(&record, &markdown, "t5-base.toml");
    // WMT and CNN/DM files are not here; ReCoRD neither, so the SuperGLUE average says so.
    assert!(record["skipped"]["wmt14_en_de"]
        .as_str()
        .unwrap()
        .contains("data not present"));
    assert!(markdown.contains("partial: without record"), "{markdown}");
    assert!(record["results"]["wsc"].is_object());
    for section in [
        "## Provenance",
        "sha256",
        "ONNX Runtime",
        "evalrun reproduce t5-base",
    ] {
        assert!(markdown.contains(section), "{section}\n{markdown}");
    }
    assert!(html.contains("Provenance") && html.contains("<svg"));
    assert!(markdown.contains("--limit"), "a limited run says so");
    no_local_paths(&out, &[&markdown, &html]);
    assert!(out.join("predictions.jsonl").is_file());
}

#[test]
fn bert_base_uncased_and_gpt2_tables_are_accounted_for() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("bert");
    let (record, markdown, html) = reproduce("bert-base-uncased", &[], &out);
    every_cell_measured_or_explained(&record, &markdown, "bert-base-glue.toml");
    assert!(record["skipped"]["qqp"]
        .as_str()
        .unwrap()
        .contains("data not present"));
    no_local_paths(&out, &[&markdown, &html]);

    // The LM run: lm-eval's LAMBADA figures (the Table 3 streams are whole-file tasks that
    // take minutes; the preset's full plan is checked in evalrun-engine's reproduce tests).
    let out = tmp.path().join("gpt2");
    let (record, markdown, _) = reproduce(
        "gpt2",
        &["--limit", "8", "--reference", "gpt2-zero-shot/lm-eval-117M"],
        &out,
    );
    every_cell_measured_or_explained(&record, &markdown, "gpt2-zero-shot.toml#lm-eval-117M");
    assert!(record["results"]["lambada_openai"].is_object());
}

#[test]
fn reproduce_refuses_what_it_cannot_do() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("x");
    let data = data_dir();
    // A directory is not a preset: it needs --reference.
    let output = evalrun(&[
        "reproduce",
        "tests/fixtures/models/t5-tiny",
        "--data-dir",
        path_str(&data),
        "--out",
        path_str(&out),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("--reference"),
        "{}",
        stderr(&output)
    );
    // Flags whose job reproduce does itself.
    let output = evalrun(&["reproduce", "t5-base", "--task", "rte"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("`--task`"), "{}", stderr(&output));
    assert!(!out.exists(), "nothing written");
}
