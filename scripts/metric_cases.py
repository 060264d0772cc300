#!/usr/bin/env python3
"""Generate tests/fixtures/reference/metric_cases.json: reference metric values from scikit-learn / scipy.

Each case is either
  {"kind": "classification", "labels": [int], "predictions": [int], "accuracy", "f1", "mcc", ...}
      binary cases: f1 = sklearn f1_score(pos_label=1, average="binary", zero_division=0)
      multiclass (3-class) cases: "f1" is omitted, mcc is sklearn's multiclass matthews_corrcoef
or
  {"kind": "regression", "x": [float], "y": [float], "pearson", "spearman"}
      pearson = scipy.stats.pearsonr, spearman = scipy.stats.spearmanr (average ranks for ties);
      NaN (constant input) is written as null.

Usage: python scripts/metric_cases.py [--out tests/fixtures/reference/metric_cases.json] [--seed 20240601]
"""

import argparse
import json
import math
import random
import warnings
from pathlib import Path

import numpy as np
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

REPO_ROOT = Path(__file__).resolve().parent.parent


def fnum(v):
    v = float(v)
    return None if math.isnan(v) or math.isinf(v) else v


def cls_case(labels, preds, name, multiclass=False):
    labels = [int(v) for v in labels]
    preds = [int(v) for v in preds]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        case = {"kind": "classification", "name": name, "n": len(labels), "n_classes": 3 if multiclass else 2,
                "labels": labels, "predictions": preds,
                "accuracy": fnum(accuracy_score(labels, preds))}
        if not multiclass:
            case["f1"] = fnum(f1_score(labels, preds, pos_label=1, average="binary", zero_division=0))
        case["mcc"] = fnum(matthews_corrcoef(labels, preds))
    return case


