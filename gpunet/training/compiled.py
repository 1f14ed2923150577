"""What ``compile`` asked for, matched to a model's outputs: losses, loss weights and metrics.

A model may have one output or several (a list, a tuple or a dict of outputs). Keras 3's rules,
which this module follows:

- ``loss``: one loss (applied to every output), a list with one entry per output (in the order
  of ``model.output_names``), or a dict keyed by output name (an output left out, or mapped to
  None, has no loss); ``loss_weights`` likewise (default 1 each). The loss is the weighted sum.
- ``metrics`` / ``weighted_metrics``: for one output, a list of metrics; for several, a list with
  one entry (a metric or a list of them) per output, or a dict keyed by output name.
  ``weighted_metrics`` are given the sample weights, ``metrics`` are not.
- ``y`` and ``sample_weight`` come as the outputs do: one array for one output, a list in output
  order, or a dict keyed by output name (one ``sample_weight`` array weighs every output).
- Logs: ``loss``; with several outputs also ``<output>_loss`` for each output with a loss; each
  metric under its name, prefixed by ``<output>_`` when there are several outputs.

:class:`CompiledOutputs` holds the matched entries; the train step, the evaluation and a user's
``compute_loss`` / ``compute_metrics`` all go through it, so the loss is formed in one place.
"""

from __future__ import annotations

import copy

from .. import backend, ops
from .. import losses as losses_module
from .. import metrics as metrics_module
from .. import tree
from ..autograd import Tensor
from ..dtype_policies import float_output
from ..metrics import Mean

__all__ = ["CompiledOutputs", "OutputEntry", "CompileMetrics", "flatten_logs"]


class OutputEntry:
    """One output's part of the compiled configuration."""

    def __init__(self, index: int, name: str, loss, weight: float):
        self.index, self.name, self.loss, self.weight = index, name, loss, weight
        self.metrics: list = []  # (metric, weighted)


def _per_output(value, names: list, what: str, nested: bool) -> list:
    """``value`` (one thing, a list with one entry per output, or a dict by output name) as a list
    aligned with ``names``. ``nested`` (metrics): for one output, a list is that output's list."""
    count = len(names)
    if isinstance(value, dict):
        unknown = [key for key in value if key not in names]
        if unknown:
            raise ValueError(f"compile: {what} names output(s) {unknown} that the model does not have; its outputs are {names}")
        return [value.get(name) for name in names]
    if nested and count == 1:
        return [value]
    if isinstance(value, (list, tuple)):
        if len(value) != count:
            raise ValueError(f"compile: {what} is a list of {len(value)} entries, but the model has {count} output(s) "
                             f"{names}: give one entry per output, or a dict keyed by output name")
        return list(value)
    if nested:
        raise ValueError(f"compile: {what} for a model with {count} outputs {names} must be a list with one entry per "
                         f"output (a metric or a list of metrics) or a dict keyed by output name, got {value!r}")
    return [value] * count


def _metric_list(entry, what: str) -> list:
    if entry is None:
        return []
    if isinstance(entry, (str, metrics_module.Metric)) or callable(entry) or isinstance(entry, dict):
        return [entry]
    if isinstance(entry, (list, tuple)):
        return list(entry)
    raise TypeError(f"compile: {what} must be metrics (names, functions or Metric objects), got {type(entry).__name__}")


