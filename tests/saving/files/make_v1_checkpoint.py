"""How ``v1-checkpoint.h5`` was made: a checkpoint in the first file format (format_version 1),
written by gpunet at commit f218b3c, kept to test that files written by earlier versions still
load and resume exactly.

    python tests/saving/files/make_v1_checkpoint.py   # (with gpunet at that commit)

The run: seed 7, the blobs below, 4-8-3 relu/dropout/softmax, Adam(0.01) with
epsilon 1e-8 (the default of gpunet 0.1, PyTorch's), ReduceLROnPlateau on
val_accuracy (patience 1, factor 0.5), batch 16, a ModelCheckpoint every epoch; the file kept is
the one written at the end of epoch 2 (resume with ``initial_epoch=2``).

:func:`write_format_1` writes gpunet 0.1's layout from a checkpoint of today's format, so that a
test can make a format-1 file on its own machine: bits written on another CPU (whose BLAS picks
other kernels) are never compared bitwise with bits computed here.
"""

import json
import os
import sys

import h5py
import numpy as np

import gpunet
from gpunet.callbacks import ModelCheckpoint, ReduceLROnPlateau
from gpunet.layers import Dense, Dropout, Input

HERE = os.path.dirname(os.path.abspath(__file__))


def data():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 60)
    centers = rng.standard_normal((3, 4)) * 3.0
    x = (centers[y] + rng.standard_normal((60, 4))).astype(np.float32)
    return (x[:40], y[:40]), (x[40:], y[40:])


def model():
    m = gpunet.Sequential([Input((4,)), Dense(8, activation="relu"), Dropout(0.25), Dense(3, activation="softmax")])
    m.compile(optimizer=gpunet.optimizers.Adam(0.01, epsilon=1e-8), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def callbacks(path):
    return [ReduceLROnPlateau(monitor="val_accuracy", factor=0.5, patience=1), ModelCheckpoint(path)]


def write_format_1(source, target):
    """Copy the checkpoint ``source`` (today's format) to ``target`` in format 1's layout: the
    Keras part as it is; ``/gpunet/optimizer`` (attributes class_name, config as Keras-style JSON,
    epoch, iterations, learning_rate; ``slots/<layer>/<weight>/<slot>`` with a ``step``
    attribute) and ``/gpunet/training_state`` (the fit's state as one JSON attribute, the
    callbacks as a list of {class_name, state}, the best weights under ``best_weights/``)."""
    from gpunet.saving.tree import read_tree  # noqa: PLC0415

    with h5py.File(source, "r") as f:
        state = read_tree(f["gpunet/state"], source)
        with h5py.File(target, "w") as out:
            for key, value in f.attrs.items():
                out.attrs[key] = value
            f.copy("model_weights", out)
            ours = out.create_group("gpunet")
            ours.attrs["format_version"] = 1
            ours.attrs["gpunet_version"] = np.bytes_(b"0.1.0")
            optimizer = state["optimizer"]
            group = ours.create_group("optimizer")
            group.attrs["class_name"] = np.bytes_(optimizer["class_name"].encode())
            config = {k: v for k, v in optimizer["config"].items() if k not in ("clipnorm", "clipvalue", "global_clipnorm")}
            group.attrs["config"] = np.bytes_(json.dumps({"class_name": optimizer["class_name"], "config": config}).encode())
            for key in ("epoch", "iterations"):
                group.attrs[key] = np.int64(optimizer[key])
            group.attrs["learning_rate"] = np.float64(optimizer["learning_rate"])
            for path, slots in optimizer["slots"].items():
                slot_group = group.create_group(f"slots/{path}")
                slot_group.attrs["step"] = np.int64(slots["step"])
                for key, value in slots.items():
                    if key != "step":
                        slot_group[key] = value
            fit = dict(state["fit"])
            best = dict(fit["best"])
            weights = best.pop("weights", {})
            fit["best"] = best
            fit["callbacks"] = [{"class_name": name, "state": value} for name, value in fit["callbacks"].items()]
            group = ours.create_group("training_state")
            group.attrs["state"] = np.bytes_(json.dumps(fit).encode())
            for path, value in weights.items():
                group[f"best_weights/{path}"] = value


def layout(path):
    """Every group's and dataset's path in the file, with its attribute names and shape; layer
    and model names (which count up within a process) replaced by their places."""
    entries = {}
    with h5py.File(path, "r") as f:
        layers = [n.decode() for n in f["model_weights"].attrs["layer_names"]]
        first = next(n.decode() for layer in layers for n in f["model_weights"][layer].attrs["weight_names"])
        names = {first.split("/")[0]: "<model>", **{name: f"<layer {i}>" for i, name in enumerate(layers)}}

        def visit(name, obj):
            entries["/".join(names.get(part, part) for part in name.split("/"))] = (sorted(obj.attrs), getattr(obj, "shape", None))

        f.visititems(visit)
    return entries


if __name__ == "__main__":
    gpunet.utils.set_random_seed(7)
    (x, y), dev = data()
    out = sys.argv[1] if len(sys.argv) > 1 else HERE
    model().fit(x, y, batch_size=16, epochs=2, validation_data=dev, callbacks=callbacks(os.path.join(out, "v1-checkpoint.h5")), verbose=0)
