//! The markdown table for a fixed record is pinned by a golden file
//! (tests/golden/table.md; regenerate with EVALRUN_BLESS=1 and review the diff).

use std::collections::BTreeMap;

use evalrun_report::record::BuildInfo;
use evalrun_report::{DataProvenance, ModelProvenance, RunRecord, RuntimeProvenance, TaskResult};

fn result(metrics: &[(&str, f64)], table_metric: &str, n: usize, scoring: &str) -> TaskResult {
    TaskResult {
        metrics: metrics
            .iter()
            .map(|(k, v)| (k.to_string(), Some(*v)))
            .collect(),
        n,
        split: "dev".into(),
        task_version: 1,
        protocol: "p".into(),
        table_metric: table_metric.into(),
        model: ModelProvenance {
            path: "m".into(),
            sha256: "0".repeat(64),
            tokenizer_sha256: "0".repeat(64),
            scoring: scoring.into(),
            max_length: 512,
            label_mapping: None,
            source: None,
            edits: Vec::new(),
            edit_report: Vec::new(),
            graphs: Vec::new(),
        },
        data: DataProvenance {
            path: "d".into(),
            sha256: "0".repeat(64),
            labels_path: None,
            labels_sha256: None,
        },
        wall_seconds: 1.0,
        examples_per_second: 1.0,
        tokens_per_second: None,
        n_original: None,
        higher_is_better: BTreeMap::new(),
        ci: BTreeMap::new(),
        bootstrap: None,
        sums: BTreeMap::new(),
        windows: None,
    }
}

fn runtime(batch_size: usize) -> RuntimeProvenance {
    RuntimeProvenance {
        ort_version: "1.31.1".into(),
        ort_library: "lib".into(),
        execution_provider: "CPUExecutionProvider".into(),
        device: "cpu".into(),
        threads: 2,
        batch_size,
        ort_config: BTreeMap::new(),
        ort_profile: None,
    }
}

#[test]
fn table_matches_golden_file() {
    let mut results = BTreeMap::new();
    results.insert(
        "cola".to_string(),
        result(&[("mcc", 0.521)], "mcc", 1043, "logits"),
    );
    results.insert(
        "mrpc".to_string(),
        result(&[("f1", 0.889), ("accuracy", 0.84)], "f1", 408, "logits"),
    );
    results.insert(
        "stsb".to_string(),
        result(
            &[("pearson", 0.86), ("spearman", 0.858)],
            "spearman",
            1500,
            "embedding cosine",
        ),
    );
    let mut skipped = BTreeMap::new();
    skipped.insert(
        "qqp".to_string(),
        "data not present: `glue/QQP/dev.tsv`".to_string(),
    );
    let mut record = RunRecord {
        evalrun: BuildInfo {
            version: "0".into(),
            git_commit: "x".into(),
        },
        command: "glue".into(),
        config: None,
        runtime: runtime(32),
        results,
        skipped,
        averages: BTreeMap::new(),
        wall_seconds: 1.0,
        cache: None,
        shard: None,
        predictions: None,
    };
    record.compute_averages();
    let order: Vec<String> = ["cola", "mrpc", "stsb", "qqp"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let table = evalrun_report::markdown::render(&record, &order);
    let golden = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/table.md");
    if std::env::var_os("EVALRUN_BLESS").is_some() {
        std::fs::write(&golden, &table).unwrap();
    }
    assert_eq!(table, std::fs::read_to_string(&golden).unwrap());
    // The averages by hand: BERT table (52.1 + 85.8 + 88.9) / 3; group (52.1 + 86.45 + 86.9) / 3.
    assert!((record.averages["bert_table"].value - (0.521 + 0.858 + 0.889) / 3.0).abs() < 1e-12);
    assert!(
        (record.averages["glue_group"].value
            - (0.521 + (0.889 + 0.84) / 2.0 + (0.86 + 0.858) / 2.0) / 3.0)
            .abs()
            < 1e-12
    );
}

#[test]
fn lm_rows_keep_perplexities_and_bits_as_they_are_under_a_model_caption() {
    let mut wikitext = result(
        &[
            ("word_perplexity", 37.5),
            ("bits_per_byte", 1.0123),
            ("token_perplexity", 25.0),
        ],
        "word_perplexity",
        62,
        "causal lm",
    );
    wikitext.windows = Some("lm-eval disjoint rolling windows: max_length 1024".into());
    wikitext.ci.insert(
        "word_perplexity".into(),
        evalrun_core::bootstrap::Interval {
            low: 36.5,
            high: 38.5,
            std_error: 0.5,
        },
    );
    let lambada = result(
        &[("accuracy", 0.3256), ("perplexity", 40.06)],
        "accuracy",
        5153,
        "causal lm",
    );
    let mut results = BTreeMap::new();
    results.insert("wikitext2".to_string(), wikitext);
    results.insert("lambada_openai".to_string(), lambada);
    let record = RunRecord {
        evalrun: BuildInfo {
            version: "0".into(),
            git_commit: "x".into(),
        },
        command: "lm".into(),
        config: Some(evalrun_report::RunConfig {
            started: "2026-12-02T00:00:00Z".into(),
            finished: "2026-12-02T00:01:00Z".into(),
            command_line: vec!["lm".into()],
            model: "gpt2".into(),
            model_resolved: BTreeMap::new(),
            model_kind: "causal LM".into(),
            tasks: vec!["wikitext2".into(), "lambada_openai".into()],
            data_dir: None,
            split: None,
            limit: Some(20),
            batch_size: 8,
            max_length: None,
            bootstrap_resamples: 1000,
            seed: 1234,
            options: BTreeMap::new(),
        }),
        runtime: runtime(8),
        results,
        skipped: BTreeMap::new(),
        averages: BTreeMap::new(),
        wall_seconds: 1.0,
        cache: None,
        shard: None,
        predictions: None,
    };
    let table = evalrun_report::markdown::render(
        &record,
        &["wikitext2".to_string(), "lambada_openai".to_string()],
    );
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("Model: `gpt2` (causal LM) — `evalrun lm`; `--limit 20`"),
        "{table}"
    );
    assert!(table.contains("| wikitext2 | dev | 62 | word_perplexity / bits_per_byte / token_perplexity | 37.50 ± 1.00 / 1.012 / 25.00 | causal lm; lm-eval disjoint rolling windows: max_length 1024 |"), "{table}");
    assert!(
        table.contains(
            "| lambada_openai | dev | 5153 | accuracy / perplexity | 32.56 / 40.06 | causal lm |"
        ),
        "{table}"
    );
    assert!(
        lines.last().unwrap().starts_with(
            "Scores: fractions and correlations ×100; perplexities and bits as they are"
        ),
        "{table}"
    );
}

