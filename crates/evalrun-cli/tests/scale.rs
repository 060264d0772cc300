//! Runs that survive and scale, through the real binary: shards + `evalrun merge` equal the
//! unsharded run (head, LM and T5 tasks; `--shard I/N`, Slurm and Kubernetes environments);
//! the request cache answers a warm re-run without the model; a run killed (`kill -9`, a
//! torn WAL write, Ctrl-C) resumes to the same record; two processes share one cache; a
//! damaged or foreign cache file is exit 2 naming it.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

const GLUE: &str = "tests/fixtures/models/glue-tiny/{task}";
const GPT2: &str = "tests/fixtures/models/gpt2-tiny";
const T5: &str = "tests/fixtures/models/t5-tiny";

fn args_with(base: &[&str], extra: &[&str]) -> Vec<String> {
    base.iter().chain(extra).map(|s| s.to_string()).collect()
}

fn run_ok(args: &[String], envs: &[(&str, &str)]) -> std::process::Output {
    let output = Command::new(env!("CARGO_BIN_EXE_evalrun"))
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(repo_root())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// What must be equal between two runs of one evaluation: everything but timings, the
/// command line, cache counts and the shard block.
fn comparable(path: &Path) -> serde_json::Value {
    let mut v = read_json(path);
    let o = v.as_object_mut().unwrap();
    for k in ["wall_seconds", "cache", "shard"] {
        o.remove(k);
    }
    if let Some(c) = o.get_mut("config").and_then(|c| c.as_object_mut()) {
        for k in ["started", "finished", "command_line"] {
            c.remove(k);
        }
    }
    for (_, r) in o["results"].as_object_mut().unwrap().iter_mut() {
        let r = r.as_object_mut().unwrap();
        for k in ["wall_seconds", "examples_per_second", "tokens_per_second"] {
            r.remove(k);
        }
    }
    v
}

fn assert_same_run(dir: &Path, a: &str, b: &str) {
    assert_eq!(
        comparable(&dir.join(format!("{a}.json"))),
        comparable(&dir.join(format!("{b}.json"))),
        "{a} vs {b}"
    );
    let pa = std::fs::read(dir.join(format!("{a}.jsonl"))).unwrap();
    let pb = std::fs::read(dir.join(format!("{b}.jsonl"))).unwrap();
    assert!(pa == pb, "predictions {a} vs {b} differ");
}

fn outputs(dir: &Path, name: &str) -> Vec<String> {
    vec![
        "--output".into(),
        dir.join(format!("{name}.json")).display().to_string(),
        "--predictions".into(),
        dir.join(format!("{name}.jsonl")).display().to_string(),
    ]
}

/// The unsharded run, 3 shards (each with `envs(i)`) and their merge.
fn shard_and_merge(
    base: &[&str],
    shard_flag: &[&str],
    envs: &dyn Fn(usize) -> Vec<(String, String)>,
) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run_ok(&[args_with(base, &[]), outputs(d, "full")].concat(), &[]);
    let mut shards = Vec::new();
    for i in 0..3 {
        let flag: Vec<String> = shard_flag
            .iter()
            .map(|f| f.replace("{i}", &i.to_string()))
            .collect();
        let flag: Vec<&str> = flag.iter().map(String::as_str).collect();
        let env = envs(i);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        run_ok(
            &[args_with(base, &flag), outputs(d, &format!("s{i}"))].concat(),
            &env,
        );
        let record = read_json(&d.join(format!("s{i}.json")));
        assert_eq!(record["shard"]["index"], i, "{env:?}");
        assert_eq!(record["shard"]["count"], 3);
        shards.push(d.join(format!("s{i}.json")).display().to_string());
    }
    // Any order.
    shards.reverse();
    let mut merge = vec!["merge".to_string()];
    merge.extend(shards);
    merge.extend(outputs(d, "merged"));
    let out = run_ok(&merge, &[]);
    assert!(stdout(&out).contains("| Task |"), "merge prints the table");
    assert_same_run(d, "full", "merged");
}

fn no_env(_: usize) -> Vec<(String, String)> {
    Vec::new()
}

