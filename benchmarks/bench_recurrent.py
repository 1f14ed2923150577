"""One epoch of an LSTM text classifier and of a GRU sequence model: gpunet against PyTorch on the CPU.

    python benchmarks/bench_recurrent.py                  # 3 repeats, alternating
    python benchmarks/bench_recurrent.py --repeats 5 --threads 1 --json results.json
    python benchmarks/bench_recurrent.py --cases none --memory   # the memory check alone

Models (Adam 1e-3, the same shuffled minibatches on both sides' data):

* ``lstm``: token ids (sequences of 100 from a vocabulary of 10,000) -> ``Embedding(10000, 64)`` ->
  ``LSTM(64)`` -> ``Dense(2, softmax)``, sparse categorical cross-entropy; batches of 32 and 128.
  PyTorch: ``nn.Embedding`` + ``nn.LSTM(batch_first=True)`` (last step) + ``nn.Linear``,
  ``CrossEntropyLoss``.
* ``gru``: float sequences (100 steps, 32 features) -> ``GRU(64, return_sequences=True)`` ->
  ``Dense(1)`` at every step, mean squared error; batches of 32. PyTorch: ``nn.GRU`` + ``nn.Linear``,
  ``MSELoss``.

Where ``gpunet.layers.Embedding`` is absent, both sides are fed the same already-embedded float
sequences (a fixed random table looked up once) and the report says so. PyTorch is an optional
peer (never a dependency), on every core by default (``--torch-threads 1`` where other work
shares the cores: its threads then wait for each other); ``--threads 1`` pins both sides to one
thread (PyTorch's intra-op threads, and NumPy's BLAS through ``threadpoolctl``). Runs alternate,
medians are reported with the ratio measured in the same run, in wall time and in CPU time
(``time.process_time``: on shared cores, less sensitive to the other work than wall time).

``--memory`` also checks gpunet's host memory with ``tracemalloc`` (NumPy reports its arrays to
it): the traced memory still held after epoch 1 and after epoch 3 of the LSTM classifier (flat:
nothing accumulates over epochs), and an epoch's peak traced memory for sequences of 50, 100 and
200 steps (linear in the length: backward through time keeps every step's gates and states).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import gpunet
from gpunet.layers import GRU, LSTM, Dense, Input

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_train import torch_and_device

STEPS, VOCABULARY, EMBEDDING, UNITS, FEATURES = 100, 10000, 64, 64, 32


def embedding_layer():
    """gpunet's Embedding when this build has it, else None."""
    try:
        return gpunet.layers.Embedding
    except Exception:  # noqa: BLE001 - absent: NotSupportedYetError or AttributeError
        return None


def make_data(samples, seed=0, steps=STEPS):
    rng = np.random.default_rng(seed)
    tokens = rng.integers(1, VOCABULARY, (samples, steps)).astype(np.int64)
    labels = (tokens[:, -10:].mean(axis=1) > VOCABULARY / 2).astype(np.int64)
    table = (rng.standard_normal((VOCABULARY, EMBEDDING)) * 0.05).astype(np.float32)
    sequences = rng.standard_normal((samples, steps, FEATURES)).astype(np.float32)
    targets = np.cumsum(sequences[..., :1], axis=1).astype(np.float32) / 10
    return tokens, labels, table, sequences, targets


def gpunet_runners(data, embedded, batch):
    tokens, labels, table, sequences, targets = data
    steps = tokens.shape[1]
    Embedding = embedding_layer()

    def lstm():
        if Embedding is not None and not embedded:
            model = gpunet.Sequential([Input((steps,), dtype="int64"), Embedding(VOCABULARY, EMBEDDING), LSTM(UNITS),
                                       Dense(2, activation="softmax")])
            x = tokens
        else:
            model = gpunet.Sequential([Input((steps, EMBEDDING)), LSTM(UNITS), Dense(2, activation="softmax")])
            x = table[tokens]
        model.compile(optimizer=gpunet.optimizers.Adam(1e-3, epsilon=1e-8), loss="sparse_categorical_crossentropy")
        return lambda: model.fit(x, labels, batch_size=batch, epochs=1, verbose=0)

    def gru():
        model = gpunet.Sequential([Input((steps, FEATURES)), GRU(UNITS, return_sequences=True), Dense(1)])
        model.compile(optimizer=gpunet.optimizers.Adam(1e-3, epsilon=1e-8), loss="mse")
        return lambda: model.fit(sequences, targets, batch_size=batch, epochs=1, verbose=0)

    return {"lstm": lstm, "gru": gru}


def torch_runners(data, embedded, batch, threads=None):
    peer = torch_and_device()
    if peer is None:
        return None, None
    torch, _ = peer
    if threads:
        torch.set_num_threads(threads)
    nn = torch.nn
    tokens, labels, table, sequences, targets = data

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = None if embedded else nn.Embedding(VOCABULARY, EMBEDDING)
            self.lstm = nn.LSTM(EMBEDDING, UNITS, batch_first=True)
            self.dense = nn.Linear(UNITS, 2)

        def forward(self, x):
            if self.embedding is not None:
                x = self.embedding(x)
            return self.dense(self.lstm(x)[0][:, -1])

    class Sequence(nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = nn.GRU(FEATURES, UNITS, batch_first=True)
            self.dense = nn.Linear(UNITS, 1)

        def forward(self, x):
            return self.dense(self.gru(x)[0])

    def epoch(net, loss_fn, X, Y):
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        net.train()
        for idx in torch.randperm(len(X)).split(batch):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(X[idx]), Y[idx])
            loss.backward()
            opt.step()

    def lstm():
        net = Classifier()
        X = torch.from_numpy(table[tokens] if embedded else tokens)
        Y = torch.from_numpy(labels)
        return lambda: epoch(net, nn.CrossEntropyLoss(), X, Y)

    def gru():
        net = Sequence()
        X, Y = torch.from_numpy(sequences), torch.from_numpy(targets)
        return lambda: epoch(net, nn.MSELoss(), X, Y)

    return {"lstm": lstm, "gru": gru}, f"PyTorch {torch.__version__} (cpu, {torch.get_num_threads()} threads)"


