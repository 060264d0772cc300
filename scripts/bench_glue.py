"""Side-by-side throughput of evalrun and its Python peers on the same ONNX file, data and threads.

Workloads (PROTOCOLS-free, speed only):
  * SST-2 dev (872 sentences), a MiniLM-L6-H384 sequence classifier: BertForSequenceClassification
    with all-MiniLM-L6-v2's exact config (6 layers, 384 hidden) and seeded random weights (the
    real checkpoint has no classification head; the kernels and shapes, hence the cost, are the
    real ones), exported once with `optimum-cli export onnx --task text-classification`.
  * STS-B dev (1500 pairs = 3000 sentences), the real all-MiniLM-L6-v2 ONNX graph, mean pooling.

Contenders, each timed from raw text to per-example outputs (tokenization included, model and
data loading excluded). Every pass starts from a fresh ONNX Runtime session, as a real evaluation
does (evalrun runs as a new process each time); contenders alternate round-robin, and the best of
--repeats passes is kept:
  1. evalrun (release binary; its record's per-task wall time);
  2. Python onnxruntime, length-sorted dynamic padding, HF `tokenizers` batch encoding (the best
     Python set-up);
  3. Python onnxruntime, file order, each batch padded to its longest row;
  4. run_glue-style transformers PyTorch evaluation: pad to 128, batch 32, torch.no_grad. For
     STS-B the PyTorch model is BertModel with MiniLM's config and random weights (same cost).
Also: model FLOPs utilisation (forward FLOPs over unpadded tokens) against the best fp32 GEMM rate
measured here at the same threads (ONNX Runtime MatMul with prepacked weights, torch.matmul).

Usage (from the repository root, in the fixtures venv):
  python scripts/bench_glue.py --threads 2 --repeats 3
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--data-dir", default=os.environ.get("EVALRUN_DATA_DIR", str(ROOT.parent / "shared" / "data")))
    p.add_argument("--minilm", default=str(ROOT.parent / "shared" / "models" / "all-MiniLM-L6-v2"))
    p.add_argument("--work-dir", default=str(ROOT / "target" / "bench"))
    p.add_argument("--json", help="also write the measurements here")
    p.add_argument("--only", choices=["sst2", "stsb"], help="run one workload")
    return p.parse_args()


def read_tsv(path, header, cols):
    rows = []
    with open(path, encoding="utf-8-sig") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for line in lines[1 if header else 0:]:
        parts = line.rstrip("\r").split("\t")
        rows.append(tuple(parts[c] for c in cols))
    return rows


def build_classifier(minilm, work):
    """MiniLM-architecture classifier with seeded random weights, exported by Optimum."""
    out = work / "minilm-cls2"
    if (out / "model.onnx").exists():
        return out
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig.from_pretrained(minilm, num_labels=2)
    model = BertForSequenceClassification(config).eval()
    pt = work / "minilm-cls2-pt"
    model.save_pretrained(pt)
    tok = AutoTokenizer.from_pretrained(minilm)
    tok.backend_tokenizer.no_padding()
    tok.backend_tokenizer.no_truncation()
    tok.save_pretrained(pt)
    subprocess.run(
        ["optimum-cli", "export", "onnx", "--model", str(pt), "--task", "text-classification", str(out)],
        check=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    return out


def best_of(repeats, fn):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def evalrun_time(binary, model, task, data_dir, threads, batch_size, repeats):
    best = float("inf")
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            record = pathlib.Path(tmp) / "r.json"
            subprocess.run(
                [binary, "-q", "run", "--model", str(model), "--task", task, "--data-dir", data_dir,
                 "--threads", str(threads), "--batch-size", str(batch_size), "--output", str(record)],
                check=True, stdout=subprocess.DEVNULL,
            )
            best = min(best, json.loads(record.read_text())["results"][task]["wall_seconds"])
    return best


def ort_session(path, threads):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def ort_run(session, tokenizer, texts, batch_size, sort, max_length, pool):
    """texts: list of (a, b|None). Returns outputs in input order."""
    import numpy as np

    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length)
    enc = tokenizer.encode_batch([t if t[1] is not None else t[0] for t in texts])
    order = sorted(range(len(enc)), key=lambda i: -len(enc[i].ids)) if sort else list(range(len(enc)))
    names = {i.name for i in session.get_inputs()}
    out = [None] * len(enc)
    for s in range(0, len(order), batch_size):
        idx = order[s:s + batch_size]
        width = max(len(enc[i].ids) for i in idx)
        ids = np.zeros((len(idx), width), dtype=np.int64)
        mask = np.zeros((len(idx), width), dtype=np.int64)
        types = np.zeros((len(idx), width), dtype=np.int64)
        for r, i in enumerate(idx):
            n = len(enc[i].ids)
            ids[r, :n] = enc[i].ids
            mask[r, :n] = 1
            types[r, :n] = enc[i].type_ids
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in names:
            feed["token_type_ids"] = types
        result = session.run(None, feed)[0]
        if pool:
            m = mask[:, :, None].astype(np.float32)
            result = (result * m).sum(1) / np.clip(m.sum(1), 1e-9, None)
            result = result / np.clip(np.linalg.norm(result, axis=1, keepdims=True), 1e-12, None)
        for r, i in enumerate(idx):
            out[i] = result[r]
    return out


def torch_run(model, tokenizer, texts, batch_size, pool):
    import torch

    out = []
    with torch.no_grad():
        for s in range(0, len(texts), batch_size):
            chunk = texts[s:s + batch_size]
            a = [t[0] for t in chunk]
            b = [t[1] for t in chunk] if chunk[0][1] is not None else None
            enc = tokenizer(a, b, padding="max_length", max_length=128, truncation=True, return_tensors="pt")
            result = model(**enc)
            if pool:
                h = result.last_hidden_state
                m = enc["attention_mask"].unsqueeze(-1).float()
                e = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
                out.extend(torch.nn.functional.normalize(e, dim=1))
            else:
                out.extend(result.logits)
    return out


def model_flops(token_counts, layers, hidden, intermediate):
    """Forward FLOPs over unpadded tokens: projections, FFN and attention (2 FLOPs per MAC)."""
    total = 0
    for t in token_counts:
        per_layer = 2 * t * (4 * hidden * hidden + 2 * hidden * intermediate) + 2 * 2 * t * t * hidden
        total += layers * per_layer
    return total


def gemm_peak(threads, hidden, intermediate):
    """The best fp32 matrix-product rate measured here, at the same threads: ONNX Runtime's own
    MatMul with constant (prepacked) weights on square shapes and on the model's own GEMM shapes
    (800 rows = a batch of 32 × 25 tokens), and torch.matmul; the maximum is the peak."""
    import numpy as np
    import onnxruntime as ort
    import torch
    from onnx import TensorProto, helper, numpy_helper

    rates = []
    shapes = [(2048, 2048, 2048), (3072, 3072, 3072), (800, hidden, intermediate), (800, intermediate, hidden), (800, hidden, hidden)]
    for m, k, n in shapes:
        a = np.random.rand(m, k).astype(np.float32)
        b = np.random.rand(k, n).astype(np.float32)
        graph = helper.make_graph(
            [helper.make_node("MatMul", ["a", "b"], ["c"])], "gemm",
            [helper.make_tensor_value_info("a", TensorProto.FLOAT, [m, k])],
            [helper.make_tensor_value_info("c", TensorProto.FLOAT, [m, n])],
            [numpy_helper.from_array(b, "b")],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        session = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
        session.run(None, {"a": a})
        rates.append(2 * m * k * n / best_of(7, lambda: session.run(None, {"a": a})))
    torch.set_num_threads(threads)
    for n in (2048, 3072):
        x, y = torch.randn(n, n), torch.randn(n, n)
        torch.matmul(x, y)
        rates.append(2 * n ** 3 / best_of(5, lambda: torch.matmul(x, y)))
    return max(rates)


def main():
    args = parse_args()
    import torch
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer, BertConfig, BertModel, BertForSequenceClassification

    torch.set_num_threads(args.threads)
    work = pathlib.Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    binary = ROOT / "target" / "release" / "evalrun"
    if not binary.exists():
        sys.exit("build evalrun first: cargo build --release")
    data = pathlib.Path(args.data_dir)
    classifier = build_classifier(args.minilm, work)
    cfg = BertConfig.from_pretrained(args.minilm)

    sst2 = [(s, None) for (s,) in read_tsv(data / "glue/SST-2/dev.tsv", True, [0])]
    stsb_pairs = read_tsv(data / "glue/STS-B/dev.tsv", True, [7, 8])
    stsb = [(a, None) for a, _ in stsb_pairs] + [(b, None) for _, b in stsb_pairs]

    tok_cls = Tokenizer.from_file(str(classifier / "tokenizer.json"))
    tok_minilm = Tokenizer.from_file(str(pathlib.Path(args.minilm) / "tokenizer.json"))
    hf_tok = AutoTokenizer.from_pretrained(args.minilm)
    torch.manual_seed(0)
    pt_cls = BertForSequenceClassification.from_pretrained(work / "minilm-cls2-pt").eval()
    pt_base = BertModel(cfg).eval()

    workloads = [
        ("SST-2 dev (872 sentences), MiniLM classifier", "sst2", classifier, sst2, tok_cls, pt_cls, False, 512, len(sst2)),
        ("STS-B dev (1500 pairs), all-MiniLM-L6-v2 embeddings", "stsb", pathlib.Path(args.minilm), stsb, tok_minilm, pt_base, True, 256, len(stsb_pairs)),
    ]
    peak = gemm_peak(args.threads, cfg.hidden_size, cfg.intermediate_size)
    rows = []
    for title, task, model_dir, texts, tok, pt, pool, max_len, n_examples in workloads:
        if args.only and task != args.only:
            continue
        onnx = model_dir / "model.onnx" if (model_dir / "model.onnx").exists() else model_dir / "onnx" / "model.onnx"
        counts = [len(e.ids) for e in (tok.no_padding(), tok.enable_truncation(max_len), tok.encode_batch([t[0] for t in texts]))[2]]
        flops = model_flops(counts, cfg.num_hidden_layers, cfg.hidden_size, cfg.intermediate_size)

        def fresh_ort(sort):
            session = ort_session(onnx, args.threads)  # not timed
            t0 = time.perf_counter()
            ort_run(session, tok, texts, args.batch_size, sort, max_len, pool)
            return time.perf_counter() - t0

        def torch_pass():
            t0 = time.perf_counter()
            torch_run(pt, hf_tok, texts, args.batch_size, pool)
            return time.perf_counter() - t0

        contenders = {
            "evalrun": lambda: evalrun_time(str(binary), model_dir, task, str(data), args.threads, args.batch_size, 1),
            "python ORT, length-sorted dynamic padding": lambda: fresh_ort(True),
            "python ORT, pad to longest in batch": lambda: fresh_ort(False),
            "transformers PyTorch, run_glue-style (pad 128, bs 32)": torch_pass,
        }
        times = {name: float("inf") for name in contenders}
        for _ in range(args.repeats):
            for name, run in contenders.items():
                times[name] = min(times[name], run())
        for name, seconds in times.items():
            rows.append({
                "workload": title, "contender": name, "seconds": seconds, "examples_per_second": n_examples / seconds,
                "evalrun_speedup": seconds / times["evalrun"], "mfu": flops / seconds / peak,
            })
    print(f"threads={args.threads}, batch={args.batch_size}, best of {args.repeats}; measured fp32 GEMM peak (ORT MatMul / torch.matmul, best shape) = {peak / 1e9:.1f} GFLOP/s\n")
    print("| workload | contender | examples/s | evalrun speed-up | MFU |")
    print("|---|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['workload']} | {r['contender']} | {r['examples_per_second']:.1f} | {r['evalrun_speedup']:.2f}× | {100 * r['mfu']:.1f}% |")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps({"threads": args.threads, "gemm_peak_flops": peak, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
