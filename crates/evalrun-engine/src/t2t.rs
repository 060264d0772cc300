//! Text-to-text tasks (`kind = "text_to_text"`, T5), top to bottom: rows → T5's
//! preprocessor (in evalrun-tasks) → `generate(input)` requests (greedy with the cache by
//! default, beam search on request), or with `--rank-classification` one
//! `loglikelihood(input, label)` per label → output strings → T5's post-processors → metrics,
//! under the same task names as the BERT heads.

use std::collections::{BTreeMap, HashMap};

use evalrun_core::bootstrap::{BootstrapSpec, Interval};
use evalrun_core::request::{Continuation, GenerationOptions, Request, Response};
use evalrun_core::t5 as t5m;
use evalrun_core::text::bleu::{Bleu, BleuConfig, BleuStats};
use evalrun_core::text::pyfloat::python_float;
use evalrun_core::text::rouge::{score_t5, RougeScores};
use evalrun_core::text::squad::SquadScore;
use evalrun_core::PairedScores;
use evalrun_report::PredictionLine;
use evalrun_tasks::t2t::{
    Preprocess, SubmissionSpec, T2tDataset, T2tExample, T2tGold, T2tTaskSpec,
};

use crate::error::{bail, Result};
use crate::score::{Recorder, Scored};
use crate::Settings;

/// Whether this run scores labels instead of generating (only tasks with label strings).
fn ranks(task: &T2tTaskSpec, settings: &Settings) -> bool {
    settings.decode.rank_classification && !task.labels.is_empty()
}

/// The decoding options of `task` under the run's flags.
pub fn generation_options(task: &T2tTaskSpec, settings: &Settings) -> GenerationOptions {
    let flags = &settings.decode;
    GenerationOptions {
        max_new_tokens: flags.max_new_tokens.unwrap_or(task.max_new_tokens),
        beams: flags.beams.or(task.beams).unwrap_or(1),
        length_penalty: flags.length_penalty.or(task.length_penalty).unwrap_or(1.0),
        use_cache: !flags.no_kv_cache,
    }
}

pub fn requests(task: &T2tTaskSpec, data: &T2tDataset, settings: &Settings) -> Vec<Request> {
    if ranks(task, settings) {
        // Every label of one input in a row: the backend scores them together.
        return data
            .examples
            .iter()
            .flat_map(|e| {
                task.labels.iter().map(|label| Request::Loglikelihood {
                    context: e.input.clone(),
                    continuation: Continuation::Text(label.clone()),
                })
            })
            .collect();
    }
    let options = generation_options(task, settings);
    data.examples
        .iter()
        .map(|e| Request::Generate {
            input: e.input.clone(),
            options,
        })
        .collect()
}

