"""Max/avg/adaptive pooling modules and functionals against torch: outputs,
indices, input gradients; options, dtypes, unbatched and non-contiguous
inputs; gradcheck; errors."""

import numpy as np
import pytest

import fastgrad as fg
import fastgrad.nn as nn
import fastgrad.nn.functional as F
from helpers import assert_close, make
from nn_helpers import check_module

# Every test runs on each device (conftest.py's `device` fixture).
pytestmark = pytest.mark.usefixtures("device")

DTYPES = [np.float32, np.float64]


def _tol(dtype):
    return dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)


POOL2D = [
    ("MaxPool2d", (3,), dict()),
    ("MaxPool2d", (3,), dict(stride=2, padding=1)),
    ("MaxPool2d", ((3, 2),), dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2))),
    ("MaxPool2d", (2,), dict(ceil_mode=True)),
    ("MaxPool2d", (3,), dict(stride=2, padding=1, dilation=2, ceil_mode=True)),
    ("MaxPool2d", (3,), dict(stride=2, return_indices=True)),
    ("MaxPool2d", (2,), dict(padding=1, dilation=3)),
    ("AvgPool2d", (3,), dict()),
    ("AvgPool2d", (3,), dict(stride=2, padding=1)),
    ("AvgPool2d", (3,), dict(stride=2, padding=1, count_include_pad=False)),
    ("AvgPool2d", ((2, 3),), dict(stride=(1, 2), padding=(1, 1), ceil_mode=True)),
    ("AvgPool2d", (3,), dict(stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
    ("AvgPool2d", (2,), dict(divisor_override=3)),
    ("AdaptiveAvgPool2d", ((4, 3),), dict()),
    ("AdaptiveAvgPool2d", (5,), dict()),
    ("AdaptiveAvgPool2d", ((None, 2),), dict()),
    ("AdaptiveAvgPool2d", (1,), dict()),
    ("AdaptiveMaxPool2d", ((4, 3),), dict()),
    ("AdaptiveMaxPool2d", ((3, None),), dict(return_indices=True)),
]

POOL1D = [
    ("MaxPool1d", (3,), dict()),
    ("MaxPool1d", (4,), dict(stride=2, padding=2, dilation=2, ceil_mode=True)),
    ("MaxPool1d", (2,), dict(return_indices=True)),
    ("AvgPool1d", (3,), dict(stride=2, padding=1)),
    ("AvgPool1d", (4,), dict(stride=3, padding=2, ceil_mode=True, count_include_pad=False)),
    ("AdaptiveAvgPool1d", (4,), dict()),
    ("AdaptiveAvgPool1d", (7,), dict()),
    ("AdaptiveMaxPool1d", (3,), dict(return_indices=True)),
]


def _pair(torch, name, args, kwargs):
    return getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 3, 9, 7), (3, 8, 10)], ids=["batched", "unbatched"])
@pytest.mark.parametrize("name,args,kwargs", POOL2D, ids=str)
def test_pool2d_module(torch, rng, name, args, kwargs, shape, dtype):
    fm, tm = _pair(torch, name, args, kwargs)
    assert repr(fm) == repr(tm)
    x = rng.standard_normal(shape).astype(dtype)
    for train in (True, False):
        check_module(torch, fm, tm, [x], train=train, **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 3, 11), (3, 9)], ids=["batched", "unbatched"])
@pytest.mark.parametrize("name,args,kwargs", POOL1D, ids=str)
def test_pool1d_module(torch, rng, name, args, kwargs, shape, dtype):
    fm, tm = _pair(torch, name, args, kwargs)
    assert repr(fm) == repr(tm)
    x = rng.standard_normal(shape).astype(dtype)
    for train in (True, False):
        check_module(torch, fm, tm, [x], train=train, **_tol(dtype))


def test_max_pool_ties_and_nan(torch):
    # ties: the first maximum wins; NaN propagates (index of the last NaN)
    x = np.array([[[[1, 1, 0, 2], [2, 0, 2, 2], [np.nan, 1, 3, np.nan], [0, np.nan, 3, 3]]]])
    for fn in ("max_pool2d",):
        y, i = getattr(F, fn)(fg.tensor(x), 2, return_indices=True)
        ty, ti = getattr(torch.nn.functional, fn)(torch.tensor(x), 2, return_indices=True)
        assert_close(y, ty)
        assert_close(i, ti)
    y, i = F.adaptive_max_pool2d(fg.tensor(x), (3, 3), return_indices=True)
    ty, ti = torch.nn.functional.adaptive_max_pool2d(torch.tensor(x), (3, 3), return_indices=True)
    assert_close(y, ty)
    assert_close(i, ti)


FUNCTIONAL = [
    ("max_pool2d", dict(kernel_size=3, stride=2, padding=1, dilation=(1, 2))),
    ("avg_pool2d", dict(kernel_size=(3, 2), stride=[2, 1], padding=1, count_include_pad=False)),
    ("adaptive_avg_pool2d", dict(output_size=(3, 4))),
    ("adaptive_max_pool2d", dict(output_size=(2, 5))),
]


