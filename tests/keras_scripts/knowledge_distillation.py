"""keras.io examples/vision/knowledge_distillation.py (the Keras 3 version).

A `Distiller(keras.Model)` holding a trained teacher and a student (both Sequential convnets:
Conv2D, LeakyReLU, MaxPooling2D, Flatten, Dense), with its own `compile(optimizer, metrics,
student_loss_fn, distillation_loss_fn, alpha, temperature)`, a `compute_loss` override that
calls the frozen teacher (`training=False`) and mixes the student's loss with the
`KLDivergence` of the softened (`ops.softmax(... / temperature)`) predictions, and `call`
returning the student's output; then a copy of the student (`keras.models.clone_model`)
trained from scratch for comparison. Changed from the example:
- the data: synthetic_data.load_data() (800 training, 500 test images) instead of MNIST;
- a fixed seed; epochs 5 -> 2 for the teacher, 3 -> 5 for the distillation and for the
  student trained from scratch (the data set is 75 times smaller), verbose=2;
- `teacher.trainable = False` is added after the teacher's training: the example's text says
  that only the student's weights are updated, but its Keras 3 `Distiller` tracks the teacher,
  whose weights would then be trained too (through `compute_loss`); the teacher's weights are
  checked unchanged by the distillation, and the RESULT line is added.
"""

import json

import numpy as np

import keras
from keras import layers
from keras import ops

import synthetic_data

keras.utils.set_random_seed(1337)


class Distiller(keras.Model):
    def __init__(self, student, teacher):
        super().__init__()
        self.teacher = teacher
        self.student = student

    def compile(
        self,
        optimizer,
        metrics,
        student_loss_fn,
        distillation_loss_fn,
        alpha=0.1,
        temperature=3,
    ):
        """Configure the distiller.

        Args:
            optimizer: Keras optimizer for the student weights
            metrics: Keras metrics for evaluation
            student_loss_fn: Loss function of difference between student
                predictions and ground-truth
            distillation_loss_fn: Loss function of difference between soft
                student predictions and soft teacher predictions
            alpha: weight to student_loss_fn and 1-alpha to distillation_loss_fn
            temperature: Temperature for softening probability distributions.
                Larger temperature gives softer distributions.
        """
        super().compile(optimizer=optimizer, metrics=metrics)
        self.student_loss_fn = student_loss_fn
        self.distillation_loss_fn = distillation_loss_fn
        self.alpha = alpha
        self.temperature = temperature

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, allow_empty=False
    ):
        teacher_pred = self.teacher(x, training=False)
        student_loss = self.student_loss_fn(y, y_pred)

        distillation_loss = self.distillation_loss_fn(
            ops.softmax(teacher_pred / self.temperature, axis=1),
            ops.softmax(y_pred / self.temperature, axis=1),
        ) * (self.temperature**2)

        loss = self.alpha * student_loss + (1 - self.alpha) * distillation_loss
        return loss

    def call(self, x):
        return self.student(x)


# Create the teacher
teacher = keras.Sequential(
    [
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(256, (3, 3), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.MaxPooling2D(pool_size=(2, 2), strides=(1, 1), padding="same"),
        layers.Conv2D(512, (3, 3), strides=(2, 2), padding="same"),
        layers.Flatten(),
        layers.Dense(10),
    ],
    name="teacher",
)

# Create the student
student = keras.Sequential(
    [
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(16, (3, 3), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.MaxPooling2D(pool_size=(2, 2), strides=(1, 1), padding="same"),
        layers.Conv2D(32, (3, 3), strides=(2, 2), padding="same"),
        layers.Flatten(),
        layers.Dense(10),
    ],
    name="student",
)

# Clone student for later comparison
student_scratch = keras.models.clone_model(student)

# Prepare the train and test dataset.
batch_size = 64
(x_train, y_train), (x_test, y_test) = synthetic_data.load_data(num_train=800)

# Normalize data
x_train = x_train.astype("float32") / 255.0
x_train = np.reshape(x_train, (-1, 28, 28, 1))

x_test = x_test.astype("float32") / 255.0
x_test = np.reshape(x_test, (-1, 28, 28, 1))

# Train teacher as usual
teacher.compile(
    optimizer=keras.optimizers.Adam(),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=[keras.metrics.SparseCategoricalAccuracy()],
)

# Train and evaluate teacher on data.
teacher.fit(x_train, y_train, epochs=2, verbose=2)
teacher_scores = teacher.evaluate(x_test, y_test)
teacher.trainable = False
teacher_weights = [w.copy() for w in teacher.get_weights()]

# Initialize and compile distiller
distiller = Distiller(student=student, teacher=teacher)
distiller.compile(
    optimizer=keras.optimizers.Adam(),
    metrics=[keras.metrics.SparseCategoricalAccuracy()],
    student_loss_fn=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    distillation_loss_fn=keras.losses.KLDivergence(),
    alpha=0.1,
    temperature=10,
)

# Distill teacher to student
distiller.fit(x_train, y_train, epochs=5, verbose=2)

# Evaluate student on test dataset
distiller_scores = distiller.evaluate(x_test, y_test, return_dict=True)

# Train student as doen usually
student_scratch.compile(
    optimizer=keras.optimizers.Adam(),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=[keras.metrics.SparseCategoricalAccuracy()],
)

# Train and evaluate student trained from scratch.
student_scratch.fit(x_train, y_train, epochs=5, verbose=2)
scratch_scores = student_scratch.evaluate(x_test, y_test)

print("RESULT " + json.dumps({
    "teacher_accuracy": float(teacher_scores[1]),
    "accuracy": float(distiller_scores["sparse_categorical_accuracy"]),
    "distiller_evaluate_keys": sorted(distiller_scores),
    "scratch_accuracy": float(scratch_scores[1]),
    "teacher_unchanged": all(np.array_equal(a, b) for a, b in zip(teacher_weights, teacher.get_weights())),
    "student_params": int(student.count_params()),
    "distiller_trainable_weights": len(distiller.trainable_weights),
}))
