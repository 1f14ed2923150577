"""Data-parallel training on this machine: 2 ranks x 1 thread against 1 rank x 1 and x 2 threads.

    python benchmarks/bench_distributed.py                  # every configuration, 3 repeats, medians
    python benchmarks/bench_distributed.py --repeats 5 --samples 30720 --json results.json

The wide MLP of ``bench_train.py`` (784-2048-2048-10 relu, SGD momentum 0.9, global batch 512) for
one epoch of Fashion-MNIST's 60,000 training images (random data of that shape when the data set is
missing). Each configuration runs in fresh processes, and the configurations alternate within each
repeat, so that a burst of load from elsewhere on the machine hits them alike:

* ``1 rank x 1 thread``:  one process, BLAS and gpunet on one thread (the reference);
* ``1 rank x 2 threads``: one process on both cores (its BLAS threads);
* ``2 ranks x 1 thread``: ``mpirun -n 2``, each rank on one core, gradients all-reduced in buckets
  started during the backward pass (overlap on: ``2x1`` on a communication thread,
  ``2x1-iallreduce`` with MPI's non-blocking ``Iallreduce``), and again with every all-reduce
  started after it (overlap off), to see what the overlap saves; ``2x1-no-watchdog`` is ``2x1``
  with the collective watchdog off (``GPUNET_COLLECTIVE_TIMEOUT=0``), to see what it costs.

Reported per configuration: the epoch's median time, the speedup over 1 x 1, and for the
two-rank runs the time per step spent waiting for the all-reduce after the backward pass (with
overlap off that is the whole all-reduce; with it on, what the overlap did not hide).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

CONFIGS = {
    "1x1": {"ranks": 0, "threads": 1, "overlap": True},
    "1x2": {"ranks": 0, "threads": 2, "overlap": True},
    "2x1": {"ranks": 2, "threads": 1, "overlap": True},
    "2x1-iallreduce": {"ranks": 2, "threads": 1, "overlap": True, "asynchronous": "request"},
    "2x1-no-overlap": {"ranks": 2, "threads": 1, "overlap": False},
    "2x1-no-watchdog": {"ranks": 2, "threads": 1, "overlap": True, "watchdog": False},
}


def worker(args) -> None:
    """One timed epoch in this process (a rank of mpirun, or alone); rank 0 prints a JSON line."""
    import gpunet  # noqa: PLC0415
    from gpunet import distributed  # noqa: PLC0415
    from gpunet.layers import Dense, Input  # noqa: PLC0415

    distributed.init(overlap=not args.no_overlap, asynchronous=args.asynchronous)
    try:
        (x, y), _ = gpunet.datasets.fashion_mnist.load_data()
        x, y, source = x.reshape(len(x), -1).astype(np.float32) / 255, y.astype(np.int64), "Fashion-MNIST"
    except Exception:  # noqa: BLE001 - a machine without the data set: the same shapes
        rng = np.random.default_rng(0)
        x, y, source = rng.random((60000, 784), dtype=np.float32), rng.integers(0, 10, 60000), "random"
    x, y = x[:args.samples], y[:args.samples]
    gpunet.utils.set_random_seed(0)
    model = gpunet.Sequential([Input((784,)), Dense(2048, activation="relu"), Dense(2048, activation="relu"),
                               Dense(10, activation="softmax")])
    model.compile(optimizer=gpunet.optimizers.SGD(learning_rate=0.01, momentum=0.9),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x[:1024], y[:1024], batch_size=512, epochs=1, verbose=0, shuffle=False)  # records the step
    parallel = distributed.strategy()
    if parallel is not None:
        parallel.last_step.reduce_seconds, parallel.last_step.steps = 0.0, 0
    distributed.barrier()
    start = time.perf_counter()
    history = model.fit(x, y, batch_size=512, epochs=1, verbose=0)
    distributed.barrier()
    seconds = time.perf_counter() - start
    steps = -(-len(x) // 512)
    waits = distributed.communicator().allgather_object(
        0.0 if parallel is None else parallel.last_step.reduce_seconds / max(parallel.last_step.steps, 1))
    if distributed.is_main():
        print(json.dumps({"seconds": seconds, "steps": steps, "reduce_wait_per_step": max(waits),
                          "loss": history.history["loss"][-1], "data": source}), flush=True)


def run_config(name, samples, timeout) -> dict:
    config = CONFIGS[name]
    env = dict(os.environ, OMP_NUM_THREADS=str(config["threads"]), OPENBLAS_NUM_THREADS=str(config["threads"]),
               MKL_NUM_THREADS=str(config["threads"]), GPUNET_NUM_THREADS=str(config["threads"]),
               GPUNET_BACKEND="numpy", OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               GPUNET_COLLECTIVE_TIMEOUT="300" if config.get("watchdog", True) else "0")
    command = [sys.executable, os.path.abspath(__file__), "--worker", "--samples", str(samples)]
    if not config["overlap"]:
        command.append("--no-overlap")
    command += ["--asynchronous", config.get("asynchronous", "thread")]
    if config["ranks"]:
        mpirun = os.path.join(os.path.dirname(sys.executable), "mpirun")
        mpirun = mpirun if os.path.exists(mpirun) else shutil.which("mpirun")
        command = [mpirun, "-n", str(config["ranks"]), "--bind-to", "core", *command]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--samples", type=int, default=60000)
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-overlap", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--asynchronous", default="thread", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return 0
    runs = {name: [] for name in args.configs}
    for repeat in range(args.repeats):
        for name in args.configs:
            runs[name].append(run_config(name, args.samples, args.timeout))
            print(f"repeat {repeat + 1}: {name}: {runs[name][-1]['seconds']:.2f} s", flush=True)
    base = statistics.median(r["seconds"] for r in runs["1x1"]) if "1x1" in runs else None
    results = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
               "samples": args.samples, "repeats": args.repeats, "data": next(iter(runs.values()))[0]["data"],
               "configs": {}}
    print(f"\n{'configuration':<18} {'epoch (median)':>15} {'speedup':>8} {'all-reduce wait/step':>21}  all runs (s)")
    for name, rows in runs.items():
        seconds = statistics.median(r["seconds"] for r in rows)
        wait = statistics.median(r["reduce_wait_per_step"] for r in rows)
        results["configs"][name] = {"seconds": seconds, "runs": [r["seconds"] for r in rows],
                                    "speedup": None if base is None else base / seconds,
                                    "reduce_wait_per_step_ms": 1000 * wait, "steps": rows[0]["steps"]}
        speedup = "" if base is None else f"{base / seconds:.2f}x"
        print(f"{name:<18} {seconds:>13.2f} s {speedup:>8} {1000 * wait:>18.1f} ms  "
              + ", ".join(f"{r['seconds']:.2f}" for r in rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
