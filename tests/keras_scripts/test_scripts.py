"""A Keras user's script runs on gpunet after changing only its import lines.

Each script in this folder is written the way Keras's documentation writes them and imports
Keras as ``import keras`` / ``from keras import layers`` / ``from keras.x import y``. For each one:

- ``test_runs_on_gpunet``: :func:`to_gpunet` rewrites those import lines, and only those (the test
  checks that every other line is untouched and that no import of Keras is left); the result runs
  in a subprocess, in a fresh temporary folder, with gpunet, and must reach the accuracy of
  :data:`EXPECTED` and its script-specific checks. A ``keras`` package that refuses to import is
  put first on the path, so the run cannot lean on the real Keras.
- ``test_keras_agrees`` (where Keras 3 and JAX are installed, as the test extra installs them;
  about 80 s on 2 cores, as Keras on JAX compiles each step function): the unmodified script runs
  under Keras 3 (``KERAS_BACKEND=jax``) and the two runs are compared (see :func:`compare` and :data:`AGREEMENT` for the tolerances and why).

Every script prints a last line ``RESULT {json}`` with its final metrics. The scripts take their
data from ``synthetic_data.py`` (NumPy only, fixed seeds), write files only in their working
folder, and run in a few seconds each.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import math
import os
import re
import struct
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import event_files  # noqa: E402

TIMEOUT_S = 300  # one script; a few seconds normally, far more on a loaded 2-core machine


def check_tensorboard_files(result: dict, workdir: Path) -> None:
    """The TensorBoard callback wrote well-formed event files: one per split, with an
    ``epoch_loss`` scalar for each of the script's 5 epochs (steps 0-4), all finite, the
    training loss going down."""
    train = sorted(workdir.glob("logs/fit/*/train/events.out.tfevents.*"))
    validation = sorted(workdir.glob("logs/fit/*/validation/events.out.tfevents.*"))
    assert train and validation, f"no event files under {workdir / 'logs'}"
    for path in train + validation:
        losses = event_files.read_scalars(path)["epoch_loss"]
        assert [step for step, _ in losses] == [0, 1, 2, 3, 4], f"{path.name}: epoch_loss steps {losses}"
        assert all(math.isfinite(value) for _, value in losses)
    train_losses = [value for _, value in event_files.read_scalars(train[0])["epoch_loss"]]
    assert train_losses[-1] < train_losses[0]


def check_plateau_schedule(result: dict, workdir: Path) -> None:
    """The learning rates follow ReduceLROnPlateau's rule replayed on the run's own logged
    ``val_accuracy`` (the script's settings: start 3e-3, factor 0.5, patience 1, min_delta
    0.005, min_lr 1e-5): an epoch improves when its value exceeds the best so far by more than
    ``min_delta``; ``patience`` epochs in a row without one halve the rate. Whether the rate
    drops at all depends on how the run went; when it drops must follow from the log."""
    best, wait, learning_rate, expected = None, 0, 3e-3, [3e-3]
    for value in result["val_accuracy"]:
        if best is None or value - 0.005 > best:
            best, wait = value, 0
        else:
            wait += 1
            if wait >= 1:
                learning_rate, wait = max(learning_rate * 0.5, 1e-5), 0
        expected.append(learning_rate)
    assert result["learning_rates"] == pytest.approx(expected, rel=1e-6), (
        f"val_accuracy {result['val_accuracy']}: learning rates {result['learning_rates']}, expected {expected}")


@dataclass(frozen=True)
class Expected:
    """What a script's run must show, on either library.

    ``metric`` must reach ``floor`` (a value chance cannot reach, see below); the keys of
    ``equal`` must hold exactly those values (parameter counts, flags the script computes); the
    keys of ``at_least`` must reach those values; ``check(result, workdir)`` checks more (what
    the run wrote, or how its numbers relate).
    """

    metric: str = "accuracy"
    floor: float = 0.75
    equal: dict = field(default_factory=dict)
    at_least: dict = field(default_factory=dict)
    check: Callable[[dict, Path], None] | None = None


# The floors. Ten balanced classes and 500 test samples: guessing scores 0.10, with a standard
# deviation of sqrt(0.1 * 0.9 / 500) = 0.013, so 0.75 is some fifty deviations away; the scripts
# reach 0.82-0.98 on either library. The binary test set is 33% positive: always answering
# "negative" scores 0.67, hence a floor of 0.80 there (the runs reach 0.84-0.88), and an AUC floor
# of 0.85 where guessing gives 0.5 (the runs reach 0.92-0.94).

EXPECTED = {
    "mlp_to_categorical": Expected(at_least={"predict_accuracy": 0.75}, equal={"epochs": 6}),
    "mnist_convnet": Expected(),
    "sparse_categorical": Expected(metric="sparse_categorical_accuracy",
                                   equal={"metric_names": ["loss", "sparse_categorical_accuracy"],
                                          "val_metric_logged": True}),
    "early_stopping_checkpoint": Expected(equal={"checkpoint_exists": True, "reloaded_matches_checkpoint": True}),
    "pydataset": Expected(at_least={"predict_accuracy": 0.75}, equal={"predictions": 500}),
    "generator_fit": Expected(equal={"steps_seen": 4 * 28}),
    "custom_layer": Expected(equal={"reloaded_same_predictions": True, "reloaded_class": "Linear", "units": 64}),
    "save_and_load": Expected(equal={"reloaded_same_predictions": True, "reloaded_same_evaluation": True,
                                     "weights_file_same_predictions": True}),
    "tensorboard_logs": Expected(at_least={"event_files": 2}, check=check_tensorboard_files),
    "reduce_lr_batchnorm": Expected(check=check_plateau_schedule),
    "backup_and_restore": Expected(equal={"epochs_after_restart": 4, "lambda_epochs": [4, 5, 6, 7],
                                          "csv_epochs": [4, 5, 6, 7], "backup_removed": True}),
    "binary_metrics": Expected(floor=0.80, at_least={"auc": 0.85},
                               equal={"metric_names": ["accuracy", "auc", "loss", "precision", "recall"],
                                      "metrics_match_predictions": True}),
    "train_on_batch_loop": Expected(equal={"batches": 5 * 30, "test_on_batch_matches_predictions": True}),
    "padded_rows_constraints": Expected(equal={"padded_shape": [2000, 28, 28], "max_norm_holds": True,
                                               "non_neg_holds": True, "prelu_alphas": 128}),
    "model_inspection": Expected(equal={
        "params": 320 + 13 * 13 * 32 * 10 + 10, "conv_params": 3 * 3 * 1 * 32 + 32, "dense_params": 13 * 13 * 32 * 10 + 10,
        "kernel_shape": [3, 3, 1, 32], "layer_names": ["conv", "pool", "flatten", "dropout", "classifier"],
        "trainable_weights": 4, "output_shape": [None, 10], "first_layer": "conv"}),
}

# How close gpunet's result must come to Keras's. The two libraries draw different initial
# weights, shuffles and dropout masks from their seeds, so the same script gives each a different,
# equally good run. Measured with five seeds (1337 and 1-4) on each library for the MLP, both
# convnets, the inspection and binary scripts (three for early stopping), the largest gap between
# any two runs of one script was 0.040 in accuracy (binary_metrics: 0.844-0.884; the others
# 0.014-0.032) and 0.022 in AUC, with gpunet's and Keras's runs interleaved, neither ahead. The
# tolerances leave room for that, and no more: a missing feature or a wrong gradient costs far more.
AGREEMENT = {"accuracy": 0.06, "sparse_categorical_accuracy": 0.06, "predict_accuracy": 0.06, "auc": 0.04}

SCRIPTS = sorted(EXPECTED)

# scripts whose gpunet run needs an optional package (gpunet's TensorBoard callback writes through tensorboardX)
GPUNET_NEEDS = {"tensorboard_logs": "tensorboardX"}

# ---------------------------------------------------------------------------------------------
# the import rewrite
# ---------------------------------------------------------------------------------------------
_IMPORT_KERAS = re.compile(r"^(\s*)import keras(\s*(#.*)?)$")
_IMPORT_KERAS_AS = re.compile(r"^(\s*)import keras(\.[\w.]+)?( as \w+\s*(#.*)?)$")
_FROM_KERAS = re.compile(r"^(\s*)from keras((\.[\w.]+)?) import (.+)$")
_MENTIONS_KERAS_IMPORT = re.compile(r"^\s*(import|from)\s+keras\b")


def rewrite_import_line(line: str) -> str:
    """One line with Keras's imports pointed at gpunet; any other line unchanged.

    ``import keras`` -> ``import gpunet as keras``; ``import keras.x as y`` -> ``import gpunet.x as y``;
    ``from keras import x`` -> ``from gpunet import x``; ``from keras.y import z`` -> ``from gpunet.y import z``.
    """
    if match := _IMPORT_KERAS.match(line):
        return f"{match[1]}import gpunet as keras{match[2]}"
    if match := _IMPORT_KERAS_AS.match(line):
        return f"{match[1]}import gpunet{match[2] or ''}{match[3]}"
    if match := _FROM_KERAS.match(line):
        return f"{match[1]}from gpunet{match[2]} import {match[4]}"
    return line


def to_gpunet(source: str) -> str:
    """The script with its Keras import lines rewritten for gpunet (see :func:`rewrite_import_line`)."""
    return "".join(rewrite_import_line(line.rstrip("\n")) + line[len(line.rstrip("\n")):]
                   for line in source.splitlines(keepends=True))


def check_only_imports_differ(original: str, rewritten: str) -> list[str]:
    """The changed lines, each checked to be an import of Keras turned into one of gpunet."""
    before, after = original.splitlines(), rewritten.splitlines()
    assert len(before) == len(after), "the rewrite must keep every line"
    changed = []
    for old, new in zip(before, after):
        if old != new:
            assert _MENTIONS_KERAS_IMPORT.match(old), f"a line that is not an import of Keras changed: {old!r}"
            assert re.match(r"^\s*(import|from)\s+gpunet\b", new), f"an import rewritten to something else: {new!r}"
            changed.append(f"{old}  ->  {new}")
        else:
            assert not _MENTIONS_KERAS_IMPORT.match(old), f"an import of Keras left as it was: {old!r}"
    assert changed, "the script imports nothing from Keras"
    return changed


# ---------------------------------------------------------------------------------------------
# running a script
# ---------------------------------------------------------------------------------------------
_KERAS_BLOCKER = 'raise ImportError("the gpunet run of a Keras script must not import the real keras")\n'


def _checkout() -> str:
    """The folder the tests' ``gpunet`` is imported from (a checkout or site-packages), found
    without importing it: a script's subprocess must import the same gpunet, installed or not."""
    spec = importlib.util.find_spec("gpunet")
    assert spec is not None and spec.origin, "gpunet is not importable"
    return str(Path(spec.origin).resolve().parents[1])


