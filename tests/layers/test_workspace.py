"""Buffers far larger than memory are refused before they are allocated: convolution (im2col
columns), padding and pooling layers estimate their buffers from the shapes and raise a
WorkspaceError (a MemoryError) naming the layer, the batch size, the bytes needed and a batch that
fits, instead of a bare MemoryError from inside NumPy (or the kernel's out-of-memory killer)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import tracemalloc
import types

import numpy as np
import pytest

import gpunet
from gpunet import Parameter, Tensor, backend, no_grad
from gpunet import layers as L
from gpunet.backend import WorkspaceError, memory
from gpunet.ops import convolution as conv_ops

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


@pytest.fixture(autouse=True)
def _measured_bound(monkeypatch, numpy_backend):
    """Every test starts from the measured bound, whatever the environment says, and leaves it so.
    The tests measure the host's allocations (tracemalloc) against the host's bound, so they run on
    NumPy whatever the suite's backend; the GPU's bound has a test of its own below."""
    monkeypatch.delenv("GPUNET_MEMORY_LIMIT", raising=False)
    backend.set_memory_limit(None)
    yield
    backend.set_memory_limit(None)


def test_a_convolution_far_larger_than_memory_is_refused_before_allocating_and_the_advice_works():
    """Under a real address-space limit (1 GiB above what the process holds), a batch whose gathered
    windows and outputs take about 4 GiB is refused by name before anything is allocated; the batch
    size the message advises then trains under the same limit."""
    script = textwrap.dedent("""
        import re, resource
        import numpy as np
        import gpunet
        from gpunet.layers import Conv2D, Dense, GlobalAveragePooling2D, Input

        gpunet.utils.set_random_seed(0)
        model = gpunet.Sequential([Input((128, 128, 3)), Conv2D(64, 5, padding="same", activation="relu"),
                                   GlobalAveragePooling2D(), Dense(2, activation="softmax")])
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        x = np.random.default_rng(0).random((256, 128, 128, 3), dtype=np.float32)
        y = np.arange(256) % 2
        model.fit(x[:2], y[:2], batch_size=2, verbose=0)  # threads and the step made before the limit
        held = int(re.search(r"VmSize:\\s+(\\d+)", open("/proc/self/status").read()).group(1)) * 1024
        resource.setrlimit(resource.RLIMIT_AS, (held + (1 << 30), resource.RLIM_INFINITY))
        before = model.get_weights()
        try:
            model.fit(x, y, batch_size=256, verbose=0)
        except MemoryError as exc:
            print(f"{type(exc).__name__}: {exc}")
            assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), before))
            advised = int(re.search(r"batch_size=(\\d+)", str(exc)).group(1))
            model.fit(x[:2 * advised], y[:2 * advised], batch_size=advised, verbose=0)
            print("trained with the advised batch of", advised)
    """)
    env = {**os.environ, "PYTHONPATH": ROOT, "GPUNET_BACKEND": "numpy"}
    env.pop("GPUNET_MEMORY_LIMIT", None)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    first = done.stdout.splitlines()[0]
    assert re.fullmatch(r"WorkspaceError: Conv2D layer 'conv2d' on inputs of shape \(128, 128, 3\) needs about "
                        r"4\.\d GiB of buffers for a batch of 256, more than the \d+\.\d MiB the host has available "
                        r"now\. Use a batch of at most \d+ \(batch_size=\d+\); .*GPUNET_MEMORY_LIMIT.*", first), first
    assert "trained with the advised batch of" in done.stdout


def _layer_cases():
    return [
        ("Conv2D", lambda: L.Conv2D(8, 3, padding="same", name="c2"), (16, 16, 3), "Conv2D layer 'c2'"),
        ("Conv2D first", lambda: L.Conv2D(8, 3, data_format="channels_first", name="cf"), (3, 16, 16), "Conv2D layer 'cf'"),
        ("Conv1D", lambda: L.Conv1D(8, 5, padding="causal", name="c1"), (64, 3), "Conv1D layer 'c1'"),
        ("MaxPooling2D", lambda: L.MaxPooling2D(3, strides=1, padding="same", name="mp"), (32, 32, 8), "MaxPooling2D layer 'mp'"),
        ("AveragePooling1D", lambda: L.AveragePooling1D(2, name="ap"), (256, 8), "AveragePooling1D layer 'ap'"),
        ("ZeroPadding2D", lambda: L.ZeroPadding2D(4, name="zp"), (32, 32, 8), "ZeroPadding2D layer 'zp'"),
    ]


@pytest.mark.parametrize("make, sample, name", [case[1:] for case in _layer_cases()], ids=[c[0] for c in _layer_cases()])
def test_each_layer_with_buffers_refuses_by_name_a_batch_beyond_the_bound(make, sample, name):
    layer = make()
    x = np.ones((64, *sample), np.float32)
    needed = layer.workspace_bytes(x.shape, 4)
    assert needed > 0
    backend.set_memory_limit(needed // 3)
    with pytest.raises(WorkspaceError, match=rf"^{re.escape(name)} on inputs of shape {re.escape(str(sample))} "
                                             rf"needs about .* for a batch of 64, more than .* allowed by "
                                             rf"GPUNET_MEMORY_LIMIT or gpunet.backend.set_memory_limit\(\)\. Use a "
                                             rf"batch of at most (\d+) \(batch_size=\1\)") as caught:
        layer(x)
    advised = int(re.search(r"batch_size=(\d+)", str(caught.value)).group(1))
    assert 0 < advised < 64 and layer.workspace_bytes((advised, *sample), 4) <= needed // 3
    assert layer(x[:advised]).shape[0] == advised  # the advised batch goes through


def test_predict_and_evaluate_refuse_a_batch_beyond_the_bound_and_a_small_one_passes():
    gpunet.utils.set_random_seed(0)
    model = gpunet.Sequential([L.Input((32, 32, 3)), L.Conv2D(16, 3, activation="relu", name="conv"),
                               L.MaxPooling2D(2), L.Flatten(), L.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x, y = np.ones((64, 32, 32, 3), np.float32), np.arange(64) % 2
    backend.set_memory_limit("4M")  # a batch of 64 takes about 10 MiB, one of 8 about 1.3 MiB
    for call in (lambda: model.predict(x, batch_size=64), lambda: model.evaluate(x, y, batch_size=64, verbose=0)):
        with pytest.raises(WorkspaceError, match="Conv2D layer 'conv' .* for a batch of 64, more than the 4.0 MiB"):
            call()
    assert model.predict(x, batch_size=8).shape == (64, 2)


def test_a_sample_too_large_for_any_batch_says_so():
    backend.set_memory_limit(10_000)
    with pytest.raises(WorkspaceError, match=r"Even one sample does not fit: use smaller inputs"):
        L.Conv2D(64, 5, padding="same")(np.ones((2, 32, 32, 3), np.float32))


def test_a_training_step_counts_the_buffers_every_layer_keeps_until_backward():
    gpunet.utils.set_random_seed(0)
    model = gpunet.Sequential([L.Input((32, 32, 3)), L.Conv2D(16, 3, padding="same", activation="relu", name="a"),
                               L.Conv2D(16, 3, padding="same", activation="relu", name="b"), L.Flatten(),
                               L.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    a, b = model.layers[:2]
    each = [layer.workspace_bytes((32, 32, 32, 3 if layer is a else 16), 4) for layer in (a, b)]
    assert model.workspace_bytes((32, 32, 32, 3), 4) == sum(each)
    assert model.workspace_bytes((32, 32, 32, 3), 4, gradients=False) < max(each)  # inference keeps nothing
    backend.set_memory_limit(max(each) + 1)  # each layer alone fits, both together do not
    with pytest.raises(WorkspaceError, match=r"Conv2D layer 'b' on inputs of shape \(32, 32, 16\) \(.*\) together "
                                             r"with the other convolution, pooling and padding layers of model"):
        model.fit(np.ones((32, 32, 32, 3), np.float32), np.arange(32) % 2, batch_size=32, verbose=0)


def _traced_peak(run):
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        run()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


ESTIMATED = [
    ("conv valid", (32, 28, 28, 1), dict(kernel=(3, 3, 1, 32))),
    ("conv same", (32, 28, 28, 3), dict(kernel=(3, 3, 3, 32), padding="same")),
    ("conv deep", (16, 26, 26, 32), dict(kernel=(3, 3, 32, 64))),
    ("conv strided", (16, 30, 30, 16), dict(kernel=(5, 5, 16, 8), padding="same", strides=2)),
    ("conv 1d causal", (32, 200, 4), dict(kernel=(5, 4, 16), padding="causal")),
    ("conv + max pool", (32, 28, 28, 1), dict(kernel=(3, 3, 1, 32), pool=(2, None, "valid"))),
    ("max pool", (32, 26, 26, 32), dict(pool_size=2)),
    ("max pool same overlapping", (32, 26, 26, 32), dict(pool_size=3, strides=1, padding="same")),
    ("avg pool same", (32, 25, 25, 8), dict(pool_size=2, padding="same", kind="avg")),
    ("padding", (32, 28, 28, 3), dict(pads=((2, 2), (1, 3)))),
]


@pytest.mark.parametrize("shape, spec", [case[1:] for case in ESTIMATED], ids=[case[0] for case in ESTIMATED])
@pytest.mark.parametrize("gradients", [True, False], ids=["training", "inference"])
def test_the_estimate_follows_what_the_op_allocates(shape, spec, gradients, monkeypatch):
    """Within [0.8, 2.5] times the traced peak of the op's forward (and backward, with the output's
    gradient given), on one thread (the estimate counts a block per host thread)."""
    monkeypatch.setenv("GPUNET_NUM_THREADS", "1")
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=gradients)
    if "kernel" in spec:
        kernel = Parameter(rng.standard_normal(spec["kernel"]).astype(np.float32) * 0.1)
        options = dict(strides=spec.get("strides", 1), padding=spec.get("padding", "valid"))
        pool = spec.get("pool")
        if pool is None:
            op = lambda: conv_ops.conv(x, kernel, **options)  # noqa: E731
        else:
            op = lambda: conv_ops.conv_max_pool(x, kernel, pool_size=pool[0], pool_strides=pool[1],  # noqa: E731
                                                pool_padding=pool[2], **options)
        estimate = conv_ops.conv_workspace(shape, spec["kernel"], 4, gradients=gradients, pool=pool, **options)
    elif "pads" in spec:
        op = lambda: conv_ops.pad_spatial(x, spec["pads"])  # noqa: E731
        estimate = conv_ops.pad_workspace(shape, 4, spec["pads"], gradients)
    else:
        pooling = conv_ops.max_pool if spec.get("kind", "max") == "max" else conv_ops.avg_pool
        options = dict(strides=spec.get("strides"), padding=spec.get("padding", "valid"))
        op = lambda: pooling(x, spec["pool_size"], **options)  # noqa: E731
        estimate = conv_ops.pool_workspace(shape, 4, spec["pool_size"], gradients=gradients,
                                           kind=spec.get("kind", "max"), **options)

    def run():
        if gradients:
            out = op()
            out.backward(np.ones(out.shape, np.float32))
        else:
            with no_grad():
                op()

    peak = _traced_peak(run)
    assert 0.8 * peak <= estimate <= 2.5 * peak, (estimate, peak)


def test_the_bound_comes_from_the_environment_or_the_function_and_bad_values_are_refused(monkeypatch):
    conv = L.Conv2D(8, 3, name="conv")
    x = np.ones((16, 16, 16, 3), np.float32)
    monkeypatch.setattr(memory, "_host_available", lambda: 1000)  # as if the host had 1000 bytes left
    assert memory.available_bytes() == 1000
    with pytest.raises(WorkspaceError, match="more than the 1000 B the host has available now"):
        conv(x)
    monkeypatch.setenv("GPUNET_MEMORY_LIMIT", "off")  # the way round a measure that is wrong
    assert memory.available_bytes() is None and conv(x).shape == (16, 14, 14, 8)
    monkeypatch.setenv("GPUNET_MEMORY_LIMIT", "1.5 MiB")
    assert memory.available_bytes() == 3 << 19
    backend.set_memory_limit("2K")  # the function wins over the environment
    assert memory.memory_limit() == 2048
    with pytest.raises(WorkspaceError, match="more than the 2.0 KiB allowed by GPUNET_MEMORY_LIMIT"):
        L.Conv2D(8, 3)(x)
    backend.set_memory_limit(None)
    assert memory.memory_limit() == 3 << 19
    for bad in ("lots", "-1G", "0", "12 parsecs"):
        monkeypatch.setenv("GPUNET_MEMORY_LIMIT", bad)
        with pytest.raises(ValueError, match="GPUNET_MEMORY_LIMIT must be a size such as 8G"):
            memory.available_bytes()
    for bad in (0, -5, 2.5e-1, True, float("nan"), [1]):
        with pytest.raises(ValueError, match="limit must be a size such as 8G"):
            backend.set_memory_limit(bad)


def test_memory_is_measured_once_per_shape_not_per_step(monkeypatch):
    measured = []
    real = memory._host_available
    monkeypatch.setattr(memory, "_host_available", lambda: measured.append(1) or real())
    gpunet.utils.set_random_seed(0)
    model = gpunet.Sequential([L.Input((12, 12, 1)), L.Conv2D(4, 3, activation="relu"), L.MaxPooling2D(2),
                               L.Flatten(), L.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x, y = np.ones((100, 12, 12, 1), np.float32), np.arange(100) % 2
    model.fit(x, y, batch_size=16, epochs=1, validation_data=(x, y), verbose=0)
    assert 0 < len(measured) <= 6  # two batch sizes (16, 4): the step's check, the recording's and evaluation's calls
    counts = []
    for epochs in (1, 4):
        before = len(measured)
        model.fit(x, y, batch_size=16, epochs=epochs, validation_data=(x, y), verbose=0)
        counts.append(len(measured) - before)
    assert counts == [2, 2]  # a fit's step checks each batch size once, however many epochs; layers remember theirs


def test_the_gpu_bound_is_its_free_memory_and_its_pools_unused_blocks(monkeypatch):
    class Pool:
        def __init__(self, free, limit, used):
            self.free, self.limit, self.used = free, limit, used

        def free_bytes(self):
            return self.free

        def get_limit(self):
            return self.limit

        def used_bytes(self):
            return self.used

    def device(free, total, pool):
        runtime = types.SimpleNamespace(memGetInfo=lambda: (free, total))
        return types.SimpleNamespace(cuda=types.SimpleNamespace(runtime=runtime), get_default_memory_pool=lambda: pool)

    fake = device(5 << 30, 80 << 30, Pool(1 << 30, 0, 0))
    monkeypatch.setattr(memory, "cupy_module", lambda: fake)
    assert memory.available_bytes(fake) == 6 << 30
    fake = device(5 << 30, 80 << 30, Pool(1 << 30, 4 << 30, 3 << 30))  # a pool limited to 4 GiB, 3 in use
    assert memory.available_bytes(fake) == 1 << 30
    fake = device(0, 0, Pool(0, 0, 0))  # a runtime that knows no memory (an emulation): no bound
    assert memory.available_bytes(fake) is None
    assert memory.available_bytes(np) == memory._host_available()


def test_the_host_bound_keeps_within_every_cgroup_limit_counting_page_cache_as_free():
    gib = 1 << 30
    v2 = {
        "/proc/self/cgroup": "0::/job/step\n",
        "/sys/fs/cgroup/job/step/memory.max": "max\n",  # no limit of its own
        "/sys/fs/cgroup/job/step/memory.current": f"{gib}\n",
        "/sys/fs/cgroup/job/memory.max": f"{8 * gib}\n",
        "/sys/fs/cgroup/job/memory.current": f"{6 * gib}\n",
        "/sys/fs/cgroup/job/memory.stat": f"anon {gib}\nfile {3 * gib}\nshmem {gib}\n",
    }
    assert memory._cgroup_rooms(v2.get) == [8 * gib - 6 * gib + 2 * gib]  # the job's limit; cache less shared memory
    v1 = {
        "/proc/self/cgroup": "4:memory:/docker/abc\n0::/\n",
        "/sys/fs/cgroup/memory/docker/abc/memory.stat": f"cache {gib}\nhierarchical_memory_limit {4 * gib}\n"
                                                         f"total_cache {gib}\ntotal_shmem 0\n",
        "/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": "9223372036854771712\n",
        "/sys/fs/cgroup/memory/docker/abc/memory.usage_in_bytes": f"{3 * gib}\n",
    }
    assert memory._cgroup_rooms(v1.get) == [4 * gib - 3 * gib + gib]
    unlimited = {**v1, "/sys/fs/cgroup/memory/docker/abc/memory.stat": "total_cache 0\n"}
    assert memory._cgroup_rooms(unlimited.get) == []  # the kernel's "no limit"
    assert memory._cgroup_rooms({}.get) == []


@pytest.mark.gpu
def test_a_convolution_on_the_device_beyond_the_bound_is_refused_by_name(cp):
    x = cp.ones((64, 64, 64, 3), cp.float32)
    layer = L.Conv2D(16, 5, padding="same", name="on_device")
    backend.set_memory_limit("16M")  # the layer's buffers would take about 190 MiB
    with pytest.raises(WorkspaceError, match=r"Conv2D layer 'on_device' .* for a batch of 64, more than the 16.0 MiB"):
        layer(x)
    assert layer(x[:4]).shape == (4, 64, 64, 16)
