//! Whether the difference between two runs on the same examples is real: McNemar's exact test
//! for 0/1 outcomes, and a paired bootstrap (the same resampled examples for both runs) for any
//! metric, seeded as [`crate::bootstrap`] is.

use crate::bootstrap::{percentile, resample, BootstrapSpec};

/// McNemar's exact test: `b` examples right in the first run and wrong in the second, `c` the
/// other way. Two-sided p = min(1, 2 · P[X ≤ min(b, c)]) for X ~ Binomial(b + c, ½), as
/// `statsmodels.stats.contingency_tables.mcnemar(exact=True)` and scipy's `binomtest` give it;
/// 1 when no example changed.
pub fn mcnemar_exact(b: u64, c: u64) -> f64 {
    let n = b + c;
    if n == 0 {
        return 1.0;
    }
    let k = b.min(c);
    // Σ_{i ≤ k} C(n, i) / 2^n in log space: ln C(n, i+1) = ln C(n, i) + ln(n − i) − ln(i + 1).
    let ln2n = n as f64 * std::f64::consts::LN_2;
    let mut ln_choose = 0.0f64;
    let mut terms = Vec::with_capacity(k as usize + 1);
    for i in 0..=k {
        terms.push(ln_choose - ln2n);
        ln_choose += ((n - i) as f64).ln() - ((i + 1) as f64).ln();
    }
    let top = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let cdf = top.exp() * terms.iter().map(|t| (t - top).exp()).sum::<f64>();
    (2.0 * cdf).min(1.0)
}

/// A paired comparison: the difference (second − first) on all examples, its bootstrap
/// interval, and a two-sided p-value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairedTest {
    pub delta: f64,
    pub low: f64,
    pub high: f64,
    pub p: f64,
}

/// Paired bootstrap: `spec.resamples` times, `n` examples are drawn with replacement (the
/// draws of [`crate::bootstrap::bootstrap`] for the same seed) and `difference(indices)` —
/// the second run's metric minus the first's on those examples — is kept when finite. The
/// interval is its `spec.level` percentile interval; p = min(1, 2 · min(share ≤ 0, share ≥ 0))
/// of the kept differences. `None` with fewer than two examples or no resamples.
pub fn paired_bootstrap(
    n: usize,
    spec: BootstrapSpec,
    mut difference: impl FnMut(&[usize]) -> f64,
) -> Option<PairedTest> {
    if n < 2 || spec.resamples == 0 {
        return None;
    }
    let all: Vec<usize> = (0..n).collect();
    let delta = difference(&all);
    let values = resample(n, spec, difference);
    if values.is_empty() {
        return None;
    }
    let alpha = (1.0 - spec.level) / 2.0;
    let share = |f: &dyn Fn(f64) -> bool| {
        values.iter().filter(|v| f(**v)).count() as f64 / values.len() as f64
    };
    let p = (2.0 * share(&|v| v <= 0.0).min(share(&|v| v >= 0.0))).min(1.0);
    Some(PairedTest {
        delta,
        low: percentile(&values, alpha),
        high: percentile(&values, 1.0 - alpha),
        p,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Cases {
        mcnemar: Vec<(u64, u64, f64)>,
        bootstrap: Vec<BootstrapCase>,
    }

    #[derive(serde::Deserialize)]
    struct BootstrapCase {
        a: Vec<f64>,
        b: Vec<f64>,
        resamples: usize,
        seed: u64,
        delta: f64,
        low: f64,
        high: f64,
        p: f64,
    }

    /// The values scripts/significance_cases.py computed with statsmodels' exact McNemar test
    /// (checked against scipy's binomtest), to 1e-10 relative (the log-space sum over 1000
    /// terms rounds in the 12th digit), and an independent Python paired bootstrap on the same
    /// SplitMix64 draws, to 1e-12.
    #[test]
    fn equal_the_reference_values() {
        let cases: Cases = serde_json::from_str(include_str!(
            "../../../tests/fixtures/reference/significance.json"
        ))
        .unwrap();
        for (b, c, p) in cases.mcnemar {
            let got = mcnemar_exact(b, c);
            assert!(
                (got - p).abs() <= 1e-10 * p,
                "McNemar({b}, {c}): {got} vs {p}"
            );
        }
        for case in cases.bootstrap {
            let spec = BootstrapSpec {
                resamples: case.resamples,
                seed: case.seed,
                level: 0.95,
            };
            let mean = |x: &[f64], idx: &[usize]| {
                idx.iter().map(|&i| x[i]).sum::<f64>() / idx.len() as f64
            };
            let t = paired_bootstrap(case.a.len(), spec, |idx| {
                mean(&case.b, idx) - mean(&case.a, idx)
            })
            .unwrap();
            for (what, got, want) in [
                ("delta", t.delta, case.delta),
                ("low", t.low, case.low),
                ("high", t.high, case.high),
                ("p", t.p, case.p),
            ] {
                assert!((got - want).abs() <= 1e-12, "{what}: {got} vs {want}");
            }
        }
    }

    #[test]
    fn mcnemar_edges() {
        assert_eq!(mcnemar_exact(0, 0), 1.0);
        assert_eq!(mcnemar_exact(3, 3), 1.0);
        assert!((mcnemar_exact(30, 0) - 2.0 * 0.5f64.powi(30)).abs() < 1e-20);
        assert!(mcnemar_exact(100_000, 99_000) > 0.0);
    }
}
