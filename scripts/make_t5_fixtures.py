#!/usr/bin/env python3
"""Generate evalrun's T5 text-to-text fixtures: a tiny T5 with a SentencePiece unigram vocabulary trained here,
exported by optimum-cli with past, and transformers' `generate` outputs on every dev example as the reference.

The real T5 `spiece.model` cannot be downloaded here, so the script trains a SentencePiece unigram model on local
text (GLUE train files, SuperGLUE and SQuAD dev text) with T5's settings (pad 0, eos 1, unk 2, no bos, nmt_nfkc
normalisation) and converts it with transformers' T5 converter: the tokenizer code path evalrun runs (Precompiled
normaliser, Metaspace pre-tokenizer, Unigram model, `</s>` appended, 100 `<extra_id_*>` tokens) is the real one.

Steps:
  1. `scripts/t5_reference.py inputs` (T5's own preprocessors, under TensorFlow, in its own venv) must have
     written target/t5-reference/<task>.jsonl: the model inputs and targets of every dev example.
  2. This script trains the vocabulary and a tiny T5 (d_model 64, 2+2 layers) for a few minutes on the T5-format
     train examples (GLUE train files; SuperGLUE and SQuAD only have dev files here, so half of each dev set is
     used for training — the fixture has to emit label words, not generalise), exports it with
     `optimum-cli export onnx --task text2text-generation-with-past`, and records:
       tests/fixtures/models/t5-tiny/                  the export (encoder, decoder, decoder with past, merged)
       tests/fixtures/reference/t5/generate.jsonl      greedy `generate` output for every example of every task
       tests/fixtures/reference/t5/beam.jsonl          beam search (4 beams, length penalty 0.6) on a subset
       tests/fixtures/reference/t5/rank.jsonl          per-label log-likelihoods (rank classification) on a subset
  3. `scripts/t5_reference.py metrics --outputs tests/fixtures/reference/t5/generate.jsonl
     --out tests/fixtures/reference/t5/metrics.json` computes T5's metrics on those outputs.

Usage (fixtures venv, scripts/requirements-fixtures.txt):  python scripts/make_t5_fixtures.py
"""

import argparse
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
MAX_INPUT = 512
VOCAB = 3000
T0 = time.time()

GLUE = ["cola", "sst2", "mrpc", "stsb", "qnli", "rte", "wnli"]
SUPERGLUE = ["boolq", "cb", "copa", "multirc", "wic", "superglue_rte"]
MAX_NEW = {"squad_v1": 32}
KEEP = ["encoder_model.onnx", "decoder_model.onnx", "decoder_with_past_model.onnx", "decoder_model_merged.onnx",
        "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
        "special_tokens_map.json"]


def log(msg):
    print(f"[{time.time() - T0:7.1f}s] {msg}", flush=True)


