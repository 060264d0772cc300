//! The text metrics against their Python references on real data and edge cases
//! (tests/fixtures/reference/text_metrics.json, written by scripts/text_metric_cases.py from
//! sacreBLEU, rouge_score, the SQuAD v1.1 script and Python's `float`).
//!
//! BLEU: tokenizations and per-segment statistics identical, scores within 1e-9 (they are in
//! fact bit-identical); ROUGE within 1e-12; SQuAD and `float` exact. The Unicode tables the
//! implementations rely on are compared with Python's; disagreements are tolerated only on code
//! points that one side's Unicode version has not assigned yet.

use std::sync::OnceLock;

use evalrun_core::text::bleu::{self, Bleu, BleuConfig, BleuTokenizer, Smoothing};
use evalrun_core::text::rouge::{self, RougeScore, RougeScores};
use evalrun_core::text::squad::{self, SquadAccumulator, SquadScore};
use evalrun_core::text::{is_python_space, is_python_word_char, python_float, python_lower};
use regex::Regex;
use serde_json::Value;

fn fixture() -> &'static Value {
    static FIXTURE: OnceLock<Value> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/reference/text_metrics.json"
        );
        let text = std::fs::read_to_string(path).expect("read text_metrics.json");
        serde_json::from_str(&text).expect("parse text_metrics.json")
    })
}

fn array(v: &Value) -> &Vec<Value> {
    v.as_array().expect("array")
}

fn string(v: &Value) -> &str {
    v.as_str().expect("string")
}

fn float(v: &Value) -> f64 {
    v.as_f64().expect("number")
}

fn uint(v: &Value) -> u64 {
    v.as_u64().expect("unsigned integer")
}

fn strings(v: &Value) -> Vec<String> {
    array(v).iter().map(|s| string(s).to_owned()).collect()
}

fn bleu_config(tokenize: &str, smoothing: Smoothing) -> BleuConfig {
    BleuConfig {
        tokenizer: BleuTokenizer::from_name(tokenize).expect("known tokenizer"),
        smoothing,
        lowercase: false,
        effective_order: false,
    }
}

/// Asserts `got` equals `expected` to within `tol`, and counts values that are not
/// bit-identical.
fn close(what: &str, got: f64, expected: f64, tol: f64, inexact: &mut usize) {
    assert!(
        (got - expected).abs() <= tol,
        "{what}: got {got:?}, reference {expected:?}"
    );
    if got.to_bits() != expected.to_bits() {
        *inexact += 1;
    }
}

#[test]
fn bleu_tokenizations_match_sacrebleu() {
    let cases = array(&fixture()["bleu"]["tokenizations"]);
    let lowercase = Bleu::new(BleuConfig {
        lowercase: true,
        ..BleuConfig::t5()
    });
    for case in cases {
        let text = string(&case["text"]);
        for name in ["intl", "13a", "none"] {
            let bleu = Bleu::new(bleu_config(name, Smoothing::Exp));
            assert_eq!(
                bleu.preprocess(text),
                string(&case[name]),
                "{name} tokenization of {text:?}"
            );
        }
        assert_eq!(
            lowercase.preprocess(text),
            string(&case["intl_lowercase"]),
            "lowercased intl tokenization of {text:?}"
        );
    }
    assert!(cases.len() > 1500, "{} tokenization cases", cases.len());
}

