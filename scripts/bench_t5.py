"""T5 greedy decoding throughput: evalrun vs transformers `generate` (PyTorch) vs optimum's ONNX Runtime
seq2seq model, same inputs, batches and threads, on a full-size T5-base architecture (12+12 layers, d_model 768,
d_ff 3072, 12 heads, the real 32128-token embedding) with seeded random weights — the cost is the real one. The
model is built and exported here (optimum-cli, `text2text-generation-with-past`) under --work-dir, never committed.

The real t5-base cannot be downloaded, so the tokenizer is the fixture's (tests/fixtures/models/t5-tiny: a
3000-piece SentencePiece unigram + 100 sentinels, trained on this data); every id it produces is valid for the
bigger embedding, and the cost depends on shapes only. Its pieces are shorter than real T5's, so inputs have
somewhat more tokens than with t5-base's own vocabulary (reported below).

Random weights give arbitrary greedy outputs, which would stop at arbitrary lengths. To decode a fixed amount the
embedding rows of `</s>` (id 1) and `<pad>` (id 0, also the decoder's start token) are set to zero: the LM head is
tied to them, so their logits are exactly 0 while the other 32126 are random of both signs and their maximum is
always positive — no output stops early, every example gets exactly --max-new-tokens tokens, and none of them is
padding (a special token, which decodes to nothing: with only `</s>` zeroed, greedy decoding emitted `<pad>` at
every step and every contender's output was the empty string). The script checks this and reports each contender's count (evalrun's
`sums.generated_tokens`, new tokens without `</s>`; for the Python contenders, tokens after the start token and
before the first `</s>`), and stops if they differ.

The outputs are compared as strings, token for token: the export's tokenizer gets a piece `⟨id⟩` for every id
beyond the fixture's 3,100 (`cover_vocabulary`), so every generated id decodes to text; inputs tokenize as before.

Workloads (--workload):
  squad     the first --examples SQuAD v1.1 dev examples as T5 inputs (evalrun task `squad_v1`), greedy,
            --max-new-tokens new tokens (default 32);
  summarise long-input summarisation, CNN/DM-like (evalrun task `cnndm`, `summarize: …`): CNN/DM itself is not
            on this machine, so the inputs are the first --examples WikiText-2 test articles written in the
            task's own `parallel` layout (cnndm/test.source, one article per line; test.target, its first
            sentence) under WORK_DIR/summarise-data, every one longer than the 512 tokens inputs are cut to;
            --max-new-tokens (default 128) new tokens, greedy (--beams 1) or beam search (--beams 4, length
            penalty 0.6, the task's default: every contender gets the same).
Batches of --batch-size examples (beam search decodes batch × beams rows), longest inputs (in tokens) first,
inputs truncated to 512.

Contenders (round-robin, --repeats passes each, best pass kept; every pass starts from a freshly loaded model, as
a real evaluation does — loading is never timed except in the "whole process" row):
  1. evalrun (release binary, a new process per pass): its record's `results.squad_v1.wall_seconds`
     (tokenization, generation, decoding and SQuAD scoring, model load excluded); the process wall time including
     model load is reported too;
  2. transformers `T5ForConditionalGeneration.generate` (PyTorch, torch.set_num_threads(--threads),
     torch.inference_mode): tokenization + generate + batch_decode timed;
  3. optimum `ORTModelForSeq2SeqLM` (Python onnxruntime on the same export, merged decoder as evalrun uses,
     intra-op threads = --threads) + `generate`: tokenization + generate + batch_decode timed.
The input strings of 2 and 3 are evalrun's own (the `input` field of its first --predictions file).

On a small shared machine other processes (a cargo build next door) distort passes badly — PyTorch's OpenMP
threads most (seen here: 7× slower with one core taken). Before each pass the script waits (--quiet-wait) until
other processes leave the CPUs idle, measures the CPU time they take during the pass (/proc/stat minus this
process and its children), redoes a pass where they took over 5% of the CPUs (--retries), and keeps the best
undistorted pass. The table says how many passes each figure is the best of; results.json holds every pass.

Usage (repository root, fixtures venv, `cargo build --release -p evalrun-cli` done, ORT set up by
scripts/setup-ort.sh):
  python scripts/bench_t5.py --threads 2 --examples 64 --max-new-tokens 32 --batch-size 16
  python scripts/bench_t5.py --workload summarise --examples 8 --batch-size 4 --beams 1
  python scripts/bench_t5.py --workload summarise --examples 8 --batch-size 2 --beams 4
"""

