"""keras.io examples/vision/siamese_contrastive.py (the Keras 3 version).

A siamese network: one functional `embedding_network` (BatchNormalization, Conv2D,
AveragePooling2D, Flatten, Dense) shared by two inputs, their euclidean distance computed by a
`keras.layers.Lambda` written with `keras.ops`, then BatchNormalization and a sigmoid Dense;
trained on pairs of images with a contrastive loss (a closure over `margin`), RMSprop,
`metrics=["accuracy"]`, and `validation_data` given as a list of two inputs. The images go in
as (N, 28, 28) arrays where the Inputs say (28, 28, 1), as in the example. Changed:
- the data: synthetic_data.load_data(blend_max=0.2, noise=0.1) (its easier setting: with the
  default one this small embedding learns nothing on 2000 images) with 2000 images to make
  training pairs, 400 for validation pairs, 300 for test pairs, instead of MNIST's 30000 /
  30000 / 10000 (the comment's "Keep 75% ..." is the example's); `make_pairs`
  draws with Python's `random`, seeded here (`random.seed(0)`) so that the pairs are fixed;
- a fixed seed; epochs 10 -> 4; verbose=2;
- the plots (matplotlib) are left out; the RESULT line is added.

Whether this small network learns in 4 epochs hangs on one number: the initial weight of the last
Dense, on its single input (the distance). Drawn below about -0.2, the network stays at chance
(accuracy 0.49); above, it reaches 0.99. Keras draws its initializers' seeds from Python's `random`,
which the script reseeds with `random.seed(0)`, so Keras's draws do not depend on the seed given to
`set_random_seed` (that weight: -0.117, a success); gpunet's do (seeds 1-5: -0.27, -0.31, -0.44,
-1.07 at chance; 0.012 a success; 1337: -1.34 at chance). Exchanged, the initial weights carry the
result with them: Keras's give 1.0 on gpunet, gpunet's give 0.49 on Keras.
"""

import json
import random

import numpy as np

import keras
from keras import ops

import synthetic_data

keras.utils.set_random_seed(1337)
random.seed(0)

epochs = 4
batch_size = 16
margin = 1  # Margin for contrastive loss.

(x_train_val, y_train_val), (x_test, y_test) = synthetic_data.load_data(num_train=2400, num_test=300, blend_max=0.2, noise=0.1)

# Change the data type to a floating point format
x_train_val = x_train_val.astype("float32")
x_test = x_test.astype("float32")

# Keep 75% of train_val  in train and 25% in validation
x_train, x_val = x_train_val[:2000], x_train_val[2000:]
y_train, y_val = y_train_val[:2000], y_train_val[2000:]
del x_train_val, y_train_val


def make_pairs(x, y):
    """Creates a tuple containing image pairs with corresponding label.

    Arguments:
        x: List containing images, each index in this list corresponds to one image.
        y: List containing labels, each label with datatype of `int`.

    Returns:
        Tuple containing two numpy arrays as (pairs_of_samples, labels),
        where pairs_of_samples' shape is (2len(x), 2,n_features_dims) and
        labels are a binary array of shape (2len(x)).
    """

    num_classes = max(y) + 1
    digit_indices = [np.where(y == i)[0] for i in range(num_classes)]

    pairs = []
    labels = []

    for idx1 in range(len(x)):
        # add a matching example
        x1 = x[idx1]
        label1 = y[idx1]
        idx2 = random.choice(digit_indices[label1])
        x2 = x[idx2]

        pairs += [[x1, x2]]
        labels += [0]

        # add a non-matching example
        label2 = random.randint(0, num_classes - 1)
        while label2 == label1:
            label2 = random.randint(0, num_classes - 1)

        idx2 = random.choice(digit_indices[label2])
        x2 = x[idx2]

        pairs += [[x1, x2]]
        labels += [1]

    return np.array(pairs), np.array(labels).astype("float32")


# make train pairs
pairs_train, labels_train = make_pairs(x_train, y_train)

# make validation pairs
pairs_val, labels_val = make_pairs(x_val, y_val)

# make test pairs
pairs_test, labels_test = make_pairs(x_test, y_test)

