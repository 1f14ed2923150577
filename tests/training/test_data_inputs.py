"""fit, evaluate and predict on the inputs Keras 3 takes: memory-mapped arrays, generators,
iterables and PyDataset, with the array path's numbers wherever the batches are the same."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import warnings

import numpy as np
import pytest
from helpers import blobs

import gpunet
from gpunet.data import checks as data_module
from gpunet.callbacks import Callback, ModelCheckpoint
from gpunet.layers import Dense, Dropout, Input
from gpunet.utils import PyDataset, Sequence

FEATURES, CLASSES, BATCH = 8, 3, 32


def make_model(seed=0, dropout=0.0):
    gpunet.utils.set_random_seed(seed)
    layers = [Input((FEATURES,)), Dense(16, activation="relu")]
    layers += [Dropout(dropout)] if dropout else []
    model = gpunet.Sequential(layers + [Dense(CLASSES, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def assert_same_weights(a, b):
    for got, want in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(got, want)


@pytest.fixture
def xy():
    return blobs(320, FEATURES, CLASSES, seed=3)


@pytest.fixture
def dev():
    return blobs(96, FEATURES, CLASSES, seed=4)


def batches_of(x, y, size=BATCH):
    return [(x[i:i + size], y[i:i + size]) for i in range(0, len(x), size)]


class Batched(PyDataset):
    """The batches of (x, y) in order; records which batch each call asked for."""

    def __init__(self, x, y, size=BATCH, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.size = x, y, size
        self.asked, self.epochs_ended = [], 0

    def __len__(self):
        return -(-len(self.x) // self.size)

    def __getitem__(self, index):
        self.asked.append(index)
        return self.x[index * self.size:(index + 1) * self.size], self.y[index * self.size:(index + 1) * self.size]

    def on_epoch_end(self):
        self.epochs_ended += 1


class Reiterable:
    """An iterable read afresh at every pass (as a DataLoader is)."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __iter__(self):
        return iter(batches_of(self.x, self.y))


class BatchOrder(Callback):
    def on_train_begin(self, logs=None):
        self.steps = 0

    def on_train_batch_begin(self, batch, logs=None):
        self.steps += 1


# -- memory-mapped arrays ------------------------------------------------------------------------
def _on_disk(tmp_path, name, array):
    path = tmp_path / f"{name}.npy"
    np.save(path, array)
    return np.load(path, mmap_mode="r")


def test_a_memmap_trains_bit_for_bit_like_the_same_arrays_in_memory(tmp_path, xy):
    x, y = xy
    x_disk, y_disk = _on_disk(tmp_path, "x", x), _on_disk(tmp_path, "y", y)
    assert isinstance(x_disk, np.memmap)
    kwargs = dict(batch_size=BATCH, epochs=3, validation_split=0.25, validations_per_epoch=2, verbose=0)
    in_memory = make_model(dropout=0.2)
    want = in_memory.fit(x, y, **kwargs)
    on_disk = make_model(dropout=0.2)
    got = on_disk.fit(x_disk, y_disk, **kwargs)
    assert_same_weights(on_disk, in_memory)
    assert got.history == {k: v for k, v in want.history.items() if k != "epoch_time"} | {"epoch_time": got.history["epoch_time"]}
    assert got.best == want.best
    np.testing.assert_array_equal(on_disk.predict(x_disk, batch_size=50), in_memory.predict(x, batch_size=50))
    assert on_disk.evaluate(x_disk, y_disk, verbose=0) == in_memory.evaluate(x, y, verbose=0)


def test_a_uint8_memmap_is_converted_batch_by_batch(tmp_path, xy):
    x, y = xy
    pixels = np.clip(x * 20 + 128, 0, 255).astype(np.uint8)
    in_memory = make_model()
    in_memory.fit(pixels, y.astype(np.uint8), batch_size=BATCH, epochs=2, verbose=0)
    on_disk = make_model()
    on_disk.fit(_on_disk(tmp_path, "x", pixels), _on_disk(tmp_path, "y", y.astype(np.uint8)), batch_size=BATCH,
                epochs=2, verbose=0)
    assert_same_weights(on_disk, in_memory)


