"""The train step: one optimizer update on one batch, and the running loss and metrics.

fit builds a :class:`TrainStep` from the compiled model (its layers, loss and optimizer) and
calls it once per batch::

    step(x, y)  =  step.apply(step.gradients(x, y))
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

from .. import backend
from .. import ops
from ..autograd import Parameter, Tape, Tensor
from ..callbacks.base import LazyLogs
from ..interrupts import defer_interrupts
from ..metrics import Mean
from ..dtype_policies import float_output

__all__ = ["TrainStep", "TrainStepWrapper", "add_train_step_wrapper", "remove_train_step_wrapper", "wrap_train_step",
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

    ``step(x, y)`` updates the model from one batch of device arrays; ``step.logs()`` gives the
    running loss and metrics since :meth:`reset`, computed only when read.
    """

    def __init__(self, model, run_eagerly: bool = False, announce=None):
        self.model = model
        self.optimizer = model.optimizer
        self.run_eagerly = bool(run_eagerly)
        self.announce = announce  # called once with the reason when recording is impossible
        self.train_loss = Mean(name="loss")
        self.train_metrics = fresh_metrics(model.metrics)
        self.tape = None
        self.key = None
        self.checked: set = set()  # the batch sizes whose buffers were found to fit (for the graph of self.key)
        self.params: list = []
        self._one = None

    # -- what shapes the graph ------------------------------------------------------------------
    def fingerprint(self, x, y) -> tuple:
        """Everything a recorded graph depends on; cheap enough to compute at every step."""
        model = self.model
        loss = model.loss
        return (
            tuple([(id(layer), layer.graph_key()) for layer in model.layers]),
            model.trainable, Parameter.trainable_changes, id(loss), loss.graph_version, True,  # True: the training flag
            x.shape[1:], x.dtype, y.shape[1:], y.dtype,
        )

    def _plan(self) -> bool:
        """Take the model as it is now; True when its step may be recorded."""
        model = self.model
        self.loss = model.loss
        self.params = model.trainable_weights
        self.frozen = model.non_trainable_weights
        self.fused = model.output_is_fused()
        self.logits = self.fused or self.loss.from_logits
        self.tape = None
        if self.run_eagerly:
            return False
        refusals = [f"layer {layer.name!r} ({type(layer).__name__})" for layer in model.layers if not layer.recordable()]
        if not self.loss.supports_recording:
            refusals.append(f"the loss {type(self.loss).__name__}")
        if refusals:
            self._say(f"{', '.join(refusals)} do(es) not declare supports_recording")
        return not refusals

    def _say(self, reason: str) -> None:
        if self.announce is not None:
            self.announce(f"gpunet: every training step runs eagerly (slower): {reason}")
            self.announce = None  # once

    # -- the two halves -------------------------------------------------------------------------
    def _forward(self, x: Tensor, y: Tensor):
        model = self.model
        out = model.forward(x, training=True, logits=self.fused)
        loss = self.loss.compute(ops.cast(out, float_output(out.dtype)), y, self.logits)
        for penalty in model.losses:  # regularization, added to the loss as Keras does
            loss = loss + penalty
        return out, loss

    def gradients(self, x, y) -> list:
        """Forward, loss and backward on one batch; updates the running loss and metrics and
        returns one gradient array per parameter of :attr:`params` (``p.grad`` is set too)."""
        key = self.fingerprint(x, y)
        fresh = key != self.key
        if fresh or x.shape[0] not in self.checked:
            self._check_workspace(x)  # before anything of this batch runs
            self.checked = {x.shape[0]} if fresh else self.checked | {x.shape[0]}
        if fresh:
            self.key = key
            record = self._plan()
        else:
            record = False
        if self.tape is not None:
            out, loss = self.tape.forward(x, y)
            grads = self.tape.backward(self._seed(loss))
        else:
            out, loss, grads = self._eager(x, y, record)
        for p, g in zip(self.params, grads):
            p.grad = g
        self.train_loss.update_value(loss, x.shape[0])
        for metric in self.train_metrics:
            metric.update(out, y, self.logits)
        return grads

    def _check_workspace(self, x) -> None:
        """Refuse a batch whose buffers some layer cannot fit in memory before any layer runs
        (``model.check_workspace``): a replayed tape calls no layer, and a layer that refused it
        mid-forward would leave the layers before it (BatchNormalization's moving statistics)
        updated by a batch that is then refused."""
        check = getattr(self.model, "check_workspace", None)
        if check is not None:
            check(x.shape, x.dtype.itemsize, True, backend.get_array_module(x))

    def _eager(self, x, y, record: bool):
        inputs = (Tensor._result(x, None), Tensor._result(y, None))
        for p in self.params:
            p.grad = None
        if record:
            self.tape, (out, loss) = Tape.record(self._forward, inputs, self.params, self.frozen)
            if self.tape is not None:
                return out.data, loss.data, self.tape.backward(self._seed(loss.data))
            self._say(f"the recorded graph cannot be replayed ({Tape.last_refusal})")
        else:
            out, loss = self._forward(*inputs)
        if not loss.requires_grad:  # nothing to train (every layer frozen)
            return out.data, loss.data, []
        loss.backward(self._seed(loss.data))
        return out.data, loss.data, [p.grad for p in self.params]

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

    def __call__(self, x, y) -> None:
        self.apply(self.gradients(x, y))

    # -- running values -------------------------------------------------------------------------
    def reset(self) -> None:
        self.train_loss.reset()
        for m in self.train_metrics:
            m.reset()

    def logs(self) -> LazyLogs:
        """The running loss and metrics, each computed (a device sync on the GPU) only when read."""
        producers = {"loss": self.train_loss.result}
        producers.update((m.name, m.result) for m in self.train_metrics)
        return LazyLogs(producers)

    def report_logs(self) -> dict:
        """The running loss and metrics as a report gives them to the callbacks (a data-parallel
        wrapper combines them over the processes)."""
        return {key: float(value) for key, value in self.logs().items()}


class TrainStepWrapper:
    """Base of wrappers that change a train step between its two halves.

    Override :meth:`gradients` (call ``self.inner.gradients(x, y)``, transform the result) or
    :meth:`apply`; everything else is the inner step's.
    """

    def __init__(self, inner):
        self.inner = inner

    def gradients(self, x, y) -> list:
        return self.inner.gradients(x, y)

    def apply(self, grads) -> None:
        self.inner.apply(grads)

    def __call__(self, x, y) -> None:
        self.apply(self.gradients(x, y))

    def __getattr__(self, name):
        return getattr(self.inner, name)
