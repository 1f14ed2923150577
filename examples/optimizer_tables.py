"""The optimizer comparison of Zeiler (2012), Tables 1 and 2, and the Adam family.

Zeiler's network (tanh, 500 then 300 hidden units, softmax output), minibatches of 100, test
error after 6 epochs:

* Table 1: SGD, momentum (0.9) and Adagrad at learning rates 1, 0.1, 0.01, 0.001, 0.0001;
* Table 2: Adadelta (learning rate 1) over rho in {0.9, 0.95, 0.99} and epsilon in {1e-2, 1e-4, 1e-6, 1e-8};
* Adam, AMSGrad, Adamax, Nadam, RAdam and AdamW at PyTorch's defaults (passed explicitly: gpunet's
  own defaults are Keras 3's since; the documented results were made with PyTorch's).

    python examples/optimizer_tables.py                 # Fashion-MNIST
    python examples/optimizer_tables.py --dataset mnist
"""

from __future__ import annotations

import common
import gpunet
from gpunet import optimizers
from gpunet.layers import Dense, Input

LEARNING_RATES = [1.0, 0.1, 0.01, 0.001, 0.0001]
ZEILER_TABLE1 = {  # MNIST test error (%) after 6 epochs, from the course
    "SGD": [2.26, 2.51, 7.02, 17.01, 58.10],
    "momentum": [89.68, 2.03, 2.68, 6.98, 16.98],
    "Adagrad": [43.76, 2.82, 1.79, 5.21, 12.59],
}
ZEILER_TABLE2 = {  # Adadelta MNIST test error (%), rows epsilon, columns rho
    1e-2: [2.59, 2.58, 2.32], 1e-4: [2.05, 1.99, 2.28], 1e-6: [1.90, 1.83, 2.05], 1e-8: [2.29, 2.13, 2.00],
}
RHOS = [0.9, 0.95, 0.99]
TABLE1 = {
    "SGD": lambda lr: optimizers.SGD(lr),
    "momentum": lambda lr: optimizers.SGD(lr, momentum=0.9),
    "Adagrad": lambda lr: optimizers.Adagrad(lr, initial_accumulator_value=0.0, epsilon=1e-10),  # PyTorch's Adagrad
}
ADAM_FAMILY = {  # PyTorch's defaults
    "Adam": lambda: optimizers.Adam(epsilon=1e-8),
    "AMSGrad": lambda: optimizers.Adam(epsilon=1e-8, amsgrad=True),
    "Adamax": lambda: optimizers.Adamax(learning_rate=0.002, epsilon=1e-8),
    "Nadam": lambda: optimizers.Nadam(learning_rate=0.002, epsilon=1e-8, momentum_decay=0.004),
    "RAdam": lambda: optimizers.RAdam(epsilon=1e-8),
    "AdamW": lambda: optimizers.AdamW(weight_decay=0.01, epsilon=1e-8),
}


def test_error(args, data, optimizer) -> float:
    """Test error (%) of Zeiler's network after the epochs, as Zeiler reports it (last weights)."""
    train, dev, (x_test, y_test) = data
    common.seed(args)
    model = gpunet.Sequential([Input((784,)), Dense(500, activation="tanh"), Dense(300, activation="tanh"), Dense(10, activation="softmax")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(*train, batch_size=100, epochs=args.epochs, validation_data=dev, restore_best=False, verbose=0)
    return 100 * (1 - model.evaluate(x_test, y_test, batch_size=1000, verbose=0)[1])


def main():
    args = common.parser(__doc__.split("\n")[0], epochs=6).parse_args()
    data = common.load(args)
    table1, table2, adam = {}, {}, {}
    with common.Timer() as timer:
        for name, make in TABLE1.items():
            for lr in LEARNING_RATES:
                table1[(name, lr)] = test_error(args, data, make(lr))
                print(f"{name:9s} lr {lr:<7g} test error {table1[(name, lr)]:6.2f} %", flush=True)
        for eps in ZEILER_TABLE2:
            for rho in RHOS:
                table2[(eps, rho)] = test_error(args, data, optimizers.Adadelta(1.0, rho=rho, epsilon=eps))
                print(f"Adadelta rho {rho} eps {eps:g}: {table2[(eps, rho)]:6.2f} %", flush=True)
        for name, make in ADAM_FAMILY.items():
            adam[name] = test_error(args, data, make())
            print(f"{name:8s} {adam[name]:6.2f} %", flush=True)
    rows1 = [[f"{lr:g}"] + [f"{table1[(n, lr)]:.2f} ({ZEILER_TABLE1[n][i]:.2f})" for n in TABLE1] for i, lr in enumerate(LEARNING_RATES)]
    rows2 = [[f"{eps:g}"] + [f"{table2[(eps, rho)]:.2f} ({ZEILER_TABLE2[eps][j]:.2f})" for j, rho in enumerate(RHOS)] for eps in ZEILER_TABLE2]
    defaults = {"Adam": "lr 1e-3", "AMSGrad": "lr 1e-3", "Adamax": "lr 2e-3", "Nadam": "lr 2e-3, momentum decay 4e-3",
                "RAdam": "lr 1e-3", "AdamW": "lr 1e-3, weight decay 0.01"}  # and epsilon 1e-8: PyTorch's defaults
    rows3 = [[name, defaults[name], f"{adam[name]:.2f}"] for name in ADAM_FAMILY]
    best1 = min(table1, key=table1.get)
    text = f"""# Optimizers: Zeiler (2012) Tables 1 and 2 ({common.title(args)})

Zeiler's network: tanh, 500 then 300 hidden units, softmax output; minibatches of 100; test error
(%) after {args.epochs} epochs, with the weights of the last epoch as Zeiler reports. In
parentheses, Zeiler's MNIST numbers quoted by the course.

**Table 1** — test error (%) by learning rate (momentum 0.9):

{common.markdown_table(["learning rate"] + list(TABLE1), rows1)}

Best: {best1[0]} at learning rate {best1[1]:g} ({table1[best1]:.2f} %).

**Table 2** — Adadelta (learning rate 1), test error (%):

{common.markdown_table(["epsilon"] + [f"rho = {r}" for r in RHOS], rows2)}

**The Adam family** at PyTorch's default settings:

{common.markdown_table(["optimizer", "settings", "test error, %"], rows3)}

{common.provenance("optimizer_tables.py", args, timer.seconds)}
"""
    common.write(args, f"optimizers-{args.dataset}.md", text)
    plt = common.pyplot()
    if plt is not None:
        fig, ax = plt.subplots(figsize=(6, 4))
        for name in TABLE1:
            ax.semilogx(LEARNING_RATES, [table1[(name, lr)] for lr in LEARNING_RATES], marker="o", label=name)
        ax.set(xlabel="learning rate", ylabel="test error (%)", title=f"After {args.epochs} epochs ({common.title(args)})", ylim=(0, 100))
        ax.legend()
        fig.tight_layout()
        fig.savefig(f"{args.out}/optimizers-{args.dataset}.png", dpi=110)


if __name__ == "__main__":
    main()
