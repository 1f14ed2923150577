"""Seeded random training configurations that gpunet and Keras 3 both understand.

``generate(seed)`` returns a :class:`Case`: a small Sequential model (its layers as
``(class name, arguments)`` pairs that ``gpunet.layers`` and ``keras.layers`` both accept), a loss,
metrics, an optimizer (a name with its defaults, or a class with explicit arguments), callbacks,
the data's sizes and the fit arguments. Nothing here imports gpunet or Keras: a case is plain data,
and :mod:`harness` turns it into the two models and trains them.

Print a case in full (to rerun or read a failure)::

    python tests/keras_diff/generator.py 17          # the configuration of seed 17
    python tests/keras_diff/harness.py 17            # ... and train both, print every difference
"""

from __future__ import annotations

import dataclasses
import math
import pprint
import sys

import numpy as np

ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear", "softmax")
OPTIMIZER_NAMES = ("sgd", "rmsprop", "adam", "adamw", "adagrad", "adadelta", "adamax", "nadam")


# learning-rate schedules a LearningRateScheduler case may name (module-level: a case stays plain data)
def halve_after_first(epoch, lr):
    return lr if epoch == 0 else lr * 0.5


def times_0_7(epoch, lr):
    return lr * 0.7


SCHEDULES = {"halve_after_first": halve_after_first, "times_0_7": times_0_7}


@dataclasses.dataclass(frozen=True)
class Case:
    """One differential test: what to build, with what to compile it, on what data to fit it.

    ``layers``: ``(class name, kwargs)`` after the input; a kwarg value ``("L2", {"l2": 0.01})``
    names a regularizer. ``loss``, ``optimizer``, each metric and callback: a name string, or a
    ``(class name, kwargs)`` pair. ``target``: ``"sparse"`` (integer labels), ``"onehot"``,
    ``"binary"`` (0/1 per output) or ``"real"`` (regression; ``"unit"`` when the output is
    squashed into (0, 1) or (-1, 1)). ``n_val`` 0 means no validation data.
    """

    seed: int
    family: str
    input_shape: tuple
    layers: tuple
    target: str
    loss: object
    metrics: tuple
    optimizer: object
    callbacks: tuple
    n_train: int
    n_val: int
    batch_size: int | None
    epochs: int

    @property
    def id(self) -> str:
        """``s17-conv2d-adam-sparse_cce-b7of30-val-cb``: the seed first (``generate(17)`` rebuilds it)."""
        optimizer = self.optimizer if isinstance(self.optimizer, str) else self.optimizer[0].lower() + "*"
        parts = [f"s{self.seed}", self.family, optimizer, _short_loss(self.loss),
                 f"b{self.batch_size or 32}of{self.n_train}"]
        if self.n_val:
            parts.append("val")
        if self.callbacks:
            parts.append("+".join(_short_callback(c) for c in self.callbacks))
        return "-".join(parts)

    def describe(self) -> str:
        """Every field, one per line (what a failing case's report prints)."""
        return f"{self.id}\n" + pprint.pformat(dataclasses.asdict(self), sort_dicts=False, width=110)


def _short_loss(loss) -> str:
    name, kwargs = (loss, {}) if isinstance(loss, str) else loss
    short = {"sparse_categorical_crossentropy": "scce", "SparseCategoricalCrossentropy": "scce",
             "categorical_crossentropy": "cce", "CategoricalCrossentropy": "cce",
             "binary_crossentropy": "bce", "BinaryCrossentropy": "bce", "MeanSquaredError": "mse",
             "MeanAbsoluteError": "mae", "Huber": "huber"}.get(name, name)
    return short + ("_logits" if kwargs.get("from_logits") else "")


def _short_callback(callback) -> str:
    return {"ReduceLROnPlateau": "plateau", "EarlyStopping": "earlystop", "LearningRateScheduler": "schedule"}[callback[0]]


# ------------------------------------------------------------------------------------------------
# the model
# ------------------------------------------------------------------------------------------------
def _regularizer(rng):
    """A kernel regularizer one time in five."""
    if rng.random() >= 0.2:
        return {}
    kind = rng.choice(["L1", "L2", "L1L2"])
    config = {"L1": {"l1": 0.01}, "L2": {"l2": 0.02}, "L1L2": {"l1": 0.005, "l2": 0.01}}[kind]
    return {"kernel_regularizer": (str(kind), config)}


