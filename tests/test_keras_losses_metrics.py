"""Keras 3's losses and metrics: values against float64 NumPy formulas and the real Keras,
gradients by finite differences, recorded steps, the names metrics are logged under, and the
training config Keras and gpunet read from each other's ``.h5`` files."""


import numpy as np
import pytest

import gpunet
from gpunet import Sequential, Tensor, backend, gradcheck, losses, metrics
from gpunet.layers import Dense, Input
from gpunet.utils import set_random_seed
from helpers import blobs

RNG = np.random.default_rng(7)
N, C = 12, 5
LOGITS = RNG.standard_normal((N, C)) * 2
LABELS = RNG.integers(0, C, N)
ONE_HOT = np.eye(C)[LABELS]
REAL_PRED = RNG.standard_normal((N, 3)) * 2
REAL_TRUE = RNG.standard_normal((N, 3))
BINARY_TRUE = (RNG.random((N, C)) < 0.5).astype(np.float64)

# Keras 3.15 on NumPy 2 converts its variables with np.array(x, copy=False) and warns; not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


# ---------------------------------------------------------------------------------------------
# float64 references: one loss per sample, as Keras's formulas
# ---------------------------------------------------------------------------------------------
def ref_categorical(t, p, smoothing=0.0):
    t = t * (1 - smoothing) + smoothing / t.shape[-1]
    return -(t * np.log(np.maximum(p, 1e-7))).sum(-1)


def ref_binary(t, p, smoothing=0.0):
    t = t * (1 - smoothing) + smoothing / 2
    return -(t * np.log(p) + (1 - t) * np.log(1 - p)).mean(-1)


def ref_huber(t, p, delta):
    e = np.abs(p - t)
    return np.where(e <= delta, 0.5 * e**2, delta * e - 0.5 * delta**2).mean(-1)


def ref_kl(t, p):
    t, p = np.clip(t, 1e-7, 1), np.clip(p, 1e-7, 1)
    return (t * np.log(t / p)).sum(-1)


