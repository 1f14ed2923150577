"""The transport the ranks choose (NCCL or host staging), and what it computes: run alone or by
``mpirun -n N``, usually on the CuPy emulation (``tests/emulated_cupy`` first on PYTHONPATH and
``GPUNET_BACKEND=cupy``), where every process holds device 0 of one emulated GPU.

``--mode collectives`` sums and broadcasts CuPy arrays of every float dtype, contiguous and
strided, each rank's values drawn from a generator seeded by its rank, and saves what came back;
``--mode fit`` trains ``fit_script.py``'s model and saves rank 0's weights and History. Each rank
writes ``OUT.RANK.npz``, with the communicator's name. ``--distinct-devices`` makes each rank
report a GPU of its own (another UUID and PCI address), as a machine with one GPU per rank would.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
import types

import numpy as np

from gpunet import backend, distributed
from gpunet.distributed.launch import launched_rank

DTYPES = ("float16", "float32", "float64")
SHAPE = (6, 10)  # a strided case takes every other column of it


def rank_values(rank: int, dtype: str) -> np.ndarray:
    """What rank ``rank`` contributes: the test computes the same values to form its references."""
    return np.random.default_rng(100 + rank).uniform(-4.0, 4.0, SHAPE).astype(dtype)


def pretend_distinct_devices(rank: int) -> None:
    import cupy  # noqa: PLC0415 - the emulation

    original = cupy.cuda.runtime.getDeviceProperties

    def properties(device):
        found = dict(original(device))
        found.update(uuid=bytes([rank + 1]) * 16, pciDomainID=0, pciBusID=rank + 1, pciDeviceID=0)
        return found

    cupy.cuda.runtime.getDeviceProperties = properties


def fail_nccl_on(rank: int) -> None:
    from cupy.cuda import nccl  # noqa: PLC0415 - the emulation

    original = nccl.NcclCommunicator

    def creation(ndev, unique_id, nccl_rank):
        if nccl_rank == rank:
            raise nccl.NcclError(2, "injected failure")
        return original(ndev, unique_id, nccl_rank)

    nccl.NcclCommunicator = creation


def collectives(comm) -> dict:
    xp = backend.array_module()
    results = {}
    for dtype in DTYPES:
        for layout in ("contiguous", "strided"):
            for operation in ("allreduce", "allreduce_async", "broadcast"):
                parent = xp.asarray(rank_values(comm.rank, dtype))
                target = parent if layout == "contiguous" else parent[:, ::2]
                if operation == "allreduce":
                    comm.allreduce(target)
                elif operation == "allreduce_async":
                    comm.allreduce_async(target).wait()
                else:
                    comm.broadcast(target, root=comm.size - 1)
                assert isinstance(parent, xp.ndarray)
                results[f"{operation}-{dtype}-{layout}"] = backend.to_host(parent)
    return results


def fit(args) -> dict:
    import gpunet  # noqa: PLC0415

    from fit_script import build, data  # noqa: PLC0415 - the model and data of the equivalence tests

    backend.set_floatx(args.dtype)
    gpunet.utils.set_random_seed(1)
    x, y = data(203)
    x_dev, y_dev = data(150, seed=8)
    model = build(types.SimpleNamespace(optimizer=args.optimizer, lr=args.lr, dropout=0.0, batchnorm=args.batchnorm))
    callbacks = []
    if args.sleep_at is not None:  # rank 1 sleeps before that global step: rank 0 waits inside NCCL
        steps = iter(range(1, 10**6))
        callbacks.append(gpunet.callbacks.LambdaCallback(
            on_train_batch_begin=lambda batch, logs: next(steps) == args.sleep_at and distributed.rank() == 1
            and time.sleep(120)))
    history = model.fit(x, y, batch_size=32, epochs=args.epochs, validation_data=(x_dev, y_dev), verbose=0,
                        callbacks=callbacks)
    weights = model.get_weights()
    digests = distributed.communicator().allgather_object([hashlib.sha256(w.tobytes()).hexdigest() for w in weights])
    keep = {k: v for k, v in history.history.items() if k != "epoch_time"}
    return {**{f"weight_{i}": w for i, w in enumerate(weights)}, "history": json.dumps(keep),
            "same_weights": all(d == digests[0] for d in digests)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--mode", choices=("collectives", "fit"), default="collectives")
    parser.add_argument("--asynchronous", choices=("thread", "request"), default="thread")
    parser.add_argument("--distinct-devices", action="store_true")
    parser.add_argument("--fail-nccl-on", type=int, help="creating the NCCL communicator fails on this rank")
    parser.add_argument("--optimizer", default="adam", choices=("sgd", "adam"))
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--dtype", default="float64")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batchnorm", choices=("sync", "plain"), help="fit mode: a BatchNormalization layer")
    parser.add_argument("--sleep-at", type=int, help="fit mode: rank 1 sleeps at the start of this global step")
    parser.add_argument("--collective-timeout", type=float, help="init(collective_timeout=...); unset: 'auto'")
    args = parser.parse_args()

    if args.distinct_devices:
        pretend_distinct_devices(launched_rank())
    if args.fail_nccl_on is not None:
        fail_nccl_on(args.fail_nccl_on)
    comm = distributed.init(asynchronous=args.asynchronous,
                            collective_timeout="auto" if args.collective_timeout is None else args.collective_timeout)
    found = collectives(comm) if args.mode == "collectives" else fit(args)
    np.savez(f"{args.out}.{comm.rank}.npz", communicator=comm.name, world=comm.size, **found)
    return 0


if __name__ == "__main__":
    sys.exit(main())
