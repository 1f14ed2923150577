"""gpunet's ``.h5`` files against the real Keras 3 (JAX backend, on the CPU), both ways.

- gpunet -> Keras: ``keras.models.load_model`` (compile=False and compile=True) and
  ``keras_model.load_weights`` read what ``model.save`` / ``model.save_weights`` write;
- Keras -> gpunet: ``gpunet.load_model`` and ``model.load_weights`` read what Keras's
  ``model.save("k.h5")`` writes (and the legacy weights-only layout: Keras 3's own
  ``save_weights`` only writes its newer ``.weights.h5`` layout, tested in test_keras_format.py);
- the compiled state: which of gpunet's optimizers and losses Keras compiles from the file's
  ``training_config``, and what gpunet makes of Keras's optimizers.

Predictions are compared with ``atol=1e-6, rtol=0``: the outputs are of order 1, so this is a
few float32 ulps (the two libraries sum the matrix products in different orders).

Keras and JAX are a test extra (``pip install -e ".[keras]"``, included in ``.[dev]``); where they
are missing (a GPU box with only CuPy, say) the whole file is skipped.
"""

import os

os.environ["KERAS_BACKEND"] = "jax"  # before keras is imported: Keras 3 defaults to TensorFlow

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("jax", reason="the Keras compatibility tests run Keras 3 on JAX: pip install -e '.[keras]'")
keras = pytest.importorskip("keras", minversion="3.0", reason="Keras 3 is a test extra: pip install -e '.[keras]'")

import gpunet  # noqa: E402
from gpunet import Sequential, optimizers  # noqa: E402
from gpunet.layers import Activation, Dense, Dropout, Flatten, Input  # noqa: E402

ATOL = 1e-6  # absolute, rtol=0: outputs are O(1) float32

# Keras 3.15 on NumPy 2 converts its variables with np.array(x, copy=False) and warns; not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")


def assert_same_predictions(actual, expected, what):
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), rtol=0, atol=ATOL, err_msg=what)


# ---------------------------------------------------------------------------------------------
# one architecture spec, built by both libraries
# ---------------------------------------------------------------------------------------------
# (input shape, layers); a layer is ("dense", units, activation, use_bias) | ("dropout", rate)
# | ("activation", name) | ("flatten",)
ARCHITECTURES = {
    "dense-relu": ((5,), [("dense", 4, "relu", True), ("dense", 3, None, True)]),
    "dense-sigmoid": ((5,), [("dense", 4, "sigmoid", True), ("dense", 2, "sigmoid", True)]),
    "dense-tanh": ((5,), [("dense", 4, "tanh", True), ("dense", 3, "tanh", True)]),
    "dense-softmax": ((5,), [("dense", 4, "relu", True), ("dense", 3, "softmax", True)]),
    "dense-linear": ((5,), [("dense", 4, "linear", True), ("dense", 3, "linear", True)]),
    "dense-no-bias": ((5,), [("dense", 4, "relu", False), ("dense", 3, "softmax", False)]),
    "dropout": ((5,), [("dense", 6, "relu", True), ("dropout", 0.3), ("dense", 3, "softmax", True)]),
    "activation-layers": (
        (5,),
        [("dense", 4, None, True), ("activation", "relu"), ("dense", 4, None, True), ("activation", "tanh"),
         ("dense", 4, None, True), ("activation", "sigmoid"), ("dense", 4, None, True), ("activation", "linear"),
         ("dense", 3, None, True), ("activation", "softmax")],
    ),
    "flatten": ((4, 3), [("flatten",), ("dense", 5, "relu", True), ("dense", 3, "softmax", True)]),
    "everything": (
        (4, 3),
        [("flatten",), ("dense", 6, "relu", True), ("dropout", 0.2), ("dense", 5, "sigmoid", True),
         ("dense", 5, "tanh", True), ("dense", 4, "linear", False), ("activation", "relu"),
         ("dense", 3, None, True), ("activation", "softmax")],
    ),
}


def gpunet_model(arch):
    shape, spec = ARCHITECTURES[arch]
    layers = [Input(shape)]
    for kind, *args in spec:
        if kind == "dense":
            units, activation, use_bias = args
            layers.append(Dense(units, activation=activation, use_bias=use_bias))
        elif kind == "dropout":
            layers.append(Dropout(args[0]))
        elif kind == "activation":
            layers.append(Activation(args[0]))
        else:
            layers.append(Flatten())
    return Sequential(layers)


