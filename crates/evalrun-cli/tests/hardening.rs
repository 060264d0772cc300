//! Issue 11: one test per defect the adversarial probe found, through the real binary. Each
//! failed before the fix (the issue gives the reproduction) and passes now.

mod common;

use std::os::unix::fs::FileTypeExt as _;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;

const RTE: &str = "tests/fixtures/models/glue-tiny/rte";
const CLS2: &str = "tests/fixtures/models/bert-tiny-cls2";
const GPT2: &str = "tests/fixtures/models/gpt2-tiny";
const T5: &str = "tests/fixtures/models/t5-tiny";
const RTE_HEADER: &str = "index\tsentence1\tsentence2\tlabel\n";

fn exit2(output: &Output, needles: &[&str]) -> String {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(2), "expected exit 2:\n{err}");
    assert!(!err.contains("panicked"), "{err}");
    for needle in needles {
        assert!(err.contains(needle), "`{needle}` not in:\n{err}");
    }
    err
}

fn data_with(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (file, bytes) in files {
        let path = dir.path().join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    dir
}

fn rte_run(data: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "run",
        "--model",
        RTE,
        "--task",
        "rte",
        "--data-dir",
        path_str(data),
    ];
    args.extend_from_slice(extra);
    evalrun(&args)
}

/// Names in a directory.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

