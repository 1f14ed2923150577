"""Losses and metrics in the one registry: gpunet's classes join it from their base class (a new
one is found by name with no table edited), Keras's names find the classes Keras's names find,
and a user's registered Loss or Metric subclass is found by the same lookup."""


import numpy as np
import pytest

from gpunet import backend, lookup, losses, metrics
from gpunet.saving import register_serializable


def _forget(cls):
    key = lookup._NAMES.pop(cls, None)
    lookup._REGISTERED.pop(key, None)
    for classes in lookup._BUILTIN.values():
        if classes.get(cls.__name__) is cls:
            del classes[cls.__name__]


def test_gpunet_losses_and_metrics_are_the_registry_kinds():
    loss_classes = lookup.builtin_classes("loss")
    exported = {name for name in losses.__all__ if isinstance(getattr(losses, name), type)
                and issubclass(getattr(losses, name), losses.Loss)}
    assert set(loss_classes) == exported - {"Loss", "ElementwiseLoss"}  # the base and a shared base stay out
    metric_classes = lookup.builtin_classes("metric")
    exported = {name for name in metrics.__all__ if isinstance(getattr(metrics, name), type)
                and issubclass(getattr(metrics, name), metrics.Metric)}
    assert set(metric_classes) == exported - {"Metric", "ConfusionCounts"}
    assert "CompileMetrics" not in metric_classes and "AccuracyByShape" not in metric_classes
    assert lookup._BASES["loss"] is losses.Loss and lookup._BASES["metric"] is metrics.Metric


def test_a_new_gpunet_loss_and_metric_are_found_by_class_and_snake_name():
    class PinballLoss(losses.MeanAbsoluteError):
        __module__ = "gpunet.losses_fresh"

    class HitRate(metrics.BinaryAccuracy):
        __module__ = "gpunet.metrics.fresh"

    try:
        assert type(losses.get("PinballLoss")) is PinballLoss and type(losses.get("pinball_loss")) is PinballLoss
        assert type(losses.deserialize({"class_name": "PinballLoss", "config": {}})) is PinballLoss
        assert type(metrics.get("hit_rate", losses.BinaryCrossentropy())) is HitRate
        assert type(metrics.deserialize({"class_name": "HitRate", "config": {}})) is HitRate
    finally:
        _forget(PinballLoss)
        _forget(HitRate)
    with pytest.raises(ValueError, match="unknown loss 'pinball_loss'"):
        losses.get("pinball_loss")
    with pytest.raises(ValueError, match="unknown metric 'hit_rate'"):
        metrics.get("hit_rate", losses.BinaryCrossentropy())


def test_user_loss_and_metric_classes_are_found_by_their_registered_name():
    @register_serializable(package="shop")
    class Doubled(losses.Loss):
        def call(self, y_true, y_pred):
            return ((y_pred - y_true) ** 2).mean(axis=-1) * 2.0

    @register_serializable(package="shop")
    class Hits(metrics.BinaryAccuracy):
        def __init__(self, name="hits", dtype=None, threshold=0.25):
            super().__init__(name=name, dtype=dtype, threshold=threshold)

    try:
        loss = losses.get("shop>Doubled")
        assert type(loss) is Doubled
        entry = losses.serialize(loss)
        assert entry["registered_name"] == "shop>Doubled" and type(losses.deserialize(entry)) is Doubled
        y, p = np.array([[0.0, 1.0]], np.float32), np.array([[0.5, 0.5]], np.float32)
        assert float(backend.to_host(loss(y, p).data)) == pytest.approx(0.5)
        metric = metrics.get("shop>Hits", losses.BinaryCrossentropy())
        assert type(metric) is Hits
        entry = metrics.serialize(metric)
        assert entry["registered_name"] == "shop>Hits" and type(metrics.deserialize(entry)) is Hits
        metric.update_state(np.array([[1.0], [0.0]], np.float32), np.array([[0.3], [0.2]], np.float32))
        assert metric.result() == pytest.approx(1.0)  # its own threshold: 0.3 counts as 1
        assert "Doubled" not in lookup.builtin_classes("loss")  # a user's class is not one of gpunet's own
    finally:
        _forget(Doubled)
        _forget(Hits)
    with pytest.raises(ValueError, match="unknown loss"):
        losses.deserialize({"class_name": "Doubled", "config": {}, "registered_name": "shop>Doubled"})


def test_keras_names_find_the_classes_keras_finds(keras):
    """Every lowercase name Keras 3's losses.get and metrics.get take (its function and class names
    in snake case and its short aliases) finds here the class Keras's name stands for."""
    from keras.src.losses import ALL_OBJECTS_DICT as keras_losses
    from keras.src.metrics import ALL_OBJECTS_DICT as keras_metrics

    def keras_class(obj, module):
        if isinstance(obj, type):
            return obj.__name__
        found = [cls for cls in vars(module).values() if isinstance(cls, type) and
                 lookup.keras_snake_case(cls.__name__) == obj.__name__]
        return found[0].__name__ if found else None

    checked = 0
    for name, obj in keras_losses.items():
        if name.lower() in ("ctc", "circle") or name in ("Loss", "LossFunctionWrapper"):
            continue  # not gpunet's yet; the base and the wrapper are no losses by name
        expected = keras_class(obj, keras.losses)
        if expected is not None:
            assert type(losses.get(name)).__name__ == expected, name
            checked += 1
    for name, obj in keras_metrics.items():
        if name in ("accuracy", "mean", "sum", "metric", "mean_metric_wrapper", "Metric"):
            continue  # compile's own meaning of "accuracy"; the metrics of values are compile's refusals by name
        expected = keras_class(obj, keras.metrics)
        if expected is not None:
            assert metrics._LOOKUP.find(name).__name__ == expected, name
            checked += 1
    assert checked > 80
