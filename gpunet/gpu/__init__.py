"""Code that runs only on an NVIDIA GPU, beside CuPy: :mod:`gpunet.gpu.blas`, cuBLAS matrix
products that a CUDA graph can capture. Nothing here is imported on the CPU path."""
