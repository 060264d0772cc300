//! ROUGE-1, ROUGE-2, ROUGE-L and ROUGE-Lsum with exact parity with Google's `rouge_score`
//! package (`rouge_score/rouge_scorer.py`, `RougeScorer(["rouge1", "rouge2", "rougeL",
//! "rougeLsum"], use_stemmer=False)`) as T5 uses it (`t5/evaluation/metrics.py`, `rouge`).
//!
//! Protocol:
//!
//! * T5 first passes both texts through `_prepare_summary`: `summary.replace(" . ", " .\n")`,
//!   so that ROUGE-Lsum sees one sentence per line ([`t5_prepare_summary`]).
//! * Tokenization (`rouge_score/tokenize.py`, `tokenize`): Python `str.lower()`, every run of
//!   characters outside `[a-z0-9]` becomes a space, split on whitespace, keep the tokens that
//!   match `^[a-z0-9]+$` ([`tokenize`]). Non-ASCII letters therefore split words ("café" gives
//!   `["caf"]`).
//! * ROUGE-N (`_score_ngrams`): n-gram multiset overlap; precision = overlap / max(hypothesis
//!   n-grams, 1), recall = overlap / max(reference n-grams, 1).
//! * ROUGE-L (`_score_lcs`): longest common subsequence of the two token sequences; all zero if
//!   either is empty.
//! * ROUGE-Lsum (`_summary_level_lcs`): the texts are split on `"\n"` with empty lines dropped,
//!   each sentence is tokenized; for every reference sentence the union of its LCS positions
//!   against every candidate sentence (`_union_lcs`, one particular LCS per pair, chosen by
//!   `_backtrack_norec`) is counted, without counting a token more often than it occurs in
//!   either summary; precision = hits / candidate tokens, recall = hits / reference tokens.
//! * F-measure (`scoring.fmeasure`): `2 * p * r / (p + r)`, 0 if `p + r == 0`.
//!
//! Corpus level, T5 feeds the per-example scores to `scoring.BootstrapAggregator` and reports
//! `100 * mid.fmeasure`, where "mid" is the median over 1000 random bootstrap resamples of the
//! mean: a random quantity, close to but not equal to the plain mean. [`RougeCorpus`] reports
//! the plain mean of the per-example F-measures (times 100), which is what the bootstrap
//! median estimates.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

/// Precision, recall and F-measure of one ROUGE variant (`scoring.Score`), each in 0..=1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RougeScore {
    /// Matches over prediction size.
    pub precision: f64,
    /// Matches over target size.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub fmeasure: f64,
}

impl RougeScore {
    /// `scoring.fmeasure` applied to a precision and a recall.
    pub fn new(precision: f64, recall: f64) -> Self {
        let fmeasure = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        RougeScore {
            precision,
            recall,
            fmeasure,
        }
    }
}

/// All four ROUGE variants for one (target, prediction) pair.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RougeScores {
    /// `rouge1`.
    pub rouge1: RougeScore,
    /// `rouge2`.
    pub rouge2: RougeScore,
    /// `rougeL`.
    pub rouge_l: RougeScore,
    /// `rougeLsum`.
    pub rouge_lsum: RougeScore,
}

/// `rouge_score.tokenize.tokenize(text, stemmer=None)`.
pub fn tokenize(text: &str) -> Vec<String> {
    super::python_lower(text)
        .split(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit()))
        .filter(|token| !token.is_empty())
        .map(str::to_owned)
        .collect()
}

/// T5's `_prepare_summary`: `summary.replace(" . ", " .\n")`.
pub fn t5_prepare_summary(summary: &str) -> String {
    summary.replace(" . ", " .\n")
}

/// ROUGE-N between token sequences (`_create_ngrams` + `_score_ngrams`). `n` must be positive
/// (with `n == 0` every score is 0).
pub fn rouge_n<S: AsRef<str>>(target: &[S], prediction: &[S], n: usize) -> RougeScore {
    let target: Vec<&str> = target.iter().map(AsRef::as_ref).collect();
    let prediction: Vec<&str> = prediction.iter().map(AsRef::as_ref).collect();
    let (target_ngrams, prediction_ngrams) = (ngrams(&target, n), ngrams(&prediction, n));
    let overlap: u64 = target_ngrams
        .iter()
        .map(|(gram, &c)| c.min(prediction_ngrams.get(gram).copied().unwrap_or(0)))
        .sum();
    let target_total: u64 = target_ngrams.values().sum();
    let prediction_total: u64 = prediction_ngrams.values().sum();
    RougeScore::new(
        overlap as f64 / prediction_total.max(1) as f64,
        overlap as f64 / target_total.max(1) as f64,
    )
}

