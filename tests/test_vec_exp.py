"""float32 exp / tanh / sigmoid / softmax through math/vec_exp.h: accuracy in
ulps against a float64 numpy reference over the whole float range (subnormal
results, overflow, +-inf, NaN), and bit-identical results for a value
wherever it sits (vector lanes, scalar tail, strided and in-place paths)."""

import numpy as np
import pytest

import fastgrad as fg

from helpers import assert_close


def _sigmoid64(x):
    with np.errstate(over="ignore", invalid="ignore"):
        return np.where(x >= 0, 1 / (1 + np.exp(-x)), np.exp(x) / (1 + np.exp(x)))


def _exp64(x):
    with np.errstate(over="ignore"):
        return np.exp(x)


REF = {"exp": _exp64, "tanh": np.tanh, "sigmoid": _sigmoid64}
# Measured maxima: exp 1.2, sigmoid 2.3, tanh 2.3 (around |x| = 1/4,
# where (e - 1) / (e + 1) takes over from the polynomial).
MAX_ULP = {"exp": 2.0, "tanh": 3.0, "sigmoid": 3.0}


def ulp_error(got, ref):
    """|got - ref| in units of the float32 spacing at ref (subnormal spacing
    2**-149 below the normal range); ref must be finite as a float32."""
    spacing = np.spacing(np.abs(ref).astype(np.float32)).astype(np.float64)
    return np.abs(got.astype(np.float64) - ref) / spacing


def sweep():
    """Dense grids over every regime plus random float32 bit patterns."""
    rng = np.random.default_rng(0)
    parts = [
        np.linspace(-110, 95, 200_001),  # exp: subnormal results to overflow
        np.linspace(-104, -87, 50_001),  # exp: the subnormal range itself
        np.linspace(-12, 12, 100_001),  # tanh / sigmoid saturation
        np.linspace(-0.25, 0.25, 50_001),  # tanh's polynomial / exp switch
        rng.integers(0, 2**32, 100_000, dtype=np.uint64).astype(np.uint32).view(np.float32),
        np.array([0.0, -0.0, 1e-45, -1e-45, 1e-38, -1e-38, 88.72, 88.73, -87.33, -103.97,
                  -103.98, 3e38, -3e38]),
    ]
    x = np.concatenate([p.astype(np.float32) for p in parts])
    return x[np.isfinite(x)]


@pytest.mark.parametrize("name", ["exp", "tanh", "sigmoid"])
def test_unary_ulp_sweep(name):
    x = sweep()
    ref = REF[name](x.astype(np.float64))
    got = getattr(fg, name)(fg.tensor(x)).numpy()
    with np.errstate(over="ignore"):
        ref32 = ref.astype(np.float32)
    big = ~np.isfinite(ref32)  # beyond float32: must overflow to inf too
    assert np.all(got[big] == np.inf)
    err = ulp_error(got[~big], ref[~big])
    assert err.max() <= MAX_ULP[name], (name, err.max(), x[~big][np.argmax(err)])


@pytest.mark.parametrize("name", ["exp", "tanh", "sigmoid"])
def test_unary_specials(name):
    x = np.array([np.inf, -np.inf, np.nan, -np.nan, 0.0, -0.0, 100.0, -200.0], np.float32)
    got = getattr(fg, name)(fg.tensor(x)).numpy()
    with np.errstate(over="ignore", invalid="ignore"):
        want = REF[name](x.astype(np.float64)).astype(np.float32)
    np.testing.assert_array_equal(got, want)  # NaN == NaN here
    # the sign of a zero result follows the input (tanh(-0) = -0)
    np.testing.assert_array_equal(np.signbit(got[4:6]), np.signbit(want[4:6]))


@pytest.mark.parametrize("name", ["exp", "tanh", "sigmoid"])
@pytest.mark.parametrize("v", [-103.5, -20.0, -0.0625, -1e-3, 0.0, 0.06, 0.5, 3.0, 88.5, np.nan])
def test_same_value_same_bits_everywhere(name, v):
    fn = getattr(fg, name)
    a = np.full(37, v, np.float32)  # 9 vector groups + a 1-element tail
    out = fn(fg.tensor(a)).numpy()
    assert len({o.tobytes() for o in out}) == 1
    # every offset (alignment / lane), a strided view and in place agree
    base = fg.tensor(np.full(80, v, np.float32))
    for off in range(5):
        np.testing.assert_array_equal(fn(base[off:off + 37]).numpy().view(np.uint32),
                                      out.view(np.uint32))
    np.testing.assert_array_equal(fn(base[::2]).numpy()[:37].view(np.uint32),
                                  out.view(np.uint32))
    t = fg.tensor(a)
    getattr(t, name + "_")()
    np.testing.assert_array_equal(t.numpy().view(np.uint32), out.view(np.uint32))


