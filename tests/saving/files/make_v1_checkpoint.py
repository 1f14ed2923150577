"""How ``v1-checkpoint.h5`` was made: a checkpoint in the first file format (format_version 1),
written by gpunet at commit f218b3c, kept to test that files written by earlier versions still
load and resume exactly.

    python tests/saving/files/make_v1_checkpoint.py   # (with gpunet at that commit)

The run: seed 7, the blobs below, 4-8-3 relu/dropout/softmax, Adam(0.01), ReduceLROnPlateau on
val_accuracy (patience 1, factor 0.5), batch 16, a ModelCheckpoint every epoch; the file kept is
the one written at the end of epoch 2 (resume with ``initial_epoch=2``).
"""

import os
import sys

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
    m.compile(optimizer=gpunet.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def callbacks(path):
    return [ReduceLROnPlateau(monitor="val_accuracy", factor=0.5, patience=1), ModelCheckpoint(path)]


if __name__ == "__main__":
    gpunet.utils.set_random_seed(7)
    (x, y), dev = data()
    out = sys.argv[1] if len(sys.argv) > 1 else HERE
    model().fit(x, y, batch_size=16, epochs=2, validation_data=dev, callbacks=callbacks(os.path.join(out, "v1-checkpoint.h5")), verbose=0)
