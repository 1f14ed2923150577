"""keras.io examples/nlp/text_classification_with_transformer.py (the Keras 3 version).

A `TransformerBlock` layer (`MultiHeadAttention`, a feed-forward `keras.Sequential`, two
`LayerNormalization` and two `Dropout` layers, residual sums) and a `TokenAndPositionEmbedding`
layer (two `Embedding` layers, positions from `ops.arange` over `ops.shape`), both subclassed
from `layers.Layer`, in a functional classifier of padded word-index sequences trained with
`sparse_categorical_crossentropy` and `validation_data`.
Changed from the example:
- the data: synthetic_data.load_review_sequences (IMDB-like reviews as
  `keras.datasets.imdb.load_data` gives them: word-index lists, labels 0 / 1; 1500 training and
  300 validation reviews) instead of `keras.datasets.imdb.load_data`;
- a fixed seed; `vocab_size` 20000 -> 2000, `maxlen` 200 -> 100, epochs 2 -> 3, verbose=2;
- the evaluation and the RESULT line are added.
"""

import json

import keras
from keras import ops
from keras import layers

import synthetic_data

keras.utils.set_random_seed(1337)


class TransformerBlock(layers.Layer):
    def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1):
        super().__init__()
        self.att = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
        self.ffn = keras.Sequential(
            [
                layers.Dense(ff_dim, activation="relu"),
                layers.Dense(embed_dim),
            ]
        )
        self.layernorm1 = layers.LayerNormalization(epsilon=1e-6)
        self.layernorm2 = layers.LayerNormalization(epsilon=1e-6)
        self.dropout1 = layers.Dropout(rate)
        self.dropout2 = layers.Dropout(rate)

    def call(self, inputs):
        attn_output = self.att(inputs, inputs)
        attn_output = self.dropout1(attn_output)
        out1 = self.layernorm1(inputs + attn_output)
        ffn_output = self.ffn(out1)
        ffn_output = self.dropout2(ffn_output)
        return self.layernorm2(out1 + ffn_output)


class TokenAndPositionEmbedding(layers.Layer):
    def __init__(self, maxlen, vocab_size, embed_dim):
        super().__init__()
        self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
        self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

    def call(self, x):
        maxlen = ops.shape(x)[-1]
        positions = ops.arange(start=0, stop=maxlen, step=1)
        positions = self.pos_emb(positions)
        x = self.token_emb(x)
        return x + positions


vocab_size = 2000  # Only consider the top 2k words
maxlen = 100  # Only consider the first 100 words of each movie review
(x_train, y_train), (x_val, y_val) = synthetic_data.load_review_sequences(num_words=vocab_size)
print(len(x_train), "Training sequences")
print(len(x_val), "Validation sequences")
x_train = keras.utils.pad_sequences(x_train, maxlen=maxlen)
x_val = keras.utils.pad_sequences(x_val, maxlen=maxlen)


embed_dim = 32  # Embedding size for each token
num_heads = 2  # Number of attention heads
ff_dim = 32  # Hidden layer size in feed forward network inside transformer

inputs = layers.Input(shape=(maxlen,))
embedding_layer = TokenAndPositionEmbedding(maxlen, vocab_size, embed_dim)
x = embedding_layer(inputs)
transformer_block = TransformerBlock(embed_dim, num_heads, ff_dim)
x = transformer_block(x)
x = layers.GlobalAveragePooling1D()(x)
x = layers.Dropout(0.1)(x)
x = layers.Dense(20, activation="relu")(x)
x = layers.Dropout(0.1)(x)
outputs = layers.Dense(2, activation="softmax")(x)

model = keras.Model(inputs=inputs, outputs=outputs)


model.compile(
    optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
)
history = model.fit(
    x_train, y_train, batch_size=32, epochs=3, validation_data=(x_val, y_val), verbose=2
)

loss, accuracy = model.evaluate(x_val, y_val)
print("RESULT " + json.dumps({
    "accuracy": float(accuracy),
    "loss": float(loss),
    "first_epoch_loss": float(history.history["loss"][0]),
    "padded_shape": list(x_train.shape),
    "history_keys": sorted(history.history),
    "attention_weights": len(transformer_block.att.weights),
    "params": int(model.count_params()),
}))
