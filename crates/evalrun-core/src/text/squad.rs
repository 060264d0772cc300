//! SQuAD exact match and token F1 with exact parity with the official SQuAD v1.1 evaluation
//! script (`evaluate-v1.1.py`: `normalize_answer`, `exact_match_score`, `f1_score`,
//! `metric_max_over_ground_truths`, `evaluate`). T5's `squad` metric
//! (`t5/evaluation/qa_utils.py`) normalizes answers the same way.
//!
//! `normalize_answer(s)`:
//! 1. `s.lower()` (Python's full Unicode lowercasing);
//! 2. remove every character of Python's `string.punctuation` (the 32 ASCII punctuation
//!    characters; Unicode punctuation such as `“` or `«` stays);
//! 3. `re.sub(r'\b(a|an|the)\b', ' ', text)` with Python `re`'s Unicode word boundaries (see
//!    [`super::is_python_word_char`]);
//! 4. `' '.join(text.split())` with Python's whitespace (see [`super::is_python_space`]).
//!
//! `f1_score` compares the whitespace tokens of the normalized answers as multisets; it is 0
//! when they share no token, which includes the case where both normalize to the empty string
//! (whereas exact match is then true). Per question, each score is the maximum over the ground
//! truths; the corpus scores are `100 * sum / total`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::{is_python_word_char, python_collapse_whitespace, python_lower, python_split};

/// Errors of the SQuAD scoring functions.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SquadError {
    /// A question without any ground-truth answer (Python's `max([])` raises).
    #[error("no ground-truth answers")]
    NoGroundTruths,
}