def keras_model(arch):
    shape, spec = ARCHITECTURES[arch]
    layers = [keras.Input(shape)]
    for kind, *args in spec:
        if kind == "dense":
            units, activation, use_bias = args
            layers.append(keras.layers.Dense(units, activation=activation, use_bias=use_bias))
        elif kind == "dropout":
            layers.append(keras.layers.Dropout(args[0]))
        elif kind == "activation":
            layers.append(keras.layers.Activation(args[0]))
        else:
            layers.append(keras.layers.Flatten())
    return keras.Sequential(layers)


def layer_kinds(arch):
    return [{"dense": "Dense", "dropout": "Dropout", "activation": "Activation", "flatten": "Flatten"}[kind]
            for kind, *_ in ARCHITECTURES[arch][1]]


CONFIG_KEYS = ("units", "activation", "use_bias", "rate")  # what predictions alone would not all show


def layer_configs(model):
    """(class name, the layer settings both libraries spell the same) for each layer of either library's model."""
    return [
        (type(layer).__name__, {k: v for k, v in layer.get_config().items() if k in CONFIG_KEYS})
        for layer in model.layers
    ]


def last_activation(arch):
    kind, *args = ARCHITECTURES[arch][1][-1]
    return args[1] if kind == "dense" else args[0]


def loss_for(arch):
    return "sparse_categorical_crossentropy" if last_activation(arch) == "softmax" else "mse"


def data(arch, n=48, seed=0):
    rng = np.random.default_rng(seed)
    shape = ARCHITECTURES[arch][0]
    x = rng.standard_normal((n, *shape)).astype(np.float32)
    units = [args[0] for kind, *args in ARCHITECTURES[arch][1] if kind == "dense"][-1]
    if loss_for(arch) == "mse":
        y = rng.uniform(-0.5, 0.5, (n, units)).astype(np.float32)
    else:
        y = rng.integers(0, units, n)
    return x, y


def trained_gpunet_model(arch):
    """A gpunet model trained for two epochs (so the biases are not the initial zeros)."""
    model = gpunet_model(arch)
    model.compile(optimizer="adam", loss=loss_for(arch))
    x, y = data(arch)
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    if any(len(w.shape) == 1 for w in model.get_weights()):
        assert any(np.abs(w).max() > 0 for w in model.get_weights() if len(w.shape) == 1), "training moved no bias"
    return model, x


def random_keras_model(arch, seed=1):
    """A compiled Keras model with random weights (biases included) drawn with NumPy."""
    model = keras_model(arch)
    rng = np.random.default_rng(seed)
    model.set_weights([rng.standard_normal(w.shape).astype(np.float32) * 0.7 for w in model.get_weights()])
    model.compile(optimizer="adam", loss=loss_for(arch))
    return model


def keras_predict(model, x):
    return model.predict(x, batch_size=len(x), verbose=0)


ARCH_NAMES = list(ARCHITECTURES)


# ---------------------------------------------------------------------------------------------
# gpunet -> Keras
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("arch", ARCH_NAMES)
def test_keras_load_model_reads_gpunet_files(tmp_path, arch):
    model, x = trained_gpunet_model(arch)
    path = tmp_path / "g.h5"
    model.save(path)
    expected = model.predict(x)

    loaded = keras.models.load_model(path, compile=False)
    assert [type(layer).__name__ for layer in loaded.layers] == layer_kinds(arch)
    assert layer_configs(loaded) == layer_configs(model)
    assert_same_predictions(keras_predict(loaded, x), expected, "keras.models.load_model(compile=False)")

    loaded = keras.models.load_model(path, compile=True)
    assert type(loaded.optimizer).__name__ == "Adam"
    assert_same_predictions(keras_predict(loaded, x), expected, "keras.models.load_model(compile=True)")


@pytest.mark.parametrize("arch", ARCH_NAMES)
def test_keras_load_weights_reads_gpunet_files(tmp_path, arch):
    model, x = trained_gpunet_model(arch)
    model.save(tmp_path / "g.h5")
    model.save_weights(tmp_path / "gw.h5")
    expected = model.predict(x)
    for name in ("g.h5", "gw.h5"):  # the full model file, then the weights-only file
        target = keras_model(arch)
        assert np.abs(keras_predict(target, x) - expected).max() > 10 * ATOL, "the fresh Keras model already agrees"
        target.load_weights(tmp_path / name)
        assert_same_predictions(keras_predict(target, x), expected, f"keras_model.load_weights({name!r})")


