"""Checks evalrun's bootstrap intervals against an independent numpy bootstrap.

evalrun resamples examples with SplitMix64; numpy uses its own generator, so the two intervals
are different Monte-Carlo estimates of the same quantity and agree only within Monte-Carlo
error. This script measures that error directly: it repeats the numpy bootstrap R times
(different seeds, same B as evalrun), takes the mean and standard deviation of each interval
endpoint, and requires |evalrun − mean| ≤ 4 · sd · sqrt(1 + 1/R) for every endpoint.

Usage:
  evalrun glue --model 'tests/fixtures/models/glue-tiny/{task}' --data-dir ../shared/data \
      --output r.json --predictions p.jsonl
  python scripts/check_bootstrap.py r.json p.jsonl [--repeats 20]
"""

import argparse
import json
import math
import sys
from collections import defaultdict

import numpy as np
from scipy import stats
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

POSITIVE = {"mrpc": "equivalent", "qqp": "duplicate", "ax": "entailment"}


def metric_fn(task, metric):
    if metric == "accuracy":
        return lambda y, p: accuracy_score(y, p)
    if metric == "f1":
        return lambda y, p: f1_score(y, p, pos_label=POSITIVE[task], zero_division=0)
    if metric == "mcc":
        return lambda y, p: matthews_corrcoef(y, p)
    if metric == "pearson":
        return lambda y, p: stats.pearsonr(p, y)[0]
    if metric == "spearman":
        return lambda y, p: stats.spearmanr(p, y)[0]
    raise ValueError(metric)


def bootstrap(y, p, fn, resamples, level, rng):
    n = len(y)
    values = []
    for _ in range(resamples):
        idx = rng.integers(0, n, n)
        v = fn(y[idx], p[idx])
        if np.isfinite(v):
            values.append(v)
    alpha = (1 - level) / 2
    return np.percentile(values, 100 * alpha), np.percentile(values, 100 * (1 - alpha))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("record")
    ap.add_argument("predictions")
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    record = json.load(open(args.record))
    by_task = defaultdict(lambda: ([], []))
    for line in open(args.predictions):
        row = json.loads(line)
        if row["label"] is None:
            continue
        prediction = row["prediction"]
        if row["task"] == "ax":
            prediction = "entailment" if prediction == "entailment" else "not_entailment"
        by_task[row["task"]][0].append(row["label"])
        by_task[row["task"]][1].append(prediction)
    failures = 0
    print("| task | metric | evalrun 95% CI | numpy mean ± sd (R runs) | |Δ|/(sd·√(1+1/R)) | ok |")
    print("|---|---|---|---|---|---|")
    for task, result in record["results"].items():
        spec = result.get("bootstrap")
        if not spec or task not in by_task:
            continue
        y, p = (np.array(v) for v in by_task[task])
        for metric, ci in result["ci"].items():
            fn = metric_fn(task, metric)
            ends = np.array([
                bootstrap(y, p, fn, spec["resamples"], spec["level"], np.random.default_rng(seed))
                for seed in range(args.repeats)
            ])
            mean, sd = ends.mean(0), ends.std(0, ddof=1)
            z = [abs(e - m) / (s * math.sqrt(1 + 1 / args.repeats)) if s > 0 else (0 if e == m else math.inf)
                 for e, m, s in zip((ci["low"], ci["high"]), mean, sd)]
            ok = max(z) <= 4
            failures += not ok
            print(f"| {task} | {metric} | [{ci['low']:.4f}, {ci['high']:.4f}] | "
                  f"[{mean[0]:.4f} ± {sd[0]:.4f}, {mean[1]:.4f} ± {sd[1]:.4f}] | {max(z):.2f} | {'yes' if ok else 'NO'} |")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
