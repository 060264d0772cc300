#!/usr/bin/env python3
"""Reference inputs, targets and metrics for evalrun's T5 text-to-text tasks, computed by the T5 library itself
(`t5.data.preprocessors`, `t5.data.postprocessors`, `t5.evaluation.metrics`, on TensorFlow).

Two modes:

  inputs   Reads the real data files (../shared/data), turns each row into the feature dict TFDS would give T5
           (same keys, same types), runs T5's own preprocessor and writes, per task:
             OUT/<task>.jsonl                          every example: {"id", "input", "target", "answers"?}
             tests/fixtures/reference/t5/inputs.json   count and sha256 of all inputs and all targets per task
             crates/evalrun-cli/tests/golden/t5-inputs/<task>.jsonl   the first examples verbatim
  crafted  Writes outputs crafted to reach every branch of T5's WSC and ReCoRD post-processing
           (tests/fixtures/reference/t5/crafted-outputs.jsonl) and T5's metrics on them (crafted-metrics.json).
  metrics  Reads model outputs ({"task", "id", "output"} lines) and the inputs written above, applies T5's
           post-processor and metric functions, and writes {task: {metric: value}} (values as T5 reports them,
           ×100) plus the SQuAD official-script figures on the original (unpadded) answers.

Environment: a venv with tensorflow-cpu, `pip install --no-deps t5 seqio` and their light dependencies
(gin-config, absl-py, babel, immutabledict, editdistance, sentencepiece, tensorflow-text, clu, pyglove,
tensorflow-datasets, sacrebleu, rouge-score, scikit-learn, scipy). See scripts/requirements-t5.txt.

  python scripts/t5_reference.py inputs  --data-dir ../shared/data --out target/t5-reference
  python scripts/t5_reference.py metrics --inputs target/t5-reference --outputs outputs.jsonl --out metrics.json
"""

import argparse
import collections
import csv
import functools
import hashlib
import json
import os
import re
import string
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from t5.data import postprocessors, preprocessors  # noqa: E402
from t5.evaluation import metrics  # noqa: E402
# TFDS's own SuperGLUE builder functions: the wsc.fixed span repairs and ReCoRD's entity/answer sets.
from tensorflow_datasets.text.super_glue import _fix_wst, _get_record_answers, _get_record_entities  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
GOLDEN_DIR = REPO_ROOT / "crates/evalrun-cli/tests/golden/t5-inputs"
DIGEST_PATH = REPO_ROOT / "tests/fixtures/reference/t5/inputs.json"
GOLDEN_FIRST = 5
RECORD_FILE = None

# TFDS label_classes (tensorflow_datasets glue.py / super_glue.py), which T5 uses as target strings.
LABELS = {
    "cola": ["unacceptable", "acceptable"],
    "sst2": ["negative", "positive"],
    "mrpc": ["not_equivalent", "equivalent"],
    "qqp": ["not_duplicate", "duplicate"],
    "mnli": ["entailment", "neutral", "contradiction"],
    "qnli": ["entailment", "not_entailment"],
    "rte": ["entailment", "not_entailment"],
    "wnli": ["not_entailment", "entailment"],
    "boolq": ["False", "True"],
    "cb": ["entailment", "contradiction", "neutral"],
    "copa": ["choice1", "choice2"],
    "multirc": ["False", "True"],
    "wic": ["False", "True"],
    "superglue_rte": ["entailment", "not_entailment"],
    "wsc": ["False", "True"],
    "axb": ["entailment", "not_entailment"],
    "axg": ["entailment", "not_entailment"],
    "ax": ["entailment", "neutral", "contradiction"],
}
# The GLUE diagnostic's gold labels (SuperGLUE AX-b's), and how an MNLI answer counts against them.
AX_GOLD = ["entailment", "not_entailment"]
AX_COLLAPSE = {"entailment": 0, "neutral": 1, "contradiction": 1}


# ---------------------------------------------------------------------------------------------------------------
# Readers: rows → the feature dicts TFDS builds (keys as in TFDS, `idx` = 0-based row number, `label` = class id).


def read_tsv(path, header):
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return rows[1:] if header else rows


