"""Elementwise ops against numpy and torch: values, dtypes, shapes, layouts."""

import numpy as np
import pytest

import fastgrad as fg
from helpers import assert_close, make

# Every test runs on each device (conftest.py's `device` fixture).
pytestmark = pytest.mark.usefixtures("device")

LAYOUTS = ["contiguous", "transposed", "sliced"]

# name, input domain (low, high), dtypes to try
UNARY_FLOAT = [
    ("exp", (-3, 3)), ("exp2", (-3, 3)), ("log", (0.1, 5)), ("log2", (0.1, 5)),
    ("log10", (0.1, 5)), ("log1p", (-0.5, 5)), ("expm1", (-2, 2)), ("sqrt", (0, 5)),
    ("rsqrt", (0.1, 5)), ("sin", (-4, 4)), ("cos", (-4, 4)), ("tan", (-1.2, 1.2)),
    ("asin", (-0.99, 0.99)), ("acos", (-0.99, 0.99)), ("atan", (-4, 4)),
    ("sinh", (-3, 3)), ("cosh", (-3, 3)), ("tanh", (-4, 4)), ("erf", (-3, 3)),
    ("sigmoid", (-8, 8)), ("reciprocal", (0.2, 4)),
]
UNARY_SAME = [
    ("neg", (-5, 5)), ("abs", (-5, 5)), ("sign", (-5, 5)), ("square", (-5, 5)),
    ("floor", (-5, 5)), ("ceil", (-5, 5)), ("trunc", (-5, 5)), ("round", (-5, 5)),
]
NN_UNARY = [("relu", (-3, 3)), ("silu", (-4, 4)), ("gelu", (-4, 4))]


def torch_fn(torch, name):
    if name in ("relu", "silu", "gelu"):
        return getattr(torch.nn.functional, name)
    return getattr(torch, name)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,domain", UNARY_FLOAT + UNARY_SAME + NN_UNARY)
def test_unary_float_inputs(torch, rng, name, domain, dtype, layout):
    a, t = make(rng, (3, 5), dtype, *domain, layout=layout)
    out = getattr(fg, name)(t)
    assert_close(out, torch_fn(torch, name)(torch.from_numpy(a)), rtol=2e-6, atol=1e-6)
    assert_close(getattr(t, name)(), torch_fn(torch, name)(torch.from_numpy(a)), rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.bool_])
@pytest.mark.parametrize("name,domain", UNARY_FLOAT)
def test_unary_float_ops_promote_ints(torch, rng, name, domain, dtype):
    lo, hi = (max(domain[0], 0), max(domain[1], 1)) if dtype == np.bool_ else domain
    a, t = make(rng, (4, 3), dtype, np.ceil(lo), np.floor(hi))
    assert_close(getattr(fg, name)(t), torch_fn(torch, name)(torch.from_numpy(a)), rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
@pytest.mark.parametrize("name,domain", UNARY_SAME + [("relu", (-3, 3))])
def test_unary_same_ints(torch, rng, name, domain, dtype):
    a, t = make(rng, (4, 3), dtype, *domain, layout="transposed")
    assert_close(getattr(fg, name)(t), torch_fn(torch, name)(torch.from_numpy(a)))


@pytest.mark.parametrize("name", ["isnan", "isinf", "isfinite", "logical_not", "sign"])
def test_unary_bool_results(torch, name):
    a = np.array([0.0, -1.5, np.nan, np.inf, -np.inf, 2.0], dtype=np.float32)
    assert_close(getattr(fg, name)(fg.tensor(a)), getattr(torch, name)(torch.from_numpy(a)))
    b = np.array([True, False, True])
    assert_close(getattr(fg, name)(fg.tensor(b)), getattr(torch, name)(torch.from_numpy(b)))


def test_gelu_tanh_and_nan_propagation(torch, rng):
    a, t = make(rng, (50,), np.float32, -5, 5)
    assert_close(fg.gelu(t, approximate="tanh"),
                 torch.nn.functional.gelu(torch.from_numpy(a), approximate="tanh"), rtol=1e-5)
    with pytest.raises(ValueError, match="gelu"):
        fg.gelu(t, approximate="bogus")
    x = np.array([np.nan, -1.0, 1.0], dtype=np.float32)
    for name in ("relu", "sigmoid", "tanh", "abs", "neg"):
        assert_close(getattr(fg, name)(fg.tensor(x)), torch_fn(torch, name)(torch.from_numpy(x)))


def test_round_half_to_even(torch):
    a = np.array([0.5, 1.5, 2.5, -0.5, -1.5, 2.4999], dtype=np.float32)
    assert_close(fg.round(fg.tensor(a)), torch.round(torch.from_numpy(a)))


def test_sigmoid_extremes_do_not_overflow():
    out = fg.sigmoid(fg.tensor([-1000.0, 1000.0, 0.0])).cpu().numpy()
    np.testing.assert_allclose(out, [0.0, 1.0, 0.5])


@pytest.mark.parametrize("name", ["neg", "abs", "relu", "floor", "round"])
def test_unary_rejects_bool(name):
    with pytest.raises(RuntimeError, match=name):
        getattr(fg, name)(fg.tensor([True, False]))


# ---------------------------------------------------------------- binary ops

BINARY = ["add", "sub", "mul", "div", "floor_divide", "remainder", "fmod", "pow",
          "atan2", "maximum", "minimum", "eq", "ne", "lt", "le", "gt", "ge",
          "logical_and", "logical_or", "logical_xor"]
BITWISE = ["bitwise_and", "bitwise_or", "bitwise_xor"]
SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((), (5,)),
          ((1,), (2, 3)), ((0, 3), (3,)), ((), ())]


