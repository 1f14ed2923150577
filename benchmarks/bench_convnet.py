"""One epoch of Keras's simple MNIST convnet on 54,000 Fashion-MNIST images: gpunet against PyTorch.

    python benchmarks/bench_convnet.py                 # 3 repeats, alternating
    python benchmarks/bench_convnet.py --repeats 5 --json results.json

The network of Keras's "simple MNIST convnet" example — Conv2D 32 3x3 relu, MaxPooling 2, Conv2D 64
3x3 relu, MaxPooling 2, Flatten, Dropout 0.5, Dense 10 softmax — trained one epoch with Adam (1e-3)
in minibatches of 128 on 54,000 images (the 90% that ``validation_split=0.1`` leaves): gpunet's
``model.fit(verbose=0)``, and the same network, optimizer and batches written idiomatically in
PyTorch (``nn.Sequential``, ``torch.optim.Adam``, ``randperm`` batches) when PyTorch is installed
(an optional peer, never a dependency). Runs alternate and medians are reported, with the ratio
measured in the same run. Peak memory: traced NumPy allocations during one epoch (``tracemalloc``,
separate untimed runs), and gpunet's memory still held after epochs 1, 2 and 3 (flat means nothing
accumulates).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
import tracemalloc

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import gpunet  # noqa: E402
from gpunet import backend  # noqa: E402
from gpunet.layers import Conv2D, Dense, Dropout, Flatten, Input, MaxPooling2D  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_train import torch_and_device, torch_epoch  # noqa: E402

SAMPLES, BATCH = 54000, 128


def load_data(samples=SAMPLES):
    """The first 54,000 (or ``samples``) Fashion-MNIST training images as (N, 28, 28, 1) floats, else random data."""
    try:
        (x, y), _ = gpunet.datasets.fashion_mnist.load_data()
        source = "Fashion-MNIST"
    except Exception:  # noqa: BLE001 - any failure means: use random data
        rng = np.random.default_rng(0)
        x, y, source = rng.integers(0, 256, (60000, 28, 28), dtype=np.uint8), rng.integers(0, 10, 60000), "random (Fashion-MNIST not found)"
    return gpunet.datasets.scale(x[:samples])[..., None], y[:samples].astype(np.int64), source


def gpunet_model():
    model = gpunet.Sequential([Input((28, 28, 1)), Conv2D(32, 3, activation="relu"), MaxPooling2D(2),
                               Conv2D(64, 3, activation="relu"), MaxPooling2D(2), Flatten(), Dropout(0.5),
                               Dense(10, activation="softmax")])
    model.compile(optimizer=gpunet.optimizers.Adam(1e-3, epsilon=1e-8), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def run_gpunet(x, y, model=None):
    model = model or gpunet_model()
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
    if backend.name() == "cupy":
        backend.array_module().cuda.Device().synchronize()
    return model


def torch_runner(x, y):
    peer = torch_and_device()
    if peer is None:
        return None
    torch, device = peer
    X = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).to(device)  # PyTorch's NCHW
    Y = torch.from_numpy(y).to(device)

    def run():
        net = torch.nn.Sequential(
            torch.nn.Conv2d(1, 32, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Conv2d(32, 64, 3), torch.nn.ReLU(),
            torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Dropout(0.5), torch.nn.Linear(1600, 10),
        ).to(device)
        torch_epoch(torch, net, torch.optim.Adam(net.parameters(), lr=1e-3), X, Y, BATCH)

    return run, f"PyTorch {torch.__version__} ({device}, {torch.get_num_threads()} threads)"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--samples", type=int, default=SAMPLES, help=f"training images per epoch (default {SAMPLES})")
    args = parser.parse_args(argv)
    x, y, source = load_data(args.samples)
    print(f"machine: {gpunet.utils.describe_machine()}\ndata: {source}, {len(x)} images; {args.repeats} repeats, medians of one epoch")
    x_dev, y_dev = backend.to_device(x), backend.to_device(y)  # on the device once, as PyTorch's tensors are
    runners = {"gpunet": lambda: run_gpunet(x_dev, y_dev)}
    peer = torch_runner(x, y)
    if peer is not None:
        runners["pytorch"] = peer[0]
        print(f"peer: {peer[1]}")
    times = {k: [] for k in runners}
    for r in range(args.repeats):
        for key in (list(runners) if r % 2 == 0 else list(reversed(runners))):
            gpunet.utils.set_random_seed(r)
            start = time.perf_counter()
            runners[key]()
            times[key].append(time.perf_counter() - start)
            print(f"  {key}: {times[key][-1]:.2f} s", flush=True)
    median = {k: statistics.median(v) for k, v in times.items()}
    result = {"machine": gpunet.utils.describe_machine(), "data": source, "times": times, "median": median,
              "peer": None if peer is None else peer[1]}
    line = f"gpunet {median['gpunet']:.2f} s"
    if "pytorch" in median:
        line += f"  pytorch {median['pytorch']:.2f} s  gpunet/pytorch {median['gpunet'] / median['pytorch']:.2f}"
    if backend.name() == "numpy":
        model = run_gpunet(x[:1280], y[:1280])  # built once
        gc.collect()
        tracemalloc.start()
        run_gpunet(x, y, model)
        peak = tracemalloc.get_traced_memory()[1]
        held = []
        for _ in range(3):
            run_gpunet(x, y, model)
            gc.collect()
            held.append(tracemalloc.get_traced_memory()[0])
        tracemalloc.stop()
        result["peak_bytes"], result["held_after_epochs"] = peak, held
        line += f"  peak traced {peak / 2**20:.1f} MB (data {x.nbytes / 2**20:.1f} MB)  held after epochs: " + ", ".join(f"{b / 2**20:.1f}" for b in held)
    print(line, flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