# ---------------------------------------------------------------------------------------------
# Keras -> gpunet
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("arch", ARCH_NAMES)
def test_gpunet_load_model_reads_keras_files(tmp_path, arch):
    kmodel = random_keras_model(arch)
    path = tmp_path / "k.h5"
    kmodel.save(path)  # Keras's legacy .h5 layout (Keras warns that it is legacy)
    x, _ = data(arch, seed=2)
    expected = keras_predict(kmodel, x)

    loaded = gpunet.load_model(path)
    assert [type(layer).__name__ for layer in loaded.layers] == layer_kinds(arch)
    assert layer_configs(loaded) == layer_configs(kmodel)
    assert loaded.compiled and isinstance(loaded.optimizer, optimizers.Adam)
    assert loaded.optimizer.epsilon == pytest.approx(1e-7)  # Keras's Adam default, read from the file
    assert_same_predictions(loaded.predict(x), expected, "gpunet.load_model(compile=True)")

    loaded = gpunet.load_model(path, compile=False)
    assert not loaded.compiled
    assert_same_predictions(loaded.predict(x), expected, "gpunet.load_model(compile=False)")


def _keras_legacy_save_weights(kmodel, path):
    """Keras's legacy weights-only ``.h5`` layout (what Keras 2's ``save_weights("w.h5")`` wrote).

    Keras 3's ``Model.save_weights`` insists on ``.weights.h5`` (its newer layout, see
    ``test_keras3_save_weights_writes_only_its_newer_layout``); the legacy writer is still in
    Keras, but only under ``keras.src``.
    """
    legacy = pytest.importorskip(
        "keras.src.legacy.saving.legacy_h5_format",
        reason="this Keras no longer has the legacy weights-only writer",
    )
    with h5py.File(path, "w") as f:
        legacy.save_weights_to_hdf5_group(f, kmodel)


@pytest.mark.parametrize("arch", ARCH_NAMES)
def test_gpunet_load_weights_reads_keras_files(tmp_path, arch):
    kmodel = random_keras_model(arch)
    kmodel.save(tmp_path / "k.h5")
    _keras_legacy_save_weights(kmodel, tmp_path / "kw.h5")
    x, _ = data(arch, seed=2)
    expected = keras_predict(kmodel, x)
    for name in ("k.h5", "kw.h5"):  # the full model file, then the weights-only file
        target = gpunet_model(arch)
        assert np.abs(target.predict(x) - expected).max() > 10 * ATOL, "the fresh gpunet model already agrees"
        target.load_weights(tmp_path / name)
        assert_same_predictions(target.predict(x), expected, f"gpunet model.load_weights({name!r})")


def test_keras3_save_weights_writes_only_its_newer_layout(tmp_path):
    """Why the test above uses Keras's legacy writer: Keras 3 refuses ``save_weights("w.h5")``.
    What it writes instead, ``.weights.h5``, gpunet reads right (test_keras_format.py tests that
    layout for every layer)."""
    kmodel = random_keras_model("dense-relu")
    with pytest.raises(ValueError, match=r"\.weights\.h5"):
        kmodel.save_weights(tmp_path / "w.h5")
    kmodel.save_weights(tmp_path / "w.weights.h5")
    x, _ = data("dense-relu", seed=2)
    target = gpunet_model("dense-relu")
    assert np.abs(target.predict(x) - keras_predict(kmodel, x)).max() > 10 * ATOL, "the fresh gpunet model already agrees"
    target.load_weights(tmp_path / "w.weights.h5")
    assert_same_predictions(target.predict(x), keras_predict(kmodel, x), "gpunet model.load_weights('w.weights.h5')")


# ---------------------------------------------------------------------------------------------
# the compiled state: optimizers and losses in the training_config
# ---------------------------------------------------------------------------------------------
def _small_compiled_model(optimizer, loss="sparse_categorical_crossentropy"):
    model = Sequential([Input((4,)), Dense(3, activation="softmax")])
    model.compile(optimizer=optimizer, loss=loss)
    return model