def binary_inputs(rng, name, shape_a, shape_b, dtype, layout="contiguous"):
    lo, hi = (-4, 4)
    if name in ("floor_divide", "remainder", "fmod", "div") and np.dtype(dtype).kind in "iu":
        a, ta = make(rng, shape_a, dtype, -9, 9, layout=layout)
        b = rng.choice([-3, -2, -1, 1, 2, 5], size=shape_b).astype(dtype)
        return a, ta, b, fg.tensor(b)
    if name == "pow":
        if np.dtype(dtype).kind in "iu":
            a, ta = make(rng, shape_a, dtype, -3, 3, layout=layout)
            b, tb = make(rng, shape_b, dtype, 0, 4)
            return a, ta, b, tb
        a, ta = make(rng, shape_a, dtype, 0.1, 3, layout=layout)
        b, tb = make(rng, shape_b, dtype, -2, 2)
        return a, ta, b, tb
    a, ta = make(rng, shape_a, dtype, lo, hi, layout=layout)
    b, tb = make(rng, shape_b, dtype, lo, hi)
    if name in ("floor_divide", "remainder", "fmod", "div", "atan2"):
        b = np.where(np.abs(b) < 0.3, 1.0, b).astype(dtype)
        tb = fg.tensor(b)
    return a, ta, b, tb


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shapes", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
@pytest.mark.parametrize("name", BINARY)
def test_binary_tensor_tensor(torch, rng, name, dtype, shapes, layout):
    if name == "atan2" and np.dtype(dtype).kind in "iu":
        pass  # promoted to float: still compared below
    a, ta, b, tb = binary_inputs(rng, name, *shapes, dtype, layout)
    expected = getattr(torch, name)(torch.from_numpy(a), torch.from_numpy(b))
    assert_close(getattr(fg, name)(ta, tb), expected, rtol=1e-5, atol=1e-5)
    assert_close(getattr(ta, name)(tb), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.bool_])
@pytest.mark.parametrize("name", BITWISE)
def test_bitwise(torch, rng, name, dtype):
    a, ta = make(rng, (3, 4), dtype, -50, 50)
    b, tb = make(rng, (4,), dtype, -50, 50)
    assert_close(getattr(fg, name)(ta, tb), getattr(torch, name)(torch.from_numpy(a), torch.from_numpy(b)))


def test_bitwise_rejects_float():
    with pytest.raises(TypeError, match="bitwise_and"):
        fg.tensor([1.0]) & fg.tensor([2.0])


