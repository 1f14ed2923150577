"""One epoch of MNIST-shaped training: gpunet's fit against the hand-written NumPy floor and PyTorch.

    python benchmarks/bench_train.py                 # all three configurations, 5 repeats
    python benchmarks/bench_train.py --configs small --repeats 7
    python benchmarks/bench_train.py --json results.json
    python benchmarks/bench_train.py --mixed          # mixed_float16 against PyTorch autocast + GradScaler
    python benchmarks/bench_train.py --torch-compile  # also torch.compile(mode="reduce-overhead")
    python benchmarks/bench_train.py --functional     # also the same network built as gpunet.Model(inputs, outputs)

Configurations (one epoch of 60,000 samples each):

* ``small``: 784-30-10 sigmoid, batch 10, SGD(0.1): 6,000 tiny steps, bound by per-step overhead;
* ``mlp``:   784-512-512-10 relu, dropout 0.2, batch 128, Adam(1e-3);
* ``wide``:  784-2048-2048-10 relu, batch 512, SGD(0.01, momentum 0.9): bound by matrix products.

For each, three implementations train the same network the same way (shuffled batches, softmax
cross-entropy, the same optimizer rule): gpunet's ``model.fit(verbose=0)``; the *floor*, the
forward and backward passes written by hand in NumPy with fused softmax-cross-entropy and in-place
updates — what any framework on NumPy has to pay —; and PyTorch on the CPU when it is installed
(an optional peer, never a dependency). Runs alternate between implementations and the medians
are reported, with the ratios gpunet / floor and gpunet / PyTorch measured in the same run.

Peak memory is measured in separate, untimed runs with ``tracemalloc`` (which sees NumPy's
allocations): the peak of traced memory during one epoch, data included, for gpunet and the
floor, plus gpunet's traced memory after epochs 1 and 3 (flat means nothing is kept alive
between steps).
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
from gpunet.layers import Dense, Dropout, Input  # noqa: E402

CONFIGS = {
    "small": {"hidden": [30], "activation": "sigmoid", "dropout": 0.0, "batch": 10, "optimizer": ("sgd", 0.1)},
    "mlp": {"hidden": [512, 512], "activation": "relu", "dropout": 0.2, "batch": 128, "optimizer": ("adam", 1e-3)},
    "wide": {"hidden": [2048, 2048], "activation": "relu", "dropout": 0.0, "batch": 512, "optimizer": ("momentum", 0.01)},
}


def load_data():
    """Fashion-MNIST's training images when present, else random data of the same shape."""
    try:
        from gpunet import datasets

        (x, y), _ = datasets.fashion_mnist.load_data()
        return (x.reshape(len(x), -1).astype(np.float32) / 255), y.astype(np.int64), "Fashion-MNIST"
    except Exception:  # noqa: BLE001 - any failure means: use random data
        rng = np.random.default_rng(0)
        return rng.random((60000, 784), dtype=np.float32), rng.integers(0, 10, 60000), "random (Fashion-MNIST not found)"


# ---------------------------------------------------------------------------------------------
# gpunet
# ---------------------------------------------------------------------------------------------
MIXED = False  # --mixed: gpunet under "mixed_float16", PyTorch under autocast(float16) with a GradScaler


def gpunet_model(config, functional=False):
    """The configuration's network as a Sequential model, or (``functional``) as the same layers
    called on ``gpunet.Input`` and joined by ``gpunet.Model(inputs, outputs)``."""
    gpunet.mixed_precision.set_global_policy("mixed_float16" if MIXED else None)
    layers = []
    for units in config["hidden"]:
        layers.append(Dense(units, activation=config["activation"]))
        if config["dropout"]:
            layers.append(Dropout(config["dropout"]))
    layers.append(Dense(10, activation="softmax", dtype="float32" if MIXED else None))
    if functional:
        inputs = outputs = Input((784,))
        for layer in layers:
            outputs = layer(outputs)
        model = gpunet.Model(inputs, outputs)
    else:
        model = gpunet.Sequential([Input((784,)), *layers])
    gpunet.mixed_precision.set_global_policy(None)
    kind, lr = config["optimizer"]
    optimizer = {"sgd": lambda: gpunet.optimizers.SGD(lr), "adam": lambda: gpunet.optimizers.Adam(lr, epsilon=1e-8),
                 "momentum": lambda: gpunet.optimizers.SGD(lr, momentum=0.9)}[kind]()
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def run_gpunet(config, x, y, model=None, functional=False):
    model = model or gpunet_model(config, functional)
    model.fit(x, y, batch_size=config["batch"], epochs=1, verbose=0)
    if backend.name() == "cupy":
        backend.array_module().cuda.Device().synchronize()
    return model


