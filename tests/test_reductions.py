"""Reductions against numpy and torch: values, dtypes and shapes over dtypes x
dims x keepdim x layouts, plus empty / 0-d inputs, NaN, stability and errors."""

import math

import numpy as np
import pytest

import fastgrad as fg
from helpers import assert_close, make, to_np

# Every test runs on each device (conftest.py's `device` fixture).
pytestmark = pytest.mark.usefixtures("device")

LAYOUTS = ["contiguous", "transposed", "sliced"]
SHAPE = (3, 4, 5)
DIMS = [None, 1, -1, (0, 2), (-1, 0), [1], (0, 1, 2)]
ALL_DT = [np.float32, np.float64, np.int32, np.int64, np.bool_]
FLOAT_DT = [np.float32, np.float64]
NUM_DT = [np.float32, np.float64, np.int32, np.int64]


def np_axis(dim):
    return tuple(dim) if isinstance(dim, list) else dim


def torch_of(torch, a):
    return torch.from_numpy(np.ascontiguousarray(a))


def np_sum_dtype(a):
    return np.int64 if a.dtype.kind in "biu" else a.dtype


# name -> (dtypes, numpy reference (a, axis, keepdims) or None)
DIM_OPS = {
    "sum": (ALL_DT, lambda a, ax, k: np.sum(a, axis=ax, keepdims=k, dtype=np_sum_dtype(a))),
    "nansum": (ALL_DT, lambda a, ax, k: np.nansum(a, axis=ax, keepdims=k, dtype=np_sum_dtype(a))),
    "mean": (FLOAT_DT, lambda a, ax, k: np.mean(a, axis=ax, keepdims=k)),
    "amax": (ALL_DT, lambda a, ax, k: np.amax(a, axis=ax, keepdims=k)),
    "amin": (ALL_DT, lambda a, ax, k: np.amin(a, axis=ax, keepdims=k)),
    "all": (ALL_DT, lambda a, ax, k: np.all(a, axis=ax, keepdims=k)),
    "any": (ALL_DT, lambda a, ax, k: np.any(a, axis=ax, keepdims=k)),
    "var": (FLOAT_DT, lambda a, ax, k: np.var(a, axis=ax, keepdims=k, ddof=1)),
    "std": (FLOAT_DT, lambda a, ax, k: np.std(a, axis=ax, keepdims=k, ddof=1)),
    "norm": (FLOAT_DT, None),
    "logsumexp": ([np.float32, np.float64, np.int64], None),
}
DIM_CASES = [(op, dt) for op, (dts, _) in DIM_OPS.items() for dt in dts]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", DIMS, ids=str)
@pytest.mark.parametrize("op,dtype", DIM_CASES, ids=[f"{o}-{np.dtype(d).name}" for o, d in DIM_CASES])
def test_dim_reductions(op, dtype, dim, keepdim, layout, rng, torch):
    a, x = make(rng, SHAPE, dtype, layout=layout)
    if op == "logsumexp" and dim is None:
        dim = (0, 1, 2)  # torch requires a dim here
    if op == "norm" and isinstance(dim, (tuple, list)) and len(dim) > 2:  # fro: matrix norm
        with pytest.raises(RuntimeError, match="norm: 'fro' is a matrix norm"):
            fg.norm(x, dim=dim, keepdim=keepdim)
        with pytest.raises(RuntimeError, match="dim must be a 2-tuple"):
            torch.norm(torch_of(torch, a), dim=dim)
        return
    got = getattr(fg, op)(x, dim=dim, keepdim=keepdim)
    want = getattr(torch, op)(torch_of(torch, a), dim=dim, keepdim=keepdim)
    assert_close(got, want, rtol=1e-5, atol=1e-5)
    # The Tensor method is the same op.
    assert_close(getattr(x, op)(dim=dim, keepdim=keepdim), want, rtol=1e-5, atol=1e-5)
    ref = DIM_OPS[op][1]
    if ref is not None:
        assert_close(got, np.asarray(ref(a, np_axis(dim), keepdim)), rtol=1e-5, atol=1e-5)


