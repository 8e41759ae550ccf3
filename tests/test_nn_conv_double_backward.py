"""Higher-order gradients through conv1d/conv2d and pooling: gradgradcheck
(float64) over the ops' options, gradchecks of the first derivative as a
function of the incoming gradient too, third derivatives, and gradient
penalties compared with torch (input and parameter gradients)."""

import numpy as np
import pytest

import fastgrad as fg
import fastgrad.nn as nn
import fastgrad.nn.functional as F
from helpers import assert_close

# Every test runs on each device (conftest.py's `device` fixture).
pytestmark = pytest.mark.usefixtures("device")

TOL = dict(rtol=1e-9, atol=1e-10)

# (input shape, weight shape, kwargs): stride / padding / dilation / groups,
# depthwise, 1x1 (the direct path), 'same' (asymmetric) padding.
CONV2D = [
    ((2, 3, 5, 4), (4, 3, 3, 2), dict()),
    ((1, 2, 6, 5), (3, 2, 3, 3), dict(stride=2, padding=1)),
    ((2, 2, 6, 6), (2, 2, 2, 3), dict(stride=(2, 1), padding=(1, 2), dilation=(2, 1))),
    ((1, 4, 5, 5), (6, 2, 3, 3), dict(groups=2, padding=1)),
    ((2, 3, 5, 4), (6, 1, 3, 3), dict(groups=3, stride=2, padding=1)),  # depthwise
    ((2, 3, 4, 3), (2, 3, 1, 1), dict()),  # 1x1, no im2col
    ((1, 2, 5, 4), (2, 2, 2, 3), dict(padding="same", dilation=2)),
]
CONV1D = [
    ((2, 3, 7), (4, 3, 3), dict()),
    ((1, 4, 9), (4, 2, 3), dict(stride=2, padding=2, dilation=2, groups=2)),
    ((3, 6), (2, 3, 3), dict(padding="same")),  # unbatched
]


def _conv_cases():
    for xs, ws, kw in CONV2D:
        yield "conv2d", xs, ws, kw
    for xs, ws, kw in CONV1D:
        yield "conv1d", xs, ws, kw


CONV = [pytest.param(*c, id=f"{c[0]}-{i}") for i, c in enumerate(_conv_cases())]


def _leaf(lib, a):
    return lib.tensor(a, requires_grad=True)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("fn,xs,ws,kw", CONV)
def test_conv_gradgradcheck(rng, fn, xs, ws, kw, bias):
    x = _leaf(fg, rng.standard_normal(xs))
    w = _leaf(fg, rng.standard_normal(ws))
    b = _leaf(fg, rng.standard_normal(ws[0])) if bias else None
    f = getattr(F, fn)
    if bias:
        assert fg.autograd.gradgradcheck(lambda x, w, b: f(x, w, b, **kw), (x, w, b))
    else:
        assert fg.autograd.gradgradcheck(lambda x, w: f(x, w, **kw), (x, w))


def _first_grad(f, n):
    """(*inputs, gy) -> d<f(*inputs), gy>/d inputs, built with create_graph:
    checking it with gradcheck covers derivatives w.r.t. gy as well."""

    def g(*args):
        # gradcheck's finite differences call this under no_grad with copies
        # that don't require grad: the graph is needed anyway.
        with fg.enable_grad():
            ins = [a if a.requires_grad else a.detach().requires_grad_() for a in args[:n]]
            out = f(*ins)
            return fg.autograd.grad(out, ins, grad_outputs=args[n], create_graph=True)

    return g


@pytest.mark.parametrize("fn,xs,ws,kw", CONV)
def test_conv_first_derivative_in_grad_output(rng, fn, xs, ws, kw):
    f = getattr(F, fn)
    x = _leaf(fg, rng.standard_normal(xs))
    w = _leaf(fg, rng.standard_normal(ws))
    with fg.no_grad():
        shape = f(x, w, **kw).shape
    gy = _leaf(fg, rng.standard_normal(tuple(shape)))
    assert fg.autograd.gradcheck(_first_grad(lambda x, w: f(x, w, **kw), 2), (x, w, gy))


@pytest.mark.parametrize("fn,xs,ws,kw", [CONV[1], CONV[4], CONV[8]])
def test_conv_third_derivative(rng, fn, xs, ws, kw):
    """gradgradcheck of the first derivative: third-order terms, i.e. the
    backward of the recorded input/weight-gradient ops' own backward."""
    f = getattr(F, fn)
    x = _leaf(fg, rng.standard_normal(xs))
    w = _leaf(fg, rng.standard_normal(ws))
    with fg.no_grad():
        shape = f(x, w, **kw).shape
    gy = _leaf(fg, rng.standard_normal(tuple(shape)))
    assert fg.autograd.gradgradcheck(_first_grad(lambda x, w: f(x, w, **kw), 2), (x, w, gy))


