"""gpunet's optimizers against Keras 3's: the same defaults, arguments and configs, and 100 steps
from the defaults landing where Keras's land; Keras's base optimizer arguments; and Lion, Ftrl and
Adafactor against independent float64 NumPy references.

The references below are written from the papers' algorithms in the form Keras 3 documents them
(Lion: Chen et al. 2023, Algorithm 2; FTRL-Proximal: McMahan et al. 2013, Algorithm 1, with the
per-coordinate rate ``n**p / lr``; Adafactor: Shazeer and Stern 2018, Algorithms 4 and 5, with
Keras 3's step size and clipping); they do not look at gpunet's code.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

import gpunet
from gpunet import Parameter, backend, optimizers
from gpunet.layers import Dense, Input

# Keras 3.15 on NumPy 2 converts its variables with np.array(x, copy=False) and warns; not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")

KERAS_CLASSES = ["SGD", "RMSprop", "Adagrad", "Adadelta", "Adam", "AdamW", "Adamax", "Nadam", "Lion", "Ftrl", "Adafactor"]
NEW = ["Lion", "Ftrl", "Adafactor"]


def _comparable(config: dict) -> dict:
    """A config with Keras's and gpunet's spellings of the same setting made equal: no name (Keras
    numbers its optimizers), ``weight_decay`` None is 0, and the learning rate as float32 (Keras
    keeps it in a float32 variable)."""
    out = {k: v for k, v in config.items() if k != "name"}
    if out.get("weight_decay") is None:
        out["weight_decay"] = 0.0
    if isinstance(out.get("learning_rate"), float):
        out["learning_rate"] = float(np.float32(out["learning_rate"]))
    return out


# --------------------------------------------------------------------------------------------------
# 1. Defaults, arguments and configs
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("cls_name", KERAS_CLASSES)
def test_defaults_are_keras(keras, cls_name):
    ours = _comparable(getattr(optimizers, cls_name)().get_config())
    theirs = _comparable(getattr(keras.optimizers, cls_name)().get_config())
    missing = set(theirs) - set(ours)
    assert not missing, f"{cls_name}: Keras's config has {sorted(missing)}, gpunet's does not"
    for key, value in theirs.items():
        assert ours[key] == value, f"{cls_name}.{key}: gpunet {ours[key]!r}, Keras {value!r}"
    # what gpunet has beyond Keras are PyTorch's options, at the value that is Keras's rule
    extra = set(ours) - set(theirs)
    implicit = getattr(optimizers, cls_name).keras_implicit
    assert extra == set(implicit), f"{cls_name}: gpunet-only settings {sorted(extra)}"
    assert all(ours[key] == implicit[key] for key in extra)


@pytest.mark.parametrize("cls_name", KERAS_CLASSES)
def test_every_keras_argument_is_taken_in_keras_order(keras, cls_name):
    def arguments(cls):
        names = [p.name for p in inspect.signature(cls.__init__).parameters.values() if p.kind is p.POSITIONAL_OR_KEYWORD]
        return names[1:]

    theirs = arguments(getattr(keras.optimizers, cls_name))
    ours = arguments(getattr(optimizers, cls_name))
    specific = theirs[: theirs.index("weight_decay") + 1]  # Keras's own arguments, positional in this order
    assert ours[: len(specific)] == specific
    base = set(theirs) - set(specific)  # clipnorm ... gradient_accumulation_steps, name
    accepted = set(ours) | set(arguments(optimizers.Optimizer))
    assert base <= accepted, sorted(base - accepted)


@pytest.mark.parametrize("cls_name", KERAS_CLASSES)
def test_configs_cross_over(keras, cls_name):
    """gpunet's Keras config makes Keras's default optimizer; Keras's config makes gpunet's."""
    keras_cls, ours = getattr(keras.optimizers, cls_name), getattr(optimizers, cls_name)()
    from_ours = keras_cls.from_config(ours.keras_config())
    assert _comparable(from_ours.get_config()) == _comparable(keras_cls().get_config())
    from_theirs = optimizers.deserialize_from_keras({"class_name": cls_name, "config": keras_cls().get_config()})
    assert type(from_theirs) is type(ours)
    assert _comparable(from_theirs.get_config()) == _comparable(ours.get_config())


NEW_SETTINGS = {
    "Lion": {"learning_rate": 3e-4, "beta_1": 0.95, "beta_2": 0.98, "weight_decay": 0.01, "clipnorm": 1.0},
    "Ftrl": {"learning_rate": 0.05, "learning_rate_power": -0.7, "initial_accumulator_value": 0.2,
             "l1_regularization_strength": 0.01, "l2_regularization_strength": 0.02,
             "l2_shrinkage_regularization_strength": 0.03, "beta": 0.5, "global_clipnorm": 2.0},
    "Adafactor": {"learning_rate": 0.02, "beta_2_decay": -0.5, "epsilon_1": 1e-20, "epsilon_2": 1e-2,
                  "clip_threshold": 0.5, "relative_step": False, "loss_scale_factor": 8.0},
}


@pytest.mark.parametrize("cls_name", NEW)
def test_new_optimizers_by_name_and_config_round_trip(keras, cls_name):
    cls = getattr(optimizers, cls_name)
    assert type(optimizers.get(cls_name.lower())) is cls
    opt = cls(name="mine", **NEW_SETTINGS[cls_name])
    config = opt.get_config()
    assert config["name"] == "mine" and all(config[k] == v for k, v in NEW_SETTINGS[cls_name].items())
    assert cls.from_config(config).get_config() == config
    assert optimizers.deserialize(optimizers.serialize(opt)).get_config() == config
    # Keras takes the same config (L2 weight decay aside, which Keras lacks: see test_keras_compat)
    theirs = getattr(keras.optimizers, cls_name).from_config({k: v for k, v in opt.keras_config().items() if k != "l2_weight_decay"})
    assert {k: v for k, v in _comparable(theirs.get_config()).items() if k != "weight_decay"} == \
        {k: v for k, v in _comparable(config).items() if k != "weight_decay"}


# --------------------------------------------------------------------------------------------------
# 2. 100 steps from the defaults, against Keras 3
# --------------------------------------------------------------------------------------------------

SHAPES = [(7, 5), (5,)]
STEPS = 100
PARITY = {
    "sgd": ("SGD", {}),
    "sgd-momentum": ("SGD", {"momentum": 0.9}),
    "sgd-nesterov": ("SGD", {"momentum": 0.9, "nesterov": True}),
    "rmsprop": ("RMSprop", {}),
    "rmsprop-centered": ("RMSprop", {"centered": True}),
    "rmsprop-momentum": ("RMSprop", {"momentum": 0.9}),
    "rmsprop-centered-momentum": ("RMSprop", {"centered": True, "momentum": 0.5}),
    "adagrad": ("Adagrad", {}),
    "adadelta": ("Adadelta", {}),
    "adam": ("Adam", {}),
    "adam-amsgrad": ("Adam", {"amsgrad": True}),
    "adamw": ("AdamW", {}),
    "adamax": ("Adamax", {}),
    "nadam": ("Nadam", {}),
    "lion": ("Lion", {}),
    "ftrl": ("Ftrl", {}),
    "ftrl-regularized": ("Ftrl", {"l1_regularization_strength": 1e-3, "l2_regularization_strength": 1e-2,
                                  "l2_shrinkage_regularization_strength": 1e-2, "beta": 0.1}),
    "adafactor": ("Adafactor", {}),
    "adam-loss_scale_factor": ("Adam", {"loss_scale_factor": 64.0}),  # both divide the gradients by it
}


def _parity_data(scale=1.0):
    """Weights in [-1, 1], and gradients of scale 0.1 with a spike (x10) every 7th step; the
    gradients of a loss scaled by ``scale``."""
    rng = np.random.default_rng(11)
    start = [rng.uniform(-1, 1, shape).astype(np.float32) for shape in SHAPES]
    grads = [[(rng.standard_normal(shape) * 0.1 * (10 if t % 7 == 6 else 1) * scale).astype(np.float32) for shape in SHAPES]
             for t in range(STEPS)]
    return start, grads


@pytest.mark.parametrize("case", list(PARITY))
def test_hundred_steps_from_the_defaults_land_where_keras_lands(keras, case):
    cls_name, kwargs = PARITY[case]
    start, grads = _parity_data(kwargs.get("loss_scale_factor", 1.0))
    theirs = [keras.Variable(w.copy()) for w in start]
    their_opt = getattr(keras.optimizers, cls_name)(**kwargs)
    ours = [Parameter(w.copy(), name=f"layer/w{i}") for i, w in enumerate(start)]
    our_opt = getattr(optimizers, cls_name)(**kwargs)
    for step in grads:
        their_opt.apply_gradients(zip([keras.ops.convert_to_tensor(g) for g in step], theirs))
        our_opt.apply_gradients(zip([g.copy() for g in step], ours))
    final = [np.asarray(v.numpy()) for v in theirs]
    moved = max(np.abs(f - w).max() for f, w in zip(final, start))
    assert moved > 1e-5, f"{case}: Keras's weights hardly moved ({moved:g})"
    error = max(np.abs(backend.to_host(p.data) - f).max() for p, f in zip(ours, final))
    assert error <= 1e-3 * moved, f"{case}: {error:.3g} from Keras's weights after {STEPS} steps, which moved them {moved:.3g}"
    assert all(p.data.dtype == np.float32 for p in ours)


def test_pytorch_epsilon_placement_in_rmsprop_is_another_rule(keras):
    """Why RMSprop follows Keras's epsilon: with Keras's epsilon=1e-7, PyTorch's sqrt(v) + epsilon
    takes other steps for small gradients (here 100 times smaller than above)."""
    start, grads = _parity_data(0.01)
    theirs = [keras.Variable(w.copy()) for w in start]
    their_opt = keras.optimizers.RMSprop()
    ours = [Parameter(w.copy(), name=f"w{i}") for i, w in enumerate(start)]
    torch_placed = optimizers.RMSprop(epsilon_inside_sqrt=False)
    for step in grads:
        their_opt.apply_gradients(zip([keras.ops.convert_to_tensor(g) for g in step], theirs))
        torch_placed.apply_gradients(zip(step, ours))
    final = [np.asarray(v.numpy()) for v in theirs]
    moved = max(np.abs(f - w).max() for f, w in zip(final, start))
    error = max(np.abs(backend.to_host(p.data) - f).max() for p, f in zip(ours, final))
    assert error > 0.1 * moved


# --------------------------------------------------------------------------------------------------
# 3. Keras's base optimizer arguments
# --------------------------------------------------------------------------------------------------

ALL = [*KERAS_CLASSES, "RAdam"]


@pytest.mark.parametrize("cls_name", ALL)
def test_keras_base_arguments_off_are_accepted(cls_name):
    opt = getattr(optimizers, cls_name)(use_ema=False, ema_momentum=0.9, ema_overwrite_frequency=None, loss_scale_factor=None,
                                        gradient_accumulation_steps=None, name="custom")
    config = opt.get_config()
    assert config["name"] == "custom" and config["ema_momentum"] == 0.9 and config["use_ema"] is False


@pytest.mark.parametrize("argument, value", [("use_ema", True), ("ema_overwrite_frequency", 10),
                                             ("gradient_accumulation_steps", 4)])
@pytest.mark.parametrize("cls_name", ALL)
def test_keras_base_arguments_gpunet_lacks_are_refused_by_name(cls_name, argument, value):
    with pytest.raises(ValueError, match=f"gpunet does not support {argument}={value!r}"):
        getattr(optimizers, cls_name)(**{argument: value})
    config = {**getattr(optimizers, cls_name)().get_config(), argument: value}
    with pytest.raises(ValueError, match=argument):
        getattr(optimizers, cls_name).from_config(config)


@pytest.mark.parametrize("kwargs, name", [({"ema_momentum": 1.5}, "ema_momentum"), ({"loss_scale_factor": 0.0}, "loss_scale_factor"),
                                          ({"loss_scale_factor": -2.0}, "loss_scale_factor")])
def test_bad_keras_base_values(kwargs, name):
    with pytest.raises(ValueError, match=name):
        optimizers.Adam(**kwargs)


def test_an_unknown_argument_is_named():
    with pytest.raises(TypeError, match="Lion got unexpected argument.*momentum"):
        optimizers.Lion(momentum=0.9)


def _fit(loss_scale_factor, epochs=3):
    gpunet.utils.set_random_seed(5)
    model = gpunet.Sequential([Input((4,)), Dense(6, activation="tanh"), Dense(3, activation="softmax")])
    model.compile(optimizer=optimizers.SGD(0.1, momentum=0.9, loss_scale_factor=loss_scale_factor),
                  loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((64, 4)).astype(np.float32), rng.integers(0, 3, 64)
    history = model.fit(x, y, batch_size=16, epochs=epochs, shuffle=False, verbose=0)
    return model, history


def test_loss_scale_factor_scales_the_backward_pass_and_unscales_the_gradients():
    plain, plain_history = _fit(None)
    scaled, scaled_history = _fit(1024.0)
    for a, b in zip(plain.get_weights(), scaled.get_weights()):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(scaled_history.history["loss"], plain_history.history["loss"], rtol=1e-5)  # the loss logged unscaled
    opt = optimizers.Adam(loss_scale_factor=4.0)
    assert opt.scale_loss(2.5) == 10.0 and optimizers.Adam().scale_loss(2.5) == 2.5
    grad = np.full(3, 8.0, np.float32)
    param = Parameter(np.zeros(3, np.float32), name="w")
    optimizers.SGD(1.0, loss_scale_factor=4.0).apply_gradients([(grad, param)])
    np.testing.assert_array_equal(backend.to_host(param.data), [-2.0, -2.0, -2.0])
    np.testing.assert_array_equal(grad, [8.0, 8.0, 8.0])  # the caller's gradient is not modified


def test_a_loss_scale_optimizer_refuses_an_inner_loss_scale_factor():
    with pytest.raises(ValueError, match="loss_scale_factor"):
        optimizers.LossScaleOptimizer(optimizers.Adam(loss_scale_factor=8.0))


# --------------------------------------------------------------------------------------------------
# 4. Lion, Ftrl and Adafactor against float64 references
# --------------------------------------------------------------------------------------------------

REF_SHAPES = {"layer/kernel": (4, 6), "layer/bias": (6,), "conv/kernel": (2, 3, 5), "scale": ()}


class RefLion:
    """Chen et al. 2023, Algorithm 2 (without its decoupled decay; gpunet's weight decay is L2)."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, weight_decay=0.0):
        self.lr, self.b1, self.b2, self.lam = learning_rate, beta_1, beta_2, weight_decay
        self.m = {}

    def step(self, name, theta, g, t):
        g = g + self.lam * theta
        m = self.m.get(name, np.zeros_like(theta))
        update = np.sign(self.b1 * m + (1 - self.b1) * g)
        self.m[name] = self.b2 * m + (1 - self.b2) * g
        return theta - self.lr * update


class RefFtrl:
    """McMahan et al. 2013, Algorithm 1 (per coordinate), as Keras 3 parameterises it: the rate
    ``n**p / lr`` with ``p = -learning_rate_power``, ``beta`` added to ``n**p``, L2 as ``l2 * w**2``
    (so ``2 l2`` in the denominator) and the shrinkage ``l2_shrinkage * w**2`` added to z's gradient."""

    def __init__(self, learning_rate=0.001, learning_rate_power=-0.5, initial_accumulator_value=0.1,
                 l1_regularization_strength=0.0, l2_regularization_strength=0.0, l2_shrinkage_regularization_strength=0.0, beta=0.0):
        self.alpha, self.p, self.n0 = learning_rate, -learning_rate_power, initial_accumulator_value
        self.l1, self.l2, self.shrink, self.beta = (l1_regularization_strength, l2_regularization_strength,
                                                   l2_shrinkage_regularization_strength, beta)
        self.n, self.z = {}, {}

    def step(self, name, theta, g, t):
        n = self.n.get(name, np.full_like(theta, self.n0))
        z = self.z.get(name, np.zeros_like(theta))
        n_new = n + g * g
        sigma = (n_new**self.p - n**self.p) / self.alpha
        z = z + g + 2 * self.shrink * theta - sigma * theta
        self.n[name], self.z[name] = n_new, z
        denominator = (self.beta + n_new**self.p) / self.alpha + 2 * self.l2
        return np.where(np.abs(z) <= self.l1, 0.0, -(z - np.sign(z) * self.l1) / denominator)


class RefAdafactor:
    """Shazeer and Stern 2018, Algorithm 4 (matrices: the row and column means of g**2 + eps1,
    over the last two axes) and 5 (vectors), with Keras 3's step min(lr, 1/sqrt(t))."""

    def __init__(self, learning_rate=0.001, beta_2_decay=-0.8, epsilon_1=1e-30, epsilon_2=1e-3, clip_threshold=1.0,
                 relative_step=True):
        self.lr, self.decay, self.eps1, self.eps2, self.d = learning_rate, beta_2_decay, epsilon_1, epsilon_2, clip_threshold
        self.state = {}

    @staticmethod
    def rms(x):
        return math.sqrt(np.mean(x * x))

    def step(self, name, theta, g, t):
        rms = self.rms
        beta = 1 - t**self.decay
        alpha = max(self.eps2, rms(theta)) * min(self.lr, 1 / math.sqrt(t))
        square = g * g + self.eps1
        if theta.ndim >= 2:
            rows, cols = self.state.get(name, (0.0, 0.0))
            rows = beta * rows + (1 - beta) * square.mean(axis=-1)
            cols = beta * cols + (1 - beta) * square.mean(axis=-2)
            self.state[name] = rows, cols
            v = np.einsum("...i,...j->...ij", rows / rows.mean(axis=-1, keepdims=True), cols)
        else:
            v = beta * self.state.get(name, 0.0) + (1 - beta) * square
            self.state[name] = v
        u = g / np.sqrt(v)
        return theta - alpha * u / max(1.0, rms(u) / self.d)


REFS = {"Lion": RefLion, "Ftrl": RefFtrl, "Adafactor": RefAdafactor}
REF_CASES = [
    ("Lion", {}), ("Lion", {"learning_rate": 0.01, "beta_1": 0.5, "beta_2": 0.9}), ("Lion", {"learning_rate": 0.01, "weight_decay": 0.1}),
    ("Ftrl", {"learning_rate": 0.1}),
    ("Ftrl", {"learning_rate": 0.1, "l1_regularization_strength": 0.05, "l2_regularization_strength": 0.1}),
    ("Ftrl", {"learning_rate": 0.2, "learning_rate_power": -0.3, "initial_accumulator_value": 0.0,
              "l2_shrinkage_regularization_strength": 0.05, "beta": 1.0}),
    ("Ftrl", {"learning_rate": 0.1, "learning_rate_power": 0.0, "l1_regularization_strength": 3.0}),
    ("Adafactor", {}), ("Adafactor", {"learning_rate": 0.05, "clip_threshold": 0.3, "epsilon_2": 0.1}),
    ("Adafactor", {"learning_rate": 0.5, "beta_2_decay": -0.5, "epsilon_1": 1e-3, "relative_step": False}),
]


def _ref_gradients(n=40):
    rng = np.random.default_rng(3)
    scales = [1.0, 0.01, 5.0, 0.1, 30.0, 0.3]
    return [{k: rng.standard_normal(s) * scales[t % len(scales)] for k, s in REF_SHAPES.items()} for t in range(n)]


@pytest.mark.parametrize("cls_name, kwargs", [pytest.param(c, k, id=f"{c}-{i}") for i, (c, k) in enumerate(REF_CASES)])
def test_new_optimizers_follow_their_papers(xp, cls_name, kwargs):
    rng = np.random.default_rng(4)
    expected = {k: rng.uniform(-1, 1, s) for k, s in REF_SHAPES.items()}
    params = {k: Parameter(xp.asarray(v.copy()), name=k) for k, v in expected.items()}
    opt, ref = getattr(optimizers, cls_name)(**kwargs), REFS[cls_name](**kwargs)
    zeros = 0
    for t, grads in enumerate(_ref_gradients(), start=1):
        opt.apply_gradients([(xp.asarray(grads[k]), params[k]) for k in params])
        for k in expected:
            expected[k] = ref.step(k, expected[k], grads[k], t)
            np.testing.assert_allclose(backend.to_host(params[k].data), expected[k], rtol=1e-10, atol=1e-12,
                                       err_msg=f"{k} after step {t}")
            zeros += int(np.sum(expected[k] == 0))
    if kwargs.get("l1_regularization_strength"):
        assert zeros > 0, "L1 must set some weights to exactly 0"


def test_lion_first_steps_by_hand():
    p = Parameter(np.array([1.0, -2.0, 0.5]), name="w")
    opt = optimizers.Lion(learning_rate=0.1)  # beta_1 = 0.9, beta_2 = 0.99
    # step 1, g = [0.3, -0.001, 0]: m = 0, c = 0.1 g -> sign [1, -1, 0]; theta = [0.9, -1.9, 0.5]
    # m = 0.01 g = [0.003, -0.00001, 0]
    opt.apply_gradients([(np.array([0.3, -0.001, 0.0]), p)])
    np.testing.assert_allclose(backend.to_host(p.data), [0.9, -1.9, 0.5], rtol=1e-15)
    # step 2, g = [-0.02, 0.5, 0]: c = 0.9 m + 0.1 g = [0.0027 - 0.002, -0.000009 + 0.05, 0] -> sign [1, 1, 0]
    opt.apply_gradients([(np.array([-0.02, 0.5, 0.0]), p)])
    np.testing.assert_allclose(backend.to_host(p.data), [0.8, -2.0, 0.5], rtol=1e-15)


def test_ftrl_first_step_by_hand():
    p = Parameter(np.array([0.5, -0.2]), name="w")
    opt = optimizers.Ftrl(learning_rate=0.5, l1_regularization_strength=0.25)  # initial accumulator 0.1, power -0.5
    # g = [1.5, 0.2]: n = [0.1 + 2.25, 0.1 + 0.04] = [2.35, 0.14]; sqrt(n) = [1.532971, 0.374166], sqrt(0.1) = 0.316228
    # sigma = (sqrt(n) - sqrt(0.1)) / 0.5 = [2.433486, 0.115876]
    # z = g - sigma * theta = [1.5 - 1.216743, 0.2 + 0.023175] = [0.283257, 0.223175]
    # |z| <= 0.25 in the second entry: theta = 0 there; else -(z - 0.25) / (sqrt(n) / 0.5) = -0.033257 / 3.065942
    opt.apply_gradients([(np.array([1.5, 0.2]), p)])
    z0 = 1.5 - (math.sqrt(2.35) - math.sqrt(0.1)) / 0.5 * 0.5
    np.testing.assert_allclose(backend.to_host(p.data), [-(z0 - 0.25) / (math.sqrt(2.35) / 0.5), 0.0], rtol=1e-14)
    np.testing.assert_allclose(backend.to_host(p.data), [-0.0108472, 0.0], atol=1e-7)


def test_adafactor_keeps_factored_moments_for_matrices():
    opt = optimizers.Adafactor()
    params = [Parameter(np.ones((2, 3, 4)), name="k"), Parameter(np.ones(5), name="b")]
    opt.apply_gradients([(np.ones((2, 3, 4)), params[0]), (np.ones(5), params[1])])
    slots = opt.get_state()["slots"]
    assert {k: v.shape for k, v in slots["k"].items() if k != "step"} == {"r": (2, 3), "c": (2, 4), "v": (2, 3, 4)}
    assert {k: v.shape for k, v in slots["b"].items() if k != "step"} == {"r": (), "c": (), "v": (5,)}
    wrong = {**slots["k"], "r": np.zeros((2, 4))}
    fresh = optimizers.Adafactor()
    fresh.set_state({"slots": {"k": wrong}})
    with pytest.raises(ValueError, match=r"'r'.*shape \(2, 4\).*takes \(2, 3\)"):
        fresh.apply_gradients([(np.ones((2, 3, 4)), Parameter(np.ones((2, 3, 4)), name="k"))])


@pytest.mark.parametrize("cls_name", NEW)
def test_new_optimizers_resume_exactly_from_a_checkpoint(tmp_path, cls_name):
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((48, 5)).astype(np.float32), rng.integers(0, 3, 48)

    def model():
        gpunet.utils.set_random_seed(2)
        m = gpunet.Sequential([Input((5,)), Dense(4, activation="tanh"), Dense(3, activation="softmax")])
        m.compile(optimizer=getattr(optimizers, cls_name)(**{k: v for k, v in NEW_SETTINGS[cls_name].items() if "clip" not in k}),
                  loss="sparse_categorical_crossentropy")
        return m

    straight = model()
    straight.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    straight.save(tmp_path / "m.h5")
    resumed = gpunet.load_model(tmp_path / "m.h5")
    assert resumed.optimizer.get_config() == straight.optimizer.get_config()
    for m in (straight, resumed):
        m.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)
