"""Weight constraints: Keras 3's formulas and configs, in place, applied once after each update of
fit as Keras applies them, and the layers' constraint arguments."""

import os

import numpy as np
import pytest

import gpunet
from gpunet import backend, constraints
from gpunet.layers import BatchNormalization, Conv2D, Dense, Flatten, Input, LayerNormalization, PReLU

EPS = 1e-7


def _norms(w, axis):
    return np.sqrt((w.astype(np.float64) ** 2).sum(axis=tuple(np.atleast_1d(axis)), keepdims=True))


REFERENCES = {  # name -> (constraint, float64 formula)
    "max_norm": (constraints.MaxNorm(1.5), lambda w: w * np.clip(_norms(w, 0), 0, 1.5) / (EPS + _norms(w, 0))),
    "max_norm-filters": (constraints.MaxNorm(2, axis=[0, 1, 2]),
                         lambda w: w * np.clip(_norms(w, [0, 1, 2]), 0, 2) / (EPS + _norms(w, [0, 1, 2]))),
    "min_max_norm": (constraints.MinMaxNorm(0.5, 1.2, rate=0.7, axis=1),
                     lambda w: w * (0.7 * np.clip(_norms(w, 1), 0.5, 1.2) + 0.3 * _norms(w, 1)) / (EPS + _norms(w, 1))),
    "unit_norm": (constraints.UnitNorm(axis=-1), lambda w: w / (EPS + _norms(w, -1))),
    "non_neg": (constraints.NonNeg(), lambda w: np.maximum(w, 0)),
    "constraint": (constraints.Constraint(), lambda w: w),
}


def _weight(name, dtype=np.float64):
    shape = (3, 2, 4, 5) if name == "max_norm-filters" else (6, 4)
    return np.random.default_rng(0).normal(0, 0.8, shape).astype(dtype)


@pytest.mark.parametrize("name", list(REFERENCES))
def test_values_and_in_place(name):
    constraint, reference = REFERENCES[name]
    w = _weight(name)
    expected = reference(w)
    np.testing.assert_allclose(constraint(w), expected, rtol=1e-13)
    np.testing.assert_allclose(backend.to_host(constraint(gpunet.Tensor(w))), expected, rtol=1e-13)  # a Tensor gives its data
    target = w.copy()
    address = target.__array_interface__["data"][0]
    constraint.constrain_in_place(target)
    assert target.__array_interface__["data"][0] == address  # the weight's own memory
    np.testing.assert_allclose(target, expected, rtol=1e-13)


def test_projections_hold():
    w = _weight("max_norm") * 3
    assert _norms(constraints.MaxNorm(1.0)(w), 0).max() <= 1.0 + 1e-6
    np.testing.assert_allclose(_norms(constraints.UnitNorm()(w), 0), 1.0, rtol=1e-6)
    norms = _norms(constraints.MinMaxNorm(1.0, 2.0)(w * 0.01), 0)
    np.testing.assert_allclose(norms, 1.0, rtol=1e-5)  # rate 1: all the way to min_value
    assert (constraints.NonNeg()(w) >= 0).all()


