//! Paired tests between two runs on the same examples, from their prediction lines: whether a
//! difference in a metric is real. Accuracy gets McNemar's exact test (and a paired bootstrap
//! interval of Δ); MCC, correlations and perplexities a paired bootstrap. A metric is tested
//! only where the prediction lines reproduce both records' values of it, so a test never
//! describes a metric the lines do not carry (F1 of an unnamed class, corpus BLEU, word counts).

use std::collections::BTreeMap;

use evalrun_core::bootstrap::BootstrapSpec;
use evalrun_core::metrics::{pearson, spearman};
use evalrun_core::significance::{mcnemar_exact, paired_bootstrap};
use evalrun_core::ConfusionMatrix;
use serde::Serialize;

use crate::record::{PredictionLine, RunRecord};

/// One metric's paired test: Δ = B − A on the shared examples, its 95% interval, p.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairedRow {
    pub task: String,
    pub metric: String,
    /// Examples (documents) in both runs.
    pub n: usize,
    /// `McNemar exact` or `paired bootstrap`.
    pub test: &'static str,
    pub delta: f64,
    pub low: f64,
    pub high: f64,
    pub p: f64,
}

/// Per-example values of one run, by what they allow to compute.
struct Examples<'a> {
    lines: Vec<&'a PredictionLine>,
}

impl Examples<'_> {
    fn correct(&self) -> Option<Vec<bool>> {
        self.lines
            .iter()
            .map(|l| match l.greedy {
                Some(g) => Some(g),
                None if l.prediction.is_null() || l.label.is_null() => None,
                None => Some(l.label == l.prediction),
            })
            .collect()
    }

    fn numbers(&self) -> Option<(Vec<f64>, Vec<f64>)> {
        let label = self
            .lines
            .iter()
            .map(|l| l.label.as_f64())
            .collect::<Option<Vec<_>>>()?;
        let prediction = self
            .lines
            .iter()
            .map(|l| l.prediction.as_f64())
            .collect::<Option<Vec<_>>>()?;
        Some((label, prediction))
    }

    fn loglikelihoods(&self) -> Option<(Vec<f64>, Vec<f64>)> {
        let ll = self
            .lines
            .iter()
            .map(|l| l.loglikelihood)
            .collect::<Option<Vec<_>>>()?;
        let tokens = self
            .lines
            .iter()
            .map(|l| l.tokens.map(|t| t as f64))
            .collect::<Option<Vec<_>>>()?;
        Some((ll, tokens))
    }

    /// Gold and predicted classes as indices into one label list shared by both runs.
    fn classes(&self, names: &mut Vec<String>) -> Option<Vec<(usize, usize)>> {
        let mut index = |v: &serde_json::Value| -> Option<usize> {
            let text = v.as_str()?.to_string();
            Some(match names.iter().position(|n| *n == text) {
                Some(i) => i,
                None => {
                    names.push(text);
                    names.len() - 1
                }
            })
        };
        self.lines
            .iter()
            .map(|l| Some((index(&l.label)?, index(&l.prediction)?)))
            .collect()
    }
}

fn mean(values: &[f64], idx: &[usize]) -> f64 {
    idx.iter().map(|&i| values[i]).sum::<f64>() / idx.len() as f64
}

/// A metric of one run on resampled examples.
type Statistic = Box<dyn Fn(&[usize]) -> f64>;

/// The statistic for `metric` on one run's examples, where the lines carry what it needs.
fn statistic(metric: &str, examples: &Examples<'_>, names: &mut Vec<String>) -> Option<Statistic> {
    match metric {
        "accuracy" => {
            let correct: Vec<f64> = examples
                .correct()?
                .into_iter()
                .map(|c| f64::from(u8::from(c)))
                .collect();
            Some(Box::new(move |idx| mean(&correct, idx)))
        }
        "mcc" => {
            let pairs = examples.classes(names)?;
            Some(Box::new(move |idx| {
                let classes = pairs
                    .iter()
                    .map(|(g, p)| g.max(p) + 1)
                    .max()
                    .unwrap_or(2)
                    .max(2);
                let mut m = ConfusionMatrix::new(classes);
                for &i in idx {
                    m.push(pairs[i].0, pairs[i].1);
                }
                m.mcc()
            }))
        }
        "pearson" | "spearman" => {
            let (gold, predicted) = examples.numbers()?;
            let spearman_rank = metric == "spearman";
            Some(Box::new(move |idx| {
                let g: Vec<f64> = idx.iter().map(|&i| gold[i]).collect();
                let p: Vec<f64> = idx.iter().map(|&i| predicted[i]).collect();
                if spearman_rank {
                    spearman(&p, &g)
                } else {
                    pearson(&p, &g)
                }
            }))
        }
        "token_perplexity" => {
            let (ll, tokens) = examples.loglikelihoods()?;
            Some(Box::new(move |idx| {
                let (s, t): (f64, f64) = idx
                    .iter()
                    .map(|&i| (ll[i], tokens[i]))
                    .fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
                (-s / t).exp()
            }))
        }
        "perplexity" => {
            let (ll, _) = examples.loglikelihoods()?;
            Some(Box::new(move |idx| (-mean(&ll, idx)).exp()))
        }
        _ => None,
    }
}

