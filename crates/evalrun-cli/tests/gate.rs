//! `evalrun report`, `check`, `diff` and `calibrate` on committed records: golden markdown and
//! CSV, the gate's three exit codes, a deliberately perturbed record, and the spread file.

mod common;

use std::path::{Path, PathBuf};

use common::*;

fn baseline() -> PathBuf {
    repo_root().join("results/baselines/glue-fixtures.json")
}

fn golden(name: &str, actual: &str) {
    let path = repo_root()
        .join("crates/evalrun-cli/tests/golden")
        .join(name);
    if std::env::var_os("EVALRUN_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (EVALRUN_BLESS=1 writes it)", path.display()));
    assert_eq!(actual, expected, "{name} differs from its golden file");
}

#[test]
fn report_markdown_and_csv_match_golden_files() {
    let b = path_str(&baseline()).to_string();
    for (format, file) in [("md", "report-glue.md"), ("csv", "report-glue.csv")] {
        let output = evalrun(&[
            "report",
            &b,
            "--reference",
            "bert-base-glue/model-card",
            "--reference",
            "bert-base-glue/run-glue-dev",
            "--format",
            format,
        ]);
        assert!(output.status.success(), "{}", stderr(&output));
        golden(file, &stdout(&output));
    }
    let md =
        std::fs::read_to_string(repo_root().join("crates/evalrun-cli/tests/golden/report-glue.md"))
            .unwrap();
    // Like with like: dev numbers against the test server are marked, the partial average too.
    assert!(md.contains("≠split: dev vs test server"));
    assert!(md.contains("partial: without mnli_matched, mnli_mismatched, qqp"));
}

