"""The Keras 3 API a typical script touches: namespaces, Input, the model's methods
(get_layer, pop, count_params, summary, train_on_batch, test_on_batch, predict_on_batch,
evaluate(return_dict=True)), clone_model and the utils, checked against the real Keras where it
is installed (Keras 3 on JAX, a test extra)."""


import numpy as np
import pytest

import gpunet
from gpunet import callbacks, layers, losses, metrics, models, optimizers, regularizers, utils
from gpunet.datasets import write_idx
from gpunet.training import TrainStep

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((24, 5)).astype(np.float32), rng.integers(0, 3, 24)


def small_model(dropout=0.0):
    return gpunet.Sequential([gpunet.Input(shape=(5,)), layers.Dense(4, activation="relu", name="hidden"),
                              layers.Dropout(dropout, name="drop"), layers.Dense(3, activation="softmax", name="out")],
                             name="small")


def keras_twin(keras, model):
    """The Keras model with the same architecture and weights as ``model``."""
    twin = keras.Sequential([keras.Input(shape=(5,)), keras.layers.Dense(4, activation="relu"),
                             keras.layers.Dropout(model.layers[1].rate), keras.layers.Dense(3, activation="softmax")])
    twin.set_weights(model.get_weights())
    return twin


def compile_both(model, twin, keras, metrics_=("accuracy",), momentum=0.0):
    model.compile(optimizer=optimizers.SGD(0.1, momentum=momentum), loss="sparse_categorical_crossentropy",
                  metrics=list(metrics_))
    twin.compile(optimizer=keras.optimizers.SGD(0.1, momentum=momentum), loss="sparse_categorical_crossentropy",
                 metrics=list(metrics_))


# -- namespaces and Input ----------------------------------------------------------------------------
def test_the_keras_namespaces():
    assert gpunet.layers is layers and gpunet.regularizers is regularizers and gpunet.utils is utils
    assert {callbacks.EarlyStopping, losses.SparseCategoricalCrossentropy, metrics.Mean, regularizers.L2}
    assert gpunet.Input is layers.Input and layers.InputLayer is gpunet.layers.core.InputLayer
    assert models.Sequential is gpunet.Sequential and models.load_model is gpunet.load_model
    assert models.model_from_json is gpunet.model_from_json and callable(models.clone_model)
    assert callable(utils.to_categorical) and callable(utils.normalize) and callable(utils.set_random_seed)
    assert "Input" in gpunet.__all__ and "regularizers" in gpunet.__all__


def test_input_first_in_the_list_or_added_first():
    listed = gpunet.Sequential([gpunet.Input(shape=(784,)), layers.Dense(10)])
    added = gpunet.Sequential()
    added.add(gpunet.Input(shape=(784,)))
    added.add(layers.Dense(10))
    for model in (listed, added):
        assert model.built and model.input_shape == (None, 784) and model.count_params() == 7850
        assert [type(layer).__name__ for layer in model.layers] == ["Dense"]  # Keras leaves the Input out too
    with pytest.raises(ValueError, match="only be the first layer"):
        listed.add(gpunet.Input(shape=(10,)))


def test_input_takes_keras_arguments():
    assert gpunet.Input((3,), 8, "float64").shape == (8, 3)  # Keras's positional order
    assert gpunet.Input((3,), None, "float64").dtype == "float64"
    assert gpunet.Input((3,), dtype="int8").dtype == "int8"  # integer inputs, as Keras 3
    assert gpunet.Input(batch_shape=(None, 28, 28, 1), name="pixels").name == "pixels"
    assert layers.InputLayer(shape=(4,)).get_config()["batch_shape"] == [None, 4]
    for kwargs, message in [({}, "needs shape"), ({"shape": (3,), "batch_shape": (None, 3)}, "not both"),
                            ({"shape": (3,), "sparse": True}, "sparse=True is not supported"),
                            ({"shape": (3,), "optional": True}, "optional=True is not supported"),
                            ({"shape": (3,), "tensor": np.zeros(3)}, "input_tensor"),
                            ({"shape": (3,), "batch_size": 0}, "batch_size must be a positive integer"),
                            ({"shape": ()}, "at least one dimension")]:
        with pytest.raises(ValueError, match=message):
            gpunet.Input(**kwargs)


