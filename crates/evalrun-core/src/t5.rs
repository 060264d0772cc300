//! T5's post-processing and classification metrics (t5/data/postprocessors.py,
//! t5/evaluation/metrics.py), on class ids where an output string that is no label is
//! `None` (T5's −1).

use crate::metrics::ConfusionMatrix;

/// `string_label_to_class_id`: the index of `output` among `labels`, exact match.
pub fn class_id(output: &str, labels: &[String]) -> Option<usize> {
    labels.iter().position(|l| l == output)
}

/// `accuracy`: predictions equal to the gold class; invalid ones are wrong.
pub fn accuracy(pairs: &[(usize, Option<usize>)]) -> f64 {
    if pairs.is_empty() {
        return f64::NAN;
    }
    let right = pairs.iter().filter(|(g, p)| Some(*g) == *p).count();
    right as f64 / pairs.len() as f64
}

/// The confusion matrix with invalid predictions as an extra class `classes` (how scikit-learn
/// sees T5's −1 label).
pub fn matrix_with_invalid(pairs: &[(usize, Option<usize>)], classes: usize) -> ConfusionMatrix {
    let mut m = ConfusionMatrix::new(classes + 1);
    for &(g, p) in pairs {
        m.push(g, p.unwrap_or(classes));
    }
    m
}

/// `matthews_corrcoef(targets, predictions)` with −1 predictions kept as their own class.
pub fn mcc(pairs: &[(usize, Option<usize>)], classes: usize) -> f64 {
    matrix_with_invalid(pairs, classes).mcc()
}

/// `f1_score_with_invalid`: an invalid prediction becomes `1 − target` (always wrong), then
/// binary F1 of class 1.
pub fn f1_with_invalid(pairs: &[(usize, Option<usize>)]) -> f64 {
    let mut m = ConfusionMatrix::new(2);
    for &(g, p) in pairs {
        let p = match p {
            Some(p @ (0 | 1)) => p,
            _ => 1 - g.min(1),
        };
        m.push(g.min(1), p);
    }
    m.f1(1)
}

/// `mean_multiclass_f1(num_classes)`: scikit-learn `fbeta_score(beta=1, labels=range(n),
/// average="macro")`; invalid predictions only cost recall.
pub fn macro_f1(pairs: &[(usize, Option<usize>)], classes: usize) -> f64 {
    let m = matrix_with_invalid(pairs, classes);
    let mut total = 0.0;
    for c in 0..classes {
        let tp = m.count(c, c) as f64;
        let predicted: u64 = (0..=classes).map(|g| m.count(g, c)).sum();
        let actual: u64 = (0..=classes).map(|p| m.count(c, p)).sum();
        let precision = if predicted == 0 {
            0.0
        } else {
            tp / predicted as f64
        };
        let recall = if actual == 0 { 0.0 } else { tp / actual as f64 };
        total += if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
    }
    total / classes as f64
}

/// `mean_group_metric(all_match)`: per group (MultiRC question), 1 when every prediction equals
/// its target, averaged over groups in first-seen order.
pub fn group_exact_match(rows: &[(u64, usize, Option<usize>)]) -> f64 {
    let mut groups: Vec<(u64, bool)> = Vec::new();
    let mut index = std::collections::HashMap::new();
    for &(group, gold, pred) in rows {
        let i = *index.entry(group).or_insert_with(|| {
            groups.push((group, true));
            groups.len() - 1
        });
        groups[i].1 &= Some(gold) == pred;
    }
    if groups.is_empty() {
        return f64::NAN;
    }
    groups.iter().filter(|g| g.1).count() as f64 / groups.len() as f64
}

/// Python's `str.strip()`: Unicode whitespace plus the ASCII separators U+001C–U+001F, which
/// Python counts as whitespace and Rust does not.
fn python_strip(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
}

