"""Keras 3's losses, all of them: every class and function against the real Keras (values, every
reduction, sample weights, ``ignore_class``), gradients by finite differences, recorded steps in
fit, configs both ways, and the errors for what gpunet refuses."""


import numpy as np
import pytest

import gpunet
from gpunet import Sequential, Tensor, backend, gradcheck, losses
from gpunet.layers import Dense, Input
from gpunet.utils import set_random_seed
from helpers import blobs

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")

RNG = np.random.default_rng(21)
N, C = 10, 4
LOGITS = (RNG.standard_normal((N, C)) * 1.5).astype(np.float32)
PROBS = np.exp(LOGITS) / np.exp(LOGITS).sum(-1, keepdims=True)
SIGMOID = 1 / (1 + np.exp(-LOGITS))
LABELS = RNG.integers(0, C, N)
ONE_HOT = np.eye(C, dtype=np.float32)[LABELS]
REAL_TRUE = RNG.standard_normal((N, C)).astype(np.float32)
REAL_PRED = RNG.standard_normal((N, C)).astype(np.float32)
COUNTS = RNG.poisson(2.0, (N, C)).astype(np.float32)
RATES = (RNG.random((N, C)) * 3 + 0.1).astype(np.float32)
BINARY = (RNG.random((N, C)) < 0.5).astype(np.float32)
TARGET_DIST = PROBS[::-1].copy()
WEIGHTS = RNG.random(N).astype(np.float32)


