"""The train step: one optimizer update on one batch, and the running loss and metrics.

fit builds a :class:`TrainStep` from the compiled model (its layers, loss and optimizer) and
calls it once per batch::

    step(x, y, w) = step.apply(step.gradients(x, y, w))      (x, y, w: arrays or nests of arrays)
                   gradients: forward, loss, running metrics, backward  -> one gradient per parameter
                   apply:     optimizer.apply_gradients (its gradient transforms, then the update),
                              then each updated weight's constraint, in place (Keras's order)

A strategy changes what happens between the two halves by wrapping the step
(:class:`TrainStepWrapper`, registered with :func:`add_train_step_wrapper`): the data-parallel
wrapper averages the gradients over processes there. A model can also override
``train_step(data)`` altogether, as in Keras 3.

A model whose layers and loss all declare ``supports_recording`` has the same graph at every
step: the first step is recorded into a :class:`~gpunet.autograd.Tape` and later steps replay it
(bit for bit the numbers of eager autograd, at a fraction of the overhead). The recording is
keyed on a fingerprint of everything that shapes the graph — each layer's attributes (rates,
activations, ``trainable``), the loss, the inputs' shape apart from the batch dimension and their
dtype — so a change made during fit (by a callback, say) means a new recording, never a stale
replay. ``compile(run_eagerly=True)`` turns recording off.
"""

from __future__ import annotations

import copy

from .. import backend, tree
from ..autograd import Parameter, Tape, Tensor
from ..callbacks.base import LazyLogs
from ..data.structure import batch_count
from ..interrupts import defer_interrupts
from .arguments import output_activations

__all__ = ["TrainStep", "TrainStepWrapper", "step_gradients", "add_train_step_wrapper", "remove_train_step_wrapper", "wrap_train_step",
           "fresh_metrics"]

_WRAPPERS: list = []


def add_train_step_wrapper(wrapper) -> None:
    """Have every fit wrap its train step: ``wrapper(step) -> step`` (e.g. a :class:`TrainStepWrapper`
    subclass). Wrappers apply in the order they were added, the last one outermost."""
    if not callable(wrapper):
        raise TypeError(f"a train step wrapper must be callable as wrapper(step), got {type(wrapper).__name__}")
    _WRAPPERS.append(wrapper)


def remove_train_step_wrapper(wrapper) -> None:
    """Undo :func:`add_train_step_wrapper`."""
    _WRAPPERS.remove(wrapper)


def wrap_train_step(step):
    """``step`` wrapped by every registered wrapper."""
    for wrapper in _WRAPPERS:
        step = wrapper(step)
    return step


def fresh_metrics(metrics) -> list:
    """Independent, reset copies of compiled metrics (one set for training, one for dev)."""
    clones = []
    for metric in metrics:
        clone = copy.deepcopy(metric)
        clone.reset()
        clones.append(clone)
    return clones


