"""The Layer base class: lazy building, weights, configuration, unique names."""

from __future__ import annotations

import inspect
import re
from collections import defaultdict

import numpy

from .. import backend, constraints, dtype_policies, initializers, ops, regularizers, tree
from ..backend.dtypes import cast_finite
from ..autograd import GraphConfig, Parameter, Tensor, as_tensor, no_grad
from ..keras_api import check_default
from .calls import _frames, _LossFrame, collect_losses, discard_losses  # noqa: F401 - collect/discard handed on
from ..lookup import Registered

__all__ = ["Layer", "unique_name", "clear_names", "assign_weights", "collect_losses", "discard_losses", "runs_builtin",
           "carried_mask", "attach_mask", "guard_weights"]

_name_uses: defaultdict = defaultdict(int)


def runs_builtin(layer, *methods: str) -> bool:
    """Whether ``layer``'s class takes ``call`` (and each of ``methods``) from gpunet itself, not
    from a user's subclass that overrides it: a model runs its fused paths (a convolution and its
    pooling in one op, a softmax output taken as logits) only for such layers."""
    cls = type(layer)
    for name in ("call", *methods):
        method = getattr(cls, name, None)
        if method is not None and not getattr(method, "__module__", "").startswith("gpunet."):
            return False
    return True


def unique_name(prefix: str) -> str:
    """``prefix`` the first time, then ``prefix_1``, ``prefix_2``, ... (as Keras names layers)."""
    count = _name_uses[prefix]
    _name_uses[prefix] += 1
    return prefix if count == 0 else f"{prefix}_{count}"


def clear_names() -> None:
    """Restart automatic naming (``gpunet.utils.clear_session``)."""
    _name_uses.clear()