PROBS = softmax(LOGITS)
TARGET_DIST = softmax(RNG.standard_normal((N, C)))
# (loss object, y_true, prediction handed to it, float64 per-sample reference)
CASES = {
    "sparse": (losses.SparseCategoricalCrossentropy(), LABELS, PROBS, -np.log(PROBS[np.arange(N), LABELS])),
    "sparse-logits": (losses.SparseCategoricalCrossentropy(from_logits=True), LABELS, LOGITS,
                      -np.log(PROBS[np.arange(N), LABELS])),
    "categorical": (losses.CategoricalCrossentropy(), ONE_HOT, PROBS, ref_categorical(ONE_HOT, PROBS)),
    "categorical-smoothed": (losses.CategoricalCrossentropy(label_smoothing=0.1), ONE_HOT, PROBS,
                             ref_categorical(ONE_HOT, PROBS, 0.1)),
    "categorical-logits-smoothed": (losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.3), ONE_HOT,
                                    LOGITS, ref_categorical(ONE_HOT, PROBS, 0.3)),
    "binary": (losses.BinaryCrossentropy(), BINARY_TRUE, sigmoid(LOGITS), ref_binary(BINARY_TRUE, sigmoid(LOGITS))),
    "binary-smoothed": (losses.BinaryCrossentropy(label_smoothing=0.2), BINARY_TRUE, sigmoid(LOGITS),
                        ref_binary(BINARY_TRUE, sigmoid(LOGITS), 0.2)),
    "binary-logits-smoothed": (losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.2), BINARY_TRUE, LOGITS,
                               ref_binary(BINARY_TRUE, sigmoid(LOGITS), 0.2)),
    "mse": (losses.MeanSquaredError(), REAL_TRUE, REAL_PRED, ((REAL_PRED - REAL_TRUE) ** 2).mean(-1)),
    "mae": (losses.MeanAbsoluteError(), REAL_TRUE, REAL_PRED, np.abs(REAL_PRED - REAL_TRUE).mean(-1)),
    "huber": (losses.Huber(), REAL_TRUE, REAL_PRED, ref_huber(REAL_TRUE, REAL_PRED, 1.0)),
    "huber-0.4": (losses.Huber(delta=0.4), REAL_TRUE, REAL_PRED, ref_huber(REAL_TRUE, REAL_PRED, 0.4)),
    "kld": (losses.KLDivergence(), TARGET_DIST, PROBS, ref_kl(TARGET_DIST, PROBS)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_loss_and_per_sample_losses_against_float64_formulas(case):
    loss, y_true, y_pred, expected = CASES[case]
    np.testing.assert_allclose(loss(y_true, Tensor(y_pred)).item(), expected.mean(), rtol=1e-12)
    per_sample = loss.per_sample(y_true, Tensor(y_pred))
    assert per_sample.shape == (N,)
    np.testing.assert_allclose(per_sample.numpy(), expected, rtol=1e-12)


FUNCTIONS = {
    "sparse": lambda t, p: losses.sparse_categorical_crossentropy(t, p),
    "sparse-logits": lambda t, p: losses.sparse_categorical_crossentropy(t, p, from_logits=True),
    "categorical-smoothed": lambda t, p: losses.categorical_crossentropy(t, p, label_smoothing=0.1),
    "categorical-logits-smoothed": lambda t, p: losses.categorical_crossentropy(t, p, True, 0.3),
    "binary-smoothed": lambda t, p: losses.binary_crossentropy(t, p, label_smoothing=0.2),
    "binary-logits-smoothed": lambda t, p: losses.binary_crossentropy(t, p, from_logits=True, label_smoothing=0.2),
    "mse": losses.mean_squared_error,
    "mae": losses.mean_absolute_error,
    "huber-0.4": lambda t, p: losses.huber(t, p, delta=0.4),
    "kld": losses.kl_divergence,
}


@pytest.mark.parametrize("case", list(FUNCTIONS))
def test_loss_functions_give_one_loss_per_sample(case):
    _, y_true, y_pred, expected = CASES[case]
    np.testing.assert_allclose(FUNCTIONS[case](y_true, y_pred).numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("per_sample", [False, True], ids=["mean", "per-sample"])
def test_loss_gradients_by_finite_differences(case, per_sample):
    loss, y_true, y_pred, _ = CASES[case]
    if case.startswith("mae"):  # |e| has a kink at 0: keep the points away from it
        y_pred = y_pred + np.sign(y_pred - y_true) * 0.05
    if case.startswith("huber"):  # and Huber one at |e| = delta
        e = y_pred - y_true
        y_pred = np.where(np.abs(np.abs(e) - loss.delta) < 0.05, y_pred + 0.1 * np.sign(e), y_pred)
    call = loss.per_sample if per_sample else loss
    float_target = y_true.dtype.kind == "f"
    inputs = [Tensor(y_pred, requires_grad=True), Tensor(y_true, requires_grad=float_target)]
    assert gradcheck(lambda p, t: call(t, p), inputs, atol=1e-7, rtol=1e-5)


def test_label_smoothing_on_fused_logits_equals_the_probability_path_with_gradients():
    loss = losses.CategoricalCrossentropy(label_smoothing=0.25)
    z1, z2 = Tensor(LOGITS.copy(), requires_grad=True), Tensor(LOGITS.copy(), requires_grad=True)
    fused = loss.compute(z1, Tensor(ONE_HOT), logits=True)
    unfused = loss.compute(gpunet.ops.softmax(z2), Tensor(ONE_HOT), logits=False)
    np.testing.assert_allclose(fused.item(), unfused.item(), rtol=1e-10)
    fused.backward()
    unfused.backward()
    np.testing.assert_allclose(backend.to_host(z1.grad), backend.to_host(z2.grad), rtol=1e-8, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# fit records and replays steps with the new losses, bit for bit the eager numbers
# ---------------------------------------------------------------------------------------------
def _train(loss, targets, units, activation, run_eagerly, metrics_=()):
    set_random_seed(3)
    x, _ = blobs(n=48, features=4, seed=1)
    model = Sequential([Input((4,)), Dense(6, activation="tanh"), Dense(units, activation=activation)])
    model.compile(optimizer="adam", loss=loss, metrics=list(metrics_), run_eagerly=run_eagerly)
    step = model.make_train_step()
    history = model.fit(x, targets, batch_size=8, epochs=2, verbose=0)
    step(backend.to_device(x[:8]), backend.to_device(targets[:8].astype(np.float32) if targets.dtype.kind == "f" else targets[:8]))
    return model.get_weights(), history.history, step


_, LABELS_48 = blobs(n=48, features=4, seed=1)
IGNORED_48 = np.where(np.arange(48) % 5 == 0, -1, LABELS_48)
RECORDED = {
    "categorical-smoothed": (lambda: losses.CategoricalCrossentropy(label_smoothing=0.1), np.eye(3)[LABELS_48], 3, "softmax"),
    "binary-smoothed": (lambda: losses.BinaryCrossentropy(label_smoothing=0.1), (LABELS_48 == 1)[:, None] * 1.0, 1, "sigmoid"),
    "mae": (lambda: "mae", RNG.standard_normal((48, 2)), 2, None),
    "huber": (lambda: losses.Huber(delta=0.5), RNG.standard_normal((48, 2)), 2, None),
    "kld": (lambda: "kld", softmax(RNG.standard_normal((48, 3))), 3, "softmax"),
    "function": (lambda: losses.huber, RNG.standard_normal((48, 2)), 2, None),
    "log_cosh": (lambda: losses.LogCosh(), RNG.standard_normal((48, 2)), 2, None),
    "poisson-sum": (lambda: losses.Poisson(reduction="sum"), RNG.poisson(1.5, (48, 2)).astype(float), 2, "sigmoid"),
    "hinge": (lambda: "hinge", (RNG.random((48, 1)) < 0.5) * 1.0, 1, "tanh"),
    "categorical_hinge": (lambda: "categorical_hinge", np.eye(3)[LABELS_48], 3, None),
    "cosine": (lambda: losses.CosineSimilarity(), RNG.standard_normal((48, 3)), 3, None),
    "dice": (lambda: losses.Dice(axis=-1), (RNG.random((48, 3)) < 0.5) * 1.0, 3, "sigmoid"),
    "focal": (lambda: losses.CategoricalFocalCrossentropy(from_logits=True), np.eye(3)[LABELS_48], 3, None),
    "binary_focal": (lambda: losses.BinaryFocalCrossentropy(apply_class_balancing=True), (LABELS_48 == 1)[:, None] * 1.0,
                     1, "sigmoid"),
    "ignore_class": (lambda: losses.SparseCategoricalCrossentropy(ignore_class=-1), IGNORED_48, 3, "softmax"),
    "generalized": (lambda: losses.CategoricalGeneralizedCrossEntropy(q=0.4), LABELS_48, 3, "softmax"),
}


@pytest.mark.parametrize("case", list(RECORDED))
def test_new_losses_are_recorded_and_replayed_like_eager_steps(case):
    make, targets, units, activation = RECORDED[case]
    eager_weights, eager_logs, _ = _train(make(), targets, units, activation, run_eagerly=True)
    weights, logs, step = _train(make(), targets, units, activation, run_eagerly=False)
    assert step.tape is not None  # recorded, not eager
    for got, want in zip(weights, eager_weights):
        np.testing.assert_array_equal(got, want)
    assert {k: v for k, v in logs.items() if k != "epoch_time"} == {k: v for k, v in eager_logs.items() if k != "epoch_time"}
    assert np.isfinite(logs["loss"]).all()


def test_a_user_loss_function_is_wrapped_and_trains_eagerly():
    def doubled_mse(y_true, y_pred):
        return ((y_pred - y_true) * (y_pred - y_true)).mean(axis=-1) * 2.0

    loss = losses.get(doubled_mse)
    assert isinstance(loss, losses.LossFunctionWrapper) and loss.name == "doubled_mse"
    np.testing.assert_allclose(loss(REAL_TRUE, Tensor(REAL_PRED)).item(), 2 * np.mean((REAL_PRED - REAL_TRUE) ** 2))
    _, logs, step = _train(doubled_mse, RECORDED["mae"][1], 2, None, run_eagerly=False)
    assert step.tape is None and np.isfinite(logs["loss"]).all()


# ---------------------------------------------------------------------------------------------
# lookup and bad arguments
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "cls"),
    [("mse", losses.MeanSquaredError), ("MSE", losses.MeanSquaredError), ("mean_squared_error", losses.MeanSquaredError),
     ("mae", losses.MeanAbsoluteError), ("MAE", losses.MeanAbsoluteError), ("MeanAbsoluteError", losses.MeanAbsoluteError),
     ("huber", losses.Huber), ("Huber", losses.Huber), ("kld", losses.KLDivergence), ("KLD", losses.KLDivergence),
     ("kl_divergence", losses.KLDivergence), ("bce", losses.BinaryCrossentropy), ("BCE", losses.BinaryCrossentropy),
     ("categorical_crossentropy", losses.CategoricalCrossentropy),
     (losses.categorical_crossentropy, losses.CategoricalCrossentropy), (losses.huber, losses.Huber),
     (losses.kl_divergence, losses.KLDivergence), (losses.mean_absolute_error, losses.MeanAbsoluteError)],
)
def test_losses_by_keras_names_and_functions(name, cls):
    assert type(losses.get(name)) is cls


def test_loss_configs_round_trip_and_refuse_what_gpunet_cannot_compute():
    for loss in (losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2), losses.Huber(delta=0.3),
                 losses.BinaryCrossentropy(label_smoothing=0.05), losses.KLDivergence(), losses.MeanAbsoluteError()):
        again = losses.get(losses.serialize(loss))
        assert type(again) is type(loss) and again.get_config() == loss.get_config()
    keras_config = {"class_name": "Huber", "config": {"name": "huber_loss", "reduction": "sum_over_batch_size", "delta": 2.0}}
    assert losses.get(keras_config).delta == 2.0
    assert losses.get({"class_name": "MeanAbsoluteError", "config": {"reduction": "sum"}}).reduction == "sum"
    assert losses.get({"class_name": "SparseCategoricalCrossentropy", "config": {"ignore_class": 0}}).ignore_class == 0
    with pytest.raises(ValueError, match=r"axis=1 is not supported"):
        losses.get({"class_name": "CategoricalCrossentropy", "config": {"axis": 1}})
    with pytest.raises(ValueError, match=r"unsupported settings \['gain'\]"):
        losses.get({"class_name": "MeanAbsoluteError", "config": {"gain": 2}})


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [(lambda: losses.Huber(delta=-1.0), ValueError, "delta must be a positive number"),
     (lambda: losses.Huber(delta=0), ValueError, "delta must be a positive number"),
     (lambda: losses.Huber(delta="1"), ValueError, "delta must be a positive number"),
     (lambda: losses.CategoricalCrossentropy(label_smoothing=1.5), ValueError, r"label_smoothing must be a number in \[0, 1\]"),
     (lambda: losses.BinaryCrossentropy(label_smoothing=-0.1), ValueError, r"label_smoothing must be a number in \[0, 1\]"),
     (lambda: losses.SparseCategoricalCrossentropy(label_smoothing=0.1), TypeError, "label_smoothing"),
     (lambda: losses.get("hinge_loss"), ValueError, "unknown loss 'hinge_loss'"),
     (lambda: losses.get(3), TypeError, "loss must be a name"),
     (lambda: losses.LossFunctionWrapper("mse"), TypeError, "fn must be a function"),
     (lambda: losses.MeanAbsoluteError()(np.zeros((N, 2)), Tensor(REAL_PRED)), ValueError, "y_true must have the outputs' shape"),
     (lambda: losses.huber(np.zeros((N, 2)), REAL_PRED), ValueError, "y_true must have the outputs' shape")],
)
def test_bad_loss_arguments_name_the_argument(make, error, message):
    with pytest.raises(error, match=message):
        make()