def set_seed(seed=SEED):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def write_jsonl(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def tsv(path, header=True):
    import csv

    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return rows[1:] if header else rows


def train_pairs(data, refs):
    """T5-format (input, target) training pairs. Formats follow T5's preprocessors (PROTOCOLS.md §3)."""
    pairs = []
    for r in tsv(data / "glue/CoLA/train.tsv", header=False):
        pairs.append((f"cola sentence: {r[3]}", ["unacceptable", "acceptable"][int(r[1])]))
    for r in tsv(data / "glue/SST-2/train.tsv")[:8000]:
        pairs.append((f"sst2 sentence: {r[0]}", ["negative", "positive"][int(r[1])]))
    for r in tsv(data / "glue/MRPC/senteval_tokenized/msr_paraphrase_train.txt"):
        pairs.append((f"mrpc sentence1: {r[3]} sentence2: {r[4]}", ["not_equivalent", "equivalent"][int(r[0])]))
    for r in tsv(data / "glue/STS-B/train.tsv"):
        label = np.float32(r[9])
        pairs.append((f"stsb sentence1: {r[7]} sentence2: {r[8]}", f"{float(np.round(label * 5) / 5):.1f}"))
    for r in tsv(data / "glue/RTE/train.tsv"):
        pairs.append((f"rte sentence1: {r[1]} sentence2: {r[2]}", r[3]))
    # Dev-only sets: train on the first half (by id parity, so every task keeps examples of each label).
    for task, rows in refs.items():
        if task in ("cola", "sst2", "mrpc", "stsb", "rte"):
            continue
        for r in rows:
            if r["id"] % 2 == 0:
                pairs.append((r["input"], r["target"]))
    return pairs


def train_tokenizer(data, refs, out_dir):
    import sentencepiece as spm

    corpus = out_dir / "corpus.txt"
    lines = []
    for path, cols, header in [("glue/CoLA/train.tsv", [3], False), ("glue/SST-2/train.tsv", [0], True),
                               ("glue/STS-B/train.tsv", [7, 8], True), ("glue/RTE/train.tsv", [1, 2], True),
                               ("glue/MRPC/senteval_tokenized/msr_paraphrase_train.txt", [3, 4], True)]:
        for r in tsv(data / path, header):
            lines.extend(r[c] for c in cols)
    for rows in refs.values():
        for r in rows[::3]:
            lines.append(r["input"])
            lines.append(r["target"])
    random.Random(SEED).shuffle(lines)
    corpus.write_text("\n".join(l.replace("\n", " ") for l in lines) + "\n", encoding="utf-8")
    prefix = out_dir / "spiece"
    spm.SentencePieceTrainer.train(
        input=str(corpus), model_prefix=str(prefix), vocab_size=VOCAB, model_type="unigram",
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, pad_piece="<pad>", eos_piece="</s>", unk_piece="<unk>",
        normalization_rule_name="nmt_nfkc", character_coverage=0.9995, input_sentence_size=200000,
        shuffle_input_sentence=True, seed_sentencepiece_size=200000, num_threads=2, minloglevel=2,
        max_sentence_length=20000,
    )
    log(f"sentencepiece unigram vocabulary: {VOCAB} pieces")
    return prefix.with_suffix(".model")


def build_model(vocab_size):
    from transformers import T5Config, T5ForConditionalGeneration

    config = T5Config(
        vocab_size=vocab_size, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_decoder_layers=2, num_heads=4,
        relative_attention_num_buckets=32, relative_attention_max_distance=128, dropout_rate=0.0,
        feed_forward_proj="relu", tie_word_embeddings=True, decoder_start_token_id=0, pad_token_id=0,
        eos_token_id=1, is_encoder_decoder=True,
    )
    set_seed()
    return T5ForConditionalGeneration(config)


def train(model, tok, pairs, steps, batch_size=32, max_in=128, max_out=12):
    set_seed()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 100) * max(0.05, 1 - s / steps))
    rng = random.Random(SEED)
    model.train()
    t = time.time()
    for step in range(steps):
        batch = [pairs[rng.randrange(len(pairs))] for _ in range(batch_size)]
        enc = tok([b[0] for b in batch], max_length=max_in, truncation=True, padding=True, return_tensors="pt")
        lab = tok([b[1] for b in batch], max_length=max_out, truncation=True, padding=True, return_tensors="pt")
        labels = lab.input_ids.masked_fill(lab.attention_mask == 0, -100)
        loss = model(input_ids=enc.input_ids, attention_mask=enc.attention_mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        if step % 200 == 0 or step == steps - 1:
            log(f"step {step}/{steps} loss {loss.item():.3f} ({time.time() - t:.0f}s)")
    model.eval()


def export(model_dir, out_dir):
    cli = shutil.which("optimum-cli") or str(Path(sys.executable).parent / "optimum-cli")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    cmd = [cli, "export", "onnx", "--model", str(model_dir), "--task", "text2text-generation-with-past",
           str(out_dir)]
    log("running: " + " ".join(cmd))
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stdout[-4000:], r.stderr[-8000:])
        raise SystemExit("optimum-cli failed")
    log("exported: " + ", ".join(sorted(p.name for p in out_dir.iterdir())))
    for p in out_dir.iterdir():
        if p.name not in KEEP:
            shutil.rmtree(p) if p.is_dir() else p.unlink()


@torch.no_grad()
def generate_all(model, tok, rows, max_new, batch_size=64, **kw):
    """transformers `generate` (greedy unless kw says otherwise), longest inputs first, outputs in input order."""
    order = sorted(range(len(rows)), key=lambda i: -len(rows[i]["input"]))
    outputs = [None] * len(rows)
    for s in range(0, len(order), batch_size):
        idx = order[s:s + batch_size]
        enc = tok([rows[i]["input"] for i in idx], max_length=MAX_INPUT, truncation=True, padding=True,
                  return_tensors="pt")
        out = model.generate(**enc, max_new_tokens=max_new, do_sample=False, **kw)
        for i, seq in zip(idx, out):
            outputs[i] = tok.decode(seq, skip_special_tokens=True).strip()
    return outputs


