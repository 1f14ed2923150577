"""What the collective watchdog costs per collective: with it and without it, in the same processes.

    mpirun -n 2 --bind-to core python benchmarks/bench_watchdog.py [--calls 2000] [--blocks 40] [--json out.json]

Each rank joins with the watchdog on (``init(collective_timeout=300)``), then alternates blocks of
collectives with the watchdog attached to the communicator and detached from it (the state
``collective_timeout=0`` gives), so that a burst of load hits both alike. Timed per call, medians
over the blocks: an all-reduce of one float64 (MPI's latency, where a fixed cost shows most), and
a bucket-sized (4 MiB float32) ``allreduce_async`` then ``wait``, the gradient path of every step.
Also reported: the bookkeeping alone (``begin`` + ``end``, no MPI) in one process.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np


def per_call(function, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - start) / calls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2000, help="small all-reduces per block")
    parser.add_argument("--blocks", type=int, default=40, help="blocks with the watchdog, and as many without")
    parser.add_argument("--json", help="write the results here (rank 0)")
    args = parser.parse_args()

    from gpunet import distributed  # noqa: PLC0415

    comm = distributed.init(collective_timeout=300)
    watchdog = comm.watchdog
    if watchdog is None:
        print("run under mpirun -n 2 (or more): a world of one has no collectives to watch", file=sys.stderr)
        return 1
    scalar = np.zeros(1)
    bucket = np.zeros((4 << 20) // 4, dtype=np.float32)
    small = {"on": [], "off": []}
    large = {"on": [], "off": []}
    for block in range(2 * args.blocks):  # on, off, off, on, on, off...: neither always goes first
        mode = "on" if (block + block // 2) % 2 == 0 else "off"
        comm.watchdog = watchdog if mode == "on" else None
        comm.barrier()
        small[mode].append(per_call(lambda: comm.allreduce(scalar), args.calls))
        comm.barrier()
        large[mode].append(per_call(lambda: comm.allreduce_async(bucket).wait(), max(args.calls // 100, 5)))
    comm.watchdog = watchdog
    bookkeeping = per_call(lambda: watchdog.end(watchdog.begin("allreduce", scalar)), 200000)
    results = {"ranks": comm.size, "bookkeeping_us": 1e6 * bookkeeping}
    for name, times in (("allreduce_1_float64", small), ("allreduce_async_4MiB", large)):
        on, off = statistics.median(times["on"]), statistics.median(times["off"])
        paired = statistics.median(a - b for a, b in zip(times["on"], times["off"]))  # neighbouring blocks
        results[name] = {"on_us": 1e6 * on, "off_us": 1e6 * off, "difference_us": 1e6 * paired,
                         "blocks_on_us": [1e6 * t for t in times["on"]],
                         "blocks_off_us": [1e6 * t for t in times["off"]]}
    every = comm.allgather_object(results)
    if comm.rank == 0:
        print(f"bookkeeping alone (begin + end, one process): {results['bookkeeping_us']:.2f} us per collective")
        for name in ("allreduce_1_float64", "allreduce_async_4MiB"):
            for rank, found in enumerate(every):
                row = found[name]
                print(f"rank {rank} {name:<22} watchdog on {row['on_us']:9.2f} us   off {row['off_us']:9.2f} us   "
                      f"difference (median over neighbouring blocks) {row['difference_us']:+8.2f} us per call")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(every, f, indent=2)
    distributed.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