# (class name, arguments, y_true, y_pred): every loss class of Keras 3 that gpunet has
CASES = [
    ("MeanSquaredError", {}, REAL_TRUE, REAL_PRED),
    ("MeanAbsoluteError", {}, REAL_TRUE, REAL_PRED),
    ("MeanAbsolutePercentageError", {}, REAL_TRUE, REAL_PRED),
    ("MeanSquaredLogarithmicError", {}, COUNTS + 0.5, REAL_PRED),
    ("Huber", {"delta": 0.5}, REAL_TRUE, REAL_PRED),
    ("LogCosh", {}, REAL_TRUE, REAL_PRED * 4),
    ("Poisson", {}, COUNTS, RATES),
    ("KLDivergence", {}, TARGET_DIST, PROBS),
    ("CosineSimilarity", {}, REAL_TRUE, REAL_PRED),
    ("CosineSimilarity", {"axis": 0}, REAL_TRUE, REAL_PRED),
    ("Hinge", {}, BINARY, REAL_PRED),  # 0/1 targets read as -1/1
    ("Hinge", {}, REAL_TRUE, REAL_PRED),  # other targets as they are
    ("SquaredHinge", {}, BINARY, REAL_PRED),
    ("CategoricalHinge", {}, ONE_HOT, REAL_PRED),
    ("Dice", {}, BINARY, SIGMOID),
    ("Dice", {"axis": (1,)}, BINARY, SIGMOID),
    ("Tversky", {"alpha": 0.3, "beta": 0.7}, BINARY, SIGMOID),
    ("Tversky", {"axis": 1}, BINARY, SIGMOID),
    ("BinaryCrossentropy", {"label_smoothing": 0.1}, BINARY, SIGMOID),
    ("BinaryCrossentropy", {"from_logits": True}, BINARY, LOGITS),
    ("CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.2}, ONE_HOT, LOGITS),
    ("CategoricalCrossentropy", {}, ONE_HOT, PROBS),
    ("SparseCategoricalCrossentropy", {}, LABELS, PROBS),
    ("SparseCategoricalCrossentropy", {"from_logits": True, "ignore_class": 2}, LABELS, LOGITS),
    ("SparseCategoricalCrossentropy", {"ignore_class": 1}, LABELS, PROBS),
    ("BinaryFocalCrossentropy", {}, BINARY, SIGMOID),
    ("BinaryFocalCrossentropy", {"apply_class_balancing": True, "alpha": 0.4, "gamma": 1.5, "from_logits": True,
                                 "label_smoothing": 0.1}, BINARY, LOGITS),
    ("CategoricalFocalCrossentropy", {}, ONE_HOT, PROBS),
    ("CategoricalFocalCrossentropy", {"alpha": 0.5, "gamma": 3.0, "from_logits": True, "label_smoothing": 0.2},
     ONE_HOT, LOGITS),
    ("CategoricalGeneralizedCrossEntropy", {"q": 0.3}, LABELS, PROBS),
]
IDS = [f"{c[0]}-{c[1]}" for c in CASES]
REDUCTIONS = ["sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None]


@pytest.mark.parametrize(("cls", "kwargs", "y_true", "y_pred"), CASES, ids=IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_losses_equal_keras_for_every_reduction_and_weighting(keras, cls, kwargs, y_true, y_pred, reduction):
    ours = getattr(losses, cls)(reduction=reduction, **kwargs)
    theirs = getattr(keras.losses, cls)(reduction=reduction, **kwargs)
    weights = [None, 2.5] + ([WEIGHTS, WEIGHTS[:, None]] if kwargs.get("axis", -1) in (-1, 1, (1,)) else [])
    for sample_weight in weights:
        got = ours(y_true, Tensor(y_pred), sample_weight=sample_weight).numpy()
        want = np.asarray(theirs(y_true, y_pred, sample_weight=sample_weight))
        assert got.shape == want.shape, sample_weight
        np.testing.assert_allclose(got, want, rtol=3e-5, atol=1e-6, err_msg=str(sample_weight))


FUNCTIONS = [
    ("mean_squared_error", (REAL_TRUE, REAL_PRED), {}), ("mean_absolute_error", (REAL_TRUE, REAL_PRED), {}),
    ("mean_absolute_percentage_error", (REAL_TRUE, REAL_PRED), {}),
    ("mean_squared_logarithmic_error", (COUNTS, REAL_PRED), {}), ("huber", (REAL_TRUE, REAL_PRED), {"delta": 0.3}),
    ("log_cosh", (REAL_TRUE, REAL_PRED), {}), ("poisson", (COUNTS, RATES), {}), ("kl_divergence", (TARGET_DIST, PROBS), {}),
    ("cosine_similarity", (REAL_TRUE, REAL_PRED), {"axis": 0}), ("hinge", (BINARY, REAL_PRED), {}),
    ("squared_hinge", (REAL_TRUE, REAL_PRED), {}), ("categorical_hinge", (ONE_HOT, REAL_PRED), {}),
    ("dice", (BINARY, SIGMOID), {}), ("tversky", (BINARY, SIGMOID), {"alpha": 0.2, "beta": 0.8, "axis": -1}),
    ("binary_crossentropy", (BINARY, LOGITS), {"from_logits": True, "label_smoothing": 0.3}),
    ("categorical_crossentropy", (ONE_HOT, LOGITS), {"from_logits": True, "label_smoothing": 0.1}),
    ("sparse_categorical_crossentropy", (LABELS, LOGITS), {"from_logits": True, "ignore_class": 1}),
    ("sparse_categorical_crossentropy", (LABELS[:, None].astype(np.float32), PROBS), {}),
    ("binary_focal_crossentropy", (BINARY, LOGITS), {"from_logits": True, "apply_class_balancing": True}),
    ("categorical_focal_crossentropy", (ONE_HOT, PROBS), {"gamma": 1.0}),
    ("categorical_generalized_cross_entropy", (LABELS, PROBS), {"q": 0.7}),
]


@pytest.mark.parametrize(("name", "args", "kwargs"), FUNCTIONS, ids=[f[0] + str(f[2]) for f in FUNCTIONS])
def test_loss_functions_give_keras_per_sample_values(keras, name, args, kwargs):
    got = getattr(losses, name)(*args, **kwargs).numpy()
    want = np.asarray(getattr(keras.losses, name)(*args, **kwargs))
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=3e-5, atol=1e-6)


def test_short_names_are_the_same_functions():
    assert losses.mse is losses.mean_squared_error and losses.mae is losses.mean_absolute_error
    assert losses.mape is losses.mean_absolute_percentage_error and losses.msle is losses.mean_squared_logarithmic_error
    assert losses.kld is losses.kl_divergence and losses.logcosh is losses.log_cosh


def test_ignore_class_leaves_ignored_samples_out_of_the_mean():
    labels = np.array([0, 3, -1, 2, -1, 1])
    logits = LOGITS[:6].astype(np.float64)
    per_sample = losses.sparse_categorical_crossentropy(labels, logits, from_logits=True, ignore_class=-1).numpy()
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    kept = labels != -1
    expected = np.where(kept, -log_p[np.arange(6), np.where(kept, labels, 0)], 0.0)
    np.testing.assert_allclose(per_sample, expected, rtol=1e-12)
    loss = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)
    np.testing.assert_allclose(loss(labels, Tensor(logits)).item(), expected.sum() / kept.sum(), rtol=1e-12)
    everything_ignored = loss(np.full(6, -1), Tensor(logits)).item()
    assert everything_ignored == 0.0


# ---------------------------------------------------------------------------------------------
# gradients: finite differences in float64, for the mean, a weighted sum and the per-sample losses
# ---------------------------------------------------------------------------------------------
def _away_from_kinks(cls, y_true, y_pred):
    """Points where every term is differentiable (no |e| = 0, no hinge exactly at its corner)."""
    if cls in ("MeanAbsoluteError", "MeanAbsolutePercentageError"):
        y_pred = y_pred + np.sign(y_pred - y_true) * 0.05
    if cls == "Huber":
        e = y_pred - y_true
        y_pred = np.where(np.abs(np.abs(e) - 0.5) < 0.05, y_pred + 0.1 * np.sign(e), y_pred)
    if cls == "CategoricalHinge":
        y_pred = y_pred + np.arange(C) * 1e-3  # no tie for the largest negative
    return y_pred


@pytest.mark.parametrize(("cls", "kwargs", "y_true", "y_pred"), CASES, ids=IDS)
@pytest.mark.parametrize("form", ["mean", "weighted-sum", "per-sample"])
def test_loss_gradients_by_finite_differences(cls, kwargs, y_true, y_pred, form):
    y_true = y_true.astype(np.float64) if y_true.dtype.kind == "f" else y_true
    y_pred = _away_from_kinks(cls, y_true, y_pred.astype(np.float64))
    if form == "weighted-sum":
        loss = getattr(losses, cls)(reduction="sum", **kwargs)
        weights = WEIGHTS.astype(np.float64) if kwargs.get("axis", -1) != 0 else 1.5  # one loss per column for axis 0
        call = lambda p, t: loss(t, p, sample_weight=weights)  # noqa: E731
    else:
        loss = getattr(losses, cls)(**kwargs)
        call = (lambda p, t: loss.per_sample(t, p)) if form == "per-sample" else (lambda p, t: loss(t, p))  # noqa: E731
    # hinge targets are read as -1/1 only when all are 0/1: a finite step would change that
    float_target = y_true.dtype.kind == "f" and not (cls in ("Hinge", "SquaredHinge") and y_true is not REAL_TRUE)
    inputs = [Tensor(y_pred, requires_grad=True), Tensor(y_true, requires_grad=float_target)]
    assert gradcheck(call, inputs, atol=1e-7, rtol=1e-5)


_, LABELS_48 = blobs(n=48, features=4, seed=3)
IGNORED_48 = np.where(np.arange(48) % 5 == 0, -1, LABELS_48)


def test_fit_with_ignore_class_equals_keras_loss(keras):
    """Labels equal to ignore_class pass fit's checks and leave the loss Keras computes."""
    x, _ = blobs(n=48, features=4, seed=3)
    model = Sequential([Input((4,)), Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss=losses.SparseCategoricalCrossentropy(ignore_class=-1))
    ours = model.evaluate(x, IGNORED_48, batch_size=48, verbose=0)
    probs = model.predict(x, verbose=0)
    theirs = float(keras.losses.SparseCategoricalCrossentropy(ignore_class=-1)(IGNORED_48, probs))
    assert ours == pytest.approx(theirs, rel=1e-5)
    with pytest.raises(ValueError, match="labels from -1 to"):
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        model.evaluate(x, IGNORED_48, verbose=0)


def test_reduction_sum_trains_on_the_sum():
    """With reduction="sum" the step's loss is the batch's sum: the gradient is the mean's times the batch size."""
    x, y = blobs(n=16, features=4, seed=1)
    targets = np.eye(3)[y]
    grads = {}
    for reduction in ("sum_over_batch_size", "sum"):
        set_random_seed(0)
        model = Sequential([Input((4,)), Dense(3)])
        model.compile(optimizer="sgd", loss=losses.CategoricalCrossentropy(from_logits=True, reduction=reduction))
        model.evaluate(x[:2], targets[:2], verbose=0)
        loss = model.compute_loss(y=targets, y_pred=model(Tensor(x.astype(np.float32))))
        loss.backward()
        grads[reduction] = (loss.item(), backend.to_host(model.layers[0].kernel.grad))
    assert grads["sum"][0] == pytest.approx(16 * grads["sum_over_batch_size"][0], rel=1e-6)
    np.testing.assert_allclose(grads["sum"][1], 16 * grads["sum_over_batch_size"][1], rtol=1e-5)


def test_compute_loss_takes_sample_weight():
    x, y = blobs(n=8, features=4, seed=1)
    model = Sequential([Input((4,)), Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    y_pred = model(Tensor(x.astype(np.float32)))
    weights = np.linspace(0, 1, 8)
    weighted = model.compute_loss(y=y, y_pred=y_pred, sample_weight=weights).item()
    per_sample = losses.sparse_categorical_crossentropy(y, y_pred).numpy()
    assert weighted == pytest.approx((per_sample * weights).mean(), rel=1e-6)


def test_a_keras_style_loss_subclass_with_call():
    class HalfSquares(losses.Loss):
        def call(self, y_true, y_pred):
            return ((y_pred - y_true) * (y_pred - y_true)).mean(axis=-1) * 0.5

    loss = HalfSquares(reduction="sum")
    np.testing.assert_allclose(loss(REAL_TRUE, Tensor(REAL_PRED)).item(), 0.5 * ((REAL_PRED - REAL_TRUE) ** 2).mean(-1).sum(),
                               rtol=1e-6)
    np.testing.assert_allclose(HalfSquares().per_sample(REAL_TRUE, REAL_PRED).numpy(),
                               0.5 * ((REAL_PRED - REAL_TRUE) ** 2).mean(-1), rtol=1e-6)
    x, _ = blobs(n=16, features=4, seed=1)
    model = Sequential([Input((4,)), Dense(2)])
    model.compile(optimizer="sgd", loss=HalfSquares())
    assert np.isfinite(model.fit(x, REAL_TRUE[:1].repeat(16, 0)[:, :2], epochs=1, verbose=0).history["loss"]).all()


def test_dtype_float64_computes_in_float64():
    loss = losses.MeanSquaredError(dtype="float64")
    value = loss(REAL_TRUE, Tensor(REAL_PRED))
    assert value.dtype == np.float64
    np.testing.assert_allclose(value.item(), ((REAL_PRED.astype(np.float64) - REAL_TRUE) ** 2).mean(), rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# names and configs
# ---------------------------------------------------------------------------------------------
def test_every_name_keras_losses_get_takes_is_taken(keras):
    from keras.src.losses import ALL_OBJECTS_DICT

    for name, obj in ALL_OBJECTS_DICT.items():
        if name in ("Loss", "LossFunctionWrapper"):
            continue
        if name.lower() in ("ctc", "circle"):
            with pytest.raises(gpunet.errors.NotSupportedYetError, match=f"does not support keras.losses.{name} yet"):
                losses.get(name)
            continue
        ours = losses.get(name)
        if isinstance(obj, type):  # a class: the class of the same name
            assert type(ours).__name__ == obj.__name__, name
        else:  # a function: the class gpunet's function of that name stands for
            assert type(ours) is type(losses.get(getattr(losses, obj.__name__))), name


@pytest.mark.parametrize(("cls", "kwargs", "y_true", "y_pred"), CASES, ids=IDS)
def test_configs_round_trip_in_gpunet_and_keras(keras, cls, kwargs, y_true, y_pred):
    loss = getattr(losses, cls)(reduction="sum", name="mine", **kwargs)
    again = losses.deserialize(losses.serialize(loss))
    assert type(again) is type(loss) and again.get_config() == loss.get_config()
    if cls == "CategoricalGeneralizedCrossEntropy":
        return  # Keras 3.15's losses.deserialize does not know its own class
    theirs = keras.losses.deserialize(losses.serialize(loss))  # Keras reads gpunet's config
    assert type(theirs).__name__ == cls and theirs.reduction == "sum" and theirs.name == "mine"
    np.testing.assert_allclose(float(theirs(y_true, y_pred)), loss(y_true, Tensor(y_pred)).item(), rtol=3e-5, atol=1e-6)
    # gpunet reads Keras's config (where Keras leaves out Huber's delta and CosineSimilarity's axis, both sides lose them)
    keras_config = keras.losses.serialize(getattr(keras.losses, cls)(reduction="sum", name="mine", **kwargs))
    ours, theirs = losses.deserialize(keras_config), keras.losses.deserialize(keras_config)
    np.testing.assert_allclose(ours(y_true, Tensor(y_pred)).item(), float(theirs(y_true, y_pred)), rtol=3e-5, atol=1e-6)


def test_a_model_with_a_new_loss_saves_and_loads(tmp_path, keras):
    x, y = blobs(n=32, features=4, seed=2)
    model = Sequential([Input((4,)), Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss=losses.CategoricalFocalCrossentropy(gamma=1.0, reduction="sum"))
    targets = np.eye(3, dtype=np.float32)[y]
    model.fit(x, targets, epochs=1, verbose=0)
    for name in ("m.h5", "m.keras"):
        model.save(tmp_path / name)
        loaded = gpunet.load_model(tmp_path / name)
        assert loaded.loss.get_config() == model.loss.get_config()
        assert loaded.evaluate(x, targets, verbose=0) == pytest.approx(model.evaluate(x, targets, verbose=0), rel=1e-7)
        theirs = keras.models.load_model(tmp_path / name)
        assert type(theirs.loss).__name__ == "CategoricalFocalCrossentropy" and theirs.loss.reduction == "sum"


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [(lambda: losses.MeanSquaredError(reduction="average"), ValueError, "reduction must be one of"),
     (lambda: losses.Huber(reduction="max"), ValueError, "reduction must be one of"),
     (lambda: losses.MeanSquaredError(dtype="float16"), ValueError, "dtype='float16' is not supported"),
     (lambda: losses.CategoricalCrossentropy(axis=0), ValueError, "axis=0 is not supported"),
     (lambda: losses.BinaryCrossentropy(axis=1), ValueError, "axis=1 is not supported"),
     (lambda: losses.SparseCategoricalCrossentropy(ignore_class=1.5), TypeError, "ignore_class must be an integer"),
     (lambda: losses.SparseCategoricalCrossentropy(from_logits="yes"), TypeError, "from_logits must be True or False"),
     (lambda: losses.CategoricalGeneralizedCrossEntropy(q=1.0), ValueError, r"q must be a number in the interval \(0, 1\)"),
     (lambda: losses.CategoricalFocalCrossentropy(alpha=[0.2, 0.8]), ValueError, "one weight per class is not supported"),
     (lambda: losses.BinaryFocalCrossentropy(gamma=-1), ValueError, "gamma must be a non-negative number"),
     (lambda: losses.Tversky(alpha="a"), ValueError, "alpha must be a number"),
     (lambda: losses.Dice(axis=1.5), ValueError, "axis must be an integer"),
     (lambda: losses.CosineSimilarity(axis=None), ValueError, "axis must be an integer"),
     (lambda: losses.MeanSquaredError(name=3), TypeError, "name must be a non-empty string"),
     (lambda: losses.CTC(), gpunet.errors.NotSupportedYetError, "does not support keras.losses.CTC yet"),
     (lambda: losses.circle(LABELS, LOGITS), gpunet.errors.NotSupportedYetError, "keras.losses.circle"),
     (lambda: losses.get("Circle"), gpunet.errors.NotSupportedYetError, "does not support keras.losses.Circle yet"),
     (lambda: losses.get({"class_name": "CTC", "config": {}}), gpunet.errors.NotSupportedYetError, "keras.losses.CTC"),
     (lambda: losses.MeanSquaredError()(REAL_TRUE, REAL_PRED, sample_weight=np.ones(3)), ValueError,
      r"sample_weight must hold one weight per sample \(10\)"),
     (lambda: losses.MeanSquaredError()(REAL_TRUE, REAL_PRED, sample_weight="heavy"), TypeError, "sample_weight must"),
     (lambda: losses.sparse_categorical_crossentropy(LABELS + 0.5, PROBS), ValueError, "integer class labels"),
     (lambda: losses.sparse_categorical_crossentropy(np.full(N, 7), PROBS), ValueError, r"must lie in \[0, 4\)"),
     (lambda: losses.categorical_generalized_cross_entropy(ONE_HOT, PROBS, q=0.5), ValueError, "one class label per sample")],
)
def test_bad_loss_arguments_name_the_argument(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_reduction_none_is_refused_by_fit_and_evaluate():
    x, y = blobs(n=16, features=4, seed=1)
    model = Sequential([Input((4,)), Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss=losses.SparseCategoricalCrossentropy(reduction=None))
    for run in (lambda: model.fit(x, y, verbose=0), lambda: model.evaluate(x, y, verbose=0)):
        with pytest.raises(ValueError, match="reduction=None gives one loss per sample"):
            run()
