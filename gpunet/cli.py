"""The command line: ``python -m gpunet train | evaluate | summary``.

``train`` runs the course's whole procedure on a model file from ``models/``: load the data set,
split off the dev set (the last 10,000 training images unless the file says otherwise), train
with dev evaluation and best-on-dev model selection (plateau decay when the file asks for it),
save the best checkpoint, and report the test accuracy of the best weights, once. Started by
``mpirun``/``srun`` with several processes, it trains data-parallel (``gpunet.distributed``):
the batch size is the global batch, and only rank 0 prints and writes the checkpoint.

Errors are one line on stderr, never a traceback: a bad argument, a missing model file (the same
message for every command), a path that is not a regular file (a FIFO, ``/dev/zero``), a model
description that is too large (over 4 MiB), nested too deeply or whose weights would take more
than the load limit (``GPUNET_LOAD_LIMIT``, by default half the available memory), a fit setting
the data cannot honour (a ``dev_size`` as large as the training set) or a file of the wrong kind
exits with status 2, as argparse does; a missing data set, an unusable backend
(``GPUNET_BACKEND=cupy`` without CuPy or a GPU) or a saved model file gpunet refuses (see
docs/format.md, "Safety") with 1.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

from . import backend

__all__ = ["main"]

DATASETS = ("fashion_mnist", "mnist")


def _int_at_least(minimum: int, description: str):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"expected {description}, got {text!r}")
        return value

    return parse


_positive_int = _int_at_least(1, "a positive integer")
_non_negative_int = _int_at_least(0, "an integer >= 0")


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gpunet", description="Train, evaluate and inspect gpunet models.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{train,evaluate,summary}")

    train = commands.add_parser("train", help="train a model file (models/*.json) on a data set")
    train.add_argument("model", help="model file: JSON with the architecture and a training_config section")
    train.add_argument("--dataset", choices=DATASETS, default="fashion_mnist", help="data set (default: fashion_mnist)")
    train.add_argument("--data", metavar="PATH", help="folder holding the data set's four IDX files")
    train.add_argument("--epochs", type=_positive_int, help="number of epochs (default: the model file's)")
    train.add_argument("--batch-size", type=_positive_int, help="minibatch size (default: the model file's)")
    train.add_argument("--optimizer", help="optimizer name, with its default settings (e.g. sgd, adam)")
    train.add_argument("--learning-rate", type=_positive_float, help="learning rate of the optimizer")
    train.add_argument("--checkpoint", metavar="PATH", help="where to save the best-on-dev model (default: checkpoints/<model>-best.h5)")
    train.add_argument("--seed", type=_non_negative_int, help="random seed (default: the model file's, else 0)")
    train.add_argument("--verbose", type=int, choices=(0, 1, 2), help="0 silent, 1 progress bar, 2 one line per epoch (default: 1 on a terminal, else 2)")

    evaluate = commands.add_parser("evaluate", help="evaluate a saved model (.h5) on a data set's test images")
    evaluate.add_argument("model", help="a model file written by gpunet or Keras (.h5)")
    evaluate.add_argument("--dataset", choices=DATASETS, default="fashion_mnist", help="data set (default: fashion_mnist)")
    evaluate.add_argument("--data", metavar="PATH", help="folder holding the data set's four IDX files")
    evaluate.add_argument("--batch-size", type=_positive_int, default=512, help="evaluation batch size (default: 512)")

    summary = commands.add_parser("summary", help="print a model's layers and parameter counts")
    summary.add_argument("model", help="a model file (.json or .h5)")
    return parser


_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_ZIP_SIGNATURE = b"PK\x03\x04"


def _check_model_path(parser, path) -> None:
    """The one message, and exit status, for a model file that is not there or not a regular
    file (every command): a FIFO would block, ``/dev/zero`` never ends."""
    from .saving.budget import check_source  # noqa: PLC0415

    if not os.path.exists(path):
        parser.error(f"model file {path!r} does not exist")
    if os.path.isdir(path):
        parser.error(f"model file {path!r} is a folder")
    try:
        check_source(path, "a model file")
    except (OSError, ValueError) as exc:
        parser.error(str(exc))


def _saved_kind(path) -> str | None:
    """``"HDF5"`` or ``".keras (zip)"`` when ``path`` holds a saved model or weights, else None."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return None
    if head.startswith(_HDF5_SIGNATURE) or path.endswith((".h5", ".hdf5")):
        return "HDF5"
    if head.startswith(_ZIP_SIGNATURE) or path.endswith(".keras"):
        return ".keras (zip)"
    return None


