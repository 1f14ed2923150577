"""timeseries_dataset_from_array: the windows and targets of Keras 3's function, batch by batch.

The reference is the function's definition written out as a loop over window starts; where
TensorFlow is installed (Keras's function returns a tf.data.Dataset and needs it), Keras's own
batches are compared too.
"""

import importlib.util

import numpy
import pytest

import gpunet
from gpunet import backend
from gpunet.utils import timeseries_dataset_from_array


def reference_windows(data, targets, sequence_length, sequence_stride=1, sampling_rate=1, start_index=0,
                      end_index=None):
    """Every (window, target) in order: window at start s holds rows start_index + s + k * sampling_rate."""
    end_index = len(data) if end_index is None else end_index
    pairs, s = [], 0
    while start_index + s + (sequence_length - 1) * sampling_rate < end_index:
        if targets is not None and s >= len(targets) - start_index:
            break
        rows = [start_index + s + k * sampling_rate for k in range(sequence_length)]
        pairs.append((data[rows], None if targets is None else targets[start_index + s]))
        s += sequence_stride
    return pairs


def flatten_batches(dataset, with_targets=True):
    windows, targets = [], []
    for batch in dataset:
        x, y = batch if with_targets else (batch, None)
        windows.extend(numpy.asarray(x))
        if with_targets:
            targets.extend(numpy.asarray(y))
    return windows, targets


CASES = [
    dict(sequence_length=5),
    dict(sequence_length=4, sampling_rate=3, sequence_stride=2),
    dict(sequence_length=3, sampling_rate=2, start_index=7, end_index=60),
    dict(sequence_length=6, sequence_stride=5, start_index=3),
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("batch_size", [8, 1])
def test_windows_and_targets_follow_the_definition(case, batch_size):
    rng = numpy.random.default_rng(0)
    data = rng.normal(size=(70, 3))
    targets = rng.normal(size=70)[:-4]  # fewer targets than rows: the starts stop at len(targets)
    dataset = timeseries_dataset_from_array(data, targets, batch_size=batch_size, **case)
    expected = reference_windows(data, targets, **case)
    windows, got_targets = flatten_batches(dataset)
    assert len(windows) == len(expected) > 0
    assert len(dataset) == -(-len(expected) // batch_size)
    for (want_x, want_y), x, y in zip(expected, windows, got_targets):
        numpy.testing.assert_array_equal(x, want_x)
        assert y == want_y
    first_x, _ = dataset[0]
    assert first_x.shape == (min(batch_size, len(expected)), case["sequence_length"], 3)


def test_without_targets_and_without_batches():
    data = numpy.arange(30.0)
    windows = timeseries_dataset_from_array(data, None, sequence_length=4, sampling_rate=2, batch_size=None)
    assert len(windows) == 30 - 3 * 2
    numpy.testing.assert_array_equal(windows[5], [5.0, 7.0, 9.0, 11.0])  # one window, no batch axis
    batched, _ = flatten_batches(timeseries_dataset_from_array(data, None, sequence_length=4, sampling_rate=2,
                                                               batch_size=5), with_targets=False)
    assert [list(w) for w in batched] == [list(w) for w, _ in reference_windows(data, None, 4, sampling_rate=2)]


def test_shuffle_is_keras_s_first_permutation_of_the_starts():
    data = numpy.arange(50)
    dataset = timeseries_dataset_from_array(data, data, sequence_length=3, batch_size=4, shuffle=True, seed=7)
    windows, targets = flatten_batches(dataset)
    starts = numpy.arange(48)
    numpy.random.RandomState(7).shuffle(starts)
    numpy.testing.assert_array_equal(targets, starts)
    numpy.testing.assert_array_equal(numpy.stack(windows), starts[:, None] + numpy.arange(3))
    # without a seed: drawn from gpunet's seeded generator, so set_random_seed repeats it
    gpunet.utils.set_random_seed(3)
    first = flatten_batches(timeseries_dataset_from_array(data, data, 3, shuffle=True))[1]
    gpunet.utils.set_random_seed(3)
    again = flatten_batches(timeseries_dataset_from_array(data, data, 3, shuffle=True))[1]
    assert first == again and sorted(first) == list(range(48)) and first != list(range(48))


def test_fit_and_predict_take_it():
    gpunet.utils.set_random_seed(0)
    series = numpy.sin(numpy.arange(300) / 5.0).astype("float32")
    dataset = timeseries_dataset_from_array(series[:-8, None], series[8:], sequence_length=8, batch_size=32)
    model = gpunet.Sequential([gpunet.Input((8, 1)), gpunet.layers.Flatten(), gpunet.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(dataset, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert backend.to_host(model.predict(dataset, verbose=0)).shape == (300 - 8 - 7, 1)


@pytest.mark.parametrize("arguments, message", [
    (dict(sequence_length=0), "sequence_length must be higher than 0"),
    (dict(sequence_length=3, sampling_rate=0), "sampling_rate must be higher than 0"),
    (dict(sequence_length=3, sequence_stride=20), "sequence_stride must be lower than the length"),
    (dict(sequence_length=3, start_index=20), "start_index must be 0 or more"),
    (dict(sequence_length=3, start_index=5, end_index=5), "end_index must be higher than start_index"),
    (dict(sequence_length=3, end_index=20), "end_index must be higher"),
    (dict(sequence_length=3, batch_size=0), "batch_size must be higher than 0"),
])
def test_bad_arguments_are_refused_by_name(arguments, message):
    with pytest.raises(ValueError, match=message):
        timeseries_dataset_from_array(numpy.arange(20), None, **arguments)
    with pytest.raises(ValueError, match='format must be "tf" or "grain"'):
        timeseries_dataset_from_array(numpy.arange(20), None, 3, format="numpy")
    with pytest.raises(TypeError, match="sequence_length must be an integer"):
        timeseries_dataset_from_array(numpy.arange(20), None, sequence_length=2.5)


@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None or importlib.util.find_spec("keras") is None,
                    reason="Keras's timeseries_dataset_from_array returns a tf.data.Dataset: needs TensorFlow")
@pytest.mark.parametrize("case", CASES)
def test_same_batches_as_keras(case):
    import os
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras
    rng = numpy.random.default_rng(1)
    data, targets = rng.normal(size=(70, 2)), rng.normal(size=66)
    ours = timeseries_dataset_from_array(data, targets, batch_size=8, **case)
    theirs = keras.utils.timeseries_dataset_from_array(data, targets, batch_size=8, **case)
    theirs = [(numpy.asarray(x), numpy.asarray(y)) for x, y in theirs]
    assert len(theirs) == len(ours)
    for (x, y), (kx, ky) in zip(ours, theirs):
        numpy.testing.assert_array_equal(x, kx)
        numpy.testing.assert_array_equal(y, ky)
