"""The command line and the model files of models/."""

import glob
import json
import os

import numpy as np
import pytest

import gpunet
from gpunet import cli
from gpunet.datasets import sources, write_idx
from gpunet.saving import model_from_config
from gpunet.saving.training_config import callbacks_from_config, compile_from_config, fit_settings

MODELS = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "models", "*.json")))


@pytest.fixture
def tiny_data(tmp_path):
    """A 300 + 100 image data set in the MNIST format, with learnable labels."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "data"
    folder.mkdir()
    for prefix, n in (("train", 300), ("t10k", 100)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
        images[np.arange(n), labels, :] = 255  # the label is the bright row
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return str(folder)


@pytest.fixture
def no_data_anywhere(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("GPUNET_OFFLINE", "1")
    monkeypatch.delenv("GPUNET_DATA", raising=False)
    monkeypatch.setattr(sources, "SYSTEM_FOLDERS", {"mnist": [str(tmp_path / "sys")], "fashion_mnist": [str(tmp_path / "sys")]})


def tiny_model_file(tmp_path, **training):
    spec = {
        "class_name": "Sequential",
        "config": {"name": "tiny", "layers": [
            {"class_name": "InputLayer", "config": {"batch_shape": [None, 784]}},
            {"class_name": "Dense", "config": {"units": 16, "activation": "relu"}},
            {"class_name": "Dense", "config": {"units": 10, "activation": "softmax"}},
        ]},
        "training_config": {"loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"],
                            "optimizer_config": {"class_name": "Adam", "config": {"learning_rate": 0.01}},
                            "batch_size": 32, "epochs": 3, "dev_size": 50, "seed": 1,
                            "callbacks": [{"class_name": "ReduceLROnPlateau", "config": {"monitor": "val_accuracy", "patience": 1}}],
                            **training},
    }
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(spec))
    return str(path)


def test_train_prints_epochs_saves_best_and_reports_test_accuracy(tmp_path, tiny_data, capsys):
    model_file = tiny_model_file(tmp_path)
    checkpoint = tmp_path / "out" / "best.h5"
    code = cli.main(["train", model_file, "--data", tiny_data, "--checkpoint", str(checkpoint), "--verbose", "2"])
    out = capsys.readouterr().out
    assert code == 0
    assert "250 train, 50 dev, 100 test" in out and "3 epochs, batch 32, Adam lr 0.01, seed 1" in out
    assert out.count("Epoch ") == 3 and "val_accuracy: " in out
    accuracy = float(out.strip().splitlines()[-1].split(": ")[1])
    best = gpunet.load_model(checkpoint)
    (_, _), (x_test, y_test) = gpunet.datasets.load("fashion_mnist", path=tiny_data)
    x_test = gpunet.datasets.scale(x_test, flatten=True)
    assert best.evaluate(x_test, y_test, verbose=0)[1] == pytest.approx(accuracy, abs=5e-5)
    assert accuracy > 0.5  # the bright row is easy to learn


def test_train_overrides(tmp_path, tiny_data, capsys):
    model_file = tiny_model_file(tmp_path)
    code = cli.main(["train", model_file, "--data", tiny_data, "--epochs", "1", "--batch-size", "8", "--optimizer", "sgd",
                     "--learning-rate", "0.05", "--seed", "4", "--checkpoint", str(tmp_path / "b.h5"), "--verbose", "0"])
    out = capsys.readouterr().out
    assert code == 0 and "1 epochs, batch 8, SGD lr 0.05, seed 4" in out


def test_same_seed_same_result(tmp_path, tiny_data, capsys):
    model_file = tiny_model_file(tmp_path, epochs=2)
    results = []
    for run in range(2):
        cli.main(["train", model_file, "--data", tiny_data, "--checkpoint", str(tmp_path / f"r{run}.h5"), "--verbose", "0"])
        results.append(capsys.readouterr().out.splitlines()[-1])
    assert results[0] == results[1]
    weights = [gpunet.load_model(tmp_path / f"r{run}.h5").get_weights() for run in range(2)]
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


def test_evaluate_and_summary(tmp_path, tiny_data, capsys):
    model_file = tiny_model_file(tmp_path, epochs=1)
    cli.main(["train", model_file, "--data", tiny_data, "--checkpoint", str(tmp_path / "b.h5"), "--verbose", "0"])
    capsys.readouterr()
    assert cli.main(["evaluate", str(tmp_path / "b.h5"), "--data", tiny_data]) == 0
    out = capsys.readouterr().out
    assert "fashion_mnist test: loss: " in out and "accuracy: " in out
    assert cli.main(["summary", str(tmp_path / "b.h5")]) == 0
    assert "Total params: 12,730" in capsys.readouterr().out
    assert cli.main(["summary", model_file]) == 0
    out = capsys.readouterr().out
    assert 'Model: "tiny"' in out and "training_config: " in out


@pytest.mark.parametrize(
    "argv,message",
    [
        (["train"], "the following arguments are required: model"),
        (["train", "MODEL", "--epochs", "0"], "argument --epochs: expected a positive integer"),
        (["train", "MODEL", "--batch-size", "x"], "argument --batch-size: expected a positive integer"),
        (["train", "MODEL", "--learning-rate", "-1"], "argument --learning-rate: expected a positive number"),
        (["train", "MODEL", "--seed", "-3"], "argument --seed: expected an integer >= 0"),
        (["train", "MODEL", "--dataset", "cifar10"], "argument --dataset: invalid choice: 'cifar10'"),
        (["train", "MODEL", "--optimizer", "adamm"], "unknown optimizer 'adamm'"),
        (["train", "missing.json"], "model file 'missing.json' does not exist"),
        (["fly"], "invalid choice: 'fly'"),
        ([], "the following arguments are required"),
    ],
)
def test_bad_arguments_are_argparse_errors(tmp_path, argv, message, capsys):
    argv = [tiny_model_file(tmp_path) if a == "MODEL" else a for a in argv]
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "content,message",
    [
        ("{not json", "is not valid JSON"),
        ("[1, 2]", "must hold a JSON object"),
        (json.dumps({"class_name": "Functional", "config": {}}), "a functional model config needs a 'layers' list"),
        (json.dumps({"class_name": "Subclassed", "config": {}}), "unknown model 'Subclassed'"),
        (json.dumps({"class_name": "Sequential", "config": {"layers": [{"class_name": "Lambda", "config": {}}]}}), "unknown layer 'Lambda'"),
    ],
)
def test_bad_model_files(tmp_path, content, message, capsys):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", str(path)])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_bad_training_config_values(tmp_path, capsys):
    model_file = tiny_model_file(tmp_path, batch_size=0)
    with pytest.raises(SystemExit):
        cli.main(["train", model_file])
    assert "training_config.batch_size must be a positive int" in capsys.readouterr().err
    model_file = tiny_model_file(tmp_path, callbacks=[{"class_name": "Exec", "config": {}}])
    with pytest.raises(SystemExit):
        cli.main(["train", model_file])
    assert "unknown callback 'Exec'" in capsys.readouterr().err


def test_missing_data_set_explains_where_it_looked(tmp_path, no_data_anywhere, capsys):
    code = cli.main(["train", tiny_model_file(tmp_path), "--verbose", "0"])
    err = capsys.readouterr().err
    assert code == 1
    assert "Fashion-MNIST not found" in err and "apt-get install dataset-fashion-mnist" in err
    assert cli.main(["train", tiny_model_file(tmp_path), "--dataset", "mnist"]) == 1
    assert "MNIST not found" in capsys.readouterr().err


def test_evaluate_missing_or_broken_model(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["evaluate", str(tmp_path / "none.h5")])
    assert exit_info.value.code == 2 and "does not exist" in capsys.readouterr().err
    (tmp_path / "bad.h5").write_text("nope")
    assert cli.main(["summary", str(tmp_path / "bad.h5")]) == 1
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.parametrize("path", MODELS, ids=[os.path.basename(p) for p in MODELS])
def test_every_model_file_loads_and_compiles(path):
    with open(path) as f:
        spec = json.load(f)
    model = model_from_config(spec)
    assert model.built and model.input_shape in ((None, 784), (None, 28, 28, 1)) and model.output_shape == (None, 10)
    training = spec["training_config"]
    compile_from_config(model, training)
    assert model.compiled and model.output_is_fused()
    callbacks_from_config(training.get("callbacks"))
    settings = fit_settings(training)
    assert {"batch_size", "epochs", "dev_size", "seed"} <= set(settings)
    with open(path) as f:
        assert gpunet.model_from_json(f.read()).count_params() == model.count_params()


def test_model_files_include_the_course_experiments():
    names = {os.path.basename(p) for p in MODELS}
    assert {"fashion-mlp.json", "zhang-mlp-1x512.json", "fashion-convnet.json", "fashion-convnet-bn.json"} <= names
    assert {f"nielsen-{d}x30-sigmoid.json" for d in range(5)} <= names
    assert {f"regularization-{v}.json" for v in ("none", "l2", "l2-kernel", "weight-decay", "dropout")} <= names


def test_the_l2_experiment_as_a_loss_term_matches_the_coupled_one():
    """regularization-l2-kernel.json: L2(5e-5) on every kernel, whose gradient 1e-4 * W is
    regularization-l2.json's weight_decay=1e-4 on the kernels; otherwise the same model."""
    specs = {}
    for name in ("l2", "l2-kernel"):
        with open(os.path.join(os.path.dirname(MODELS[0]), f"regularization-{name}.json")) as f:
            specs[name] = json.load(f)
    coupled, loss_term = (model_from_config(specs[n]) for n in ("l2", "l2-kernel"))
    assert coupled.count_params() == loss_term.count_params()
    dense = [layer for layer in loss_term.layers if type(layer).__name__ == "Dense"]
    assert len(dense) == 3
    for layer in dense:
        assert isinstance(layer.kernel_regularizer, gpunet.regularizers.L2) and layer.kernel_regularizer.l2 == 5e-5
        assert layer.bias_regularizer is None
    optimizers = {n: specs[n]["training_config"]["optimizer_config"]["config"] for n in specs}
    assert optimizers["l2"]["weight_decay"] == 1e-4 and "weight_decay" not in optimizers["l2-kernel"]


