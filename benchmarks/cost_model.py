"""The scaling cost model of docs/distributed.md, as tables anyone can recompute.

    python benchmarks/cost_model.py [MEASURED.json ...]

with the files of ``bench_allreduce.py --json`` (``benchmarks/results-allreduce-shm.json``, over
shared memory on one host, and ``results-allreduce-tcp.json``, over TCP between the two hosts of
the rehearsal, ``tests/distributed/two_hosts.py``). It prints three tables:

1. **Measured links.** From each file: the all-reduce latency (the median time of the messages of
   at most 2 KiB), the link's bandwidth (ping-pong) and the all-reduce's own bandwidth (its ring
   formula solved for ``B``), each the median over the sizes of gradient buckets (128 KiB to
   8 MiB, where each size gives its own value: a median, not a fit, because a loaded machine
   gives outliers); how well a ring built from the latency and the *link's* bandwidth predicts
   the measured all-reduces of 2 and 8 MiB (what the reduction's copies and sums add); and, with
   the all-reduce's bandwidth, each model's gradient over 2, 8 and 64 such ranks.
2. **GPUs**, with NCCL's own cost model (``src/graph/tuning.cc`` of NCCL 2.8: a base latency per
   algorithm and protocol, a per-hop latency per link kind, the bus bandwidth converted to the
   algorithm's bandwidth: ring ``p / (2 (p - 1))``, tree ``1/2``; NCCL runs the fastest of ring and
   tree, LL and Simple, for each size): 8 GPUs on NVLink in one node, and 64 GPUs in 8 such nodes
   joined by one 400 Gb/s NIC each. Per model, the step time and the scaling efficiency (per-GPU
   batch fixed) without overlap and with gpunet's 4 MiB buckets overlapped with the backward pass,
   simulated bucket by bucket (below).
3. **Where bucketing stops hiding communication**: per model and cluster, the smallest per-GPU
   batch for which the buckets' all-reduces fit inside the backward pass, and what is left
   exposed at the batch of the course; then the overlapped step against the bucket size (1 to
   64 MiB), since every bucket pays the all-reduce's latency once.

The overlapped step, bucket by bucket: the backward pass (4 of the 6 FLOPs per parameter and
sample) finalises the gradients from the last layer to the first, so bucket ``k`` (of ``K``, 4 MiB
each, the last one the remainder) is ready when its share of the bytes has been computed,
``r_k = T_backward * (bytes up to k) / bytes``; the all-reduces run one after the other on their
stream, ``f_k = max(r_k, f_(k-1)) + T_allreduce(bucket k)``; the step ends at
``T_forward + max(T_backward, f_(K-1))``. The fixed overhead of a step (Python, kernel launches)
is split like the FLOPs, a third forward and two thirds backward: the host launching the
backward's kernels is time the all-reduce's stream can use. The last bucket (the first layers) is ready only
at the end of the backward pass: its all-reduce is never hidden. Without overlap the step is
``T_forward + T_backward + sum_k T_allreduce(bucket k)``.

Assumptions (change them here): a GPU sustains ``GPU_FLOPS`` on these small products, and a step
costs ``STEP_OVERHEAD`` more (Python and kernel launches); NVLink's NCCL bus bandwidth
``NVLINK_BUS_BW``; the network's ``NET_BUS_BW`` (one 400 Gb/s NIC per node: the pessimistic case;
DGX-class nodes have one per GPU).
"""

from __future__ import annotations

import json
import math
import statistics
import sys

GPU_FLOPS = 50e12
STEP_OVERHEAD = 1e-3
NVLINK_BUS_BW = 300e9
NET_BUS_BW = 50e9
BUCKET_BYTES = 4 << 20

