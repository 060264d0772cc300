//! Metric accumulators.
//!
//! Classification metrics are computed from a confusion matrix of counts, and correlation
//! metrics from the full list of (prediction, gold) pairs, so that shards and batches merge
//! exactly: `merge(split(data)) == single pass`. The formulas follow the reference
//! implementations bit for bit where it matters:
//!
//! * accuracy, F1 (binary, `zero_division=0`) and Matthews correlation as in scikit-learn
//!   (`matthews_corrcoef` is its confusion-matrix covariance form, which also covers the
//!   multiclass case);
//! * Pearson as in `scipy.stats.pearsonr`, Spearman as Pearson on average ranks
//!   (`scipy.stats.spearmanr`). Both are NaN for constant inputs or fewer than two pairs,
//!   like scipy.

use serde::{Deserialize, Serialize};

/// Every metric evalrun reports, for every kind of task: one vocabulary. Values are raw
/// (fractions, correlations, perplexities, bits), never ×100; [`Metric::scale`] says how tables
/// print them and [`Metric::higher_is_better`] which way is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Accuracy,
    F1,
    Mcc,
    Pearson,
    Spearman,
    MacroF1,
    ExactMatch,
    T5ExactMatch,
    T5F1,
    Bleu,
    Rouge1,
    Rouge2,
    #[serde(rename = "rougeLsum")]
    RougeLsum,
    WordPerplexity,
    BytePerplexity,
    TokenPerplexity,
    /// The strided guide's exact per-token perplexity beside its weighted one.
    TokenPerplexityExact,
    Perplexity,
    BitsPerByte,
    BitsPerCharacter,
    /// SuperGLUE AX-g (Winogender): the share of male/female minimal pairs that get the same
    /// prediction.
    GenderParity,
}

/// How a table prints a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// A fraction or correlation, printed ×100 (as the papers print GLUE, SQuAD, BLEU).
    Percent,
    /// Perplexities and bits, printed as they are.
    AsIs,
}

