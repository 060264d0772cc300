//! Bad input gets one clear error, exit code 2, and no result file.

mod common;

use std::path::Path;

use common::*;

const RTE_HEADER: &str = "index\tsentence1\tsentence2\tlabel\n";

/// Runs `evalrun run` on `task` with `--output` into a fresh directory, expects exit 2 with
/// every `needle` in stderr, and checks that the directory stays empty.
fn fails(model: &str, task: &str, data: &Path, extra: &[&str], needles: &[&str]) {
    let out = tempfile::tempdir().unwrap();
    let record = out.path().join("r.json");
    let predictions = out.path().join("p.jsonl");
    let mut args = vec![
        "run",
        "--model",
        model,
        "--task",
        task,
        "--data-dir",
        path_str(data),
        "--output",
        path_str(&record),
        "--predictions",
        path_str(&predictions),
    ];
    args.extend_from_slice(extra);
    let output = evalrun(&args);
    let err = stderr(&output);
    assert_eq!(
        output.status.code(),
        Some(2),
        "expected exit 2, stderr:\n{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    for needle in needles {
        assert!(err.contains(needle), "`{needle}` not in:\n{err}");
    }
    let left: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "a failed run left files behind: {left:?}");
}

fn data_with(file: &str, text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    dir
}

const CLS2: &str = "tests/fixtures/models/bert-tiny-cls2";

#[test]
fn missing_data_file_names_the_expected_path() {
    let empty = tempfile::tempdir().unwrap();
    fails(
        CLS2,
        "rte",
        empty.path(),
        &[],
        &["data not present", "glue/RTE/dev.tsv"],
    );
}

#[test]
fn short_row_names_file_line_and_field() {
    let data = data_with(
        "glue/RTE/dev.tsv",
        &format!("{RTE_HEADER}0\ta\tb\tentailment\n1\tonly one text\n"),
    );
    fails(
        CLS2,
        "rte",
        data.path(),
        &[],
        &["dev.tsv` line 3", "`text_b`", "found 2"],
    );
}

#[test]
fn unknown_label_names_the_value_and_the_choices() {
    let data = data_with("glue/RTE/dev.tsv", &format!("{RTE_HEADER}0\ta\tb\tmaybe\n"));
    fails(
        CLS2,
        "rte",
        data.path(),
        &[],
        &[
            "line 2",
            "unknown label `maybe`",
            "`entailment`, `not_entailment`",
        ],
    );
}

#[test]
fn unparseable_score_is_an_error() {
    let header =
        "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n";
    let data = data_with(
        "glue/STS-B/dev.tsv",
        &format!("{header}0\tg\tf\ty\t0\tn\tn\ta\tb\tfive\n"),
    );
    fails(
        "tests/fixtures/models/bert-tiny-reg",
        "stsb",
        data.path(),
        &[],
        &["line 2", "`five`", "not a number"],
    );
}

#[test]
fn model_without_attention_mask_is_refused_at_load() {
    fails(
        "tests/fixtures/models/broken-no-mask",
        "rte",
        &data_dir(),
        &[],
        &["model input `attention_mask` is missing", "model.onnx"],
    );
}

#[test]
fn model_without_logits_is_refused_at_load() {
    fails(
        "tests/fixtures/models/broken-no-logits",
        "rte",
        &data_dir(),
        &[],
        &["none of the outputs evalrun reads", "scores"],
    );
}

#[test]
fn embedding_model_cannot_score_a_classification_task() {
    fails(
        path_str(&minilm_dir()),
        "rte",
        &data_dir(),
        &[],
        &["needs a classification head", "`last_hidden_state`"],
    );
}

#[test]
fn tokenizer_that_does_not_load() {
    let model = tempfile::tempdir().unwrap();
    for f in ["model.onnx", "config.json"] {
        std::fs::copy(repo_root().join(CLS2).join(f), model.path().join(f)).unwrap();
    }
    std::fs::write(
        model.path().join("tokenizer.json"),
        "{\"version\": \"1.0\", \"model\": 42}",
    )
    .unwrap();
    fails(
        path_str(model.path()),
        "rte",
        &data_dir(),
        &[],
        &["tokenizer", "tokenizer.json", "does not load"],
    );
    std::fs::remove_file(model.path().join("tokenizer.json")).unwrap();
    fails(
        path_str(model.path()),
        "rte",
        &data_dir(),
        &[],
        &["tokenizer.json` is missing"],
    );
}

#[test]
fn label_count_that_cannot_fit_the_task() {
    let row = "0\t1\t1g\tfiction\t(a)\t(b)\t(a)\t(b)\tA man sleeps.\tA person rests.\tentailment\tentailment\tentailment\tentailment\tentailment\tentailment\n";
    let header = "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5\tgold_label\n";
    let data = data_with("glue/MNLI/dev_matched.tsv", &format!("{header}{row}"));
    fails(
        CLS2,
        "mnli_matched",
        data.path(),
        &[],
        &["the model has 2 labels but task `mnli_matched` needs 3"],
    );
    fails(
        CLS2,
        "stsb",
        &data_dir(),
        &[],
        &["regression task", "2 columns"],
    );
}

