"""Backward rules of the matrix products (matmul/@, mm, bmm, mv, dot, outer,
addmm): finite differences (gradcheck, float64), .grad against torch with random
upstream gradients, and second derivatives (gradgradcheck, create_graph)."""

import numpy as np
import pytest

import fastgrad as fg
from fastgrad.autograd import gradcheck, gradgradcheck
from helpers import assert_close, make

# Every test runs on each device (conftest.py's `device` fixture).
pytestmark = pytest.mark.usefixtures("device")

MATMUL_SHAPES = [
    ((3,), (3,)),  # dot -> 0-d
    ((1,), (1,)),
    ((2, 3), (3,)),  # mv
    ((3,), (3, 4)),  # 1-D @ 2-D
    ((2, 3), (3, 4)),
    ((1, 1), (1, 1)),
    ((4, 1), (1, 5)),  # k == 1
    ((1, 3), (3, 1)),
    ((2, 3, 4), (2, 4, 2)),
    ((2, 1, 3, 4), (3, 4, 2)),  # broadcast batch dims on both sides
    ((3, 4), (2, 4, 5)),  # 2-D @ N-D: a broadcast over the batch
    ((2, 3, 4), (4, 5)),  # N-D @ 2-D: b broadcast over the batch
    ((2, 3, 4), (4,)),  # N-D @ 1-D
    ((4,), (2, 4, 3)),  # 1-D @ N-D
    ((1, 3, 1, 4), (2, 1, 4, 2)),  # size-1 batch dims broadcast both ways
    ((1, 2, 3), (3, 2)),
]
LAYOUTS = [("contiguous", "contiguous"), ("transposed", "contiguous"),
           ("contiguous", "transposed"), ("sliced", "transposed")]


def leaf(rng, shape, layout="contiguous", dtype=np.float64):
    """numpy array + a fastgrad leaf with that layout that requires grad."""
    arr, t = make(rng, shape, dtype, layout=layout)
    return arr, t.requires_grad_()


def torch_leaf(torch, arr):
    return torch.tensor(arr, requires_grad=True)


def fg_from(arr):
    return fg.tensor(np.array(arr, copy=True))


# ---- matmul --------------------------------------------------------------------------
@pytest.mark.parametrize("layouts", LAYOUTS)
@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES)
def test_matmul_gradcheck(rng, sa, sb, layouts):
    _, a = leaf(rng, sa, layouts[0])
    _, b = leaf(rng, sb, layouts[1])
    assert gradcheck(fg.matmul, (a, b))
    assert gradcheck(lambda x, y: x @ y, (a, b))


