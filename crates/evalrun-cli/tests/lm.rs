//! `evalrun lm` on the fixture GPT-2 (real vocabulary, exported by Optimum) and the real data,
//! against lm-eval's own HFLM on the same weights (scripts/make_lm_fixtures.py): WikiText-2 per
//! article, LAMBADA per example, and the paper-style PTB stream.

mod common;

use std::collections::HashMap;

use common::*;

/// ONNX Runtime allows one environment per process: the tests that load models share it.
fn runtime() -> &'static evalrun_runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<evalrun_runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| {
        evalrun_runtime::Runtime::new(evalrun_runtime::RuntimeOptions {
            device: evalrun_runtime::Device::Cpu,
            threads: 2,
        })
        .unwrap()
    })
}

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
        table.contains("| wikitext2 | test | 60 |")
            && table.contains("| lambada_openai | test | 5153 |"),
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

fn write(dir: &std::path::Path, file: &str, text: &str) {
    let path = dir.join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn cbt_block(query: &str, answer: &str, candidates: &str) -> String {
    let mut s: String = (1..=20)
        .map(|i| format!("{i} `` The king looked at the garden , '' said Tom number {i} .\n"))
        .collect();
    s.push_str(&format!("21 {query}\t{answer}\t\t{candidates}\n"));
    s
}

#[test]
fn cbt_picks_the_argmax_candidate() {
    // Two questions in the exact published layout (cbtest_CN_valid_2000ex.txt).
    let data = tempfile::tempdir().unwrap();
    let text = format!(
        "{}\n{}\n",
        cbt_block(
            "The XXXXX was in the garden .",
            "king",
            "garden|king|Tom|tree|house|dog|cat|road|door|bird"
        ),
        cbt_block(
            "Tom saw the XXXXX again .",
            "garden",
            "garden|king|Tom|tree|house|dog|cat|road|door|bird"
        )
    );
    write(data.path(), "lm/cbt/cbtest_CN_valid_2000ex.txt", &text);
    // The NE file has the same layout; it is read and scored the same way.
    write(data.path(), "lm/cbt/cbtest_NE_valid_2000ex.txt", &text);
    let tmp = tempfile::tempdir().unwrap();
    let (record_path, predictions_path) = (tmp.path().join("r.json"), tmp.path().join("p.jsonl"));
    let output = evalrun(&[
        "lm",
        "--model",
        "tests/fixtures/models/gpt2-tiny",
        "--task",
        "cbt_cn,cbt_ne",
        "--data-dir",
        path_str(data.path()),
        "--output",
        path_str(&record_path),
        "--predictions",
        path_str(&predictions_path),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let record = read_json(&record_path);
    assert_eq!(record["results"]["cbt_cn"]["n"], 2);
    assert_eq!(
        record["results"]["cbt_ne"]["metrics"],
        record["results"]["cbt_cn"]["metrics"]
    );
    let lines: Vec<_> = read_jsonl(&predictions_path)
        .into_iter()
        .filter(|l| l["task"] == "cbt_cn")
        .collect();

    // Independently: each candidate + rest of the query, scored through the runtime.
    use evalrun_core::lm::continuation_window;
    use evalrun_runtime::CausalLm;
    let runtime = runtime();
    let mut lm = CausalLm::load(runtime, &fixtures().join("models/gpt2-tiny")).unwrap();
    let mut correct = 0;
    for (block, line) in text.split("\n\n").zip(&lines) {
        let last = block.lines().last().unwrap();
        let context: Vec<&str> = block
            .lines()
            .take(20)
            .map(|l| l.split_once(' ').unwrap().1)
            .collect();
        let fields: Vec<&str> = last.split_once(' ').unwrap().1.split('\t').collect();
        let (before, after) = fields[0].split_once("XXXXX").unwrap();
        let candidates: Vec<&str> = fields[3].split('|').collect();
        let windows: Vec<_> = candidates
            .iter()
            .map(|c| {
                let (a, b) = lm
                    .encoder()
                    .encode_pair(
                        &format!("{} {before}", context.join(" ")),
                        &format!("{c}{after}"),
                    )
                    .unwrap();
                continuation_window(&a, &b, 512)
            })
            .collect();
        let scores = lm.score(&windows, 16, 8192, &mut |_| {}).unwrap();
        let best = (0..scores.len()).fold(0, |b, i| {
            if scores[i].loglikelihood > scores[b].loglikelihood {
                i
            } else {
                b
            }
        });
        assert_eq!(line["prediction"].as_str(), Some(candidates[best]));
        assert_eq!(line["label"].as_str(), Some(fields[1]));
        correct += usize::from(candidates[best] == fields[1]);
    }
    assert_eq!(
        record["results"]["cbt_cn"]["metrics"]["accuracy"].as_f64(),
        Some(correct as f64 / 2.0)
    );
}

#[test]
fn text8_and_enwik8_tails_in_bits_per_character_and_byte() {
    // Files shorter than the 5,000,000-unit tail are read whole, so the numbers must equal
    // `evalrun perplexity` on the same file (ASCII: bytes = characters).
    let data = tempfile::tempdir().unwrap();
    let text = "anarchism originated as a term of abuse first used against early working class radicals including the diggers of the english revolution ".repeat(20);
    write(data.path(), "lm/text8/text8", &text);
    write(data.path(), "lm/enwik8/enwik8", &text);
    let tmp = tempfile::tempdir().unwrap();
    let record_path = tmp.path().join("r.json");
    let output = evalrun(&[
        "lm",
        "--model",
        "tests/fixtures/models/gpt2-tiny",
        "--task",
        "text8,enwik8",
        "--data-dir",
        path_str(data.path()),
        "--output",
        path_str(&record_path),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let record = read_json(&record_path);
    let ppl_record = tmp.path().join("p.json");
    let file = data.path().join("lm/text8/text8");
    let ppl = evalrun(&[
        "perplexity",
        "--model",
        "tests/fixtures/models/gpt2-tiny",
        "--file",
        path_str(&file),
        "--output",
        path_str(&ppl_record),
    ]);
    assert!(ppl.status.success(), "{}", stderr(&ppl));
    let expected = read_json(&ppl_record)["results"]["perplexity"]["metrics"]["bits_per_byte"]
        .as_f64()
        .unwrap();
    let bpc = record["results"]["text8"]["metrics"]["bits_per_character"]
        .as_f64()
        .unwrap();
    let bpb = record["results"]["enwik8"]["metrics"]["bits_per_byte"]
        .as_f64()
        .unwrap();
    assert!(
        rel(bpc, expected) < 1e-12 && rel(bpb, expected) < 1e-12,
        "{bpc} {bpb} {expected}"
    );
}

#[test]
fn remaining_variants_on_files_in_the_published_formats() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    // WikiText-103 test: same layout as WikiText-2 (blank " " lines around " = Title = ").
    let wiki = " \n = Alpha = \n \n Alpha is a letter @-@ like sign . \n \n = = Use = = \n \n It is used . \n \n = Beta = \n \n Beta follows alpha . \n \n";
    write(d, "lm/wikitext-103/wiki.test.tokens", wiki);
    // One Billion Word heldout shard: one sentence per line.
    write(
        d,
        "lm/1bw/news.en.heldout-00000-of-00050",
        "The cat sat .\nMarkets rose on Tuesday .\n",
    );
    // LAMBADA original release: one tokenized passage per line.
    write(
        d,
        "lm/lambada/lambada_test_plain_text.txt",
        "he looked at the door and said hello to the man\nshe took the red apple\n",
    );
    // OpenAI's LAMBADA file: one {"text": …} per line.
    write(d, "lm/lambada/lambada_test.jsonl", "{\"text\": \"He looked at the door and said hello to the man\"}\n{\"text\": \"She took the red apple\"}\n");
    write(d, "lm/wikitext-2/wiki.test.tokens", wiki);
    let tmp = tempfile::tempdir().unwrap();
    let (record_path, predictions_path) = (tmp.path().join("r.json"), tmp.path().join("p.jsonl"));
    let tasks = "wikitext103,wikitext103_gpt2,wikitext2_gpt2,lm1b_gpt2,lambada_standard,lambada_openai_lasttoken";
    let output = evalrun(&[
        "lm",
        "--model",
        "tests/fixtures/models/gpt2-tiny",
        "--task",
        tasks,
        "--data-dir",
        path_str(d),
        "--output",
        path_str(&record_path),
        "--predictions",
        path_str(&predictions_path),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let r = &read_json(&record_path)["results"];
    assert_eq!(r["wikitext103"]["n"], 2, "two articles");
    assert_eq!(r["wikitext103_gpt2"]["n"], 1, "one stream");
    // Paper-style word counts: whitespace words + one per line.
    let words_plus_eos: usize = wiki.lines().map(|l| l.split_whitespace().count() + 1).sum();
    assert_eq!(
        r["wikitext2_gpt2"]["sums"]["words"].as_f64(),
        Some(words_plus_eos as f64)
    );
    assert_eq!(r["lm1b_gpt2"]["n"], 2);
    assert_eq!(
        r["lm1b_gpt2"]["sums"]["words"].as_f64(),
        Some(4.0 + 1.0 + 5.0 + 1.0)
    );
    assert_eq!(r["lambada_standard"]["n"], 2);
    assert!(
        r["lambada_standard"]["metrics"]["perplexity"]
            .as_f64()
            .unwrap()
            > 1.0
    );
    let last_token: Vec<_> = read_jsonl(&predictions_path)
        .into_iter()
        .filter(|l| l["task"] == "lambada_openai_lasttoken")
        .collect();
    assert_eq!(last_token.len(), 2);
    assert!(
        last_token.iter().all(|l| l["tokens"] == 1),
        "exactly the last BPE token is scored"
    );
}

/// The in-graph head (target logit, log-sum-exp, argmax appended to the ONNX graph) and the
/// host path (whole `logits` tensor, log-softmax in f64) give the same numbers, on both fixture
/// exports (plain and with-past), for rolling WikiText windows and LAMBADA-style continuations.
#[test]
fn in_graph_log_probabilities_equal_host_logits() {
    use evalrun_core::lm::{continuation_window, rolling_windows};
    use evalrun_runtime::{CausalLm, Scoring};
    let runtime = runtime();
    let text = std::fs::read_to_string(data_dir().join("lm/wikitext-2/wiki.test.tokens")).unwrap();
    let text: String = text.chars().take(6000).collect();
    for model in ["gpt2-tiny", "gpt2-tiny-past"] {
        let dir = fixtures().join("models").join(model);
        let mut graph = CausalLm::load_with(runtime, &dir, Scoring::InGraph).unwrap();
        let mut host = CausalLm::load_with(runtime, &dir, Scoring::HostLogits).unwrap();
        assert_eq!(graph.scoring(), Scoring::InGraph, "{model}");
        assert_eq!(host.scoring(), Scoring::HostLogits);
        let tokens = graph.encoder().encode_pair(&text, "").unwrap().0;
        let mut windows = rolling_windows(&tokens, graph.eot(), 256);
        for (context, continuation) in [
            ("The cat sat on the", " mat"),
            (
                "In 1996 the band released their second album ,",
                " which sold well",
            ),
        ] {
            let (a, b) = graph.encoder().encode_pair(context, continuation).unwrap();
            windows.push(continuation_window(&a, &b, 256));
        }
        let g = graph.score(&windows, 4, 600, &mut |_| {}).unwrap();
        let h = host.score(&windows, 4, 600, &mut |_| {}).unwrap();
        assert_same_scores(model, &g, &h, 1e-5);
    }
}

/// The first 5000 characters of the WikiText-2 test file, and 60 of its words to share as a
/// context.
fn wikitext_sample() -> (String, String) {
    let text = std::fs::read_to_string(data_dir().join("lm/wikitext-2/wiki.test.tokens")).unwrap();
    let text: String = text.chars().take(5000).collect();
    let context = text
        .split_whitespace()
        .skip(40)
        .take(60)
        .collect::<Vec<_>>()
        .join(" ");
    (text, context)
}

/// Rolling 200-token windows over `text` (the last scores only its tail), then four
/// continuations: a short one alone and three candidates sharing `context`.
fn mixed_windows(
    lm: &evalrun_runtime::CausalLm,
    text: &str,
    context: &str,
) -> Vec<evalrun_core::lm::Window> {
    use evalrun_core::lm::{continuation_window, rolling_windows};
    let tokens = lm.encoder().encode_pair(text, "").unwrap().0;
    let mut windows = rolling_windows(&tokens, lm.eot(), 200);
    assert!(
        windows.last().unwrap().first_target > 1,
        "the last window scores a tail"
    );
    for (context, continuation) in [
        ("The cat sat on the", " mat"),
        (context, " the"),
        (context, " a ship of the line"),
        (context, " 1917"),
    ] {
        let (a, b) = lm.encoder().encode_pair(context, continuation).unwrap();
        windows.push(continuation_window(&a, &b, 200));
    }
    windows
}

/// Two ways of scoring the same windows agree: log-likelihoods to `tolerance` relative, and
/// the same token counts, greedy flags and argmax tokens.
fn assert_same_scores(
    what: &str,
    a: &[evalrun_runtime::WindowScore],
    b: &[evalrun_runtime::WindowScore],
    tolerance: f64,
) {
    assert_eq!(a.len(), b.len(), "{what}");
    for (i, (a, b)) in a.iter().zip(b).enumerate() {
        assert!(
            rel(a.loglikelihood, b.loglikelihood) < tolerance,
            "{what} window {i}: {} vs {}",
            a.loglikelihood,
            b.loglikelihood
        );
        assert_eq!(
            (a.tokens, a.greedy, &a.greedy_tokens),
            (b.tokens, b.greedy, &b.greedy_tokens),
            "{what} window {i}"
        );
    }
}

/// The LM head run only at the scored positions, in chunks (`GatherND`, then `MatMul`,
/// `LogSoftmax`, `GatherElements`, `ArgMax` per chunk of 256 positions) gives the scores of the
/// export's head run over every position: rolling windows (the last scores only its tail),
/// single continuations, candidates sharing a context (scored against its cache), in batches
/// of up to 1000 scored positions (four chunks filled, the others empty).
#[test]
fn a_head_over_the_scored_positions_alone_scores_the_same() {
    use evalrun_runtime::{weights::Edits, CausalLm, Scoring};
    let runtime = runtime();
    let (text, context) = wikitext_sample();
    for model in ["gpt2-tiny", "gpt2-tiny-past"] {
        let dir = fixtures().join("models").join(model);
        let edits = |gather_head| Edits {
            gather_head,
            ..Edits::causal_lm_from_env()
        };
        let mut gathered =
            CausalLm::load_with_edits(runtime, &dir, Scoring::InGraph, edits(true)).unwrap();
        let mut full =
            CausalLm::load_with_edits(runtime, &dir, Scoring::InGraph, edits(false)).unwrap();
        assert!(gathered.head_gathered(), "{model}");
        assert!(!full.head_gathered(), "{model}");
        let windows = mixed_windows(&gathered, &text, &context);
        let g = gathered.score(&windows, 8, 1000, &mut |_| {}).unwrap();
        let f = full.score(&windows, 3, 500, &mut |_| {}).unwrap();
        assert_same_scores(model, &g, &f, 1e-6);
    }
}

/// Causal attention in blocks of query rows (`evalrun_runtime::attention_blocks`) scores as the
/// export's whole-square attention does. The fixture's windows are short, so the test lowers
/// the thresholds: rolling windows of 200 tokens and the last window's tail, padded batches,
/// short continuations (the export's branch, or blocks left empty), and candidates scored
/// against a shared context's cache (a past: the export's branch), on both fixture exports
/// (keys transposed by `[0, 2, 3, 1]` and by `[0, 1, 3, 2]`). That the blocked branch runs is
/// checked by breaking it: reversing the blocks' order fails this test.
#[test]
fn attention_in_blocks_scores_as_the_whole_square() {
    use evalrun_runtime::attention_blocks::Blocks;
    use evalrun_runtime::{weights::Edits, CausalLm, Scoring};
    let runtime = runtime();
    let (text, context) = wikitext_sample();
    // Blocked above 24 tokens, four blocks of at least 8 rows; and every window blocked, in 16
    // blocks of at least one row (short windows leave blocks empty).
    let configs = [
        Blocks {
            min_tokens: 24,
            blocks: 4,
            min_block: 8,
        },
        Blocks {
            min_tokens: 0,
            blocks: 16,
            min_block: 1,
        },
    ];
    for (model, small) in ["gpt2-tiny", "gpt2-tiny-past"]
        .into_iter()
        .flat_map(|m| configs.map(|c| (m, c)))
    {
        let dir = fixtures().join("models").join(model);
        let edits = |attention_blocks| Edits {
            attention_blocks,
            ..Edits::causal_lm_from_env()
        };
        let mut blocked =
            CausalLm::load_with_edits(runtime, &dir, Scoring::InGraph, edits(Some(small))).unwrap();
        let mut square =
            CausalLm::load_with_edits(runtime, &dir, Scoring::InGraph, edits(None)).unwrap();
        assert_eq!(blocked.attention_blocks(), 2, "{model}: both layers");
        assert_eq!(square.attention_blocks(), 0, "{model}");
        let windows = mixed_windows(&blocked, &text, &context);
        let b = blocked.score(&windows, 3, 1000, &mut |_| {}).unwrap();
        let s = square.score(&windows, 3, 1000, &mut |_| {}).unwrap();
        assert_same_scores(&format!("{model} {small:?}"), &b, &s, 1e-6);
    }
}

/// Shared-prefix scoring (context once, its key/value cache reused for every candidate) gives
/// the log-likelihoods of scoring each (context, candidate) pair alone, on both scoring paths.
#[test]
fn shared_prefix_scoring_equals_scoring_each_pair_alone() {
    use evalrun_core::lm::continuation_window;
    use evalrun_runtime::{CausalLm, Scoring};
    let runtime = runtime();
    let text = std::fs::read_to_string(data_dir().join("lm/wikitext-2/wiki.test.tokens")).unwrap();
    let contexts: Vec<String> = text
        .lines()
        .filter(|l| l.split_whitespace().count() > 60)
        .take(3)
        .map(|l| l.split_whitespace().take(80).collect::<Vec<_>>().join(" "))
        .collect();
    let candidates = [
        " the",
        " Robert",
        " a ship of the line",
        " 1917",
        " himself",
        " they",
    ];
    for scoring in [Scoring::InGraph, Scoring::HostLogits] {
        let dir = fixtures().join("models/gpt2-tiny-past");
        let mut lm = CausalLm::load_with(runtime, &dir, scoring).unwrap();
        assert!(lm.has_past());
        let mut windows = Vec::new();
        for context in &contexts {
            for c in candidates {
                let (a, b) = lm
                    .encoder()
                    .encode_pair(context, &format!("{c} went home ."))
                    .unwrap();
                windows.push(continuation_window(&a, &b, 512));
            }
        }
        // A lone window (no group) and a short-context pair (below MIN_SHARED) ride along.
        let (a, b) = lm.encoder().encode_pair("Hello", " world").unwrap();
        windows.push(continuation_window(&a, &b, 512));
        windows.push(continuation_window(&a, &b, 512));
        let groups = evalrun_runtime::causal::shared_prefix_groups(&windows);
        assert_eq!(groups.len(), 3, "{groups:?}");
        let mut batches = 0;
        let shared = lm.score(&windows, 4, 2048, &mut |_| batches += 1).unwrap();
        assert!(batches > 3 * 2, "{batches}");
        lm.set_shared_prefix(false);
        let alone = lm.score(&windows, 1, 2048, &mut |_| {}).unwrap();
        for (i, (s, a)) in shared.iter().zip(&alone).enumerate() {
            assert!(
                rel(s.loglikelihood, a.loglikelihood) < 1e-5,
                "{scoring:?} window {i}: {} vs {}",
                s.loglikelihood,
                a.loglikelihood
            );
            assert_eq!((s.tokens, &s.greedy_tokens), (a.tokens, &a.greedy_tokens));
        }
    }
}

/// Weights referenced where they lie ([`evalrun_runtime::weights`]): a model whose weights live
/// in an external data file (the layout Optimum writes above 2 GB) loads with the in-graph
/// head, and every score equals the fixture's own, bit for bit. The layout is made from the
/// fixture: its `model.onnx`, renamed `model.onnx_data`, holds the bytes that the rewritten
/// `model.onnx` references.
#[test]
fn external_data_models_load_in_place_with_identical_scores() {
    use evalrun_core::lm::rolling_windows;
    use evalrun_runtime::{weights, CausalLm, Scoring};
    let runtime = runtime();
    let fixture = fixtures().join("models/gpt2-tiny");
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&fixture).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap();
        let to = if name == "model.onnx" {
            "model.onnx_data"
        } else {
            name
        };
        std::fs::copy(&path, dir.path().join(to)).unwrap();
    }
    let rewritten = weights::in_place(&dir.path().join("model.onnx_data")).unwrap();
    assert!(rewritten.referenced >= 5, "{}", rewritten.referenced);
    let size = std::fs::metadata(fixture.join("model.onnx")).unwrap().len() as usize;
    assert!(
        rewritten.bytes.len() * 4 < size,
        "{} of {size} bytes",
        rewritten.bytes.len()
    );
    std::fs::write(dir.path().join("model.onnx"), &rewritten.bytes).unwrap();

    let mut external = CausalLm::load_with(runtime, dir.path(), Scoring::InGraph).unwrap();
    assert_eq!(external.scoring(), Scoring::InGraph);
    let mut original = CausalLm::load_with(runtime, &fixture, Scoring::InGraph).unwrap();
    let text = std::fs::read_to_string(data_dir().join("lm/wikitext-2/wiki.test.tokens")).unwrap();
    let text: String = text.chars().take(3000).collect();
    let tokens = original.encoder().encode_pair(&text, "").unwrap().0;
    let windows = rolling_windows(&tokens, original.eot(), 256);
    let a = external.score(&windows, 4, 600, &mut |_| {}).unwrap();
    let b = original.score(&windows, 4, 600, &mut |_| {}).unwrap();
    assert!(!a.is_empty());
    for (i, (a, b)) in a.iter().zip(&b).enumerate() {
        assert_eq!(
            a.loglikelihood.to_bits(),
            b.loglikelihood.to_bits(),
            "window {i}"
        );
        assert_eq!(a.greedy_tokens, b.greedy_tokens, "window {i}");
    }
}