# NCCL 2.8's published model (src/graph/tuning.cc), microseconds: base latency per algorithm and
# protocol, and the latency of one hop per link kind; LL moves a quarter (ring) or 1/3.8 (tree) of
# Simple's bandwidth; a tree's bus bandwidth is capped (80 GB/s beyond 2 nodes, 110 within).
NCCL_BASE_LATENCY = {("tree", "LL"): 4.4, ("tree", "Simple"): 0.0, ("ring", "LL"): 3.6, ("ring", "Simple"): 8.4}
NCCL_HOP_LATENCY = {
    "nvlink": {("tree", "LL"): 0.52, ("tree", "Simple"): 28.0, ("ring", "LL"): 0.47, ("ring", "Simple"): 3.4},
    "net": {("tree", "LL"): 5.0, ("tree", "Simple"): 50.0, ("ring", "LL"): 2.7, ("ring", "Simple"): 9.6},
}
NCCL_LL_SHARE = {"ring": 1 / 4, "tree": 1 / 3.8}

# name: (trainable parameters, FLOPs per sample for forward + backward, per-GPU batch of the course)
MODELS = {
    "nielsen-1x30-sigmoid (784-30-10)": (23_860, 6 * 23_860, 10),
    "fashion-mlp (784-512-512-10)": (669_706, 6 * 669_706, 128),
    "regularization-* (784-1000-1000-10)": (1_863_690, 6 * 1_863_690, 128),
    "wide MLP (784-2048-2048-10)": (5_824_522, 6 * 5_824_522, 512),
    "fashion-convnet (2 conv + dense)": (34_826, 6 * (26 * 26 * 32 * 9 + 11 * 11 * 64 * 9 * 32 + 1600 * 10), 128),
}

# (label, GPUs, nodes, bus bandwidth within a node, between nodes)
CLUSTERS = (("8 GPUs, NVLink", 8, 1, NVLINK_BUS_BW, None), ("64 GPUs, 8 nodes x 400 Gb/s", 64, 8, NVLINK_BUS_BW, NET_BUS_BW))


# -- measured links ------------------------------------------------------------------------------
def ring(nbytes: float, p: int, alpha: float, bandwidth: float) -> float:
    """A ring all-reduce: ``2 (p-1)`` steps of ``alpha``, each moving ``nbytes / p`` at ``bandwidth``."""
    return 2 * (p - 1) * alpha + 2 * (p - 1) / p * nbytes / bandwidth


def link(measured: dict) -> dict:
    """Latency and bandwidth of a ``bench_allreduce.py`` file (see the module docstring)."""
    rows = measured["rows"]
    latency = statistics.median(r["allreduce_s"] for r in rows if r["bytes"] <= 2048)
    p2p_latency = statistics.median(r["ping_pong_one_way_s"] for r in rows if r["bytes"] <= 2048)
    bucket = [r for r in rows if (128 << 10) <= r["bytes"] <= (8 << 20)]
    p = measured["ranks"]
    alpha = latency / (2 * (p - 1))  # the small all-reduce is all latency: 2 (p-1) steps
    # medians over the bucket sizes of what each size gives: robust to the outliers of a loaded machine
    link_bw = statistics.median(r["bytes"] / max(r["ping_pong_one_way_s"] - p2p_latency, 1e-9) for r in bucket)
    allreduce_bw = statistics.median(2 * (p - 1) / p * r["bytes"] / max(r["allreduce_s"] - latency, 1e-9)
                                     for r in bucket)
    checks = {r["bytes"]: (r["allreduce_s"], ring(r["bytes"], p, alpha, link_bw))
              for r in rows if r["bytes"] in (2 << 20, 8 << 20)}
    return {"label": measured.get("label", "?"), "ranks": p, "allreduce_latency": latency, "p2p_latency": p2p_latency,
            "link_bandwidth": link_bw, "bandwidth": allreduce_bw, "alpha": alpha, "checks": checks}