def glue_rows(data, task):
    if task == "cola":
        for i, r in enumerate(read_tsv(data / "glue/CoLA/dev.tsv", False)):
            yield {"sentence": r[3], "label": int(r[1]), "idx": i}
    elif task == "sst2":
        for i, r in enumerate(read_tsv(data / "glue/SST-2/dev.tsv", True)):
            yield {"sentence": r[0], "label": int(r[1]), "idx": i}
    elif task == "mrpc":
        for i, r in enumerate(read_tsv(data / "glue/MRPC/senteval_tokenized/dev.tsv", True)):
            yield {"sentence1": r[3], "sentence2": r[4], "label": int(r[0]), "idx": i}
    elif task == "stsb":
        for i, r in enumerate(read_tsv(data / "glue/STS-B/dev.tsv", True)):
            yield {"sentence1": r[7], "sentence2": r[8], "label": np.float32(r[9]), "idx": i}
    elif task == "qnli":
        for i, r in enumerate(read_tsv(data / "glue/QNLI/dev.tsv", True)):
            yield {"question": r[1], "sentence": r[2], "label": LABELS["qnli"].index(r[3]), "idx": i}
    elif task == "rte":
        for i, r in enumerate(read_tsv(data / "glue/RTE/dev.tsv", True)):
            yield {"sentence1": r[1], "sentence2": r[2], "label": LABELS["rte"].index(r[3]), "idx": i}
    elif task == "wnli":
        for i, r in enumerate(read_tsv(data / "glue/WNLI/dev.tsv", True)):
            yield {"sentence1": r[1], "sentence2": r[2], "label": int(r[3]), "idx": i}
    else:
        raise KeyError(task)


def as_bool(value):
    if isinstance(value, str):
        return {"true": True, "false": False}[value.lower()]
    return bool(value)


