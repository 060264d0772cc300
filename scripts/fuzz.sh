#!/usr/bin/env bash
# Runs the readers' property tests (arbitrary bytes and structure-aware mutations of the real
# files, see crates/evalrun-tasks/src/fuzz.rs) for longer than CI does: PROPTEST_CASES cases
# per property (default 20000), repeated until MINUTES (default 5) have passed.
# Usage: scripts/fuzz.sh [MINUTES] [CASES]
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${1:-5}"
export PROPTEST_CASES="${2:-20000}"
export EVALRUN_DATA_DIR="${EVALRUN_DATA_DIR:-$(pwd)/../shared/data}"
deadline=$(( $(date +%s) + minutes * 60 ))
rounds=0
cargo test --workspace --locked --lib --no-run >/dev/null 2>&1
while [ "$(date +%s)" -lt "$deadline" ]; do
  # A new seed each round (proptest's default RNG is seeded per run).
  cargo test --workspace --locked --lib -q -- fuzz:: listings_from_arbitrary >/dev/null
  rounds=$((rounds + 1))
  echo "round ${rounds}: ${PROPTEST_CASES} cases per property, no panic" >&2
done
echo "fuzzed ${minutes} min: ${rounds} rounds x ${PROPTEST_CASES} cases per property (6 properties)" >&2
