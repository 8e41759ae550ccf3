"""Backward rules of the indexing ops: gradcheck (float64), x.grad against torch
for random upstream gradients, double backward, and the in-place/view errors."""

import numpy as np
import pytest

import fastgrad as fg
from fastgrad.autograd import gradcheck
from helpers import assert_close, make

# Every test runs on each device (conftest.py's `device` fixture).
pytestmark = pytest.mark.usefixtures("device")


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def leaf(rng, shape, layout="contiguous"):
    """A float64 leaf requiring grad; non-contiguous layouts keep their strides."""
    arr, t = make(rng, shape, np.float64, layout=layout)
    return arr, t.requires_grad_()  # from_numpy views are leaves too


def gradgradcheck(fn, inputs, seed=0):
    """gradcheck of the first derivative of fn (built with create_graph=True) for
    a fixed random upstream gradient. Spelled out here because
    fastgrad.autograd.gradgradcheck takes its finite differences under no_grad,
    where no first derivative can be built."""
    with fg.no_grad():
        shape = tuple(fn(*inputs).shape)
    g = fg.tensor(np.random.default_rng(seed).standard_normal(shape))

    def first(*args):
        with fg.enable_grad():
            args = [a if a.requires_grad else a.detach().requires_grad_() for a in args]
            return fg.autograd.grad(fn(*args), args, g, create_graph=True)

    return gradcheck(first, inputs)


def vjp(op):
    """(x, g) -> d<op(x), g>/dx built with create_graph=True: gradcheck of it in
    g checks the backward rule's own backward."""
    def f(x, g):
        with fg.enable_grad():
            x = x if x.requires_grad else x.detach().requires_grad_()
            return fg.autograd.grad(op(x), x, g, create_graph=True)[0]
    return f


def ix(v):
    return fg.tensor(np.array(v, dtype=np.int64))