def test_keras_input_layers_load(keras):
    twin = keras.Sequential([keras.Input(shape=(5,), batch_size=4), keras.layers.Dense(3)])
    model = gpunet.model_from_json(twin.to_json())
    assert model.input_shape == (4, 5) and model.count_params() == twin.count_params()


# -- utils -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("labels,num_classes", [
    ([0, 1, 2, 1], None), ([0, 2], 5), (np.array([[1], [0], [3]]), None), (np.array([[0, 1], [2, 2]]), 4),
    (np.array([[[1]], [[2]]]), 3), (3, 6), (np.array([1.0, 0.0]), None), (np.array([True, False]), None),
    (np.zeros(0, dtype=int), 3),
])
def test_to_categorical_equals_keras(keras, labels, num_classes):
    expected = keras.utils.to_categorical(labels, num_classes)
    actual = utils.to_categorical(labels, num_classes)
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    np.testing.assert_array_equal(actual, expected)


@pytest.mark.parametrize("labels,num_classes,error,message", [
    ([0, 3], 3, ValueError, r"labels must lie in \[0, 3\).*found 3"),
    ([-1, 0], None, ValueError, "found -1"),
    ([0.5, 1.0], None, ValueError, "whole-number"),
    ([np.nan], None, ValueError, "whole-number"),
    ([], None, ValueError, "pass num_classes"),
    ([0, 1], 0, ValueError, "num_classes must be a positive integer"),
    ([0, 1], 2.5, ValueError, "num_classes must be a positive integer"),
    (["a"], None, TypeError, "integer class labels"),
])
def test_to_categorical_refuses_what_is_not_a_label(labels, num_classes, error, message):
    with pytest.raises(error, match=message):
        utils.to_categorical(labels, num_classes)


@pytest.mark.parametrize("shape,dtype,axis,order", [
    ((4, 6), "float32", -1, 2), ((4, 6), "float32", 1, 1), ((4, 6), "float64", -1, np.inf),
    ((2, 3, 4), "float32", -1, 2), ((2, 3, 4), "float32", 1, 2), ((5, 3), "int64", -1, 2), ((7,), "float32", 0, 2),
])
def test_normalize_equals_keras(keras, shape, dtype, axis, order):
    x = (np.random.default_rng(1).standard_normal(shape) * 5).astype(dtype)
    x[0] = 0  # a zero vector stays zero
    expected = keras.utils.normalize(x, axis=axis, order=order)
    actual = utils.normalize(x, axis=axis, order=order)
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=1e-6, atol=0)


def test_normalize_along_the_first_axis_and_bad_arguments():
    x = np.array([[3.0, 0.0], [4.0, 0.0]], dtype=np.float32)
    np.testing.assert_allclose(utils.normalize(x, axis=0), [[0.6, 0.0], [0.8, 0.0]])
    np.testing.assert_allclose(gpunet.backend.to_host(utils.normalize(gpunet.Tensor(x), axis=-1)), [[1, 0], [1, 0]])
    for kwargs, message in [({"axis": 2}, "axis must be an integer in"), ({"axis": None}, "axis must be"),
                            ({"order": 0}, "order must be a positive number"), ({"order": "fro"}, "order must be")]:
        with pytest.raises(ValueError, match=message):
            utils.normalize(x, **kwargs)


def test_set_random_seed_repeats_the_initial_weights():
    weights = []
    for _ in range(2):
        utils.set_random_seed(3)
        weights.append(small_model().get_weights())
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


def test_datasets_load_data_returns_keras_structure(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 6), ("t10k", 4)):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)).astype(np.uint8))
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, n).astype(np.uint8))
    for module in (gpunet.datasets.mnist, gpunet.datasets.fashion_mnist):
        (x_train, y_train), (x_test, y_test) = module.load_data(str(tmp_path))
        assert x_train.shape == (6, 28, 28) and y_train.shape == (6,) and x_test.shape == (4, 28, 28)
        assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype(np.uint8)}