#[test]
fn three_shards_merge_to_the_unsharded_glue_table() {
    let data = data_dir();
    let base = [
        "glue",
        "--model",
        GLUE,
        "--task",
        "all",
        "--data-dir",
        path_str(&data),
    ];
    shard_and_merge(&base, &["--shard", "{i}/3"], &no_env);
}

#[test]
fn three_shards_merge_to_the_unsharded_lm_and_t5_runs() {
    let data = data_dir();
    let lm = [
        "lm",
        "--model",
        GPT2,
        "--task",
        "wikitext2,lambada_openai",
        "--limit",
        "7",
        "--data-dir",
        path_str(&data),
    ];
    shard_and_merge(&lm, &["--shard", "{i}/3"], &no_env);
    // MultiRC's unit is a question: a shard keeps whole questions.
    let t5 = [
        "superglue",
        "--model",
        T5,
        "--task",
        "multirc,cb",
        "--limit",
        "40",
        "--data-dir",
        path_str(&data),
    ];
    shard_and_merge(&t5, &["--shard", "{i}/3"], &no_env);
}

#[test]
fn shard_auto_reads_slurm_arrays_and_kubernetes_indexed_jobs() {
    let data = data_dir();
    let base = [
        "glue",
        "--model",
        GLUE,
        "--task",
        "mrpc,rte,stsb",
        "--data-dir",
        path_str(&data),
    ];
    // sbatch --array=1-3: ids 1..3, min 1, count 3.
    shard_and_merge(&base, &["--shard", "auto"], &|i| {
        vec![
            ("SLURM_ARRAY_JOB_ID".into(), "4242".into()),
            ("SLURM_ARRAY_TASK_ID".into(), (i + 1).to_string()),
            ("SLURM_ARRAY_TASK_MIN".into(), "1".into()),
            ("SLURM_ARRAY_TASK_MAX".into(), "3".into()),
            ("SLURM_ARRAY_TASK_COUNT".into(), "3".into()),
            ("SLURM_ARRAY_TASK_STEP".into(), "1".into()),
        ]
    });
    // completionMode: Indexed, completions: 3 (passed on as EVALRUN_SHARD_COUNT).
    shard_and_merge(&base, &["--shard", "auto"], &|i| {
        vec![
            ("JOB_COMPLETION_INDEX".into(), i.to_string()),
            ("EVALRUN_SHARD_COUNT".into(), "3".into()),
        ]
    });
}

#[test]
fn merge_refuses_missing_overlapping_and_foreign_shards() {
    let data = data_dir();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let base = [
        "run",
        "--model",
        GLUE,
        "--task",
        "mrpc",
        "--data-dir",
        path_str(&data),
    ];
    let shard = |i: usize, extra: &[&str], name: &str| {
        let flag = format!("{i}/3");
        let mut args = args_with(&base, &["--shard", &flag]);
        args.extend(extra.iter().map(|s| s.to_string()));
        args.extend(["--output".into(), d.join(name).display().to_string()]);
        run_ok(&args, &[]);
        d.join(name).display().to_string()
    };
    let s0 = shard(0, &[], "s0.json");
    let s1 = shard(1, &[], "s1.json");
    let s2 = shard(2, &[], "s2.json");
    let other = shard(2, &["--max-length", "64"], "other.json");
    let fails = |files: &[&str], needle: &str| {
        let mut args = vec!["merge"];
        args.extend(files);
        let out = evalrun(&args);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{needle}: {}", stderr(&out));
    };
    fails(&[&s0, &s1], "shard 2/3 is missing (units 2, 5, 8");
    fails(&[&s0, &s1, &s1], "are both shard 1/3");
    fails(&[&s0, &s1, &other], "setting `max_length`");
    // A plain record is not a shard.
    let plain = d.join("plain.json");
    run_ok(&args_with(&base, &["--output", path_str(&plain)]), &[]);
    fails(&[&s0, &s1, path_str(&plain)], "is not a shard record");
    let _ = s2;
}