# ---------------------------------------------------------------------------------------------
# metrics: float64 references
# ---------------------------------------------------------------------------------------------
SCORES = RNG.random((40, 4))
TRUTH = (RNG.random((40, 4)) < 0.4).astype(np.float64)


def ref_counts(pred_pos, true_pos):
    return (pred_pos & true_pos).sum(), (pred_pos & ~true_pos).sum(), (~pred_pos & true_pos).sum()


def ref_top_k_mask(scores, k):
    order = np.argsort(-scores, axis=-1, kind="stable")[:, :k]
    mask = np.zeros(scores.shape, bool)
    np.put_along_axis(mask, order, True, axis=-1)
    return mask


@pytest.mark.parametrize(
    "kwargs", [{}, {"thresholds": 0.3}, {"thresholds": 0.0}, {"thresholds": 1.0}, {"top_k": 2}, {"class_id": 1},
               {"top_k": 1, "class_id": 2}, {"top_k": 2, "thresholds": 0.6}],
)
def test_precision_and_recall_against_float64_counts(kwargs):
    threshold = kwargs.get("thresholds", 0.5 if "top_k" not in kwargs else -np.inf)
    pred_pos = SCORES > threshold
    if "top_k" in kwargs:
        pred_pos &= ref_top_k_mask(SCORES, kwargs["top_k"])
    true_pos = TRUTH != 0
    if "class_id" in kwargs:
        pred_pos, true_pos = pred_pos[:, kwargs["class_id"]], true_pos[:, kwargs["class_id"]]
    tp, fp, fn = ref_counts(pred_pos, true_pos)
    precision, recall = metrics.Precision(**kwargs), metrics.Recall(**kwargs)
    for metric in (precision, recall):
        metric.update(SCORES[:25], TRUTH[:25], logits=False)  # two batches accumulate
        metric.update(SCORES[25:], TRUTH[25:], logits=False)
    assert precision.result() == pytest.approx(tp / (tp + fp) if tp + fp else 0.0, abs=1e-15)
    assert recall.result() == pytest.approx(tp / (tp + fn) if tp + fn else 0.0, abs=1e-15)