# -- structure: get_layer, pop, count_params, config, summary, trainable -------------------------------
def test_get_layer_by_name_or_index_as_keras(keras):
    model = small_model()
    twin = keras_twin(keras, model)
    for index in (0, 1, 2, -1):
        assert type(model.get_layer(index=index)).__name__ == type(twin.get_layer(index=index)).__name__
    assert model.get_layer("out") is model.get_layer(name="out") is model.get_layer(index=2) is model.layers[2]
    for kwargs, message in [({}, "pass a layer name or an index"), ({"name": "out", "index": 0}, "not both"),
                            ({"name": "nope"}, "no layer named 'nope'"), ({"index": 3}, "out of range: the model has 3 layers")]:
        with pytest.raises(ValueError, match=message):
            model.get_layer(**kwargs)
        with pytest.raises(ValueError):  # Keras refuses the same
            twin.get_layer(**kwargs)
    with pytest.raises(TypeError, match="index must be an integer"):
        model.get_layer(index=1.0)


def test_pop_returns_the_last_layer_and_keeps_the_model_usable():
    model = small_model()
    last = model.layers[-1]
    assert model.pop() is last and len(model.layers) == 2 and model.built
    assert model.predict(np.ones((2, 5), np.float32)).shape == (2, 4)
    model.pop(rebuild=False)
    assert not model.built and model.predict(np.ones((2, 5), np.float32)).shape == (2, 4) and model.built
    model.pop()
    with pytest.raises(ValueError, match="the model is empty"):
        model.pop()
    with pytest.raises(ValueError, match="rebuild must be True or False"):
        small_model().pop(rebuild="yes")


def test_count_params_as_keras(keras):
    model = small_model()
    assert model.count_params() == keras_twin(keras, model).count_params() == 5 * 4 + 4 + 4 * 3 + 3
    with pytest.raises(ValueError, match="not built yet"):
        gpunet.Sequential([layers.Dense(3)]).count_params()
    with pytest.raises(ValueError):
        keras.Sequential([keras.layers.Dense(3)]).count_params()


def test_get_config_from_config_round_trip_and_keras_reads_it(keras):
    model = small_model(dropout=0.25)
    model.layers[0].trainable = False
    clone = gpunet.Sequential.from_config(model.get_config())
    assert clone.get_config() == model.get_config() and not clone.layers[0].trainable
    twin = keras.Sequential.from_config(model.get_config())
    assert twin.count_params() == model.count_params() and twin.layers[1].rate == 0.25


def test_summary_takes_keras_arguments():
    model = small_model()
    model.layers[0].trainable = False
    lines = []
    model.summary(60, None, lines.append)  # Keras's positional order: line_length, positions, print_fn
    assert lines[1] == "_" * 60 and "Total params: 39" in lines and "Non-trainable params: 24" in lines
    lines.clear()
    model.summary(print_fn=lines.append, show_trainable=True, expand_nested=True, layer_range=["dr.*", "out"])
    text = "\n".join(lines)
    assert "Trainable" in lines[2] and "hidden" not in text and "Total params: 39" in text
    assert any(line.startswith("out (Dense)") and line.rstrip().endswith("Y") for line in lines)
    lines.clear()
    model.summary(print_fn=lines.append, positions=[30, 50, 60])
    assert lines[2].index("Output Shape") == 30 and lines[2].index("Param #") == 50
    for kwargs, message in [({"line_length": 5}, "line_length"), ({"positions": [0.5, 0.2, 1.0]}, "increasing"),
                            ({"positions": [0.5]}, "positions must list 3"), ({"layer_range": ["nope", "out"]}, "does not match"),
                            ({"layer_range": "out"}, "layer_range must be"), ({"show_trainable": 1}, "show_trainable")]:
        with pytest.raises(ValueError, match=message):
            model.summary(print_fn=lines.append, **kwargs)