def _shift_reaches_end(layers) -> bool:
    """Whether a learned shift (a bias, a normalization's beta) may reach the end of ``layers``
    through affine maps only, the same for every sample and position of a channel (a relu counts
    as one: it is the identity wherever a unit is active on the whole batch). A
    BatchNormalization placed next subtracts it again: its gradient is then zero but for float32
    noise, which Adam-like optimizers turn into steps of the learning rate, different in each
    library. Such weights test nothing; the generator leaves them out (see ``_normalization``)."""
    reaches = False
    for name, config in layers:
        if name in ("Dense", "Conv1D", "Conv2D"):
            passes = config.get("activation", "linear") in ("linear", "relu")
            if config.get("padding") == "same":
                reaches = False  # not constant near the borders, where "same" padding adds zeros
            reaches = (reaches or config.get("use_bias", True)) and passes
        elif name in ("BatchNormalization", "LayerNormalization"):
            reaches = config.get("center", True)
        elif name in ("Activation", "ZeroPadding2D"):
            reaches = reaches and config.get("activation") in ("linear", "relu")
        # pooling, Flatten, Reshape and Dropout keep a constant per channel constant
    return reaches


def _normalization(rng, layers):
    """Maybe a BatchNormalization, a LayerNormalization, an Activation or a Dropout(0).

    Before a BatchNormalization, a linear or relu Dense or Conv just before it loses its bias (as
    Keras's docs advise); when a shift still reaches it (:func:`_shift_reaches_end`) there is none."""
    roll = rng.random()
    if roll < 0.2:
        if _shift_reaches_end(layers):
            last = next(config for name, config in reversed(layers) if name in ("Dense", "Conv1D", "Conv2D"))
            if last["activation"] in ("linear", "relu"):
                last["use_bias"] = False
        if not _shift_reaches_end(layers):
            layers.append(("BatchNormalization", {"momentum": float(rng.choice([0.99, 0.9, 0.5])),
                                                  "epsilon": float(rng.choice([1e-3, 1e-2]))}))
    elif roll < 0.3:
        layers.append(("LayerNormalization", {"epsilon": float(rng.choice([1e-3, 1e-2]))}))
    elif roll < 0.38:
        layers.append(("Activation", {"activation": str(rng.choice(["relu", "tanh", "sigmoid"]))}))
    elif roll < 0.43:
        layers.append(("Dropout", {"rate": 0.0}))


def _dense(rng, layers, units=None):
    activation = str(rng.choice(ACTIVATIONS[:4]))
    layers.append(("Dense", {"units": int(units or rng.integers(3, 9)), "activation": activation, **_regularizer(rng)}))


def _conv_size(n, kernel, strides, padding):
    return math.ceil(n / strides) if padding == "same" else (n - kernel) // strides + 1


def _conv_block(rng, layers, spatial, dims):
    """A Conv1D/Conv2D and maybe a pooling and a normalization; returns the new spatial size
    (the same along every axis: the inputs are square)."""
    kernel = int(rng.integers(2, 4))
    strides = int(rng.choice([1, 1, 2]))
    padding = str(rng.choice(["valid", "same"]))
    if padding == "valid" and spatial < kernel:
        padding = "same"
    layers.append((f"Conv{dims}D", {"filters": int(rng.integers(2, 5)), "kernel_size": kernel, "strides": strides,
                                   "padding": padding, "activation": str(rng.choice(ACTIVATIONS[:4])), **_regularizer(rng)}))
    spatial = _conv_size(spatial, kernel, strides, padding)
    if spatial >= 2 and rng.random() < 0.5:
        pool = 2
        pool_padding = str(rng.choice(["valid", "same"]))
        pool_strides = int(rng.choice([1, 2]))
        kind = str(rng.choice(["MaxPooling", "AveragePooling"]))
        layers.append((f"{kind}{dims}D", {"pool_size": pool, "strides": pool_strides, "padding": pool_padding}))
        spatial = _conv_size(spatial, pool, pool_strides, pool_padding)
    _normalization(rng, layers)
    return spatial


