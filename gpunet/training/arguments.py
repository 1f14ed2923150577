"""fit's, evaluate's and predict's arguments, checked before anything changes."""

from __future__ import annotations

import numbers
import sys

import numpy

from .. import backend
from ..callbacks.base import Callback
from .. import tree
from ..data import (Batches, DiskBatches, StreamBatches, check_batch_size, check_features, check_targets, describe,
                    input_kind, on_disk)
from ..data.structure import path_name, unpack_x_y_sample_weight
from ..data.pydataset import dataset_length

__all__ = ["check_int", "check_bool", "resolve_verbose", "check_compiled", "validation_schedule", "check_callbacks",
           "check_data", "unpack_validation", "to_device", "device_batches", "batch_to_device", "needs_targets",
           "compiled_outputs", "output_names", "output_activations", "class_weights", "check_steps", "stream_batches",
           "unpack_batch", "evaluation_batches", "prediction_batches", "check_stream_arguments"]


def check_int(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_bool(value, name: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value


def resolve_verbose(verbose) -> int:
    if verbose == "auto":
        stream = sys.stdout
        return 1 if getattr(stream, "isatty", lambda: False)() else 2
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1, 2 or 'auto', got {verbose!r}")
    return int(verbose)


def check_compiled(model, what: str) -> None:
    if not model.compiled:
        raise RuntimeError(f"the model must be compiled before {what}(): call model.compile(optimizer=..., loss=..., metrics=[...])")


def validation_schedule(freq):
    """``validation_freq`` (every N epochs, or a list of 1-based epochs) as ``epoch index -> bool``."""
    if isinstance(freq, (list, tuple, set)):
        epochs = {check_int(e, "validation_freq entries", 1) for e in freq}
        return lambda epoch: epoch + 1 in epochs
    freq = check_int(freq, "validation_freq", 1)
    return lambda epoch: (epoch + 1) % freq == 0


def check_callbacks(callbacks) -> list:
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback) or not isinstance(callbacks, (list, tuple)):
        raise TypeError("callbacks must be a list of gpunet.callbacks.Callback objects")
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise TypeError(f"callbacks must be gpunet.callbacks.Callback objects, got {type(cb).__name__}")
    return list(callbacks)


def _interface(model, name: str, fallback):
    """``model.<name>()`` where the model has it, else ``fallback(model)`` (a plain Sequential)."""
    method = getattr(model, name, None)
    return method() if callable(method) else fallback(model)


def output_names(model) -> list:
    names = getattr(model, "output_names", None)
    if names:
        return list(names)
    layers = getattr(model, "layers", None)
    return [layers[-1].name] if layers else ["output"]


def output_activations(model) -> list:
    return _interface(model, "output_activations", lambda m: [m.output_activation()] if hasattr(m, "output_activation") else [None])


def flat_input_shapes(model):
    return _interface(model, "flat_input_shapes", lambda m: [m.input_shape] if getattr(m, "input_shape", None) else None)


def flat_output_shapes(model):
    return _interface(model, "flat_output_shapes", lambda m: [m.output_shape] if getattr(m, "output_shape", None) else None)


def flat_input_dtypes(model):
    return _interface(model, "flat_input_dtypes", lambda m: None)


def compiled_outputs(model):
    """The model's :class:`~gpunet.training.compiled.CompiledOutputs`, matched to its outputs."""
    compiled = model.compiled_outputs
    if not compiled.built:
        compiled.build(output_names(model))
    return compiled


def _unalign(value, aligned: list, names: list):
    """``aligned`` (one entry per output) put back in the structure ``value`` came in."""
    if isinstance(value, dict):
        return {key: aligned[names.index(key)] for key in value}
    if isinstance(value, (list, tuple)) and len(names) > 1:
        return type(value)(aligned)
    if isinstance(value, (list, tuple)) and len(value) == 1 and len(names) == 1:
        return type(value)(aligned)
    return aligned[0]


def _input_expectations(model, x) -> list:
    """``(path, expected batch shape, dtype)`` for the arrays of ``x`` whose input is known."""
    shapes = flat_input_shapes(model)
    if not shapes:
        return []
    dtypes = flat_input_dtypes(model) or [None] * len(shapes)
    pairs = tree.flatten_with_path(x)
    names = list(getattr(model, "input_names", None) or [])
    if isinstance(x, dict) and names and all(isinstance(path[0], str) and path[0] in names for path, _ in pairs):
        return [(path, shapes[names.index(path[0])], dtypes[names.index(path[0])]) for path, _ in pairs if len(path) == 1]
    if len(pairs) != len(shapes):
        return []
    return [(path, shape, dtype) for (path, _), shape, dtype in zip(pairs, shapes, dtypes)]


def _takes_text(model, x) -> dict:
    """Per input path of ``x``: whether that input may hold strings (declared ``"string"``, or
    not declared at all: a model that has yet to see data)."""
    expectations = _input_expectations(model, x)
    declared = {path: dtype for path, _, dtype in expectations}
    return {path: not expectations or declared.get(path) == "string" for path, _ in tree.flatten_with_path(x)}


def _check_inputs(model, x, name: str, values: bool, build: bool):
    if isinstance(x, (list, tuple)) and (not any(hasattr(leaf, "shape") or hasattr(leaf, "__array__")
                                                  for leaf in tree.flatten(x))
                                         or all(isinstance(leaf, (str, bytes)) for leaf in tree.flatten(x))):
        # nested lists of numbers (or strings): one array, as NumPy reads them
        x = check_features(x, name, None, values, text=_takes_text(model, numpy.zeros(1)).get((), True))
    pairs = tree.flatten_with_path(x)
    if not pairs or any(leaf is None for _, leaf in pairs):
        raise ValueError(f"{name} is required: give the model's inputs (an array, or a list or dict of arrays)")
    text = _takes_text(model, x)
    arrays = [check_features(leaf, path_name(name, path), None, values, text[path]) for path, leaf in pairs]
    counts = {path_name(name, path): int(a.shape[0]) for (path, _), a in zip(pairs, arrays)}
    if len(set(counts.values())) > 1:
        raise ValueError(f"the arrays of {name} must all have the same number of samples, got {counts}")
    x = tree.pack_sequence_as(x, arrays)
    if build and not model.built:
        model.build_from_data(tree.map_structure(lambda a: tuple(a.shape), x))
    for path, shape, _ in _input_expectations(model, x):
        leaf = arrays[[p for p, _ in pairs].index(path)]
        if shape is not None and len(shape) == leaf.ndim and tuple(leaf.shape[1:]) != tuple(shape[1:]) and \
                all(d is not None for d in shape[1:]):
            raise ValueError(f"{path_name(name, path)} has samples of shape {tuple(leaf.shape[1:])}, but the model "
                             f"expects inputs of shape {tuple(shape[1:])}")
    return x, int(arrays[0].shape[0])


def _check_weights(sample_weight, samples: int, name: str):
    """Sample weights: numbers, one (or one row) per sample, finite; as float arrays."""
    if sample_weight is None:
        return None
    arr = numpy.asarray(backend.to_host(sample_weight.data if hasattr(sample_weight, "creator") else sample_weight))
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name} must hold numbers, got dtype {arr.dtype}")
    if arr.ndim == 0 or arr.shape[0] != samples:
        raise ValueError(f"{name} must hold one weight per sample ({samples}), got shape {arr.shape}")
    if arr.dtype.kind == "f" and not numpy.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def class_weights(class_weight, y, compiled, name: str = "class_weight"):
    """Keras's ``class_weight`` ({class index: weight}) as one weight per sample of ``y`` (one
    output only): the weight of each sample's class (its label, or its one-hot row's argmax)."""
    if class_weight is None:
        return None
    if not isinstance(class_weight, dict) or not class_weight:
        raise TypeError(f"{name} must be a dict {{class index: weight}}, got {type(class_weight).__name__}")
    if compiled.several:
        raise ValueError(f"{name} applies to models with one output; this one has {len(compiled.names)}: "
                         "give sample_weight per output instead")
    labels = numpy.asarray(backend.to_host(y))
    if labels.ndim > 1 and labels.shape[-1] > 1:
        labels = labels.argmax(axis=-1)
    elif labels.ndim > 1:
        labels = (labels.reshape(labels.shape[0], -1)[:, 0] > 0.5) if labels.dtype.kind == "f" else labels.reshape(-1)
    labels = labels.reshape(labels.shape[0], -1)[:, 0].astype(numpy.int64)
    missing = sorted(set(numpy.unique(labels).tolist()) - {int(k) for k in class_weight})
    if missing:
        raise ValueError(f"{name} has no weight for class(es) {missing} found in y")
    table = numpy.zeros(int(max(max(class_weight), labels.max())) + 1, dtype=numpy.float64)
    for key, value in class_weight.items():
        if isinstance(key, bool) or not isinstance(key, numbers.Integral) or key < 0:
            raise ValueError(f"{name} keys must be class indices (integers >= 0), got {key!r}")
        table[int(key)] = float(value)
    return table[labels]