fn interval(low: f64, high: f64) -> evalrun_core::bootstrap::Interval {
    evalrun_core::bootstrap::Interval {
        low,
        high,
        std_error: (high - low) / 4.0,
    }
}

fn config(model: &str, finished: &str, limit: Option<usize>) -> evalrun_report::RunConfig {
    evalrun_report::RunConfig {
        started: "2026-12-02T00:00:00Z".into(),
        finished: finished.into(),
        command_line: vec!["glue".into()],
        model: model.into(),
        model_resolved: BTreeMap::new(),
        model_kind: "classifier".into(),
        tasks: Vec::new(),
        data_dir: Some("/home/alice/data".into()),
        split: None,
        limit,
        batch_size: 32,
        max_length: None,
        bootstrap_resamples: 1000,
        seed: 1234,
        options: BTreeMap::new(),
    }
}

fn record(
    results: &[(&str, TaskResult)],
    skipped: &[(&str, &str)],
    config: evalrun_report::RunConfig,
    commit: &str,
) -> RunRecord {
    let mut record = RunRecord {
        evalrun: BuildInfo {
            version: "0.1.0".into(),
            git_commit: commit.into(),
        },
        command: "glue".into(),
        config: Some(config),
        runtime: runtime(32),
        results: results
            .iter()
            .map(|(t, r)| (t.to_string(), r.clone()))
            .collect(),
        skipped: skipped
            .iter()
            .map(|(t, r)| (t.to_string(), r.to_string()))
            .collect(),
        averages: BTreeMap::new(),
        wall_seconds: 1.0,
        cache: None,
        shard: None,
        predictions: None,
    };
    record.compute_averages();
    record
}

fn with_ci(mut r: TaskResult, metric: &str, low: f64, high: f64) -> TaskResult {
    r.ci.insert(metric.to_string(), interval(low, high));
    r
}

