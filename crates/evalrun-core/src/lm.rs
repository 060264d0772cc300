//! Token windows for causal-LM scoring, exactly as the reference implementations cut them.
//!
//! A [`Window`] is a token sequence whose tokens from `first_target` on are scored: token `j` is
//! predicted from the logits at position `j − 1`, so the model is fed `tokens[..len − 1]`.
//!
//! * [`rolling_windows`]: lm-evaluation-harness `loglikelihood_rolling`
//!   (`lm_eval/utils.py` `get_rolling_token_windows` + `make_disjoint_window`, then
//!   `_loglikelihood_tokens`' left truncation): disjoint windows of at most `max_length`
//!   predicted tokens, the first prefixed with the end-of-text token so that every token is
//!   predicted exactly once, each later window carrying the preceding tokens as context.
//! * [`strided_windows`]: the transformers perplexity guide
//!   (`docs/source/en/perplexity.md`): windows of `max_length` tokens starting every `stride`
//!   tokens; each scores only the tokens not scored before, and the very first token of the
//!   text is never scored.
//! * [`continuation_window`]: lm-eval `loglikelihood(context, continuation)`: the pair,
//!   left-truncated to `max_length + 1` tokens, scoring the continuation.

/// Tokens with the index of the first scored token (always ≥ 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub tokens: Vec<u32>,
    pub first_target: usize,
}

impl Window {
    /// What the model is fed: every token but the last.
    pub fn input(&self) -> &[u32] {
        &self.tokens[..self.tokens.len() - 1]
    }

    /// The scored tokens.
    pub fn targets(&self) -> &[u32] {
        &self.tokens[self.first_target..]
    }
}

/// lm-eval's disjoint rolling windows over `tokens` (no special tokens), `prefix` being the
/// end-of-text token.
pub fn rolling_windows(tokens: &[u32], prefix: u32, max_length: usize) -> Vec<Window> {
    assert!(max_length >= 1, "max_length must be at least 1");
    let mut windows = Vec::new();
    if tokens.is_empty() {
        return windows;
    }
    // First window: [prefix] + tokens[..first - 1] predicting tokens[..first].
    let first = max_length.min(tokens.len());
    let mut sequence = Vec::with_capacity(first + 1);
    sequence.push(prefix);
    sequence.extend_from_slice(&tokens[..first]);
    windows.push(Window {
        tokens: sequence,
        first_target: 1,
    });
    let mut predicted = first;
    while predicted < tokens.len() {
        let predict = (tokens.len() - predicted).min(max_length);
        let end = predicted + predict;
        // Context: the max_length + 1 tokens ending at `end`, minus what is predicted; lm-eval's
        // left truncation to max_length + 1 then keeps exactly tokens[end - max_length - 1..end].
        let start = end.saturating_sub(max_length + 1);
        windows.push(Window {
            tokens: tokens[start..end].to_vec(),
            first_target: end - predict - start,
        });
        predicted = end;
    }
    windows
}

/// The transformers perplexity guide's strided windows.
pub fn strided_windows(tokens: &[u32], max_length: usize, stride: usize) -> Vec<Window> {
    assert!(
        max_length >= 1 && stride >= 1,
        "max_length and stride must be at least 1"
    );
    let mut windows = Vec::new();
    let mut previous_end = 0;
    let mut begin = 0;
    while begin < tokens.len() {
        let end = (begin + max_length).min(tokens.len());
        let target_len = end - previous_end;
        let window = &tokens[begin..end];
        // Labels mask all but the last `target_len` tokens; the model's shift then drops the
        // window's first token as a target.
        let first_target = (window.len() - target_len.min(window.len())).max(1);
        if first_target < window.len() {
            windows.push(Window {
                tokens: window.to_vec(),
                first_target,
            });
        }
        previous_end = end;
        if end == tokens.len() {
            break;
        }
        begin += stride;
    }
    windows
}

/// The transformers guide's per-window token weights, one per window of [`strided_windows`]
/// (same arguments): the guide multiplies each window's mean loss by `trg_len − 1`
/// ("num_valid_tokens − batch_size") and divides the total by the sum of those weights. For
/// overlapping windows that is one less than the tokens the window scores, so the guide's
/// perplexity is a slightly re-weighted mean; `evalrun perplexity --stride` reproduces it.
pub fn strided_guide_weights(len: usize, max_length: usize, stride: usize) -> Vec<usize> {
    let mut weights = Vec::new();
    let (mut previous_end, mut begin) = (0, 0);
    while begin < len {
        let end = (begin + max_length).min(len);
        let target_len = end - previous_end;
        let window_len = end - begin;
        // Same skip rule as strided_windows: a window that scores nothing is not emitted.
        if (window_len - target_len.min(window_len)).max(1) < window_len {
            weights.push(target_len - 1);
        }
        previous_end = end;
        if end == len {
            break;
        }
        begin += stride;
    }
    weights
}

