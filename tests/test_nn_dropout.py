"""Dropout family: mask statistics, scaling, reproducibility under
fastgrad.manual_seed, gradients equal to mask / (1 - p), eval identity,
channel dropout structure, modules against torch in eval mode, errors."""

import warnings

import fastgrad as fg
import fastgrad.nn.functional as F
import numpy as np
import pytest
from fastgrad import nn
from helpers import assert_close, to_np
from nn_helpers import check_module, to_fg

# Every test runs on each device (conftest.py's `device` fixture).
pytestmark = pytest.mark.usefixtures("device")


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5, 0.9])
@pytest.mark.parametrize("dtype", [fg.float32, fg.float64])
def test_dropout_statistics_and_scale(p, dtype):
    fg.manual_seed(1)
    x = fg.ones(200, 500, dtype=dtype)
    y = to_np(F.dropout(x, p, training=True))
    zero = y == 0
    # fraction zeroed ~ p (n = 1e5 draws: 5 sigma is < 0.008)
    assert abs(zero.mean() - p) < 0.008
    np.testing.assert_allclose(y[~zero], 1.0 / (1.0 - p), rtol=1e-6)
    assert y.dtype == (np.float32 if dtype == fg.float32 else np.float64)


def test_dropout_values_follow_input(rng):
    xn = rng.standard_normal((64, 33)).astype(np.float32)
    y = to_np(F.dropout(fg.tensor(xn), 0.25))
    kept = y != 0
    np.testing.assert_allclose(y[kept], xn[kept] / 0.75, rtol=1e-6)


def test_dropout_reproducible_under_manual_seed():
    fg.manual_seed(123)
    a = to_np(F.dropout(fg.ones(1000), 0.5))
    b = to_np(F.dropout(fg.ones(1000), 0.5))
    fg.manual_seed(123)
    a2 = to_np(F.dropout(fg.ones(1000), 0.5))
    b2 = to_np(F.dropout(fg.ones(1000), 0.5))
    np.testing.assert_array_equal(a, a2)
    np.testing.assert_array_equal(b, b2)
    assert not np.array_equal(a, b)  # the generator advanced


def test_dropout_independent_of_thread_count():
    fg.manual_seed(7)
    a = to_np(F.dropout(fg.ones(300, 1000), 0.5))
    old = fg.get_num_threads()
    try:
        fg.set_num_threads(1)
        fg.manual_seed(7)
        b = to_np(F.dropout(fg.ones(300, 1000), 0.5))
    finally:
        fg.set_num_threads(old)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_gradient_is_mask_over_keep(rng, dtype):
    x = to_fg(rng.standard_normal((40, 50)).astype(dtype), True)
    y = F.dropout(x, 0.4)
    g = rng.standard_normal((40, 50)).astype(dtype)
    (y * to_fg(g)).sum().backward()
    mask = (to_np(y) != 0) / np.array(0.6, dtype=dtype)
    np.testing.assert_allclose(to_np(x.grad), g * mask, rtol=1e-6)
    assert y.grad_fn is not None


def test_dropout_noncontiguous_input(rng):
    base = fg.tensor(rng.standard_normal((30, 40)).astype(np.float32))
    x = base.t()
    y = F.dropout(x, 0.5)
    kept = to_np(y) != 0
    np.testing.assert_allclose(to_np(y)[kept], to_np(x)[kept] * 2, rtol=1e-6)


def test_dropout_eval_and_p0_identity():
    x = fg.randn(3, 4)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    m = nn.Dropout(0.7)
    m.eval()
    assert m(x) is x


def test_dropout_p1_zeros_and_grad():
    x = fg.randn(3, 4).requires_grad_()
    y = F.dropout(x, 1.0)
    assert_close(y, np.zeros((3, 4), np.float32))
    y.sum().backward()
    assert_close(x.grad, np.zeros((3, 4), np.float32))


