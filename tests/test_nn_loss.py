"""Losses (fastgrad.nn.functional and fastgrad.nn loss modules) against torch:
values, dtypes, shapes, every reduction, weights, ignore_index, label
smoothing, probability targets, K-dim inputs, gradients w.r.t. input and
target, float64 finite differences, and the error cases."""

import contextlib

import numpy as np
import pytest

import fastgrad as fg
import fastgrad.nn as nn
import fastgrad.nn.functional as F
from fastgrad.autograd import gradcheck, gradgradcheck

from helpers import assert_close
from nn_helpers import check_module, to_fg, to_torch

# Every test runs on each device (conftest.py's `device` fixture).
pytestmark = pytest.mark.usefixtures("device")

REDUCTIONS = ["mean", "sum", "none"]
DTYPES = [np.float32, np.float64]


def _tol(dtype):
    return dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-10)


def compare(torch, name, arrays, grad_of, kwargs=None, t_kwargs=None, dtype=np.float32,
            layout_t=False, seed=1):
    """Runs F.<name> in both libraries on numpy `arrays` (None passes through),
    compares the output, then back-propagates a random upstream gradient and
    compares the gradients of the positions listed in `grad_of`."""
    kwargs = kwargs or {}
    t_kwargs = kwargs if t_kwargs is None else t_kwargs
    fg_in = [None if a is None else to_fg(a, i in grad_of) for i, a in enumerate(arrays)]
    t_in = [None if a is None else to_torch(torch, a, i in grad_of) for i, a in enumerate(arrays)]
    if layout_t:  # a non-contiguous input: transpose twice through a copy-free view
        fg_in[0] = fg_in[0].detach().transpose(0, 1).contiguous().transpose(0, 1)
        fg_in[0].requires_grad_(0 in grad_of)
    out = getattr(F, name)(*fg_in, **kwargs)
    ref = getattr(torch.nn.functional, name)(*t_in, **t_kwargs)
    tol = _tol(dtype)
    assert_close(out, ref, **tol)
    if not grad_of:
        return out, ref
    g = np.random.default_rng(seed).standard_normal(tuple(ref.shape)).astype(ref.detach().cpu().numpy().dtype)
    (out * to_fg(g)).sum().backward()
    (ref * to_torch(torch, g)).sum().backward()
    for i in grad_of:
        assert_close(fg_in[i].grad, t_in[i].grad, **tol)
    return out, ref


# ---- pointwise losses ------------------------------------------------------------

POINTWISE = [
    ("mse_loss", {}),
    ("l1_loss", {}),
    ("smooth_l1_loss", {}),
    ("smooth_l1_loss", {"beta": 0.5}),
    ("smooth_l1_loss", {"beta": 0.0}),
    ("huber_loss", {}),
    ("huber_loss", {"delta": 0.3}),
]


@pytest.mark.parametrize("name,kw", POINTWISE)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 4), (7,), ()])
def test_pointwise(torch, rng, name, kw, reduction, dtype, shape):
    x = rng.standard_normal(shape).astype(dtype)
    t = rng.standard_normal(shape).astype(dtype)
    compare(torch, name, [x, t], grad_of=[0, 1], kwargs=dict(kw, reduction=reduction),
            dtype=dtype)


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_pointwise_elementwise_weight(torch, rng, name, reduction):
    x, t = rng.standard_normal((2, 2, 3, 4)), rng.standard_normal((3, 4))
    x, t = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    w = rng.random((3, 4))
    compare(torch, name, [x, t], grad_of=[0, 1], dtype=np.float64,
            kwargs=dict(reduction=reduction, weight=to_fg(w)),
            t_kwargs=dict(reduction=reduction, weight=to_torch(torch, w)))


def test_pointwise_non_contiguous_and_empty(torch, rng):
    x = rng.standard_normal((5, 3)).astype(np.float32)
    t = rng.standard_normal((5, 3)).astype(np.float32)
    compare(torch, "mse_loss", [x, t], grad_of=[0], layout_t=True)
    e = np.zeros((0, 3), np.float32)
    for red in REDUCTIONS:  # mean of nothing is nan, sum is 0
        compare(torch, "mse_loss", [e, e], grad_of=[], kwargs={"reduction": red})