def _read_spec(parser, path) -> dict:
    """A model description: JSON of at most ``MAX_JSON_BYTES``, read no further than that."""
    from .saving.budget import MAX_JSON_BYTES, parse_json  # noqa: PLC0415

    try:
        with open(path, "rb") as f:
            data = f.read(MAX_JSON_BYTES + 1)
    except FileNotFoundError:
        parser.error(f"model file {path!r} does not exist")
    except IsADirectoryError:
        parser.error(f"model file {path!r} is a folder")
    except OSError as exc:
        parser.error(f"model file {path!r} cannot be read: {exc.strerror or exc}")
    try:
        spec = parse_json(data, f"model file {path!r}")
    except ValueError as exc:
        parser.error(str(exc))
    if not isinstance(spec, dict):
        parser.error(f"model file {path!r} must hold a JSON object")
    return spec


def _load_data(name, path):
    from . import datasets  # noqa: PLC0415

    return datasets.load(name, path=path)


def _inputs_for(model, images):
    """Scale images to [0, 1] and shape them as the model takes them: flattened for vectors,
    with a channel axis for a convnet's (height, width, 1)."""
    from . import datasets  # noqa: PLC0415

    x = datasets.scale(images)
    feature_shape = tuple(model.input_shape[1:])
    if None not in feature_shape and tuple(x.shape[1:]) != feature_shape and int(x[0].size) == math.prod(feature_shape):
        x = x.reshape(len(x), *feature_shape)
    return x


def _train(parser, args) -> int:
    from . import distributed, optimizers  # noqa: PLC0415
    from .datasets import split_dev  # noqa: PLC0415
    from .saving import model_from_config  # noqa: PLC0415
    from .saving.training_config import callbacks_from_config, compile_from_config, fit_settings  # noqa: PLC0415
    from .utils import set_random_seed  # noqa: PLC0415

    kind = _saved_kind(args.model)
    if kind is not None:
        parser.error(
            f"{args.model!r} is a saved model file ({kind}), not a model description (JSON): train builds a new model "
            f"from a JSON description such as models/fashion-mlp.json. To look at or score this file use "
            f"`python -m gpunet summary {args.model}` or `python -m gpunet evaluate {args.model}`; to train it further, "
            f"load it in Python with gpunet.load_model({args.model!r}) and call fit")
    spec = _read_spec(parser, args.model)
    training = spec.get("training_config") or {}
    try:
        distributed.init()  # a world of one unless mpirun/srun started several processes
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    say = print if distributed.is_main() else (lambda *_, **__: None)  # rank 0 speaks for the job
    try:
        settings = fit_settings(training, f"{args.model}: training_config")
        seed = args.seed if args.seed is not None else settings.get("seed", 0)
        set_random_seed(seed)
        model = model_from_config(spec, where=args.model)
        optimizer = None
        if args.optimizer is not None:
            optimizer = optimizers.get(args.optimizer)
            if args.learning_rate is not None:
                optimizer.learning_rate = args.learning_rate
        elif args.learning_rate is not None:
            optimizer_config = training.get("optimizer_config") or {"class_name": "RMSprop", "config": {}}
            optimizer = optimizers.deserialize(optimizer_config)
            optimizer.learning_rate = args.learning_rate
        compile_from_config(model, training, f"{args.model}: training_config", optimizer=optimizer)
        callbacks = callbacks_from_config(training.get("callbacks"), f"{args.model}: training_config.callbacks")
    except (ValueError, TypeError) as exc:
        parser.error(str(exc))
    if not model.built:
        parser.error(f"{args.model}: the model needs an InputLayer (or input_shape) so that its weights can be created")

    try:
        (x_train, y_train), (x_test, y_test) = _load_data(args.dataset, args.data)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        x_train, x_test = _inputs_for(model, x_train), _inputs_for(model, x_test)
    except ValueError as exc:
        parser.error(str(exc))
    dev_size = settings.get("dev_size", 10000)
    try:
        (x_train, y_train), (x_dev, y_dev) = split_dev(x_train, y_train, dev_size)
    except ValueError as exc:
        parser.error(f"{args.model}: training_config.dev_size does not fit {args.dataset}'s {len(x_train)} training "
                     f"images ({exc})")

    checkpoint = args.checkpoint or os.path.join("checkpoints", f"{os.path.splitext(os.path.basename(args.model))[0]}-best.h5")
    folder = os.path.dirname(os.path.abspath(checkpoint))
    if distributed.is_main():
        os.makedirs(folder, exist_ok=True)
    epochs = args.epochs or settings.get("epochs", 10)
    batch_size = args.batch_size or settings.get("batch_size", 32)
    say(f"gpunet: training {args.model} on {args.dataset} ({len(x_train)} train, {len(x_dev)} dev, {len(x_test)} test), "
          f"{epochs} epochs, batch {batch_size}, {type(model.optimizer).__name__} lr {model.optimizer.learning_rate:g}, "
          f"seed {seed}, backend {backend.name()}"
        + (f", {distributed.world_size()} ranks" if distributed.world_size() > 1 else ""))
    try:
        history = model.fit(
            x_train, y_train, batch_size=batch_size, epochs=epochs, validation_data=(x_dev, y_dev),
            validations_per_epoch=settings.get("validations_per_epoch", 1), callbacks=callbacks,
            best_checkpoint=checkpoint, verbose="auto" if args.verbose is None else args.verbose,
        )
    except (ValueError, TypeError) as exc:
        parser.error(str(exc))
    results = model.evaluate(x_test, y_test, batch_size=1024, verbose=0, return_dict=True)
    best = history.best
    if best is not None:
        say(f"best dev {best['monitor'][4:]}: {best['value']:.4f} (epoch {best['epoch'] + 1}); checkpoint: {checkpoint}")
    metrics = " - ".join(f"{k}: {v:.4f}" for k, v in results.items())
    say(f"test ({metrics}) with the best-on-dev weights")
    from .metrics import ACCURACIES  # noqa: PLC0415

    accuracy = next((m.name for m in model.compiled_metrics if isinstance(m, ACCURACIES)), None)  # "accuracy", "acc", ...
    if accuracy in results:
        say(f"test accuracy: {results[accuracy]:.4f}")
    return 0


