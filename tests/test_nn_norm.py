"""nn normalization layers (LayerNorm, GroupNorm, BatchNorm1d/2d) and their
functional forms against torch: outputs, input/parameter gradients, buffers,
train and eval, float32/float64; double backward; error messages."""

import fastgrad as fg
import fastgrad.nn.functional as F
import numpy as np
import pytest
from fastgrad import nn
from helpers import assert_close, make
from nn_helpers import check_module, to_fg, to_torch

# Every test runs on each device (conftest.py's `device` fixture).
pytestmark = pytest.mark.usefixtures("device")

DTYPES = [(np.float32, 1e-4, 1e-5), (np.float64, 1e-10, 1e-10)]


def _dt(torch, np_dtype):
    return (torch.float32, fg.float32) if np_dtype == np.float32 else (torch.float64, fg.float64)


# ---- LayerNorm -----------------------------------------------------------------------
@pytest.mark.parametrize("np_dtype,rtol,atol", DTYPES)
@pytest.mark.parametrize(
    "shape,normalized",
    [((4, 6), (6,)), ((2, 3, 5), (5,)), ((2, 3, 4), (3, 4)), ((7,), 7), ((0, 5), (5,)),
     ((3, 1, 2), (1, 2)), ((4, 64, 300), (300,))],
)
@pytest.mark.parametrize("affine,bias", [(True, True), (True, False), (False, False)])
@pytest.mark.parametrize("train", [True, False])
def test_layer_norm_module(torch, rng, np_dtype, rtol, atol, shape, normalized, affine, bias,
                           train):
    tdt, fdt = _dt(torch, np_dtype)
    t_mod = torch.nn.LayerNorm(normalized, eps=1e-5, elementwise_affine=affine, bias=bias,
                               dtype=tdt)
    with torch.no_grad():  # non-trivial affine parameters
        for p in t_mod.parameters():
            p.copy_(torch.randn(p.shape, dtype=tdt))
    fg_mod = nn.LayerNorm(normalized, elementwise_affine=affine, bias=bias, dtype=fdt)
    x = rng.standard_normal(shape).astype(np_dtype) * 3 + 1
    check_module(torch, fg_mod, t_mod, [x], train=train, rtol=rtol, atol=atol)


@pytest.mark.parametrize("offset", [1e3, -1e4])
def test_layer_norm_large_mean_is_stable(torch, rng, offset):
    xn = (rng.standard_normal((16, 128)) + offset).astype(np.float32)
    y = F.layer_norm(fg.tensor(xn), [128])
    ref = (xn - xn.astype(np.float64).mean(-1, keepdims=True)) / np.sqrt(
        xn.astype(np.float64).var(-1, keepdims=True) + 1e-5)
    assert_close(y, ref.astype(np.float32), rtol=1e-3, atol=2e-3)


def test_layer_norm_defaults_and_repr(torch):
    m, t = nn.LayerNorm((3, 4), eps=1e-3), torch.nn.LayerNorm((3, 4), eps=1e-3)
    assert repr(m) == repr(t)
    assert repr(nn.LayerNorm(5, bias=False)) == repr(torch.nn.LayerNorm(5, bias=False))
    assert_close(m.weight, t.weight)
    assert_close(m.bias, t.bias)
    assert list(m.state_dict()) == list(t.state_dict())
    m2 = nn.LayerNorm(4, elementwise_affine=False)
    assert m2.weight is None and m2.bias is None and list(m2.parameters()) == []


@pytest.mark.parametrize("layout", ["transposed", "sliced"])
def test_layer_norm_functional_noncontiguous(torch, rng, layout):
    xn, x = make(rng, (5, 6), layout=layout)
    wn = rng.standard_normal(6).astype(np.float32)
    x.requires_grad_(True)
    w = to_fg(wn, True)
    tx, tw = to_torch(torch, xn, True), to_torch(torch, wn, True)
    y = F.layer_norm(x, [6], w, None, eps=1e-3)
    ty = torch.nn.functional.layer_norm(tx, [6], tw, None, eps=1e-3)
    assert_close(y, ty, rtol=1e-4, atol=1e-5)
    g = rng.standard_normal((5, 6)).astype(np.float32)
    (y * to_fg(g)).sum().backward()
    (ty * to_torch(torch, g)).sum().backward()
    assert_close(x.grad, tx.grad, rtol=1e-4, atol=1e-5)
    assert_close(w.grad, tw.grad, rtol=1e-4, atol=1e-5)


