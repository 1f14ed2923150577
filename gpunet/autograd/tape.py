"""A recorded graph replayed step after step: the same ops, without rebuilding the graph.

Eager autograd rebuilds the graph at every step: a Tensor and a Function object per op, a
topological sort, a dictionary of gradients. For a network whose graph has the same shape at
every step (a Sequential model of gpunet's own layers) that work can be done once. A
:class:`Tape` records the Functions of one forward pass — the course's "lazy graph, which allows
forward-pass optimization" — and then runs each step by calling the *same* Function objects'
``forward`` and ``backward`` on the new arrays, in the recorded order. The numbers are those of
eager autograd, bit for bit (the same op code runs in the same order); only the bookkeeping is
gone. Random ops (dropout) draw fresh noise at every replay, as they would eagerly.

Only graphs whose structure cannot change between steps may be taped, and whose every
computation on the step's inputs goes through ops: a value computed from an input with plain
array code would be recorded as a constant and go stale (a view of an input is detected and
refused, arithmetic is not). Layers and losses declare whether they keep that contract
(``supports_recording``); the training step tapes only models whose every part does, and keys
each recording on a fingerprint of what shapes the graph (see :class:`GraphConfig`), so that a
change made during training means a new recording, never a stale replay.
"""

from __future__ import annotations

import itertools

from .. import backend
from . import function as function_module

__all__ = ["Tape", "GraphConfig"]

_versions = itertools.count(1)


class GraphConfig:
    """Base of objects whose attributes shape a recorded graph (layers, losses).

    Every attribute assignment gives the object a new ``graph_version``, a number never used
    before: a Dropout's ``rate``, a Dense's ``activation``, a layer's ``trainable``... A tape
    recorded under some versions is replayed only while they are unchanged. (Changing an
    attribute's contents in place, such as appending to a list, is not seen: assign instead.)
    """

    graph_version = 0

    def __setattr__(self, name, value):
        super().__setattr__(name, value)
        super().__setattr__("graph_version", next(_versions))


class _Recorder:
    """Collects (function, input tensors, output tensor) while a forward pass runs."""

    def __init__(self):
        self.calls = []

    def __call__(self, fn, inputs, output):
        self.calls.append((fn, inputs, output))