def test_dropout_inplace():
    fg.manual_seed(3)
    x = fg.ones(100, 100)
    ref = to_np(F.dropout(x, 0.3))
    fg.manual_seed(3)
    y = F.dropout(x, 0.3, inplace=True)
    np.testing.assert_array_equal(to_np(x), ref)
    np.testing.assert_array_equal(to_np(y), ref)


def test_dropout_inplace_with_autograd(rng):
    leaf = to_fg(rng.standard_normal((20, 30)).astype(np.float32), True)
    h = leaf * 2
    out = F.dropout(h, 0.5, inplace=True)
    out.sum().backward()
    mask = (to_np(out) != 0) * 2.0
    np.testing.assert_allclose(to_np(leaf.grad), 2 * mask, rtol=1e-6)
    with pytest.raises(RuntimeError, match="leaf"):
        F.dropout(leaf, 0.5, inplace=True)


def test_dropout_double_backward(rng):
    x = to_fg(rng.standard_normal((10, 10)), True)
    y = F.dropout(x, 0.5)
    (gx,) = fg.autograd.grad((y * y).sum(), [x], create_graph=True)
    gx.sum().backward()
    m = to_np(y) != 0
    np.testing.assert_allclose(to_np(x.grad), 2 * m * 4.0, rtol=1e-12)


@pytest.mark.parametrize("fn,shape,batched", [
    (F.dropout1d, (4, 16, 30), True), (F.dropout1d, (16, 30), False),
    (F.dropout2d, (4, 16, 5, 6), True), (F.dropout3d, (2, 16, 3, 4, 5), True),
    (F.dropout3d, (16, 3, 4, 5), False),
])
def test_channel_dropout_zeroes_whole_channels(fn, shape, batched):
    fg.manual_seed(0)
    y = to_np(fn(fg.ones(*shape), 0.5))
    lead = 2 if batched else 1
    per_channel = y.reshape(shape[:lead] + (-1,))
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2).all(-1))
    frac = (per_channel[..., 0] == 0).mean()
    assert 0.2 < frac < 0.8


def test_channel_dropout_errors_and_warnings():
    with pytest.raises(RuntimeError, match="dropout1d: Expected 2D or 3D input, but received a 4D"):
        F.dropout1d(fg.ones(2, 3, 4, 5))
    with pytest.warns(UserWarning, match="dropout2d: Received a 3D input"):
        F.dropout2d(fg.ones(2, 3, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.dropout2d(fg.ones(2, 3, 4, 4))


def test_alpha_dropout_keeps_mean_and_variance():
    fg.manual_seed(5)
    x = fg.randn(400, 500, dtype=fg.float64)
    y = to_np(F.alpha_dropout(x, 0.2, training=True))
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1) < 0.02
    # dropped units all take the same value a * (-alpha) + b
    _, counts = np.unique(y, return_counts=True)
    assert abs(counts.max() / y.size - 0.2) < 0.01
    assert F.alpha_dropout(x, 0.2) is x  # training=False by default


@pytest.mark.parametrize("cls,shape", [
    ("Dropout", (4, 5)), ("Dropout1d", (2, 3, 4)), ("Dropout2d", (2, 3, 4, 4)),
    ("Dropout3d", (2, 3, 2, 2, 2)), ("AlphaDropout", (4, 5)),
])
@pytest.mark.parametrize("p,inplace", [(0.5, False), (0.2, True)])
def test_dropout_modules_eval_match_torch(torch, rng, cls, shape, p, inplace):
    t_mod, f_mod = getattr(torch.nn, cls)(p, inplace), getattr(nn, cls)(p, inplace)
    assert repr(f_mod) == repr(t_mod)
    x = rng.standard_normal(shape).astype(np.float32)
    check_module(torch, f_mod, t_mod, [x], train=False)


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_dropout_probability_validation(p):
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        nn.Dropout(p)
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        F.dropout(fg.ones(3), p)


def test_dropout_rejects_integer_input():
    with pytest.raises(TypeError, match="dropout: expected a floating point tensor"):
        F.dropout(fg.ones(3, dtype=fg.int64), 0.5)
