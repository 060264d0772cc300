#!/usr/bin/env bash
# Installs ONNX Runtime for evalrun: the PyPI `onnxruntime` wheel into the project's .venv.
# evalrun finds .venv/lib/python*/site-packages/onnxruntime/capi/libonnxruntime.so.* by itself.
# Set EVALRUN_ORT_PACKAGE=onnxruntime-gpu for the CUDA build. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
package="${EVALRUN_ORT_PACKAGE:-onnxruntime}"
version="1.31.1"   # ort 2.0.0-rc.15 targets ONNX Runtime 1.31 (C API 31)
if compgen -G ".venv/lib/python*/site-packages/onnxruntime/capi/libonnxruntime.so.${version}" >/dev/null \
   && .venv/bin/pip show "$package" 2>/dev/null | grep -q "^Version: ${version}$"; then
  echo "onnxruntime ${version} already in .venv" >&2
  exit 0
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check "${package}==${version}"
echo "installed ${package}==${version} into .venv" >&2
