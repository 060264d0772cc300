#!/usr/bin/env python3
"""Generate evalrun test fixtures: tiny ONNX BERT classifiers + reference outputs.

Produces, under tests/fixtures/ (relative to the repository root):

  models/bert-tiny-cls2/      2-label classifier (generic LABEL_0/LABEL_1), trained briefly on SST-2 train
  models/bert-tiny-cls3/      3-label classifier with named, permuted id2label, trained briefly on RTE train
  models/bert-tiny-reg/       1-output regressor, trained briefly on STS-B train
  models/glue-tiny/<task>     relative symlinks to the three models above, one per GLUE task
  reference/glue/<task>.jsonl per-example PyTorch reference logits / predictions on the GLUE dev files
  reference/glue/metrics.json sklearn/scipy metrics of those predictions
  reference/minilm/*          all-MiniLM-L6-v2 cosine similarities (sentence-transformers, ONNX backend)

Usage (from the repository root, inside a venv made from scripts/requirements-fixtures.txt):

  HF_HUB_OFFLINE=1 python scripts/make_fixtures.py --data-dir ../shared/data

Paths default to ../shared/... relative to the repository root; --data-dir (or env EVALRUN_DATA_DIR),
--vocab and --minilm-dir override them. Nothing is downloaded: the Hugging Face Hub is never contacted.
"""

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
SEED = 1234

# HF `glue` dataset label index orders.
GLUE_LABELS = {
    "cola": ["unacceptable", "acceptable"],
    "sst2": ["negative", "positive"],
    "mrpc": ["not_equivalent", "equivalent"],
    "qqp": ["not_duplicate", "duplicate"],
    "qnli": ["entailment", "not_entailment"],
    "rte": ["entailment", "not_entailment"],
    "wnli": ["not_entailment", "entailment"],
    "mnli": ["entailment", "neutral", "contradiction"],
    "ax": ["entailment", "neutral", "contradiction"],
    "stsb": None,
}

TASK_MODEL = {
    "cola": "bert-tiny-cls2",
    "sst2": "bert-tiny-cls2",
    "mrpc": "bert-tiny-cls2",
    "qqp": "bert-tiny-cls2",
    "qnli": "bert-tiny-cls2",
    "rte": "bert-tiny-cls2",
    "wnli": "bert-tiny-cls2",
    "mnli": "bert-tiny-cls3",
    "ax": "bert-tiny-cls3",
    "stsb": "bert-tiny-reg",
}

REFERENCE_TASKS = ["cola", "sst2", "mrpc", "stsb", "qnli", "rte", "wnli", "ax"]


def seed_everything(seed=SEED):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve(p):
    p = Path(p)
    return p if p.is_absolute() else (REPO_ROOT / p)


# --------------------------------------------------------------------------------------------------
# GLUE TSV reading: plain split on tab, no quoting; UTF-8; BOM stripped; trailing "\r" stripped.
# --------------------------------------------------------------------------------------------------

def read_tsv(path, header):
    text = Path(path).read_bytes().decode("utf-8")
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    rows = []
    for line in lines:
        if line.endswith("\r"):
            line = line[:-1]
        rows.append(line.split("\t"))
    if header:
        rows = rows[1:]
    return rows


def load_glue_dev(task, data_dir):
    """Return list of (text_a, text_b or None, gold label name / float)."""
    g = data_dir / "glue"
    out = []
    if task == "cola":
        for r in read_tsv(g / "CoLA/dev.tsv", header=False):
            out.append((r[3], None, GLUE_LABELS["cola"][int(r[1])]))
    elif task == "sst2":
        for r in read_tsv(g / "SST-2/dev.tsv", header=True):
            out.append((r[0], None, GLUE_LABELS["sst2"][int(r[1])]))
    elif task == "mrpc":
        for r in read_tsv(g / "MRPC/dev.tsv", header=True):
            out.append((r[3], r[4], GLUE_LABELS["mrpc"][int(r[0])]))
    elif task == "stsb":
        for r in read_tsv(g / "STS-B/dev.tsv", header=True):
            out.append((r[7], r[8], float(r[-1])))
    elif task in ("qnli", "rte"):
        d = {"qnli": "QNLI", "rte": "RTE"}[task]
        for r in read_tsv(g / d / "dev.tsv", header=True):
            assert r[3] in GLUE_LABELS[task], r
            out.append((r[1], r[2], r[3]))
    elif task == "wnli":
        for r in read_tsv(g / "WNLI/dev.tsv", header=True):
            out.append((r[1], r[2], GLUE_LABELS["wnli"][int(r[3])]))
    elif task == "ax":
        rows = read_tsv(g / "AX/diagnostic.tsv", header=True)
        labels = [json.loads(l) for l in (data_dir / "superglue/AX-b/AX-b.jsonl").read_text("utf-8").splitlines() if l.strip()]
        assert len(rows) == len(labels), (len(rows), len(labels))
        mism = 0
        for r, lab in zip(rows, labels):
            if (r[1], r[2]) != (lab["sentence1"], lab["sentence2"]):
                mism += 1
            out.append((r[1], r[2], lab["label"]))
        if mism:
            print(f"WARNING: ax: {mism} diagnostic.tsv rows differ in text from AX-b.jsonl", file=sys.stderr)
    else:
        raise ValueError(task)
    return out


