#!/usr/bin/env python3
"""Generate evalrun language-model fixtures: a tiny GPT-2 (real 50257-token vocabulary) exported to ONNX, plus
reference values computed by the reference implementations (lm-evaluation-harness's HFLM, and the transformers
perplexity-guide loop).

Produces, under tests/fixtures/ (relative to the repository root):

  models/gpt2-tiny/         optimum-cli export onnx --task text-generation           (no KV cache)
  models/gpt2-tiny-past/    optimum-cli export onnx --task text-generation-with-past (KV-cache inputs/outputs)
  reference/lm/wikitext2.jsonl, wikitext2_summary.json          lm-eval HFLM.loglikelihood_rolling per article
  reference/lm/lambada_openai.jsonl, lambada_openai_summary.json lm-eval HFLM.loglikelihood per example
  reference/lm/ptb_gpt2.json                                     Megatron ptb_detokenizer + HFLM rolling, whole file
  reference/lm/perplexity_ptb_stride256.json, ..._stride512.json transformers perplexity guide (strided windows)

Usage (from the repository root, inside a venv made from scripts/requirements-fixtures.txt):

  HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 python scripts/make_lm_fixtures.py

Paths default to ../shared/... relative to the repository root (--data-dir, env EVALRUN_DATA_DIR, and
--tokenizer-dir override them). Nothing is downloaded: the Hugging Face Hub is never contacted.
"""

import argparse
import hashlib
import importlib.util
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
SEED = 1234
EOT = 50256
MAX_LENGTH = 512
PTB_ORIGINAL_TOKENS = 82430  # whitespace-split words of ptb.test.txt + one per line (GPT-2 paper convention)

KEEP_FILES = [
    "model.onnx",
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
]

T0 = time.time()


def log(msg):
    print(f"[{time.time() - T0:7.1f}s] {msg}", flush=True)


def resolve(p):
    p = Path(p)
    return p if p.is_absolute() else (REPO_ROOT / p).resolve()