@pytest.mark.parametrize("layouts", LAYOUTS[:3])
@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES)
def test_matmul_grad_vs_torch(torch, rng, sa, sb, layouts):
    na, a = leaf(rng, sa, layouts[0], np.float32)
    nb, b = leaf(rng, sb, layouts[1], np.float32)
    out = fg.matmul(a, b)
    ta, tb = torch_leaf(torch, na), torch_leaf(torch, nb)
    tout = torch.matmul(ta, tb)
    g = rng.standard_normal(tuple(tout.shape)).astype(np.float32)
    out.backward(fg_from(g))
    tout.backward(torch.tensor(g))
    assert_close(out.detach(), tout, rtol=1e-4, atol=1e-5)
    assert_close(a.grad, ta.grad, rtol=1e-4, atol=1e-5)
    assert_close(b.grad, tb.grad, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("sa,sb,name", [
    ((3,), (3,), "DotBackward"), ((2, 3), (3,), "MvBackward"), ((2, 3), (3, 4), "MmBackward"),
    ((3,), (3, 4), "MatmulBackward"), ((2, 2, 3), (3, 4), "MatmulBackward"),
])
def test_matmul_node_names(rng, sa, sb, name):
    _, a = leaf(rng, sa)
    _, b = leaf(rng, sb)
    out = a @ b
    assert out.grad_fn.name() == name
    assert not out.is_leaf and out.requires_grad
    nexts = out.grad_fn.next_functions
    assert [n.name() for n, _ in nexts] == ["AccumulateGrad", "AccumulateGrad"]


def test_matmul_one_side_requires_grad(torch, rng):
    na, a = leaf(rng, (2, 3, 4))
    nb, _ = leaf(rng, (4, 5))
    b = fg_from(nb)  # constant
    out = a @ b
    g = rng.standard_normal((2, 3, 5))
    out.backward(fg_from(g))
    ta = torch_leaf(torch, na)
    (ta @ torch.tensor(nb)).backward(torch.tensor(g))
    assert_close(a.grad, ta.grad)
    assert b.grad is None and not b.requires_grad


def test_matmul_empty_inner_dim_gives_zero_grads(rng):
    _, a = leaf(rng, (2, 0))
    _, b = leaf(rng, (0, 3))
    (a @ b).backward(fg.ones((2, 3), dtype=fg.float64))
    assert_close(a.grad, np.zeros((2, 0)))
    assert_close(b.grad, np.zeros((0, 3)))


def test_integer_products_record_nothing(rng):
    a = fg.tensor(np.arange(6, dtype=np.int64).reshape(2, 3))
    b = fg.tensor(np.arange(12, dtype=np.int64).reshape(3, 4))
    for out in (a @ b, fg.mm(a, b), fg.outer(a[0], b[0])):
        assert out.grad_fn is None and not out.requires_grad


def test_no_grad_products_record_nothing(rng):
    _, a = leaf(rng, (2, 3))
    _, b = leaf(rng, (3, 4))
    with fg.no_grad():
        out = a @ b
    assert out.grad_fn is None and not out.requires_grad


# ---- mm / bmm / mv / dot / outer / addmm ---------------------------------------------
PRODUCTS = [
    ("mm", ((2, 3), (3, 4))),
    ("mm", ((1, 1), (1, 5))),
    ("bmm", ((2, 3, 4), (2, 4, 2))),
    ("bmm", ((1, 1, 3), (1, 3, 1))),
    ("mv", ((2, 3), (3,))),
    ("dot", ((4,), (4,))),
    ("outer", ((3,), (2,))),
    ("outer", ((1,), (4,))),
]


@pytest.mark.parametrize("layouts", LAYOUTS)
@pytest.mark.parametrize("name,shapes", PRODUCTS)
def test_products_gradcheck(rng, name, shapes, layouts):
    _, a = leaf(rng, shapes[0], layouts[0])
    _, b = leaf(rng, shapes[1], layouts[1])
    assert gradcheck(getattr(fg, name), (a, b))
    assert gradcheck(lambda x, y: getattr(x, name)(y), (a, b))  # method form


@pytest.mark.parametrize("name,shapes", PRODUCTS)
def test_products_grad_vs_torch(torch, rng, name, shapes):
    na, a = leaf(rng, shapes[0], "transposed", np.float32)
    nb, b = leaf(rng, shapes[1], "contiguous", np.float32)
    out = getattr(fg, name)(a, b)
    ta, tb = torch_leaf(torch, na), torch_leaf(torch, nb)
    tout = getattr(torch, name)(ta, tb)
    g = rng.standard_normal(tuple(tout.shape)).astype(np.float32)
    out.backward(fg_from(g))
    tout.backward(torch.tensor(g))
    assert_close(a.grad, ta.grad, rtol=1e-4, atol=1e-5)
    assert_close(b.grad, tb.grad, rtol=1e-4, atol=1e-5)
    assert out.grad_fn.name() == name.capitalize() + "Backward"


def test_outer_mixed_dtypes_vs_torch(torch, rng):
    na, a = leaf(rng, (3,), dtype=np.float32)
    nb, b = leaf(rng, (2,), dtype=np.float64)
    out = fg.outer(a, b)
    ta, tb = torch_leaf(torch, na), torch_leaf(torch, nb)
    tout = torch.outer(ta, tb)
    g = rng.standard_normal((3, 2))
    out.backward(fg_from(g))
    tout.backward(torch.tensor(g))
    assert_close(a.grad, ta.grad, rtol=1e-5)  # float32, like a
    assert_close(b.grad, tb.grad)


def test_outer_with_integer_operand(torch, rng):
    na, a = leaf(rng, (3,))
    nb = np.array([1, -2], dtype=np.int64)
    out = fg.outer(a, fg_from(nb))
    ta = torch_leaf(torch, na)
    tout = torch.outer(ta, torch.tensor(nb))
    g = rng.standard_normal((3, 2))
    out.backward(fg_from(g))
    tout.backward(torch.tensor(g))
    assert_close(a.grad, ta.grad)


ADDMM_INPUTS = [(2, 4), (4,), (1, 4), (2, 1), ()]


@pytest.mark.parametrize("beta,alpha", [(1, 1), (0.5, 2.0), (0, -1.5), (2, 0)])
@pytest.mark.parametrize("si", ADDMM_INPUTS)
def test_addmm_gradcheck(rng, si, beta, alpha):
    _, inp = leaf(rng, si)
    _, m1 = leaf(rng, (2, 3), "transposed")
    _, m2 = leaf(rng, (3, 4), "sliced")
    assert gradcheck(lambda i, x, y: fg.addmm(i, x, y, beta=beta, alpha=alpha), (inp, m1, m2))
    assert gradcheck(lambda i, x, y: i.addmm(x, y, beta=beta, alpha=alpha), (inp, m1, m2))


@pytest.mark.parametrize("beta,alpha", [(1, 1), (0.5, 2.0), (0, -1.5)])
@pytest.mark.parametrize("si", ADDMM_INPUTS)
def test_addmm_grad_vs_torch(torch, rng, si, beta, alpha):
    ni, inp = leaf(rng, si, dtype=np.float32)
    n1, m1 = leaf(rng, (2, 3), dtype=np.float32)
    n2, m2 = leaf(rng, (3, 4), "transposed", np.float32)
    out = fg.addmm(inp, m1, m2, beta=beta, alpha=alpha)
    ti, t1, t2 = (torch_leaf(torch, x) for x in (ni, n1, n2))
    tout = torch.addmm(ti, t1, t2, beta=beta, alpha=alpha)
    g = rng.standard_normal((2, 4)).astype(np.float32)
    out.backward(fg_from(g))
    tout.backward(torch.tensor(g))
    assert out.grad_fn.name() == "AddmmBackward"
    for mine, theirs in ((inp, ti), (m1, t1), (m2, t2)):
        assert_close(mine.grad, theirs.grad, rtol=1e-4, atol=1e-5)


# ---- second derivatives --------------------------------------------------------------
SECOND_ORDER = [
    ("chain", lambda a, b, c: (a @ b).tanh() @ c, [(2, 3), (3, 4), (4, 2)]),
    ("chain_batched", lambda a, b, c: (a @ b).sin() @ c, [(2, 2, 3), (2, 3, 2), (2, 2, 3)]),
    ("square", lambda a: (a @ a).exp(), [(3, 3)]),
    ("mm", fg.mm, [(2, 3), (3, 4)]),
    ("bmm", fg.bmm, [(2, 2, 3), (2, 3, 2)]),
    ("addmm", lambda i, x, y: fg.addmm(i, x, y, beta=0.5, alpha=2.0), [(2, 4), (2, 3), (3, 4)]),
    ("addmm_tanh", lambda i, x, y: fg.addmm(i, x, y).tanh(), [(2, 4), (2, 3), (3, 4)]),
    ("mv", lambda a, v: fg.mv(a, v).exp(), [(2, 3), (3,)]),
    ("dot", lambda a, b: fg.dot(a, b) * fg.dot(a, b), [(3,), (3,)]),
    ("outer", lambda a, b: fg.outer(a, b).sin(), [(3,), (2,)]),
    ("matmul_1d_2d", lambda a, b: (a @ b).tanh(), [(3,), (3, 4)]),
    ("matmul_2d_1d", lambda a, b: (a @ b).tanh(), [(2, 3), (3,)]),
]


@pytest.mark.parametrize("name,fn,shapes", SECOND_ORDER, ids=[s[0] for s in SECOND_ORDER])
def test_gradgradcheck(rng, name, fn, shapes):
    inputs = [leaf(rng, s, "transposed" if len(s) == 2 else "contiguous")[1] for s in shapes]
    assert gradgradcheck(fn, inputs)


def test_create_graph_hessian_vector_product(rng):
    # f(x) = x . (M x): grad = (M + M^T) x, and d(grad . v)/dx = (M + M^T) v.
    nm, m = leaf(rng, (3, 3))
    nx, x = leaf(rng, (3,))
    nv = rng.standard_normal(3)
    f = fg.dot(x, fg.mv(m, x))
    (gx,) = fg.autograd.grad(f, x, create_graph=True)
    assert gx.requires_grad
    assert_close(gx.detach(), (nm + nm.T) @ nx)
    hv, gm = fg.autograd.grad(gx, (x, m), grad_outputs=fg_from(nv))
    assert_close(hv, (nm + nm.T) @ nv)
    # d/dM of (M + M^T) x . v = v x^T + x v^T
    assert_close(gm, np.outer(nv, nx) + np.outer(nx, nv))


def test_create_graph_matmul_vs_torch(torch, rng):
    na, a = leaf(rng, (2, 3, 4))
    nb, b = leaf(rng, (4, 3))
    g1 = rng.standard_normal((2, 3, 3))
    g2 = rng.standard_normal((2, 3, 4))
    (ga,) = fg.autograd.grad((a @ b).tanh(), a, grad_outputs=fg_from(g1), create_graph=True)
    ga.backward(fg_from(g2))
    ta, tb = torch_leaf(torch, na), torch_leaf(torch, nb)
    (tga,) = torch.autograd.grad((ta @ tb).tanh(), ta, grad_outputs=torch.tensor(g1),
                                 create_graph=True)
    tga.backward(torch.tensor(g2))
    assert_close(ga.detach(), tga)
    assert_close(a.grad, ta.grad)
    assert_close(b.grad, tb.grad)


# ---- saved tensors -------------------------------------------------------------------
def test_modified_saved_operand_raises(rng):
    _, a = leaf(rng, (2, 3))
    _, w = leaf(rng, (3, 4))
    b = w * 1.0  # non-leaf, saved for a's gradient
    out = a @ b
    b.mul_(2.0)
    with pytest.raises(RuntimeError, match="MmBackward.*modified by"):
        out.backward(fg.ones((2, 4), dtype=fg.float64))


def test_operand_not_needed_is_not_saved(rng):
    # Only a needs a gradient, which reads b: modifying a in place is harmless.
    _, w = leaf(rng, (2, 3))
    nb = rng.standard_normal((3, 4))
    a = w * 1.0
    out = a @ fg_from(nb)
    with fg.no_grad():
        a.mul_(3.0)
    g = rng.standard_normal((2, 4))
    out.backward(fg_from(g))
    assert_close(w.grad, g @ nb.T)