def _conv_penalty(lib, fn, x, w, b, m, kw):
    """Gradient penalty ||d<conv(x) ** 2, m>/d(x, w)||^2; returns x/w/b grads."""
    F_ = getattr(lib.nn.functional, fn)
    X, W = _leaf(lib, x), _leaf(lib, w)
    B = _leaf(lib, b) if b is not None else None
    y = F_(X, W, B, **kw)
    gx, gw = lib.autograd.grad((y * y * lib.tensor(m)).sum(), [X, W], create_graph=True)
    ((gx**2).sum() + (gw * gw * gw).sum()).backward()
    assert gx.requires_grad and gw.requires_grad
    return [X.grad, W.grad] + ([B.grad] if B is not None else [])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("fn,xs,ws,kw", CONV)
def test_conv_gradient_penalty_matches_torch(torch, rng, fn, xs, ws, kw, bias, dtype):
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    b = rng.standard_normal(ws[0]).astype(dtype) if bias else None
    with torch.no_grad():
        ys = getattr(torch.nn.functional, fn)(torch.tensor(x), torch.tensor(w), **kw).shape
    m = rng.standard_normal(tuple(ys)).astype(dtype)
    got = _conv_penalty(fg, fn, x, w, b, m, kw)
    want = _conv_penalty(torch, fn, x, w, b, m, kw)
    for g, t in zip(got, want):
        # float32: cancellation in sums of large terms, so scale atol
        scale = float(t.abs().max()) if t.numel() else 1.0
        tol = TOL if dtype == np.float64 else dict(rtol=1e-4, atol=1e-5 * scale)
        assert_close(g, t, **tol)


def test_conv_double_backward_non_contiguous_input(torch, rng):
    """The rule must differentiate through the caller's (strided) input, not a
    detached contiguous copy of it."""
    base = rng.standard_normal((2, 3, 4, 6))
    w = rng.standard_normal((4, 3, 2, 2))
    res = []
    for lib in (fg, torch):
        B, W = _leaf(lib, base), _leaf(lib, w)
        x = B.transpose(2, 3)
        y = lib.nn.functional.conv2d(x, W, stride=(1, 2))
        gw, = lib.autograd.grad((y**2).sum(), [W], create_graph=True)
        (gw**2).sum().backward()
        res.append((B.grad, W.grad))
    assert not fg.tensor(base).transpose(2, 3).is_contiguous()
    for g, t in zip(*res):
        assert_close(g, t, **TOL)


def test_conv_plain_backward_builds_no_graph(rng):
    x = _leaf(fg, rng.standard_normal((1, 2, 5, 5)))
    w = _leaf(fg, rng.standard_normal((3, 2, 3, 3)))
    gx, gw = fg.autograd.grad(F.conv2d(x, w).sum(), [x, w])
    assert not gx.requires_grad and gx.grad_fn is None
    assert not gw.requires_grad and gw.grad_fn is None


def test_conv_grad_of_grad_wrt_weight_only(torch, rng):
    """Second derivative w.r.t. a parameter when only the weight needs grad."""
    x = rng.standard_normal((2, 2, 5, 5))
    w = rng.standard_normal((3, 2, 3, 3))
    res = []
    for lib in (fg, torch):
        X, W = lib.tensor(x), _leaf(lib, w)
        gw, = lib.autograd.grad((lib.nn.functional.conv2d(X, W, padding=1) ** 3).sum(), [W],
                                create_graph=True)
        gw.sum().backward()
        res.append(W.grad)
    assert_close(res[0], res[1], **TOL)


# ---- pooling -----------------------------------------------------------------
# (functional, input shape, kwargs)
POOL = [
    ("max_pool2d", (2, 2, 5, 6), dict(kernel_size=2)),
    ("max_pool2d", (1, 3, 7, 6), dict(kernel_size=3, stride=2, padding=1)),
    ("max_pool2d", (1, 2, 7, 7), dict(kernel_size=(3, 2), stride=(2, 1), dilation=(1, 2),
                                      ceil_mode=True)),
    ("max_pool1d", (2, 3, 9), dict(kernel_size=3, stride=2, padding=1)),
    ("max_pool1d", (3, 8), dict(kernel_size=2)),  # unbatched
    ("avg_pool2d", (2, 2, 5, 6), dict(kernel_size=2)),
    ("avg_pool2d", (1, 3, 7, 6), dict(kernel_size=3, stride=2, padding=1)),
    ("avg_pool2d", (1, 2, 7, 6), dict(kernel_size=3, stride=2, padding=1,
                                      count_include_pad=False, ceil_mode=True)),
    ("avg_pool2d", (1, 2, 6, 6), dict(kernel_size=2, divisor_override=3)),
    ("avg_pool1d", (2, 3, 9), dict(kernel_size=3, stride=2, padding=1)),
    ("adaptive_avg_pool2d", (2, 2, 7, 5), dict(output_size=(3, 2))),
    ("adaptive_avg_pool2d", (1, 3, 4, 4), dict(output_size=6)),  # overlapping windows
    ("adaptive_avg_pool1d", (2, 9), dict(output_size=4)),
    ("adaptive_max_pool2d", (2, 2, 7, 5), dict(output_size=(3, 2))),
    ("adaptive_max_pool1d", (1, 3, 9), dict(output_size=4)),
]
POOL_IDS = [f"{fn}-{i}" for i, (fn, _, _) in enumerate(POOL)]


