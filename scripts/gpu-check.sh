#!/usr/bin/env bash
# The device check (see scripts/gpu_check.py): scripts/gpu-check.sh [--dry-run] [--deadline S] OUTDIR
# Runs from a plain checkout without network and without installing anything: PYTHONPATH is the
# checkout. Leaves three files in OUTDIR: gpu-check.json, summary.txt, logs.tar.gz.
set -u
cd "$(dirname "$0")/.."
exec "${PYTHON:-python3}" scripts/gpu_check.py "$@"