#[test]
fn onnx_runtime_and_cuda_problems_are_explained() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_evalrun"))
        .args([
            "run",
            "--model",
            CLS2,
            "--task",
            "rte",
            "--data-dir",
            path_str(&data_dir()),
        ])
        .env("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")
        .current_dir(repo_root())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("ONNX Runtime was not found") && err.contains("pip install onnxruntime"),
        "{err}"
    );

    // The CPU wheel has no CUDA provider: say so, never fall back to the CPU.
    fails(
        CLS2,
        "rte",
        &data_dir(),
        &["--device", "cuda"],
        &[
            "CUDA execution provider is not available",
            "onnxruntime-gpu",
        ],
    );
    fails(
        CLS2,
        "rte",
        &data_dir(),
        &["--device", "tpu"],
        &["`tpu` is not a device"],
    );
}

#[test]
fn unknown_tasks_and_invalid_task_files() {
    fails(
        CLS2,
        "nope",
        &data_dir(),
        &[],
        &["unknown task `nope`", "cola"],
    );
    let tasks = tempfile::tempdir().unwrap();
    std::fs::write(
        tasks.path().join("bad.toml"),
        "name = \"bad\"\nversion = 1\nsurprise = true\n",
    )
    .unwrap();
    fails(
        CLS2,
        "rte",
        &data_dir(),
        &["--tasks-dir", path_str(tasks.path())],
        &["bad.toml", "surprise"],
    );
}

/// Checkpoints exported with the wrong Optimum task (scripts/make_wrong_task_fixtures.py) get one
/// error each, naming the family and the export task to use, and no warning before it: a
/// DistilBERT regression head exported as `feature-extraction` is never scored on STS-B as an
/// embedding model; a causal LM without `logits`; a T5 as one graph.
#[test]
fn models_exported_with_the_wrong_task_get_one_error_naming_the_right_one() {
    let data = data_dir();
    for (model, task, needles) in [
        (
            "distilbert-regression",
            "stsb",
            [
                "`DistilBertForSequenceClassification` in config.json",
                "--task text-classification",
            ],
        ),
        (
            "llama-causal",
            "lambada_openai",
            [
                "a causal LM (`LlamaForCausalLM`",
                "--task text-generation-with-past",
            ],
        ),
        (
            "t5-seq2seq",
            "rte",
            [
                "a seq2seq model (`T5ForConditionalGeneration`",
                "--task text2text-generation-with-past",
            ],
        ),
    ] {
        let dir = format!("tests/fixtures/models/wrong-task/{model}");
        fails(&dir, task, &data, &[], &needles);
        let output = evalrun(&[
            "run",
            "--model",
            &dir,
            "--task",
            task,
            "--data-dir",
            path_str(&data),
        ]);
        let err = stderr(&output);
        assert_eq!(
            err.lines().count(),
            1,
            "{model}: one line, no warning first:\n{err}"
        );
        assert!(err.starts_with("error: "), "{err}");
    }
}

/// Friction 1: a run without `--data-dir` goes to the Hub; when that fails (here: offline, an
/// empty cache), the error says first that no `--data-dir` was given and how to give one.
#[test]
fn a_hub_failure_for_data_says_that_no_data_dir_was_given() {
    let home = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_evalrun"))
        .args([
            "run",
            "--model",
            "tests/fixtures/models/glue-tiny/rte",
            "--task",
            "rte",
        ])
        .env_remove("EVALRUN_DATA_DIR")
        .env("HF_HOME", home.path())
        .env("HF_HUB_OFFLINE", "1")
        .current_dir(repo_root())
        .output()
        .unwrap();
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with("error: no `--data-dir` was given (nor EVALRUN_DATA_DIR), so task `rte` reads its data from the Hub")
            && err.contains("pass `--data-dir DIR`"),
        "{err}"
    );
}

/// Friction 8: an output folder that cannot take a file is found before any work: the run's
/// cache stays empty (the evaluation ran first, then the write failed).
#[test]
fn an_unwritable_output_folder_is_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let output = evalrun(&[
        "run",
        "--model",
        "tests/fixtures/models/glue-tiny/rte",
        "--task",
        "rte",
        "--data-dir",
        path_str(&data_dir()),
        "--cache",
        path_str(&cache),
        "--output",
        "/proc/evalrun-record.json",
    ]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(
        err.contains("its folder `/proc` cannot be written"),
        "{err}"
    );
    assert!(
        !cache.exists(),
        "the evaluation ran before the output was checked"
    );
}