# --------------------------------------------------------------------------------------------------
# Tiny models
# --------------------------------------------------------------------------------------------------

def make_tokenizer(vocab_path):
    from transformers import BertTokenizerFast

    return BertTokenizerFast(vocab_file=str(vocab_path), do_lower_case=True, model_max_length=512)


def save_clean_tokenizer(tok, d):
    """Save the tokenizer without the truncation/padding state left in the fast backend by training calls.

    A fast tokenizer remembers the last truncation/padding it was called with and save_pretrained writes it
    into tokenizer.json; the fixtures must have "truncation": null and "padding": null, like the published
    bert-base-uncased tokenizer.json.
    """
    tok.backend_tokenizer.no_truncation()
    tok.backend_tokenizer.no_padding()
    tok.save_pretrained(d)
    tj = json.loads((Path(d) / "tokenizer.json").read_text("utf-8"))
    assert tj["truncation"] is None and tj["padding"] is None, (tj["truncation"], tj["padding"])


def make_model(num_labels, id2label=None, problem_type=None):
    from transformers import BertConfig, BertForSequenceClassification

    kw = {}
    if id2label is not None:
        kw["id2label"] = id2label
        kw["label2id"] = {v: k for k, v in id2label.items()}
    cfg = BertConfig(
        vocab_size=30522,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=512,
        type_vocab_size=2,
        num_labels=num_labels,
        problem_type=problem_type,
        **kw,
    )
    seed_everything()
    return BertForSequenceClassification(cfg)


def train(model, tok, examples, steps, lr=1e-3, batch_size=32, max_length=128, regression=False, name=""):
    """examples: list of (text_a, text_b|None, target int|float)."""
    rng = random.Random(SEED)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    order = []
    t0 = time.time()
    losses = []
    for step in range(steps):
        if len(order) < batch_size:
            idx = list(range(len(examples)))
            rng.shuffle(idx)
            order.extend(idx)
        batch = [examples[i] for i in order[:batch_size]]
        del order[:batch_size]
        a = [e[0] for e in batch]
        b = [e[1] for e in batch]
        if all(x is None for x in b):
            enc = tok(a, truncation=True, max_length=max_length, padding=True, return_tensors="pt")
        else:
            enc = tok(a, b, truncation="longest_first", max_length=max_length, padding=True, return_tensors="pt")
        if regression:
            labels = torch.tensor([float(e[2]) for e in batch], dtype=torch.float32)
        else:
            labels = torch.tensor([int(e[2]) for e in batch], dtype=torch.long)
        out = model(**enc, labels=labels)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        losses.append(out.loss.item())
        if (step + 1) % 50 == 0:
            print(f"  [{name}] step {step + 1}/{steps} loss(avg50)={np.mean(losses[-50:]):.4f} ({time.time() - t0:.1f}s)")
    model.eval()
    return model


