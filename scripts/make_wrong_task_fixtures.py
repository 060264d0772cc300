#!/usr/bin/env python3
"""Models exported with the wrong Optimum task, for the tests that expect one clear error each.

Under tests/fixtures/models/wrong-task/ (tiny random weights, seed 1234, `optimum-cli export onnx --task
feature-extraction`):

  distilbert-regression  a DistilBertForSequenceClassification regression checkpoint (num_labels 1,
                         bert-base-uncased vocabulary): the graph has `last_hidden_state`, not the head's `logits`
  llama-causal           llama-tiny's architecture and tokenizer (LlamaForCausalLM): no `logits`
  t5-seq2seq             t5-tiny's architecture and tokenizer (T5ForConditionalGeneration) as one graph that
                         takes `decoder_input_ids`

Usage, from the repository root, in a venv made from scripts/requirements-fixtures.txt:

  python scripts/make_wrong_task_fixtures.py
"""

import importlib.util
import shutil
import tempfile
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
MODELS = REPO / "tests" / "fixtures" / "models"
OUT = MODELS / "wrong-task"
VOCAB = (REPO / ".." / "shared" / "tokenizers" / "bert-base-uncased" / "vocab.txt").resolve()
_spec = importlib.util.spec_from_file_location("families", REPO / "scripts" / "make_lm_family_fixtures.py")
families = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(families)


def export(hf_dir, name):
    families.optimum_export(hf_dir, OUT / name, "feature-extraction")
    print("wrote", OUT / name, sorted(p.name for p in (OUT / name).iterdir()), flush=True)


def main():
    from transformers import (AutoTokenizer, BertTokenizerFast, DistilBertConfig,
                              DistilBertForSequenceClassification, LlamaConfig, LlamaForCausalLM, T5Config,
                              T5ForConditionalGeneration)

    torch.manual_seed(1234)
    work = Path(tempfile.mkdtemp(prefix="evalrun-wrong-task-"))

    d = work / "distilbert"
    tok = BertTokenizerFast(vocab_file=str(VOCAB), do_lower_case=True, model_max_length=512)
    config = DistilBertConfig(vocab_size=len(tok), dim=16, hidden_dim=32, n_layers=1, n_heads=2,
                              max_position_embeddings=512, num_labels=1, problem_type="regression")
    DistilBertForSequenceClassification(config).save_pretrained(d)
    tok.save_pretrained(d)
    export(d, "distilbert-regression")

    # The causal LM and the seq2seq model: an existing fixture's architecture and tokenizer.
    for source, config_cls, model_cls, name in [
        ("llama-tiny", LlamaConfig, LlamaForCausalLM, "llama-causal"),
        ("t5-tiny", T5Config, T5ForConditionalGeneration, "t5-seq2seq"),
    ]:
        d = work / name
        model_cls(config_cls.from_pretrained(MODELS / source)).save_pretrained(d)
        AutoTokenizer.from_pretrained(MODELS / source).save_pretrained(d)
        export(d, name)
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
