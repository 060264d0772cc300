//! `evalrun glue` on the committed fixture classifiers and the real GLUE dev files, against
//! reference values computed by transformers (PyTorch) and scikit-learn/scipy
//! (scripts/make_fixtures.py).

mod common;

use std::collections::BTreeMap;

use common::*;
use evalrun_runtime::TextEncoder;
use evalrun_tasks::{load_split, Catalog, Task};

const REFERENCE_TASKS: [&str; 8] = ["cola", "sst2", "mrpc", "stsb", "qnli", "rte", "wnli", "ax"];

#[test]
fn glue_all_matches_the_transformers_reference() {
    let tmp = tempfile::tempdir().unwrap();
    let (record_path, predictions_path) = (tmp.path().join("r.json"), tmp.path().join("p.jsonl"));
    let data = data_dir();
    let output = evalrun(&[
        "glue",
        "--model",
        "tests/fixtures/models/glue-tiny/{task}",
        "--task",
        "all",
        "--data-dir",
        path_str(&data),
        "--output",
        path_str(&record_path),
        "--predictions",
        path_str(&predictions_path),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let table = stdout(&output);
    for row in [
        "| cola | dev | 1043 | mcc |",
        "| mrpc | dev | 408 | f1 / accuracy |",
        "| ax | dev | 1104 | mcc |",
        "BERT-table average",
        "GLUE group average",
    ] {
        assert!(table.contains(row), "missing `{row}` in\n{table}");
    }

    // Per-example logits within 1e-4 and identical predictions.
    let mut ours: BTreeMap<(String, u64), serde_json::Value> = BTreeMap::new();
    for line in read_jsonl(&predictions_path) {
        ours.insert(
            (
                line["task"].as_str().unwrap().to_string(),
                line["id"].as_u64().unwrap(),
            ),
            line,
        );
    }
    let mut compared = 0;
    for task in REFERENCE_TASKS {
        let reference = read_jsonl(&fixtures().join(format!("reference/glue/{task}.jsonl")));
        assert!(!reference.is_empty());
        for expected in reference {
            let id = expected["id"].as_u64().unwrap();
            let got = ours
                .get(&(task.to_string(), id))
                .unwrap_or_else(|| panic!("no prediction for {task} #{id}"));
            let (a, b) = (
                got["logits"].as_array().unwrap(),
                expected["logits"].as_array().unwrap(),
            );
            assert_eq!(a.len(), b.len(), "{task} #{id}");
            for (x, y) in a.iter().zip(b) {
                let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
                assert!(
                    (x - y).abs() <= 1e-4,
                    "{task} #{id}: logit {x} vs reference {y}"
                );
            }
            if task == "stsb" {
                let (p, q) = (
                    got["prediction"].as_f64().unwrap(),
                    expected["prediction"].as_f64().unwrap(),
                );
                assert!((p - q).abs() <= 1e-4, "stsb #{id}: {p} vs {q}");
            } else if task == "ax" {
                assert_eq!(got["prediction"], expected["prediction_binary"], "ax #{id}");
            } else {
                assert_eq!(got["prediction"], expected["prediction"], "{task} #{id}");
            }
            assert_eq!(got["label"], expected["label"], "{task} #{id}");
            compared += 1;
        }
    }
    assert_eq!(compared, 1043 + 872 + 408 + 1500 + 5463 + 277 + 71 + 1104);

    // Metrics equal scikit-learn/scipy on the same predictions. Class predictions are
    // identical, so classification metrics agree to rounding; STS-B's correlations are of
    // float32 outputs that differ from PyTorch's by ~1e-6, hence the looser bound there.
    let record = read_json(&record_path);
    let metrics = read_json(&fixtures().join("reference/glue/metrics.json"));
    for task in REFERENCE_TASKS {
        let result = &record["results"][task];
        assert_eq!(result["n"], metrics[task]["n"], "{task}");
        for (name, expected) in metrics[task].as_object().unwrap() {
            if name == "n" {
                continue;
            }
            let got = result["metrics"][name]
                .as_f64()
                .unwrap_or_else(|| panic!("{task}.{name} missing"));
            let tolerance = if task == "stsb" { 1e-6 } else { 1e-9 };
            assert!(
                (got - expected.as_f64().unwrap()).abs() <= tolerance,
                "{task}.{name}: {got} vs {expected}"
            );
        }
    }

    // Tasks without data here are reported as skipped, not silently dropped.
    for task in ["qqp", "mnli_matched", "mnli_mismatched"] {
        assert!(
            record["skipped"][task]
                .as_str()
                .unwrap()
                .contains("data not present"),
            "{task}"
        );
    }
    // Provenance.
    let runtime = &record["runtime"];
    assert_eq!(runtime["execution_provider"], "CPUExecutionProvider");
    assert!(runtime["ort_version"].as_str().unwrap().starts_with("1."));
    let cola = &record["results"]["cola"];
    assert_eq!(
        cola["data"]["sha256"],
        "8c013e21dc39957cac37378d87bebe225b694a0d5fe13eded66c2856628833fd"
    );
    assert_eq!(cola["model"]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(cola["model"]["max_length"], 512);
    assert!(record["results"]["ax"]["model"]["label_mapping"]
        .as_str()
        .unwrap()
        .starts_with("id2label names"));
    assert!(
        record["averages"]["bert_table"]["missing"]
            .as_array()
            .unwrap()
            .len()
            == 3
    );
}

#[test]
fn token_ids_equal_the_python_tokenizer() {
    let catalog = Catalog::embedded().unwrap();
    let encoder = TextEncoder::load(
        &fixtures().join("models/bert-tiny-cls2/tokenizer.json"),
        512,
        None,
    )
    .unwrap();
    for task in REFERENCE_TASKS {
        let Some(Task::Head(spec)) = catalog.get(&format!("glue/{task}")) else {
            panic!("head task `{task}`")
        };
        let dataset = load_split(spec, "dev", &data_dir()).unwrap();
        let inputs: Vec<(&str, Option<&str>)> = dataset
            .examples
            .iter()
            .map(|e| (e.text_a.as_str(), e.text_b.as_deref()))
            .collect();
        let encoded = encoder.encode(&inputs).unwrap();
        let reference = read_jsonl(&fixtures().join(format!("reference/glue/{task}.jsonl")));
        assert_eq!(encoded.len(), reference.len(), "{task}");
        for (e, r) in encoded.iter().zip(&reference) {
            let joined: Vec<String> = e.ids.iter().map(u32::to_string).collect();
            let hash = evalrun_tasks::data::hex_sha256(joined.join(",").as_bytes());
            assert_eq!(
                hash,
                r["ids_sha256"].as_str().unwrap(),
                "{task} #{}: {} tokens vs {}",
                r["id"],
                e.len(),
                r["n_tokens"]
            );
        }
    }
}

/// `--batch-size auto` picks the largest batch its estimate fits in `--max-memory`, records
/// it, and scores like a fixed batch; `--batch-tokens` cuts encoder batches too; budgets that
/// cannot hold one row, or a budget without `auto`, are exit 2 naming the flag.
#[test]
fn batch_size_auto_and_batch_tokens_score_like_fixed_batches() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir();
    let sst2 = |limit: &'static str| {
        vec![
            "glue",
            "--model",
            "tests/fixtures/models/glue-tiny/{task}",
            "--task",
            "sst2",
            "--limit",
            limit,
            "--data-dir",
            path_str(&data),
        ]
    };
    let run = |name: &str, extra: &[&str]| {
        let (record, predictions) = (
            tmp.path().join(format!("{name}.json")),
            tmp.path().join(format!("{name}.jsonl")),
        );
        let mut args = sst2("120");
        args.extend_from_slice(&[
            "--output",
            path_str(&record),
            "--predictions",
            path_str(&predictions),
        ]);
        args.extend_from_slice(extra);
        let output = evalrun(&args);
        assert!(output.status.success(), "{name}: {}", stderr(&output));
        (read_json(&record), read_jsonl(&predictions))
    };
    let (fixed, fixed_lines) = run("fixed", &["--batch-size", "32"]);
    let (auto, auto_lines) = run("auto", &["--batch-size", "auto", "--max-memory", "64MiB"]);
    let (tokens, token_lines) = run("tokens", &["--batch-tokens", "300"]);
    // 3.9 MiB of weights + 51 MiB for 4 rows of 512 tokens (the fixture's 2 layers, 128
    // hidden, 2 heads) fits; 5 rows do not.
    assert_eq!(auto["config"]["batch_size"], 4);
    assert_eq!(auto["runtime"]["batch_size"], 4);
    assert_eq!(auto["config"]["options"]["batch_size"], "auto");
    assert_eq!(auto["config"]["options"]["max_memory"], "67108864");
    assert_eq!(tokens["config"]["options"]["batch_tokens"], "300");
    assert!(fixed["config"]["options"].get("batch_tokens").is_none());
    for lines in [&auto_lines, &token_lines] {
        assert_eq!(lines.len(), fixed_lines.len());
        for (a, b) in lines.iter().zip(&fixed_lines) {
            assert_eq!(a["prediction"], b["prediction"], "{a} vs {b}");
            let (la, lb) = (
                a["logits"].as_array().unwrap(),
                b["logits"].as_array().unwrap(),
            );
            for (x, y) in la.iter().zip(lb) {
                let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
                assert!((x - y).abs() <= 1e-4 * y.abs().max(1.0), "{a} vs {b}");
            }
        }
    }
    for (args, needle) in [
        (
            &["--batch-size", "auto", "--max-memory", "1MiB"][..],
            "`--max-memory` 1.0 MiB is too little for one row",
        ),
        (
            &["--max-memory", "4GiB"][..],
            "`--max-memory` is the budget of `--batch-size auto`",
        ),
        (&["--batch-size", "many"][..], "invalid `--batch-size many`"),
        (
            &["--batch-size", "auto", "--max-memory", "lots"][..],
            "invalid `--max-memory`",
        ),
    ] {
        let mut all = sst2("5");
        all.extend_from_slice(args);
        let output = evalrun(&all);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(needle),
            "{args:?}: {}",
            stderr(&output)
        );
    }
}