#[test]
fn bleu_segment_statistics_match_sacrebleu() {
    let segments = array(&fixture()["bleu"]["segments"]);
    let t5 = Bleu::new(BleuConfig::t5());
    let mut inexact = 0;
    for segment in segments {
        let id = string(&segment["id"]);
        let hyp = string(&segment["hyp"]);
        let refs = strings(&segment["refs"]);
        for name in ["intl", "13a", "none"] {
            let bleu = Bleu::new(bleu_config(name, Smoothing::Exp));
            let stats = bleu.segment_stats(hyp, &refs).expect("references");
            let expected: Vec<u64> = array(&segment["stats"][name]).iter().map(uint).collect();
            assert_eq!(stats.to_vec(), expected, "{id} {name} statistics");
        }
        let sentence = t5
            .score_segments(&[t5.segment_stats(hyp, &refs).expect("references")])
            .expect("one segment");
        close(
            &format!("{id} sentence BLEU"),
            sentence.score,
            float(&segment["sentence_bleu_intl"]),
            1e-9,
            &mut inexact,
        );
    }
    assert!(segments.len() >= 1000, "{} segments", segments.len());
    assert_eq!(inexact, 0, "sentence BLEU scores not bit-identical");
}

#[test]
fn bleu_corpus_scores_match_sacrebleu() {
    let fixture = fixture();
    let segments = array(&fixture["bleu"]["segments"]);
    let corpora = array(&fixture["bleu"]["corpora"]);
    let mut inexact = 0;
    for corpus in corpora {
        let name = string(&corpus["name"]);
        let smooth_value = corpus["smooth_value"].as_f64();
        let smoothing = Smoothing::from_name(string(&corpus["smooth_method"]), smooth_value)
            .expect("known smoothing");
        let config = BleuConfig {
            lowercase: corpus["lowercase"].as_bool().expect("bool"),
            effective_order: corpus["effective_order"].as_bool().expect("bool"),
            ..bleu_config(string(&corpus["tokenize"]), smoothing)
        };
        let bleu = Bleu::new(config);
        let ids: Vec<usize> = array(&corpus["segments"])
            .iter()
            .map(|v| uint(v) as usize)
            .collect();
        let hyps: Vec<&str> = ids.iter().map(|&i| string(&segments[i]["hyp"])).collect();
        let refs: Vec<Vec<String>> = ids.iter().map(|&i| strings(&segments[i]["refs"])).collect();

        let per_segment = bleu
            .corpus_stats(hyps.iter().copied().zip(refs.iter().map(Vec::as_slice)))
            .expect("references");
        let score = bleu.score_segments(&per_segment).expect("non-empty");
        if corpus["uniform_refs"].as_bool().expect("bool") {
            let streams: Vec<Vec<&str>> = (0..refs[0].len())
                .map(|k| refs.iter().map(|r| r[k].as_str()).collect())
                .collect();
            let via_streams = bleu::corpus_bleu(&hyps, &streams, config).expect("valid corpus");
            assert_eq!(via_streams, score, "{name}: stream layout");
        }

        close(
            &format!("{name} score"),
            score.score,
            float(&corpus["score"]),
            1e-9,
            &mut inexact,
        );
        close(
            &format!("{name} bp"),
            score.bp,
            float(&corpus["bp"]),
            1e-12,
            &mut inexact,
        );
        for (n, p) in array(&corpus["precisions"]).iter().enumerate() {
            close(
                &format!("{name} precision {n}"),
                score.precisions[n],
                float(p),
                1e-12,
                &mut inexact,
            );
        }
        // sacreBLEU's add-k reports count + k and total + k for orders >= 2, except on its
        // early return when nothing matches.
        let k = match smoothing {
            Smoothing::AddK(k) if score.counts.iter().any(|&c| c > 0) => k,
            _ => 0.0,
        };
        for n in 0..bleu::MAX_NGRAM_ORDER {
            let shift = if n > 0 { k } else { 0.0 };
            assert_eq!(
                score.counts[n] as f64 + shift,
                float(&corpus["counts"][n]),
                "{name} count {n}"
            );
            assert_eq!(
                score.totals[n] as f64 + shift,
                float(&corpus["totals"][n]),
                "{name} total {n}"
            );
        }
        assert_eq!(score.sys_len, uint(&corpus["sys_len"]), "{name} sys_len");
        assert_eq!(score.ref_len, uint(&corpus["ref_len"]), "{name} ref_len");
    }
    assert!(corpora.len() > 100, "{} corpora", corpora.len());
    assert_eq!(inexact, 0, "BLEU values not bit-identical");
}

