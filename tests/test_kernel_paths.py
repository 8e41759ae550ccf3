"""The fast CPU kernel paths (issue 5) against torch: fused softmax / log_softmax
forward and backward lines (unit-stride vector path, scalar tail, lines moved
last when strided), column-vectorised pairwise sums, the tiled transposing
copy. Sizes are chosen to hit each path's vector body, its tail and its
size thresholds."""

import numpy as np
import pytest

import fastgrad as fg
from helpers import assert_close, make, to_np

LAYOUTS = ["contiguous", "transposed", "sliced"]
DTYPES = [np.float32, np.float64]


@pytest.fixture
def threads():
    """Restores the thread count a test changes."""
    before = fg.get_num_threads()
    yield
    fg.set_num_threads(before)


# ---- softmax / log_softmax --------------------------------------------------------------

# (shape, dim): row lengths 1, 3 (tail only), 16 and 17 (vector body + tail),
# middle dims, and tensors >= 2^14 elements whose strided dims are moved last.
SOFTMAX_CASES = [
    ((5, 1), 1),
    ((4, 3), -1),
    ((3, 16), 1),
    ((6, 17), -1),
    ((7, 17), 0),
    ((2, 5, 9), 1),
    ((130, 131), 0),
    ((129, 130), 1),
    ((4, 65, 70), 1),
    ((3, 40, 150), 0),
]


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape,dim", SOFTMAX_CASES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_softmax_forward_backward(torch, rng, name, shape, dim, dtype, layout):
    a, x = make(rng, shape, dtype, low=-8, high=8, layout=layout)
    g = rng.standard_normal(shape).astype(dtype)
    x.requires_grad_(True)
    y = getattr(fg, name)(x, dim=dim)
    y.backward(fg.tensor(g))
    tx = torch.tensor(a, requires_grad=True)
    ty = getattr(torch, name)(tx, dim=dim)
    ty.backward(torch.tensor(g))
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    assert_close(y, ty, **tol)
    assert_close(x.grad, tx.grad, **dict(tol, atol=tol["atol"] * 10))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [0, 1])
