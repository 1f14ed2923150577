"""The loaders: search order, checked downloads (pooch faked), offline mode, errors, helpers.

Nothing here touches the network, the real ~/.cache or /usr/share (except the last test, which
reads Debian's Fashion-MNIST where it is installed): every place looked in is redirected under
tmp_path, and pooch.retrieve is replaced. Where pooch is not installed (it is optional for a
checkout, as on the device check's machine), a stand-in module takes its place for the test, so
these tests of gpunet's own search and checks run everywhere.
"""

import os
import shutil
import sys
import types

import numpy as np
import pytest

import gpunet.datasets as datasets
from gpunet.datasets import fashion_mnist, mnist, sources, write_idx

NAMES = ["mnist", "fashion_mnist"]
FILES = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
]
SHA256 = {  # as published upstream; a typo in sources.py would send every download to failure
    "mnist": [
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    ],
    "fashion_mnist": [
        "08dc20ab1689590a0bcd66e874647b6ee8464e2d501b5a3f1f78831db19a3fdc",
        "b0197879cbda89f3dc7b894f9fd52b858e68ea4182b6947c9d8c2b67e5f18dcc",
        "78dcbbfb5a27efaf1b6c1d616caca68560be8766c5bffcb2791df9273a534229",
        "42bd18137a62d5998cdeae52bf3a0676ac6b706f5cf8439b47bb5b151ae3dccf",
    ],
}
MIRRORS = {
    "mnist": ["https://storage.googleapis.com/cvdf-datasets/mnist/", "https://ossci-datasets.s3.amazonaws.com/mnist/"],
    "fashion_mnist": [
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
    ],
}
LOADERS = {"mnist": mnist.load_data, "fashion_mnist": fashion_mnist.load_data}
N_TRAIN, N_TEST = 5, 3


def write_file(folder, fname, marker, compress=True):
    """Write one synthetic file; images are filled with ``marker`` so tests can tell copies apart."""
    os.makedirs(folder, exist_ok=True)
    n = N_TRAIN if fname.startswith("train") else N_TEST
    if "images" in fname:
        array = np.full((n, 28, 28), marker, np.uint8)
    else:
        array = (np.arange(n) % 10).astype(np.uint8)
    path = os.path.join(folder, fname if compress else fname.removesuffix(".gz"))
    write_idx(path, array, compress=compress)
    return path


def make_files(folder, marker, compress=True, files=FILES):
    for fname in files:
        write_file(folder, fname, marker, compress)
    return folder


def marker_of(result):
    (x_train, y_train), (x_test, y_test) = result
    assert x_train.shape == (N_TRAIN, 28, 28) and x_test.shape == (N_TEST, 28, 28)
    assert y_train.shape == (N_TRAIN,) and y_test.shape == (N_TEST,)
    assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype(np.uint8)}
    assert x_train[0, 0, 0] == x_test[0, 0, 0]
    return int(x_train[0, 0, 0])


class FakeRetrieve:
    """Stands in for pooch.retrieve: records each call; ``outcome(url)`` says what happens."""

    def __init__(self, outcome):
        self.outcome = outcome
        self.calls = []

    def __call__(self, url, known_hash, fname, path, progressbar=True):
        self.calls.append(dict(url=url, known_hash=known_hash, fname=fname, path=path, progressbar=progressbar))
        result = self.outcome(url)
        if isinstance(result, Exception):
            raise result
        return write_file(path, fname, result)


def pooch_module(monkeypatch):
    """pooch, or where it is not installed a stand-in registered as ``pooch`` for this test only
    (every test replaces ``retrieve``, the one function gpunet calls)."""
    try:
        import pooch
    except ImportError:
        pooch = types.ModuleType("pooch")
        monkeypatch.setitem(sys.modules, "pooch", pooch)
    return pooch


