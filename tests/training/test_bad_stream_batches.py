"""A bad batch from a stream (a PyDataset, a generator) stops fit before any update uses it, and the
error says which batch it was: the PyDataset's item as its ``__getitem__`` knows it, and the epoch.

A stream cannot be checked whole before training (the bad batch may be the hundredth, built on
demand), so the promise is per batch: the batches before the bad one have trained, the bad one has
changed nothing — weights, BatchNormalization's moving statistics, the optimizer's slots and step
count are exactly those after the last good batch (before fit when the bad batch comes first).
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import blobs

import gpunet
from gpunet.callbacks import Callback
from gpunet.layers import BatchNormalization, Conv1D, Dense, Flatten, Input, Reshape
from gpunet.utils import PyDataset

FEATURES, CLASSES, BATCH, ITEMS = 8, 3, 16, 10


def make_model(run_eagerly=False):
    gpunet.utils.set_random_seed(0)
    model = gpunet.Sequential([Input((FEATURES,)), Dense(16, activation="relu"), BatchNormalization(),
                               Dense(CLASSES, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", run_eagerly=run_eagerly)
    return model


class Items(PyDataset):
    """ITEMS batches of BATCH samples; ``spoil(x, y)`` spoils item ``bad`` from epoch ``from_epoch``
    (0-based) on. Records the items asked for, in order."""

    def __init__(self, bad, spoil, from_epoch=0, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y = blobs(ITEMS * BATCH, FEATURES, CLASSES, seed=3)
        self.bad, self.spoil, self.from_epoch = bad, spoil, from_epoch
        self.epochs_ended, self.asked = 0, []

    def __len__(self):
        return ITEMS

    def __getitem__(self, index):
        self.asked.append(index)
        rows = slice(index * BATCH, (index + 1) * BATCH)
        xb, yb = self.x[rows].copy(), self.y[rows].copy()
        if index == self.bad and self.epochs_ended >= self.from_epoch:
            return self.spoil(xb, yb)
        return xb, yb

    def on_epoch_end(self):
        self.epochs_ended += 1


class LastGoodState(Callback):
    """The weights (moving statistics included) and the optimizer's state before fit and after every
    trained batch: what a refused batch must leave behind."""

    def on_train_begin(self, logs=None):
        self.snapshot()

    def on_train_batch_end(self, batch, logs=None):
        self.snapshot()

    def snapshot(self):
        self.weights = self.model.get_weights()
        self.optimizer = self.model.optimizer.get_state()


def assert_unchanged_since(model, last):
    for got, want in zip(model.get_weights(), last.weights, strict=True):
        np.testing.assert_array_equal(got, want)
    state = model.optimizer.get_state()
    assert state["iterations"] == last.optimizer["iterations"]
    assert state["slots"].keys() == last.optimizer["slots"].keys()
    for path, slots in last.optimizer["slots"].items():
        assert state["slots"][path]["step"] == slots["step"]
        for name in ("m", "v"):
            np.testing.assert_array_equal(state["slots"][path][name], slots[name])


def with_nan(x, y):
    x[3, 2] = np.nan
    return x, y


SPOILS = {
    "NaN": (with_nan, ValueError, "x contains 1 NaN or infinite value"),
    "wrong shape": (lambda x, y: (x[:, :5], y), ValueError, r"x has samples of shape \(5,\)"),
    "wrong dtype": (lambda x, y: (x.astype(str), y), TypeError, "x must hold numbers"),
    "labels out of range": (lambda x, y: (x, y + CLASSES), ValueError, r"labels must lie in \[0, 3\)"),
    "fractional labels": (lambda x, y: (x, y + 0.5), ValueError, "must hold integer class labels"),
    "short y": (lambda x, y: (x, y[:5]), ValueError, "must have the same number of samples"),
}


@pytest.mark.parametrize("spoil", SPOILS.values(), ids=SPOILS.keys())
def test_a_bad_pydataset_item_is_named_by_its_index_and_epoch_and_never_trains(spoil):
    spoil, error, message = spoil
    data = Items(bad=6, spoil=spoil, from_epoch=1)  # item 6 goes bad in the second epoch
    model = make_model()
    last = LastGoodState()
    with pytest.raises(error, match=message) as caught:
        model.fit(data, epochs=3, callbacks=[last], verbose=0)
    text = str(caught.value)
    assert "x batch 6 " in text and text.endswith("(PyDataset item 6, epoch 2)")
    epoch_2 = data.asked[1 + ITEMS:]  # after the first item (read to build and check the model) and epoch 1
    assert epoch_2[-1] == 6 and len(epoch_2) != 7  # shuffled: item 6 was not the 7th batch of the epoch
    assert model.optimizer.iterations == ITEMS + len(epoch_2) - 1  # every batch before it trained, it did not
    assert_unchanged_since(model, last)


def test_a_bad_first_batch_leaves_the_model_and_optimizer_as_before_fit():
    first = {}

    def spoil_the_first_trained(x, y):
        return with_nan(x, y)

    class FirstTrainedIsBad(Items):
        def __getitem__(self, index):
            if len(self.asked) == 1:  # the first item asked for after the one read to build the model
                first["index"] = index
                self.bad = index
            return super().__getitem__(index)

    model = make_model()
    model.build_from_data((None, FEATURES))
    before = model.get_weights()
    last = LastGoodState()
    with pytest.raises(ValueError, match="NaN") as caught:
        model.fit(FirstTrainedIsBad(bad=-1, spoil=spoil_the_first_trained), epochs=2, callbacks=[last], verbose=0)
    assert str(caught.value).endswith(f"(PyDataset item {first['index']}, epoch 1)")
    assert model.optimizer.iterations == 0 and model.optimizer.get_state()["slots"] == {}
    for got, want in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("kind", ["pydataset", "generator"])
def test_the_batch_read_to_check_the_data_before_training_is_named_too(kind):
    """The first batch is read before training, to build and check the model: a bad one is named
    as item 0 of a PyDataset, or as a generator's first batch, and nothing has trained."""
    model = make_model()
    data = Items(bad=0, spoil=with_nan)
    stream = data if kind == "pydataset" else iter([data[i] for i in range(ITEMS)])
    with pytest.raises(ValueError, match="NaN") as caught:
        model.fit(stream, epochs=1, steps_per_epoch=None if kind == "pydataset" else ITEMS, verbose=0)
    where = "PyDataset item 0" if kind == "pydataset" else "its first batch"
    assert "x batch 0 x" in str(caught.value) and str(caught.value).endswith(f"({where}, read to check the data before training)")
    assert model.optimizer.iterations == 0


