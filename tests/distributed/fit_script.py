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
import re
import signal
import socket
import sys
import time

import numpy as np

import gpunet
from gpunet import backend, distributed
from gpunet.callbacks import Callback, EarlyStopping, LambdaCallback, ModelCheckpoint, ReduceLROnPlateau
from gpunet.layers import BatchNormalization, Dense, Dropout, Input


def data(samples, features=12, classes=3, seed=7):
    centers = np.random.default_rng(7).normal(0.0, 1.0, (classes, features))
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, samples)
    x = centers[y] + rng.normal(0.0, 1.5, (samples, features))
    return x, y


def build(args):
    layers = [Input((12,)), Dense(16, activation="tanh")]
    if args.batchnorm:
        layers.append(BatchNormalization(momentum=0.8, synchronized=args.batchnorm == "sync"))
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


class Stall(Callback):
    """On --fault-rank at global step --sleep-at: sleep in the hook --sleep-in (Python's lock free,
    the rank's watchdog thread can answer), or at --hang-at: a regular expression that backtracks
    for ever without letting any other thread of the process run."""

    def __init__(self, args, rank):
        super().__init__()
        self.args, self.rank, self.step = args, rank, 0

    def _stall(self):
        if self.rank != self.args.fault_rank:
            return
        if self.step == self.args.sleep_at:
            time.sleep(self.args.sleep_seconds)
        if self.step == self.args.hang_at:
            re.match(r"(a|aa)+$", "a" * 200 + "b")

    def on_train_batch_begin(self, batch, logs=None):
        self.step += 1
        if self.args.sleep_in == "on_train_batch_begin" or self.args.hang_at:
            self._stall()

    def on_train_batch_end(self, batch, logs=None):
        if self.args.sleep_in == "on_train_batch_end":
            self._stall()

    def on_epoch_end(self, epoch, logs=None):
        if self.args.sleep_in == "on_epoch_end":
            self._stall()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--optimizer", default="sgd", choices=("sgd", "adam"))
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--dtype", default="float64")
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--evaluate", action="store_true",
                        help="after fit, evaluate and predict on 149 dev samples in batches of 37 (the last one of 1)")
    parser.add_argument("--batchnorm", choices=("sync", "plain"), help="a BatchNormalization layer, synchronized or not")
    parser.add_argument("--samples", type=int, default=203)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--initial-epoch", type=int, default=0)
    parser.add_argument("--dev", action="store_true", help="dev data, ReduceLROnPlateau and EarlyStopping")
    parser.add_argument("--dev-samples", type=int, default=150, help="fewer than 100: fit warns")
    parser.add_argument("--checkpoint", help="ModelCheckpoint path template ({epoch})")
    parser.add_argument("--resume", help="load this checkpoint and continue from --initial-epoch")
    parser.add_argument("--raise-at", type=int, help="raise on --fault-rank at this global step")
    parser.add_argument("--kill-at", type=int, help="SIGKILL --fault-rank at this global step")
    parser.add_argument("--sleep-at", type=int, help="--fault-rank sleeps --sleep-seconds at this global step")
    parser.add_argument("--sleep-in", default="on_train_batch_begin",
                        choices=("on_train_batch_begin", "on_train_batch_end", "on_epoch_end"))
    parser.add_argument("--sleep-seconds", type=float, default=120.0)
    parser.add_argument("--hang-at", type=int, help="--fault-rank hangs holding Python's lock at this global step")
    parser.add_argument("--fault-rank", type=int, default=1)
    parser.add_argument("--mismatch", choices=("optimizer", "data", "timeout"),
                        help="the last rank differs: a larger learning rate, more samples, another collective timeout")
    parser.add_argument("--collective-timeout", type=float, help="init(collective_timeout=...); unset: 'auto'")
    parser.add_argument("--overlap", choices=("thread", "request"), help="all-reduce during the backward pass")
    args = parser.parse_args()

    timeout = "auto" if args.collective_timeout is None else args.collective_timeout
    if args.mismatch == "timeout" and distributed.rank() == distributed.world_size() - 1:
        timeout = 1000.0
    distributed.init(overlap=args.overlap is not None, asynchronous=args.overlap or "thread",
                     collective_timeout=timeout)
    rank, world = distributed.rank(), distributed.world_size()
    backend.set_floatx(args.dtype)
    gpunet.utils.set_random_seed(1)
    x, y = data(args.samples)
    x_dev, y_dev = data(args.dev_samples, seed=8)
    if args.resume:
        model = gpunet.load_model(args.resume)
    else:
        if args.mismatch == "optimizer" and rank == world - 1:
            args.lr *= 2
        model = build(args)
    if args.mismatch == "data" and rank == world - 1:
        x, y = data(args.samples + 1)

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
    if args.sleep_at or args.hang_at:
        callbacks.append(Stall(args, rank))
    history = model.fit(x, y, batch_size=args.batch, epochs=args.epochs, initial_epoch=args.initial_epoch,
                        validation_data=(x_dev, y_dev) if args.dev else None, callbacks=callbacks, verbose=0)

    weights = model.get_weights()
    comm = distributed.communicator()
    extra = {}
    if args.evaluate:
        batches = {"evaluated": 0}
        counter = LambdaCallback(on_test_batch_end=lambda batch, logs: batches.update(evaluated=batches["evaluated"] + 1))
        logs = model.evaluate(x_dev[:149], y_dev[:149], batch_size=37, verbose=0, return_dict=True, callbacks=[counter])
        listed = model.evaluate(x_dev[:149], y_dev[:149], batch_size=37, verbose=0)
        rows = {"predicted": 0}

        def count(batch, logs):
            rows["predicted"] += len(logs["outputs"])

        predictions = model.predict(x_dev[:149], batch_size=37, verbose=0,
                                    callbacks=[LambdaCallback(on_predict_batch_end=count)])
        every = comm.allgather_object((logs, listed, predictions))  # every rank holds the whole result
        extra["predicted_rows"] = comm.allgather_object(rows["predicted"])  # what each rank computed itself
        extra["evaluated_batches"] = comm.allgather_object(batches["evaluated"])
        extra |= {"evaluation": json.dumps(logs), "evaluation_list": np.asarray(listed), "predictions": predictions,
                 "same_results": all(json.dumps(e[0]) == json.dumps(logs) and np.array_equal(e[2], predictions)
                                     for e in every)}
    # every rank must end with the same weights; with dropout, each must have drawn its own masks
    digests = comm.allgather_object([hashlib.sha256(w.tobytes()).hexdigest() for w in weights])
    probe = model(np.ones((64, 12), dtype=args.dtype), training=True).numpy()
    probes = comm.allgather_object(probe)
    noise_states = comm.allgather_object(repr(backend.get_rng_state().get("noise")))
    hosts = comm.allgather_object(socket.gethostname())
    if rank == 0:
        keep = {k: v for k, v in history.history.items() if k != "epoch_time"}
        np.savez(args.out, *weights, history=json.dumps(keep), world=world,
                 same_weights=all(d == digests[0] for d in digests),
                 probes=np.stack(probes), noise_states=json.dumps(noise_states), hosts=json.dumps(hosts), **extra)
    return 0


if __name__ == "__main__":
    sys.exit(main())
