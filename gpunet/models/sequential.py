"""Sequential: a stack of layers with Keras's model API (structure, forward, weights, config).

Training (``compile``, ``fit``, ``evaluate``, ``predict``) comes from :class:`gpunet.training.Trainer`.
"""

from __future__ import annotations


import numpy

from .. import activations, dtype_policies, ops, regularizers
from .. import layers as layers_module
from ..autograd import Tensor, as_tensor
from ..backend import memory
from ..layers import Activation, Dense, InputLayer, Layer
from ..layers import base as layer_base
from ..layers.base import normalize_shape, runs_builtin
from ..layers.symbolic import KerasTensor
from .model import Model
from .summary import print_summary

__all__ = ["Sequential"]


class Sequential(Model):
    """A linear stack of layers.

    >>> model = Sequential([Input((784,)), Dense(512, activation="relu"), Dropout(0.2),
    ...                     Dense(10, activation="softmax")])
    >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    >>> history = model.fit(x_train, y_train, epochs=20, validation_data=(x_dev, y_dev))

    The input shape comes from an ``Input`` first layer, a first layer's ``input_shape=``, or the
    first data the model sees; weights are created then. A model (functional, subclassed or
    Sequential) may be one of the layers.
    """

    _auto_track = False  # the layers are those added

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
        if isinstance(layer, KerasTensor) and isinstance((layer._keras_history or (None,))[0], InputLayer):
            layer = layer._keras_history[0]  # gpunet.Input(...): its InputLayer, as Keras's Sequential takes it
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects a gpunet layer or gpunet.Input(...), got {type(layer).__name__}")
        if not isinstance(rebuild, bool):
            raise ValueError(f"add: rebuild must be True or False, got {rebuild!r}")
        if layer is self:
            raise ValueError("a Sequential model cannot be added to itself")
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
            self._input_layer = _implicit_input(layer, layer.input_shape_hint)
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
                self._input_layer = _implicit_input(self._layers[0] if self._layers else None, (None, *shape[1:]))
        if self._input_layer is None:
            raise ValueError("the model's input shape is unknown: add an Input layer, pass input_shape, or call the model on data")
        if not self._layers:
            raise ValueError("the model has no layers")
        shape = self._input_layer.batch_shape
        for layer in self._layers:
            layer.ensure_built(shape)
            shape = layer.compute_output_shape(shape)
        self.built = True

    def compute_output_shape(self, input_shape) -> tuple:
        shape = tuple(input_shape)
        for layer in self._layers:
            shape = layer.compute_output_shape(shape)
        return shape

    # -- forward ------------------------------------------------------------------------------
    def __call__(self, x, training=None, **kwargs) -> Tensor:
        """Run the layers on ``x`` (an array or Tensor); ``training`` turns dropout on. On a
        symbolic tensor (``gpunet.Input``) the call is recorded in the functional graph."""
        if ops.symbolic_dispatch.active and ops.symbolic_dispatch.holds((x,), kwargs):
            from ..layers.symbolic import call_layer  # noqa: PLC0415
            return call_layer(self, (x,), {**kwargs, **({} if training is None else {"training": training})})
        kwargs.pop("mask", None)
        if kwargs:
            raise TypeError(f"Sequential model {self.name!r} got unexpected keyword argument(s): {', '.join(sorted(kwargs))}")
        if training is None:
            training = layer_base._frames[-1].training if layer_base._frames else False
        x = as_tensor(x)
        if not self.built:
            self.build_from_data(x.shape)
        return self.forward(x, bool(training))

    def call(self, inputs, training=False):
        return self.forward(as_tensor(inputs), training)

    def build_from_data(self, data_shape) -> None:
        """Build for data of ``data_shape`` (the first dimension is the batch; a one-element
        list of shapes, the training path's form for one input, is taken too)."""
        if isinstance(data_shape, (list, tuple)) and len(data_shape) == 1 and isinstance(data_shape[0], (list, tuple)):
            data_shape = data_shape[0]
        if self._input_layer is None:
            if len(data_shape) < 2:
                raise ValueError(f"inputs must have a batch dimension and at least one feature dimension, got shape {tuple(data_shape)}")
            self.build((None, *data_shape[1:]))
        else:
            self.build()

    def forward(self, x: Tensor, training: bool = False, logits: bool = False) -> Tensor:
        """The forward pass; with ``logits=True`` the final softmax/sigmoid is left out. The
        layers' activity regularization terms of this pass are kept in :attr:`losses`."""
        if isinstance(logits, (list, tuple)):
            logits = bool(logits and logits[0])
        layers = self._layers
        last = len(layers) - 1
        activity = []
        outer = layer_base._frames[-1] if layer_base._frames else None
        mask = getattr(x, "_keras_mask", None) if isinstance(x, Tensor) else None
        with layer_base.collect_losses(training) as added:  # add_loss calls inside the layers
            i = 0
            while i <= last:
                layer = layers[i]
                if logits and i == last and runs_builtin(layer):
                    if isinstance(layer, Dense):
                        x = layer.call_linear(layer.cast_input(x))
                        break
                    if isinstance(layer, Activation):
                        break
                if i < last and layers[i + 1].takes_over(layer):  # e.g. a max pooling before a convolution's bias
                    i += 1
                    layer, x = layers[i], layers[i].call_fused(layer, layer.cast_input(x), training)
                elif mask is not None or layer.makes_masks:  # a mask rides along (Embedding(mask_zero)...)
                    x_in = layer.cast_input(x)
                    if mask is not None and layer.call_takes_mask:
                        x = layer.call(x_in, training=training, mask=mask) if layer.call_takes_training \
                            else layer.call(x_in, mask=mask)
                    else:
                        x = layer.apply_call(x_in, training)
                    mask = layer.compute_mask(x_in, mask)
                    layer_base.attach_mask(x, mask)
                else:
                    x = layer.apply_call(layer.cast_input(x), training)
                if layer.activity_regularizer is not None:
                    activity.append(regularizers.activity_penalty(layer.activity_regularizer, x))
                i += 1
        activity += added
        if outer is None:
            self.__dict__["_activity_losses"] = activity
        elif outer.keep:
            outer.losses.extend(activity)
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
        if isinstance(last, (Dense, Activation)) and runs_builtin(last):
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

    # -- the symbolic graph (Keras's Sequential is a functional model once its input is known) -----
    def _symbolic(self):
        """``(input, output)`` KerasTensors of the layers called in turn on the Input, traced once
        per list of layers: what ``inputs``, ``outputs`` and each layer's ``output`` give."""
        if self._input_layer is None:
            raise ValueError(f"the Sequential model {self.name!r} has no defined input yet: start it with "
                             "gpunet.Input(shape) (or build it) before asking for its inputs or outputs")
        key = tuple(id(layer) for layer in self._layers)
        if self.__dict__.get("_graph_key") != key:
            start = self._input_layer.output
            x = start
            for layer in self._layers:
                x = layer(x)
            self.__dict__["_graph"], self.__dict__["_graph_key"] = (start, x), key
        return self.__dict__["_graph"]

    @property
    def inputs(self) -> list:
        return [self._symbolic()[0]]

    @property
    def outputs(self) -> list:
        return [self._symbolic()[1]]

    @property
    def input(self):
        return self._symbolic()[0]

    @property
    def output(self):
        return self._symbolic()[1]

    def get_layer(self, name=None, index=None):
        layer = super().get_layer(name, index)
        if self._input_layer is not None and not layer.__dict__.get("_inbound_nodes"):
            try:  # its symbolic output, for feature extraction (Model(model.inputs, layer.output))
                self._symbolic()
            except (TypeError, ValueError):
                pass
        return layer

    # -- the interface of the training path (gpunet.models.model) --------------------------------
    @property
    def output_names(self) -> list:
        return [self._layers[-1].name] if self._layers else []

    def output_activations(self) -> list:
        return [self.output_activation()]

    def flat_input_shapes(self) -> list:
        return [self.input_shape]

    def flat_output_shapes(self) -> list:
        return [self.output_shape]

    def flat_input_dtypes(self):
        if self._input_layer is None and self._layers and getattr(self._layers[0], "takes_integer_inputs", False):
            return ["int32"]  # no Input, an Embedding first: integer ids stay integers (Keras's int32)
        dtype = None if self._input_layer is None else self._input_layer.dtype
        return None if dtype is None else [str(dtype)]

    def input_structure(self):
        return None if self._input_layer is None else self._input_layer.name

    def output_structure(self):
        return self._layers[-1].name if self._layers else None

    def recordable(self) -> bool:
        return all(layer.recordable() for layer in self._layers)

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

    # -- summary --------------------------------------------------------------------------------
    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False, show_trainable=False,
                layer_range=None) -> None:
        """Print a table of the layers, their output shapes and parameter counts, then the totals.

        Keras 3's arguments: ``line_length`` (default 72), ``positions`` (where each column ends,
        as fractions of the line or in characters), ``print_fn`` (called with each line; default
        ``print``), ``show_trainable`` (a column saying whether each layer trains) and
        ``layer_range`` (``[first, last]`` layer names or patterns, both included; the totals
        still count the whole model); ``expand_nested`` lists a nested model's layers under it.
        """
        print_summary(self, self._summary_entries(), line_length, positions, print_fn, expand_nested, show_trainable,
                      layer_range)

    def _summary_entries(self) -> list:
        """``(layer, output shape, None)`` for each row of the summary."""
        shapes, shape = [], self.input_shape
        for layer in self._layers:
            shape = None if shape is None else layer.compute_output_shape(shape)
            shapes.append(shape)
        return [(layer, shape, None) for layer, shape in zip(self._layers, shapes)]

    def __repr__(self):
        return f"<Sequential name={self.name!r} layers={len(self._layers)} built={self.built}>"


def _implicit_input(first, batch_shape) -> InputLayer:
    """The Input a model without one gets from its data's shape: integer (int32, the ids Keras's
    Embedding casts to) when the first layer takes integer ids, so that they are never made floats."""
    integer = getattr(first, "takes_integer_inputs", False)
    return InputLayer(batch_shape=batch_shape, dtype="int32" if integer else None)
