"""One benchmark sitting for the causal-LM paths: every contender on the same model, data and threads,
round-robin, best of --passes, passes distorted by other load redone (bench_t5.py's rule: other processes
took over 5% of the CPUs), one markdown table written to results/bench/.

Model: a full-size GPT-2 architecture (124M: 12 layers, 768 hidden, context 1024, the real 50257-token
vocabulary) with seeded random weights — the cost is the real one. Built here and exported with
`optimum-cli export onnx --task text-generation-with-past` (the layout Optimum publishes), never committed.

Workloads and contenders:
  wikitext   WikiText-2 test, first --articles articles, lm-eval `wikitext` (rolling, disjoint 1024 windows):
             evalrun | evalrun with attention over the whole [tokens, tokens] square (--graph-edits -attention_blocks) |
             lm-eval HFLM `loglikelihood_rolling` | a transformers loop over the same windows;
             with --isolate also evalrun with the attention NaN guards kept (--graph-edits -nan_guards, which keeps
             the whole attention square too: a guarded softmax is read twice, so it is not blocked) and evalrun
             handing ONNX Runtime the whole file (--graph-edits log_softmax: the whole file, with the guards and the square)
  lambada    LAMBADA (OpenAI), first --lambada examples, `lambada_openai`:
             evalrun | evalrun with the LM head over every position (--graph-edits -lm_head) |
             lm-eval HFLM `loglikelihood` | a transformers loop (one forward per example)
  cbt        CBT-format multiple choice built from WikiText-2 text (20 context sentences, a 21st with one word
             replaced by XXXXX, 10 candidates from the context), evalrun task `cbt_cn`:
             evalrun (shared prefix) | evalrun with the LM head over every position | evalrun scoring each pair
             alone (EVALRUN_SHARED_PREFIX=0) | lm-eval HFLM `loglikelihood` on the same (context, continuation) pairs
  gemm       the sitting's GEMM peak: torch float32 matmuls of GPT-2's shapes on --threads threads.
Model-FLOP utilisation (MFU) = scored tokens/s × forward FLOPs per token (2 × matmul parameters incl. the
LM head + 2 × layers × context × hidden, Kaplan et al.) / GEMM peak.

Usage (repository root, fixtures venv active, `cargo build --release -p evalrun-cli`, scripts/setup-ort.sh):
  python scripts/bench/sitting.py --threads 2 --articles 8 --lambada 1000 --cbt 12 --passes 2
"""

import argparse
import datetime
import json
import logging
import os
import pathlib
import random
import re
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from bench_lm import build, subset_data  # noqa: E402  (the random GPT-2 and its export; data subsets)
from bench_t5 import ForeignCpu, cpu_model  # noqa: E402  (the same quiet-machine rule)

log = logging.getLogger("sitting")
DISTORTED = 0.05


def args_():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--articles", type=int, default=8)
    p.add_argument("--lambada", type=int, default=1000)
    p.add_argument("--cbt", type=int, default=12, help="CBT-format questions (10 candidates each)")
    p.add_argument("--passes", type=int, default=2)
    p.add_argument("--retries", type=int, default=1, help="extra tries of a distorted pass")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--batch-tokens", type=int, default=1024, help="evalrun --batch-tokens (passed explicitly)")
    p.add_argument("--workloads", default="gemm,wikitext,lambada,cbt")
    p.add_argument("--isolate", action="store_true",
                   help="also the WikiText-2 rows that isolate the load-time rewrites (NaN guards, weights in place)")
    p.add_argument("--name", default="lm", help="the report is written to OUT/<date>-<name>.md and .json")
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--tokenizer", default=str(ROOT.parent / "shared" / "tokenizers" / "gpt2"))
    p.add_argument("--work-dir", default=str(ROOT / "target" / "bench"))
    p.add_argument("--out", default=str(ROOT / "results" / "bench"))
    return p.parse_args()