def _run(script: Path, workdir: Path, env_extra: dict, extra_path: list[Path]) -> dict:
    workdir.mkdir(parents=True, exist_ok=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("KERAS_", "GPUNET_"))}
    env.update(env_extra)
    # prepended to whatever PYTHONPATH already holds, never replacing it: an uninstalled checkout
    # (the device check runs from one) is importable only through it
    inherited = [env["PYTHONPATH"]] if env.get("PYTHONPATH") else []
    env["PYTHONPATH"] = os.pathsep.join([*map(str, extra_path), str(HERE), *inherited])
    env["TMPDIR"] = str(workdir)  # anything a library puts in a temporary folder stays in the test's
    env["MPLBACKEND"] = "Agg"
    env["PYTHONHASHSEED"] = "0"
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # no __pycache__ beside the scripts
    completed = subprocess.run([sys.executable, str(script)], cwd=workdir, env=env, capture_output=True, text=True,
                               timeout=TIMEOUT_S)
    output = completed.stdout + completed.stderr
    if completed.returncode != 0:
        pytest.fail(f"{script.name} failed (exit {completed.returncode}):\n{output[-6000:]}")
    results = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    assert results, f"{script.name} printed no RESULT line:\n{output[-3000:]}"
    result = json.loads(results[-1][len("RESULT "):])
    result["_workdir"] = str(workdir)
    return result