# -- NCCL's model --------------------------------------------------------------------------------
def nccl_allreduce(nbytes: float, gpus: int, nodes: int, intra_bw: float, inter_bw: float | None) -> tuple:
    """``(seconds, algorithm/protocol)``: NCCL's predicted all-reduce time, the fastest choice."""
    per_node = gpus // nodes
    best = (math.inf, "")
    for algorithm in ("ring", "tree"):
        for protocol in ("LL", "Simple"):
            key = (algorithm, protocol)
            bus = intra_bw if nodes == 1 else inter_bw
            if algorithm == "tree":
                bus = min(bus * 0.9, (80e9 if nodes > 2 else 110e9))
            if protocol == "LL":
                bus *= NCCL_LL_SHARE[algorithm]
            algorithm_bw = bus * (gpus / (2 * (gpus - 1)) if algorithm == "ring" else 0.5)
            intra = NCCL_HOP_LATENCY["nvlink"][key] * (1.8 if nodes > 1 and protocol == "LL" else 1.0)
            inter = NCCL_HOP_LATENCY["net"][key]
            latency = NCCL_BASE_LATENCY[key]
            if algorithm == "ring":
                steps, inter_steps = 2 * (gpus - 1), 2 * (nodes - 1)
                latency += (steps - inter_steps) * intra + inter_steps * inter
                if nodes > 1 and protocol == "Simple" and nbytes >= gpus / 16 * 65536:
                    latency *= 1.9  # NCCL's "plateau effect of ring" between nodes
            else:
                latency += 2 * ((per_node - 1) * intra + math.log2(nodes) * inter)
            seconds = latency * 1e-6 + nbytes / algorithm_bw
            best = min(best, (seconds, f"{algorithm}/{protocol}"))
    return best


def buckets_of(nbytes: int, bucket_bytes: int) -> list:
    full, rest = divmod(int(nbytes), bucket_bytes)
    return [bucket_bytes] * full + ([rest] if rest else [])


def step(params: int, flops: float, batch: int, allreduce, bucket_bytes: int = BUCKET_BYTES) -> dict:
    """One step's time without overlap and with overlapped buckets (module docstring)."""
    compute = flops * batch / GPU_FLOPS + STEP_OVERHEAD
    forward, backward = compute / 3, compute * 2 / 3  # the launches too: 1 of 3 forward, 2 backward
    sizes = buckets_of(4 * params, bucket_bytes)
    times = [allreduce(b) for b in sizes]
    done, finish = 0, 0.0
    for size, t in zip(sizes, times):
        done += size
        finish = max(backward * done / (4 * params), finish) + t
    alone = compute
    serial = alone + sum(times)
    overlapped = forward + max(backward, finish)
    return {"alone": alone, "serial": serial, "overlapped": overlapped, "communication": sum(times),
            "exposed": max(finish - backward, 0.0), "last_bucket": times[-1], "backward": backward, "buckets": len(sizes)}


def hiding_batch(params: int, flops: float, allreduce) -> int:
    """The smallest per-GPU batch whose backward pass is at least as long as the buckets'
    all-reduces together (beyond it only the last bucket's all-reduce shows)."""
    total = sum(allreduce(b) for b in buckets_of(4 * params, BUCKET_BYTES))
    return max(1, math.ceil((total / (2 / 3) - STEP_OVERHEAD) / (flops / GPU_FLOPS)))


