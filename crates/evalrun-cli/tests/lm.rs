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
        evalrun_runtime::Runtime::new(evalrun_runtime::RuntimeOptions::cpu(2)).unwrap()
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

/// Shared-prefix scoring (context once, its key/value cache reused for every candidate) gives
/// the log-likelihoods of scoring each (context, candidate) pair alone, on both scoring paths.
#[test]
fn shared_prefix_scoring_equals_scoring_each_pair_alone() {
    use evalrun_core::lm::continuation_window;
    use evalrun_runtime::{CausalLm, Edit, Edits};
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
    for edits in [Edits::auto(), Edits::auto().without(Edit::LogSoftmax)] {
        let scoring = edits.to_string();
        let dir = fixtures().join("models/gpt2-tiny-past");
        let mut lm = CausalLm::load_with(runtime, &dir, &edits).unwrap();
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
                "{scoring} window {i}: {} vs {}",
                s.loglikelihood,
                a.loglikelihood
            );
            assert_eq!((s.tokens, &s.greedy_tokens), (a.tokens, &a.greedy_tokens));
        }
    }
}

/// The wrong-provenance case: a cache filled on the default (edited, in-graph) path
/// never answers a run on the export as it is (`--graph-edits none`, host log-softmax in f64)
/// or on the old alias `EVALRUN_HOST_LOGITS=1`; the records say which edits and which scoring
/// path computed each, and the per-example log-likelihoods agree within 1e-4.
#[test]
fn graph_edits_are_keyed_in_the_cache_and_named_in_the_record() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let run = |name: &str, extra: &[&str], env: &[(&str, &str)]| {
        let record = tmp.path().join(format!("{name}.json"));
        let predictions = tmp.path().join(format!("{name}.jsonl"));
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_evalrun"));
        command
            .args(["run", "--model", "tests/fixtures/models/gpt2-tiny"])
            .args([
                "--task",
                "lambada_openai",
                "--limit",
                "30",
                "--bootstrap",
                "0",
            ])
            .args(["--data-dir", path_str(&data_dir())])
            .args(["--cache", path_str(&cache)])
            .args(["--output", path_str(&record)])
            .args(["--predictions", path_str(&predictions)])
            .args(extra)
            .current_dir(repo_root());
        for (k, v) in env {
            command.env(k, v);
        }
        let output = command.output().expect("evalrun runs");
        assert!(output.status.success(), "{name}: {}", stderr(&output));
        (read_json(&record), read_jsonl(&predictions))
    };
    let (auto, auto_lines) = run("auto", &[], &[]);
    let (again, _) = run("again", &[], &[]);
    let (none, none_lines) = run("none", &["--graph-edits", "none"], &[]);
    let (alias, _) = run("alias", &[], &[("EVALRUN_HOST_LOGITS", "1")]);
    let hits = |r: &serde_json::Value| {
        (
            r["cache"]["hits"].as_u64().unwrap(),
            r["cache"]["computed"].as_u64().unwrap(),
        )
    };
    assert_eq!(hits(&auto), (0, 30));
    assert_eq!(hits(&again), (30, 0));
    assert_eq!(hits(&none), (0, 30), "--graph-edits none must compute");
    assert_eq!(hits(&alias), (0, 30), "EVALRUN_HOST_LOGITS=1 must compute");
    let model = |r: &serde_json::Value| r["results"]["lambada_openai"]["model"].clone();
    assert_eq!(
        model(&auto)["edits"],
        serde_json::json!([
            "weights_in_place",
            "nan_guards",
            "log_softmax",
            "lm_head",
            "attention_blocks"
        ])
    );
    assert_eq!(
        model(&auto)["scoring"],
        "causal lm: in-graph log-softmax, gathered head; no BOS added, prefix <|endoftext|> (50256)"
    );
    assert_eq!(model(&none)["edits"], serde_json::json!([]));
    assert!(model(&none).get("edit_report").is_none());
    assert_eq!(
        model(&none)["scoring"],
        "causal lm: host log-softmax (f64); no BOS added, prefix <|endoftext|> (50256)"
    );
    assert_eq!(none["config"]["options"]["graph_edits"], "none");
    assert_eq!(
        model(&alias)["edits"],
        serde_json::json!(["weights_in_place", "nan_guards", "attention_blocks"])
    );
    let report = model(&auto)["edit_report"].as_array().unwrap().clone();
    assert!(report.iter().all(|e| e["graph"] == "model.onnx"));
    assert!(report
        .iter()
        .any(|e| e["edit"] == "nan_guards" && e["status"] == "applied" && e["count"] == 2));
    assert_eq!(auto_lines.len(), none_lines.len());
    for (a, n) in auto_lines.iter().zip(&none_lines) {
        let (a, n) = (
            a["loglikelihood"].as_f64().unwrap(),
            n["loglikelihood"].as_f64().unwrap(),
        );
        assert!(rel(a, n) <= 1e-4, "{a} vs {n}");
    }
}