def _evaluate(parser, args) -> int:
    from . import load_model  # noqa: PLC0415

    if args.model.endswith(".json"):
        parser.error(f"{args.model!r} is a model description (JSON) without weights: evaluate takes a saved model (.h5), "
                     f"such as the checkpoint that `python -m gpunet train {args.model}` writes")
    try:
        model = load_model(args.model)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not model.compiled:
        parser.error(f"{args.model} has no training config (loss and metrics): it cannot be evaluated")
    try:
        _, (x_test, y_test) = _load_data(args.dataset, args.data)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        results = model.evaluate(_inputs_for(model, x_test), y_test, batch_size=args.batch_size, verbose=0, return_dict=True)
    except ValueError as exc:
        parser.error(f"{args.model} does not fit {args.dataset}: {exc}")
    print(f"{args.model} on {args.dataset} test: " + " - ".join(f"{k}: {v:.4f}" for k, v in results.items()))
    return 0


def _summary(parser, args) -> int:
    from . import load_model  # noqa: PLC0415
    from .saving import model_from_config  # noqa: PLC0415

    if args.model.endswith(".json"):
        spec = _read_spec(parser, args.model)
        try:
            model = model_from_config(spec, where=args.model)
        except ValueError as exc:
            parser.error(str(exc))
        training = spec.get("training_config")
    else:
        try:
            model = load_model(args.model, compile=False)
        except (OSError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        training = None
    model.summary()
    if training:
        print("training_config: " + json.dumps(training))
    return 0


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    _check_model_path(parser, args.model)
    try:
        backend.name()  # resolve GPUNET_BACKEND now: a missing CuPy or GPU is one line, not a traceback
    except (RuntimeError, ValueError) as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 1
    command = {"train": _train, "evaluate": _evaluate, "summary": _summary}[args.command]
    return command(parser, args)
