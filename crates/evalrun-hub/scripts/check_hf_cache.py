#!/usr/bin/env python3
"""Checks that huggingface_hub can read a cache written by evalrun-hub.

Usage: check_hf_cache.py CACHE_DIR REPO_ID FILE [--repo-type model|dataset] [--revision main]

Runs, with no network (HF_HUB_OFFLINE=1):
  * huggingface_hub.try_to_load_from_cache  -> the snapshot path, or a failure
  * huggingface_hub.hf_hub_download(..., local_files_only=True) -> the same path
  * huggingface_hub.scan_cache_dir -> the repo is listed and the scan reports no warning
and prints the path and the sha256 of the file. Exits 1 on any mismatch.
Needs huggingface_hub (tested with 0.36.2).
"""

import argparse
import hashlib
import os
import sys

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import huggingface_hub  # noqa: E402  (the environment must be set before the import)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cache_dir")
    parser.add_argument("repo_id")
    parser.add_argument("filename")
    parser.add_argument("--repo-type", default="model", choices=["model", "dataset"])
    parser.add_argument("--revision", default=None)
    args = parser.parse_args()

    cached = huggingface_hub.try_to_load_from_cache(
        args.repo_id,
        args.filename,
        cache_dir=args.cache_dir,
        revision=args.revision,
        repo_type=args.repo_type,
    )
    if not isinstance(cached, str):
        print(f"try_to_load_from_cache found nothing: {cached!r}", file=sys.stderr)
        return 1
    downloaded = huggingface_hub.hf_hub_download(
        args.repo_id,
        args.filename,
        cache_dir=args.cache_dir,
        revision=args.revision,
        repo_type=args.repo_type,
        local_files_only=True,
    )
    if os.path.realpath(cached) != os.path.realpath(downloaded):
        print(f"paths differ: {cached} vs {downloaded}", file=sys.stderr)
        return 1

    info = huggingface_hub.scan_cache_dir(args.cache_dir)
    if info.warnings:
        for warning in info.warnings:
            print(f"scan_cache_dir warning: {warning}", file=sys.stderr)
        return 1
    repos = {(r.repo_type, r.repo_id) for r in info.repos}
    if (args.repo_type, args.repo_id) not in repos:
        print(f"scan_cache_dir did not list {args.repo_id}: {sorted(repos)}", file=sys.stderr)
        return 1

    with open(cached, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    print(f"huggingface_hub {huggingface_hub.__version__}: {cached}")
    print(f"sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
