"""The network model of the cost model in docs/distributed.md, measured: latency and bandwidth.

    mpirun -n 2 python benchmarks/bench_allreduce.py [--json out.json]

Rank pairs exchange messages of 8 bytes to 64 MiB: a ping-pong (``Send``/``Recv``, half the round
trip) and an all-reduce of float32 (``Allreduce``, in place), each the median of several
repetitions. A least-squares fit of ``time = latency + bytes / bandwidth`` over the sizes gives
the two numbers the cost model needs, for the point-to-point link and for the all-reduce as MPI
runs it here.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np


def timed(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def fit(sizes, seconds):
    """``(latency s, bandwidth bytes/s)`` of the least-squares line time = a + bytes * b."""
    b, a = np.polyfit(np.asarray(sizes, float), np.asarray(seconds, float), 1)
    return float(a), float(1 / b) if b > 0 else float("inf")


def main() -> int:
    from mpi4py import MPI  # noqa: PLC0415

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json")
    parser.add_argument("--label", default="", help="what the ranks run over (stored in the JSON)")
    parser.add_argument("--max-bytes", type=int, default=64 << 20)
    args = parser.parse_args()
    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    if size < 2:
        print("run it with mpirun -n 2 (or more)", file=sys.stderr)
        return 2
    import socket  # noqa: PLC0415

    hosts = comm.gather(socket.gethostname())
    rows = []
    nbytes = 8
    while nbytes <= args.max_bytes:
        buffer = np.ones(max(nbytes // 4, 2), dtype=np.float32)
        repeats = 50 if nbytes < (1 << 20) else 7

        def ping_pong():
            if rank == 0:
                comm.Send(buffer, dest=1)
                comm.Recv(buffer, source=1)
            elif rank == 1:
                comm.Recv(buffer, source=0)
                comm.Send(buffer, dest=0)

        comm.Barrier()
        one_way = timed(ping_pong, repeats) / 2
        comm.Barrier()
        allreduce = timed(lambda: comm.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM), repeats)
        rows.append({"bytes": buffer.nbytes, "ping_pong_one_way_s": comm.bcast(one_way), "allreduce_s": comm.allreduce(allreduce, op=MPI.MAX)})
        nbytes *= 4
    if rank == 0:
        small = [r for r in rows if r["bytes"] <= 4096]
        large = [r for r in rows if r["bytes"] >= (1 << 20)]
        p2p_latency, _ = fit([r["bytes"] for r in small], [r["ping_pong_one_way_s"] for r in small])
        _, p2p_bandwidth = fit([r["bytes"] for r in large], [r["ping_pong_one_way_s"] for r in large])
        ar_latency, _ = fit([r["bytes"] for r in small], [r["allreduce_s"] for r in small])
        _, ar_bandwidth = fit([r["bytes"] for r in large], [r["allreduce_s"] for r in large])
        print(f"{'bytes':>10} {'ping-pong one way':>18} {'all-reduce':>12}")
        for r in rows:
            print(f"{r['bytes']:>10} {1e6 * r['ping_pong_one_way_s']:>15.1f} us {1e6 * r['allreduce_s']:>9.1f} us")
        print(f"point to point: latency {1e6 * p2p_latency:.1f} us, bandwidth {p2p_bandwidth / 1e9:.2f} GB/s")
        print(f"all-reduce ({size} ranks): latency {1e6 * ar_latency:.1f} us, "
              f"effective bandwidth (bytes reduced / time) {ar_bandwidth / 1e9:.2f} GB/s")
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"label": args.label, "ranks": size, "hosts": hosts, "rows": rows, "p2p_latency_s": p2p_latency, "p2p_bandwidth_Bps": p2p_bandwidth,
                           "allreduce_latency_s": ar_latency, "allreduce_bandwidth_Bps": ar_bandwidth}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