import argparse
import json
import logging
import os
import pathlib
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
EOS = 1
PAD = 0
ZEROED = [PAD, EOS]  # embedding rows set to zero (module docs)
MAX_INPUT = 512
WORKLOADS = {  # evalrun task, default new tokens, what the report calls the inputs
    "squad": ("squad_v1", 32, "SQuAD v1.1 dev"),
    "summarise": ("cnndm", 128, "long-input summarisation (CNN/DM layout, WikiText-2 test articles)"),
}
LENGTH_PENALTY = 0.6  # the cnndm task's default, given to every contender when beams > 1
# google-t5/t5-base config.json (task_specific_params left out: generation reads none of them), plus the
# values transformers 4.57 fills in by default, written out so the architecture does not depend on them.
T5_BASE = {
    "architectures": ["T5ForConditionalGeneration"], "model_type": "t5", "is_encoder_decoder": True,
    "d_model": 768, "d_kv": 64, "d_ff": 3072, "num_layers": 12, "num_decoder_layers": 12, "num_heads": 12,
    "relative_attention_num_buckets": 32, "relative_attention_max_distance": 128, "dropout_rate": 0.1,
    "layer_norm_epsilon": 1e-6, "initializer_factor": 1.0, "feed_forward_proj": "relu",
    "tie_word_embeddings": True, "vocab_size": 32128, "n_positions": 512, "use_cache": True,
    "decoder_start_token_id": 0, "pad_token_id": 0, "eos_token_id": EOS,
}
TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]
CONTENDERS = ["evalrun", "transformers", "optimum"]

log = logging.getLogger("bench_t5")
DEFAULT_INPUTS = str(ROOT / "target" / "t5-reference" / "squad_v1.jsonl")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--examples", type=int, default=64, help="first N SQuAD dev examples (evalrun --limit)")
    p.add_argument("--workload", choices=sorted(WORKLOADS), default="squad")
    p.add_argument("--max-new-tokens", type=int, help="default: 32 (squad), 128 (summarise)")
    p.add_argument("--beams", type=int, default=1, help="1: greedy; more: beam search, length penalty 0.6")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--data-dir", default=os.environ.get("EVALRUN_DATA_DIR", str(ROOT.parent / "shared" / "data")))
    p.add_argument("--tokenizer", default=str(ROOT / "tests" / "fixtures" / "models" / "t5-tiny"),
                   help="directory holding tokenizer.json, tokenizer_config.json, special_tokens_map.json")
    p.add_argument("--work-dir", default=str(ROOT / "target" / "bench-t5"))
    p.add_argument("--json", help="raw numbers (default: WORK_DIR/results.json)")
    p.add_argument("--evalrun", default=str(ROOT / "target" / "release" / "evalrun"))
    p.add_argument("--contenders", default=",".join(CONTENDERS),
                   help="comma-separated subset of %s" % ",".join(CONTENDERS))
    p.add_argument("--quiet-wait", type=float, default=900,
                   help="before each pass wait up to this many seconds for other processes to leave the CPUs idle "
                        "(0: don't wait)")
    p.add_argument("--retries", type=int, default=2,
                   help="redo a pass during which other processes used over 5%% of the CPUs, at most this many times")
    p.add_argument("--render", metavar="JSON", help="only print the report of an earlier run's results file")
    p.add_argument("--inputs", default=DEFAULT_INPUTS,
                   help="JSONL with an `input` field, read only when evalrun is not among the contenders")
    a = p.parse_args()
    a.contenders = [c.strip() for c in a.contenders.split(",") if c.strip()]
    unknown = set(a.contenders) - set(CONTENDERS)
    if unknown or not a.contenders:
        p.error(f"--contenders: unknown {sorted(unknown)}; choose from {CONTENDERS}")
    a.contenders.sort(key=CONTENDERS.index)  # evalrun first: its predictions file supplies the inputs
    a.task, default_tokens, a.inputs_label = WORKLOADS[a.workload]
    if a.max_new_tokens is None:
        a.max_new_tokens = default_tokens
    return a


