//! The engine with a fake backend: request building, grouping by kind, re-attachment by
//! position, scoring, `--limit`, skipped tasks and wrong-kind models, without ONNX Runtime.

use std::cell::RefCell;
use std::path::PathBuf;

use evalrun_core::request::{
    Fingerprint, LoglikelihoodResponse, ModelInfo, NoProgress, RollingResponse,
};
use evalrun_core::{Example, Gold};
use evalrun_tasks::lm::{Document, LmDataset};
use evalrun_tasks::Dataset;

use super::*;

/// Answers every request from its text: deterministic, and records each call.
struct Fake {
    info: ModelInfo,
    calls: RefCell<Vec<(RequestKind, usize)>>,
    all_kinds: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("fake backend failure")]
struct FakeError;

fn info(kind: ModelKind, num_labels: Option<usize>) -> ModelInfo {
    ModelInfo {
        kind,
        num_labels,
        label_names: None,
        max_length: 16,
        scoring: "fake".into(),
        output: "logits".into(),
        windows: Some("fake windows".into()),
        graphs: vec![("fake.onnx".into(), "0".repeat(64))],
        tokenizer_sha256: "1".repeat(64),
        edits: Vec::new(),
    }
}

fn fake(kind: ModelKind, num_labels: Option<usize>) -> Fake {
    Fake {
        info: info(kind, num_labels),
        calls: RefCell::new(Vec::new()),
        all_kinds: false,
    }
}

impl Backend for Fake {
    type Error = FakeError;

    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn fingerprint(&self) -> Fingerprint {
        Fingerprint::new()
    }

    fn supports(&self, kind: RequestKind) -> bool {
        self.all_kinds || self.info.kind.supports(kind)
    }

    fn run(
        &mut self,
        kind: RequestKind,
        requests: &[Request],
        progress: &mut dyn Progress,
    ) -> std::result::Result<Vec<Response>, FakeError> {
        self.calls.borrow_mut().push((kind, requests.len()));
        progress.set_total(requests.len() as u64, "requests");
        Ok(requests
            .iter()
            .map(|r| match r {
                // "yes" anywhere: class 1.
                Request::Classify { text_a, .. } => Response::Logits {
                    logits: if text_a.contains("yes") {
                        vec![0.0, 1.0]
                    } else {
                        vec![1.0, 0.0]
                    },
                },
                Request::Embed { text } => Response::Embedding {
                    embedding: vec![text.len() as f32, 1.0],
                },
                Request::Rolling { text } => Response::Rolling(RollingResponse {
                    // −1 nat per byte.
                    loglikelihood: -(text.len() as f64),
                    tokens: text.len(),
                    greedy: false,
                    text_tokens: text.len() + 1,
                    windows: vec![(-(text.len() as f64), text.len())],
                }),
                Request::Loglikelihood { continuation, .. } => {
                    let c = match continuation {
                        Continuation::Text(t) => t.clone(),
                        Continuation::LastToken => String::new(),
                    };
                    Response::Loglikelihood(LoglikelihoodResponse {
                        loglikelihood: -(c.len() as f64),
                        tokens: 1,
                        greedy: Some(c.len() < 4),
                        greedy_text: Some(c),
                    })
                }
                Request::Generate { input, .. } => Response::Generated {
                    text: input.to_uppercase(),
                    tokens: 1,
                },
            })
            .collect())
    }
}

use evalrun_core::request::Continuation;

fn head_task(name: &str) -> Task {
    catalog(None)
        .unwrap()
        .tasks(TaskKind::Head)
        .find(|t| t.name() == name)
        .unwrap()
        .clone()
}

fn rte_data(texts: &[(&str, usize)]) -> Data {
    Data::Head(Dataset {
        split: "dev".into(),
        path: PathBuf::from("glue/RTE/dev.tsv"),
        sha256: "0".repeat(64),
        labels_sha256: None,
        examples: texts
            .iter()
            .enumerate()
            .map(|(i, (t, gold))| Example {
                id: i,
                text_a: t.to_string(),
                text_b: Some("h".into()),
                gold: Some(Gold::Class(*gold)),
                index: Some(i.to_string()),
            })
            .collect(),
    })
}