def run_on_gpunet(name: str, tmp_path: Path) -> dict:
    source = (HERE / f"{name}.py").read_text()
    rewritten = to_gpunet(source)
    check_only_imports_differ(source, rewritten)
    tmp_path.mkdir(parents=True, exist_ok=True)
    blocker = tmp_path / "blocked"
    (blocker / "keras").mkdir(parents=True)
    (blocker / "keras" / "__init__.py").write_text(_KERAS_BLOCKER)
    script = tmp_path / f"{name}_gpunet.py"
    script.write_text(rewritten)
    return _run(script, tmp_path / "gpunet_run", {"GPUNET_BACKEND": "numpy"}, [blocker, Path(_checkout())])


def run_on_keras(name: str, tmp_path: Path) -> dict:
    keras_home = tmp_path / "keras_home"  # Keras writes its keras.json there, not in ~/.keras
    keras_home.mkdir()
    return _run(HERE / f"{name}.py", tmp_path / "keras_run", {"KERAS_BACKEND": "jax", "KERAS_HOME": str(keras_home),
                                                          "JAX_PLATFORMS": "cpu"}, [])


def check_expected(name: str, result: dict, library: str) -> None:
    expected = EXPECTED[name]
    if expected.check is not None:
        expected.check(result, Path(result["_workdir"]))
    value = result[expected.metric]
    assert value >= expected.floor, f"{library}: {name} {expected.metric} {value:.4f} < {expected.floor}"
    for key, want in expected.equal.items():
        assert result[key] == want, f"{library}: {name} {key} = {result[key]!r}, expected {want!r}"
    for key, want in expected.at_least.items():
        assert result[key] >= want, f"{library}: {name} {key} = {result[key]!r}, expected at least {want!r}"