/// `_create_ngrams`: n-gram multiset of a token sequence (empty for `n == 0`).
fn ngrams<'a>(tokens: &'a [&'a str], n: usize) -> HashMap<&'a [&'a str], u64> {
    let mut counts = HashMap::new();
    if n > 0 {
        for gram in tokens.windows(n) {
            *counts.entry(gram).or_insert(0) += 1;
        }
    }
    counts
}

/// `_lcs_table`: `table[i][j]` = LCS length of `a[..i]` and `b[..j]`.
fn lcs_table<S: PartialEq>(a: &[S], b: &[S]) -> Vec<Vec<usize>> {
    let mut table = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            table[i][j] = if a[i - 1] == b[j - 1] {
                table[i - 1][j - 1] + 1
            } else {
                table[i - 1][j].max(table[i][j - 1])
            };
        }
    }
    table
}

/// `lcs_ind` (`_lcs_table` + `_backtrack_norec`): the indices into `reference` of one
/// particular LCS, in increasing order. The tie-breaking (move left only when strictly
/// better) decides which LCS, and therefore which union in ROUGE-Lsum.
fn lcs_indices<S: PartialEq>(reference: &[S], candidate: &[S]) -> Vec<usize> {
    let table = lcs_table(reference, candidate);
    let (mut i, mut j) = (reference.len(), candidate.len());
    let mut out = Vec::new();
    while i > 0 && j > 0 {
        if reference[i - 1] == candidate[j - 1] {
            out.push(i - 1);
            i -= 1;
            j -= 1;
        } else if table[i][j - 1] > table[i - 1][j] {
            j -= 1;
        } else {
            i -= 1;
        }
    }
    out.reverse();
    out
}

/// ROUGE-L between token sequences (`_score_lcs`).
pub fn rouge_l<S: AsRef<str>>(target: &[S], prediction: &[S]) -> RougeScore {
    if target.is_empty() || prediction.is_empty() {
        return RougeScore::default();
    }
    let target: Vec<&str> = target.iter().map(AsRef::as_ref).collect();
    let prediction: Vec<&str> = prediction.iter().map(AsRef::as_ref).collect();
    let lcs = lcs_table(&target, &prediction)[target.len()][prediction.len()];
    RougeScore::new(
        lcs as f64 / prediction.len() as f64,
        lcs as f64 / target.len() as f64,
    )
}

/// ROUGE-Lsum between tokenized sentence lists (`_summary_level_lcs` with `_union_lcs`).
pub fn rouge_lsum<S: AsRef<str>>(target: &[Vec<S>], prediction: &[Vec<S>]) -> RougeScore {
    if target.is_empty() || prediction.is_empty() {
        return RougeScore::default();
    }
    let target: Vec<Vec<&str>> = target
        .iter()
        .map(|s| s.iter().map(AsRef::as_ref).collect())
        .collect();
    let prediction: Vec<Vec<&str>> = prediction
        .iter()
        .map(|s| s.iter().map(AsRef::as_ref).collect())
        .collect();
    let m: usize = target.iter().map(Vec::len).sum();
    let n: usize = prediction.iter().map(Vec::len).sum();
    if m == 0 || n == 0 {
        return RougeScore::default();
    }

    let mut target_counts: HashMap<&str, usize> = HashMap::new();
    let mut prediction_counts: HashMap<&str, usize> = HashMap::new();
    for &token in target.iter().flatten() {
        *target_counts.entry(token).or_insert(0) += 1;
    }
    for &token in prediction.iter().flatten() {
        *prediction_counts.entry(token).or_insert(0) += 1;
    }

    let mut hits = 0usize;
    for reference in &target {
        // `_union_lcs` / `_find_union`: sorted union of the LCS positions.
        let union: BTreeSet<usize> = prediction
            .iter()
            .flat_map(|candidate| lcs_indices(reference, candidate))
            .collect();
        for index in union {
            let token = reference[index];
            let in_prediction = prediction_counts.get(token).copied().unwrap_or(0);
            let in_target = target_counts.get(token).copied().unwrap_or(0);
            if in_prediction > 0 && in_target > 0 {
                hits += 1;
                prediction_counts.insert(token, in_prediction - 1);
                target_counts.insert(token, in_target - 1);
            }
        }
    }
    RougeScore::new(hits as f64 / n as f64, hits as f64 / m as f64)
}

/// ROUGE-Lsum's sentence split (`get_sents` without `split_summaries`): `text.split("\n")`,
/// empty lines dropped, each sentence tokenized (sentences without tokens stay, empty).
fn sentences(text: &str) -> Vec<Vec<String>> {
    text.split('\n')
        .filter(|s| !s.is_empty())
        .map(tokenize)
        .collect()
}

/// `RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"]).score(target, prediction)` on
/// the texts as given (no T5 preparation).
pub fn score(target: &str, prediction: &str) -> RougeScores {
    let (target_tokens, prediction_tokens) = (tokenize(target), tokenize(prediction));
    RougeScores {
        rouge1: rouge_n(&target_tokens, &prediction_tokens, 1),
        rouge2: rouge_n(&target_tokens, &prediction_tokens, 2),
        rouge_l: rouge_l(&target_tokens, &prediction_tokens),
        rouge_lsum: rouge_lsum(&sentences(target), &sentences(prediction)),
    }
}