def reg_case(x, y, name):
    x = [float(v) for v in x]
    y = [float(v) for v in y]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            p = pearsonr(x, y)[0]
        except Exception:  # scipy may raise for n < 2
            p = float("nan")
        s = spearmanr(x, y)[0]
    return {"kind": "regression", "name": name, "n": len(x), "x": x, "y": y, "pearson": fnum(p), "spearman": fnum(s)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/fixtures/reference/metric_cases.json")
    ap.add_argument("--seed", type=int, default=20240601)
    args = ap.parse_args()
    out = Path(args.out)
    if not out.is_absolute():
        out = REPO_ROOT / out
    rng = random.Random(args.seed)
    np_rng = np.random.default_rng(args.seed)
    cases = []

    # ---------------- classification: hand-written edge cases ----------------
    cases.append(cls_case([1, 1, 1, 1], [1, 1, 1, 1], "all-one-class-correct-positive"))
    cases.append(cls_case([0, 0, 0, 0], [0, 0, 0, 0], "all-one-class-correct-negative"))
    cases.append(cls_case([0, 1, 0, 1], [1, 1, 1, 1], "predict-all-positive"))
    cases.append(cls_case([0, 1, 0, 1, 1], [0, 0, 0, 0, 0], "predict-all-negative"))
    cases.append(cls_case([0, 0, 0], [1, 1, 1], "all-wrong-constant"))
    cases.append(cls_case([0, 1], [1, 0], "n2-inverted"))
    cases.append(cls_case([0, 1], [0, 1], "n2-perfect"))
    cases.append(cls_case([0, 1, 1], [0, 1, 1], "n3-perfect"))
    cases.append(cls_case([1, 0, 1, 0, 1], [0, 1, 0, 1, 0], "n5-inverted"))
    cases.append(cls_case([0, 0, 0, 0, 1], [0, 0, 0, 1, 0], "n5-rare-positive-missed"))
    cases.append(cls_case([1], [1], "n1-positive"))
    cases.append(cls_case([0], [1], "n1-wrong"))
    cases.append(cls_case([0, 1, 2], [0, 1, 2], "mc-n3-perfect", multiclass=True))
    cases.append(cls_case([0, 1, 2, 0, 1, 2], [2, 2, 2, 2, 2, 2], "mc-constant-prediction", multiclass=True))
    cases.append(cls_case([1, 1, 1, 1], [1, 1, 1, 1], "mc-single-class", multiclass=True))
    cases.append(cls_case([0, 1, 2, 0, 1, 2], [1, 2, 0, 1, 2, 0], "mc-rotated", multiclass=True))
    cases.append(cls_case([0, 0, 1, 1], [0, 2, 1, 2], "mc-unseen-pred-class", multiclass=True))

    # ---------------- classification: random ----------------
    sizes = [2, 3, 4, 5, 7, 10, 17, 50, 100, 333, 1000, 2000]
    for k in range(130):
        n = sizes[k % len(sizes)] if k < 60 else rng.choice([2, 3, 4, 5, 8, 20, 64, 128, 500, 872, 1043, 2000])
        p_pos = rng.choice([0.0, 0.05, 0.3, 0.5, 0.7, 0.95, 1.0])
        acc_target = rng.choice([0.0, 0.3, 0.5, 0.7, 0.9, 1.0])
        labels = [1 if rng.random() < p_pos else 0 for _ in range(n)]
        mode = rng.choice(["noisy", "noisy", "noisy", "const0", "const1"])
        if mode == "const0":
            preds = [0] * n
        elif mode == "const1":
            preds = [1] * n
        else:
            preds = [l if rng.random() < acc_target else 1 - l for l in labels]
        cases.append(cls_case(labels, preds, f"bin-random-{k}-{mode}"))
    for k in range(40):
        n = rng.choice([2, 3, 5, 9, 30, 100, 277, 1000, 2000])
        probs = rng.choice([(1 / 3, 1 / 3, 1 / 3), (0.6, 0.3, 0.1), (0.0, 0.5, 0.5), (0.9, 0.05, 0.05)])
        labels = list(np_rng.choice(3, size=n, p=probs))
        mode = rng.choice(["noisy", "noisy", "const"])
        if mode == "const":
            preds = [rng.randrange(3)] * n
        else:
            acc = rng.choice([0.2, 0.5, 0.8, 1.0])
            preds = [l if rng.random() < acc else rng.randrange(3) for l in labels]
        cases.append(cls_case(labels, preds, f"mc-random-{k}-{mode}", multiclass=True))

    # ---------------- regression: hand-written edge cases ----------------
    cases.append(reg_case([1.0, 2.0], [1.0, 2.0], "n2-perfect"))
    cases.append(reg_case([1.0, 2.0], [2.0, 1.0], "n2-inverted"))
    cases.append(reg_case([1.0, 2.0, 3.0], [2.0, 2.0, 2.0], "constant-y"))
    cases.append(reg_case([3.0, 3.0, 3.0, 3.0], [1.0, 2.0, 3.0, 4.0], "constant-x"))
    cases.append(reg_case([1.0, 1.0], [1.0, 1.0], "both-constant-n2"))
    cases.append(reg_case([1.0, 2.0, 2.0, 3.0], [1.0, 2.0, 3.0, 3.0], "ties-both"))
    cases.append(reg_case([0.0, 0.0, 1.0, 1.0, 1.0], [5.0, 4.0, 4.0, 4.0, 0.0], "heavy-ties-n5"))
    cases.append(reg_case([1.0, 2.0, 3.0, 4.0, 5.0], [1.0, 4.0, 9.0, 16.0, 25.0], "monotone-nonlinear"))
    cases.append(reg_case([1e-8, 2e-8, 3e-8], [1e8, 3e8, 2e8], "extreme-scales"))
    cases.append(reg_case([0.1, 0.2, 0.3], [0.3, 0.2, 0.1], "n3-inverted"))
    cases.append(reg_case([-1.5, 0.0, 1.5, 3.0], [2.0, 2.0, 2.0, 2.5], "near-constant-y"))

    # ---------------- regression: random ----------------
    rsizes = [2, 3, 4, 5, 6, 10, 25, 100, 500, 1379, 1500, 2000]
    for k in range(110):
        n = rsizes[k % len(rsizes)] if k < 48 else rng.choice([2, 3, 4, 5, 12, 40, 200, 1000, 2000])
        y = np_rng.uniform(0.0, 5.0, size=n)
        noise = rng.choice([0.0, 0.1, 0.5, 1.0, 3.0, 10.0])
        x = y * rng.choice([1.0, -1.0, 0.3]) + np_rng.normal(0.0, noise, size=n) + rng.choice([0.0, 2.5])
        tie_mode = rng.choice(["none", "none", "x0.2", "y0.2", "both0.2", "both1", "xconst"])
        if tie_mode in ("x0.2", "both0.2"):
            x = np.round(x / 0.2) * 0.2
        if tie_mode in ("y0.2", "both0.2"):
            y = np.round(y / 0.2) * 0.2
        if tie_mode == "both1":
            x = np.round(x)
            y = np.round(y)
        if tie_mode == "xconst":
            x = np.full(n, 2.0)
        # float32-representable x, like model outputs
        x = x.astype(np.float32).astype(np.float64)
        cases.append(reg_case(x, y, f"reg-random-{k}-{tie_mode}"))

    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"seed": args.seed,
                   "generator": "scripts/metric_cases.py",
                   "notes": "null = NaN from sklearn/scipy (constant input); f1 is binary pos_label=1, zero_division=0; "
                            "3-class cases omit f1; spearman uses average ranks for ties",
                   "cases": cases}, f)
        f.write("\n")
    kinds = {}
    nulls = 0
    for c in cases:
        kinds[c["kind"]] = kinds.get(c["kind"], 0) + 1
        nulls += sum(1 for k in ("pearson", "spearman", "mcc", "f1", "accuracy") if k in c and c[k] is None)
    print(f"wrote {out} ({out.stat().st_size} bytes): {len(cases)} cases {kinds}, {nulls} null metric values")


if __name__ == "__main__":
    main()