def test_a_memmap_is_checked_chunk_by_chunk(tmp_path, xy, monkeypatch):
    x, y = xy
    monkeypatch.setattr(data_module, "_CHUNK_BYTES", 256)  # many chunks
    bad = x.copy()
    bad[-1, 0] = np.nan
    bad[-2, 3] = np.inf
    with pytest.raises(ValueError, match=r"x contains 2 NaN or infinite"):
        make_model().fit(_on_disk(tmp_path, "bad", bad), y, verbose=0)
    labels = y.copy()
    labels[-1] = CLASSES
    with pytest.raises(ValueError, match=r"labels from 0 to 3"):
        make_model().fit(_on_disk(tmp_path, "x", x), _on_disk(tmp_path, "labels", labels), verbose=0)
    half = y.astype(np.float64)
    half[-1] = 0.5
    with pytest.raises(ValueError, match="non-integer"):
        make_model().fit(_on_disk(tmp_path, "x", x), _on_disk(tmp_path, "half", half), verbose=0)


_LIMITED = textwrap.dedent("""
    import os, resource, sys
    import numpy as np
    import gpunet
    from gpunet.layers import Dense, Input

    x_path, y_path, out, mode = sys.argv[1:5]
    if mode == "disk":
        x, y = np.load(x_path, mmap_mode="r"), np.load(y_path, mmap_mode="r")
        with open("/proc/self/statm") as f:
            baseline = int(f.read().split()[0]) * resource.getpagesize()  # the address space, the mapping included
        resource.setrlimit(resource.RLIMIT_AS, (baseline + x.nbytes // 2, resource.RLIM_INFINITY))
        try:
            np.array(x)
        except MemoryError:
            pass
        else:
            sys.exit("the limit does not stop a copy of the data")
    else:
        x, y = np.load(x_path), np.load(y_path)
    gpunet.utils.set_random_seed(0)
    model = gpunet.Sequential([Input((x.shape[1],)), Dense(8, activation="relu"), Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=512, epochs=1, verbose=0)
    np.savez(out, *model.get_weights())
""")


def test_fit_trains_from_a_memmap_larger_than_the_memory_limit(tmp_path):
    """A file the process could not hold in memory trains from disk, to the in-memory weights."""
    rng = np.random.default_rng(0)
    samples, features = 100_000, 512  # 205 MB of float32
    x = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=np.float32, shape=(samples, features))
    for start in range(0, samples, 10_000):
        x[start:start + 10_000] = rng.standard_normal((10_000, features), dtype=np.float32)
    x.flush()
    del x
    np.save(tmp_path / "y.npy", rng.integers(0, 3, samples))
    script = tmp_path / "limited.py"
    script.write_text(_LIMITED)
    env = {**os.environ, "MALLOC_ARENA_MAX": "2", "GPUNET_BACKEND": "numpy"}
    for mode in ("disk", "memory"):
        run = subprocess.run([sys.executable, str(script), str(tmp_path / "x.npy"), str(tmp_path / "y.npy"),
                              str(tmp_path / f"{mode}.npz"), mode], capture_output=True, text=True, env=env, timeout=120)
        assert run.returncode == 0, run.stderr[-3000:]
    with np.load(tmp_path / "disk.npz") as disk, np.load(tmp_path / "memory.npz") as memory:
        assert len(disk.files) == 4
        for key in memory.files:
            np.testing.assert_array_equal(disk[key], memory[key])


# -- generators and iterables --------------------------------------------------------------------
def test_a_generator_trains_like_the_same_batches_from_arrays(xy):
    x, y = xy
    from_arrays = make_model()
    from_arrays.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    count = BatchOrder()
    from_generator = make_model()
    history = from_generator.fit((b for b in batches_of(x, y)), epochs=1, callbacks=[count], verbose=0)
    assert_same_weights(from_generator, from_arrays)
    assert count.steps == 10 and len(history.history["loss"]) == 1


