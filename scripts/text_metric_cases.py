#!/usr/bin/env python3
"""Generate tests/fixtures/reference/text_metrics.json: reference values for the text metrics
in crates/evalrun-core/src/text/ (BLEU, ROUGE, SQuAD v1.1, Python float()).

References:
  * BLEU:  sacrebleu 2.x (`sacrebleu.metrics.bleu.BLEU`, `sacrebleu.corpus_bleu`).
  * ROUGE: Google's `rouge_score.rouge_scorer.RougeScorer(..., use_stemmer=False)` with T5's
           `_prepare_summary` (t5.evaluation.metrics.rouge) re-implemented below.
  * SQuAD: the official SQuAD v1.1 evaluation script, re-implemented below with identical
           behaviour (normalize_answer, f1_score, exact_match_score, evaluate's sums).
  * float: Python's own `float(str)`.
  * Unicode tables: the character classes the Rust code relies on, as Python sees them
    (str.isspace, re's \\w, the `regex` module's \\p{P}/\\p{S}/\\p{N}, str.lower), so the Rust
    tests can report where Rust's Unicode tables disagree.

Data: GLUE MRPC dev (sentence2 = hypothesis, sentence1 = reference), GLUE RTE dev and the
SQuAD v1.1 dev set, plus programmatic perturbations and edge cases.

Usage: python scripts/text_metric_cases.py [--out PATH] [--seed 20240607]
"""

import argparse
import collections
import json
import os
import random
import re
import string
import struct
import sys
import unicodedata
from pathlib import Path

import regex
import sacrebleu
from sacrebleu.metrics.bleu import BLEU
from rouge_score import rouge_scorer, tokenize as rouge_tokenize

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("EVALRUN_DATA_DIR", REPO_ROOT.parent / "shared" / "data"))


# --------------------------------------------------------------------------------------------
# SQuAD v1.1 official evaluation script (evaluate-v1.1.py), same behaviour.
# --------------------------------------------------------------------------------------------
def normalize_answer(s):
    """Lower text and remove punctuation, articles and extra whitespace."""

    def remove_articles(text):
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    def lower(text):
        return text.lower()

    return white_space_fix(remove_articles(remove_punc(lower(s))))


def f1_score(prediction, ground_truth):
    prediction_tokens = normalize_answer(prediction).split()
    ground_truth_tokens = normalize_answer(ground_truth).split()
    common = collections.Counter(prediction_tokens) & collections.Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    f1 = (2 * precision * recall) / (precision + recall)
    return f1


def exact_match_score(prediction, ground_truth):
    return normalize_answer(prediction) == normalize_answer(ground_truth)


def metric_max_over_ground_truths(metric_fn, prediction, ground_truths):
    scores_for_ground_truths = []
    for ground_truth in ground_truths:
        score = metric_fn(prediction, ground_truth)
        scores_for_ground_truths.append(score)
    return max(scores_for_ground_truths)


def squad_evaluate(cases):
    """evaluate() of the official script over a list of (prediction, ground_truths)."""
    f1 = exact_match = total = 0
    for prediction, ground_truths in cases:
        total += 1
        exact_match += metric_max_over_ground_truths(exact_match_score, prediction, ground_truths)
        f1 += metric_max_over_ground_truths(f1_score, prediction, ground_truths)
    exact_match = 100.0 * exact_match / total
    f1 = 100.0 * f1 / total
    return {"exact_match": exact_match, "f1": f1}


# --------------------------------------------------------------------------------------------
# T5's ROUGE preparation (t5.evaluation.metrics.rouge._prepare_summary).
# --------------------------------------------------------------------------------------------
def t5_prepare_summary(summary):
    return summary.replace(" . ", " .\n")


# --------------------------------------------------------------------------------------------
# Data loading.
# --------------------------------------------------------------------------------------------
def read_tsv(path):
    with open(path, encoding="utf-8-sig") as f:
        lines = f.read().split("\n")
    header = lines[0].split("\t")
    rows = [line.split("\t") for line in lines[1:] if line]
    return header, rows