# name -> dtypes; ops taking a single int dim (or None for all).
INT_DIM_OPS = {
    "prod": ALL_DT,
    "argmax": NUM_DT,
    "argmin": NUM_DT,
    "cumsum": ALL_DT,
    "cumprod": ALL_DT,
    "softmax": FLOAT_DT,
    "log_softmax": FLOAT_DT,
}
INT_CASES = [(op, dt) for op, dts in INT_DIM_OPS.items() for dt in dts]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dim", [0, 1, 2, -1, -3])
@pytest.mark.parametrize("op,dtype", INT_CASES, ids=[f"{o}-{np.dtype(d).name}" for o, d in INT_CASES])
def test_int_dim_ops(op, dtype, dim, layout, rng, torch):
    a, x = make(rng, SHAPE, dtype, layout=layout)
    got = getattr(fg, op)(x, dim)
    want = getattr(torch, op)(torch_of(torch, a), dim)
    assert_close(got, want, rtol=1e-5, atol=1e-6)
    assert_close(getattr(x, op)(dim=dim), want, rtol=1e-5, atol=1e-6)


NP_INT_DIM = {
    "prod": lambda a, d: np.prod(a, axis=d, dtype=np_sum_dtype(a)),
    "argmax": lambda a, d: np.argmax(a, axis=d),
    "argmin": lambda a, d: np.argmin(a, axis=d),
    "cumsum": lambda a, d: np.cumsum(a, axis=d, dtype=np_sum_dtype(a)),
    "cumprod": lambda a, d: np.cumprod(a, axis=d, dtype=np_sum_dtype(a)),
}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", NUM_DT)
@pytest.mark.parametrize("op", list(NP_INT_DIM))
def test_int_dim_ops_numpy(op, dtype, layout, rng):
    a, x = make(rng, SHAPE, dtype, layout=layout)
    for d in (0, 1, -1):
        assert_close(getattr(fg, op)(x, d), NP_INT_DIM[op](a, d))


ALL_DIM_CASES = [(op, dt) for op in ["argmax", "argmin", "prod"] for dt in NUM_DT] + [("prod", np.bool_)]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("op,dtype", ALL_DIM_CASES)
def test_all_dims_and_keepdim(op, dtype, keepdim, layout, rng, torch):
    a, x = make(rng, SHAPE, dtype, layout=layout)
    t = torch_of(torch, a)
    assert_close(getattr(fg, op)(x), getattr(torch, op)(t))
    if op != "prod":  # flat index of the whole (transposed / sliced) tensor
        assert_close(getattr(fg, op)(x, keepdim=keepdim), getattr(torch, op)(t, keepdim=keepdim))
        assert_close(getattr(fg, op)(x, 1, keepdim), getattr(torch, op)(t, 1, keepdim))
        assert to_np(getattr(fg, op)(x)) == getattr(np, op)(a)
    else:
        assert_close(fg.prod(x, 1, keepdim), torch.prod(t, 1, keepdim))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("dtype", ALL_DT)
@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min(op, dtype, dim, keepdim, layout, rng, torch):
    a, x = make(rng, SHAPE, dtype, low=-3, high=3, layout=layout)  # ints: many ties
    t = torch_of(torch, a)
    assert_close(getattr(fg, op)(x), getattr(torch, op)(t))
    r = getattr(x, op)(dim, keepdim)
    want = getattr(torch, op)(t, dim, keepdim)
    assert type(r).__name__ == op and r._fields == ("values", "indices")
    assert_close(r.values, want.values)
    assert_close(r.indices, want.indices)  # ties -> first index, like torch
    values, indices = getattr(fg, op)(x, dim=dim, keepdim=keepdim)
    assert_close(values, want.values)
    assert_close(indices, want.indices)
    # max(other) is the elementwise maximum.
    b, y = make(rng, SHAPE, dtype, layout="contiguous")
    assert_close(getattr(fg, op)(x, y), getattr(torch, op)(t, torch_of(torch, b)))


def test_return_types_repr():
    r = fg.tensor([[1.0, 5.0], [3.0, 2.0]]).max(1)
    assert isinstance(r, fg.return_types.max) and isinstance(r, tuple)
    assert repr(r).startswith("fastgrad.return_types.max(\nvalues=")
    assert isinstance(fg.min(fg.tensor([1, 2]), 0), fg.return_types.min)


