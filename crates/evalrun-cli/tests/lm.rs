//! `evalrun lm` on the fixture GPT-2 (real vocabulary, exported by Optimum) and the real data,
//! against lm-eval's own HFLM on the same weights (scripts/make_lm_fixtures.py): WikiText-2 per
//! article, LAMBADA per example, and the paper-style PTB stream.

mod common;

use std::collections::HashMap;

use common::*;

fn rel(got: f64, want: f64) -> f64 {
    ((got - want) / want).abs()
}

#[test]
fn lm_tasks_equal_lm_eval() {
    let tmp = tempfile::tempdir().unwrap();
    let (record_path, predictions_path) = (tmp.path().join("r.json"), tmp.path().join("p.jsonl"));
    let output = evalrun(&[
        "lm",
        "--model",
        "tests/fixtures/models/gpt2-tiny",
        "--task",
        "wikitext2,lambada_openai,ptb_gpt2",
        "--data-dir",
        path_str(&data_dir()),
        "--output",
        path_str(&record_path),
        "--predictions",
        path_str(&predictions_path),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let table = stdout(&output);
    assert!(
        table.contains("| wikitext2 | 60 |") && table.contains("| lambada_openai | 5153 |"),
        "{table}"
    );
    let record = read_json(&record_path);
    let mut lines: HashMap<(String, u64), serde_json::Value> = HashMap::new();
    for line in read_jsonl(&predictions_path) {
        lines.insert(
            (
                line["task"].as_str().unwrap().to_string(),
                line["id"].as_u64().unwrap(),
            ),
            line,
        );
    }
    let reference = |name: &str| fixtures().join("reference/lm").join(name);

    // WikiText-2, lm-eval `wikitext`: per-article rolling log-likelihood and token count.
    for expected in read_jsonl(&reference("wikitext2.jsonl")) {
        let got = &lines[&("wikitext2".to_string(), expected["id"].as_u64().unwrap())];
        assert_eq!(
            got["tokens"], expected["tokens"],
            "article {}",
            expected["id"]
        );
        let (g, w) = (
            got["loglikelihood"].as_f64().unwrap(),
            expected["loglikelihood"].as_f64().unwrap(),
        );
        assert!(
            rel(g, w) <= 1e-4,
            "article {}: {g} vs lm-eval {w}",
            expected["id"]
        );
    }
    let summary = read_json(&reference("wikitext2_summary.json"));
    let result = &record["results"]["wikitext2"];
    assert_eq!(result["sums"]["words"].as_f64(), summary["words"].as_f64());
    assert_eq!(result["sums"]["bytes"].as_f64(), summary["bytes"].as_f64());
    for metric in [
        "word_perplexity",
        "byte_perplexity",
        "bits_per_byte",
        "token_perplexity",
    ] {
        let (g, w) = (
            result["metrics"][metric].as_f64().unwrap(),
            summary[metric].as_f64().unwrap(),
        );
        assert!(rel(g, w) <= 1e-4, "wikitext2 {metric}: {g} vs {w}");
    }

    // LAMBADA (OpenAI), lm-eval `lambada_openai`: per-example log-likelihood and greedy flag.
    for expected in read_jsonl(&reference("lambada_openai.jsonl")) {
        let got = &lines[&(
            "lambada_openai".to_string(),
            expected["id"].as_u64().unwrap(),
        )];
        assert_eq!(
            got["tokens"], expected["continuation_tokens"],
            "#{}",
            expected["id"]
        );
        assert_eq!(got["greedy"], expected["greedy"], "#{}", expected["id"]);
        let (g, w) = (
            got["loglikelihood"].as_f64().unwrap(),
            expected["loglikelihood"].as_f64().unwrap(),
        );
        assert!(rel(g, w) <= 1e-4, "#{}: {g} vs lm-eval {w}", expected["id"]);
    }
    let summary = read_json(&reference("lambada_openai_summary.json"));
    let result = &record["results"]["lambada_openai"];
    assert_eq!(
        result["metrics"]["accuracy"].as_f64(),
        summary["accuracy"].as_f64()
    );
    assert!(
        rel(
            result["metrics"]["perplexity"].as_f64().unwrap(),
            summary["perplexity"].as_f64().unwrap()
        ) <= 1e-4
    );

    // PTB, GPT-2 paper normalisation: Megatron's detokenizer, one stream, 82,430 original tokens.
    let ptb = read_json(&reference("ptb_gpt2.json"));
    let result = &record["results"]["ptb_gpt2"];
    assert_eq!(result["sums"]["words"].as_f64(), Some(82430.0));
    assert_eq!(result["sums"]["tokens"].as_f64(), ptb["tokens"].as_f64());
    assert!(
        rel(
            result["sums"]["loglikelihood"].as_f64().unwrap(),
            ptb["loglikelihood"].as_f64().unwrap()
        ) <= 1e-4
    );
    assert!(
        rel(
            result["metrics"]["word_perplexity"].as_f64().unwrap(),
            ptb["word_perplexity"].as_f64().unwrap()
        ) <= 1e-4
    );
    assert!(result["windows"]
        .as_str()
        .unwrap()
        .contains("lm-eval disjoint"));
}

#[test]
fn missing_lm_data_is_reported_cleanly() {
    let empty = tempfile::tempdir().unwrap();
    let output = evalrun(&[
        "lm",
        "--model",
        "tests/fixtures/models/gpt2-tiny",
        "--task",
        "lm1b_gpt2",
        "--data-dir",
        path_str(empty.path()),
    ]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("data not present") && err.contains("news.en.heldout-00000-of-00050"),
        "{err}"
    );
}
