"""Sequential: a stack of layers with Keras's model API (structure, forward, weights, config).

Training (``compile``, ``fit``, ``evaluate``, ``predict``) comes from :class:`gpunet.training.Trainer`.
"""

from __future__ import annotations

import json

from .. import activations, regularizers
from .. import layers as layers_module
from ..autograd import Tensor, as_tensor
from ..layers import Activation, Dense, InputLayer, Layer
from ..layers.base import normalize_shape
from ..saving import check_save_path, load_weights, save_model, save_weights
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

    def __init__(self, layers=None, name: str | None = None, trainable: bool = True):
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
    def add(self, layer: Layer) -> None:
        """Append a layer (an ``Input`` is accepted only first)."""
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects a gpunet layer, got {type(layer).__name__}")
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

    def pop(self) -> Layer:
        """Remove and return the last layer."""
        if not self._layers:
            raise ValueError("there is no layer to remove: the model is empty")
        layer = self._layers.pop()
        self.compiled = self.compiled and bool(self._layers)
        self.built = bool(self._layers) and self._input_layer is not None and all(l.built for l in self._layers)
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
                    x = layer.call_linear(x)
                    break
                if isinstance(layer, Activation):
                    break
            if i < last and layers[i + 1].takes_over(layer):  # e.g. a max pooling before a convolution's bias
                i += 1
                layer, x = layers[i], layers[i].call_fused(layer, x, training)
            else:
                x = layer.call(x, training)
            if layer.activity_regularizer is not None:
                activity.append(regularizers.activity_penalty(layer.activity_regularizer, x))
            i += 1
        self._activity_losses = activity
        return x

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
    # weights, trainable_weights, non_trainable_weights, trainable, count_params: from Layer (the
    # model's layers are its sub-layers)

    # -- files ----------------------------------------------------------------------------------
    def save(self, filepath, include_optimizer: bool = True) -> None:
        """Write the whole model to an HDF5 file in Keras's ``.h5`` layout (atomically): the
        architecture, the weights, the training config, the optimizer's state and, during fit,
        what an exact resumption needs. See ``docs/format.md``."""
        save_model(self, filepath, include_optimizer=include_optimizer)

    def check_save_path(self, filepath, template: bool = False) -> str:
        """Raise now the error that saving to ``filepath`` would raise (a name Keras would misread,
        a missing or read-only folder, a target that is not a regular file); with ``template=True``
        the name is filled in later and only its ending and folder are checked."""
        return check_save_path(filepath, template)

    def save_weights(self, filepath) -> None:
        """Write only the weights (Keras's ``.h5`` weights layout), atomically."""
        save_weights(self, filepath)

    def load_weights(self, filepath) -> None:
        """Read weights from a gpunet or Keras ``.h5`` file; shapes are checked before any is set."""
        load_weights(self, filepath)

    # -- configuration --------------------------------------------------------------------------
    def get_config(self) -> dict:
        """Keras's Sequential config: name and the layers' class names and configs."""
        layers = [layers_module.serialize(self._input_layer)] if self._input_layer is not None else []
        layers += [layers_module.serialize(layer) for layer in self._layers]
        return {"name": self.name, "trainable": self.trainable, "layers": layers}

    @classmethod
    def from_config(cls, config: dict):
        """Rebuild from :meth:`get_config` (or a Keras Sequential's config): gpunet's layers and
        registered ones only, nothing imported or evaluated."""
        if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
            raise ValueError("a Sequential config needs a 'layers' list")
        name = config.get("name")
        model = cls(name=name if isinstance(name, str) and name else None)
        for entry in config["layers"]:
            model.add(layers_module.deserialize(entry))
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
    def summary(self, print_fn=None, line_length: int = 72) -> None:
        """Print a table of layers, output shapes and parameter counts (Keras's layout)."""
        print_fn = print_fn or print
        names = [f"{layer.name} ({type(layer).__name__})" for layer in self._layers]
        widths = (max([int(line_length * 0.45), *(len(n) + 2 for n in names)]), int(line_length * 0.33))
        line_length = max(line_length, widths[0] + widths[1] + 12)
        rule = "_" * line_length
        rows = [f'Model: "{self.name}"', rule, _row(("Layer (type)", "Output Shape", "Param #"), widths), "=" * line_length]
        shape = self.input_shape
        for i, layer in enumerate(self._layers):
            if shape is not None:
                shape = layer.compute_output_shape(shape)
            shape_text = "?" if shape is None else str(tuple(shape))
            params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
            rows.append(_row((f"{layer.name} ({type(layer).__name__})", shape_text, params), widths))
            rows.append(rule if i < len(self._layers) - 1 else "=" * line_length)
        if not self._layers:
            rows.append("=" * line_length)
        total = self.count_params()
        trainable = sum(int(p.size) for p in self.trainable_weights)
        rows += [f"Total params: {total:,}", f"Trainable params: {trainable:,}", f"Non-trainable params: {total - trainable:,}", rule]
        for line in rows:
            print_fn(line)

    def __repr__(self):
        return f"<Sequential name={self.name!r} layers={len(self._layers)} built={self.built}>"


def _row(cells, widths) -> str:
    first, second = widths
    name, shape, params = cells
    return f"{name:<{first}}{shape:<{second}}{params}"

