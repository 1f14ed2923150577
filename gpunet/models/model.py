"""Model: Keras 3's ``keras.Model``, the base of every gpunet model.

``Model(inputs, outputs)`` (positional or keyword) makes a functional model
(:class:`~gpunet.models.functional.Functional`); ``class M(gpunet.Model)`` with ``__init__`` and
``call(self, inputs, training=None)`` makes a subclassed model, whose layers and weights are
those assigned as attributes (tracked in assignment order, as Keras does); ``Sequential`` is a
``Model`` too. Training (``compile``, ``fit``, ``evaluate``, ``predict``) comes from
:class:`gpunet.training.Trainer`.

The interface the training path calls on any model (Sequential, functional or subclassed):

``forward(x, training=False, logits=False)``
    ``x`` a nest matching the model's inputs (a single Tensor for one input); returns the output
    nest (a single Tensor for one output). ``logits`` is False, True (one output) or a list of
    bools, one per flat output: those outputs made by a built-in Dense or Activation layer whose
    activation is softmax or sigmoid come back before that activation (see
    ``output_activations``). The ``add_loss`` and activity-regularization terms of the pass are
    kept for ``losses``.
``losses``
    The weight-regularization terms, plus the ``add_loss``/activity terms of the last forward pass.
``output_names``
    One name per flat output (functional: the names of the layers that make them, as Keras 3).
``output_activations()``
    Per flat output, the name of the activation that ends it when ``forward(..., logits=...)``
    can leave it out (``"softmax"``, ``"sigmoid"``, ...), else None.
``flat_input_shapes()``, ``flat_output_shapes()``
    Per flat input (output), its shape with the batch dimension (None where unknown, or the
    whole entry None when the model does not know it yet).
``flat_input_dtypes()``
    Per flat input, its dtype's name (functional: the Inputs' dtypes), or None when not declared.
``input_structure()``, ``output_structure()``
    The nest the data must match, with the input (output) names as leaves: a name for a single
    tensor, a list of names, or a dict whose keys the data's dict must use; None when unknown.
``build_from_data(shapes)``
    Build the model for inputs of ``shapes`` (a batch shape, or a nest of them): a subclassed
    model without its own ``build`` is called once on zeros of those shapes.
``layers``
    The model's layers (functional: with its InputLayers; nested models appear as one entry whose
    ``recordable()`` and ``uses_host_threads`` speak for all their layers).
"""

from __future__ import annotations

import numbers

import json

from .. import backend, tree
from ..autograd import Tensor, no_grad
from ..layers import Layer
from ..layers.base import collect_losses
from ..saving import check_save_path, load_weights, read_training_state, save_model, save_weights
from ..saving.config import serialize_model
from ..training import Trainer

__all__ = ["Model"]


def functional_arguments(args, kwargs) -> bool:
    """Whether ``Model(...)`` was given ``inputs`` and ``outputs`` (Keras's rule for a functional model)."""
    return len(args) == 2 or (len(args) == 1 and "outputs" in kwargs) or ("inputs" in kwargs and "outputs" in kwargs)


_FUNCTIONAL_CLASSES: dict = {}
_FUNCTIONAL: list = []  # the Functional class, which registers itself here when its module loads


def register_functional(cls) -> None:
    """Called by :mod:`gpunet.models.functional` (which builds on this module) with its class."""
    _FUNCTIONAL[:] = [cls]


def _functional_class(cls):
    """``cls`` itself when it is functional already, else a class deriving from ``cls`` and
    ``Functional`` (made once per class): what ``MyModel(inputs, outputs)`` instantiates, so that
    a user's subclass (its own ``train_step``, say) runs a functional graph, as Keras allows."""
    Functional = _FUNCTIONAL[0]
    if cls is Model:
        return Functional
    if issubclass(cls, Functional):
        return cls
    if cls not in _FUNCTIONAL_CLASSES:
        _FUNCTIONAL_CLASSES[cls] = type(cls.__name__, (cls, Functional),
                                        {"__module__": cls.__module__, "__qualname__": cls.__qualname__,
                                         "functional_of": cls})
    return _FUNCTIONAL_CLASSES[cls]