def check_data(model, x, y=None, sample_weight=None, names=("x", "y", "sample_weight"), targets: bool = True,
               values: bool = True, build: bool = True, class_weight=None):
    """Check ``(x, y, sample_weight)`` (each an array or a nest of arrays) against the model,
    building it from x's shapes if needed; returns them as checked host nests (targets in the
    form each output's loss needs, integer labels as integers)."""
    x_name, y_name, w_name = names
    x, samples = _check_inputs(model, x, x_name, values, build)
    if not targets:
        return x, None, None
    compiled = compiled_outputs(model)
    outputs = compiled.names
    activations = output_activations(model)
    for entry, activation in zip(compiled.entries, activations):
        if entry.loss is not None:
            entry.loss.check_output(activation)
    shapes = flat_output_shapes(model) or [None] * len(outputs)
    needed = [entry.loss is not None or bool(entry.metrics) for entry in compiled.entries]
    if y is None and not any(needed):
        y_checked = None
    else:
        aligned = compiled.align(y, y_name)
        checked = []
        for entry, target, shape, need in zip(compiled.entries, aligned, shapes, needed):
            where = y_name if len(outputs) == 1 else f"{y_name}[{entry.name!r}]"
            if target is None and not need:
                checked.append(None)
                continue
            loss = entry.loss if entry.loss is not None else _NO_LOSS
            entry.target_ndim = getattr(target, "ndim", None)  # as given: Keras-style metrics see this rank
            if entry.loss is None:
                shape = None  # only metrics read these targets: each takes its own form (labels or rows)
            checked.append(check_targets(target, loss, shape, samples, where, x_name))
        y_checked = _unalign(y, checked, outputs)
    if class_weight is not None:
        if sample_weight is not None:
            raise ValueError("give class_weight or sample_weight, not both")
        sample_weight = class_weights(class_weight, tree.flatten(y_checked)[0], compiled)
    w_checked = None
    if sample_weight is not None:
        aligned = compiled.align(sample_weight, w_name, broadcast=True)
        w_checked = _unalign(sample_weight, [_check_weights(w, samples, w_name if len(outputs) == 1 else
                                                             f"{w_name}[{n!r}]") for w, n in zip(aligned, outputs)], outputs)
    return x, y_checked, w_checked


