"""CUDA reductions, scans, softmax, normalization and losses against the CPU
backend (itself tested against torch). Marked `cuda`: skipped without a CUDA
build and a GPU. The kernels' arithmetic is also checked on the CPU in every
build (tests/test_cuda_reduce_sim.py)."""

import fastgrad as fg
import fastgrad.nn.functional as F
import numpy as np
import pytest

pytestmark = pytest.mark.cuda


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def cu(t):
    return t.to("cuda")


def check(got, expected, rtol=1e-5, atol=1e-6):
    assert got.device.type == "cuda"
    assert tuple(got.shape) == tuple(expected.shape)
    assert got.dtype == expected.dtype
    np.testing.assert_allclose(got.to("cpu").numpy(), expected.numpy(), rtol=rtol, atol=atol)


# Every kernel shape of plan_reduce: warp, column, block, block with splits,
# and reduced dims that need the permuting copy.
SHAPES = [((5, 37), 1), ((300, 70), 0), ((40, 2000), 1), ((3, 40000), 1),
          ((70001,), None), ((4, 5, 6), (0, 2)), ((6, 50, 7), 1)]


@pytest.mark.parametrize("shape,dim", SHAPES)
@pytest.mark.parametrize("name", ["sum", "mean", "amax", "amin", "logsumexp", "var", "std",
                                  "nansum"])
