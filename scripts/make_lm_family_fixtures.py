#!/usr/bin/env python3
"""Causal-LM families whose special tokens differ from GPT-2's, and lm-eval HFLM references for them.

Tiny random-weight models (fixed seed), exported by Optimum (`text-generation-with-past`), under
tests/fixtures/models/:

  llama-tiny   LlamaForCausalLM; a SentencePiece BPE tokenizer with byte fallback (trained here on the LAMBADA
               plain text, vocabulary 2000), LlamaTokenizerFast: adds `<s>` (id 1) to every encoding
  opt-tiny     OPTForCausalLM; GPT-2's vocabulary re-indexed with `<s>`, `<pad>`, `</s>`, `<unk>` first (as
               OPT's is), GPT2Tokenizer with add_bos_token=True converted to fast: adds `</s>` (id 2) as BOS, and
               `<|endoftext|>` is an ordinary word
  qwen2-tiny   Qwen2ForCausalLM; GPT-2's vocabulary, no BOS token (bos_token None), eos `<|endoftext|>`

and references computed by lm-eval 0.4.x's own HFLM on the PyTorch weights (pretrained=the saved directory, so
the tokenizer is used as saved), under tests/fixtures/reference/lm-families/<name>/:

  wikitext2.jsonl   HFLM.loglikelihood_rolling per WikiText-2 test article (the 60 articles of evalrun's
                    `wikitext2` task, lm-eval's wikitext_detokenizer), with the token count lm-eval scores
  lambada.jsonl     HFLM.loglikelihood on the first LAMBADA_N LAMBADA (OpenAI) examples, with is_greedy
  lambada_no_bos.jsonl  (llama-tiny only) the same with HFLM(add_bos_token=False, prefix_token_id=eos)
  wikitext2_no_bos.jsonl (llama-tiny only) likewise for WikiText-2
  cbt.jsonl         HFLM.loglikelihood of every (context, candidate) pair of a CBT-format file built from
                    WikiText-2 sentences (scripts/bench/sitting.py's cbt_file, 12 questions; the file is written to
                    tests/fixtures/reference/lm-families/cbt-data/lm/cbt/cbtest_CN_valid_2000ex.txt), the pairs
                    as evalrun's `cbt_cn` task makes them
  hflm.json         HFLM's prefix_token_id, eot_token_id, max_length and add_bos_token for each run

Usage, from the repository root, in a venv made from scripts/requirements-fixtures.txt (torch, transformers,
optimum-onnx, lm-eval, sentencepiece, protobuf):

  python scripts/make_lm_family_fixtures.py

Nothing is downloaded. Seeds are fixed (1234).
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("EVALRUN_DATA_DIR", REPO / ".." / "shared" / "data")).resolve()
GPT2 = (REPO / ".." / "shared" / "tokenizers" / "gpt2").resolve()
MODELS = REPO / "tests" / "fixtures" / "models"
REFERENCE = REPO / "tests" / "fixtures" / "reference" / "lm-families"
SEED = 1234
MAX_POSITIONS = 512
LAMBADA_N = 300
KEEP = ["model.onnx", "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
        "special_tokens_map.json"]

# The GPT-2 fixture script's helpers (WikiText-2 article split, lm-eval's detokenizer) and the bench sitting's
# CBT-format file.
_spec = importlib.util.spec_from_file_location("make_lm_fixtures", REPO / "scripts" / "make_lm_fixtures.py")
lmfx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lmfx)
sys.path.insert(0, str(REPO / "scripts" / "bench"))
sys.path.insert(0, str(REPO / "scripts"))
_spec = importlib.util.spec_from_file_location("sitting", REPO / "scripts" / "bench" / "sitting.py")
sitting = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sitting)
CBT_DATA = REFERENCE / "cbt-data"
CBT_QUESTIONS = 12


def small(config_cls, **kw):
    return config_cls(hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
                      max_position_embeddings=MAX_POSITIONS, **kw)


def llama(work):
    import sentencepiece as spm
    from transformers import LlamaConfig, LlamaForCausalLM, LlamaTokenizerFast

    text = (DATA / "lm" / "lambada" / "lambada_test_plain_text.txt").read_text(encoding="utf-8")
    corpus = work / "corpus.txt"
    corpus.write_text(text, encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(corpus), model_prefix=str(work / "sp"), vocab_size=2000, model_type="bpe",
        byte_fallback=True, character_coverage=1.0, split_digits=True, add_dummy_prefix=True,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, num_threads=1,
        train_extremely_large_corpus=False, input_sentence_size=200000, shuffle_input_sentence=False,
    )
    tok = LlamaTokenizerFast(vocab_file=str(work / "sp.model"), legacy=False, add_bos_token=True,
                             add_eos_token=False, model_max_length=MAX_POSITIONS)
    assert tok("Hello")["input_ids"][0] == tok.bos_token_id == 1
    config = small(LlamaConfig, vocab_size=len(tok), num_key_value_heads=1, bos_token_id=1, eos_token_id=2,
                   tie_word_embeddings=False)
    return LlamaForCausalLM(config), tok


def opt(work):
    from transformers import AutoTokenizer, GPT2Tokenizer, OPTConfig, OPTForCausalLM

    vocab = json.loads((GPT2 / "vocab.json").read_text(encoding="utf-8"))
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    reindexed = {t: i for i, t in enumerate(specials)}
    for token, i in sorted(vocab.items(), key=lambda kv: kv[1]):
        reindexed[token] = i + len(specials)
    slow_dir = work / "opt-slow"
    slow_dir.mkdir()
    (slow_dir / "vocab.json").write_text(json.dumps(reindexed, ensure_ascii=False), encoding="utf-8")
    shutil.copy(GPT2 / "merges.txt", slow_dir / "merges.txt")
    slow = GPT2Tokenizer(vocab_file=str(slow_dir / "vocab.json"), merges_file=str(slow_dir / "merges.txt"),
                         bos_token="</s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>",
                         add_bos_token=True, model_max_length=MAX_POSITIONS)
    slow.save_pretrained(slow_dir)
    tok = AutoTokenizer.from_pretrained(slow_dir, use_fast=True)
    ids = tok("Hello world")["input_ids"]
    assert ids == [2, vocab["Hello"] + 4, vocab["Ġworld"] + 4], ids
    config = small(OPTConfig, vocab_size=len(tok), ffn_dim=32, word_embed_proj_dim=16, bos_token_id=2,
                   eos_token_id=2, pad_token_id=1)
    return OPTForCausalLM(config), tok


def qwen2(work):
    from transformers import GPT2TokenizerFast, Qwen2Config, Qwen2ForCausalLM

    tok = GPT2TokenizerFast(vocab_file=str(GPT2 / "vocab.json"), merges_file=str(GPT2 / "merges.txt"),
                            tokenizer_file=str(GPT2 / "tokenizer.json"), bos_token=None,
                            eos_token="<|endoftext|>", unk_token=None, pad_token="<|endoftext|>",
                            model_max_length=MAX_POSITIONS)
    assert tok.bos_token_id is None and tok.eos_token_id == 50256
    config = small(Qwen2Config, vocab_size=len(tok), num_key_value_heads=1, bos_token_id=None, eos_token_id=50256,
                   tie_word_embeddings=True)
    return Qwen2ForCausalLM(config), tok


def optimum_export(hf_dir, out_dir, task):
    """`optimum-cli export onnx --task TASK`, keeping only the files evalrun reads (KEEP)."""
    cli = shutil.which("optimum-cli") or str(Path(sys.executable).parent / "optimum-cli")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    cmd = [cli, "export", "onnx", "--model", str(hf_dir), "--task", task, str(out_dir)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stdout[-4000:], r.stderr[-8000:])
        raise SystemExit(f"optimum-cli failed for {hf_dir}")
    for p in out_dir.iterdir():
        if p.name not in KEEP:
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    for name in ["model.onnx", "config.json", "tokenizer.json", "tokenizer_config.json"]:
        assert (out_dir / name).exists(), out_dir / name


def export(hf_dir, out_dir):
    optimum_export(hf_dir, out_dir, "text-generation-with-past")
    compact_tokenizer(out_dir)


def compact_tokenizer(out_dir):
    """save_pretrained writes tokenizer.json pretty-printed (3.6 MB for GPT-2's vocabulary); the same tokenizer
    saved compactly is the same tokenizer, and where it equals GPT-2's own file that file is copied (one blob)."""
    from tokenizers import Tokenizer

    path = out_dir / "tokenizer.json"
    sample = "Hello world!\n\n It's 3.5 km -- café\t<|endoftext|> ok  ."
    before = Tokenizer.from_file(str(path)).encode(sample)
    Tokenizer.from_file(str(path)).save(str(path), pretty=False)
    if json.loads(path.read_text(encoding="utf-8")) == json.loads((GPT2 / "tokenizer.json").read_text(encoding="utf-8")):
        shutil.copyfile(GPT2 / "tokenizer.json", path)
    after = Tokenizer.from_file(str(path)).encode(sample)
    assert before.ids == after.ids and before.offsets == after.offsets


def write_jsonl(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def cbt_references(lm, ref_dir, pairs):
    from lm_eval.api.instance import Instance

    reqs = [Instance(request_type="loglikelihood", doc={}, arguments=p, idx=0) for p in pairs]
    res = lm.loglikelihood(reqs, disable_tqdm=True)
    write_jsonl(ref_dir / "cbt.jsonl",
                [{"question": i // 10, "candidate": i % 10, "loglikelihood": float(ll)}
                 for i, (ll, _) in enumerate(res)])


def references(hf_dir, ref_dir, suffix="", cbt_pairs=None, **hflm_args):
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    lm = HFLM(pretrained=str(hf_dir), max_length=MAX_POSITIONS, batch_size=1, device="cpu",
              softmax_dtype="float64", **hflm_args)
    hflm = {"prefix_token_id": lm.prefix_token_id, "eot_token_id": lm.eot_token_id, "max_length": lm.max_length,
            "add_bos_token": lm.add_bos_token}
    raw = (DATA / "lm" / "wikitext-2" / "wiki.test.tokens").read_text(encoding="utf-8")
    articles, _ = lmfx.split_wikitext_articles(raw)
    detok, _ = lmfx.load_lm_eval_wikitext_detokenizer()
    targets = [detok({"page": page}) for _, page in articles]
    reqs = [Instance(request_type="loglikelihood_rolling", doc={}, arguments=(t,), idx=i)
            for i, t in enumerate(targets)]
    lls = lm.loglikelihood_rolling(reqs, disable_tqdm=True)
    write_jsonl(ref_dir / f"wikitext2{suffix}.jsonl",
                [{"id": i, "loglikelihood": float(ll), "tokens": len(lm.tok_encode(t))}
                 for i, (t, ll) in enumerate(zip(targets, lls))])
    docs = []
    with open(DATA / "lm" / "lambada" / "lambada_test.jsonl", encoding="utf-8") as f:
        for line in f:
            docs.append(json.loads(line)["text"])
    docs = docs[:LAMBADA_N]
    pairs = [(" ".join(t.split(" ")[:-1]), " " + t.split(" ")[-1]) for t in docs]
    reqs = [Instance(request_type="loglikelihood", doc={}, arguments=p, idx=0) for p in pairs]
    res = lm.loglikelihood(reqs, disable_tqdm=True)
    write_jsonl(ref_dir / f"lambada{suffix}.jsonl",
                [{"id": i, "loglikelihood": float(ll), "greedy": bool(g),
                  "tokens": len(lm._encode_pair(*p)[1])} for i, (p, (ll, g)) in enumerate(zip(pairs, res))])
    if cbt_pairs is not None:
        cbt_references(lm, ref_dir, cbt_pairs)
    return hflm


def main():
    if sys.argv[1:] == ["--compact-only"]:
        for name in ["llama-tiny", "opt-tiny", "qwen2-tiny"]:
            compact_tokenizer(MODELS / name)
        return
    torch.set_num_threads(2)
    questions, cbt_pairs = sitting.cbt_file(DATA, CBT_DATA, CBT_QUESTIONS)
    assert questions == CBT_QUESTIONS and len(cbt_pairs) == 10 * CBT_QUESTIONS
    work = Path(tempfile.mkdtemp(prefix="evalrun-families-"))
    for name, build, extra in [("llama-tiny", llama, True), ("opt-tiny", opt, False), ("qwen2-tiny", qwen2, False)]:
        torch.manual_seed(SEED)
        (work / name).mkdir()
        model, tok = build(work / name)
        model.eval()
        hf_dir = work / name / "hf"
        model.save_pretrained(hf_dir)
        tok.save_pretrained(hf_dir)
        export(hf_dir, MODELS / name)
        ref_dir = REFERENCE / name
        hflm = {"default": references(hf_dir, ref_dir, cbt_pairs=cbt_pairs)}
        if extra:
            eos = tok.eos_token_id
            hflm["no_bos"] = references(hf_dir, ref_dir, "_no_bos", add_bos_token=False, prefix_token_id=eos)
        (ref_dir / "hflm.json").write_text(json.dumps(hflm, indent=2) + "\n", encoding="utf-8")
        print(name, hflm, flush=True)
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
