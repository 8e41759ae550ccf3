"""autograd.Function (custom ops recorded on the C++ tape) and detect_anomaly."""

import numpy as np
import pytest

import fastgrad as fg
from fastgrad.autograd import Function, gradcheck, gradgradcheck


class Cube(Function):
    @staticmethod
    def forward(ctx, x, k):
        ctx.save_for_backward(x)
        ctx.k = k
        return x ** 3 * k

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x ** 2 * ctx.k, None


class SplitSum(Function):
    """Two outputs and two tensor inputs, one of them not needing grad."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b, a + b

    @staticmethod
    def backward(ctx, g1, g2):
        a, b = ctx.saved_tensors
        return g1 * b + g2, (g1 * a + g2) if ctx.needs_input_grad[1] else None


def test_function_forward_backward_and_name():
    x = fg.tensor([1.0, 2.0], requires_grad=True)
    y = Cube.apply(x, 2.0)
    assert y.grad_fn.name() == "CubeBackward"
    assert y.tolist() == [2.0, 16.0]
    y.backward(fg.ones(2))
    assert x.grad.tolist() == [6.0, 24.0]


def test_function_gradcheck_and_double_backward():
    x = fg.tensor(np.array([0.5, -1.5, 2.0]), dtype=fg.float64, requires_grad=True)
    assert gradcheck(lambda t: Cube.apply(t, 1.5), (x,))
    assert gradgradcheck(lambda t: Cube.apply(t, 1.5), (x,))


def test_function_multiple_outputs_and_needs_input_grad():
    a = fg.tensor([1.0, 2.0], requires_grad=True)
    b = fg.tensor([3.0, 4.0])
    p, s = SplitSum.apply(a, b)
    (p * 2 + s).backward(fg.ones(2))
    assert a.grad.tolist() == [7.0, 9.0]
    assert b.grad is None


def test_function_without_grad_records_nothing():
    x = fg.tensor([1.0])
    assert Cube.apply(x, 1.0).grad_fn is None
    with fg.no_grad():
        assert Cube.apply(fg.tensor([1.0], requires_grad=True), 1.0).grad_fn is None


def test_function_wrong_number_of_gradients():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g

    y = Bad.apply(fg.tensor([1.0], requires_grad=True), 2.0)
    with pytest.raises(RuntimeError, match="Bad.backward returned 1 gradients"):
        y.backward(fg.ones(1))


def test_saved_tensors_checked_for_inplace_changes():
    x = fg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 1
    y = Cube.apply(h, 1.0)
    h.mul_(2)
    with pytest.raises(RuntimeError, match="CubeBackward"):
        y.backward(fg.ones(2))


def test_detect_anomaly_names_node_and_forward_line():
    x = fg.tensor([0.0, 1.0], requires_grad=True)
    with fg.autograd.detect_anomaly():
        y = fg.sqrt(x)
        with pytest.raises(RuntimeError, match=r"(?s)SqrtBackward.*nan or inf.*test_autograd_function.py"):
            (y * 2).backward(fg.ones(2))
    assert not fg.is_anomaly_enabled()
    # Without the mode the same graph just produces inf.
    y = fg.sqrt(x)
    y.backward(fg.ones(2))
    assert np.isinf(x.grad.numpy()[0])
