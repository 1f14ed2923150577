"""LambdaCallback: the given functions are called at their hooks, with Keras's arguments."""

from __future__ import annotations

import helpers
import pytest

from gpunet import Sequential, optimizers
from gpunet.callbacks import CallbackList, LambdaCallback
from gpunet.layers import Dense, Input


def fit(callback, epochs=2, **kwargs):
    x, y = helpers.blobs(60, 4, 3)
    model = Sequential([Input((4,)), Dense(3, activation="softmax")])
    model.compile(optimizer=optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy")
    return model.fit(x, y, batch_size=20, epochs=epochs, verbose=0, callbacks=[callback], **kwargs)


def test_every_hook_gets_its_arguments():
    calls = []
    callback = LambdaCallback(
        on_train_begin=lambda logs: calls.append(("train_begin",)),
        on_epoch_begin=lambda epoch, logs: calls.append(("epoch_begin", epoch)),
        on_train_batch_begin=lambda batch, logs: calls.append(("batch_begin", batch)),
        on_train_batch_end=lambda batch, logs: calls.append(("batch_end", batch, round(logs["loss"], 6))),
        on_epoch_end=lambda epoch, logs: calls.append(("epoch_end", epoch, sorted(logs))),
        on_train_end=lambda logs: calls.append(("train_end",)),
    )
    history = fit(callback)
    keys = ["epoch_time", "learning_rate", "loss"]
    expected = [("train_begin",)]
    for epoch in range(2):
        expected.append(("epoch_begin", epoch))
        for batch in range(3):
            expected += [("batch_begin", batch), ("batch_end", batch)]
        expected.append(("epoch_end", epoch))
    expected.append(("train_end",))
    assert [c[:2] for c in calls] == expected
    assert [c[2] for c in calls if c[0] == "epoch_end"] == [keys, keys]
    last_batch = [c[2] for c in calls if c[0] == "batch_end"][-1]
    assert last_batch == pytest.approx(history.history["loss"][-1], rel=1e-5)  # the running epoch mean


def test_other_hooks_by_keyword():
    seen = []
    fit(LambdaCallback(on_test_end=lambda logs: seen.append(sorted(logs))), epochs=2, validation_split=0.5)
    assert seen == [["loss"], ["loss"]]


def test_batch_hooks_left_out_are_not_called_per_step():
    given = CallbackList([LambdaCallback(on_epoch_end=lambda epoch, logs: None)])
    assert given.wants["on_train_batch_end"] == [] and given.wants["on_train_batch_begin"] == []
    asked = LambdaCallback(on_train_batch_end=lambda batch, logs: None)
    assert CallbackList([asked]).wants["on_train_batch_end"] == [asked]


def test_bad_hooks_are_refused():
    with pytest.raises(TypeError, match="on_epoch_ned"):
        LambdaCallback(on_epoch_ned=lambda epoch, logs: None)
    with pytest.raises(TypeError, match="on_epoch_end must be a function"):
        LambdaCallback(on_epoch_end="print")