# -- one batch at a time -----------------------------------------------------------------------------
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_train_on_batch_equals_keras(keras, data, momentum):
    x, y = data
    utils.set_random_seed(0)
    model = small_model()
    twin = keras_twin(keras, model)
    compile_both(model, twin, keras, momentum=momentum)
    for start in range(0, 24, 8):
        ours = model.train_on_batch(x[start:start + 8], y[start:start + 8])
        theirs = twin.train_on_batch(x[start:start + 8], y[start:start + 8])
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)
        assert all(type(value) is float for value in ours)
        for a, b in zip(model.get_weights(), twin.get_weights()):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    ours, theirs = model.train_on_batch(x, y, return_dict=True), twin.train_on_batch(x, y, return_dict=True)
    assert set(ours) == set(theirs) == {"loss", "accuracy"}
    for key in ours:
        assert ours[key] == pytest.approx(theirs[key], abs=1e-6)


def test_train_on_batch_return_forms_follow_keras(keras, data):
    x, y = data
    model = gpunet.Sequential([gpunet.Input(shape=(5,)), layers.Dense(3)])
    twin = keras.Sequential([keras.Input(shape=(5,)), keras.layers.Dense(3)])
    twin.set_weights(model.get_weights())
    target = np.eye(3, dtype=np.float32)[y]
    model.compile(optimizer="sgd", loss="mse")
    twin.compile(optimizer="sgd", loss="mse")
    ours, theirs = model.train_on_batch(x, target), twin.train_on_batch(x, target)
    assert type(ours) is float and ours == pytest.approx(float(theirs), abs=1e-6)  # the loss alone without metrics
    assert set(model.train_on_batch(x, target, return_dict=True)) == set(twin.train_on_batch(x, target, return_dict=True))


def test_train_on_batch_runs_the_train_step_of_fit(data, monkeypatch):
    x, y = data
    model = small_model()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    calls = []
    original = TrainStep.gradients
    monkeypatch.setattr(TrainStep, "gradients", lambda step, xb, yb, wb=None: calls.append(xb.shape) or original(step, xb, yb, wb))
    model.train_on_batch(x[:8], y[:8])
    model.train_on_batch(x[8:13], y[8:13])
    assert calls == [(8, 5), (5, 5)]  # exactly the given batches, one step each
    step = model._default_step
    assert isinstance(step, TrainStep) and step.tape is not None  # recorded once, then replayed
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)  # fit and train_on_batch take turns freely
    assert model.train_on_batch(x, y, return_dict=True).keys() == {"loss", "accuracy"}