/// An unknown edit name is exit 2, naming every known one; a list mixing edits to add and to
/// remove is refused too. Both before any model is loaded.
#[test]
fn unknown_graph_edits_are_refused_with_the_known_names() {
    for (spec, says) in [
        (
            "lm_head,flash_attention",
            "unknown graph edit `flash_attention`",
        ),
        (
            "lm_head,-nan_guards",
            "mixes edits to add and edits to remove",
        ),
    ] {
        let output = evalrun(&[
            "run",
            "--model",
            "tests/fixtures/models/gpt2-tiny",
            "--task",
            "lambada_openai",
            "--graph-edits",
            spec,
            "--data-dir",
            path_str(&data_dir()),
        ]);
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        let err = stderr(&output);
        assert!(err.contains(says), "{err}");
        if spec.contains("flash") {
            for name in [
                "weights_in_place",
                "nan_guards",
                "log_softmax",
                "lm_head",
                "attention_blocks",
                "cross_attention",
            ] {
                assert!(err.contains(name), "{err}");
            }
        }
    }
}

/// Causal LMs whose tokenizers differ from GPT-2's in their special tokens
/// (scripts/make_lm_family_fixtures.py): a Llama (SentencePiece BPE with byte fallback, adds
/// `<s>`), an OPT (GPT-2's vocabulary re-indexed, adds `</s>` as BOS) and a Qwen2 (no BOS: the
/// prefix is its EOS). Each equals lm-eval 0.4.13's HFLM on the same weights with the tokenizer
/// as saved: WikiText-2 per-article log-likelihoods and token counts, LAMBADA per-example
/// log-likelihoods and greedy flags, within 1e-4 relative; and the Llama with
/// `--add-bos-token false --prefix-token </s>` equals `HFLM(add_bos_token=False,
/// prefix_token_id=eos)`. The record and the table say which BOS and prefix were used.
#[test]
fn causal_lm_families_equal_lm_eval_with_their_special_tokens() {
    let cases: [(&str, &[&str], &str, &str); 4] = [
        ("llama-tiny", &[], "", "BOS <s> (1) added, prefix <s> (1)"),
        (
            "llama-tiny",
            &["--add-bos-token", "false", "--prefix-token", "</s>"],
            "_no_bos",
            "no BOS added, prefix </s> (2)",
        ),
        ("opt-tiny", &[], "", "BOS </s> (2) added, prefix </s> (2)"),
        (
            "qwen2-tiny",
            &[],
            "",
            "no BOS added, prefix <|endoftext|> (50256)",
        ),
    ];
    let data = data_dir();
    for (model, extra, suffix, tokens) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let (record_path, predictions) = (tmp.path().join("r.json"), tmp.path().join("p.jsonl"));
        let dir = format!("tests/fixtures/models/{model}");
        let mut args = vec![
            "lm",
            "--model",
            &dir,
            "--task",
            "wikitext2,lambada_openai",
            "--limit",
            "300",
            "--bootstrap",
            "0",
            "--data-dir",
            path_str(&data),
            "--output",
            path_str(&record_path),
            "--predictions",
            path_str(&predictions),
        ];
        args.extend(extra);
        let output = evalrun(&args);
        assert!(output.status.success(), "{model}: {}", stderr(&output));
        let what = format!("{model}{suffix}");
        let got: HashMap<(String, u64), serde_json::Value> = read_jsonl(&predictions)
            .into_iter()
            .map(|l| {
                (
                    (
                        l["task"].as_str().unwrap().to_string(),
                        l["id"].as_u64().unwrap(),
                    ),
                    l,
                )
            })
            .collect();
        let reference = fixtures().join("reference/lm-families").join(model);
        for (task, file, key) in [
            ("wikitext2", "wikitext2", "tokens"),
            ("lambada_openai", "lambada", "greedy"),
        ] {
            let want = read_jsonl(&reference.join(format!("{file}{suffix}.jsonl")));
            assert!(want.len() >= 60, "{what} {task}");
            for w in want {
                let id = w["id"].as_u64().unwrap();
                let g = &got[&(task.to_string(), id)];
                let (a, b) = (
                    g["loglikelihood"].as_f64().unwrap(),
                    w["loglikelihood"].as_f64().unwrap(),
                );
                assert!(rel(a, b) <= 1e-4, "{what} {task} {id}: {a} vs lm-eval {b}");
                assert_eq!(g[key], w[key], "{what} {task} {id}: {key}");
            }
        }
        let record = read_json(&record_path);
        let scoring = record["results"]["lambada_openai"]["model"]["scoring"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(scoring.ends_with(tokens), "{what}: {scoring}");
        let table = stdout(&output);
        assert!(
            table.contains(&tokens.replace('|', "\\|")),
            "{what}: the table names them: {table}"
        );
        if !extra.is_empty() {
            assert_eq!(record["config"]["options"]["add_bos_token"], "false");
            assert_eq!(record["config"]["options"]["prefix_token"], "</s>");
            continue;
        }
        // CBT-format multiple choice (12 questions of 10 candidates, built from WikiText-2): the
        // chosen candidate is lm-eval's argmax and its log-likelihood lm-eval's.
        let cbt = fixtures().join("reference/lm-families/cbt-data");
        let p = tmp.path().join("cbt.jsonl");
        let output = evalrun(&[
            "lm",
            "--model",
            &dir,
            "--task",
            "cbt_cn",
            "--bootstrap",
            "0",
            "--data-dir",
            path_str(&cbt),
            "--predictions",
            path_str(&p),
        ]);
        assert!(output.status.success(), "{model}: {}", stderr(&output));
        let file = std::fs::read_to_string(cbt.join("lm/cbt/cbtest_CN_valid_2000ex.txt")).unwrap();
        let candidates: Vec<Vec<String>> = file
            .lines()
            .filter(|l| l.starts_with("21 "))
            .map(|l| {
                l.split('\t')
                    .nth(3)
                    .unwrap()
                    .split('|')
                    .map(str::to_string)
                    .collect()
            })
            .collect();
        let mut want = vec![vec![f64::NAN; 10]; candidates.len()];
        for r in read_jsonl(&reference.join("cbt.jsonl")) {
            let (q, c) = (
                r["question"].as_u64().unwrap() as usize,
                r["candidate"].as_u64().unwrap() as usize,
            );
            want[q][c] = r["loglikelihood"].as_f64().unwrap();
        }
        let lines = read_jsonl(&p);
        assert_eq!(lines.len(), 12, "{model}");
        for line in lines {
            let q = line["id"].as_u64().unwrap() as usize;
            let best = (0..10)
                .max_by(|&a, &b| want[q][a].total_cmp(&want[q][b]))
                .unwrap();
            assert_eq!(
                line["prediction"], candidates[q][best],
                "{model} question {q}"
            );
            let got = line["loglikelihood"].as_f64().unwrap();
            assert!(
                rel(got, want[q][best]) <= 1e-4,
                "{model} question {q}: {got} vs lm-eval {}",
                want[q][best]
            );
        }
    }
}