def build(work, tokenizer_dir):
    """The random-weight T5-base (PyTorch, safetensors) and its Optimum export, both cached under `work`."""
    pt, onnx = work / "t5-base-random-pt", work / "t5-base-random"
    marker = {"zeroed_embedding_rows": ZEROED}
    built = pt / "evalrun-bench.json"
    if (pt / "model.safetensors").exists() and (not built.exists() or json.loads(built.read_text()) != marker):
        log.info("%s was built with other zeroed rows: building it again", pt)
        for d in (pt, onnx):
            shutil.rmtree(d, ignore_errors=True)
    if not (pt / "model.safetensors").exists():
        import torch
        from transformers import T5Config, T5ForConditionalGeneration

        log.info("building T5-base with seeded random weights in %s", pt)
        torch.manual_seed(0)
        model = T5ForConditionalGeneration(T5Config.from_dict(T5_BASE)).eval()
        with torch.no_grad():
            for row in ZEROED:  # tied LM head: logits of </s> and <pad> == 0, never the argmax
                model.shared.weight[row].zero_()
        assert model.lm_head.weight.data_ptr() == model.shared.weight.data_ptr(), "LM head is not tied"
        model.save_pretrained(pt)
        built.write_text(json.dumps(marker))
        for name in TOKENIZER_FILES:
            shutil.copy(pathlib.Path(tokenizer_dir) / name, pt / name)
    if not ((onnx / "encoder_model.onnx").exists() and (onnx / "decoder_model_merged.onnx").exists()):
        cli = shutil.which("optimum-cli") or str(pathlib.Path(sys.executable).parent / "optimum-cli")
        tmp = onnx.with_name(onnx.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        cmd = [cli, "export", "onnx", "--model", str(pt), "--task", "text2text-generation-with-past", str(tmp)]
        log.info("exporting: %s", " ".join(cmd))
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        shutil.rmtree(onnx, ignore_errors=True)
        tmp.rename(onnx)
        log.info("exported in %.0f s: %s", time.perf_counter() - t0, ", ".join(sorted(p.name for p in onnx.iterdir())))
    for d in (pt, onnx):
        cover_vocabulary(d, T5_BASE["vocab_size"])
    return pt, onnx


def rel(path):
    """`path` relative to the repository root when it lies inside it (result files name no machine paths)."""
    path = pathlib.Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def cover_vocabulary(model_dir, size):
    """Gives the tokenizer a piece for every id of the model's embedding, so that every generated id decodes to
    text and the contenders' outputs are compared token for token. The fixture's unigram tokenizer has 3,100
    pieces; ids 3100..size-1 get pieces `⟨id⟩`, which no input contains (so inputs tokenize as before) and which
    decode to themselves (without them those ids decode to nothing and every output is the empty string)."""
    path = pathlib.Path(model_dir) / "tokenizer.json"
    spec = json.loads(path.read_text(encoding="utf-8"))
    vocab = spec["model"]["vocab"]
    if len(vocab) >= size:
        return
    floor = min(score for _, score in vocab) - 10.0
    vocab.extend([f"\u27e8{i}\u27e9", floor] for i in range(len(vocab), size))
    path.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    log.info("%s: pieces for ids up to %d added", path, size - 1)


def summarise_data(data_dir, work, examples):
    """A data dir holding `cnndm/test.source` and `test.target` (the cnndm task's `parallel` layout) made of the
    first `examples` WikiText-2 test articles: each article's text on one line (whitespace collapsed), its first
    sentence as the reference. Every source is far longer than the 512 tokens T5 inputs are cut to."""
    out = work / "summarise-data"
    text = (data_dir / "lm/wikitext-2/wiki.test.tokens").read_text(encoding="utf-8")
    articles, current = [], None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("= ") and not stripped.startswith("= = "):
            current = []
            articles.append(current)
        elif stripped and current is not None and not stripped.startswith("= = "):
            current.append(stripped)
    lines = [" ".join(" ".join(paragraphs).split()) for paragraphs in articles]
    lines = [l for l in lines if len(l.split()) > 600][:examples]
    if len(lines) < examples:
        sys.exit(f"only {len(lines)} WikiText-2 test articles are long enough; ask for fewer --examples")
    (out / "cnndm").mkdir(parents=True, exist_ok=True)
    (out / "cnndm" / "test.source").write_text("".join(l + "\n" for l in lines), encoding="utf-8")
    (out / "cnndm" / "test.target").write_text("".join(l.split(" . ")[0] + " .\n" for l in lines), encoding="utf-8")
    return out


class ForeignCpu:
    """CPU seconds spent by other processes while a pass ran (Linux /proc/stat minus this process and its
    waited-for children): on a 2-core machine any of it distorts the pass, OpenMP's spinning threads most."""

    def __enter__(self):
        self.busy, self.own, self.t0 = self._busy(), self._own(), time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = max(0.0, (self._busy() - self.busy) - (self._own() - self.own))
        self.share = self.seconds / max(1e-9, (time.perf_counter() - self.t0) * (os.cpu_count() or 1))

    @staticmethod
    def wait_quiet(limit):
        """Wait (at most `limit` seconds) until other processes have used under 10% of the CPUs for three
        consecutive 2-second windows."""
        deadline, quiet, t0 = time.perf_counter() + limit, 0, time.perf_counter()
        while quiet < 3 and time.perf_counter() < deadline:
            with ForeignCpu() as f:
                time.sleep(2)
            quiet = quiet + 1 if f.share < 0.10 else 0
        waited = time.perf_counter() - t0
        if quiet < 3:
            log.warning("the CPUs were still busy after %.0f s of waiting; measuring anyway", waited)
        elif waited > 10:
            log.info("waited %.0f s for other processes to leave the CPUs", waited)

    @staticmethod
    def _busy():
        try:
            with open("/proc/stat") as f:
                v = [int(x) for x in f.readline().split()[1:]]
        except OSError:
            return 0.0
        return (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait

    @staticmethod
    def _own():
        r = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
        return sum(x.ru_utime + x.ru_stime for x in r)


def run_evalrun(binary, onnx, data_dir, a, predictions):
    """One evalrun process: (in-process task seconds, generated tokens, process seconds, peak RSS KiB)."""
    with tempfile.TemporaryDirectory(dir=a.work_dir) as tmp:
        record = pathlib.Path(tmp) / "r.json"
        cmd = ["/usr/bin/time", "-f", "%M", str(binary), "-q", "run", "--model", str(onnx), "--task", a.task,
               "--limit", str(a.examples), "--data-dir", str(data_dir), "--batch-size", str(a.batch_size),
               "--threads", str(a.threads), "--bootstrap", "0", "--max-new-tokens", str(a.max_new_tokens),
               "--beams", str(a.beams), "--output", str(record)]
        if a.beams > 1:
            cmd += ["--length-penalty", str(LENGTH_PENALTY)]
        if predictions:
            cmd += ["--predictions", str(predictions)]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        process_seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            log.error("evalrun failed (exit %d): %s\n%s", proc.returncode, " ".join(cmd[3:]), proc.stderr[-4000:])
            raise SystemExit("evalrun failed; rerun with --contenders transformers,optimum to bench the others")
        peak_kib = int(proc.stderr.strip().splitlines()[-1])
        result = json.loads(record.read_text())["results"][a.task]
        if result["n"] != a.examples:
            log.warning("evalrun scored %d examples, not %d", result["n"], a.examples)
        return result["wall_seconds"], int(result["sums"]["generated_tokens"]), process_seconds, peak_kib


def generated_count(sequences, start_offset=1):
    """New tokens per row without the start token, up to (excluding) the first `</s>`."""
    counts = []
    for row in sequences.tolist():
        new = row[start_offset:]
        counts.append(new.index(EOS) if EOS in new else len(new))
    return counts


def python_pass(model, tok, texts, a):
    """Tokenize, sort longest first (evalrun's order: token count, then index), generate in batches, decode.
    Returns (seconds, generated tokens, outputs in input order)."""
    import torch

    t0 = time.perf_counter()
    ids = tok(texts, truncation=True, max_length=MAX_INPUT)["input_ids"]
    order = sorted(range(len(ids)), key=lambda i: (-len(ids[i]), i))
    outputs, tokens = [None] * len(texts), 0
    with torch.inference_mode():
        for s in range(0, len(order), a.batch_size):
            idx = order[s:s + a.batch_size]
            enc = tok([texts[i] for i in idx], truncation=True, max_length=MAX_INPUT, padding=True, return_tensors="pt")
            beam = {"num_beams": a.beams, "length_penalty": LENGTH_PENALTY} if a.beams > 1 else {"num_beams": 1}
            out = model.generate(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                                 max_new_tokens=a.max_new_tokens, do_sample=False, **beam)
            tokens += sum(generated_count(out))
            for i, text in zip(idx, tok.batch_decode(out, skip_special_tokens=True)):
                outputs[i] = text.strip()
    return time.perf_counter() - t0, tokens, outputs


def load_torch(pt):
    from transformers import T5ForConditionalGeneration

    return T5ForConditionalGeneration.from_pretrained(pt).eval()


def load_optimum(onnx, threads):
    import onnxruntime as ort
    from optimum.onnxruntime import ORTModelForSeq2SeqLM

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    return ORTModelForSeq2SeqLM.from_pretrained(onnx, provider="CPUExecutionProvider", session_options=so,
                                                use_merged=True)


def main():
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    a = parse_args()
    if a.render:
        render(json.loads(pathlib.Path(a.render).read_text()))
        return
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoTokenizer

    torch.set_num_threads(a.threads)
    work = pathlib.Path(a.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    a.work_dir = str(work)
    binary = pathlib.Path(a.evalrun)
    if "evalrun" in a.contenders and not binary.exists():
        sys.exit(f"`{binary}` is missing: cargo build --release -p evalrun-cli")
    data_dir = pathlib.Path(a.data_dir)
    if a.workload == "summarise":
        data_dir = summarise_data(data_dir, work, a.examples)
    pt, onnx = build(work, a.tokenizer)
    tok = AutoTokenizer.from_pretrained(onnx)
    predictions = work / "evalrun-predictions.jsonl"

    texts = None
    if "evalrun" not in a.contenders:
        with open(a.inputs, encoding="utf-8") as f:
            texts = [json.loads(line)["input"] for line in f][:a.examples]
        log.info("inputs: first %d of %s", len(texts), a.inputs)

    loaders = {"transformers": lambda: load_torch(pt), "optimum": lambda: load_optimum(onnx, a.threads)}
    passes = {c: [] for c in a.contenders}
    outputs = {}

    def one_pass(name, rep):
        nonlocal texts
        if name == "evalrun":
            first = texts is None
            with ForeignCpu() as foreign:
                seconds, tokens, process, peak = run_evalrun(binary, onnx, data_dir, a, predictions if first else None)
            if first:
                lines = [json.loads(l) for l in predictions.read_text(encoding="utf-8").splitlines()]
                lines.sort(key=lambda l: l["id"])
                texts = [l["input"] for l in lines]
                outputs[name] = [l["output"] for l in lines]
            log.info("pass %d/%d evalrun: %.2f s in process (%.2f s with model load), %d tokens, peak RSS %.0f MiB",
                     rep + 1, a.repeats, seconds, process, tokens, peak / 1024)
            record = {"seconds": seconds, "generated_tokens": tokens, "process_seconds": process, "peak_rss_kib": peak}
        else:
            t0 = time.perf_counter()
            model = loaders[name]()
            load = time.perf_counter() - t0
            with ForeignCpu() as foreign:
                seconds, tokens, outs = python_pass(model, tok, texts, a)
            del model
            outputs.setdefault(name, outs)
            log.info("pass %d/%d %s: %.2f s (load %.1f s, not timed), %d tokens", rep + 1, a.repeats, name, seconds,
                     load, tokens)
            record = {"seconds": seconds, "generated_tokens": tokens, "load_seconds": load}
        record["foreign_cpu_seconds"] = foreign.seconds
        record["distorted"] = foreign.share > 0.05
        if record["distorted"]:
            log.warning("other processes used %.0f%% of the CPUs during that pass (%.1f CPU s): it is distorted",
                        100 * foreign.share, foreign.seconds)
        return record

    for rep in range(a.repeats):
        for name in a.contenders:
            for _ in range(a.retries + 1):
                if a.quiet_wait > 0:
                    ForeignCpu.wait_quiet(a.quiet_wait)
                passes[name].append(one_pass(name, rep))
                if not passes[name][-1]["distorted"]:
                    break

    expected = a.examples * a.max_new_tokens
    counts = {name: sorted({p["generated_tokens"] for p in ps}) for name, ps in passes.items()}
    for name, c in counts.items():
        if c != [expected]:
            log.warning("%s generated %s tokens, expected %d (%d examples × %d)", name, c, expected, a.examples,
                        a.max_new_tokens)
    if len({tuple(c) for c in counts.values()}) != 1:
        sys.exit(f"generated token counts differ between contenders: {counts}; the comparison is void")
    tokens = counts[a.contenders[0]][0]
    input_tokens = [len(x) for x in tok(texts, truncation=True, max_length=MAX_INPUT)["input_ids"]]
    reference = a.contenders[0]
    agreement = {name: sum(x == y for x, y in zip(outputs[reference], outs)) for name, outs in outputs.items()}

    import onnxruntime
    import transformers

    rows = [{"contender": name, "passes": passes[name]} for name in a.contenders]
    summary = {
        "threads": a.threads, "cpu_count": os.cpu_count(), "machine": cpu_model(),
        "examples": a.examples, "max_new_tokens": a.max_new_tokens, "batch_size": a.batch_size,
        "workload": a.workload, "inputs_label": a.inputs_label, "beams": a.beams,
        "repeats": a.repeats, "generated_tokens": tokens, "input_tokens": input_tokens,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "onnxruntime_python": onnxruntime.__version__},
        "model": rel(onnx), "rows": rows, "identical_outputs": agreement, "reference": reference,
    }
    render(summary)  # fills in each row's best_seconds, tokens_per_second, evalrun_speedup
    out = pathlib.Path(a.json) if a.json else work / "results.json"
    out.write_text(json.dumps(summary, indent=2))
    log.info("raw numbers written to %s", out)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            return next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def kept(passes):
    """The undistorted passes, or all of them when every one was distorted."""
    return [p for p in passes if not p["distorted"]] or passes


def render(s):
    """The markdown report of a results summary (as written to --json) on stdout."""
    tokens, inputs = s["generated_tokens"], s["input_tokens"]
    passes = {r["contender"]: r["passes"] for r in s["rows"]}
    best = {name: min(p["seconds"] for p in kept(ps)) for name, ps in passes.items()}
    for r in s["rows"]:
        r["best_seconds"] = best[r["contender"]]
        r["tokens_per_second"] = tokens / best[r["contender"]]
        r["evalrun_speedup"] = best[r["contender"]] / best["evalrun"] if "evalrun" in best else None
    labels = {
        "evalrun": "evalrun (in process: tokenize + generate + score)",
        "transformers": f"transformers generate, PyTorch {s['versions']['torch'].split('+')[0]} "
                        "(tokenize + generate + decode)",
        "optimum": "optimum ORTModelForSeq2SeqLM generate, merged decoder (tokenize + generate + decode)",
    }
    beams = s.get("beams", 1)
    decoding = "greedy" if beams == 1 else f"beam search, {beams} beams, length penalty {LENGTH_PENALTY}"
    print(f"\nthreads={s['threads']} (machine: {s['cpu_count']} CPUs, {s.get('machine', '?')}); T5-base architecture "
          f"(222M, 12+12 layers, vocab 32128), random weights; {s.get('inputs_label', 'SQuAD v1.1 dev')}, first "
          f"{s['examples']} examples ({sum(inputs)} input tokens, {min(inputs)}–{max(inputs)} per example); "
          f"{decoding}, {s['max_new_tokens']} new "
          f"tokens per example, batch {s['batch_size']}, longest first; best of {s['repeats']} round-robin passes "
          f"(distorted ones redone); transformers {s['versions']['transformers']}, onnxruntime "
          f"{s['versions']['onnxruntime_python']}\n")
    print("| contender | generated tokens | passes kept | best seconds | tokens/s | evalrun speed-up |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in s["rows"]:
        name = r["contender"]
        ratio = "—" if name == "evalrun" or r["evalrun_speedup"] is None else f"{r['evalrun_speedup']:.2f}×"
        print(f"| {labels[name]} | {tokens} | {len(kept(r['passes']))} | {r['best_seconds']:.2f} | "
              f"{r['tokens_per_second']:.1f} | {ratio} |")
    if "evalrun" in passes:
        ps = kept(passes["evalrun"])
        process = min(p["process_seconds"] for p in ps)
        print(f"| evalrun, whole process (model load included) | {tokens} | {len(ps)} | {process:.2f} | "
              f"{tokens / process:.1f} | — |")
        peak = max(p["peak_rss_kib"] for p in passes["evalrun"])
        print(f"\nevalrun peak resident memory {peak / 1024:.0f} MiB.", end=" ")
    worst = max(p["foreign_cpu_seconds"] for ps in passes.values() for p in kept(ps))
    dropped = sum(p["distorted"] for ps in passes.values() for p in ps)
    dirty = [name for name, ps in passes.items() if all(p["distorted"] for p in ps)]
    print(f"Other processes took at most {worst:.1f} CPU s during a kept pass; {dropped} distorted passes dropped"
          f"{' (ALL passes of ' + ', '.join(dirty) + ' distorted: their figures are not trustworthy)' if dirty else ''}.",
          end=" ")
    reference = s.get("reference", "evalrun")
    others = [f"{n} {k}/{s['examples']}" for n, k in s["identical_outputs"].items() if n != reference]
    print(f"Outputs identical to {reference}'s: {', '.join(others) or '—'}.")

if __name__ == "__main__":
    main()
