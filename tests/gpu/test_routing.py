"""Every matrix product in gpunet goes through ``backend.matmul`` (or ``backend.column_dots``), the
one place that sends CuPy arrays to cuBLAS through gpunet's own handle: CuPy's ``@``, ``matmul``,
``dot``, ``tensordot``, ``inner`` and ``einsum`` call cuBLAS through wrappers that refuse while a
stream captures, so one product written directly would keep a train step out of CUDA graphs."""

import ast
import os

import numpy as np

from gpunet import backend

PACKAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "gpunet")
ALLOWED = {os.path.join("backend", "products.py"), os.path.join("gpu", "blas.py")}  # the dispatch itself
# Keras's linear-algebra ops (einsum, tensordot, decompositions and their gradients) call the array
# module's products on purpose: no built-in layer's step uses them, and a captured CUDA graph of a
# user's step that does is refused at capture (cuBLAS during capture), the step then running eagerly
ALLOWED |= {os.path.join("ops", "linalg.py"), os.path.join("ops", "linear_algebra_np.py")}
CUBLAS_FUNCTIONS = {"matmul", "dot", "tensordot", "inner", "einsum"}


def direct_products(path):
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.BinOp, ast.AugAssign)) and isinstance(node.op, ast.MatMult):
            found.append(f"line {node.lineno}: @")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in CUBLAS_FUNCTIONS
              and not (isinstance(node.func.value, ast.Name) and node.func.value.id in ("ops", "backend"))):
            # gpunet.ops: the autograd op, routed; backend.matmul: the route itself
            found.append(f"line {node.lineno}: .{node.func.attr}(...)")
    return found


def test_no_module_takes_a_matrix_product_around_the_backend():
    offenders = {}
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                relative = os.path.relpath(path, PACKAGE)
                if relative not in ALLOWED and direct_products(path):
                    offenders[relative] = direct_products(path)
    assert offenders == {}


def test_the_scan_sees_products(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("y = a @ b\nz = xp.einsum('ij,ij->j', a, b)\n@decorator\ndef f():\n    pass\nw = ops.matmul(a, b)\n")
    assert direct_products(str(sample)) == ["line 1: @", "line 2: .einsum(...)"]  # ops.matmul goes through the backend


def test_column_dots_on_the_host_is_the_column_sum_of_products():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 50, 7)).astype(np.float32)
    expected = (a.astype(np.float64) * b.astype(np.float64)).sum(axis=0)
    np.testing.assert_allclose(backend.column_dots(a, b), expected, rtol=1e-5, atol=1e-5)