def test_softmax_backward_broadcast_grad(torch, rng, name, dim):
    """y.sum().backward() hands the kernel a stride-0 gradient."""
    a = rng.standard_normal((150, 130)).astype(np.float32)
    x = fg.tensor(a, requires_grad=True)
    getattr(fg, name)(x, dim=dim).sum().backward()
    tx = torch.tensor(a, requires_grad=True)
    getattr(torch, name)(tx, dim=dim).sum().backward()
    assert_close(x.grad, tx.grad, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_double_backward_matches_torch(torch, rng, name):
    """Under create_graph the backward stays differentiable (not the fused kernel)."""
    a = rng.standard_normal((6, 9))
    x = fg.tensor(a, requires_grad=True)
    (gx,) = fg.autograd.grad(getattr(fg, name)(x, dim=1).pow(2).sum(), x, create_graph=True)
    gx.sum().backward()
    tx = torch.tensor(a, requires_grad=True)
    (tgx,) = torch.autograd.grad(getattr(torch, name)(tx, dim=1).pow(2).sum(), tx, create_graph=True)
    tgx.sum().backward()
    assert_close(gx, tgx, rtol=1e-10, atol=1e-12)
    assert_close(x.grad, tx.grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape,dim", [((0, 5), 1), ((5, 0), 1), ((0, 5), 0), ((4, 0, 3), 2)])
def test_softmax_empty(torch, name, shape, dim):
    x = fg.zeros(shape, requires_grad=True)
    y = getattr(fg, name)(x, dim=dim)
    y.sum().backward()
    ty = getattr(torch, name)(torch.zeros(shape), dim=dim)
    assert_close(y, ty)
    assert tuple(x.grad.shape) == shape


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_same_bits_any_layout(rng, name):
    """A line gives the same bits contiguous, strided or moved last."""
    a = rng.standard_normal((300, 257)).astype(np.float32)
    rows = to_np(getattr(fg, name)(fg.tensor(a), dim=1))
    cols = to_np(getattr(fg, name)(fg.tensor(np.ascontiguousarray(a.T)), dim=0))
    np.testing.assert_array_equal(rows, cols.T)


def test_softmax_extreme_values(torch):
    a = np.array([[1e30, -1e30, 0.0, 88.0, -104.0] * 5, [-np.inf, 0.0, 1.0, 2.0, 3.0] * 5],
                 dtype=np.float32)
    for name in ["softmax", "log_softmax"]:
        assert_close(getattr(fg, name)(fg.tensor(a), dim=1),
                     getattr(torch, name)(torch.tensor(a), dim=1), rtol=1e-5, atol=1e-6)


# ---- sum / mean ----------------------------------------------------------------------

# Column tiles of up to 64 (70 = one full tile + a tail), runs longer than the
# 128-element pairwise block (300), the 8-lane body and its tail (13).
SUM_SHAPES = [(13, 70), (300, 5), (300, 130), (1, 64), (129, 1), (7, 3, 300)]


@pytest.mark.parametrize("op", ["sum", "mean"])
@pytest.mark.parametrize("shape", SUM_SHAPES)
@pytest.mark.parametrize("dim", [0, -1, (0, -1)])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_sum_mean_paths(torch, rng, op, shape, dim, dtype, layout):
    a, x = make(rng, shape, dtype, layout=layout)
    got = getattr(x, op)(dim=dim)
    want = getattr(torch.tensor(a, dtype=torch.float64), op)(dim=dim)
    tol = 1e-6 if dtype == np.float32 else 1e-13
    assert_close(got, want.to(getattr(torch, np.dtype(dtype).name)), rtol=tol, atol=tol)


@pytest.mark.parametrize("shape", [(5000, 3), (1000, 67), (257, 129)])
def test_column_sum_same_bits_as_row_sum(rng, shape):
    """The column kernel walks the row kernel's pairwise tree: same bits."""
    a = rng.standard_normal(shape).astype(np.float32)
    cols = to_np(fg.tensor(a).sum(dim=0))
    rows = to_np(fg.tensor(np.ascontiguousarray(a.T)).sum(dim=1))
    np.testing.assert_array_equal(cols, rows)


@pytest.mark.parametrize("n", [1, 7, 8, 127, 128, 129, 255, 256, 257, 383, 384, 385,
                               511, 512, 513, 1000, 1024, 1500])
@pytest.mark.parametrize("dtype", DTYPES)
def test_row_sum_same_bits_unit_and_strided(rng, n, dtype):
    """Unit-stride leaves use 4-double vectors (Note [Vector leaves]), strided
    rows the scalar loop, columns their own tile kernel: all give the same bits."""
    a = rng.standard_normal((3, n)).astype(dtype)
    unit = to_np(fg.tensor(a).sum(dim=1))
    strided = to_np(fg.tensor(np.repeat(a, 2, axis=1))[:, ::2].sum(dim=1))
    cols = to_np(fg.tensor(np.ascontiguousarray(a.T)).sum(dim=0))
    np.testing.assert_array_equal(unit, strided)
    np.testing.assert_array_equal(unit, cols)
    np.testing.assert_allclose(unit, a.astype(np.float64).sum(axis=1), rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("dim", [0, 1])
def test_reductions_do_not_depend_on_thread_count(rng, threads, dim):
    a = rng.standard_normal((700, 300)).astype(np.float32)
    x = fg.tensor(a)
    outs = []
    for n in (1, 2):
        fg.set_num_threads(n)
        outs.append([to_np(x.sum(dim=dim)), to_np(x.mean(dim=dim)), to_np(fg.softmax(x, dim=dim))])
    for one, two in zip(*outs):
        np.testing.assert_array_equal(one, two)


@pytest.mark.parametrize("dim", [0, 1])
def test_sum_empty(torch, dim):
    for shape in [(0, 5), (5, 0)]:
        assert_close(fg.zeros(shape).sum(dim=dim), torch.zeros(shape).sum(dim=dim))


# ---- tiled transposing copy -------------------------------------------------------------

NP_TO_FG = {np.float32: fg.float32, np.float64: fg.float64, np.int32: fg.int32,
            np.int64: fg.int64, np.bool_: fg.bool}


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64, np.bool_])
@pytest.mark.parametrize("shape", [(70, 130), (65, 64), (3, 2000), (2000, 3), (10, 10)])
def test_transposed_contiguous(torch, rng, dtype, shape):
    a, x = make(rng, shape, dtype, low=-50, high=50)
    y = x.T.contiguous()
    assert y.is_contiguous()
    assert_close(y, torch.tensor(a).T.contiguous())
    assert_close(x.T.clone(), torch.tensor(a).T.clone())


@pytest.mark.parametrize("perm", [(2, 0, 1), (1, 2, 0), (2, 1, 0), (0, 2, 1)])
def test_permuted_copies(torch, rng, perm):
    a = rng.standard_normal((9, 33, 70)).astype(np.float32)
    x, t = fg.tensor(a).permute(*perm), torch.tensor(a).permute(*perm)
    assert_close(x.contiguous(), t.contiguous())
    assert_close(x.to(fg.float64), t.to(torch.float64))  # a converting tiled copy
    dst = fg.zeros(tuple(t.shape), dtype=fg.int32)
    dst.copy_(x)
    assert_close(dst, t.to(torch.int32))


def test_transposed_copy_negative_and_sliced_strides(torch, rng):
    a = rng.standard_normal((90, 120)).astype(np.float32)
    x, t = fg.tensor(a), torch.tensor(a)
    assert_close(fg.flip(x, [0]).T.contiguous(), torch.flip(t, [0]).T.contiguous())
    assert_close(x[::3, 1::2].T.contiguous(), t[::3, 1::2].T.contiguous())


def test_transposed_copy_into_transposed_destination(torch, rng):
    """copy_ into a transposed view: the destination's inner dim is strided."""
    a = rng.standard_normal((100, 80)).astype(np.float32)
    dst = fg.zeros((80, 100))
    dst.T.copy_(fg.tensor(a))
    assert_close(dst, torch.tensor(a).T.contiguous())


def test_transposed_copy_gradient(torch, rng):
    a = rng.standard_normal((70, 90))
    x = fg.tensor(a, requires_grad=True)
    g = rng.standard_normal((90, 70))
    x.T.contiguous().backward(fg.tensor(g))
    assert_close(x.grad, torch.tensor(g).T)


# ---- layer norm backward (one fused pass per row) -----------------------------------------

@pytest.mark.parametrize("shape", [(4, 1), (3, 7), (5, 8), (2, 3, 17), (6, 64)])
@pytest.mark.parametrize("affine", ["none", "weight", "both"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
def test_layer_norm_backward_paths(torch, rng, shape, affine, dtype, layout):
    a, x = make(rng, shape, dtype, layout=layout)
    g = rng.standard_normal(shape).astype(dtype)
    n = shape[-1]
    w = rng.uniform(0.5, 1.5, n).astype(dtype) if affine != "none" else None
    b = rng.uniform(-1, 1, n).astype(dtype) if affine == "both" else None
    fw = fg.tensor(w, requires_grad=True) if w is not None else None
    fb = fg.tensor(b, requires_grad=True) if b is not None else None
    tw = torch.tensor(w, requires_grad=True) if w is not None else None
    tb = torch.tensor(b, requires_grad=True) if b is not None else None
    x.requires_grad_(True)
    tx = torch.tensor(a, requires_grad=True)
    fg.nn.functional.layer_norm(x, (n,), fw, fb, 1e-5).backward(fg.tensor(g))
    torch.nn.functional.layer_norm(tx, (n,), tw, tb, 1e-5).backward(torch.tensor(g))
    # atol: with one element per row the exact input gradient is 0, torch's
    # float32 value is rounding noise of ~1e-5
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-11)
    assert_close(x.grad, tx.grad, **tol)
    if fw is not None:
        assert_close(fw.grad, tw.grad, **tol)
    if fb is not None:
        assert_close(fb.grad, tb.grad, **tol)