def test_names_configs_and_errors():
    assert constraints.max_norm is constraints.MaxNorm and constraints.non_neg is constraints.NonNeg
    assert constraints.unit_norm is constraints.UnitNorm and constraints.min_max_norm is constraints.MinMaxNorm
    for name in ("max_norm", "MaxNorm", "min_max_norm", "MinMaxNorm", "non_neg", "NonNeg", "unit_norm", "UnitNorm"):
        assert isinstance(constraints.get(name), constraints.Constraint)
    assert constraints.get(None) is None and isinstance(constraints.get(constraints.NonNeg), constraints.NonNeg)
    plain = lambda w: w  # noqa: E731
    assert constraints.get(plain) is plain
    m = constraints.MinMaxNorm(0.1, 3, rate=0.5, axis=[0, 1])
    assert constraints.serialize(m) == {"class_name": "MinMaxNorm",
                                        "config": {"min_value": 0.1, "max_value": 3, "rate": 0.5, "axis": [0, 1]}}
    again = constraints.deserialize(constraints.serialize(m))
    assert type(again) is constraints.MinMaxNorm and again.get_config() == m.get_config()
    assert constraints.serialize(None) is None
    with pytest.raises(TypeError, match="only Constraint objects can be saved"):
        constraints.serialize(plain)
    for make, match in ((lambda: constraints.MaxNorm(-1), "max_value must be a finite number >= 0"),
                        (lambda: constraints.MaxNorm(axis="0"), "axis must be"),
                        (lambda: constraints.UnitNorm(axis=[0, 0]), "must not repeat"),
                        (lambda: constraints.MinMaxNorm(2, 1), "min_value .* must not exceed max_value"),
                        (lambda: constraints.MinMaxNorm(rate=1.5), r"rate must be a finite number in \[0, 1\]"),
                        (lambda: constraints.get("max_nrm"), "unknown constraint 'max_nrm'")):
        with pytest.raises(ValueError, match=match):
            make()
    with pytest.raises(TypeError, match="a constraint must be"):
        constraints.get(3)
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        constraints.MaxNorm(axis=2)(np.ones((2, 2)))


@gpunet.saving.register_serializable(package="tests")
class Clip(constraints.Constraint):
    def __init__(self, limit=1.0):
        self.limit = limit

    def __call__(self, w):
        return gpunet.backend.get_array_module(w).clip(w, -self.limit, self.limit)

    def get_config(self):
        return {"limit": self.limit}


def _data(n=32, features=5, outputs=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, features)).astype(np.float32), rng.standard_normal((n, outputs)).astype(np.float32)


def test_fit_applies_constraints_after_each_update(tmp_path):
    gpunet.utils.set_random_seed(0)
    model = gpunet.Sequential([Input((5,)), Dense(4, kernel_constraint=constraints.MaxNorm(0.4), bias_constraint="non_neg"),
                               Dense(3, kernel_constraint=Clip(0.05), bias_constraint=lambda w: w * 0),
                               Dense(2, use_bias=False)])
    model.compile(optimizer=gpunet.optimizers.SGD(0.5), loss="mse")
    x, y = _data()
    before = model.get_weights()
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    kernel, bias, kernel2, bias2, last = model.get_weights()
    assert _norms(kernel, 0).max() <= 0.4 + 1e-6 and (bias >= 0).all() and bias.max() > 0
    assert np.abs(kernel2).max() <= 0.05 and (bias2 == 0).all()
    assert not np.allclose(last, before[-1])  # the unconstrained layer trains as before
    assert model.layers[0].kernel.constraint is model.layers[0].kernel_constraint

    with pytest.raises(TypeError, match="only Constraint objects can be saved"):
        model.layers[1].get_config()  # the plain function
    model.layers[1].bias_constraint = None
    model.layers[1].bias.constraint = None
    config = model.layers[1].get_config()
    assert config["kernel_constraint"] == {"class_name": "Clip", "config": {"limit": 0.05}, "registered_name": "tests>Clip"}
    for name in ("m.h5", "m.keras"):
        model.save(tmp_path / name)
        again = gpunet.load_model(tmp_path / name)
        layer = again.layers[0]
        assert isinstance(layer.kernel.constraint, constraints.MaxNorm) and layer.kernel.constraint.max_value == 0.4
        assert isinstance(again.layers[1].kernel.constraint, Clip) and again.layers[1].kernel.constraint.limit == 0.05


