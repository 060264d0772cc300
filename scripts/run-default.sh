#!/usr/bin/env bash
# The main job on the embedded default, offline: the GLUE dev table of the committed fixture
# classifiers, the real all-MiniLM-L6-v2 on STS-B dev and the STS Benchmark test set, and the
# fixture GPT-2 on the lm-eval / GPT-2-paper language-modelling protocols, and `evalrun reproduce` of the
# T5-Base and BERT-base tables on the fixture stand-ins (T5's GLUE, SuperGLUE with WSC and the diagnostics, SQuAD).
# Records land in out/ (results JSON, per-example predictions JSONL).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-ort.sh
cargo build --release --locked --quiet
data="${EVALRUN_DATA_DIR:-../shared/data}"
minilm="${EVALRUN_MINILM_DIR:-../shared/models/all-MiniLM-L6-v2}"
mkdir -p out
echo "## GLUE dev, fixture classifiers (tests/fixtures/models/glue-tiny/{task})"
./target/release/evalrun glue --model 'tests/fixtures/models/glue-tiny/{task}' --task all --data-dir "$data" \
  --output out/glue-fixtures.json --predictions out/glue-fixtures.jsonl
if [ -d "$minilm" ]; then
  echo
  echo "## all-MiniLM-L6-v2, cosine similarity (MTEB STSBenchmark publishes Spearman 82.03)"
  ./target/release/evalrun run --model "$minilm" --task stsb,stsbenchmark --data-dir "$data" \
    --output out/minilm-sts.json --predictions out/minilm-sts.jsonl
fi
echo
echo "## GPT-2 zero-shot protocols, fixture GPT-2 (real vocabulary, tiny weights): lm-eval wikitext2 / lambada_openai, paper-style PTB"
./target/release/evalrun lm --model tests/fixtures/models/gpt2-tiny --task wikitext2,lambada_openai,ptb_gpt2 --data-dir "$data" \
  --output out/lm-fixture.json --predictions out/lm-fixture.jsonl
echo
echo "## Reproductions on the fixture stand-ins (tests/fixtures/presets.toml): T5-Base's Table 14/15 and BERT-base's GLUE tables"
echo "## (every published cell measured or explained; documents in out/reproduction/*/reproduction.{md,html})"
for preset in t5-base bert-base-uncased; do
  ./target/release/evalrun reproduce "$preset" --presets tests/fixtures/presets.toml --data-dir "$data" \
    --out "out/reproduction/$preset"
done
