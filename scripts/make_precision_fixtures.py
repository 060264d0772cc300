"""Builds the fixtures for exports of other precisions than float32.

* tests/fixtures/models/gpt2-tiny-int8: the fixture GPT-2 (gpt2-tiny) quantised by ONNX Runtime's
  `quantize_dynamic` (int8 weights, MatMulInteger / DynamicQuantizeLinear), the way users make
  int8 exports. evalrun must run it, with its graph edits, as it runs the float32 one.
* tests/fixtures/models/broken-fp16: a causal-LM directory (gpt2-tiny's config and tokenizer)
  whose graph returns `logits` in float16, as `optimum-cli export onnx --dtype fp16` writes.
  evalrun must refuse it at load time, naming the output and the dtype.

Needs only `onnx` and `onnxruntime` (e.g. `python -m venv v && v/bin/pip install onnx
onnxruntime==1.31.1`). Run from anywhere: python scripts/make_precision_fixtures.py
"""

import pathlib
import shutil

import onnx
from onnx import TensorProto, helper
from onnxruntime.quantization import QuantType, quantize_dynamic

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODELS = ROOT / "tests" / "fixtures" / "models"
SOURCE = MODELS / "gpt2-tiny"


def copy_beside(target, names):
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(SOURCE / name, target / name)


def int8():
    target = MODELS / "gpt2-tiny-int8"
    copy_beside(target, [p.name for p in SOURCE.iterdir() if p.name != "model.onnx"])
    quantize_dynamic(
        str(SOURCE / "model.onnx"),
        str(target / "model.onnx"),
        weight_type=QuantType.QInt8,
    )
    return target


def fp16():
    target = MODELS / "broken-fp16"
    copy_beside(target, ["config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"])
    nodes = [
        helper.make_node("Cast", ["input_ids"], ["ids_f"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["ids_f", "axis"], ["ids_3d"]),
        helper.make_node("Cast", ["ids_3d"], ["logits"], to=TensorProto.FLOAT16),
    ]
    axis = helper.make_tensor("axis", TensorProto.INT64, [1], [2])
    inputs = [
        helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "sequence"])
        for name in ["input_ids", "attention_mask"]
    ]
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT16, ["batch", "sequence", 1])
    graph = helper.make_graph(nodes, "fp16", inputs, [out], initializer=[axis])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, target / "model.onnx")
    return target


print("wrote", int8(), fp16())
