"""Single-op rows: eager overhead on tiny tensors, elementwise and reductions on
big ones, matmul and conv2d. Every body is written once as a function of the
library module `m` (fastgrad or torch; numpy too where the same code runs), so
the libraries are given the very same computation."""

from functools import partial

import numpy as np

import fastgrad as fg
from harness import Row

try:
    import torch
except ImportError:
    torch = None

# Issue 5's targets, as the largest acceptable time ratio against a reference.
OVERHEAD = ("torch", 0.5)           # eager per-op overhead with autograd: half of torch
NEAR_TORCH = ("torch", 1 / 0.9)     # elementwise and softmax: >= 0.9x torch's speed
NEAR_BLAS = ("numpy", 1 / 0.9)      # matmul: >= 0.9x numpy's OpenBLAS
CONV = ("torch", 1 / 0.8)           # conv2d forward+backward: >= 0.8x torch (oneDNN)


def tensor_libs():
    """(impl name, module) pairs for the tensor libraries present."""
    return [("fastgrad", fg)] + ([("torch", torch)] if torch is not None else [])


def as_tensor(m, a, requires_grad=False):
    if requires_grad:  # a leaf of its own (copies)
        return m.tensor(a, requires_grad=True)
    return m.from_numpy(a)  # shares the numpy buffer: no copy for the big inputs


def same_code(make_arrays, body, numpy=None, grad=()):
    """A Row.build: body(m, *tensors) for fastgrad and torch, the same arrays
    wrapped; `numpy` is True (run body with m=np) or a numpy-only callable.
    `grad`: indices of the inputs that are leaves requiring grad."""
    def build():
        arrays = make_arrays()
        fns = {}
        for impl, m in tensor_libs():
            ts = [as_tensor(m, a, i in grad) for i, a in enumerate(arrays)]
            fns[impl] = partial(body, m, *ts)
        if numpy is True:
            fns["numpy"] = partial(body, np, *arrays)
        elif numpy is not None:
            fns["numpy"] = partial(numpy, *arrays)
        return fns
    return build


def randn(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


# ---- bodies ---------------------------------------------------------------------
def add(m, a, b):
    return a + b


def chain10(m, a, b):
    return ((((a * b + a) * b + a) * b + a) * b + a) * b + a


def scalar_chain_backward(m, x, seed):
    """10 recorded ops (5 x mul, add) on a tiny leaf, then backward through them."""
    x.grad = None
    y = x
    for _ in range(5):
        y = y * 1.01 + 0.1
    y.backward(seed)
    return y, x.grad


def softmax(m, x):
    return m.softmax(x, dim=1)


def softmax_np(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def softmax_fwd_bwd(m, x, g):
    x.grad = None
    y = m.softmax(x, dim=1)
    y.backward(g)  # a fixed random upstream gradient (sum() would give ~0)
    return y, x.grad


def conv_fwd(m, x, w, b):
    with m.no_grad():
        return m.nn.functional.conv2d(x, w, b, padding=1)


def conv_fwd_bwd(m, x, w, b, g):
    for t in (x, w, b):
        t.grad = None
    y = m.nn.functional.conv2d(x, w, b, padding=1)
    y.backward(g)
    return y, x.grad, w.grad, b.grad


# ---- rows -----------------------------------------------------------------------
def rows():
    rng = np.random.default_rng(0)
    r = partial(randn, rng)
    tiny = lambda: [r(4), r(4)]
    big = lambda: [r(1 << 24), r(1 << 24)]
    mat = lambda: [r(4096, 1024)]

    yield Row("add tiny (4)", same_code(tiny, add, numpy=True))
    yield Row("add tiny (4), requires_grad (record 1 op)",
              same_code(tiny, add, grad=(0, 1)), target=OVERHEAD)
    yield Row("tiny chain x10 (mul, add)", same_code(tiny, chain10, numpy=True))
    yield Row("10-op scalar chain + backward",
              same_code(lambda: [r(4), np.ones(4, np.float32)], scalar_chain_backward,
                        grad=(0,)), target=OVERHEAD)

    yield Row("add 16M", same_code(big, add, numpy=True), target=NEAR_TORCH)
    yield Row("mul 16M", same_code(big, lambda m, a, b: a * b, numpy=True),
              target=NEAR_TORCH)
    yield Row("exp 16M", same_code(big, lambda m, a, b: m.exp(a), numpy=True),
              target=NEAR_TORCH)
    yield Row("tanh 16M", same_code(big, lambda m, a, b: m.tanh(a), numpy=True),
              target=NEAR_TORCH)
    yield Row("transpose copy (4096,1024)",
              same_code(mat, lambda m, a: a.T.contiguous(),
                        numpy=lambda a: np.ascontiguousarray(a.T)))
    yield Row("broadcast add (4096,1024)+(1024,)",
              same_code(lambda: [r(4096, 1024), r(1024)], add, numpy=True))
    yield Row("sum (4096,1024) dim=1",
              same_code(mat, lambda m, a: a.sum(dim=1), numpy=lambda a: a.sum(axis=1)))
    yield Row("softmax (4096,1024) dim=1", same_code(mat, softmax, numpy=softmax_np),
              target=NEAR_TORCH)
    yield Row("softmax (4096,1024) dim=1 fwd+bwd",
              same_code(lambda: [r(4096, 1024), r(4096, 1024)], softmax_fwd_bwd, grad=(0,)),
              target=NEAR_TORCH)

    for n in (64, 128, 256, 512, 1024, 2048):
        yield Row(f"matmul {n}", same_code(lambda n=n: [r(n, n), r(n, n)],
                                           lambda m, a, b: a @ b, numpy=True),
                  group="matmul", flops=2.0 * n ** 3, target=NEAR_BLAS)
    yield Row("bmm (32,128,128)@(32,128,128)",
              same_code(lambda: [r(32, 128, 128), r(32, 128, 128)], lambda m, a, b: a @ b,
                        numpy=True),
              group="matmul", flops=2.0 * 32 * 128 ** 3, target=NEAR_BLAS)

    # ResNet-style 3x3 layer: (32, 64, 56, 56) input, 64 filters, padding 1.
    n, c, h, w, o = 32, 64, 56, 56, 64
    conv_flops = 2.0 * n * o * c * 9 * h * w
    conv_in = lambda: [r(n, c, h, w), (r(o, c, 3, 3) * 0.05).astype(np.float32), r(o)]
    yield Row("conv2d fwd (32,64,56,56) 64x3x3 pad1", same_code(conv_in, conv_fwd),
              group="conv", flops=conv_flops)
    yield Row("conv2d fwd+bwd (32,64,56,56) 64x3x3 pad1",
              same_code(lambda: conv_in() + [r(n, o, h, w)], conv_fwd_bwd, grad=(0, 1, 2)),
              group="conv", flops=3 * conv_flops, target=CONV)