pub fn score(
    task: &T2tTaskSpec,
    data: &T2tDataset,
    responses: Vec<Response>,
    settings: &Settings,
) -> Result<Scored> {
    let examples = &data.examples;
    let (outputs, logits, scoring, generated) = if ranks(task, settings) {
        let lls: Vec<f64> = responses
            .into_iter()
            .map(|r| match r {
                Response::Loglikelihood(r) => r.loglikelihood,
                other => unreachable!("loglikelihood answers, not {other:?}"),
            })
            .collect();
        let mut outputs = Vec::with_capacity(examples.len());
        let mut all = Vec::with_capacity(examples.len());
        for scores in lls.chunks(task.labels.len()) {
            let mut best = 0;
            for (i, s) in scores.iter().enumerate() {
                if *s > scores[best] {
                    best = i;
                }
            }
            outputs.push(task.labels[best].clone());
            all.push(scores.to_vec());
        }
        (
            outputs,
            all,
            "rank classification (Σ log p of each label + </s>)".to_string(),
            None,
        )
    } else {
        let options = generation_options(task, settings);
        let mut tokens = 0usize;
        let outputs: Vec<String> = responses
            .into_iter()
            .map(|r| match r {
                Response::Generated { text, tokens: n } => {
                    tokens += n;
                    text
                }
                other => unreachable!("generate answers with text, not {other:?}"),
            })
            .collect();
        let how = if options.beams > 1 {
            format!(
                "beam search ({} beams, length penalty {}, ≤{} new tokens)",
                options.beams, options.length_penalty, options.max_new_tokens
            )
        } else {
            format!("greedy decoding (≤{} new tokens)", options.max_new_tokens)
        };
        (outputs, vec![Vec::new(); examples.len()], how, Some(tokens))
    };
    let (metrics, ci, mut sums) = score_outputs(task, examples, &outputs, settings.bootstrap)?;
    // The server file only when one is written (`--submission-dir`): building it warns about
    // outputs that are no label, which means nothing to a dev-split run.
    let submission = task
        .submission
        .as_ref()
        .filter(|_| settings.submission_dir.is_some())
        .map(|spec| submission(task, spec, examples, &outputs))
        .transpose()?;
    if let Some(tokens) = generated {
        // New tokens without `</s>`: the throughput figure of `scripts/bench_t5.py`.
        sums.insert("generated_tokens".into(), tokens as f64);
    }
    let lines = examples
        .iter()
        .zip(&outputs)
        .zip(logits)
        .map(|((e, output), logits)| {
            let mut line = PredictionLine::new(
                &task.name,
                e.id,
                gold_json(task, e),
                prediction_json(task, e, output),
            );
            line.logits = logits;
            line.input = Some(e.input.clone());
            line.output = Some(output.clone());
            line.target = Some(e.target.clone());
            line
        })
        .collect();
    Ok(Scored {
        metrics,
        ci,
        sums,
        lines,
        submission,
        scoring,
        label_mapping: None,
        tokens: generated,
        windows: None,
    })
}

fn gold_json(task: &T2tTaskSpec, e: &T2tExample) -> serde_json::Value {
    match &e.gold {
        Some(T2tGold::Class(c)) => task.gold_classes().get(*c).cloned().into(),
        Some(T2tGold::Score(_)) => python_float(&e.target).into(),
        Some(T2tGold::Answers(a)) => a.clone().into(),
        Some(T2tGold::Text(t)) => t.clone().into(),
        None => serde_json::Value::Null,
    }
}

fn prediction_json(task: &T2tTaskSpec, e: &T2tExample, output: &str) -> serde_json::Value {
    if matches!(task.preprocess, Preprocess::WscSimple) {
        return t5m::wsc_refers(output, &e.target).map_or(serde_json::Value::Null, |refers| {
            task.labels[usize::from(refers)].clone().into()
        });
    }
    if !task.labels.is_empty() {
        return t5m::class_id(output, &task.labels)
            .map_or(serde_json::Value::Null, |c| task.labels[c].clone().into());
    }
    if matches!(task.preprocess, Preprocess::Stsb) {
        return python_float(output).unwrap_or(-1.0).into();
    }
    output.into()
}

type Scores = (
    BTreeMap<String, Option<f64>>,
    BTreeMap<String, Interval>,
    BTreeMap<String, f64>,
);