# ---- keyword / positional forms ------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda m, x: m.sum(x, 1),
        lambda m, x: m.sum(x, 1, True),
        lambda m, x: m.sum(x, [0, 2]),
        lambda m, x: x.sum((0, -1), keepdim=True),
        lambda m, x: x.sum(dim=()),
        lambda m, x: m.sum(x, dtype=m.float64),
        lambda m, x: m.sum(x, 0, dtype=m.int32),
        lambda m, x: m.mean(x, 1, True),
        lambda m, x: m.prod(x, 1, dtype=m.float64),
        lambda m, x: x.var(1, False, True),
        lambda m, x: x.var(False),
        lambda m, x: m.var(x, 1, correction=0),
        lambda m, x: m.std(x, (0, 1), correction=2, keepdim=True),
        lambda m, x: m.std(x, unbiased=False),
        lambda m, x: x.norm(),
        lambda m, x: x.norm(1),
        lambda m, x: x.norm(p=3, dim=1),
        lambda m, x: m.norm(x, 0, (0, 1)),
        lambda m, x: m.norm(x, float("inf"), 1, True),
        lambda m, x: m.norm(x, float("-inf")),
        lambda m, x: m.norm(x, "fro", (0, 2)),
        lambda m, x: m.norm(x, p=2, dim=1, dtype=m.float64),
        lambda m, x: m.norm(x, -1.5, 2),
        lambda m, x: m.count_nonzero(x, (0, 2)),
        lambda m, x: x.count_nonzero(),
        lambda m, x: m.logsumexp(x, (0, 1), True),
        lambda m, x: m.cumsum(x, 1, dtype=m.float64),
        lambda m, x: m.softmax(x, 1, m.float64),
        lambda m, x: m.log_softmax(x, dim=-1, dtype=m.float64),
        lambda m, x: x.amax((0, 1)),
        lambda m, x: x.amin(-1, True),
        lambda m, x: x.all(1),
        lambda m, x: x.any(),
    ],
)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_call_forms(call, layout, rng, torch):
    a, x = make(rng, SHAPE, np.float32, layout=layout)
    assert_close(call(fg, x), call(torch, torch_of(torch, a)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.bool_])
@pytest.mark.parametrize("op", ["sum", "prod", "cumsum", "cumprod", "nansum"])
def test_int_promotes_to_int64(op, dtype, rng, torch):
    a, x = make(rng, (4, 3), dtype)
    args = (0,) if op.startswith("cum") else ()
    got = getattr(fg, op)(x, *args)
    assert got.dtype == fg.int64
    assert_close(got, getattr(torch, op)(torch_of(torch, a), *args))


@pytest.mark.parametrize(
    "call",
    [
        lambda m, x: m.mean(x, dtype=m.float64),
        lambda m, x: m.mean(x, 1, dtype=m.float32),
        lambda m, x: m.sum(x, 0, dtype=m.float32),
        lambda m, x: m.prod(x, dtype=m.float64),
        lambda m, x: m.cumsum(x, 1, dtype=m.float64),
        lambda m, x: m.cumprod(x, 0, dtype=m.int32),
        lambda m, x: m.softmax(x, 1, dtype=m.float32),
        lambda m, x: m.log_softmax(x, 0, dtype=m.float64),
        lambda m, x: m.logsumexp(x, 1),
        lambda m, x: m.sum(x, np.int64(1)),
        lambda m, x: m.amax(x, (np.int32(0),)),
    ],
)
@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.bool_])
def test_dtype_arg_on_int_input(call, dtype, rng, torch):
    a, x = make(rng, (4, 1, 3), dtype, layout="transposed")
    assert_close(call(fg, x), call(torch, torch_of(torch, a)), rtol=1e-5, atol=1e-6)


def test_size_one_dims_and_tiling(rng, torch):
    # Size-1 kept dims around a column reduction take the tiled path.
    for shape, dims in [((300, 1, 50, 1), (0,)), ((70, 40, 1), (0, 2)), ((9, 200), (0,))]:
        a, x = make(rng, shape, np.float64)
        t = torch_of(torch, a)
        assert_close(fg.sum(x, dims), torch.sum(t, dims))
        assert_close(fg.amin(x, dims, True), torch.amin(t, dims, True))
        assert_close(fg.argmax(x, dims[0]), torch.argmax(t, dims[0]))
        assert_close(fg.std(x, dims), torch.std(t, dims))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("op", ["cumsum", "cumprod", "softmax", "log_softmax"])