def test_a_bad_generator_batch_is_named_by_its_epoch():
    x, y = blobs(ITEMS * BATCH, FEATURES, CLASSES, seed=3)

    def batches():
        for i in range(100):
            rows = slice(i % ITEMS * BATCH, (i % ITEMS + 1) * BATCH)
            yield (x[rows][:, :5] if i == 7 else x[rows]), y[rows]  # the 3rd batch of epoch 2

    model = make_model()
    last = LastGoodState()
    with pytest.raises(ValueError, match=r"x batch 2 x has samples of shape \(5,\).*\(epoch 2\)$"):
        model.fit(batches(), steps_per_epoch=5, epochs=3, callbacks=[last], verbose=0)
    assert model.optimizer.iterations == 7
    assert_unchanged_since(model, last)


def test_a_bad_dev_item_is_named_by_its_index_and_epoch():
    model = make_model()
    good = Items(bad=-1, spoil=None)
    with pytest.raises(ValueError, match=r"validation_data batch 2 x contains .*\(PyDataset item 2, epoch 2\)$"):
        model.fit(good, validation_data=Items(bad=2, spoil=with_nan, from_epoch=1), epochs=2, verbose=0)


@pytest.mark.parametrize("workers", [1, 2], ids=["in the training thread", "2 worker threads"])
def test_an_error_raised_by_getitem_says_which_item_and_epoch(workers):
    class Broken(Items):
        def __getitem__(self, index):
            if index == 4 and self.epochs_ended:
                raise KeyError("shard-4.npz")
            return super().__getitem__(index)

    with pytest.raises(KeyError, match="shard-4.npz") as caught:
        make_model().fit(Broken(bad=-1, spoil=None, workers=workers), epochs=2, verbose=0)
    assert caught.value.__notes__ == ["raised by Broken.__getitem__(4) while reading x (PyDataset item 4, epoch 2)"]


@pytest.mark.parametrize("run_eagerly", [False, True], ids=["recorded step", "eager step"])
def test_a_batch_too_large_for_memory_is_refused_before_any_layer_runs(monkeypatch, run_eagerly):
    """A batch whose buffers do not fit is refused before the forward pass: not by the convolution
    once BatchNormalization in front of it has updated its moving statistics, and also when the step
    is a replayed recording (which calls no layer)."""
    x, y = blobs(40 * 4, FEATURES, CLASSES, seed=3)
    sizes = [4] * 6 + [40]  # the 7th batch is 10 times larger

    def batches():
        start = 0
        for size in sizes:
            yield x[start:start + size], y[start:start + size]
            start += size

    gpunet.utils.set_random_seed(0)
    model = gpunet.Sequential([Input((FEATURES,)), Reshape((FEATURES, 1)), BatchNormalization(),
                               Conv1D(64, 3, padding="same", activation="relu", name="conv"), Flatten(),
                               Dense(CLASSES, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", run_eagerly=run_eagerly)
    monkeypatch.setenv("GPUNET_MEMORY_LIMIT", "200K")  # a batch of 4 takes about 25 KiB, one of 40 about 250 KiB
    last = LastGoodState()
    with pytest.raises(MemoryError, match=r"Conv1D layer 'conv' on inputs of shape \(8, 1\) needs about .* for a "
                                          r"batch of 40, more than the 200\.0 KiB allowed by GPUNET_MEMORY_LIMIT"):
        model.fit(batches(), callbacks=[last], verbose=0)
    assert model.optimizer.iterations == 6
    assert_unchanged_since(model, last)