impl Metric {
    pub const ALL: [Metric; 21] = [
        Metric::Accuracy,
        Metric::F1,
        Metric::Mcc,
        Metric::Pearson,
        Metric::Spearman,
        Metric::MacroF1,
        Metric::ExactMatch,
        Metric::T5ExactMatch,
        Metric::T5F1,
        Metric::Bleu,
        Metric::Rouge1,
        Metric::Rouge2,
        Metric::RougeLsum,
        Metric::WordPerplexity,
        Metric::BytePerplexity,
        Metric::TokenPerplexity,
        Metric::TokenPerplexityExact,
        Metric::Perplexity,
        Metric::BitsPerByte,
        Metric::BitsPerCharacter,
        Metric::GenderParity,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::F1 => "f1",
            Metric::Mcc => "mcc",
            Metric::Pearson => "pearson",
            Metric::Spearman => "spearman",
            Metric::MacroF1 => "macro_f1",
            Metric::ExactMatch => "exact_match",
            Metric::T5ExactMatch => "t5_exact_match",
            Metric::T5F1 => "t5_f1",
            Metric::Bleu => "bleu",
            Metric::Rouge1 => "rouge1",
            Metric::Rouge2 => "rouge2",
            Metric::RougeLsum => "rougeLsum",
            Metric::WordPerplexity => "word_perplexity",
            Metric::BytePerplexity => "byte_perplexity",
            Metric::TokenPerplexity => "token_perplexity",
            Metric::TokenPerplexityExact => "token_perplexity_exact",
            Metric::Perplexity => "perplexity",
            Metric::BitsPerByte => "bits_per_byte",
            Metric::BitsPerCharacter => "bits_per_character",
            Metric::GenderParity => "gender_parity",
        }
    }

    /// The metric of this name, if evalrun knows it.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }

    pub fn scale(self) -> Scale {
        if self.is_perplexity_or_bits() {
            Scale::AsIs
        } else {
            Scale::Percent
        }
    }

    /// Perplexities and bits are better low; everything else high.
    pub fn higher_is_better(self) -> bool {
        !self.is_perplexity_or_bits()
    }

    fn is_perplexity_or_bits(self) -> bool {
        matches!(
            self,
            Metric::WordPerplexity
                | Metric::BytePerplexity
                | Metric::TokenPerplexity
                | Metric::TokenPerplexityExact
                | Metric::Perplexity
                | Metric::BitsPerByte
                | Metric::BitsPerCharacter
        )
    }

    /// Whether the metric is computed from class predictions (as opposed to scores).
    pub fn is_classification(self) -> bool {
        matches!(self, Metric::Accuracy | Metric::F1 | Metric::Mcc)
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Counts of (gold, predicted) class pairs over `k` classes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfusionMatrix {
    classes: usize,
    /// Row-major: `counts[gold * classes + predicted]`.
    counts: Vec<u64>,
}

impl ConfusionMatrix {
    pub fn new(classes: usize) -> Self {
        Self {
            classes,
            counts: vec![0; classes * classes],
        }
    }

    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Adds one example. Both indices must be `< classes` (callers map labels first).
    pub fn push(&mut self, gold: usize, predicted: usize) {
        assert!(
            gold < self.classes && predicted < self.classes,
            "class index out of range"
        );
        self.counts[gold * self.classes + predicted] += 1;
    }

    /// Adds every count of `other`, which must have the same number of classes.
    pub fn merge(&mut self, other: &ConfusionMatrix) {
        assert_eq!(
            self.classes, other.classes,
            "merging confusion matrices of different sizes"
        );
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
    }

    pub fn count(&self, gold: usize, predicted: usize) -> u64 {
        self.counts[gold * self.classes + predicted]
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    fn correct(&self) -> u64 {
        (0..self.classes).map(|c| self.count(c, c)).sum()
    }

    /// Fraction of examples whose prediction equals the gold class; NaN when empty.
    pub fn accuracy(&self) -> f64 {
        self.correct() as f64 / self.total() as f64
    }

    /// Binary F1 of class `positive`: 2·tp / (2·tp + fp + fn), 0 when the denominator is 0
    /// (scikit-learn `f1_score(..., zero_division=0)`).
    pub fn f1(&self, positive: usize) -> f64 {
        let tp = self.count(positive, positive);
        let predicted_positive: u64 = (0..self.classes).map(|g| self.count(g, positive)).sum();
        let gold_positive: u64 = (0..self.classes).map(|p| self.count(positive, p)).sum();
        let denominator = predicted_positive + gold_positive;
        if denominator == 0 {
            0.0
        } else {
            (2 * tp) as f64 / denominator as f64
        }
    }

    /// Matthews correlation coefficient (multiclass R_k); 0 when either marginal is constant,
    /// as scikit-learn returns.
    pub fn mcc(&self) -> f64 {
        let k = self.classes;
        let gold_sums: Vec<f64> = (0..k)
            .map(|g| (0..k).map(|p| self.count(g, p)).sum::<u64>() as f64)
            .collect();
        let pred_sums: Vec<f64> = (0..k)
            .map(|p| (0..k).map(|g| self.count(g, p)).sum::<u64>() as f64)
            .collect();
        let correct = self.correct() as f64;
        let n: f64 = pred_sums.iter().sum();
        let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
        let cov_gold_pred = correct * n - dot(&gold_sums, &pred_sums);
        let cov_pred_pred = n * n - dot(&pred_sums, &pred_sums);
        let cov_gold_gold = n * n - dot(&gold_sums, &gold_sums);
        if cov_pred_pred * cov_gold_gold == 0.0 {
            return 0.0;
        }
        cov_gold_pred / (cov_gold_gold * cov_pred_pred).sqrt()
    }
}

/// (prediction, gold) score pairs for correlation metrics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PairedScores {
    predicted: Vec<f64>,
    gold: Vec<f64>,
}

impl PairedScores {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, predicted: f64, gold: f64) {
        self.predicted.push(predicted);
        self.gold.push(gold);
    }

    pub fn merge(&mut self, other: &PairedScores) {
        self.predicted.extend_from_slice(&other.predicted);
        self.gold.extend_from_slice(&other.gold);
    }

    pub fn len(&self) -> usize {
        self.gold.len()
    }

    pub fn is_empty(&self) -> bool {
        self.gold.is_empty()
    }

    pub fn pearson(&self) -> f64 {
        pearson(&self.predicted, &self.gold)
    }

    pub fn spearman(&self) -> f64 {
        spearman(&self.predicted, &self.gold)
    }
}

