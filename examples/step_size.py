"""Step-size strategies: constant, decay on a dev plateau, step, exponential and 1/t decay.

The course's rules for the learning rate of SGD, on a 784-256-256-10 relu network (SGD starting at
0.1, minibatches of 64):

* constant;
* plateau: multiply by 0.1 when dev accuracy has not improved for 2 epochs (``ReduceLROnPlateau``);
* step decay: multiply by 0.5 every 4 epochs;
* exponential decay: ``lr0 * exp(-0.15 t)``, t in epochs;
* 1/t decay: ``lr0 / (1 + 0.3 t)``, t in epochs.

    python examples/step_size.py                  # Fashion-MNIST, 15 epochs
"""

from __future__ import annotations

import common
import gpunet
from gpunet import schedules
from gpunet.callbacks import ReduceLROnPlateau
from gpunet.layers import Dense, Input

LR0 = 0.1
STRATEGIES = {
    "constant": (lambda: LR0, []),
    "plateau (x0.1 after 2 epochs without dev gain)": (lambda: LR0, [lambda: ReduceLROnPlateau(monitor="val_accuracy", factor=0.1, patience=2)]),
    "step (x0.5 every 4 epochs)": (lambda: schedules.StepDecay(LR0, factor=0.5, step_size=4, per="epoch"), []),
    "exponential (alpha 0.15 / epoch)": (lambda: schedules.ExponentialDecay(LR0, alpha=0.15, per="epoch"), []),
    "1/t (alpha 0.3 / epoch)": (lambda: schedules.InverseTimeDecay(LR0, alpha=0.3, per="epoch"), []),
}


def main():
    args = common.parser(__doc__.split("\n")[0], epochs=15).parse_args()
    train, dev, (x_test, y_test) = common.load(args)
    rows, curves = [], {}
    with common.Timer() as timer:
        for name, (learning_rate, callbacks) in STRATEGIES.items():
            common.seed(args)
            model = gpunet.Sequential([Input((784,)), Dense(256, activation="relu"), Dense(256, activation="relu"), Dense(10, activation="softmax")])
            model.compile(optimizer=gpunet.optimizers.SGD(learning_rate()), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
            history = model.fit(*train, batch_size=64, epochs=args.epochs, validation_data=dev,
                                callbacks=[make() for make in callbacks], verbose=0)
            h = history.history
            curves[name] = (h["val_accuracy"], h["learning_rate"])
            test = model.evaluate(x_test, y_test, batch_size=1000, verbose=0)[1]
            rows.append([name, common.percent(history.best["value"]), history.best["epoch"] + 1, f"{h['learning_rate'][-1]:.2g}", common.percent(test)])
            print(" | ".join(str(c) for c in rows[-1]), flush=True)
    header = ["learning rate", "best dev accuracy %", "best epoch", "final learning rate", "test accuracy % (best-on-dev weights)"]
    curve_rows = [[e + 1] + [f"{100 * curves[n][0][e]:.2f} ({curves[n][1][e]:.2g})" for n in STRATEGIES] for e in range(args.epochs)]
    text = f"""# Step size ({common.title(args)})

784-256-256-10 relu, SGD from learning rate {LR0}, minibatches of 64, {args.epochs} epochs, dev =
the last 10,000 training images, test accuracy of the best-on-dev weights.

{common.markdown_table(header, rows)}

Dev accuracy % (learning rate) per epoch:

{common.markdown_table(["epoch"] + list(STRATEGIES), curve_rows)}

{common.provenance("step_size.py", args, timer.seconds)}
"""
    common.write(args, f"step-size-{args.dataset}.md", text)
    plt = common.pyplot()
    if plt is not None:
        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
        for name, (acc, lr) in curves.items():
            epochs = range(1, len(acc) + 1)
            left.plot(epochs, [100 * a for a in acc], marker=".", label=name)
            right.semilogy(epochs, lr, marker=".", label=name)
        left.set(xlabel="epoch", ylabel="dev accuracy (%)", title=f"Step size ({common.title(args)})")
        right.set(xlabel="epoch", ylabel="learning rate")
        left.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(f"{args.out}/step-size-{args.dataset}.png", dpi=110)


if __name__ == "__main__":
    main()