# ---------------------------------------------------------------------------------------------
# the hand-written NumPy floor
# ---------------------------------------------------------------------------------------------
class Floor:
    """The same training written directly in NumPy (CuPy on a GPU): fused forward and backward,
    fused softmax-cross-entropy, in-place updates, preallocated optimizer state, and the epoch's
    mean loss and accuracy accumulated (what the course's loop reports, and fit logs)."""

    def __init__(self, config, xp=np, seed=0):
        rng = np.random.default_rng(seed)
        sizes = [784, *config["hidden"], 10]
        self.xp = xp
        self.w = [xp.asarray(rng.uniform(-1, 1, (a, b)).astype(np.float32) * np.float32(np.sqrt(6 / (a + b)))) for a, b in zip(sizes, sizes[1:])]
        self.b = [xp.zeros(b, np.float32) for b in sizes[1:]]
        self.config = config
        self.params = [p for pair in zip(self.w, self.b) for p in pair]
        kind, self.lr = config["optimizer"]
        self.kind = kind
        self.m = [xp.zeros_like(p) for p in self.params] if kind in ("adam", "momentum") else None
        self.v = [xp.zeros_like(p) for p in self.params] if kind == "adam" else None
        self.t = 0
        self.rng = np.random.default_rng(seed + 1)
        self.loss_sum = self.correct = 0

    def step(self, xb, yb):
        xp, cfg = self.xp, self.config
        n = xb.shape[0]
        acts, masks = [xb], []
        h = xb
        last = len(self.w) - 1
        for i, (w, b) in enumerate(zip(self.w, self.b)):
            z = h @ w
            z += b
            if i == last:
                break
            if cfg["activation"] == "sigmoid":
                xp.negative(z, out=z)
                xp.exp(z, out=z)
                z += 1
                xp.reciprocal(z, out=z)
            else:
                xp.maximum(z, 0, out=z)
            if cfg["dropout"]:
                mask = (xp.asarray(self.rng.random(z.shape, dtype=np.float32)) >= cfg["dropout"]) * np.float32(1 / (1 - cfg["dropout"]))
                z *= mask
                masks.append(mask)
            h = z
            acts.append(h)
        # fused softmax cross-entropy, gradient (p - onehot) / n; the epoch's mean loss and
        # accuracy are tracked as the course's loop (and fit) report them
        rows = xp.arange(n)
        z -= z.max(axis=1, keepdims=True)
        self.correct += (z.argmax(axis=1) == yb).sum()
        picked = z[rows, yb].sum()
        xp.exp(z, out=z)
        total = z.sum(axis=1, keepdims=True)
        self.loss_sum += xp.log(total).sum() - picked
        z /= total
        z[rows, yb] -= 1
        z *= np.float32(1 / n)
        grads = [None] * len(self.params)
        g = z
        for i in range(last, -1, -1):
            a = acts[i]
            grads[2 * i] = a.T @ g
            grads[2 * i + 1] = g.sum(axis=0)
            if i == 0:
                break
            g = g @ self.w[i].T
            if cfg["dropout"]:
                g *= masks[i - 1]
            if cfg["activation"] == "sigmoid":
                g *= a * (1 - a)
            else:
                g *= a > 0
        self.update(grads)

    def update(self, grads):
        xp, lr = self.xp, self.lr
        self.t += 1
        for i, (p, g) in enumerate(zip(self.params, grads)):
            if self.kind == "sgd":
                g *= lr
                p -= g
            elif self.kind == "momentum":
                buf = self.m[i]
                buf *= 0.9
                buf += g
                xp.multiply(buf, lr, out=g)
                p -= g
            else:
                m, v = self.m[i], self.v[i]
                bc1, bc2 = 1 - 0.9**self.t, 1 - 0.999**self.t
                m *= 0.9
                m += 0.1 * g
                v *= 0.999
                g *= g
                g *= 0.001
                v += g
                xp.sqrt(v, out=g)
                g *= 1 / np.sqrt(bc2)
                g += 1e-8
                xp.divide(m, g, out=g)
                g *= lr / bc1
                p -= g

    def epoch(self, x, y):
        xp = self.xp
        size = self.config["batch"]
        self.loss_sum = self.correct = 0
        order = xp.asarray(self.rng.permutation(len(x)))
        for start in range(0, len(x), size):
            idx = order[start:start + size]
            self.step(x[idx], y[idx])
        return float(self.loss_sum) / len(x), float(self.correct) / len(x)