fn quiet_settings() -> Settings {
    let mut s = Settings::new("run", "fake", &["rte"]);
    s.bootstrap.resamples = 0;
    s
}

/// The task scored on the fake with no bootstrap.
fn score(task: &Task, data: &Data, backend: &mut Fake) -> Result<Scored> {
    evaluate_task(
        task,
        data,
        backend,
        None,
        &quiet_settings(),
        &mut NoProgress,
    )
}

#[test]
fn answer_groups_requests_by_kind_and_reattaches_them_by_position() {
    let mut backend = fake(ModelKind::Classifier, Some(2));
    backend.all_kinds = true;
    let requests = vec![
        Request::Embed { text: "abc".into() },
        Request::Classify {
            text_a: "yes".into(),
            text_b: None,
        },
        Request::Embed { text: "a".into() },
        Request::Classify {
            text_a: "no".into(),
            text_b: None,
        },
    ];
    let responses = answer(&mut backend, &requests, &mut NoProgress).unwrap();
    // One call per kind, in kind order, with all of that kind's requests.
    assert_eq!(
        *backend.calls.borrow(),
        [(RequestKind::Classify, 2), (RequestKind::Embed, 2)]
    );
    assert_eq!(
        responses,
        [
            Response::Embedding {
                embedding: vec![3.0, 1.0]
            },
            Response::Logits {
                logits: vec![0.0, 1.0]
            },
            Response::Embedding {
                embedding: vec![1.0, 1.0]
            },
            Response::Logits {
                logits: vec![1.0, 0.0]
            },
        ]
    );
}

#[test]
fn a_head_task_is_scored_from_the_backends_logits() {
    let task = head_task("rte");
    // RTE: entailment = 0, not_entailment = 1; the fake predicts 1 for "yes".
    let data = rte_data(&[("yes", 1), ("no", 0), ("yes", 0), ("no", 0)]);
    let mut backend = fake(ModelKind::Classifier, Some(2));
    let scored = score(&task, &data, &mut backend).unwrap();
    assert_eq!(scored.metrics["accuracy"], Some(0.75));
    assert_eq!(scored.lines.len(), 4);
    assert_eq!(scored.lines[2].prediction, "not_entailment");
    assert_eq!(scored.lines[2].label, "entailment");
    assert_eq!(scored.lines[0].text_a.as_deref(), Some("yes"));
    assert!(scored.label_mapping.unwrap().contains("generic labels"));
    assert_eq!(*backend.calls.borrow(), [(RequestKind::Classify, 4)]);
}

#[test]
fn bootstrap_intervals_come_with_every_metric() {
    let task = head_task("rte");
    let data = rte_data(&[("yes", 1), ("no", 0), ("yes", 0), ("no", 0), ("no", 1)]);
    let mut settings = quiet_settings();
    settings.bootstrap.resamples = 200;
    let mut backend = fake(ModelKind::Classifier, Some(2));
    let scored =
        evaluate_task(&task, &data, &mut backend, None, &settings, &mut NoProgress).unwrap();
    let ci = &scored.ci["accuracy"];
    assert!(ci.low <= 0.6 && 0.6 <= ci.high, "{ci:?}");
}

#[test]
fn limit_truncates_units_and_the_result_records_both_counts() {
    let task = head_task("rte");
    let mut data = rte_data(&[("yes", 1), ("no", 0), ("yes", 0), ("no", 0)]);
    data.truncate(2);
    let mut backend = fake(ModelKind::Classifier, Some(2));
    let settings = quiet_settings();
    let scored =
        evaluate_task(&task, &data, &mut backend, None, &settings, &mut NoProgress).unwrap();
    assert_eq!(scored.metrics["accuracy"], Some(1.0));
    let resolved = ResolvedModel {
        dir: "fake".into(),
        labels: None,
        origin: "local".into(),
    };
    let model = model_provenance(&backend, &resolved, &scored);
    let result = task_result(&task, &data, &scored, model, 1.0, Some(4), &settings);
    assert_eq!((result.n, result.n_original), (2, Some(4)));
    assert!(result.higher_is_better["accuracy"]);
    assert_eq!(result.model.path, "fake.onnx");
}

