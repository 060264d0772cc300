//! The real all-MiniLM-L6-v2 on the STS Benchmark test set and GLUE STS-B dev, against
//! sentence-transformers' own cosine similarities and Spearman (scripts/make_fixtures.py).

mod common;

use common::*;

#[test]
fn minilm_sts_equals_sentence_transformers() {
    let tmp = tempfile::tempdir().unwrap();
    let (record_path, predictions_path) = (tmp.path().join("r.json"), tmp.path().join("p.jsonl"));
    let output = evalrun(&[
        "run",
        "--model",
        path_str(&minilm_dir()),
        "--task",
        "stsbenchmark,stsb",
        "--data-dir",
        path_str(&data_dir()),
        "--output",
        path_str(&record_path),
        "--predictions",
        path_str(&predictions_path),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let record = read_json(&record_path);
    let summary = read_json(&fixtures().join("reference/minilm/summary.json"));
    for (task, key) in [("stsbenchmark", "stsbenchmark_test"), ("stsb", "stsb_dev")] {
        let result = &record["results"][task];
        assert_eq!(result["n"], summary[key]["n"]);
        assert_eq!(result["model"]["scoring"], "embedding cosine");
        // sentence-transformers truncates at max_seq_length 256, not tokenizer.json's 128.
        assert_eq!(result["model"]["max_length"], 256);
        for metric in ["spearman", "pearson"] {
            let (got, expected) = (
                result["metrics"][metric].as_f64().unwrap(),
                summary[key][metric].as_f64().unwrap(),
            );
            assert!(
                (got - expected).abs() <= 1e-4,
                "{task} {metric}: {got} vs sentence-transformers {expected}"
            );
        }
    }
    // The headline figure: MTEB publishes 82.03, sentence-transformers gives 0.82032.
    let spearman = record["results"]["stsbenchmark"]["metrics"]["spearman"]
        .as_f64()
        .unwrap();
    assert!((spearman - 0.82032).abs() < 1e-4 + 5e-6, "{spearman}");

    let lines = read_jsonl(&predictions_path);
    let reference = read_jsonl(&fixtures().join("reference/minilm/stsbenchmark_test.jsonl"));
    let ours: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["task"] == "stsbenchmark")
        .collect();
    assert_eq!(ours.len(), reference.len());
    for (got, expected) in ours.iter().zip(&reference) {
        assert_eq!(got["id"], expected["id"]);
        let (a, b) = (
            got["prediction"].as_f64().unwrap(),
            expected["cosine"].as_f64().unwrap(),
        );
        assert!(
            (a - b).abs() <= 1e-5,
            "pair {}: cosine {a} vs {b}",
            got["id"]
        );
        assert_eq!(got["label"].as_f64(), expected["score"].as_f64());
    }
}