def test_steps_per_epoch_reads_a_generator_on_across_epochs(xy):
    x, y = xy
    head = batches_of(x, y)[:4]

    def endless():
        while True:
            yield from head

    from_arrays = make_model()
    from_arrays.fit(x[:4 * BATCH], y[:4 * BATCH], batch_size=BATCH, epochs=3, shuffle=False, verbose=0)
    from_generator = make_model()
    from_generator.fit(endless(), steps_per_epoch=2, epochs=6, verbose=0)
    assert_same_weights(from_generator, from_arrays)


def test_a_generator_that_runs_out_stops_training_with_a_warning(xy):
    x, y = xy
    model = make_model()
    with pytest.warns(UserWarning, match="ran out of data after 1 of the 3 steps of epoch 4"):
        history = model.fit(iter(batches_of(x, y)), steps_per_epoch=3, epochs=10, verbose=0)
    assert len(history.history["loss"]) == 4  # three full epochs and the partial fourth


def test_a_reiterable_is_read_afresh_every_epoch(xy, dev):
    x, y = xy
    from_arrays = make_model()
    want = from_arrays.fit(x, y, batch_size=BATCH, epochs=3, shuffle=False, validation_data=dev,
                           validation_batch_size=BATCH, verbose=0)
    from_iterable = make_model()
    got = from_iterable.fit(Reiterable(x, y), epochs=3, validation_data=Reiterable(*dev), verbose=0)
    assert_same_weights(from_iterable, from_arrays)
    assert got.history["val_loss"] == want.history["val_loss"]


def test_validation_data_may_be_a_generator_with_validation_steps(xy, dev):
    x, y = xy

    def endless_dev():
        while True:
            yield from batches_of(*dev)

    from_arrays = make_model()
    want = from_arrays.fit(x, y, batch_size=BATCH, epochs=2, validation_data=dev, validation_batch_size=BATCH, verbose=0)
    from_generator = make_model()
    got = from_generator.fit(x, y, batch_size=BATCH, epochs=2, validation_data=endless_dev(), validation_steps=3,
                             verbose=0)
    assert got.history["val_loss"] == want.history["val_loss"]
    assert_same_weights(from_generator, from_arrays)


def test_evaluate_and_predict_take_generators_with_steps(xy):
    x, y = xy
    model = make_model()
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
    assert model.evaluate((b for b in batches_of(x, y)), verbose=0) == pytest.approx(model.evaluate(x, y, verbose=0))
    first = x[:3 * BATCH], y[:3 * BATCH]
    assert model.evaluate((b for b in batches_of(x, y)), steps=3, verbose=0) == pytest.approx(
        model.evaluate(*first, verbose=0))
    outputs = model.predict((xb for xb, _ in batches_of(x, y)), steps=2)
    np.testing.assert_array_equal(outputs, model.predict(x[:2 * BATCH], batch_size=BATCH))
    np.testing.assert_array_equal(model.predict(Reiterable(x, y)), model.predict(x, batch_size=BATCH))


# -- PyDataset -----------------------------------------------------------------------------------
def test_a_pydataset_in_order_trains_like_arrays_and_calls_its_hooks(xy, dev):
    x, y = xy
    from_arrays = make_model()
    want = from_arrays.fit(x, y, batch_size=BATCH, epochs=2, shuffle=False, validation_data=dev,
                           validation_batch_size=BATCH, verbose=0)
    train, held_out = Batched(x, y), Batched(*dev)
    from_dataset = make_model()
    got = from_dataset.fit(train, epochs=2, shuffle=False, validation_data=held_out, verbose=0)
    assert_same_weights(from_dataset, from_arrays)
    assert got.history["val_loss"] == want.history["val_loss"]
    assert train.epochs_ended == 2 and held_out.epochs_ended == 2
    assert Sequence is PyDataset