#[test]
fn a_model_of_the_wrong_kind_is_refused_before_any_call() {
    let task = head_task("rte");
    let data = rte_data(&[("yes", 1)]);
    let mut backend = fake(ModelKind::CausalLm, None);
    let err = score(&task, &data, &mut backend).unwrap_err().to_string();
    assert!(err.contains("a causal LM cannot answer"), "{err}");
    assert!(backend.calls.borrow().is_empty());
}

#[test]
fn embedding_similarity_embeds_first_texts_then_second_texts() {
    let task = head_task("stsb");
    let data = Data::Head(Dataset {
        split: "dev".into(),
        path: PathBuf::from("x.tsv"),
        sha256: String::new(),
        labels_sha256: None,
        examples: ["a", "bb", "ccc"]
            .iter()
            .enumerate()
            .map(|(i, t)| Example {
                id: i,
                text_a: t.to_string(),
                text_b: Some("z".repeat(i + 1)),
                gold: Some(Gold::Score(i as f64)),
                index: None,
            })
            .collect(),
    });
    let mut backend = fake(ModelKind::Embedding, None);
    let scored = score(&task, &data, &mut backend).unwrap();
    // Identical lengths → identical embeddings → cosine 1 for every pair.
    for line in &scored.lines {
        assert!((line.prediction.as_f64().unwrap() - 1.0).abs() < 1e-12);
    }
    assert_eq!(*backend.calls.borrow(), [(RequestKind::Embed, 6)]);
}

#[test]
fn rolling_lm_tasks_sum_documents_before_normalising() {
    let task = catalog(None)
        .unwrap()
        .tasks(TaskKind::Lm)
        .find(|t| t.name() == "ptb_gpt2")
        .unwrap()
        .clone();
    let data = Data::Lm(LmDataset {
        path: "ptb.txt".into(),
        sha256: String::new(),
        documents: ["a b", "c d e f"]
            .iter()
            .enumerate()
            .map(|(id, t)| Document {
                id,
                text: t.to_string(),
                cloze: None,
            })
            .collect(),
    });
    let mut backend = fake(ModelKind::CausalLm, None);
    let scored = score(&task, &data, &mut backend).unwrap();
    let Task::Lm(spec) = &task else {
        unreachable!()
    };
    let ll: f64 = data_texts(&data)
        .iter()
        .map(|t| -(spec.detokenize(t).len() as f64))
        .sum();
    let words: usize = data_texts(&data).iter().map(|t| spec.word_count(t)).sum();
    assert_eq!(scored.sums["loglikelihood"], ll);
    assert_eq!(scored.sums["words"], words as f64);
    assert_eq!(
        scored.metrics["word_perplexity"],
        Some((-ll / words as f64).exp())
    );
    assert_eq!(scored.lines[1].label, serde_json::Value::Null);
    assert_eq!(scored.windows.as_deref(), Some("fake windows"));
}

fn data_texts(data: &Data) -> Vec<String> {
    match data {
        Data::Lm(d) => d.documents.iter().map(|d| d.text.clone()).collect(),
        _ => unreachable!(),
    }
}

#[test]
fn absent_data_is_skipped_unless_the_task_was_named() {
    let catalog = catalog(None).unwrap();
    let tasks: Vec<&Task> = catalog
        .resolve(TaskKind::Head, Some("glue"), &["rte".into(), "qqp".into()])
        .unwrap();
    let load = |t: &Task| {
        if t.name() == "qqp" {
            Err(EngineError::Absent("no QQP here".into()))
        } else {
            Ok(rte_data(&[("yes", 1)]))
        }
    };
    let err = data::load_all(
        &tasks,
        |t| t.named_in(&["rte".into(), "qqp".into()]),
        load,
        "x",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("no QQP here"), "{err}");
    let (loaded, skipped) = data::load_all(&tasks, |_| false, load, "x").unwrap();
    assert_eq!(loaded.len(), 1);
    assert!(skipped["qqp"].contains("no QQP here"));
}