#[test]
fn report_html_and_svg_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let (html, svg) = (dir.path().join("r.html"), dir.path().join("r.svg"));
    let output = evalrun(&[
        "report",
        path_str(&baseline()),
        "--reference",
        "bert-base-glue/model-card",
        "--format",
        "html",
        "--output",
        path_str(&html),
        "--svg",
        path_str(&svg),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let html = std::fs::read_to_string(html).unwrap();
    assert!(
        html.starts_with("<!DOCTYPE html>") && html.contains("<svg") && html.contains("</table>")
    );
    let svg = std::fs::read_to_string(svg).unwrap();
    assert!(svg.contains("published 93.50") && svg.trim_end().ends_with("</svg>"));
}

fn perturbed(dir: &Path, task: &str, metric: &str, by: f64) -> PathBuf {
    let mut record = read_json(&baseline());
    let value = record["results"][task]["metrics"][metric].as_f64().unwrap();
    record["results"][task]["metrics"][metric] = (value + by).into();
    let path = dir.join("perturbed.json");
    std::fs::write(&path, serde_json::to_string_pretty(&record).unwrap()).unwrap();
    path
}

#[test]
fn check_exits_0_within_1_outside_2_on_error() {
    let b = path_str(&baseline()).to_string();
    let same = evalrun(&["check", &b, "--baseline", &b]);
    assert_eq!(same.status.code(), Some(0), "{}", stderr(&same));

    let dir = tempfile::tempdir().unwrap();
    // A drop: MCC is better high, so a drop beyond the tolerance is a regression.
    let moved = perturbed(dir.path(), "cola", "mcc", -0.01);
    let failed = evalrun(&["check", path_str(&moved), "--baseline", &b]);
    assert_eq!(failed.status.code(), Some(1));
    let err = stderr(&failed);
    assert!(
        err.contains("FAIL cola.mcc: -0.010000 from the baseline, tolerance 0.000100"),
        "{err}"
    );
    assert!(stdout(&failed).contains("**FAIL**"));
    // The same drift passes a 5% relative rule for that metric... no: 0.01 on 0.014 is 70%.
    let rules = dir.path().join("t.toml");
    std::fs::write(&rules, "[metrics.\"cola.mcc\"]\nabsolute = 0.02\n").unwrap();
    let tolerated = evalrun(&[
        "check",
        path_str(&moved),
        "--baseline",
        &b,
        "--tolerance-file",
        path_str(&rules),
    ]);
    assert_eq!(tolerated.status.code(), Some(0), "{}", stdout(&tolerated));
    let relative = evalrun(&[
        "check",
        path_str(&moved),
        "--baseline",
        &b,
        "--tolerance",
        "100%",
    ]);
    assert_eq!(relative.status.code(), Some(0));
    // A CI-derived rule: 0.01 is well inside 2 bootstrap standard errors (~0.03 each).
    std::fs::write(&rules, "[default]\nci = 2.0\n").unwrap();
    let by_ci = evalrun(&[
        "check",
        path_str(&moved),
        "--baseline",
        &b,
        "--tolerance-file",
        path_str(&rules),
    ]);
    assert_eq!(by_ci.status.code(), Some(0), "{}", stdout(&by_ci));

    let missing = evalrun(&[
        "check",
        &b,
        "--baseline",
        path_str(&dir.path().join("none.json")),
    ]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("--bless"));
    let bad = evalrun(&["check", &b, "--baseline", &b, "--tolerance", "lots"]);
    assert_eq!(bad.status.code(), Some(2));
    std::fs::write(dir.path().join("broken.json"), "{\"results\": 3}").unwrap();
    let broken = evalrun(&[
        "check",
        path_str(&dir.path().join("broken.json")),
        "--baseline",
        &b,
    ]);
    assert_eq!(broken.status.code(), Some(2));
    assert!(stderr(&broken).contains("not a valid result record"));
}

#[test]
fn bless_is_the_only_way_to_replace_a_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("base.json");
    let moved = perturbed(dir.path(), "sst2", "accuracy", -0.05);
    let output = evalrun(&[
        "check",
        path_str(&moved),
        "--baseline",
        path_str(&target),
        "--bless",
    ]);
    assert!(output.status.success());
    assert_eq!(
        std::fs::read(&target).unwrap(),
        std::fs::read(&moved).unwrap()
    );
    // The original is 0.05 better than the blessed baseline: a failure only when any move
    // fails.
    let again = evalrun(&[
        "check",
        path_str(&baseline()),
        "--baseline",
        path_str(&target),
        "--direction",
        "both",
    ]);
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(
        std::fs::read(&target).unwrap(),
        std::fs::read(&moved).unwrap(),
        "a failed check must not touch the baseline"
    );
}