OPERATORS = [
    ("+", lambda x, y: x + y), ("-", lambda x, y: x - y), ("*", lambda x, y: x * y),
    ("/", lambda x, y: x / y), ("//", lambda x, y: x // y), ("%", lambda x, y: x % y),
    ("**", lambda x, y: x ** y), ("==", lambda x, y: x == y), ("!=", lambda x, y: x != y),
    ("<", lambda x, y: x < y), ("<=", lambda x, y: x <= y), (">", lambda x, y: x > y),
    (">=", lambda x, y: x >= y),
]
# (tensor dtype, scalar): exercises PyTorch's tensor-scalar promotion tiers.
SCALAR_CASES = [(np.float32, 2), (np.float32, 2.5), (np.int64, 3), (np.int64, 2.5),
                (np.int32, 3), (np.int32, 1.5), (np.float64, 3), (np.bool_, True),
                (np.bool_, 2), (np.bool_, 2.5)]


@pytest.mark.parametrize("dtype,scalar", SCALAR_CASES, ids=str)
@pytest.mark.parametrize("op,fn", OPERATORS, ids=[o for o, _ in OPERATORS])
def test_operators_with_scalars(torch, rng, op, fn, dtype, scalar):
    a, ta = make(rng, (2, 3), dtype, 1, 4)
    ref = torch.from_numpy(a)
    for left, right, tl, tr in ((ta, scalar, ref, scalar), (scalar, ta, scalar, ref)):
        try:
            expected = fn(tl, tr)
        except RuntimeError:
            with pytest.raises((RuntimeError, TypeError)):
                fn(left, right)
            continue
        assert_close(fn(left, right), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("da", [np.bool_, np.int32, np.int64, np.float32, np.float64])
@pytest.mark.parametrize("db", [np.bool_, np.int32, np.int64, np.float32, np.float64])
@pytest.mark.parametrize("zero_dim", ["none", "a", "b"])
def test_promotion_matches_torch(torch, da, db, zero_dim):
    sa = () if zero_dim == "a" else (2,)
    sb = () if zero_dim == "b" else (2,)
    a = np.ones(sa, dtype=da)
    b = np.ones(sb, dtype=db)
    expected = torch.from_numpy(a) * torch.from_numpy(b)
    got = fg.tensor(a) * fg.tensor(b)
    assert got.dtype.name == str(expected.dtype).replace("torch.", "")
    assert fg.promote_types(fg.tensor(a).dtype, fg.tensor(b).dtype).name == str(
        torch.promote_types(torch.from_numpy(a).dtype, torch.from_numpy(b).dtype)).replace("torch.", "")


def test_true_division_of_ints_is_float(torch):
    a = fg.tensor([1, 2, 3])
    assert (a / 2).dtype == fg.float32
    assert_close(a / fg.tensor([2, 4, 8]), torch.tensor([1, 2, 3]) / torch.tensor([2, 4, 8]))
    assert_close(fg.div(a, 2, rounding_mode="trunc"), torch.div(torch.tensor([1, 2, 3]), 2, rounding_mode="trunc"))
    x = fg.tensor([-7, 7, -7, 7])
    y = fg.tensor([2, -2, -2, 2])
    for mode in ("trunc", "floor"):
        assert_close(fg.div(x, y, rounding_mode=mode),
                     torch.div(torch.tensor([-7, 7, -7, 7]), torch.tensor([2, -2, -2, 2]), rounding_mode=mode))
    with pytest.raises(ValueError, match="div"):
        fg.div(x, y, rounding_mode="round")


def test_python_semantics_of_floor_div_and_mod(torch):
    a = np.array([-7.5, 7.5, -7.0, 7.0, 0.0], dtype=np.float64)
    b = np.array([2.0, -2.0, -2.0, 2.0, -3.0])
    assert_close(fg.tensor(a) // fg.tensor(b), torch.from_numpy(a) // torch.from_numpy(b))
    assert_close(fg.tensor(a) % fg.tensor(b), torch.from_numpy(a) % torch.from_numpy(b))
    assert_close(fg.fmod(fg.tensor(a), fg.tensor(b)), torch.fmod(torch.from_numpy(a), torch.from_numpy(b)))


@pytest.mark.parametrize("op", ["floor_divide", "remainder", "fmod"])
def test_integer_division_by_zero_raises(op):
    with pytest.raises(RuntimeError, match=f"{op}.*ZeroDivisionError"):
        getattr(fg, op)(fg.tensor([1, 2]), fg.tensor([1, 0]))


def test_int_min_divided_by_minus_one_does_not_crash():
    a = fg.tensor([-(2**63)], dtype=fg.int64)
    assert (a // -1).tolist() == [-(2**63)]
    assert (a % -1).tolist() == [0]


def test_integer_pow(torch):
    a = np.array([-3, -1, 0, 1, 2, 3], dtype=np.int64)
    for e in (0, 1, 2, 3, 7):
        assert_close(fg.tensor(a) ** e, torch.from_numpy(a) ** e)
    assert_close(2 ** fg.tensor([0, 1, 5]), 2 ** torch.tensor([0, 1, 5]))
    assert_close(fg.tensor([2, 3]) ** 0.5, torch.tensor([2, 3]) ** 0.5)


def test_sub_bool_rejected():
    with pytest.raises(RuntimeError, match="sub"):
        fg.tensor([True]) - fg.tensor([False])
    with pytest.raises(RuntimeError, match="neg"):
        -fg.tensor([True])


def test_add_alpha(torch):
    a = fg.tensor([1.0, 2.0])
    b = fg.tensor([10.0, 20.0])
    assert_close(fg.add(a, b, alpha=0.5), torch.add(torch.tensor([1.0, 2.0]), torch.tensor([10.0, 20.0]), alpha=0.5))
    assert_close(a.sub(b, alpha=2), torch.tensor([1.0, 2.0]).sub(torch.tensor([10.0, 20.0]), alpha=2))
    with pytest.raises(TypeError, match="alpha"):
        fg.add(fg.tensor([1]), fg.tensor([2]), alpha=0.5)


def test_broadcast_error_message():
    with pytest.raises(ValueError, match=r"add: shapes \(3, 4\) and \(5,\) are not broadcastable \(dim -1: 4 vs 5\)"):
        fg.ones(3, 4) + fg.ones(5) if hasattr(fg, "ones") else fg.tensor(np.ones((3, 4))) + fg.tensor(np.ones(5))


def test_nan_propagation_of_maximum(torch):
    a = np.array([1.0, np.nan, 3.0], dtype=np.float32)
    b = np.array([np.nan, 2.0, 1.0], dtype=np.float32)
    assert_close(fg.maximum(fg.tensor(a), fg.tensor(b)), torch.maximum(torch.from_numpy(a), torch.from_numpy(b)))
    assert_close(fg.minimum(fg.tensor(a), fg.tensor(b)), torch.minimum(torch.from_numpy(a), torch.from_numpy(b)))


# ------------------------------------------------------------- in-place forms

INPLACE = [("add_", "+="), ("sub_", "-="), ("mul_", "*="), ("div_", "/="),
           ("floor_divide_", "//="), ("remainder_", "%="), ("pow_", "**=")]


@pytest.mark.parametrize("method,op", INPLACE)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_inplace_matches_out_of_place(torch, rng, method, op, layout):
    a, ta = make(rng, (3, 4), np.float64, 0.5, 3, layout=layout)
    b = rng.uniform(0.5, 2, size=(4,))
    ref = torch.from_numpy(a.copy())
    getattr(ref, method)(torch.from_numpy(b))
    version = ta._version
    res = getattr(ta, method)(fg.tensor(b))
    assert res is ta
    assert ta._version > version
    assert_close(ta, ref)
    # The augmented-assignment operator keeps the same object.
    _, tc = make(rng, (3, 4), np.float64, 0.5, 3, layout=layout)
    before = tc
    ns = {"t": tc, "v": fg.tensor(b)}
    exec(f"t {op} v", ns)
    assert ns["t"] is before


@pytest.mark.cpu_only  # shares numpy's memory
def test_inplace_writes_through_numpy_view():
    arr = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = fg.from_numpy(arr)
    t.mul_(2)
    np.testing.assert_array_equal(arr, np.arange(6).reshape(2, 3) * 2)


def test_inplace_cast_rules(torch):
    t = fg.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match="result type float32 can't be cast to the desired output type int64"):
        t += 0.5
    with pytest.raises(RuntimeError, match="can't be cast"):
        t.div_(2)
    f = fg.tensor([1.0, 2.0])
    f += fg.tensor([1, 2])  # int into float is fine
    assert f.tolist() == [2.0, 4.0]
    with pytest.raises(RuntimeError, match="broadcast shape"):
        fg.tensor([1.0]).add_(fg.tensor([1.0, 2.0]))


@pytest.mark.parametrize("name", ["exp_", "sin_", "neg_", "abs_", "sqrt_", "relu_", "clamp_"])
def test_unary_inplace(torch, rng, name):
    a, t = make(rng, (3, 3), np.float32, 0.1, 2, layout="transposed")
    ref = torch.from_numpy(a.copy())
    args = (0.5, 1.5) if name == "clamp_" else ()
    getattr(ref, name)(*args)
    getattr(t, name)(*args)
    assert_close(t, ref)
    with pytest.raises(RuntimeError, match="can't be cast"):
        fg.tensor([1, 2]).exp_()


def test_inplace_on_expanded_tensor_is_rejected():
    base = fg.zeros(1).expand(3)
    with pytest.raises(RuntimeError, match="single memory location"):
        base.add_(1.0)


def test_inplace_with_overlapping_input():
    t = fg.arange(6, dtype=fg.float64)
    view = t.flip(0).clone()  # separate memory
    t.add_(view)
    assert t.tolist() == [5.0] * 6


def test_fill_and_zero(torch):
    t = fg.tensor([[1, 2], [3, 4]])
    t.fill_(7)
    assert t.tolist() == [[7, 7], [7, 7]]
    t.zero_()
    assert t.tolist() == [[0, 0], [0, 0]]
    f = fg.tensor([1.0, 2.0])
    assert f.fill_(fg.tensor(3.5)) is f and t.zero_() is t
    assert f.tolist() == [3.5, 3.5]


# ---------------------------------------------------------------- where, clamp


@pytest.mark.parametrize("layout", LAYOUTS)
def test_where(torch, rng, layout):
    a, ta = make(rng, (3, 4), np.float32, layout=layout)
    b, tb = make(rng, (4,), np.float64)
    c = a > 0
    tc = fg.tensor(c)
    assert_close(fg.where(tc, ta, tb), torch.where(torch.from_numpy(c), torch.from_numpy(a), torch.from_numpy(b)))
    assert_close(fg.where(tc, ta, 0.0), torch.where(torch.from_numpy(c), torch.from_numpy(a), 0.0))
    assert_close(fg.where(tc, 1, ta), torch.where(torch.from_numpy(c), 1, torch.from_numpy(a)))
    assert_close(fg.where(tc, 1, 0), torch.where(torch.from_numpy(c), 1, 0))
    assert_close(fg.where(tc, 1.0, 0), torch.where(torch.from_numpy(c), 1.0, 0))
    with pytest.raises(TypeError, match="where: expected condition to be a bool tensor"):
        fg.where(ta, ta, tb)


@pytest.mark.parametrize("dtype", [np.float32, np.int64])
@pytest.mark.parametrize("lo,hi", [(-1, 1), (None, 0), (0, None), (0.5, 1.5), (2, -2)])
def test_clamp(torch, rng, dtype, lo, hi):
    a, t = make(rng, (4, 5), dtype, -3, 3, layout="sliced")
    assert_close(fg.clamp(t, lo, hi), torch.clamp(torch.from_numpy(a), lo, hi))
    assert_close(t.clamp(min=lo, max=hi), torch.from_numpy(a).clamp(min=lo, max=hi))


def test_clamp_tensor_bounds_and_errors(torch, rng):
    a, t = make(rng, (3, 4), np.float32)
    lo, tlo = make(rng, (4,), np.float32, -1, 0)
    assert_close(fg.clamp(t, min=tlo), torch.clamp(torch.from_numpy(a), min=torch.from_numpy(lo)))
    with pytest.raises(ValueError, match="clamp"):
        fg.clamp(t)


# ------------------------------------------------------------ empty and 0-d


def test_empty_and_zero_dim(torch):
    e = fg.tensor(np.zeros((0, 3), np.float32))
    assert tuple((e + 1).shape) == (0, 3)
    assert tuple(fg.exp(e).shape) == (0, 3)
    s = fg.tensor(2.0)
    r = s * fg.tensor(3.0)
    assert r.dim() == 0 and r.item() == 6.0
    assert (fg.tensor(5) > 3).item() is True