#[test]
fn names_of_another_kind_say_which_model_they_need() {
    let catalog = catalog(None).unwrap();
    let settings = Settings::new("run", "gpt2-fixture", &["rte"]);
    let err = select(&settings, &catalog, Family::CausalLm)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("task `rte` needs an encoder export") && err.contains("`evalrun lm"),
        "{err}"
    );
    let mut glue = Settings::new("glue", "gpt2-fixture", &[]);
    glue.suite = Some("glue".into());
    let err = check_command(&glue, Family::CausalLm)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("is a causal LM") && err.contains("evalrun lm"),
        "{err}"
    );
}

/// The repository's root (for task data fixtures and references).
fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn shared_data() -> PathBuf {
    std::env::var_os("EVALRUN_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/data"))
}

fn t2t_task(name: &str) -> evalrun_tasks::t2t::T2tTaskSpec {
    let catalog = Catalog::embedded().unwrap();
    let task = catalog
        .tasks(TaskKind::TextToText)
        .find(|t| t.name() == name)
        .unwrap_or_else(|| panic!("no text-to-text task `{name}`"));
    match task {
        Task::TextToText(t) => t.clone(),
        _ => unreachable!(),
    }
}

/// Outputs crafted to reach every branch of T5's WSC and ReCoRD post-processors
/// (`scripts/t5_reference.py crafted`), scored by evalrun and by T5's own code.
#[test]
fn wsc_and_record_metrics_equal_t5_on_crafted_outputs() {
    let reference = repo().join("tests/fixtures/reference/t5");
    let want: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(reference.join("crafted-metrics.json")).unwrap(),
    )
    .unwrap();
    let outputs: Vec<serde_json::Value> =
        std::fs::read_to_string(reference.join("crafted-outputs.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    for (name, data_dir, pairs) in [
        ("wsc", shared_data(), &[("accuracy", "accuracy")][..]),
        (
            "record",
            repo().join("tests/fixtures/data"),
            &[("exact_match", "em"), ("f1", "f1")][..],
        ),
    ] {
        let task = t2t_task(name);
        let data = evalrun_tasks::t2t::load(&task, "dev", &data_dir).unwrap();
        let responses: Vec<Response> = outputs
            .iter()
            .filter(|o| o["task"] == name)
            .map(|o| Response::Generated {
                text: o["output"].as_str().unwrap().to_string(),
                tokens: 1,
            })
            .collect();
        assert_eq!(responses.len(), data.examples.len(), "{name}");
        let scored = t2t::score(&task, &data, responses, &quiet_settings()).unwrap();
        for (ours, theirs) in pairs {
            let got = scored.metrics[*ours].unwrap() * 100.0;
            let t5 = want[name][*theirs].as_f64().unwrap();
            assert!((got - t5).abs() < 1e-9, "{name} {ours}: {got} vs T5 {t5}");
        }
    }
}

fn scored_again(data: &evalrun_tasks::t2t::T2tDataset, outputs: &[&str]) -> Vec<Response> {
    (0..data.examples.len())
        .map(|i| Response::Generated {
            text: outputs[i % outputs.len()].to_string(),
            tokens: 1,
        })
        .collect()
}

