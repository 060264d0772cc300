//! WikiText-2 the lm-eval way, piece by piece against lm-eval itself
//! (scripts/make_lm_fixtures.py): the 60 articles with their first lines, lm-eval's word and
//! byte counts, and the token counts after lm-eval's detokenizer. Scoring is in tests/lm.rs.

mod common;

use common::*;
use evalrun_runtime::TextEncoder;
use evalrun_tasks::preprocess::{lm_eval_word_count, wikitext_articles, wikitext_detokenizer};

#[test]
fn wikitext2_articles_counts_and_detokenized_tokens_equal_lm_eval() {
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
    let encoder =
        TextEncoder::load_untruncated(&fixtures().join("models/gpt2-tiny/tokenizer.json")).unwrap();
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
        let tokens = encoder.encode_plain(&wikitext_detokenizer(page)).unwrap();
        assert_eq!(
            tokens.len() as u64,
            expected["tokens"].as_u64().unwrap(),
            "article {id} tokens after detokenizing"
        );
    }
}
