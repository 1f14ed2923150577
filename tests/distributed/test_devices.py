"""The choice between NCCL and host staging, from the facts every rank gathered: in process, on
hand-written facts (the multi-rank runs are in ``test_shared_device.py``)."""

from __future__ import annotations

import pytest

from gpunet import distributed
from gpunet.distributed.devices import choose_transport, nccl_mode, shared_devices


def gpu(host="node1", device=0, uuid=None, pci=None, nccl=True, backend="cupy"):
    return {"host": host, "backend": backend, "nccl": nccl, "device": device, "uuid": uuid, "pci": pci}


ONE_GPU_EACH = [gpu(device=0, uuid="aa", pci=(0, 1, 0)), gpu(device=1, uuid="bb", pci=(0, 2, 0))]
TWO_ON_ONE = [gpu(device=0, uuid="aa", pci=(0, 1, 0)), gpu(device=0, uuid="aa", pci=(0, 1, 0))]


@pytest.mark.parametrize("every, groups", [
    (ONE_GPU_EACH, []),
    (TWO_ON_ONE, [[0, 1]]),
    # CUDA_VISIBLE_DEVICES renumbers: device 0 of both ranks, two GPUs
    ([gpu(device=0, uuid="aa", pci=(0, 1, 0)), gpu(device=0, uuid="bb", pci=(0, 2, 0))], []),
    # ... or device 0 and device 1 of two ranks, one GPU
    ([gpu(device=0, uuid="aa", pci=(0, 1, 0)), gpu(device=1, uuid="aa", pci=(0, 1, 0))], [[0, 1]]),
    # MIG slices of one GPU: UUIDs of their own, one PCI address
    ([gpu(uuid="m1", pci=(0, 1, 0)), gpu(uuid="m2", pci=(0, 1, 0))], [[0, 1]]),
    # one PCI address on two machines is two GPUs
    ([gpu("node1", pci=(0, 1, 0)), gpu("node2", pci=(0, 1, 0))], []),
    # neither UUID nor PCI address known: the device's number on its host decides
    ([gpu("node1", 0), gpu("node1", 0), gpu("node2", 0), gpu("node1", 1)], [[0, 1]]),
    # four ranks on two GPUs of one machine, five on three
    ([gpu(uuid="aa"), gpu(uuid="bb"), gpu(uuid="aa"), gpu(uuid="bb")], [[0, 2], [1, 3]]),
    ([gpu(uuid="a"), gpu(uuid="b"), gpu(uuid="c"), gpu(uuid="a"), gpu(uuid="b")], [[0, 3], [1, 4]]),
    # ranks linked through different names form one group
    ([gpu(uuid="a", pci=(0, 1, 0)), gpu(uuid="a", pci=(0, 2, 0)), gpu(uuid="c", pci=(0, 2, 0))], [[0, 1, 2]]),
    # CPU ranks hold no device
    ([gpu(backend="numpy", device=None), gpu(backend="numpy", device=None)], []),
])
def test_ranks_that_hold_one_device_are_found(every, groups):
    assert shared_devices(every) == groups


def test_one_gpu_per_rank_with_nccl_everywhere_chooses_nccl():
    assert choose_transport("auto", ONE_GPU_EACH) == ("nccl", None)
    assert choose_transport("on", ONE_GPU_EACH) == ("nccl", None)
    assert choose_transport("off", ONE_GPU_EACH) == ("mpi", None)


def test_ranks_sharing_a_gpu_stage_through_host_memory_with_a_note_that_says_why_and_what_to_do():
    transport, note = choose_transport("auto", TWO_ON_ONE + [gpu(device=1, uuid="cc")])
    assert transport == "mpi"
    assert "ranks 0 and 1 share one GPU of node1" in note and "rank 2" not in note
    assert "NCCL needs a GPU of its own for each rank" in note
    assert "as many ranks per machine as it has GPUs" in note and "GPUNET_NCCL=off" in note
    assert choose_transport("off", TWO_ON_ONE) == ("mpi", None)  # asked for: nothing to explain


def test_nccl_on_refuses_ranks_sharing_a_gpu():
    with pytest.raises(RuntimeError, match=r"GPUNET_NCCL=on .*demands NCCL.*ranks 0 and 1 share one GPU"):
        choose_transport("on", TWO_ON_ONE)


def test_nccl_missing_on_some_rank_means_host_staging_for_all():
    partly = [gpu(uuid="aa"), gpu(uuid="bb", nccl=False)]
    transport, note = choose_transport("auto", partly)
    assert transport == "mpi" and "CuPy has no NCCL on rank 1" in note and "nvidia-nccl" in note
    nowhere = [gpu(uuid="aa", nccl=False), gpu(uuid="bb", nccl=False)]
    assert choose_transport("auto", nowhere) == ("mpi", None)  # the documented default: no note
    with pytest.raises(RuntimeError, match="CuPy has no NCCL on rank 1.*nvidia-nccl"):
        choose_transport("on", partly)


def test_a_rank_that_computes_on_the_cpu_means_mpi_for_all():
    mixed = [gpu(uuid="aa"), gpu(backend="numpy", device=None)]
    assert choose_transport("auto", mixed) == ("mpi", None)
    with pytest.raises(RuntimeError, match="the backend of rank 1 is numpy"):
        choose_transport("on", mixed)


def test_the_mode_comes_from_the_argument_then_the_environment():
    assert nccl_mode(None, {}) == "auto"
    assert nccl_mode(None, {"GPUNET_NCCL": ""}) == "auto"
    assert nccl_mode(None, {"GPUNET_NCCL": " Off "}) == "off"
    assert nccl_mode(None, {"GPUNET_NCCL": "on"}) == "on"
    assert nccl_mode(True, {"GPUNET_NCCL": "off"}) == "on"
    assert nccl_mode(False, {"GPUNET_NCCL": "on"}) == "off"


@pytest.mark.parametrize("nccl, environ, error, name", [
    ("yes", {}, TypeError, "nccl"), (1, {}, TypeError, "nccl"),
    (None, {"GPUNET_NCCL": "1"}, ValueError, "GPUNET_NCCL"),
    (None, {"GPUNET_NCCL": "maybe"}, ValueError, "GPUNET_NCCL"),
])
def test_bad_modes_are_refused_naming_the_argument(nccl, environ, error, name):
    with pytest.raises(error, match=name):
        nccl_mode(nccl, environ)
    with pytest.raises(ValueError, match="mode"):
        choose_transport("sometimes", ONE_GPU_EACH)


def test_init_checks_its_nccl_argument_in_a_world_of_one_too(monkeypatch):
    monkeypatch.delenv("GPUNET_NCCL", raising=False)
    with pytest.raises(TypeError, match="nccl"):
        distributed.init(nccl="on")
    assert not distributed.is_initialized()
    monkeypatch.setenv("GPUNET_NCCL", "sometimes")
    with pytest.raises(ValueError, match="GPUNET_NCCL"):
        distributed.init()
    assert not distributed.is_initialized()
    monkeypatch.setenv("GPUNET_NCCL", "on")  # a world of one has nothing to send: no NCCL needed
    try:
        assert distributed.init(nccl=None).size == 1
    finally:
        distributed.shutdown()
