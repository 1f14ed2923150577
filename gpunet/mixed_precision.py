"""Mixed precision as Keras spells it: ``set_global_policy("mixed_float16" | "mixed_bfloat16")``.

A dtype policy names two dtypes: the *variable* dtype the weights are kept in (float32: the
master weights, which the optimizer updates) and the *compute* dtype the layers compute in.
Under ``"mixed_float16"`` and ``"mixed_bfloat16"`` each layer casts its input to the compute
dtype and its weights to it as they are used (the cast is an op of the graph: the gradient
comes back to the float32 weights as float32); normalization layers compute in float32, as
Keras's do; the loss is computed in float32 from the model's low-precision output.

float16's range is narrow (largest 65504, smallest normal 6e-5), so small gradients underflow
to zero. Under ``"mixed_float16"`` ``compile`` wraps the optimizer in a
:class:`LossScaleOptimizer`, as Keras does: the backward pass starts from the loss scale instead
of 1, the gradients are divided by it before the update, and a step whose gradients overflowed
is skipped while the scale halves (it doubles after ``dynamic_growth_steps`` good steps).
bfloat16 has float32's range and needs no scaling.

The policy in force when a layer is created is the layer's (``Dense(10, dtype="float32")``
overrides it for one layer, e.g. the model's last). On the CPU, float16 arithmetic is emulated by
NumPy and slow, and NumPy's bfloat16 (from the ``ml_dtypes`` package, which JAX installs)
returns matrix products in float32, as a GPU's tensor cores accumulate them: mixed precision
pays on GPUs.
"""

from .dtype_policies import DTypePolicy, Policy, dtype_policy, global_policy, set_dtype_policy, set_global_policy
from .optimizers.loss_scale import LossScaleOptimizer

__all__ = ["DTypePolicy", "Policy", "set_global_policy", "global_policy", "set_dtype_policy", "dtype_policy",
           "LossScaleOptimizer"]

from .keras_api import module_getattr as _keras_getattr  # noqa: E402
__getattr__ = _keras_getattr(__name__)  # a Keras name gpunet lacks: NotSupportedYetError