/// `re.sub(r'\b(a|an|the)\b', ' ', text)` with Python's `\w`.
fn remove_articles(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let is_word = |i: usize| chars.get(i).is_some_and(|&c| is_python_word_char(c));
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    'scan: while i < chars.len() {
        // `\b` before the article: it starts with a word character, so the previous character
        // must be a non-word character (or the start of the text).
        if i == 0 || !is_word(i - 1) {
            // Alternatives in pattern order; the first whose trailing `\b` holds wins.
            for article in ["a", "an", "the"] {
                let len = article.len();
                let matches =
                    chars.len() >= i + len && chars[i..i + len].iter().copied().eq(article.chars());
                if matches && !is_word(i + len) {
                    out.push(' ');
                    i += len;
                    continue 'scan;
                }
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// The official script's `normalize_answer`: lowercase, drop ASCII punctuation, replace the
/// articles a/an/the by spaces, collapse whitespace.
pub fn normalize_answer(s: &str) -> String {
    let lowered = python_lower(s);
    let without_punctuation: String = lowered
        .chars()
        .filter(|c| !c.is_ascii_punctuation())
        .collect();
    python_collapse_whitespace(&remove_articles(&without_punctuation))
}

/// `exact_match_score`: the normalized answers are equal.
pub fn exact_match(prediction: &str, ground_truth: &str) -> bool {
    normalize_answer(prediction) == normalize_answer(ground_truth)
}

/// `f1_score`: token-multiset F1 of the normalized answers (0 without a common token).
pub fn f1(prediction: &str, ground_truth: &str) -> f64 {
    let prediction = normalize_answer(prediction);
    let ground_truth = normalize_answer(ground_truth);
    let prediction_tokens: Vec<&str> = python_split(&prediction).collect();
    let ground_truth_tokens: Vec<&str> = python_split(&ground_truth).collect();
    let mut available: HashMap<&str, usize> = HashMap::new();
    for &token in &ground_truth_tokens {
        *available.entry(token).or_insert(0) += 1;
    }
    let mut num_same = 0usize;
    for token in &prediction_tokens {
        if let Some(count) = available.get_mut(token) {
            if *count > 0 {
                *count -= 1;
                num_same += 1;
            }
        }
    }
    if num_same == 0 {
        return 0.0;
    }
    let precision = 1.0 * num_same as f64 / prediction_tokens.len() as f64;
    let recall = 1.0 * num_same as f64 / ground_truth_tokens.len() as f64;
    (2.0 * precision * recall) / (precision + recall)
}

/// One question's scores, each the maximum over its ground truths.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SquadScore {
    /// Exact match against at least one ground truth.
    pub exact_match: bool,
    /// Best token F1, in 0..=1.
    pub f1: f64,
}

impl SquadScore {
    /// `metric_max_over_ground_truths` for both metrics. Fails without ground truths.
    pub fn new<S: AsRef<str>>(prediction: &str, ground_truths: &[S]) -> Result<Self, SquadError> {
        if ground_truths.is_empty() {
            return Err(SquadError::NoGroundTruths);
        }
        let mut score = SquadScore::default();
        for ground_truth in ground_truths {
            let ground_truth = ground_truth.as_ref();
            score.exact_match |= exact_match(prediction, ground_truth);
            score.f1 = score.f1.max(f1(prediction, ground_truth));
        }
        Ok(score)
    }
}

/// The corpus sums of the official script's `evaluate`: exact matches, F1 (summed in push
/// order, as Python does) and the number of questions.
///
/// [`SquadAccumulator::merge`] adds partial sums, e.g. for bootstrap resampling; the F1 sum
/// then depends on the grouping in the last bits, so exact parity with the official script
/// holds for a single accumulator fed in question order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SquadAccumulator {
    /// Questions with an exact match.
    pub exact_match: u64,
    /// Sum of per-question F1 (0..=1 each).
    pub f1: f64,
    /// Questions, answered or not.
    pub total: u64,
}

impl SquadAccumulator {
    /// An empty accumulator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one answered question.
    pub fn push(&mut self, score: SquadScore) {
        self.exact_match += u64::from(score.exact_match);
        self.f1 += score.f1;
        self.total += 1;
    }

    /// Adds an unanswered question: it counts in the total with score 0, as in `evaluate`.
    pub fn push_unanswered(&mut self) {
        self.total += 1;
    }

    /// Adds another accumulator's sums.
    pub fn merge(&mut self, other: &SquadAccumulator) {
        self.exact_match += other.exact_match;
        self.f1 += other.f1;
        self.total += other.total;
    }

    /// `100.0 * exact_match / total`, or `None` without questions.
    pub fn exact_match_percent(&self) -> Option<f64> {
        (self.total > 0).then(|| 100.0 * self.exact_match as f64 / self.total as f64)
    }

    /// `100.0 * f1 / total`, or `None` without questions.
    pub fn f1_percent(&self) -> Option<f64> {
        (self.total > 0).then(|| 100.0 * self.f1 / self.total as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization() {
        assert_eq!(normalize_answer("The Cat!"), "cat");
        assert_eq!(normalize_answer("  a  an the "), "");
        assert_eq!(normalize_answer("theater another"), "theater another");
        assert_eq!(normalize_answer("a_b"), "ab");
        assert_eq!(normalize_answer("“the” cat"), "“ ” cat");
        // A combining mark is not a word character in Python `re`.
        assert_eq!(normalize_answer("the\u{301} cat"), "\u{301} cat");
        assert_eq!(normalize_answer("½the cat"), "½the cat");
        assert_eq!(normalize_answer("cat\u{1c}dog"), "cat dog");
    }

    #[test]
    fn scores() {
        assert!(exact_match("The Denver Broncos", "denver broncos"));
        assert_eq!(f1("", ""), 0.0);
        assert!(exact_match("", ""));
        assert_eq!(f1("cat cat dog", "cat dog dog"), 2.0 / 3.0);
        let score = SquadScore::new("Broncos", &["Denver Broncos", "Broncos"]).expect("golds");
        assert!(score.exact_match);
        assert_eq!(score.f1, 1.0);
        let none: [&str; 0] = [];
        assert_eq!(SquadScore::new("x", &none), Err(SquadError::NoGroundTruths));
    }

    #[test]
    fn accumulator() {
        let mut acc = SquadAccumulator::new();
        assert_eq!(acc.f1_percent(), None);
        acc.push(SquadScore {
            exact_match: true,
            f1: 1.0,
        });
        acc.push_unanswered();
        assert_eq!(acc.exact_match_percent(), Some(50.0));
        assert_eq!(acc.f1_percent(), Some(50.0));
    }

    use proptest::prelude::*;

    proptest! {
        #[test]
        fn scores_are_bounded(prediction in "\\PC{0,30}", gold in "\\PC{0,30}") {
            let f = f1(&prediction, &gold);
            prop_assert!((0.0..=1.0).contains(&f));
            prop_assert!(exact_match(&prediction, &prediction));
            if exact_match(&prediction, &gold) && !normalize_answer(&gold).is_empty() {
                prop_assert_eq!(f, 1.0);
            }
        }
    }
}