def _double_backward(torch, fg_fn, t_fn, arrays, seed=0):
    """d/d(inputs) of <grad(f)·v>: checks create_graph through the op's rule."""
    rng = np.random.default_rng(seed)
    fins = [to_fg(a, True) for a in arrays]
    tins = [to_torch(torch, a, True) for a in arrays]
    y, ty = fg_fn(*fins), t_fn(*tins)
    g = rng.standard_normal(tuple(ty.shape))
    gx = fg.autograd.grad((y * to_fg(g)).sum(), fins, create_graph=True)
    tgx = torch.autograd.grad((ty * to_torch(torch, g)).sum(), tins, create_graph=True)
    vs = [rng.standard_normal(a.shape) for a in arrays]
    s = sum((a * to_fg(v)).sum() for a, v in zip(gx, vs))
    ts = sum((a * to_torch(torch, v)).sum() for a, v in zip(tgx, vs))
    s.backward()
    ts.backward()
    for a, b in zip(fins, tins):
        if b.grad is None:  # e.g. the bias: its gradient does not depend on any input
            assert a.grad is None
        else:
            assert_close(a.grad, b.grad, rtol=1e-7, atol=1e-9)


def test_layer_norm_double_backward(torch, rng):
    x = rng.standard_normal((3, 2, 5))
    w, b = rng.standard_normal((2, 5)), rng.standard_normal((2, 5))
    _double_backward(torch, lambda x, w, b: F.layer_norm(x, (2, 5), w, b),
                     lambda x, w, b: torch.nn.functional.layer_norm(x, (2, 5), w, b),
                     [x, w, b])


def test_layer_norm_no_grad_records_nothing(rng):
    x = to_fg(rng.standard_normal((2, 3)), True)
    with fg.no_grad():
        y = F.layer_norm(x, [3])
    assert y.grad_fn is None and not y.requires_grad


@pytest.mark.parametrize(
    "shape,normalized,w_shape,match",
    [
        ((2, 3), (4,), None, (r"layer_norm: given normalized_shape=\[4\], expected input "
                              r"with shape \[\*, 4\], but got input of size \[2, 3\]")),
        ((2, 3), (2, 4), None, r"expected input with shape \[\*, 2, 4\]"),
        ((2, 3), (), None, r"layer_norm: expected normalized_shape to be at least 1-dim"),
        ((2, 3), (3,), (4,), r"layer_norm: expected weight of shape \[3\], got \[4\]"),
    ],
)
def test_layer_norm_errors(shape, normalized, w_shape, match):
    w = fg.ones(*w_shape) if w_shape else None
    with pytest.raises(RuntimeError, match=match):
        F.layer_norm(fg.zeros(*shape), normalized, w)


def test_layer_norm_dtype_errors():
    with pytest.raises(TypeError, match="layer_norm"):
        F.layer_norm(fg.zeros(2, 3, dtype=fg.int64), [3])
    with pytest.raises(RuntimeError, match="layer_norm: expected weight of dtype float32"):
        F.layer_norm(fg.zeros(2, 3), [3], fg.ones(3, dtype=fg.float64))


def test_layer_norm_error_prefixed_with_layer_path():
    model = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(6))
    with pytest.raises(RuntimeError, match=r"1 \(LayerNorm\): layer_norm: .*\[\*, 6\]"):
        model(fg.zeros(2, 4))


# ---- GroupNorm -----------------------------------------------------------------------
@pytest.mark.parametrize("np_dtype,rtol,atol", DTYPES)
@pytest.mark.parametrize(
    "groups,channels,shape",
    [(2, 4, (3, 4)), (2, 6, (2, 6, 5)), (3, 6, (2, 6, 4, 3)), (1, 3, (2, 3, 4)),
     (4, 4, (2, 4, 3, 3)), (4, 32, (8, 32, 16, 16))],
)
@pytest.mark.parametrize("affine,bias", [(True, True), (True, False), (False, True)])
def test_group_norm_module(torch, rng, np_dtype, rtol, atol, groups, channels, shape, affine,
                           bias):
    tdt, fdt = _dt(torch, np_dtype)
    t_mod = torch.nn.GroupNorm(groups, channels, affine=affine, bias=bias, dtype=tdt)
    with torch.no_grad():
        for p in t_mod.parameters():
            p.copy_(torch.randn(p.shape, dtype=tdt))
    fg_mod = nn.GroupNorm(groups, channels, affine=affine, bias=bias, dtype=fdt)
    assert repr(fg_mod) == repr(t_mod)
    x = rng.standard_normal(shape).astype(np_dtype) * 2 - 1
    for train in (True, False):
        check_module(torch, fg_mod, t_mod, [x], train=train, rtol=rtol, atol=atol)


