//! WikiText-2 the lm-eval way, checked piece by piece against lm-eval itself
//! (scripts/make_lm_fixtures.py ran HFLM.loglikelihood_rolling on the same weights): the 60
//! articles, lm-eval's word and byte counts, the detokenized token counts, and each article's
//! rolling log-likelihood through ONNX Runtime.

mod common;

use common::*;
use evalrun_core::lm::rolling_windows;
use evalrun_runtime::{CausalLm, Device, Runtime, RuntimeOptions};
use evalrun_tasks::preprocess::{lm_eval_word_count, wikitext_articles, wikitext_detokenizer};

#[test]
fn wikitext2_articles_and_rolling_loglikelihoods_equal_lm_eval() {
    let text = std::fs::read_to_string(data_dir().join("lm/wikitext-2/wiki.test.tokens")).unwrap();
    let articles = wikitext_articles(&text);
    let reference = read_jsonl(&fixtures().join("reference/lm/wikitext2.jsonl"));
    assert_eq!(articles.len(), 60);
    assert_eq!(articles.len(), reference.len());
    assert_eq!(
        articles.iter().map(|(_, a)| a.as_str()).collect::<String>(),
        text,
        "articles concatenate back to the file"
    );

    let runtime = Runtime::new(RuntimeOptions {
        device: Device::Cpu,
        threads: 2,
    })
    .unwrap();
    let mut lm = CausalLm::load(&runtime, &fixtures().join("models/gpt2-tiny")).unwrap();
    let (mut total_ll, mut total_ref) = (0.0, 0.0);
    for ((first_line, page), expected) in articles.iter().zip(&reference) {
        let id = &expected["id"];
        assert_eq!(
            *first_line as u64,
            expected["first_line"].as_u64().unwrap(),
            "article {id}"
        );
        assert_eq!(
            lm_eval_word_count(page) as u64,
            expected["words"].as_u64().unwrap(),
            "article {id} words"
        );
        assert_eq!(
            page.len() as u64,
            expected["bytes"].as_u64().unwrap(),
            "article {id} bytes"
        );
        let tokens = lm
            .encoder()
            .encode_plain(&wikitext_detokenizer(page))
            .unwrap();
        assert_eq!(
            tokens.len() as u64,
            expected["tokens"].as_u64().unwrap(),
            "article {id} tokens after detokenizing"
        );
        let windows = rolling_windows(&tokens, lm.eot(), 512);
        let ll: f64 = lm
            .score(&windows, 8, 2048, &mut |_| {})
            .unwrap()
            .iter()
            .map(|s| s.loglikelihood)
            .sum();
        let want = expected["loglikelihood"].as_f64().unwrap();
        assert!(
            ((ll - want) / want).abs() <= 1e-4,
            "article {id}: {ll} vs lm-eval {want}"
        );
        total_ll += ll;
        total_ref += want;
    }
    let summary = read_json(&fixtures().join("reference/lm/wikitext2_summary.json"));
    let words = summary["words"].as_f64().unwrap();
    let word_ppl = (-total_ll / words).exp();
    let expected = summary["word_perplexity"].as_f64().unwrap();
    assert!(
        ((word_ppl - expected) / expected).abs() <= 1e-4,
        "word perplexity {word_ppl} vs {expected}"
    );
    assert!(((total_ll - total_ref) / total_ref).abs() <= 1e-5);
}
