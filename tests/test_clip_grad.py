"""nn.utils.clip_grad_norm_ / clip_grad_value_ vs torch."""

import math

import fastgrad
import numpy as np
import pytest
from fastgrad import nn

# Every test runs on each device (conftest.py's `device` fixture).
pytestmark = pytest.mark.usefixtures("device")


def _params(lib, dtype, scale, with_none=True):
    """Three parameters with gradients (one non-contiguous) and one without."""
    rng = np.random.default_rng(0)
    shapes = [(3, 4), (5,), (2, 3)]
    params = []
    for i, shape in enumerate(shapes):
        p = lib.tensor(rng.normal(size=shape).astype(dtype)).requires_grad_()
        g = (rng.normal(size=shape) * scale).astype(dtype)
        if i == 2:  # a transposed gradient
            p.grad = lib.tensor(np.ascontiguousarray(g.T)).t()
        else:
            p.grad = lib.tensor(g)
        params.append(p)
    if with_none:
        params.append(lib.zeros(2, dtype=params[0].dtype, requires_grad=True))
    return params


def _grads(params):
    return [p.grad.cpu().numpy() if p.grad is not None else None for p in params]


@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, 0.5, math.inf, -math.inf, "inf", 0])
@pytest.mark.parametrize("max_norm,scale", [(1.0, 1.0), (100.0, 1.0), (0.5, 10.0)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clip_grad_norm_matches_torch(torch, norm_type, max_norm, scale, dtype):
    pt, pf = _params(torch, dtype, scale), _params(fastgrad, dtype, scale)
    nt = torch.nn.utils.clip_grad_norm_(pt, max_norm, norm_type=norm_type)
    nf = nn.utils.clip_grad_norm_(pf, max_norm, norm_type=norm_type)
    assert isinstance(nf, fastgrad.Tensor) and nf.dim() == 0
    assert str(nf.dtype)[9:] == str(nt.dtype)[6:]
    np.testing.assert_allclose(nf.item(), nt.item(), rtol=1e-5)
    for a, b in zip(_grads(pf), _grads(pt)):
        if b is None:
            assert a is None
        else:
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_clip_grad_norm_single_tensor_and_generator(torch):
    pt, pf = _params(torch, np.float32, 5.0), _params(fastgrad, np.float32, 5.0)
    nt = torch.nn.utils.clip_grad_norm_(pt[0], 1.0)
    nf = nn.utils.clip_grad_norm_(pf[0], 1.0)
    np.testing.assert_allclose(nf.item(), nt.item(), rtol=1e-6)
    nt = torch.nn.utils.clip_grad_norm_((p for p in pt[1:]), 0.1)
    nf = nn.utils.clip_grad_norm_((p for p in pf[1:]), 0.1)
    np.testing.assert_allclose(nf.item(), nt.item(), rtol=1e-6)
    np.testing.assert_allclose(pf[1].grad.cpu().numpy(), pt[1].grad.cpu().numpy(), rtol=1e-6)


def test_clip_grad_norm_no_grads():
    p = fastgrad.zeros(3, requires_grad=True)
    n = nn.utils.clip_grad_norm_([p], 1.0)
    assert n.item() == 0.0 and p.grad is None
    with pytest.warns(UserWarning, match="empty generator"):
        nn.utils.clip_grad_norm_((q for q in []), 1.0)


def test_clip_grad_norm_nonfinite(torch):
    p = fastgrad.zeros(2, requires_grad=True)
    p.grad = fastgrad.tensor([1.0, math.inf])
    with pytest.raises(RuntimeError, match="The total norm of order 2.0 for gradients from "
                                           "`parameters` is non-finite"):
        nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    p.grad = fastgrad.tensor([1.0, math.nan])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    # Without the check the gradients are scaled by the non-finite norm, like torch.
    t = torch.zeros(2, requires_grad=True)
    t.grad = torch.tensor([1.0, math.inf])
    p.grad = fastgrad.tensor([1.0, math.inf])
    nt = torch.nn.utils.clip_grad_norm_([t], 1.0)
    nf = nn.utils.clip_grad_norm_([p], 1.0)
    assert nf.item() == nt.item() == math.inf
    np.testing.assert_array_equal(p.grad.cpu().numpy(), t.grad.cpu().numpy())


def test_clip_grad_norm_no_history():
    p = fastgrad.ones(3, requires_grad=True)
    (p * p).sum().backward()
    g = p.grad
    ptr = g.data_ptr()
    n = nn.utils.clip_grad_norm_([p], 0.1)
    assert not n.requires_grad and n.grad_fn is None
    assert p.grad.data_ptr() == ptr  # scaled in place


def test_clip_grad_norm_deprecated_alias(torch):
    pf = _params(fastgrad, np.float32, 1.0)
    with pytest.warns(FutureWarning, match="clip_grad_norm_"):
        nn.utils.clip_grad_norm(pf, 1.0)


def test_get_total_norm_and_clip_with_norm(torch):
    pt, pf = _params(torch, np.float32, 3.0), _params(fastgrad, np.float32, 3.0)
    tt = torch.nn.utils.get_total_norm([p.grad for p in pt[:3]], 3.0)
    tf = nn.utils.get_total_norm([p.grad for p in pf[:3]], 3.0)
    np.testing.assert_allclose(tf.item(), tt.item(), rtol=1e-6)
    torch.nn.utils.clip_grads_with_norm_(pt, 1.0, tt)
    nn.utils.clip_grads_with_norm_(pf, 1.0, tf)
    for a, b in zip(_grads(pf)[:3], _grads(pt)[:3]):
        np.testing.assert_allclose(a, b, rtol=1e-6)


@pytest.mark.parametrize("clip_value", [0.1, 1, 5.0])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clip_grad_value_matches_torch(torch, clip_value, dtype):
    pt, pf = _params(torch, dtype, 2.0), _params(fastgrad, dtype, 2.0)
    assert torch.nn.utils.clip_grad_value_(pt, clip_value) is None
    assert nn.utils.clip_grad_value_(pf, clip_value) is None
    for a, b in zip(_grads(pf), _grads(pt)):
        if b is None:
            assert a is None
        else:
            np.testing.assert_array_equal(a, b)
    # A single tensor works too.
    pt, pf = _params(torch, dtype, 2.0), _params(fastgrad, dtype, 2.0)
    torch.nn.utils.clip_grad_value_(pt[0], clip_value)
    nn.utils.clip_grad_value_(pf[0], clip_value)
    np.testing.assert_array_equal(pf[0].grad.cpu().numpy(), pt[0].grad.cpu().numpy())


def test_bad_parameters():
    with pytest.raises(TypeError, match="clip_grad_norm_: expected Tensors, got int"):
        nn.utils.clip_grad_norm_([1, 2], 1.0)
    with pytest.raises(TypeError, match="clip_grad_value_: expected Tensors, got str"):
        nn.utils.clip_grad_value_(["a"], 1.0)