def cbt_file(data_dir, out, questions, seed=0):
    """CBT-layout questions from WikiText-2 sentences: 20 numbered context lines, then
    `21 query<TAB>answer<TAB><TAB>c1|...|c10` with the answer's word replaced by XXXXX in the query."""
    text = (data_dir / "lm/wikitext-2/wiki.test.tokens").read_text(encoding="utf-8")
    text = " ".join(text.split())
    sentences = [s.strip() + " ." for s in re.split(r" \. ", text) if 8 <= len(s.split()) <= 40 and "=" not in s]
    rng, blocks, at = random.Random(seed), [], 0
    while len(blocks) < questions and at + 21 <= len(sentences):
        context, query = sentences[at:at + 20], sentences[at + 20].split()
        at += 21
        words = sorted({w for s in context for w in s.split() if w.isalpha() and len(w) > 3})
        slots = [i for i, w in enumerate(query) if w in words and i > 2]
        if len(words) < 10 or not slots:
            continue
        i = rng.choice(slots)
        answer = query[i]
        candidates = sorted(set(rng.sample([w for w in words if w != answer], 9)) | {answer})
        query[i] = "XXXXX"
        lines = [f"{n + 1} {s}" for n, s in enumerate(context)]
        lines.append(f"21 {' '.join(query)}\t{answer}\t\t{'|'.join(candidates)}")
        blocks.append("\n".join(lines) + "\n")
    path = out / "lm/cbt/cbtest_CN_valid_2000ex.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(blocks), encoding="utf-8")
    pairs = []
    for block in blocks:
        lines = block.splitlines()
        context = " ".join(l.split(" ", 1)[1] for l in lines[:20])
        query, _, _, cands = lines[20].split(" ", 1)[1].split("\t")
        before, after = query.split("XXXXX", 1)
        pairs += [(f"{context} {before}", f"{c}{after}") for c in cands.split("|")]  # the cbt task's pairs
    return len(blocks), pairs


def run_evalrun(onnx, data, task, a, env=None):
    with tempfile.TemporaryDirectory() as tmp:
        record = pathlib.Path(tmp) / "r.json"
        proc = subprocess.run(
            ["/usr/bin/time", "-f", "%M", str(ROOT / "target/release/evalrun"), "-q", "lm", "--model", str(onnx),
             "--task", task, "--data-dir", str(data), "--threads", str(a.threads), "--batch-size", str(a.batch_size),
             "--batch-tokens", str(a.batch_tokens), "--output", str(record)],
            check=True, capture_output=True, text=True, env={**os.environ, **(env or {})})
        peak_kib = int(proc.stderr.strip().splitlines()[-1])
        result = json.loads(record.read_text())["results"][task]
        return result["wall_seconds"], peak_kib, result


def gemm_peak(threads):
    """Best float32 GFLOP/s of torch matmuls with GPT-2's shapes (1024 tokens × 768 → 3072, → 50257)."""
    import torch
    torch.set_num_threads(threads)
    best = 0.0
    for m, k, n in [(1024, 768, 3072), (1024, 3072, 768), (1024, 768, 8192)]:
        x, w = torch.randn(m, k), torch.randn(k, n)
        for _ in range(3):
            x @ w
        t0, reps = time.perf_counter(), 20
        for _ in range(reps):
            x @ w
        best = max(best, 2 * m * k * n * reps / (time.perf_counter() - t0) / 1e9)
    return best


def flops_per_token(context=1024, layers=12, hidden=768, vocab=50257):
    matmul_params = layers * 12 * hidden * hidden + hidden * vocab
    return 2 * matmul_params + 2 * layers * context * hidden


