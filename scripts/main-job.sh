#!/usr/bin/env bash
# The README's main job, from a fresh Debian machine with Python 3: install what is missing
# (Debian's Fashion-MNIST package, python3-venv), install gpunet into .venv, and train
# models/fashion-mlp.json: dev split, best-on-dev checkpoint, test accuracy of the best weights.
# Extra arguments go to `python -m gpunet train` (e.g. --epochs 5, --dataset mnist).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
if [ ! -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] && [ -z "${GPUNET_DATA:-}" ]; then
  missing+=(dataset-fashion-mnist)
fi
python3 -c "import ensurepip, venv" 2>/dev/null || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=$(command -v sudo || true)
    echo "installing ${missing[*]} with apt-get"
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq "${missing[@]}"
  else
    echo "not a Debian system: install ${missing[*]} yourself, or put the four Fashion-MNIST files in a folder and set GPUNET_DATA to it" >&2
  fi
fi

python3 -m venv .venv
.venv/bin/pip install --quiet .
exec .venv/bin/python -m gpunet train models/fashion-mlp.json "$@"