def load_mrpc():
    header, rows = read_tsv(DATA / "glue/MRPC/dev.tsv")
    assert header == ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"], header
    # hypothesis = sentence2, reference = sentence1
    return [(r[4], r[3]) for r in rows]


def load_rte():
    header, rows = read_tsv(DATA / "glue/RTE/dev.tsv")
    assert header == ["index", "sentence1", "sentence2", "label"], header
    return [(r[1], r[2]) for r in rows]


def load_squad():
    with open(DATA / "t5/squad/dev-v1.1.json", encoding="utf-8") as f:
        data = json.load(f)["data"]
    qas = []
    for article in data:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                qas.append((qa["id"], [a["text"] for a in qa["answers"]]))
    return qas


# --------------------------------------------------------------------------------------------
# BLEU.
# --------------------------------------------------------------------------------------------
TOKENIZERS = ["intl", "13a", "none"]

EDGE_BLEU = [
    # (hypothesis, [references])
    ("", ["The cat sat on the mat."]),
    ("", [""]),
    ("The cat sat on the mat.", [""]),
    ("cat", ["The cat sat on the mat."]),
    ("the cat", ["The cat sat on the mat."]),
    ("sat on it", ["The cat sat on the mat."]),
    ("mat cat the on sat", ["the cat sat on the mat"]),  # matches at 1-grams only
    ("the cat the cat the cat", ["the cat sat on the mat"]),
    ("zebra yak xylophone", ["the cat sat on the mat"]),  # no matches at all
    ("Hello world  ", ["Hello world"]),
    ("Hello world \t\n", ["Hello world\u3000"]),
    ("  leading spaces stay harmless", ["leading spaces stay harmless"]),
    ("It costs 3.14 euros, or 1,000 cents.", ["It costs 3.14 euros or 1,000 cents ."]),
    ("Prices rose 2.5% to €1,200.50 in 2019.", ["Prices rose by 2.5 % to € 1,200.50 in 2019."]),
    ("«Bonjour», dit-il – “salut”!", ["« Bonjour » , dit - il – “ salut ” !"]),
    ("© 2024 Acme™ — all rights reserved.", ["(c) 2024 Acme — all rights reserved."]),
    ("中文，测试。", ["中文 ， 测试 。"]),
    ("Emoji 😀 test 👍🏽 ok!", ["Emoji 😀 test 👍 ok !"]),
    ("a+b=c < d > e | f ^ g ~ h", ["a + b = c < d > e | f ^ g ~ h"]),
    ("He said: \"no\" (twice) [really] {ok}.", ["He said : \" no \" ( twice ) [ really ] { ok } ."]),
    ("x&amp;y &lt;tag&gt; &quot;q&quot; <skipped> end", ["x&y <tag> \"q\" end"]),
    ("line-\nbreak and\nnewline", ["linebreak and newline"]),
    ("1999-2000 ranges, 3-4 items-ish", ["1999 - 2000 ranges , 3 - 4 items-ish"]),
    ("The year was 1984.", ["The year was 1984 ."]),
    ("Version 2.0.1, build 7.", ["Version 2.0.1 , build 7 ."]),
    ("end with period .", ["end with period."]),
    ("Ünïcödé façade café naïve", ["Unicode facade cafe naive"]),
    ("ΟΔΟΣ Σίσυφος", ["οδος σίσυφος"]),
    ("İstanbul KELVIN K", ["istanbul kelvin k"]),
    ("tab\tseparated\twords", ["tab separated words"]),
    ("nbsp\u00a0joined\u2009thin\u202fnarrow", ["nbsp joined thin narrow"]),
    ("info\x1cfile\x1dgroup\x1erecord\x1funit", ["info file group record unit"]),
    ("\u0085next line\u2028line sep\u2029para sep", ["next line line sep para sep"]),
    ("zero\u200bwidth space", ["zero width space"]),
    ("a.b.c. d,e,f, g;h;i; 1.a a.1", ["a . b . c . d , e , f , g ; h ; i ; 1.a a.1"]),
    ("...!!!???", ["... !!! ???"]),
    ("'quoted' `back` \u2018single\u2019 \u201cdouble\u201d", ["quoted back single double"]),
    ("$100 £50 ¥30 ₹20 #hash @at %pct", ["$ 100 £ 50 ¥ 30 ₹ 20 # hash @ at % pct"]),
    ("½ ⅓ ² ³ Ⅻ ① ⑩", ["1/2 1/3 2 3 12 1 10"]),
    ("x²+y³=z⁴ and 5°C", ["x2 + y3 = z4 and 5 ° C"]),
    ("Mr. Smith's dog's bone", ["Mr . Smith 's dog 's bone"]),
    ("one two three four five six seven eight", ["one two three four five six seven eight"]),
    ("one two three four", ["one two three four"]),
    ("one two three", ["one two three"]),
    ("one two", ["one two"]),
    ("a b c d e f", ["a b x d e f"]),  # 4-gram zero matches -> exp smoothing
    ("a b c d e f g h", ["a b c x e f g h"]),
    ("a b c d", ["a x c x"]),  # only unigrams
]

