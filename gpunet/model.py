"""Sequential: a stack of layers with Keras's model API (structure, forward, weights, config)."""

from __future__ import annotations

import json

import numpy

from . import activations, backend
from . import losses as losses_module
from . import metrics as metrics_module
from . import optimizers as optimizers_module
from .autograd import Tensor, as_tensor
from .layers import Activation, Dense, InputLayer, Layer
from .layers.base import normalize_shape, unique_name

__all__ = ["Sequential"]


class Sequential:
    """A linear stack of layers.

    >>> model = Sequential([Input((784,)), Dense(512, activation="relu"), Dropout(0.2),
    ...                     Dense(10, activation="softmax")])
    >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    >>> history = model.fit(x_train, y_train, epochs=20, validation_data=(x_dev, y_dev))

    The input shape comes from an ``Input`` first layer, a first layer's ``input_shape=``, or the
    first data the model sees; weights are created then.
    """

    def __init__(self, layers=None, name: str | None = None, trainable: bool = True):
        if name is not None and (not isinstance(name, str) or not name):
            raise ValueError(f"name must be a non-empty string, got {name!r}")
        self.name = name or unique_name("sequential")
        self.trainable = bool(trainable)
        self._layers: list[Layer] = []
        self._input_layer: InputLayer | None = None
        self.built = False
        self.stop_training = False
        self.compiled = False
        self.optimizer = None
        self.loss = None
        self.metrics: list = []
        self.history = None
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
            self._build_from_data(x.shape)
        return self.forward(x, training)

    def _build_from_data(self, data_shape) -> None:
        if self._input_layer is None:
            if len(data_shape) < 2:
                raise ValueError(f"inputs must have a batch dimension and at least one feature dimension, got shape {tuple(data_shape)}")
            self.build((None, *data_shape[1:]))
        else:
            self.build()

    def forward(self, x: Tensor, training: bool = False, logits: bool = False) -> Tensor:
        """The forward pass; with ``logits=True`` the final softmax/sigmoid is left out."""
        layers = self._layers
        last = len(layers) - 1
        for i, layer in enumerate(layers):
            if logits and i == last:
                if isinstance(layer, Dense):
                    return layer.call_linear(x)
                if isinstance(layer, Activation):
                    return x
            x = layer.call(x, training)
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

    # -- weights -------------------------------------------------------------------------------
    @property
    def weights(self) -> list:
        return [p for layer in self._layers for p in layer.weights]

    @property
    def trainable_weights(self) -> list:
        if not self.trainable:
            return []
        return [p for layer in self._layers for p in layer.trainable_weights]

    @property
    def non_trainable_weights(self) -> list:
        if not self.trainable:
            return self.weights
        return [p for layer in self._layers for p in layer.non_trainable_weights]

    def count_params(self) -> int:
        return sum(layer.count_params() for layer in self._layers)

    def get_weights(self) -> list:
        """Every weight as a host NumPy array, in Keras order (per layer: kernel, then bias)."""
        return [backend.to_host(p.data).copy() for p in self.weights]

    def set_weights(self, weights) -> None:
        """Assign weights given in :meth:`get_weights`'s order; shapes are checked first."""
        params = self.weights
        weights = list(weights)
        if len(weights) != len(params):
            raise ValueError(f"set_weights expected {len(params)} arrays, got {len(weights)}")
        arrays = []
        for p, w in zip(params, weights):
            w = numpy.asarray(backend.to_host(w))
            if w.dtype.kind not in "fiu":
                raise TypeError(f"weight for {p.name!r} must be numeric, got dtype {w.dtype}")
            if w.shape != p.shape:
                raise ValueError(f"weight for {p.name!r} has shape {w.shape}, expected {p.shape}")
            if not numpy.all(numpy.isfinite(w)):
                raise ValueError(f"weight for {p.name!r} contains NaN or infinity")
            arrays.append(w)
        for p, w in zip(params, arrays):
            p.data[...] = backend.to_device(w.astype(p.dtype, copy=False))

    # -- compile --------------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, **kwargs) -> None:
        """Choose the optimizer, the loss and the metrics, by name or object.

        ``metrics=["accuracy"]`` picks the accuracy that fits the loss (sparse labels, one-hot or
        binary). A softmax (sigmoid) output followed by a cross-entropy loss is computed as one
        stable log-softmax (log-sigmoid) from the logits.
        """
        unsupported = {k for k, v in kwargs.items() if v is not None and k not in ("run_eagerly", "jit_compile", "steps_per_execution", "auto_scale_loss")}
        if unsupported:
            raise TypeError(f"compile got unsupported argument(s): {', '.join(sorted(unsupported))}")
        if loss is None:
            raise ValueError("compile needs a loss, e.g. loss='sparse_categorical_crossentropy'")
        optimizer = optimizers_module.get(optimizer)
        loss = losses_module.get(loss)
        if metrics is None:
            metrics = []
        if isinstance(metrics, (str, metrics_module.Metric)):
            metrics = [metrics]
        if not isinstance(metrics, (list, tuple)):
            raise TypeError(f"metrics must be a list of names or Metric objects, got {type(metrics).__name__}")
        metric_objects = [metrics_module.get(m, loss) for m in metrics]
        names = [m.name for m in metric_objects]
        if len(set(names)) != len(names) or "loss" in names:
            raise ValueError(f"metric names must be unique and differ from 'loss', got {names}")
        self.optimizer, self.loss, self.metrics = optimizer, loss, metric_objects
        self._metric_identifiers = list(metrics)
        self.compiled = True

    def output_is_fused(self) -> bool:
        """True when the loss takes this model's logits in place of its softmax/sigmoid output."""
        return (
            self.loss is not None
            and not self.loss.from_logits
            and self.loss.fuses_with is not None
            and self.output_activation() == self.loss.fuses_with
        )

    # -- training, evaluation, prediction (gpunet.training) ---------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, initial_epoch=0, validation_freq=1, validations_per_epoch=1,
            restore_best=True, validation_batch_size=None, best_checkpoint=None):
        """Train; see :func:`gpunet.training.fit`."""
        from .training import fit  # noqa: PLC0415 - training sits above the model

        return fit(self, x, y, batch_size=batch_size, epochs=epochs, verbose=verbose, callbacks=callbacks,
                   validation_split=validation_split, validation_data=validation_data, shuffle=shuffle,
                   initial_epoch=initial_epoch, validation_freq=validation_freq,
                   validations_per_epoch=validations_per_epoch, restore_best=restore_best,
                   validation_batch_size=validation_batch_size, best_checkpoint=best_checkpoint)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", return_dict=False, callbacks=None):
        """Loss and metrics on (x, y); see :func:`gpunet.training.evaluate`."""
        from .training import evaluate  # noqa: PLC0415

        return evaluate(self, x, y, batch_size=batch_size, verbose=verbose, return_dict=return_dict, callbacks=callbacks)

    def predict(self, x, batch_size=None, verbose=0):
        """The model's outputs for ``x`` as a host NumPy array; see :func:`gpunet.training.predict`."""
        from .training import predict  # noqa: PLC0415

        return predict(self, x, batch_size=batch_size)

    # -- files ----------------------------------------------------------------------------------
    def save(self, filepath, include_optimizer: bool = True) -> None:
        """Write the whole model to an HDF5 file in Keras's ``.h5`` layout (atomically): the
        architecture, the weights, the training config, the optimizer's state and, during fit,
        what an exact resumption needs. See ``docs/format.md``."""
        from .saving import save_model  # noqa: PLC0415 - saving sits above the model

        save_model(self, filepath, include_optimizer=include_optimizer)

    def save_weights(self, filepath) -> None:
        """Write only the weights (Keras's ``.h5`` weights layout), atomically."""
        from .saving import save_weights  # noqa: PLC0415

        save_weights(self, filepath)

    def load_weights(self, filepath) -> None:
        """Read weights from a gpunet or Keras ``.h5`` file; shapes are checked before any is set."""
        from .saving import load_weights  # noqa: PLC0415

        load_weights(self, filepath)

    # -- configuration --------------------------------------------------------------------------
    def get_config(self) -> dict:
        """Keras's Sequential config: name and the layers' class names and configs."""
        layers = []
        if self._input_layer is not None:
            layers.append({"class_name": "InputLayer", "config": self._input_layer.get_config()})
        for layer in self._layers:
            layers.append({"class_name": type(layer).__name__, "config": layer.get_config()})
        return {"name": self.name, "trainable": self.trainable, "layers": layers}

    def to_json(self, **kwargs) -> str:
        """The model's architecture as JSON: ``{"class_name": "Sequential", "config": ...}``."""
        return json.dumps({"class_name": "Sequential", "config": self.get_config()}, **kwargs)

    # -- summary --------------------------------------------------------------------------------
    def summary(self, print_fn=None, line_length: int = 72) -> None:
        """Print a table of layers, output shapes and parameter counts (Keras's layout)."""
        print_fn = print_fn or print
        widths = (int(line_length * 0.45), int(line_length * 0.33))
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