def test_pointwise_promotes_dtype(torch, rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    t = rng.standard_normal((3, 4))
    compare(torch, "l1_loss", [x, t], grad_of=[], dtype=np.float64)


# ---- kl_div ----------------------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_kl_div(torch, rng, reduction, log_target, dtype):
    x = np.log(rng.dirichlet(np.ones(6), size=4)).astype(dtype)
    p = rng.dirichlet(np.ones(6), size=4).astype(dtype)
    t = np.log(p).astype(dtype) if log_target else p
    with _kl_mean_warns(reduction):
        compare(torch, "kl_div", [x, t], grad_of=[0, 1], dtype=dtype,
                kwargs=dict(reduction=reduction, log_target=log_target))


def _kl_mean_warns(reduction):
    """kl_div's reduction='mean' warns (in torch and here) that it is not batchmean."""
    if reduction != "mean":
        return contextlib.nullcontext()
    return pytest.warns(UserWarning, match="'batchmean' divides only by the batch size")


def test_kl_div_zero_target_is_zero(torch):
    x = np.log(np.array([[0.5, 0.5], [0.25, 0.75]]))
    t = np.array([[0.0, 1.0], [1.0, 0.0]])
    compare(torch, "kl_div", [x, t], grad_of=[0], dtype=np.float64, kwargs={"reduction": "sum"})


# ---- binary cross entropy ----------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weight_shape", [None, (5,), (4, 5)])
def test_binary_cross_entropy(torch, rng, reduction, dtype, weight_shape):
    x = rng.uniform(0.02, 0.98, (4, 5)).astype(dtype)
    t = rng.uniform(0, 1, (4, 5)).astype(dtype)
    w = None if weight_shape is None else rng.random(weight_shape).astype(dtype)
    compare(torch, "binary_cross_entropy", [x, t, w], grad_of=[0, 1], dtype=dtype,
            kwargs={"reduction": reduction})


def test_binary_cross_entropy_saturated(torch):
    # log clamped at -100 and a finite gradient at exactly 0 and 1, like torch
    x = np.array([0.0, 1.0, 0.0, 1.0, 0.5], np.float32)
    t = np.array([1.0, 0.0, 0.0, 1.0, 0.3], np.float32)
    for red in REDUCTIONS:
        compare(torch, "binary_cross_entropy", [x, t], grad_of=[0], kwargs={"reduction": red})


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weight", [False, True])
@pytest.mark.parametrize("pos_weight", [False, True])
def test_bce_with_logits(torch, rng, reduction, dtype, weight, pos_weight):
    x = (rng.standard_normal((3, 4, 5)) * 4).astype(dtype)
    x[0, 0, :2] = [60.0, -60.0]  # far in the tails: the stable form stays finite
    t = rng.uniform(0, 1, (3, 4, 5)).astype(dtype)
    w = rng.random((4, 5)).astype(dtype) if weight else None
    pw = rng.uniform(0.2, 3, (5,)).astype(dtype) if pos_weight else None
    fpw = None if pw is None else to_fg(pw)
    tpw = None if pw is None else to_torch(torch, pw)
    compare(torch, "binary_cross_entropy_with_logits", [x, t, w], grad_of=[0, 1], dtype=dtype,
            kwargs=dict(reduction=reduction, pos_weight=fpw),
            t_kwargs=dict(reduction=reduction, pos_weight=tpw))


# ---- nll_loss / cross_entropy --------------------------------------------------------

SHAPES = {  # input shape -> class-index target shape
    (10,): (),
    (6, 10): (6,),
    (4, 10, 3): (4, 3),
    (2, 10, 3, 2): (2, 3, 2),
}


def _targets(rng, tshape, c, ignore):
    t = rng.integers(0, c, tshape).astype(np.int64)
    if ignore is not None and t.ndim > 0:
        t.reshape(-1)[::3] = ignore
    return t


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore", [None, 2, -100])
@pytest.mark.parametrize("dtype", DTYPES)
def test_nll_loss(torch, rng, shape, reduction, weighted, ignore, dtype):
    x = rng.standard_normal(shape).astype(dtype)
    t = _targets(rng, SHAPES[shape], shape[0] if len(shape) == 1 else shape[1], ignore)
    w = rng.random(10).astype(dtype) + 0.1 if weighted else None
    kw = {"reduction": reduction}
    if ignore is not None:
        kw["ignore_index"] = ignore
    compare(torch, "nll_loss", [x, t, w], grad_of=[0], kwargs=kw, dtype=dtype)


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore", [None, 3])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_indices(torch, rng, shape, reduction, weighted, ignore, smoothing, dtype):
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    t = _targets(rng, SHAPES[shape], shape[0] if len(shape) == 1 else shape[1], ignore)
    w = rng.random(10).astype(dtype) + 0.1 if weighted else None
    kw = {"reduction": reduction, "label_smoothing": smoothing}
    if ignore is not None:
        kw["ignore_index"] = ignore
    compare(torch, "cross_entropy", [x, t, w], grad_of=[0], kwargs=kw, dtype=dtype)


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_probabilities(torch, rng, shape, reduction, weighted, smoothing, dtype):
    x = rng.standard_normal(shape).astype(dtype)
    cdim = 0 if len(shape) == 1 else 1
    p = rng.random(shape).astype(dtype)
    p = p / p.sum(axis=cdim, keepdims=True)
    w = rng.random(10).astype(dtype) + 0.1 if weighted else None
    compare(torch, "cross_entropy", [x, p, w], grad_of=[0, 1], dtype=dtype,
            kwargs={"reduction": reduction, "label_smoothing": smoothing})


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_class_index_non_contiguous(torch, rng, name):
    x = rng.standard_normal((6, 5)).astype(np.float32)
    t = rng.integers(0, 5, 6)
    compare(torch, name, [x, t], grad_of=[0], layout_t=True)
    # a sliced (C) row and an int32 target
    x1 = rng.standard_normal((3, 8)).astype(np.float32)
    out = getattr(F, name)(to_fg(x1)[1, ::2], fg.tensor(np.array(2, np.int32)))
    ref = getattr(torch.nn.functional, name)(torch.tensor(x1)[1, ::2], torch.tensor(2))
    assert_close(out, ref, rtol=1e-5, atol=1e-6)


def test_cross_entropy_second_derivative_matches_torch(torch, rng):
    # gradient penalty through the fused kernel (create_graph=True)
    x = rng.standard_normal((5, 4))
    t = rng.integers(0, 4, 5)
    xf, xt = to_fg(x, True), to_torch(torch, x, True)
    (gf,) = fg.autograd.grad(F.cross_entropy(xf, fg.tensor(t)), [xf], create_graph=True)
    (gt,) = torch.autograd.grad(torch.nn.functional.cross_entropy(xt, torch.tensor(t)), [xt],
                                create_graph=True)
    assert_close(gf, gt, rtol=1e-9, atol=1e-12)
    (gf * gf).sum().backward()
    (gt * gt).sum().backward()
    assert_close(xf.grad, xt.grad, rtol=1e-9, atol=1e-12)


def test_nll_all_ignored_mean_is_nan(torch, rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    t = np.full(3, -100, np.int64)
    out, _ = compare(torch, "nll_loss", [x, t], grad_of=[])
    assert np.isnan(out.item())
    compare(torch, "cross_entropy", [x, t], grad_of=[], kwargs={"reduction": "sum"})


def test_cross_entropy_large_batch(torch, rng):
    # enough rows for the parallel paths
    x = rng.standard_normal((5000, 33)).astype(np.float32)
    t = rng.integers(0, 33, 5000)
    for red in REDUCTIONS:
        compare(torch, "cross_entropy", [x, t], grad_of=[0], kwargs={"reduction": red})
    y = rng.standard_normal((300, 200)).astype(np.float32)
    for red in ("mean", "sum"):
        compare(torch, "mse_loss", [y, y[::-1].copy()], grad_of=[0], kwargs={"reduction": red})


# ---- finite differences (float64) ------------------------------------------------------

def _leaf(a):
    return fg.tensor(np.asarray(a, np.float64)).requires_grad_()


GRADCHECK = [
    ("mse", lambda x, t: F.mse_loss(x, t)),
    ("smooth_l1", lambda x, t: F.smooth_l1_loss(x, t, beta=0.7, reduction="sum")),
    ("kl_div", lambda x, t: F.kl_div(x, t.abs() + 0.1, reduction="batchmean")),
    ("bce_logits", lambda x, t: F.binary_cross_entropy_with_logits(
        x, t.sigmoid(), pos_weight=fg.tensor(np.array([0.5, 2.0, 1.0, 3.0])))),
    ("bce", lambda x, t: F.binary_cross_entropy(x.sigmoid(), t.sigmoid(), reduction="none")),
]


@pytest.mark.parametrize("name,fn", GRADCHECK, ids=[g[0] for g in GRADCHECK])
def test_gradcheck_pointwise(rng, name, fn):
    x, t = _leaf(rng.standard_normal((3, 4))), _leaf(rng.standard_normal((3, 4)))
    assert gradcheck(fn, (x, t))
    assert gradgradcheck(fn, (x, t))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])  # fused kernel / composed smoothing
