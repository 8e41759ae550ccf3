"""The CUDA norm and cross-entropy backward kernels' index maps and thread
splits, checked on the CPU against torch in every build.

_C._cuda._norm_backward_sim runs csrc/backend/cuda/norm_plan.h's simulation:
the per-row block of layer/group norm's dx kernel and the channel-sums kernel
(32 channels per block when S == 1, else a block per channel), over the
math/norm.h functions the kernels call. _C._cuda._cross_entropy_grad_sim runs
math::CeGradFn, the CUDA cross_entropy backward's per-element functor. The
kernels themselves need a GPU (tests/test_cuda_fused_backward.py).
"""

import fastgrad as fg
import numpy as np
import pytest
from fastgrad import _C

torch = pytest.importorskip("torch")

rng = np.random.default_rng(0)
EPS = 1e-5


def sim_rows(g, x, w, groups):
    """(dx, dw, db) of group norm of an (N, C, S) x (layer norm: groups=1, S=1)."""
    xr = x.reshape(x.shape[0] * groups, -1)
    mean = xr.mean(1)
    rstd = 1 / np.sqrt(xr.var(1) + EPS)
    out = _C._cuda._norm_backward_sim("rows", fg.tensor(g), fg.tensor(x),
                                      None if w is None else fg.tensor(w), fg.tensor(mean),
                                      fg.tensor(rstd), groups)
    return [t.numpy() for t in out]


def sim_batch(g, x, w, training, rm, rv):
    if training:
        mean = x.mean((0, 2))
        invstd = 1 / np.sqrt(x.var((0, 2)) + EPS)
    else:
        mean, invstd = rm, 1 / np.sqrt(rv + EPS)
    out = _C._cuda._norm_backward_sim("batch", fg.tensor(g), fg.tensor(x),
                                      None if w is None else fg.tensor(w), fg.tensor(mean),
                                      fg.tensor(invstd), 1, training)
    return [t.numpy() for t in out]


def torch_grads(fn, g, x, w, b):
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w if w is not None else np.ones(b.shape), requires_grad=True)
    bt = torch.tensor(b, requires_grad=True)
    fn(xt, wt, bt).backward(torch.tensor(g))
    return [xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()]


def assert_grads(got, want):
    for a, e in zip(got, want):
        np.testing.assert_allclose(a, e, rtol=1e-9, atol=1e-11)


# (N, L): rows shorter and longer than a block, many rows (channels > 32 per block).
@pytest.mark.parametrize("n,length", [(4, 7), (3, 700), (50, 70)])
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_sim(n, length, affine):
    x = rng.standard_normal((n, length)) * 2 + 1
    g = rng.standard_normal((n, length))
    w = rng.standard_normal(length) if affine else None
    b = rng.standard_normal(length)
    got = sim_rows(g.reshape(n, length, 1), x.reshape(n, length, 1), w, 1)
    want = torch_grads(lambda x, w, b: torch.nn.functional.layer_norm(x, (length,), w, b, EPS),
                       g, x, w, b)
    assert_grads([got[0].reshape(n, length)] + got[1:], want)


@pytest.mark.parametrize("shape,groups", [((3, 6, 5), 3), ((4, 6, 1), 2), ((2, 4, 300), 2),
                                          ((5, 8, 3), 8)])
@pytest.mark.parametrize("affine", [True, False])
def test_group_norm_sim(shape, groups, affine):
    x = rng.standard_normal(shape)
    g = rng.standard_normal(shape)
    w = rng.standard_normal(shape[1]) if affine else None
    b = rng.standard_normal(shape[1])
    got = sim_rows(g, x, w, groups)
    want = torch_grads(lambda x, w, b: torch.nn.functional.group_norm(x, groups, w, b, EPS),
                       g, x, w, b)
    assert_grads(got, want)


@pytest.mark.parametrize("shape", [(16, 5, 1), (70, 40, 1), (4, 3, 30), (3, 2, 700)])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_sim(shape, training, affine):
    c = shape[1]
    x = rng.standard_normal(shape) * 2 - 1
    g = rng.standard_normal(shape)
    w = rng.standard_normal(c) if affine else None
    b = rng.standard_normal(c)
    rm, rv = rng.standard_normal(c), rng.uniform(0.5, 2, c)
    got = sim_batch(g, x, w, training, rm, rv)
    want = torch_grads(lambda x, w, b: torch.nn.functional.batch_norm(
        x, torch.tensor(rm), torch.tensor(rv), w, b, training=training, eps=EPS), g, x, w, b)
    assert_grads(got, want)


@pytest.mark.parametrize("shape", [(6, 11, 1), (3, 5, 8), (2, 4, 1)])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_grad_sim(shape, reduction, weighted):
    n, c, s = shape
    x = rng.standard_normal(shape) * 3
    t = rng.integers(0, c, size=(n, s))
    t[0, 0] = 1  # ignored below
    w = rng.uniform(0.5, 2, c) if weighted else None
    xt = torch.tensor(x, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(xt, torch.tensor(t), None if w is None else
                                             torch.tensor(w), reduction=reduction,
                                             ignore_index=1)
    g = rng.standard_normal((n, s)) if reduction == "none" else np.array([1.7])
    loss.backward(torch.tensor(g.reshape(tuple(loss.shape))))
    lse = torch.logsumexp(torch.tensor(x), 1).numpy().reshape(-1)
    kept = t.reshape(-1) != 1
    tw = (w[t.reshape(-1)] if weighted else np.ones(n * s))[kept].sum()
    scale = 1 / tw if reduction == "mean" else 1.0
    got = _C._cuda._cross_entropy_grad_sim(
        fg.tensor(x), fg.tensor(lse), fg.tensor(t.reshape(-1)),
        None if w is None else fg.tensor(w), fg.tensor(g.reshape(-1)), 1, scale,
        reduction == "none")
    np.testing.assert_allclose(got.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_sim_rejects_bad_input():
    x = fg.zeros(2, 4, 3, dtype=fg.float64)
    with pytest.raises(ValueError, match="_norm_backward_sim: unknown kind 'cols'"):
        _C._cuda._norm_backward_sim("cols", x, x, None, fg.zeros(2, dtype=fg.float64),
                                    fg.zeros(2, dtype=fg.float64))
    with pytest.raises(ValueError, match="_norm_backward_sim: expected 4 statistics"):
        _C._cuda._norm_backward_sim("rows", x, x, None, fg.zeros(2, dtype=fg.float64),
                                    fg.zeros(2, dtype=fg.float64), 2)