@pytest.mark.parametrize("layout", ["transposed", "sliced"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fn,kwargs", FUNCTIONAL, ids=str)
def test_pool_functional_noncontiguous(torch, rng, fn, kwargs, layout, dtype):
    xn, x = make(rng, (2, 3, 8, 9), dtype, layout=layout)
    x.requires_grad_(True)
    tx = torch.tensor(xn, requires_grad=True)
    y = getattr(F, fn)(x, **kwargs)
    ty = getattr(torch.nn.functional, fn)(tx, **kwargs)
    assert_close(y, ty, **_tol(dtype))
    g = rng.standard_normal(tuple(ty.shape)).astype(dtype)
    (y * fg.tensor(g)).sum().backward()
    (ty * torch.tensor(g)).sum().backward()
    assert_close(x.grad, tx.grad, **_tol(dtype))


def test_pool_with_indices_functions(torch, rng):
    x = rng.standard_normal((2, 3, 8))
    for fn, kw in [("max_pool1d_with_indices", dict(kernel_size=3, stride=2)),
                   ("adaptive_max_pool1d_with_indices", dict(output_size=3))]:
        y, i = getattr(F, fn)(fg.tensor(x), **kw)
        ty, ti = getattr(torch.nn.functional, fn)(torch.tensor(x), **kw)
        assert_close(y, ty)
        assert_close(i, ti)
    y, i = F.max_pool2d_with_indices(fg.tensor(x), 2)
    ty, ti = torch.nn.functional.max_pool2d_with_indices(torch.tensor(x), 2)
    assert_close(y, ty)
    assert_close(i, ti)


def test_pool_large_parallel(torch, rng):
    x = rng.standard_normal((8, 16, 40, 40)).astype(np.float32)
    for name, args, kw in [("MaxPool2d", (3,), dict(stride=2, padding=1)),
                           ("AvgPool2d", (2,), {}), ("AdaptiveAvgPool2d", (7,), {})]:
        fm, tm = _pair(torch, name, args, kw)
        check_module(torch, fm, tm, [x], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("fn,kwargs", [
    ("max_pool2d", dict(kernel_size=2, stride=1, padding=1)),
    ("avg_pool2d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                        count_include_pad=False)),
    ("adaptive_avg_pool2d", dict(output_size=(2, 3))),
    ("adaptive_max_pool1d", dict(output_size=2)),
    ("avg_pool1d", dict(kernel_size=2, stride=1)),
])
def test_pool_gradcheck(rng, fn, kwargs):
    # distinct values so max pooling's argmax is stable under eps
    x = fg.tensor(rng.permutation(24).reshape(1, 2, 3, 4) / 7.0).requires_grad_(True)
    if fn.endswith("1d"):
        x = fg.tensor(rng.permutation(10).reshape(2, 5) / 3.0).requires_grad_(True)
    assert fg.autograd.gradcheck(lambda t: getattr(F, fn)(t, **kwargs), (x,))


BAD_POOL = [
    (lambda: F.max_pool2d(fg.zeros((4, 5)), 2),
     r"max_pool2d: expected 3-d \(C, H, W\) or 4-d \(N, C, H, W\) input, got input of shape \[4, 5\]"),
    (lambda: F.max_pool1d(fg.zeros((1, 2, 3, 4)), 2),
     r"max_pool1d: expected 2-d \(C, L\) or 3-d \(N, C, L\) input"),
    (lambda: F.avg_pool2d(fg.zeros((1, 1, 2, 2)), 3), r"avg_pool2d: output size is too small"),
    (lambda: F.max_pool2d(fg.zeros((1, 1, 5, 5)), 2, padding=2),
     r"max_pool2d: pad should be smaller than or equal to half of kernel size"),
    (lambda: F.max_pool2d(fg.zeros((1, 1, 5, 5)), 2, stride=0),
     r"max_pool2d: stride must be greater than zero"),
    (lambda: F.max_pool2d(fg.zeros((1, 1, 5, 5)), 0), r"max_pool2d: kernel_size must be greater"),
    (lambda: F.max_pool2d(fg.zeros((1, 1, 5, 5)), 2, dilation=0), r"max_pool2d: dilation must"),
    (lambda: F.avg_pool2d(fg.zeros((1, 1, 5, 5)), 2, divisor_override=0),
     r"avg_pool2d: divisor must be not zero"),
    (lambda: F.adaptive_avg_pool2d(fg.zeros((1, 1, 5, 5)), (2, 3, 4)),
     r"adaptive_avg_pool2d: expected output_size of 2 values"),
    (lambda: F.adaptive_max_pool2d(fg.zeros((1, 1, 5, 5)), -1),
     r"adaptive_max_pool2d: expected output_size to be non-negative"),
    (lambda: F.adaptive_avg_pool2d(fg.zeros((1, 2, 0, 5)), 2),
     r"adaptive_avg_pool2d: expected input with non-zero channels and spatial size"),
    (lambda: F.max_pool1d(fg.zeros((1, 5, 5), dtype=fg.int64), 2),
     r"max_pool1d: expected a floating point input, got int64"),
]


@pytest.mark.parametrize("fn,match", BAD_POOL)
def test_pool_errors(fn, match):
    with pytest.raises((RuntimeError, TypeError), match=match):
        fn()


def test_pool_error_in_model_names_layer():
    model = nn.Sequential(nn.MaxPool2d(2), nn.AvgPool2d(4))
    with pytest.raises(RuntimeError, match=r"1 \(AvgPool2d\): avg_pool2d: output size is too small"):
        model(fg.zeros((1, 3, 6, 6)))
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool1d(2))
    with pytest.raises(RuntimeError, match=r"1 \(MaxPool1d\): max_pool1d: expected 2-d"):
        model(fg.zeros((1, 1, 6, 6)))
