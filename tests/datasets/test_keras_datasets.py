"""IMDB, Reuters, CIFAR-10/100 and the housing prices: Keras's loaders on small files written
here in Keras's formats (no network). The post-processing is compared with Keras's own
``load_data`` pointed at the same file (its ``get_file`` replaced by one that returns it), or,
for CIFAR-10 (whose Keras loader insists on full-size batches), with NumPy written in the test.
Addresses and checksums are compared with those in Keras's source; downloads go through a fake
``pooch.retrieve``; a crafted pickle is refused."""

import inspect
import io
import os
import pickle
import re
import sys
import tarfile
import types

import numpy as np
import pytest

from gpunet.datasets import boston_housing, california_housing, cifar10, cifar100, files, imdb, reuters
from gpunet.datasets.sequences import Texts

LOADERS = {"imdb": imdb, "reuters": reuters, "cifar10": cifar10, "cifar100": cifar100,
           "boston_housing": boston_housing, "california_housing": california_housing}


@pytest.fixture(autouse=True)
def places(tmp_path, monkeypatch):
    """Every place looked in lies under tmp_path, and any download fails unless a test fakes it."""
    try:
        import pooch
    except ImportError:
        pooch = types.ModuleType("pooch")
        monkeypatch.setitem(sys.modules, "pooch", pooch)

    def blocked(url, **kwargs):
        raise ConnectionError(f"network blocked in tests ({url})")

    monkeypatch.setattr(pooch, "retrieve", blocked, raising=False)
    for name in ("GPUNET_DATA", "GPUNET_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return pooch


@pytest.fixture(scope="module")
def keras_datasets():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    pytest.importorskip("jax", reason="the Keras comparisons run Keras 3 on JAX")
    pytest.importorskip("keras", minversion="3.0")
    from keras.src.datasets import boston_housing as kb, california_housing as kc, cifar100 as k100  # noqa: I001
    from keras.src.datasets import imdb as ki, reuters as kr
    return {"imdb": ki, "reuters": kr, "cifar100": k100, "boston_housing": kb, "california_housing": kc}


def keras_load(module, monkeypatch, path, **kwargs):
    """Keras's ``load_data`` reading ``path`` (its download replaced by that file)."""
    monkeypatch.setattr(module, "get_file", lambda *args, **kw: str(path))
    return module.load_data(**kwargs)


def texts(rng, n, vocabulary=40):
    out = np.empty(n, dtype=object)
    for i in range(n):
        out[i] = rng.integers(1, vocabulary, rng.integers(1, 12)).tolist()
    return out


def write_npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def assert_same_split(ours, theirs):
    (x_ours, y_ours), (x_theirs, y_theirs) = ours, theirs
    assert x_ours.dtype == object and x_ours.shape == (len(x_theirs),)
    assert [list(s) for s in x_ours] == [list(s) for s in x_theirs]
    assert all(type(w) is int for s in x_ours for w in s)
    np.testing.assert_array_equal(y_ours, y_theirs)
    assert y_ours.dtype == np.asarray(y_theirs).dtype


TEXT_OPTIONS = [
    {},
    {"num_words": 20, "skip_top": 3, "maxlen": 9, "seed": 7},
    {"start_char": None, "oov_char": None, "index_from": 0, "num_words": 25},
    {"start_char": 5, "oov_char": 4, "index_from": 6, "skip_top": 8},
    {"start_char": None, "index_from": 2, "maxlen": 6, "oov_char": None},
]


@pytest.mark.parametrize("options", TEXT_OPTIONS, ids=[f"options{i}" for i in range(len(TEXT_OPTIONS))])
def test_imdb_matches_keras_on_the_same_file(keras_datasets, monkeypatch, tmp_path, rng, options):
    path = write_npz(tmp_path / "mine.npz", x_train=texts(rng, 30), y_train=rng.integers(0, 2, 30),
                     x_test=texts(rng, 20), y_test=rng.integers(0, 2, 20))
    theirs = keras_load(keras_datasets["imdb"], monkeypatch, path, **options)
    ours = imdb.load_data(path=str(path), **options)
    assert_same_split(ours[0], theirs[0])
    assert_same_split(ours[1], theirs[1])


@pytest.mark.parametrize("options", TEXT_OPTIONS + [{"test_split": 0.35, "seed": 3}],
                         ids=[f"options{i}" for i in range(len(TEXT_OPTIONS) + 1)])
def test_reuters_matches_keras_on_the_same_file(keras_datasets, monkeypatch, tmp_path, rng, options):
    path = write_npz(tmp_path / "mine.npz", x=texts(rng, 41), y=rng.integers(0, 46, 41))
    theirs = keras_load(keras_datasets["reuters"], monkeypatch, path, **options)
    ours = reuters.load_data(path=str(path), **options)
    assert_same_split(ours[0], theirs[0])
    assert_same_split(ours[1], theirs[1])


def test_text_processing_by_hand():
    """Keras's documented steps on a case small enough to compute by hand."""
    x = np.empty(3, dtype=object)
    x[:] = [[1, 2, 3], [4, 1], [5, 5, 5, 5, 5]]
    order = np.random.RandomState(113).permutation(3)
    shifted = [[1] + [w + 3 for w in x[i]] for i in order]  # start_char 1, index_from 3
    kept = [s for s in shifted if len(s) < 5]  # maxlen 5
    limited = [[w if 2 <= w < 7 else 2 for w in s] for s in kept]  # skip_top 2, num_words 7, oov 2
    got = Texts.from_array(x, "x").take(order).marked(1, 3)
    got = got.take(got.shorter_than(5)).limited(7, 2, 2).to_objects()
    assert [list(s) for s in got] == limited
    dropped = Texts.from_array(x, "x").marked(None, 0).limited(5, 2, None).to_objects()
    assert [list(s) for s in dropped] == [[2, 3], [4], []]


@pytest.mark.parametrize("name, kwargs", [("boston_housing", {}), ("boston_housing", {"test_split": 0.3, "seed": 5}),
                                          ("california_housing", {}), ("california_housing", {"version": "small"}),
                                          ("california_housing", {"version": "small", "test_split": 0.0, "seed": 1})])
def test_housing_matches_keras_on_the_same_file(keras_datasets, monkeypatch, tmp_path, rng, name, kwargs):
    n = 700 if name == "california_housing" else 50
    path = write_npz(tmp_path / "mine.npz", x=rng.standard_normal((n, 4)), y=rng.uniform(10, 50, n))
    theirs = keras_load(keras_datasets[name], monkeypatch, path, **kwargs)
    ours = LOADERS[name].load_data(path=str(path), **kwargs)
    for a, b in zip(ours[0] + ours[1], theirs[0] + theirs[1]):
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype
    assert len(ours[0][0]) + len(ours[1][0]) == (600 if kwargs.get("version") == "small" else n)


def cifar_batch(rng, n, labels):
    batch = {b"batch_label": b"fixture", b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
             b"filenames": [b"img%d.png" % i for i in range(n)]}
    batch.update({key.encode(): rng.integers(0, high, n).tolist() for key, high in labels.items()})
    return batch


def write_tar(path, folder, batches):
    with tarfile.open(path, "w:gz") as archive:
        for name, batch in batches.items():
            raw = pickle.dumps(batch, protocol=4)  # bytes stored as bytes, as the originals store their strings
            info = tarfile.TarInfo(f"{folder}/{name}")
            info.size = len(raw)
            archive.addfile(info, io.BytesIO(raw))
    return path


def test_cifar10_reads_the_archive_and_its_extracted_folder(tmp_path, rng):
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    batches = {name: cifar_batch(rng, 3 + i, {"labels": 10}) for i, name in enumerate(names)}
    archive = write_tar(tmp_path / "cifar-10-python.tar.gz", "cifar-10-batches-py", batches)
    (x_train, y_train), (x_test, y_test) = cifar10.load_data(path=str(archive))
    expected = np.concatenate([batches[n][b"data"] for n in names[:5]]).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(x_train, expected)
    np.testing.assert_array_equal(y_train[:, 0], np.concatenate([batches[n][b"labels"] for n in names[:5]]))
    assert x_train.dtype == y_train.dtype == np.uint8 and y_train.shape == (3 + 4 + 5 + 6 + 7, 1)
    np.testing.assert_array_equal(x_test, batches["test_batch"][b"data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    assert x_test.shape == (8, 32, 32, 3) and y_test.shape == (8, 1)
    extracted = tmp_path / "keras_home" / "datasets" / "cifar-10-batches-py-target"  # Keras's cache
    with tarfile.open(archive) as f:
        f.extractall(extracted, filter="data")
    again = cifar10.load_data()
    np.testing.assert_array_equal(again[0][0], x_train)


@pytest.mark.parametrize("label_mode", ["fine", "coarse"])
def test_cifar100_matches_keras_on_the_same_files(keras_datasets, monkeypatch, tmp_path, rng, label_mode):
    batches = {name: cifar_batch(rng, n, {"fine_labels": 100, "coarse_labels": 20})
               for name, n in (("train", 7), ("test", 4))}
    archive = write_tar(tmp_path / "cifar-100-python.tar.gz", "cifar-100-python", batches)
    with tarfile.open(archive) as f:
        f.extractall(tmp_path / "extracted", filter="data")
    theirs = keras_load(keras_datasets["cifar100"], monkeypatch, tmp_path / "extracted", label_mode=label_mode)
    for ours in (cifar100.load_data(label_mode, path=str(archive)),
                 cifar100.load_data(label_mode=label_mode, path=str(tmp_path / "extracted"))):
        for a, b in zip(ours[0] + ours[1], theirs[0] + theirs[1]):
            np.testing.assert_array_equal(a, b)
            assert a.dtype == b.dtype and a.shape == b.shape


def test_word_indexes_and_label_names(tmp_path):
    path = tmp_path / "index.json"
    path.write_text('{"the": 1, "movie": 2}')
    assert imdb.get_word_index(str(path)) == {"the": 1, "movie": 2}
    assert reuters.get_word_index(path=str(path)) == {"the": 1, "movie": 2}
    names = reuters.get_label_names()
    assert len(names) == 46 and names[3] == "earn" and names[-1] == "lead"
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="word index"):
        imdb.get_word_index(str(path))


def _keras_source(name):
    pytest.importorskip("keras", minversion="3.0")
    import importlib
    return re.sub(r"\s+", "", inspect.getsource(importlib.import_module(f"keras.src.datasets.{name}")))


@pytest.mark.parametrize("remote, module", [(imdb.DATA, "imdb"), (imdb.WORD_INDEX, "imdb"), (reuters.DATA, "reuters"),
                                            (reuters.WORD_INDEX, "reuters"), (cifar10.DATA, "cifar10"),
                                            (cifar100.DATA, "cifar100"), (boston_housing.DATA, "boston_housing"),
                                            (california_housing.DATA, "california_housing")])
def test_addresses_and_checksums_are_keras_s(remote, module):
    source = _keras_source(module)
    assert remote.digest in source and len(remote.digest) == {"sha256": 64, "md5": 32}[remote.algorithm]
    assert remote.url.rsplit("/", 1)[1] in source
    assert remote.url.startswith("https://storage.googleapis.com/tensorflow/tf-keras-datasets/") == \
        ("tf-keras-datasets" in source)


def test_a_missing_file_is_downloaded_once_with_its_checksum(places, tmp_path, rng, monkeypatch):
    calls = []
    fixture = write_npz(tmp_path / "fixture.npz", x=rng.standard_normal((10, 3)), y=rng.standard_normal(10))

    def retrieve(url, known_hash, fname, path, progressbar=True):
        calls.append((url, known_hash, fname, path))
        os.makedirs(path, exist_ok=True)
        target = os.path.join(path, fname)
        with open(fixture, "rb") as src, open(target, "wb") as dst:
            dst.write(src.read())
        return target

    monkeypatch.setattr(places, "retrieve", retrieve, raising=False)
    first = boston_housing.load_data()
    second = boston_housing.load_data()
    assert len(calls) == 1  # the second load finds the cached copy
    url, known_hash, fname, folder = calls[0]
    assert url == boston_housing.DATA.url and known_hash == f"sha256:{boston_housing.DATA.digest}"
    assert fname == "boston_housing.npz" and folder == str(tmp_path / "cache" / "gpunet" / "boston_housing")
    np.testing.assert_array_equal(first[0][0], second[0][0])


def test_search_order_offline_and_errors(tmp_path, rng, monkeypatch):
    keras_copy = tmp_path / "keras_home" / "datasets"
    keras_copy.mkdir(parents=True)
    write_npz(keras_copy / "boston_housing.npz", x=np.ones((5, 2)), y=np.ones(5))
    assert boston_housing.load_data(test_split=0.0)[0][0].sum() == 10  # Keras's cache
    data = tmp_path / "data"
    (data / "boston_housing").mkdir(parents=True)
    write_npz(data / "boston_housing" / "boston_housing.npz", x=np.full((5, 2), 2.0), y=np.ones(5))
    monkeypatch.setenv("GPUNET_DATA", str(data))
    assert boston_housing.load_data(test_split=0.0)[0][0].sum() == 20  # GPUNET_DATA comes first
    monkeypatch.setenv("GPUNET_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="GPUNET_OFFLINE") as info:
        imdb.load_data()
    assert "imdb.npz" in str(info.value) and "Keras's cache" in str(info.value)
    with pytest.raises(FileNotFoundError, match="no such file"):
        imdb.load_data(path=str(tmp_path / "nowhere" / "imdb.npz"))


def test_bad_arguments_and_bad_files_name_the_problem(tmp_path, rng):
    path = write_npz(tmp_path / "r.npz", x=texts(rng, 10), y=rng.integers(0, 46, 10))
    for kwargs, word in [({"test_split": 1.0}, "test_split"), ({"num_words": -1}, "num_words"),
                         ({"seed": 1.5}, "seed"), ({"maxlen": "5"}, "maxlen")]:
        with pytest.raises(ValueError, match=word):
            reuters.load_data(path=str(path), **kwargs)
    with pytest.raises(ValueError, match="maxlen"):
        imdb.load_data(path=str(write_npz(tmp_path / "i.npz", x_train=texts(rng, 5), y_train=np.zeros(5),
                                          x_test=texts(rng, 5), y_test=np.zeros(5))), maxlen=1)
    with pytest.raises(TypeError, match="nb_words"):
        imdb.load_data(nb_words=10)
    with pytest.raises(ValueError, match="label_mode"):
        cifar100.load_data(label_mode="medium")
    with pytest.raises(ValueError, match="version"):
        california_housing.load_data(version="medium")
    with pytest.raises(ValueError, match="'x_train'"):
        imdb.load_data(path=str(path))
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="junk.npz"):
        boston_housing.load_data(path=str(tmp_path / "junk.npz"))


class _Boom:
    def __reduce__(self):
        return (os.system, ("echo crafted",))


def test_a_crafted_pickle_is_refused_not_run(tmp_path):
    batch = {b"data": np.zeros((1, 3072), np.uint8), b"labels": [0], b"evil": _Boom()}
    archive = write_tar(tmp_path / "c.tar.gz", "cifar-10-batches-py",
                        {name: batch for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]})
    with pytest.raises(ValueError, match="refused to load posix.system|refused to load nt.system|refused"):
        cifar10.load_data(path=str(archive))
    with pytest.raises(pickle.UnpicklingError):
        files.safe_loads(pickle.dumps(_Boom()))