def ref_auc(scores, truth, curve, summation, thresholds):
    """Keras's AUC estimate from its definition: counts above each threshold, then a Riemann sum."""
    s, t = np.clip(scores.ravel(), 0, 1), truth.ravel() != 0
    tp = np.array([(s > th)[t].sum() for th in thresholds], float)
    fp = np.array([(s > th)[~t].sum() for th in thresholds], float)
    fn, tn = t.sum() - tp, (~t).sum() - fp
    if curve == "PR" and summation == "interpolation":  # Davis & Goadrich: precision along tp between thresholds
        total = 0.0
        for i in range(len(thresholds) - 1):
            p0, p1, dtp = tp[i] + fp[i], tp[i + 1] + fp[i + 1], tp[i] - tp[i + 1]
            if p0 - p1 <= 0 or dtp == 0:
                continue
            slope = dtp / (p0 - p1)
            intercept = tp[i + 1] - slope * p1
            ratio = p0 / p1 if p1 > 0 else 1.0
            total += slope * (dtp + intercept * np.log(ratio)) / (tp[i + 1] + fn[i + 1])
        return total
    recall = tp / (tp + fn)
    x, y = (fp / (fp + tn), recall) if curve == "ROC" else (recall, np.divide(tp, tp + fp, out=np.zeros_like(tp), where=tp + fp > 0))
    heights = {"interpolation": (y[:-1] + y[1:]) / 2, "minoring": np.minimum(y[:-1], y[1:]),
               "majoring": np.maximum(y[:-1], y[1:])}[summation]
    return float(((x[:-1] - x[1:]) * heights).sum())


@pytest.mark.parametrize("curve", ["ROC", "PR"])
@pytest.mark.parametrize("summation", ["interpolation", "minoring", "majoring"])
@pytest.mark.parametrize("num_thresholds", [200, 9])
def test_auc_against_its_definition(curve, summation, num_thresholds):
    thresholds = [-1e-7] + [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)] + [1 + 1e-7]
    auc = metrics.AUC(num_thresholds=num_thresholds, curve=curve, summation_method=summation)
    auc.update(SCORES[:15], TRUTH[:15], logits=False)
    auc.update(SCORES[15:], TRUTH[15:], logits=False)
    assert auc.result() == pytest.approx(ref_auc(SCORES, TRUTH, curve, summation, thresholds), abs=1e-12)