class TrainStep:
    """One optimizer step of a compiled model; see the module docstring.

    ``step(x, y, sample_weight)`` updates the model from one batch of device arrays (each part
    an array or a nest of arrays, as the model's inputs and outputs are); ``step.logs()`` gives
    the running loss and metrics since :meth:`reset`, computed only when read.
    """

    def __init__(self, model, run_eagerly: bool = False, announce=None):
        self.model = model
        self.optimizer = model.optimizer
        self.run_eagerly = bool(run_eagerly)
        self.announce = announce  # called once with the reason when recording is impossible
        self.compiled = model.compiled_outputs
        self.trackers = self.compiled.trackers()  # the loss(es), then the metrics
        self.train_loss, self.train_metrics = self.trackers[0], self.trackers[1:]
        self.tape = None
        self.key = None
        self.checked: set = set()  # the batch sizes whose buffers were found to fit (for the graph of self.key)
        self.params: list = []
        self._one = None

    # -- what shapes the graph ------------------------------------------------------------------
    def fingerprint(self, x, y, sample_weight=None, data=None, shapes=None) -> tuple:
        """Everything a recorded graph depends on; cheap enough to compute at every step
        (``data``: the batch's arrays in flatten order, when the caller has them; ``shapes``: their
        per-sample shapes and dtypes, when the caller has those)."""
        model = self.model
        if shapes is None:
            if data is None:
                data = _flat(x, y, sample_weight)
            shapes = tuple([None if a is None else (a.shape[1:], a.dtype) for a in data])
        return (
            tuple([(id(layer), layer.graph_key()) for layer in model.layers]),
            model.trainable, Parameter.trainable_changes, self.compiled.graph_key(), True,  # True: the training flag
            shapes,
        )

    def _plan(self) -> bool:
        """Take the model as it is now; True when its step may be recorded."""
        model = self.model
        self.params = model.trainable_weights
        self.frozen = model.non_trainable_weights
        self.fused, self.logits = self.compiled.logits_flags(output_activations(model))
        self.fuse = self.fused if self.compiled.several else self.fused[0]
        entry = self.compiled.entries[0]
        self.plain = not self.compiled.several and entry.loss is not None and not any(w for _, w in entry.metrics)
        self.tape = None
        self.own_loss = model.overrides("compute_loss")
        if self.own_loss:  # the outputs as the model gives them: no loss is fused with them
            self.fused = [False] * len(self.fused)
            self.logits = [e.loss is not None and e.loss.from_logits for e in self.compiled.entries]
            self.fuse = self.fused if self.compiled.several else False
        if self.run_eagerly:
            return False
        refusals = [f"layer {layer.name!r} ({type(layer).__name__})" for layer in model.layers if not layer.recordable()]
        if self.own_loss:
            refusals.append(f"the model's own compute_loss ({type(model).__name__})")
        refusals += [f"the loss {type(e.loss).__name__}" for e in self.compiled.entries
                     if e.loss is not None and not e.loss.supports_recording]
        if refusals:
            self._say(f"{', '.join(refusals)} do(es) not declare supports_recording")
        return not refusals

    def _say(self, reason: str) -> None:
        if self.announce is not None:
            self.announce(f"gpunet: every training step runs eagerly (slower): {reason}")
            self.announce = None  # once

    # -- the two halves -------------------------------------------------------------------------
    def _forward(self, *arrays):
        """The forward pass and the loss on the batch's Tensors (in flatten order of the batch):
        returns the outputs, the outputs' losses, then the total loss (the last)."""
        x, y, weights = tree.pack_sequence_as(self.structure, _with_none(self.present, arrays))
        compiled, model = self.compiled, self.model
        if self.own_loss:  # Keras 3: a model's compute_loss forms the loss from its outputs
            y_pred = model.forward(x, training=True)
            loss = model.call_compute_loss(x, y, y_pred, weights, training=True)
            return (*tree.flatten(y_pred), *[None for e in compiled.entries if e.loss is not None], loss)
        outputs = tree.flatten(model.forward(x, training=True, logits=self.fuse))
        values = compiled.losses(outputs, compiled.align(y, "y"), compiled.align(weights, "sample_weight", True),
                                 self.logits)
        loss = compiled.total(values)
        for penalty in model.losses:  # regularization and add_loss terms, added to the loss as Keras does
            loss = penalty if loss is None else loss + penalty
        if loss is None:
            raise ValueError("there is no loss to minimise: compile the model with a loss, or have it add_loss() one")
        return (*outputs, *[v for v in values if v is not None], loss)

    def gradients(self, x, y, sample_weight=None) -> list:
        """Forward, loss and backward on one batch; updates the running loss and metrics and
        returns one gradient array per parameter of :attr:`params` (``p.grad`` is set too)."""
        if sample_weight is None and not isinstance(x, _NESTS) and not isinstance(y, _NESTS):
            present, arrays = _X_AND_Y, (x, y)  # the plain case: x and y arrays
            count = x.shape[0]
            if y is None:
                present, arrays = _X_ONLY, (x,)
            key = self.fingerprint(x, y, shapes=((x.shape[1:], x.dtype), None if y is None else (y.shape[1:], y.dtype),
                                                 None))
        else:
            flat = _flat(x, y, sample_weight)
            present = [a is not None for a in flat]
            arrays = [a for a in flat if a is not None]
            count = batch_count(x)
            key = self.fingerprint(x, y, sample_weight, flat)
        if key != self.key:
            self._check_workspace(x)  # before anything of this batch runs
            self.checked = {count}
            self.key = key
            record = self._plan()
        else:
            if count not in self.checked:
                self._check_workspace(x)
                self.checked.add(count)
            record = False
        self.structure, self.present = (x, y, sample_weight), present
        if self.tape is not None:
            results = self.tape.forward(*arrays)
            grads = self.tape.backward(self._seed(results[-1]))
        else:
            results, grads = self._eager(arrays, record)
        for p, g in zip(self.params, grads):
            p.grad = g
        if self.plain and sample_weight is None:  # one output, no weights: the loss tracker, then each metric
            self.train_loss.update_value(results[-1], count)
            for metric in self.train_metrics:
                metric.update(results[0], y, self.logits[0])
        else:
            self._track(results, y, sample_weight, count)
        return grads

    def _track(self, results, y, sample_weight, count) -> None:
        """Add the batch's losses and metrics to the running values (several outputs or sample
        weights; :meth:`gradients` does the plain case itself)."""
        compiled = self.compiled
        outputs = results[:len(compiled.entries)]
        values = iter(results[len(compiled.entries):-1])
        per_output = [None if e.loss is None else next(values) for e in compiled.entries]
        compiled.update_losses(self.trackers, results[-1], per_output, count)
        if len(self.trackers) > 1 + (len([v for v in per_output if v is not None]) if compiled.several else 0):
            compiled.update_metrics(self.trackers, outputs, compiled.align(y, "y"),
                                    compiled.align(sample_weight, "sample_weight", True), self.logits)

    def _check_workspace(self, x) -> None:
        """Refuse a batch whose buffers some layer cannot fit in memory before any layer runs
        (``model.check_workspace``): a replayed tape calls no layer, and a layer that refused it
        mid-forward would leave the layers before it (BatchNormalization's moving statistics)
        updated by a batch that is then refused."""
        check = getattr(self.model, "check_workspace", None)
        if check is not None and not tree.is_nested(x):
            check(x.shape, x.dtype.itemsize, True, backend.get_array_module(x))

    def _eager(self, arrays, record: bool):
        inputs = tuple(Tensor._result(a, None) for a in arrays)
        for p in self.params:
            p.grad = None
        if record:
            self.tape, results = Tape.record(self._forward, inputs, self.params, self.frozen)
            loss = results[-1]
            if self.tape is not None:
                return [None if t is None else t.data for t in results], self.tape.backward(self._seed(loss.data))
            self._say(f"the recorded graph cannot be replayed ({Tape.last_refusal})")
        else:
            results = self._forward(*inputs)
            loss = results[-1]
        if not loss.requires_grad:  # nothing to train (every layer frozen)
            return [None if t is None else t.data for t in results], []
        loss.backward(self._seed(loss.data))
        return [None if t is None else t.data for t in results], [p.grad for p in self.params]

    def _seed(self, loss):
        """The gradient backward starts from: 1, or the loss scale of a
        :class:`~gpunet.optimizers.LossScaleOptimizer` (mixed precision)."""
        seed_of = getattr(self.optimizer, "backward_seed", None)  # every gpunet optimizer has it
        seed = seed_of(loss) if seed_of is not None else None
        if seed is not None:
            return seed
        if self._one is None or self._one.dtype != loss.dtype:
            self._one = backend.get_array_module(loss).ones_like(loss)
        return self._one

    def apply(self, grads) -> None:
        """The optimizer's update from ``grads`` (aligned with :attr:`params`), then the weights'
        constraints (which the optimizer applies after the update, as Keras's does), all or nothing: an
        interrupt (Ctrl-C) arriving meanwhile takes effect once every parameter is updated."""
        with defer_interrupts():
            self.optimizer.apply_gradients(zip(grads, self.params))

    def __call__(self, x, y, sample_weight=None) -> None:
        self.apply(self.gradients(x, y, sample_weight))

    # -- running values -------------------------------------------------------------------------
    def reset(self) -> None:
        for m in self.trackers:
            m.reset()

    def logs(self) -> LazyLogs:
        """The running loss and metrics, each computed (a device sync on the GPU) only when read."""
        return LazyLogs({m.name: m.result for m in self.trackers})

    def report_logs(self) -> dict:
        """The running loss and metrics as a report gives them to the callbacks (a data-parallel
        wrapper combines them over the processes)."""
        return {key: float(value) for key, value in self.logs().items()}


