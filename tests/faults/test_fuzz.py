"""Fuzzed files: mutated checkpoints and IDX files load cleanly or fail cleanly.

A separate process loads every mutated file, under a memory limit, and reports for each one
``ok`` (loaded, every array finite and of the expected shape) or the exception's class. The test
fails on an exception that is not a clean ``OSError``/``ValueError``/``TypeError``, on a crash
of the process (HDF5 is C code), on a hang, and on a memory blow-up. CI runs 100 mutations of
each file; ``pytest --slow`` runs the full 1,000.
"""

import json
import os
import random
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

import gpunet
from gpunet.datasets import write_idx
from gpunet.layers import Dense, Dropout, Input

LOADER = textwrap.dedent(
    """
    import json, resource, sys
    import numpy as np
    resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))  # a blow-up becomes a MemoryError
    import gpunet
    from gpunet.datasets import read_idx

    kind, paths = sys.argv[1], sys.argv[2:]
    for path in paths:
        try:
            if kind == "h5":
                model = gpunet.load_model(path)
                arrays = model.get_weights()
            else:
                arrays = [read_idx(path)]
            finite = all(a.dtype.kind != "f" or np.all(np.isfinite(a)) for a in arrays)
            outcome = "ok" if finite else "non-finite"
        except (OSError, ValueError, TypeError) as exc:
            outcome = "clean:" + type(exc).__name__
        except Exception as exc:  # noqa: BLE001 - reported to the test
            outcome = "UNCLEAN:" + type(exc).__name__ + ":" + str(exc)[:200]
        print(json.dumps([path, outcome]), flush=True)
    """
)


def _checkpoint(path):
    gpunet.utils.set_random_seed(0)
    model = gpunet.Sequential([Input((6,)), Dense(5, activation="relu"), Dropout(0.1), Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    model.fit(rng.standard_normal((40, 6)).astype(np.float32), rng.integers(0, 3, 40), epochs=1, verbose=0)
    model.save(path)


def _mutate_bytes(raw: bytes, rng: random.Random) -> bytes:
    data = bytearray(raw)
    choice = rng.random()
    if choice < 0.5:  # bit flips
        for _ in range(rng.randint(1, 16)):
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
        return bytes(data)
    if choice < 0.8:  # truncation
        return bytes(data[: rng.randrange(len(data))])
    i = rng.randrange(len(data))  # a run of random bytes
    for j in range(i, min(len(data), i + rng.randint(1, 64))):
        data[j] = rng.randrange(256)
    return bytes(data)


def _mutate_h5_structure(src, dst, rng: random.Random) -> None:
    """Swapped datasets, huge declared shapes, wrong dtypes, broken attributes."""
    with open(src, "rb") as f:
        raw = f.read()
    with open(dst, "wb") as f:
        f.write(raw)
    with h5py.File(dst, "r+") as f:
        datasets = []
        f["model_weights"].visititems(lambda name, obj: datasets.append(name) if isinstance(obj, h5py.Dataset) else None)
        group = f["model_weights"]
        choice = rng.randrange(6)
        name = rng.choice(datasets)
        if choice == 0 and len(datasets) > 1:  # swap two datasets
            other = rng.choice([d for d in datasets if d != name])
            a, b = group[name][()], group[other][()]
            del group[name], group[other]
            group[name], group[other] = b, a
        elif choice == 1:  # a huge declared shape, nothing written
            del group[name]
            group.create_dataset(name, shape=(rng.choice([10**5, 10**6]), rng.choice([10**5, 10**6])), dtype="f4")
        elif choice == 2:  # wrong dtype
            shape = group[name].shape
            del group[name]
            dtype = rng.choice([h5py.string_dtype(), "i8", "u1", "S4", "f2"])
            group.create_dataset(name, data=np.zeros(shape).astype(dtype) if dtype not in (h5py.string_dtype(),) else np.full(shape, "x", dtype=object), dtype=dtype)
        elif choice == 3:  # garbage model_config
            f.attrs["model_config"] = rng.choice(["", "{", "null", "[]", json.dumps({"class_name": "Sequential", "config": {"layers": "x"}})])
        elif choice == 4:  # NaN weights
            values = group[name][()].astype("f4")
            values.flat[0] = np.nan
            del group[name]
            group[name] = values
        else:  # weight_names pointing nowhere
            layer = name.split("/")[0]
            group[layer].attrs["weight_names"] = ["nowhere/kernel", "nowhere/bias"]


def _idx(path):
    rng = np.random.default_rng(0)
    write_idx(path, rng.integers(0, 256, (20, 28, 28), dtype=np.uint8))


def _run(kind, paths, timeout):
    env = {**os.environ, "GPUNET_BACKEND": "numpy", "PYTHONPATH": os.path.dirname(os.path.dirname(gpunet.__file__))}
    result = subprocess.run([sys.executable, "-c", LOADER, kind, *paths], capture_output=True, text=True, env=env, timeout=timeout)
    outcomes = dict(json.loads(line) for line in result.stdout.splitlines() if line.startswith("["))
    done = len(outcomes)
    assert result.returncode == 0, f"the loader process died (code {result.returncode}) at {paths[done] if done < len(paths) else '?'}: {result.stderr[-2000:]}"
    assert done == len(paths)
    unclean = {p: o for p, o in outcomes.items() if o.startswith("UNCLEAN") or o == "non-finite"}
    assert not unclean, f"{len(unclean)} files did not fail cleanly, e.g. {list(unclean.items())[:3]}"
    return outcomes


def _fuzz_checkpoints(tmp_path, count):
    original = tmp_path / "original.h5"
    _checkpoint(original)
    raw = original.read_bytes()
    rng = random.Random(2026)
    paths = []
    for i in range(count):
        path = tmp_path / f"m{i:04d}.h5"
        if i % 4 == 3:
            _mutate_h5_structure(original, path, rng)
        else:
            path.write_bytes(_mutate_bytes(raw, rng))
        paths.append(str(path))
    outcomes = _run("h5", paths, timeout=60 + count)
    assert any(o != "ok" for o in outcomes.values())  # the mutations did break files


def _fuzz_idx(tmp_path, count):
    for compress in (True, False):
        original = tmp_path / ("original.idx.gz" if compress else "original.idx")
        _idx(original)
        raw = original.read_bytes()
        rng = random.Random(7 + compress)
        paths = []
        for i in range(count // 2):
            path = tmp_path / f"i{int(compress)}-{i:04d}.idx"
            data = bytearray(_mutate_bytes(raw, rng))
            if not compress and rng.random() < 0.3 and len(data) >= 16:  # huge declared dimensions
                data[4:8] = rng.randrange(2**31, 2**32).to_bytes(4, "big")
            path.write_bytes(bytes(data))
            paths.append(str(path))
        _run("idx", paths, timeout=60 + count)


def test_fuzzed_checkpoints(tmp_path):
    _fuzz_checkpoints(tmp_path, 100)


def test_fuzzed_idx_files(tmp_path):
    _fuzz_idx(tmp_path, 100)


@pytest.mark.slow
def test_fuzzed_checkpoints_full(tmp_path):
    _fuzz_checkpoints(tmp_path, 1000)


@pytest.mark.slow
def test_fuzzed_idx_files_full(tmp_path):
    _fuzz_idx(tmp_path, 1000)