def _snake_case(name: str) -> str:
    """Keras's rule: ``Dense`` -> ``dense``, ``Conv2D`` -> ``conv2d``, ``MaxPooling2D`` -> ``max_pooling2d``."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def refuse_unsupported(layer: str, kwargs: dict, keys) -> None:
    """Take out of ``kwargs`` the Keras arguments gpunet does not implement: each may hold Keras's
    default (``keys`` maps names to defaults; names alone default to None), any other value is
    refused by name (:func:`gpunet.keras_api.check_default`)."""
    defaults = keys if isinstance(keys, dict) else dict.fromkeys(keys)
    for key, default in defaults.items():
        if key in kwargs:
            check_default(layer, key, kwargs.pop(key), default)


def normalize_shape(shape, name: str = "shape") -> tuple:
    """A shape given as an int, tuple or list, each dimension a positive int or None."""
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"{name} must be a tuple of dimensions, got {type(shape).__name__}")
    for dim in shape:
        if dim is not None and (isinstance(dim, bool) or not isinstance(dim, int) or dim < 1):
            raise ValueError(f"{name} must hold positive integers (or None), got {tuple(shape)!r}")
    return tuple(shape)


class Layer(GraphConfig, Registered):
    """Base class of layers.

    A layer creates its weights lazily, in ``build(input_shape)``, the first time it sees an input
    (or when the model is built), so ``Dense(64)`` needs no input size. Subclasses implement
    ``call(x, training)`` on Tensors with gpunet's ops, ``compute_output_shape`` when it differs
    from the input's, and ``get_config`` for their constructor arguments.

    Weights come from :meth:`add_weight`; ``trainable=False`` there makes a non-trainable weight
    (a moving average), and ``layer.trainable = False`` freezes the whole layer, as in Keras.

    ``supports_recording = True`` declares that ``call`` computes only with gpunet's ops (no plain
    array code on the inputs, no Python branch on their values) and that its graph depends only
    on the layer's attributes: fit then records one step and replays it. gpunet's layers declare
    it; a user layer that keeps the contract may too, and one that does not runs eagerly.

    ``uses_host_threads = True`` declares that the layer's ops split big batches over the host's
    cores themselves (convolution, max pooling): a model with such a layer runs fit, evaluate and
    predict with gpunet's threads in charge and the BLAS on one thread (see
    :class:`gpunet.backend.host_parallelism`); other models leave the BLAS its own threads.

    Args:
        name: unique within a model (default: the class name in snake case, numbered).
        trainable: whether the optimizer updates the layer's trainable weights.
        dtype: ``"float32"`` or ``"float64"`` for the weights (default: ``gpunet.backend.floatx()``).
        input_shape: the input's shape without the batch dimension, for a model's first layer.
        activity_regularizer: a penalty on the layer's output, added to the training loss (Keras's).

    Example::

        class Scale(gpunet.layers.Layer):
            supports_recording = True

            def build(self, input_shape):
                self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="scale")

            def call(self, x, training=False):
                return x * self.scale
    """

    supports_recording = False
    uses_host_threads = False
    call_takes_training = True  # whether call() accepts ``training`` (set per subclass, as Keras inspects it)
    call_training_default = False  # ``training`` where neither the caller nor an outer call gives it
    call_takes_mask = False  # whether call() accepts ``mask``
    supports_masking = False  # Keras's: whether the layer hands its input's mask on to its output
    makes_masks = False  # set per subclass: whether it overrides compute_mask
    registry_kind = "layer"  # gpunet's own layers join the registry as they are defined (Model: "model")
    _auto_track = True  # layers assigned as attributes become sub-layers (models that list their layers say False)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        parameters = inspect.signature(cls.call).parameters
        any_keyword = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
        cls.call_takes_training = "training" in parameters or any_keyword
        default = parameters["training"].default if "training" in parameters else None
        # Keras: a call made outside any training context takes the default its signature declares
        cls.call_training_default = default if isinstance(default, bool) else False
        cls.call_takes_mask = "mask" in parameters or any_keyword
        cls.makes_masks = cls.compute_mask is not Layer.compute_mask  # a layer that makes or changes masks

    def __init__(self, name: str | None = None, trainable: bool = True, dtype=None, input_shape=None,
                 activity_regularizer=None, autocast=True, **kwargs):
        check_default(type(self).__name__, "autocast", autocast, True)  # inputs are cast to the compute dtype
        if kwargs:
            raise TypeError(f"{type(self).__name__} got unexpected keyword argument(s): {', '.join(sorted(kwargs))}")
        if name is None:
            name = unique_name(_snake_case(type(self).__name__))
        elif not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"name must be a non-empty string without '/', got {name!r}")
        self.name = name
        self._trainable = bool(trainable)
        if dtype is None and dtype_policies.global_policy().name != backend.floatx().name:
            dtype = dtype_policies.global_policy()  # set_global_policy: layers created now take it
        self.dtype_policy = dtype_policies.DTypePolicy(dtype)
        self.dtype = None if dtype is None else self.dtype_policy.variable_dtype  # the weights' dtype
        self.input_shape_hint = None if input_shape is None else (None, *normalize_shape(input_shape, "input_shape"))
        self.built = False
        self.build_input_shape = None
        self._trainable_variables: list[Parameter] = []  # created trainable, in creation order
        self._non_trainable_variables: list[Parameter] = []
        self._layers: list = []  # sub-layers whose weights are this layer's too (a model's layers)
        try:
            self.activity_regularizer = regularizers.get(activity_regularizer)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{type(self).__name__}: activity_regularizer: {exc}") from None
        self._weight_regularizers: list = []  # (weight, regularizer) from add_weight(regularizer=...)
        self._weight_constraints: list = []  # Constraint objects from add_weight(constraint=...), for graph_key
        self._activity_losses: list = []  # add_loss terms (activity penalties included) of the last forward
        self.__dict__["_inbound_nodes"] = []  # Nodes of the functional API: the calls on symbolic tensors

    def __setattr__(self, name, value):
        """Track what is assigned as an attribute, as Keras 3 does: a layer (or a list, tuple or
        dict of layers) becomes a sub-layer, in assignment order, whose weights are this layer's
        too (``weights``, ``trainable_weights``, ``trainable``)."""
        if self._auto_track and name != "_layers":
            found = self.__dict__.get("_layers")
            if found is None and isinstance(value, Layer):
                raise RuntimeError(f"{type(self).__name__}: call super().__init__() in __init__ before assigning layers "
                                   f"to attributes (here {name!r}), so that they are tracked")
            if found is not None and (isinstance(value, Layer) or (isinstance(value, (list, tuple, dict)) and value)):
                items = [value] if isinstance(value, Layer) else _in_assignment_order(value)
                for item in items:
                    if isinstance(item, Layer) and item is not self and not any(item is known for known in found):
                        found.append(item)
                if any(isinstance(item, Layer) for item in items):  # where Keras's weights files put them
                    self.__dict__.setdefault("_layer_attributes", {})[name] = value
        super().__setattr__(name, value)

    def add_loss(self, loss) -> None:
        """Add a scalar loss term (a Tensor computed in ``call``), as Keras's ``add_loss``: the
        terms of a forward pass are listed in the model's :attr:`losses` and summed into the
        training loss."""
        if not isinstance(loss, Tensor):
            loss = as_tensor(loss)
        if _frames:
            if _frames[-1].keep:
                _frames[-1].losses.append(loss)
            return
        self.__dict__["_activity_losses"] = [*self._activity_losses, loss]

    # -- weights ------------------------------------------------------------------------------
    def add_weight(self, shape=None, initializer=None, dtype=None, trainable: bool = True, name: str | None = None,
                   regularizer=None, constraint=None, **kwargs) -> Parameter:
        """Create a weight named ``"<layer>/<name>"`` with values from ``initializer`` (Keras's
        arguments: a name such as ``"zeros"``, an initializer object, or a callable
        ``(shape, dtype) -> array``; default ``"glorot_uniform"``). ``regularizer`` adds a penalty
        on the weight to the training loss; ``constraint`` (:mod:`gpunet.constraints`) projects
        it after each optimizer update of fit."""
        if kwargs:
            raise TypeError(f"add_weight got unsupported argument(s): {', '.join(sorted(kwargs))}")
        constraint = constraints.get(constraint)
        regularizer = regularizers.get(regularizer)
        if name is None:
            name = f"variable_{len(self.weights)}" if self.weights else "variable"
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"add_weight: name must be a non-empty string without '/', got {name!r}")
        if any(p.name == f"{self.name}/{name}" for p in self.weights):
            raise ValueError(f"layer {self.name!r} already has a weight named {name!r}")
        shape = normalize_shape(() if shape is None else shape, "shape")
        if any(dim is None for dim in shape):
            raise ValueError(f"add_weight: the shape of {name!r} must be fully known, got {shape}")
        dtype = weight_dtype(dtype, trainable) if dtype is not None else (self.dtype or backend.floatx())
        initializer = initializers.get("glorot_uniform" if initializer is None else initializer)
        for check in _WEIGHT_GUARDS:  # a model rebuilt from a file: its weights are counted before they exist
            check(self, name, tuple(shape), numpy.dtype(dtype))
        made = dtype if numpy.dtype(dtype).kind == "f" else numpy.dtype("float64")  # an int weight: drawn, then cast
        values = numpy.asarray(backend.to_host(initializer(tuple(shape), made)), dtype=dtype)
        if values.shape != tuple(shape):
            raise ValueError(f"the initializer of {name!r} returned shape {values.shape}, expected {tuple(shape)}")
        param = Parameter(backend.to_device(values), name=f"{self.name}/{name}", trainable=bool(trainable),
                          constraint=constraint)
        if trainable:
            param.trainable = self._trainable
            self._trainable_variables.append(param)
        else:
            self._non_trainable_variables.append(param)
        if regularizer is not None:
            self._weight_regularizers.append((param, regularizer))
        if isinstance(constraint, constraints.Constraint):
            self._weight_constraints = [*self._weight_constraints, constraint]
        return param

    def weight_penalties(self) -> list:
        """The regularization terms of the layer's trainable weights (and its sub-layers'), as
        scalar Tensors built from ops: what ``add_weight(regularizer=...)`` asked for (a frozen
        weight's term drops out, as in Keras)."""
        penalties, seen, stack = [], set(), [self]
        while stack:
            layer = stack.pop(0)
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            penalties += [regularizer(param) for param, regularizer in layer._weight_regularizers if param.trainable]
            stack.extend(layer._layers)
        return penalties

    @property
    def losses(self) -> list:
        """Keras's ``losses``: the weight regularization terms, plus the activity regularization
        terms of the last forward pass (each divided by the batch size, as in Keras); fit and
        evaluate add their sum to the loss they report."""
        return self.weight_penalties() + list(self._activity_losses)

    def recordable(self) -> bool:
        """Whether fit may record this layer's step: it declares ``supports_recording`` and its
        regularizers are ``Regularizer`` objects (built from ops), not arbitrary callables."""
        used = [r for _, r in self._weight_regularizers] + [self.activity_regularizer]
        return bool(self.supports_recording) and all(r is None or isinstance(r, regularizers.Regularizer) for r in used)

    @property
    def trainable(self) -> bool:
        """Settable: ``False`` freezes the layer and its sub-layers (their trainable weights stop
        receiving updates); ``True`` unfreezes them, as in Keras."""
        return self._trainable

    @trainable.setter
    def trainable(self, value) -> None:
        self._trainable = bool(value)
        for param in self._trainable_variables:
            param.trainable = self._trainable
        for layer in self._layers:
            layer.trainable = self._trainable

    @property
    def weights(self) -> list:
        """All the weights: the layer's own, those created trainable then the others (Keras 3's
        order), then its sub-layers' in order."""
        own = self._trainable_variables + self._non_trainable_variables
        if not self._layers:
            return own
        seen, weights = set(), []
        for p in own + [p for layer in self._layers for p in layer.weights]:
            if id(p) not in seen:  # a layer (or weight) reached twice, e.g. shared by two sub-models
                seen.add(id(p))
                weights.append(p)
        return weights

    @property
    def trainable_weights(self) -> list:
        """The weights the optimizer updates."""
        return [p for p in self.weights if p.trainable] if self._trainable else []

    @property
    def non_trainable_weights(self) -> list:
        return [p for p in self.weights if not p.trainable] if self._trainable else self.weights

    def zero_grad(self) -> None:
        """Clear the gradient of every weight (``grad = None``), before a hand-written step's
        ``loss.backward()``: backward adds into ``.grad``, so a stale one would be summed in (as
        ``torch.nn.Module.zero_grad``, which the PyTorch guide of Keras 3 calls)."""
        for param in self.weights:
            param.grad = None

    def count_params(self) -> int:
        return sum(int(p.size) for p in self.weights)

    def get_weights(self) -> list:
        """The weights as host NumPy arrays, in :attr:`weights` order."""
        return [backend.to_host(p.data).copy() for p in self.weights]

    def set_weights(self, weights) -> None:
        """Assign arrays given in :meth:`get_weights`'s order; every one is checked before any is set."""
        assign_weights(self.weights, weights)

    def graph_key(self):
        """What a recorded graph depends on in this layer: its ``graph_version``, its weights'
        constraints' (a captured CUDA graph of the train step applies them), and its sub-layers'
        keys (so that a change inside a composite layer is seen too)."""
        key = self.graph_version
        if self._weight_constraints:
            key = (key, *[c.graph_version for c in self._weight_constraints])
        if not self._layers:
            return key
        return (key, *[layer.graph_key() for layer in self._layers])

    # -- building and calling -------------------------------------------------------------------
    def build(self, input_shape) -> None:
        """Create the weights for inputs of ``input_shape`` (batch dimension first, may be None)."""
        self.built = True

    def ensure_built(self, input_shape) -> None:
        """Build for ``input_shape``: one shape, or the nest of shapes of a list or dict input (what
        Keras's ``build`` receives)."""
        if not self.built:
            shape = tuple(input_shape) if _is_shape(input_shape) else input_shape
            self.build(shape)
            self.build_input_shape = shape
            self.built = True

    def compute_output_shape(self, input_shape) -> tuple:
        """The output shape for ``input_shape``. gpunet's shape-preserving layers keep this default;
        a user's layer that does not override it is run once on zeros (one sample, no graph), as
        Keras traces a layer to learn its output shape."""
        input_shape = tuple(input_shape)
        if type(self).__module__.startswith("gpunet.") or any(d is None for d in input_shape[1:]):
            return input_shape
        dtype = self.compute_dtype if dtype_policies.is_float(self.compute_dtype) else backend.floatx()
        sample = Tensor(backend.array_module().zeros((1, *input_shape[1:]), dtype=dtype))
        with no_grad():
            out = self.apply_call(sample, False)
        return (input_shape[0], *tuple(out.shape)[1:])

    def takes_over(self, previous) -> bool:
        """Whether this layer can compute ``previous`` and itself together, faster than one after
        the other (:meth:`call_fused`); a model then calls it in place of the two."""
        return False

    def call_fused(self, previous, x, training: bool = False):  # pragma: no cover - interface
        raise NotImplementedError

    def call(self, x: Tensor, training: bool = False) -> Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    @property
    def compute_dtype(self):
        """The dtype this layer computes in: its policy's (float16 or bfloat16 under mixed precision)."""
        return self.dtype_policy.compute_dtype

    @property
    def input_dtype(self):
        """The dtype a floating-point input is cast to when it differs in precision (see
        :meth:`cast_input`); normalization layers take their input in float32 even under mixed
        precision, as Keras's do."""
        return self.compute_dtype

    def cast_input(self, x):
        """``x`` cast to :attr:`input_dtype` when one of the two is low precision (mixed precision);
        ``x`` itself otherwise (float64 data into a float32 model is cast elsewhere, once)."""
        target = self.input_dtype
        if x.dtype == target or not dtype_policies.is_float(x.dtype):
            return x
        if dtype_policies.is_low_precision(x.dtype) or dtype_policies.is_low_precision(target):
            return ops.cast(x, target)
        return x

    def __call__(self, *args, **kwargs):
        """Call the layer on its inputs (a Tensor or array, or a list, tuple or dict of them, as
        the first argument), building it on first use. ``training`` and ``mask`` are passed on to a
        ``call`` that declares them; a layer called without ``training`` inside another layer's
        call takes the outer call's value, as in Keras. Called on symbolic tensors
        (``gpunet.Input``), the call is recorded in the functional graph and returns symbolic
        outputs (see :mod:`gpunet.layers.symbolic`)."""
        if ops.symbolic_dispatch.active and ops.symbolic_dispatch.holds(args, kwargs):
            from .symbolic import call_layer  # noqa: PLC0415
            return call_layer(self, args, kwargs)
        if not args:
            raise TypeError(f"layer {self.name!r} must be called with its inputs as the first argument")
        x = args[0]
        training = kwargs.pop("training", None)
        mask = kwargs.pop("mask", None)
        if training is None:
            training = _frames[-1].training if _frames else None
        if training is None:
            training = self.call_training_default
        if isinstance(x, (list, tuple, dict)):
            x = tree.map_structure(lambda v: self.cast_input(as_tensor(v)) if v is not None else v, x)
            self.ensure_built(tree.map_structure(lambda v: None if v is None else (None, *v.shape[1:]), x))
        else:
            x = as_tensor(x)
            self.ensure_built((None, *x.shape[1:]))
            x = self.cast_input(x)
        if self.call_takes_training:
            kwargs["training"] = bool(training)
        if mask is None:
            mask = carried_mask(x)  # the mask the inputs carry (from Embedding(mask_zero), Masking...)
        if mask is not None and self.call_takes_mask:
            kwargs["mask"] = mask
        outer = _frames[-1] if _frames else None
        frame = _LossFrame(True, training)
        with frame:
            y = self.call(x, *args[1:], **kwargs)
            if self.activity_regularizer is not None and isinstance(y, Tensor):
                self.add_loss(regularizers.activity_penalty(self.activity_regularizer, y))
        if outer is None:
            self.__dict__["_activity_losses"] = frame.losses  # the entry call keeps its pass's terms
        elif outer.keep:
            outer.losses.extend(frame.losses)
        if mask is not None or type(self).compute_mask is not Layer.compute_mask:
            attach_mask(y, self.compute_mask(x, mask))
        return y

    def compute_mask(self, inputs, mask=None):
        """The mask of the layer's output (Keras's): the input's mask for a layer that
        ``supports_masking`` (one that keeps the time steps as they are), else None. A layer that
        makes or changes a mask (Embedding with ``mask_zero``, Masking, pooling over time) overrides
        it; a layer whose ``call`` takes ``mask`` receives the mask its inputs carry."""
        return mask if self.supports_masking else None

    def _node_value(self, what: str):
        nodes = self.__dict__.get("_inbound_nodes") or []
        if not nodes:
            raise ValueError(f"layer {self.name!r} has never been called on symbolic inputs (gpunet.Input), so it has no "
                             f"defined {what}")
        node = nodes[0]
        if what == "output":
            return node.outputs
        args = node.call_args
        return args[0] if len(args) == 1 and not node.call_kwargs else list(node.input_tensors)

    @property
    def output(self):
        """The symbolic output of the layer's first call on symbolic tensors (Keras's ``layer.output``):
        ``Model(model.input, model.get_layer("hidden").output)`` extracts features."""
        return self._node_value("output")

    @property
    def input(self):
        """The symbolic input of the layer's first call on symbolic tensors (Keras's ``layer.input``)."""
        return self._node_value("input")

    def compute_output_spec(self, *args, **kwargs):
        """The symbolic outputs of calling the layer on the symbolic inputs ``args``: from
        :meth:`compute_output_shape` when the class defines it (or is one of gpunet's
        shape-preserving layers), otherwise from tracing ``call`` on zeros."""
        from .symbolic import KerasTensor, trace_output_spec  # noqa: PLC0415

        x = args[0] if args else None
        cls = type(self)
        defines = cls.compute_output_shape is not Layer.compute_output_shape
        if isinstance(x, KerasTensor) and (defines or cls.__module__.startswith("gpunet.layers.")) and len(args) == 1 and not [
                k for k in kwargs if k not in ("training", "mask")]:
            shape = self.compute_output_shape(x.shape)
            dtype = self.compute_dtype if dtype_policies.is_float(x.dtype) or defines else x.dtype
            return KerasTensor(shape, dtype)
        if not isinstance(x, KerasTensor) and defines and len(args) == 1 and not [
                k for k in kwargs if k not in ("training", "mask")]:
            shapes = tree.map_structure(lambda t: t.shape if isinstance(t, KerasTensor) else tuple(t.shape), x)
            out = self.compute_output_shape(shapes)
            if _is_shape(out):
                return KerasTensor(out, self.compute_dtype)
            if isinstance(out, (list, tuple)) and all(_is_shape(o) for o in out):
                return [KerasTensor(o, self.compute_dtype) for o in out]
        return trace_output_spec(self, args, kwargs)

    def apply_call(self, x, training: bool = False):
        """``call(x, training)``, or ``call(x)`` for a subclass whose ``call`` takes no ``training``
        (Keras passes it only to a ``call`` that declares it)."""
        return self.call(x, training) if self.call_takes_training else self.call(x)

    # -- configuration --------------------------------------------------------------------------
    def get_config(self) -> dict:
        """The constructor arguments, as JSON-compatible values (Keras's key names)."""
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype_policy.name}
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        return config

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} built={self.built}>"


