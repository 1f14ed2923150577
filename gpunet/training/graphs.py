"""A whole train step captured once as a CUDA graph and replayed for every full batch.

On a GPU a small model's step is a few hundred short kernels, and launching them from Python
costs more than running them. Once the tape has recorded the step, :class:`GraphedStep` captures
the step — forward, loss, backward, optimizer update, running loss and metrics — with CuPy's
stream capture into one CUDA graph, and from then on copies each full batch into fixed input
buffers and launches the graph: one launch per step.

Replaying is only right when nothing in the step depends on the host between steps, so capture
is attempted only when

* the backend is CuPy, the model's step records (no eager layers), and the batch is full;
* matrix products go through gpunet's own cuBLAS handle (:mod:`gpunet.gpu.blas`): CuPy 14's
  cuBLAS wrappers refuse to run while a stream captures, so where that handle cannot be had
  (no libcublas found), nothing is captured;
* the optimizer is ``graph_safe`` (its kernels read the learning rate from device memory and
  take only constants otherwise: SGD; Adam's bias corrections change every step) with no
  gradient clipping or transforms, and every metric is ``graph_safe`` (it adds into a device
  array in place);
* nothing in the step synchronises with the host (capture fails otherwise).

The learning rate is never part of a graph: the optimizer's kernels read it from a device
buffer, which the eager step writes before its update and :class:`GraphedStep` writes before
each replay, with the rate of that step (schedules and ``ReduceLROnPlateau`` included). The graph
is keyed on the step's fingerprint and what the optimizer's kernels take as constants
(:meth:`~gpunet.optimizers.Optimizer.graph_key`: momentum, decay, clipping, transforms): a change
re-captures, after checking again. Every failure falls back to the eager step, says why once,
and leaves the training state as it was (host-side counters are restored; a failed capture ran
no kernel). The host-side counters the step keeps (metric counts, the optimizer's iterations and
step counts) are advanced by the replays as the captured step advanced them. Arrays the
captured step allocates come from a memory pool of the graph's own, kept as long as the graph,
so no other allocation can reuse them; arrays it reads that were allocated before (weights,
slots, cached constants) must stay alive as long as the graph.

This is off unless asked for (``GPUNET_CUDA_GRAPHS=1`` or :func:`set_cuda_graphs`): it has not
yet run on a GPU. ``tests/training/test_graphs.py`` checks that replaying gives the eager
step's weights and History: bit for bit on the CPU emulation of CuPy (``tests/emulated_cupy``,
which records a capture's kernels and replays them, and refuses what CUDA and CuPy refuse during
a capture), and to float32 rounding on a GPU.
"""

from __future__ import annotations

import os

from .. import backend, tree
from ..data.structure import batch_count
from .step import TrainStepWrapper

__all__ = ["GraphedStep", "set_cuda_graphs", "cuda_graphs_enabled"]

_enabled: bool | None = None


def set_cuda_graphs(enabled: bool) -> None:
    """Capture and replay train steps as CUDA graphs on the GPU (see the module docstring)."""
    global _enabled
    if not isinstance(enabled, bool):
        raise TypeError(f"enabled must be True or False, got {enabled!r}")
    _enabled = enabled


def cuda_graphs_enabled() -> bool:
    if _enabled is not None:
        return _enabled
    return os.environ.get("GPUNET_CUDA_GRAPHS", "0") == "1"


def _blas():
    from ..gpu import blas  # noqa: PLC0415 - GPU only

    return blas


def graphs_possible() -> bool:
    """CUDA graphs may be used in this process: asked for, CuPy selected, and CuPy can capture."""
    if not cuda_graphs_enabled() or backend.name() != "cupy":
        return False
    cupy = backend.array_module()
    return hasattr(getattr(cupy.cuda, "Stream", None), "begin_capture")