def test_gradcheck_cross_entropy(rng, reduction, smoothing):
    x = _leaf(rng.standard_normal((4, 5, 2)))
    t = fg.tensor(np.array([[0, 1], [4, -100], [2, 2], [3, 0]]))
    w = fg.tensor(rng.random(5) + 0.5)

    def fn(x):
        return F.cross_entropy(x, t, weight=w, reduction=reduction, label_smoothing=smoothing)

    assert gradcheck(fn, (x,))
    # nll's backward is itself a recorded op: create_graph works through it
    assert gradgradcheck(fn, (x,))
    p = _leaf(rng.random((4, 5)))
    assert gradcheck(lambda x, p: F.cross_entropy(x, p, reduction=reduction),
                     (_leaf(rng.standard_normal((4, 5))), p))


# ---- modules ------------------------------------------------------------------------------

MODULES = [
    ("MSELoss", {}, "normal"),
    ("L1Loss", {}, "normal"),
    ("SmoothL1Loss", {"beta": 0.5}, "normal"),
    ("HuberLoss", {"delta": 0.5}, "normal"),
    ("KLDivLoss", {"log_target": True}, "normal"),
    ("BCELoss", {}, "prob"),
    ("BCEWithLogitsLoss", {}, "prob_target"),
]


@pytest.mark.parametrize("name,kw,kind", MODULES, ids=[m[0] for m in MODULES])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_pointwise_modules(torch, rng, name, kw, kind, reduction, dtype):
    x = rng.standard_normal((4, 6)).astype(dtype)
    t = rng.standard_normal((4, 6)).astype(dtype)
    if kind == "prob":
        x, t = rng.uniform(0.05, 0.95, (4, 6)).astype(dtype), rng.random((4, 6)).astype(dtype)
    if kind == "prob_target":
        t = rng.random((4, 6)).astype(dtype)
    fm = getattr(nn, name)(reduction=reduction, **kw)
    tm = getattr(torch.nn, name)(reduction=reduction, **kw)
    with _kl_mean_warns(reduction if name == "KLDivLoss" else None):
        check_module(torch, fm, tm, [x, t], **_tol(dtype))
        check_module(torch, fm, tm, [x, t], train=False, **_tol(dtype))
    assert repr(fm) == repr(tm)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_weighted_modules(torch, rng, dtype, reduction):
    C = 7
    w = rng.random(C).astype(dtype) + 0.1
    x = rng.standard_normal((5, C, 3)).astype(dtype)
    t = rng.integers(0, C, (5, 3))
    t[0, 0] = 1
    for fm, tm in [
        (nn.CrossEntropyLoss(weight=to_fg(w), ignore_index=1, reduction=reduction,
                             label_smoothing=0.1),
         torch.nn.CrossEntropyLoss(weight=to_torch(torch, w), ignore_index=1,
                                   reduction=reduction, label_smoothing=0.1)),
        (nn.NLLLoss(weight=to_fg(w), ignore_index=1, reduction=reduction),
         torch.nn.NLLLoss(weight=to_torch(torch, w), ignore_index=1, reduction=reduction)),
    ]:
        check_module(torch, fm, tm, [x, t], **_tol(dtype))
        assert "weight" in dict(fm.named_buffers())
    pw = rng.random(C).astype(dtype) + 0.5
    fm = nn.BCEWithLogitsLoss(weight=to_fg(w), pos_weight=to_fg(pw), reduction=reduction)
    tm = torch.nn.BCEWithLogitsLoss(weight=to_torch(torch, w), pos_weight=to_torch(torch, pw),
                                    reduction=reduction)
    xs, ts = rng.standard_normal((4, C)).astype(dtype), rng.random((4, C)).astype(dtype)
    check_module(torch, fm, tm, [xs, ts], **_tol(dtype))
    assert sorted(dict(fm.named_buffers())) == ["pos_weight", "weight"]
    fm = nn.BCELoss(weight=to_fg(w))
    tm = torch.nn.BCELoss(weight=to_torch(torch, w))
    check_module(torch, fm, tm, [rng.uniform(0.1, 0.9, (4, C)).astype(dtype), ts],
                 **_tol(dtype))