class _AnyTarget:
    """Targets of an output without a loss (its metrics only): floats of the output's shape."""

    target_kind = "float"
    name = "metric"


_NO_LOSS = _AnyTarget()


def unpack_validation(validation_data):
    """``(x, y, sample_weight)`` from Keras's ``validation_data=(x, y)`` or ``(x, y, sample_weight)``."""
    if not isinstance(validation_data, (tuple, list)):
        raise TypeError(f"validation_data must be a tuple (x_dev, y_dev), got {type(validation_data).__name__}")
    if len(validation_data) not in (2, 3):
        raise ValueError(f"validation_data must be a tuple (x_dev, y_dev) or (x_dev, y_dev, sample_weight), got "
                         f"{len(validation_data)} items")
    x, y, *weights = validation_data
    return x, y, (weights[0] if weights else None)


def to_device(array, floating: bool):
    """Move checked host data to the backend's device once per fit (features as the float dtype)."""
    if floating:
        return backend.to_device(array, dtype=backend.floatx())
    return backend.to_device(array)


def data_dtypes(model, x, y, sample_weight) -> list:
    """The device dtype of every array of ``(x, y, sample_weight)`` (in flatten order): inputs as
    the float dtype (integers too, unless the model's input is declared integer; strings stay as
    they are, on the host), targets as
    their loss needs them (integer labels as int64), sample weights as the float dtype."""
    floatx = backend.floatx()
    expectations = {path: dtype for path, _, dtype in _input_expectations(model, x)}
    x_dtypes = [None if backend.is_text(leaf) else numpy.dtype(expectations[path])
                if expectations.get(path) not in (None, "string")
                and numpy.dtype(expectations[path]).kind in "iub" and leaf.dtype.kind in "iub" else floatx
                for path, leaf in tree.flatten_with_path(x)]
    y_dtypes = []
    if y is not None:
        compiled = compiled_outputs(model)
        aligned = compiled.align(y, "y")
        kinds = [None if t is None else (numpy.int64 if e.loss is not None and e.loss.target_kind == "labels" else floatx)
                 for e, t in zip(compiled.entries, aligned)]
        y_dtypes = [d for d in tree.flatten(_unalign(y, kinds, compiled.names))]
    w_dtypes = [floatx] * len(tree.flatten(sample_weight)) if sample_weight is not None else [None]
    return x_dtypes + (y_dtypes or [None]) + w_dtypes