def test_only_updated_weights_are_constrained():
    """Keras applies a constraint after the optimizer updated the weight: a frozen layer's
    weights and a non-trainable weight are left as they are."""
    gpunet.utils.set_random_seed(1)
    frozen = Dense(4, kernel_constraint=constraints.NonNeg())
    model = gpunet.Sequential([Input((5,)), frozen, Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    kernel = model.layers[0].get_weights()[0]
    assert (kernel < 0).any()
    frozen.trainable = False
    model.fit(*_data(), epochs=1, batch_size=16, verbose=0)
    np.testing.assert_array_equal(model.layers[0].get_weights()[0], kernel)
    frozen.trainable = True
    model.fit(*_data(), epochs=1, batch_size=16, verbose=0)
    assert (model.layers[0].get_weights()[0] >= 0).all()


def test_every_layer_takes_its_constraints():
    gpunet.utils.set_random_seed(2)
    model = gpunet.Sequential([
        Input((6, 6, 2)), Conv2D(3, 3, kernel_constraint=constraints.MaxNorm(0.3, axis=[0, 1, 2]), bias_constraint="non_neg"),
        BatchNormalization(gamma_constraint=constraints.MinMaxNorm(0.5, 0.8), beta_constraint="non_neg"),
        LayerNormalization(gamma_constraint="unit_norm", beta_constraint=constraints.MaxNorm(0.01)),
        PReLU(alpha_initializer=0.5, alpha_constraint=constraints.NonNeg()), Flatten(), Dense(2)])
    model.compile(optimizer=gpunet.optimizers.SGD(0.3), loss="mse")
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16, 6, 6, 2)).astype(np.float32), rng.standard_normal((16, 2)).astype(np.float32)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    conv, bn, ln, prelu = model.layers[:4]
    assert _norms(conv.kernel.numpy(), [0, 1, 2]).max() <= 0.3 + 1e-6 and (conv.bias.numpy() >= 0).all()
    assert 0.5 - 1e-6 <= np.linalg.norm(bn.gamma.numpy()) <= 0.8 + 1e-6 and (bn.beta.numpy() >= 0).all()
    np.testing.assert_allclose(np.linalg.norm(ln.gamma.numpy()), 1.0, rtol=1e-5)
    assert np.linalg.norm(ln.beta.numpy()) <= 0.01 + 1e-7 and (prelu.alpha.numpy() >= 0).all()
    for layer, keys in ((conv, ("kernel_constraint", "bias_constraint")), (bn, ("beta_constraint", "gamma_constraint")),
                        (ln, ("beta_constraint", "gamma_constraint")), (prelu, ("alpha_constraint",))):
        config = layer.get_config()
        rebuilt = type(layer).from_config(config)
        for key in keys:
            assert type(getattr(rebuilt, key)) is type(getattr(layer, key))


def test_a_constraint_change_is_seen_by_the_graph_key():
    layer = Dense(2, kernel_constraint=constraints.MaxNorm(1.0))
    layer(np.ones((1, 3), np.float32))
    key = layer.graph_key()
    layer.kernel_constraint.max_value = 2.0
    assert layer.graph_key() != key


def test_a_custom_train_step_gets_them_from_apply_gradients():
    x, y = _data()

    class Custom(gpunet.Sequential):
        def train_step(self, data):
            xb, yb = data
            loss = self.compute_loss(y=yb, y_pred=self(xb, training=True))
            loss.backward()
            params = self.trainable_weights
            self.optimizer.apply_gradients(zip([p.grad for p in params], params))  # projects them, as Keras's does
            return {"loss": loss}

    gpunet.utils.set_random_seed(3)
    model = Custom([Input((5,)), Dense(2, kernel_constraint="non_neg")])
    model.compile(optimizer=gpunet.optimizers.SGD(0.5), loss="mse")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert (model.layers[0].get_weights()[0] >= 0).all()


@pytest.mark.gpu
@pytest.mark.parametrize("name", [n for n in REFERENCES if n != "constraint"])
def test_in_place_on_the_device(cp, name):
    constraint, reference = REFERENCES[name]
    w = _weight(name, np.float32)
    device = cp.asarray(w)
    constraint.constrain_in_place(device)
    np.testing.assert_allclose(cp.asnumpy(device), reference(w), rtol=1e-5, atol=1e-7)