def test_group_norm_double_backward(torch, rng):
    x, w, b = rng.standard_normal((2, 4, 3)), rng.standard_normal(4), rng.standard_normal(4)
    _double_backward(torch, lambda x, w, b: F.group_norm(x, 2, w, b),
                     lambda x, w, b: torch.nn.functional.group_norm(x, 2, w, b), [x, w, b])


def test_group_norm_errors():
    with pytest.raises(ValueError, match=r"num_channels \(5\) must be divisible by num_groups"):
        nn.GroupNorm(2, 5)
    with pytest.raises(RuntimeError, match=r"group_norm: expected number of channels in input "
                       r"\(6\) to be divisible by num_groups \(4\)"):
        F.group_norm(fg.zeros(2, 6, 3), 4)
    with pytest.raises(RuntimeError, match=r"GroupNorm: group_norm: expected input with 4 "
                       r"channels \(the size of weight\), got input of shape \[2, 6, 3\]"):
        nn.GroupNorm(2, 4)(fg.zeros(2, 6, 3))
    with pytest.raises(RuntimeError, match="group_norm: expected at least 2 dimensions"):
        F.group_norm(fg.zeros(6), 2)


# ---- BatchNorm -----------------------------------------------------------------------
BN_CASES = [("BatchNorm1d", 5, (8, 5)), ("BatchNorm1d", 4, (3, 4, 7)),
            ("BatchNorm2d", 3, (2, 3, 4, 5)), ("BatchNorm2d", 16, (4, 16, 20, 20)),
            ("BatchNorm3d", 2, (2, 2, 3, 2, 4)), ("BatchNorm2d", 32, (8, 32, 16, 16))]


@pytest.mark.parametrize("np_dtype,rtol,atol", DTYPES)
@pytest.mark.parametrize("cls,c,shape", BN_CASES)
@pytest.mark.parametrize("affine,bias,track,momentum", [
    (True, True, True, 0.1), (True, False, True, 0.3), (False, True, True, None),
    (True, True, False, 0.1),
])
@pytest.mark.parametrize("train", [True, False])
def test_batch_norm_module(torch, rng, np_dtype, rtol, atol, cls, c, shape, affine, bias,
                           track, momentum, train):
    tdt, fdt = _dt(torch, np_dtype)
    kw = {"affine": affine, "track_running_stats": track, "momentum": momentum, "bias": bias}
    t_mod = getattr(torch.nn, cls)(c, eps=1e-3, dtype=tdt, **kw)
    fg_mod = getattr(nn, cls)(c, eps=1e-3, dtype=fdt, **kw)
    assert repr(fg_mod) == repr(t_mod)
    assert list(fg_mod.state_dict()) == list(t_mod.state_dict())
    with torch.no_grad():  # non-trivial parameters and running stats
        for p in t_mod.parameters():
            p.copy_(torch.randn(p.shape, dtype=tdt))
        if track:
            t_mod.running_mean.copy_(torch.randn(c, dtype=tdt))
            t_mod.running_var.copy_(torch.rand(c, dtype=tdt) + 0.5)
            t_mod.num_batches_tracked.fill_(3)
    x = rng.standard_normal(shape).astype(np_dtype) * 2 + 0.5
    check_module(torch, fg_mod, t_mod, [x], train=train, rtol=rtol, atol=atol)
    if track:
        assert fg_mod.num_batches_tracked.dtype == fg.int64
        assert int(fg_mod.num_batches_tracked) == int(t_mod.num_batches_tracked)


@pytest.mark.parametrize("momentum", [0.1, None])
def test_batch_norm_running_stats_over_steps(torch, rng, momentum):
    t_mod = torch.nn.BatchNorm2d(3, momentum=momentum, dtype=torch.float64)
    fg_mod = nn.BatchNorm2d(3, momentum=momentum, dtype=fg.float64)
    for step in range(4):
        x = rng.standard_normal((4, 3, 5, 5)) * (step + 1) + step
        assert_close(fg_mod(to_fg(x)), t_mod(to_torch(torch, x)), rtol=1e-10, atol=1e-10)
    for name, b in t_mod.named_buffers():
        assert_close(dict(fg_mod.named_buffers())[name], b, rtol=1e-12, atol=1e-12)
    fg_mod.eval()
    t_mod.eval()
    x = rng.standard_normal((2, 3, 4, 4))
    assert_close(fg_mod(to_fg(x)), t_mod(to_torch(torch, x)), rtol=1e-10, atol=1e-10)
    fg_mod.reset_running_stats()
    assert_close(fg_mod.running_mean, np.zeros(3))
    assert_close(fg_mod.running_var, np.ones(3))
    assert int(fg_mod.num_batches_tracked) == 0


