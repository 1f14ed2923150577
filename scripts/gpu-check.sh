#!/usr/bin/env bash
# The device check (see scripts/gpu_check.py): scripts/gpu-check.sh OUTDIR [--dry-run] [--only STEP...]
# Runs from a plain checkout on a CUDA machine without network: no install, PYTHONPATH is the checkout.
set -u
cd "$(dirname "$0")/.."
exec "${PYTHON:-python3}" scripts/gpu_check.py "$@"