fn rouge_values(score: &RougeScore) -> [f64; 3] {
    [score.precision, score.recall, score.fmeasure]
}

#[test]
fn rouge_matches_rouge_score() {
    let rouge = &fixture()["rouge"];
    let mut inexact = 0;
    for case in array(&rouge["cases"]) {
        let name = string(&case["name"]);
        let (target, prediction) = (string(&case["target"]), string(&case["prediction"]));
        let scores: RougeScores = if case["t5_prepare"].as_bool().expect("bool") {
            rouge::score_t5(target, prediction)
        } else {
            rouge::score(target, prediction)
        };
        for (key, got) in [
            ("rouge1", &scores.rouge1),
            ("rouge2", &scores.rouge2),
            ("rougeL", &scores.rouge_l),
            ("rougeLsum", &scores.rouge_lsum),
        ] {
            let expected = array(&case["scores"][key]);
            for (i, value) in rouge_values(got).into_iter().enumerate() {
                close(
                    &format!("{name} {key}[{i}]"),
                    value,
                    float(&expected[i]),
                    1e-12,
                    &mut inexact,
                );
                assert!((0.0..=1.0).contains(&value));
            }
        }
    }
    for case in array(&rouge["tokenizations"]) {
        assert_eq!(
            rouge::tokenize(string(&case["text"])),
            strings(&case["tokens"]),
            "ROUGE tokens of {:?}",
            case["text"]
        );
    }
    assert!(array(&rouge["cases"]).len() > 300);
    assert_eq!(inexact, 0, "ROUGE values not bit-identical");
}

#[test]
fn squad_matches_official_script() {
    let squad_fixture = &fixture()["squad"];
    let cases = array(&squad_fixture["cases"]);
    let mut scores = Vec::new();
    for case in cases {
        let id = string(&case["id"]);
        let prediction = string(&case["prediction"]);
        let golds = strings(&case["ground_truths"]);
        assert_eq!(
            squad::normalize_answer(prediction),
            string(&case["normalized_prediction"]),
            "{id}: normalize {prediction:?}"
        );
        for (gold, normalized) in golds.iter().zip(array(&case["normalized_ground_truths"])) {
            assert_eq!(squad::normalize_answer(gold), string(normalized), "{id}");
        }
        let score = SquadScore::new(prediction, &golds).expect("ground truths");
        assert_eq!(
            score.exact_match,
            case["exact_match"].as_bool().expect("bool"),
            "{id} EM"
        );
        assert_eq!(score.f1.to_bits(), float(&case["f1"]).to_bits(), "{id} F1");
        scores.push(score);
    }
    for total in array(&squad_fixture["totals"]) {
        let mut acc = SquadAccumulator::new();
        for i in array(&total["cases"]) {
            acc.push(scores[uint(i) as usize]);
        }
        let name = string(&total["name"]);
        assert_eq!(
            acc.exact_match_percent().map(f64::to_bits),
            Some(float(&total["exact_match"]).to_bits()),
            "{name} EM"
        );
        assert_eq!(
            acc.f1_percent().map(f64::to_bits),
            Some(float(&total["f1"]).to_bits()),
            "{name} F1"
        );
    }
    assert!(cases.len() > 400);
}

#[test]
fn python_float_matches_cpython() {
    let cases = array(&fixture()["python_float"]);
    for case in cases {
        let input = string(&case["input"]);
        let got = python_float(input).map(f64::to_bits);
        let expected = case["bits"].as_u64();
        assert_eq!(
            got,
            expected,
            "float({input:?}): got {:?}, Python {:?}",
            python_float(input),
            case.get("repr")
        );
    }
    assert!(cases.len() > 100);
}