def weight_dtype(dtype, trainable):
    """A weight's dtype: float32 or float64, or, for a non-trainable weight (a count, as Keras's
    ``Normalization`` keeps), an integer dtype (Keras's ``"int"`` is int32)."""
    if not trainable and not isinstance(dtype, numpy.dtype) and str(dtype) == "int":
        return numpy.dtype("int32")
    try:
        found = numpy.dtype(dtype)
    except TypeError:
        found = None
    if found is not None and found.kind in "iu" and not trainable:
        return found
    return backend.float_dtype(dtype)


def _in_assignment_order(value) -> list:
    """The leaves of a list, tuple or dict of layers, dicts in insertion order (as Keras tracks them)."""
    found, stack = [], [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, (list, tuple)):
            stack.extend(reversed(item))
        else:
            found.append(item)
    return found


def _is_shape(value) -> bool:
    """Whether ``value`` is one shape (a tuple or list of ints and Nones), not a nest of shapes."""
    return isinstance(value, (tuple, list)) and all(d is None or (isinstance(d, int) and not isinstance(d, bool))
                                                   for d in value)


_WEIGHT_GUARDS: list = []


class guard_weights:
    """``with guard_weights(check):`` every ``add_weight`` in the block first calls
    ``check(layer, name, shape, dtype)``, which may raise before the weight is allocated (the load
    budget of a model rebuilt from a file whose architecture cannot be counted ahead)."""

    def __init__(self, check):
        self.check = check

    def __enter__(self):
        _WEIGHT_GUARDS.append(self.check)
        return self

    def __exit__(self, *exc):
        _WEIGHT_GUARDS.remove(self.check)
        return False


