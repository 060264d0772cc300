//! One engine for every kind, through the real binary: `evalrun run` on a causal LM, a
//! classifier and a seq2seq export with `--limit`; the record's `config` block; prediction
//! lines that `evalrun diff --predictions` reads for every kind; errors that name the command
//! for a model of the wrong kind.

mod common;

use common::*;

/// Runs `args` plus `--output`/`--predictions` in a fresh directory.
fn run_recorded(args: &[&str]) -> (tempfile::TempDir, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let (record, predictions) = (dir.path().join("r.json"), dir.path().join("p.jsonl"));
    let mut all: Vec<&str> = args.to_vec();
    all.extend([
        "--output",
        path_str(&record),
        "--predictions",
        path_str(&predictions),
    ]);
    let output = evalrun(&all);
    assert!(output.status.success(), "{}", stderr(&output));
    let table = stdout(&output);
    assert!(
        table.starts_with("Model: `"),
        "a caption names the model: {table}"
    );
    let json = read_json(&record);
    (dir, json)
}

#[test]
fn run_takes_lm_tasks_with_a_limit_and_records_it() {
    let data = data_dir();
    let (dir, record) = run_recorded(&[
        "run",
        "--model",
        "tests/fixtures/models/gpt2-tiny",
        "--task",
        "wikitext2,lambada_openai",
        "--limit",
        "3",
        "--data-dir",
        path_str(&data),
    ]);
    let config = &record["config"];
    assert_eq!(config["limit"], 3);
    assert_eq!(config["model"], "tests/fixtures/models/gpt2-tiny");
    assert_eq!(config["model_kind"], "causal LM");
    assert_eq!(config["batch_size"], 8, "causal LMs default to 8 rows");
    assert!(config["started"].as_str().unwrap().ends_with('Z'));
    let wikitext = &record["results"]["wikitext2"];
    assert_eq!(
        (wikitext["n"].as_u64(), wikitext["n_original"].as_u64()),
        (Some(3), Some(60))
    );
    assert_eq!(wikitext["higher_is_better"]["word_perplexity"], false);
    assert!(
        wikitext["ci"]["word_perplexity"]["low"].is_number(),
        "documents are resampled"
    );
    assert!(
        wikitext["tokens_per_second"].as_f64().unwrap()
            > wikitext["examples_per_second"].as_f64().unwrap()
    );
    let lambada = &record["results"]["lambada_openai"];
    assert_eq!(
        (lambada["n"].as_u64(), lambada["n_original"].as_u64()),
        (Some(3), Some(5153))
    );

    // LM prediction lines carry what error analysis needs, and `diff` reads them.
    let predictions = dir.path().join("p.jsonl");
    let lines = read_jsonl(&predictions);
    assert_eq!(lines.len(), 6);
    let lambada_line = lines
        .iter()
        .find(|l| l["task"] == "lambada_openai")
        .unwrap();
    for key in [
        "label",
        "prediction",
        "context",
        "continuation",
        "loglikelihood",
        "tokens",
        "greedy",
        "greedy_continuation",
    ] {
        assert!(!lambada_line[key].is_null(), "`{key}` in {lambada_line}");
    }
    assert_eq!(lambada_line["label"], lambada_line["continuation"]);
    let record_path = dir.path().join("r.json");
    let output = evalrun(&[
        "diff",
        path_str(&record_path),
        path_str(&record_path),
        "--predictions",
        path_str(&predictions),
        path_str(&predictions),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn glue_takes_a_limit_for_classifiers_too() {
    let data = data_dir();
    let (_dir, record) = run_recorded(&[
        "glue",
        "--model",
        "tests/fixtures/models/glue-tiny/{task}",
        "--task",
        "rte",
        "--limit",
        "20",
        "--data-dir",
        path_str(&data),
    ]);
    let rte = &record["results"]["rte"];
    assert_eq!(
        (rte["n"].as_u64(), rte["n_original"].as_u64()),
        (Some(20), Some(277))
    );
    assert_eq!(record["config"]["limit"], 20);
    assert_eq!(
        record["config"]["model_resolved"]["rte"],
        "tests/fixtures/models/glue-tiny/rte"
    );
}

#[test]
fn seq2seq_records_hash_every_graph() {
    let data = data_dir();
    let (_dir, record) = run_recorded(&[
        "run",
        "--model",
        "tests/fixtures/models/t5-tiny",
        "--task",
        "rte",
        "--limit",
        "4",
        "--data-dir",
        path_str(&data),
    ]);
    let graphs: Vec<String> = record["results"]["rte"]["model"]["graphs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["path"].as_str().unwrap().to_string())
        .collect();
    assert!(graphs[0].ends_with("encoder_model.onnx"), "{graphs:?}");
    assert!(
        graphs
            .iter()
            .any(|g| g.ends_with("decoder_with_past_model.onnx")),
        "{graphs:?}"
    );
}

#[test]
fn a_model_of_the_wrong_kind_gets_the_command_that_runs_it() {
    let data = data_dir();
    for (args, expected) in [
        (
            vec!["glue", "--model", "tests/fixtures/models/gpt2-tiny", "--task", "rte"],
            "is a causal LM; GLUE needs a classifier or a seq2seq (T5) model. Run it with `evalrun lm",
        ),
        (
            vec!["lm", "--model", "tests/fixtures/models/glue-tiny/rte"],
            "is an encoder export (classification head or sentence embedding); `evalrun lm` and `evalrun perplexity` need a causal LM",
        ),
        (
            vec!["perplexity", "--model", "tests/fixtures/models/t5-tiny", "--file", "README.md"],
            "is a seq2seq (T5) export; `evalrun lm` and `evalrun perplexity` need a causal LM",
        ),
        (
            vec!["run", "--model", "tests/fixtures/models/gpt2-tiny", "--task", "stsb"],
            "task `stsb` needs an encoder export",
        ),
    ] {
        let mut args = args;
        args.extend(["--data-dir", path_str(&data)]);
        let output = evalrun(&args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let err = stderr(&output);
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(!err.contains("position_ids"), "decided from the model's kind: {err}");
    }
}

#[test]
fn tasks_lists_every_kind_in_one_table() {
    let output = evalrun(&["tasks"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let table = stdout(&output);
    for row in [
        "| mrpc | head | `glue/mrpc` |",
        "| mrpc | text_to_text | `t5/glue/mrpc` |",
        "| wikitext2 | lm | `lm/wikitext2` |",
    ] {
        assert!(table.contains(row), "{row} in {table}");
    }
}
