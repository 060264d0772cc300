#!/usr/bin/env bash
# evalrun's own regression gate: re-run the fixture GLUE table, MiniLM's STS numbers, the
# fixture T5's GLUE/SuperGLUE tables and the fixture GPT-2's LM tasks, and
# check them against the committed baselines (results/baselines/). A change to scoring code
# that moves any number fails the build. To accept a deliberate change, re-bless:
#   scripts/regression-gate.sh --bless
set -euo pipefail
cd "$(dirname "$0")/.."
data="${EVALRUN_DATA_DIR:-../shared/data}"
minilm="${EVALRUN_MINILM_DIR:-../shared/models/all-MiniLM-L6-v2}"
cargo build --locked --quiet --bin evalrun
evalrun=target/debug/evalrun
out=out/gate
mkdir -p "$out"
"$evalrun" -q glue --model 'tests/fixtures/models/glue-tiny/{task}' --task all --data-dir "$data" --output "$out/glue-fixtures.json" >/dev/null
"$evalrun" -q run --model "$minilm" --task stsb,stsbenchmark --data-dir "$data" --output "$out/minilm-sts.json" >/dev/null
"$evalrun" -q glue --model tests/fixtures/models/t5-tiny --data-dir "$data" --output "$out/t5-glue.json" >/dev/null
"$evalrun" -q superglue --model tests/fixtures/models/t5-tiny --data-dir "$data" --output "$out/t5-superglue.json" >/dev/null
"$evalrun" -q lm --model tests/fixtures/models/gpt2-tiny --task wikitext2,lambada_openai,ptb_gpt2 --data-dir "$data" --output "$out/lm-fixture.json" >/dev/null
status=0
for name in glue-fixtures minilm-sts t5-glue t5-superglue lm-fixture; do
  if [ "${1:-}" = "--bless" ]; then
    "$evalrun" check "$out/$name.json" --baseline "results/baselines/$name.json" --bless
  else
    "$evalrun" check "$out/$name.json" --baseline "results/baselines/$name.json" \
      --tolerance-file results/baselines/tolerances.toml --direction both || status=$?
  fi
done
exit "$status"