def test_lines_along_strided_dims(op, layout, rng, torch):
    # Lines along dim 0 of row-major data go through the tiled gather/scatter.
    for shape, dim in [((200, 1, 30), 0), ((50, 70), 0), ((3, 100, 9), 1), ((40, 20), -1)]:
        a, x = make(rng, shape, np.float64, low=0.5, high=1.5, layout=layout)
        assert_close(getattr(fg, op)(x, dim), getattr(torch, op)(torch_of(torch, a), dim))


def test_int_sum_wraps_like_torch(torch):
    a = np.array([2**62, 2**62, 2**62], dtype=np.int64)
    assert_close(fg.sum(fg.tensor(a)), torch.sum(torch.from_numpy(a)))
    assert_close(fg.prod(fg.tensor(a)), torch.prod(torch.from_numpy(a)))


# ---- accuracy and stability -----------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOAT_DT)
def test_large_sum_accuracy(dtype):
    rng = np.random.default_rng(1)
    a = rng.uniform(0, 1, size=1_000_000).astype(dtype)
    exact = np.sum(a.astype(np.float64))
    for got in (fg.sum(fg.tensor(a)), fg.sum(fg.tensor(a), 0)):
        assert abs(got.item() - exact) <= 1e-5 * abs(exact)
    assert abs(fg.mean(fg.tensor(a)).item() - exact / a.size) <= 1e-5 * exact / a.size


def test_var_accuracy_large_offset():
    # A large mean with a small spread: one-pass sum-of-squares would cancel.
    rng = np.random.default_rng(2)
    a = (1e4 + rng.uniform(0, 1, size=100_000)).astype(np.float32)
    want = np.var(a.astype(np.float64), ddof=1)
    assert abs(fg.var(fg.tensor(a)).item() - want) <= 1e-4 * want


def test_large_parallel_rows(torch):
    # Enough rows to go through the parallel path, with a non-collapsible layout.
    rng = np.random.default_rng(3)
    a, x = make(rng, (64, 50, 40), np.float32, layout="transposed")
    t = torch_of(torch, a)
    assert_close(fg.sum(x, (0, 2)), torch.sum(t, (0, 2)), rtol=1e-5, atol=1e-4)
    assert_close(fg.amax(x, (1, 2)), torch.amax(t, (1, 2)))
    assert_close(fg.argmax(x), torch.argmax(t))
    assert_close(fg.softmax(x, 1), torch.softmax(t, 1))


def test_softmax_logsumexp_large_values(torch):
    a = np.array([[1000.0, 1000.0, 999.0], [-1000.0, -1001.0, -1002.0]], dtype=np.float32)
    x, t = fg.tensor(a), torch.from_numpy(a)
    assert np.isfinite(to_np(fg.softmax(x, 1))).all()
    assert_close(fg.softmax(x, 1), torch.softmax(t, 1))
    assert_close(fg.log_softmax(x, 1), torch.log_softmax(t, 1))
    assert_close(fg.logsumexp(x, 1), torch.logsumexp(t, 1))
    assert abs(fg.logsumexp(x, 1).cpu().numpy()[0] - (1000 + math.log(2 + math.exp(-1)))) < 1e-3
    np.testing.assert_allclose(to_np(fg.softmax(x, 1)).sum(1), 1.0, rtol=1e-6)


@pytest.mark.parametrize(
    "row", [[-math.inf, -math.inf], [math.inf, 1.0], [math.nan, 1.0], [-math.inf, 0.0]], ids=str
)
def test_logsumexp_softmax_special_rows(row, torch):
    a = np.array(row, dtype=np.float32)
    x, t = fg.tensor(a), torch.from_numpy(a)
    assert_close(fg.logsumexp(x, 0), torch.logsumexp(t, 0))
    assert_close(fg.softmax(x, 0), torch.softmax(t, 0))
    assert_close(fg.log_softmax(x, 0), torch.log_softmax(t, 0))


# ---- NaN -----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOAT_DT)
@pytest.mark.parametrize("op", ["max", "min", "amax", "amin", "argmax", "argmin"])
def test_nan_propagation(op, dtype, torch):
    a = np.array([[1.0, np.nan, 3.0, np.nan], [4.0, -2.0, 7.0, 7.0], [np.nan, 0.0, 9.0, -9.0]], dtype=dtype)
    x, t = fg.tensor(a), torch.from_numpy(a)
    f, g = getattr(fg, op), getattr(torch, op)
    assert_close(f(x), g(t))
    if op in ("max", "min"):
        r, w = f(x, 1), g(t, 1)
        assert_close(r.values, w.values)
        assert_close(r.indices, w.indices)  # points at the first NaN
    else:
        assert_close(f(x, 1), g(t, 1))
        assert_close(f(x, 0), g(t, 0))