// Defect 1: writes replaced whatever was at the destination.
#[test]
fn predictions_to_dev_stdout_go_to_standard_output() {
    let data = data_dir();
    let output = rte_run(&data, &["--limit", "3", "--predictions", "/dev/stdout"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let out = stdout(&output);
    assert_eq!(out.matches("\"task\":\"rte\"").count(), 3, "{out}");
    assert!(std::fs::symlink_metadata("/dev/stdout")
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn devices_and_links_at_the_output_are_refused_or_written_through() {
    let data = data_dir();
    let dir = tempfile::tempdir().unwrap();
    // A character device: refused before any work, and still a device afterwards.
    let device = dir.path().join("null");
    let made = std::process::Command::new("mknod")
        .arg(&device)
        .args(["c", "1", "3"])
        .status()
        .is_ok_and(|s| s.success());
    let device = if made {
        device
    } else {
        PathBuf::from("/dev/null")
    };
    let output = rte_run(&data, &["--limit", "2", "--output", path_str(&device)]);
    exit2(&output, &["refusing to write", "a character device"]);
    assert!(std::fs::symlink_metadata(&device)
        .unwrap()
        .file_type()
        .is_char_device());
    // A symlink to a regular file: written through; the link stays a link.
    let real = dir.path().join("real.json");
    std::fs::write(&real, "old").unwrap();
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let output = rte_run(&data, &["--limit", "2", "--output", path_str(&link)]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(read_json(&real)["results"]["rte"]["n"] == 2);
}

// Defect 2: a planted symlink with the old predictable temporary name.
#[test]
fn a_planted_temporary_symlink_is_never_followed() {
    let data = data_dir();
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    // The old name was `.<name>.tmp-<pid>`; plant it for every pid the next process may get.
    let max: u32 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(32768)
        .min(1 << 16);
    let here = std::process::id();
    for pid in here..(here + 2000).min(max) {
        std::os::unix::fs::symlink(&victim, out.join(format!(".r.json.tmp-{pid}"))).unwrap();
    }
    let record = out.join("r.json");
    let output = rte_run(&data, &["--limit", "2", "--output", path_str(&record)]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert_eq!(read_json(&record)["results"]["rte"]["n"], 2);
}

// Defect 5: `--context 0` panicked; out-of-range windows reached ONNX Runtime.
#[test]
fn out_of_range_windows_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("t.txt");
    std::fs::write(&text, "Some text to score.\n").unwrap();
    let run = |context: &str| {
        evalrun(&[
            "perplexity",
            "--model",
            GPT2,
            "--file",
            path_str(&text),
            "--context",
            context,
        ])
    };
    exit2(&run("0"), &["--context", "at least 1"]);
    let err = exit2(&run("100000"), &["--context", "100000", "positions"]);
    assert!(
        !err.contains('\u{1b}'),
        "ANSI escape on a non-terminal:\n{err}"
    );
}

// Defect 6: scores from nothing.
#[test]
fn empty_header_only_and_cr_only_files_are_errors_naming_the_file() {
    for (bytes, hint) in [
        (&b""[..], "the file is empty"),
        (RTE_HEADER.as_bytes(), "only a header"),
        (
            &b"index\tsentence1\tsentence2\tlabel\r0\ta\tb\tentailment\r"[..],
            "bare CR",
        ),
    ] {
        let data = data_with(&[("glue/RTE/dev.tsv", bytes)]);
        exit2(
            &rte_run(data.path(), &[]),
            &["no examples", "dev.tsv", hint],
        );
    }
    let data = data_with(&[("t5/squad/dev-v1.1.json", br#"{"data": []}"#)]);
    exit2(
        &evalrun(&[
            "run",
            "--model",
            T5,
            "--task",
            "squad_v1",
            "--data-dir",
            path_str(data.path()),
        ]),
        &["no examples", "dev-v1.1.json"],
    );
    let data = data_with(&[("lm/lambada/lambada_test.jsonl", b"")]);
    exit2(
        &evalrun(&[
            "lm",
            "--model",
            GPT2,
            "--task",
            "lambada_openai",
            "--data-dir",
            path_str(data.path()),
        ]),
        &["no examples", "lambada_test.jsonl"],
    );
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "\n\n").unwrap();
    exit2(
        &evalrun(&["perplexity", "--model", GPT2, "--file", path_str(&empty)]),
        &["empty.txt"],
    );
    exit2(
        &rte_run(&data_dir(), &["--limit", "0"]),
        &["--limit", "at least 1"],
    );
}

// Defects 6 and 9: unlabelled rows in a labelled split.
#[test]
fn unlabelled_rows_are_errors_not_silently_dropped() {
    let real = std::fs::read_to_string(data_dir().join("superglue/CB/val.jsonl")).unwrap();
    let mut lines: Vec<String> = real.lines().map(str::to_string).collect();
    let mut row: serde_json::Value = serde_json::from_str(&lines[3]).unwrap();
    row.as_object_mut().unwrap().remove("label");
    lines[3] = row.to_string();
    let data = data_with(&[(
        "superglue/CB/val.jsonl",
        (lines.join("\n") + "\n").as_bytes(),
    )]);
    exit2(
        &evalrun(&[
            "superglue",
            "--model",
            T5,
            "--task",
            "cb",
            "--data-dir",
            path_str(data.path()),
        ]),
        &["val.jsonl", "1 of its 56 rows have no label", "row 4"],
    );
    // All unlabelled.
    let unlabelled: String = real
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("label");
            v.to_string() + "\n"
        })
        .collect();
    let data = data_with(&[("superglue/CB/val.jsonl", unlabelled.as_bytes())]);
    exit2(
        &evalrun(&[
            "superglue",
            "--model",
            T5,
            "--task",
            "cb",
            "--data-dir",
            path_str(data.path()),
        ]),
        &["56 of its 56 rows have no label"],
    );
    // A SQuAD question without answers.
    let squad = br#"{"data": [{"title": "t", "paragraphs": [{"context": "Paris is in France.", "qas": [
        {"id": "a", "question": "Where is Paris?", "answers": [{"text": "France", "answer_start": 12}]},
        {"id": "b", "question": "Why?", "answers": []}]}]}]}"#;
    let data = data_with(&[("t5/squad/dev-v1.1.json", squad)]);
    exit2(
        &evalrun(&[
            "run",
            "--model",
            T5,
            "--task",
            "squad_v1",
            "--data-dir",
            path_str(data.path()),
        ]),
        &[
            "dev-v1.1.json",
            "1 of its 2 rows have no label (or answer) (row 2)",
        ],
    );
}

/// A copy of a fixture model directory with its config.json edited.
fn model_with_config(fixture: &str, edit: impl Fn(&mut serde_json::Value)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = repo_root().join(fixture);
    for entry in std::fs::read_dir(&src).unwrap().flatten() {
        let to = dir.path().join(entry.file_name());
        if entry.path().is_file() {
            std::fs::copy(entry.path(), to).unwrap();
        } else if entry.path().is_dir() {
            std::os::unix::fs::symlink(entry.path(), to).unwrap();
        }
    }
    let path = dir.path().join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut config);
    std::fs::write(&path, config.to_string()).unwrap();
    dir
}

// Defect 7: truncation silently off.
#[test]
fn max_length_outside_the_models_limits_is_refused() {
    let data = data_dir();
    exit2(
        &rte_run(&data, &["--max-length", "1"]),
        &["--max-length", "special tokens"],
    );
    exit2(
        &rte_run(&data, &["--max-length", "100000"]),
        &["--max-length", "100000", "positions"],
    );
    let zero = model_with_config(RTE, |c| c["max_position_embeddings"] = 0.into());
    exit2(
        &evalrun(&[
            "run",
            "--model",
            path_str(zero.path()),
            "--task",
            "rte",
            "--data-dir",
            path_str(&data),
        ]),
        &["`max_position_embeddings` is 0", "config.json"],
    );
}