/// lm-eval's scoring of `continuation` after `context` (both already tokenized as lm-eval
/// `_encode_pair` does), left-truncated to `max_length + 1` tokens.
pub fn continuation_window(context: &[u32], continuation: &[u32], max_length: usize) -> Window {
    assert!(
        !continuation.is_empty(),
        "an empty continuation has nothing to score"
    );
    let mut tokens: Vec<u32> = context.iter().chain(continuation).copied().collect();
    if tokens.len() > max_length + 1 {
        tokens.drain(..tokens.len() - (max_length + 1));
    }
    let first_target = tokens.len() - continuation.len().min(tokens.len() - 1);
    Window {
        tokens,
        first_target,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const EOT: u32 = 999;

    #[test]
    fn rolling_matches_lm_eval_on_a_small_example() {
        // lm-eval: get_rolling_token_windows(list(range(10)), prefix_token=999, max_seq_len=4, context_len=1)
        // → ([999,0,1,2],[0,1,2,3]), ([3,4,5,6],[4,5,6,7]), ([5,6,7,8],[8,9]); make_disjoint_window
        // → ([999],[0,1,2,3]), ([3],[4,5,6,7]), ([5,6,7],[8,9]); _loglikelihood_tokens then feeds
        // (context + continuation)[-(max_len + 1):][:-1].
        let w = rolling_windows(&(0..10).collect::<Vec<_>>(), EOT, 4);
        assert_eq!(
            w[0],
            Window {
                tokens: vec![EOT, 0, 1, 2, 3],
                first_target: 1
            }
        );
        assert_eq!(
            w[1],
            Window {
                tokens: vec![3, 4, 5, 6, 7],
                first_target: 1
            }
        );
        assert_eq!(
            w[2],
            Window {
                tokens: vec![5, 6, 7, 8, 9],
                first_target: 3
            }
        );
        assert_eq!(w[2].targets(), &[8, 9]);
        assert_eq!(w[2].input(), &[5, 6, 7, 8]);
    }

    #[test]
    fn strided_matches_the_guide_on_a_small_example() {
        // max_length 4, stride 2 over 0..7: windows [0..4) scoring 1,2,3; [2..6) scoring 4,5;
        // [4..7) scoring 6; the guide stops once a window reaches the end.
        let w = strided_windows(&(0..7).collect::<Vec<_>>(), 4, 2);
        let targets: Vec<Vec<u32>> = w.iter().map(|w| w.targets().to_vec()).collect();
        assert_eq!(targets, vec![vec![1, 2, 3], vec![4, 5], vec![6]]);
        assert_eq!(w[1].tokens, vec![2, 3, 4, 5]);
    }

    #[test]
    fn guide_weights_are_trg_len_minus_one() {
        // Windows [0..4) trg_len 4, [2..6) trg_len 2, [4..7) trg_len 1.
        assert_eq!(strided_guide_weights(7, 4, 2), vec![3, 1, 0]);
        assert_eq!(
            strided_guide_weights(7, 4, 2).len(),
            strided_windows(&(0..7).collect::<Vec<_>>(), 4, 2).len()
        );
    }

    #[test]
    fn continuation_is_left_truncated() {
        let w = continuation_window(&[1, 2, 3, 4, 5], &[6, 7], 4);
        assert_eq!(w.tokens, vec![3, 4, 5, 6, 7]);
        assert_eq!(w.targets(), &[6, 7]);
        assert_eq!(w.input(), &[3, 4, 5, 6]);
    }

    proptest! {
        #[test]
        fn rolling_predicts_every_token_exactly_once(n in 1usize..300, max_length in 1usize..64) {
            let tokens: Vec<u32> = (0..n as u32).collect();
            let windows = rolling_windows(&tokens, EOT, max_length);
            let predicted: Vec<u32> = windows.iter().flat_map(|w| w.targets().to_vec()).collect();
            prop_assert_eq!(predicted, tokens);
            for w in &windows {
                prop_assert!(w.input().len() <= max_length);
                prop_assert!(w.first_target >= 1);
            }
        }

        #[test]
        fn strided_disjoint_stride_scores_all_but_the_first_token(n in 2usize..300, max_length in 2usize..64) {
            let tokens: Vec<u32> = (0..n as u32).collect();
            let windows = strided_windows(&tokens, max_length, max_length);
            let predicted: Vec<u32> = windows.iter().flat_map(|w| w.targets().to_vec()).collect();
            // stride = max_length: each window's first token is never predicted.
            let expected: Vec<u32> = tokens.iter().copied().filter(|t| !(*t as usize).is_multiple_of(max_length)).collect();
            prop_assert_eq!(predicted, expected);
        }

        #[test]
        fn strided_overlapping_scores_each_token_once(n in 2usize..300, max_length in 2usize..64, stride_div in 2usize..5) {
            let stride = (max_length / stride_div).max(1);
            let tokens: Vec<u32> = (0..n as u32).collect();
            let predicted: Vec<u32> = strided_windows(&tokens, max_length, stride).iter().flat_map(|w| w.targets().to_vec()).collect();
            let mut sorted = predicted.clone();
            sorted.dedup();
            prop_assert_eq!(&sorted, &predicted, "a token scored twice");
            prop_assert_eq!(predicted.first().copied(), Some(1));
            prop_assert_eq!(predicted.last().copied(), Some(n as u32 - 1));
        }
    }
}
