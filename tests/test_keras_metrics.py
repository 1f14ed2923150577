"""Keras 3's metrics, all of them: every class against the real Keras over several batches, with
and without sample weights, and after reset; the per-sample functions; the names compile takes;
configs both ways; the metrics in fit, evaluate and model files; the errors for what gpunet refuses."""


import numpy as np
import pytest

import gpunet
from gpunet import Sequential, backend, losses, metrics
from gpunet.layers import Dense, Input
from gpunet.utils import set_random_seed
from helpers import blobs

pytestmark = [
    pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:You are passing weight as `float`:UserWarning"),  # Keras's and gpunet's IoU
    pytest.mark.filterwarnings("ignore:More independent predictors than datapoints:UserWarning"),
    pytest.mark.filterwarnings("ignore:Explicitly requested dtype int64:UserWarning"),  # JAX
]

RNG = np.random.default_rng(3)
N, C = 60, 4
SCORES = RNG.random((N, C)).astype(np.float32)
TRUTH = (RNG.random((N, C)) < SCORES).astype(np.float32)
LOGITS = RNG.standard_normal((N, C)).astype(np.float32)
PROBS = np.exp(LOGITS) / np.exp(LOGITS).sum(-1, keepdims=True)
LABELS = RNG.integers(0, C, N)
GUESSES = RNG.integers(0, C, N)
ONE_HOT = np.eye(C, dtype=np.float32)[LABELS]
REAL_TRUE = RNG.standard_normal((N, C)).astype(np.float32)
REAL_PRED = (RNG.standard_normal((N, C)) + REAL_TRUE).astype(np.float32)
WEIGHTS = (RNG.random(N) * 3).astype(np.float32)  # IoU truncates weights to integers (0, 1, 2), as Keras
BINARY_TRUE, BINARY_SCORES = TRUTH[:, :1], SCORES[:, :1]