def test_a_pydataset_is_shuffled_by_batch_from_the_seeded_generator(xy):
    x, y = xy
    runs = []
    for _ in range(2):
        dataset = Batched(x, y)
        model = make_model()
        model.fit(dataset, epochs=3, verbose=0)
        runs.append((dataset.asked[1:], model.get_weights()))  # asked[0]: the first batch, read to build
    order, _ = runs[0]
    epochs = [order[i * 10:(i + 1) * 10] for i in range(3)]
    assert all(sorted(e) == list(range(10)) for e in epochs)
    assert epochs[0] != epochs[1] and epochs[0] != list(range(10))
    assert runs[1][0] == order
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("workers, processes", [(3, False), (2, True)])
def test_pydataset_workers_keep_the_batch_order(xy, dev, workers, processes):
    x, y = xy
    in_line = make_model(dropout=0.2)
    in_line.fit(Batched(x, y), epochs=2, validation_data=Batched(*dev), verbose=0)
    threads_before = threading.active_count()
    parallel = make_model(dropout=0.2)
    parallel.fit(Batched(x, y, workers=workers, use_multiprocessing=processes, max_queue_size=4), epochs=2,
                 validation_data=Batched(*dev, workers=workers, use_multiprocessing=processes), verbose=0)
    assert_same_weights(parallel, in_line)
    assert threading.active_count() <= threads_before  # the workers are gone
    np.testing.assert_array_equal(parallel.predict(Batched(x, y, workers=workers, use_multiprocessing=processes)),
                                  parallel.predict(x, batch_size=BATCH))


def test_pydataset_steps_per_epoch_continues_through_the_dataset(xy):
    x, y = xy
    from_arrays = make_model()
    from_arrays.fit(x, y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0)
    from_dataset = make_model()
    from_dataset.fit(Batched(x, y), steps_per_epoch=5, epochs=4, shuffle=False, verbose=0)
    assert_same_weights(from_dataset, from_arrays)


def test_several_dev_evaluations_per_epoch_and_best_on_dev_with_a_pydataset(xy, dev):
    x, y = xy
    from_arrays = make_model()
    want = from_arrays.fit(x, y, batch_size=BATCH, epochs=2, shuffle=False, validation_data=dev,
                           validations_per_epoch=3, verbose=0)
    from_dataset = make_model()
    got = from_dataset.fit(Batched(x, y), epochs=2, shuffle=False, validation_data=Batched(*dev),
                           validations_per_epoch=3, verbose=0)
    assert got.history["val_accuracy"] == want.history["val_accuracy"] and len(got.history["loss"]) == 6
    assert got.best == want.best
    assert_same_weights(from_dataset, from_arrays)


def test_a_pydataset_fit_resumes_exactly_from_a_checkpoint(tmp_path, xy, dev):
    x, y = xy

    def run(model, epochs, initial_epoch=0):
        return model.fit(Batched(x, y), epochs=epochs, initial_epoch=initial_epoch, validation_data=Batched(*dev),
                         callbacks=[ModelCheckpoint(str(tmp_path / "ck-{epoch}.h5"))], verbose=0)

    uninterrupted = make_model(dropout=0.2)
    want = run(uninterrupted, 4)
    resumed = gpunet.load_model(tmp_path / "ck-2.h5")
    gpunet.utils.set_random_seed(99)  # the checkpoint's streams must win
    got = run(resumed, 4, initial_epoch=2)
    assert_same_weights(resumed, uninterrupted)
    assert got.history["val_loss"] == want.history["val_loss"][2:]


def test_a_generator_resumption_warns_that_it_is_not_exact(tmp_path, xy):
    x, y = xy
    model = make_model()

    def endless():
        while True:
            yield from batches_of(x, y)

    model.fit(endless(), steps_per_epoch=4, epochs=2, callbacks=[ModelCheckpoint(str(tmp_path / "ck-{epoch}.h5"))],
              verbose=0)
    resumed = gpunet.load_model(tmp_path / "ck-2.h5")
    with pytest.warns(UserWarning, match="cannot be rewound"):
        resumed.fit(endless(), steps_per_epoch=4, epochs=3, initial_epoch=2, verbose=0)


# -- what cannot be done, said clearly -----------------------------------------------------------
def _generator(x, y):
    return (b for b in batches_of(x, y))