/// Shards computed by differently edited graphs are refused, naming the setting; a shard whose
/// responses were hand-edited into another kind is exit 2 naming its file, not a panic.
#[test]
fn merge_refuses_other_graph_edits_and_responses_of_the_wrong_kind() {
    let data = data_dir();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let base = [
        "lm",
        "--model",
        GPT2,
        "--task",
        "lambada_openai",
        "--limit",
        "12",
        "--bootstrap",
        "0",
        "--data-dir",
        path_str(&data),
    ];
    let shard = |i: usize, extra: &[&str], envs: &[(&str, &str)], name: &str| {
        let flag = format!("{i}/2");
        let mut args = args_with(&base, &["--shard", &flag]);
        args.extend(extra.iter().map(|s| s.to_string()));
        args.extend(["--output".into(), d.join(name).display().to_string()]);
        run_ok(&args, envs);
        d.join(name).display().to_string()
    };
    let s0 = shard(0, &[], &[], "s0.json");
    let s1 = shard(1, &[], &[], "s1.json");
    let none = shard(1, &["--graph-edits", "none"], &[], "none.json");
    let host = shard(1, &[], &[("EVALRUN_HOST_LOGITS", "1")], "host.json");
    let merge = |files: &[&str]| {
        let mut args = vec!["merge"];
        args.extend(files);
        evalrun(&args)
    };
    assert!(merge(&[&s0, &s1]).status.success());
    for (other, value) in [
        (&none, "\"none\""),
        (
            &host,
            "\"weights_in_place,nan_guards,attention_blocks,cross_attention\"",
        ),
    ] {
        let out = merge(&[&s0, other]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("setting `graph_edits`") && err.contains(value),
            "{err}"
        );
    }
    // One response of shard 1 turned from a log-likelihood into generated text.
    let mut record = read_json(Path::new(&s1));
    let responses = record["shard"]["models"]
        .as_object_mut()
        .unwrap()
        .values_mut()
        .next()
        .unwrap()["responses"]
        .as_object_mut()
        .unwrap();
    let first = responses.values_mut().next().unwrap();
    assert_eq!(first["kind"], "loglikelihood");
    *first = serde_json::json!({"kind": "generated", "text": "x", "tokens": 1});
    let edited = d.join("edited.json");
    std::fs::write(&edited, serde_json::to_string(&record).unwrap()).unwrap();
    let out = merge(&[&s0, path_str(&edited)]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("edited.json")
            && err.contains("is a `generate` response")
            && !err.contains("panicked"),
        "{err}"
    );
}

fn cache_file(dir: &Path) -> PathBuf {
    dir.join("evalrun-cache.sqlite")
}

#[test]
fn a_warm_cache_answers_everything_and_a_damaged_one_is_exit_2() {
    let data = data_dir();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cache = d.join("cache");
    let base = [
        "superglue",
        "--model",
        T5,
        "--task",
        "cb,copa",
        "--limit",
        "20",
        "--data-dir",
        path_str(&data),
    ];
    run_ok(&[args_with(&base, &[]), outputs(d, "plain")].concat(), &[]);
    let with_cache = args_with(&base, &["--cache", path_str(&cache)]);
    run_ok(&[with_cache.clone(), outputs(d, "cold")].concat(), &[]);
    let cold = read_json(&d.join("cold.json"));
    assert_eq!(cold["cache"]["hits"], 0);
    assert_eq!(cold["cache"]["computed"], 40);
    let out = run_ok(&[with_cache.clone(), outputs(d, "warm")].concat(), &[]);
    let warm = read_json(&d.join("warm.json"));
    assert_eq!(
        (
            warm["cache"]["hits"].as_u64(),
            warm["cache"]["computed"].as_u64()
        ),
        (Some(40), Some(0))
    );
    assert!(
        stderr(&out).contains("cache: 40 of 40 requests answered from"),
        "{}",
        stderr(&out)
    );
    assert_same_run(d, "plain", "cold");
    assert_same_run(d, "plain", "warm");

    // A cut-short copy and a file of another program: exit 2, naming the file.
    let bytes = std::fs::read(cache_file(&cache)).unwrap();
    let cut = d.join("cut");
    std::fs::create_dir(&cut).unwrap();
    std::fs::write(cache_file(&cut), &bytes[..bytes.len().min(4096) / 2]).unwrap();
    let foreign = d.join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(cache_file(&foreign), "id,label\n1,0\n").unwrap();
    for bad in [&cut, &foreign] {
        let out = evalrun(
            &args_with(&base, &["--cache", path_str(bad)])
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        );
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(
            stderr(&out).contains(path_str(&cache_file(bad))),
            "{}",
            stderr(&out)
        );
    }
}