/// Two runs of fixed records against two BERT tables: markers, a partial average, skipped tasks
/// (with an absolute path in the reason), a measured-only task, and a second run evaluated with
/// `--limit`.
fn two_runs() -> (
    Vec<evalrun_report::Row>,
    Vec<String>,
    Vec<evalrun_report::reference::ReferenceTable>,
    evalrun_report::Meta,
) {
    let missing = "data not present: `/home/alice/data/glue/MNLI/dev_matched.tsv`";
    let a = record(
        &[
            (
                "cola",
                with_ci(
                    result(&[("mcc", 0.5213)], "mcc", 1043, "logits"),
                    "mcc",
                    0.47,
                    0.57,
                ),
            ),
            (
                "mrpc",
                with_ci(
                    result(&[("f1", 0.8891), ("accuracy", 0.8407)], "f1", 408, "logits"),
                    "f1",
                    0.86,
                    0.91,
                ),
            ),
            (
                "qnli",
                with_ci(
                    result(&[("accuracy", 0.9066)], "accuracy", 5463, "logits"),
                    "accuracy",
                    0.899,
                    0.914,
                ),
            ),
            (
                "sst2",
                result(&[("accuracy", 0.9232)], "accuracy", 872, "logits"),
            ),
            (
                "rte",
                result(&[("accuracy", 0.657)], "accuracy", 277, "logits"),
            ),
            (
                "stsb",
                result(
                    &[("pearson", 0.86), ("spearman", 0.858)],
                    "spearman",
                    1500,
                    "embedding cosine",
                ),
            ),
            ("ax", result(&[("mcc", 0.3412)], "mcc", 1104, "logits")),
        ],
        &[
            ("mnli_matched", missing),
            (
                "mnli_mismatched",
                "data not present: `/home/alice/data/glue/MNLI/dev_mismatched.tsv`",
            ),
            (
                "qqp",
                "data not present: `/home/alice/data/glue/QQP/dev.tsv`",
            ),
        ],
        config(
            "/home/alice/models/glue-tiny/{task}",
            "2026-12-02T03:04:05Z",
            None,
        ),
        "6b62c4970859ec922b49178cc3e8c43c253aaf22",
    );
    let b = record(
        &[
            (
                "cola",
                with_ci(
                    result(&[("mcc", 0.1)], "mcc", 200, "logits"),
                    "mcc",
                    -0.02,
                    0.22,
                ),
            ),
            (
                "qnli",
                result(&[("accuracy", 0.5)], "accuracy", 200, "logits"),
            ),
            (
                "sst2",
                result(&[("accuracy", 0.81)], "accuracy", 200, "logits"),
            ),
        ],
        &[],
        config("bert-base-uncased", "2026-12-03T10:00:00Z", Some(200)),
        "6b62c4970859ec922b49178cc3e8c43c253aaf22",
    );
    let runs = vec![
        evalrun_report::LabelledRun {
            label: "glue-tiny".into(),
            record: a,
        },
        evalrun_report::LabelledRun {
            label: "bert_base".into(),
            record: b,
        },
    ];
    let mut tables = evalrun_report::reference::resolve("bert-base-glue/model-card").unwrap();
    tables.extend(evalrun_report::reference::resolve("bert-base-glue/paper-dev").unwrap());
    let rows = evalrun_report::compare::compare(&runs, &tables);
    let meta = evalrun_report::Meta::from_runs("evalrun report", &runs);
    let names = runs.iter().map(|r| r.label.clone()).collect();
    (rows, names, tables, meta)
}

fn golden(name: &str, actual: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("EVALRUN_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (EVALRUN_BLESS=1 writes it)", path.display()));
    assert_eq!(actual, expected, "{name} differs from its golden file");
}

#[test]
fn report_markdown_and_latex_match_golden_files() {
    let (rows, names, tables, meta) = two_runs();
    assert_eq!(meta.models, ["glue-tiny/{task}", "bert-base-uncased"]);
    assert_eq!(meta.date, "2026-12-03");
    assert_eq!(meta.evalrun_version, "0.1.0 (commit 6b62c49)");
    let md = evalrun_report::render::markdown(&rows, &names, &tables, &meta);
    let tex = evalrun_report::render::latex(&rows, &names, &tables, &meta);
    golden("report.md", &md);
    golden("report.tex", &tex);
    let html = evalrun_report::render::html(&rows, &names, &tables, &meta);
    for text in [&md, &tex, &html] {
        assert!(
            !text.contains("/home/alice"),
            "a local path leaked:\n{text}"
        );
    }
    // Skipped tasks say why, with the path shortened.
    assert!(
        md.contains("not measured: data not present: `QQP/dev.tsv`"),
        "{md}"
    );
    // The legend comes after every table.
    let legend = md.find("± = half the 95% bootstrap interval").unwrap();
    assert!(md.rfind("| Task |").unwrap() < legend);
    assert!(tex.contains("\\toprule") && tex.contains("\\bottomrule"));
    assert_eq!(tex.matches("\\begin{tabular}").count(), 3);
}
