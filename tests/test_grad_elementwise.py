"""Gradients of elementwise ops: finite differences (gradcheck) and torch."""

import numpy as np
import pytest

import fastgrad as fg
from fastgrad.autograd import gradcheck, gradgradcheck

# Every test runs on each device (conftest.py's `device` fixture).
pytestmark = pytest.mark.usefixtures("device")

UNARY = [
    ("exp", (-2, 2)), ("exp2", (-2, 2)), ("log", (0.5, 3)), ("log2", (0.5, 3)),
    ("log10", (0.5, 3)), ("log1p", (-0.5, 3)), ("expm1", (-2, 2)), ("sqrt", (0.5, 3)),
    ("rsqrt", (0.5, 3)), ("sin", (-3, 3)), ("cos", (-3, 3)), ("tan", (-1, 1)),
    ("asin", (-0.9, 0.9)), ("acos", (-0.9, 0.9)), ("atan", (-3, 3)), ("sinh", (-2, 2)),
    ("cosh", (-2, 2)), ("tanh", (-2, 2)), ("erf", (-2, 2)), ("sigmoid", (-3, 3)),
    ("silu", (-3, 3)), ("reciprocal", (0.5, 3)), ("neg", (-3, 3)), ("abs", (0.2, 3)),
    ("relu", (0.2, 3)), ("square", (-3, 3)), ("gelu", (-3, 3)),
]
SECOND_ORDER = ["exp", "log", "sin", "tanh", "sigmoid", "sqrt", "erf", "silu", "gelu", "reciprocal"]


def leaf(a):
    return fg.tensor(a, dtype=fg.float64, requires_grad=True)


def torch_fn(torch, name):
    return getattr(torch.nn.functional, name) if name in ("relu", "silu", "gelu") else getattr(torch, name)


@pytest.mark.parametrize("name,domain", UNARY)
def test_unary_gradcheck(rng, name, domain):
    x = leaf(rng.uniform(*domain, size=(2, 3)))
    assert gradcheck(getattr(fg, name), (x,))


@pytest.mark.parametrize("name,domain", UNARY)
def test_unary_grad_matches_torch(torch, rng, name, domain):
    a = rng.uniform(*domain, size=(3, 4)).astype(np.float32)
    g = rng.standard_normal((3, 4)).astype(np.float32)
    x = fg.tensor(a, requires_grad=True)
    getattr(fg, name)(x).backward(fg.tensor(g))
    xt = torch.tensor(a, requires_grad=True)
    torch_fn(torch, name)(xt).backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.cpu().numpy(), xt.grad.cpu().numpy(), rtol=1e-5, atol=1e-6)
    assert x.grad.dtype == fg.float32


@pytest.mark.parametrize("name", SECOND_ORDER)
def test_unary_second_order(rng, name):
    domain = dict(UNARY)[name]
    x = leaf(rng.uniform(*domain, size=(3,)))
    assert gradgradcheck(getattr(fg, name), (x,))


def test_gelu_tanh_grad(rng):
    x = leaf(rng.uniform(-3, 3, size=(5,)))
    assert gradcheck(lambda t: fg.gelu(t, approximate="tanh"), (x,))
    assert gradgradcheck(lambda t: fg.gelu(t, approximate="tanh"), (x,))