def set_seed(seed=SEED):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def write_json(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def write_jsonl(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


# ----------------------------------------------------------------------------------------------------------------
# Megatron-LM's PTB detokenizer. Megatron-LM is not pip-installable; this is transcribed verbatim from
# https://github.com/NVIDIA/Megatron-LM/blob/main/tasks/zeroshot_gpt/detokenizer.py (`ptb_detokenizer`).
# (It has no " @-@ " rule; that one belongs to its wikitext_detokenizer.)
def ptb_detokenizer(string):
    string = string.replace(" '", "'")
    string = string.replace(" \n", "\n")
    string = string.replace("\n ", "\n")
    string = string.replace(" n't", "n't")
    string = string.replace(" N ", "1 ")
    string = string.replace("$ 1", "$1")
    string = string.replace("# 1", "#1")
    return string


def load_lm_eval_wikitext_detokenizer():
    """Import lm-eval's own wikitext_detokenizer from the installed package (lm_eval/tasks is not a package)."""
    import lm_eval

    path = Path(lm_eval.__file__).parent / "tasks" / "wikitext" / "preprocess_wikitext.py"
    spec = importlib.util.spec_from_file_location("lm_eval_preprocess_wikitext", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.wikitext_detokenizer, path


def check_lambada_yaml():
    """Read lm-eval's lambada_openai task yaml and return its doc_to_text / doc_to_target templates."""
    import lm_eval

    path = Path(lm_eval.__file__).parent / "tasks" / "lambada" / "lambada_openai.yaml"
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        for key in ("doc_to_text", "doc_to_target", "output_type"):
            if line.startswith(key + ":"):
                out[key] = line.split(":", 1)[1].strip()
    return out, path


# ----------------------------------------------------------------------------------------------------------------
# Tokenizer / model


def make_tokenizer(tok_dir):
    from transformers import GPT2TokenizerFast

    tok = GPT2TokenizerFast(
        vocab_file=str(tok_dir / "vocab.json"),
        merges_file=str(tok_dir / "merges.txt"),
        tokenizer_file=str(tok_dir / "tokenizer.json"),
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
        model_max_length=MAX_LENGTH,
    )
    assert len(tok) == 50257 and tok.eos_token_id == EOT and tok.bos_token_id == EOT
    return tok


def clean_tokenizer(tok):
    tok._tokenizer.no_truncation()
    tok._tokenizer.no_padding()


def train_model(tok, data_dir, steps, out_dir):
    from transformers import GPT2Config, GPT2LMHeadModel

    set_seed()
    cfg = GPT2Config(
        vocab_size=50257,
        n_positions=MAX_LENGTH,
        n_embd=16,
        n_layer=2,
        n_head=2,
        tie_word_embeddings=True,
        bos_token_id=EOT,
        eos_token_id=EOT,
    )
    model = GPT2LMHeadModel(cfg)

    texts = [(data_dir / "lm" / "ptb" / "ptb.valid.txt").read_text(encoding="utf-8")]
    with open(data_dir / "lm" / "lambada" / "lambada_test.jsonl", encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i >= 2000:
                break
            texts.append(json.loads(line)["text"])
    ids = []
    for t in texts:
        ids.extend(tok(t, add_special_tokens=False)["input_ids"])
        ids.append(EOT)
    seq = 128
    n_chunks = len(ids) // seq
    data = torch.tensor(ids[: n_chunks * seq], dtype=torch.long).view(n_chunks, seq)
    log(f"training data: {len(ids)} tokens, {n_chunks} chunks of {seq}")

    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    warm = 20
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    )
    g = torch.Generator().manual_seed(SEED)
    model.train()
    losses = []
    t = time.time()
    for step in range(steps):
        idx = torch.randint(0, n_chunks, (8,), generator=g)
        batch = data[idx]
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        losses.append(loss.item())
        if step % 25 == 0 or step == steps - 1:
            log(f"step {step:4d} loss {loss.item():.4f}")
    log(f"training took {time.time() - t:.1f}s")
    model.eval()
    model.config.use_cache = True
    clean_tokenizer(tok)
    model.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    tj = json.loads((out_dir / "tokenizer.json").read_text(encoding="utf-8"))
    assert tj["truncation"] is None and tj["padding"] is None, "tokenizer.json has truncation/padding baked in"
    return model, losses


def export_onnx(model_dir, task, out_dir, tok_dir):
    cli = shutil.which("optimum-cli") or str(Path(sys.executable).parent / "optimum-cli")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    cmd = [cli, "export", "onnx", "--model", str(model_dir), "--task", task, str(out_dir)]
    log("running: " + " ".join(cmd))
    t = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stdout[-4000:], r.stderr[-8000:])
        raise SystemExit(f"optimum-cli failed for {task}")
    log(f"export {task} took {time.time() - t:.1f}s")
    exported = sorted(p.name for p in out_dir.iterdir())
    for p in out_dir.iterdir():
        if p.name not in KEEP_FILES:
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink()
    kept = sorted(p.name for p in out_dir.iterdir())
    for name in KEEP_FILES:
        assert (out_dir / name).exists(), f"{out_dir / name} missing"
    # save_pretrained writes tokenizer.json pretty-printed with list-form merges (3.6 MB). Replace it with the
    # original compact GPT-2 tokenizer.json (1.4 MB) after checking that the two are the same tokenizer.
    from tokenizers import Tokenizer

    ours = json.loads((out_dir / "tokenizer.json").read_text(encoding="utf-8"))
    orig = json.loads((tok_dir / "tokenizer.json").read_text(encoding="utf-8"))
    assert ours["truncation"] is None and ours["padding"] is None
    assert ours["model"]["vocab"] == orig["model"]["vocab"] and ours["added_tokens"] == orig["added_tokens"]
    assert [m.split(" ") if isinstance(m, str) else m for m in orig["model"]["merges"]] == ours["model"]["merges"]
    sample = "Hello world!\n\n It's 3.5 km -- café\t<|endoftext|> ok  ."
    a = Tokenizer.from_file(str(out_dir / "tokenizer.json")).encode(sample)
    shutil.copyfile(tok_dir / "tokenizer.json", out_dir / "tokenizer.json")
    b = Tokenizer.from_file(str(out_dir / "tokenizer.json")).encode(sample)
    assert a.ids == b.ids and a.offsets == b.offsets
    tj = json.loads((out_dir / "tokenizer.json").read_text(encoding="utf-8"))
    assert tj["truncation"] is None and tj["padding"] is None
    size = sum(p.stat().st_size for p in out_dir.iterdir())
    log(f"{out_dir.name}: exported {exported}; kept {kept}; {size / 1e6:.2f} MB")
    # Floor: the 50257x16 fp32 embedding (3.2 MB) + the real GPT-2 tokenizer.json (1.4 MB).
    assert size < 5.0e6, f"{out_dir} is {size} bytes"
    return exported


def onnx_signature(path):
    import onnx

    m = onnx.load(str(path), load_external_data=False)

    def desc(v):
        tt = v.type.tensor_type
        dims = [d.dim_param if d.dim_param else d.dim_value for d in tt.shape.dim]
        return {"name": v.name, "dtype": onnx.TensorProto.DataType.Name(tt.elem_type).lower(), "shape": dims}

    return {
        "opset": [(o.domain or "ai.onnx", o.version) for o in m.opset_import],
        "inputs": [desc(v) for v in m.graph.input],
        "outputs": [desc(v) for v in m.graph.output],
        "initializers": len(m.graph.initializer),
    }


def verify_ort(model, tok, onnx_dir, sig):
    import onnxruntime as ort

    text = "The quick brown fox jumps over the lazy dog because it was n't tired , said the man in New York ."
    ids = tok(text, add_special_tokens=False)["input_ids"][:20]
    assert len(ids) == 20
    input_ids = torch.tensor([ids])
    with torch.no_grad():
        ref = model(input_ids=input_ids).logits.float().numpy()
    sess = ort.InferenceSession(str(onnx_dir / "model.onnx"), providers=["CPUExecutionProvider"])
    feeds = {}
    cfg = model.config
    head_dim = cfg.n_embd // cfg.n_head
    for inp in sess.get_inputs():
        if inp.name == "input_ids":
            feeds[inp.name] = np.array([ids], dtype=np.int64)
        elif inp.name == "attention_mask":
            feeds[inp.name] = np.ones((1, 20), dtype=np.int64)
        elif inp.name == "position_ids":
            feeds[inp.name] = np.arange(20, dtype=np.int64)[None, :]
        elif inp.name.startswith("past_key_values"):
            feeds[inp.name] = np.zeros((1, cfg.n_head, 0, head_dim), dtype=np.float32)
        elif inp.name == "use_cache_branch":
            feeds[inp.name] = np.array([False])
        else:
            raise ValueError(f"unexpected input {inp.name}")
    outs = sess.run(None, feeds)
    names = [o.name for o in sess.get_outputs()]
    logits = outs[names.index("logits")]
    diff = float(np.abs(logits - ref).max())
    shapes = {n: list(o.shape) for n, o in zip(names, outs)}
    log(f"ORT vs torch ({onnx_dir.name}): max abs logit diff {diff:.3e}; output shapes {shapes}")
    assert diff < 1e-3, diff
    return {"max_abs_logit_diff": diff, "output_shapes_20_tokens": shapes, "argmax_equal": bool(
        (logits.argmax(-1) == ref.argmax(-1)).all())}


# ----------------------------------------------------------------------------------------------------------------
# Reference values


def split_wikitext_articles(raw):
    """Cut wiki.test.tokens into articles at top-level headings (" = Title = " between blank " " lines)."""
    lines = raw.splitlines(keepends=True)
    heading = re.compile(r"^ = [^=].* = $")

    def blank(i):
        return 0 <= i < len(lines) and lines[i].rstrip("\n").strip() == ""

    headings = []
    rejected = []
    for i, line in enumerate(lines):
        s = line.rstrip("\n")
        if heading.match(s):
            if blank(i - 1) and blank(i + 1):
                headings.append(i)
            else:
                rejected.append((i, s))
    # The first article starts at offset 0 (the file's leading blank line belongs to it), every later one at
    # its heading line (so the blank line before a heading ends the previous article).
    starts = [0] + headings[1:]
    articles = []
    for k, st in enumerate(starts):
        en = starts[k + 1] if k + 1 < len(starts) else len(lines)
        articles.append((st, "".join(lines[st:en])))
    assert "".join(a for _, a in articles) == raw
    return articles, rejected


def make_hflm(model, tok):
    from lm_eval.models.huggingface import HFLM

    lm = HFLM(
        pretrained=model,
        tokenizer=tok,
        max_length=MAX_LENGTH,
        batch_size=1,
        device="cpu",
        softmax_dtype="float64",
    )
    return lm


def rolling(lm, texts):
    from lm_eval.api.instance import Instance

    reqs = [
        Instance(request_type="loglikelihood_rolling", doc={}, arguments=(t,), idx=i) for i, t in enumerate(texts)
    ]
    return lm.loglikelihood_rolling(reqs, disable_tqdm=True)


def ref_wikitext(lm, tok, data_dir, out_dir, info):
    t = time.time()
    raw = (data_dir / "lm" / "wikitext-2" / "wiki.test.tokens").read_text(encoding="utf-8")
    lines = raw.splitlines(keepends=True)
    blanks = {}
    for ln in lines:
        s = ln.rstrip("\n")
        if s.strip() == "":
            blanks[repr(s)] = blanks.get(repr(s), 0) + 1
    articles, rejected = split_wikitext_articles(raw)
    detok, detok_path = load_lm_eval_wikitext_detokenizer()
    log(f"wikitext: {len(lines)} lines, blank-line forms {blanks}; {len(articles)} articles; "
        f"rejected heading-like lines {rejected}; detokenizer from {detok_path}")
    assert len(articles) == 60, len(articles)
    pages = [a for _, a in articles]
    targets = [detok({"page": p}) for p in pages]
    lls = rolling(lm, targets)
    rows = []
    for i, ((first_line, page), target, ll) in enumerate(zip(articles, targets, lls)):
        ntok = len(tok(target, add_special_tokens=False)["input_ids"])
        assert ntok == len(lm.tok_encode(target))
        rows.append({
            "id": i,
            "first_line": first_line,
            "loglikelihood": float(ll),
            "tokens": ntok,
            "words": len(re.split(r"\s+", page)),
            "bytes": len(page.encode("utf-8")),
        })
    write_jsonl(out_dir / "wikitext2.jsonl", rows)
    sll = sum(r["loglikelihood"] for r in rows)
    sw = sum(r["words"] for r in rows)
    sb = sum(r["bytes"] for r in rows)
    st = sum(r["tokens"] for r in rows)
    summary = {
        "articles": len(rows),
        "loglikelihood": sll,
        "words": sw,
        "bytes": sb,
        "tokens": st,
        "word_perplexity": math.exp(-sll / sw),
        "byte_perplexity": math.exp(-sll / sb),
        "bits_per_byte": -sll / sb / math.log(2),
        "token_perplexity": math.exp(-sll / st),
        "max_length": MAX_LENGTH,
    }
    write_json(out_dir / "wikitext2_summary.json", summary)
    info["wikitext"] = {
        "lines": len(lines),
        "blank_line_forms": blanks,
        "rejected_heading_like_lines": rejected,
        "first_lines": [r["first_line"] for r in rows],
        "summary": summary,
        "seconds": time.time() - t,
    }
    log(f"wikitext: {summary} ({time.time() - t:.1f}s)")


def ref_lambada(lm, data_dir, out_dir, info):
    from lm_eval.api.instance import Instance

    t = time.time()
    yaml_templates, yaml_path = check_lambada_yaml()
    log(f"lambada_openai yaml {yaml_path}: {yaml_templates}")
    docs = []
    with open(data_dir / "lm" / "lambada" / "lambada_test.jsonl", encoding="utf-8") as f:
        for line in f:
            docs.append(json.loads(line)["text"])
    reqs = []
    pairs = []
    for i, text in enumerate(docs):
        context, last = text.rsplit(" ", 1)
        continuation = " " + last
        # lm-eval's Jinja templates: {{text.split(' ')[:-1]|join(' ')}} and {{' '+text.split(' ')[-1]}}
        assert context == " ".join(text.split(" ")[:-1]) and continuation == " " + text.split(" ")[-1]
        pairs.append((context, continuation))
        reqs.append(Instance(request_type="loglikelihood", doc={"text": text}, arguments=(context, continuation),
                             idx=0))
    res = lm.loglikelihood(reqs, disable_tqdm=True)
    rows = []
    for i, ((ctx, cont), (ll, greedy)) in enumerate(zip(pairs, res)):
        _, cont_enc = lm._encode_pair(ctx, cont)
        rows.append({"id": i, "loglikelihood": float(ll), "greedy": bool(greedy),
                     "continuation_tokens": len(cont_enc)})
    write_jsonl(out_dir / "lambada_openai.jsonl", rows)
    lls = [r["loglikelihood"] for r in rows]
    summary = {
        "examples": len(rows),
        "accuracy": sum(r["greedy"] for r in rows) / len(rows),
        "perplexity": math.exp(-sum(lls) / len(lls)),
        "mean_loglikelihood": sum(lls) / len(lls),
        "max_length": MAX_LENGTH,
    }
    write_json(out_dir / "lambada_openai_summary.json", summary)
    info["lambada"] = {"yaml": yaml_templates, "summary": summary, "seconds": time.time() - t}
    log(f"lambada: {summary} ({time.time() - t:.1f}s)")


def ref_ptb(lm, tok, data_dir, out_dir, info):
    t = time.time()
    raw = (data_dir / "lm" / "ptb" / "ptb.test.txt").read_text(encoding="utf-8")
    original_tokens = len(raw.split()) + raw.count("\n")
    assert original_tokens == PTB_ORIGINAL_TOKENS, original_tokens
    text = ptb_detokenizer(raw)
    (ll,) = rolling(lm, [text])
    ntok = len(tok(text, add_special_tokens=False)["input_ids"])
    out = {
        "loglikelihood": float(ll),
        "tokens": ntok,
        "original_tokens": original_tokens,
        "word_perplexity": math.exp(-ll / original_tokens),
        "token_perplexity": math.exp(-ll / ntok),
        "detokenized_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "detokenized_chars": len(text),
        "max_length": MAX_LENGTH,
        "detokenizer": "Megatron-LM tasks/zeroshot_gpt/detokenizer.py ptb_detokenizer",
    }
    write_json(out_dir / "ptb_gpt2.json", out)
    info["ptb_gpt2"] = dict(out, seconds=time.time() - t)
    log(f"ptb_gpt2: {out} ({time.time() - t:.1f}s)")


def perplexity_guide(model, ids, max_length, stride):
    """The loop from transformers docs/source/en/perplexity.md (nll_sum / n_tokens version)."""
    encodings_input_ids = torch.tensor([ids], dtype=torch.long)
    seq_len = encodings_input_ids.size(1)
    nll_sum = 0.0
    n_tokens = 0
    prev_end_loc = 0
    for begin_loc in range(0, seq_len, stride):
        end_loc = min(begin_loc + max_length, seq_len)
        trg_len = end_loc - prev_end_loc  # may be different from stride on last loop
        input_ids = encodings_input_ids[:, begin_loc:end_loc]
        target_ids = input_ids.clone()
        target_ids[:, :-trg_len] = -100

        with torch.no_grad():
            outputs = model(input_ids, labels=target_ids)
            # loss is averaged over the valid labels; the model shifts labels left by 1 internally
            neg_log_likelihood = outputs.loss

        num_valid_tokens = (target_ids != -100).sum().item()
        batch_size = target_ids.size(0)
        num_loss_tokens = num_valid_tokens - batch_size  # subtract batch_size due to internal label shift
        nll_sum += neg_log_likelihood * num_loss_tokens
        n_tokens += num_loss_tokens

        prev_end_loc = end_loc
        if end_loc == seq_len:
            break

    avg_nll = nll_sum / n_tokens
    ppl = torch.exp(avg_nll)
    return float(nll_sum), int(n_tokens), float(ppl)


def ref_perplexity_guide(model, tok, data_dir, out_dir, info):
    raw = (data_dir / "lm" / "ptb" / "ptb.test.txt").read_text(encoding="utf-8")
    ids = tok(raw, add_special_tokens=False)["input_ids"]
    for stride in (256, 512):
        t = time.time()
        nll_sum, n_tokens, ppl = perplexity_guide(model, ids, MAX_LENGTH, stride)
        out = {"nll_sum": nll_sum, "n_tokens": n_tokens, "perplexity": ppl, "max_length": MAX_LENGTH,
               "stride": stride, "total_tokens": len(ids)}
        write_json(out_dir / f"perplexity_ptb_stride{stride}.json", out)
        info[f"perplexity_stride{stride}"] = dict(out, seconds=time.time() - t)
        log(f"perplexity guide stride {stride}: {out} ({time.time() - t:.1f}s)")


# ----------------------------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=os.environ.get("EVALRUN_DATA_DIR", "../shared/data"))
    ap.add_argument("--tokenizer-dir", default="../shared/tokenizers/gpt2")
    ap.add_argument("--out-dir", default="tests/fixtures")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--work-dir", default=None,
                    help="keep the trained PyTorch model here (default: a temporary directory, deleted)")
    ap.add_argument("--reuse-model", action="store_true",
                    help="load the PyTorch model from --work-dir instead of training it")
    ap.add_argument("--skip-export", action="store_true")
    ap.add_argument("--skip-reference", action="store_true")
    ap.add_argument("--info-json", default=None, help="also write run details (signatures, timings) here")
    args = ap.parse_args()

    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    data_dir = resolve(args.data_dir)
    tok_dir = resolve(args.tokenizer_dir)
    out = resolve(args.out_dir)
    models_dir = out / "models"
    ref_dir = out / "reference" / "lm"

    import lm_eval
    import onnx
    import onnxruntime
    import optimum.version
    import transformers

    info = {"versions": {
        "python": sys.version.split()[0], "torch": torch.__version__, "transformers": transformers.__version__,
        "lm_eval": getattr(lm_eval, "__version__", None), "optimum": optimum.version.__version__,
        "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__, "numpy": np.__version__,
    }}
    try:
        from importlib.metadata import version
        for pkg in ("lm-eval", "accelerate", "optimum-onnx", "tokenizers", "datasets", "huggingface_hub"):
            info["versions"][pkg] = version(pkg)
    except Exception as e:  # pragma: no cover
        log(f"version lookup failed: {e}")
    log(f"versions: {info['versions']}")

    tmp = None
    if args.work_dir:
        work = resolve(args.work_dir)
        work.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="evalrun-gpt2-tiny-")
        work = Path(tmp.name)
    try:
        from transformers import GPT2LMHeadModel

        if args.reuse_model:
            model = GPT2LMHeadModel.from_pretrained(work)
            model.eval()
            tok = make_tokenizer(tok_dir)
            log(f"reused model from {work}")
        else:
            tok = make_tokenizer(tok_dir)
            model, losses = train_model(tok, data_dir, args.steps, work)
            info["train"] = {"steps": args.steps, "first_loss": losses[0], "last_loss": losses[-1],
                             "mean_last_20": sum(losses[-20:]) / 20,
                             "curve_every_25": [round(x, 4) for x in losses[::25]]}
        if not args.skip_export:
            info["exports"] = {}
            for task, name in (("text-generation", "gpt2-tiny"), ("text-generation-with-past", "gpt2-tiny-past")):
                d = models_dir / name
                exported = export_onnx(work, task, d, tok_dir)
                sig = onnx_signature(d / "model.onnx")
                log(f"{name} signature: {json.dumps(sig)}")
                ver = verify_ort(model, tok, d, sig)
                info["exports"][name] = {"task": task, "exported_files": exported, "signature": sig,
                                         "files": {p.name: p.stat().st_size for p in sorted(d.iterdir())}, **ver}

        if not args.skip_reference:
            clean_tokenizer(tok)
            lm = make_hflm(model, tok)
            info["hflm"] = {"prefix_token_id": lm.prefix_token_id, "eot_token_id": lm.eot_token_id,
                            "max_length": lm.max_length, "add_bos_token": lm.add_bos_token,
                            "backend": lm.backend, "softmax_dtype": str(lm.softmax_dtype)}
            log(f"HFLM: {info['hflm']}")
            ref_wikitext(lm, tok, data_dir, ref_dir, info)
            ref_lambada(lm, data_dir, ref_dir, info)
            ref_ptb(lm, tok, data_dir, ref_dir, info)
            ref_perplexity_guide(model, tok, data_dir, ref_dir, info)
    finally:
        if tmp is not None:
            tmp.cleanup()

    if args.info_json:
        write_json(resolve(args.info_json), info)
    log("done")


if __name__ == "__main__":
    main()
