"""Causal-LM throughput: evalrun vs lm-eval's HF backend vs a transformers loop, same model,
data and threads, on a full-size GPT-2 architecture (124M: 12 layers, 768 hidden, context 1024,
the real 50257-token vocabulary) with seeded random weights — the cost is the real one. The
model is built and exported here (optimum-cli, `text-generation`), never committed.

Workloads: the first --articles WikiText-2 test articles (lm-eval `wikitext` protocol: rolling
log-likelihood, disjoint windows of 1024) and the first --lambada LAMBADA examples
(`lambada_openai`: log-likelihood of " " + last word). Reported: scored tokens/s (WikiText) and
examples/s (LAMBADA), ratios, and evalrun's peak resident memory (GNU time, max RSS).

Usage (repository root, fixtures venv, release build present):
  python scripts/bench_lm.py --threads 2 --articles 4 --lambada 300
"""

import argparse
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent


def args_():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--articles", type=int, default=4)
    p.add_argument("--lambada", type=int, default=300)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--tokenizer", default=str(ROOT.parent / "shared" / "tokenizers" / "gpt2"))
    p.add_argument("--work-dir", default=str(ROOT / "target" / "bench"))
    return p.parse_args()


def build(work, tokenizer_dir, task="text-generation", name="gpt2-random"):
    """GPT-2 124M with seeded random weights (PyTorch in WORK/NAME-pt) and its Optimum export
    for `task` (WORK/NAME), both kept for later runs."""
    pt, onnx = work / f"{name}-pt", work / name
    if (onnx / "model.onnx").exists():
        return pt, onnx
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast

    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config()).eval().save_pretrained(pt)
    tok = GPT2TokenizerFast(tokenizer_file=str(pathlib.Path(tokenizer_dir) / "tokenizer.json"))
    tok.save_pretrained(pt)
    subprocess.run(["optimum-cli", "export", "onnx", "--model", str(pt), "--task", task, str(onnx)],
                   check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    return pt, onnx


def subset_data(data_dir, out, articles, lambada):
    """A data dir holding the first N WikiText-2 articles and the first M LAMBADA lines."""
    text = (data_dir / "lm/wikitext-2/wiki.test.tokens").read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    heading = re.compile(r"^ = [^=].* = $")
    starts = [0] + [i for i in range(1, len(lines) - 1)
                    if heading.match(lines[i].rstrip("\n")) and not lines[i - 1].strip() and not lines[i + 1].strip()]
    starts = [s for s in starts if s == 0 or "".join(lines[:s]).strip()]
    end = starts[articles] if articles < len(starts) else len(lines)
    (out / "lm/wikitext-2").mkdir(parents=True, exist_ok=True)
    (out / "lm/wikitext-2/wiki.test.tokens").write_text("".join(lines[:end]), encoding="utf-8")
    (out / "lm/lambada").mkdir(parents=True, exist_ok=True)
    lam = (data_dir / "lm/lambada/lambada_test.jsonl").read_text(encoding="utf-8").splitlines()[:lambada]
    (out / "lm/lambada/lambada_test.jsonl").write_text("\n".join(lam) + "\n", encoding="utf-8")
    pages = ["".join(lines[a:b]) for a, b in zip(starts[:articles], starts[1:articles + 1] + [end])]
    return pages, [json.loads(l)["text"] for l in lam]


def run_evalrun(onnx, data, task, threads, batch):
    with tempfile.TemporaryDirectory() as tmp:
        record = pathlib.Path(tmp) / "r.json"
        proc = subprocess.run(
            ["/usr/bin/time", "-f", "%M", str(ROOT / "target/release/evalrun"), "-q", "lm", "--model", str(onnx), "--task", task,
             "--data-dir", str(data), "--threads", str(threads), "--batch-size", str(batch), "--output", str(record)],
            check=True, capture_output=True, text=True)
        peak_kib = int(proc.stderr.strip().splitlines()[-1])
        result = json.loads(record.read_text())["results"][task]
        return result["wall_seconds"], result["sums"]["tokens"], peak_kib


def main():
    a = args_()
    import torch
    torch.set_num_threads(a.threads)
    work = pathlib.Path(a.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    pt, onnx = build(work, a.tokenizer)
    data = work / "lm-subset"
    pages, lambada = subset_data(pathlib.Path(a.data_dir), data, a.articles, a.lambada)

    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM
    from transformers import AutoTokenizer, GPT2LMHeadModel
    sys.path.insert(0, str(pathlib.Path(__import__("lm_eval").__file__).parent / "tasks" / "wikitext"))
    from preprocess_wikitext import wikitext_detokenizer

    model = GPT2LMHeadModel.from_pretrained(pt).eval()
    tok = AutoTokenizer.from_pretrained(pt)
    lm = HFLM(pretrained=model, tokenizer=tok, max_length=1024, batch_size=a.batch_size, device="cpu")
    targets = [wikitext_detokenizer({"page": p}) for p in pages]
    contexts = [(t.rsplit(" ", 1)[0], " " + t.rsplit(" ", 1)[1]) for t in lambada]

    rows = []
    # WikiText-2 rolling.
    t_e, tokens, peak_wiki = run_evalrun(onnx, data, "wikitext2", a.threads, a.batch_size)
    t0 = time.perf_counter()
    lm.loglikelihood_rolling([Instance("loglikelihood_rolling", {}, (t,), i) for i, t in enumerate(targets)], disable_tqdm=True)
    t_l = time.perf_counter() - t0
    t0 = time.perf_counter()
    with torch.no_grad():  # transformers loop: disjoint 1024-token windows per article
        for t in targets:
            ids = tok(t, return_tensors="pt").input_ids
            for begin in range(0, ids.size(1), 1024):
                chunk = ids[:, begin:begin + 1024]
                if chunk.size(1) > 1:
                    model(chunk, labels=chunk)
    t_t = time.perf_counter() - t0
    for name, t in [("evalrun", t_e), ("lm-eval HFLM (batch %d)" % a.batch_size, t_l), ("transformers loop", t_t)]:
        rows.append(("WikiText-2, %d articles, %d tokens" % (a.articles, tokens), name, tokens / t, t_l / t_e if name == "evalrun" else t_e / t))
    # LAMBADA.
    t_e, cont_tokens, peak_lam = run_evalrun(onnx, data, "lambada_openai", a.threads, a.batch_size)
    t0 = time.perf_counter()
    lm.loglikelihood([Instance("loglikelihood", {}, c, i) for i, c in enumerate(contexts)], disable_tqdm=True)
    t_l = time.perf_counter() - t0
    t0 = time.perf_counter()
    with torch.no_grad():
        for c, w in contexts:
            ids = tok(c + w, return_tensors="pt").input_ids[:, -1024:]
            model(ids)
    t_t = time.perf_counter() - t0
    for name, t in [("evalrun", t_e), ("lm-eval HFLM (batch %d)" % a.batch_size, t_l), ("transformers loop", t_t)]:
        rows.append(("LAMBADA, %d examples" % len(contexts), name, len(contexts) / t, None))

    print(f"threads={a.threads}; GPT-2 124M architecture, random weights, context 1024; evalrun batch {a.batch_size}, --batch-tokens 2048\n")
    print("| workload | contender | throughput | evalrun speed-up |")
    print("|---|---|---:|---:|")
    base = {}
    for wl, name, rate, _ in rows:
        base.setdefault(wl, {})[name] = rate
    for wl, name, rate, _ in rows:
        unit = "tokens/s" if wl.startswith("WikiText") else "examples/s"
        print(f"| {wl} | {name} | {rate:.1f} {unit} | {base[wl]['evalrun'] / rate:.2f}× |")
    print(f"\nevalrun peak resident memory: WikiText-2 {peak_wiki / 1024:.0f} MiB, LAMBADA {peak_lam / 1024:.0f} MiB "
          f"(model.onnx {(onnx / 'model.onnx').stat().st_size / 2**20:.0f} MiB)")


if __name__ == "__main__":
    main()