def train_models(tok, data_dir, work, steps_scale=1.0):
    g = data_dir / "glue"
    saved = {}

    # cls2 on SST-2 train
    sst = [(r[0], None, int(r[1])) for r in read_tsv(g / "SST-2/train.tsv", header=True)]
    m = make_model(2)
    train(m, tok, sst, int(400 * steps_scale), name="cls2/sst2")
    saved["bert-tiny-cls2"] = m

    # cls3 on RTE train with permuted named labels
    id2label = {0: "contradiction", 1: "entailment", 2: "neutral"}
    label2id = {v: k for k, v in id2label.items()}
    rte = []
    for i, r in enumerate(read_tsv(g / "RTE/train.tsv", header=True)):
        if r[3] == "entailment":
            name = "entailment"
        else:
            name = "contradiction" if i % 2 == 0 else "neutral"
        rte.append((r[1], r[2], label2id[name]))
    m = make_model(3, id2label=id2label)
    train(m, tok, rte, int(300 * steps_scale), name="cls3/rte")
    saved["bert-tiny-cls3"] = m

    # regression on STS-B train
    sts = [(r[7], r[8], float(r[-1])) for r in read_tsv(g / "STS-B/train.tsv", header=True)]
    m = make_model(1, problem_type="regression")
    # start the head at the mean score; without this the tiny model collapses to a constant output
    with torch.no_grad():
        m.classifier.bias.fill_(float(np.mean([e[2] for e in sts])))
    train(m, tok, sts, int(300 * steps_scale), regression=True, name="reg/stsb")
    saved["bert-tiny-reg"] = m

    dirs = {}
    for name, m in saved.items():
        d = work / name
        m.save_pretrained(d, safe_serialization=True)
        save_clean_tokenizer(tok, d)
        dirs[name] = d
    return saved, dirs


def export_onnx(src, dst):
    if dst.exists():
        shutil.rmtree(dst)
    cli = shutil.which("optimum-cli") or str(Path(sys.executable).parent / "optimum-cli")
    cmd = [cli, "export", "onnx", "--model", str(src), "--task", "text-classification", str(dst)]
    print("  $", " ".join(cmd[:1] + ["export", "onnx", "--model", "<tmp>/" + src.name, "--task", "text-classification", str(dst.relative_to(REPO_ROOT))]))
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        print(res.stdout, res.stderr, file=sys.stderr)
        raise SystemExit(f"optimum-cli export failed for {src}")
    tail = [l for l in (res.stdout + res.stderr).splitlines() if l.strip()][-4:]
    for l in tail:
        print("    |", l[:200])
    tj = json.loads((dst / "tokenizer.json").read_text("utf-8"))
    assert tj["truncation"] is None and tj["padding"] is None, f"{dst}: tokenizer.json carries truncation/padding"
    # drop anything big or unneeded (keep onnx graph, configs and tokenizer files)
    keep = {"model.onnx", "config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"}
    for p in list(dst.iterdir()):
        if p.name not in keep:
            print(f"    removing {p.name}")
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink()


def make_symlinks(models_dir):
    gt = models_dir / "glue-tiny"
    gt.mkdir(parents=True, exist_ok=True)
    for task, model in TASK_MODEL.items():
        link = gt / task
        if link.is_symlink() or link.exists():
            link.unlink()
        os.symlink(f"../{model}", link, target_is_directory=True)


# --------------------------------------------------------------------------------------------------
# Reference outputs
# --------------------------------------------------------------------------------------------------

def ids_sha256(ids):
    return hashlib.sha256(",".join(str(i) for i in ids).encode("utf-8")).hexdigest()


def label_from_index(task, idx, id2label):
    names = [id2label[i] for i in range(len(id2label))]
    generic = all(n == f"LABEL_{i}" for i, n in enumerate(names))
    task_labels = GLUE_LABELS[task]
    if generic:
        return task_labels[idx]
    n = names[idx].lower()
    for tl in task_labels:
        if tl.lower() == n:
            return tl
    raise ValueError(f"{task}: model label {names[idx]!r} not among {task_labels}")


def compute_metrics(task, rows):
    from scipy.stats import pearsonr, spearmanr
    from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

    n = len(rows)
    if task == "stsb":
        p = np.array([r["prediction"] for r in rows], dtype=np.float64)
        g = np.array([r["label"] for r in rows], dtype=np.float64)
        return {"pearson": float(pearsonr(p, g)[0]), "spearman": float(spearmanr(p, g)[0]), "n": n}
    if task == "ax":
        g = [1 if r["label"] == "entailment" else 0 for r in rows]
        p = [1 if r["prediction_binary"] == "entailment" else 0 for r in rows]
        return {"mcc": float(matthews_corrcoef(g, p)), "n": n}
    labels = GLUE_LABELS[task]
    g = [labels.index(r["label"]) for r in rows]
    p = [labels.index(r["prediction"]) for r in rows]
    if task == "cola":
        return {"mcc": float(matthews_corrcoef(g, p)), "n": n}
    if task == "mrpc":
        return {"accuracy": float(accuracy_score(g, p)), "f1": float(f1_score(g, p, pos_label=1)), "n": n}
    return {"accuracy": float(accuracy_score(g, p)), "n": n}


