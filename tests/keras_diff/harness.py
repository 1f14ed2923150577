"""Build a :class:`generator.Case` in gpunet and in Keras 3, train both, and measure how far apart they end.

:func:`run` builds the Keras model and the gpunet model (the same layers in the same order),
gives both the same initial weights in Keras's layouts (which gpunet keeps), fits both on the same
arrays with ``shuffle=False`` (gpunet with ``restore_best=False``: Keras keeps the last weights)
and returns an :class:`Outcome`, whose :meth:`~Outcome.problems` lists every History value and
weight array outside the tolerances below (``test_keras_diff``'s docstring says why these).

Run cases by hand (the configuration, then every History value and weight difference)::

    python tests/keras_diff/harness.py 17 [18 ...]
"""

from __future__ import annotations

import dataclasses
import os
import sys
import warnings

import numpy as np

if __package__:
    from .generator import SCHEDULES, Case, data, generate
else:  # run as a script
    from generator import SCHEDULES, Case, data, generate

# Weights: max|w_gpunet - w_keras| <= WEIGHT_RTOL * (how far that weight array moved in Keras, at
# least MOVE_FLOOR times the farthest any array of the model moved) + WEIGHT_ATOL.
WEIGHT_RTOL = 2e-3
MOVE_FLOOR = 0.05
WEIGHT_ATOL = 1e-6
# History: |h_gpunet - h_keras| <= HISTORY_RTOL * |h_keras| + HISTORY_ATOL, every key, every epoch
HISTORY_RTOL = 1e-4
HISTORY_ATOL = 1e-5
# keys only gpunet logs (Keras logs learning_rate only where a callback changes it)
GPUNET_ONLY_KEYS = {"epoch_time", "learning_rate"}
# compile options on the Keras side: its default, every step jit-compiled (run_eagerly is slower
# for these models: eager JAX compiles each operation anew for each new shape)
KERAS_OPTIONS = {}


def _build(lib, name, config):
    """``lib.<module>.<name>(**config)``, with regularizers and schedules named in ``config`` built too."""
    resolved = {}
    for key, value in config.items():
        if key.endswith("_regularizer"):
            value = getattr(lib.regularizers, value[0])(**value[1])
        elif key == "schedule":
            value = SCHEDULES[value]
        resolved[key] = value
    return resolved


def _object(module, spec, lib):
    """A name as it is (each library resolves its own names), or ``module.<name>(**config)``."""
    if isinstance(spec, str):
        return spec
    name, config = spec
    return getattr(module, name)(**_build(lib, name, config))


TORCH_EPSILON = {"adam": "Adam", "adamw": "AdamW"}


def _keras_optimizer(keras, spec):
    """Keras's optimizer for ``spec``; Adam and AdamW with epsilon where gpunet puts it (see
    :func:`torch_epsilon`), from the defaults ``keras.optimizers.get(name)`` gives."""
    name, config = (TORCH_EPSILON.get(spec), {}) if isinstance(spec, str) else spec
    if name not in TORCH_EPSILON.values():
        return _object(keras.optimizers, spec, keras)
    return torch_epsilon(keras, getattr(keras.optimizers, name))(**config)


def torch_epsilon(keras, cls):
    """``cls``, Keras's Adam or AdamW, with epsilon added to ``√(v / bc2)`` as PyTorch and gpunet
    add it (a choice of gpunet's, docs/optimizers.md) rather than to ``√v``: Keras's step with
    ``ε √bc2`` for ``ε``. The Adam cases are then held to the tolerance of every other case."""
    ops = keras.ops

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        step = ops.cast(self.iterations + 1, variable.dtype)
        bc1 = 1 - ops.power(ops.cast(self.beta_1, variable.dtype), step)
        bc2 = 1 - ops.power(ops.cast(self.beta_2, variable.dtype), step)
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1 - self.beta_1))
        self.assign_add(v, ops.multiply(ops.subtract(ops.square(gradient), v), 1 - self.beta_2))
        if self.amsgrad:
            v_hat = self._velocity_hats[index]
            self.assign(v_hat, ops.maximum(v_hat, v))
            v = v_hat
        alpha = lr * ops.sqrt(bc2) / bc1
        self.assign_sub(variable, ops.divide(ops.multiply(m, alpha), ops.add(ops.sqrt(v), self.epsilon * ops.sqrt(bc2))))

    return type(cls.__name__, (cls,), {"update_step": update_step})