def test_float_reductions_match_cpu(rng, shape, dim, name):
    a = fg.tensor(rng.standard_normal(shape).astype(np.float32))
    f = getattr(fg, name)
    d = dim if dim is not None else tuple(range(len(shape)))
    check(f(cu(a), d), f(a, d), rtol=1e-4, atol=1e-5)
    check(f(cu(a), d, keepdim=True), f(a, d, keepdim=True), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape,dim", [s for s in SHAPES if not isinstance(s[1], tuple)])
def test_arg_extremes_and_max_dim(rng, shape, dim):
    a = fg.tensor(rng.integers(-3, 4, size=shape).astype(np.float32))  # ties
    for name in ("argmax", "argmin"):
        f = getattr(fg, name)
        check(f(cu(a), dim), f(a, dim), rtol=0, atol=0)
    if dim is not None:
        v, i = fg.max(cu(a), dim)
        cv, ci = fg.max(a, dim)
        check(v, cv, rtol=0, atol=0)
        check(i, ci, rtol=0, atol=0)


def test_integer_bool_prod_norm(rng):
    i = fg.tensor(rng.integers(-5, 5, size=(6, 33)))
    for name in ("sum", "prod", "any", "all", "count_nonzero"):
        f = getattr(fg, name)
        check(f(cu(i), 1), f(i, 1), rtol=0, atol=0)
    a = fg.tensor(rng.standard_normal((8, 300)))
    for p in (0, 1, 2, 3, float("inf"), float("-inf")):
        check(fg.norm(cu(a), p, 1), fg.norm(a, p, 1), rtol=1e-10)


@pytest.mark.parametrize("name", ["cumsum", "cumprod", "softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_line_ops_match_cpu(rng, name, dim):
    a = fg.tensor(rng.uniform(0.5, 1.5, size=(33, 70, 5)).astype(np.float32))
    f = getattr(fg, name)
    check(f(cu(a), dim), f(a, dim), rtol=1e-4)


def test_softmax_backward_on_device(rng):
    a = fg.tensor(rng.standard_normal((7, 40)).astype(np.float32), requires_grad=True)
    g = fg.tensor(rng.standard_normal((7, 40)).astype(np.float32))
    c = cu(a.detach()).requires_grad_()
    (F.log_softmax(c, 1) * cu(g)).sum().backward()
    (F.log_softmax(a, 1) * g).sum().backward()
    check(c.grad, a.grad, rtol=1e-4)


def test_sixteen_bit_floats_compute_in_float32(rng):
    a = fg.tensor(rng.standard_normal((16, 300)).astype(np.float32))
    for dt in (fg.float16, fg.bfloat16):
        h = cu(a).to(dt)
        want = fg.sum(h.to("cpu").float(), 1).to(dt)
        check(fg.sum(h, 1), want, rtol=1e-2, atol=1e-2)
        check(fg.softmax(h, 1), fg.softmax(h.to("cpu").float(), 1).to(dt), rtol=1e-2, atol=1e-3)
        check(fg.amax(h, 1), fg.amax(h.to("cpu").float(), 1).to(dt), rtol=0, atol=0)


def grads_match(fn, *arrays, rtol=1e-4):
    """fn on CUDA and on the CPU: outputs and input gradients agree."""
    cpu = [fg.tensor(a, requires_grad=True) for a in arrays]
    dev = [cu(fg.tensor(a)).requires_grad_() for a in arrays]
    yc, yd = fn(*cpu), fn(*dev)
    check(yd, yc, rtol=rtol, atol=1e-5)
    yc.sum().backward()
    yd.sum().backward()
    for c, d in zip(cpu, dev):
        check(d.grad, c.grad, rtol=rtol, atol=1e-5)


def test_layer_and_group_norm(rng):
    x = rng.standard_normal((4, 6, 5)).astype(np.float32)
    w = rng.standard_normal(5).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    grads_match(lambda x, w, b: F.layer_norm(x, (5,), w, b), x, w, b)
    wc = rng.standard_normal(6).astype(np.float32)
    grads_match(lambda x, w: F.group_norm(x, 3, w), x, wc)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_and_running_stats(rng, training):
    x = rng.standard_normal((8, 3, 10)).astype(np.float32)
    rm, rv = fg.zeros(3), fg.ones(3)
    rmd, rvd = cu(rm), cu(rv)
    y = F.batch_norm(fg.tensor(x), rm, rv, training=training, momentum=0.2)
    yd = F.batch_norm(cu(fg.tensor(x)), rmd, rvd, training=training, momentum=0.2)
    check(yd, y, rtol=1e-4, atol=1e-5)
    check(rmd, rm)
    check(rvd, rv)
    w = rng.standard_normal(3).astype(np.float32)
    grads_match(lambda x, w: F.batch_norm(x, None, None, w, training=True), x, w)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_losses_match_cpu(rng, reduction):
    x = rng.standard_normal((6, 5)).astype(np.float32)
    t = rng.standard_normal((6, 5)).astype(np.float32)
    p = rng.uniform(0.05, 0.95, size=(6, 5)).astype(np.float32)
    for fn in (F.mse_loss, F.l1_loss, F.smooth_l1_loss, F.binary_cross_entropy_with_logits):
        grads_match(lambda a, b: fn(a, b, reduction=reduction), x, t)
    grads_match(lambda a, b: F.binary_cross_entropy(a, b, reduction=reduction), p, p[::-1].copy())
    target = fg.tensor(rng.integers(0, 5, size=6))
    target[2] = -100
    w = fg.tensor(rng.uniform(0.5, 2, size=5).astype(np.float32))
    for smoothing in (0.0, 0.1):
        cpu = fg.tensor(x, requires_grad=True)
        dev = cu(fg.tensor(x)).requires_grad_()
        yc = F.cross_entropy(cpu, target, w, reduction=reduction, label_smoothing=smoothing)
        yd = F.cross_entropy(dev, cu(target), cu(w), reduction=reduction,
                             label_smoothing=smoothing)
        check(yd, yc, rtol=1e-4)
        yc.sum().backward()
        yd.sum().backward()
        check(dev.grad, cpu.grad, rtol=1e-4, atol=1e-6)


def test_loss_errors_on_device():
    x = fg.ones(3, 4, device="cuda")
    with pytest.raises(IndexError, match="Target 7 is out of bounds"):
        F.nll_loss(x, cu(fg.tensor([0, 7, 1])))
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        F.binary_cross_entropy(x * 2, x)
    with pytest.raises(RuntimeError, match="same device|target on"):
        F.mse_loss(x, fg.ones(3, 4))