/// Expands `[[lo, hi], ...]` into a membership test.
fn in_ranges(ranges: &Value) -> impl Fn(u32) -> bool {
    let ranges: Vec<(u32, u32)> = array(ranges)
        .iter()
        .map(|r| (uint(&r[0]) as u32, uint(&r[1]) as u32))
        .collect();
    move |cp| {
        let i = ranges.partition_point(|&(_, hi)| hi < cp);
        ranges.get(i).is_some_and(|&(lo, _)| lo <= cp)
    }
}

fn all_chars() -> impl Iterator<Item = char> {
    (0..=0x10FFFFu32).filter_map(char::from_u32)
}

#[test]
fn python_string_tables_match_cpython() {
    let unicode = &fixture()["unicode"];
    let py_unassigned = in_ranges(&unicode["py_unassigned"]);

    let spaces: Vec<u32> = array(&unicode["py_space"])
        .iter()
        .map(|v| uint(v) as u32)
        .collect();
    for c in all_chars() {
        assert_eq!(
            is_python_space(c),
            spaces.contains(&u32::from(c)),
            "isspace U+{:04X}",
            u32::from(c)
        );
    }

    let py_word = in_ranges(&unicode["py_word"]);
    let mut word_mismatch_unassigned_in_python = 0;
    for c in all_chars() {
        let cp = u32::from(c);
        if is_python_word_char(c) != py_word(cp) {
            assert!(py_unassigned(cp), "\\w disagrees on U+{cp:04X}");
            word_mismatch_unassigned_in_python += 1;
        }
    }

    let lower: std::collections::HashMap<u32, String> = array(&unicode["lower"])
        .iter()
        .map(|e| (uint(&e[0]) as u32, string(&e[1]).to_owned()))
        .collect();
    let mut lower_mismatch_unassigned_in_python = 0;
    for c in all_chars() {
        let cp = u32::from(c);
        let expected = lower.get(&cp).cloned().unwrap_or_else(|| c.to_string());
        if python_lower(&c.to_string()) != expected {
            assert!(py_unassigned(cp), "lower() disagrees on U+{cp:04X}");
            lower_mismatch_unassigned_in_python += 1;
        }
    }
    for case in array(&unicode["lower_strings"]) {
        assert_eq!(
            python_lower(string(&case["text"])),
            string(&case["lower"]),
            "lower({:?})",
            case["text"]
        );
    }
    eprintln!(
        "Python {} tables: \\w differs on {word_mismatch_unassigned_in_python} and lower() on \
         {lower_mismatch_unassigned_in_python} code points unassigned in Python's Unicode",
        string(&unicode["python_unicode_version"])
    );
}

#[test]
fn intl_tokenizer_classes_match_python_regex() {
    // sacreBLEU's intl tokenizer uses the Python `regex` module's \p{P}, \p{S}, \p{N}; ours come
    // from the Rust `regex` crate. Differences are allowed only where Rust's tables (Unicode
    // 16.0) have the code point unassigned (the Python module's tables are newer).
    let unicode = &fixture()["unicode"];
    let rust_unassigned = Regex::new(r"^\p{Cn}$").expect("regex");
    for class in ["P", "S", "N"] {
        let python = in_ranges(&unicode[format!("regex_{class}").as_str()]);
        let rust = Regex::new(&format!(r"^\p{{{class}}}$")).expect("regex");
        let mut tolerated = Vec::new();
        for c in all_chars() {
            let cp = u32::from(c);
            let s = c.to_string();
            if rust.is_match(&s) != python(cp) {
                assert!(
                    rust_unassigned.is_match(&s),
                    "\\p{{{class}}} disagrees on assigned U+{cp:04X}"
                );
                tolerated.push(cp);
            }
        }
        eprintln!(
            "\\p{{{class}}}: {} code points differ (all unassigned in Rust's Unicode 16.0), e.g. {:X?}",
            tolerated.len(),
            &tolerated[..tolerated.len().min(8)]
        );
    }
}
