"""What the experiment scripts share: the command line, the data, and writing result tables.

Each script in ``examples/`` reproduces one experiment of the course with plain ``model.fit()``
code, prints a table, and writes it as Markdown (plus a PNG plot when matplotlib is installed,
``pip install gpunet[plots]``) under ``docs/results/``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import gpunet  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "results")


def parser(description: str, epochs: int) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--dataset", choices=("fashion_mnist", "mnist"), default="fashion_mnist")
    p.add_argument("--data", metavar="PATH", help="folder holding the data set's four IDX files")
    p.add_argument("--epochs", type=int, default=epochs, help=f"epochs per run (default {epochs})")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=RESULTS, help="folder for the Markdown table and the plot")
    return p


def load(args, train_size: int | None = None):
    """``(x_train, y_train), (x_dev, y_dev), (x_test, y_test)``: images scaled to [0, 1] and
    flattened, dev = the last 10,000 training images (the course's standard split); with
    ``train_size`` only the first ``train_size`` training images are kept."""
    (x, y), (x_test, y_test) = gpunet.datasets.load(args.dataset, path=args.data)
    x, x_test = gpunet.datasets.scale(x, flatten=True), gpunet.datasets.scale(x_test, flatten=True)
    (x_train, y_train), dev = gpunet.datasets.split_dev(x, y, 10000)
    if train_size is not None:
        x_train, y_train = x_train[:train_size], y_train[:train_size]
    return (x_train, y_train), dev, (x_test, y_test)


def title(args) -> str:
    return {"fashion_mnist": "Fashion-MNIST", "mnist": "MNIST"}[args.dataset]


def _commit() -> str:
    try:
        root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
        return subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def provenance(script: str, args, seconds: float) -> str:
    """Command, machine, date and commit, for the footer of a results file."""
    command = "python examples/" + script + " " + " ".join(sys.argv[1:])
    return (
        f"Command: `{command.strip()}` (seed {args.seed}), {datetime.date.today().isoformat()}, "
        f"commit {_commit()}, {gpunet.utils.describe_machine()}, {seconds / 60:.1f} minutes."
    )


def markdown_table(header, rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write(args, name: str, text: str) -> str:
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, name)
    with open(path, "w") as f:
        f.write(text.rstrip() + "\n")
    print(f"wrote {os.path.relpath(path)}")
    return path


def pyplot():
    """matplotlib's pyplot with a file-only backend, or None when matplotlib is absent."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        return plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install matplotlib)")
        return None


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


def percent(value: float) -> str:
    return f"{100 * value:.2f}"


def seed(args, offset: int = 0) -> None:
    gpunet.utils.set_random_seed(args.seed + offset)
    np.random.seed(args.seed + offset)  # only for shuffling labels in the random-label experiment
