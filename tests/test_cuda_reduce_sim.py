"""The CUDA reduction and scan kernels' arithmetic, checked on the CPU.

_C._cuda._reduce_sim runs the combiners of csrc/math/reduce.h through the
exact decomposition the kernels use (reduce_plan.h: per-thread strided
partials, the warp shuffle tree, cross-warp and cross-split merges, the
column kernel's shared-memory merge); _C._cuda._scan_sim runs the warp scan.
torch is the oracle. Every build runs these; the kernels themselves need a GPU
(tests/test_cuda_ops.py).
"""

import math

import fastgrad as fg
import numpy as np
import pytest
import torch
from fastgrad import _C

rng = np.random.default_rng(0)

# (name, shape, dims): each kernel shape of plan_reduce at least once.
LAYOUTS = [
    ("warp", (5, 37), [1]),                 # short contiguous runs: a warp per row
    ("cols", (300, 70), [0]),               # strided run, adjacent rows: column kernel
    ("block", (40, 2000), [1]),             # long runs: a block per row
    ("block-split", (3, 40000), [1]),       # few long rows: partials + merge kernel
    ("full-split", (70001,), None),         # everything into one value
    ("permuted", (4, 5, 6), [0, 2]),        # reduced dims that need the copy
    ("middle", (6, 50, 7), [1]),            # strided run between kept dims
]


def sim(x, op, dim=None, **kw):
    return _C._cuda._reduce_sim(fg.tensor(x), op, dim, **kw).numpy()


def oracle(x, op, dim, **kw):
    """torch's op over the reduced dims, moved last and flattened into one."""
    d = list(dim) if dim else list(range(x.ndim))
    keep = [i for i in range(x.ndim) if i not in d]
    t = torch.from_numpy(x).permute(keep + d).reshape([x.shape[i] for i in keep] + [-1])
    if op == "norm":
        return torch.linalg.vector_norm(t, kw["p"], dim=-1).numpy()
    if op in ("var", "std"):
        return getattr(torch, op)(t, dim=-1, correction=kw["correction"]).numpy()
    return getattr(torch, op)(t, dim=-1).numpy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", ["sum", "mean", "prod", "amax", "amin", "logsumexp", "nansum"])
@pytest.mark.parametrize("case", LAYOUTS, ids=lambda c: c[0])
def test_float_reductions_match_torch(case, op, dtype):
    _, shape, dim = case
    x = rng.standard_normal(shape).astype(dtype)
    if op == "prod":
        x = (1 + x * 1e-3).astype(dtype)  # keeps long products finite
    if op == "nansum":
        x.flat[::7] = np.nan
    got, want = sim(x, op, dim), oracle(x, op, dim)
    tol = 1e-5 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * 10)


@pytest.mark.parametrize("op", ["argmax", "argmin"])
@pytest.mark.parametrize("case", [c for c in LAYOUTS if c[2] is None or len(c[2]) == 1],
                         ids=lambda c: c[0])
def test_arg_extremes_pick_first_on_ties(case, op):
    _, shape, dim = case
    # Few distinct values: ties everywhere, across threads, warps and splits.
    x = rng.integers(-3, 4, size=shape).astype(np.float32)
    np.testing.assert_array_equal(sim(x, op, dim), oracle(x, op, dim))


def test_first_nan_wins_across_splits():
    x = np.zeros(70001, np.float32)
    x[[5, 30000]] = 1.0
    assert sim(x, "argmax") == 5
    x[[50000, 20000]] = np.nan
    assert sim(x, "argmax") == 20000 and sim(x, "argmin") == 20000
    assert np.isnan(sim(x, "amax")) and np.isnan(sim(x, "amin"))


@pytest.mark.parametrize("correction", [0.0, 1.0])
@pytest.mark.parametrize("op", ["var", "std"])
@pytest.mark.parametrize("case", LAYOUTS, ids=lambda c: c[0])
def test_welford_var_matches_two_pass(case, op, correction):
    _, shape, dim = case
    # A large mean: naive sums of squares would cancel; Welford + Chan do not.
    x = 1e6 + rng.standard_normal(shape)
    got = sim(x, op, dim, correction=correction)
    want = oracle(x, op, dim, correction=correction)
    np.testing.assert_allclose(got, want, rtol=1e-8)