/// Starts `args`, lets it run `after`, then sends `signal`; returns the exit status.
fn interrupt(args: &[String], after: Duration, signal: &str) -> std::process::ExitStatus {
    let mut child = Command::new(env!("CARGO_BIN_EXE_evalrun"))
        .args(args)
        .current_dir(repo_root())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(after);
    let _ = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status();
    child.wait().unwrap()
}

#[test]
fn killed_and_interrupted_runs_resume_to_the_same_record() {
    let data = data_dir();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cache = d.join("cache");
    let base = [
        "lm",
        "--model",
        GPT2,
        "--task",
        "wikitext2",
        "--limit",
        "12",
        "--data-dir",
        path_str(&data),
    ];
    run_ok(&[args_with(&base, &[]), outputs(d, "plain")].concat(), &[]);
    let with_cache = [
        args_with(&base, &["--cache", path_str(&cache)]),
        outputs(d, "resumed"),
    ]
    .concat();
    // kill -9 at several moments (before the first batch, mid-run, later).
    for ms in [300, 2500, 5000] {
        interrupt(&with_cache, Duration::from_millis(ms), "-9");
        // A power cut: the last WAL frame torn (SQLite drops frames that fail their checksum).
        let wal = cache.join("evalrun-cache.sqlite-wal");
        if let Ok(meta) = std::fs::metadata(&wal) {
            if meta.len() > 100 {
                let f = std::fs::OpenOptions::new().write(true).open(&wal).unwrap();
                f.set_len(meta.len() - 37).unwrap();
            }
        }
    }
    assert!(
        !d.join("resumed.json").exists(),
        "a killed run writes no record"
    );
    // Ctrl-C: stops after the current batch, exit 130, says how to resume.
    let child = Command::new(env!("CARGO_BIN_EXE_evalrun"))
        .args(&with_cache)
        .current_dir(repo_root())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(130) {
        assert!(
            err.contains("Run the same command again to resume"),
            "{err}"
        );
        assert!(!d.join("resumed.json").exists());
    } else {
        // Everything was cached already: the run finished before the signal.
        assert!(out.status.success(), "{err}");
    }
    let out = run_ok(&with_cache, &[]);
    let resumed = read_json(&d.join("resumed.json"));
    assert!(
        resumed["cache"]["hits"].as_u64().unwrap() > 0,
        "{}",
        stderr(&out)
    );
    assert_same_run(d, "plain", "resumed");
}

#[test]
fn two_processes_share_one_cache() {
    let data = data_dir();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cache = d.join("cache");
    let base = [
        "glue",
        "--model",
        GLUE,
        "--task",
        "all",
        "--data-dir",
        path_str(&data),
    ];
    run_ok(&[args_with(&base, &[]), outputs(d, "plain")].concat(), &[]);
    let spawn = |name: &str| {
        Command::new(env!("CARGO_BIN_EXE_evalrun"))
            .args(
                [
                    args_with(&base, &["--cache", path_str(&cache), "-q"]),
                    outputs(d, name),
                ]
                .concat(),
            )
            .current_dir(repo_root())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn("a"), spawn("b"));
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_same_run(d, "plain", "a");
    assert_same_run(d, "plain", "b");
    run_ok(
        &[
            args_with(&base, &["--cache", path_str(&cache)]),
            outputs(d, "c"),
        ]
        .concat(),
        &[],
    );
    assert_eq!(read_json(&d.join("c.json"))["cache"]["computed"], 0);
}