class Model(Trainer, Layer):
    """A model: layers plus training, saving and a summary (Keras 3's ``keras.Model``).

    Functional::

        inputs = gpunet.Input((784,))
        x = gpunet.layers.Dense(64, activation="relu")(inputs)
        model = gpunet.Model(inputs, gpunet.layers.Dense(10, activation="softmax")(x))

    Subclassed::

        class MLP(gpunet.Model):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.hidden = gpunet.layers.Dense(64, activation="relu")
                self.out = gpunet.layers.Dense(10)

            def call(self, inputs, training=None):
                return self.out(self.hidden(inputs))
    """

    registry_kind = "model"  # gpunet's models (Sequential, Functional) join the registry as models

    def __new__(cls, *args, **kwargs):
        if functional_arguments(args, kwargs):
            return object.__new__(_functional_class(cls))
        return object.__new__(cls)

    def __init__(self, *args, **kwargs):
        if functional_arguments(args, kwargs):
            # a subclass that builds its graph in __init__ and hands it to super().__init__(inputs,
            # outputs) becomes a functional model of its own class, as in Keras
            functional = _functional_class(type(self))
            if type(self) is not functional:
                self.__class__ = functional
            _FUNCTIONAL[0].__init__(self, *args, **kwargs)
            return
        if args or "inputs" in kwargs or "outputs" in kwargs:
            raise TypeError("Model(...) takes inputs and outputs together for a functional model (Model(inputs, "
                            "outputs)); a subclass calls super().__init__(**kwargs) with name, trainable or dtype only")
        Layer.__init__(self, **kwargs)
        self._init_trainer()
        self.__dict__["_output_structure"] = None  # a subclassed model's last outputs, as names

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        """A model from its config (Keras 3's): a functional model's graph (``layers``,
        ``input_layers``, ``output_layers``) rebuilt as one, else ``cls(**config)`` (a subclass's
        own ``get_config``). ``custom_objects`` maps class names to user classes."""
        from ..lookup import custom_object_scope  # noqa: PLC0415
        if isinstance(config, dict) and {"layers", "input_layers", "output_layers"} <= set(config):
            return _FUNCTIONAL[0].from_config.__func__(_functional_class(cls), config, custom_objects)
        with custom_object_scope(custom_objects):
            return cls(**config)

    # -- calling --------------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        out = super().__call__(*args, **kwargs)
        if self.__dict__.get("_output_structure") is None and not hasattr(self, "_outputs_struct"):
            self.__dict__["_output_structure"] = _names_like(out)  # a subclassed model's first outputs
            self.__dict__["_output_shapes"] = [None if not hasattr(t, "shape") else (None, *tuple(t.shape)[1:])
                                               for t in tree.flatten(out)]
        return out

    def call(self, inputs, training=None):  # pragma: no cover - interface
        raise NotImplementedError(f"model {self.name!r} ({type(self).__name__}) must implement call(inputs, training=None)")

    def forward(self, x, training: bool = False, logits=False):
        """The forward pass the train step uses (see this module's docstring)."""
        if _any_logits(logits):
            raise ValueError(f"forward: model {self.name!r} cannot give logits for its outputs (its "
                             "output_activations() are None: the outputs are whatever its call returns)")
        return self(x, training=training)

    def build_from_data(self, shapes) -> None:
        """Build for inputs of ``shapes`` (one batch shape or a nest of them): ``build(shapes)``
        when the class defines ``build``, else one call on zeros (batch 1 where unknown)."""
        if self.built and self._layers and all(layer.built for layer in self._layers):
            return
        if type(self).build is not Model.build and type(self).build is not Layer.build:
            self.ensure_built(shapes)
            return
        if type(self).call is Model.call:  # no call of its own (a GAN's train_step runs its parts itself)
            self.built = True
            return
        xp = backend.array_module()
        zeros = tree.map_structure(lambda s: Tensor(xp.zeros(tuple(1 if d is None else d for d in s),
                                                              dtype=backend.floatx())), _shape_leaves(shapes))
        with no_grad(), collect_losses():
            self(zeros, training=False)

    def build(self, input_shape) -> None:
        """Keras's ``build``: a subclass that overrides it creates its weights there; by default
        the model is built by calling it once (``build_from_data``)."""
        if type(self).call is not Model.call and not self.built and input_shape is not None:
            self.built = True
            self.build_from_data(input_shape)
        self.built = True
        self.build_input_shape = input_shape

    def ensure_built(self, input_shape) -> None:
        """Build on the first call: a class with its own ``build`` gets it; otherwise the call
        itself builds the layers it uses."""
        if not self.built and type(self).build is Model.build:
            self.built = True
            self.build_input_shape = input_shape
            return
        super().ensure_built(input_shape)

    # -- what the training path asks --------------------------------------------------------------
    @property
    def layers(self) -> list:
        """The model's layers: for a subclassed model, those assigned as attributes, in order."""
        return list(self._layers)

    @property
    def uses_host_threads(self) -> bool:
        return any(getattr(layer, "uses_host_threads", False) for layer in self._layers)

    def recordable(self) -> bool:
        """A subclassed model's ``call`` is Python of its own: it is recorded only when the class
        declares ``supports_recording = True`` and all its layers are recordable."""
        return bool(self.supports_recording) and all(layer.recordable() for layer in self._layers)

    @property
    def output_names(self) -> list:
        """Names of the flat outputs; a subclassed model's are its output dict's keys (sorted,
        as flattened), else ``output_0``, ``output_1``, ... once it has been called."""
        structure = self.output_structure()
        return [] if structure is None else [str(name) for name in tree.flatten(structure)]

    def output_activations(self) -> list:
        return [None] * max(1, len(self.output_names))

    def output_activation(self) -> str | None:
        """The activation ending the model's single output (see :meth:`output_activations`), else None."""
        found = self.output_activations()
        return found[0] if len(found) == 1 else None

    def output_is_fused(self) -> bool:
        """True when the compiled loss takes this model's logits in place of its softmax/sigmoid
        output (one output, ended by a built-in Dense or Activation layer)."""
        return (self.loss is not None and not self.loss.from_logits and self.loss.fuses_with is not None
                and self.output_activation() == self.loss.fuses_with)

    @property
    def input_shape(self):
        """The shape the model was built for (a subclassed model's first input's, once known)."""
        return self.build_input_shape

    def flat_input_shapes(self) -> list:
        shape = self.build_input_shape
        return [None] if shape is None else [None if s is None else tuple(s) for s in _shape_leaves_flat(shape)]

    def flat_output_shapes(self) -> list:
        return list(self.__dict__.get("_output_shapes") or [None])

    @property
    def output_shape(self):
        """A subclassed model's output shape (a list for several outputs), known after its first call."""
        shapes = self.__dict__.get("_output_shapes")
        if not shapes:
            return None
        return shapes[0] if len(shapes) == 1 and not tree.is_nested(self.output_structure()) else shapes

    def flat_input_dtypes(self):
        """Per flat input, its dtype's name, where the model declares it (None: not known)."""
        return None

    def input_structure(self):
        return None

    def output_structure(self):
        return self.__dict__.get("_output_structure")

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """The layer called ``name``, or at position ``index`` of :attr:`layers` (negative indexes
        count from the end), as Keras's ``get_layer``."""
        layers = self.layers
        if name is not None and index is not None:
            raise ValueError(f"get_layer: pass a layer name or an index, not both (got name={name!r}, index={index!r})")
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, numbers.Integral):
                raise TypeError(f"get_layer: index must be an integer, got {type(index).__name__}")
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"get_layer: index {index} is out of range: the model has {len(layers)} layers")
            return layers[index]
        if name is not None:
            if not isinstance(name, str):
                raise TypeError(f"get_layer: name must be a string, got {type(name).__name__}")
            for layer in layers:
                if layer.name == name:
                    return layer
            raise ValueError(f"get_layer: no layer named {name!r}; the layers are {[layer.name for layer in layers]}")
        raise ValueError("get_layer: pass a layer name or an index")

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(f"count_params: the model {self.name!r} is not built yet, so it has no weights; call "
                             "model.build(input_shape) or run it on data first")
        return super().count_params()

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False, show_trainable=False,
                layer_range=None) -> None:
        """Keras's table of the model's layers (output shapes where a symbolic call recorded them)."""
        from .summary import print_summary  # noqa: PLC0415

        print_summary(self, self._summary_entries(), line_length, positions, print_fn, expand_nested, show_trainable,
                      layer_range)

    def _summary_entries(self) -> list:
        """``(layer, output shape or None, None)`` for each row of the summary."""
        entries = []
        for layer in self.layers:
            nodes = layer.__dict__.get("_inbound_nodes") or []
            entries.append((layer, nodes[0].output_tensors[0].shape if nodes and len(nodes[0].output_tensors) == 1 else None,
                            None))
        return entries

    def get_config(self) -> dict:
        """A subclassed model's config: its name, ``trainable`` and dtype (override it, and
        ``from_config``, to save the constructor's arguments, as in Keras)."""
        return Layer.get_config(self)

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

    def to_json(self, **kwargs) -> str:
        """The model's architecture as JSON: ``{"class_name": "Sequential", "config": ...}`` (a
        registered subclass also gets its ``registered_name``)."""
        return json.dumps(serialize_model(self), **kwargs)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} built={self.built}>"