/// Submission files in the servers' formats, from outputs: SuperGLUE JSONL (labels spelled as
/// the server reads them, MultiRC nested, ReCoRD the answer text, invalid outputs as the last
/// class) and GLUE TSV.
#[test]
fn text_to_text_submission_files_follow_the_server_formats() {
    let data_dir = repo().join("tests/fixtures/data");
    let body = |name: &str, outputs: &[&str]| -> String {
        let task = t2t_task(name);
        let data = evalrun_tasks::t2t::load(&task, "test", &data_dir).unwrap();
        let responses = scored_again(&data, outputs);
        // The server file is built only when one is written.
        let mut settings = quiet_settings();
        settings.submission_dir = Some(PathBuf::from("submission"));
        let scored = t2t::score(&task, &data, responses, &settings).unwrap();
        assert!(
            scored.metrics.is_empty(),
            "{name}: a test split has no scores"
        );
        assert!(t2t::score(
            &task,
            &data,
            scored_again(&data, outputs),
            &quiet_settings()
        )
        .unwrap()
        .submission
        .is_none());
        scored.submission.unwrap()
    };
    assert_eq!(
        body("boolq", &["True", "False", "maybe"]),
        "{\"idx\":0,\"label\":\"true\"}\n{\"idx\":1,\"label\":\"false\"}\n{\"idx\":2,\"label\":\"true\"}\n{\"idx\":3,\"label\":\"true\"}\n"
    );
    assert!(body("copa", &["choice2"]).starts_with("{\"idx\":0,\"label\":1}\n"));
    assert!(body("cb", &["neutral"]).starts_with("{\"idx\":0,\"label\":\"neutral\"}\n"));
    let wsc = body("wsc", &["Mark", ""]);
    assert!(
        wsc.lines()
            .all(|l| l.contains("\"label\":\"True\"") || l.contains("\"label\":\"False\"")),
        "{wsc}"
    );
    let record = body("record", &["NASA"]);
    assert_eq!(record.lines().count(), 4, "{record}");
    assert!(
        record.starts_with("{\"idx\":0,\"label\":\"NASA\"}\n"),
        "{record}"
    );
    let multirc = body("multirc", &["True", "False"]);
    let first: serde_json::Value = serde_json::from_str(multirc.lines().next().unwrap()).unwrap();
    let answers = &first["passage"]["questions"][0]["answers"];
    assert_eq!(answers[0]["label"], 1);
    assert_eq!(answers[1]["label"], 0);
    assert!(first["idx"].is_u64());
    assert_eq!(
        multirc.lines().count(),
        1,
        "one line per paragraph: {multirc}"
    );
    let axb = body("axb", &["entailment"]);
    assert!(
        axb.starts_with("{\"idx\":0,\"label\":\"entailment\"}\n"),
        "{axb}"
    );
    assert_eq!(
        body("cola", &["acceptable", "unacceptable"]),
        "index\tprediction\n0\t1\n1\t0\n2\t1\n3\t0\n"
    );
    assert_eq!(
        body("stsb", &["3.8", "x"]),
        "index\tprediction\n0\t3.800\n1\t-1.000\n2\t3.800\n3\t-1.000\n"
    );
    assert_eq!(
        body("ax", &["neutral", "entailment"]),
        "index\tprediction\n0\tneutral\n1\tentailment\n2\tneutral\n3\tentailment\n"
    );
}

/// Answers every request with one fixed response, whatever was asked (a hand-edited record).
struct Garbled(Fake, Response);

impl Backend for Garbled {
    type Error = FakeError;

    fn info(&self) -> &ModelInfo {
        self.0.info()
    }

    fn fingerprint(&self) -> Fingerprint {
        Fingerprint::new()
    }

    fn source(&self, _: &Request) -> Option<String> {
        Some("shard-1.json".into())
    }

    fn run(
        &mut self,
        _: RequestKind,
        requests: &[Request],
        _: &mut dyn Progress,
    ) -> std::result::Result<Vec<Response>, FakeError> {
        Ok(vec![self.1.clone(); requests.len()])
    }
}

/// A response of another kind than its request, or logits of another width than the head's,
/// is an error naming where it was read from, found where responses meet their requests.
#[test]
fn responses_that_do_not_fit_their_requests_are_errors() {
    let requests = vec![Request::Classify {
        text_a: "a".into(),
        text_b: None,
    }];
    for (response, says) in [
        (
            Response::Generated {
                text: "x".into(),
                tokens: 1,
            },
            "is a `generate` response",
        ),
        (
            Response::Logits { logits: vec![] },
            "has 0 logits, not the model's 2",
        ),
    ] {
        let mut backend = Garbled(fake(ModelKind::Classifier, Some(2)), response);
        let error = answer(&mut backend, &requests, &mut NoProgress)
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("`shard-1.json`: the response to `classify` request 0")
                && error.contains(says),
            "{error}"
        );
    }
}