def test_module_defaults_and_state_dict(torch):
    for name in ["CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss", "MSELoss",
                 "KLDivLoss"]:
        fm, tm = getattr(nn, name)(), getattr(torch.nn, name)()
        assert repr(fm) == repr(tm)
        assert list(fm.state_dict()) == list(tm.state_dict())
    ce = nn.CrossEntropyLoss()
    assert (ce.reduction, ce.ignore_index, ce.label_smoothing, ce.weight) == ("mean", -100, 0.0, None)
    assert nn.SmoothL1Loss().beta == 1.0 and nn.HuberLoss().delta == 1.0
    with pytest.raises(TypeError, match="delta"):
        nn.HuberLoss(delta="1")


# ---- errors -------------------------------------------------------------------------------

def _f(shape, dtype=np.float32):
    return fg.tensor(np.zeros(shape, dtype))


def _i(values):
    return fg.tensor(np.asarray(values, np.int64))


ERRORS = [
    # mismatched target shapes (ValueError; torch would broadcast with a warning)
    (lambda: F.cross_entropy(_f((4, 10)), _i(np.zeros(5))), ValueError,
     r"cross_entropy: expected target of shape \[N\] = \[4\] \(class indices\) or \[4, 10\] "
     r"\(probabilities\), got \[5\]"),
    (lambda: F.cross_entropy(_f((4, 10, 3)), _i(np.zeros((4, 2)))), ValueError,
     r"cross_entropy: expected target of shape \[N, d1, \.\.\.\] = \[4, 3\]"),
    (lambda: F.nll_loss(_f((4, 10)), _i(np.zeros(5))), ValueError,
     r"nll_loss: expected target of shape \[4\] \(class indices\) for input of shape \[4, 10\], got \[5\]"),
    (lambda: F.mse_loss(_f((3, 4)), _f((4,))), ValueError,
     r"mse_loss: expected target of the same shape as input \[3, 4\], got \[4\]"),
    (lambda: F.l1_loss(_f((3,)), _f((3, 1))), ValueError, r"l1_loss: .*\[3\], got \[3, 1\]"),
    (lambda: F.kl_div(_f((2, 3)), _f((3,)), reduction="sum"), ValueError, r"kl_div: .*\[2, 3\], got \[3\]"),
    (lambda: F.binary_cross_entropy(_f((2, 3)), _f((2,))), ValueError, r"binary_cross_entropy: "),
    (lambda: F.binary_cross_entropy_with_logits(_f((2, 3)), _f((3, 2))), ValueError,
     r"binary_cross_entropy_with_logits: .*\[2, 3\], got \[3, 2\]"),
    # out-of-range class indices (IndexError like torch on CPU)
    (lambda: F.cross_entropy(_f((4, 10)), _i([1, 12, 0, 3])), IndexError,
     r"cross_entropy: Target 12 is out of bounds\. \(expected class indices in \[0, 10\)"),
    (lambda: F.nll_loss(_f((4, 10)), _i([1, -1, 0, 3])), IndexError,
     r"nll_loss: Target -1 is out of bounds"),
    (lambda: F.nll_loss(_f((10,)), _i(10)), IndexError, r"nll_loss: Target 10 is out of bounds"),
    # float targets where class indices are expected
    (lambda: F.nll_loss(_f((4, 10)), _f((4,))), RuntimeError,
     r"nll_loss: expected a target of class indices \(int64\) of shape \[4\], got a float32"),
    (lambda: F.cross_entropy(_f((4, 10)), _f((4,))), RuntimeError,
     r"cross_entropy: expected a target of class indices \(int64\)"),
    # weights
    (lambda: F.cross_entropy(_f((4, 10)), _i([0, 1, 2, 3]), weight=_f((5,))), RuntimeError,
     r"cross_entropy: weight tensor should be defined either for all 10 classes or no classes "
     r"but got weight tensor of shape: \[5\]"),
    (lambda: F.nll_loss(_f((4, 10)), _i([0, 1, 2, 3]), weight=_f((10, 1))), RuntimeError,
     r"nll_loss: weight tensor should be defined"),
    (lambda: F.binary_cross_entropy(_f((4, 3)), _f((4, 3)), weight=_f((2,))), ValueError,
     r"binary_cross_entropy: weight of shape \[2\] does not broadcast to the input shape \[4, 3\]"),
    (lambda: F.binary_cross_entropy_with_logits(_f((4, 3)), _f((4, 3)), pos_weight=_f((4,))),
     ValueError, r"binary_cross_entropy_with_logits: pos_weight of shape \[4\]"),
    (lambda: F.mse_loss(_f((4, 3)), _f((4, 3)), weight=_f((3,))), ValueError,
     r"mse_loss: weights and input must have the same size"),
    # other bad arguments
    (lambda: F.binary_cross_entropy(fg.tensor(np.array([0.5, 1.5])), _f((2,))), RuntimeError,
     r"binary_cross_entropy: all elements of input should be between 0 and 1"),
    (lambda: F.cross_entropy(_f(()), _i(0)), RuntimeError, r"cross_entropy: expected input of shape \(C\)"),
    (lambda: F.nll_loss(_i([[1, 2]]), _i([0])), TypeError, r"nll_loss: expected a floating point input"),
    (lambda: F.mse_loss(_i([1, 2]), _i([1, 2])), TypeError, r"mse_loss: expected floating point"),
    (lambda: F.cross_entropy(_f((2, 3)), _i([0, 1]), label_smoothing=1.5), RuntimeError,
     r"cross_entropy: label_smoothing must be between 0\.0 and 1\.0"),
    (lambda: F.mse_loss(_f((2,)), _f((2,)), reduction="avg"), ValueError,
     r"mse_loss: avg is not a valid value for reduction"),
    (lambda: F.nll_loss(_f((2, 3)), _i([0, 1]), reduction="batchmean"), ValueError,
     r"nll_loss: batchmean is not a valid value"),
    (lambda: F.kl_div(_f((2,)), _f((2,)), reduction="avg"), ValueError, r"kl_div: avg is not"),
    (lambda: F.smooth_l1_loss(_f((2,)), _f((2,)), beta=-1.0), RuntimeError,
     r"smooth_l1_loss: beta must be non-negative"),
    (lambda: F.mse_loss(_f((2,)), _f((2,)), size_average=False), NotImplementedError,
     r"mse_loss: size_average and reduce are deprecated"),
    (lambda: nn.CrossEntropyLoss(reduce=False), NotImplementedError,
     r"CrossEntropyLoss: size_average and reduce are deprecated"),
]


@pytest.mark.parametrize("fn,exc,match", ERRORS)
def test_errors(fn, exc, match):
    with pytest.raises(exc, match=match):
        fn()


def test_error_names_layer_path():
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 4)
            self.criterion = nn.CrossEntropyLoss()

        def forward(self, x, y):
            return self.criterion(self.fc(x), y)

    m = Model()
    x = fg.tensor(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"^criterion \(CrossEntropyLoss\): cross_entropy: "
                                         r"expected target of shape \[N\] = \[2\]"):
        m(x, _i([0, 1, 2]))
    with pytest.raises(IndexError, match=r"^criterion \(CrossEntropyLoss\): cross_entropy: Target 7"):
        m(x, _i([0, 7]))
    seq = nn.Sequential(nn.Linear(3, 3), nn.Sigmoid(), nn.BCELoss())
    with pytest.raises(TypeError):  # BCELoss needs a target: torch raises TypeError too
        seq(x)
    assert m(x, _i([0, 3])).shape == ()