def build(lib, case: Case):
    """The case's model, compiled, in ``lib`` (``gpunet`` or ``keras``)."""
    layers = [lib.layers.Input(case.input_shape)]
    # (Keras's initializers are never used: run() sets the weights; zeros are the cheapest to make)
    cheap = {"kernel_initializer": "zeros"} if lib.__name__ == "keras" else {}
    layers += [getattr(lib.layers, name)(**_build(lib, name, config), **(cheap if "units" in config or "filters" in config else {}))
               for name, config in case.layers]
    model = lib.Sequential(layers)
    if lib.__name__ == "keras":
        optimizer, options = _keras_optimizer(lib, case.optimizer), KERAS_OPTIONS
    else:
        optimizer, options = _object(lib.optimizers, case.optimizer, lib), {}
    model.compile(optimizer=optimizer, loss=_object(lib.losses, case.loss, lib),
                  metrics=[_object(lib.metrics, m, lib) for m in case.metrics], **options)
    return model


def callbacks(lib, case: Case):
    """The case's callbacks, new objects of ``lib``."""
    return [_object(lib.callbacks, spec, lib) for spec in case.callbacks]


@dataclasses.dataclass
class Outcome:
    """Both libraries' final weights (Keras's order) and History of one case."""

    case: Case
    initial: list          # the weights both started from
    keras_weights: list
    gpunet_weights: list
    keras_history: dict
    gpunet_history: dict
    weight_names: list

    def weight_errors(self):
        """Per weight array: (name, max|gpunet - keras|, allowed, how far it moved in Keras)."""
        moved = [float(np.abs(k - w0).max()) for k, w0 in zip(self.keras_weights, self.initial)]
        floor = MOVE_FLOOR * max(moved, default=0.0)
        return [(name, float(np.abs(g - k).max()), WEIGHT_RTOL * max(move, floor) + WEIGHT_ATOL, move)
                for name, g, k, move in zip(self.weight_names, self.gpunet_weights, self.keras_weights, moved)]

    def history_errors(self):
        """Per (key, epoch): (key, epoch, gpunet value, keras value, allowed)."""
        rows = []
        for key, values in self.keras_history.items():
            for epoch, (k, g) in enumerate(zip(values, self.gpunet_history.get(key, []))):
                rows.append((key, epoch, float(g), float(k), HISTORY_RTOL * abs(k) + HISTORY_ATOL))
        return rows

    def problems(self) -> list[str]:
        """Every disagreement, one sentence each (empty when the two agree)."""
        found = []
        keras_keys, gpunet_keys = set(self.keras_history), set(self.gpunet_history)
        if keras_keys - gpunet_keys or gpunet_keys - keras_keys - GPUNET_ONLY_KEYS:
            found.append(f"History keys differ: keras {sorted(keras_keys)}, gpunet {sorted(gpunet_keys)}")
        for key in keras_keys & gpunet_keys:
            if len(self.keras_history[key]) != len(self.gpunet_history[key]):
                found.append(f"History[{key!r}] has {len(self.keras_history[key])} epochs in keras, "
                             f"{len(self.gpunet_history[key])} in gpunet")
        for key, epoch, g, k, allowed in self.history_errors():
            if not abs(g - k) <= allowed:
                found.append(f"History[{key!r}][{epoch}]: gpunet {g:.7g}, keras {k:.7g} (|diff| {abs(g - k):.2e} > {allowed:.2e})")
        for name, error, allowed, move in self.weight_errors():
            if not error <= allowed:
                found.append(f"weight {name}: max|gpunet - keras| {error:.3e} > {allowed:.3e} (it moved {move:.3e} in keras)")
        return found

    def report(self) -> str:
        """The configuration, every value compared, and the problems: what a failing case prints."""
        lines = [self.case.describe(), "", "history (key, epoch, gpunet, keras, |diff|, allowed):"]
        for key, epoch, g, k, allowed in self.history_errors():
            lines.append(f"  {key:28s} {epoch}  {g: .8g}  {k: .8g}  {abs(g - k):.2e}  {allowed:.2e}")
        extra = sorted(set(self.gpunet_history) - set(self.keras_history))
        lines.append(f"  gpunet only: {', '.join(f'{k}={self.gpunet_history[k]}' for k in extra)}")
        lines.append("weights (name, max|gpunet - keras|, allowed, moved in keras):")
        for name, error, allowed, move in self.weight_errors():
            lines.append(f"  {name:40s} {error:.3e}  {allowed:.3e}  {move:.3e}")
        problems = self.problems()
        lines.append("AGREE" if not problems else "DISAGREE:\n  " + "\n  ".join(problems))
        return "\n".join(lines)