class CompiledOutputs:
    """compile's ``loss``, ``loss_weights``, ``metrics`` and ``weighted_metrics``, matched to the
    model's outputs by :meth:`build` (at compile when the outputs are known, else on the first
    batch)."""

    def __init__(self, loss, loss_weights=None, metrics=None, weighted_metrics=None):
        self.loss_argument = loss
        self.loss_weights = loss_weights
        self.metrics_argument = metrics
        self.weighted_metrics_argument = weighted_metrics
        self.entries: list | None = None
        self.names: list | None = None
        # a single loss given as one object: resolved now, so that compile refuses a bad one at once
        self.single_loss = None if loss is None or isinstance(loss, (list, tuple, dict)) else losses_module.get(loss)

    def replace_loss(self, loss) -> None:
        """Give every output ``loss`` (one loss for the whole model)."""
        self.loss_argument = self.single_loss = loss
        if self.entries is not None:
            for i, entry in enumerate(self.entries):
                entry.loss = loss if i == 0 else copy.deepcopy(loss)
                for metric, _ in entry.metrics:
                    metric.bind(entry.loss)
            self._losses = [e.loss for e in self.entries if e.loss is not None]

    def wants_targets(self) -> bool:
        """Whether some output has a loss or a metric (then batches need ``y``)."""
        if self.entries is None:
            return self.loss_argument is not None or bool(self.metrics_argument) or bool(self.weighted_metrics_argument)
        return any(e.loss is not None or e.metrics for e in self.entries)

    @property
    def built(self) -> bool:
        return self.entries is not None

    @property
    def several(self) -> bool:
        return len(self.entries) > 1

    def build(self, output_names: list) -> None:
        """Match everything to the outputs called ``output_names`` (flat order)."""
        names = list(output_names)
        if len(set(names)) != len(names):
            raise ValueError(f"the model's output names must be unique to compile per-output losses, got {names}")
        losses = _per_output(self.loss_argument, names, "loss", nested=False)
        if self.loss_argument is None:
            losses = [None] * len(names)  # the model forms its loss itself (add_loss, or its own train_step)
        elif self.single_loss is not None:
            losses = [self.single_loss if i == 0 else copy.deepcopy(self.single_loss) for i in range(len(names))]
        else:
            losses = [None if item is None else losses_module.get(item) for item in losses]
        if self.loss_argument is not None and all(item is None for item in losses):
            raise ValueError(f"compile: the loss gives no output a loss (outputs {names})")
        weights = [1.0] * len(names) if self.loss_weights is None else _per_output(self.loss_weights, names,
                                                                                    "loss_weights", nested=False)
        for name, weight in zip(names, weights):
            if weight is None:
                continue
            if isinstance(weight, bool) or not isinstance(weight, (int, float)):
                raise TypeError(f"compile: the loss weight of output {name!r} must be a number, got {weight!r}")
        entries = [OutputEntry(i, name, loss, 1.0 if weight is None else float(weight))
                   for i, (name, loss, weight) in enumerate(zip(names, losses, weights))]
        several = len(names) > 1
        counts: dict = {}  # Keras's naming: a repeated name gets _1, _2...; a weighted one "weighted_" first
        flat = []
        for argument, weighted in ((self.metrics_argument, False), (self.weighted_metrics_argument, True)):
            if argument is None:
                continue
            what = "weighted_metrics" if weighted else "metrics"
            if not several and isinstance(argument, dict):
                argument = _per_output(argument, names, what, nested=True)[0]
            for entry, given in zip(entries, _per_output(argument, names, what, nested=True)):
                for identifier in _metric_list(given, what):
                    metric = metrics_module.get(identifier, entry.loss)
                    if any(metric is m for _, m, _ in flat):
                        metric = copy.deepcopy(metric)
                    prefix = f"{entry.name}_" if several else ""
                    base = metric.__dict__.setdefault("_compiled_base_name", metric.name)  # before any renaming
                    name = prefix + base
                    if name in counts and weighted:
                        name = f"{prefix}weighted_{base}"
                    if name in counts:
                        counts[name] += 1
                        name = f"{name}_{counts[name] - 1}"
                    else:
                        counts[name] = 1
                    metric.name = name
                    entry.metrics.append((metric, weighted))
                    flat.append((entry, metric, weighted))
        self.entries, self.names, self.flat_metrics = entries, names, flat
        self._losses = [e.loss for e in entries if e.loss is not None]

    def graph_key(self) -> tuple:
        """What a recorded train step depends on here: each loss's configuration version (a number
        no other object or configuration ever has, so it names the loss object too; the outputs'
        losses and weights are fixed when compile matches them)."""
        losses = self._losses
        return losses[0].graph_version if len(losses) == 1 else tuple([loss.graph_version for loss in losses])

    # -- what the logs hold ------------------------------------------------------------------------
    def metric_list(self) -> list:
        """The compiled metrics in log order (Keras's: every output's unweighted metrics, then the
        weighted ones)."""
        return [m for _, m, _ in self.flat_metrics]

    def log_names(self) -> list:
        """The keys of a training log, in Keras's order: the loss, the outputs' losses, the metrics."""
        names = ["loss"] + ([f"{e.name}_loss" for e in self.entries if e.loss is not None] if self.several else [])
        return names + [m.name for m in self.metric_list()]

    def trackers(self) -> list:
        """Fresh ``Mean`` trackers for the losses :meth:`log_names` lists, and fresh copies of the
        metrics: what one pass (training, or one evaluation) accumulates into."""
        trackers = [Mean(name="loss")]
        if self.several:
            trackers += [Mean(name=f"{e.name}_loss") for e in self.entries if e.loss is not None]
        for metric in self.metric_list():
            clone = copy.deepcopy(metric)
            clone.reset()
            trackers.append(clone)
        return trackers

    # -- matching data to outputs --------------------------------------------------------------------
    def align(self, value, what: str, broadcast: bool = False) -> list:
        """``y`` or ``sample_weight`` (one array, a list in output order, or a dict by output name)
        as a list aligned with the outputs; ``broadcast``: one array serves every output."""
        names = self.names
        if len(names) == 1 and not isinstance(value, (list, tuple, dict)):
            return [value]
        if value is None:
            return [None] * len(names)
        if isinstance(value, dict):
            unknown = [key for key in value if key not in names]
            if unknown:
                raise ValueError(f"{what} names output(s) {unknown} that the model does not have; its outputs are {names}")
            return [value.get(name) for name in names]
        if isinstance(value, (list, tuple)) and len(names) > 1:
            if len(value) != len(names):
                raise ValueError(f"{what} has {len(value)} entries, but the model has {len(names)} outputs {names}")
            return list(value)
        if isinstance(value, (list, tuple)) and len(value) == 1 and len(names) == 1 and tree.is_nested(value):
            return [value[0]]
        if len(names) > 1 and not broadcast:
            raise ValueError(f"{what} must be a list or a dict with one entry per output for a model with "
                             f"{len(names)} outputs {names}")
        return [value] * len(names)

    def logits_flags(self, activations: list) -> tuple[list, list]:
        """Per output: whether the model hands the loss its logits (``fused``: the output's final
        softmax/sigmoid left out, as the loss computes it from the logits more stably), and
        whether the loss receives logits (``fused`` or the loss's own ``from_logits``)."""
        fused, logits = [], []
        for entry, activation in zip(self.entries, activations):
            loss = entry.loss
            f = (loss is not None and not loss.from_logits and loss.fuses_with is not None
                 and activation == loss.fuses_with)
            fused.append(f)
            logits.append(f or (loss is not None and loss.from_logits))
        return fused, logits

    # -- the loss and the metrics ---------------------------------------------------------------------
    def losses(self, outputs: list, targets: list, weights: list, logits: list) -> list:
        """Each output's loss (a scalar Tensor, or None for an output without one), unweighted
        by ``loss_weights``: targets are device arrays or Tensors, sample weights arrays or None."""
        values = []
        for entry, out, target, weight, lg in zip(self.entries, outputs, targets, weights, logits):
            loss = entry.loss
            if loss is None:
                values.append(None)
                continue
            if target is None:
                raise ValueError(f"output {entry.name!r} has a loss but no target was given for it")
            out = ops.cast(out, float_output(out.dtype))
            target = target if isinstance(target, Tensor) else Tensor._result(target, None)
            if weight is None:
                values.append(loss.compute(out, target, lg))
            else:
                weight = weight if isinstance(weight, Tensor) else Tensor._result(weight, None)
                values.append(loss.reduce(loss.compute_per_sample(out, target, lg), weight, loss.mask(target)))
        return values

    def total(self, values: list) -> Tensor:
        """The weighted sum of the outputs' losses."""
        total = None
        for entry, value in zip(self.entries, values):
            if value is None:
                continue
            term = value if entry.weight == 1.0 else value * entry.weight
            total = term if total is None else total + term
        return total

    def update_metrics(self, trackers: list, outputs: list, targets: list, weights: list, logits: list) -> None:
        """Add a batch to the metric trackers (``trackers[len(log losses):]``, in
        :meth:`metric_list` order): each metric of each output sees that output's raw values."""
        position = 1 + (sum(e.loss is not None for e in self.entries) if self.several else 0)
        for metric, (entry, _, weighted) in zip(trackers[position:], self.flat_metrics):
            i = entry.index
            out, target, weight = outputs[i], targets[i], weights[i]
            out_data = out.data if isinstance(out, Tensor) else out
            target_data = target.data if isinstance(target, Tensor) else target
            given = getattr(entry, "target_ndim", None)
            if given and target_data is not None and target_data.ndim < given and metric.keras_style:
                target_data = target_data.reshape(target_data.shape + (1,) * (given - target_data.ndim))  # (N, 1) labels
            if weighted and weight is not None:
                w = weight.data if isinstance(weight, Tensor) else weight
                metric.update(out_data, target_data, logits[i], backend.on_device_of(w, out_data))
            else:
                metric.update(out_data, target_data, logits[i])

    def update_losses(self, trackers: list, total, values: list, count: int) -> None:
        """Add a batch's losses (host or device scalars) to the loss trackers, weighted by its size."""
        trackers[0].update_value(total, count)
        if self.several:
            position = 1
            for value in values:
                if value is not None:
                    trackers[position].update_value(value, count)
                    position += 1


