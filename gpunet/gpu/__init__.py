"""Code that runs only on an NVIDIA GPU, in one place, below :mod:`gpunet.backend`:

    fused.py        Fused: the one way a GPU kernel is chosen over its NumPy twin
    elementwise.py  ElementwiseKernel (CuPy's, built on first use) and the CUDA source NVRTC checks
    kernels.py      the ops' fused kernels (activations, dropout, softmax cross-entropy), each beside its twin
    recurrent_kernels.py  the recurrent layers' per-step elementwise work (LSTM, GRU, SimpleRNN), each beside its twin
    philox.py       the Philox4x32-10 noise stream, on the device and in NumPy
    blas.py         cuBLAS through gpunet's own handle: matrix products a CUDA graph can capture

An optimizer's kernels stay beside its NumPy rule (``gpunet/optimizers/``), built with
:class:`~gpunet.gpu.elementwise.ElementwiseKernel` and chosen by :class:`~gpunet.gpu.fused.Fused`'s
rule in ``Optimizer.apply_gradients``. Nothing here imports the rest of gpunet, and nothing here
runs on the CPU path except the twins."""