@pytest.mark.parametrize("p", [0, 1, 2, 3, float("inf"), float("-inf")])
def test_norm_nan_and_values(p, torch):
    a = np.array([[1.0, -3.0, 0.0], [np.nan, 2.0, 1.0]], dtype=np.float64)
    assert_close(fg.norm(fg.tensor(a), p, 1), torch.norm(torch.from_numpy(a), p, 1))
    b = a[:1]
    assert_close(fg.norm(fg.tensor(b), p), np.asarray(np.linalg.norm(b.ravel(), p)))


def test_nansum_skips_nan(torch):
    a = np.array([[1.0, np.nan], [np.nan, np.nan]], dtype=np.float32)
    assert_close(fg.nansum(fg.tensor(a), 1), torch.nansum(torch.from_numpy(a), 1))
    assert_close(fg.sum(fg.tensor(a), 1), np.array([np.nan, np.nan], dtype=np.float32))


# ---- empty and 0-d -------------------------------------------------------------------------


EMPTY_CALLS = [
    ("sum", lambda m, x: m.sum(x)),
    ("sum0", lambda m, x: m.sum(x, 0)),
    ("sum1", lambda m, x: m.sum(x, 1, True)),
    ("prod", lambda m, x: m.prod(x)),
    ("prod0", lambda m, x: m.prod(x, 0)),
    ("mean0", lambda m, x: m.mean(x, 0)),
    ("all", lambda m, x: m.all(x)),
    ("any0", lambda m, x: m.any(x, 0)),
    ("count", lambda m, x: m.count_nonzero(x)),
    ("max1", lambda m, x: m.max(x, 1).values),
    ("argmax1", lambda m, x: m.argmax(x, 1)),
    ("amin1", lambda m, x: m.amin(x, 1)),
    ("logsumexp0", lambda m, x: m.logsumexp(x, 0)),
    ("logsumexp1", lambda m, x: m.logsumexp(x, 1)),
    ("norm", lambda m, x: m.norm(x)),
    ("norm_inf1", lambda m, x: m.norm(x, float("inf"), 1)),
    ("cumsum", lambda m, x: m.cumsum(x, 0)),
    ("softmax", lambda m, x: m.softmax(x, 1)),
]


@pytest.mark.parametrize("call", [c for _, c in EMPTY_CALLS], ids=[n for n, _ in EMPTY_CALLS])
def test_empty(call, torch):
    a = np.zeros((0, 3), dtype=np.float32)
    assert_close(call(fg, fg.tensor(a)), call(torch, torch.from_numpy(a)))


def test_mean_of_empty_is_nan():
    assert math.isnan(fg.mean(fg.tensor(np.zeros((0,), np.float32))).item())
    assert fg.sum(fg.tensor(np.zeros((0, 2), np.int32))).item() == 0


ZERO_D_CALLS = [
    lambda m, x: m.sum(x),
    lambda m, x: m.sum(x, 0),
    lambda m, x: m.sum(x, -1, keepdim=True),
    lambda m, x: m.mean(x, (0,)),
    lambda m, x: m.prod(x, 0),
    lambda m, x: m.max(x),
    lambda m, x: m.max(x, 0).values,
    lambda m, x: m.min(x, 0, True).indices,
    lambda m, x: m.argmax(x),
    lambda m, x: m.argmin(x, 0),
    lambda m, x: m.amax(x, 0),
    lambda m, x: m.logsumexp(x, 0),
    lambda m, x: m.norm(x),
    lambda m, x: m.all(x, 0),
    lambda m, x: m.cumsum(x, 0),
    lambda m, x: m.cumprod(x, -1),
    lambda m, x: m.softmax(x, 0),
    lambda m, x: m.log_softmax(x, -1),
]


@pytest.mark.parametrize("call", ZERO_D_CALLS)
def test_zero_dim(call, torch):
    a = np.array(2.5, dtype=np.float32)
    assert_close(call(fg, fg.tensor(a)), call(torch, torch.from_numpy(a)))


# ---- errors --------------------------------------------------------------------------------

X = np.arange(6, dtype=np.float32).reshape(2, 3)