/// T5's per-example ROUGE: [`t5_prepare_summary`] on both texts, then [`score`].
pub fn score_t5(target: &str, prediction: &str) -> RougeScores {
    score(&t5_prepare_summary(target), &t5_prepare_summary(prediction))
}

/// Corpus ROUGE F-measures on T5's 0..100 scale: the plain mean over examples of each
/// per-example F-measure.
///
/// T5 reports `100 * BootstrapAggregator().aggregate()[key].mid.fmeasure`: the median over
/// 1000 random bootstrap resamples (numpy's global RNG) of the mean F-measure. That is a
/// random estimate of this mean, so T5's numbers match these only to within the bootstrap
/// noise, not exactly.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RougeCorpus {
    /// Mean ROUGE-1 F-measure × 100.
    pub rouge1: f64,
    /// Mean ROUGE-2 F-measure × 100.
    pub rouge2: f64,
    /// Mean ROUGE-L F-measure × 100.
    pub rouge_l: f64,
    /// Mean ROUGE-Lsum F-measure × 100.
    pub rouge_lsum: f64,
}

impl RougeCorpus {
    /// The mean F-measures of `scores`, or `None` for an empty corpus.
    pub fn from_scores(scores: &[RougeScores]) -> Option<Self> {
        if scores.is_empty() {
            return None;
        }
        let n = scores.len() as f64;
        let mean = |f: fn(&RougeScores) -> f64| 100.0 * scores.iter().map(f).sum::<f64>() / n;
        Some(RougeCorpus {
            rouge1: mean(|s| s.rouge1.fmeasure),
            rouge2: mean(|s| s.rouge2.fmeasure),
            rouge_l: mean(|s| s.rouge_l.fmeasure),
            rouge_lsum: mean(|s| s.rouge_lsum.fmeasure),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizer_matches_rouge_score() {
        assert_eq!(
            tokenize("Hello, World! café 2024-x"),
            ["hello", "world", "caf", "2024", "x"]
        );
        assert!(tokenize("... !!!").is_empty());
        assert_eq!(tokenize("İstanbul"), ["i", "stanbul"]);
    }

    #[test]
    fn rouge_score_readme_example() {
        // rouge_score's docstring example.
        let s = score(
            "The quick brown fox jumps over the lazy dog",
            "The quick brown dog jumps on the log.",
        );
        assert!((s.rouge1.precision - 6.0 / 8.0).abs() < 1e-15);
        assert!((s.rouge1.recall - 6.0 / 9.0).abs() < 1e-15);
        assert!(
            (s.rouge_l.fmeasure - RougeScore::new(5.0 / 8.0, 5.0 / 9.0).fmeasure).abs() < 1e-15
        );
    }

    #[test]
    fn lsum_splits_on_prepared_newlines() {
        let target = "the cat sat on the mat . the dog ate the bone .";
        let prediction = "the dog ate the bone . the cat sat on the mat .";
        // One "sentence" each: plain LCS.
        assert!(score(target, prediction).rouge_lsum.fmeasure < 1.0);
        // Split into sentences, the summaries are permutations of each other.
        assert_eq!(score_t5(target, prediction).rouge_lsum.fmeasure, 1.0);
    }

    #[test]
    fn empty_inputs_score_zero() {
        let s = score("", "the cat");
        assert_eq!(s, RougeScores::default());
        let s = score("...", "???");
        assert_eq!(s, RougeScores::default());
    }

    #[test]
    fn lcs_backtrack_prefers_moving_up_on_ties() {
        // reference a b, candidate b a: table[2][2] = 1; at (2,2) table[2][1] == table[1][2],
        // so i moves and the LCS found is "a" (index 0).
        assert_eq!(lcs_indices(&["a", "b"], &["b", "a"]), vec![0]);
    }

    #[test]
    fn corpus_mean() {
        assert_eq!(RougeCorpus::from_scores(&[]), None);
        let a = score("a b", "a b");
        let b = score("a b", "c d");
        let corpus = RougeCorpus::from_scores(&[a, b]).expect("non-empty");
        assert_eq!(corpus.rouge1, 50.0);
        assert_eq!(corpus.rouge_lsum, 50.0);
    }

    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop::sample::select(vec![
                "the", "cat", "sat", ".", "a", "dog", "!", "x1", "Café",
            ]),
            0..20,
        )
        .prop_map(|w| w.join(" "))
    }

    proptest! {
        #[test]
        fn scores_lie_in_the_unit_interval(target in text(), prediction in text()) {
            let scores = score_t5(&target, &prediction);
            for s in [scores.rouge1, scores.rouge2, scores.rouge_l, scores.rouge_lsum] {
                for v in [s.precision, s.recall, s.fmeasure] {
                    prop_assert!((0.0..=1.0).contains(&v), "{:?}", s);
                }
            }
            if !tokenize(&target).is_empty() {
                let same = score_t5(&target, &target);
                prop_assert_eq!(same.rouge1.fmeasure, 1.0);
                prop_assert_eq!(same.rouge_l.fmeasure, 1.0);
                prop_assert_eq!(same.rouge_lsum.fmeasure, 1.0);
            }
        }
    }
}
