"""Regularizing an over-parameterized MLP: none, L2, decoupled weight decay, dropout.

A 784-1024-1024-10 relu network (1.9 million parameters) trained on 10,000 images with Adam, so
that it can learn them by heart. Five variants, as the course lists them:

* no regularization;
* L2 regularization: ``Adam(weight_decay=1e-4)`` adds ``1e-4 * theta`` to the gradient (coupled);
* the same L2 as a term of the loss, Keras's way: ``kernel_regularizer=L2(5e-5)`` on every Dense
  adds ``5e-5 * sum(W ** 2)``, whose gradient ``1e-4 * W`` is the line above's on the kernels
  (the biases are not regularized);
* decoupled weight decay: ``AdamW(weight_decay=0.1)`` shrinks ``theta`` by ``lr * 0.1`` each step;
* dropout: 0.2 on the inputs, 0.5 after each hidden layer, never on the logits.

    python examples/regularization.py               # Fashion-MNIST, 30 epochs
    python examples/regularization.py --train-size 50000 --epochs 20
"""

from __future__ import annotations

import common
import gpunet
from gpunet import optimizers, regularizers
from gpunet.layers import Dense, Dropout, Input


def network(dropout: bool, regularizer=None) -> list:
    layers = [Input((784,))]
    if dropout:
        layers.append(Dropout(0.2))
    for _ in range(2):
        layers.append(Dense(1024, activation="relu", kernel_initializer="he_uniform", kernel_regularizer=regularizer))
        if dropout:
            layers.append(Dropout(0.5))
    layers.append(Dense(10, activation="softmax", kernel_regularizer=regularizer))
    return layers


VARIANTS = {  # epsilon=1e-8 (PyTorch's), with which the documented results were made
    "none": (False, lambda: optimizers.Adam(1e-3, epsilon=1e-8), None),
    "L2 (Adam, weight_decay=1e-4)": (False, lambda: optimizers.Adam(1e-3, epsilon=1e-8, weight_decay=1e-4), None),
    "L2 (kernel_regularizer=L2(5e-5))": (False, lambda: optimizers.Adam(1e-3, epsilon=1e-8), lambda: regularizers.L2(5e-5)),
    "weight decay (AdamW, 0.1)": (False, lambda: optimizers.AdamW(1e-3, weight_decay=0.1, epsilon=1e-8), None),
    "dropout (0.2 input, 0.5 hidden)": (True, lambda: optimizers.Adam(1e-3, epsilon=1e-8), None),
}


def main():
    p = common.parser(__doc__.split("\n")[0], epochs=30)
    p.add_argument("--train-size", type=int, default=10000, help="training images used (default 10000)")
    args = p.parse_args()
    train, dev, (x_test, y_test) = common.load(args, train_size=args.train_size)
    curves, rows = {}, []
    with common.Timer() as timer:
        for name, (dropout, make_optimizer, make_regularizer) in VARIANTS.items():
            common.seed(args)
            model = gpunet.Sequential(network(dropout, make_regularizer() if make_regularizer else None))
            model.compile(optimizer=make_optimizer(), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
            history = model.fit(*train, batch_size=128, epochs=args.epochs, validation_data=dev, verbose=0)
            h = history.history
            test = model.evaluate(x_test, y_test, batch_size=1000, verbose=0)[1]
            curves[name] = (h["accuracy"], h["val_accuracy"])
            best = history.best
            rows.append([name, common.percent(h["accuracy"][-1]), common.percent(best["value"]), best["epoch"] + 1,
                         common.percent(h["accuracy"][-1] - best["value"]), common.percent(test)])
            print(" | ".join(str(c) for c in rows[-1]), flush=True)
    header = ["regularization", "final train accuracy %", "best dev accuracy %", "best epoch", "train - dev gap %", "test accuracy % (best-on-dev weights)"]
    curve_rows = [[e + 1] + [f"{100 * curves[n][0][e]:.1f} / {100 * curves[n][1][e]:.1f}" for n in VARIANTS] for e in range(args.epochs)]
    text = f"""# Regularization of an over-parameterized MLP ({common.title(args)})

784-1024-1024-10 relu (He initialization), {args.train_size} training images, Adam (learning rate
1e-3), minibatches of 128, {args.epochs} epochs, dev = the last 10,000 training images; the test
accuracy is that of the best-on-dev weights, which fit restores.

{common.markdown_table(header, rows)}

Train / dev accuracy (%) per epoch:

{common.markdown_table(["epoch"] + list(VARIANTS), curve_rows)}

{common.provenance("regularization.py", args, timer.seconds)}
"""
    common.write(args, f"regularization-{args.dataset}.md", text)
    plt = common.pyplot()
    if plt is not None:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for i, name in enumerate(VARIANTS):
            color = f"C{i}"
            epochs = range(1, args.epochs + 1)
            ax.plot(epochs, [100 * a for a in curves[name][0]], color=color, linestyle="--")
            ax.plot(epochs, [100 * a for a in curves[name][1]], color=color, label=name)
        ax.set(xlabel="epoch", ylabel="accuracy (%): dashed train, solid dev", title=f"Regularization ({common.title(args)})")
        ax.legend()
        fig.tight_layout()
        fig.savefig(f"{args.out}/regularization-{args.dataset}.png", dpi=110)


if __name__ == "__main__":
    main()