fn by_task(lines: &[PredictionLine]) -> BTreeMap<&str, BTreeMap<usize, &PredictionLine>> {
    let mut map: BTreeMap<&str, BTreeMap<usize, &PredictionLine>> = BTreeMap::new();
    for l in lines {
        map.entry(l.task.as_str()).or_default().insert(l.id, l);
    }
    map
}

fn examples<'a>(x: &BTreeMap<usize, &'a PredictionLine>, ids: &[usize]) -> Examples<'a> {
    Examples {
        lines: ids.iter().map(|id| x[id]).collect(),
    }
}

/// Paired tests for every metric both records have on a task both ran, over the examples both
/// prediction files hold.
pub fn paired_tests(
    a: &RunRecord,
    b: &RunRecord,
    lines_a: &[PredictionLine],
    lines_b: &[PredictionLine],
    spec: BootstrapSpec,
) -> Vec<PairedRow> {
    let (la, lb) = (by_task(lines_a), by_task(lines_b));
    let mut rows = Vec::new();
    for (task, ra) in &a.results {
        let (Some(rb), Some(xa), Some(xb)) = (
            b.results.get(task),
            la.get(task.as_str()),
            lb.get(task.as_str()),
        ) else {
            continue;
        };
        let ids: Vec<usize> = xa
            .keys()
            .copied()
            .filter(|id| xb.contains_key(id))
            .collect();
        let (ea, eb) = (examples(xa, &ids), examples(xb, &ids));
        for (metric, value_a) in &ra.metrics {
            let (Some(value_a), Some(Some(value_b))) = (value_a, rb.metrics.get(metric)) else {
                continue;
            };
            let mut names = Vec::new();
            let (Some(sa), Some(sb)) = (
                statistic(metric, &ea, &mut names),
                statistic(metric, &eb, &mut names),
            ) else {
                continue;
            };
            // Only where the lines reproduce the records (all examples in both).
            let all: Vec<usize> = (0..ids.len()).collect();
            let same = |got: f64, want: f64| (got - want).abs() <= 1e-9 * want.abs().max(1.0);
            if ids.len() != ra.n
                || ids.len() != rb.n
                || !same(sa(&all), *value_a)
                || !same(sb(&all), *value_b)
            {
                continue;
            }
            let Some(t) = paired_bootstrap(ids.len(), spec, |idx| sb(idx) - sa(idx)) else {
                continue;
            };
            let (test, p) = if metric == "accuracy" {
                let (ca, cb) = (
                    ea.correct().unwrap_or_default(),
                    eb.correct().unwrap_or_default(),
                );
                let worse = ca.iter().zip(&cb).filter(|(x, y)| **x && !**y).count() as u64;
                let better = ca.iter().zip(&cb).filter(|(x, y)| !**x && **y).count() as u64;
                ("McNemar exact", mcnemar_exact(worse, better))
            } else {
                ("paired bootstrap", t.p)
            };
            rows.push(PairedRow {
                task: task.clone(),
                metric: metric.clone(),
                n: ids.len(),
                test,
                delta: t.delta,
                low: t.low,
                high: t.high,
                p,
            });
        }
    }
    rows
}

/// Markdown: one row per tested metric, Δ and its interval on the metric's scale.
pub fn render(rows: &[PairedRow]) -> String {
    use std::fmt::Write as _;
    let mut out = String::from(
        "\n| Task | Metric | n | Δ (B − A) | 95% interval | p | test |\n|---|---|---:|---:|---|---:|---|\n",
    );
    for r in rows {
        let show = |v: f64| crate::markdown::on_scale(&r.metric, v);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | [{}, {}] | {} | {} |",
            r.task,
            r.metric,
            r.n,
            show(r.delta),
            show(r.low),
            show(r.high),
            format_p(r.p),
            r.test
        );
    }
    out
}

/// p with three significant digits, `< 1e-6` below that.
pub fn format_p(p: f64) -> String {
    if p < 1e-6 {
        "< 1e-6".into()
    } else {
        format!("{p:.3}")
    }
}
