#!/usr/bin/env python3
"""Writes tests/fixtures/data/: small files in the published *test-server* layouts of GLUE and SuperGLUE, and a
ReCoRD split in the SuperGLUE ReCoRD layout, none of which are in ../shared/data.

- GLUE test TSVs (CoLA, SST-2, MRPC, STS-B, QQP, MNLI matched/mismatched, QNLI, RTE, WNLI) and the diagnostic
  (AX): the header and columns of the GLUE release's test files, an `index` column, no labels; the text is the
  first rows of the real dev files (QQP and MNLI, absent here, reuse QNLI/RTE text in their own layouts).
- SuperGLUE test JSONL (BoolQ, CB, COPA, MultiRC, RTE, WiC, WSC): the dev rows without `label`, `idx` kept;
  AX-b and AX-g are the released files' first rows (they carry labels).
- ReCoRD (val and test): passages written here with `@highlight` lines, entity spans given as inclusive
  code-point offsets (the SuperGLUE layout: {"idx", "source", "passage": {"text", "entities": [{"start", "end"}]},
  "qas": [{"idx", "query", "answers": [{"start", "end", "text"}]}]}), with non-ASCII text, repeated entities and
  highlights after punctuation and after words, so the reader's offsets and T5's passage rewriting are exercised.

Usage: python3 scripts/make_test_layouts.py [--data-dir ../shared/data]   (standard library only)
"""

import argparse
import csv
import json
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
OUT = REPO_ROOT / "tests/fixtures/data"
N = 4


def tsv_rows(path, header=True):
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return rows[1:] if header else rows


def write_tsv(rel, header, rows):
    path = OUT / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        for r in [header] + rows:
            f.write("\t".join(str(c) for c in r) + "\n")


def jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_jsonl(rel, rows):
    path = OUT / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def glue(data):
    cola = tsv_rows(data / "glue/CoLA/dev.tsv", header=False)[:N]
    write_tsv("glue/CoLA/test.tsv", ["index", "sentence"], [[i, r[3]] for i, r in enumerate(cola)])
    sst = tsv_rows(data / "glue/SST-2/dev.tsv")[:N]
    write_tsv("glue/SST-2/test.tsv", ["index", "sentence"], [[i, r[0]] for i, r in enumerate(sst)])
    mrpc = tsv_rows(data / "glue/MRPC/dev.tsv")[:N]
    write_tsv("glue/MRPC/test.tsv", ["index", "#1 ID", "#2 ID", "#1 String", "#2 String"],
              [[i, r[1], r[2], r[3], r[4]] for i, r in enumerate(mrpc)])
    sts = tsv_rows(data / "glue/STS-B/dev.tsv")[:N]
    write_tsv("glue/STS-B/test.tsv",
              ["index", "genre", "filename", "year", "old_index", "source1", "source2", "sentence1", "sentence2"],
              [[i] + r[1:9] for i, r in enumerate(sts)])
    qnli = tsv_rows(data / "glue/QNLI/dev.tsv")[:N]
    write_tsv("glue/QNLI/test.tsv", ["index", "question", "sentence"], [[i, r[1], r[2]] for i, r in enumerate(qnli)])
    write_tsv("glue/QQP/test.tsv", ["id", "question1", "question2"], [[i, r[1], r[1]] for i, r in enumerate(qnli)])
    rte = tsv_rows(data / "glue/RTE/dev.tsv")[:N]
    write_tsv("glue/RTE/test.tsv", ["index", "sentence1", "sentence2"], [[i, r[1], r[2]] for i, r in enumerate(rte)])
    mnli_header = ["index", "promptID", "pairID", "genre", "sentence1_binary_parse", "sentence2_binary_parse",
                   "sentence1_parse", "sentence2_parse", "sentence1", "sentence2"]
    for name in ("test_matched", "test_mismatched"):
        write_tsv(f"glue/MNLI/{name}.tsv", mnli_header,
                  [[i, 1000 + i, f"{1000 + i}n", "fiction", "( x )", "( y )", "(ROOT x)", "(ROOT y)", r[1], r[2]]
                   for i, r in enumerate(rte)])
    wnli = tsv_rows(data / "glue/WNLI/dev.tsv")[:N]
    write_tsv("glue/WNLI/test.tsv", ["index", "sentence1", "sentence2"], [[i, r[1], r[2]] for i, r in enumerate(wnli)])
    ax = tsv_rows(data / "glue/AX/diagnostic.tsv")[:N]
    write_tsv("glue/AX/diagnostic.tsv", ["index", "sentence1", "sentence2"], ax)


