"""Conv1d/Conv2d and F.conv1d/F.conv2d against torch: outputs, input and
parameter gradients (weights copied via state_dict), options, dtypes,
unbatched and non-contiguous inputs, errors."""

import numpy as np
import pytest

import fastgrad as fg
import fastgrad.nn as nn
import fastgrad.nn.functional as F
from helpers import assert_close, make
from nn_helpers import check_module

DTYPES = [np.float32, np.float64]

# torch warns that its asymmetric 'same' padding copies the input (ours doesn't)
pytestmark = [pytest.mark.usefixtures("device"), pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")]


def _tol(dtype):
    return dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-10)


def _tdtype(torch, dtype):
    return torch.float32 if dtype == np.float32 else torch.float64


CONV2D_CASES = [
    dict(),
    dict(stride=2),
    dict(stride=(2, 1), padding=(1, 2)),
    dict(padding=1, dilation=2),
    dict(padding="same"),
    dict(padding="same", dilation=(1, 2), kernel_size=(2, 4)),  # asymmetric 'same'
    dict(padding="valid"),
    dict(groups=2),
    dict(groups=2, bias=False, stride=3),
    dict(kernel_size=1),  # direct (no im2col) path
    dict(kernel_size=1, stride=2),
    dict(padding=2, padding_mode="reflect"),
    dict(padding=(1, 2), padding_mode="replicate"),
    dict(padding=1, padding_mode="circular", groups=2),
    dict(padding="same", padding_mode="reflect", kernel_size=4),
]


def _conv2d_pair(torch, dtype, opts, in_ch=4, out_ch=6):
    opts = dict(opts)
    k = opts.pop("kernel_size", 3)
    tm = torch.nn.Conv2d(in_ch, out_ch, k, dtype=_tdtype(torch, dtype), **opts)
    fm = nn.Conv2d(in_ch, out_ch, k, dtype=fg.float32 if dtype == np.float32 else fg.float64,
                   **opts)
    return fm, tm


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("opts", CONV2D_CASES, ids=str)
def test_conv2d_module(torch, rng, opts, dtype, train):
    fm, tm = _conv2d_pair(torch, dtype, opts)
    x = rng.standard_normal((3, 4, 9, 8)).astype(dtype)
    check_module(torch, fm, tm, [x], train=train, **_tol(dtype))