def _any_logits(logits) -> bool:
    return any(logits) if isinstance(logits, (list, tuple)) else bool(logits)


def _names_like(out):
    """The output nest with names for leaves: dict keys for a dict's values, ``output_i`` else."""
    if isinstance(out, dict):
        return {key: str(key) for key in out}
    flat = tree.flatten(out)
    if len(flat) == 1 and not tree.is_nested(out):
        return "output_0"
    return tree.pack_sequence_as(out, [f"output_{i}" for i in range(len(flat))])


def _is_shape(value) -> bool:
    return isinstance(value, (tuple, list)) and all(d is None or isinstance(d, numbers.Integral) for d in value)


def _shape_leaves(shapes):
    """``shapes`` with each shape as a tuple leaf (a shape is itself a tuple, so nests are walked by hand)."""
    if _is_shape(shapes):
        return _ShapeLeaf(shapes)
    if isinstance(shapes, dict):
        return {key: _shape_leaves(value) for key, value in shapes.items()}
    if isinstance(shapes, (list, tuple)):
        return type(shapes)(_shape_leaves(value) for value in shapes)
    raise TypeError(f"shapes must be a shape tuple or a list, tuple or dict of them, got {shapes!r}")


def _shape_leaves_flat(shapes) -> list:
    return [tuple(leaf) for leaf in tree.flatten(_shape_leaves(shapes))]


class _ShapeLeaf:
    """A shape wrapped so that :mod:`gpunet.tree` sees it as one leaf."""

    def __init__(self, shape):
        self.shape = tuple(shape)

    def __iter__(self):
        return iter(self.shape)