@pytest.fixture(autouse=True)
def places(tmp_path, monkeypatch):
    """Point every place looked in under tmp_path, and make any unexpected download fail."""
    pooch = pooch_module(monkeypatch)

    monkeypatch.delenv("GPUNET_DATA", raising=False)
    monkeypatch.delenv("GPUNET_OFFLINE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    system = {name: (str(tmp_path / "system" / name),) for name in NAMES}
    monkeypatch.setattr(sources, "SYSTEM_FOLDERS", system)
    blocked = FakeRetrieve(lambda url: ConnectionError("network blocked in tests"))
    monkeypatch.setattr(pooch, "retrieve", blocked, raising=False)
    return dict(
        root=tmp_path,
        cache={name: str(tmp_path / "cache" / "gpunet" / name) for name in NAMES},
        system={name: folders[0] for name, folders in system.items()},
        retrieve=blocked,
    )


@pytest.fixture
def fake_retrieve(monkeypatch):
    pooch = pooch_module(monkeypatch)

    def install(outcome):
        fake = FakeRetrieve(outcome)
        monkeypatch.setattr(pooch, "retrieve", fake, raising=False)
        return fake

    return install


# ----------------------------------------------------------------------------------------------
# Search order
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_search_order(name, places, monkeypatch, fake_retrieve):
    root = places["root"]
    explicit = make_files(str(root / "explicit"), 1)
    data = root / "data"
    make_files(str(data / name), 2)
    make_files(str(data), 3)
    make_files(places["cache"][name], 4)
    make_files(places["system"][name], 5)
    fake = fake_retrieve(lambda url: 6)
    monkeypatch.setenv("GPUNET_DATA", str(data))
    load = LOADERS[name]

    assert marker_of(load(path=explicit)) == 1
    assert marker_of(load()) == 2
    shutil.rmtree(data / name)
    assert marker_of(load()) == 3
    for fname in FILES:
        os.remove(data / fname)
    assert marker_of(load()) == 4
    shutil.rmtree(places["cache"][name])
    assert marker_of(load()) == 5
    assert fake.calls == []
    shutil.rmtree(places["system"][name])
    assert marker_of(load()) == 6  # downloaded into the cache...
    assert len(fake.calls) == 4
    assert marker_of(load()) == 6  # ...and found there next time
    assert len(fake.calls) == 4


@pytest.mark.parametrize("name", NAMES)
def test_load_by_name_matches_the_loader(name, places):
    make_files(places["cache"][name], 7)
    assert marker_of(datasets.load(name)) == 7
    assert marker_of(sources.load(name)) == 7


def test_load_unknown_name():
    with pytest.raises(ValueError, match=r"'cifar10'.*\['fashion_mnist', 'mnist'\]"):
        datasets.load("cifar10")


def test_raw_files_are_accepted(places, tmp_path):
    folder = make_files(str(tmp_path / "raw"), 8, compress=False)
    assert sorted(os.listdir(folder)) == sorted(f.removesuffix(".gz") for f in FILES)
    assert marker_of(mnist.load_data(path=folder)) == 8
    assert marker_of(mnist.load_data(path=tmp_path / "raw")) == 8  # a pathlib.Path works too


def test_explicit_path_missing_a_file_does_not_fall_through(places, tmp_path, fake_retrieve):
    make_files(places["cache"]["fashion_mnist"], 4)
    make_files(places["system"]["fashion_mnist"], 5)
    fake = fake_retrieve(lambda url: 6)
    folder = make_files(str(tmp_path / "partial"), 1, files=FILES[:3])
    with pytest.raises(FileNotFoundError, match=r"partial.*lacks t10k-labels-idx1-ubyte\.gz") as info:
        fashion_mnist.load_data(path=folder)
    assert "train-images" not in str(info.value)
    with pytest.raises(FileNotFoundError, match="no such folder"):
        fashion_mnist.load_data(path=tmp_path / "absent")
    assert fake.calls == []


def test_damaged_file_is_reported_not_skipped(places):
    make_files(places["cache"]["mnist"], 4)
    make_files(places["system"]["mnist"], 5)
    path = os.path.join(places["cache"]["mnist"], FILES[0])
    with open(path, "r+b") as f:
        f.truncate(20)
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.gz"):
        mnist.load_data()


# ----------------------------------------------------------------------------------------------
# Downloads
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_download_tries_mirrors_in_order_with_checksums(name, places, fake_retrieve):
    first, second = MIRRORS[name]
    fake = fake_retrieve(lambda url: ConnectionError("mirror down") if url.startswith(first) else 9)
    assert marker_of(LOADERS[name]()) == 9
    expected = []
    for fname, sha in zip(FILES, SHA256[name]):
        for mirror in (first, second):
            expected.append(
                dict(
                    url=mirror + fname,
                    known_hash=f"sha256:{sha}",
                    fname=fname,
                    path=places["cache"][name],
                    progressbar=False,
                )
            )
    assert fake.calls == expected
    assert sorted(os.listdir(places["cache"][name])) == sorted(FILES)


def test_download_fetches_only_what_the_cache_lacks(places, fake_retrieve):
    make_files(places["cache"]["mnist"], 9, files=FILES[:2])
    fake = fake_retrieve(lambda url: 9)
    assert marker_of(mnist.load_data()) == 9
    assert [c["fname"] for c in fake.calls] == FILES[2:]


def test_all_downloads_failing_lists_every_place(places, monkeypatch, fake_retrieve, tmp_path):
    monkeypatch.setenv("GPUNET_DATA", str(tmp_path / "data"))
    make_files(places["system"]["fashion_mnist"], 5, files=FILES[1:])  # incomplete
    fake = fake_retrieve(
        lambda url: ValueError("SHA256 hash of downloaded file does not match") if "s3" in url else OSError("timed out")
    )
    with pytest.raises(FileNotFoundError) as info:
        fashion_mnist.load_data()
    message = str(info.value)
    assert len(fake.calls) == 2  # both mirrors of the first file, then no point going on
    for place in (
        str(tmp_path / "data" / "fashion_mnist"),
        str(tmp_path / "data"),
        places["cache"]["fashion_mnist"],
        places["system"]["fashion_mnist"],
    ):
        assert place in message
    assert "lacks train-images-idx3-ubyte.gz" in message
    assert "does not match" in message and "timed out" in message
    for mirror in MIRRORS["fashion_mnist"]:
        assert mirror + FILES[0] in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert "GPUNET_DATA" in message


def test_mnist_message_gives_mirrors_and_cache(places):
    with pytest.raises(FileNotFoundError) as info:
        mnist.load_data()
    message = str(info.value)
    assert "GPUNET_DATA: not set" in message
    assert places["cache"]["mnist"] in message and places["system"]["mnist"] in message
    assert "network blocked in tests" in message
    for mirror in MIRRORS["mnist"]:
        assert mirror in message
    assert "apt-get" not in message


@pytest.mark.parametrize("value", ["1", "true", "yes"])
def test_offline_skips_the_download(places, monkeypatch, fake_retrieve, value):
    monkeypatch.setenv("GPUNET_OFFLINE", value)
    fake = fake_retrieve(lambda url: 9)
    with pytest.raises(FileNotFoundError, match=f"download: skipped, GPUNET_OFFLINE={value}"):
        fashion_mnist.load_data()
    assert fake.calls == []
    make_files(places["system"]["fashion_mnist"], 5)  # local files still work offline
    assert marker_of(fashion_mnist.load_data()) == 5


def test_offline_zero_means_online(places, monkeypatch, fake_retrieve):
    monkeypatch.setenv("GPUNET_OFFLINE", "0")
    fake_retrieve(lambda url: 9)
    assert marker_of(mnist.load_data()) == 9


def test_missing_pooch_is_a_download_failure(places, monkeypatch):
    monkeypatch.setitem(sys.modules, "pooch", None)  # makes `import pooch` raise ImportError
    with pytest.raises(FileNotFoundError, match="pooch is not installed"):
        mnist.load_data()


# ----------------------------------------------------------------------------------------------
# Consistency checks
# ----------------------------------------------------------------------------------------------
def test_label_count_mismatch(tmp_path):
    folder = make_files(str(tmp_path / "d"), 1)
    write_idx(os.path.join(folder, FILES[1]), np.zeros(N_TRAIN + 1, np.uint8))
    with pytest.raises(ValueError, match=r"5 images but .*train-labels.* 6 labels"):
        mnist.load_data(path=folder)


def test_label_out_of_range(tmp_path):
    folder = make_files(str(tmp_path / "d"), 1)
    write_idx(os.path.join(folder, FILES[3]), np.array([0, 10, 2], np.uint8))
    with pytest.raises(ValueError, match=r"t10k-labels.*label 10; expected labels 0\.\.9"):
        mnist.load_data(path=folder)


@pytest.mark.parametrize(
    "index, array, message",
    [
        (0, np.zeros((N_TRAIN, 784), np.uint8), r"train-images.*shape \(5, 784\).*3-D"),
        (1, np.zeros((N_TRAIN, 1), np.uint8), r"train-labels.*shape \(5, 1\).*1-D"),
        (2, np.zeros((N_TEST, 28, 28), np.float32), r"t10k-images.*float32.*uint8"),
    ],
)
def test_wrong_shapes_and_dtypes(tmp_path, index, array, message):
    folder = make_files(str(tmp_path / "d"), 1)
    write_idx(os.path.join(folder, FILES[index]), array)
    with pytest.raises(ValueError, match=message):
        fashion_mnist.load_data(path=folder)


# ----------------------------------------------------------------------------------------------
# split_dev and scale
# ----------------------------------------------------------------------------------------------
def test_split_dev_takes_the_last_samples():
    x = np.arange(10 * 2).reshape(10, 2)
    y = np.arange(10)
    (x_train, y_train), (x_dev, y_dev) = datasets.split_dev(x, y, 3)
    np.testing.assert_array_equal(x_train, x[:7])
    np.testing.assert_array_equal(y_train, y[:7])
    np.testing.assert_array_equal(x_dev, x[7:])
    np.testing.assert_array_equal(y_dev, [7, 8, 9])
    (_, y_train), (_, y_dev) = datasets.split_dev(x, y, np.int64(1))
    assert len(y_train) == 9 and len(y_dev) == 1


@pytest.mark.parametrize(
    "dev_size, message", [(0, "1..9"), (10, "1..9"), (-1, "1..9"), (2.0, "integer"), (True, "integer")]
)
def test_split_dev_errors(dev_size, message):
    with pytest.raises(ValueError, match=message):
        datasets.split_dev(np.zeros((10, 2)), np.zeros(10), dev_size)


def test_split_dev_length_mismatch():
    with pytest.raises(ValueError, match="x has 10 samples but y has 9"):
        datasets.split_dev(np.zeros((10, 2)), np.zeros(9), 2)


def test_scale_uint8():
    x = np.array([[[0, 51], [255, 128]]], np.uint8)
    out = datasets.scale(x)
    assert out.dtype == np.float32 and out.shape == (1, 2, 2)
    np.testing.assert_allclose(out, x / 255.0, rtol=1e-6)
    assert out.min() == 0.0 and out.max() == 1.0
    flat = datasets.scale(x, flatten=True)
    assert flat.shape == (1, 4) and flat.dtype == np.float32
    assert datasets.scale(np.zeros((0, 28, 28), np.uint8), flatten=True).shape == (0, 784)


def test_scale_float_in_range_is_kept():
    x = np.array([0.0, 0.5, 1.0], np.float64)
    out = datasets.scale(x)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, x)


@pytest.mark.parametrize(
    "x, message",
    [
        (np.array([0.0, 255.0]), r"\[0, 1\].*255"),
        (np.array([-0.5, 0.5], np.float32), r"\[0, 1\]"),
        (np.array([0.5, np.nan]), "NaN"),
        (np.array([1, 2], np.int64), "int64"),
    ],
)
def test_scale_errors(x, message):
    with pytest.raises(ValueError, match=message):
        datasets.scale(x)


# ----------------------------------------------------------------------------------------------
# The real thing, where Debian's dataset-fashion-mnist is installed
# ----------------------------------------------------------------------------------------------
REAL = "/usr/share/datasets/fashion-mnist"


@pytest.mark.skipif(
    not os.path.isfile(os.path.join(REAL, "train-images-idx3-ubyte.gz")), reason="dataset-fashion-mnist not installed"
)
def test_real_fashion_mnist():
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data(path=REAL)
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype(np.uint8)}
    assert set(np.unique(y_train)) == set(range(10)) == set(np.unique(y_test))
    assert len(fashion_mnist.CLASS_NAMES) == 10 and fashion_mnist.CLASS_NAMES[9] == "Ankle boot"