def run_floor(config, x, y, floor=None):
    floor = floor or Floor(config, xp=backend.array_module())
    floor.epoch(x, y)
    if backend.name() == "cupy":
        backend.array_module().cuda.Device().synchronize()
    return floor


# ---------------------------------------------------------------------------------------------
# PyTorch (optional)
# ---------------------------------------------------------------------------------------------
def torch_and_device():
    """``(torch, device)`` matching gpunet's backend (all cores on the CPU), or ``None`` without PyTorch."""
    try:
        import torch
    except ImportError:
        return None
    device = "cuda" if backend.name() == "cupy" and torch.cuda.is_available() else "cpu"
    if device == "cpu":
        torch.set_num_threads(os.cpu_count() or 1)
    return torch, device


def torch_epoch(torch, net, opt, X, Y, batch, scaler=None):
    """One epoch of the idiomatic PyTorch loop: shuffled minibatches, cross-entropy, ``opt.step()``
    (with ``scaler``: float16 autocast and dynamic loss scaling, PyTorch's mixed precision recipe)."""
    loss_fn = torch.nn.CrossEntropyLoss()
    net.train()
    for idx in torch.randperm(len(X), device=X.device).split(batch):
        opt.zero_grad(set_to_none=True)
        if scaler is None:
            loss = loss_fn(net(X[idx]), Y[idx])
            loss.backward()
            opt.step()
        else:
            with torch.autocast(device_type=X.device.type, dtype=torch.float16):
                loss = loss_fn(net(X[idx]), Y[idx])
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
    if X.device.type == "cuda":
        torch.cuda.synchronize()


def torch_runner(config, x, y, compiled=False):
    peer = torch_and_device()
    if peer is None:
        return None
    torch, device = peer
    X = torch.from_numpy(np.asarray(backend.to_host(x))).to(device)
    Y = torch.from_numpy(np.asarray(backend.to_host(y))).to(device)

    def make():
        layers, width = [], 784
        for units in config["hidden"]:
            layers += [torch.nn.Linear(width, units), torch.nn.Sigmoid() if config["activation"] == "sigmoid" else torch.nn.ReLU()]
            if config["dropout"]:
                layers.append(torch.nn.Dropout(config["dropout"]))
            width = units
        layers.append(torch.nn.Linear(width, 10))
        net = torch.nn.Sequential(*layers).to(device)
        if compiled:
            net = torch.compile(net, mode="reduce-overhead")  # CUDA graphs for small models
        kind, lr = config["optimizer"]
        opt = {"sgd": lambda: torch.optim.SGD(net.parameters(), lr=lr), "adam": lambda: torch.optim.Adam(net.parameters(), lr=lr),
               "momentum": lambda: torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9)}[kind]()
        return net, opt

    scaler = torch.amp.GradScaler(device) if MIXED else None

    def run(state=None):
        net, opt = state or make()
        torch_epoch(torch, net, opt, X, Y, config["batch"], scaler)
        return net, opt

    return run, f"PyTorch {torch.__version__} ({device}{', compiled' if compiled else ''}{', mixed float16' if MIXED else ''})"