@torch.no_grad()
def label_loglikelihoods(model, tok, row, labels):
    """Σ log p(label tokens + </s>) given the input: what T5's rank_classification scores."""
    enc = tok([row["input"]], max_length=MAX_INPUT, truncation=True, return_tensors="pt")
    out = []
    for label in labels:
        ids = tok([label], return_tensors="pt").input_ids
        logits = model(**enc, labels=ids).logits.double()
        logp = torch.log_softmax(logits, -1)[0].gather(-1, ids[0][:, None])[:, 0]
        out.append(float(logp.sum()))
    return out


LABELS = {
    "cola": ["unacceptable", "acceptable"], "sst2": ["negative", "positive"],
    "mrpc": ["not_equivalent", "equivalent"], "qnli": ["entailment", "not_entailment"],
    "rte": ["entailment", "not_entailment"], "wnli": ["not_entailment", "entailment"],
    "boolq": ["False", "True"], "cb": ["entailment", "contradiction", "neutral"], "copa": ["choice1", "choice2"],
    "multirc": ["False", "True"], "wic": ["False", "True"], "superglue_rte": ["entailment", "not_entailment"],
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=os.environ.get("EVALRUN_DATA_DIR", str(REPO_ROOT / "../shared/data")))
    parser.add_argument("--inputs", default=str(REPO_ROOT / "target/t5-reference"))
    parser.add_argument("--steps", type=int, default=2500)
    parser.add_argument("--only-references", action="store_true",
                        help="reuse tests/fixtures/models/t5-tiny and recompute the reference outputs only")
    args = parser.parse_args()
    torch.set_num_threads(2)
    data = Path(args.data_dir)
    inputs = Path(args.inputs)
    tasks = GLUE + SUPERGLUE + ["squad_v1"]
    refs = {t: read_jsonl(inputs / f"{t}.jsonl") for t in tasks}
    out_dir = REPO_ROOT / "tests/fixtures/models/t5-tiny"
    ref_dir = REPO_ROOT / "tests/fixtures/reference/t5"

    from transformers import T5ForConditionalGeneration, T5TokenizerFast

    torch_dir = REPO_ROOT / "target/t5-tiny-torch"
    if not args.only_references:
        with tempfile.TemporaryDirectory() as tmp:
            spiece = train_tokenizer(data, refs, Path(tmp))
            # The slow → fast conversion is transformers' own (convert_slow_tokenizer.T5Converter).
            tok = T5TokenizerFast(vocab_file=str(spiece), extra_ids=100)
            model = build_model(len(tok))
            train(model, tok, train_pairs(data, refs), args.steps)
            model.save_pretrained(torch_dir)
            tok.save_pretrained(torch_dir)
        export(torch_dir, out_dir)
    tok = T5TokenizerFast.from_pretrained(out_dir)
    model = T5ForConditionalGeneration.from_pretrained(torch_dir).eval()
    generated = []
    for task in tasks:
        t = time.time()
        outs = generate_all(model, tok, refs[task], MAX_NEW.get(task, 8))
        generated.extend({"task": task, "id": r["id"], "output": o} for r, o in zip(refs[task], outs))
        correct = sum(o == r["target"] for r, o in zip(refs[task], outs))
        log(f"{task}: {len(outs)} generated in {time.time() - t:.1f}s, {correct} equal to the target")
    write_jsonl(ref_dir / "generate.jsonl", generated)

    beam = []
    for task, n in [("squad_v1", 40), ("rte", 40), ("stsb", 40)]:
        rows = refs[task][:n]
        outs = generate_all(model, tok, rows, MAX_NEW.get(task, 8), batch_size=8, num_beams=4, length_penalty=0.6,
                            early_stopping=False)
        beam.extend({"task": task, "id": r["id"], "output": o} for r, o in zip(rows, outs))
    write_jsonl(ref_dir / "beam.jsonl", beam)

    rank = []
    for task in ["rte", "cb", "copa", "boolq"]:
        for r in refs[task][:40]:
            rank.append({"task": task, "id": r["id"], "loglikelihoods": label_loglikelihoods(model, tok, r,
                                                                                            LABELS[task])})
    write_jsonl(ref_dir / "rank.jsonl", rank)
    log("done")


if __name__ == "__main__":
    main()
