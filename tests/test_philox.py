"""The GPU's noise stream: Philox4x32-10 against the published known answers, its uniform
numbers, and a state of two integers that checkpoints save and restore."""

import numpy as np
import pytest

from gpunet import backend
from gpunet.gpu import philox
from gpunet.utils import set_random_seed

# Random123's known-answer vectors for Philox4x32-10 (counter words, key words, output words)
KNOWN_ANSWERS = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize("counter, key, expected", KNOWN_ANSWERS)
def test_block_matches_the_known_answers(counter, key, expected):
    assert tuple(int(w) for w in philox.block(counter, key)) == expected


def test_block_is_elementwise_over_counter_arrays():
    counters = np.array([0, 0xFFFFFFFF, 0x243F6A88], dtype=np.uint64)
    words = philox.block((counters, counters, counters, counters), (0, 0))
    assert int(words[0][0]) == 0x6627E8D5
    assert all(w.shape == (3,) for w in words)


def test_uniform_twin_counter_layout():
    """Element j of a draw is the block of counter base + j: low word first, carry into the second."""
    base = (1 << 32) - 1
    u = philox.uniform_twin(0x299F31D0A4093822, base, 2, np.float64)
    for j in range(2):
        c = base + j
        w = philox.block((c & 0xFFFFFFFF, c >> 32, 0, 0), (0xA4093822, 0x299F31D0))
        assert u[j] == ((int(w[0]) >> 5) * 2**26 + (int(w[1]) >> 6)) / 2**53


def test_uniform_numbers_from_the_published_block():
    """Element 0 of a draw with key 0 from counter 0 is the block of counter (0, 0, 0, 0) under key
    (0, 0), whose words Random123 publishes: 24 bits of the first for float32, 27 of the first
    and 26 of the second for float64."""
    w0, w1 = 0x6627E8D5, 0xE169C58D
    assert philox.uniform_twin(0, 0, 1, np.float32)[0] == np.float32((w0 >> 8) / 2**24)
    assert philox.uniform_twin(0, 0, 1, np.float64)[0] == ((w0 >> 5) * 2**26 + (w1 >> 6)) / 2**53


@pytest.mark.parametrize("dtype, bits", [(np.float32, 24), (np.float64, 53)])
def test_uniform_numbers(dtype, bits):
    u = philox.uniform_twin(12345, 0, 200_000, dtype)
    assert u.dtype == dtype
    assert u.min() >= 0 and u.max() < 1
    scaled = u.astype(np.float64) * 2.0**bits
    np.testing.assert_array_equal(scaled, np.floor(scaled))  # exactly `bits` bits of resolution
    assert (scaled % 2 == 1).any()  # and the lowest of them is used
    # mean and a chi-square over 20 bins: far inside what a uniform stream gives (p > 1e-6)
    assert abs(u.mean() - 0.5) < 5 * np.sqrt(1 / 12 / u.size)
    counts = np.bincount((u * 20).astype(int), minlength=20)
    chi2 = ((counts - u.size / 20) ** 2 / (u.size / 20)).sum()
    assert chi2 < 60
    # neighbours are uncorrelated
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 0.01


def test_different_keys_give_different_streams():
    a = philox.uniform_twin(1, 0, 1000, np.float64)
    b = philox.uniform_twin(2, 0, 1000, np.float64)
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.1 and not np.array_equal(a, b)


def test_generator_draws_consecutive_counters_and_round_trips_its_state():
    g = philox.PhiloxGenerator(99, np, counter=5)
    a = g.random((4, 3), dtype=np.float32)
    state = g.get_state()
    assert state == {"algorithm": "philox4x32-10", "key": 99, "counter": 17}
    b = g.random(6, dtype=np.float32)
    np.testing.assert_array_equal(np.concatenate([a.ravel(), b]), philox.uniform_twin(99, 5, 18, np.float32))
    g.set_state(state)
    np.testing.assert_array_equal(g.random(6, dtype=np.float32), b)
    assert isinstance(g.random(), float) or np.ndim(g.random()) == 0


@pytest.mark.parametrize("state, match", [
    ({"algorithm": "pcg64", "key": 1, "counter": 0}, "algorithm"),
    ({"algorithm": "philox4x32-10", "key": -1, "counter": 0}, r"state\['key'\]"),
    ({"algorithm": "philox4x32-10", "key": 1, "counter": 2**64}, r"state\['counter'\]"),
    ("nope", "get_state"),
])
def test_generator_rejects_bad_states(state, match):
    with pytest.raises(ValueError, match=match):
        philox.PhiloxGenerator(0, np).set_state(state)


def test_generator_rejects_bad_arguments():
    with pytest.raises(ValueError, match="key"):
        philox.PhiloxGenerator(-5, np)
    with pytest.raises(TypeError, match="dtype"):
        philox.PhiloxGenerator(1, np).random(3, dtype=np.int32)


def test_rng_state_carries_the_device_stream_through_a_cpu_process():
    """A GPU checkpoint's Philox state survives being loaded where no GPU stream exists yet."""
    set_random_seed(3)
    state = backend.get_rng_state()
    assert "device_noise" not in state
    state["device_noise"] = {"algorithm": "philox4x32-10", "key": 7, "counter": 1234}
    backend.set_rng_state(state)
    assert backend.get_rng_state()["device_noise"] == state["device_noise"]
    bad = dict(state, device_noise={"algorithm": "philox4x32-10", "key": "x", "counter": 0})
    with pytest.raises(ValueError, match="key"):
        backend.set_rng_state(bad)
    set_random_seed(3)  # a new seed starts the device stream afresh
    assert "device_noise" not in backend.get_rng_state()


def test_gpu_stream_resumes_from_its_saved_state(xp):
    set_random_seed(11)
    backend.noise_generator().random(100, dtype=np.float32)
    state = backend.get_rng_state()
    expected = backend.to_host(backend.noise_generator().random((8, 8), dtype=np.float32))
    set_random_seed(0)
    backend.set_rng_state(state)
    np.testing.assert_array_equal(backend.to_host(backend.noise_generator().random((8, 8), dtype=np.float32)), expected)