def test_auc_counts_on_the_device_of_its_predictions(xp):
    """Device predictions are counted on the device and host ones on the host, whichever backend is
    selected: the thresholds follow the predictions."""
    thresholds = [-1e-7] + [(i + 1) / 199 for i in range(198)] + [1 + 1e-7]
    expected = ref_auc(SCORES, TRUTH, "ROC", "interpolation", thresholds)
    on_device, on_host = metrics.AUC(), metrics.AUC()
    on_device.update(xp.asarray(SCORES), xp.asarray(TRUTH), logits=False)
    on_host.update(SCORES, TRUTH, logits=False)
    assert backend.get_array_module(on_device.true_positives) is xp
    assert isinstance(on_host.true_positives, np.ndarray)
    assert on_device.result() == pytest.approx(expected, abs=1e-12)
    assert on_host.result() == pytest.approx(expected, abs=1e-12)


def test_auc_explicit_thresholds_from_logits_and_sparse_labels():
    auc = metrics.AUC(thresholds=[0.7, 0.2, 0.5], curve="pr", summation_method="Majoring")
    auc.update(SCORES, TRUTH, logits=False)
    assert auc.result() == pytest.approx(ref_auc(SCORES, TRUTH, "PR", "majoring", [-1e-7, 0.2, 0.5, 0.7, 1 + 1e-7]), abs=1e-12)
    logit_scores = np.log(SCORES / (1 - SCORES))
    from_logits = metrics.AUC(from_logits=True)
    from_logits.update(logit_scores, TRUTH, logits=False)
    plain = metrics.AUC()
    plain.update(SCORES, TRUTH, logits=False)
    assert from_logits.result() == pytest.approx(plain.result(), abs=1e-12)
    sparse = metrics.AUC()
    sparse.update(PROBS, LABELS, logits=False)  # integer labels count as one-hot rows
    dense = metrics.AUC()
    dense.update(PROBS, ONE_HOT, logits=False)
    assert sparse.result() == dense.result() and 0 < sparse.result() < 1


@pytest.mark.parametrize("k", [1, 2, 5, 7])
def test_top_k_accuracies_against_numpy_with_ties(k):
    scores = np.round(LOGITS, 0)  # many ties: a tie with the true class counts as a hit
    # a hit: the true class's score reaches the row's k-th largest score (every class when k >= C)
    kth = np.sort(scores, axis=1)[:, -k] if k <= C else np.full(N, -np.inf)
    expected = np.mean(scores[np.arange(N), LABELS] >= kth)
    sparse, dense = metrics.SparseTopKCategoricalAccuracy(k=k), metrics.TopKCategoricalAccuracy(k=k)
    sparse.update(scores, LABELS, logits=False)
    dense.update(scores, ONE_HOT, logits=False)
    assert sparse.result() == expected and dense.result() == expected
    assert (k >= C) == (expected == 1.0)


def test_metrics_on_fused_logits_see_the_models_probabilities():
    """Fused: the metric gets the logits and applies the softmax/sigmoid the model ends in."""
    for make in (lambda: metrics.Precision(top_k=2), lambda: metrics.AUC(), lambda: metrics.Recall(thresholds=0.3),
                 lambda: metrics.get("mse", losses.CategoricalCrossentropy())):
        on_logits, on_probs = make(), make()
        on_logits.bind(losses.CategoricalCrossentropy())
        on_logits.update(LOGITS, ONE_HOT, logits=True)
        on_probs.update(PROBS, ONE_HOT, logits=False)
        assert on_logits.result() == pytest.approx(on_probs.result(), abs=1e-12)
    for threshold in (0.5, 0.8):
        on_logits = metrics.get(metrics.BinaryAccuracy(threshold=threshold), losses.BinaryCrossentropy())
        on_logits.update(LOGITS, BINARY_TRUE, logits=True)
        assert on_logits.result() == pytest.approx(np.mean((sigmoid(LOGITS) > threshold) == BINARY_TRUE.astype(bool)),
                                                   abs=1e-12)
        auc_logits, auc_probs = metrics.get("auc", losses.BinaryCrossentropy()), metrics.AUC()
        auc_logits.update(LOGITS, BINARY_TRUE, logits=True)
        auc_probs.update(sigmoid(LOGITS), BINARY_TRUE, logits=False)
        assert auc_logits.result() == pytest.approx(auc_probs.result(), abs=1e-12)