def both_grads(torch, fn_fg, fn_t, arrays, rng, fg_inputs=None):
    """Run fn on fastgrad and torch leaves made from `arrays`, backward a random
    upstream gradient, and compare outputs and every input's .grad."""
    xs = fg_inputs or [fg.tensor(a).requires_grad_() for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, tout = fn_fg(*xs), fn_t(*ts)
    assert_close(out.detach(), tout)
    g = rng.standard_normal(tuple(tout.shape))
    out.backward(fg.tensor(g))
    tout.backward(torch.tensor(g))
    for x, t in zip(xs, ts):
        assert_close(x.grad, t.grad)


# ---- __getitem__ --------------------------------------------------------------------
def _getitem_cases():
    i = lambda *v: np.array(v, dtype=np.int64)  # noqa: E731
    m = np.array([[True, False, True, True], [False, False, True, False], [True, True, False, True]])
    return [
        ("int", lambda t: (1,)),
        ("neg_int", lambda t: (-1, 2)),
        ("slice", lambda t: (slice(1, None),)),
        ("slice_step", lambda t: (slice(None, None, 2), slice(1, 4, 2))),
        ("none", lambda t: (None, 1, None)),
        ("ellipsis", lambda t: (Ellipsis, 1)),
        ("ellipsis_none", lambda t: (None, Ellipsis, slice(0, 2))),
        ("int_tensor_repeat", lambda t: (t(i(0, 2, 0, 0)),)),
        ("int_tensor_2d", lambda t: (t(np.array([[0, 1], [2, 0]])),)),
        ("int_tensor_neg", lambda t: (slice(None), t(i(-1, 0, -1)))),
        ("two_tensors", lambda t: (t(i(0, 2, 2)), t(i(1, 3, 1)))),
        ("tensors_apart", lambda t: (t(i(0, 2)), slice(None), t(i(1, 1)))),
        ("bool_mask", lambda t: (t(m),)),
        ("bool_row_mask", lambda t: (t(np.array([True, False, True])),)),
        ("python_bool", lambda t: (True, 1)),
        ("mixed_slice_tensor", lambda t: (slice(1, 3), t(i(3, 0, 3)))),
        ("mixed_int_tensor", lambda t: (t(i(2, 0, 2)), 1)),
        ("mixed_none_step", lambda t: (None, t(i(1, 1)), slice(None, None, 2))),
        ("zero_d_tensor", lambda t: (t(np.array(1)),)),
    ]


CASES = _getitem_cases()
THREE_D = {"ellipsis", "ellipsis_none", "tensors_apart", "mixed_none_step"}


def shape_for(name):
    return (3, 4, 2) if name in THREE_D else (3, 4)


@pytest.mark.parametrize("layout", ["contiguous", "transposed", "sliced"])
@pytest.mark.parametrize("name,index", CASES, ids=[c[0] for c in CASES])
def test_getitem_gradcheck(name, index, layout):
    rng = np.random.default_rng(0)
    _, x = leaf(rng, shape_for(name), layout)
    idx = index(fg.tensor)
    assert gradcheck(lambda a: a[idx], (x,))


@pytest.mark.parametrize("name,index", CASES, ids=[c[0] for c in CASES])
def test_getitem_grad_matches_torch(torch, name, index):
    rng = np.random.default_rng(1)
    a = rng.standard_normal(shape_for(name))
    fi, ti = index(fg.tensor), index(torch.tensor)
    both_grads(torch, lambda x: x[fi], lambda x: x[ti], [a], rng)


def test_getitem_basic_is_view_with_grad_fn():
    x = fg.tensor(np.arange(6.0).reshape(2, 3)).requires_grad_()
    y = x[:, 1:]
    assert y.requires_grad and y.grad_fn is not None
    assert y.data_ptr() == x.data_ptr() + 8  # an offset view into x's storage


@pytest.mark.parametrize("index", [
    (slice(None, None, 2), 1),              # basic (a view)
    (ix([0, 2, 0]),),                      # advanced with repeats
    (slice(1, None), ix([1, 1, 3])),       # mixed
], ids=["basic", "advanced", "mixed"])
def test_getitem_double_backward(index):
    rng = np.random.default_rng(2)
    _, x = leaf(rng, (3, 4))
    # y * y makes the first derivative depend on x: it goes through the
    # backward's own backward.
    assert gradgradcheck(lambda a: a[index] * a[index], (x,))
    # The backward is linear in the upstream gradient: differentiate it in g.
    g = fg.tensor(rng.standard_normal(tuple(x[index].shape))).requires_grad_()
    assert gradcheck(vjp(lambda a: a[index]), (x, g))


# ---- __setitem__ / index_put ------------------------------------------------------------
SET_CASES = [
    ("int", lambda t: (1,), (4,)),
    ("slice_step", lambda t: (slice(None, None, 2), slice(1, None)), (2, 3)),
    ("broadcast_value", lambda t: (slice(0, 2),), (4,)),
    ("leading_one", lambda t: (0,), (1, 4)),
    ("int_tensor", lambda t: (t(np.array([2, 0])),), (2, 4)),
    ("bool_mask", lambda t: (t(np.array([[True, False, False, True]] * 3)),), (6,)),
    ("mixed", lambda t: (slice(1, None), t(np.array([3, 0]))), (2, 2)),
    ("scalar_value", lambda t: (Ellipsis, 2), ()),
]


@pytest.mark.parametrize("name,index,vshape", SET_CASES, ids=[c[0] for c in SET_CASES])
def test_setitem_gradcheck(name, index, vshape):
    rng = np.random.default_rng(3)
    _, x = leaf(rng, (3, 4))
    _, v = leaf(rng, vshape)
    idx = index(fg.tensor)

    def f(a, b):
        y = a * 1.0  # setitem needs a non-leaf
        y[idx] = b
        return y

    assert gradcheck(f, (x, v))


@pytest.mark.parametrize("name,index,vshape", SET_CASES, ids=[c[0] for c in SET_CASES])
def test_setitem_grad_matches_torch(torch, name, index, vshape):
    rng = np.random.default_rng(4)
    fi, ti = index(fg.tensor), index(torch.tensor)

    def run(idx):
        def f(a, b):
            y = a * 2.0
            y[idx] = b * 3.0
            return y
        return f

    both_grads(torch, run(fi), run(ti), [rng.standard_normal((3, 4)), rng.standard_normal(vshape)], rng)


def test_setitem_value_only_requires_grad(torch):
    rng = np.random.default_rng(5)
    v = rng.standard_normal(3)
    buf, tbuf = fg.zeros(2, 3, dtype=fg.float64), torch.zeros(2, 3, dtype=torch.float64)
    fv, tv = fg.tensor(v).requires_grad_(), torch.tensor(v, requires_grad=True)
    buf[1] = fv
    tbuf[1] = tv
    assert buf.requires_grad
    g = rng.standard_normal((2, 3))
    (buf * buf).backward(fg.tensor(g))
    (tbuf * tbuf).backward(torch.tensor(g))
    assert_close(fv.grad, tv.grad)


@pytest.mark.parametrize("accumulate", [False, True])
def test_index_put_gradcheck(accumulate):
    rng = np.random.default_rng(6)
    _, x = leaf(rng, (4, 3))
    _, v = leaf(rng, (3,) if accumulate else (2, 3))
    idx = (ix([0, 2, 0]),) if accumulate else (ix([3, 1]),)
    assert gradcheck(lambda a, b: fg.index_put(a, idx, b, accumulate=accumulate), (x, v))
    assert gradcheck(lambda a, b: (a * 1.0).index_put_(idx, b, accumulate=accumulate), (x, v))


@pytest.mark.parametrize("accumulate", [False, True])
def test_index_put_grad_matches_torch(torch, accumulate):
    rng = np.random.default_rng(7)
    fi, ti = (ix([1, -1]), ix([0, 2])), (torch.tensor([1, -1]), torch.tensor([0, 2]))
    both_grads(torch, lambda a, b: a.index_put(fi, b, accumulate=accumulate),
               lambda a, b: a.index_put(ti, b, accumulate=accumulate),
               [rng.standard_normal((4, 3)), rng.standard_normal(2)], rng)


def test_index_put_accumulate_double_backward():
    rng = np.random.default_rng(8)
    _, x = leaf(rng, (4, 3))
    _, v = leaf(rng, (4, 3))
    idx = (ix([0, 0, 3, 1]),)
    assert gradgradcheck(lambda a, b: fg.index_put(a * a, idx, b * b, accumulate=True), (x, v))


def test_setitem_errors():
    x = fg.ones(3, 4, dtype=fg.float64).requires_grad_()
    with pytest.raises(RuntimeError, match="setitem: a leaf Variable"):
        x[0] = 1.0
    with pytest.raises(RuntimeError, match="setitem: a view of a leaf Variable"):
        x[0][1] = 1.0
    y = x * 1.0
    row = y[0]
    with fg.no_grad():  # no recording: plain writes are fine
        row[1] = 5.0
        x[0, 0] = 2.0
    assert x.detach().cpu().numpy()[0, 0] == 2.0


def test_setitem_into_views_updates_the_base_gradient(torch):
    """Writes through views (CopySlices) give torch's gradients for base and value."""
    out = []
    for lib in (fg, torch):
        x = lib.tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
        v = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64, requires_grad=True)
        y = x * 2
        row = y[0]
        row[1] = 5.0
        y[1][1:] = v * v
        y[:, 0] += 1
        buf = lib.zeros(3, 4, dtype=lib.float64)
        buf[2][1:] = v
        ((y + buf) * lib.tensor(np.arange(12.0).reshape(3, 4))).sum().backward()
        out += [np.array(x.grad.cpu().numpy()), np.array(v.grad.cpu().numpy())]
    np.testing.assert_allclose(out[0], out[2])
    np.testing.assert_allclose(out[1], out[3])


