#!/usr/bin/env python3
"""Reference values for evalrun's paired significance tests (evalrun_core::significance), written to
tests/fixtures/reference/significance.json:

  mcnemar    (b, c, p): statsmodels' mcnemar(exact=True) two-sided p on crafted discordant counts, checked
             against scipy.stats.binomtest(min(b, c), b + c, 0.5)
  bootstrap  paired bootstrap of the difference in means on crafted 0/1 and real-valued data, computed here
             independently in Python on the same SplitMix64 draws evalrun uses (seeded), with the same
             percentile interval and two-sided p = min(1, 2 * min(share <= 0, share >= 0))

Usage (fixtures venv with scipy and statsmodels): python scripts/significance_cases.py
"""

import json
import random
from pathlib import Path

from scipy.stats import binomtest
from statsmodels.stats.contingency_tables import mcnemar

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "reference" / "significance.json"
MASK = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def below(self, n):
        return (self.next() * n) >> 64


def percentile(sorted_values, q):
    position = q * (len(sorted_values) - 1)
    below = int(position // 1)
    above = -int(-position // 1)
    fraction = position - below
    return sorted_values[below] + (sorted_values[above] - sorted_values[below]) * fraction


def mean(xs, idx):
    total = 0.0
    for i in idx:
        total += xs[i]
    return total / len(idx)


def paired(a, b, resamples, seed):
    n = len(a)
    rng = SplitMix64(seed)
    every = list(range(n))
    delta = mean(b, every) - mean(a, every)
    values = []
    for _ in range(resamples):
        idx = [rng.below(n) for _ in range(n)]
        values.append(mean(b, idx) - mean(a, idx))
    values.sort()
    low, high = percentile(values, 0.025), percentile(values, 0.975)
    le = sum(v <= 0.0 for v in values) / len(values)
    ge = sum(v >= 0.0 for v in values) / len(values)
    return {"delta": delta, "low": low, "high": high, "p": min(1.0, 2.0 * min(le, ge))}


def main():
    cases = {"mcnemar": [], "bootstrap": []}
    for b, c in [(0, 1), (1, 0), (3, 7), (10, 10), (30, 0), (12, 25), (40, 61), (250, 210), (1000, 1100)]:
        p = float(mcnemar([[0, b], [c, 0]], exact=True).pvalue)
        assert abs(p - binomtest(min(b, c), b + c, 0.5).pvalue) <= 1e-12 * max(p, 1e-300), (b, c)
        cases["mcnemar"].append([b, c, p])
    rng = random.Random(1234)
    # 0/1 outcomes: 277 RTE-sized examples, the second run flipping some.
    a = [float(rng.random() < 0.55) for _ in range(277)]
    b = [x if rng.random() > 0.1 else 1.0 - x for x in a]
    # Real values: per-document log-likelihoods with noise.
    c = [rng.gauss(-500.0, 80.0) for _ in range(60)]
    d = [x + rng.gauss(-2.0, 5.0) for x in c]
    for first, second, resamples, seed in [(a, b, 1000, 1234), (c, d, 500, 7), (a, a, 200, 1234)]:
        cases["bootstrap"].append({"a": first, "b": second, "resamples": resamples, "seed": seed,
                                   **paired(first, second, resamples, seed)})
    OUT.write_text(json.dumps(cases, indent=1) + "\n", encoding="utf-8")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
