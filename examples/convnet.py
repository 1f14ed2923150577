"""Convolutional networks on Fashion-MNIST: Keras's simple MNIST convnet, and the same with BatchNormalization.

The architecture of Keras's "simple MNIST convnet" example: Conv2D 32 3x3 relu, MaxPooling 2,
Conv2D 64 3x3 relu, MaxPooling 2, Flatten, Dropout 0.5, Dense 10 softmax; Adam (1e-3), minibatches of
128, 10% of the training images held out as the dev set (``validation_split=0.1``), 12 epochs.
The variant puts a BatchNormalization between each convolution (without bias) and its relu. The
test accuracy is that of the best-on-dev weights, which fit restores.

    python examples/convnet.py                 # Fashion-MNIST, 12 epochs
"""

from __future__ import annotations

import common
import gpunet
from gpunet.layers import Activation, BatchNormalization, Conv2D, Dense, Dropout, Flatten, Input, MaxPooling2D


def plain():
    return [Input((28, 28, 1)), Conv2D(32, 3, activation="relu"), MaxPooling2D(2), Conv2D(64, 3, activation="relu"),
            MaxPooling2D(2), Flatten(), Dropout(0.5), Dense(10, activation="softmax")]


def with_batch_norm():
    return [Input((28, 28, 1)), Conv2D(32, 3, use_bias=False), BatchNormalization(), Activation("relu"), MaxPooling2D(2),
            Conv2D(64, 3, use_bias=False), BatchNormalization(), Activation("relu"), MaxPooling2D(2), Flatten(),
            Dropout(0.5), Dense(10, activation="softmax")]


VARIANTS = {"simple convnet (Keras's example)": plain, "with BatchNormalization after each convolution": with_batch_norm}


def main():
    args = common.parser(__doc__.split("\n")[0], epochs=12).parse_args()
    (x, y), (x_test, y_test) = gpunet.datasets.load(args.dataset, path=args.data)
    x, x_test = gpunet.datasets.scale(x)[..., None], gpunet.datasets.scale(x_test)[..., None]
    rows, curves = [], {}
    with common.Timer() as timer:
        for name, layers in VARIANTS.items():
            common.seed(args)
            model = gpunet.Sequential(layers())
            model.compile(optimizer=gpunet.optimizers.Adam(1e-3, epsilon=1e-8), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
            with common.Timer() as run:
                history = model.fit(x, y, batch_size=128, epochs=args.epochs, validation_split=0.1, verbose=2)
            h, best = history.history, history.best
            test = model.evaluate(x_test, y_test, batch_size=1000, verbose=0)[1]
            curves[name] = h
            rows.append([name, f"{model.count_params():,}", common.percent(h["accuracy"][-1]), common.percent(best["value"]),
                         best["epoch"] + 1, common.percent(test), f"{run.seconds / args.epochs:.1f}"])
            print(" | ".join(str(c) for c in rows[-1]), flush=True)
    header = ["network", "parameters", "final train accuracy %", "best dev accuracy %", "best epoch",
              "test accuracy % (best-on-dev weights)", "seconds per epoch"]
    curve_rows = [[e + 1] + [f"{100 * curves[n]['accuracy'][e]:.1f} / {100 * curves[n]['val_accuracy'][e]:.1f}"
                             for n in VARIANTS] for e in range(args.epochs)]
    text = f"""# Convolutional networks ({common.title(args)})

{__doc__.split(chr(10), 2)[2].split("    python")[0].strip()}

{common.markdown_table(header, rows)}

Learning curves, train / dev accuracy % per epoch:

{common.markdown_table(["epoch", *VARIANTS], curve_rows)}

![learning curves](convnet-{args.dataset}.png)

{common.provenance("convnet.py", args, timer.seconds)}
"""
    common.write(args, f"convnet-{args.dataset}.md", text)
    plt = common.pyplot()
    if plt is not None:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        for name, h in curves.items():
            epochs = range(1, len(h["loss"]) + 1)
            axes[0].plot(epochs, h["accuracy"], "--", label=f"{name}, train")
            axes[0].plot(epochs, h["val_accuracy"], label=f"{name}, dev")
            axes[1].plot(epochs, h["loss"], "--", label=f"{name}, train")
            axes[1].plot(epochs, h["val_loss"], label=f"{name}, dev")
        axes[0].set(xlabel="epoch", ylabel="accuracy", title="accuracy")
        axes[1].set(xlabel="epoch", ylabel="loss", title="loss")
        axes[0].legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(f"{args.out}/convnet-{args.dataset}.png", dpi=110)


if __name__ == "__main__":
    main()