def test_setitem_saved_index_modified_raises():
    x = fg.ones(4, dtype=fg.float64).requires_grad_()
    i = ix([0, 1])
    y = x[i]
    i.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward(fg.ones(2, dtype=fg.float64))


# ---- index_select / gather / scatter family ---------------------------------------------
LAYOUTS = ["contiguous", "transposed", "sliced"]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dim", [0, 1, -1, -2])
def test_index_select(torch, layout, dim):
    rng = np.random.default_rng(10)
    a, x = leaf(rng, (3, 4), layout)
    n = a.shape[dim]
    i = np.array([n - 1, 0, n - 1, 1], dtype=np.int64)
    assert gradcheck(lambda t: fg.index_select(t, dim, fg.tensor(i)), (x,))
    both_grads(torch, lambda t: t.index_select(dim, fg.tensor(i)),
               lambda t: t.index_select(dim, torch.tensor(i)), [a], rng)


def test_index_select_0d_and_double_backward():
    rng = np.random.default_rng(11)
    _, s = leaf(rng, ())
    assert gradcheck(lambda t: fg.index_select(t, 0, ix([0])), (s,))
    _, x = leaf(rng, (3, 4))
    i = ix([2, 2, 0])
    assert gradgradcheck(lambda t: fg.index_select(t * t, 1, i), (x,))
    g = fg.tensor(rng.standard_normal((3, 3))).requires_grad_()
    assert gradcheck(vjp(lambda t: t.index_select(1, i)), (x, g))