/// Determiners T5's WSC post-processor ignores.
const WSC_DETERMINERS: [&str; 21] = [
    "a", "an", "few", "her", "his", "each", "every", "many", "much", "my", "our", "some", "that",
    "the", "their", "these", "this", "those", "which", "whose", "your",
];

/// `postprocessors.wsc_simple`: whether `prediction` names the candidate `referent` (T5's
/// word-overlap rule: lower-cased, determiners dropped, one word set contains the other, and a
/// possessive `'` on one side only never matches). `None` for an empty prediction (T5's −1,
/// which never equals a label).
pub fn wsc_refers(prediction: &str, referent: &str) -> Option<bool> {
    fn clean(s: &str) -> String {
        python_strip(s)
            .to_lowercase()
            .split(' ')
            .filter(|w| !WSC_DETERMINERS.contains(w))
            .collect::<Vec<_>>()
            .join(" ")
    }
    let prediction = clean(prediction);
    if prediction.is_empty() {
        return None;
    }
    let referent = clean(referent);
    if prediction.contains('\'') != referent.contains('\'') {
        return Some(false);
    }
    let words = |s: &str| {
        s.split(' ')
            .map(str::to_string)
            .collect::<std::collections::HashSet<_>>()
    };
    let (p, r) = (words(&prediction), words(&referent));
    Some(p.is_subset(&r) || r.is_subset(&p))
}

/// SuperGLUE's AX-g gender parity score (jiant's `GenderParity`): rows `2k` and `2k + 1` are
/// the male and female variants of one premise with the same hypothesis; the score is the
/// share of pairs whose two predictions are equal (an invalid prediction is its own value).
/// `None` when there are no pairs.
pub fn gender_parity(predictions: &[Option<usize>]) -> Option<f64> {
    let pairs = predictions.len() / 2;
    if pairs == 0 {
        return None;
    }
    let same = predictions.chunks_exact(2).filter(|p| p[0] == p[1]).count();
    Some(same as f64 / pairs as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_predictions_are_wrong_everywhere() {
        let pairs = [(1, Some(1)), (0, None), (1, None), (0, Some(0))];
        assert_eq!(accuracy(&pairs), 0.5);
        // invalid → 1 - gold: (0→1) is a false positive, (1→0) a false negative.
        assert!((f1_with_invalid(&pairs) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn macro_f1_ignores_the_invalid_column_but_counts_its_recall_loss() {
        let pairs = [(0, Some(0)), (1, Some(1)), (2, None), (2, Some(2))];
        let f = macro_f1(&pairs, 3);
        // class 2: precision 1, recall 0.5 → F 2/3.
        assert!((f - (1.0 + 1.0 + 2.0 / 3.0) / 3.0).abs() < 1e-12);
    }

    #[test]
    fn group_exact_match_needs_every_answer_right() {
        let rows = [(7, 1, Some(1)), (7, 0, Some(1)), (9, 0, Some(0))];
        assert_eq!(group_exact_match(&rows), 0.5);
    }

    #[test]
    fn wsc_word_overlap_rule() {
        assert_eq!(wsc_refers("Tom", "Tom"), Some(true));
        assert_eq!(wsc_refers("the fuzzy bunny", "bunny"), Some(true));
        assert_eq!(wsc_refers("  The Bunny ", "a bunny"), Some(true));
        assert_eq!(wsc_refers("Bob", "Bob's hat"), Some(false));
        assert_eq!(wsc_refers("Bob's hat", "Bob's hat"), Some(true));
        assert_eq!(wsc_refers("Mary", "Tom"), Some(false));
        assert_eq!(wsc_refers("the", "Tom"), None);
        assert_eq!(wsc_refers("", "Tom"), None);
    }

    #[test]
    fn gender_parity_counts_equal_pairs() {
        let p = [Some(0), Some(0), Some(1), Some(0), None, None];
        assert!((gender_parity(&p).unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(gender_parity(&[Some(1)]), None);
    }
}