@pytest.mark.parametrize("name", ["exp", "tanh", "sigmoid"])
def test_mixed_values_position_independent(name):
    rng = np.random.default_rng(1)
    vals = (rng.standard_normal(37) * 30).astype(np.float32)
    one = getattr(fg, name)(fg.tensor(vals)).numpy()
    for shift in range(1, 5):
        rolled = getattr(fg, name)(fg.tensor(np.roll(vals, shift))).numpy()
        np.testing.assert_array_equal(np.roll(one, shift).view(np.uint32), rolled.view(np.uint32))


def _softmax64(x32, axis):
    """float64 softmax of x32 after the float32 shift x - max, which the
    kernel (like torch) rounds before exp: that rounding is not exp's error."""
    d = (x32 - np.max(x32, axis=axis, keepdims=True)).astype(np.float64)
    e = np.exp(d)
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("cols", [1, 3, 4, 37, 1000])
def test_softmax_ulp(cols):
    rng = np.random.default_rng(cols)
    x = (rng.standard_normal((64, cols)) * 20).astype(np.float32)
    x[:, 0] = -95  # subnormal and zero probabilities
    ref = _softmax64(x, 1)
    got = fg.softmax(fg.tensor(x), dim=1).numpy()
    assert ulp_error(got, ref).max() <= 4
    # log_softmax: absolute error (values near 0 cancel)
    ref_log = x - x.max(1, keepdims=True) - np.log(np.exp(x - x.max(1, keepdims=True)).sum(1, keepdims=True))
    got_log = fg.log_softmax(fg.tensor(x), dim=1).numpy()
    np.testing.assert_allclose(got_log, ref_log, rtol=2e-6, atol=2e-5)


@pytest.mark.parametrize("log", [False, True])
def test_softmax_layouts_agree_bitwise(log):
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((37, 53)) * 5).astype(np.float32)
    fn = fg.log_softmax if log else fg.softmax
    contig = fn(fg.tensor(x), dim=1).numpy()
    strided = fn(fg.tensor(np.ascontiguousarray(x.T)).t(), dim=1).numpy()  # rows of stride 37
    np.testing.assert_array_equal(contig.view(np.uint32), strided.view(np.uint32))
    same = fn(fg.tensor(np.full((3, 37), 1.5, np.float32)), dim=1).numpy()
    assert len({v.tobytes() for v in same.ravel()}) == 1


@pytest.mark.parametrize("log", [False, True])
def test_softmax_specials_match_torch(torch, log):
    x = np.array([[0.0, 1.0, 2.0, 3.0, 4.0],
                  [np.nan, 1.0, 2.0, 3.0, 4.0],
                  [np.inf, 1.0, 2.0, 3.0, 4.0],
                  [-np.inf, 1.0, 2.0, 3.0, -np.inf],
                  [-np.inf] * 5,
                  [1e30, -1e30, 0.0, 88.0, -104.0]], np.float32)
    name = "log_softmax" if log else "softmax"
    got = getattr(fg, name)(fg.tensor(x), dim=1)
    assert_close(got, getattr(torch, name)(torch.from_numpy(x), dim=1), rtol=1e-6, atol=0)


def test_cross_entropy_matches_float64(torch):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((33, 37)) * 10).astype(np.float32)
    t = rng.integers(0, 37, 33)
    fx = fg.tensor(x, requires_grad=True)
    loss = fg.nn.functional.cross_entropy(fx, fg.from_numpy(t))
    loss.backward()
    tx = torch.from_numpy(x.astype(np.float64)).requires_grad_()
    tl = torch.nn.functional.cross_entropy(tx, torch.from_numpy(t))
    tl.backward()
    np.testing.assert_allclose(loss.item(), tl.item(), rtol=1e-6)
    np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-9)
    # a row of equal logits: every class gets the same gradient bits but the target
    fe = fg.tensor(np.full((2, 37), 0.75, np.float32), requires_grad=True)
    fg.nn.functional.cross_entropy(fe, fg.from_numpy(np.array([0, 36]))).backward()
    g = fe.grad.numpy()
    assert len({v.tobytes() for v in g[0, 1:]}) == 1 and len({v.tobytes() for v in g[1, :36]}) == 1