def _features(rng, layers, family):
    """The layers before the head; returns the input shape."""
    if family == "dense":
        features = int(rng.integers(6, 13))
        for _ in range(int(rng.integers(1, 4))):
            _dense(rng, layers)
            _normalization(rng, layers)
        return (features,)
    dims = 1 if family == "conv1d" else 2
    spatial = int(rng.choice([6, 8])) if dims == 2 else int(rng.integers(8, 13))
    channels = int(rng.choice([1, 1, 2]))
    shape = (spatial,) * dims + (channels,)
    if rng.random() < 0.25:  # flat input reshaped into an image or a sequence
        layers.append(("Reshape", {"target_shape": shape}))
        input_shape = (int(np.prod(shape)),)
    else:
        input_shape = shape
    if dims == 2 and rng.random() < 0.3:
        padding = [1, ((1, 0), (0, 1)), (1, 2)][int(rng.integers(3))]
        layers.append(("ZeroPadding2D", {"padding": padding}))
        spatial += 1 if padding != 1 else 2  # square enough: the smallest side counts below
    for _ in range(int(rng.integers(1, 3))):
        if spatial < 2:
            break
        spatial = _conv_block(rng, layers, spatial, dims)
    roll = rng.random()
    if roll < 0.5:
        layers.append(("Flatten", {}))
    else:
        layers.append((f"Global{'Average' if roll < 0.75 else 'Max'}Pooling{dims}D", {}))
    if rng.random() < 0.4:
        _dense(rng, layers)
    return input_shape


# ------------------------------------------------------------------------------------------------
# loss, head, metrics
# ------------------------------------------------------------------------------------------------
LOSSES = {
    # target kind: (loss names with string forms, output activation without logits)
    "sparse": ("sparse_categorical_crossentropy", "SparseCategoricalCrossentropy", "softmax"),
    "onehot": ("categorical_crossentropy", "CategoricalCrossentropy", "softmax"),
    "binary": ("binary_crossentropy", "BinaryCrossentropy", "sigmoid"),
}
METRICS = {
    "sparse": ("accuracy", "sparse_categorical_accuracy", ("SparseTopKCategoricalAccuracy", {"k": 2})),
    "onehot": ("accuracy", "categorical_accuracy", ("TopKCategoricalAccuracy", {"k": 2}), "mae"),
    "binary": ("accuracy", "binary_accuracy", "precision", "recall", "mse"),
    "real": ("mae", "mse"),
}


def _head(rng, layers):
    """The output layer, the loss, the target kind and the metrics."""
    kind = str(rng.choice(["sparse", "sparse", "onehot", "binary", "real", "real"]))
    logits = False
    if kind == "real":
        units = int(rng.integers(1, 4))
        activation = str(rng.choice(["linear", "linear", "tanh", "sigmoid"]))
        loss = str(rng.choice(["mse", "mae", "huber", "MeanSquaredError", "MeanAbsoluteError", "Huber"]))
        loss = ("Huber", {"delta": 0.5}) if loss == "Huber" else loss if loss.islower() else (loss, {})
        target = "real" if activation == "linear" else "unit"
    else:
        name, class_name, squash = LOSSES[kind]
        units = int(rng.integers(2, 5)) if kind != "binary" else int(rng.integers(1, 4))
        logits = bool(rng.random() < 0.4)
        activation = "linear" if logits else squash
        loss = (class_name, {"from_logits": True}) if logits else name if rng.random() < 0.6 else (class_name, {})
        target = kind
    if activation in ("softmax", "sigmoid") and rng.random() < 0.25:  # the squashing as a layer of its own
        layers += [("Dense", {"units": units, "activation": "linear", **_regularizer(rng)}),
                   ("Activation", {"activation": activation})]
    else:
        layers.append(("Dense", {"units": units, "activation": activation, **_regularizer(rng)}))
    candidates = METRICS["real" if kind == "real" else kind]
    if kind == "binary" and (logits or units > 1):
        # gpunet's documented choices (docs/guide.md): binary accuracy compares probabilities, also
        # given logits; "accuracy" with binary cross-entropy is binary accuracy, whatever the width
        candidates = tuple(m for m in candidates if m not in ("binary_accuracy", "accuracy")
                           or (m == "binary_accuracy" and not logits))
    chosen = [m for m in candidates if rng.random() < 0.45]
    return loss, target, tuple(chosen)


# ------------------------------------------------------------------------------------------------
# optimizer, callbacks, data
# ------------------------------------------------------------------------------------------------
def _optimizer(rng):
    """A name (Keras's defaults) two times in three, else a class with explicit arguments."""
    if rng.random() < 0.65:
        return str(rng.choice(OPTIMIZER_NAMES))
    roll = int(rng.integers(5))
    if roll == 0:
        config = {"learning_rate": 0.05, "momentum": float(rng.choice([0.5, 0.9])), "nesterov": bool(rng.random() < 0.5)}
        name = "SGD"
    elif roll == 1:
        config = {"learning_rate": 0.01, "amsgrad": bool(rng.random() < 0.5)}
        name = "Adam"
    elif roll == 2:
        config = {"learning_rate": 0.005, "momentum": float(rng.choice([0.0, 0.5])), "centered": bool(rng.random() < 0.5)}
        name = "RMSprop"
    elif roll == 3:
        config = {"learning_rate": 0.01, "weight_decay": 0.05}
        name = "AdamW"
    else:
        config = {"learning_rate": 0.1}
        name = "SGD"
    clip = rng.random()
    if clip < 0.2:
        config["clipnorm"] = 0.1
    elif clip < 0.3:
        config["clipvalue"] = 0.01
    elif clip < 0.4:
        config["global_clipnorm"] = 0.2
    return (name, config)