def test_var_of_too_few_elements_is_nan():
    x = np.ones((3, 1))
    assert np.isnan(sim(x, "var", [1])).all()
    np.testing.assert_array_equal(sim(x, "var", [1], correction=0.0), np.zeros(3))


@pytest.mark.parametrize("p", [0.0, 1.0, 2.0, 3.0, 0.5, math.inf, -math.inf])
@pytest.mark.parametrize("case", LAYOUTS, ids=lambda c: c[0])
def test_norms_match_torch(case, p):
    _, shape, dim = case
    x = rng.standard_normal(shape)
    x.flat[::5] = 0.0
    np.testing.assert_allclose(sim(x, "norm", dim, p=p), oracle(x, "norm", dim, p=p),
                               rtol=1e-10)


def test_inf_norm_propagates_nan():
    x = np.ones(5000)
    x[3000] = np.nan
    assert np.isnan(sim(x, "norm", p=math.inf))
    assert np.isnan(sim(x, "norm", p=-math.inf))


def test_logsumexp_infinities_and_nan():
    x = np.array([[-np.inf] * 40, [1.0] * 39 + [np.inf], [0.0] * 39 + [np.nan],
                  [1000.0, -1000.0] * 20])
    np.testing.assert_array_equal(sim(x, "logsumexp", [1]), oracle(x, "logsumexp", [1]))


@pytest.mark.parametrize("case", LAYOUTS, ids=lambda c: c[0])
def test_integer_and_bool_reductions(case):
    _, shape, dim = case
    x = rng.integers(-(2**62), 2**62, size=shape)  # sums wrap like torch's
    np.testing.assert_array_equal(sim(x, "sum", dim), oracle(x, "sum", dim))
    np.testing.assert_array_equal(sim(x, "prod", dim), oracle(x, "prod", dim))
    small = rng.integers(0, 3, size=shape)
    for op in ("any", "all", "count_nonzero"):
        np.testing.assert_array_equal(sim(small, op, dim), oracle(small, op, dim))
    b = small.astype(bool)
    np.testing.assert_array_equal(sim(b, "sum", dim), oracle(b, "any", dim))


def test_empty_runs_give_identities():
    x = np.zeros((3, 0), np.float32)
    np.testing.assert_array_equal(sim(x, "sum", [1]), np.zeros(3))
    np.testing.assert_array_equal(sim(x, "prod", [1]), np.ones(3))
    assert np.isnan(sim(x, "mean", [1])).all()


def test_unknown_op_raises():
    with pytest.raises(ValueError, match="unknown op 'median'"):
        sim(np.ones(3), "median")
    with pytest.raises(ValueError, match="unknown op 'var' for int64"):
        sim(np.ones(3, np.int64), "var")


@pytest.mark.parametrize("n", [1, 31, 32, 33, 100])
def test_warp_scan_matches_torch(n):
    x = rng.standard_normal((4, n))
    got = _C._cuda._scan_sim(fg.tensor(x)).numpy()
    np.testing.assert_allclose(got, np.cumsum(x, axis=1), rtol=1e-12, atol=1e-12)
    y = 1 + 0.01 * x
    got = _C._cuda._scan_sim(fg.tensor(y), prod=True).numpy()
    np.testing.assert_allclose(got, np.cumprod(y, axis=1), rtol=1e-12)
    i = rng.integers(-(2**62), 2**62, size=(3, n))
    want = torch.cumsum(torch.from_numpy(i), 1).numpy()  # wraps
    np.testing.assert_array_equal(_C._cuda._scan_sim(fg.tensor(i)).numpy(), want)


@pytest.mark.parametrize("n", [1, 7, 4096 + 3])
@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_dropout_device_draw_matches_cpu_mask(n, p):
    """The per-element draw the CUDA kernel runs gives the CPU's mask bits."""
    fg.manual_seed(11)
    y = fg.nn.functional.dropout(fg.ones(n), p)
    fg.manual_seed(11)
    keep = _C._cuda._dropout_keep_sim(n, p).numpy()
    np.testing.assert_array_equal(keep, y.numpy() != 0)