def superglue_rows(data, task):
    folder = {"boolq": "BoolQ", "cb": "CB", "copa": "COPA", "multirc": "MultiRC", "wic": "WiC",
              "superglue_rte": "RTE"}[task]
    with open(data / "superglue" / folder / "val.jsonl", encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    if task == "multirc":
        n = 0
        for row in records:
            passage = row["passage"]
            for q in passage["questions"]:
                for a in q["answers"]:
                    yield {"paragraph": passage["text"], "question": q["question"], "answer": a["text"],
                           "label": int(as_bool(a["label"])),
                           "idx": {"paragraph": row["idx"], "question": q["idx"], "answer": a["idx"]}, "_id": n}
                    n += 1
        return
    for i, r in enumerate(records):
        if task == "boolq":
            yield {"question": r["question"], "passage": r["passage"], "label": int(as_bool(r["label"])), "idx": i}
        elif task == "cb":
            yield {"premise": r["premise"], "hypothesis": r["hypothesis"], "label": LABELS["cb"].index(r["label"]),
                   "idx": i}
        elif task == "copa":
            yield {"premise": r["premise"], "choice1": r["choice1"], "choice2": r["choice2"],
                   "question": r["question"], "label": int(r["label"]), "idx": i}
        elif task == "wic":
            yield {"word": r["word"], "sentence1": r["sentence1"], "sentence2": r["sentence2"],
                   "start1": r["start1"], "start2": r["start2"], "end1": r["end1"], "end2": r["end2"],
                   "label": int(as_bool(r["label"])), "idx": i}
        elif task == "superglue_rte":
            yield {"premise": r["premise"], "hypothesis": r["hypothesis"],
                   "label": LABELS["superglue_rte"].index(r["label"]), "idx": i}


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def diagnostic_rows(data, task):
    """AX-b / AX-g / GLUE AX as TFDS gives them (`idx` as int32, labels as class ids)."""
    if task == "wsc":
        for r in read_jsonl(data / "superglue/WSC/val.jsonl"):
            row = {"text": r["text"], **{k: r["target"][k] for k in
                                         ("span1_index", "span2_index", "span1_text", "span2_text")}}
            row = _fix_wst(row)  # TFDS super_glue/wsc.fixed
            row["idx"] = int(r["idx"])
            row["label"] = int(as_bool(r["label"]))
            yield row
    elif task == "axb":
        for r in read_jsonl(data / "superglue/AX-b/AX-b.jsonl"):
            yield {"sentence1": r["sentence1"], "sentence2": r["sentence2"], "idx": int(r["idx"]),
                   "label": LABELS["axb"].index(r["label"])}
    elif task == "axg":
        for r in read_jsonl(data / "superglue/AX-g/AX-g.jsonl"):
            yield {"premise": r["premise"], "hypothesis": r["hypothesis"], "idx": int(r["idx"]),
                   "label": LABELS["axg"].index(r["label"])}
    elif task == "ax":
        # TFDS glue/ax: premise/hypothesis of the diagnostic, label -1 (test only); the gold labels evalrun
        # scores against are AX-b's for the same pairs (`gold`).
        rows = read_tsv(data / "glue/AX/diagnostic.tsv", True)
        gold = read_jsonl(data / "superglue/AX-b/AX-b.jsonl")
        for i, (r, g) in enumerate(zip(rows, gold)):
            assert (r[1], r[2]) == (g["sentence1"], g["sentence2"]), i
            yield {"premise": r[1], "hypothesis": r[2], "idx": i, "label": -1, "_gold": AX_GOLD.index(g["label"])}
    else:
        raise KeyError(task)


def record_rows(path):
    """TFDS super_glue/record: one row per query."""
    for row in read_jsonl(path):
        passage = row["passage"]
        for qa in row["qas"]:
            yield {"passage": passage["text"], "query": qa["query"], "entities": _get_record_entities(passage),
                   "answers": _get_record_answers(qa), "idx": {"passage": row["idx"], "query": qa["idx"]}}


def squad_rows(data):
    with open(data / "t5/squad/dev-v1.1.json", encoding="utf-8") as f:
        articles = json.load(f)["data"]
    for article in articles:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                yield {"id": qa["id"], "context": paragraph["context"], "question": qa["question"],
                       "answers": {"text": [a["text"] for a in qa["answers"]]}}


GLUE = ["cola", "sst2", "mrpc", "stsb", "qnli", "rte", "wnli"]
SUPERGLUE = ["boolq", "cb", "copa", "multirc", "wic", "superglue_rte"]
DIAGNOSTIC = ["wsc", "axb", "axg", "ax"]


def columns(rows, drop=("_id", "_gold")):
    """Row dicts → one dict of columns (nested dicts stay nested), for `from_tensor_slices`."""
    keys = [k for k in rows[0] if k not in drop]
    out = {}
    for k in keys:
        if isinstance(rows[0][k], dict):
            out[k] = {kk: [r[k][kk] for r in rows] for kk in rows[0][k]}
        else:
            out[k] = [r[k] for r in rows]
    return out


def decode(v):
    return v.decode("utf-8") if isinstance(v, bytes) else v


def t5_examples(data, task):
    """Yields (row, processed example) with the processed values as Python str."""
    if task in GLUE or task in SUPERGLUE:
        rows = list(glue_rows(data, task) if task in GLUE else superglue_rows(data, task))
        cols = columns(rows)
        if task == "stsb":
            cols["label"] = np.array(cols["label"], dtype=np.float32)
            ds = preprocessors.stsb(tf.data.Dataset.from_tensor_slices(cols))
        else:
            benchmark = "rte" if task == "superglue_rte" else task
            feature_names = {"multirc": ("question", "answer", "paragraph"),
                             "wic": ("sentence1", "sentence2", "word")}.get(task)
            if feature_names is None:
                # TFDS features are exactly the text fields, `label` and `idx`.
                cols = {k: v for k, v in cols.items() if k in ("label", "idx") or isinstance(v[0], str)}
            ds = preprocessors.glue(tf.data.Dataset.from_tensor_slices(cols), benchmark_name=benchmark,
                                    label_names=LABELS[task], feature_names=feature_names)
        for row, out in zip(rows, ds.as_numpy_iterator()):
            yield row, {k: decode(v) for k, v in out.items()}
    elif task in DIAGNOSTIC:
        rows = list(diagnostic_rows(data, task))
        ds = tf.data.Dataset.from_tensor_slices(columns(rows))
        if task == "wsc":
            ds = preprocessors.wsc_simple(ds, correct_referent_only=False)
        else:
            if task == "axb":  # T5's rekey for super_glue_axb_v102
                ds = preprocessors.rekey(ds, key_map={"premise": "sentence1", "hypothesis": "sentence2",
                                                      "label": "label", "idx": "idx"})
            ds = preprocessors.glue(ds, benchmark_name="mnli" if task == "ax" else "rte", label_names=LABELS[task],
                                    feature_names=None)
        for row, out in zip(rows, ds.as_numpy_iterator()):
            yield row, {k: decode(v) for k, v in out.items()}
    elif task == "record":
        rows = list(record_rows(Path(RECORD_FILE)))

        def gen():
            for r in rows:
                yield {"passage": r["passage"], "query": r["query"], "entities": r["entities"],
                       "answers": r["answers"], "idx": r["idx"]}

        spec = {"passage": tf.TensorSpec([], tf.string), "query": tf.TensorSpec([], tf.string),
                "entities": tf.TensorSpec([None], tf.string), "answers": tf.TensorSpec([None], tf.string),
                "idx": {"passage": tf.TensorSpec([], tf.int32), "query": tf.TensorSpec([], tf.int32)}}
        ds = preprocessors.record(tf.data.Dataset.from_generator(gen, output_signature=spec))
        # T5 makes one example per answer; its metric (deduplicate_metric) keeps the first of each query.
        seen = set()
        by_query = {}
        for out in ds.as_numpy_iterator():
            key = (int(out["idx/passage"]), int(out["idx/query"]))
            if key in seen:
                continue
            seen.add(key)
            by_query[key] = {"inputs": decode(out["inputs"]), "targets": decode(out["targets"]),
                             "answers": [decode(a) for a in out["answers"].tolist()]}
        for row in rows:
            yield row, by_query[(row["idx"]["passage"], row["idx"]["query"])]
    elif task == "squad_v1":
        rows = list(squad_rows(data))
        ds = tf.data.Dataset.from_tensor_slices({
            "id": [r["id"] for r in rows], "context": [r["context"] for r in rows],
            "question": [r["question"] for r in rows],
            "answers": {"text": tf.ragged.constant([r["answers"]["text"] for r in rows])}})
        for row, out in zip(rows, preprocessors.squad(ds).as_numpy_iterator()):
            yield row, {"inputs": decode(out["inputs"]), "targets": decode(out["targets"]),
                        "answers": [decode(a) for a in out["answers"].tolist()]}
    else:
        raise KeyError(task)


def sha256_lines(values):
    h = hashlib.sha256()
    for v in values:
        h.update(v.encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def cmd_inputs(args):
    data = Path(args.data_dir)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    digest = {}
    for task in args.tasks:
        lines = []
        for i, (row, ex) in enumerate(t5_examples(data, task)):
            line = {"task": task, "id": i, "input": ex["inputs"], "target": ex["targets"]}
            if task == "squad_v1":
                line["answers"] = ex["answers"]
                line["original_answers"] = row["answers"]["text"]
            if task == "multirc":
                line["group"] = row["idx"]["question"]
            if task == "record":
                line["answers"] = ex["answers"]
            if task == "ax":
                line["target"] = AX_GOLD[row["_gold"]]  # T5's is "<unk>" (no labels in TFDS glue/ax)
                line["t5_target"] = ex["targets"]
            line["label"] = row.get("label") if task != "stsb" else float(row["label"])
            if task == "ax":
                line["label"] = row["_gold"]
            lines.append(line)
        with open(out / f"{task}.jsonl", "w", encoding="utf-8") as f:
            for line in lines:
                f.write(json.dumps(line, ensure_ascii=False) + "\n")
        with open(GOLDEN_DIR / f"{task}.jsonl", "w", encoding="utf-8") as f:
            for line in lines[:GOLDEN_FIRST]:
                f.write(json.dumps({"id": line["id"], "input": line["input"], "target": line["target"]},
                                   ensure_ascii=False) + "\n")
        digest[task] = {"n": len(lines), "inputs_sha256": sha256_lines(l["input"] for l in lines),
                        "targets_sha256": sha256_lines(l["target"] for l in lines)}
        print(f"{task}: {len(lines)} examples", file=sys.stderr)
    DIGEST_PATH.parent.mkdir(parents=True, exist_ok=True)
    existing = json.loads(DIGEST_PATH.read_text()) if DIGEST_PATH.exists() else {}
    existing.update(digest)
    DIGEST_PATH.write_text(json.dumps(existing, indent=2, sort_keys=True) + "\n")


# ---------------------------------------------------------------------------------------------------------------
# Metrics, exactly as T5 registers them (t5/data/glue_utils.py GLUE_METRICS / SUPERGLUE_METRICS, tasks.py squad).


def official_squad(answers, prediction):
    """SQuAD v1.1 official evaluate-v1.1.py, per question."""

    def normalize_answer(s):
        def remove_articles(text):
            return re.sub(r"\b(a|an|the)\b", " ", text)

        def white_space_fix(text):
            return " ".join(text.split())

        def remove_punc(text):
            exclude = set(string.punctuation)
            return "".join(ch for ch in text if ch not in exclude)

        return white_space_fix(remove_articles(remove_punc(s.lower())))

    def f1_score(prediction, ground_truth):
        p = normalize_answer(prediction).split()
        g = normalize_answer(ground_truth).split()
        common = collections.Counter(p) & collections.Counter(g)
        num_same = sum(common.values())
        if num_same == 0:
            return 0
        precision = 1.0 * num_same / len(p)
        recall = 1.0 * num_same / len(g)
        return (2 * precision * recall) / (precision + recall)

    em = max(float(normalize_answer(prediction) == normalize_answer(g)) for g in answers)
    f1 = max(f1_score(prediction, g) for g in answers)
    return em, f1


def t5_metrics(task, refs, outputs):
    if task == "stsb":
        targets = [postprocessors.string_to_float(r["target"]) for r in refs]
        preds = [postprocessors.string_to_float(o) for o in outputs]
        return {**metrics.pearson_corrcoef(targets, preds), **metrics.spearman_corrcoef(targets, preds)}
    if task == "squad_v1":
        res = metrics.squad([r["answers"] for r in refs], outputs)
        ems, f1s = zip(*(official_squad(r["original_answers"], o) for r, o in zip(refs, outputs)))
        return {"t5_em": res["em"], "t5_f1": res["f1"], "exact_match": 100 * float(np.mean(ems)),
                "f1": 100 * float(np.mean(f1s))}
    if task == "record":
        targets = [{"value": r["answers"], "group": (r["id"],)} for r in refs]
        res = metrics.deduplicate_metric(metrics.squad)(targets, [{"value": o} for o in outputs])
        return {"em": res["em"], "f1": res["f1"]}
    if task == "wsc":
        targets = [postprocessors.wsc_simple(None, example={"label": r["label"]}, is_target=True) for r in refs]
        preds = [postprocessors.wsc_simple(o, example={"targets_pretokenized": r["target"]}) for r, o in
                 zip(refs, outputs)]
        return metrics.accuracy(targets, preds)
    labels = LABELS[task]
    if task in ("axb", "axg", "ax"):
        # T5 registers no metric for the diagnostics ("only test set available"); these are the leaderboard's,
        # on T5's post-processed class ids: Matthews correlation (sklearn, via T5's wrapper) and, for AX-g,
        # accuracy and gender parity (jiant's GenderParity: rows 2k and 2k+1 are one minimal pair).
        preds = [postprocessors.string_label_to_class_id(o, label_classes=labels) for o in outputs]
        targets = [r["label"] for r in refs]
        if task == "ax":
            preds = [AX_COLLAPSE[labels[p]] if p >= 0 else -1 for p in preds]
        if task == "axg":
            out = dict(metrics.accuracy(targets, preds))
            pairs = [(preds[i], preds[i + 1]) for i in range(0, len(preds) - 1, 2)]
            for i in range(0, len(refs) - 1, 2):
                assert refs[i]["input"].split(" premise: ")[0] == refs[i + 1]["input"].split(" premise: ")[0], i
            out["gender_parity"] = 100 * sum(a == b for a, b in pairs) / len(pairs)
            return out
        fn = metrics.sklearn_metrics_wrapper("matthews_corrcoef", metric_post_process_fn=lambda x: 100 * x)
        return fn(np.array(targets), np.array(preds))
    if task == "multirc":
        targets = [{"value": postprocessors.string_label_to_class_id(r["target"], label_classes=labels),
                    "group": r["group"]} for r in refs]
        preds = [{"value": postprocessors.string_label_to_class_id(o, label_classes=labels)} for o in outputs]
        out = {}
        out.update(metrics.multirc_f1_over_all_answers(targets, preds))
        out.update(metrics.mean_group_metric(metrics.all_match)(targets, preds))
        return out
    targets = [postprocessors.string_label_to_class_id(r["target"], label_classes=labels) for r in refs]
    preds = [postprocessors.string_label_to_class_id(o, label_classes=labels) for o in outputs]
    fns = {
        "cola": [metrics.sklearn_metrics_wrapper("matthews_corrcoef", metric_post_process_fn=lambda x: 100 * x)],
        "sst2": [metrics.accuracy],
        "mrpc": [metrics.f1_score_with_invalid, metrics.accuracy],
        "qnli": [metrics.accuracy],
        "rte": [metrics.accuracy],
        "wnli": [metrics.accuracy],
        "boolq": [metrics.accuracy],
        "cb": [metrics.mean_multiclass_f1(num_classes=3), metrics.accuracy],
        "copa": [metrics.accuracy],
        "wic": [metrics.accuracy],
        "superglue_rte": [metrics.accuracy],
    }[task]
    out = {}
    for fn in fns:
        out.update({k: float(v) for k, v in fn(np.array(targets), np.array(preds)).items()})
    return out


def cmd_metrics(args):
    inputs = Path(args.inputs)
    outputs = collections.defaultdict(dict)
    with open(args.outputs, encoding="utf-8") as f:
        for line in f:
            o = json.loads(line)
            outputs[o["task"]][o["id"]] = o["output"]
    result = {}
    for task, by_id in sorted(outputs.items()):
        with open(inputs / f"{task}.jsonl", encoding="utf-8") as f:
            refs = [json.loads(line) for line in f]
        refs = [r for r in refs if r["id"] in by_id]
        result[task] = {k: float(v) for k, v in t5_metrics(task, refs, [by_id[r["id"]] for r in refs]).items()}
        result[task]["n"] = len(refs)
        print(task, result[task], file=sys.stderr)
    Path(args.out).write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")


def crafted_output(task, ref, i):
    """Deterministic output variants that reach every branch of T5's WSC and ReCoRD post-processing."""
    if task == "wsc":
        target = ref["target"]
        words = ref["input"].split()
        variants = [target, "the " + target, target.upper() + " ", target + "'s friend", "", "his",
                    words[min(3, len(words) - 1)], target.split()[-1], "A " + target.lower() + " and a dog"]
        return variants[i % len(variants)]
    if task == "record":
        answer = ref["answers"][0] if ref["answers"] else ""
        variants = [answer, answer.lower() + ".", "the " + answer, answer + " and more", "nobody"]
        return variants[i % len(variants)]
    raise KeyError(task)


def cmd_crafted(args):
    """Outputs written here (not by a model) and T5's metrics on them: for the tasks whose fixture outputs are
    all alike, so that every branch of the post-processor is compared."""
    inputs = Path(args.inputs)
    lines, result = [], {}
    for task in ("wsc", "record"):
        with open(inputs / f"{task}.jsonl", encoding="utf-8") as f:
            refs = [json.loads(line) for line in f]
        outputs = [crafted_output(task, r, i) for i, r in enumerate(refs)]
        lines.extend({"task": task, "id": r["id"], "output": o} for r, o in zip(refs, outputs))
        result[task] = {k: float(v) for k, v in t5_metrics(task, refs, outputs).items()}
        result[task]["n"] = len(refs)
        print(task, result[task], file=sys.stderr)
    out = Path(args.out)
    with open(out / "crafted-outputs.jsonl", "w", encoding="utf-8") as f:
        for line in lines:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    (out / "crafted-metrics.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("inputs")
    p.add_argument("--data-dir", default=os.environ.get("EVALRUN_DATA_DIR", str(REPO_ROOT / "../shared/data")))
    p.add_argument("--out", default=str(REPO_ROOT / "target/t5-reference"))
    p.add_argument("--tasks", nargs="+", default=GLUE + SUPERGLUE + DIAGNOSTIC + ["squad_v1"])
    p.add_argument("--record-file", default=str(REPO_ROOT / "tests/fixtures/data/superglue/ReCoRD/val.jsonl"),
                   help="ReCoRD is not in ../shared/data: the fixture file in the published layout")
    p = sub.add_parser("metrics")
    p.add_argument("--inputs", default=str(REPO_ROOT / "target/t5-reference"))
    p.add_argument("--outputs", required=True)
    p.add_argument("--out", required=True)
    p = sub.add_parser("crafted")
    p.add_argument("--inputs", default=str(REPO_ROOT / "target/t5-reference"))
    p.add_argument("--out", default=str(REPO_ROOT / "tests/fixtures/reference/t5"))
    args = parser.parse_args()
    global RECORD_FILE
    RECORD_FILE = getattr(args, "record_file", None)
    tf.config.set_visible_devices([], "GPU")
    {"inputs": cmd_inputs, "metrics": cmd_metrics, "crafted": cmd_crafted}[args.cmd](args)


if __name__ == "__main__":
    main()