/// Pearson's r as `scipy.stats.pearsonr` computes it (centre, scale by the max magnitude,
/// normalise, dot, clip to [-1, 1]). NaN for fewer than two pairs or a constant input.
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    assert_eq!(x.len(), y.len(), "pearson needs equally long inputs");
    if x.len() < 2 {
        return f64::NAN;
    }
    let centred = |v: &[f64]| -> Option<Vec<f64>> {
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let mut c: Vec<f64> = v.iter().map(|a| a - mean).collect();
        let max = c.iter().fold(0.0f64, |m, a| m.max(a.abs()));
        if max == 0.0 || !max.is_finite() {
            return None;
        }
        c.iter_mut().for_each(|a| *a /= max);
        let norm = c.iter().map(|a| a * a).sum::<f64>().sqrt();
        c.iter_mut().for_each(|a| *a /= norm);
        Some(c)
    };
    // A constant input has an undefined correlation (scipy warns and returns NaN).
    if x.iter().all(|a| *a == x[0]) || y.iter().all(|a| *a == y[0]) {
        return f64::NAN;
    }
    match (centred(x), centred(y)) {
        (Some(a), Some(b)) => a
            .iter()
            .zip(&b)
            .map(|(p, q)| p * q)
            .sum::<f64>()
            .clamp(-1.0, 1.0),
        _ => f64::NAN,
    }
}

/// Spearman's rho: Pearson's r of the average ranks (ties share the mean of their positions).
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    pearson(&average_ranks(x), &average_ranks(y))
}

