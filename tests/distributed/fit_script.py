"""One training run, started alone (the reference) or by ``mpirun -n N`` (the data-parallel run).

The tests in this folder run it both ways and compare what rank 0 writes to ``--out`` (a .npz of
the final weights, the History, and checks made across the ranks). Options pick the optimizer,
dtype, dropout, callbacks, a checkpoint to write or resume from, and faults to inject.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import sys

import numpy as np

import gpunet
from gpunet import backend, distributed
from gpunet.callbacks import EarlyStopping, LambdaCallback, ModelCheckpoint, ReduceLROnPlateau
from gpunet.layers import Dense, Dropout, Input


def data(samples, features=12, classes=3, seed=7):
    centers = np.random.default_rng(7).normal(0.0, 1.0, (classes, features))
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, samples)
    x = centers[y] + rng.normal(0.0, 1.5, (samples, features))
    return x, y


def build(args):
    layers = [Input((12,)), Dense(16, activation="tanh")]
    if args.dropout:
        layers.append(Dropout(args.dropout))
    layers += [Dense(8, activation="relu"), Dense(3, activation="softmax")]
    model = gpunet.Sequential(layers)
    if args.optimizer == "sgd":
        optimizer = gpunet.optimizers.SGD(learning_rate=args.lr, momentum=0.9, nesterov=True)
    else:
        optimizer = gpunet.optimizers.Adam(learning_rate=args.lr)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--optimizer", default="sgd", choices=("sgd", "adam"))
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--dtype", default="float64")
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--samples", type=int, default=203)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--initial-epoch", type=int, default=0)
    parser.add_argument("--dev", action="store_true", help="dev data, ReduceLROnPlateau and EarlyStopping")
    parser.add_argument("--checkpoint", help="ModelCheckpoint path template ({epoch})")
    parser.add_argument("--resume", help="load this checkpoint and continue from --initial-epoch")
    parser.add_argument("--raise-at", type=int, help="raise on --fault-rank at this global step")
    parser.add_argument("--kill-at", type=int, help="SIGKILL --fault-rank at this global step")
    parser.add_argument("--fault-rank", type=int, default=1)
    parser.add_argument("--mismatch", action="store_true", help="the last rank builds a wider model")
    parser.add_argument("--overlap", choices=("thread", "request"), help="all-reduce during the backward pass")
    args = parser.parse_args()

    distributed.init(overlap=args.overlap is not None, asynchronous=args.overlap or "thread")
    rank, world = distributed.rank(), distributed.world_size()
    backend.set_floatx(args.dtype)
    gpunet.utils.set_random_seed(1)
    x, y = data(args.samples)
    x_dev, y_dev = data(150, seed=8)
    if args.resume:
        model = gpunet.load_model(args.resume)
    else:
        if args.mismatch and rank == world - 1:
            args.lr *= 2
        model = build(args)

    callbacks = []
    if args.dev:
        callbacks += [ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1, min_delta=1e9),
                      EarlyStopping(monitor="val_accuracy", patience=50)]
    if args.checkpoint:
        callbacks.append(ModelCheckpoint(args.checkpoint, save_best_only=False))
    step = {"count": 0}

    def on_batch_end(batch, logs):
        step["count"] += 1
        if rank == args.fault_rank and step["count"] == args.raise_at:
            raise RuntimeError(f"injected failure at step {step['count']}")
        if rank == args.fault_rank and step["count"] == args.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    if args.raise_at or args.kill_at:
        callbacks.append(LambdaCallback(on_train_batch_end=on_batch_end))
    history = model.fit(x, y, batch_size=args.batch, epochs=args.epochs, initial_epoch=args.initial_epoch,
                        validation_data=(x_dev, y_dev) if args.dev else None, callbacks=callbacks, verbose=0)

    weights = model.get_weights()
    comm = distributed.communicator()
    # every rank must end with the same weights; with dropout, each must have drawn its own masks
    digests = comm.allgather_object([hashlib.sha256(w.tobytes()).hexdigest() for w in weights])
    probe = model(np.ones((64, 12), dtype=args.dtype), training=True).numpy()
    probes = comm.allgather_object(probe)
    noise_states = comm.allgather_object(repr(backend.get_rng_state().get("noise")))
    if rank == 0:
        keep = {k: v for k, v in history.history.items() if k != "epoch_time"}
        np.savez(args.out, *weights, history=json.dumps(keep), world=world,
                 same_weights=all(d == digests[0] for d in digests),
                 probes=np.stack(probes), noise_states=json.dumps(noise_states))
    return 0


if __name__ == "__main__":
    sys.exit(main())