#[test]
fn diff_lists_metric_deltas_and_changed_examples() {
    let dir = tempfile::tempdir().unwrap();
    let moved = perturbed(dir.path(), "rte", "accuracy", 0.01);
    let a = dir.path().join("a.jsonl");
    let b = dir.path().join("b.jsonl");
    std::fs::write(&a, "{\"task\":\"rte\",\"id\":0,\"label\":\"entailment\",\"prediction\":\"entailment\",\"logits\":[1.0,0.0]}\n{\"task\":\"rte\",\"id\":1,\"label\":\"entailment\",\"prediction\":\"entailment\",\"logits\":[1.0,0.0]}\n").unwrap();
    std::fs::write(&b, "{\"task\":\"rte\",\"id\":0,\"label\":\"entailment\",\"prediction\":\"entailment\",\"logits\":[1.0,0.0]}\n{\"task\":\"rte\",\"id\":1,\"label\":\"entailment\",\"prediction\":\"not_entailment\",\"logits\":[0.0,1.0]}\n").unwrap();
    let output = evalrun(&[
        "diff",
        path_str(&baseline()),
        path_str(&moved),
        "--predictions",
        path_str(&a),
        path_str(&b),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.contains("| rte | accuracy | 55.60 | 56.60 | +1.00 |"),
        "{text}"
    );
    assert!(text.contains("; 1 changed prediction."), "{text}");
    assert!(
        text.contains("| 1 | \"entailment\" | \"entailment\" | \"not_entailment\" |"),
        "{text}"
    );
}

#[test]
fn calibrate_writes_run_and_bootstrap_spreads() {
    let dir = tempfile::tempdir().unwrap();
    let spread = dir.path().join("spread.json");
    let one = evalrun(&[
        "calibrate",
        "--from",
        path_str(&baseline()),
        "--spread",
        path_str(&spread),
    ]);
    assert!(one.status.success(), "{}", stderr(&one));
    let s = read_json(&spread);
    assert_eq!(s["method"], "bootstrap");
    let se = s["spread"]["sst2.accuracy"].as_f64().unwrap();
    // Binomial standard error of 0.789 on 872 examples is 0.0138.
    assert!((se - 0.0138).abs() < 0.002, "{se}");

    let moved = perturbed(dir.path(), "sst2", "accuracy", 0.02);
    let two = evalrun(&[
        "calibrate",
        "--from",
        path_str(&baseline()),
        "--from",
        path_str(&moved),
        "--spread",
        path_str(&spread),
    ]);
    assert!(two.status.success(), "{}", stderr(&two));
    let s = read_json(&spread);
    assert_eq!(
        (s["method"].as_str(), s["runs"].as_u64()),
        (Some("runs"), Some(2))
    );
    assert!((s["spread"]["sst2.accuracy"].as_f64().unwrap() - 0.02 / 2f64.sqrt()).abs() < 1e-9);
    assert_eq!(s["spread"]["cola.mcc"].as_f64(), Some(0.0));

    // A spread-based rule then tolerates exactly k × spread.
    std::fs::write(
        dir.path().join("t.toml"),
        "spread_file = \"spread.json\"\n[metrics.\"sst2.accuracy\"]\nspread = 1.5\n",
    )
    .unwrap();
    let gated = evalrun(&[
        "check",
        path_str(&moved),
        "--baseline",
        path_str(&baseline()),
        "--tolerance-file",
        path_str(&dir.path().join("t.toml")),
    ]);
    assert_eq!(gated.status.code(), Some(0), "{}", stdout(&gated));

    // Repeated runs of a deterministic evaluation have zero spread.
    let repeated = evalrun(&[
        "calibrate",
        "--repeat",
        "2",
        "--model",
        "tests/fixtures/models/bert-tiny-cls2",
        "--task",
        "rte",
        "--data-dir",
        path_str(&data_dir()),
        "--spread",
        path_str(&spread),
    ]);
    assert!(repeated.status.success(), "{}", stderr(&repeated));
    assert_eq!(
        read_json(&spread)["spread"]["rte.accuracy"].as_f64(),
        Some(0.0)
    );
}

/// D7: a run that shares no metric with the baseline (the fixture LM record against the GLUE
/// baseline) is exit 2, "nothing was gated", not exit 1 with every row FAIL.
#[test]
fn check_with_nothing_to_compare_is_an_error_not_a_failure() {
    let lm = repo_root().join("results/baselines/lm-fixture.json");
    let b = path_str(&baseline()).to_string();
    let output = evalrun(&["check", path_str(&lm), "--baseline", &b]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("could be compared with the run")
            && stderr(&output).contains("nothing was gated"),
        "{}",
        stderr(&output)
    );
}

/// D8: a tolerance file with a negative, NaN or infinite allowance is refused, naming the file,
/// the rule and the key (they became 0, or switched the gate off, without a word); so is
/// `--tolerance inf`.
#[test]
fn invalid_tolerances_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let b = path_str(&baseline()).to_string();
    for (text, says) in [
        ("[default]\nabsolute = -5\n", "[default]: `absolute = -5`"),
        ("[default]\nrelative = nan\n", "[default]: `relative = NaN`"),
        (
            "[metrics.\"rte.accuracy\"]\nabsolute = inf\n",
            "[metrics.\"rte.accuracy\"]: `absolute = inf`",
        ),
    ] {
        let rules = dir.path().join("t.toml");
        std::fs::write(&rules, text).unwrap();
        let output = evalrun(&[
            "check",
            &b,
            "--baseline",
            &b,
            "--tolerance-file",
            path_str(&rules),
        ]);
        assert_eq!(output.status.code(), Some(2), "{text}: {}", stderr(&output));
        let err = stderr(&output);
        assert!(
            err.contains("t.toml") && err.contains(says),
            "{text}: {err}"
        );
    }
    for given in ["inf", "-1", "NaN%"] {
        let output = evalrun(&["check", &b, "--baseline", &b, "--tolerance", given]);
        assert_eq!(output.status.code(), Some(2), "--tolerance {given}");
    }
}