class Tape:
    """The Functions of one forward pass, with where each input comes from.

    Slots hold the arrays of a step: first the step's inputs (data, targets), then the
    parameters, the constants met while recording, and each Function's output.
    """

    def __init__(self, nodes, template, param_slots, weight_slots, output_slots, needs):
        self.nodes = nodes  # [(function, input slots, output slot)] in forward order
        self.template = template  # per slot: the constant array, or None
        self.param_slots = param_slots  # [(slot, parameter)] whose gradients are returned
        self.weight_slots = weight_slots  # [(slot, weight)] every weight, read afresh at each step
        self.output_slots = output_slots
        self.needs = needs  # per slot: does a gradient have to flow into it?
        # ready(i, grad), when set, is told during backward as soon as the gradient of the i-th
        # parameter is final (a data-parallel step starts summing it over processes then)
        self.ready = None
        self._finals = None

    @classmethod
    def record(cls, fn, inputs, params, frozen=()):
        """Run ``fn(*inputs)`` once, eagerly, and record its graph.

        ``inputs`` are Tensors standing for the step's varying arrays; ``params`` the Parameters
        whose gradients are wanted; ``frozen`` the other weights the pass reads (non-trainable
        ones, updated in place between steps); ``fn`` returns a tuple of Tensors, the last one the loss.
        Returns ``(tape, outputs)``: the forward pass has really run (with its eager graph, so
        the caller may still back-propagate eagerly), and ``tape`` is None, with the reason in
        ``cls.last_refusal``, when the graph cannot be replayed safely.
        """
        recorder = _Recorder()
        previous = function_module._recorder
        function_module._recorder = recorder
        try:
            outputs = fn(*inputs)
        finally:
            function_module._recorder = previous
        try:
            return cls._build(recorder.calls, inputs, params, frozen, outputs), outputs
        except ValueError as exc:
            cls.last_refusal = str(exc)
            return None, outputs

    last_refusal = None

    @classmethod
    def _build(cls, calls, inputs, params, frozen, outputs):
        slots = {id(t): i for i, t in enumerate(inputs)}
        keep = list(inputs)  # ids are only unique among live objects
        weight_slots = []
        for p in (*params, *frozen):
            slots[id(p)] = len(keep)
            weight_slots.append((len(keep), p))
            keep.append(p)
        param_slots = weight_slots[: len(params)]
        input_arrays = [t.data for t in inputs]
        template = {}
        nodes = []
        for function, fn_inputs, out in calls:
            in_slots = []
            for t in fn_inputs:
                slot = slots.get(id(t))
                if slot is None:  # neither an input, a parameter nor an earlier output: a constant
                    if t.requires_grad:
                        raise ValueError(f"{type(function).__name__} uses a tensor that requires grad but is not a parameter")
                    xp = backend.get_array_module(t.data)
                    if any(xp.may_share_memory(t.data, a) for a in input_arrays):
                        raise ValueError(f"{type(function).__name__} uses an array derived from the inputs outside the recorded ops")
                    slot = len(keep)
                    slots[id(t)] = slot
                    keep.append(t)
                    template[slot] = t.data
                in_slots.append(slot)
            slots[id(out)] = len(keep)
            keep.append(out)
            nodes.append((function, tuple(in_slots), slots[id(out)]))
        output_slots = []
        for out in outputs:
            slot = slots.get(id(out))
            if slot is None:
                raise ValueError("an output was not produced by the recorded operations")
            output_slots.append(slot)
        needs = [False] * len(keep)
        for slot, _ in param_slots:
            needs[slot] = True
        for _, in_slots, out_slot in nodes:  # a slot needs a gradient if any input does
            if any(needs[s] for s in in_slots):
                needs[out_slot] = True
        values = [None] * len(keep)
        for slot, array in template.items():
            values[slot] = array
        for function, _, _ in nodes:
            function.inputs = None  # the eager graph's tensors are not needed by the tape
        return cls(nodes, values, param_slots, weight_slots, output_slots, needs)

    def forward(self, *arrays) -> list:
        """Run the recorded forward pass on new input arrays; returns the outputs' arrays."""
        values = self.template.copy()
        values[: len(arrays)] = arrays
        for slot, weight in self.weight_slots:
            values[slot] = weight.data
        for function, in_slots, out_slot in self.nodes:
            values[out_slot] = function.forward(*[values[s] for s in in_slots])
        return [values[s] for s in self.output_slots]

    def final_after(self) -> dict:
        """``{node index: [parameter indices]}``: the parameters whose gradient is final once
        backward has run that node (the first node, in forward order, that reads them)."""
        if self._finals is None:
            first = {}
            for k, (_, in_slots, _) in enumerate(self.nodes):
                for slot in in_slots:
                    first.setdefault(slot, k)
            finals: dict = {}
            for i, (slot, _) in enumerate(self.param_slots):
                if slot in first:
                    finals.setdefault(first[slot], []).append(i)
            self._finals = finals
        return self._finals

    def backward(self, grad) -> list:
        """Back-propagate ``grad`` (the gradient of the last output) through the last forward
        pass; returns the parameters' gradients, in the order given to :meth:`record`. When
        :attr:`ready` is set, it is called with each parameter's index and gradient as soon as
        that gradient is final (parameters no node reads are not reported)."""
        grads = [None] * len(self.template)
        grads[self.output_slots[-1]] = grad
        needs = self.needs
        ready = self.ready
        finals = self.final_after() if ready is not None else None
        param_slots = self.param_slots
        k = len(self.nodes)
        for function, in_slots, out_slot in reversed(self.nodes):
            k -= 1
            g = grads[out_slot]
            if g is not None:
                grads[out_slot] = None
                for slot, gi in zip(in_slots, function.backward(g)):
                    if gi is None or not needs[slot]:
                        continue
                    grads[slot] = gi if grads[slot] is None else grads[slot] + gi
            if finals is not None and k in finals:
                for i in finals[k]:
                    ready(i, grads[param_slots[i][0]])
        return [grads[slot] for slot, _ in param_slots]