def _gather_index(rng, shape, dim, src_shape):
    return rng.integers(0, src_shape[dim], size=shape).astype(np.int64)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_gather(torch, layout, dim):
    rng = np.random.default_rng(12)
    a, x = leaf(rng, (3, 4), layout)
    i = _gather_index(rng, (2, 5) if dim in (1, -1) else (4, 3), dim, (3, 4))
    assert gradcheck(lambda t: fg.gather(t, dim, fg.tensor(i)), (x,))
    both_grads(torch, lambda t: t.gather(dim, fg.tensor(i)), lambda t: t.gather(dim, torch.tensor(i)), [a], rng)


def test_gather_double_backward():
    rng = np.random.default_rng(13)
    _, x = leaf(rng, (3, 4))
    i = ix([[0, 0, 3], [1, 2, 1], [3, 3, 3]])
    assert gradgradcheck(lambda t: fg.gather(t * t, 1, i), (x,))
    g = fg.tensor(rng.standard_normal((3, 3))).requires_grad_()
    assert gradcheck(vjp(lambda t: t.gather(1, i)), (x, g))


def _unique_index(rng, n_rows, n_cols, size):
    """Per column, distinct row indices (scatter without collisions)."""
    return np.stack([rng.permutation(size)[:n_rows] for _ in range(n_cols)], axis=1).astype(np.int64)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dim", [0, -2])
def test_scatter_src(torch, layout, dim):
    rng = np.random.default_rng(14)
    a, x = leaf(rng, (4, 3), layout)
    s, src = leaf(rng, (2, 3))
    i = _unique_index(rng, 2, 3, 4)
    fi, ti = fg.tensor(i), torch.tensor(i)
    assert gradcheck(lambda t, u: fg.scatter(t, dim, fi, u), (x, src))
    assert gradcheck(lambda t, u: (t * 1.0).scatter_(dim, fi, u), (x, src))
    both_grads(torch, lambda t, u: t.scatter(dim, fi, u), lambda t, u: t.scatter(dim, ti, u), [a, s], rng)


def test_scatter_src_larger_than_index():
    # Only index's corner of src is read: the rest of src gets zero gradient.
    rng = np.random.default_rng(15)
    _, x = leaf(rng, (4, 3))
    s, src = leaf(rng, (3, 4))
    i = ix([[1, 0], [3, 2]])
    assert gradcheck(lambda t, u: fg.scatter(t, 0, i, u), (x, src))
    out = fg.scatter_add(x, 0, i, src)
    out.backward(fg.ones(4, 3, dtype=fg.float64))
    expect = np.zeros((3, 4))
    expect[:2, :2] = 1
    assert_close(src.grad, expect)


@pytest.mark.parametrize("dim", [1, -1])
def test_scatter_value(torch, dim):
    rng = np.random.default_rng(16)
    a, x = leaf(rng, (3, 4), "transposed")
    i = ix([[0, 2], [3, 3], [1, 0]])
    assert gradcheck(lambda t: fg.scatter(t, dim, i, 2.5), (x,))
    assert gradcheck(lambda t: (t * 1.0).scatter_(dim, i, 2.5), (x,))
    ti = torch.tensor(i.cpu().numpy())
    both_grads(torch, lambda t: t.scatter(dim, i, 2.5), lambda t: t.scatter(dim, ti, 2.5), [a], rng)


