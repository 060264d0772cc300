#!/usr/bin/env bash
# Runs every test: unit, property, golden and integration tests (the real binary on the
# fixture models, the real GLUE/STS files and the real MiniLM checkpoint).
# Data: EVALRUN_DATA_DIR (default ../shared/data); MiniLM: EVALRUN_MINILM_DIR
# (default ../shared/models/all-MiniLM-L6-v2).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-ort.sh
export EVALRUN_DATA_DIR="${EVALRUN_DATA_DIR:-$(pwd)/../shared/data}"
cargo test --workspace --locked "$@"