class GraphedStep(TrainStepWrapper):
    """The inner step, replayed from a CUDA graph when it can be (see the module docstring)."""

    def __init__(self, inner, announce=None):
        super().__init__(inner)
        self.announce = announce
        self.refused = None  # why graphs are off for this step, once known
        self.graph = None
        self.stream = None  # the stream captures and replays run on (made at the first capture)
        self.key = None
        self.eager_steps = 0  # since the key last changed: capture after two (recorded, then replayed)
        self.deltas = None
        self.full_batch = None  # the batch size graphs are captured for (the first batch's)

    def _say(self, reason: str) -> None:
        if self.refused is None:
            self.refused = reason
            if self.announce is not None:
                self.announce(f"gpunet: train steps run without CUDA graphs: {reason}")

    def _why_not(self) -> str | None:
        step = self.inner
        optimizer = step.optimizer
        if not getattr(optimizer, "graph_safe", False):
            return f"the optimizer {type(optimizer).__name__} computes per-step values on the host"
        if optimizer.clipnorm or optimizer.clipvalue or optimizer.global_clipnorm or optimizer.gradient_transforms:
            return "gradient clipping and transforms are not captured"
        unsafe = [m.name for m in [step.train_loss, *step.train_metrics] if not getattr(m, "graph_safe", False)]
        if unsafe:
            return f"the metric(s) {', '.join(unsafe)} update on the host"
        blas = _blas()
        if not blas.capture_safe():
            return f"matrix products go through cupy.matmul, which a CUDA graph cannot capture ({blas.unavailable_reason()})"
        return None

    def __call__(self, x, y, sample_weight=None) -> None:
        step = self.inner
        if self.refused is not None:
            return step(x, y, sample_weight)
        count = batch_count(x)
        if self.full_batch is None:
            self.full_batch = count
        if count != self.full_batch:  # the last, smaller batch: eager, the graph kept
            return step(x, y, sample_weight)
        key = (step.fingerprint(x, y, sample_weight), step.optimizer.graph_key())
        if key != self.key:
            self.key, self.graph, self.eager_steps = key, None, 0
        if self.graph is not None:
            return self._replay((x, y, sample_weight))
        if self.eager_steps < 2 or step.tape is None:
            self.eager_steps += 1
            return step(x, y, sample_weight)
        reason = self._why_not()
        if reason is not None:
            self._say(reason)
            return step(x, y, sample_weight)
        self._capture((x, y, sample_weight))

    # -- host-side counters the step keeps --------------------------------------------------------
    def _counters(self) -> dict:
        step = self.inner
        metrics = step.trackers
        slots = step.optimizer._slots
        return {"metrics": [m.count for m in metrics], "iterations": step.optimizer.iterations,
                "steps": {name: s["step"] for name, s in slots.items()}}

    def _restore_counters(self, saved: dict) -> None:
        step = self.inner
        for metric, count in zip(step.trackers, saved["metrics"]):
            metric.count = count
        step.optimizer.iterations = saved["iterations"]
        for name, s in step.optimizer._slots.items():
            s["step"] = saved["steps"].get(name, s["step"])

    def _advance_counters(self) -> None:
        step = self.inner
        for metric, delta in zip(step.trackers, self.deltas["metrics"]):
            metric.count += delta
        step.optimizer.iterations += self.deltas["iterations"]
        for name, s in step.optimizer._slots.items():
            s["step"] += self.deltas["steps"].get(name, 0)

    # -- capture and replay -----------------------------------------------------------------------
    def _capture(self, batch) -> None:
        cupy = backend.array_module()
        step = self.inner
        pool = cupy.cuda.MemoryPool()
        if self.stream is None:  # capture on a stream of its own (CUDA forbids the legacy one), kept for every capture
            self.stream = cupy.cuda.Stream(non_blocking=True)
        stream = self.stream
        static = tree.map_structure(lambda a: None if a is None else cupy.empty_like(a), batch)
        stream.wait_event(cupy.cuda.get_current_stream().record())  # after the batch was gathered
        with cupy.cuda.using_allocator(pool.malloc), stream:
            _copy_into(static, batch)
            step(*static)  # this batch's real step, which also fills the graph's pool
        stream.synchronize()
        warm = self._counters()
        try:
            with cupy.cuda.using_allocator(pool.malloc), stream:
                _blas().prepare(stream)  # cuBLAS's handle on this stream before the capture begins
                stream.begin_capture()
                try:
                    step(*static)
                except BaseException:
                    try:  # end the broken capture; the step's own error is the one to report
                        stream.end_capture()
                    except Exception:  # noqa: BLE001, S110 - the capture is invalid anyway
                        pass
                    raise
                graph = stream.end_capture()
            after = self._counters()
        except Exception as exc:  # noqa: BLE001 - anything the capture cannot take: eager from now on
            self._restore_counters(warm)
            self._say(f"capture failed ({type(exc).__name__}: {exc})")
            return
        self.deltas = {"metrics": [a - b for a, b in zip(after["metrics"], warm["metrics"])],
                       "iterations": after["iterations"] - warm["iterations"],
                       "steps": {name: n - warm["steps"].get(name, n) for name, n in after["steps"].items()}}
        self._restore_counters(warm)  # the captured step ran no kernel: its counters count at each launch
        self.graph, self.pool = graph, pool
        self.static = static

    def _replay(self, batch) -> None:
        cupy = backend.array_module()
        default = cupy.cuda.get_current_stream()
        self.inner.optimizer.stage_learning_rate()  # this step's rate, read by the graph's update
        self.stream.wait_event(default.record())  # after the batch's gather and that write, on the default stream
        with self.stream:
            _copy_into(self.static, batch)
            self.graph.launch(self.stream)
        default.wait_event(self.stream.record())  # what follows (the next gather, a report) waits for the step
        self._advance_counters()


def _copy_into(static, batch) -> None:
    """Copy every array of ``batch`` into the graph's fixed buffer of the same place."""
    for target, source in zip(tree.flatten(static), tree.flatten(batch)):
        if target is not None:
            target[...] = source