def encode(tok, a, b):
    if b is None:
        return tok(a, truncation="longest_first", max_length=512)
    return tok(a, b, truncation="longest_first", max_length=512)


def write_glue_references(tok, torch_models, onnx_dirs, data_dir, ref_dir):
    import onnxruntime as ort

    ref_dir.mkdir(parents=True, exist_ok=True)
    sessions = {}
    for name, d in onnx_dirs.items():
        so = ort.SessionOptions()
        so.intra_op_num_threads = 2
        sessions[name] = ort.InferenceSession(str(d / "model.onnx"), so, providers=["CPUExecutionProvider"])
    ort_diff = {name: 0.0 for name in onnx_dirs}
    ort_argmax_mismatch = {name: 0 for name in onnx_dirs}
    metrics = {}
    stats = {}
    torch.set_grad_enabled(False)
    for task in REFERENCE_TASKS:
        mname = TASK_MODEL[task]
        model = torch_models[mname]
        model.eval()
        sess = sessions[mname]
        in_names = [i.name for i in sess.get_inputs()]
        id2label = {int(k): v for k, v in model.config.id2label.items()}
        examples = load_glue_dev(task, data_dir)
        rows = []
        n_trunc = 0
        max_tok = 0
        min_margin = float("inf")
        t0 = time.time()
        for i, (a, b, gold) in enumerate(examples):
            enc = encode(tok, a, b)
            ids = enc["input_ids"]
            # did truncation happen?  compare with untruncated length
            full = tok(a, b)["input_ids"] if b is not None else tok(a)["input_ids"]
            if len(full) > len(ids):
                n_trunc += 1
            max_tok = max(max_tok, len(full))
            tt = enc.get("token_type_ids", [0] * len(ids))
            am = enc["attention_mask"]
            feeds_t = {
                "input_ids": torch.tensor([ids]),
                "attention_mask": torch.tensor([am]),
                "token_type_ids": torch.tensor([tt]),
            }
            logits = model(**feeds_t).logits[0].to(torch.float32).numpy()
            feeds_o = {
                "input_ids": np.array([ids], dtype=np.int64),
                "attention_mask": np.array([am], dtype=np.int64),
                "token_type_ids": np.array([tt], dtype=np.int64),
            }
            ologits = sess.run(None, {k: v for k, v in feeds_o.items() if k in in_names})[0][0]
            ort_diff[mname] = max(ort_diff[mname], float(np.max(np.abs(ologits.astype(np.float64) - logits.astype(np.float64)))))
            row = {"id": i, "n_tokens": len(ids), "ids_sha256": ids_sha256(ids), "logits": [float(x) for x in logits], "label": gold}
            if task == "stsb":
                row["prediction"] = float(logits[0])
            else:
                idx = int(np.argmax(logits))
                if int(np.argmax(ologits)) != idx:
                    ort_argmax_mismatch[mname] += 1
                srt = np.sort(logits.astype(np.float64))
                min_margin = min(min_margin, float(srt[-1] - srt[-2]))
                pred = label_from_index(task if task != "ax" else "mnli", idx, id2label)
                row["prediction"] = pred
                if task == "ax":
                    row["prediction_binary"] = "entailment" if pred == "entailment" else "not_entailment"
            rows.append(row)
        with open(ref_dir / f"{task}.jsonl", "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        metrics[task] = compute_metrics(task, rows)
        stats[task] = {"n": len(rows), "n_truncated_at_512": n_trunc, "max_untruncated_tokens": max_tok,
                       "min_top2_logit_margin": None if task == "stsb" else min_margin}
        print(f"  {task}: n={len(rows)} metrics={metrics[task]} truncated={n_trunc} max_tokens={max_tok} "
              f"min_top2_margin={stats[task]['min_top2_logit_margin']} ({time.time() - t0:.1f}s)")
    with open(ref_dir / "metrics.json", "w", encoding="utf-8") as f:
        json.dump(metrics, f, indent=2)
        f.write("\n")
    return metrics, stats, ort_diff, ort_argmax_mismatch


# --------------------------------------------------------------------------------------------------
# all-MiniLM-L6-v2 references
# --------------------------------------------------------------------------------------------------

def read_stsbenchmark(path):
    pairs = []
    for r in read_tsv(path, header=False):
        pairs.append((r[5], r[6], float(r[4])))
    return pairs


def minilm_references(minilm_dir, data_dir, out_dir):
    import onnxruntime as ort
    import sentence_transformers
    from scipy.stats import pearsonr, spearmanr
    from sentence_transformers import SentenceTransformer
    from transformers import AutoTokenizer

    out_dir.mkdir(parents=True, exist_ok=True)
    st = SentenceTransformer(str(minilm_dir), backend="onnx", device="cpu",
                             model_kwargs={"file_name": "onnx/model.onnx", "provider": "CPUExecutionProvider"},
                             local_files_only=True)
    st_max_len = int(st.max_seq_length)
    print(f"  sentence-transformers {sentence_transformers.__version__}: max_seq_length={st_max_len}")
    print(f"  modules: {[type(m).__name__ for m in st]}")

    tok = AutoTokenizer.from_pretrained(str(minilm_dir), local_files_only=True)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    sess = ort.InferenceSession(str(minilm_dir / "onnx/model.onnx"), so, providers=["CPUExecutionProvider"])
    in_names = [i.name for i in sess.get_inputs()]

    def ort_embed(sents, max_length, bs=64):
        embs = []
        for s in range(0, len(sents), bs):
            enc = tok(sents[s:s + bs], padding=True, truncation="longest_first", max_length=max_length, return_tensors="np")
            feeds = {k: enc[k].astype(np.int64) for k in in_names}
            hid = sess.run(None, feeds)[0].astype(np.float32)
            m = enc["attention_mask"].astype(np.float32)[..., None]
            pooled = (hid * m).sum(1) / np.clip(m.sum(1), 1e-9, None)
            pooled = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            embs.append(pooled)
        return np.concatenate(embs)

    summary = {
        "model": "all-MiniLM-L6-v2 (onnx/model.onnx)",
        "sentence_transformers_version": sentence_transformers.__version__,
        "sentence_transformers_max_seq_length": st_max_len,
        "tokenizer_json_truncation_max_length": 128,
        "tokenizer_json_padding": "Fixed(128)",
    }
    datasets = {
        "stsbenchmark_test": (data_dir / "stsbenchmark/sts-test.csv", read_stsbenchmark),
        "stsb_dev": (data_dir / "glue/STS-B/dev.tsv", lambda p: [(r[7], r[8], float(r[-1])) for r in read_tsv(p, header=True)]),
    }
    for key, (path, reader) in datasets.items():
        pairs = reader(path)
        s1 = [p[0] for p in pairs]
        s2 = [p[1] for p in pairs]
        gold = np.array([p[2] for p in pairs], dtype=np.float64)
        e1 = st.encode(s1, batch_size=64, convert_to_numpy=True, normalize_embeddings=False)
        e2 = st.encode(s2, batch_size=64, convert_to_numpy=True, normalize_embeddings=False)
        e1 = e1.astype(np.float64)
        e2 = e2.astype(np.float64)
        cos = (e1 * e2).sum(1) / (np.linalg.norm(e1, axis=1) * np.linalg.norm(e2, axis=1))
        fname = "stsbenchmark_test.jsonl" if key == "stsbenchmark_test" else "stsb_dev.jsonl"
        with open(out_dir / fname, "w", encoding="utf-8") as f:
            for i, (g, c) in enumerate(zip(gold, cos)):
                f.write(json.dumps({"id": i, "score": float(g), "cosine": float(c)}) + "\n")
        # token counts (untruncated, with [CLS]/[SEP])
        l1 = [len(x) for x in tok(s1, truncation=False)["input_ids"]]
        l2 = [len(x) for x in tok(s2, truncation=False)["input_ids"]]
        n_over_128 = sum(1 for a, b in zip(l1, l2) if a > 128 or b > 128)
        n_over_st = sum(1 for a, b in zip(l1, l2) if a > st_max_len or b > st_max_len)
        # direct onnxruntime at ST's max length and at tokenizer.json's 128
        res = {
            "n": len(pairs),
            "spearman": float(spearmanr(cos, gold)[0]),
            "pearson": float(pearsonr(cos, gold)[0]),
            "n_pairs_with_sentence_over_128_tokens": n_over_128,
            f"n_pairs_with_sentence_over_{st_max_len}_tokens": n_over_st,
            "max_sentence_tokens": int(max(l1 + l2)),
        }
        for ml in sorted({st_max_len, 128}):
            o1 = ort_embed(s1, ml).astype(np.float64)
            o2 = ort_embed(s2, ml).astype(np.float64)
            ocos = (o1 * o2).sum(1)
            res[f"ort_direct_max_len_{ml}"] = {
                "spearman": float(spearmanr(ocos, gold)[0]),
                "pearson": float(pearsonr(ocos, gold)[0]),
                "max_abs_cosine_diff_vs_sentence_transformers": float(np.max(np.abs(ocos - cos))),
            }
        summary[key] = res
        print(f"  {key}: ST spearman={res['spearman']:.6f} pearson={res['pearson']:.6f}; "
              + "; ".join(f"ORT(max_len {ml}) spearman={res[f'ort_direct_max_len_{ml}']['spearman']:.6f} "
                          f"maxdiff={res[f'ort_direct_max_len_{ml}']['max_abs_cosine_diff_vs_sentence_transformers']:.2e}"
                          for ml in sorted({st_max_len, 128}))
              + f"; pairs>128 tokens: {n_over_128}")
    with open(out_dir / "summary.json", "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    return summary


# --------------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=os.environ.get("EVALRUN_DATA_DIR", "../shared/data"),
                    help="evaluation data dir (default: $EVALRUN_DATA_DIR or ../shared/data, relative to repo root)")
    ap.add_argument("--vocab", default="../shared/tokenizers/bert-base-uncased/vocab.txt")
    ap.add_argument("--minilm-dir", default="../shared/models/all-MiniLM-L6-v2")
    ap.add_argument("--out", default="tests/fixtures")
    ap.add_argument("--steps-scale", type=float, default=1.0, help="scale the number of training steps")
    ap.add_argument("--skip-minilm", action="store_true")
    ap.add_argument("--only-minilm", action="store_true")
    args = ap.parse_args()

    data_dir = resolve(args.data_dir)
    vocab = resolve(args.vocab)
    minilm_dir = resolve(args.minilm_dir)
    out = resolve(args.out)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    seed_everything()

    import onnxruntime
    import transformers
    import tokenizers
    versions = {"python": sys.version.split()[0], "torch": torch.__version__, "transformers": transformers.__version__,
                "tokenizers": tokenizers.__version__, "onnxruntime": onnxruntime.__version__, "numpy": np.__version__}
    try:
        from importlib.metadata import version
        for pkg in ("optimum-onnx", "optimum", "onnx", "sentence-transformers", "scikit-learn", "scipy"):
            versions[pkg] = version(pkg)
    except Exception:
        pass
    print("versions:", versions)

    if not args.only_minilm:
        tok = make_tokenizer(vocab)
        with tempfile.TemporaryDirectory(prefix="evalrun-fixtures-") as tmp:
            work = Path(tmp)
            print("training tiny models ...")
            t0 = time.time()
            torch_models, dirs = train_models(tok, data_dir, work, args.steps_scale)
            print(f"training done in {time.time() - t0:.1f}s")
            models_dir = out / "models"
            models_dir.mkdir(parents=True, exist_ok=True)
            onnx_dirs = {}
            print("exporting with optimum-cli ...")
            for name, d in dirs.items():
                onnx_dirs[name] = models_dir / name
                export_onnx(d, onnx_dirs[name])
            make_symlinks(models_dir)
            # reload the saved weights so the reference uses exactly what was exported
            from transformers import BertForSequenceClassification
            torch_models = {name: BertForSequenceClassification.from_pretrained(d).eval() for name, d in dirs.items()}
            print("computing GLUE references ...")
            metrics, stats, ort_diff, ort_mis = write_glue_references(tok, torch_models, onnx_dirs, data_dir, out / "reference/glue")
        print("ORT vs torch max |logit diff| per model:", ort_diff)
        print("ORT vs torch argmax mismatches per model:", ort_mis)
        with open(out / "reference/glue/generation_info.json", "w", encoding="utf-8") as f:
            json.dump({"versions": versions, "seed": SEED, "ort_vs_torch_max_abs_logit_diff": ort_diff,
                       "ort_vs_torch_argmax_mismatches": ort_mis, "task_stats": stats}, f, indent=2)
            f.write("\n")

    if not args.skip_minilm:
        print("computing all-MiniLM-L6-v2 references ...")
        minilm_references(minilm_dir, data_dir, out / "reference/minilm")

    print("files:")
    for p in sorted(out.rglob("*")):
        if p.is_symlink():
            print(f"  {p.relative_to(REPO_ROOT)} -> {os.readlink(p)}")
        elif p.is_file():
            print(f"  {p.relative_to(REPO_ROOT)}  {p.stat().st_size} bytes")


if __name__ == "__main__":
    main()
