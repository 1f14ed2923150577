"""Layers: the building blocks of models (Keras's names and arguments).

    core.py                     Input, Dense, Activation, Dropout, Flatten
    activations.py              LeakyReLU, ReLU, PReLU, ELU, Softmax
    convolutional.py            Conv1D, Conv2D (groups too)
    convolutional_depthwise.py  DepthwiseConv1D/2D, SeparableConv1D/2D
    convolutional_transpose.py  Conv1DTranspose, Conv2DTranspose
    cropping.py                 Cropping1D, Cropping2D
    upsampling.py               UpSampling1D, UpSampling2D
    regularization.py           SpatialDropout1D/2D, GaussianNoise, GaussianDropout, AlphaDropout,
                                ActivityRegularization
    pooling.py                  MaxPooling1D/2D, AveragePooling1D/2D, GlobalAveragePooling1D/2D,
                                GlobalMaxPooling1D/2D
    normalization.py            BatchNormalization, LayerNormalization
    reshaping.py                Reshape, ZeroPadding1D, ZeroPadding2D
    merging.py                  Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot (and add,
                                ..., dot, their functional forms), Lambda
    embedding.py                Embedding (integer ids to vectors; mask_zero)
    timesteps.py                Masking, RepeatVector
    wrappers.py                 TimeDistributed
    recurrent.py                RNN, SimpleRNN, LSTM, GRU, Bidirectional (one op per sequence:
                                gpunet.ops.recurrent)
    rnn_cells.py                SimpleRNNCell, LSTMCell, GRUCell, StackedRNNCells
    einsum_dense.py             EinsumDense (a dense layer whose product is an einsum equation)
    attention.py                MultiHeadAttention, Attention, AdditiveAttention
    preprocessing/              Normalization, Rescaling, Resizing, CenterCrop, Random* (images),
                                Discretization, CategoryEncoding, Hashing, StringLookup, IntegerLookup,
                                TextVectorization
    symbolic.py                 KerasTensor and Node: what gpunet.Input returns and calls on it record
"""

from .activations import ELU, LeakyReLU, PReLU, ReLU, Softmax
from .attention import AdditiveAttention, Attention, MultiHeadAttention
from .base import Layer
from .convolutional import Conv1D, Conv2D
from .convolutional_depthwise import DepthwiseConv1D, DepthwiseConv2D, SeparableConv1D, SeparableConv2D
from .convolutional_transpose import Conv1DTranspose, Conv2DTranspose
from .core import Activation, Dense, Dropout, Flatten, Input, InputLayer
from .cropping import Cropping1D, Cropping2D
from .einsum_dense import EinsumDense
from .embedding import Embedding
from .merging import (Add, Average, Concatenate, Dot, Lambda, Maximum, Minimum, Multiply, Subtract, add, average,
                      concatenate, dot, maximum, minimum, multiply, subtract)
from .normalization import BatchNormalization, LayerNormalization
from .pooling import (AveragePooling1D, AveragePooling2D, GlobalAveragePooling1D, GlobalAveragePooling2D,
                      GlobalMaxPooling1D, GlobalMaxPooling2D, MaxPooling1D, MaxPooling2D)
from .preprocessing import (CategoryEncoding, CenterCrop, Discretization, Hashing, IntegerLookup, Normalization,
                            RandomContrast, RandomCrop, RandomFlip, RandomRotation, RandomTranslation, RandomZoom,
                            Rescaling, Resizing, StringLookup, TextVectorization)
from .recurrent import GRU, LSTM, RNN, Bidirectional, SimpleRNN
from .regularization import (ActivityRegularization, AlphaDropout, GaussianDropout, GaussianNoise, SpatialDropout1D,
                             SpatialDropout2D)
from .reshaping import Reshape, ZeroPadding1D, ZeroPadding2D
from .rnn_cells import GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells
from .serialization import deserialize, serialize
from .timesteps import Masking, RepeatVector
from .upsampling import UpSampling1D, UpSampling2D
from .wrappers import TimeDistributed

__all__ = [
    "Layer", "Input", "InputLayer", "Dense", "Activation", "Dropout", "Flatten", "Conv1D", "Conv2D",
    "MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D", "GlobalAveragePooling1D",
    "GlobalAveragePooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "BatchNormalization",
    "LayerNormalization", "Reshape", "ZeroPadding1D", "ZeroPadding2D", "LeakyReLU", "ReLU", "PReLU", "ELU", "Softmax",
    "serialize", "deserialize", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot",
    "Lambda", "add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate", "dot",
    "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D", "Conv1DTranspose", "Conv2DTranspose",
    "Cropping1D", "Cropping2D", "UpSampling1D", "UpSampling2D", "SpatialDropout1D", "SpatialDropout2D",
    "GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization",
    "Embedding", "Masking", "RepeatVector", "TimeDistributed",
    "RNN", "SimpleRNN", "LSTM", "GRU", "Bidirectional", "SimpleRNNCell", "LSTMCell", "GRUCell", "StackedRNNCells",
    "EinsumDense", "MultiHeadAttention", "Attention", "AdditiveAttention",
    "Normalization", "Rescaling", "Resizing", "CenterCrop", "RandomFlip", "RandomRotation", "RandomZoom",
    "RandomTranslation", "RandomContrast", "RandomCrop", "Discretization", "CategoryEncoding", "Hashing",
    "StringLookup", "IntegerLookup", "TextVectorization",
]

from ..keras_api import module_getattr as _keras_getattr  # noqa: E402
__getattr__ = _keras_getattr(__name__)  # a Keras name gpunet lacks: NotSupportedYetError
