"""Depth and the vanishing gradient (the course's table from Nielsen, chapter 5).

Networks with 0 to 4 hidden sigmoid layers of 30 units, trained with SGD (learning rate 0.1,
minibatches of 10), as in the course: about 88, 96.5, 96.9, 96.5, 96.5 % test accuracy on MNIST.
Adding layers stops helping because the gradient reaching the first layers shrinks; the script
records each layer's gradient norm in the 4-hidden-layer net, and trains the same depths with
relu + He initialization and tanh + Glorot initialization for comparison.

    python examples/depth_vanishing_gradient.py            # Fashion-MNIST, 10 epochs per net
    python examples/depth_vanishing_gradient.py --dataset mnist --epochs 30
"""

from __future__ import annotations

import common
import gpunet
from gpunet.callbacks import GradientNormMonitor
from gpunet.layers import Dense, Input

COURSE_MNIST = {0: 88.0, 1: 96.5, 2: 96.9, 3: 96.5, 4: 96.5}
FAMILIES = {
    "sigmoid": ("sigmoid", "glorot_uniform"),
    "relu + He": ("relu", "he_uniform"),
    "tanh + Glorot": ("tanh", "glorot_uniform"),
}


def network(depth: int, activation: str, initializer: str) -> gpunet.Sequential:
    layers = [Input((784,))]
    layers += [Dense(30, activation=activation, kernel_initializer=initializer) for _ in range(depth)]
    layers.append(Dense(10, activation="softmax"))
    model = gpunet.Sequential(layers, name=f"{depth}x30_{activation}")
    model.compile(optimizer=gpunet.optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def main():
    args = common.parser(__doc__.split("\n")[0], epochs=10).parse_args()
    train, dev, (x_test, y_test) = common.load(args)
    results, norms = {}, None
    with common.Timer() as timer:
        for family, (activation, initializer) in FAMILIES.items():
            for depth in range(5):
                if depth == 0 and family != "sigmoid":
                    results[(family, 0)] = results[("sigmoid", 0)]  # no hidden layer: same network
                    continue
                common.seed(args)
                model = network(depth, activation, initializer)
                monitor = GradientNormMonitor(weights="bias")
                history = model.fit(*train, batch_size=10, epochs=args.epochs, validation_data=dev, callbacks=[monitor], verbose=0)
                accuracy = model.evaluate(x_test, y_test, batch_size=1000, verbose=0)[1]
                results[(family, depth)] = accuracy
                print(f"{family:14s} {depth} hidden: dev {max(history.history['val_accuracy']):.4f}  test {accuracy:.4f}", flush=True)
                if family == "sigmoid" and depth == 4:
                    norms = {layer.name: history.history[f"grad_norm_{layer.name}"] for layer in model.layers}
    header = ["hidden layers (30 units)", "sigmoid, test %", "relu + He, test %", "tanh + Glorot, test %", "course, sigmoid on MNIST, %"]
    rows = [[d] + [common.percent(results[(f, d)]) for f in FAMILIES] + [COURSE_MNIST[d]] for d in range(5)]
    epochs_rows = [[e + 1] + [f"{norms[name][e]:.2e}" for name in norms] for e in range(args.epochs)]
    layer_names = [f"layer {i + 1}" + (" (output)" if i == len(norms) - 1 else "") for i in range(len(norms))]
    text = f"""# Depth and the vanishing gradient ({common.title(args)})

SGD with learning rate 0.1, minibatches of 10, {args.epochs} epochs per network, dev = the last
10,000 training images, test accuracy of the best-on-dev weights.

{common.markdown_table(header, rows)}

How fast each layer of the 4-hidden-layer sigmoid network learns: the L2 norm of the gradient
with respect to the layer's biases (Nielsen's measure, the norm of the layer's error signal),
mean over each epoch's steps; layer 1 is nearest the input:

{common.markdown_table(["epoch"] + layer_names, epochs_rows)}

{common.provenance("depth_vanishing_gradient.py", args, timer.seconds)}
"""
    common.write(args, f"depth-{args.dataset}.md", text)
    plt = common.pyplot()
    if plt is not None:
        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
        for f in FAMILIES:
            left.plot(range(5), [100 * results[(f, d)] for d in range(5)], marker="o", label=f)
        left.set(xlabel="hidden layers of 30 units", ylabel="test accuracy (%)", title=f"Depth ({common.title(args)})")
        left.legend()
        for name, label in zip(norms, layer_names):
            right.semilogy(range(1, args.epochs + 1), norms[name], marker=".", label=label)
        right.set(xlabel="epoch", ylabel="bias gradient norm", title="4 sigmoid hidden layers")
        right.legend()
        fig.tight_layout()
        fig.savefig(f"{args.out}/depth-{args.dataset}.png", dpi=110)


if __name__ == "__main__":
    main()