def test_batch_norm_functional_noncontiguous_and_no_stats(torch, rng):
    xn = rng.standard_normal((6, 4, 5)).astype(np.float32)
    x = fg.tensor(xn).transpose(0, 2).contiguous().transpose(0, 2)  # non-contiguous
    x.requires_grad_(True)
    tx = to_torch(torch, xn, True)
    y = F.batch_norm(x, None, None, training=True)
    ty = torch.nn.functional.batch_norm(tx, None, None, training=True)
    assert_close(y, ty, rtol=1e-4, atol=1e-5)
    y.sum().backward()
    ty.sum().backward()
    assert_close(x.grad, tx.grad, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_double_backward(torch, rng, training):
    x, w, b = rng.standard_normal((4, 3, 2)), rng.standard_normal(3), rng.standard_normal(3)
    rm, rv = rng.standard_normal(3), rng.random(3) + 0.5

    def fg_fn(x, w, b):
        return F.batch_norm(x, to_fg(rm), to_fg(rv), w, b, training=training)

    def t_fn(x, w, b):
        return torch.nn.functional.batch_norm(x, to_torch(torch, rm), to_torch(torch, rv), w,
                                              b, training=training)

    _double_backward(torch, fg_fn, t_fn, [x, w, b])


@pytest.mark.parametrize("cls,shape,match", [
    ("BatchNorm1d", (2, 3, 4, 5), r"expected 2D or 3D input \(got 4D input\)"),
    ("BatchNorm2d", (2, 3, 4), r"expected 4D input \(got 3D input\)"),
    ("BatchNorm3d", (2, 3, 4, 4), r"expected 5D input \(got 4D input\)"),
])
def test_batch_norm_rank_errors(cls, shape, match):
    with pytest.raises(ValueError, match=match):
        getattr(nn, cls)(3)(fg.zeros(*shape))


def test_batch_norm_channel_errors():
    with pytest.raises(RuntimeError, match=r"batch_norm: expected input with 16 channels "
                       r"\(the size of weight\), got input of shape \[4, 8, 10\]"):
        nn.BatchNorm1d(16)(fg.zeros(4, 8, 10))
    with pytest.raises(RuntimeError, match=r"batch_norm: expected input with 16 channels "
                       r"\(the size of running_mean\)"):
        nn.BatchNorm1d(16, affine=False)(fg.zeros(4, 8, 10))
    with pytest.raises(ValueError, match=r"expected more than 1 value per channel when "
                       r"training, got input size \[1, 16\]"):
        nn.BatchNorm1d(16)(fg.zeros(1, 16))
    m = nn.BatchNorm1d(16).eval()
    assert tuple(m(fg.zeros(1, 16)).shape) == (1, 16)  # eval: one sample is fine
    with pytest.raises(RuntimeError, match="batch_norm: running_mean and running_var must be"):
        F.batch_norm(fg.zeros(4, 3), None, None, training=False)
    with pytest.raises(TypeError, match="batch_norm: expected a floating point tensor"):
        F.batch_norm(fg.zeros(4, 3, dtype=fg.int64), None, None, training=True)


def test_batch_norm_error_prefixed_with_layer_path():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.BatchNorm1d(16))
    with pytest.raises(RuntimeError, match=r"2 \(BatchNorm1d\): batch_norm: expected input "
                       r"with 16 channels"):
        model(fg.zeros(3, 4))


def test_batch_norm_empty_batch_parameter_grads(torch):
    # NaN batch statistics, but the parameter gradients are empty sums: 0.
    x = fg.zeros(0, 3, 4, requires_grad=True)
    w, b = to_fg(np.ones(3), True), to_fg(np.zeros(3), True)
    tx = torch.zeros(0, 3, 4, requires_grad=True)
    tw, tb = to_torch(torch, np.ones(3), True), to_torch(torch, np.zeros(3), True)
    F.batch_norm(x.double(), None, None, w, b, training=True).sum().backward()
    torch.nn.functional.batch_norm(tx.double(), None, None, tw, tb, training=True).sum().backward()
    assert_close(w.grad, tw.grad)
    assert_close(b.grad, tb.grad)
    assert tuple(x.grad.shape) == (0, 3, 4)