@pytest.mark.parametrize("kwargs, message", [
    ({"validation_split": 0.2}, "validation_split needs arrays"),
    ({"epochs": 2}, "read only once: with steps_per_epoch=None"),
    ({"validations_per_epoch": 2}, "validations_per_epoch=2 needs epochs of a known length"),
    ({"batch_size": 16}, "batch_size must be None when x is a generator"),
])
def test_impossible_requests_on_a_generator_are_refused_before_reading_it(xy, kwargs, message):
    x, y = xy
    generator = _generator(x, y)
    model = make_model()
    before = model.get_weights()
    with pytest.raises(ValueError, match=message):
        model.fit(generator, verbose=0, **kwargs)
    assert next(generator)[0].shape == (BATCH, FEATURES)  # nothing was read
    assert_same_weights(model, type("W", (), {"get_weights": lambda self: before})())


def test_bad_streams_and_steps_are_refused(xy, dev):
    x, y = xy
    model = make_model()
    with pytest.raises(ValueError, match="y must be None when x is a PyDataset"):
        model.fit(Batched(x, y), y, verbose=0)
    with pytest.raises(ValueError, match="steps_per_epoch applies to generators"):
        model.fit(x, y, steps_per_epoch=3, verbose=0)
    with pytest.raises(ValueError, match="steps_per_epoch=11 exceeds the 10 batches"):
        model.fit(Batched(x, y), steps_per_epoch=11, verbose=0)
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        model.evaluate(_generator(x, y), steps=0, verbose=0)
    with pytest.raises(ValueError, match="one weight per sample"):
        model.fit(((xb, yb, np.ones(len(xb) + 1)) for xb, yb in batches_of(x, y)), verbose=0)
    with pytest.raises(ValueError, match=r"must yield \(x, y\) batches"):
        model.fit((xb for xb, _ in batches_of(x, y)), verbose=0)
    with pytest.raises(ValueError, match="yielded no batch"):
        model.fit(iter([]), verbose=0)
    with pytest.raises(ValueError, match="evaluate on it 2 times"):
        model.fit(x, y, epochs=2, validation_data=_generator(*dev), verbose=0)
    with pytest.raises(ValueError, match="validation_batch_size must be None"):
        model.fit(x, y, validation_data=Batched(*dev), validation_batch_size=8, verbose=0)
    mixed = batches_of(x, y)
    mixed[3] = (mixed[3][0][:, :5], mixed[3][1])
    with pytest.raises(ValueError, match=r"x batch 3 x has samples of shape \(5,\)"):
        model.fit(iter(mixed), verbose=0)
    with pytest.raises(ValueError, match="PyDataset: workers must be a positive integer"):
        Batched(x, y, workers=0)


def test_a_pydataset_without_end_needs_steps_per_epoch(xy):
    x, y = xy

    class Endless(PyDataset):
        @property
        def num_batches(self):
            return None

        def __getitem__(self, index):
            index %= 10
            return x[index * BATCH:(index + 1) * BATCH], y[index * BATCH:(index + 1) * BATCH]

    with pytest.raises(ValueError, match="PyDataset without end"):
        make_model().fit(Endless(), verbose=0)
    from_arrays = make_model()
    from_arrays.fit(x, y, batch_size=BATCH, epochs=3, shuffle=False, verbose=0)
    endless = make_model()
    endless.fit(Endless(workers=2), steps_per_epoch=15, epochs=2, verbose=0)
    assert_same_weights(endless, from_arrays)


def test_a_pydataset_that_forgets_super_init_still_works_with_a_warning(xy):
    x, y = xy

    class Forgetful(PyDataset):
        def __init__(self):  # no super().__init__()
            self.size = BATCH

        def __len__(self):
            return 2

        def __getitem__(self, index):
            return x[index * BATCH:(index + 1) * BATCH], y[index * BATCH:(index + 1) * BATCH]

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        make_model().fit(Forgetful(), verbose=0)
    assert any("super().__init__" in str(w.message) for w in caught)