/// 1-based ranks with ties given the average of the ranks they span (`scipy.stats.rankdata`
/// with `method="average"`). NaN values sort last, as in numpy.
pub fn average_ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        // Positions start..end (0-based) hold ranks start+1..=end; their mean:
        let rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        start = end;
    }
    ranks
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn matrix(classes: usize, pairs: &[(usize, usize)]) -> ConfusionMatrix {
        let mut m = ConfusionMatrix::new(classes);
        for &(g, p) in pairs {
            m.push(g, p);
        }
        m
    }

    #[test]
    fn known_binary_values() {
        // gold 1,1,0,0 ; pred 1,0,0,0 -> tp=1 fn=1 tn=2 fp=0
        let m = matrix(2, &[(1, 1), (1, 0), (0, 0), (0, 0)]);
        assert_eq!(m.accuracy(), 0.75);
        assert!((m.f1(1) - 2.0 / 3.0).abs() < 1e-15);
        // sklearn: matthews_corrcoef([1,1,0,0],[1,0,0,0]) = 0.5773502691896258
        assert!((m.mcc() - 0.5773502691896258).abs() < 1e-15);
    }

    #[test]
    fn degenerate_mcc_and_f1_are_zero() {
        let m = matrix(2, &[(1, 0), (0, 0)]);
        assert_eq!(m.mcc(), 0.0);
        assert_eq!(m.f1(1), 0.0);
    }

    #[test]
    fn ranks_average_ties() {
        assert_eq!(
            average_ranks(&[10.0, 20.0, 10.0, 30.0]),
            vec![1.5, 3.0, 1.5, 4.0]
        );
        assert_eq!(average_ranks(&[1.0, 1.0, 1.0]), vec![2.0, 2.0, 2.0]);
    }

    #[test]
    fn correlations_of_known_vectors() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y = [2.0, 4.0, 6.0, 8.0, 10.0];
        assert!((pearson(&x, &y) - 1.0).abs() < 1e-15);
        // scipy.stats.spearmanr([1,2,3,4,5],[5,6,7,8,7]) = 0.8207826816681233
        let rho = spearman(&x, &[5.0, 6.0, 7.0, 8.0, 7.0]);
        assert!((rho - 0.8207826816681233).abs() < 1e-12, "{rho}");
        assert!(pearson(&x, &[3.0; 5]).is_nan());
        assert!(pearson(&[1.0], &[2.0]).is_nan());
    }

    fn pairs(classes: usize) -> impl Strategy<Value = Vec<(usize, usize)>> {
        prop::collection::vec((0..classes, 0..classes), 0..200)
    }

    proptest! {
        #[test]
        fn classification_metrics_are_bounded(p in pairs(3)) {
            let m = matrix(3, &p);
            if !p.is_empty() {
                prop_assert!((0.0..=1.0).contains(&m.accuracy()));
            }
            prop_assert!((0.0..=1.0).contains(&m.f1(1)));
            prop_assert!((-1.0 - 1e-12..=1.0 + 1e-12).contains(&m.mcc()));
        }

        #[test]
        fn confusion_merge_equals_single_pass(p in pairs(2), cut in 0usize..200) {
            let cut = cut.min(p.len());
            let mut left = matrix(2, &p[..cut]);
            left.merge(&matrix(2, &p[cut..]));
            prop_assert_eq!(left, matrix(2, &p));
        }

        #[test]
        fn classification_metrics_ignore_order(mut p in pairs(2)) {
            let a = matrix(2, &p);
            p.reverse();
            let b = matrix(2, &p);
            prop_assert_eq!(a.mcc(), b.mcc());
            prop_assert_eq!(a.f1(1), b.f1(1));
        }

        #[test]
        fn perfect_predictions_score_one(gold in prop::collection::vec(0usize..2, 2..100)) {
            prop_assume!(gold.contains(&0) && gold.contains(&1));
            let m = matrix(2, &gold.iter().map(|&g| (g, g)).collect::<Vec<_>>());
            prop_assert_eq!(m.accuracy(), 1.0);
            prop_assert_eq!(m.f1(1), 1.0);
            prop_assert!((m.mcc() - 1.0).abs() < 1e-12);
        }

        #[test]
        fn correlations_are_bounded_and_symmetric(
            v in prop::collection::vec((-1e3f64..1e3, -1e3f64..1e3), 2..100)
        ) {
            let (x, y): (Vec<f64>, Vec<f64>) = v.into_iter().unzip();
            for r in [pearson(&x, &y), spearman(&x, &y)] {
                prop_assert!(r.is_nan() || (-1.0..=1.0).contains(&r));
            }
            let (a, b) = (pearson(&x, &y), pearson(&y, &x));
            prop_assert!((a.is_nan() && b.is_nan()) || (a - b).abs() < 1e-12);
        }

        #[test]
        fn spearman_is_invariant_under_monotone_maps(
            v in prop::collection::vec((-1e3f64..1e3, -1e3f64..1e3), 2..100)
        ) {
            let (x, y): (Vec<f64>, Vec<f64>) = v.into_iter().unzip();
            let x3: Vec<f64> = x.iter().map(|a| a * 2.0 + 7.0).collect();
            let (a, b) = (spearman(&x, &y), spearman(&x3, &y));
            prop_assert!((a.is_nan() && b.is_nan()) || (a - b).abs() < 1e-12);
        }

        #[test]
        fn paired_merge_equals_single_pass(
            v in prop::collection::vec((-1e3f64..1e3, -1e3f64..1e3), 0..100), cut in 0usize..100
        ) {
            let cut = cut.min(v.len());
            let mut all = PairedScores::new();
            let (mut left, mut right) = (PairedScores::new(), PairedScores::new());
            for (i, &(p, g)) in v.iter().enumerate() {
                all.push(p, g);
                if i < cut { left.push(p, g) } else { right.push(p, g) }
            }
            left.merge(&right);
            prop_assert_eq!(left, all);
        }
    }
}