def test_with_from_logits_the_metrics_see_the_logits_the_model_outputs():
    """A loss with from_logits=True: the model's output is logits, and Keras's metrics compare
    them as they are (Precision(thresholds=0) is Keras's advice for such models)."""
    precision = metrics.get(metrics.Precision(thresholds=0.0), losses.BinaryCrossentropy(from_logits=True))
    precision.update(LOGITS, BINARY_TRUE, logits=True)
    tp, fp, _ = ref_counts(LOGITS > 0, BINARY_TRUE != 0)
    assert precision.result() == tp / (tp + fp)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [(lambda: metrics.Precision(thresholds=1.5), ValueError, r"thresholds must be a number in \[0, 1\]"),
     (lambda: metrics.Recall(thresholds=-0.1), ValueError, r"thresholds must be a number in \[0, 1\]"),
     (lambda: metrics.Precision(thresholds=[0.2, 1.4]), ValueError, r"thresholds must be a number in \[0, 1\]"),
     (lambda: metrics.get(metrics.Precision(thresholds=[0.2, 0.4]), None), ValueError, "gives several values"),
     (lambda: metrics.Precision(top_k=0), ValueError, "top_k must be a positive integer"),
     (lambda: metrics.Recall(class_id=-1), ValueError, "class_id must be a non-negative integer"),
     (lambda: metrics.AUC(num_thresholds=1), ValueError, "num_thresholds must be an integer > 1"),
     (lambda: metrics.AUC(curve="GAIN"), ValueError, "curve must be 'ROC', 'PR' or 'PRGAIN'"),
     (lambda: metrics.AUC(summation_method="trapezoid"), ValueError, "summation_method must be one of"),
     (lambda: metrics.AUC(thresholds=[0.5, 2.0]), ValueError, r"thresholds must be a number in \[0, 1\]"),
     (lambda: metrics.AUC(num_labels=3), ValueError, "num_labels is needed only when multi_label is True"),
     (lambda: metrics.TopKCategoricalAccuracy(k=0), ValueError, "k must be a positive integer"),
     (lambda: metrics.SparseTopKCategoricalAccuracy(k=2.5), ValueError, "k must be a positive integer"),
     (lambda: metrics.BinaryAccuracy(threshold=2), ValueError, r"threshold must be a number in \[0, 1\]"),
     (lambda: metrics.get("f1_score", losses.MeanSquaredError()), ValueError, "'f1_score'.* gives several values"),
     (lambda: metrics.get(metrics.Precision(class_id=7), None).update(PROBS, ONE_HOT, False), ValueError, "class_id=7")],
)
def test_bad_metric_arguments_name_the_argument(make, error, message):
    with pytest.raises(error, match=message):
        make()


# ---------------------------------------------------------------------------------------------
# the names metrics are logged under (Keras 3: the string given, else the object's name)
# ---------------------------------------------------------------------------------------------
NAMING = [
    ("sparse_categorical_crossentropy", ["acc"], ["acc"]),
    ("sparse_categorical_crossentropy", ["accuracy"], ["accuracy"]),
    ("sparse_categorical_crossentropy", ["ACC", "sparse_categorical_accuracy"], ["ACC", "sparse_categorical_accuracy"]),
    ("sparse_categorical_crossentropy", ["SparseCategoricalAccuracy", "sparse_top_k_categorical_accuracy"],
     ["SparseCategoricalAccuracy", "sparse_top_k_categorical_accuracy"]),
    ("sparse_categorical_crossentropy", [metrics.SparseCategoricalAccuracy(), metrics.SparseTopKCategoricalAccuracy(k=2, name="top2")],
     ["sparse_categorical_accuracy", "top2"]),
    ("categorical_crossentropy", ["acc", "top_k_categorical_accuracy", "categorical_accuracy"],
     ["acc", "top_k_categorical_accuracy", "categorical_accuracy"]),
    ("binary_crossentropy", ["acc", "auc", "precision", "recall"], ["acc", "auc", "precision", "recall"]),
    ("binary_crossentropy", ["AUC", "Precision", "Recall", "binary_accuracy"], ["AUC", "Precision", "Recall", "binary_accuracy"]),
    ("binary_crossentropy", [metrics.AUC(curve="PR", name="pr_auc"), metrics.Precision()], ["pr_auc", "precision"]),
    ("mse", ["mse", "mae", "mean_squared_error", "MSE"], ["mse", "mae", "mean_squared_error", "MSE"]),
]


def _targets_for(loss, y):
    return {"categorical_crossentropy": np.eye(3)[y], "binary_crossentropy": (y == 1)[:, None] * 1.0,
            "mse": (y == 1)[:, None] * 1.0}.get(loss, y)


@pytest.mark.parametrize(("loss", "metric_list", "names"), NAMING)
def test_metrics_are_logged_under_the_name_given(loss, metric_list, names):
    x, labels = blobs(n=40, features=4, seed=2)
    y = _targets_for(loss, labels)
    units, activation = {"binary_crossentropy": (1, "sigmoid"), "mse": (1, None)}.get(loss, (3, "softmax"))
    model = Sequential([Input((4,)), Dense(units, activation=activation)])
    model.compile(optimizer="sgd", loss=loss, metrics=metric_list)
    with pytest.warns(UserWarning, match="dev set"):  # 40 dev samples: too few to select reliably
        history = model.fit(x, y, validation_data=(x, y), epochs=1, verbose=0)
    logged = [k for k in history.history if k not in ("loss", "val_loss", "learning_rate", "epoch_time")]
    assert logged == names + [f"val_{name}" for name in names]
    assert list(model.evaluate(x, y, verbose=0, return_dict=True)) == ["loss", *names]


@pytest.mark.parametrize(("loss", "metric_list", "names"), [case for case in NAMING if not any(
    isinstance(m, metrics.Metric) for m in case[1])])
def test_keras_logs_the_same_names(keras, loss, metric_list, names):
    x, y = blobs(n=40, features=4, seed=2)
    units, activation = {"binary_crossentropy": (1, "sigmoid"), "mse": (1, None)}.get(loss, (3, "softmax"))
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(units, activation=activation)])
    model.compile(optimizer="sgd", loss=loss, metrics=metric_list)
    logs = model.evaluate(x, _targets_for(loss, y), verbose=0, return_dict=True)
    assert sorted(logs) == sorted(["loss", *names])


