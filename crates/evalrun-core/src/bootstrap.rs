//! Seeded bootstrap confidence intervals over per-example results.
//!
//! Examples are resampled with replacement `resamples` times; the metric is recomputed on each
//! resample and the interval is the percentile interval (linear interpolation between order
//! statistics, numpy's default `percentile`). The generator is SplitMix64, specified here so
//! that the same seed gives the same interval on every platform and in every version.

use serde::{Deserialize, Serialize};

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast and well distributed for resampling.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; the bias is below 2^-32 for n < 2^32).
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

/// How an interval was computed, stored beside it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BootstrapSpec {
    pub resamples: usize,
    pub seed: u64,
    /// Coverage, e.g. 0.95.
    pub level: f64,
}

impl Default for BootstrapSpec {
    fn default() -> Self {
        Self {
            resamples: 1000,
            seed: 1234,
            level: 0.95,
        }
    }
}

/// A percentile interval with the bootstrap standard error.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
    pub std_error: f64,
}

/// Bootstraps `statistic` over `n` examples. `statistic` receives the resampled example
/// indices. Returns `None` when there are fewer than two examples or no resample gives a
/// finite value.
pub fn bootstrap(
    n: usize,
    spec: BootstrapSpec,
    statistic: impl FnMut(&[usize]) -> f64,
) -> Option<Interval> {
    if n < 2 || spec.resamples == 0 {
        return None;
    }
    let values = resample(n, spec, statistic);
    if values.is_empty() {
        return None;
    }
    let alpha = (1.0 - spec.level) / 2.0;
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let variance =
        values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (values.len().max(2) - 1) as f64;
    Some(Interval {
        low: percentile(&values, alpha),
        high: percentile(&values, 1.0 - alpha),
        std_error: variance.sqrt(),
    })
}

/// numpy's default (linear) percentile of sorted values, `q` in [0, 1].
/// The statistic on `spec.resamples` resamples of `n` indices drawn with replacement
/// (SplitMix64 from `spec.seed`, `below(n)` per slot), the finite values sorted: the draws
/// every evalrun bootstrap shares.
pub fn resample(
    n: usize,
    spec: BootstrapSpec,
    mut statistic: impl FnMut(&[usize]) -> f64,
) -> Vec<f64> {
    let mut rng = SplitMix64::new(spec.seed);
    let mut indices = vec![0usize; n];
    let mut values = Vec::with_capacity(spec.resamples);
    for _ in 0..spec.resamples {
        for slot in indices.iter_mut() {
            *slot = rng.below(n);
        }
        let v = statistic(&indices);
        if v.is_finite() {
            values.push(v);
        }
    }
    values.sort_by(f64::total_cmp);
    values
}

pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    let position = q * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = position.ceil() as usize;
    let fraction = position - below as f64;
    sorted[below] + (sorted[above] - sorted[below]) * fraction
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn splitmix_reference_values() {
        // First outputs for seed 1234567 from the reference C implementation.
        let mut rng = SplitMix64::new(1_234_567);
        assert_eq!(rng.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(rng.next_u64(), 3_203_168_211_198_807_973);
    }

    #[test]
    fn same_seed_same_interval_and_accuracy_width_is_binomial() {
        // 1000 examples, 70% correct: the 95% interval is about ±1.96·sqrt(0.21/1000) = ±0.0284.
        let correct: Vec<bool> = (0..1000).map(|i| i % 10 < 7).collect();
        let accuracy =
            |idx: &[usize]| idx.iter().filter(|&&i| correct[i]).count() as f64 / idx.len() as f64;
        let spec = BootstrapSpec {
            resamples: 2000,
            ..Default::default()
        };
        let a = bootstrap(correct.len(), spec, accuracy).unwrap();
        let b = bootstrap(correct.len(), spec, accuracy).unwrap();
        assert_eq!(a, b);
        let half = (a.high - a.low) / 2.0;
        assert!((half - 0.0284).abs() < 0.003, "{a:?}");
        assert!(a.low < 0.7 && 0.7 < a.high);
        assert!(
            (a.std_error - (0.21f64 / 1000.0).sqrt()).abs() < 0.0015,
            "{a:?}"
        );
        let c = bootstrap(correct.len(), BootstrapSpec { seed: 99, ..spec }, accuracy).unwrap();
        assert_ne!(a, c);
    }

    #[test]
    fn percentile_matches_numpy_linear() {
        // numpy.percentile([1, 2, 3, 4], [2.5, 50, 97.5]) = [1.075, 2.5, 3.925]
        let v = [1.0, 2.0, 3.0, 4.0];
        assert!((percentile(&v, 0.025) - 1.075).abs() < 1e-12);
        assert!((percentile(&v, 0.5) - 2.5).abs() < 1e-12);
        assert!((percentile(&v, 0.975) - 3.925).abs() < 1e-12);
    }

    proptest! {
        #[test]
        fn below_stays_in_range(seed in any::<u64>(), n in 1usize..10_000) {
            let mut rng = SplitMix64::new(seed);
            for _ in 0..100 {
                prop_assert!(rng.below(n) < n);
            }
        }

        #[test]
        fn interval_is_ordered_and_brackets_the_mean_statistic(values in prop::collection::vec(0.0f64..1.0, 2..200)) {
            let mean = |idx: &[usize]| idx.iter().map(|&i| values[i]).sum::<f64>() / idx.len() as f64;
            let spec = BootstrapSpec { resamples: 200, ..Default::default() };
            let ci = bootstrap(values.len(), spec, mean).unwrap();
            prop_assert!(ci.low <= ci.high);
            let lo = values.iter().cloned().fold(f64::INFINITY, f64::min);
            let hi = values.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            prop_assert!(ci.low >= lo - 1e-12 && ci.high <= hi + 1e-12);
        }
    }
}
