//! Batch planning and dynamic padding (pure; no model calls).
//!
//! Examples are sorted by token length, longest first (so the first batch shows the peak
//! memory), cut into batches of `batch_size`, and each batch is padded only to its own longest
//! row. Callers re-attach outputs by the indices each batch carries.

use crate::encode::Encoded;

/// How calls are cut: at most `rows` rows and, when set, at most `tokens` padded tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batching {
    pub rows: usize,
    pub tokens: Option<usize>,
}

impl From<usize> for Batching {
    fn from(rows: usize) -> Self {
        Self { rows, tokens: None }
    }
}

/// Indices of `lengths`, grouped into batches of at most `batch_size`, longest first; ties
/// keep input order.
pub fn plan(lengths: &[usize], batch_size: usize) -> Vec<Vec<usize>> {
    plan_tokens(lengths, batch_size, None)
}

/// [`plan`], and with `batch_tokens` also at most that many padded tokens (rows × the
/// longest row) per batch; a row longer than the budget is a batch of its own.
pub fn plan_tokens(
    lengths: &[usize],
    batch_size: usize,
    batch_tokens: Option<usize>,
) -> Vec<Vec<usize>> {
    let batch_size = batch_size.max(1);
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by(|&a, &b| lengths[b].cmp(&lengths[a]).then(a.cmp(&b)));
    let mut batches: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    for i in order {
        // Longest first: the batch's first row sets its padded width.
        let width = current.first().map_or(lengths[i], |&f| lengths[f]).max(1);
        let over_tokens = batch_tokens.is_some_and(|t| (current.len() + 1) * width > t);
        if !current.is_empty() && (current.len() == batch_size || over_tokens) {
            batches.push(std::mem::take(&mut current));
        }
        current.push(i);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

/// Row-major `[rows, cols]` int64 inputs of one batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaddedBatch {
    pub rows: usize,
    pub cols: usize,
    pub input_ids: Vec<i64>,
    pub attention_mask: Vec<i64>,
    pub token_type_ids: Vec<i64>,
}

/// Right-pads `rows` to the longest of them.
pub fn pad(rows: &[&Encoded], pad_id: u32) -> PaddedBatch {
    let cols = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let size = rows.len() * cols;
    let (mut input_ids, mut attention_mask, mut token_type_ids) = (
        Vec::with_capacity(size),
        Vec::with_capacity(size),
        Vec::with_capacity(size),
    );
    for row in rows {
        let padding = cols - row.len();
        input_ids.extend(
            row.ids
                .iter()
                .map(|&i| i64::from(i))
                .chain(std::iter::repeat_n(i64::from(pad_id), padding)),
        );
        attention_mask
            .extend(std::iter::repeat_n(1, row.len()).chain(std::iter::repeat_n(0, padding)));
        token_type_ids.extend(
            row.type_ids
                .iter()
                .map(|&i| i64::from(i))
                .chain(std::iter::repeat_n(0, padding)),
        );
    }
    PaddedBatch {
        rows: rows.len(),
        cols,
        input_ids,
        attention_mask,
        token_type_ids,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_sorts_longest_first_and_covers_every_index_once() {
        let batches = plan(&[3, 7, 1, 7, 5], 2);
        assert_eq!(batches, vec![vec![1, 3], vec![4, 0], vec![2]]);
        let mut all: Vec<usize> = batches.concat();
        all.sort();
        assert_eq!(all, vec![0, 1, 2, 3, 4]);
        assert!(plan(&[], 4).is_empty());
    }

    #[test]
    fn plan_tokens_caps_padded_tokens_and_keeps_long_rows_alone() {
        assert_eq!(
            plan_tokens(&[3, 7, 1, 7, 5], 8, Some(14)),
            vec![vec![1, 3], vec![4, 0], vec![2]]
        );
        assert_eq!(
            plan_tokens(&[30, 2, 2], 8, Some(10)),
            vec![vec![0], vec![1, 2]]
        );
        assert_eq!(
            plan_tokens(&[3, 7, 1, 7, 5], 2, None),
            plan(&[3, 7, 1, 7, 5], 2)
        );
    }

    proptest::proptest! {
        #[test]
        fn plan_tokens_covers_every_index_once_within_both_limits(
            lengths in proptest::collection::vec(0usize..64, 0..40),
            batch_size in 1usize..9,
            batch_tokens in 1usize..200,
        ) {
            let batches = plan_tokens(&lengths, batch_size, Some(batch_tokens));
            let mut all: Vec<usize> = batches.concat();
            all.sort();
            proptest::prop_assert_eq!(all, (0..lengths.len()).collect::<Vec<_>>());
            for b in &batches {
                let width = b.iter().map(|&i| lengths[i]).max().unwrap().max(1);
                proptest::prop_assert!(b.len() <= batch_size);
                proptest::prop_assert!(b.len() == 1 || b.len() * width <= batch_tokens);
            }
        }
    }

    #[test]
    fn pad_masks_and_pads_to_the_longest_row() {
        let a = Encoded {
            ids: vec![101, 7, 102],
            type_ids: vec![0, 0, 0],
        };
        let b = Encoded {
            ids: vec![101, 102],
            type_ids: vec![0, 1],
        };
        let batch = pad(&[&a, &b], 0);
        assert_eq!((batch.rows, batch.cols), (2, 3));
        assert_eq!(batch.input_ids, vec![101, 7, 102, 101, 102, 0]);
        assert_eq!(batch.attention_mask, vec![1, 1, 1, 1, 1, 0]);
        assert_eq!(batch.token_type_ids, vec![0, 0, 0, 0, 1, 0]);
    }
}
