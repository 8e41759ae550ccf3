"""Matrix products (matmul/@, mm, bmm, mv, dot, outer, addmm) and thread knobs,
compared with numpy and torch over dtypes, layouts, broadcasting and empty dims."""

import numpy as np
import pytest

import fastgrad as fg
from helpers import assert_close, make

# Every test runs on each device (conftest.py's `device` fixture).
pytestmark = pytest.mark.usefixtures("device")

FLOAT = [np.float32, np.float64]
NUMERIC = FLOAT + [np.int32, np.int64]
# (layout of a, layout of b): "transposed" views are read by BLAS in place,
# "sliced" (step 2 in every dim) ones must be copied first.
LAYOUTS = [
    ("contiguous", "contiguous"),
    ("transposed", "contiguous"),
    ("contiguous", "transposed"),
    ("transposed", "transposed"),
    ("sliced", "transposed"),
    ("sliced", "sliced"),
]

MATMUL_SHAPES = [
    ((3,), (3,)),  # dot -> 0-d
    ((1,), (1,)),
    ((2, 3), (3,)),  # mv
    ((3,), (3, 4)),  # prepend + remove
    ((2, 3), (3, 4)),
    ((1, 1), (1, 1)),
    ((4, 1), (1, 5)),  # k == 1
    ((1, 7), (7, 1)),
    ((2, 3, 4), (2, 4, 5)),
    ((2, 1, 3, 4), (5, 4, 6)),  # broadcast batch dims
    ((3, 4), (2, 4, 5)),  # 2-D @ N-D
    ((2, 3, 4), (4, 5)),  # N-D @ 2-D (folded into one gemm when possible)
    ((2, 3, 4), (4,)),
    ((4,), (2, 4, 5)),
    ((1, 3, 1, 4), (2, 1, 4, 2)),
    ((0, 3), (3, 4)),  # empty m
    ((2, 3), (3, 0)),  # empty n
    ((2, 0), (0, 4)),  # k == 0 -> zeros
    ((0,), (0,)),
    ((2, 0, 3), (3, 4)),
    ((0, 2, 3), (1, 3, 4)),
    ((3, 2, 0), (0, 5)),
    ((5, 512), (512, 6)),  # long K
    ((2, 33, 70), (70, 40)),
    ((300, 8, 16), (300, 16, 8)),  # many small gemms: spread over OpenMP threads
]


def tol(dtype, k):
    if np.dtype(dtype) == np.float32:
        return {"rtol": 1e-4, "atol": 1e-5 * max(k, 1)}
    return {"rtol": 1e-10, "atol": 1e-12 * max(k, 1)}


def int_range(dtype):
    # Small magnitudes keep int32 sums away from overflow (compared exactly).
    return (-5, 5) if np.dtype(dtype).kind == "i" else (-2.0, 2.0)


