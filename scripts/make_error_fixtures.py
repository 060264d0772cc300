"""Builds the two deliberately broken model directories the error tests use.

* tests/fixtures/models/broken-no-mask: a graph whose only input is `input_ids`
  (evalrun must refuse it, naming the missing `attention_mask`);
* tests/fixtures/models/broken-no-logits: inputs are fine, but the output is called `scores`
  (evalrun must refuse it, naming the outputs it reads).

Both reuse the fixture tokenizer. Run: python scripts/make_error_fixtures.py
"""

import pathlib
import shutil

import onnx
from onnx import TensorProto, helper

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODELS = ROOT / "tests" / "fixtures" / "models"


def graph(inputs, output_name):
    nodes = [
        helper.make_node("Cast", ["input_ids"], ["ids_f"], to=TensorProto.FLOAT),
        helper.make_node("ReduceMean", ["ids_f"], ["mean"], keepdims=1),
        helper.make_node("Concat", ["mean", "mean"], [output_name], axis=1),
    ]
    graph_inputs = [helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "sequence"]) for name in inputs]
    out = helper.make_tensor_value_info(output_name, TensorProto.FLOAT, ["batch", 2])
    model = helper.make_model(helper.make_graph(nodes, "broken", graph_inputs, [out]), opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def write(name, model):
    target = MODELS / name
    target.mkdir(parents=True, exist_ok=True)
    onnx.save(model, target / "model.onnx")
    for f in ["tokenizer.json", "config.json"]:
        shutil.copy(MODELS / "bert-tiny-cls2" / f, target / f)


write("broken-no-mask", graph(["input_ids"], "logits"))
write("broken-no-logits", graph(["input_ids", "attention_mask"], "scores"))
print("wrote", MODELS / "broken-no-mask", MODELS / "broken-no-logits")