def _flat(x, y, sample_weight) -> list:
    """The arrays of a batch in flatten order (None where a part is absent), quickly for plain arrays."""
    if isinstance(x, _NESTS) or isinstance(y, _NESTS) or isinstance(sample_weight, _NESTS):
        return tree.flatten((x, y, sample_weight))
    return [x, y, sample_weight]


_NESTS = (list, tuple, dict)
_X_AND_Y = [True, True, False]
_X_ONLY = [True, False, False]


def _with_none(present: list, arrays) -> list:
    """``arrays`` put back among the Nones of a batch's flattened structure."""
    arrays = iter(arrays)
    return [next(arrays) if here else None for here in present]


class TrainStepWrapper:
    """Base of wrappers that change a train step between its two halves.

    Override :meth:`gradients` (call ``self.inner.gradients(x, y)``, transform the result) or
    :meth:`apply`; everything else is the inner step's.
    """

    def __init__(self, inner):
        self.inner = inner

    def gradients(self, x, y, sample_weight=None) -> list:
        return step_gradients(self.inner, x, y, sample_weight)

    def apply(self, grads) -> None:
        self.inner.apply(grads)

    def __call__(self, x, y, sample_weight=None) -> None:
        self.apply(step_gradients(self, x, y, sample_weight))


    def __getattr__(self, name):
        return getattr(self.inner, name)


def step_gradients(step, x, y, sample_weight=None) -> list:
    """``step.gradients(x, y[, sample_weight])``: the weights are passed only when there are some,
    so that a wrapper written as ``gradients(self, x, y)`` keeps working on unweighted data."""
    if sample_weight is None:
        return step.gradients(x, y)
    return step.gradients(x, y, sample_weight)