def measure(name, makers, repeats):
    """Alternating runs (a fresh model per run, built and compiled outside the timing); medians."""
    runs = {side: [] for side in makers}
    cpu = {side: [] for side in makers}
    for r in range(repeats):
        for side in (list(makers) if r % 2 == 0 else list(reversed(makers))):
            gpunet.utils.set_random_seed(r)
            run = makers[side]()
            start, start_cpu = time.perf_counter(), time.process_time()
            run()
            runs[side].append(time.perf_counter() - start)
            cpu[side].append(time.process_time() - start_cpu)
            print(f"  {name} {side}: {runs[side][-1]:.2f} s ({cpu[side][-1]:.2f} s of CPU)", flush=True)
    return runs, cpu


def memory_check(samples=256, batch=32, epochs=3, lengths=(50, 100, 200)):
    """gpunet's traced host memory (``tracemalloc``) for the LSTM classifier: held after each of
    ``epochs`` epochs (the same model), and an epoch's peak above what was held before it for each
    sequence length (a warm-up epoch first, untraced: weights, optimizer state, compiled steps)."""
    import gc
    import tracemalloc

    run = gpunet_runners(make_data(samples), False, batch)["lstm"]()
    held = []
    tracemalloc.start()
    for _ in range(epochs):
        run()
        gc.collect()
        held.append(tracemalloc.get_traced_memory()[0])
    tracemalloc.stop()
    peaks = {}
    for steps in lengths:
        run = gpunet_runners(make_data(samples, steps=steps), False, batch)["lstm"]()
        run()
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        run()
        peaks[steps] = tracemalloc.get_traced_memory()[1] - before
        tracemalloc.stop()
    slopes = [(peaks[b] - peaks[a]) / (b - a) for a, b in itertools.pairwise(lengths)]
    mib = 1 << 20
    print(f"memory (LSTM classifier, batch {batch}): held after epoch 1 {held[0] / mib:.2f} MiB, after epoch "
          f"{epochs} {held[-1] / mib:.2f} MiB; epoch peak " + ", ".join(f"{n} steps {p / mib:.2f} MiB" for n, p in
                                                                      peaks.items())
          + "; growth per step " + ", ".join(f"{s / 1024:.1f} KiB" for s in slopes), flush=True)
    return {"batch": batch, "samples": samples, "held_after_epoch_bytes": held,
            "epoch_peak_bytes": {str(n): p for n, p in peaks.items()}, "peak_growth_per_step_bytes": slopes}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--samples", type=int, default=2048, help="sequences per epoch (default 2048)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="PyTorch's intra-op threads (default: every core, as the other benchmarks)")
    parser.add_argument("--threads", type=int, default=None,
                        help="pin both sides: PyTorch's threads and NumPy's BLAS threads (threadpoolctl)")
    parser.add_argument("--cases", default="lstm-32,lstm-128,gru-32",
                        help="which of lstm-32,lstm-128,gru-32 to run ('none' for none)")
    parser.add_argument("--memory", action="store_true", help="also check gpunet's traced memory (see above)")
    args = parser.parse_args(argv)
    if args.threads:
        args.torch_threads = args.threads
        try:
            import threadpoolctl

            threadpoolctl.threadpool_limits(limits=args.threads, user_api="blas")
        except ImportError:
            print("threadpoolctl is absent: NumPy's BLAS threads are not pinned")
    embedded = embedding_layer() is None
    data = make_data(args.samples)
    print(f"machine: {gpunet.utils.describe_machine()}\n{args.samples} sequences of {STEPS} steps per epoch; "
          f"{args.repeats} repeats, medians of one epoch")
    if embedded:
        print("gpunet.layers.Embedding is absent: both sides get the same pre-embedded float sequences")
    results = {"machine": gpunet.utils.describe_machine(), "samples": args.samples, "pre_embedded": embedded,
               "threads": args.threads, "load_average_before": os.getloadavg()[0], "cases": {}}
    cases = [] if args.cases == "none" else [(c.split("-")[0], int(c.split("-")[1])) for c in args.cases.split(",")]
    for case, batch in cases:
        ours = gpunet_runners(data, embedded, batch)[case]
        theirs, peer = torch_runners(data, embedded, batch, args.torch_threads)
        makers = {"gpunet": ours}
        if theirs is not None:
            makers["pytorch"] = theirs[case]
            results["peer"] = peer
        runs, cpu = measure(f"{case} batch {batch}", makers, args.repeats)
        median = {side: statistics.median(times) for side, times in runs.items()}
        median_cpu = {side: statistics.median(times) for side, times in cpu.items()}
        line = f"{case} batch {batch}: gpunet {median['gpunet']:.2f} s"
        if "pytorch" in median:
            line += (f"  pytorch {median['pytorch']:.2f} s  gpunet/pytorch {median['gpunet'] / median['pytorch']:.2f}"
                     f" (CPU time: {median_cpu['gpunet'] / median_cpu['pytorch']:.2f})")
        print(line, flush=True)
        results["cases"][f"{case}-{batch}"] = {"times": runs, "median": median, "cpu_times": cpu,
                                               "median_cpu": median_cpu}
    if args.memory:
        results["memory"] = memory_check()
    results["load_average_after"] = os.getloadavg()[0]
    print(f"load average (1 min) before {results['load_average_before']:.1f}, after {results['load_average_after']:.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
