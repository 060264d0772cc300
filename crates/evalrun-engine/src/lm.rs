//! Causal-LM tasks (`kind = "lm"`): rolling perplexity on WikiText, PTB, 1BW, enwik8/text8,
//! LAMBADA's last word / last token, and CBT's cloze candidates.
//!
//! Requests: `rolling(detokenized document)` (the backend applies the window policy), or
//! `loglikelihood(context, continuation)`: one per LAMBADA example, one per CBT candidate.
//! Responses are summed per document (Σ log-likelihood, tokens, words, bytes), so every
//! normalisation is computed from sums and the bootstrap resamples documents.

use std::collections::BTreeMap;

use evalrun_core::lm::strided_guide_weights;
use evalrun_core::request::{Continuation, ModelInfo, Request, Response};
use evalrun_report::PredictionLine;
use evalrun_tasks::lm::{Detokenizer, LmDataset, LmReader, LmRequest, LmTaskSpec};

use crate::error::{bail, Result};
use crate::score::{single_units, Recorder, Scored};
use crate::Settings;

/// The requests of one task, and which document each belongs to.
pub struct Plan {
    pub requests: Vec<Request>,
    pub owner: Vec<usize>,
}

/// `evalrun perplexity --file F`: the whole file as one rolling document.
pub fn file_task(path: &std::path::Path) -> LmTaskSpec {
    LmTaskSpec {
        kind: None,
        name: "perplexity".into(),
        version: 1,
        description: format!("`{}` as one text", path.display()),
        protocol: "whole file as one text; token = scored BPE tokens, word = whitespace-separated, byte = UTF-8 bytes".into(),
        corresponds_to: String::new(),
        request: LmRequest::Rolling,
        reader: LmReader::WholeFile,
        paths: vec![path.display().to_string()],
        detokenizer: Detokenizer::None,
        words: None,
        metrics: [
            "token_perplexity",
            "word_perplexity",
            "byte_perplexity",
            "bits_per_byte",
        ]
        .map(String::from)
        .to_vec(),
        table_metric: "token_perplexity".into(),
        tail: None,
        suites: Vec::new(),
        url: None,
    }
}

pub fn requests(task: &LmTaskSpec, data: &LmDataset) -> Result<Plan> {
    let mut plan = Plan {
        requests: Vec::new(),
        owner: Vec::new(),
    };
    for (i, doc) in data.documents.iter().enumerate() {
        let mut push = |request: Request| {
            plan.requests.push(request);
            plan.owner.push(i);
        };
        match task.request {
            LmRequest::Rolling => push(Request::Rolling {
                text: task.detokenize(&doc.text),
            }),
            LmRequest::LastWord => {
                let Some((context, word)) = doc.text.rsplit_once(' ') else {
                    bail!(
                        "`{}` document {}: no space to split off the last word",
                        data.path.display(),
                        doc.id
                    );
                };
                push(Request::Loglikelihood {
                    context: context.to_string(),
                    continuation: Continuation::Text(format!(" {word}")),
                });
            }
            LmRequest::LastToken => push(Request::Loglikelihood {
                context: doc.text.clone(),
                continuation: Continuation::LastToken,
            }),
            LmRequest::Cloze => {
                let Some(cloze) = &doc.cloze else {
                    bail!("document {} has no cloze question", doc.id)
                };
                let Some((before, after)) = cloze.query.split_once("XXXXX") else {
                    bail!(
                        "`{}` question {}: no `XXXXX` in the query",
                        data.path.display(),
                        doc.id
                    );
                };
                for candidate in &cloze.candidates {
                    push(Request::Loglikelihood {
                        context: format!("{} {before}", cloze.context),
                        continuation: Continuation::Text(format!("{candidate}{after}")),
                    });
                }
            }
        }
    }
    Ok(plan)
}

/// The window policy of a task in words.
pub fn policy(task: &LmTaskSpec, info: &ModelInfo) -> String {
    let context = info.max_length;
    match task.request {
        LmRequest::Rolling => info.windows.clone().unwrap_or_default(),
        LmRequest::LastWord => format!("lm-eval loglikelihood(context, ' ' + last word), left-truncated to {context} + 1 tokens"),
        LmRequest::Cloze => format!("each candidate + rest of the query given the context and the query's start, left-truncated to {context} + 1 tokens; argmax"),
        LmRequest::LastToken => format!("last BPE token given all before it, left-truncated to {context} + 1 tokens"),
    }
}

/// Per-document outcome.
struct DocumentScore {
    loglikelihood: f64,
    tokens: usize,
    greedy: bool,
    /// Loglikelihood requests: the scored continuation and the argmax continuation.
    continuation: Option<String>,
    greedy_text: Option<String>,
    /// Cloze tasks: the chosen candidate (argmax of the candidates' log-likelihoods).
    choice: Option<usize>,
    /// Rolling: the text's tokens and each window's (Σ log p, tokens).
    text_tokens: usize,
    windows: Vec<(f64, usize)>,
}