x_train_1 = pairs_train[:, 0]  # x_train_1.shape is (60000, 28, 28)
x_train_2 = pairs_train[:, 1]

x_val_1 = pairs_val[:, 0]  # x_val_1.shape = (60000, 28, 28)
x_val_2 = pairs_val[:, 1]

x_test_1 = pairs_test[:, 0]  # x_test_1.shape = (20000, 28, 28)
x_test_2 = pairs_test[:, 1]


# Provided two tensors t1 and t2
# Euclidean distance = sqrt(sum(square(t1-t2)))
def euclidean_distance(vects):
    """Find the Euclidean distance between two vectors.

    Arguments:
        vects: List containing two tensors of same length.

    Returns:
        Tensor containing euclidean distance
        (as floating point value) between vectors.
    """

    x, y = vects
    sum_square = ops.sum(ops.square(x - y), axis=1, keepdims=True)
    return ops.sqrt(ops.maximum(sum_square, keras.backend.epsilon()))


input = keras.layers.Input((28, 28, 1))
x = keras.layers.BatchNormalization()(input)
x = keras.layers.Conv2D(4, (5, 5), activation="tanh")(x)
x = keras.layers.AveragePooling2D(pool_size=(2, 2))(x)
x = keras.layers.Conv2D(16, (5, 5), activation="tanh")(x)
x = keras.layers.AveragePooling2D(pool_size=(2, 2))(x)
x = keras.layers.Flatten()(x)

x = keras.layers.BatchNormalization()(x)
x = keras.layers.Dense(10, activation="tanh")(x)
embedding_network = keras.Model(input, x)


input_1 = keras.layers.Input((28, 28, 1))
input_2 = keras.layers.Input((28, 28, 1))

# As mentioned above, Siamese Network share weights between
# tower networks (sister networks). To allow this, we will use
# same embedding network for both tower networks.
tower_1 = embedding_network(input_1)
tower_2 = embedding_network(input_2)

merge_layer = keras.layers.Lambda(euclidean_distance, output_shape=(1,))(
    [tower_1, tower_2]
)
normal_layer = keras.layers.BatchNormalization()(merge_layer)
output_layer = keras.layers.Dense(1, activation="sigmoid")(normal_layer)
siamese = keras.Model(inputs=[input_1, input_2], outputs=output_layer)


def loss(margin=1):
    """Provides 'contrastive_loss' an enclosing scope with variable 'margin'.

    Arguments:
        margin: Integer, defines the baseline for distance for which pairs
                should be classified as dissimilar. - (default is 1).

    Returns:
        'contrastive_loss' function with data ('margin') attached.
    """

    # Contrastive loss = mean( (1-true_value) * square(prediction) +
    #                         true_value * square( max(margin-prediction, 0) ))
    def contrastive_loss(y_true, y_pred):
        """Calculates the contrastive loss.

        Arguments:
            y_true: List of labels, each label is of type float32.
            y_pred: List of predictions of same length as of y_true,
                    each label is of type float32.

        Returns:
            A tensor containing contrastive loss as floating point value.
        """

        square_pred = ops.square(y_pred)
        margin_square = ops.square(ops.maximum(margin - (y_pred), 0))
        return ops.mean((1 - y_true) * square_pred + (y_true) * margin_square)

    return contrastive_loss


siamese.compile(loss=loss(margin=margin), optimizer="RMSprop", metrics=["accuracy"])
siamese.summary()

history = siamese.fit(
    [x_train_1, x_train_2],
    labels_train,
    validation_data=([x_val_1, x_val_2], labels_val),
    batch_size=batch_size,
    epochs=epochs,
    verbose=2,
)

results = siamese.evaluate([x_test_1, x_test_2], labels_test)
print("test loss, test acc:", results)

print("RESULT " + json.dumps({
    "accuracy": float(results[1]),
    "loss": float(results[0]),
    "val_accuracy": float(history.history["val_accuracy"][-1]),
    "shared_weights": len(siamese.trainable_weights),
    "embedding_weights": len(embedding_network.trainable_weights),
    "layer_names": [layer.name for layer in siamese.layers][:2],
}))