def _same_value(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return b is not None and a is not None and np.isclose(a, b, rtol=1e-6, atol=0)  # Keras keeps lr as float32
    return a == b


# gpunet optimizers whose update rule Keras 3 has (under the same class name), with settings
# Keras can express: Keras's load_model(compile=True) should rebuild them with the same settings.
KERAS_EXPRESSIBLE = {
    "sgd": lambda: optimizers.SGD(0.05),
    "sgd-momentum": lambda: optimizers.SGD(0.05, momentum=0.8),
    "sgd-nesterov": lambda: optimizers.SGD(0.05, momentum=0.8, nesterov=True),
    "adam": lambda: optimizers.Adam(0.002, beta_1=0.8, beta_2=0.99, epsilon=1e-6),
    "adam-amsgrad": lambda: optimizers.Adam(amsgrad=True),
    "adamw": lambda: optimizers.AdamW(0.002, weight_decay=0.05),
    "adamax": lambda: optimizers.Adamax(0.003, beta_1=0.85),
    "rmsprop": lambda: optimizers.RMSprop(0.002, rho=0.9, momentum=0.5, centered=True),
    "adagrad": lambda: optimizers.Adagrad(0.05, initial_accumulator_value=0.1),
    "adadelta": lambda: optimizers.Adadelta(0.5, rho=0.95),
    # Keras's Nadam is PyTorch's with momentum_decay=1 (mu_t = beta_1 (1 - 0.5 * 0.96**t))
    "nadam-keras-schedule": lambda: optimizers.Nadam(momentum_decay=1.0),
}


@pytest.mark.parametrize("name", list(KERAS_EXPRESSIBLE))
def test_keras_compiles_gpunet_optimizers(tmp_path, name):
    model = _small_compiled_model(KERAS_EXPRESSIBLE[name]())
    model.save(tmp_path / "o.h5")
    loaded = keras.models.load_model(tmp_path / "o.h5", compile=True)
    assert type(loaded.optimizer).__name__ == type(model.optimizer).__name__
    ours = model.optimizer.get_config()
    theirs = loaded.optimizer.get_config()
    for key, value in ours.items():
        if key != "name" and key in theirs:
            assert _same_value(value, theirs[key]), f"{key}: gpunet {value!r}, Keras {theirs[key]!r}"


# gpunet optimizers (or settings) Keras 3 does not have: Keras's compile=True refuses the file
# (rather than silently training with another rule), and compile=False loads it (docs/format.md).
KERAS_INEXPRESSIBLE = {
    "nadam": lambda: optimizers.Nadam(momentum_decay=0.004),  # PyTorch's schedule
    "rmsprop-epsilon-outside": lambda: optimizers.RMSprop(epsilon_inside_sqrt=False),  # PyTorch's rule
    "radam": lambda: optimizers.RAdam(),
    "sgd-dampening": lambda: optimizers.SGD(0.05, momentum=0.9, dampening=0.5),
    "adagrad-lr-decay": lambda: optimizers.Adagrad(0.05, lr_decay=0.01),
    # gpunet's weight_decay outside AdamW is L2 added to the gradient; Keras's `weight_decay` is
    # decoupled decay in every optimizer (base_optimizer.py, _apply_weight_decay), another rule
    "adam-l2": lambda: optimizers.Adam(weight_decay=0.01),
    "sgd-l2": lambda: optimizers.SGD(0.05, momentum=0.9, weight_decay=0.01),
}


@pytest.mark.parametrize("name", list(KERAS_INEXPRESSIBLE))
def test_keras_refuses_gpunet_optimizers_it_lacks(tmp_path, name):
    model = _small_compiled_model(KERAS_INEXPRESSIBLE[name]())
    model.save(tmp_path / "o.h5")
    with pytest.raises(ValueError):
        keras.models.load_model(tmp_path / "o.h5", compile=True)
    x = np.random.default_rng(3).standard_normal((8, 4)).astype(np.float32)
    loaded = keras.models.load_model(tmp_path / "o.h5", compile=False)
    assert_same_predictions(keras_predict(loaded, x), model.predict(x), "keras.models.load_model(compile=False)")


LOSSES = {
    "sparse_categorical_crossentropy": "SparseCategoricalCrossentropy",
    "categorical_crossentropy": "CategoricalCrossentropy",
    "binary_crossentropy": "BinaryCrossentropy",
    "mse": "MeanSquaredError",
}


def _keras_loss_name(loss):
    """The Keras loss function's name, whether Keras gives back a Loss object or a function."""
    config = loss.get_config() if hasattr(loss, "get_config") else {"name": getattr(loss, "__name__", str(loss))}
    return config.get("name"), config.get("from_logits")


@pytest.mark.parametrize(
    ("loss", "from_logits"),
    [(loss, False) for loss in LOSSES] + [(loss, True) for loss in LOSSES if loss != "mse"],
    ids=lambda v: {False: "probabilities", True: "logits"}.get(v, v) if isinstance(v, bool) else v,
)
def test_keras_compiles_gpunet_losses(tmp_path, loss, from_logits):
    cls = getattr(gpunet.losses, LOSSES[loss])
    gloss = cls(from_logits=True) if from_logits else cls()
    model = _small_compiled_model("adam", loss=gloss)
    model.save(tmp_path / "l.h5")
    loaded = keras.models.load_model(tmp_path / "l.h5", compile=True)
    name, keras_from_logits = _keras_loss_name(loaded.loss)
    assert name == {"mse": "mean_squared_error"}.get(loss, loss)
    if loss != "mse":
        assert keras_from_logits is from_logits


# ---------------------------------------------------------------------------------------------
# Keras's compiled state -> gpunet
# ---------------------------------------------------------------------------------------------
KERAS_OPTIMIZERS = {
    "sgd": lambda: keras.optimizers.SGD(0.05, momentum=0.8, nesterov=True),
    "adam": lambda: keras.optimizers.Adam(0.002, beta_1=0.8, amsgrad=True),
    "adamw": lambda: keras.optimizers.AdamW(0.002, weight_decay=0.05),
    "adamax": lambda: keras.optimizers.Adamax(0.003),
    "nadam": lambda: keras.optimizers.Nadam(0.003),
    "rmsprop": lambda: keras.optimizers.RMSprop(0.002, rho=0.8, momentum=0.5, centered=True),
    "adagrad": lambda: keras.optimizers.Adagrad(0.05, initial_accumulator_value=0.2),
    "adadelta": lambda: keras.optimizers.Adadelta(0.5, rho=0.9),
}
# what gpunet must set for Keras's update rule where gpunet's argument defaults differ
KERAS_RULE = {"nadam": {"momentum_decay": 1.0}}  # Keras: mu_t = beta_1 (1 - 0.5 * 0.96**t)


@pytest.mark.parametrize("name", list(KERAS_OPTIMIZERS))
def test_gpunet_compiles_keras_optimizers(tmp_path, name):
    kmodel = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    kmodel.compile(optimizer=KERAS_OPTIMIZERS[name](), loss="categorical_crossentropy")
    kmodel.save(tmp_path / "k.h5")
    loaded = gpunet.load_model(tmp_path / "k.h5")
    assert type(loaded.optimizer).__name__ == type(kmodel.optimizer).__name__
    assert isinstance(loaded.loss, gpunet.losses.CategoricalCrossentropy)
    theirs = kmodel.optimizer.get_config()
    ours = loaded.optimizer.get_config()
    for key, value in ours.items():
        if key != "name" and key in theirs and theirs[key] is not None:
            assert _same_value(value, theirs[key]), f"{key}: Keras {theirs[key]!r}, gpunet {value!r}"
    for key, value in KERAS_RULE.get(name, {}).items():
        assert ours[key] == value, f"{key}: gpunet {ours[key]!r}; Keras's {type(kmodel.optimizer).__name__} rule needs {value!r}"


def test_gpunet_refuses_keras_decoupled_weight_decay_it_lacks(tmp_path):
    """Keras's SGD(weight_decay=...) decays the weights directly (decoupled); gpunet's SGD has only
    L2 added to the gradient, another rule: the file must be refused, not silently retargeted."""
    kmodel = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    kmodel.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9, weight_decay=0.01), loss="categorical_crossentropy")
    kmodel.save(tmp_path / "k.h5")
    with pytest.raises(ValueError, match="weight_decay"):
        gpunet.load_model(tmp_path / "k.h5")
    gpunet.load_model(tmp_path / "k.h5", compile=False)  # the architecture and weights still load