def _callbacks(rng, has_val, monitorable, momentum):
    """None two times in three; else one or two of ReduceLROnPlateau, EarlyStopping (which never
    restores) and LearningRateScheduler, set so that they act within three epochs. Never one that
    changes the learning rate of an optimizer with momentum: gpunet's momentum buffer holds
    gradients, Keras's holds steps (the rate times the gradients), a documented difference that
    shows only after a change of rate (docs/optimizers.md, "Course / PyTorch / Keras")."""
    if rng.random() < 0.67:
        return ()
    chosen = []
    monitors = ["loss"] + (["val_loss"] if has_val else []) + [m for m in monitorable]
    names = ["EarlyStopping"] if momentum else ["ReduceLROnPlateau", "EarlyStopping", "LearningRateScheduler"]
    for name in rng.permutation(names)[:int(rng.integers(1, 3))]:
        name = str(name)
        if name == "LearningRateScheduler":
            chosen.append((name, {"schedule": str(rng.choice(sorted(SCHEDULES)))}))
            continue
        monitor = str(rng.choice(monitors))
        # a large min_delta makes "no improvement" certain for losses; accuracies may or may not improve
        min_delta = 1.0 if "loss" in monitor else 0.0
        config = {"monitor": monitor, "patience": int(rng.integers(0, 2)), "min_delta": min_delta}
        if name == "ReduceLROnPlateau":
            config["factor"] = 0.5
        chosen.append((name, config))
    return tuple(chosen)


def generate(seed: int) -> Case:
    """The case of ``seed`` (the same case on every machine: NumPy's PCG64 stream)."""
    rng = np.random.default_rng(seed)
    family = str(rng.choice(["dense", "dense", "conv1d", "conv2d"]))
    layers = []
    input_shape = _features(rng, layers, family)
    loss, target, metrics = _head(rng, layers)
    n_train = int(rng.integers(16, 49))
    n_val = int(rng.integers(6, 21)) if rng.random() < 0.5 else 0
    batch_size = [4, 5, 7, 8, 16, 32, None, n_train][int(rng.integers(8))]
    # metrics a callback may monitor: accuracies go up, errors down (both libraries infer the mode)
    monitorable = [m for m in metrics if isinstance(m, str) and m in ("accuracy", "mae")]
    monitorable += [f"val_{m}" for m in monitorable] if n_val else []
    optimizer = _optimizer(rng)
    momentum = not isinstance(optimizer, str) and optimizer[1].get("momentum", 0) > 0
    callbacks = _callbacks(rng, bool(n_val), monitorable, momentum)
    epochs = 3 if callbacks else 2
    return Case(seed=seed, family=family, input_shape=tuple(input_shape), layers=tuple(layers), target=target,
                loss=loss, metrics=metrics, optimizer=optimizer, callbacks=callbacks, n_train=n_train,
                n_val=n_val, batch_size=batch_size, epochs=epochs)


def data(case: Case):
    """``(x, y, x_val, y_val)`` for ``case`` (float32 inputs; ``x_val`` None without validation)."""
    rng = np.random.default_rng(10_000 + case.seed)
    units = next(config["units"] for name, config in reversed(case.layers) if name == "Dense")

    def draw(n):
        x = rng.standard_normal((n, *case.input_shape)).astype(np.float32)
        if case.target == "sparse":
            y = rng.integers(0, units, n)
        elif case.target == "onehot":
            y = np.eye(units, dtype=np.float32)[rng.integers(0, units, n)]
        elif case.target == "binary":
            y = (rng.random((n, units)) < 0.5).astype(np.float32)
        elif case.target == "unit":
            y = rng.uniform(0.1, 0.9, (n, units)).astype(np.float32)
        else:
            y = rng.standard_normal((n, units)).astype(np.float32)
        return x, y

    x, y = draw(case.n_train)
    x_val, y_val = draw(case.n_val) if case.n_val else (None, None)
    return x, y, x_val, y_val


if __name__ == "__main__":
    for argument in sys.argv[1:] or ["0"]:
        print(generate(int(argument)).describe())
