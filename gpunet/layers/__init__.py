"""Layers: the building blocks of a Sequential model (Keras's names and arguments).

    core.py            Input, Dense, Activation, Dropout, Flatten
    activations.py     LeakyReLU, ReLU, PReLU, ELU, Softmax
    convolutional.py   Conv1D, Conv2D
    convolutional_depthwise.py  DepthwiseConv1D/2D, SeparableConv1D/2D
    convolutional_transpose.py  Conv1DTranspose, Conv2DTranspose
    cropping.py        Cropping1D, Cropping2D
    upsampling.py      UpSampling1D, UpSampling2D
    regularization.py  SpatialDropout1D/2D, GaussianNoise, GaussianDropout, AlphaDropout, ActivityRegularization
    pooling.py         MaxPooling1D/2D, AveragePooling1D/2D, GlobalAveragePooling1D/2D, GlobalMaxPooling1D/2D
    normalization.py   BatchNormalization, LayerNormalization
    reshaping.py       Reshape, ZeroPadding1D, ZeroPadding2D
    merging.py         Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot (and add, ...,
                       dot, their functional forms), Lambda
    embedding.py       Embedding (integer ids to vectors; mask_zero)
    timesteps.py       Masking, RepeatVector
    wrappers.py        TimeDistributed
    preprocessing/     Normalization, Rescaling, Resizing, CenterCrop, Random* (images), Discretization,
                       CategoryEncoding, Hashing, StringLookup, IntegerLookup, TextVectorization
    einsum_dense.py    EinsumDense (a dense layer whose product is an einsum equation)
    attention.py       MultiHeadAttention, Attention, AdditiveAttention
    symbolic.py        KerasTensor and Node: what gpunet.Input returns and calls on it record
"""

from .activations import ELU, LeakyReLU, PReLU, ReLU, Softmax
from .attention import AdditiveAttention, Attention, MultiHeadAttention
from .base import Layer
from .convolutional import Conv1D, Conv2D
from .convolutional_depthwise import (
                      DepthwiseConv1D,
                      DepthwiseConv2D,
                      SeparableConv1D,
                      SeparableConv2D,
)
from .convolutional_transpose import Conv1DTranspose, Conv2DTranspose
from .core import Activation, Dense, Dropout, Flatten, Input, InputLayer
from .cropping import Cropping1D, Cropping2D
from .einsum_dense import EinsumDense
from .embedding import Embedding
from .merging import (
                      Add,
                      Average,
                      Concatenate,
                      Dot,
                      Lambda,
                      Maximum,
                      Minimum,
                      Multiply,
                      Subtract,
                      add,
                      average,
                      concatenate,
                      dot,
                      maximum,
                      minimum,
                      multiply,
                      subtract,
)
from .normalization import BatchNormalization, LayerNormalization
from .pooling import (
                      AveragePooling1D,
                      AveragePooling2D,
                      GlobalAveragePooling1D,
                      GlobalAveragePooling2D,
                      GlobalMaxPooling1D,
                      GlobalMaxPooling2D,
                      MaxPooling1D,
                      MaxPooling2D,
)
from .preprocessing import (
                      CategoryEncoding,
                      CenterCrop,
                      Discretization,
                      Hashing,
                      IntegerLookup,
                      Normalization,
                      RandomContrast,
                      RandomCrop,
                      RandomFlip,
                      RandomRotation,
                      RandomTranslation,
                      RandomZoom,
                      Rescaling,
                      Resizing,
                      StringLookup,
                      TextVectorization,
)
from .regularization import (
                      ActivityRegularization,
                      AlphaDropout,
                      GaussianDropout,
                      GaussianNoise,
                      SpatialDropout1D,
                      SpatialDropout2D,
)
from .reshaping import Reshape, ZeroPadding1D, ZeroPadding2D
from .serialization import deserialize, serialize
from .timesteps import Masking, RepeatVector
from .upsampling import UpSampling1D, UpSampling2D
from .wrappers import TimeDistributed

__all__ = [
                      "ELU",
                      "Activation",
                      "ActivityRegularization",
                      "Add",
                      "AdditiveAttention",
                      "AlphaDropout",
                      "Attention",
                      "Average",
                      "AveragePooling1D",
                      "AveragePooling2D",
                      "BatchNormalization",
                      "CategoryEncoding",
                      "CenterCrop",
                      "Concatenate",
                      "Conv1D",
                      "Conv1DTranspose",
                      "Conv2D",
                      "Conv2DTranspose",
                      "Cropping1D",
                      "Cropping2D",
                      "Dense",
                      "DepthwiseConv1D",
                      "DepthwiseConv2D",
                      "Discretization",
                      "Dot",
                      "Dropout",
                      "EinsumDense",
                      "Embedding",
                      "Flatten",
                      "GaussianDropout",
                      "GaussianNoise",
                      "GlobalAveragePooling1D",
                      "GlobalAveragePooling2D",
                      "GlobalMaxPooling1D",
                      "GlobalMaxPooling2D",
                      "Hashing",
                      "Input",
                      "InputLayer",
                      "IntegerLookup",
                      "Lambda",
                      "Layer",
                      "LayerNormalization",
                      "LeakyReLU",
                      "Masking",
                      "MaxPooling1D",
                      "MaxPooling2D",
                      "Maximum",
                      "Minimum",
                      "MultiHeadAttention",
                      "Multiply",
                      "Normalization",
                      "PReLU",
                      "RandomContrast",
                      "RandomCrop",
                      "RandomFlip",
                      "RandomRotation",
                      "RandomTranslation",
                      "RandomZoom",
                      "ReLU",
                      "RepeatVector",
                      "Rescaling",
                      "Reshape",
                      "Resizing",
                      "SeparableConv1D",
                      "SeparableConv2D",
                      "Softmax",
                      "SpatialDropout1D",
                      "SpatialDropout2D",
                      "StringLookup",
                      "Subtract",
                      "TextVectorization",
                      "TimeDistributed",
                      "UpSampling1D",
                      "UpSampling2D",
                      "ZeroPadding1D",
                      "ZeroPadding2D",
                      "add",
                      "average",
                      "concatenate",
                      "deserialize",
                      "dot",
                      "maximum",
                      "minimum",
                      "multiply",
                      "serialize",
                      "subtract",
]

from ..keras_api import module_getattr as _keras_getattr

__getattr__ = _keras_getattr(__name__)  # a Keras name gpunet lacks: NotSupportedYetError