# (class name, arguments, y_true, y_pred): every metric class of Keras 3
CASES = [
    ("TruePositives", {}, TRUTH, SCORES),
    ("TruePositives", {"thresholds": [0.2, 0.7, 0.4]}, TRUTH, SCORES),
    ("TrueNegatives", {"thresholds": 0.3}, TRUTH, SCORES),
    ("FalsePositives", {}, TRUTH, SCORES),
    ("FalseNegatives", {"thresholds": [0.0, 0.5, 1.0]}, TRUTH, SCORES * 1.4 - 0.2),  # evenly spaced: clipped first
    ("Precision", {"thresholds": [0.3, 0.6]}, TRUTH, SCORES),
    ("Precision", {"top_k": 2}, TRUTH, SCORES),
    ("Recall", {"top_k": 2, "class_id": 1}, TRUTH, SCORES),
    ("PrecisionAtRecall", {"recall": 0.6}, BINARY_TRUE, BINARY_SCORES),
    ("PrecisionAtRecall", {"recall": 0.3, "num_thresholds": 7, "class_id": 2}, TRUTH, SCORES),
    ("RecallAtPrecision", {"precision": 0.7}, BINARY_TRUE, BINARY_SCORES),
    ("SensitivityAtSpecificity", {"specificity": 0.5}, BINARY_TRUE, BINARY_SCORES),
    ("SpecificityAtSensitivity", {"sensitivity": 0.8, "num_thresholds": 1}, BINARY_TRUE, BINARY_SCORES),
    ("SpecificityAtSensitivity", {"sensitivity": 0.8, "num_thresholds": 30}, TRUTH, SCORES),
    ("AUC", {}, TRUTH, SCORES),
    ("AUC", {"curve": "PRGAIN"}, TRUTH, SCORES),
    ("AUC", {"multi_label": True}, TRUTH, SCORES),
    ("AUC", {"multi_label": True, "label_weights": [1, 2, 0, 1], "curve": "PR"}, TRUTH, SCORES),
    ("AUC", {"multi_label": True, "num_labels": 4, "summation_method": "minoring"}, TRUTH, SCORES),
    ("AUC", {"label_weights": [1, 2, 0, 1]}, TRUTH, SCORES),
    ("F1Score", {}, ONE_HOT, PROBS),
    ("F1Score", {"average": "micro"}, ONE_HOT, PROBS),
    ("F1Score", {"average": "macro", "threshold": 0.3}, TRUTH, SCORES),
    ("FBetaScore", {"average": "weighted", "beta": 2.0}, TRUTH, SCORES),
    ("FBetaScore", {"beta": 0.5, "threshold": 0.5}, TRUTH, SCORES),
    ("R2Score", {}, REAL_TRUE, REAL_PRED),
    ("R2Score", {"class_aggregation": None}, REAL_TRUE, REAL_PRED),
    ("R2Score", {"class_aggregation": "variance_weighted_average", "num_regressors": 3}, REAL_TRUE, REAL_PRED),
    ("IoU", {"num_classes": 4, "target_class_ids": [0, 2]}, LABELS, GUESSES),
    ("MeanIoU", {"num_classes": 4, "ignore_class": 1}, LABELS, GUESSES),
    ("MeanIoU", {"num_classes": 4, "sparse_y_pred": False}, LABELS, PROBS),
    ("MeanIoU", {"num_classes": 4, "dtype": "float32"}, LABELS, GUESSES),  # fractional weights
    ("BinaryIoU", {}, BINARY_TRUE, BINARY_SCORES),
    ("BinaryIoU", {"target_class_ids": [1], "threshold": 0.3}, BINARY_TRUE, BINARY_SCORES),
    ("OneHotIoU", {"num_classes": 4, "target_class_ids": [1, 3]}, ONE_HOT, PROBS),
    ("OneHotMeanIoU", {"num_classes": 4}, ONE_HOT, PROBS),
    ("Accuracy", {}, LABELS, GUESSES),
    ("BinaryAccuracy", {"threshold": 0.4}, TRUTH, SCORES),
    ("CategoricalAccuracy", {}, ONE_HOT, PROBS),
    ("SparseCategoricalAccuracy", {}, LABELS, PROBS),
    ("SparseCategoricalAccuracy", {}, LABELS[:, None], PROBS),
    ("TopKCategoricalAccuracy", {"k": 2}, ONE_HOT, PROBS),
    ("SparseTopKCategoricalAccuracy", {"k": 2}, LABELS, PROBS),
    ("SparseTopKCategoricalAccuracy", {"k": 2, "from_sorted_ids": True}, LABELS, np.argsort(-PROBS, axis=1)),
    ("MeanSquaredError", {}, REAL_TRUE, REAL_PRED),
    ("RootMeanSquaredError", {}, REAL_TRUE, REAL_PRED),
    ("MeanAbsoluteError", {}, REAL_TRUE, REAL_PRED),
    ("MeanAbsolutePercentageError", {}, REAL_TRUE, REAL_PRED),
    ("MeanSquaredLogarithmicError", {}, np.abs(REAL_TRUE), REAL_PRED),
    ("CosineSimilarity", {}, REAL_TRUE, REAL_PRED),
    ("CosineSimilarity", {"axis": 0}, REAL_TRUE, REAL_PRED),
    ("LogCoshError", {}, REAL_TRUE, REAL_PRED),
    ("Hinge", {}, TRUTH, REAL_PRED),
    ("SquaredHinge", {}, REAL_TRUE, REAL_PRED),
    ("CategoricalHinge", {}, ONE_HOT, REAL_PRED),
    ("KLDivergence", {}, PROBS[::-1].copy(), PROBS),
    ("Poisson", {}, np.abs(REAL_TRUE), np.abs(REAL_PRED)),
    ("BinaryCrossentropy", {"label_smoothing": 0.1}, TRUTH, SCORES),
    ("BinaryCrossentropy", {"from_logits": True}, TRUTH, LOGITS),
    ("CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.2}, ONE_HOT, LOGITS),
    ("SparseCategoricalCrossentropy", {}, LABELS, PROBS),
    ("SparseCategoricalCrossentropy", {"from_logits": True, "ignore_class": 1}, LABELS, LOGITS),
    ("PearsonCorrelation", {}, REAL_TRUE, REAL_PRED),
    ("ConcordanceCorrelation", {}, REAL_TRUE, REAL_PRED),
]
IDS = [f"{c[0]}-{c[1]}" for c in CASES]


WEIGHTED = [(*case, weighted) for weighted in (False, True) for case in CASES
            if not (weighted and case[1].get("axis") == 0)]  # one value per column: no per-sample weights


@pytest.mark.parametrize(("cls", "kwargs", "y_true", "y_pred", "weighted"), WEIGHTED,
                         ids=[f"{c[0]}-{c[1]}-{'weighted' if c[4] else 'unweighted'}" for c in WEIGHTED])
def test_metrics_equal_keras_over_batches_and_after_reset(keras, cls, kwargs, y_true, y_pred, weighted):
    ours, theirs = getattr(metrics, cls)(**kwargs), getattr(keras.metrics, cls)(**kwargs)
    for start in range(0, N, 25):  # three batches, the last one smaller
        part = slice(start, start + 25)
        weight = WEIGHTS[part] if weighted else None
        ours.update_state(y_true[part], y_pred[part], sample_weight=weight)
        theirs.update_state(y_true[part], y_pred[part], sample_weight=weight)
    got, want = ours.result(), np.asarray(theirs.result())
    assert np.shape(got) == want.shape
    assert isinstance(got, float) if want.shape == () else isinstance(got, np.ndarray)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    ours.reset_state()
    theirs.reset_state()
    np.testing.assert_allclose(ours.result(), np.asarray(theirs.result()), atol=1e-7)  # Keras's fresh value
    assert ours(y_true, y_pred) == pytest.approx(np.asarray(theirs(y_true, y_pred)), rel=1e-5, abs=1e-6)


def test_metrics_count_on_the_device_of_their_predictions(xp):
    for make in (lambda: metrics.F1Score(average="macro"), lambda: metrics.PrecisionAtRecall(0.5),
                 lambda: metrics.OneHotMeanIoU(num_classes=4), lambda: metrics.R2Score(),
                 lambda: metrics.TruePositives(thresholds=[0.3, 0.6]), lambda: metrics.LogCoshError()):
        on_device, on_host = make(), make()
        on_device.update_state(xp.asarray(ONE_HOT), xp.asarray(PROBS), sample_weight=xp.asarray(WEIGHTS))
        on_host.update_state(ONE_HOT, PROBS, sample_weight=WEIGHTS)
        np.testing.assert_allclose(on_device.result(), on_host.result(), rtol=1e-6)


FUNCTIONS = [
    ("binary_accuracy", (TRUTH, SCORES), {"threshold": 0.3}),
    ("binary_accuracy", (BINARY_TRUE[:, 0], BINARY_SCORES), {}),
    ("categorical_accuracy", (ONE_HOT, PROBS), {}),
    ("sparse_categorical_accuracy", (LABELS, PROBS), {}),
    ("sparse_categorical_accuracy", (LABELS[:, None], PROBS), {}),
    ("top_k_categorical_accuracy", (ONE_HOT, PROBS), {"k": 2}),
    ("sparse_top_k_categorical_accuracy", (LABELS, PROBS), {"k": 3}),
    ("sparse_top_k_categorical_accuracy", (LABELS, np.argsort(-PROBS, axis=1)), {"k": 1, "from_sorted_ids": True}),
    ("pearson_correlation", (REAL_TRUE, REAL_PRED), {}),
    ("pearson_correlation", (REAL_TRUE, REAL_PRED), {"axis": 0}),
    ("concordance_correlation", (REAL_TRUE, REAL_PRED), {}),
    ("hinge", (TRUTH, REAL_PRED), {}),
    ("log_cosh", (REAL_TRUE, REAL_PRED), {}),
    ("huber", (REAL_TRUE, REAL_PRED), {"delta": 0.5}),
    ("poisson", (np.abs(REAL_TRUE), np.abs(REAL_PRED)), {}),
    ("mean_absolute_percentage_error", (REAL_TRUE, REAL_PRED), {}),
]


@pytest.mark.parametrize(("name", "args", "kwargs"), FUNCTIONS, ids=[f[0] + str(f[2]) for f in FUNCTIONS])
def test_metric_functions_give_keras_per_sample_values(keras, name, args, kwargs):
    got = getattr(metrics, name)(*args, **kwargs)
    got = got.numpy() if isinstance(got, gpunet.Tensor) else got
    want = np.asarray(getattr(keras.metrics, name)(*args, **kwargs))
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_the_loss_functions_keras_metrics_exports_are_gpunets(keras):
    for name in ("binary_crossentropy", "binary_focal_crossentropy", "categorical_crossentropy",
                 "categorical_focal_crossentropy", "categorical_hinge", "hinge", "huber", "kl_divergence", "log_cosh",
                 "mean_absolute_error", "mean_absolute_percentage_error", "mean_squared_error",
                 "mean_squared_logarithmic_error", "poisson", "sparse_categorical_crossentropy", "squared_hinge"):
        assert getattr(keras.metrics, name) is getattr(keras.losses, name)
        assert getattr(metrics, name) is getattr(losses, name)


def test_every_class_and_function_of_keras_metrics_is_in_gpunet(keras):
    keras_names = {name for name in dir(keras.metrics) if not name.startswith("_")}
    assert keras_names - set(dir(metrics)) == set()


# ---------------------------------------------------------------------------------------------
# compile: the names Keras takes, one number per metric, fused logits
# ---------------------------------------------------------------------------------------------
NEEDS_ARGUMENTS = {"io_u", "mean_io_u", "one_hot_io_u", "one_hot_mean_io_u", "precision_at_recall", "recall_at_precision",
                   "sensitivity_at_specificity", "specificity_at_sensitivity", "IoU", "MeanIoU", "OneHotIoU",
                   "OneHotMeanIoU", "PrecisionAtRecall", "RecallAtPrecision", "SensitivityAtSpecificity",
                   "SpecificityAtSensitivity"}
SEVERAL_VALUES = {"f1_score", "f_beta_score", "F1Score", "FBetaScore"}
VALUES_ONLY = {"mean", "sum", "metric", "mean_metric_wrapper", "Mean", "Sum", "Metric", "MeanMetricWrapper"}


def test_every_name_keras_metrics_get_takes(keras):
    from keras.src.metrics import ALL_OBJECTS_DICT

    for name, cls in ALL_OBJECTS_DICT.items():
        if name.lower() in ("accuracy", "acc"):
            continue  # compile picks the accuracy from the loss
        if name in NEEDS_ARGUMENTS:
            with pytest.raises(ValueError, match=f"metric '{name}' needs arguments"):
                metrics.get(name, None)
        elif name in SEVERAL_VALUES:
            with pytest.raises(ValueError, match="gives several values"):
                metrics.get(name, None)
        elif name in VALUES_ONLY:
            with pytest.raises(ValueError, match=r"takes values, not \(y_true, y_pred\)"):
                metrics.get(name, None)
        else:
            metric = metrics.get(name, None)
            assert type(metric).__name__ == cls.__name__ and metric.name == name, name


def test_a_metric_class_stands_for_its_default_instance():
    assert type(metrics.get(metrics.AUC, None)) is metrics.AUC and metrics.get(metrics.AUC, None).name == "auc"
    with pytest.raises(ValueError, match="'MeanIoU' needs arguments"):
        metrics.get(metrics.MeanIoU, None)
    with pytest.raises(ValueError, match="takes values"):
        metrics.get(metrics.Mean, None)
    assert type(losses.get(losses.Huber)) is losses.Huber


def _softmax_model(metric_list, loss="categorical_crossentropy"):
    set_random_seed(0)
    model = Sequential([Input((4,)), Dense(8, activation="tanh"), Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss=loss, metrics=metric_list)
    return model


SOFTMAX_METRICS = [
    metrics.F1Score(average="macro"), metrics.FBetaScore(average="weighted", beta=2.0, name="f2"),
    metrics.PrecisionAtRecall(0.5, class_id=1), metrics.RecallAtPrecision(0.6), metrics.SensitivityAtSpecificity(0.7),
    metrics.SpecificityAtSensitivity(0.7, num_thresholds=50), metrics.TruePositives(), metrics.FalseNegatives(0.3),
    metrics.OneHotMeanIoU(num_classes=3), metrics.OneHotIoU(num_classes=3, target_class_ids=[2]),
    metrics.AUC(multi_label=True, curve="PRGAIN", name="auc_gain"), metrics.CategoricalCrossentropy(),
    metrics.KLDivergence(), metrics.R2Score(), metrics.RootMeanSquaredError(), "mape", "log_cosh_error", "hinge",
    "categorical_hinge", "cosine_similarity", "pearson_correlation", "poisson", "msle",
]


def test_fit_and_evaluate_with_the_new_metrics_match_keras(keras, tmp_path):
    """gpunet's values of every metric after fit equal those Keras computes from the saved model."""
    x, y = blobs(n=64, features=4, seed=6)
    targets = np.eye(3, dtype=np.float32)[y]
    model = _softmax_model(SOFTMAX_METRICS)
    history = model.fit(x, targets, epochs=2, batch_size=16, verbose=0)
    names = [m.name for m in model.compiled_metrics]
    assert [k for k in history.history if k not in ("loss", "learning_rate", "epoch_time")] == names
    ours = model.evaluate(x, targets, batch_size=16, verbose=0, return_dict=True)
    for file in ("m.keras", "m.h5"):
        model.save(tmp_path / file)
        loaded = keras.models.load_model(tmp_path / file)
        theirs = loaded.evaluate(x, targets, batch_size=16, verbose=0, return_dict=True)
        if file == "m.keras":  # Keras's legacy .h5 loader renames metrics given by alias ("mape" -> ...)
            assert sorted(ours) == sorted(theirs)
            for name in ours:
                assert ours[name] == pytest.approx(theirs[name], rel=1e-4, abs=1e-5), name
        assert sorted(theirs.values()) == pytest.approx(sorted(ours.values()), rel=1e-4, abs=1e-5)
        again = gpunet.load_model(tmp_path / file)
        assert again.evaluate(x, targets, batch_size=16, verbose=0, return_dict=True) == pytest.approx(ours, rel=1e-12)


def test_gpunet_reads_the_metrics_keras_compiles(keras, tmp_path):
    keras.utils.set_random_seed(1)
    kmodel = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    kmodel.compile(optimizer="adam", loss="categorical_crossentropy",
                   metrics=[keras.metrics.F1Score(average="micro"), keras.metrics.MeanIoU(num_classes=3, sparse_y_true=False,
                                                                                      sparse_y_pred=False),
                            keras.metrics.PrecisionAtRecall(0.4), keras.metrics.R2Score(), "mape", "hinge",
                            keras.metrics.top_k_categorical_accuracy])
    x, y = blobs(n=64, features=4, seed=6)
    targets = np.eye(3, dtype=np.float32)[y]
    kmodel.fit(x, targets, epochs=1, verbose=0)
    theirs = kmodel.evaluate(x, targets, verbose=0, return_dict=True)
    for name in ("k.keras", "k.h5"):
        kmodel.save(tmp_path / name)
        ours = gpunet.load_model(tmp_path / name).evaluate(x, targets, verbose=0, return_dict=True)
        if name == "k.keras":
            assert sorted(ours) == sorted(theirs)
        assert sorted(ours.values()) == pytest.approx(sorted(theirs.values()), rel=1e-4, abs=1e-5)


def test_fused_logits_reach_the_new_metrics_as_probabilities():
    """With a softmax fused into the loss, a metric gets the logits and sees the model's probabilities."""
    for make in (lambda: metrics.F1Score(average="macro"), lambda: metrics.OneHotMeanIoU(num_classes=C),
                 lambda: metrics.PrecisionAtRecall(0.5), lambda: metrics.KLDivergence(), lambda: metrics.R2Score()):
        on_logits, on_probs = metrics.get(make(), losses.CategoricalCrossentropy()), make()
        on_logits.update(LOGITS, ONE_HOT, logits=True)
        on_probs.update_state(ONE_HOT, PROBS)
        assert on_logits.result() == pytest.approx(on_probs.result(), abs=1e-6)


def test_metric_functions_in_compile_are_wrapped_named_and_saved(tmp_path):
    @gpunet.saving.register_serializable(package="tests")
    def off_by_more_than_half(y_true, y_pred):
        xp = backend.get_array_module(y_pred)
        return (xp.abs(y_pred - y_true) > 0.5).mean(axis=-1)

    x, y = blobs(n=32, features=4, seed=2)
    targets = np.eye(3, dtype=np.float32)[y]
    model = _softmax_model([metrics.top_k_categorical_accuracy, off_by_more_than_half, losses.kl_divergence])
    history = model.fit(x, targets, epochs=1, verbose=0)
    assert {"top_k_categorical_accuracy", "off_by_more_than_half", "kl_divergence"} <= set(history.history)
    ours = model.evaluate(x, targets, verbose=0, return_dict=True)
    probs = model.predict(x, verbose=0)
    assert ours["off_by_more_than_half"] == pytest.approx(np.mean(np.abs(probs - targets) > 0.5), abs=1e-7)
    for name in ("f.h5", "f.keras"):
        model.save(tmp_path / name)
        assert gpunet.load_model(tmp_path / name).evaluate(x, targets, verbose=0, return_dict=True) == pytest.approx(ours)


def test_wrapper_and_reduction_metrics_as_keras(keras):
    mean, kmean = metrics.Mean(), keras.metrics.Mean()
    for metric in (mean, kmean):
        metric.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
        metric.update_state(np.ones((2, 3)) * 2, sample_weight=[[1], [3]])
    assert mean.result() == pytest.approx(float(kmean.result()))
    total, ktotal = metrics.Sum(), keras.metrics.Sum()
    for metric in (total, ktotal):
        metric.update_state(np.arange(6.0).reshape(2, 3), sample_weight=[0.5, 2])
    assert total.result() == pytest.approx(float(ktotal.result()))
    wrapped = metrics.MeanMetricWrapper(metrics.binary_accuracy, threshold=0.7)
    kwrapped = keras.metrics.MeanMetricWrapper(keras.metrics.binary_accuracy, threshold=0.7)
    wrapped.update_state(TRUTH, SCORES, sample_weight=WEIGHTS)
    kwrapped.update_state(TRUTH, SCORES, sample_weight=WEIGHTS)
    assert wrapped.result() == pytest.approx(float(kwrapped.result()), rel=1e-6)
    again = metrics.deserialize(metrics.serialize(wrapped))
    again.update_state(TRUTH, SCORES, sample_weight=WEIGHTS)
    assert again.result() == wrapped.result() and again.fn is metrics.binary_accuracy


@pytest.mark.parametrize(("cls", "kwargs", "y_true", "y_pred"), CASES, ids=IDS)
def test_configs_round_trip_in_gpunet_and_keras(keras, cls, kwargs, y_true, y_pred):
    metric = getattr(metrics, cls)(name="mine", **kwargs)
    again = metrics.deserialize(metrics.serialize(metric))
    assert type(again) is type(metric) and again.get_config() == metric.get_config() and again.name == "mine"
    theirs = keras.metrics.deserialize(metrics.serialize(metric))  # Keras reads gpunet's config
    # gpunet reads Keras's config (where Keras leaves out CosineSimilarity's axis, both sides lose it)
    original = getattr(keras.metrics, cls)(name="mine", **kwargs)
    keras_config = keras.metrics.serialize(original)
    ours = metrics.deserialize(keras_config)
    # Keras 3.15 cannot read back its own AUC config with label_weights (written as a tensor)
    theirs_again = original if "label_weights" in kwargs else keras.metrics.deserialize(keras_config)
    for m in (ours, theirs, again, theirs_again, metric):
        m.update_state(y_true, y_pred)
    assert type(theirs).__name__ == cls and theirs.name == "mine" and ours.name == "mine"
    np.testing.assert_allclose(metric.result(), np.asarray(theirs.result()), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.result(), np.asarray(theirs_again.result()), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(again.result(), metric.result(), rtol=1e-12)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [(lambda: metrics.TruePositives(thresholds=[0.5, 1.5]), ValueError, r"thresholds must be a number in \[0, 1\]"),
     (lambda: metrics.FalsePositives(thresholds=[]), ValueError, "non-empty list"),
     (lambda: metrics.PrecisionAtRecall(1.5), ValueError, r"recall must be a number in \[0, 1\]"),
     (lambda: metrics.SensitivityAtSpecificity(0.5, num_thresholds=0), ValueError, "num_thresholds must be a positive"),
     (lambda: metrics.RecallAtPrecision(0.5, class_id=-1), ValueError, "class_id must be a non-negative integer"),
     (lambda: metrics.F1Score(average="samples"), ValueError, "average must be None, 'micro', 'macro' or 'weighted'"),
     (lambda: metrics.FBetaScore(beta=0), ValueError, "beta must be a positive number"),
     (lambda: metrics.F1Score(threshold=0.0), ValueError, r"threshold must be a number in \(0, 1\]"),
     (lambda: metrics.R2Score(class_aggregation="median"), ValueError, "class_aggregation must be"),
     (lambda: metrics.R2Score(num_regressors=-1), ValueError, "num_regressors must be a non-negative integer"),
     (lambda: metrics.IoU(num_classes=3, target_class_ids=[3]), ValueError, r"target class id 3 is out of range"),
     (lambda: metrics.IoU(num_classes=3, target_class_ids=[]), ValueError, "target_class_ids must be a non-empty"),
     (lambda: metrics.MeanIoU(num_classes=0), ValueError, "num_classes must be a positive integer"),
     (lambda: metrics.MeanIoU(num_classes=3, ignore_class=0.5), TypeError, "ignore_class must be an integer"),
     (lambda: metrics.BinaryIoU(threshold="high"), ValueError, "threshold must be a number"),
     (lambda: metrics.AUC(label_weights=[[1, 2]]), ValueError, "label_weights must be one finite number per label"),
     (lambda: metrics.SparseTopKCategoricalAccuracy(from_sorted_ids=1), TypeError, "from_sorted_ids must be True or False"),
     (lambda: metrics.CategoricalCrossentropy(axis=0), ValueError, "axis=0 is not supported"),
     (lambda: metrics.MeanSquaredError(dtype="int32"), ValueError, "dtype must be None or a floating-point dtype"),
     (lambda: metrics.Mean(dtype="my_mean"), ValueError, r"Metric\(dtype=None, name=None\)"),
     (lambda: metrics.MeanMetricWrapper("binary_accuracy"), TypeError, "fn must be a function"),
     (lambda: metrics.R2Score().update_state(REAL_TRUE[:, 0], REAL_PRED[:, 0]), ValueError, r"shape \(batch, outputs\)"),
     (lambda: metrics.F1Score().update_state(LABELS, GUESSES), ValueError, r"shape \(batch, classes\)"),
     (lambda: metrics.Mean().update_state([1, 2, 3], sample_weight=[1, 2]), ValueError, "sample_weight of shape"),
     (lambda: metrics.AUC(multi_label=True, num_labels=3).update_state(TRUTH, SCORES), ValueError, "num_labels=3"),
     (lambda: metrics.get(metrics.TruePositives(thresholds=[0.2, 0.4]), None), ValueError, "gives several values"),
     (lambda: metrics.get(metrics.R2Score(class_aggregation=None), None), ValueError, "gives several values"),
     (lambda: metrics.get("precision_at_recall", None), ValueError, "needs arguments"),
     (lambda: metrics.get("mean", None), ValueError, "takes values"),
     (lambda: metrics.get({"class_name": "function", "config": "no_such_function"}, None), ValueError,
      "unknown metric function 'no_such_function'"),
     (lambda: metrics.get(3, None), TypeError, "metrics must be names, functions or")],
)
def test_bad_metric_arguments_name_the_argument(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_compile_refuses_a_metric_with_several_values():
    with pytest.raises(ValueError, match="'f1_score'.*gives several values"):
        _softmax_model(["f1_score"])
    with pytest.raises(ValueError, match="gives several values"):
        _softmax_model([metrics.Precision(thresholds=[0.3, 0.7])])
    model = _softmax_model([metrics.F1Score(average="macro")])
    assert model.compiled_metrics[0].name == "f1_score"