def compare(name: str, gpunet_result: dict, keras_result: dict) -> None:
    """Both runs' metrics within :data:`AGREEMENT` of each other, and the exact keys equal."""
    for key, tolerance in AGREEMENT.items():
        if key in keras_result:
            difference = abs(gpunet_result[key] - keras_result[key])
            assert difference <= tolerance, (
                f"{name}: {key} gpunet {gpunet_result[key]:.4f} vs Keras {keras_result[key]:.4f} "
                f"(|difference| {difference:.4f} > {tolerance})")
    for key in EXPECTED[name].equal:
        assert gpunet_result[key] == keras_result[key], f"{name}: {key} differs between gpunet and Keras"


def _installed(package: str, minimum: int = 0) -> bool:
    """Whether ``package`` (of at least major version ``minimum``) can be imported, without importing
    it here: Keras picks its backend once, at import, and the runs pick it in their subprocesses."""
    if importlib.util.find_spec(package) is None:
        return False
    try:
        major = int(importlib.metadata.version(package).split(".")[0])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return minimum == 0
    return major >= minimum


# results of the gpunet runs, so that the Keras comparison does not run a script twice
_GPUNET_RESULTS: dict = {}


# ---------------------------------------------------------------------------------------------
# the tests
# ---------------------------------------------------------------------------------------------
def test_rewrite_changes_only_keras_imports():
    source = (
        "import json\nimport keras\nfrom keras import layers, ops\nfrom keras.callbacks import EarlyStopping\n"
        "import keras.utils as ku\nimport numpy as np  # keras\nx = keras.Input(shape=(3,))\n"
        "import kerasy\nfrom kerasy import keras\n"
    )
    rewritten = to_gpunet(source)
    assert rewritten == (
        "import json\nimport gpunet as keras\nfrom gpunet import layers, ops\nfrom gpunet.callbacks import EarlyStopping\n"
        "import gpunet.utils as ku\nimport numpy as np  # keras\nx = keras.Input(shape=(3,))\n"
        "import kerasy\nfrom kerasy import keras\n"
    )
    assert len(check_only_imports_differ(source, rewritten)) == 4
    with pytest.raises(AssertionError, match="not an import of Keras"):
        check_only_imports_differ(source, rewritten.replace("shape=(3,)", "shape=(4,)"))
    with pytest.raises(AssertionError, match="left as it was"):
        check_only_imports_differ(source, rewritten.replace("import gpunet as keras", "import keras"))