ERRORS = [
    (lambda x: fg.sum(x, 2), IndexError, "sum"),
    (lambda x: fg.sum(x, (0, -3)), IndexError, "sum"),
    (lambda x: x.mean(5), IndexError, "mean"),
    (lambda x: fg.max(x, 2), IndexError, "max"),
    (lambda x: fg.argmax(x, -3), IndexError, "argmax"),
    (lambda x: fg.cumsum(x, 2), IndexError, "cumsum"),
    (lambda x: fg.softmax(x, 2), IndexError, "softmax"),
    (lambda x: fg.sum(x, (0, 0)), RuntimeError, "sum: dim 0 appears multiple times in the list of dims"),
    (lambda x: fg.amax(x, (1, -1)), RuntimeError, "amax: dim 1 appears multiple times"),
    (lambda x: fg.count_nonzero(x, [0, -2]), RuntimeError, "appears multiple times"),
    (lambda x: fg.mean(x.int()), RuntimeError, r"mean\(\): could not infer output dtype"),
    (lambda x: fg.mean(x.bool()), RuntimeError, r"mean\(\): could not infer output dtype"),
    (lambda x: fg.mean(x, dtype=fg.int64), RuntimeError, r"mean\(\): could not infer output dtype"),
    (lambda x: fg.var(x.long()), RuntimeError, "var: std and var only support floating point"),
    (lambda x: fg.std(x.int(), 0), RuntimeError, "std: std and var only support floating point"),
    (lambda x: fg.norm(x.int()), RuntimeError, "norm: Expected a floating point"),
    (lambda x: fg.norm(x, "nuc"), NotImplementedError, "norm"),
    (lambda x: fg.norm(x, "bad"), ValueError, "norm"),
    (
        lambda x: fg.norm(fg.tensor(np.ones((1, 2, 3))), "fro", (0, 1, 2)),
        RuntimeError,
        "norm: 'fro' is a matrix",
    ),
    (lambda x: fg.argmax(x.bool()), RuntimeError, "argmax"),
    (lambda x: fg.softmax(x.int(), 0), NotImplementedError, "softmax"),
    (lambda x: fg.log_softmax(x, 0, fg.int64), NotImplementedError, "log_softmax"),
    (lambda x: fg.sum(x, 1.5), TypeError, "sum"),
    (lambda x: fg.logsumexp(x), TypeError, "logsumexp"),
    (lambda x: fg.var(x, 0, True, correction=1), RuntimeError, "var"),
]


@pytest.mark.parametrize("call,exc,match", ERRORS)
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call(fg.tensor(X))


EMPTY_ERRORS = [
    (
        lambda e: fg.max(e),
        RuntimeError,
        r"max\(\): Expected reduction dim to be specified for input.numel\(\) == 0",
    ),
    (lambda e: e.min(), RuntimeError, r"min\(\): Expected reduction dim to be specified"),
    (lambda e: fg.argmax(e), IndexError, r"argmax\(\): Expected reduction dim to be specified"),
    (lambda e: fg.amax(e), RuntimeError, r"amax\(\): Expected reduction dim to be specified"),
    (lambda e: fg.max(e, 0), IndexError, r"max\(\): Expected reduction dim 0 to have non-zero size"),
    (lambda e: fg.argmin(e, 0), IndexError, r"argmin\(\): Expected reduction dim 0 to have non-zero size"),
    (lambda e: fg.amax(e, (0, 1)), IndexError, r"amax\(\): Expected reduction dim 0"),
    (lambda e: fg.norm(e, float("inf")), RuntimeError, "norm: cannot compute the inf norm"),
    (
        lambda e: fg.norm(e, float("inf"), 0),
        RuntimeError,
        "norm: cannot compute the inf norm on the dimension 0",
    ),
]


@pytest.mark.parametrize("call,exc,match", EMPTY_ERRORS)
def test_empty_errors(call, exc, match, torch):
    with pytest.raises(exc, match=match):
        call(fg.tensor(np.zeros((0, 3), np.float32)))


@pytest.mark.parametrize("name", ["max", "min", "argmax", "amax"])
def test_empty_errors_match_torch_type(name, torch):
    # Same exception class as torch for the whole-tensor case.
    with pytest.raises(Exception) as ours:
        getattr(fg, name)(fg.tensor(np.zeros((0, 3), np.float32)))
    with pytest.raises(Exception) as theirs:
        getattr(torch, name)(torch.zeros(0, 3))
    assert type(ours.value) is type(theirs.value)