def device_batches(model, x, y, batch_size: int, sample_weight=None):
    """Checked ``(x, y, sample_weight)`` as batches, each array as :func:`data_dtypes` says.
    In-memory data moves to the device once; memory-mapped data stays on disk and moves batch by batch."""
    dtypes = data_dtypes(model, x, y, sample_weight)
    arrays = tree.flatten((x, y, sample_weight))
    if any(on_disk(a) for a in arrays):
        return DiskBatches(x, y, batch_size, dtypes, sample_weight)
    moved = tree.pack_sequence_as((x, y, sample_weight), [None if a is None else backend.to_device(a, dtype=d)
                                                          for a, d in zip(arrays, dtypes)])
    return Batches(*moved[:2], batch_size, moved[2])


def batch_to_device(model, x, y, sample_weight):
    """One checked batch moved to the device (see :func:`data_dtypes`)."""
    dtypes = data_dtypes(model, x, y, sample_weight)
    arrays = tree.flatten((x, y, sample_weight))
    return tree.pack_sequence_as((x, y, sample_weight), [None if a is None else backend.to_device(a, dtype=d)
                                                         for a, d in zip(arrays, dtypes)])


def check_steps(steps, name: str, data, data_name: str = "x"):
    """A number of steps (or None) that the data can honour: steps count the batches of a
    generator, an iterable or a PyDataset; arrays are read whole, in ceil(samples / batch_size)
    steps."""
    if steps is None:
        return None
    steps = check_int(steps, name, 1)
    if data is None:
        raise ValueError(f"{name}={steps} is given, but there is no {data_name}")
    kind = input_kind(data)
    if kind == "array":
        raise ValueError(f"{name} applies to generators, iterables and PyDataset; {data_name} is an array, which is "
                         f"read whole in ceil(samples / batch_size) steps: leave {name}=None")
    if kind == "pydataset":
        count = dataset_length(data)
        if count is not None and steps > count:
            raise ValueError(f"{name}={steps} exceeds the {count} batches of {data_name} ({type(data).__name__})")
    return steps