class CompileMetrics(metrics_module.Metric):
    """Keras 3's ``compile_metrics`` entry of ``model.metrics``: the compiled metrics as one
    object, for a user's ``train_step``/``test_step``. ``update_state(y, y_pred, sample_weight)``
    adds a batch of the model's outputs (not logits) to every compiled metric of every output;
    ``result()`` is ``{metric name: value}``."""

    loadable = False  # fit's own object: files never name it

    name = "compile_metrics"

    def __init__(self, model):  # noqa: D107 - a view of the model's compiled metrics, no state of its own
        self.model = model
        self.dtype = None

    @property
    def _compiled(self) -> CompiledOutputs:
        return self.model.compiled_outputs

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        compiled = self._compiled
        outputs = [o.data if isinstance(o, Tensor) else o for o in tree.flatten(y_pred)]
        targets = compiled.align(y_true, "y")
        weights = compiled.align(sample_weight, "sample_weight", True)
        for entry, metric, weighted in compiled.flat_metrics:
            target, weight = targets[entry.index], weights[entry.index]
            metric.update_state(target.data if isinstance(target, Tensor) else target, outputs[entry.index],
                                weight if weighted else None)

    def result(self) -> dict:
        return {m.name: m.result() for m in self._compiled.metric_list()}

    def reset(self) -> None:
        if getattr(self, "model", None) is not None:
            for metric in self._compiled.metric_list():
                metric.reset()

    def reset_state(self) -> None:
        self.reset()


def flatten_logs(logs) -> dict:
    """Logs with a dict value (``compile_metrics``'s result) spread into the top level."""
    flat = {}
    for key, value in logs.items():
        if isinstance(value, dict):
            flat.update(flatten_logs(value))
        else:
            flat[key] = value
    return flat
