#!/usr/bin/env python3
"""Writes tests/fixtures/hf-cache with huggingface_hub's own hf_hub_download.

The Hub is evalrun-hub's fake server (`examples/serve.rs`, 127.0.0.1 only): this script
starts it with cargo, points HF_ENDPOINT at it, downloads the two files of
`evalrun-test/tiny-model` into a fresh cache, and replaces the fixture with that cache.
The Rust test `a_cache_written_by_huggingface_hub_is_read_with_no_server` reads it with
no server running.

Usage (from anywhere): python crates/evalrun-hub/scripts/make_hf_cache_fixture.py   (a venv with huggingface_hub 0.36.2, e.g. the fixtures venv)
Needs huggingface_hub (tested with 0.36.2) and cargo.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CRATE = Path(__file__).resolve().parent.parent
FIXTURE = CRATE / "tests" / "fixtures" / "hf-cache"
REPO_ID = "evalrun-test/tiny-model"
FILES = ["config.json", "onnx/model.onnx"]


def main() -> int:
    server = subprocess.Popen(
        ["cargo", "run", "--quiet", "-p", "evalrun-hub", "--example", "serve", "--features", "testing"],
        cwd=CRATE,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        endpoint = server.stdout.readline().strip()
        if not endpoint.startswith("http://127.0.0.1:"):
            print(f"the fake Hub did not start (got {endpoint!r})", file=sys.stderr)
            return 1
        # huggingface_hub reads these at import time.
        os.environ["HF_ENDPOINT"] = endpoint
        os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
        os.environ["HF_HUB_OFFLINE"] = "0"
        os.environ.pop("HF_TOKEN", None)
        import huggingface_hub

        with tempfile.TemporaryDirectory() as tmp:
            cache = Path(tmp) / "hub"
            for name in FILES:
                path = huggingface_hub.hf_hub_download(REPO_ID, name, cache_dir=cache, token=False)
                print(f"huggingface_hub {huggingface_hub.__version__} wrote {path}")
            if FIXTURE.exists():
                shutil.rmtree(FIXTURE)
            shutil.copytree(cache, FIXTURE, symlinks=True)
    finally:
        server.stdin.close()
        server.wait(timeout=30)
    for path in sorted(FIXTURE.rglob("*")):
        kind = f"-> {os.readlink(path)}" if path.is_symlink() else ("/" if path.is_dir() else f"{path.stat().st_size} B")
        print(f"  {path.relative_to(FIXTURE)} {kind}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
