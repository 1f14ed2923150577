"""The scaling cost model of docs/distributed.md, as a table anyone can recompute.

    python benchmarks/cost_model.py [benchmarks/results-allreduce-cpu.json]

A ring all-reduce of M bytes over p ranks takes ``2 (p-1) alpha + 2 (p-1)/p * M / B`` (p-1 steps
of reduce-scatter, p-1 of all-gather; each moves M/p bytes over the slowest link, of bandwidth B,
and pays the per-message latency alpha). A step of data-parallel training costs its compute time
``T_c`` plus whatever of the all-reduce the backward pass does not hide; the scaling efficiency
(time of one GPU's step over time of one step of p GPUs, each with the same per-GPU batch) lies
between ``T_c / (T_c + T_ar)`` (no overlap) and ``T_c / max(T_c, T_ar)`` (perfect overlap).

Assumptions (stated again in the docs; change them here):
* compute: FLOPs per sample = 6 x parameters for an MLP (forward 2, backward 4), counted layer by
  layer for the convnet; a GPU sustains ``GPU_FLOPS`` on these small products, plus a fixed
  ``STEP_OVERHEAD`` per step (Python and kernel launches);
* 8 GPUs in one node: NVLink, NCCL bus bandwidth ``NVLINK_BW``, latency ``NVLINK_ALPHA`` per ring step;
* 64 GPUs = 8 nodes x 8 over 400 Gb/s: a ring whose slowest link is one node's 400 Gb/s NIC
  (50 GB/s, the pessimistic case of one NIC per node), latency ``NET_ALPHA`` per step.
"""

from __future__ import annotations

import json
import sys

GPU_FLOPS = 50e12
STEP_OVERHEAD = 1e-3
NVLINK_BW, NVLINK_ALPHA = 300e9, 3e-6
NET_BW, NET_ALPHA = 50e9, 8e-6

# name: (trainable parameters, FLOPs per sample for forward + backward, per-GPU batch)
MODELS = {
    "nielsen-1x30-sigmoid (784-30-10)": (23_860, 6 * 23_860, 10),
    "fashion-mlp (784-512-512-10)": (669_706, 6 * 669_706, 128),
    "regularization-* (784-1000-1000-10)": (1_863_690, 6 * 1_863_690, 128),
    "wide MLP (784-2048-2048-10)": (5_824_522, 6 * 5_824_522, 512),
    "fashion-convnet (2 conv + dense)": (34_826, 6 * (26 * 26 * 32 * 9 + 11 * 11 * 64 * 9 * 32 + 1600 * 10), 128),
}


def ring(nbytes: float, p: int, alpha: float, bandwidth: float) -> float:
    return 2 * (p - 1) * alpha + 2 * (p - 1) / p * nbytes / bandwidth


def main() -> int:
    measured = None
    if len(sys.argv) > 1:
        with open(sys.argv[1]) as f:
            measured = json.load(f)
    print("| model | gradient | step compute (1 GPU) | all-reduce 8 GPUs NVLink | efficiency 8 (no overlap / overlap) "
          "| all-reduce 64 GPUs 400 Gb/s | efficiency 64 (no overlap / overlap) |"
          + (" all-reduce 2 ranks, this CPU |" if measured else ""))
    print("|---|---|---|---|---|---|---|" + ("---|" if measured else ""))
    for name, (params, flops, batch) in MODELS.items():
        nbytes = 4 * params
        compute = flops * batch / GPU_FLOPS + STEP_OVERHEAD
        row = [name, f"{nbytes / 2**20:.2f} MiB", f"{1e3 * compute:.2f} ms"]
        for p, alpha, bw in ((8, NVLINK_ALPHA, NVLINK_BW), (64, NET_ALPHA, NET_BW)):
            t = ring(nbytes, p, alpha, bw)
            row += [f"{1e3 * t:.3f} ms", f"{compute / (compute + t):.0%} / {compute / max(compute, t):.0%}"]
        if measured:
            t = ring(nbytes, 2, measured["allreduce_latency_s"] / 2, measured["p2p_bandwidth_Bps"])
            row.append(f"{1e3 * t:.2f} ms (model) ")
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