def superglue(data):
    for folder in ("BoolQ", "CB", "COPA", "RTE", "WiC", "WSC"):
        rows = jsonl(data / f"superglue/{folder}/val.jsonl")[:N]
        write_jsonl(f"superglue/{folder}/test.jsonl", [{k: v for k, v in r.items() if k != "label"} for r in rows])
    multirc = jsonl(data / "superglue/MultiRC/val.jsonl")[:1]
    for p in multirc:
        p["passage"]["questions"] = p["passage"]["questions"][:3]
        for q in p["passage"]["questions"]:
            for a in q["answers"]:
                a.pop("label", None)
    write_jsonl("superglue/MultiRC/test.jsonl", multirc)
    for folder in ("AX-b", "AX-g"):
        write_jsonl(f"superglue/{folder}/{folder}.jsonl", jsonl(data / f"superglue/{folder}/{folder}.jsonl")[:N])


def record_passage(idx, pieces, queries):
    """pieces: passage text with entities marked [[like this]]; queries: (query, [answer texts])."""
    text, entities, i = "", [], 0
    while i < len(pieces):
        if pieces.startswith("[[", i):
            j = pieces.index("]]", i)
            name = pieces[i + 2:j]
            entities.append({"start": len(text), "end": len(text) + len(name) - 1})
            text += name
            i = j + 2
        else:
            text += pieces[i]
            i += 1
    qas = []
    for k, (query, answers) in enumerate(queries):
        spans = []
        for a in answers:
            start = text.index(a)
            spans.append({"start": start, "end": start + len(a) - 1, "text": a})
        qa = {"query": query, "idx": 100 * idx + k}
        if answers is not None:
            qa["answers"] = spans
        qas.append(qa)
    return {"source": "Daily mail", "passage": {"text": text, "entities": entities}, "qas": qas, "idx": idx}


def record():
    passages = [
        record_passage(0, "[[Zürich]] (CNN) -- The [[Swiss]] city of [[Zürich]] has voted to keep its trams, said [[Anna "
                          "Müller]], the mayor.\n@highlight\n[[Zürich]] keeps its trams\n@highlight\nThe vote was close, "
                          "[[Müller]] said!\n@highlight\nA new line opens in 2027",
                       [("@placeholder said the vote was close", ["Müller"]),
                        ("The city of @placeholder will keep its trams", ["Zürich"])]),
        record_passage(1, "By [[Daily Mail Reporter]] [[NASA]] said on Tuesday that the [[Artemis]] crew is ready.\n"
                          "@highlight\n\"We are ready,\" said [[Reid Wiseman]]\n@highlight\n[[NASA]]'s [[Artemis]] "
                          "launch is set for spring",
                       [("@placeholder's crew is ready, the agency said", ["Artemis"]),
                        ("@placeholder said the launch is set for spring", ["NASA", "NASA"])]),
        record_passage(2, "[[Σωκράτης]] taught in [[Athens]]. His pupil [[Plato]] wrote the dialogues?\n@highlight\n"
                          "[[Plato]] wrote them\n@highlight\n[[Athens]] sentenced [[Σωκράτης]] in 399 BC",
                       [("@placeholder wrote the dialogues", ["Plato"])]),
    ]
    write_jsonl("superglue/ReCoRD/val.jsonl", passages)
    test = json.loads(json.dumps(passages[:2]))
    for p in test:
        for qa in p["qas"]:
            qa.pop("answers")
    write_jsonl("superglue/ReCoRD/test.jsonl", test)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=os.environ.get("EVALRUN_DATA_DIR", str(REPO_ROOT / "../shared/data")))
    data = Path(parser.parse_args().data_dir)
    glue(data)
    superglue(data)
    record()


if __name__ == "__main__":
    main()