BINARY = ["add", "sub", "mul", "div", "pow", "atan2", "maximum", "minimum", "remainder", "fmod"]
SHAPES = [((2, 3), (2, 3)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((), (2, 3)), ((3,), ())]


@pytest.mark.parametrize("shapes", SHAPES, ids=str)
@pytest.mark.parametrize("name", BINARY)
def test_binary_gradcheck_with_broadcasting(rng, name, shapes):
    a = rng.uniform(0.5, 2.0, size=shapes[0])
    b = rng.uniform(0.5, 2.0, size=shapes[1])
    if name in ("maximum", "minimum", "remainder", "fmod"):
        b = b + 3.1  # keep away from ties / discontinuities
    assert gradcheck(getattr(fg, name), (leaf(a), leaf(b)))


@pytest.mark.parametrize("name", BINARY)
def test_binary_grad_matches_torch(torch, rng, name):
    a = rng.uniform(0.5, 2.0, size=(3, 4)).astype(np.float32)
    b = rng.uniform(0.5, 2.0, size=(4,)).astype(np.float32)
    g = rng.standard_normal((3, 4)).astype(np.float32)
    x, y = fg.tensor(a, requires_grad=True), fg.tensor(b, requires_grad=True)
    getattr(fg, name)(x, y).backward(fg.tensor(g))
    xt, yt = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    getattr(torch, name)(xt, yt).backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.cpu().numpy(), xt.grad.cpu().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(y.grad.cpu().numpy(), yt.grad.cpu().numpy(), rtol=1e-5, atol=1e-5)


def test_maximum_ties_split_like_torch(torch):
    a = [1.0, 2.0, 3.0]
    b = [1.0, 5.0, 0.0]
    x, y = fg.tensor(a, requires_grad=True), fg.tensor(b, requires_grad=True)
    fg.maximum(x, y).backward(fg.ones(3))
    xt, yt = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    torch.maximum(xt, yt).backward(torch.ones(3))
    assert x.grad.tolist() == xt.grad.tolist() and y.grad.tolist() == yt.grad.tolist()


@pytest.mark.parametrize("op", [lambda t: t * 2.5, lambda t: 2.5 / t, lambda t: 3 - t, lambda t: t ** 3,
                                lambda t: 2 ** t, lambda t: (t + 1) % 0.7, lambda t: fg.add(t, t, alpha=2)])
def test_scalar_operands(rng, op):
    assert gradcheck(op, (leaf(rng.uniform(0.5, 2, size=(4,))),))


def test_pow_gradient_at_zero_base(torch):
    x = fg.tensor([0.0, 2.0], dtype=fg.float64, requires_grad=True)
    e = fg.tensor([2.0, 3.0], dtype=fg.float64, requires_grad=True)
    (x ** e).backward(fg.ones(2, dtype=fg.float64))
    xt = torch.tensor([0.0, 2.0], dtype=torch.float64, requires_grad=True)
    et = torch.tensor([2.0, 3.0], dtype=torch.float64, requires_grad=True)
    (xt ** et).backward(torch.ones(2, dtype=torch.float64))
    np.testing.assert_allclose(x.grad.cpu().numpy(), xt.grad.cpu().numpy())
    np.testing.assert_allclose(e.grad.cpu().numpy(), et.grad.cpu().numpy())


def test_where_and_clamp(rng, torch):
    a = rng.uniform(-2, 2, size=(3, 4))
    b = rng.uniform(-2, 2, size=(4,))
    cond = fg.tensor(a > 0)
    assert gradcheck(lambda x, y: fg.where(cond, x, y), (leaf(a), leaf(b)))
    assert gradcheck(lambda x: fg.where(cond, x, 0.0), (leaf(a),))
    a = np.where(np.abs(np.abs(a) - 1) < 0.05, 0.5, a)  # away from the clamp kinks
    assert gradcheck(lambda x: fg.clamp(x, -1, 1), (leaf(a),))
    assert gradcheck(lambda x: fg.clamp(x, min=0.0), (leaf(a),))
    lo = rng.uniform(-1.5, -0.5, size=(4,))
    assert gradcheck(lambda x, m: fg.clamp(x, min=m), (leaf(a), leaf(lo)))


def test_dtype_conversion_and_clone_are_differentiable():
    x = fg.tensor([1.0, 2.0], requires_grad=True)
    y = x.double() * 3
    assert y.grad_fn is not None
    y.backward(fg.ones(2, dtype=fg.float64))
    assert x.grad.dtype == fg.float32 and x.grad.tolist() == [3.0, 3.0]
    x.grad = None
    (x.clone() * x).backward(fg.ones(2))
    assert x.grad.tolist() == [2.0, 4.0]


def test_mixed_dtype_gradient_cast_back():
    x = fg.tensor([1.0, 2.0], requires_grad=True)          # float32
    w = fg.tensor([0.5, 0.25], dtype=fg.float64, requires_grad=True)
    (x * w).backward(fg.ones(2, dtype=fg.float64))
    assert x.grad.dtype == fg.float32 and w.grad.dtype == fg.float64
    assert x.grad.tolist() == [0.5, 0.25] and w.grad.tolist() == [1.0, 2.0]


@pytest.mark.parametrize("inplace", [lambda t: t.add_(1.5), lambda t: t.mul_(2.0), lambda t: t.exp_(),
                                     lambda t: t.clamp_(0.0, 1.0), lambda t: t.sub_(t.detach()),
                                     lambda t: t.copy_(fg.ones(3, dtype=fg.float64)), lambda t: t.fill_(2.0)])
def test_inplace_on_non_leaf_matches_out_of_place(torch, inplace):
    x = fg.tensor([0.3, 0.6, 0.9], dtype=fg.float64, requires_grad=True)
    y = x * x
    inplace(y)
    (y * fg.tensor([1.0, 2.0, 3.0], dtype=fg.float64)).backward(fg.ones(3, dtype=fg.float64))
    got = x.grad.tolist()
    x2 = fg.tensor([0.3, 0.6, 0.9], dtype=fg.float64, requires_grad=True)
    y2 = inplace(x2 * x2 * 1.0)  # same ops, on a fresh non-leaf
    (y2 * fg.tensor([1.0, 2.0, 3.0], dtype=fg.float64)).backward(fg.ones(3, dtype=fg.float64))
    np.testing.assert_allclose(got, x2.grad.tolist())


def test_inplace_copy_gradient_flows_to_source(torch):
    src = fg.tensor([1.0, 2.0], requires_grad=True)
    dst = fg.zeros(2) * 1.0
    dst.copy_(src * 3)
    dst.backward(fg.ones(2))
    assert src.grad.tolist() == [3.0, 3.0]