def test_scatter_reduce_not_differentiable():
    x = fg.ones(3, 4, dtype=fg.float64).requires_grad_()
    i = ix([[0], [1], [2]])
    for reduce in ("add", "multiply"):
        with pytest.raises(NotImplementedError, match="scatter: the derivative for reduce"):
            fg.scatter(x, 1, i, fg.ones(3, 1, dtype=fg.float64), reduce=reduce)
        with pytest.raises(NotImplementedError, match="scatter: the derivative for reduce"):
            fg.scatter(x, 1, i, 2.0, reduce=reduce)
    with fg.no_grad():
        assert not fg.scatter(x, 1, i, 2.0, reduce="add").requires_grad


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_scatter_add(torch, layout, dim):
    rng = np.random.default_rng(17)
    a, x = leaf(rng, (3, 4), layout)
    s, src = leaf(rng, (3, 4), layout)
    i = rng.integers(0, a.shape[dim], size=(3, 4)).astype(np.int64)  # with collisions
    fi, ti = fg.tensor(i), torch.tensor(i)
    assert gradcheck(lambda t, u: fg.scatter_add(t, dim, fi, u), (x, src))
    assert gradcheck(lambda t, u: (t * 1.0).scatter_add_(dim, fi, u), (x, src))
    both_grads(torch, lambda t, u: t.scatter_add(dim, fi, u), lambda t, u: t.scatter_add(dim, ti, u), [a, s], rng)


@pytest.mark.parametrize("alpha", [1, 2.5])
@pytest.mark.parametrize("dim", [0, -1])
def test_index_add(torch, alpha, dim):
    rng = np.random.default_rng(18)
    a, x = leaf(rng, (3, 4), "transposed")
    i = np.array([2, 0, 2], dtype=np.int64) if dim == 0 else np.array([3, 3, 1], dtype=np.int64)
    sshape = (3, 4) if dim == 0 else (3, 3)
    s, src = leaf(rng, sshape, "sliced")
    fi, ti = fg.tensor(i), torch.tensor(i)
    assert gradcheck(lambda t, u: fg.index_add(t, dim, fi, u, alpha=alpha), (x, src))
    assert gradcheck(lambda t, u: (t * 1.0).index_add_(dim, fi, u, alpha=alpha), (x, src))
    both_grads(torch, lambda t, u: t.index_add(dim, fi, u, alpha=alpha),
               lambda t, u: t.index_add(dim, ti, u, alpha=alpha), [a, s], rng)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_index_fill(torch, dim):
    rng = np.random.default_rng(19)
    a, x = leaf(rng, (3, 4), "sliced")
    i = np.array([0, 2, 0], dtype=np.int64)
    fi, ti = fg.tensor(i), torch.tensor(i)
    # Negative indices are accepted (torch's CPU kernel rejects them here).
    assert gradcheck(lambda t: fg.index_fill(t, dim, ix([0, -1, 0]), 3.0), (x,))
    assert gradcheck(lambda t: (t * 1.0).index_fill_(dim, fi, 3.0), (x,))
    both_grads(torch, lambda t: t.index_fill(dim, fi, 3.0), lambda t: t.index_fill(dim, ti, 3.0), [a], rng)
    # A 0-d value tensor gets the sum of g over the filled positions.
    both_grads(torch, lambda t, v: t.index_fill(dim, fi, v), lambda t, v: t.index_fill(dim, ti, v),
               [a, np.array(1.5)], rng)
    both_grads(torch, lambda t, v: (t * 1.0).index_fill_(dim, fi, v),
               lambda t, v: (t * 1.0).index_fill_(dim, ti, v), [a, np.array(1.5)], rng)
    _, v = leaf(rng, ())
    assert gradcheck(lambda t, w: t.index_fill(dim, fi, w), (x, v))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_take(torch, layout):
    rng = np.random.default_rng(20)
    a, x = leaf(rng, (3, 4), layout)
    i = np.array([[0, 11, -1], [5, 5, 0]], dtype=np.int64)
    fi, ti = fg.tensor(i), torch.tensor(i)
    assert gradcheck(lambda t: fg.take(t, fi), (x,))
    assert gradgradcheck(lambda t: fg.take(t * t, fi), (x,))
    both_grads(torch, lambda t: t.take(fi), lambda t: t.take(ti), [a], rng)