@pytest.mark.parametrize("layouts", LAYOUTS, ids=lambda p: "-".join(x[:5] for x in p))
@pytest.mark.parametrize("dtype", NUMERIC, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul_matches_numpy_and_torch(rng, torch, shapes, dtype, layouts):
    lo, hi = int_range(dtype)
    na, a = make(rng, shapes[0], dtype, lo, hi, layout=layouts[0])
    nb, b = make(rng, shapes[1], dtype, lo, hi, layout=layouts[1])
    expected = np.matmul(na, nb)
    kw = tol(dtype, shapes[0][-1])
    for got in (fg.matmul(a, b), a @ b, a.matmul(b), fg.matmul(input=a, other=b)):
        assert_close(got, expected, **kw)
    assert_close(fg.matmul(a, b), torch.from_numpy(na) @ torch.from_numpy(nb), **kw)


def test_matmul_long_k_float32_accuracy(rng):
    # float32 against a float64 reference: K = 512 stays within ~1e-4 relative.
    na, a = make(rng, (16, 512), np.float32)
    nb, b = make(rng, (512, 16), np.float32)
    ref = na.astype(np.float64) @ nb.astype(np.float64)
    np.testing.assert_allclose(fg.mm(a, b).cpu().numpy(), ref, rtol=1e-4, atol=5e-4)


def test_rmatmul_reflects_operands(rng):
    na, a = make(rng, (2, 3))
    nb, b = make(rng, (3, 4))
    assert_close(b.__rmatmul__(a), na @ nb, rtol=1e-5)


def test_integer_products_are_exact(rng):
    # Through dgemm: exact while partial sums stay below 2^53.
    na = rng.integers(-(10**6), 10**6, size=(5, 100), dtype=np.int64)
    nb = rng.integers(-(10**6), 10**6, size=(100, 3), dtype=np.int64)
    assert_close(fg.tensor(na) @ fg.tensor(nb), na @ nb)


# ---- mm / bmm / mv / dot / outer --------------------------------------------

OP_CASES = [
    # name, shapes, torch function
    ("mm", [(2, 3), (3, 4)]),
    ("mm", [(1, 1), (1, 1)]),
    ("mm", [(0, 3), (3, 2)]),
    ("mm", [(3, 0), (0, 2)]),
    ("mm", [(64, 70), (70, 65)]),
    ("bmm", [(2, 3, 4), (2, 4, 5)]),
    ("bmm", [(1, 3, 4), (1, 4, 1)]),
    ("bmm", [(0, 3, 4), (0, 4, 5)]),
    ("bmm", [(3, 2, 0), (3, 0, 4)]),
    ("bmm", [(40, 5, 6), (40, 6, 7)]),  # many small: parallel over batches
    ("mv", [(2, 3), (3,)]),
    ("mv", [(0, 3), (3,)]),
    ("mv", [(2, 0), (0,)]),
    ("dot", [(5,), (5,)]),
    ("dot", [(0,), (0,)]),
    ("outer", [(3,), (4,)]),
    ("outer", [(0,), (4,)]),
]
# The name of each op's second argument in PyTorch's signature.
SECOND_ARG = {"mm": "mat2", "bmm": "mat2", "mv": "vec", "dot": "tensor", "outer": "vec2"}


@pytest.mark.parametrize("layout", ["contiguous", "transposed", "sliced"])
@pytest.mark.parametrize("dtype", NUMERIC, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name,shapes", OP_CASES, ids=lambda x: str(x))
def test_products_match_torch(rng, torch, name, shapes, dtype, layout):
    lo, hi = int_range(dtype)
    (na, a), (nb, b) = (make(rng, s, dtype, lo, hi, layout=layout) for s in shapes)
    expected = getattr(torch, name)(torch.from_numpy(na), torch.from_numpy(nb))
    kw = tol(dtype, shapes[0][-1])
    fn = getattr(fg, name)
    for got in (fn(a, b), getattr(a, name)(b), fn(input=a, **{SECOND_ARG[name]: b})):
        assert_close(got, expected, **kw)
    assert_close(fn(a, b), np.matmul(na.reshape(shapes[0] if name != "outer" else (-1, 1)),
                                     nb.reshape(shapes[1] if name != "outer" else (1, -1))), **kw)


@pytest.mark.parametrize("dtypes", [(np.float32, np.float64), (np.int32, np.float32),
                                    (np.bool_, np.bool_), (np.bool_, np.int64)])
def test_outer_promotes_like_torch(rng, torch, dtypes):
    (na, a), (nb, b) = make(rng, (3,), dtypes[0]), make(rng, (2,), dtypes[1])
    expected = torch.outer(torch.from_numpy(na), torch.from_numpy(nb))
    assert_close(fg.outer(a, b), expected)
    assert_close(a.outer(b), expected)
    assert_close(fg.ger(a, b), expected)
    # numpy promotes int32 x float32 to float64, torch (and fastgrad) to float32.
    assert_close(fg.outer(a, b), np.multiply.outer(na, nb), check_dtype=False)


# ---- addmm -------------------------------------------------------------------

ADDMM_INPUTS = [(2, 4), (4,), (1, 4), (2, 1), (), (1,)]


@pytest.mark.parametrize("beta,alpha", [(1, 1), (0.5, 2.0), (0, 1), (2, 0), (-1, 3)])
@pytest.mark.parametrize("in_shape", ADDMM_INPUTS, ids=str)
@pytest.mark.parametrize("dtype", NUMERIC, ids=lambda d: np.dtype(d).name)
def test_addmm_matches_torch(rng, torch, dtype, in_shape, beta, alpha):
    lo, hi = int_range(dtype)
    if np.dtype(dtype).kind == "i":
        beta, alpha = int(beta), int(alpha)
    ni, inp = make(rng, in_shape, dtype, lo, hi)
    (n1, m1), (n2, m2) = make(rng, (2, 3), dtype, lo, hi, layout="transposed"), make(
        rng, (3, 4), dtype, lo, hi)
    expected = torch.addmm(torch.from_numpy(ni), torch.from_numpy(n1), torch.from_numpy(n2),
                           beta=beta, alpha=alpha)
    kw = tol(dtype, 3)
    assert_close(fg.addmm(inp, m1, m2, beta=beta, alpha=alpha), expected, **kw)
    assert_close(inp.addmm(m1, m2, beta=beta, alpha=alpha), expected, **kw)
    assert_close(fg.addmm(inp, m1, m2, beta=beta, alpha=alpha),
                 beta * ni + alpha * (n1 @ n2), **kw)


def test_addmm_defaults_and_k0(rng, torch):
    ni, inp = make(rng, (2, 3))
    na, a = make(rng, (2, 0))
    nb, b = make(rng, (0, 3))
    assert_close(fg.addmm(inp, a, b), ni)
    assert_close(fg.addmm(inp, a, b, beta=2.5), torch.addmm(
        torch.from_numpy(ni), torch.from_numpy(na), torch.from_numpy(nb), beta=2.5))
    assert_close(fg.addmm(inp, a, b, beta=0), np.zeros((2, 3), np.float32))


def test_addmm_beta_zero_ignores_nan(rng):
    inp = fg.tensor(np.full((2, 2), np.nan, dtype=np.float32))
    na, a = make(rng, (2, 3))
    nb, b = make(rng, (3, 2))
    assert_close(fg.addmm(inp, a, b, beta=0), na @ nb, rtol=1e-5)


# ---- BLAS reads transposed operands in place ---------------------------------


def copies():
    return fg._C._linalg_copies()


def view(arr):
    return fg.from_numpy(arr)


@pytest.mark.cpu_only  # CPU BLAS internals
def test_transposed_operands_are_not_copied(rng):
    base_a = rng.standard_normal((5, 4)).astype(np.float32)
    base_b = rng.standard_normal((3, 5)).astype(np.float32)
    batch_a = rng.standard_normal((6, 2, 5, 4))
    batch_b = rng.standard_normal((2, 3, 5))
    vec = rng.standard_normal(16).astype(np.float32)
    cases = [
        (base_a.T, base_b.T),  # (4, 5) @ (5, 3), both CblasTrans
        (base_a.T, np.ascontiguousarray(base_b.T)),
        (batch_a.swapaxes(-1, -2), batch_b.swapaxes(-1, -2)),  # batched, transposed
        (batch_a.swapaxes(-1, -2)[:, :1], batch_b.swapaxes(-1, -2)),  # stride-0 batch
        (base_a.T, vec[::3][:5]),  # strided vector
        (vec[::2][:5], base_a),
        (base_a[1:4, :].T, base_b[:, 1:4]),  # sub-blocks: leading dim > cols
    ]
    for na, nb in cases:
        before = copies()
        got = fg.matmul(view(na), view(nb))
        assert copies() == before, (na.strides, nb.strides)
        rtol = 1e-5 if na.dtype == np.float32 else 1e-12
        assert_close(got, np.matmul(na, nb), rtol=rtol, atol=1e-6)


@pytest.mark.cpu_only  # CPU BLAS internals
def test_unreadable_layouts_are_copied_once_per_operand(rng):
    big = rng.standard_normal((8, 8)).astype(np.float32)
    sliced = big[::2, ::2]  # no unit stride: BLAS can't read it
    before = copies()
    got = fg.mm(view(sliced), view(big[:4, :3]))
    assert copies() == before + 1
    assert_close(got, sliced @ big[:4, :3], rtol=1e-5, atol=1e-6)
    # A broadcast batch is never materialised: one copy of the (4, 4) operand.
    before = copies()
    got = fg.matmul(view(sliced), view(np.ones((5, 4, 2), np.float32)))
    assert copies() == before + 1
    assert tuple(got.shape) == (5, 4, 2)


# ---- threads -----------------------------------------------------------------


@pytest.mark.cpu_only  # CPU BLAS internals
def test_set_get_num_threads(rng):
    old = fg.get_num_threads()
    assert old >= 1
    na, a = make(rng, (70, 80), np.float64)
    nb, b = make(rng, (80, 90), np.float64)
    try:
        results = []
        for n in (1, 2, 3):
            fg.set_num_threads(n)
            assert fg.get_num_threads() == n
            results.append(fg.mm(a, b).cpu().numpy())
        for r in results:
            np.testing.assert_allclose(r, na @ nb, rtol=1e-12, atol=1e-12)
    finally:
        fg.set_num_threads(old)
    assert fg.get_num_threads() == old


@pytest.mark.parametrize("n", [0, -1])
def test_set_num_threads_rejects_non_positive(torch, n):
    with pytest.raises(RuntimeError, match=r"set_num_threads: expected a positive"):
        fg.set_num_threads(n)
    with pytest.raises(RuntimeError):
        torch.set_num_threads(n)


# ---- errors --------------------------------------------------------------------


def t(shape, dtype=np.float32):
    return np.zeros(shape, dtype)


ERRORS = [
    ("matmul", [t(()), t((2, 2))], RuntimeError,
     r"both arguments to matmul need to be at least 1D, but they are 0D and 2D"),
    ("matmul", [t((3,)), t(())], RuntimeError, r"they are 1D and 0D"),
    ("matmul", [t((2, 3)), t((4, 5))], RuntimeError,
     r"^matmul: \(2, 3\) @ \(4, 5\): inner dimensions 3 and 4 differ$"),
    ("matmul", [t((3,)), t((4,))], RuntimeError, r"matmul: \(3,\) @ \(4,\): inner dim"),
    ("matmul", [t((2, 3, 4)), t((3, 4, 5))], RuntimeError,
     r"matmul: \(2, 3, 4\) @ \(3, 4, 5\): batch dimensions \(2,\) and \(3,\) are not"),
    ("matmul", [t((2, 3)), t((3, 4), np.float64)], RuntimeError,
     r"matmul: expected both operands to have the same dtype, but got: float32 != float64"),
    ("matmul", [t((2, 3), np.int32), t((3, 4), np.int64)], RuntimeError,
     r"matmul: .*int32 != int64"),
    ("matmul", [t((2, 3), np.bool_), t((3, 4), np.bool_)], NotImplementedError,
     r"matmul: not implemented for bool"),
    ("mm", [t((2, 3, 4)), t((4, 5))], RuntimeError,
     r"mm: expected two 2-D matrices, but got \(2, 3, 4\) @ \(4, 5\)"),
    ("mm", [t((2, 3)), t((2, 3))], RuntimeError, r"mm: \(2, 3\) @ \(2, 3\): inner"),
    ("mm", [t((2, 3)), t((3, 3), np.float64)], RuntimeError, r"mm: expected both .* dtype"),
    ("bmm", [t((2, 3, 4)), t((3, 4, 5))], RuntimeError,
     r"bmm: \(2, 3, 4\) @ \(3, 4, 5\): batch sizes 2 and 3 differ"),
    ("bmm", [t((3, 4)), t((3, 4, 5))], RuntimeError, r"bmm: expected two 3-D tensors"),
    ("bmm", [t((2, 3, 4)), t((2, 5, 5))], RuntimeError, r"bmm: .*inner dimensions 4 and 5"),
    ("bmm", [t((1, 1, 1), np.bool_), t((1, 1, 1), np.bool_)], NotImplementedError, r"bmm:"),
    ("mv", [t((3, 4)), t((5,))], RuntimeError, r"mv: \(3, 4\) @ \(5,\): inner dimensions"),
    ("mv", [t((3, 4)), t((4, 1))], RuntimeError, r"mv: expected a 2-D matrix and a 1-D"),
    ("dot", [t((3,)), t((2,))], RuntimeError, r"dot: .*same number of elements.*3 and 2"),
    ("dot", [t((3,)), t((3,), np.float64)], RuntimeError, r"dot: expected both .* dtype"),
    ("dot", [t((3, 1)), t((3,))], RuntimeError, r"dot: expected two 1-D vectors"),
    ("outer", [t((3, 2)), t((2,))], RuntimeError, r"outer: expected two 1-D vectors"),
    ("addmm", [t((3,)), t((2, 3)), t((3, 2))], RuntimeError,
     r"addmm: input of shape \(3,\) can't be broadcast to the output shape \(2, 2\)"),
    ("addmm", [t((2, 2, 2)), t((2, 3)), t((3, 2))], RuntimeError, r"addmm: input of shape"),
    ("addmm", [t((2, 2), np.float64), t((2, 3)), t((3, 2))], RuntimeError,
     r"addmm: expected input and mat1 to have the same dtype"),
    ("addmm", [t((2, 2)), t((2, 3)), t((2, 2))], RuntimeError, r"addmm: .*inner dimensions"),
]


@pytest.mark.parametrize("name,args,exc,match", ERRORS,
                         ids=[f"{e[0]}-{i}" for i, e in enumerate(ERRORS)])
def test_errors(torch, name, args, exc, match):
    with pytest.raises(exc, match=match):
        getattr(fg, name)(*[fg.tensor(a) for a in args])
    # torch rejects the same inputs (NotImplementedError subclasses RuntimeError).
    with pytest.raises(RuntimeError):
        getattr(torch, name)(*[torch.from_numpy(a) for a in args])


def test_matmul_operator_rejects_non_tensors():
    a = fg.tensor(np.ones((2, 2), np.float32))
    with pytest.raises(TypeError):
        a @ 2  # noqa: B018
    with pytest.raises(TypeError):
        2 @ a  # noqa: B018


@pytest.mark.cpu_only  # numpy-made strided views
@pytest.mark.parametrize("seed", range(40))
def test_matmul_random_strided_views(seed):
    # Random batch/matrix shapes on permuted and stepped views of bigger arrays:
    # every stride pattern must give numpy's answer, copied or not.
    rng = np.random.default_rng(seed)
    nbatch = rng.integers(0, 3)
    batch_a = [int(rng.choice([1, 2, 3])) for _ in range(nbatch)]
    batch_b = [d if rng.random() < 0.6 else 1 for d in batch_a][int(rng.integers(0, nbatch + 1)):]
    m, k, n = (int(x) for x in rng.integers(1, 6, size=3))

    def strided(shape):
        perm = rng.permutation(len(shape))
        steps = rng.integers(1, 3, size=len(shape))
        stored = [shape[p] * steps[i] for i, p in enumerate(perm)]
        big = rng.standard_normal(stored)
        v = big[tuple(slice(None, None, int(s)) for s in steps)]
        return v.transpose(np.argsort(perm))

    na = strided(batch_a + [m, k])
    nb = strided(batch_b + [k, n])
    assert na.shape == tuple(batch_a + [m, k])
    assert_close(fg.matmul(fg.from_numpy(na), fg.from_numpy(nb)), np.matmul(na, nb),
                 rtol=1e-12, atol=1e-12)