def unpack_batch(raw, name: str, targets: bool):
    """A batch a stream yielded, as ``(x, y, sample_weight)``: ``(x, y)``, ``(x, y, sample_weight)``,
    ``(x,)`` or ``x`` alone (the last two only where no targets are needed)."""
    x, y, weights = unpack_x_y_sample_weight(raw)
    if targets and y is None and not (isinstance(raw, (tuple, list)) and len(raw) == 1):
        if not isinstance(raw, (tuple, list)):
            raise ValueError(f"{name} must yield (x, y) batches, got {type(raw).__name__}")
    return x, y, weights


def stream_batches(model, data, name: str, steps=None, shuffle: bool = False, continuing: bool = False,
                   targets: bool = True) -> StreamBatches:
    """Batches from a generator, an iterable or a PyDataset: the first batch is read now to build
    and check the model (so that bad input fails before training); every batch is then checked
    and moved to the device as it arrives."""
    stream = StreamBatches(data, name, None, steps=steps, shuffle=shuffle, continuing=continuing)
    targets = targets and needs_targets(model)
    x, y, weights = unpack_batch(stream.peek(), name, targets)
    try:
        check_data(model, x, y, weights, (f"{name} batch 0 x", f"{name} batch 0 y", f"{name} batch 0 sample_weight"),
                   targets=targets)
    except (ValueError, TypeError) as exc:
        if type(exc) not in (ValueError, TypeError):
            raise
        where = "PyDataset item 0" if stream.kind == "pydataset" else "its first batch"
        raise type(exc)(f"{exc} ({where}, read to check the data before training)").with_traceback(exc.__traceback__) from None

    def convert(raw, i):
        xb, yb, wb = unpack_batch(raw, name, targets)
        xb, yb, wb = check_data(model, xb, yb, wb, (f"{name} batch {i} x", f"{name} batch {i} y",
                                                    f"{name} batch {i} sample_weight"), targets=targets, build=False)
        return batch_to_device(model, xb, yb, wb)

    stream.convert = convert
    return stream


def needs_targets(model) -> bool:
    """Whether the compiled loss or metrics need ``y`` (a model compiled without a loss, whose
    ``train_step`` forms it, may be trained on ``x`` alone)."""
    compiled = getattr(model, "compiled_outputs", None)
    return compiled is not None and compiled.wants_targets()


def evaluation_batches(model, x, y, batch_size, steps, sample_weight=None):
    """evaluate's data as batches: arrays (in memory or on disk), or ``steps`` batches of a stream."""
    steps = check_steps(steps, "steps", x)
    if input_kind(x) == "array":
        batch_size = check_batch_size(batch_size)
        x, y, weights = check_data(model, x, y, sample_weight, targets=needs_targets(model) or y is not None)
        return device_batches(model, x, y, batch_size, weights)
    check_stream_arguments(x, y, batch_size)
    return stream_batches(model, x, "x", steps)


def prediction_batches(model, x, batch_size, steps):
    """predict's inputs as batches: arrays (in memory or on disk), or ``steps`` batches of a stream."""
    steps = check_steps(steps, "steps", x)
    if input_kind(x) == "array":
        batch_size = check_batch_size(batch_size)
        x, _, _ = check_data(model, x, targets=False)
        return device_batches(model, x, None, batch_size)
    check_stream_arguments(x, None, batch_size)
    return stream_batches(model, x, "x", steps, targets=False)


def check_stream_arguments(x, y, batch_size) -> None:
    """A generator, an iterable or a PyDataset carries its targets and its batch size."""
    if y is not None:
        raise ValueError(f"y must be None when x is {describe(x)}: x yields the (x, y) batches")
    if batch_size is not None:
        raise ValueError(f"batch_size must be None when x is {describe(x)}: its batches have their own size")