def test_best_on_dev_and_plateau_follow_the_metric_name():
    x, y = blobs(n=120, features=4, seed=4)
    model = Sequential([Input((4,)), Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["acc"])
    plateau = gpunet.callbacks.ReduceLROnPlateau(monitor="val_acc", patience=1)
    history = model.fit(x, y, validation_data=(x, y), epochs=2, verbose=0, callbacks=[plateau])
    assert history.best["monitor"] == "val_acc" and "val_acc" in history.history


# ---------------------------------------------------------------------------------------------
# against the real Keras: values
# ---------------------------------------------------------------------------------------------
KERAS_LOSSES = [
    ("CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, ONE_HOT, LOGITS),
    ("CategoricalCrossentropy", {"label_smoothing": 0.2}, ONE_HOT, PROBS),
    ("SparseCategoricalCrossentropy", {"from_logits": True}, LABELS, LOGITS),
    ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.3}, BINARY_TRUE, LOGITS),
    ("BinaryCrossentropy", {}, BINARY_TRUE, sigmoid(LOGITS)),
    ("MeanSquaredError", {}, REAL_TRUE, REAL_PRED),
    ("MeanAbsoluteError", {}, REAL_TRUE, REAL_PRED),
    ("Huber", {"delta": 0.7}, REAL_TRUE, REAL_PRED),
    ("KLDivergence", {}, TARGET_DIST, PROBS),
]


@pytest.mark.parametrize(("cls", "kwargs", "y_true", "y_pred"), KERAS_LOSSES, ids=[f"{c[0]}-{c[1]}" for c in KERAS_LOSSES])
def test_losses_equal_keras(keras, cls, kwargs, y_true, y_pred):
    y_pred32 = y_pred.astype(np.float32)
    ours = getattr(losses, cls)(**kwargs)
    theirs = getattr(keras.losses, cls)(**kwargs)
    np.testing.assert_allclose(ours(y_true, Tensor(y_pred32)).item(), float(theirs(y_true, y_pred32)), rtol=2e-6)
    function = {"CategoricalCrossentropy": "categorical_crossentropy", "SparseCategoricalCrossentropy":
                "sparse_categorical_crossentropy", "BinaryCrossentropy": "binary_crossentropy", "MeanSquaredError":
                "mean_squared_error", "MeanAbsoluteError": "mean_absolute_error", "Huber": "huber",
                "KLDivergence": "kl_divergence"}[cls]
    np.testing.assert_allclose(getattr(losses, function)(y_true, y_pred32, **kwargs).numpy(),
                               np.asarray(getattr(keras.losses, function)(y_true, y_pred32, **kwargs)), rtol=2e-6, atol=1e-7)


KERAS_METRICS = [
    ("Precision", {}), ("Precision", {"thresholds": 0.3}), ("Precision", {"top_k": 2}), ("Precision", {"class_id": 1}),
    ("Recall", {}), ("Recall", {"top_k": 1, "class_id": 2}), ("Recall", {"thresholds": 0.7, "top_k": 3}),
    ("AUC", {}), ("AUC", {"curve": "PR"}), ("AUC", {"curve": "PR", "summation_method": "minoring", "num_thresholds": 13}),
    ("AUC", {"summation_method": "majoring", "num_thresholds": 50}), ("AUC", {"thresholds": [0.1, 0.35, 0.8]}),
    ("TopKCategoricalAccuracy", {"k": 2}), ("TopKCategoricalAccuracy", {}),
]


@pytest.mark.parametrize(("cls", "kwargs"), KERAS_METRICS, ids=[f"{c[0]}-{c[1]}" for c in KERAS_METRICS])
def test_metrics_equal_keras_to_1e6(keras, cls, kwargs):
    rng = np.random.default_rng(11)
    scores = rng.random((300, 4)).astype(np.float32)
    truth = (rng.random((300, 4)) < scores).astype(np.float32)
    ours, theirs = getattr(metrics, cls)(**kwargs), getattr(keras.metrics, cls)(**kwargs)
    for start in range(0, 300, 64):
        ours.update(scores[start:start + 64], truth[start:start + 64], logits=False)
        theirs.update_state(truth[start:start + 64], scores[start:start + 64])
    assert abs(ours.result() - float(theirs.result())) <= 1e-6


def test_sparse_top_k_equals_keras(keras):
    for k in (1, 3, 5):
        ours, theirs = metrics.SparseTopKCategoricalAccuracy(k=k), keras.metrics.SparseTopKCategoricalAccuracy(k=k)
        ours.update(LOGITS.astype(np.float32), LABELS, logits=False)
        theirs.update_state(LABELS, LOGITS.astype(np.float32))
        assert abs(ours.result() - float(theirs.result())) <= 1e-6