# ---- masks ------------------------------------------------------------------------------
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("mshape", [(3, 4), (4,), (3, 1)])
def test_masked_fill(torch, layout, mshape):
    rng = np.random.default_rng(21)
    a, x = leaf(rng, (3, 4), layout)
    m = rng.random(mshape) > 0.5
    fm, tm = fg.tensor(m), torch.tensor(m)
    assert gradcheck(lambda t: fg.masked_fill(t, fm, -1.0), (x,))
    assert gradcheck(lambda t: (t * 1.0).masked_fill_(fm, -1.0), (x,))
    both_grads(torch, lambda t: t.masked_fill(fm, -1.0), lambda t: t.masked_fill(tm, -1.0), [a], rng)
    # The value as a 0-d tensor: it receives the masked sum of g.
    both_grads(torch, lambda t, v: t.masked_fill(fm, v), lambda t, v: t.masked_fill(tm, v),
               [a, np.array(0.5)], rng)
    both_grads(torch, lambda t, v: (t * 1.0).masked_fill_(fm, v),
               lambda t, v: (t * 1.0).masked_fill_(tm, v), [a, np.array(0.5)], rng)


def test_masked_fill_broadcast_self_and_double_backward(torch):
    rng = np.random.default_rng(22)
    a, x = leaf(rng, (4,))
    m = rng.random((3, 4)) > 0.5  # the result is larger than self
    assert gradcheck(lambda t: fg.masked_fill(t, fg.tensor(m), 0.0), (x,))
    both_grads(torch, lambda t: t.masked_fill(fg.tensor(m), 2.0), lambda t: t.masked_fill(torch.tensor(m), 2.0),
               [a], rng)
    _, y = leaf(rng, (3, 4))
    assert gradgradcheck(lambda t: fg.masked_fill(t * t, fg.tensor(m), 1.0), (y,))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("mshape", [(3, 4), (4,)])
def test_masked_select(torch, layout, mshape):
    rng = np.random.default_rng(23)
    a, x = leaf(rng, (3, 4), layout)
    m = rng.random(mshape) > 0.4
    fm, tm = fg.tensor(m), torch.tensor(m)
    assert gradcheck(lambda t: fg.masked_select(t, fm), (x,))
    assert gradgradcheck(lambda t: fg.masked_select(t * t, fm), (x,))
    both_grads(torch, lambda t: t.masked_select(fm), lambda t: t.masked_select(tm), [a], rng)


def test_masked_select_self_broadcast(torch):
    rng = np.random.default_rng(24)
    a, x = leaf(rng, (4,))
    m = rng.random((2, 4)) > 0.3
    assert gradcheck(lambda t: fg.masked_select(t, fg.tensor(m)), (x,))
    both_grads(torch, lambda t: t.masked_select(fg.tensor(m)), lambda t: t.masked_select(torch.tensor(m)),
               [a], rng)


def test_not_differentiable_outputs():
    x = fg.tensor(np.array([[0.0, 1.0], [2.0, 0.0]])).requires_grad_()
    assert not fg.nonzero(x).requires_grad
    assert not fg.argwhere(x).requires_grad
    assert all(not c.requires_grad for c in fg.nonzero(x, as_tuple=True))
    assert not fg.nn.functional.one_hot(ix([0, 2])).requires_grad


def test_create_graph_through_rules():
    # A second derivative that is non-zero: d2/dx2 sum(x[i]^3) = 6 x[i] (summed over repeats).
    x = fg.tensor(np.array([1.0, 2.0, 3.0])).requires_grad_()
    i = ix([0, 0, 2])
    ones = fg.ones(3, dtype=fg.float64)
    (g,) = fg.autograd.grad(x[i] * x[i] * x[i], x, ones, create_graph=True)
    assert_close(g.detach(), np.array([6.0, 0.0, 27.0]))
    (h,) = fg.autograd.grad(g, x, ones)
    assert_close(h, np.array([12.0, 0.0, 18.0]))