def _graphed_fit(enabled):
    from gpunet.training import graphs

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((96, 6)).astype(np.float32), rng.integers(0, 3, 96)
    graphs.set_cuda_graphs(enabled)
    try:
        gpunet.utils.set_random_seed(5)
        model = gpunet.Sequential([Input((6,)), Dense(8, activation="relu", kernel_constraint=constraints.MaxNorm(0.5),
                                                      bias_constraint="non_neg"),
                                   Dense(3, activation="softmax", kernel_constraint=constraints.UnitNorm())])
        model.compile(optimizer=gpunet.optimizers.SGD(0.2, momentum=0.9), loss="sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=16, epochs=3, verbose=0)
    finally:
        graphs.set_cuda_graphs(False)
    return [gpunet.backend.to_host(w) for w in model.get_weights()]


@pytest.mark.gpu
def test_constraints_inside_a_captured_train_step(cp):
    """A train step replayed from a CUDA graph applies the constraints as the eager step does."""
    eager, graphed = _graphed_fit(False), _graphed_fit(True)
    assert _norms(graphed[0], 0).max() <= 0.5 + 1e-6 and (graphed[1] >= 0).all()
    emulated = "emulated" in getattr(cp, "__version__", "")
    for a, b in zip(eager, graphed):
        if emulated:
            np.testing.assert_array_equal(a, b)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# against Keras 3
# ---------------------------------------------------------------------------------------------
def _keras():
    pytest.importorskip("jax", reason="the Keras comparisons run Keras 3 on JAX")
    os.environ.setdefault("KERAS_BACKEND", "jax")
    return pytest.importorskip("keras", minversion="3.0")


@pytest.mark.parametrize("name", [n for n in REFERENCES if n != "constraint"])
def test_values_and_configs_match_keras(name):
    keras = _keras()
    constraint, _ = REFERENCES[name]
    w = _weight(name, np.float32)
    theirs = keras.constraints.deserialize({"module": "keras.constraints", **constraints.serialize(constraint),
                                            "registered_name": None})
    np.testing.assert_allclose(constraint(w), np.asarray(theirs(keras.ops.convert_to_tensor(w))), rtol=1e-6, atol=1e-7)
    assert theirs.get_config() == constraint.get_config()
    ours = constraints.deserialize(keras.constraints.serialize(theirs))
    assert type(ours) is type(constraint) and ours.get_config() == constraint.get_config()
    names = {n for n in dir(keras.constraints) if not n.startswith("_")} - {"get", "serialize", "deserialize"}
    assert names <= set(constraints.__all__)


def test_training_steps_match_keras(tmp_path):
    """Three SGD steps of the same model in Keras and in gpunet, constraints applied after each
    update in both: the same weights."""
    keras = _keras()
    gpunet.utils.set_random_seed(4)
    model = gpunet.Sequential([Input((5,)), Dense(4, activation="tanh", kernel_constraint=constraints.MaxNorm(0.6),
                                                  bias_constraint=constraints.NonNeg()),
                               Dense(3, kernel_constraint=constraints.UnitNorm(axis=1)),
                               PReLU(alpha_initializer=0.2, alpha_constraint=constraints.MinMaxNorm(0.1, 0.3, rate=0.5)),
                               Dense(2)])
    x, y = _data(24)
    model.save(tmp_path / "twin.keras")
    theirs = keras.models.load_model(tmp_path / "twin.keras", compile=False)
    assert type(theirs.layers[0].kernel.constraint).__name__ == "MaxNorm"
    model.compile(optimizer=gpunet.optimizers.SGD(0.5), loss="mse")
    theirs.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    theirs.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    for ours, weight in zip(model.weights, theirs.weights):
        np.testing.assert_allclose(ours.numpy(), np.asarray(weight), rtol=2e-5, atol=2e-6, err_msg=ours.name)


def test_a_constraint_subclass_must_keep_the_weights_shape():
    class Broadcasting(constraints.Constraint):
        def __call__(self, w):
            return w.sum(axis=0)  # broadcasts into w: refused rather than written silently

    w = np.ones((3, 2), np.float32)
    with pytest.raises(ValueError, match=r"must return an array of the weight's shape \(3, 2\)"):
        constraints.project(Broadcasting(), w)
    np.testing.assert_array_equal(w, 1)
