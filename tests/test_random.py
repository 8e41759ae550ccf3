"""Seeded random generation: reproducibility, independence, statistics, errors."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastgrad as fg

FLOATS = [fg.float32, fg.float64]


def npy(t):
    return np.array(t.numpy(), copy=True)


# ---- the Philox core ------------------------------------------------------------------


@pytest.mark.parametrize(
    "key,ctr,expected",
    [  # Known-answer vectors of Philox4x32-10 (Salmon et al., Random123).
        (0, (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
        (2**64 - 1, (2**64 - 1, 2**64 - 1), (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
        (
            0x299F31D0A4093822,
            (0x85A308D3243F6A88, 0x0370734413198A2E),
            (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
        ),
    ],
)
def test_philox_known_answers(key, ctr, expected):
    assert fg._C._philox4x32_10(key, *ctr) == expected


# ---- seeding and reproducibility ------------------------------------------------------

DRAWS = {
    "rand": lambda g=None: fg.rand(50, 3, generator=g),
    "randn": lambda g=None: fg.randn(7, 11, dtype=fg.float64, generator=g),
    "randint": lambda g=None: fg.randint(-5, 1000, (40,), generator=g),
    "randperm": lambda g=None: fg.randperm(33, generator=g),
    "normal": lambda g=None: fg.normal(2.0, 3.0, (20,), generator=g),
    "uniform_": lambda g=None: fg.empty(30).uniform_(-2, 5, generator=g),
    "normal_": lambda g=None: fg.empty(30, dtype=fg.float64).normal_(1, 2, generator=g),
    "bernoulli_": lambda g=None: fg.empty(64).bernoulli_(0.3, generator=g),
    "bernoulli": lambda g=None: fg.bernoulli(fg.full((64,), 0.5), generator=g),
}


@pytest.mark.parametrize("name", DRAWS)
def test_same_seed_same_values(name):
    draw = DRAWS[name]
    fg.manual_seed(123)
    a, b = npy(draw()), npy(draw())
    fg.manual_seed(123)
    c, d = npy(draw()), npy(draw())
    np.testing.assert_array_equal(a, c)
    np.testing.assert_array_equal(b, d)
    assert not np.array_equal(a, b)  # the stream advances
    fg.manual_seed(124)
    assert not np.array_equal(npy(draw()), a)


@pytest.mark.parametrize("name", DRAWS)
def test_generator_objects_independent(name):
    draw = DRAWS[name]
    g1, g2 = fg.Generator(), fg.Generator()
    g1.manual_seed(7)
    g2.manual_seed(7)
    fg.manual_seed(99)
    x = npy(draw(g1))
    global_after = npy(draw())
    fg.manual_seed(99)
    npy(draw(g2))  # drawing from another generator does not move the global one
    np.testing.assert_array_equal(npy(draw()), global_after)
    g1.manual_seed(7)
    np.testing.assert_array_equal(npy(draw(g1)), x)


def test_generator_api():
    g = fg.Generator()
    assert g.initial_seed() == 67280421310721  # PyTorch's fixed default
    assert g.manual_seed(5) is g and g.initial_seed() == 5
    assert g.device == fg.device("cpu")
    s = g.seed()
    assert isinstance(s, int) and g.initial_seed() == s
    gen = fg.manual_seed(42)
    assert isinstance(gen, fg.Generator) and fg.initial_seed() == 42
    assert gen.initial_seed() == 42 and fg.default_generator.initial_seed() == 42
    fg.manual_seed(-1)
    assert fg.initial_seed() == 2**64 - 1
    fg.manual_seed(2**64 - 1)
    assert fg.initial_seed() == 2**64 - 1
    with pytest.raises(RuntimeError, match="manual_seed"):
        fg.manual_seed(2**64)
    with pytest.raises(TypeError):
        fg.manual_seed(1.5)
    s = fg.seed()
    assert fg.initial_seed() == s


def test_default_seed_in_fresh_process():
    code = "import fastgrad as fg; print(fg.initial_seed(), fg.rand(4).numpy().tolist())"
    outs = [_run(code, {}) for _ in range(2)]
    assert outs[0] == outs[1]
    assert outs[0].split()[0] == "67280421310721"


def test_rng_state_roundtrip():
    fg.manual_seed(3)
    fg.rand(10)
    state = fg.get_rng_state()
    assert isinstance(state, bytes) and len(state) == 16
    a = npy(fg.randn(20))
    fg.rand(5)
    fg.set_rng_state(state)
    np.testing.assert_array_equal(npy(fg.randn(20)), a)

    g = fg.Generator().manual_seed(11)
    st = g.get_state()
    b = npy(fg.rand(8, generator=g))
    assert g.set_state(st) is g
    np.testing.assert_array_equal(npy(fg.rand(8, generator=g)), b)
    with pytest.raises(RuntimeError, match="set_state: expected a generator state of 16 bytes"):
        fg.set_rng_state(b"abc")


def test_same_values_for_any_layout():
    # Element i (row-major) is drawn from counter i: a non-contiguous view gets
    # the values a contiguous tensor would.
    g = fg.Generator().manual_seed(5)
    base = np.zeros((6, 8), np.float32)
    view = fg.from_numpy(base.T)  # (8, 6), transposed strides
    view.uniform_(generator=g)
    g.manual_seed(5)
    ref = npy(fg.empty(8, 6).uniform_(generator=g))
    np.testing.assert_array_equal(npy(view), ref)
    np.testing.assert_array_equal(base.T, ref)


def _run(code, env):
    e = dict(os.environ, **env)
    e["PYTHONPATH"] = os.pathsep.join(sys.path)
    r = subprocess.run([sys.executable, "-c", code], env=e, capture_output=True, text=True, check=True)
    return r.stdout


def test_independent_of_thread_count():
    # Large enough that the fills run in several parallel chunks.
    code = textwrap.dedent(
        """
        import hashlib, fastgrad as fg
        fg.manual_seed(2024)
        parts = [fg.rand(200_000), fg.randn(150_001, dtype=fg.float64),
                 fg.randint(0, 1000, (100_000,)), fg.randperm(50_000),
                 fg.empty(100_000).bernoulli_(0.25), fg.empty(90_000).normal_(3, 2),
                 fg.arange(0.0, 10.0, 1e-4), fg.linspace(-1, 1, 100_003)]
        h = hashlib.sha256()
        for p in parts:
            h.update(p.numpy().tobytes())
        print(h.hexdigest())
        """
    )
    one = _run(code, {"OMP_NUM_THREADS": "1"})
    two = _run(code, {"OMP_NUM_THREADS": "2"})
    four = _run(code, {"OMP_NUM_THREADS": "4"})
    assert one == two == four and len(one.strip()) == 64


# ---- distributions ---------------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOATS)
def test_rand_range_and_moments(dtype):
    fg.manual_seed(0)
    x = npy(fg.rand(100_000, dtype=dtype))
    assert x.dtype == np.dtype(dtype.name)
    assert x.min() >= 0.0 and x.max() < 1.0
    assert abs(x.mean() - 0.5) < 0.005 and abs(x.var() - 1 / 12) < 0.002
    hist, _ = np.histogram(x, bins=10, range=(0, 1))
    assert (np.abs(hist - 10_000) < 500).all()


@pytest.mark.parametrize("dtype", FLOATS)
def test_randn_moments(dtype):
    fg.manual_seed(1)
    x = npy(fg.randn(100_000, dtype=dtype)).astype(np.float64)
    assert abs(x.mean()) < 0.015 and abs(x.std() - 1) < 0.015
    assert abs(np.mean(x**3)) < 0.05 and abs(np.mean(x**4) - 3) < 0.1  # skew, kurtosis
    assert abs(np.mean(np.abs(x) < 1) - 0.6827) < 0.01
    assert np.isfinite(x).all()


def test_normal_and_normal_():
    fg.manual_seed(2)
    x = npy(fg.normal(3.0, 2.0, (100_000,)))
    assert x.dtype == np.float32
    assert abs(x.mean() - 3) < 0.03 and abs(x.std() - 2) < 0.03
    y = npy(fg.zeros(100_000, dtype=fg.float64).normal_(mean=-1.0, std=0.5))
    assert abs(y.mean() + 1) < 0.01 and abs(y.std() - 0.5) < 0.01
    z = npy(fg.ones(10).normal_(4.0, 0.0))
    np.testing.assert_array_equal(z, np.full(10, 4.0, np.float32))


def test_uniform_():
    t = fg.empty(100_000, dtype=fg.float64)
    assert t.uniform_(-3, 5) is not None
    x = npy(t)
    assert x.min() >= -3 and x.max() < 5
    assert abs(x.mean() - 1) < 0.05 and abs(x.var() - 64 / 12) < 0.1
    v = t._version
    t.uniform_()
    assert t._version > v
    x = npy(fg.empty(1000).uniform_(**{"from": 2.0, "to": 2.0}))
    assert (x == 2.0).all()
    # A float32 range whose double value would round up to `to` stays below it.
    x = npy(fg.empty(100_000).uniform_(1.0, 1.0000001))
    assert (x < np.float32(1.0000001)).all() and (x >= 1.0).all()


@pytest.mark.parametrize("dtype", [fg.int32, fg.int64, fg.float32, fg.float64, fg.bool])
def test_randint_bounds_and_coverage(dtype):
    low, high = (0, 2) if dtype == fg.bool else (-3, 7)
    fg.manual_seed(4)
    x = npy(fg.randint(low, high, (20_000,), dtype=dtype))
    assert x.dtype == np.dtype(dtype.name if dtype != fg.bool else "bool")
    vals = x.astype(np.int64)
    assert vals.min() == low and vals.max() == high - 1
    counts = np.bincount(vals - low, minlength=high - low)
    assert (np.abs(counts - 20_000 / (high - low)) < 0.1 * 20_000 / (high - low)).all()


def test_randint_forms(torch):
    fg.manual_seed(0)
    for t, lo, hi in [
        (fg.randint(5, (100,)), 0, 5),
        (fg.randint(2, 5, (100,)), 2, 5),
        (fg.randint(high=10, size=(100,)), 0, 10),
        (fg.randint(3, high=6, size=(100,)), 3, 6),
        (fg.randint(-3, -1, (2, 50)), -3, -1),
        (fg.randint(0, 2**62, [100]), 0, 2**62),
        (fg.randint(-(2**63), 2**63 - 1, (100,)), -(2**63), 2**63 - 1),
    ]:
        x = npy(t)
        assert t.dtype == fg.int64 and x.min() >= lo and x.max() < hi
    assert fg.randint(3, (2,), dtype=fg.int32).dtype == fg.int32
    assert tuple(fg.randint(0, 4, ()).shape) == ()
    assert fg.randint(0, 4, (0, 3)).numel() == 0
    big = npy(fg.randint(0, 2**62, (1000,)))
    assert big.max() > 2**60  # uses the high bits too
    assert str(torch.randint(5, (2,)).dtype) == "torch.int64"


@pytest.mark.parametrize("n", [0, 1, 2, 10, 1000, 100_000])
def test_randperm_is_permutation(n):
    fg.manual_seed(n)
    p = fg.randperm(n)
    assert p.dtype == fg.int64 and tuple(p.shape) == (n,)
    np.testing.assert_array_equal(np.sort(npy(p)), np.arange(n))
    if n >= 1000:
        assert (npy(p) != np.arange(n)).mean() > 0.99


def test_randperm_dtypes_and_uniformity():
    np.testing.assert_array_equal(np.sort(npy(fg.randperm(20, dtype=fg.float32))), np.arange(20, dtype=np.float32))
    assert fg.randperm(5, dtype=fg.int32).dtype == fg.int32
    # Each of the 6 permutations of 3 elements appears about equally often.
    fg.manual_seed(0)
    counts = {}
    for _ in range(3000):
        key = tuple(npy(fg.randperm(3)))
        counts[key] = counts.get(key, 0) + 1
    assert len(counts) == 6 and all(abs(c - 500) < 100 for c in counts.values())


def test_bernoulli():
    fg.manual_seed(5)
    p = fg.tensor(np.linspace(0, 1, 11).repeat(10_000).reshape(11, 10_000))
    x = npy(fg.bernoulli(p.double()))
    assert x.dtype == np.float64 and set(np.unique(x)) <= {0.0, 1.0}
    np.testing.assert_allclose(x.mean(axis=1), np.linspace(0, 1, 11), atol=0.02)
    assert x[0].sum() == 0 and x[-1].sum() == 10_000
    y = npy(fg.bernoulli(fg.zeros(50_000), 0.25))
    assert y.dtype == np.float32 and abs(y.mean() - 0.25) < 0.01
    m = fg.bernoulli(fg.zeros(3, 4), generator=fg.Generator())
    assert tuple(m.shape) == (3, 4) and npy(m).sum() == 0
    z = npy(fg.zeros(20_000, dtype=fg.int64).bernoulli_(0.75))
    assert z.dtype == np.int64 and abs(z.mean() - 0.75) < 0.02
    b = fg.zeros(4, 5000, dtype=fg.bool).bernoulli_(fg.tensor([[0.0], [1.0], [0.5], [0.5]]))
    bm = npy(b).mean(axis=1)
    assert bm[0] == 0 and bm[1] == 1 and abs(bm[2] - 0.5) < 0.05


# ---- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (lambda: fg.randint(5, 5, (3,)), RuntimeError, "randint: expects 'low' to be less than 'high'"),
        (lambda: fg.randint(5, 2, (3,)), RuntimeError, "randint: expects 'low'"),
        (lambda: fg.randint(0, 10, (3,), dtype=fg.bool), RuntimeError, "randint: range .* out of bounds for bool"),
        (lambda: fg.randint(0, 2**31 + 1, (3,), dtype=fg.int32), RuntimeError, "randint: range .* int32"),
        (lambda: fg.randint(3), TypeError, "randint"),
        (lambda: fg.rand(3, dtype=fg.int64), NotImplementedError, "rand: expected a floating point dtype"),
        (lambda: fg.randn(3, dtype=fg.int32), NotImplementedError, "randn: expected a floating point dtype"),
        (lambda: fg.normal(0.0, -1.0, (3,)), RuntimeError, "normal: expects std >= 0.0"),
        (lambda: fg.normal(fg.zeros(3), 1.0), NotImplementedError, "normal"),
        (lambda: fg.zeros(3).normal_(0, -1), RuntimeError, "normal_: expects std >= 0.0"),
        (lambda: fg.zeros(3, dtype=fg.int64).normal_(), NotImplementedError, "normal_"),
        (lambda: fg.zeros(3, dtype=fg.int64).uniform_(), NotImplementedError, "uniform_"),
        (lambda: fg.zeros(3).uniform_(1, 0), RuntimeError, r"uniform_: expects to return a \[from, to\) range"),
        (lambda: fg.zeros(3).bernoulli_(1.5), RuntimeError, r"bernoulli_: expects p to be in \[0, 1\]"),
        (lambda: fg.bernoulli(fg.full((3,), 2.0)), RuntimeError, r"bernoulli_: expected all probabilities in \[0, 1\]"),
        (lambda: fg.bernoulli(fg.zeros(3, dtype=fg.int64)), NotImplementedError, "bernoulli"),
        (lambda: fg.zeros(3).bernoulli_(fg.zeros(4)), ValueError, "copy_"),
        (lambda: fg.randperm(-1), RuntimeError, "randperm: n must be non-negative"),
        (lambda: fg.randperm(3, dtype=fg.bool), NotImplementedError, "randperm"),
        (lambda: fg.randperm(2**25, dtype=fg.float32), RuntimeError, "randperm: n=.* too large"),
        (lambda: fg.Generator("cuda"), RuntimeError, "Generator"),
    ],
)
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_torch_agrees_on_error_cases(torch):
    for call in [
        lambda: torch.randint(5, 5, (3,)),
        lambda: torch.randint(0, 10, (3,), dtype=torch.bool),
        lambda: torch.rand(3, dtype=torch.int64),
        lambda: torch.zeros(3).uniform_(1, 0),
        lambda: torch.zeros(3).normal_(0, -1),
        lambda: torch.zeros(3).bernoulli_(1.5),
        lambda: torch.randperm(3, dtype=torch.bool),
    ]:
        with pytest.raises(RuntimeError):
            call()


def test_random_dtype_table(torch):
    # Default dtypes of the random factories agree with torch.
    for fg_t, t_t in [
        (fg.rand(2), torch.rand(2)),
        (fg.randn(2), torch.randn(2)),
        (fg.randint(3, (2,)), torch.randint(3, (2,))),
        (fg.randperm(3), torch.randperm(3)),
        (fg.normal(0.0, 1.0, (2,)), torch.normal(0.0, 1.0, (2,))),
        (fg.bernoulli(fg.full((2,), 0.5, dtype=fg.float64)), torch.bernoulli(torch.full((2,), 0.5, dtype=torch.float64))),
    ]:
        assert fg_t.dtype.name == str(t_t.dtype).replace("torch.", "")


def test_random_requires_grad():
    assert fg.rand(3, requires_grad=True).requires_grad
    assert not fg.randn(3).requires_grad
    with pytest.raises(RuntimeError, match="floating point"):
        fg.randint(0, 3, (2,), requires_grad=True)


def test_random_on_expanded_tensor_rejected():
    base = np.zeros(3, np.float32)
    t = fg.from_numpy(np.lib.stride_tricks.as_strided(base, (4, 3), (0, 4)))
    with pytest.raises(RuntimeError, match="uniform_: unsupported operation"):
        t.uniform_()


@pytest.mark.parametrize("dtype", [fg.int32, fg.int64, fg.float32, fg.float64])
def test_random_method(dtype):
    t = fg.zeros(5000, dtype=dtype)
    x = npy(t.random_(-2, 3))
    assert set(np.unique(x).astype(int)) == {-2, -1, 0, 1, 2}
    x = npy(t.random_(4, generator=fg.Generator()))
    assert set(np.unique(x).astype(int)) == {0, 1, 2, 3}
    with pytest.raises(RuntimeError, match="random_: expects 'from' to be less than 'to'"):
        t.random_(3, 3)
