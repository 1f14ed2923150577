"""Fitting random labels (Zhang et al. 2017): an MLP can learn noise by heart.

Zhang et al.'s MLP 1x512 (784-512-10 relu) is trained on a subset of the training images twice:
with the true labels and with labels drawn at random. With random labels it still reaches
(nearly) 100% training accuracy, but only much later, while its test accuracy stays at chance
(10%). The script reports the epochs each run needs to reach 99% training accuracy (the
"convergence slowdown"), the final training accuracy, and the test accuracy.

    python examples/random_labels.py                    # 5,000 images, up to 300 epochs
    python examples/random_labels.py --train-size 10000 --epochs 500
"""

from __future__ import annotations

import numpy as np

import common
import gpunet
from gpunet.callbacks import Callback
from gpunet.layers import Dense, Input


class StopAt(Callback):
    """Record the first epoch with training accuracy >= target, and stop a few epochs later."""

    def __init__(self, target: float, extra: int = 5):
        super().__init__()
        self.target, self.extra, self.reached = target, extra, None

    def on_epoch_end(self, epoch, logs=None):
        if self.reached is None and logs["accuracy"] >= self.target:
            self.reached = epoch + 1
        if self.reached is not None and epoch + 1 >= self.reached + self.extra:
            self.model.stop_training = True


def main():
    p = common.parser(__doc__.split("\n")[0], epochs=300)
    p.add_argument("--train-size", type=int, default=5000, help="training images (default 5000)")
    args = p.parse_args()
    (x, y), _, (x_test, y_test) = common.load(args, train_size=args.train_size)
    rng = np.random.default_rng(args.seed)
    labels = {"true labels": y, "random labels": rng.integers(0, 10, len(y))}
    rows, curves = [], {}
    with common.Timer() as timer:
        for name, targets in labels.items():
            common.seed(args)
            model = gpunet.Sequential([Input((784,)), Dense(512, activation="relu"), Dense(10, activation="softmax")])
            model.compile(optimizer=gpunet.optimizers.SGD(0.01, momentum=0.9), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
            stop = StopAt(0.99)
            history = model.fit(x, targets, batch_size=128, epochs=args.epochs, callbacks=[stop], verbose=0)
            acc = history.history["accuracy"]
            curves[name] = acc
            test = model.evaluate(x_test, y_test, batch_size=1000, verbose=0)[1]
            rows.append([name, stop.reached or f"not within {args.epochs}", len(acc), common.percent(acc[-1]), common.percent(test)])
            print(" | ".join(str(c) for c in rows[-1]), flush=True)
    slowdown = (rows[1][1] / rows[0][1]) if all(isinstance(r[1], int) for r in rows) else None
    header = ["labels", "epochs to 99% train accuracy", "epochs run", "final train accuracy %", "test accuracy %"]
    text = f"""# Fitting random labels ({common.title(args)}, Zhang et al. 2017)

MLP 1x512 (784-512-10 relu, {407050:,} parameters), {args.train_size} training images, SGD
(learning rate 0.01, momentum 0.9) as Zhang et al., minibatches of 128, no regularization;
training stops 5 epochs after reaching 99% training accuracy (at most {args.epochs} epochs).
The test accuracy is measured against the true test labels.

{common.markdown_table(header, rows)}

{"Convergence slowdown with random labels: " + f"{slowdown:.1f}x more epochs." if slowdown else ""}
Zhang et al. report for this network on CIFAR-10: 99.34% training accuracy on random labels,
test accuracy at chance (10%).

{common.provenance("random_labels.py", args, timer.seconds)}
"""
    common.write(args, f"random-labels-{args.dataset}.md", text)
    plt = common.pyplot()
    if plt is not None:
        fig, ax = plt.subplots(figsize=(6, 4))
        for name, acc in curves.items():
            ax.plot(range(1, len(acc) + 1), [100 * a for a in acc], label=name)
        ax.set(xlabel="epoch", ylabel="training accuracy (%)", title=f"MLP 1x512, {args.train_size} images ({common.title(args)})")
        ax.legend()
        fig.tight_layout()
        fig.savefig(f"{args.out}/random-labels-{args.dataset}.png", dpi=110)


if __name__ == "__main__":
    main()