DEPTHWISE_CASES = [  # one input channel per group: the direct kernels
    dict(out_ch=4),
    dict(out_ch=8, stride=2, padding=1),
    dict(out_ch=12, stride=(1, 3), padding=(2, 0), dilation=(2, 1), kernel_size=(3, 2)),
    dict(out_ch=4, padding="same", kernel_size=4, bias=False),
    dict(out_ch=8, kernel_size=1),
    dict(out_ch=4, padding=1, padding_mode="reflect"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("opts", DEPTHWISE_CASES, ids=str)
def test_conv2d_depthwise(torch, rng, opts, dtype, batched):
    opts = dict(opts)
    out_ch = opts.pop("out_ch")
    fm, tm = _conv2d_pair(torch, dtype, dict(opts, groups=4), in_ch=4, out_ch=out_ch)
    x = rng.standard_normal((3, 4, 9, 8) if batched else (4, 7, 10)).astype(dtype)
    for train in (True, False):
        check_module(torch, fm, tm, [x], train=train, **_tol(dtype))


def test_depthwise_gradcheck(rng):
    x = fg.tensor(rng.standard_normal((2, 2, 5, 4))).requires_grad_(True)
    w = fg.tensor(rng.standard_normal((4, 1, 2, 3))).requires_grad_(True)
    b = fg.tensor(rng.standard_normal((4,))).requires_grad_(True)
    assert fg.autograd.gradcheck(
        lambda x, w, b: F.conv2d(x, w, b, stride=(1, 2), padding=1, groups=2, dilation=(2, 1)),
        (x, w, b))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("opts", CONV2D_CASES[:9], ids=str)
def test_conv2d_unbatched(torch, rng, opts, dtype):
    fm, tm = _conv2d_pair(torch, dtype, opts)
    x = rng.standard_normal((4, 7, 10)).astype(dtype)
    out, _ = check_module(torch, fm, tm, [x], **_tol(dtype))
    assert out.dim() == 3


CONV1D_CASES = [
    dict(),
    dict(stride=2, padding=1),
    dict(dilation=3, padding=2, bias=False),
    dict(padding="same", kernel_size=4, dilation=2),
    dict(groups=4, kernel_size=1),
    dict(padding=2, padding_mode="reflect"),
    dict(padding=3, padding_mode="circular"),
    dict(padding=1, padding_mode="replicate", stride=2),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("opts", CONV1D_CASES, ids=str)
def test_conv1d_module(torch, rng, opts, dtype, batched):
    opts = dict(opts)
    k = opts.pop("kernel_size", 3)
    tm = torch.nn.Conv1d(4, 8, k, dtype=_tdtype(torch, dtype), **opts)
    fm = nn.Conv1d(4, 8, k, dtype=fg.float32 if dtype == np.float32 else fg.float64, **opts)
    shape = (2, 4, 11) if batched else (4, 11)
    x = rng.standard_normal(shape).astype(dtype)
    for train in (True, False):
        check_module(torch, fm, tm, [x], train=train, **_tol(dtype))


@pytest.mark.parametrize("layout", ["transposed", "sliced"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_functional_noncontiguous(torch, rng, layout, dtype):
    xn, x = make(rng, (3, 4, 7, 6), dtype, layout=layout)
    wn, w = make(rng, (6, 2, 3, 2), dtype, layout=layout)
    bn, b = make(rng, (6,), dtype)
    for t in (x, w, b):
        t.requires_grad_(True)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (xn, wn, bn))
    kw = dict(stride=(1, 2), padding=(2, 1), dilation=(2, 1), groups=2)
    y = F.conv2d(x, w, b, **kw)
    ty = torch.nn.functional.conv2d(tx, tw, tb, **kw)
    assert_close(y, ty, **_tol(dtype))
    g = rng.standard_normal(tuple(ty.shape)).astype(dtype)
    (y * fg.tensor(g)).sum().backward()
    (ty * torch.tensor(g)).sum().backward()
    for a, b_ in ((x, tx), (w, tw), (b, tb)):
        assert_close(a.grad, b_.grad, **_tol(dtype))


def test_conv_functional_keywords_and_conv1d(torch, rng):
    x = rng.standard_normal((2, 3, 10))
    w = rng.standard_normal((6, 1, 4))
    y = F.conv1d(input=fg.tensor(x), weight=fg.tensor(w), stride=[2], padding=[1], groups=3)
    ty = torch.nn.functional.conv1d(torch.tensor(x), torch.tensor(w), stride=2, padding=1,
                                    groups=3)
    assert_close(y, ty)
    y = F.conv1d(fg.tensor(x), fg.tensor(w), padding="same", groups=3, dilation=3)
    ty = torch.nn.functional.conv1d(torch.tensor(x), torch.tensor(w), padding="same", groups=3,
                                    dilation=3)
    assert_close(y, ty)


@pytest.mark.parametrize("shape,opts", [
    ((9, 8, 20, 20), dict(padding=1)),  # big gemms: units in turn, threaded BLAS
    ((1, 8, 40, 40), dict(padding=1)),
    ((16, 4, 12, 12), dict(stride=2)),  # small gemms: (sample, group) units in parallel
    ((16, 4, 12, 12), dict(groups=2, padding=2, dilation=2)),
    ((16, 8, 12, 12), dict(groups=8)),  # depthwise
])
def test_conv2d_threading_paths(torch, rng, shape, opts):
    x = rng.standard_normal(shape).astype(np.float32)
    tm = torch.nn.Conv2d(shape[1], 16, 3, **opts)
    fm = nn.Conv2d(shape[1], 16, 3, **opts)
    check_module(torch, fm, tm, [x], rtol=1e-4, atol=1e-4)
    # the same numbers on one thread
    n = fg.get_num_threads()
    try:
        fg.set_num_threads(1)
        xs = fg.tensor(x).requires_grad_(True)
        y1 = fm(xs)
        y1.sum().backward()
    finally:
        fg.set_num_threads(n)
    xm = fg.tensor(x).requires_grad_(True)
    fm.zero_grad()
    y2 = fm(xm)
    y2.sum().backward()
    assert_close(y1, y2.detach().cpu().numpy(), rtol=1e-5, atol=1e-5)
    assert_close(xs.grad, xm.grad.cpu().numpy(), rtol=1e-5, atol=1e-5)


def test_conv_empty_batch(torch):
    fm = nn.Conv2d(2, 3, 3)
    y = fm(fg.zeros((0, 2, 5, 5)))
    assert tuple(y.shape) == (0, 3, 3, 3)
    # no output channels: empty output, zero input gradient
    x = fg.randn(2, 3, 5, 5).requires_grad_(True)
    w = fg.zeros((0, 3, 3, 3)).requires_grad_(True)
    y = F.conv2d(x, w)
    assert tuple(y.shape) == (2, 0, 3, 3)
    y.sum().backward()
    assert_close(x.grad, np.zeros((2, 3, 5, 5), np.float32))
    assert tuple(w.grad.shape) == (0, 3, 3, 3)


def test_conv2d_gradcheck(rng):
    x = fg.tensor(rng.standard_normal((2, 2, 5, 4))).requires_grad_(True)
    w = fg.tensor(rng.standard_normal((2, 1, 2, 2))).requires_grad_(True)
    b = fg.tensor(rng.standard_normal((2,))).requires_grad_(True)
    assert fg.autograd.gradcheck(
        lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding="valid", groups=2,
                                 dilation=(2, 1)), (x, w, b))
    x1 = fg.tensor(rng.standard_normal((1, 1, 3, 4))).requires_grad_(True)
    assert fg.autograd.gradcheck(lambda x, w: F.conv2d(x, w, padding="same"), (x1, w))


def test_conv1d_gradcheck(rng):
    x = fg.tensor(rng.standard_normal((2, 3, 7))).requires_grad_(True)
    w = fg.tensor(rng.standard_normal((2, 3, 3))).requires_grad_(True)
    assert fg.autograd.gradcheck(lambda x, w: F.conv1d(x, w, stride=2, padding=2), (x, w))


def test_conv_init_and_repr(torch):
    fm = nn.Conv2d(4, 6, (3, 2), stride=2, padding=1, dilation=(1, 2), groups=2, bias=False,
                   padding_mode="circular")
    tm = torch.nn.Conv2d(4, 6, (3, 2), stride=2, padding=1, dilation=(1, 2), groups=2,
                         bias=False, padding_mode="circular")
    assert repr(fm) == repr(tm)
    for args in [(3, 5, 3), (2, 4, (1, 3))]:
        assert repr(nn.Conv2d(*args)) == repr(torch.nn.Conv2d(*args))
        assert repr(nn.Conv1d(*args[:2], 3, padding="same")) == repr(
            torch.nn.Conv1d(*args[:2], 3, padding="same"))
    # default init: kaiming_uniform(a=sqrt(5)) => |w| <= 1/sqrt(fan_in), same for bias
    m = nn.Conv2d(8, 16, 3)
    bound = 1 / np.sqrt(8 * 9)
    w, b = m.weight.detach().cpu().numpy(), m.bias.detach().cpu().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    assert np.abs(b).max() <= bound
    assert m.weight.dtype == fg.float32 and tuple(m.weight.shape) == (16, 8, 3, 3)
    assert nn.Conv1d(2, 3, 4, dtype=fg.float64).weight.dtype == fg.float64


BAD_CONV = [
    # (callable, exception, match)
    (lambda: F.conv2d(fg.zeros((4, 28)), fg.zeros((2, 3, 3, 3))), RuntimeError,
     r"conv2d: expected 3-d \(C, H, W\) or 4-d \(N, C, H, W\) input, got input of shape \[4, 28\]"),
    (lambda: F.conv2d(fg.zeros((4, 1, 28, 28)), fg.zeros((2, 3, 3, 3))), RuntimeError,
     r"conv2d: expected input with 3 channels \(shape \(N, 3, H, W\) or \(3, H, W\)\), "
     r"got \[4, 1, 28, 28\]"),
    (lambda: F.conv1d(fg.zeros((2, 5, 8)), fg.zeros((2, 3, 3))), RuntimeError,
     r"conv1d: expected input with 3 channels \(shape \(N, 3, L\) or \(3, L\)\)"),
    (lambda: F.conv2d(fg.zeros((1, 3, 2, 2)), fg.zeros((2, 3, 3, 3))), RuntimeError,
     r"conv2d: kernel size \(3, 3\) \(dilated\) can't be greater than the padded input"),
    (lambda: F.conv2d(fg.zeros((1, 4, 5, 5)), fg.zeros((3, 2, 3, 3)), groups=2), RuntimeError,
     r"conv2d: given groups=2, expected weight to be divisible by 2"),
    (lambda: F.conv2d(fg.zeros((1, 3, 5, 5)), fg.zeros((3, 3, 3, 3)), stride=0), RuntimeError,
     r"conv2d: non-positive stride"),
    (lambda: F.conv2d(fg.zeros((1, 3, 5, 5)), fg.zeros((3, 3, 3, 3)), groups=0), RuntimeError,
     r"conv2d: non-positive groups"),
    (lambda: F.conv2d(fg.zeros((1, 3, 5, 5)), fg.zeros((3, 3, 3)),), RuntimeError,
     r"conv2d: expected 4-d weight"),
    (lambda: F.conv2d(fg.zeros((1, 3, 5, 5)), fg.zeros((3, 3, 3, 3)), fg.zeros((2,))),
     RuntimeError, r"conv2d: expected bias of shape \(3,\)"),
    (lambda: F.conv2d(fg.zeros((1, 3, 5, 5)), fg.zeros((3, 3, 3, 3)), padding="full"),
     ValueError, r"conv2d: invalid padding string 'full'"),
    (lambda: F.conv2d(fg.zeros((1, 3, 5, 5)), fg.zeros((3, 3, 3, 3)), padding="same",
                      stride=2), ValueError, r"padding='same' is not supported for strided"),
    (lambda: F.conv2d(fg.zeros((1, 3, 5, 5)), fg.zeros((3, 3, 3, 3)), padding=-1),
     RuntimeError, r"conv2d: negative padding"),
    (lambda: F.conv2d(fg.zeros((1, 3, 5, 5)), fg.zeros((3, 3, 3, 3), dtype=fg.float64)),
     RuntimeError, r"conv2d: input \(float32\), weight \(float64\) must have the same dtype"),
    (lambda: F.conv1d(fg.zeros((1, 3, 5)), fg.zeros((3, 3, 3)), fg.zeros((3,), dtype=fg.float64)),
     RuntimeError, r"conv1d: input \(float32\), weight \(float32\) and bias \(float64\)"),
    (lambda: F.conv1d(fg.zeros((1, 3, 5), dtype=fg.int64),
                      fg.zeros((3, 3, 3), dtype=fg.int64)), TypeError,
     r"conv1d: expected a floating point input, got int64"),
    (lambda: nn.Conv2d(3, 4, 3, groups=2), ValueError, "in_channels must be divisible by groups"),
    (lambda: nn.Conv2d(4, 3, 3, groups=2), ValueError, "out_channels must be divisible by groups"),
    (lambda: nn.Conv2d(4, 4, 3, padding_mode="mirror"), ValueError, "padding_mode must be one of"),
    (lambda: nn.Conv2d(4, 4, 3, stride=2, padding="same"), ValueError, "strided convolutions"),
    (lambda: nn.Conv1d(2, 2, 3, padding=5, padding_mode="reflect")(fg.zeros((1, 2, 4))),
     RuntimeError, r"reflect padding: padding \(5, 5\) must be smaller than the input size 4"),
]


@pytest.mark.parametrize("fn,exc,match", BAD_CONV)
def test_conv_errors(fn, exc, match):
    with pytest.raises(exc, match=match):
        fn()


def test_conv_error_in_model_names_layer():
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(3, 4, 3))
    with pytest.raises(RuntimeError, match=r"2 \(Conv2d\): conv2d: expected input with 3 channels"):
        model(fg.zeros((1, 3, 10, 10)))
    model = nn.Sequential(nn.Conv2d(3, 8, 3))
    with pytest.raises(RuntimeError, match=r"0 \(Conv2d\): conv2d: expected input with 3 channels"
                       r" \(shape \(N, 3, H, W\) or \(3, H, W\)\), got \[4, 1, 28, 28\]"):
        model(fg.zeros((4, 1, 28, 28)))