/// D1: `diff` prints perplexities and bits as they are, fractions ×100 (it multiplied every
/// metric by 100).
#[test]
fn diff_prints_each_metric_on_its_own_scale() {
    let lm = repo_root().join("results/baselines/lm-fixture.json");
    let output = evalrun(&["diff", path_str(&lm), path_str(&lm)]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let record = read_json(&lm);
    let ppl = record["results"]["wikitext2"]["metrics"]["word_perplexity"]
        .as_f64()
        .unwrap();
    let row = format!("| wikitext2 | word_perplexity | {ppl:.2} | {ppl:.2} | +0.00 |");
    assert!(text.contains(&row), "{row} not in:\n{text}");
    assert!(!text.contains(&format!("{:.2}", ppl * 100.0)), "{text}");
}

/// D6: a stdout that cannot be written is exit 2 with a message (it panicked with exit 101);
/// a reader that went away (`| head`) ends the program quietly.
#[test]
fn stdout_write_errors_are_reported_and_closed_pipes_are_quiet() {
    use std::process::{Command, Stdio};
    let b = path_str(&baseline()).to_string();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_evalrun"))
        .args(["report", &b])
        .stdout(full)
        .current_dir(repo_root())
        .output()
        .unwrap();
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(
        err.contains("cannot write the results to standard output") && !err.contains("panicked"),
        "{err}"
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_evalrun"))
        .args(["report", &b])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .current_dir(repo_root())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stderr(&output), "");
}

/// The baseline with a config block, `--max-length` and options as given.
fn with_config(
    dir: &Path,
    name: &str,
    max_length: Option<u64>,
    options: serde_json::Value,
) -> PathBuf {
    let mut record = read_json(&baseline());
    record["config"] = serde_json::json!({
        "started": "2026-12-05T00:00:00Z",
        "finished": "2026-12-05T00:00:01Z",
        "command_line": ["glue"],
        "model": "m",
        "model_resolved": {},
        "model_kind": "classifier",
        "tasks": ["rte"],
        "data_dir": null,
        "split": null,
        "limit": null,
        "batch_size": 32,
        "max_length": max_length,
        "bootstrap_resamples": 1000,
        "seed": 1234,
        "options": options,
    });
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string(&record).unwrap()).unwrap();
    path
}

/// Frictions 3 and 4: `check` names settings that differ in words, not Rust debug values
/// (`Some(32) in the run, None in the baseline`), and `diff` warns about them too.
#[test]
fn check_and_diff_name_settings_that_differ_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let short = with_config(
        dir.path(),
        "short.json",
        Some(32),
        serde_json::json!({"graph_edits": "none"}),
    );
    let plain = with_config(dir.path(), "plain.json", None, serde_json::json!({}));
    let check = evalrun(&["check", path_str(&short), "--baseline", path_str(&plain)]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
    let err = stderr(&check);
    assert!(
        err.contains("--max-length differs: 32 in the run, not given in the baseline")
            && err.contains("options differs: graph_edits=none in the run, none in the baseline")
            && !err.contains("Some(")
            && !err.contains("None"),
        "{err}"
    );
    let diff = evalrun(&["diff", path_str(&short), path_str(&plain)]);
    assert!(diff.status.success(), "{}", stderr(&diff));
    let err = stderr(&diff);
    assert!(
        err.contains("warning: --max-length differs: 32 in `short`, not given in `plain`"),
        "{err}"
    );
}