def test_plateau_check_fails_on_a_wrong_schedule():
    stalls_once = {"val_accuracy": [0.80, 0.90, 0.902, 0.95], "learning_rates": [3e-3, 3e-3, 3e-3, 1.5e-3, 1.5e-3]}
    check_plateau_schedule(stalls_once, Path("."))
    for wrong in ([3e-3] * 5, [3e-3, 3e-3, 1.5e-3, 1.5e-3, 1.5e-3]):
        with pytest.raises(AssertionError):
            check_plateau_schedule({**stalls_once, "learning_rates": wrong}, Path("."))


def _event_record(payload: bytes) -> bytes:
    header = struct.pack("<Q", len(payload))
    return (header + struct.pack("<I", event_files.masked_crc32c(header)) + payload
            + struct.pack("<I", event_files.masked_crc32c(payload)))


def test_event_file_reader(tmp_path):
    # CRC-32C's standard check value, then one Event {step: 3, summary {value {tag: "epoch_loss",
    # simple_value: 0.5}}} written by hand
    crc = 0xE3069283
    assert event_files.masked_crc32c(b"123456789") == (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF
    value = b"\x0a\x0aepoch_loss" + b"\x15" + struct.pack("<f", 0.5)
    summary = b"\x0a" + bytes([len(value)]) + value
    event = b"\x10\x03" + b"\x2a" + bytes([len(summary)]) + summary
    path = tmp_path / "events.out.tfevents.1"
    path.write_bytes(_event_record(event))
    assert event_files.read_scalars(path) == {"epoch_loss": [(3, 0.5)]}
    corrupt = bytearray(path.read_bytes())
    corrupt[-6] ^= 1
    path.write_bytes(bytes(corrupt))
    with pytest.raises(ValueError, match="checksum"):
        event_files.read_scalars(path)


def test_every_script_is_tested():
    helpers = {"test_scripts", "synthetic_data", "event_files"}
    assert {path.stem for path in HERE.glob("*.py")} - helpers == set(EXPECTED)


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_imports_only_keras_and_the_data(name):
    """Nothing in a script depends on a library only one side has: its imports are Keras's, the
    standard library's, NumPy and the data module."""
    allowed = {"keras", "numpy", "synthetic_data", "csv", "datetime", "glob", "json", "math", "os"}
    source = (HERE / f"{name}.py").read_text()
    imported = {m[1].split(".")[0] for m in re.finditer(r"^\s*(?:import|from)\s+([\w.]+)", source, re.M)}
    assert imported <= allowed, f"{name} imports {sorted(imported - allowed)}"


@pytest.mark.parametrize("name", SCRIPTS)
def test_runs_on_gpunet(name, tmp_path):
    if name in GPUNET_NEEDS and not _installed(GPUNET_NEEDS[name]):
        pytest.skip(f"{name} needs {GPUNET_NEEDS[name]} on gpunet's side too, an optional extra: pip install -e '.[dev]'")
    result = run_on_gpunet(name, tmp_path)
    _GPUNET_RESULTS[name] = result
    print(name, "gpunet", json.dumps(result))
    check_expected(name, result, "gpunet")


@pytest.mark.parametrize("name", SCRIPTS)
def test_keras_agrees(name, tmp_path):
    if not (_installed("keras", minimum=3) and _installed("jax")):
        pytest.skip("the Keras side runs Keras 3 on JAX, a test extra: pip install -e '.[keras]'")
    if name == "tensorboard_logs" and not _installed("tensorflow"):
        # Keras's TensorBoard callback writes through tf.summary, whatever the backend
        pytest.skip("Keras's TensorBoard callback needs TensorFlow installed (gpunet's run is checked without it)")
    keras_result = run_on_keras(name, tmp_path)
    print(name, "keras", json.dumps(keras_result))
    check_expected(name, keras_result, "Keras")
    gpunet_result = _GPUNET_RESULTS.get(name) or run_on_gpunet(name, tmp_path / "again")
    compare(name, gpunet_result, keras_result)