# ---------------------------------------------------------------------------------------------
def peak_traced(fn):
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def measure(name, x_host, y_host, repeats, torch_compile=False, functional=False, peak=True):
    config = CONFIGS[name]
    x, y = backend.to_device(x_host), backend.to_device(y_host)
    runners = {"gpunet": lambda: run_gpunet(config, x, y), "floor": lambda: run_floor(config, x, y)}
    if functional:
        runners["gpunet-functional"] = lambda: run_gpunet(config, x, y, functional=True)
    torch_run = torch_runner(config, x_host, y_host)
    peer = None
    if torch_run is not None:
        runners["pytorch"], peer = torch_run[0], torch_run[1]
        if torch_compile:
            compiled = torch_runner(config, x_host, y_host, compiled=True)
            runners["pytorch-compiled"], peer = compiled[0], f"{peer}; {compiled[1]}"
    for fn in runners.values():  # warm-up: imports, BLAS threads, first allocations
        fn()
    times = {k: [] for k in runners}
    for r in range(repeats):
        keys = list(runners) if r % 2 == 0 else list(reversed(runners))
        for key in keys:
            gpunet.utils.set_random_seed(r)
            start = time.perf_counter()
            runners[key]()
            times[key].append(time.perf_counter() - start)
    result = {"config": name, "times": times, "median": {k: statistics.median(v) for k, v in times.items()}, "peer": peer}
    if backend.name() == "cupy":  # device memory: CuPy's pool after gpunet's epochs (its high-water mark), and PyTorch's peak
        pool = backend.array_module().get_default_memory_pool()
        pool.free_all_blocks()
        run_gpunet(config, x, y)
        result["gpu_pool_bytes_gpunet"] = int(pool.total_bytes())
        try:
            import torch

            if torch.cuda.is_available():
                result["gpu_peak_bytes_pytorch"] = int(torch.cuda.max_memory_allocated())
        except ImportError:
            pass
    if backend.name() == "numpy" and peak:
        model = gpunet_model(config)
        run_gpunet(config, x, y, model)  # build everything once
        result["peak_bytes"] = {
            "gpunet": peak_traced(lambda: run_gpunet(config, x_host.copy(), y_host.copy(), model)),
            "floor": peak_traced(lambda: run_floor(config, x_host.copy(), y_host.copy())),
        }
        gc.collect()
        tracemalloc.start()
        after = []
        for _ in range(3):
            run_gpunet(config, x, y, model)
            gc.collect()
            after.append(tracemalloc.get_traced_memory()[0])
        tracemalloc.stop()
        result["gpunet_traced_after_epochs"] = after
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--mixed", action="store_true", help="mixed precision (float16) in gpunet and PyTorch")
    parser.add_argument("--torch-compile", action="store_true", help="also PyTorch with torch.compile(mode='reduce-overhead')")
    parser.add_argument("--functional", action="store_true", help="also gpunet with the model built by gpunet.Model(inputs, outputs)")
    parser.add_argument("--no-peak", action="store_true", help="skip the (untimed) memory measurements")
    args = parser.parse_args(argv)
    global MIXED
    MIXED = args.mixed
    x, y, source = load_data()
    print(f"machine: {gpunet.utils.describe_machine()}\ndata: {source}, {len(x)} samples; {args.repeats} repeats, medians of one epoch\n")
    rows = []
    for name in args.configs:
        result = measure(name, x, y, args.repeats, args.torch_compile, args.functional, not args.no_peak)
        rows.append(result)
        med = result["median"]
        line = f"{name:6s} gpunet {med['gpunet']:7.2f} s  floor {med['floor']:7.2f} s  gpunet/floor {med['gpunet'] / med['floor']:5.2f}"
        if "pytorch" in med:
            line += f"  pytorch {med['pytorch']:7.2f} s  gpunet/pytorch {med['gpunet'] / med['pytorch']:5.2f}"
        if "gpunet-functional" in med:
            line += f"  functional {med['gpunet-functional']:7.2f} s  functional/sequential {med['gpunet-functional'] / med['gpunet']:5.3f}"
        if "pytorch-compiled" in med:
            line += f"  compiled {med['pytorch-compiled']:7.2f} s  gpunet/compiled {med['gpunet'] / med['pytorch-compiled']:5.2f}"
        if "peak_bytes" in result:
            peak = result["peak_bytes"]
            line += f"  peak MB gpunet {peak['gpunet'] / 2**20:6.1f} floor {peak['floor'] / 2**20:6.1f} ratio {peak['gpunet'] / peak['floor']:4.2f}"
            line += "  traced after epochs 1-3 (MB): " + ", ".join(f"{b / 2**20:.1f}" for b in result["gpunet_traced_after_epochs"])
        print(line, flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": gpunet.utils.describe_machine(), "data": source, "mixed": MIXED, "results": rows}, f, indent=2)


if __name__ == "__main__":
    main()
