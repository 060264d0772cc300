//! `evalrun perplexity` on the fixture GPT-2 (real GPT-2 vocabulary) and the real PTB test file,
//! against the transformers perplexity guide's loop run on the same weights in PyTorch
//! (scripts/make_lm_fixtures.py), for the export without past and the one with past.

mod common;

use common::*;

fn run(model: &str, stride: &str) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("r.json");
    let file = data_dir().join("lm/ptb/ptb.test.txt");
    let output = evalrun(&[
        "perplexity",
        "--model",
        model,
        "--file",
        path_str(&file),
        "--stride",
        stride,
        "--output",
        path_str(&record),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("| perplexity | test | 1 | token_perplexity / "));
    read_json(&record)["results"]["perplexity"].clone()
}

fn close(got: f64, expected: f64, what: &str) {
    assert!(
        ((got - expected) / expected).abs() <= 1e-4,
        "{what}: {got} vs reference {expected}"
    );
}

#[test]
fn strided_perplexity_matches_the_transformers_guide_with_and_without_past() {
    let reference = read_json(&fixtures().join("reference/lm/perplexity_ptb_stride256.json"));
    let plain = run("tests/fixtures/models/gpt2-tiny", "256");
    // The guide weights each window's mean loss by trg_len − 1; evalrun reproduces that
    // aggregation and keeps the exact per-token sums beside it.
    assert_eq!(
        plain["sums"]["guide_tokens"].as_f64(),
        reference["n_tokens"].as_f64()
    );
    close(
        plain["sums"]["guide_nll_sum"].as_f64().unwrap(),
        reference["nll_sum"].as_f64().unwrap(),
        "nll sum",
    );
    close(
        plain["metrics"]["token_perplexity"].as_f64().unwrap(),
        reference["perplexity"].as_f64().unwrap(),
        "perplexity",
    );
    let total = reference["total_tokens"].as_f64().unwrap();
    assert_eq!(
        plain["sums"]["tokens"].as_f64(),
        Some(total - 1.0),
        "every token but the first is scored once"
    );
    assert!(plain["windows"].as_str().unwrap().contains("stride 256"));

    // The with-past export, fed empty past tensors, computes the same numbers.
    let past = run("tests/fixtures/models/gpt2-tiny-past", "256");
    assert_eq!(past["sums"]["tokens"], plain["sums"]["tokens"]);
    let (a, b) = (
        plain["sums"]["loglikelihood"].as_f64().unwrap(),
        past["sums"]["loglikelihood"].as_f64().unwrap(),
    );
    assert!(((a - b) / a).abs() < 1e-6, "{a} vs {b}");
}
