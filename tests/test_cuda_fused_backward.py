"""The fused CUDA backward kernels of layer/group/batch norm and the fused
cross_entropy (forward and backward) against the CPU backend, which runs the
same per-row/per-line formulas (math/norm.h, math/loss.h) and is itself tested
against torch. Shapes cover each kernel layout: rows longer than a block, many
short rows, S == 1 (channels adjacent in memory) and S > 1, strided lines.
Marked `cuda`: skipped without a CUDA build and a GPU."""

import fastgrad as fg
import fastgrad.nn.functional as F
import numpy as np
import pytest

pytestmark = pytest.mark.cuda

TOL = {fg.float32: (1e-4, 1e-5), fg.float64: (1e-10, 1e-12)}


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def check(got, expected, dtype):
    rtol, atol = TOL[dtype]
    assert got.device.type == "cuda"
    assert tuple(got.shape) == tuple(expected.shape) and got.dtype == expected.dtype
    np.testing.assert_allclose(got.to("cpu").numpy(), expected.numpy(), rtol=rtol, atol=atol)


def grads_match(fn, arrays, dtype, wants=None, g_seed=1):
    """fn(*tensors) on the CPU and on CUDA: the outputs and the gradients of
    sum(out * g) (a random g) for the arrays with wants[i] (default: all)."""
    wants = wants or [True] * len(arrays)
    g = None
    grads = []
    for device in ("cpu", "cuda"):
        ts = [None if a is None else fg.tensor(a).to(dtype).to(device).requires_grad_(want)
              for a, want in zip(arrays, wants)]
        out = fn(*ts)
        if g is None:
            g = np.random.default_rng(g_seed).standard_normal(tuple(out.shape))
        out.backward(fg.tensor(g).to(dtype).to(device))
        grads.append((out.detach(), [t.grad for t, w in zip(ts, wants) if t is not None and w]))
    (yc, gc), (yd, gd) = grads
    check(yd, yc, dtype)
    for d, c in zip(gd, gc):
        check(d, c, dtype)


DTYPES = [fg.float32, fg.float64]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,ns", [((4, 7, 33), (33,)), ((3, 5000), (5000,)),
                                      ((3000, 10), (10,)), ((2, 3, 4, 5), (4, 5))])
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_backward(rng, dtype, shape, ns, affine):
    x = rng.standard_normal(shape) * 3 + 1
    w = rng.standard_normal(ns) if affine else None
    b = rng.standard_normal(ns) if affine else None
    grads_match(lambda x, w, b: F.layer_norm(x, ns, w, b), [x, w, b], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,groups", [((3, 6, 5, 4), 3), ((4, 6), 2), ((2, 8, 300), 2),
                                          ((5, 4, 3), 4)])
@pytest.mark.parametrize("affine", [True, False])
def test_group_norm_backward(rng, dtype, shape, groups, affine):
    x = rng.standard_normal(shape)
    w = rng.standard_normal(shape[1]) if affine else None
    b = rng.standard_normal(shape[1]) if affine else None
    grads_match(lambda x, w, b: F.group_norm(x, groups, w, b), [x, w, b], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(16, 5), (4, 3, 6, 5), (2, 70, 3), (600, 40)])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_backward(rng, dtype, shape, training, affine):
    c = shape[1]
    x = rng.standard_normal(shape) * 2 - 1
    w = rng.standard_normal(c) if affine else None
    b = rng.standard_normal(c) if affine else None
    rm, rv = rng.standard_normal(c), rng.uniform(0.5, 2, c)

    def fn(x, w, b):
        dev = x.device
        return F.batch_norm(x, fg.tensor(rm).to(dtype).to(dev), fg.tensor(rv).to(dtype).to(dev),
                            w, b, training=training)

    grads_match(fn, [x, w, b], dtype)


@pytest.mark.parametrize("wants", [[True, False, False], [False, True, True], [False, True, False]])
def test_norm_backward_partial_needs(rng, wants):
    x = rng.standard_normal((6, 4, 3))
    w, b = rng.standard_normal(4), rng.standard_normal(4)
    grads_match(lambda x, w, b: F.group_norm(x, 2, w, b), [x, w, b], fg.float32, wants)
    grads_match(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), [x, w, b],
                fg.float32, wants)
    wl, bl = rng.standard_normal(3), rng.standard_normal(3)
    grads_match(lambda x, w, b: F.layer_norm(x, (3,), w, b), [x, wl, bl], fg.float32, wants)


def test_norm_backward_empty_batch():
    for fn in (lambda x, w, b: F.layer_norm(x, (4,), w, b),
               lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True)):
        x = fg.zeros(0, 4, device="cuda", requires_grad=True)
        w = fg.ones(4, device="cuda", requires_grad=True)
        b = fg.zeros(4, device="cuda", requires_grad=True)
        fn(x, w, b).sum().backward()
        for p in (w, b):
            np.testing.assert_array_equal(p.grad.to("cpu").numpy(), np.zeros(4, np.float32))


def test_norm_double_backward_stays_composite(rng):
    x = rng.standard_normal((3, 6))
    w = rng.standard_normal(6)
    res = []
    for device in ("cpu", "cuda"):
        xt = fg.tensor(x).to(device).requires_grad_()
        wt = fg.tensor(w).to(device).requires_grad_()
        (gx,) = fg.autograd.grad(F.layer_norm(xt, (6,), wt).pow(2).sum(), [xt], create_graph=True)
        gx.sum().backward()
        res.append((gx.detach(), wt.grad))
    for d, c in zip(res[1], res[0]):
        check(d, c, fg.float64)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(6, 11), (11,), (3, 5, 4, 2), (4, 3000), (300, 7)])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore_index", [-100, 2])
def test_cross_entropy_fused(rng, dtype, shape, reduction, weighted, ignore_index):
    c = shape[0] if len(shape) == 1 else shape[1]
    tshape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    t = rng.integers(0, c, size=tshape)
    if t.ndim:
        t.flat[0] = ignore_index
    target = fg.tensor(t)
    w = rng.uniform(0.5, 2, c) if weighted else None
    x = rng.standard_normal(shape) * 4

    def fn(x, w):
        out = F.cross_entropy(x, target.to(x.device), w, reduction=reduction,
                              ignore_index=ignore_index)
        assert out.grad_fn.name() == "CrossEntropyLossBackward"  # the fused path
        return out

    grads_match(fn, [x, w], dtype, [True, False])


def test_cross_entropy_extreme_logits():
    x = np.array([[0.0, 1e30, -1e30], [-np.inf, 0.0, 3.0], [5.0, 5.0, 5.0]], np.float32)
    grads_match(lambda x: F.cross_entropy(x, fg.tensor([1, 2, 0]).to(x.device), reduction="none"),
                [x], fg.float32)


def test_cross_entropy_double_backward_on_cuda(rng):
    x = rng.standard_normal((5, 4))
    t = fg.tensor(rng.integers(0, 4, size=5))
    res = []
    for device in ("cpu", "cuda"):
        xt = fg.tensor(x).to(device).requires_grad_()
        (gx,) = fg.autograd.grad(F.cross_entropy(xt, t.to(device)), [xt], create_graph=True)
        gx.pow(2).sum().backward()
        res.append((gx.detach(), xt.grad))
    for d, c in zip(res[1], res[0]):
        check(d, c, fg.float64)
