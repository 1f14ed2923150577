"""Layers: the building blocks of a Sequential model (Keras's names and arguments).

    core.py            Input, Dense, Activation, Dropout, Flatten
    activations.py     LeakyReLU, ReLU, PReLU, ELU, Softmax
    convolutional.py   Conv1D, Conv2D
    pooling.py         MaxPooling1D/2D, AveragePooling1D/2D, GlobalAveragePooling1D/2D, GlobalMaxPooling1D/2D
    normalization.py   BatchNormalization, LayerNormalization
    reshaping.py       Reshape, ZeroPadding1D, ZeroPadding2D
    merging.py         Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot (and add, ...,
                       dot, their functional forms), Lambda
    recurrent.py       RNN, SimpleRNN, LSTM, GRU, Bidirectional (one op per sequence: gpunet.ops.recurrent)
    rnn_cells.py       SimpleRNNCell, LSTMCell, GRUCell, StackedRNNCells
    symbolic.py        KerasTensor and Node: what gpunet.Input returns and calls on it record
"""

from .activations import ELU, LeakyReLU, PReLU, ReLU, Softmax
from .base import Layer
from .convolutional import Conv1D, Conv2D
from .core import Activation, Dense, Dropout, Flatten, Input, InputLayer
from .merging import (Add, Average, Concatenate, Dot, Lambda, Maximum, Minimum, Multiply, Subtract, add, average,
                      concatenate, dot, maximum, minimum, multiply, subtract)
from .normalization import BatchNormalization, LayerNormalization
from .pooling import (AveragePooling1D, AveragePooling2D, GlobalAveragePooling1D, GlobalAveragePooling2D,
                      GlobalMaxPooling1D, GlobalMaxPooling2D, MaxPooling1D, MaxPooling2D)
from .recurrent import GRU, LSTM, RNN, Bidirectional, SimpleRNN
from .reshaping import Reshape, ZeroPadding1D, ZeroPadding2D
from .rnn_cells import GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells
from .serialization import deserialize, serialize

__all__ = [
    "Layer", "Input", "InputLayer", "Dense", "Activation", "Dropout", "Flatten", "Conv1D", "Conv2D",
    "MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D", "GlobalAveragePooling1D",
    "GlobalAveragePooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "BatchNormalization",
    "LayerNormalization", "Reshape", "ZeroPadding1D", "ZeroPadding2D", "LeakyReLU", "ReLU", "PReLU", "ELU", "Softmax",
    "serialize", "deserialize", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot",
    "Lambda", "RNN", "SimpleRNN", "LSTM", "GRU", "Bidirectional", "SimpleRNNCell", "LSTMCell", "GRUCell",
    "StackedRNNCells", "add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate", "dot",
]

from ..keras_api import module_getattr as _keras_getattr  # noqa: E402
__getattr__ = _keras_getattr(__name__)  # a Keras name gpunet lacks: NotSupportedYetError