MULTI_REF_EDGE = [
    ("the cat is on the mat", ["the cat sat on the mat", "there is a cat on the mat"]),
    ("the cat", ["the cat sat on the mat", "a cat", "cats"]),  # closest-length tie to shorter
    ("a b c d e", ["a b c", "a b c d e f g"]),  # |5-3| == |5-7|: shorter reference wins
    ("a a a a a a", ["a a", "a a a"]),  # clipping against the max over references
    ("the the the the", ["the cat", "the the cat", "the mat the"]),
    ("", ["x", "y z"]),
    ("Hello, world!", ["Hello world!", "Hello, world !", "hello , world"]),
]


def segment_stats(metric, hyp, refs):
    stats = metric._extract_corpus_statistics([hyp], [[r] for r in refs])[0]
    return [int(v) for v in stats]


def bleu_result(score):
    return {
        "score": score.score,
        "counts": list(score.counts),
        "totals": list(score.totals),
        "precisions": list(score.precisions),
        "bp": score.bp,
        "sys_len": int(score.sys_len),
        "ref_len": int(score.ref_len),
    }


def perturb(rng, tokens):
    """A random edit of a token list: drop / swap / duplicate / substitute."""
    tokens = list(tokens)
    if not tokens:
        return tokens
    op = rng.randrange(5)
    i = rng.randrange(len(tokens))
    if op == 0 and len(tokens) > 1:
        del tokens[i]
    elif op == 1 and len(tokens) > 1:
        j = rng.randrange(len(tokens))
        tokens[i], tokens[j] = tokens[j], tokens[i]
    elif op == 2:
        tokens.insert(i, tokens[i])
    elif op == 3:
        tokens[i] = rng.choice(["foo", "bar", "—", "«", "»", "€", "3.14", "1,000", "😀", "中文", "©"])
    else:
        tokens = tokens[: max(1, len(tokens) // 2)]
    return tokens


def build_bleu(mrpc, rte, rng):
    segments = []  # {"id", "hyp", "refs"}

    def add(sid, hyp, refs):
        segments.append({"id": sid, "hyp": hyp, "refs": list(refs)})
        return len(segments) - 1

    mrpc_ids = [add(f"mrpc-{i}", h, [r]) for i, (h, r) in enumerate(mrpc)]
    rte_ids = [add(f"rte-{i}", s2, [s1]) for i, (s1, s2) in enumerate(rte)]
    edge_ids = [add(f"edge-{i}", h, refs) for i, (h, refs) in enumerate(EDGE_BLEU)]
    multi_ids = [add(f"multi-{i}", h, refs) for i, (h, refs) in enumerate(MULTI_REF_EDGE)]

    # Perturbed MRPC/RTE hypotheses (hypothesis = perturbed reference), some with 2 references.
    perturbed_ids = []
    for i in range(200):
        h, r = mrpc[rng.randrange(len(mrpc))] if i % 2 == 0 else rte[rng.randrange(len(rte))][::-1]
        tokens = r.split()
        for _ in range(rng.randrange(1, 4)):
            tokens = perturb(rng, tokens)
        hyp = " ".join(tokens)
        if rng.random() < 0.2:
            hyp += rng.choice(["  ", " \t", "\u3000", "\u00a0", "\n"])
        refs = [r, h] if i % 5 == 0 else [r]
        perturbed_ids.append(add(f"perturbed-{i}", hyp, refs))

    # Short hypotheses (< 4 tokens) against real references.
    short_ids = []
    for i in range(60):
        h, r = mrpc[rng.randrange(len(mrpc))]
        toks = h.split()
        k = rng.randrange(0, 4)
        start = rng.randrange(max(1, len(toks) - k + 1))
        short_ids.append(add(f"short-{i}", " ".join(toks[start : start + k]), [r]))

    # Three-reference segments built from MRPC (sentence1, sentence2, and a perturbed copy).
    three_ids = []
    for i in range(40):
        h, r = mrpc[rng.randrange(len(mrpc))]
        other = " ".join(perturb(rng, r.split()))
        hyp = " ".join(perturb(rng, h.split()))
        three_ids.append(add(f"three-{i}", hyp, [r, other, h[::-1]]))

    metrics = {t: BLEU(tokenize=t) for t in TOKENIZERS}
    for seg in segments:
        seg["stats"] = {t: segment_stats(m, seg["hyp"], seg["refs"]) for t, m in metrics.items()}
        # sentence-level BLEU through corpus_score on a one-segment corpus
        seg["sentence_bleu_intl"] = metrics["intl"].corpus_score([seg["hyp"]], [[r] for r in seg["refs"]]).score

    # Tokenizations of every distinct text, as `_preprocess_segment` produces them.
    texts = []
    seen = set()
    for seg in segments:
        for t in [seg["hyp"], *seg["refs"]]:
            if t not in seen:
                seen.add(t)
                texts.append(t)
    lc = BLEU(tokenize="intl", lowercase=True)
    tokenizations = [
        {
            "text": t,
            "intl": metrics["intl"]._preprocess_segment(t),
            "13a": metrics["13a"]._preprocess_segment(t),
            "none": metrics["none"]._preprocess_segment(t),
            "intl_lowercase": lc._preprocess_segment(t),
        }
        for t in texts
    ]

    # Corpora. `segments` index into the list above; `uniform` corpora also go through
    # sacrebleu's stream layout (corpus_bleu) to check the streams API.
    corpora = []

    def corpus(name, ids, tokenize="intl", smooth_method="exp", smooth_value=None, lowercase=False,
               effective_order=False):
        hyps = [segments[i]["hyp"] for i in ids]
        nrefs = max(len(segments[i]["refs"]) for i in ids)
        streams = [[segments[i]["refs"][k] if k < len(segments[i]["refs"]) else None for i in ids]
                   for k in range(nrefs)]
        score = sacrebleu.corpus_bleu(hyps, streams, smooth_method=smooth_method, smooth_value=smooth_value,
                                      lowercase=lowercase, tokenize=tokenize,
                                      use_effective_order=effective_order)
        entry = {"name": name, "segments": list(ids), "tokenize": tokenize, "smooth_method": smooth_method,
                 "smooth_value": smooth_value, "lowercase": lowercase, "effective_order": effective_order,
                 "uniform_refs": all(len(segments[i]["refs"]) == nrefs for i in ids)}
        entry.update(bleu_result(score))
        corpora.append(entry)

    for tok in TOKENIZERS:
        corpus(f"mrpc-{tok}", mrpc_ids, tokenize=tok)
        corpus(f"rte-{tok}", rte_ids, tokenize=tok)
        corpus(f"edge-{tok}", edge_ids, tokenize=tok)
        corpus(f"multi-{tok}", multi_ids, tokenize=tok)
        corpus(f"perturbed-{tok}", perturbed_ids, tokenize=tok)
        corpus(f"short-{tok}", short_ids, tokenize=tok)
        corpus(f"three-{tok}", three_ids, tokenize=tok)
    corpus("mrpc-intl-lowercase", mrpc_ids, lowercase=True)
    corpus("edge-intl-lowercase", edge_ids, lowercase=True)
    for method, value in [("none", None), ("floor", None), ("floor", 0.05), ("add-k", None), ("add-k", 2)]:
        corpus(f"short-{method}-{value}", short_ids, smooth_method=method, smooth_value=value)
        corpus(f"mrpc-{method}-{value}", mrpc_ids, smooth_method=method, smooth_value=value)
    corpus("short-effective", short_ids, effective_order=True)
    corpus("edge-effective", edge_ids, effective_order=True)
    all_ids = list(range(len(segments)))
    for k in range(12):
        size = rng.choice([1, 2, 3, 5, 10, 50, 100, 300])
        ids = sorted(rng.sample(all_ids, size))
        corpus(f"random-{k}-{size}", ids)
    # every single edge/short segment as its own corpus (exp smoothing paths)
    for i in edge_ids + short_ids[:20]:
        corpus(f"single-{segments[i]['id']}", [i])
        corpus(f"single-{segments[i]['id']}-effective", [i], effective_order=True)
        corpus(f"single-{segments[i]['id']}-none", [i], smooth_method="none")
        corpus(f"single-{segments[i]['id']}-floor", [i], smooth_method="floor")
        corpus(f"single-{segments[i]['id']}-add-k", [i], smooth_method="add-k")
    # a bootstrap-like resample with repetition
    ids = [rng.choice(mrpc_ids) for _ in range(len(mrpc_ids))]
    corpus("mrpc-resample", ids)

    return {"segments": segments, "tokenizations": tokenizations, "corpora": corpora}


# --------------------------------------------------------------------------------------------
# ROUGE.
# --------------------------------------------------------------------------------------------
def summary_from(sentences):
    """T5-style pre-tokenized summary: sentences joined with " . "."""
    parts = [s.strip().rstrip(".").strip() for s in sentences]
    return " . ".join(parts) + " ."


def build_rouge(mrpc, rte, rng):
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer=False)
    pairs = []  # (name, target, prediction, t5_prepare)

    for i in range(120):
        k = rng.randrange(1, 5)
        idx = [rng.randrange(len(mrpc)) for _ in range(k)]
        target = summary_from([mrpc[j][1] for j in idx])
        pred_sents = [mrpc[j][0] for j in idx]
        if k > 1 and rng.random() < 0.5:
            rng.shuffle(pred_sents)
        if k > 1 and rng.random() < 0.3:
            pred_sents = pred_sents[:-1]
        pairs.append((f"mrpc-summary-{i}", target, summary_from(pred_sents), True))
    for i, (s1, s2) in enumerate(rte[:120]):
        target = s1.replace(". ", " . ")
        pairs.append((f"rte-{i}", target, s2, True))
    for i in range(40):
        s1, s2 = rte[rng.randrange(len(rte))]
        pairs.append((f"rte-raw-{i}", s1, s2, False))  # no T5 preparation: one "sentence"
    for i in range(40):
        s1, s2 = rte[rng.randrange(len(rte))]
        sents = s1.replace(". ", ".\n").split("\n")
        rng.shuffle(sents)
        pairs.append((f"rte-newlines-{i}", s1.replace(". ", ".\n"), "\n".join(sents), False))

    edge = [
        ("", ""),
        ("", "the cat sat"),
        ("the cat sat", ""),
        ("...", "!!!"),
        ("... . ???", "the cat . ..."),
        ("the the the the", "the"),
        ("the", "the the the the"),
        ("a a b b a a b b", "a b a b a b a b"),
        ("the cat sat on the mat . the dog ate the bone .", "the dog ate the bone . the cat sat on the mat ."),
        ("one two three . four five six . seven", "seven . four five six . one two three"),
        ("x . x . x . x", "x x . x x"),
        ("Hello, World! HELLO world.", "hello world hello WORLD"),
        ("Café naïve résumé 2024", "cafe naive resume 2024"),
        ("İstanbul KELVIN K straße", "istanbul kelvin k strasse"),
        ("中文 测试 abc 123", "abc 123 中文"),
        ("x1 y2 z3 . 4a 5b", "x1 . y2 z3 4a"),
        ("\n\n a b \n\n c d \n", "a b c d"),
        ("a . b", "a .  b"),
        (" . . . ", " . "),
        ("the cat . the cat . the cat", "the cat"),
        ("a b c d e f g", "g f e d c b a"),
        ("a b c . a b c . a b c", "a b c a b c"),
        ("police killed the gunman . the gunman was killed", "the gunman police killed . killed the gunman was"),
    ]
    for i, (t, p) in enumerate(edge):
        pairs.append((f"edge-{i}", t, p, True))
        pairs.append((f"edge-raw-{i}", t, p, False))

    cases = []
    for name, target, prediction, prep in pairs:
        t, p = (t5_prepare_summary(target), t5_prepare_summary(prediction)) if prep else (target, prediction)
        scores = scorer.score(target=t, prediction=p)
        cases.append({
            "name": name,
            "target": target,
            "prediction": prediction,
            "t5_prepare": prep,
            "scores": {k: [float(v.precision), float(v.recall), float(v.fmeasure)] for k, v in scores.items()},
        })

    texts = sorted({c["target"] for c in cases} | {c["prediction"] for c in cases})
    tokenizations = [{"text": t, "tokens": rouge_tokenize.tokenize(t, None)} for t in texts]
    return {"cases": cases, "tokenizations": tokenizations}


# --------------------------------------------------------------------------------------------
# SQuAD.
# --------------------------------------------------------------------------------------------
SQUAD_EDGE = [
    ("the cat", ["cat"]),
    ("The Cat!", ["a cat"]),
    ("", [""]),
    ("", ["cat"]),
    ("cat", [""]),
    ("...", ["!!!"]),
    ("the a an", ["an a the"]),
    ("theater", ["the ater"]),
    ("another", ["an other"]),
    ("a_b", ["ab"]),
    ("the\u0301 cat", ["cat"]),  # combining mark after an article: \b still holds in Python
    ("thé cat", ["cat"]),
    ("\u24b6 the cat", ["\u24b6 cat"]),  # circled letter (So) is not a word character
    ("½the cat", ["½ cat"]),  # No is a word character in Python
    ("the\u203fcat", ["cat"]),  # undertie (Pc): not \w in Python re, \w in Rust regex
    ("Ⅻthe", ["Ⅻ"]),
    ("the\u00a0cat", ["cat"]),
    ("the\u2003cat\u3000dog", ["cat dog"]),
    ("cat\x1cdog", ["cat dog"]),
    ("cat\u200bdog", ["cat dog"]),
    ("ΟΔΟΣ", ["οδος"]),
    ("ΟΔΟΣ", ["οδοσ"]),
    ("İstanbul", ["istanbul"]),
    ("STRASSE", ["straße"]),
    ("the the the cat", ["cat cat"]),
    ("cat cat dog", ["cat dog dog"]),
    ("1,000", ["1000"]),
    ("3.14", ["314"]),
    ("«the» cat", ["«» cat"]),
    ("“the” cat", ["cat"]),
    ("A", ["a"]),
    ("An apple", ["apple", "an apple", "the apple"]),
    ("Denver Broncos", ["Denver Broncos", "Broncos", "The Denver Broncos"]),
    ("teh cat", ["the cat"]),
]


def perturb_answer(rng, answer, other):
    kind = rng.randrange(14)
    if kind == 0:
        return answer
    if kind == 1:
        return "the " + answer
    if kind == 2:
        return answer.upper()
    if kind == 3:
        return answer + "."
    if kind == 4:
        return "“" + answer + "”"
    if kind == 5:
        return answer + " " + rng.choice(["and more", "in 1999", "of the city", "a"])
    if kind == 6:
        words = answer.split()
        return " ".join(words[: max(1, len(words) - 1)])
    if kind == 7:
        return ""
    if kind == 8:
        return other
    if kind == 9:
        return "  " + answer.replace(" ", "\u00a0 ") + "\t"
    if kind == 10:
        return "An " + answer.lower() + "!"
    if kind == 11:
        return answer.replace(" ", "_")
    if kind == 12:
        words = answer.split()
        rng.shuffle(words)
        return " ".join(words)
    return answer + " " + answer


def build_squad(qas, rng):
    cases = []
    picked = rng.sample(range(len(qas)), 400)
    for n, qi in enumerate(picked):
        qid, golds = qas[qi]
        other = qas[rng.randrange(len(qas))][1][0]
        if n % 4 == 0:
            pred = golds[0]
        elif n % 4 == 1:
            pred = golds[1] if len(golds) > 1 else golds[0]
        else:
            pred = perturb_answer(rng, rng.choice(golds), other)
        cases.append({"id": qid, "prediction": pred, "ground_truths": golds})
    for i, (pred, golds) in enumerate(SQUAD_EDGE):
        cases.append({"id": f"edge-{i}", "prediction": pred, "ground_truths": golds})
    for c in cases:
        c["exact_match"] = bool(metric_max_over_ground_truths(exact_match_score, c["prediction"], c["ground_truths"]))
        c["f1"] = float(metric_max_over_ground_truths(f1_score, c["prediction"], c["ground_truths"]))
        c["normalized_prediction"] = normalize_answer(c["prediction"])
        c["normalized_ground_truths"] = [normalize_answer(g) for g in c["ground_truths"]]

    totals = []

    def total(name, idx):
        res = squad_evaluate([(cases[i]["prediction"], cases[i]["ground_truths"]) for i in idx])
        totals.append({"name": name, "cases": list(idx), **res})

    total("all", range(len(cases)))
    total("real", range(400))
    total("edge", range(400, len(cases)))
    for k in range(5):
        size = rng.choice([1, 7, 50, 200])
        total(f"random-{k}", sorted(rng.sample(range(len(cases)), size)))
    return {"cases": cases, "totals": totals}


# --------------------------------------------------------------------------------------------
# Python float().
# --------------------------------------------------------------------------------------------
FLOAT_INPUTS = [
    "0", "1", "-1", "+1", "1.5", "-1.5", " 1.5 ", "\t\n1.5\r\x0b\x0c", "1.", ".5", "-.5", "+.5", ".", "-.", "",
    " ", "1e5", "1E5", "1e+5", "1e-5", "1.e5", ".5e1", "1e", "1e+", "e5", ".e5", "1e5.5", "1.2.3", "1..2",
    "inf", "-inf", "+inf", "INF", "Inf", "infinity", "-Infinity", "INFINITY", "infinit", "infinityy", "in",
    "nan", "-nan", "+nan", "NaN", "NAN", "nana", "nan1", "1_000", "1__000", "_1", "1_", "1_000.000_1",
    "1_0e1_0", "1_.5", "1._5", "1e_5", "1_e5", "0x10", "0b1", "0o7", "1j", "1.0f", "1,000", "1 000", "+-1",
    "--1", "- 1", "1-", "0.1", "0.30000000000000004", "2.5", "-0", "-0.0", "+0.0", "00.100", "007",
    "1e308", "1.7976931348623157e308", "1.7976931348623159e308", "1e309", "-1e400", "1e-308", "5e-324",
    "2e-324", "3e-324", "1e-400", "4.9406564584124654e-324", "2.2250738585072011e-308",
    "123456789012345678901234567890", "0.000000000000000000000000000001",
    "9007199254740993", "9007199254740992.5", "1e99999999999999999999", "1e-99999999999999999999",
    "3.14159265358979323846264338327950288419716939937510",
    "\u00a01.5\u2003", "\u30001\u3000", "\u00851", "1\u2028", "\x1c1", "1\x1f", "\u200b1",
    "١٢٣", "١٢٣.٤٥", "۱۲", "１２３", "１.５", "-１", "१२३", "١_٢", "𝟏𝟐", "௧௨", "²", "½", "Ⅻ", "一",
    "1\x00", "\x001", "1\x7f", "True", "None", "1/2", "1e1e1", "١e١", "∞", "−1", "1 ", " -2.5e-3 ",
    "4.35", "3.8", "0.0", "5.0", "5", "2.8", "the answer is 3", "3.0.", "3.", "1.2e3x",
]


def build_floats():
    out = []
    for s in FLOAT_INPUTS:
        try:
            v = float(s)
        except ValueError:
            out.append({"input": s, "bits": None})
            continue
        out.append({"input": s, "bits": struct.unpack("<Q", struct.pack("<d", v))[0], "repr": repr(v)})
    return out


# --------------------------------------------------------------------------------------------
# Unicode tables as Python sees them.
# --------------------------------------------------------------------------------------------
def ranges(pred):
    out = []
    for c in range(0x110000):
        if 0xD800 <= c <= 0xDFFF:
            continue
        if pred(c):
            if out and out[-1][1] == c - 1:
                out[-1][1] = c
            else:
                out.append([c, c])
    return out


def build_unicode():
    rp, rs, rn = regex.compile(r"\p{P}"), regex.compile(r"\p{S}"), regex.compile(r"\p{N}")
    w = re.compile(r"\w")
    lower = []
    for c in range(0x110000):
        if 0xD800 <= c <= 0xDFFF:
            continue
        lc = chr(c).lower()
        if lc != chr(c):
            lower.append([c, lc])
    return {
        "python_unicode_version": unicodedata.unidata_version,
        "py_space": [c for c in range(0x110000) if chr(c).isspace()],
        "py_word": ranges(lambda c: w.match(chr(c)) is not None),
        "py_unassigned": ranges(lambda c: unicodedata.category(chr(c)) == "Cn"),
        "regex_P": ranges(lambda c: rp.match(chr(c)) is not None),
        "regex_S": ranges(lambda c: rs.match(chr(c)) is not None),
        "regex_N": ranges(lambda c: rn.match(chr(c)) is not None),
        "lower": lower,
        "lower_strings": [
            {"text": t, "lower": t.lower()}
            for t in ["ΟΔΟΣ", "ΟΔΟΣ ΟΔΟΣ.", "Σ", "ΑΣ", "ΑΣ1", "ΑΣ'Β", "Α'Σ", "ΑΣ\u0301", "İSTANBUL", "ǅ", "ẞ",
                      "ﬀ", "ŉ", "ΑΣΑ", "Σ Σ", "aΣ b", "1Σ", "ΑΣ\u00ad", "a\u00adΣ"]
        ],
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(REPO_ROOT / "tests/fixtures/reference/text_metrics.json"))
    ap.add_argument("--seed", type=int, default=20240607)
    args = ap.parse_args()
    rng = random.Random(args.seed)

    mrpc, rte, qas = load_mrpc(), load_rte(), load_squad()
    assert len(mrpc) == 408, len(mrpc)
    out = {
        "meta": {
            "generator": "scripts/text_metric_cases.py",
            "seed": args.seed,
            "python": sys.version.split()[0],
            "sacrebleu": sacrebleu.__version__,
            "regex": regex.__version__,
            "unicodedata": unicodedata.unidata_version,
        },
        "bleu": build_bleu(mrpc, rte, rng),
        "rouge": build_rouge(mrpc, rte, rng),
        "squad": build_squad(qas, rng),
        "python_float": build_floats(),
        "unicode": build_unicode(),
    }
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=None, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path}: {len(out['bleu']['segments'])} BLEU segments, {len(out['bleu']['corpora'])} corpora, "
          f"{len(out['rouge']['cases'])} ROUGE cases, {len(out['squad']['cases'])} SQuAD cases, "
          f"{len(out['python_float'])} float inputs")


if __name__ == "__main__":
    main()