# ---------------------------------------------------------------------------------------------
# the training config in .h5 files, both ways
# ---------------------------------------------------------------------------------------------
SAVED = {
    "softmax": (3, "softmax", losses.CategoricalCrossentropy(label_smoothing=0.1),
                ["acc", "top_k_categorical_accuracy", metrics.TopKCategoricalAccuracy(k=2, name="top2"),
                 metrics.AUC(curve="PR", num_thresholds=50), metrics.Precision(class_id=1)]),
    "sigmoid": (1, "sigmoid", losses.BinaryCrossentropy(label_smoothing=0.05),
                ["accuracy", "auc", "recall", metrics.Precision(thresholds=0.3, name="p30"),
                 metrics.AUC(thresholds=[0.2, 0.5, 0.9], summation_method="minoring", name="auc_thr")]),
    "huber": (2, None, losses.Huber(delta=0.3), ["mae", "MSE"]),
    "kld": (3, "softmax", losses.kl_divergence, ["categorical_accuracy"]),
    "mae": (2, None, "mae", ["mse"]),
}


def _saved_data(case):
    x, y = blobs(n=64, features=4, seed=6)
    units = SAVED[case][0]
    if case in ("huber", "mae"):
        return x, np.random.default_rng(0).standard_normal((64, units)).astype(np.float32)
    if case == "sigmoid":
        return x, (y == 1)[:, None].astype(np.float32)
    return x, np.eye(3, dtype=np.float32)[y]


@pytest.mark.parametrize("case", list(SAVED))
def test_keras_compiles_the_training_config_gpunet_writes(keras, tmp_path, case):
    units, activation, loss, metric_list = SAVED[case]
    model = Sequential([Input((4,)), Dense(units, activation=activation)])
    model.compile(optimizer="adam", loss=loss, metrics=metric_list)
    x, y = _saved_data(case)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    model.save(tmp_path / "m.h5")
    ours = model.evaluate(x, y, verbose=0, return_dict=True)
    loaded = keras.models.load_model(tmp_path / "m.h5", compile=True)
    theirs = loaded.evaluate(x, y, verbose=0, return_dict=True)
    assert theirs["loss"] == pytest.approx(ours["loss"], rel=1e-5)
    # Keras's legacy loader renames metrics given by alias ("mae" -> "mean_absolute_error"); the values agree
    assert sorted(theirs.values()) == pytest.approx(sorted(ours.values()), rel=1e-5, abs=1e-6)
    again = gpunet.load_model(tmp_path / "m.h5")
    assert again.evaluate(x, y, verbose=0, return_dict=True) == ours
    assert again.loss.get_config() == model.loss.get_config()


def test_gpunet_compiles_the_training_config_keras_writes(keras, tmp_path):
    keras.utils.set_random_seed(0)  # Keras's weights are otherwise drawn from whatever state earlier tests left
    kmodel = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    kmodel.compile(optimizer="adam", loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.2),
                   metrics=["acc", keras.metrics.TopKCategoricalAccuracy(k=2), keras.metrics.AUC(curve="PR"),
                            keras.metrics.Precision(top_k=1), keras.metrics.Recall(class_id=0, name="recall0")])
    x, y = _saved_data("softmax")
    kmodel.fit(x, y, epochs=1, verbose=0)
    kmodel.save(tmp_path / "k.h5")
    theirs = kmodel.evaluate(x, y, verbose=0, return_dict=True)
    # Keras clips probabilities to [1e-7, 1 - 1e-7] before the log; gpunet takes the exact log-softmax
    # (docs/guide.md): the losses agree where no probability is that small
    assert kmodel.predict(x, verbose=0).min() > 1e-6
    model = gpunet.load_model(tmp_path / "k.h5")
    assert isinstance(model.loss, losses.CategoricalCrossentropy) and model.loss.label_smoothing == 0.2
    ours = model.evaluate(x, y, verbose=0, return_dict=True)
    assert sorted(ours) == sorted(theirs) and "acc" in ours and "recall0" in ours  # Keras's names (auc_3, ...)
    for key, value in ours.items():
        assert value == pytest.approx(theirs[key], abs=1e-6), key

    kmodel.compile(optimizer="adam", loss="kld", metrics=["mae"])  # Keras writes the loss as its string
    kmodel.save(tmp_path / "kld.h5")
    assert isinstance(gpunet.load_model(tmp_path / "kld.h5").loss, losses.KLDivergence)


def test_a_registered_loss_function_round_trips_through_h5(tmp_path):
    @gpunet.saving.register_serializable(package="tests")
    def halved_mae(y_true, y_pred):
        return losses.mean_absolute_error(y_true, y_pred) * 0.5

    model = Sequential([Input((4,)), Dense(2)])
    model.compile(optimizer="adam", loss=halved_mae)
    assert model.loss.get_config()["fn"] == "tests>halved_mae"
    x, y = _saved_data("mae")
    model.save(tmp_path / "f.h5")
    loaded = gpunet.load_model(tmp_path / "f.h5")
    assert loaded.loss.fn is halved_mae
    assert loaded.evaluate(x, y, verbose=0) == pytest.approx(model.evaluate(x, y, verbose=0), rel=1e-7)
    model.compile(optimizer="adam", loss=lambda t, p: losses.mean_absolute_error(t, p))
    model.save(tmp_path / "lambda.h5")
    with pytest.raises(ValueError, match="not registered"):
        gpunet.load_model(tmp_path / "lambda.h5")