def run(case: Case, keras, gpunet) -> Outcome:
    """Train the case in both libraries; see the module docstring."""
    x, y, x_val, y_val = data(case)
    validation = (x_val, y_val) if case.n_val else None
    keras_model = build(keras, case)
    weight_names = [f"{layer.name}/{w.path.split('/')[-1]}" for layer in keras_model.layers for w in layer.weights]
    initial = initial_weights(case, [tuple(w.shape) for w in keras_model.weights], weight_names)
    keras_model.set_weights(initial)
    gpunet_model = build(gpunet, case)
    gpunet_model.set_weights([w.copy() for w in initial])
    arguments = {"batch_size": case.batch_size, "epochs": case.epochs, "shuffle": False, "verbose": 0,
                 "validation_data": validation}
    keras_history = keras_model.fit(x, y, callbacks=callbacks(keras, case), **arguments).history
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "the dev set of", UserWarning)  # a small dev set is the point here
        gpunet_history = gpunet_model.fit(x, y, callbacks=callbacks(gpunet, case), restore_best=False, **arguments).history
    return Outcome(case, initial, [np.array(w) for w in keras_model.get_weights()], gpunet_model.get_weights(),
                   {k: list(map(float, v)) for k, v in keras_history.items()},
                   {k: list(map(float, v)) for k, v in gpunet_history.items()}, weight_names)


def initial_weights(case, shapes, names):
    """The weights both models start from, drawn here rather than by Keras's initializers
    (which JAX compiles once per shape: a second per case): kernels Glorot-uniform, biases and
    BatchNormalization's moving means in [-0.1, 0.1], scales and moving variances in [0.8, 1.2]."""
    rng = np.random.default_rng(20_000 + case.seed)
    weights = []
    for shape, name in zip(shapes, names):
        kind = name.split("/")[-1]
        if kind == "kernel":
            receptive = int(np.prod(shape[:-2]))
            limit = np.sqrt(6 / (receptive * (shape[-2] + shape[-1])))
            value = rng.uniform(-limit, limit, shape)
        elif kind in ("gamma", "moving_variance"):
            value = rng.uniform(0.8, 1.2, shape)
        else:
            value = rng.uniform(-0.1, 0.1, shape)
        weights.append(value.astype(np.float32))
    return weights


def import_keras():
    """Keras, on JAX unless ``KERAS_BACKEND`` says otherwise."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras
    return keras


if __name__ == "__main__":
    keras = import_keras()
    import gpunet
    for argument in sys.argv[1:] or ["0"]:
        print(run(generate(int(argument)), keras, gpunet).report(), end="\n\n")