/// T5's metric definitions (t5/data/glue_utils.py GLUE_METRICS, SUPERGLUE_METRICS; squad, bleu,
/// rouge), stored as fractions.
fn score_outputs(
    task: &T2tTaskSpec,
    examples: &[T2tExample],
    outputs: &[String],
    spec: BootstrapSpec,
) -> Result<Scores> {
    let mut metrics = BTreeMap::new();
    let mut ci = BTreeMap::new();
    let mut sums = BTreeMap::new();
    let labelled: Vec<usize> = (0..examples.len())
        .filter(|&i| examples[i].gold.is_some())
        .collect();
    if labelled.is_empty() {
        return Ok((metrics, ci, sums));
    }
    // Bootstrap units: MultiRC resamples whole questions (T5 groups its exact match by
    // question), every other task single examples.
    let mut units: Vec<Vec<usize>> = Vec::new();
    let mut unit_of_group: HashMap<u64, usize> = HashMap::new();
    for (row, &i) in labelled.iter().enumerate() {
        match examples[i].group {
            Some(g) => {
                let u = *unit_of_group.entry(g).or_insert_with(|| {
                    units.push(Vec::new());
                    units.len() - 1
                });
                units[u].push(row);
            }
            None => units.push(vec![row]),
        }
    }
    let mut put = Recorder {
        metrics: &mut metrics,
        ci: &mut ci,
        units: &units,
        spec,
    };
    match &task.preprocess {
        Preprocess::Glue { .. } => {
            let pairs: Vec<(usize, Option<usize>)> = labelled
                .iter()
                .map(|&i| {
                    let gold = match examples[i].gold {
                        Some(T2tGold::Class(c)) => c,
                        _ => unreachable!("classification rows"),
                    };
                    let predicted = t5m::class_id(&outputs[i], &task.labels);
                    (gold, predicted.and_then(|p| task.scored_class(p)))
                })
                .collect();
            let classes = task.gold_classes().len();
            let pick = |idx: &[usize]| idx.iter().map(|&i| pairs[i]).collect::<Vec<_>>();
            for metric in &task.metrics {
                match metric.as_str() {
                    "gender_parity" => put.grouped("gender_parity", &|sel| {
                        // The two rows of a drawn pair share its slot.
                        let mut pairs_of: BTreeMap<u64, Vec<Option<usize>>> = BTreeMap::new();
                        for &(slot, r) in sel {
                            pairs_of.entry(slot).or_default().push(pairs[r].1);
                        }
                        let complete: Vec<Option<usize>> = pairs_of
                            .into_values()
                            .filter(|p| p.len() == 2)
                            .flatten()
                            .collect();
                        t5m::gender_parity(&complete).unwrap_or(f64::NAN)
                    }),
                    "accuracy" => put.rows("accuracy", &|idx| t5m::accuracy(&pick(idx))),
                    "mcc" => put.rows("mcc", &|idx| t5m::mcc(&pick(idx), classes)),
                    "f1" => put.rows("f1", &|idx| t5m::f1_with_invalid(&pick(idx))),
                    "macro_f1" => put.rows("macro_f1", &|idx| t5m::macro_f1(&pick(idx), classes)),
                    "exact_match" => {
                        let rows: Vec<(u64, usize, Option<usize>)> =
                            pairs.iter().map(|&(g, p)| (0, g, p)).collect();
                        put.grouped("exact_match", &|sel| {
                            // A question drawn twice counts twice: its slot is the group.
                            let picked: Vec<_> = sel
                                .iter()
                                .map(|&(slot, r)| (slot, rows[r].1, rows[r].2))
                                .collect();
                            t5m::group_exact_match(&picked)
                        })
                    }
                    other => bail!("metric `{other}` does not apply to a classification task"),
                }
            }
        }
        Preprocess::Stsb => {
            let pairs: Vec<(f64, f64)> = labelled
                .iter()
                .map(|&i| {
                    (
                        python_float(&outputs[i]).unwrap_or(-1.0),
                        python_float(&examples[i].target).unwrap_or(-1.0),
                    )
                })
                .collect();
            let scores = |idx: &[usize]| {
                let mut s = PairedScores::new();
                for &i in idx {
                    s.push(pairs[i].0, pairs[i].1);
                }
                s
            };
            put.rows("pearson", &|idx| scores(idx).pearson());
            put.rows("spearman", &|idx| scores(idx).spearman());
        }
        Preprocess::WscSimple => {
            // postprocessors.wsc_simple: does the output name the candidate? Compared with
            // whether the candidate is the referent (the label).
            let pairs: Vec<(usize, Option<usize>)> = labelled
                .iter()
                .map(|&i| {
                    let gold = match examples[i].gold {
                        Some(T2tGold::Class(c)) => c,
                        _ => unreachable!("WSC rows carry a boolean label"),
                    };
                    let refers = t5m::wsc_refers(&outputs[i], &examples[i].target);
                    (gold, refers.map(usize::from))
                })
                .collect();
            put.rows("accuracy", &|idx| {
                t5m::accuracy(&idx.iter().map(|&i| pairs[i]).collect::<Vec<_>>())
            });
        }
        Preprocess::Record => {
            // deduplicate_metric(squad): one example per query here already.
            let scores: Vec<SquadScore> = labelled
                .iter()
                .map(|&i| match &examples[i].gold {
                    Some(T2tGold::Answers(a)) => SquadScore::new(&outputs[i], a),
                    _ => unreachable!("ReCoRD rows carry answers"),
                })
                .collect::<Result<_, _>>()?;
            put.rows("exact_match", &|idx| {
                idx.iter().filter(|&&i| scores[i].exact_match).count() as f64 / idx.len() as f64
            });
            put.rows("f1", &|idx| {
                idx.iter().map(|&i| scores[i].f1).sum::<f64>() / idx.len() as f64
            });
        }
        Preprocess::Squad => {
            let official: Vec<SquadScore> = labelled
                .iter()
                .map(|&i| match &examples[i].gold {
                    Some(T2tGold::Answers(a)) => SquadScore::new(&outputs[i], a),
                    _ => unreachable!("SQuAD rows carry answers"),
                })
                .collect::<Result<_, _>>()?;
            let padded: Vec<SquadScore> = labelled
                .iter()
                .map(|&i| SquadScore::new(&outputs[i], &examples[i].padded_answers))
                .collect::<Result<_, _>>()?;
            let em = |s: &[SquadScore], idx: &[usize]| {
                idx.iter().filter(|&&i| s[i].exact_match).count() as f64 / idx.len() as f64
            };
            let f1 = |s: &[SquadScore], idx: &[usize]| {
                idx.iter().map(|&i| s[i].f1).sum::<f64>() / idx.len() as f64
            };
            put.rows("exact_match", &|idx| em(&official, idx));
            put.rows("f1", &|idx| f1(&official, idx));
            put.rows("t5_exact_match", &|idx| em(&padded, idx));
            put.rows("t5_f1", &|idx| f1(&padded, idx));
        }
        Preprocess::Translate { .. } => {
            let bleu = Bleu::new(BleuConfig::t5());
            let stats: Vec<BleuStats> = labelled
                .iter()
                .map(|&i| bleu.segment_stats(&outputs[i], &[examples[i].target.as_str()]))
                .collect::<Result<_, _>>()?;
            let total: BleuStats = stats.iter().sum();
            sums.insert("sys_len".into(), total.sys_len as f64);
            sums.insert("ref_len".into(), total.ref_len as f64);
            put.rows("bleu", &|idx| {
                let s: BleuStats = idx.iter().map(|&i| &stats[i]).sum();
                bleu.score_stats(&s).score / 100.0
            });
        }
        Preprocess::Summarize => {
            let scores: Vec<RougeScores> = labelled
                .iter()
                .map(|&i| score_t5(&examples[i].target, &outputs[i]))
                .collect();
            let mean = |f: &dyn Fn(&RougeScores) -> f64, idx: &[usize]| {
                idx.iter().map(|&i| f(&scores[i])).sum::<f64>() / idx.len() as f64
            };
            put.rows("rouge1", &|idx| mean(&|s| s.rouge1.fmeasure, idx));
            put.rows("rouge2", &|idx| mean(&|s| s.rouge2.fmeasure, idx));
            put.rows("rougeLsum", &|idx| mean(&|s| s.rouge_lsum.fmeasure, idx));
        }
    }
    Ok((metrics, ci, sums))
}