def test_train_on_batch_calls_an_overridden_train_step(data):
    class Halving(gpunet.Sequential):
        def train_step(self, batch):
            logs = super().train_step(batch)
            return {"loss": logs["loss"], "half": logs["loss"] / 2}

    x, y = data
    model = Halving([gpunet.Input(shape=(5,)), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    logs = model.train_on_batch(x, y, return_dict=True)
    assert logs["half"] == pytest.approx(logs["loss"] / 2)


def test_train_on_batch_with_frozen_model_changes_nothing(data):
    x, y = data
    model = small_model()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.trainable = False
    before = model.get_weights()
    assert np.isfinite(model.train_on_batch(x, y))
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("method", ["train_on_batch", "test_on_batch"])
def test_batch_methods_refuse_what_gpunet_does_not_support(data, method):
    x, y = data
    model = small_model()
    with pytest.raises(RuntimeError, match="compiled"):
        getattr(model, method)(x, y)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="one weight per sample"):
        getattr(model, method)(x, y, sample_weight=np.ones(len(x) + 1))
    with pytest.raises(ValueError, match="needs the batch's targets y"):
        getattr(model, method)(x)
    with pytest.raises(ValueError, match="return_dict must be True or False"):
        getattr(model, method)(x, y, return_dict="yes")
    with pytest.raises(ValueError, match="labels|classes"):
        getattr(model, method)(x, np.full(len(x), 7))
    if method == "train_on_batch":
        with pytest.raises(ValueError, match="no weight for class"):
            model.train_on_batch(x, y, class_weight={0: 1.0})


def test_test_on_batch_predict_on_batch_and_evaluate_equal_keras(keras, data):
    x, y = data
    model = small_model(dropout=0.5)  # off in all three
    twin = keras_twin(keras, model)
    compile_both(model, twin, keras)
    np.testing.assert_allclose(model.test_on_batch(x, y), twin.test_on_batch(x, y), rtol=0, atol=1e-6)
    ours, theirs = model.test_on_batch(x, y, return_dict=True), twin.test_on_batch(x, y, return_dict=True)
    assert set(ours) == set(theirs) and ours["loss"] == pytest.approx(theirs["loss"], abs=1e-6)
    predictions = model.predict_on_batch(x)
    assert isinstance(predictions, np.ndarray) and predictions.shape == (24, 3)
    np.testing.assert_allclose(predictions, np.asarray(twin.predict_on_batch(x)), rtol=0, atol=1e-6)
    ours, theirs = model.evaluate(x, y, verbose=0, return_dict=True), twin.evaluate(x, y, verbose=0, return_dict=True)
    assert set(ours) == set(theirs) == {"loss", "accuracy"}
    assert ours["accuracy"] == pytest.approx(theirs["accuracy"]) and ours["loss"] == pytest.approx(theirs["loss"], abs=1e-6)


def test_evaluate_return_dict_keys_without_metrics_equal_keras(keras, data):
    x, y = data
    model = small_model()
    twin = keras_twin(keras, model)
    compile_both(model, twin, keras, metrics_=())
    assert set(model.evaluate(x, y, verbose=0, return_dict=True)) == set(twin.evaluate(x, y, verbose=0, return_dict=True))
    assert isinstance(model.evaluate(x, y, verbose=0), float)


# -- clone_model -------------------------------------------------------------------------------------
def test_clone_model_new_weights_same_architecture_as_keras(keras):
    model = small_model(dropout=0.3)
    model.compile(optimizer=optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    clone = models.clone_model(model)
    assert clone.get_config() == model.get_config() and clone.name == model.name
    assert [l.name for l in clone.layers] == [l.name for l in model.layers]
    assert all(a is not b for a, b in zip(clone.layers, model.layers))
    assert not np.array_equal(clone.get_weights()[0], model.get_weights()[0])  # freshly initialized
    assert clone.compiled and clone.optimizer is not model.optimizer
    assert clone.optimizer.get_config() == model.optimizer.get_config() and clone.compiled_metrics[0].name == "accuracy"
    clone.set_weights(model.get_weights())
    clone.train_on_batch(np.ones((4, 5), np.float32), np.zeros(4, int))
    assert not np.array_equal(clone.get_weights()[0], model.get_weights()[0])  # the weights are not shared
    twin = keras_twin(keras, model)
    twin.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    keras_clone = keras.models.clone_model(twin)
    assert keras_clone.compiled and [l.name for l in keras_clone.layers] == [l.name for l in twin.layers]
    assert not models.clone_model(small_model()).compiled


def test_clone_model_arguments():
    model = small_model(dropout=0.3)
    model.trainable = False
    shared = models.clone_model(model, clone_function=lambda layer: layer)
    assert all(a is b for a, b in zip(shared.layers, model.layers)) and not shared.trainable

    def no_dropout(layer):
        config = layer.get_config()
        if "rate" in config:
            config["rate"] = 0.0
        return layer.__class__.from_config(config)

    assert models.clone_model(model, clone_function=no_dropout).layers[1].rate == 0.0
    wider = models.clone_model(gpunet.Sequential([layers.Dense(3)]), input_tensors=[gpunet.Input(shape=(7,))])
    assert wider.input_shape == (None, 7) and wider.count_params() == 24
    assert not models.clone_model(gpunet.Sequential([layers.Dense(3)])).built
    for kwargs, error, message in [({"call_function": lambda *a: a}, ValueError, "call_function is not supported"),
                                   ({"clone_function": 3}, ValueError, "clone_function must be a callable"),
                                   ({"clone_function": lambda layer: 3}, TypeError, "must return a gpunet layer"),
                                   ({"input_tensors": [gpunet.Input(shape=(5,))] * 2}, ValueError, "single Input"),
                                   ({"input_tensors": np.zeros(5)}, ValueError, "must be an Input"),
                                   ({"cache": {}}, TypeError, "unexpected keyword")]:
        with pytest.raises(error, match=message):
            models.clone_model(model, **kwargs)
    with pytest.raises(TypeError, match="must be a gpunet Sequential or functional model"):
        models.clone_model(layers.Dense(3))