def test_no_grad_records_nothing():
    x = fg.ones(3, 4, dtype=fg.float64).requires_grad_()
    with fg.no_grad():
        for y in (x[1:], x[ix([0, 0])], fg.gather(x, 1, ix([[0]] * 3)), x.masked_select(x > 0),
                  fg.take(x, ix([1])), fg.index_select(x, 0, ix([1]))):
            assert not y.requires_grad and y.grad_fn is None


M = np.array([[True, False, True, False], [False, False, True, True], [True, True, False, False]])
VJP_OPS = [
    ("masked_fill", lambda t: t.masked_fill(fg.tensor(M), 2.0)),
    ("masked_select", lambda t: t.masked_select(fg.tensor(M))),
    ("take", lambda t: t.take(ix([[0, 0], [11, -2]]))),
    ("scatter", lambda t: t.scatter(1, ix([[3], [0], [1]]), 0.5)),
    ("index_fill", lambda t: t.index_fill(-1, ix([1, 1]), 0.5)),
    ("index_put", lambda t: t.index_put((ix([2, 2]),), fg.ones(4, dtype=fg.float64), accumulate=True)),
    ("getitem_mixed", lambda t: t[1:, ix([0, 3, 0])]),
]


@pytest.mark.parametrize("name,op", VJP_OPS, ids=[c[0] for c in VJP_OPS])
def test_backward_rules_are_differentiable(name, op):
    rng = np.random.default_rng(30)
    _, x = leaf(rng, (3, 4))
    with fg.no_grad():
        shape = tuple(op(x).shape)
    g = fg.tensor(rng.standard_normal(shape)).requires_grad_()
    assert gradcheck(vjp(op), (x, g))


ZERO_D_OPS = [
    ("none", lambda a: a[None]),
    ("ellipsis", lambda a: a[...]),
    ("none_ellipsis_int", lambda a: a[None, ..., None][0]),
    ("gather", lambda a: fg.gather(a, 0, fg.tensor(np.array(0)))),
    ("take", lambda a: fg.take(a, ix([0, 0]))),
    ("masked_fill", lambda a: a.masked_fill(fg.tensor(np.array(True)), 1.0)),
    ("index_fill", lambda a: a.index_fill(0, ix([0]), 1.0)),
    ("masked_select", lambda a: a.masked_select(fg.tensor(np.array([True, False, True])))),
]


@pytest.mark.parametrize("name,op", ZERO_D_OPS, ids=[c[0] for c in ZERO_D_OPS])
def test_zero_d_inputs(name, op):
    x = fg.tensor(np.array(1.5)).requires_grad_()
    assert gradcheck(op, (x,))


EMPTY_OPS = [
    ("empty_int_index", lambda a: a[ix(np.zeros(0, np.int64))]),
    ("empty_slice", lambda a: a[1:1]),
    ("empty_gather", lambda a: fg.gather(a, 1, fg.tensor(np.zeros((2, 0), np.int64)))),
    ("empty_mask", lambda a: a.masked_select(fg.zeros(2, 3, dtype=fg.bool))),
]


@pytest.mark.parametrize("name,op", EMPTY_OPS, ids=[c[0] for c in EMPTY_OPS])
def test_empty_results_give_zero_grad(torch, name, op):
    x = fg.tensor(np.arange(6.0).reshape(2, 3)).requires_grad_()
    y = op(x)
    assert y.numel() == 0 and y.requires_grad
    y.backward(fg.zeros(*y.shape, dtype=fg.float64))
    assert_close(x.grad, np.zeros((2, 3)))


def test_int32_index_and_float32_grads(torch):
    rng = np.random.default_rng(31)
    a = rng.standard_normal((3, 4)).astype(np.float32)
    i = np.array([2, 2, 0], dtype=np.int32)
    both_grads(torch, lambda t: t[fg.tensor(i)], lambda t: t[torch.tensor(i)], [a], rng)
    both_grads(torch, lambda t: t[:, 1::2], lambda t: t[:, 1::2], [a], rng)