/// Records read by `report`, `check`, `diff` and `merge` are checked: a metric outside its range
/// (accuracy 5.0 was accepted and reported as "improved") or a record from a newer evalrun is
/// refused, naming the file and the field.
#[test]
fn records_out_of_range_or_from_a_newer_evalrun_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let b = path_str(&baseline()).to_string();
    let mut record = read_json(&baseline());
    record["results"]["rte"]["metrics"]["accuracy"] = serde_json::json!(5.0);
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, serde_json::to_string(&record).unwrap()).unwrap();
    let mut newer = read_json(&baseline());
    newer["evalrun"]["version"] = serde_json::json!("99.0.0");
    let future = dir.path().join("future.json");
    std::fs::write(&future, serde_json::to_string(&newer).unwrap()).unwrap();
    for (file, says) in [
        (
            &bad,
            "`results.rte.metrics.accuracy` is 5, outside the accuracy range [0, 1]",
        ),
        (
            &future,
            "`evalrun.version` is 99.0.0, newer than this evalrun",
        ),
    ] {
        let f = path_str(file);
        for args in [
            vec!["report", f],
            vec!["check", f, "--baseline", &b],
            vec!["diff", &b, f],
            vec!["merge", f],
        ] {
            let output = evalrun(&args);
            let err = stderr(&output);
            assert_eq!(output.status.code(), Some(2), "{args:?}: {err}");
            assert!(err.contains(f) && err.contains(says), "{args:?}: {err}");
        }
    }
}

/// Friction 8: `--version` names the commit; `diff --help` says what A and B are.
#[test]
fn version_names_the_commit_and_diff_help_names_its_records() {
    let version = evalrun(&["--version"]);
    let text = stdout(&version);
    assert!(
        text.starts_with("evalrun 0.") && text.contains("(commit "),
        "{text}"
    );
    let help = stdout(&evalrun(&["diff", "--help"]));
    assert!(
        help.contains("<A.json>") && help.contains("The first run's record"),
        "{help}"
    );
    assert!(help.contains("Δ is B − A"), "{help}");
}