def carried_mask(inputs):
    """The masks that the Tensors of ``inputs`` carry (one Tensor: its mask; a nest: the nest of
    masks), or None when none carries one."""
    if isinstance(inputs, Tensor):
        return getattr(inputs, "_keras_mask", None)
    if isinstance(inputs, (list, tuple, dict)):
        masks = tree.map_structure(lambda t: getattr(t, "_keras_mask", None) if isinstance(t, Tensor) else None, inputs)
        return None if all(m is None for m in tree.flatten(masks)) else masks
    return None


def attach_mask(outputs, mask) -> None:
    """Give each Tensor of ``outputs`` its mask (one mask for all, or a nest matching them), as
    Keras attaches ``_keras_mask`` to a layer's outputs."""
    if mask is None:
        return
    leaves = tree.flatten(outputs)
    masks = tree.flatten(mask) if tree.is_nested(mask) and len(tree.flatten(mask)) == len(leaves) else [mask] * len(leaves)
    for leaf, m in zip(leaves, masks):
        if isinstance(leaf, Tensor):
            leaf._keras_mask = m


def assign_weights(params, weights) -> None:
    """Set ``params`` from host arrays, all checked (count, numbers, shape, finite in the weight's
    dtype) before any is set."""
    params = list(params)
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
        arrays.append(cast_finite(w, p.dtype, f"weight for {p.name!r}"))
    for p, w in zip(params, arrays):
        p.data[...] = backend.on_device_of(w, p.data)