def main():
    a = args_()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    import torch
    torch.set_num_threads(a.threads)
    work = pathlib.Path(a.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    pt, onnx = build(work, a.tokenizer, task="text-generation-with-past", name="gpt2-124m-past")
    data = work / "sitting-data"
    pages, lambada = subset_data(pathlib.Path(a.data_dir), data, a.articles, a.lambada)
    n_cbt, cbt_pairs = cbt_file(pathlib.Path(a.data_dir), data, a.cbt)

    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM
    from transformers import AutoTokenizer, GPT2LMHeadModel
    sys.path.insert(0, str(pathlib.Path(__import__("lm_eval").__file__).parent / "tasks" / "wikitext"))
    from preprocess_wikitext import wikitext_detokenizer

    model = GPT2LMHeadModel.from_pretrained(pt).eval()
    tok = AutoTokenizer.from_pretrained(pt)
    hflm = HFLM(pretrained=model, tokenizer=tok, max_length=1024, batch_size=a.batch_size, device="cpu")
    targets = [wikitext_detokenizer({"page": p}) for p in pages]
    lambada_pairs = [(t.rsplit(" ", 1)[0], " " + t.rsplit(" ", 1)[1]) for t in lambada]

    def timed(fn):
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0, None, None

    def wiki_loop():
        with torch.no_grad():
            for t in targets:
                ids = tok(t, return_tensors="pt").input_ids
                for begin in range(0, ids.size(1), 1024):
                    chunk = ids[:, begin:begin + 1024]
                    if chunk.size(1) > 1:
                        torch.log_softmax(model(chunk).logits.float(), -1)

    def lambada_loop():
        with torch.no_grad():
            for c, w in lambada_pairs:
                ids = tok(c + w, return_tensors="pt").input_ids[:, -1024:]
                torch.log_softmax(model(ids).logits.float(), -1)

    workloads = {
        "wikitext": ("wikitext2", {
            "evalrun": lambda: run_evalrun(onnx, data, "wikitext2", a),
            "evalrun, attention over the whole square": lambda: run_evalrun(onnx, data, "wikitext2", a,
                                                                            {"EVALRUN_GRAPH_EDITS": "-attention_blocks"}),
            **({
                "evalrun, NaN guards kept": lambda: run_evalrun(onnx, data, "wikitext2", a,
                                                                {"EVALRUN_GRAPH_EDITS": "-nan_guards"}),
                "evalrun, whole file to ONNX Runtime (guards kept too)": lambda: run_evalrun(
                    onnx, data, "wikitext2", a, {"EVALRUN_GRAPH_EDITS": "log_softmax"}),
            } if a.isolate else {}),
            f"lm-eval HFLM (batch {a.batch_size})": lambda: timed(lambda: hflm.loglikelihood_rolling(
                [Instance("loglikelihood_rolling", {}, (t,), i) for i, t in enumerate(targets)], disable_tqdm=True)),
            "transformers loop": lambda: timed(wiki_loop),
        }),
        "lambada": ("lambada_openai", {
            "evalrun": lambda: run_evalrun(onnx, data, "lambada_openai", a),
            "evalrun, LM head over every position": lambda: run_evalrun(onnx, data, "lambada_openai", a,
                                                                        {"EVALRUN_GRAPH_EDITS": "-lm_head"}),
            f"lm-eval HFLM (batch {a.batch_size})": lambda: timed(lambda: hflm.loglikelihood(
                [Instance("loglikelihood", {}, c, i) for i, c in enumerate(lambada_pairs)], disable_tqdm=True)),
            "transformers loop": lambda: timed(lambada_loop),
        }),
        "cbt": ("cbt_cn", {
            "evalrun": lambda: run_evalrun(onnx, data, "cbt_cn", a),
            "evalrun, LM head over every position": lambda: run_evalrun(onnx, data, "cbt_cn", a,
                                                                        {"EVALRUN_GRAPH_EDITS": "-lm_head"}),
            "evalrun, each pair alone": lambda: run_evalrun(onnx, data, "cbt_cn", a, {"EVALRUN_SHARED_PREFIX": "0"}),
            f"lm-eval HFLM per pair (batch {a.batch_size})": lambda: timed(lambda: hflm.loglikelihood(
                [Instance("loglikelihood", {}, c, i) for i, c in enumerate(cbt_pairs)], disable_tqdm=True)),
        }),
    }
    chosen = a.workloads.split(",")
    passes, info, peak = {}, {}, {}
    gemm = []
    for rep in range(a.passes):
        if "gemm" in chosen:
            ForeignCpu.wait_quiet(60)
            gemm.append(gemm_peak(a.threads))
            log.info("pass %d gemm peak %.1f GFLOP/s", rep + 1, gemm[-1])
        for wl in [w for w in chosen if w in workloads]:
            task, contenders = workloads[wl]
            for name, fn in contenders.items():
                for attempt in range(a.retries + 1):
                    ForeignCpu.wait_quiet(60)
                    with ForeignCpu() as f:
                        seconds, peak_kib, result = fn()
                    distorted = f.share > DISTORTED
                    passes.setdefault(wl, {}).setdefault(name, []).append(
                        {"seconds": seconds, "foreign_share": f.share, "distorted": distorted})
                    if peak_kib:
                        peak[(wl, name)] = max(peak.get((wl, name), 0), peak_kib)
                    if result:
                        info[wl] = result
                    log.info("pass %d %s / %s: %.2f s (other load %.0f%%%s)", rep + 1, wl, name, seconds,
                             100 * f.share, ", distorted" if distorted else "")
                    if not distorted:
                        break

    out = pathlib.Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y-%m-%d")
    lines = [f"# Benchmark sitting {stamp}: causal-LM paths", "",
             f"Machine: {cpu_model()}, {os.cpu_count()} CPUs; threads={a.threads}; GPT-2 124M architecture "
             f"(random weights, context 1024, vocab 50257), Optimum `text-generation-with-past` export; evalrun "
             f"--batch-size {a.batch_size} --batch-tokens {a.batch_tokens}; lm-eval {__import__('lm_eval').__version__}, "
             f"transformers {__import__('transformers').__version__}, torch {torch.__version__.split('+')[0]}. "
             f"Best of {a.passes} round-robin passes; a pass during which other processes used more than "
             f"{DISTORTED:.0%} of the CPUs is redone ({a.retries} retry) and dropped.", ""]
    peak_gflops = max(gemm) if gemm else None
    if peak_gflops:
        lines += [f"GEMM peak in this sitting (torch float32, GPT-2 shapes, {a.threads} threads): "
                  f"{peak_gflops:.1f} GFLOP/s (passes: {', '.join(f'{g:.1f}' for g in gemm)}).", ""]
    lines += ["| workload | contender | passes kept | best s | throughput | evalrun's ratio | peak RSS | MFU |",
              "|---|---|---:|---:|---:|---:|---:|---:|"]
    for wl, contenders in passes.items():
        r = info.get(wl, {})
        units = {"wikitext": ("tokens", r.get("sums", {}).get("tokens")),
                 "lambada": ("examples", a.lambada), "cbt": ("questions", n_cbt)}[wl]
        title = {"wikitext": f"WikiText-2 rolling, {a.articles} articles, {units[1]} tokens",
                 "lambada": f"LAMBADA, {a.lambada} examples",
                 "cbt": f"CBT-format MC, {n_cbt} questions × 10 candidates"}[wl]
        best = {n: min(p["seconds"] for p in (([p for p in ps if not p["distorted"]]) or ps))
                for n, ps in contenders.items()}
        for name, ps in contenders.items():
            kept = [p for p in ps if not p["distorted"]]
            rate = units[1] / best[name] if units[1] else float("nan")
            ratio = "—" if name == "evalrun" else f"{best[name] / best['evalrun']:.2f}×"
            rss = f"{peak[(wl, name)] / 1024:.0f} MiB" if (wl, name) in peak else "—"
            mfu = "—"
            if wl == "wikitext" and peak_gflops and units[1]:
                mfu = f"{rate * flops_per_token() / 1e9 / peak_gflops:.0%}"
            lines.append(f"| {title} | {name} | {len(kept)}/{len(ps)} | {best[name]:.2f} | {rate:.1f} {units[0]}/s "
                         f"| {ratio} | {rss} | {mfu} |")
    lines += ["", "evalrun's ratio = the contender's best seconds / evalrun's best seconds (>1: evalrun is faster). "
              "evalrun's seconds are its in-process wall time (model load excluded, as for the Python contenders, "
              "whose model is loaded once before the sitting). Peak RSS: GNU time's maximum resident set of the "
              "evalrun process, model load included."]
    report = "\n".join(lines) + "\n"
    path = out / f"{stamp}-{a.name}.md"
    path.write_text(report, encoding="utf-8")
    (out / f"{stamp}-{a.name}.json").write_text(json.dumps({"passes": passes, "gemm": gemm}, indent=1), encoding="utf-8")
    print(report)
    log.info("wrote %s", path)


if __name__ == "__main__":
    main()