/// Friction 8: control characters in a task name never reach the terminal: a record with one is
/// refused (naming it escaped), and so is a task file.
#[test]
fn task_names_with_control_characters_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut record = read_json(&baseline());
    let results = record["results"].as_object_mut().unwrap();
    let rte = results.remove("rte").unwrap();
    results.insert("rte\u{1b}[2J".into(), rte);
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, serde_json::to_string(&record).unwrap()).unwrap();
    let output = evalrun(&["report", path_str(&bad)]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(
        err.contains("task name \"rte\\u{1b}[2J\"") && !err.contains('\u{1b}'),
        "{err}"
    );
    let tasks = dir.path().join("tasks");
    std::fs::create_dir_all(&tasks).unwrap();
    let spec = std::fs::read_to_string(repo_root().join("tasks/glue/rte.toml")).unwrap();
    std::fs::write(
        tasks.join("x.toml"),
        spec.replacen("name = \"rte\"", "name = \"r\\u001bte\"", 1),
    )
    .unwrap();
    let output = evalrun(&["tasks", "--tasks-dir", path_str(&tasks)]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(
        err.contains("control characters") && !err.contains('\u{1b}'),
        "{err}"
    );
}

/// Friction 8: LaTeX, HTML and markdown reports print bits with three decimals, as the stdout
/// table does (LaTeX printed 2.38 where stdout printed 2.383).
#[test]
fn reports_print_bits_with_the_stdout_table_s_decimals() {
    let lm = repo_root().join("results/baselines/lm-fixture.json");
    let bpb = read_json(&lm)["results"]["wikitext2"]["metrics"]["bits_per_byte"]
        .as_f64()
        .unwrap();
    let three = format!("{bpb:.3}");
    for format in ["latex", "md", "html"] {
        let output = evalrun(&["report", path_str(&lm), "--format", format]);
        assert!(output.status.success(), "{}", stderr(&output));
        assert!(
            stdout(&output).contains(&three),
            "{format}: {three} not in the report"
        );
    }
}

/// Paired significance: `diff --predictions` prints Δ, its 95% interval and p per metric, and
/// `check --rule significant` passes two runs that differ only by float noise and fails one
/// with 30 RTE predictions flipped from right to wrong (McNemar p = 2 · 2⁻³⁰).
#[test]
fn paired_tests_in_diff_and_check() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (a, pa) = (d.join("a.json"), d.join("a.jsonl"));
    let output = evalrun(&[
        "glue",
        "--model",
        "tests/fixtures/models/glue-tiny/{task}",
        "--task",
        "rte",
        "--data-dir",
        path_str(&data_dir()),
        "--output",
        path_str(&a),
        "--predictions",
        path_str(&pa),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let lines = read_jsonl(&pa);
    let write_run = |name: &str, lines: &[serde_json::Value]| {
        let correct = lines
            .iter()
            .filter(|l| l["label"] == l["prediction"])
            .count();
        let mut record = read_json(&a);
        record["results"]["rte"]["metrics"]["accuracy"] =
            serde_json::json!(correct as f64 / lines.len() as f64);
        record.as_object_mut().unwrap().remove("predictions");
        let (r, p) = (
            d.join(format!("{name}.json")),
            d.join(format!("{name}.jsonl")),
        );
        std::fs::write(&r, serde_json::to_string(&record).unwrap()).unwrap();
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(&p, text).unwrap();
        (r, p)
    };
    // Float noise: the logits move in the last digits, no prediction changes.
    let noisy: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| {
            let mut l = l.clone();
            let logits: Vec<f64> = l["logits"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() + 1e-7)
                .collect();
            l["logits"] = serde_json::json!(logits);
            l
        })
        .collect();
    let (n, pn) = write_run("noise", &noisy);
    // 30 right answers made wrong.
    let mut flipped = lines.clone();
    let mut left = 30;
    for l in flipped.iter_mut() {
        if left > 0 && l["label"] == l["prediction"] {
            let other = if l["label"] == "entailment" {
                "not_entailment"
            } else {
                "entailment"
            };
            l["prediction"] = serde_json::json!(other);
            left -= 1;
        }
    }
    assert_eq!(left, 0);
    let (f, pf) = write_run("flipped", &flipped);

    let diff = evalrun(&[
        "diff",
        path_str(&a),
        path_str(&f),
        "--predictions",
        path_str(&pa),
        path_str(&pf),
    ]);
    assert!(diff.status.success(), "{}", stderr(&diff));
    let text = stdout(&diff);
    let row = format!("| rte | accuracy | 277 | {:.2} |", -30.0 / 277.0 * 100.0);
    assert!(
        text.contains(&row) && text.contains("| < 1e-6 | McNemar exact |"),
        "{row} in:\n{text}"
    );

    let gate = |run: &Path, lines: &Path| {
        evalrun(&[
            "check",
            path_str(run),
            "--baseline",
            path_str(&a),
            "--rule",
            "significant",
            "--predictions",
            path_str(lines),
            path_str(&pa),
        ])
    };
    let passed = gate(&n, &pn);
    assert_eq!(
        passed.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&passed),
        stderr(&passed)
    );
    assert!(
        stdout(&passed).contains("p 1.000 (McNemar exact, n 277)"),
        "{}",
        stdout(&passed)
    );
    let failed = gate(&f, &pf);
    assert_eq!(failed.status.code(), Some(1), "{}", stdout(&failed));
    assert!(
        stderr(&failed)
            .contains("FAIL rte.accuracy: significantly worse than the baseline: Δ -10.83"),
        "{}",
        stderr(&failed)
    );
    // Without predictions a paired test cannot run.
    let missing = evalrun(&[
        "check",
        path_str(&f),
        "--baseline",
        path_str(&a),
        "--rule",
        "significant",
    ]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("--predictions RUN.jsonl BASELINE.jsonl"));
}