/// The four normalisations of one log-likelihood sum.
fn perplexities(
    loglikelihood: f64,
    tokens: usize,
    words: usize,
    bytes: usize,
) -> BTreeMap<String, Option<f64>> {
    let per = |n: usize| (n > 0).then(|| (-loglikelihood / n as f64).exp());
    let mut m = BTreeMap::new();
    m.insert("token_perplexity".to_string(), per(tokens));
    m.insert("word_perplexity".to_string(), per(words));
    m.insert("byte_perplexity".to_string(), per(bytes));
    m.insert(
        "bits_per_byte".to_string(),
        (bytes > 0).then(|| -loglikelihood / bytes as f64 / std::f64::consts::LN_2),
    );
    m
}

pub fn score(
    task: &LmTaskSpec,
    data: &LmDataset,
    plan: &Plan,
    info: &ModelInfo,
    responses: Vec<Response>,
    settings: &Settings,
) -> Result<Scored> {
    let mut documents: Vec<DocumentScore> = data
        .documents
        .iter()
        .map(|_| DocumentScore {
            loglikelihood: 0.0,
            tokens: 0,
            greedy: true,
            continuation: None,
            greedy_text: None,
            choice: None,
            text_tokens: 0,
            windows: Vec::new(),
        })
        .collect();
    let mut next = vec![0usize; documents.len()];
    for ((response, &doc), request) in responses.into_iter().zip(&plan.owner).zip(&plan.requests) {
        let d = &mut documents[doc];
        match response {
            Response::Rolling(r) => {
                d.loglikelihood += r.loglikelihood;
                d.tokens += r.tokens;
                d.greedy &= r.greedy;
                d.text_tokens = r.text_tokens;
                d.windows = r.windows;
            }
            Response::Loglikelihood(r) if task.request == LmRequest::Cloze => {
                // One request per candidate, in candidate order: keep the best (first on ties).
                let candidate = next[doc];
                next[doc] += 1;
                if d.choice.is_none() || r.loglikelihood > d.loglikelihood {
                    d.choice = Some(candidate);
                    d.loglikelihood = r.loglikelihood;
                    d.tokens = r.tokens;
                    d.greedy = r.greedy.unwrap_or(false);
                    d.greedy_text = r.greedy_text;
                }
            }
            Response::Loglikelihood(r) => {
                d.loglikelihood += r.loglikelihood;
                d.tokens += r.tokens;
                d.greedy &= r.greedy.unwrap_or(false);
                d.greedy_text = r.greedy_text;
                if let Request::Loglikelihood {
                    continuation: Continuation::Text(c),
                    ..
                } = request
                {
                    d.continuation = Some(c.clone());
                }
            }
            other => unreachable!("LM requests get log-likelihoods, not {other:?}"),
        }
    }

    let mut scored = Scored {
        scoring: info.scoring.clone(),
        windows: Some(policy(task, info)),
        ..Scored::default()
    };
    let loglikelihood: f64 = documents.iter().map(|s| s.loglikelihood).sum();
    let tokens: usize = documents.iter().map(|s| s.tokens).sum();
    scored.tokens = Some(tokens);
    scored
        .sums
        .insert("loglikelihood".to_string(), loglikelihood);
    scored.sums.insert("tokens".to_string(), tokens as f64);
    let units = single_units(documents.len());
    let mut put = Recorder {
        metrics: &mut scored.metrics,
        ci: &mut scored.ci,
        units: &units,
        spec: settings.bootstrap,
    };
    let ll = |rows: &[usize]| {
        rows.iter()
            .map(|&i| documents[i].loglikelihood)
            .sum::<f64>()
    };
    let count = |counts: &[usize], rows: &[usize]| rows.iter().map(|&i| counts[i]).sum::<usize>();
    match task.request {
        LmRequest::Rolling => {
            let words: Vec<usize> = data
                .documents
                .iter()
                .map(|d| task.word_count(&d.text))
                .collect();
            let bytes: Vec<usize> = data.documents.iter().map(|d| d.text.len()).collect();
            let characters: Vec<usize> = data
                .documents
                .iter()
                .map(|d| d.text.chars().count())
                .collect();
            let token_counts: Vec<usize> = documents.iter().map(|d| d.tokens).collect();
            let all: Vec<usize> = (0..documents.len()).collect();
            let (w, b, c) = (
                count(&words, &all),
                count(&bytes, &all),
                count(&characters, &all),
            );
            for (k, v) in [("words", w), ("bytes", b), ("characters", c)] {
                scored.sums.insert(k.to_string(), v as f64);
            }
            let mut m = perplexities(loglikelihood, tokens, w, b);
            let bpc = (c > 0).then(|| -loglikelihood / c as f64 / std::f64::consts::LN_2);
            m.insert("bits_per_character".into(), bpc);
            for (name, value) in m {
                if task.metrics.contains(&name) {
                    put.metrics.insert(name, value);
                }
            }
            // Intervals resample whole documents.
            let ratio = |rows: &[usize], n: &[usize]| -ll(rows) / count(n, rows) as f64;
            for name in &task.metrics {
                let f: &dyn Fn(&[usize]) -> f64 = match name.as_str() {
                    "token_perplexity" => &|r| ratio(r, &token_counts).exp(),
                    "word_perplexity" => &|r| ratio(r, &words).exp(),
                    "byte_perplexity" => &|r| ratio(r, &bytes).exp(),
                    "bits_per_byte" => &|r| ratio(r, &bytes) / std::f64::consts::LN_2,
                    "bits_per_character" => &|r| ratio(r, &characters) / std::f64::consts::LN_2,
                    _ => continue,
                };
                put.interval(name, f);
            }
            if let Some(stride) = settings.lm.stride {
                // The transformers guide's own aggregation: each window's mean loss weighted
                // by trg_len − 1, beside the exact per-token figure.
                let mut guide_nll = 0.0;
                let mut guide_tokens = 0usize;
                for d in &documents {
                    let weights = strided_guide_weights(d.text_tokens, info.max_length, stride);
                    guide_nll += d
                        .windows
                        .iter()
                        .zip(&weights)
                        .map(|(&(l, t), &w)| -l / t as f64 * w as f64)
                        .sum::<f64>();
                    guide_tokens += weights.iter().sum::<usize>();
                }
                if task.metrics.iter().any(|m| m == "token_perplexity") {
                    put.metrics.insert(
                        "token_perplexity".into(),
                        (guide_tokens > 0).then(|| (guide_nll / guide_tokens as f64).exp()),
                    );
                    put.ci.remove("token_perplexity");
                }
                put.metrics.insert(
                    "token_perplexity_exact".into(),
                    (tokens > 0).then(|| (-loglikelihood / tokens as f64).exp()),
                );
                scored.sums.insert("guide_nll_sum".to_string(), guide_nll);
                scored
                    .sums
                    .insert("guide_tokens".to_string(), guide_tokens as f64);
            }
        }
        LmRequest::Cloze => {
            let correct: Vec<bool> = data
                .documents
                .iter()
                .zip(&documents)
                .map(|(d, s)| matches!((&d.cloze, s.choice), (Some(c), Some(i)) if c.candidates[i] == c.answer))
                .collect();
            let n_correct = correct.iter().filter(|c| **c).count();
            scored.sums.insert("correct".to_string(), n_correct as f64);
            scored
                .sums
                .insert("examples".to_string(), documents.len() as f64);
            put.metrics.insert(
                "accuracy".to_string(),
                Some(n_correct as f64 / documents.len() as f64),
            );
            put.interval("accuracy", &|r| {
                r.iter().filter(|&&i| correct[i]).count() as f64 / r.len() as f64
            });
        }
        LmRequest::LastWord | LmRequest::LastToken => {
            let n = documents.len() as f64;
            let greedy = documents.iter().filter(|s| s.greedy).count();
            scored.sums.insert("greedy".to_string(), greedy as f64);
            scored.sums.insert("examples".to_string(), n);
            put.metrics
                .insert("accuracy".to_string(), Some(greedy as f64 / n));
            put.metrics
                .insert("perplexity".to_string(), Some((-loglikelihood / n).exp()));
            put.interval("accuracy", &|r| {
                r.iter().filter(|&&i| documents[i].greedy).count() as f64 / r.len() as f64
            });
            put.interval("perplexity", &|r| (-ll(r) / r.len() as f64).exp());
        }
    }

    for (doc, score) in data.documents.iter().zip(&documents) {
        let (label, prediction) = match (task.request, &doc.cloze, score.choice) {
            (LmRequest::Cloze, Some(cloze), Some(choice)) => (
                cloze.answer.clone().into(),
                cloze.candidates[choice].clone().into(),
            ),
            (LmRequest::Rolling, _, _) => (serde_json::Value::Null, score.loglikelihood.into()),
            _ => (
                score.continuation.clone().into(),
                score.greedy_text.clone().into(),
            ),
        };
        let mut line = PredictionLine::new(&task.name, doc.id, label, prediction);
        line.loglikelihood = Some(score.loglikelihood);
        line.tokens = Some(score.tokens);
        match task.request {
            LmRequest::Rolling => line.context = Some(task.detokenize(&doc.text)),
            LmRequest::Cloze => {
                let cloze = doc.cloze.as_ref().expect("cloze documents");
                line.context = Some(format!("{}\n{}", cloze.context, cloze.query));
                line.continuation = score.choice.map(|c| cloze.candidates[c].clone());
                line.greedy_continuation = score.greedy_text.clone();
            }
            LmRequest::LastWord | LmRequest::LastToken => {
                line.context = Some(match task.request {
                    LmRequest::LastWord => doc
                        .text
                        .rsplit_once(' ')
                        .map_or(doc.text.clone(), |(c, _)| c.to_string()),
                    _ => doc.text.clone(),
                });
                line.continuation = score.continuation.clone();
                line.greedy = Some(score.greedy);
                line.greedy_continuation = score.greedy_text.clone();
            }
        }
        scored.lines.push(line);
    }
    Ok(scored)
}