# -- the same errors everywhere, help everywhere ---------------------------------------------------
@pytest.mark.parametrize("command", ["train", "evaluate", "summary"])
@pytest.mark.parametrize("name", ["missing.json", "missing.h5"])
def test_a_missing_model_file_is_the_same_error_for_every_command(tmp_path, command, name, capsys):
    path = str(tmp_path / name)
    with pytest.raises(SystemExit) as exit_info:
        cli.main([command, path])
    assert exit_info.value.code == 2
    assert f"error: model file {path!r} does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        cli.main([command, str(tmp_path)])
    assert exit_info.value.code == 2 and "is a folder" in capsys.readouterr().err


def _saved_model(path):
    model = gpunet.Sequential([gpunet.Input(shape=(784,)), gpunet.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.save(path)
    return str(path)


def test_train_on_a_saved_model_says_what_to_do_instead(tmp_path, capsys):
    saved = _saved_model(tmp_path / "best.h5")
    renamed = tmp_path / "best.bin"  # recognised by its content, not only its name
    renamed.write_bytes(open(saved, "rb").read())
    for path in (saved, str(renamed)):
        with pytest.raises(SystemExit) as exit_info:
            cli.main(["train", path])
        err = capsys.readouterr().err
        assert exit_info.value.code == 2
        assert f"{path!r} is a saved model file (HDF5), not a model description (JSON)" in err
        assert f"python -m gpunet evaluate {path}" in err and "gpunet.load_model" in err
    archive = tmp_path / "model.keras"
    archive.write_bytes(b"PK\x03\x04" + bytes(20))
    with pytest.raises(SystemExit):
        cli.main(["train", str(archive)])
    assert "is a saved model file (.keras (zip))" in capsys.readouterr().err


def test_evaluate_on_a_model_description_says_to_train_it_first(tmp_path, capsys):
    model_file = tiny_model_file(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["evaluate", model_file])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "model description (JSON) without weights" in err and "train" in err


def _force_cupy(monkeypatch, cupy_installed: bool):
    monkeypatch.setenv("GPUNET_BACKEND", "cupy")
    monkeypatch.setattr(gpunet.backend.device, "_selected", None)
    monkeypatch.setattr(gpunet.backend.device, "_import_cupy", lambda: object() if cupy_installed else None)
    monkeypatch.setattr(gpunet.backend.device, "is_gpu_available", lambda: False)


@pytest.mark.parametrize("cupy_installed,reason", [(False, "CuPy is not installed"), (True, "no usable CUDA device")])
def test_cupy_backend_without_cupy_or_gpu_is_one_line(tmp_path, monkeypatch, capsys, cupy_installed, reason):
    model_file = tiny_model_file(tmp_path)
    _force_cupy(monkeypatch, cupy_installed)
    for argv in (["summary", model_file], ["train", model_file, "--verbose", "0"]):
        assert cli.main(argv) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err
        assert err.startswith("python -m gpunet: error: GPUNET_BACKEND=cupy: ") and reason in err


def test_the_command_line_entry_point_reports_a_bad_backend_in_one_line(tmp_path):
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    if gpunet.backend.is_gpu_available():
        pytest.skip("CuPy and a GPU are usable here, so GPUNET_BACKEND=cupy is no error")
    model_file = tiny_model_file(tmp_path)
    for value in ("cupy", "tpu"):
        result = subprocess.run([sys.executable, "-m", "gpunet", "summary", model_file], capture_output=True, text=True,
                                env={**os.environ, "GPUNET_BACKEND": value}, timeout=120)
        assert result.returncode == 1 and result.stdout == ""
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr and "GPUNET_BACKEND" in result.stderr


def _subcommand_parsers(parser):
    import argparse  # noqa: PLC0415

    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return commands, commands.choices


def test_every_option_of_every_command_has_help():
    import argparse  # noqa: PLC0415

    commands, parsers = _subcommand_parsers(cli._parser())
    assert set(parsers) == {"train", "evaluate", "summary"}
    assert all(choice.help for choice in commands._choices_actions)  # the commands themselves
    for name, parser in parsers.items():
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help and action.help.strip(), f"{name} {action.option_strings or action.dest} has no help"