def _distinct(rng, shape):
    """Well-separated distinct values, so the argmax is stable under eps."""
    n = int(np.prod(shape))
    return rng.permutation(n).reshape(shape) / 7.0 - n / 14.0


@pytest.mark.parametrize("fn,xs,kw", POOL, ids=POOL_IDS)
def test_pool_gradgradcheck(rng, fn, xs, kw):
    x = _leaf(fg, _distinct(rng, xs))
    f = getattr(F, fn)
    # squared so the first derivative depends on x (pooling itself is linear)
    assert fg.autograd.gradgradcheck(lambda x: f(x, **kw) ** 2, (x,))


@pytest.mark.parametrize("fn,xs,kw", POOL, ids=POOL_IDS)
def test_pool_first_derivative_in_grad_output(rng, fn, xs, kw):
    f = getattr(F, fn)
    x = _leaf(fg, _distinct(rng, xs))
    with fg.no_grad():
        shape = f(x, **kw).shape
    gy = _leaf(fg, rng.standard_normal(tuple(shape)))
    g = _first_grad(lambda x: f(x, **kw), 1)
    assert fg.autograd.gradcheck(g, (x, gy))
    # and once more: the backward of the backward's backward
    assert fg.autograd.gradgradcheck(g, (x, gy))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fn,xs,kw", POOL, ids=POOL_IDS)
def test_pool_gradient_penalty_matches_torch(torch, rng, fn, xs, kw, dtype):
    x = _distinct(rng, xs).astype(dtype)
    res = []
    for lib in (fg, torch):
        X = _leaf(lib, x)
        y = getattr(lib.nn.functional, fn)(X, **kw)
        gx, = lib.autograd.grad((y * y * y).sum(), [X], create_graph=True)
        (gx**2).sum().backward()
        res.append((gx.detach(), X.grad))
    tol = TOL if dtype == np.float64 else dict(rtol=1e-5, atol=1e-5)
    for g, t in zip(*res):
        assert_close(g, t, **tol)


def test_model_gradient_penalty_matches_torch(torch, rng):
    """A CNN critic's gradient penalty (as in WGAN-GP): conv, pooling and
    activations chained; input and every parameter gradient match torch."""

    def build(lib):
        n = lib.nn
        return n.Sequential(
            n.Conv2d(3, 4, 3, padding=1), n.Tanh(), n.MaxPool2d(2),
            n.Conv2d(4, 6, 3, stride=2, padding=1, groups=2), n.Softplus(),
            n.AvgPool2d(2, ceil_mode=True), n.Identity(),
            n.AdaptiveAvgPool2d(1), n.Flatten(), n.Linear(6, 1),
        )

    tm = build(torch).double()
    fm = build(fg).to(dtype=fg.float64)
    fm.load_state_dict(tm.state_dict())
    x = rng.standard_normal((3, 3, 9, 8))
    res = []
    for lib, m in ((fg, fm), (torch, tm)):
        X = _leaf(lib, x)
        gx, = lib.autograd.grad(m(X).sum(), [X], create_graph=True)
        penalty = ((gx.reshape(3, -1) ** 2).sum(1).sqrt() - 1) ** 2
        penalty.mean().backward()
        res.append([X.grad] + [p.grad for _, p in m.named_parameters()])
    assert len(res[0]) == len(res[1]) == 7
    # the last bias doesn't affect the input gradient: no grad, as in torch
    assert res[0][-1] is None and res[1][-1] is None
    for g, t in zip(res[0][:-1], res[1][:-1]):
        assert_close(g, t, **TOL)


def test_pool_grad_output_nodes(rng):
    """The first derivative is a recorded op (differentiable), not a constant."""
    x = _leaf(fg, rng.standard_normal((1, 1, 4, 4)))
    for f in (lambda t: F.max_pool2d(t, 2), lambda t: F.avg_pool2d(t, 2),
              lambda t: F.adaptive_avg_pool2d(t, 3)):
        gx, = fg.autograd.grad((f(x) ** 2).sum(), [x], create_graph=True)
        assert gx.requires_grad and gx.grad_fn is not None
        gx2, = fg.autograd.grad(f(x).sum(), [x])
        assert gx2.grad_fn is None


def test_module_forms_use_same_rules(torch, rng):
    """nn.Conv1d / MaxPool1d modules: second derivative of the input gradient
    w.r.t. the weight, against torch."""
    tm = torch.nn.Sequential(torch.nn.Conv1d(2, 3, 3, padding=1), torch.nn.MaxPool1d(2)).double()
    fm = nn.Sequential(nn.Conv1d(2, 3, 3, padding=1), nn.MaxPool1d(2)).to(dtype=fg.float64)
    fm.load_state_dict(tm.state_dict())
    x = _distinct(rng, (2, 2, 8))
    res = []
    for lib, m in ((fg, fm), (torch, tm)):
        X = _leaf(lib, x)
        gx, = lib.autograd.grad((m(X) ** 2).sum(), [X], create_graph=True)
        (gx**2).sum().backward()
        res.append([X.grad, m[0].weight.grad, m[0].bias.grad])
    for g, t in zip(*res):
        assert_close(g, t, **TOL)
