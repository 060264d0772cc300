//! LAMBADA (OpenAI's file) the lm-eval `lambada_openai` way, checked against lm-eval's
//! `HFLM.loglikelihood` on the same weights (scripts/make_lm_fixtures.py): per-example
//! log-likelihood of " " + last word given the rest, and the all-tokens-greedy flag.

mod common;

use common::*;
use evalrun_core::lm::continuation_window;
use evalrun_runtime::{CausalLm, Device, Runtime, RuntimeOptions};

#[test]
fn lambada_openai_loglikelihoods_and_greedy_flags_equal_lm_eval() {
    let text = std::fs::read_to_string(data_dir().join("lm/lambada/lambada_test.jsonl")).unwrap();
    let reference = read_jsonl(&fixtures().join("reference/lm/lambada_openai.jsonl"));
    let runtime = Runtime::new(RuntimeOptions {
        device: Device::Cpu,
        threads: 2,
    })
    .unwrap();
    let mut lm = CausalLm::load(&runtime, &fixtures().join("models/gpt2-tiny")).unwrap();
    let mut windows = Vec::new();
    for line in text.lines() {
        let doc: serde_json::Value = serde_json::from_str(line).unwrap();
        let passage = doc["text"].as_str().unwrap();
        let (context, word) = passage.rsplit_once(' ').unwrap();
        let (context_ids, continuation_ids) = lm
            .encoder()
            .encode_pair(context, &format!(" {word}"))
            .unwrap();
        windows.push(continuation_window(&context_ids, &continuation_ids, 512));
    }
    assert_eq!(windows.len(), 5153);
    assert_eq!(windows.len(), reference.len());
    let scores = lm.score(&windows, 16, 4096, &mut |_| {}).unwrap();
    let (mut greedy, mut ll_sum) = (0usize, 0.0);
    for ((score, window), expected) in scores.iter().zip(&windows).zip(&reference) {
        let id = &expected["id"];
        assert_eq!(
            window.targets().len() as u64,
            expected["continuation_tokens"].as_u64().unwrap(),
            "#{id}"
        );
        let want = expected["loglikelihood"].as_f64().unwrap();
        assert!(
            ((score.loglikelihood - want) / want).abs() <= 1e-4,
            "#{id}: {} vs lm-eval {want}",
            score.loglikelihood
        );
        assert_eq!(
            score.greedy,
            expected["greedy"].as_bool().unwrap(),
            "#{id} greedy"
        );
        greedy += usize::from(score.greedy);
        ll_sum += score.loglikelihood;
    }
    let summary = read_json(&fixtures().join("reference/lm/lambada_openai_summary.json"));
    let accuracy = greedy as f64 / scores.len() as f64;
    assert!((accuracy - summary["accuracy"].as_f64().unwrap()).abs() < 1e-12);
    let perplexity = (-ll_sum / scores.len() as f64).exp();
    let expected = summary["perplexity"].as_f64().unwrap();
    assert!(
        ((perplexity - expected) / expected).abs() <= 1e-4,
        "{perplexity} vs {expected}"
    );
}