def main(paths) -> int:
    links = []
    for path in paths:
        with open(path) as f:
            links.append(link(json.load(f)))
    if links:
        print("| link (2 ranks) | all-reduce latency | ping-pong latency | link bandwidth | all-reduce bandwidth "
              "| 2 MiB all-reduce: measured / ring on the link | 8 MiB: measured / ring on the link |")
        print("|---|---|---|---|---|---|---|")
        for lk in links:
            checks = [f"{1e3 * m:.2f} / {1e3 * p:.2f} ms" for m, p in (lk["checks"].get(2 << 20, (0, 0)),
                                                                       lk["checks"].get(8 << 20, (0, 0)))]
            print(f"| {lk['label']} | {1e6 * lk['allreduce_latency']:.1f} us | {1e6 * lk['p2p_latency']:.1f} us "
                  f"| {lk['link_bandwidth'] / 1e9:.2f} GB/s | {lk['bandwidth'] / 1e9:.2f} GB/s | {checks[0]} | {checks[1]} |")
        print()
        print("Ring all-reduce of each model's gradient over p such ranks (the measured latency and all-reduce bandwidth):")
        print("| model | gradient | " + " | ".join(f"{lk['label']}, p = {p}" for lk in links for p in (2, 8, 64)) + " |")
        print("|---|---|" + "---|" * (3 * len(links)))
        for name, (params, _, _) in MODELS.items():
            cells = [f"{1e3 * ring(4 * params, p, lk['alpha'], lk['bandwidth']):.2f} ms" for lk in links for p in (2, 8, 64)]
            print(f"| {name} | {4 * params / 2**20:.2f} MiB | " + " | ".join(cells) + " |")
        print()

    print("| model, per-GPU batch | step alone | " + " | ".join(
        f"{label}: all-reduce (NCCL's choice) | step, no overlap / overlapped buckets | efficiency" for label, *_ in CLUSTERS)
        + " |")
    print("|---|---|" + "---|---|---|" * len(CLUSTERS))
    hiding = []
    for name, (params, flops, batch) in MODELS.items():
        row = [f"{name}, {batch}", ""]
        for label, gpus, nodes, intra, inter in CLUSTERS:
            def allreduce(nbytes, gpus=gpus, nodes=nodes, intra=intra, inter=inter):
                return nccl_allreduce(nbytes, gpus, nodes, intra, inter)[0]

            s = step(params, flops, batch, allreduce)
            row[1] = f"{1e3 * s['alone']:.2f} ms"
            whole, choice = nccl_allreduce(4 * params, gpus, nodes, intra, inter)
            row += [f"{1e3 * whole:.3f} ms ({choice})", f"{1e3 * s['serial']:.2f} / {1e3 * s['overlapped']:.2f} ms",
                    f"{s['alone'] / s['serial']:.0%} / {s['alone'] / s['overlapped']:.0%}"]
            hiding.append((name, batch, label, s, hiding_batch(params, flops, allreduce)))
        print("| " + " | ".join(row) + " |")
    print()
    print("| model | cluster | buckets | all-reduces / backward at the course's batch | exposed (of which the last bucket) "
          "| buckets hidden from a per-GPU batch of |")
    print("|---|---|---|---|---|---|")
    for name, batch, label, s, smallest in hiding:
        print(f"| {name} | {label} | {s['buckets']} | {1e3 * s['communication']:.3f} / {1e3 * s['backward']:.3f} ms "
              f"| {1e3 * s['exposed']:.3f} ms ({1e3 * s['last_bucket']:.3f} ms) | {smallest} |")
    print()
    sweep = (1 << 20, 4 << 20, 16 << 20, 25 << 20, 64 << 20)
    print("Overlapped step against the bucket size (each bucket pays NCCL's latency once):")
    print("| model | cluster | " + " | ".join(f"{b >> 20} MiB" for b in sweep) + " |")
    print("|---|---|" + "---|" * len(sweep))
    for name in ("regularization-* (784-1000-1000-10)", "wide MLP (784-2048-2048-10)"):
        params, flops, batch = MODELS[name]
        for label, gpus, nodes, intra, inter in CLUSTERS:
            def allreduce(nbytes, gpus=gpus, nodes=nodes, intra=intra, inter=inter):
                return nccl_allreduce(nbytes, gpus, nodes, intra, inter)[0]

            cells = [f"{1e3 * step(params, flops, batch, allreduce, b)['overlapped']:.2f} ms" for b in sweep]
            print(f"| {name}, {batch} | {label} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