// Defect 8: id2label of the wrong size.
#[test]
fn id2label_that_does_not_match_the_logits_is_an_error() {
    let bad = model_with_config(CLS2, |c| {
        c["id2label"] = serde_json::json!({"0": "a", "1": "b", "2": "c"});
        c["label2id"] = serde_json::json!({"a": 0, "b": 1, "c": 2});
    });
    exit2(
        &evalrun(&[
            "run",
            "--model",
            path_str(bad.path()),
            "--task",
            "rte",
            "--data-dir",
            path_str(&data_dir()),
        ]),
        &["`id2label` names 3 labels", "has 2 columns", "config.json"],
    );
}

// Defect 10: a failed --output left --predictions behind.
#[test]
fn a_failed_output_leaves_no_predictions() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "not a directory").unwrap();
    let predictions = dir.path().join("p.jsonl");
    let output = rte_run(
        &data_dir(),
        &[
            "--limit",
            "2",
            "--predictions",
            path_str(&predictions),
            "--output",
            path_str(&blocker.join("r.json")),
        ],
    );
    exit2(&output, &["r.json"]);
    assert_eq!(names(dir.path()), vec!["file".to_string()]);
    // And a run that writes both pairs them: the record names the predictions' sha256.
    let record = dir.path().join("r.json");
    let output = rte_run(
        &data_dir(),
        &[
            "--limit",
            "2",
            "--predictions",
            path_str(&predictions),
            "--output",
            path_str(&record),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let sha = evalrun_report::sha256_file(&predictions).unwrap();
    assert_eq!(read_json(&record)["predictions"]["sha256"], sha.as_str());
    assert_eq!(read_json(&record)["predictions"]["lines"], 2);
}

// Defect 11: overwrites that must be refused.
#[test]
fn an_output_that_is_an_input_or_another_output_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let same = dir.path().join("x.json");
    let output = rte_run(
        &data_dir(),
        &[
            "--limit",
            "2",
            "--output",
            path_str(&same),
            "--predictions",
            path_str(&same),
        ],
    );
    exit2(
        &output,
        &["both the --predictions file and the --output record"],
    );
    assert!(!same.exists());
    let record = dir.path().join("r.json");
    let output = rte_run(
        &data_dir(),
        &["--limit", "2", "--output", path_str(&record)],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let before = std::fs::read(&record).unwrap();
    exit2(
        &evalrun(&["report", path_str(&record), "--output", path_str(&record)]),
        &["both the input record and the --output file"],
    );
    assert_eq!(std::fs::read(&record).unwrap(), before);
}

// Defect 12: unchecked sizes and flags that do not apply.
#[test]
fn sizes_and_flags_are_checked_before_any_work() {
    let data = data_dir();
    exit2(
        &rte_run(&data, &["--threads", "100000"]),
        &["--threads 100000", "cores"],
    );
    exit2(
        &rte_run(&data, &["--threads", "0"]),
        &["--threads", "at least 1"],
    );
    exit2(&rte_run(&data, &["--beams", "100000"]), &["--beams 100000"]);
    exit2(
        &rte_run(&data, &["--beams", "4"]),
        &["`--beams` does not apply", "text-to-text (T5)"],
    );
    exit2(
        &rte_run(&data, &["--context", "8"]),
        &["`--context` does not apply"],
    );
    exit2(
        &evalrun(&[
            "lm",
            "--model",
            GPT2,
            "--task",
            "wikitext2",
            "--max-length",
            "8",
            "--data-dir",
            path_str(&data),
        ]),
        &["`--max-length` does not apply", "--context"],
    );
}

// Defect 13: diff ignored rows that do not correspond.
#[test]
fn diff_reports_rows_that_do_not_correspond() {
    let dir = tempfile::tempdir().unwrap();
    let (record, predictions) = (dir.path().join("r.json"), dir.path().join("p.jsonl"));
    let output = rte_run(
        &data_dir(),
        &[
            "--predictions",
            path_str(&predictions),
            "--output",
            path_str(&record),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let all = std::fs::read_to_string(&predictions).unwrap();
    assert_eq!(all.lines().count(), 277);
    let three = dir.path().join("three.jsonl");
    std::fs::write(
        &three,
        all.lines()
            .take(3)
            .map(|l| format!("{l}\n"))
            .collect::<String>(),
    )
    .unwrap();
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let r = path_str(&record);
    exit2(
        &evalrun(&[
            "diff",
            r,
            r,
            "--predictions",
            path_str(&empty),
            path_str(&predictions),
        ]),
        &["empty.jsonl", "no prediction lines"],
    );
    let output = evalrun(&[
        "diff",
        r,
        r,
        "--predictions",
        path_str(&three),
        path_str(&predictions),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(
        out.contains("3 examples are in both predictions files; 0 changed"),
        "{out}"
    );
    assert!(
        out.contains("**274 rows of") && out.contains("have no counterpart in"),
        "{out}"
    );
    assert!(out.contains("rte: 274 (ids 3, 4, 5, 6, 7, …)"), "{out}");
    assert!(
        stderr(&output).contains("not the predictions file written with"),
        "{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("274 only in B"),
        "{}",
        stderr(&output)
    );
}

// Frictions: a path is never sent to the Hub.
#[test]
fn a_mistyped_local_path_is_not_looked_up_on_the_hub() {
    let started = std::time::Instant::now();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_evalrun"))
        .args([
            "run",
            "--model",
            "tests/fixtures/models/my-bert",
            "--task",
            "rte",
        ])
        .current_dir(repo_root())
        // Were it sent, this endpoint would cost retries.
        .env("HF_ENDPOINT", "http://10.255.255.1:9")
        .output()
        .unwrap();
    exit2(
        &output,
        &[
            "`tests/fixtures/models/my-bert` does not exist",
            "has no `my-bert`",
            "never looked up on the Hub",
        ],
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    exit2(
        &evalrun(&["run", "--model", "./nothing-here", "--task", "rte"]),
        &["written as a path"],
    );
}

// IO errors printed their text twice.
#[test]
fn an_io_error_is_printed_once() {
    let output = evalrun(&["report", "/nonexistent/r.json"]);
    let err = exit2(&output, &["/nonexistent/r.json"]);
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
}

// The gate: improvements pass (reported), regressions fail, `--direction both` fails either
// way, counts are honest, and a rule cell never breaks the table.
#[test]
fn the_gate_fails_on_regressions_and_reports_improvements() {
    let dir = tempfile::tempdir().unwrap();
    let baseline = repo_root().join("results/baselines/lm-fixture.json");
    let mut record = read_json(&baseline);
    let acc = record["results"]["lambada_openai"]["metrics"]["accuracy"]
        .as_f64()
        .unwrap();
    let ppl = record["results"]["wikitext2"]["metrics"]["word_perplexity"]
        .as_f64()
        .unwrap();
    let write = |name: &str, value: &serde_json::Value| {
        let path = dir.path().join(name);
        std::fs::write(&path, value.to_string()).unwrap();
        path
    };
    // Better on both: accuracy up, perplexity down.
    record["results"]["lambada_openai"]["metrics"]["accuracy"] = (acc + 0.05).into();
    record["results"]["wikitext2"]["metrics"]["word_perplexity"] = (ppl * 0.9).into();
    let better = write("better.json", &record);
    let b = path_str(&baseline);
    let output = evalrun(&["check", path_str(&better), "--baseline", b]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(out.contains("improved"), "{out}");
    assert!(
        stderr(&output).contains("2 improved beyond their tolerance"),
        "{}",
        stderr(&output)
    );
    let output = evalrun(&[
        "check",
        path_str(&better),
        "--baseline",
        b,
        "--direction",
        "both",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    // Worse perplexity fails by default.
    record["results"]["wikitext2"]["metrics"]["word_perplexity"] = (ppl * 1.1).into();
    let worse = write("worse.json", &record);
    let output = evalrun(&["check", path_str(&worse), "--baseline", b]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("FAIL wikitext2.word_perplexity"),
        "{}",
        stderr(&output)
    );
    // Honest counts: a baseline with one task compared against a run with all of them.
    let mut small = read_json(&baseline);
    let keep = small["results"]["lambada_openai"].clone();
    small["results"] = serde_json::json!({ "lambada_openai": keep });
    let small = write("small.json", &small);
    let output = evalrun(&["check", b, "--baseline", path_str(&small)]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let n = read_json(&small)["results"]["lambada_openai"]["metrics"]
        .as_object()
        .unwrap()
        .len();
    assert!(
        stderr(&output).contains(&format!(
            "check passed: {n} of {n} baseline metrics compared"
        )),
        "{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("only in the run, not gated"),
        "{}",
        stderr(&output)
    );
    // A rule with several allowances renders without a `|` inside a cell.
    let rules = dir.path().join("t.toml");
    std::fs::write(&rules, "[default]\nabsolute = 0.001\nrelative = 0.01\n").unwrap();
    let output = evalrun(&[
        "check",
        b,
        "--baseline",
        b,
        "--tolerance-file",
        path_str(&rules),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    for line in stdout(&output).lines().filter(|l| l.starts_with('|')) {
        assert_eq!(
            line.matches('|').count() - line.matches("\\|").count(),
            9,
            "{line}"
        );
    }
}

// Frictions: a run_glue output directory (PyTorch weights, no ONNX) is exported once, keyed by
// its content. optimum itself needs torch, which CI does not install, so `EVALRUN_PYTHON`
// names a stand-in for `python -m optimum.exporters.onnx` that logs its arguments and copies
// the fixture's real export; `crates/evalrun-cli/tests/hub.rs` runs the real optimum when
// installed (ignored test).
#[test]
fn a_local_pytorch_checkpoint_is_exported_once_per_content() {
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("run_glue_out");
    std::fs::create_dir(&checkpoint).unwrap();
    std::fs::write(
        checkpoint.join("config.json"),
        r#"{"architectures": ["BertForSequenceClassification"], "model_type": "bert"}"#,
    )
    .unwrap();
    std::fs::write(checkpoint.join("model.safetensors"), b"weights v1").unwrap();
    let log = dir.path().join("exports.log");
    let stub = dir.path().join("python");
    std::fs::write(
        &stub,
        format!(
            "#!/bin/sh\n[ \"$1\" = \"-c\" ] && exit 0\necho \"$@\" >> '{}'\nmkdir -p \"$7\" && cp -r '{}'/. \"$7\"\n",
            log.display(),
            repo_root().join(RTE).display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&stub, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let cache = dir.path().join("hub");
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_evalrun"))
            .args([
                "run",
                "--model",
                path_str(&checkpoint),
                "--task",
                "rte",
                "--limit",
                "3",
            ])
            .args(["--data-dir", path_str(&data_dir())])
            .current_dir(repo_root())
            .env("EVALRUN_PYTHON", &stub)
            .env("HF_HUB_CACHE", &cache)
            .output()
            .unwrap()
    };
    let exports = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .count()
    };
    let first = run();
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(exports(), 1);
    assert!(std::fs::read_to_string(&log)
        .unwrap()
        .contains("--task text-classification"));
    assert!(run().status.success());
    assert_eq!(
        exports(),
        1,
        "an unchanged checkpoint is not exported again"
    );
    std::fs::write(checkpoint.join("model.safetensors"), b"weights v2").unwrap();
    assert!(run().status.success());
    assert_eq!(exports(), 2, "edited weights are a new export");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_evalrun"))
        .args(["export", "--model", path_str(&checkpoint)])
        .current_dir(repo_root())
        .env("EVALRUN_PYTHON", &stub)
        .env("HF_HUB_CACHE", &cache)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("evalrun-local"), "{}", stdout(&out));
    assert_eq!(exports(), 2);
}

/// Peak resident memory (VmHWM) of a child, polled from /proc until it exits.
fn peak_rss_kib(mut child: std::process::Child) -> (std::process::ExitStatus, u64) {
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    loop {
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            if let Some(kib) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak = peak.max(kib);
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            return (status, peak);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

// Defect 14: a 50 MB row cost 5.7 GB of memory (the whole text was tokenized, and for a pair
// every overflow of one text was paired with every overflow of the other). Now a long text is
// cut at a word before tokenizing (same encoding, see runtime's encode tests).
#[test]
fn a_very_long_row_is_scored_in_bounded_memory() {
    let data = tempfile::tempdir().unwrap();
    let words = ["alpha", "beta", "gamma", "delta", "epsilon"];
    let mut long = String::with_capacity(30 << 20);
    let mut i = 0usize;
    while long.len() < 30 << 20 {
        long.push_str(words[i % words.len()]);
        long.push(' ');
        i = i.wrapping_mul(31).wrapping_add(7);
    }
    let tsv =
        format!("{RTE_HEADER}0\t{long}\tshort hypothesis\tentailment\n1\ta\tb\tnot_entailment\n");
    std::fs::create_dir_all(data.path().join("glue/RTE")).unwrap();
    std::fs::write(data.path().join("glue/RTE/dev.tsv"), tsv).unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_evalrun"))
        .args([
            "run",
            "--model",
            RTE,
            "--task",
            "rte",
            "--data-dir",
            path_str(data.path()),
        ])
        .current_dir(repo_root())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (status, peak) = peak_rss_kib(child);
    assert!(status.success());
    assert!(peak < 1 << 20, "peak RSS {peak} KiB for a 30 MB row");
}
