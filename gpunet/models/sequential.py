"""Sequential: a stack of layers with Keras's model API (structure, forward, weights, config).

Training (``compile``, ``fit``, ``evaluate``, ``predict``) comes from :class:`gpunet.training.Trainer`.
"""

from __future__ import annotations

import json
import numbers
import re

import numpy

from .. import activations, dtype_policies, regularizers
from .. import layers as layers_module
from ..autograd import Tensor, as_tensor
from ..backend import memory
from ..layers import Activation, Dense, InputLayer, Layer
from ..layers.base import normalize_shape
from ..saving import check_save_path, load_weights, read_training_state, save_model, save_weights
from ..saving.config import serialize_model
from ..training import Trainer

__all__ = ["Sequential"]


class Sequential(Trainer, Layer):
    """A linear stack of layers.

    >>> model = Sequential([Input((784,)), Dense(512, activation="relu"), Dropout(0.2),
    ...                     Dense(10, activation="softmax")])
    >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    >>> history = model.fit(x_train, y_train, epochs=20, validation_data=(x_dev, y_dev))

    The input shape comes from an ``Input`` first layer, a first layer's ``input_shape=``, or the
    first data the model sees; weights are created then.
    """

    def __init__(self, layers=None, trainable: bool = True, name: str | None = None):
        super().__init__(name=name, trainable=trainable)
        self._input_layer: InputLayer | None = None
        self.built = False
        self._init_trainer()
        if layers is not None:
            if isinstance(layers, Layer):
                layers = [layers]
            if not isinstance(layers, (list, tuple)):
                raise TypeError(f"layers must be a list of layers, got {type(layers).__name__}")
            for layer in layers:
                self.add(layer)

    # -- structure ------------------------------------------------------------------------------
    def add(self, layer: Layer, rebuild: bool = True) -> None:
        """Append a layer; an ``Input(shape=...)`` is accepted as the first one, as in Keras 3.
        (``rebuild`` is Keras's argument: weights are created as soon as the input shape is
        known either way.)"""
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects a gpunet layer, got {type(layer).__name__}")
        if not isinstance(rebuild, bool):
            raise ValueError(f"add: rebuild must be True or False, got {rebuild!r}")
        if isinstance(layer, Sequential):
            raise TypeError("a model inside a Sequential model is not supported yet: add its layers instead")
        if isinstance(layer, InputLayer):
            if self._layers or self._input_layer is not None:
                raise ValueError("an Input layer can only be the first layer of a Sequential model")
            self._input_layer = layer
            self.built = False
            return
        taken = {existing.name for existing in self._layers}
        if self._input_layer is not None:
            taken.add(self._input_layer.name)
        if layer.name in taken:
            raise ValueError(f"all layers of a Sequential model need unique names; {layer.name!r} is already used")
        if not self._layers and self._input_layer is None and layer.input_shape_hint is not None:
            self._input_layer = InputLayer(batch_shape=layer.input_shape_hint)
        self._layers.append(layer)
        self.built = False
        if self._input_layer is not None and all(l.built for l in self._layers[:-1]):
            self.build()

    def pop(self, rebuild: bool = True) -> Layer:
        """Remove and return the last layer; the model stays built when its other layers are
        (``rebuild=False`` marks it unbuilt until its next use, as in Keras)."""
        if not isinstance(rebuild, bool):
            raise ValueError(f"pop: rebuild must be True or False, got {rebuild!r}")
        if not self._layers:
            raise ValueError("there is no layer to remove: the model is empty")
        layer = self._layers.pop()
        self.compiled = self.compiled and bool(self._layers)
        self.built = rebuild and bool(self._layers) and self._input_layer is not None and all(l.built for l in self._layers)
        return layer

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """The layer called ``name``, or at position ``index`` of :attr:`layers` (the Input layer
        is not counted, as in Keras; negative indexes count from the end)."""
        if name is not None and index is not None:
            raise ValueError(f"get_layer: pass a layer name or an index, not both (got name={name!r}, index={index!r})")
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, numbers.Integral):
                raise TypeError(f"get_layer: index must be an integer, got {type(index).__name__}")
            if not -len(self._layers) <= index < len(self._layers):
                raise ValueError(f"get_layer: index {index} is out of range: the model has {len(self._layers)} layers")
            return self._layers[index]
        if name is not None:
            if not isinstance(name, str):
                raise TypeError(f"get_layer: name must be a string, got {type(name).__name__}")
            for layer in self._layers:
                if layer.name == name:
                    return layer
            raise ValueError(f"get_layer: no layer named {name!r}; the layers are {[layer.name for layer in self._layers]}")
        raise ValueError("get_layer: pass a layer name or an index")

    @property
    def layers(self) -> list:
        """The layers in order (the Input layer excluded, as in Keras)."""
        return list(self._layers)

    @property
    def input_shape(self):
        return None if self._input_layer is None else self._input_layer.batch_shape

    @property
    def output_shape(self):
        shape = self.input_shape
        if shape is None:
            return None
        for layer in self._layers:
            shape = layer.compute_output_shape(shape)
        return shape

    def build(self, input_shape=None) -> None:
        """Create every layer's weights for inputs of ``input_shape`` (batch dimension first)."""
        if input_shape is not None:
            shape = normalize_shape(tuple(input_shape), "input_shape")
            if self._input_layer is not None and tuple(self._input_layer.batch_shape[1:]) != shape[1:]:
                raise ValueError(f"input_shape {shape} does not match the model's input shape {self._input_layer.batch_shape}")
            if self._input_layer is None:
                self._input_layer = InputLayer(batch_shape=(None, *shape[1:]))
        if self._input_layer is None:
            raise ValueError("the model's input shape is unknown: add an Input layer, pass input_shape, or call the model on data")
        if not self._layers:
            raise ValueError("the model has no layers")
        shape = self._input_layer.batch_shape
        for layer in self._layers:
            layer.ensure_built(shape)
            shape = layer.compute_output_shape(shape)
        self.built = True

    # -- forward ------------------------------------------------------------------------------
    def __call__(self, x, training: bool = False) -> Tensor:
        """Run the layers on ``x`` (an array or Tensor); ``training`` turns dropout on."""
        x = as_tensor(x)
        if not self.built:
            self.build_from_data(x.shape)
        return self.forward(x, training)

    def build_from_data(self, data_shape) -> None:
        """Build for data of ``data_shape`` (the first dimension is the batch)."""
        if self._input_layer is None:
            if len(data_shape) < 2:
                raise ValueError(f"inputs must have a batch dimension and at least one feature dimension, got shape {tuple(data_shape)}")
            self.build((None, *data_shape[1:]))
        else:
            self.build()

    def forward(self, x: Tensor, training: bool = False, logits: bool = False) -> Tensor:
        """The forward pass; with ``logits=True`` the final softmax/sigmoid is left out. The
        layers' activity regularization terms of this pass are kept in :attr:`losses`."""
        layers = self._layers
        last = len(layers) - 1
        activity = []
        i = 0
        while i <= last:
            layer = layers[i]
            if logits and i == last:
                if isinstance(layer, Dense):
                    x = layer.call_linear(layer.cast_input(x))
                    break
                if isinstance(layer, Activation):
                    break
            if i < last and layers[i + 1].takes_over(layer):  # e.g. a max pooling before a convolution's bias
                i += 1
                layer, x = layers[i], layers[i].call_fused(layer, layer.cast_input(x), training)
            else:
                x = layer.apply_call(layer.cast_input(x), training)
            if layer.activity_regularizer is not None:
                activity.append(regularizers.activity_penalty(layer.activity_regularizer, x))
            i += 1
        self._activity_losses = activity
        return x

    def _workspace_plan(self, input_shape, itemsize: int) -> list:
        """``(layer, sample shape, itemsize, pool)`` for each layer that declares buffers
        (``workspace_bytes``: convolutions, pooling, padding, nested models), with the shape of
        its inputs for inputs of ``input_shape``, and the pooling computed in a convolution's own
        op when the next layer takes it over (as :meth:`forward` does)."""
        shape, layers, plan = tuple(input_shape), self._layers, []
        fused = False  # whether layers[i] runs inside the op of layers[i - 1]
        for i, layer in enumerate(layers):
            following = layers[i + 1] if i + 1 < len(layers) else None
            if hasattr(layer, "workspace_bytes") and not fused:
                size = layer.input_dtype
                size = size.itemsize if dtype_policies.is_low_precision(size) else itemsize
                fused = following is not None and following.takes_over(layer)
                pool = following.fused_pool() if fused and hasattr(following, "fused_pool") else None
                plan.append((layer, shape[1:], size, pool))
            else:
                fused = False
            shape = layer.compute_output_shape(shape)
        return plan

    @staticmethod
    def _plan_bytes(plan, batch: int, gradients: bool, host: bool) -> list:
        return [layer.workspace_bytes((batch, *shape), size, gradients, host, pool) for layer, shape, size, pool in plan]

    def workspace_bytes(self, input_shape, itemsize: int, gradients: bool = True, host: bool = True, pool=None) -> int:
        """About how many bytes the layers' buffers take for inputs of ``input_shape``: their sum
        with ``gradients`` (a training step keeps each layer's until backward), else the largest."""
        del pool  # a model is never computed inside a convolution's op
        sizes = self._plan_bytes(self._workspace_plan(input_shape, itemsize), input_shape[0], gradients, host)
        return sum(sizes) if gradients else max(sizes, default=0)

    def check_workspace(self, input_shape, itemsize: int, gradients: bool = True, xp=None, pool=None) -> None:
        """Refuse inputs of ``input_shape`` (batch first) for which the layers' buffers — a
        convolution's gathered windows, padded copies, pooling's buffers — exceed what the device
        of array module ``xp`` (None: the host) can hold, before any layer runs: a
        :class:`~gpunet.backend.WorkspaceError` naming the layer with the largest share, the
        batch size, the bytes needed and the largest batch that fits. fit's train step calls it
        for every new batch shape, so that a batch refused for its size changes nothing, not even
        BatchNormalization's moving statistics. (Each layer also checks its own buffers when it runs.)"""
        del pool
        plan = self._workspace_plan(input_shape, itemsize)
        if not plan:
            return
        host = xp is None or xp is numpy
        batch = input_shape[0]
        sizes = self._plan_bytes(plan, batch, gradients, host)
        largest, (layer, shape, _, _) = max(zip(sizes, plan), key=lambda pair: pair[0])
        what = f"{type(layer).__name__} layer {layer.name!r} on inputs of shape {tuple(shape)}"
        if gradients and len(plan) > 1:
            what += (f" ({memory.format_bytes(largest)}) together with the other convolution, pooling and padding "
                     f"layers of model {self.name!r} (a training step keeps their buffers until backward)")

        def estimate(n):
            sizes = self._plan_bytes(plan, n, gradients, host)
            return sum(sizes) if gradients else max(sizes)

        memory.check_workspace(estimate, batch, what, xp)

    def output_activation(self) -> str | None:
        """Name of the activation that ends the model (``"softmax"``, ``"sigmoid"``, ...), if any."""
        if not self._layers:
            return None
        last = self._layers[-1]
        if isinstance(last, (Dense, Activation)):
            try:
                return activations.serialize(last.activation)
            except ValueError:
                return None
        return None

    def output_is_fused(self) -> bool:
        """True when the loss takes this model's logits in place of its softmax/sigmoid output."""
        return (
            self.loss is not None
            and not self.loss.from_logits
            and self.loss.fuses_with is not None
            and self.output_activation() == self.loss.fuses_with
            and self._layers[-1].activity_regularizer is None  # it must see the probabilities
        )

    # -- weights -------------------------------------------------------------------------------
    # weights, trainable_weights, non_trainable_weights, trainable: from Layer (the model's layers
    # are its sub-layers)

    def count_params(self) -> int:
        """The number of weights' entries, trainable or not; as in Keras, an error before the
        model is built (its weights do not exist yet)."""
        if not self.built:
            raise ValueError(f"count_params: the model {self.name!r} is not built yet, so it has no weights; add an Input "
                             "layer, call model.build(input_shape) or run it on data first")
        return super().count_params()

    # -- files ----------------------------------------------------------------------------------
    def save(self, filepath, overwrite: bool = True, zipped=None, *, include_optimizer: bool = True) -> None:
        """Write the whole model (atomically): the architecture, the weights, the training config,
        the optimizer's state and, during fit, what an exact resumption needs. ``"m.keras"``
        writes Keras 3's zip archive, any other name (``"m.h5"``) Keras's legacy HDF5 layout;
        ``"m.weights.h5"`` is refused (Keras reads it as weights only). See ``docs/format.md``.

        Keras's arguments: ``overwrite=False`` refuses an existing file (``FileExistsError``;
        Keras asks on the terminal); ``zipped`` may be None or True (an unzipped ``.keras``
        folder is not supported). ``include_optimizer=False`` leaves the optimizer out (Keras's
        legacy ``.h5`` argument)."""
        save_model(self, filepath, overwrite, zipped, include_optimizer=include_optimizer)

    def check_save_path(self, filepath, template: bool = False, weights: bool = False) -> str:
        """Raise now the error that saving to ``filepath`` would raise (a name Keras would misread,
        a missing or read-only folder, a target that is not a regular file); with ``template=True``
        the name is filled in later and only its ending and folder are checked. ``weights=True``
        checks it for :meth:`save_weights` rather than :meth:`save`."""
        return check_save_path(filepath, template, weights)

    def save_weights(self, filepath, overwrite: bool = True, max_shard_size=None) -> None:
        """Write only the weights, atomically: ``"w.weights.h5"`` in Keras 3's layout (with the
        optimizer's variables when the model is compiled, as Keras writes them), any other name
        (``"w.h5"``) in Keras's legacy layout; a ``.keras`` name is refused. ``overwrite=False``
        refuses an existing file; ``max_shard_size`` (sharded files) must be None."""
        save_weights(self, filepath, overwrite, max_shard_size)

    def load_weights(self, filepath, skip_mismatch: bool = False) -> None:
        """Read weights from a gpunet or Keras file (``.keras``, ``.weights.h5`` or ``.h5``, told
        apart by their contents); shapes are checked before any is set. Keras 3's files also give
        a compiled model its optimizer's variables, as in Keras. ``skip_mismatch`` must be False:
        a file that does not fit the model is refused whole."""
        load_weights(self, filepath, skip_mismatch)

    def read_training_state(self, filepath) -> dict:
        """The training state a gpunet checkpoint (``.h5``) holds, without loading it: the
        optimizer's, the fit's (epoch, best weights, callbacks' counters) and the random streams;
        ``{}`` for a file that holds none. Restore it with ``load_weights`` then ``set_state``."""
        return read_training_state(filepath, model=self if self.built else None)

    # -- configuration --------------------------------------------------------------------------
    def get_config(self) -> dict:
        """Keras's Sequential config: name and the layers' class names and configs."""
        layers = [layers_module.serialize(self._input_layer)] if self._input_layer is not None else []
        layers += [layers_module.serialize(layer) for layer in self._layers]
        return {"name": self.name, "trainable": self.trainable, "layers": layers}

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        """Rebuild from :meth:`get_config` (or a Keras Sequential's config): gpunet's layers and
        registered ones only, nothing imported or evaluated; ``custom_objects`` maps class names
        to user classes, as in Keras."""
        if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
            raise ValueError("a Sequential config needs a 'layers' list")
        name = config.get("name")
        model = cls(name=name if isinstance(name, str) and name else None)
        for entry in config["layers"]:
            model.add(layers_module.deserialize(entry, custom_objects))
        build_shape = config.get("build_input_shape")
        if not model.built and model.input_shape is None and build_shape is not None:
            model.build(layers_module.serialization._shape(build_shape, "build_input_shape"))
        if config.get("trainable") is False:
            model.trainable = False
        return model

    def to_json(self, **kwargs) -> str:
        """The model's architecture as JSON: ``{"class_name": "Sequential", "config": ...}`` (a
        registered subclass also gets its ``registered_name``)."""
        return json.dumps(serialize_model(self), **kwargs)

    # -- summary --------------------------------------------------------------------------------
    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False, show_trainable=False,
                layer_range=None) -> None:
        """Print a table of the layers, their output shapes and parameter counts, then the totals.

        Keras 3's arguments: ``line_length`` (default 72), ``positions`` (where each column ends,
        as fractions of the line or in characters), ``print_fn`` (called with each line; default
        ``print``), ``show_trainable`` (a column saying whether each layer trains) and
        ``layer_range`` (``[first, last]`` layer names or patterns, both included; the totals
        still count the whole model). ``expand_nested`` has nothing to expand: gpunet models do
        not nest.
        """
        print_fn = print_fn or print
        if line_length is None:
            line_length = 72
        elif isinstance(line_length, bool) or not isinstance(line_length, numbers.Integral) or line_length < 20:
            raise ValueError(f"summary: line_length must be an integer >= 20, got {line_length!r}")
        for key, value in (("expand_nested", expand_nested), ("show_trainable", show_trainable)):
            if not isinstance(value, bool):
                raise ValueError(f"summary: {key} must be True or False, got {value!r}")
        header = ["Layer (type)", "Output Shape", "Param #"] + (["Trainable"] if show_trainable else [])
        shapes, shape = [], self.input_shape
        for layer in self._layers:
            shape = None if shape is None else layer.compute_output_shape(shape)
            shapes.append(shape)
        rows = []
        for layer, shape in zip(self._layers, shapes):
            row = [f"{layer.name} ({type(layer).__name__})", "?" if shape is None else str(tuple(shape)),
                   f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"]
            rows.append(row + (["Y" if layer.trainable else "N"] if show_trainable else []))
        first, last = _layer_range(self._layers, layer_range)
        rows = rows[first:last]
        widths = _column_widths(positions, line_length, len(header), max([0, *(len(row[0]) for row in rows)]) + 2)
        line_length = max(line_length, sum(widths[:-1]) + 12)
        rule = "_" * line_length
        lines = [f'Model: "{self.name}"', rule, _row(header, widths), "=" * line_length]
        for i, row in enumerate(rows):
            lines += [_row(row, widths), rule if i < len(rows) - 1 else "=" * line_length]
        if not rows:
            lines.append("=" * line_length)
        total = sum(int(p.size) for p in self.weights)
        trainable = sum(int(p.size) for p in self.trainable_weights)
        lines += [f"Total params: {total:,}", f"Trainable params: {trainable:,}", f"Non-trainable params: {total - trainable:,}", rule]
        for line in lines:
            print_fn(line)

    def __repr__(self):
        return f"<Sequential name={self.name!r} layers={len(self._layers)} built={self.built}>"


def _row(cells, widths) -> str:
    return "".join(f"{cell:<{width}}" for cell, width in zip(cells[:-1], widths)) + cells[-1]


def _column_widths(positions, line_length: int, columns: int, first_minimum: int) -> list:
    """The widths of a summary's columns but the last, from Keras's ``positions`` (the columns'
    right ends, as fractions of ``line_length`` when all are at most 1, else in characters)."""
    if positions is None:
        widths = [int(line_length * 0.45), int(line_length * 0.33)] + ([int(line_length * 0.14)] if columns == 4 else [])
    else:
        if not isinstance(positions, (list, tuple)) or len(positions) not in (columns - 1, columns) or not all(
                isinstance(p, numbers.Real) and not isinstance(p, bool) and p > 0 for p in positions):
            raise ValueError(f"summary: positions must list {columns} increasing positive numbers (the columns' "
                             f"right ends), got {positions!r}")
        ends = [p * line_length if all(q <= 1 for q in positions) else p for p in positions]
        if any(b <= a for a, b in zip(ends, ends[1:])):
            raise ValueError(f"summary: positions must be increasing, got {positions!r}")
        widths = [int(b - a) for a, b in zip([0, *ends], ends)][:columns - 1]
    widths[0] = max(widths[0], first_minimum)
    return widths


def _layer_range(layers, layer_range) -> tuple:
    """``(start, stop)`` of the layers that Keras's ``layer_range=[first, last]`` names: the first
    layer matching ``first`` (a name or a regular expression) to the last matching ``last``."""
    if layer_range is None:
        return 0, len(layers)
    if not isinstance(layer_range, (list, tuple)) or len(layer_range) != 2 or not all(isinstance(p, str) for p in layer_range):
        raise ValueError(f"summary: layer_range must be [first, last] layer names, got {layer_range!r}")
    found = [[i for i, layer in enumerate(layers) if re.match(pattern, layer.name)] for pattern in layer_range]
    if not found[0] or not found[1]:
        raise ValueError(f"summary: layer_range {list(layer_range)} does not match the layers {[l.name for l in layers]}")
    if min(found[0]) > max(found[1]):
        return min(found[1]), max(found[0]) + 1
    return min(found[0]), max(found[1]) + 1