/// A MultiRC question of a submission: its index and its answers' `{idx, label}` objects.
type Question = (serde_json::Value, Vec<serde_json::Value>);

/// The test server's file for `task`: GLUE's `index<TAB>prediction` TSV (`.tsv`) or SuperGLUE's
/// `{"idx", "label"}` JSONL (`.jsonl`; MultiRC nested per paragraph and question, ReCoRD the
/// answer text), with the label spellings of T5's `prepare_glue_submission.py` and jiant. An
/// output that is no label is written as the last class, with a warning that counts them: that
/// script does so (Python's `labels[-1]`) for the label-name tasks and BoolQ, WiC and WSC, but
/// writes a bare −1 for CoLA, SST-2, MRPC, QQP, WNLI, COPA and MultiRC, which no server accepts;
/// evalrun keeps every file valid instead.
fn submission(
    task: &T2tTaskSpec,
    spec: &SubmissionSpec,
    examples: &[T2tExample],
    outputs: &[String],
) -> Result<String> {
    let server_label = |class: usize| -> serde_json::Value {
        spec.labels
            .as_ref()
            .map_or_else(|| task.labels[class].clone().into(), |v| v[class].clone())
    };
    let mut invalid = 0usize;
    let mut value_of = |e: &T2tExample, output: &str| -> serde_json::Value {
        match &task.preprocess {
            Preprocess::Stsb => {
                let score = python_float(output).unwrap_or(-1.0);
                serde_json::Value::String(format!("{score:.3}"))
            }
            // prepare_glue_submission.py strips ReCoRD's predictions.
            Preprocess::Record => output.trim().into(),
            Preprocess::Squad | Preprocess::Summarize => output.into(),
            Preprocess::Translate { .. } => output.into(),
            Preprocess::WscSimple => match t5m::wsc_refers(output, &e.target) {
                Some(refers) => server_label(usize::from(refers)),
                None => {
                    invalid += 1;
                    server_label(task.labels.len() - 1)
                }
            },
            Preprocess::Glue { .. } => match t5m::class_id(output, &task.labels) {
                Some(c) => server_label(c),
                None => {
                    invalid += 1;
                    server_label(task.labels.len() - 1)
                }
            },
        }
    };
    let plain = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    // Indices as the server wants them: integers where the file's are integers or numeric strings.
    let integer = |v: &serde_json::Value| -> serde_json::Value {
        match v {
            serde_json::Value::String(s) => s
                .parse::<i64>()
                .map_or_else(|_| v.clone(), serde_json::Value::from),
            other => other.clone(),
        }
    };
    let mut body = String::new();
    if spec.file.ends_with(".tsv") {
        body.push_str("index\tprediction\n");
        for (e, output) in examples.iter().zip(outputs) {
            let index = e.idx.as_ref().map_or_else(|| e.id.to_string(), plain);
            let value = value_of(e, output);
            body.push_str(&format!("{index}\t{}\n", plain(&value)));
        }
    } else if examples
        .first()
        .and_then(|e| e.idx.as_ref())
        .is_some_and(|idx| idx.get("paragraph").is_some())
    {
        // MultiRC: {"idx": p, "passage": {"questions": [{"idx": q, "answers": [{"idx": a, "label": l}]}]}}
        let mut paragraphs: Vec<(serde_json::Value, Vec<Question>)> = Vec::new();
        for (e, output) in examples.iter().zip(outputs) {
            let idx = e.idx.clone().unwrap_or_default();
            let (p, q, a) = (
                integer(&idx["paragraph"]),
                integer(&idx["question"]),
                integer(&idx["answer"]),
            );
            let label = value_of(e, output);
            if paragraphs.last().is_none_or(|(last, _)| *last != p) {
                paragraphs.push((p.clone(), Vec::new()));
            }
            let questions = &mut paragraphs.last_mut().expect("pushed").1;
            if questions.last().is_none_or(|(last, _)| *last != q) {
                questions.push((q.clone(), Vec::new()));
            }
            let answers = &mut questions.last_mut().expect("pushed").1;
            answers.push(serde_json::json!({ "idx": a, "label": label }));
        }
        for (p, questions) in paragraphs {
            let questions: Vec<serde_json::Value> = questions
                .into_iter()
                .map(|(q, answers)| serde_json::json!({ "idx": q, "answers": answers }))
                .collect();
            let line = serde_json::json!({ "idx": p, "passage": { "questions": questions } });
            body.push_str(&line.to_string());
            body.push('\n');
        }
    } else {
        for (e, output) in examples.iter().zip(outputs) {
            let idx = match (&task.preprocess, &e.idx) {
                (Preprocess::Record, Some(idx)) => integer(&idx["query"]),
                (_, Some(idx)) => integer(idx),
                (_, None) => e.id.into(),
            };
            let line = serde_json::json!({ "idx": idx, "label": value_of(e, output) });
            body.push_str(&line.to_string());
            body.push('\n');
        }
    }
    if invalid > 0 {
        tracing::warn!(
            "{invalid} of {} outputs of `{}` are no label; the submission file `{}` has them as `{}`, the last class (as T5's prepare_glue_submission.py writes −1)",
            outputs.len(),
            task.name,
            spec.file,
            plain(&server_label(task.labels.len() - 1))
        );
    }
    Ok(body)
}
