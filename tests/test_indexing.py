"""Indexing: __getitem__/__setitem__, index_put_, the gather/scatter family,
masks, nonzero and one_hot, against numpy and torch."""

import warnings

import fastgrad as fg
import fastgrad.nn.functional as F
import numpy as np
import pytest
from helpers import assert_close, make, to_np

# Every test runs on each device (conftest.py's `device` fixture).
pytestmark = pytest.mark.usefixtures("device")

LAYOUTS = ["contiguous", "transposed", "sliced"]


class _Key:
    """K[...] returns the index object itself, so tables read like code."""

    def __getitem__(self, key):
        return key


K = _Key()


def _tt(torch, key):
    """The key with numpy index arrays turned into torch tensors."""
    conv = lambda k: torch.from_numpy(k) if isinstance(k, np.ndarray) else k
    return tuple(conv(k) for k in key) if isinstance(key, tuple) else conv(key)


def _ft(key):
    """The key with numpy index arrays turned into fastgrad tensors."""
    conv = lambda k: fg.tensor(k) if isinstance(k, np.ndarray) else k
    return tuple(conv(k) for k in key) if isinstance(key, tuple) else conv(key)


M34 = np.array([[True, False, True, False], [False, False, True, True], [True, True, False, False]])
M3 = np.array([True, False, True])
M5 = np.array([False, True, True, False, True])
I22 = np.array([[0, 1], [2, 2]])

# (key, numpy agrees with torch). All keys index a (3, 4, 5) tensor.
GETITEM = [
    (K[0], True),
    (K[-1], True),
    (K[2], True),
    (K[1, 2], True),
    (K[-1, -2, -3], True),
    (K[:], True),
    (K[1:], True),
    (K[:-1], True),
    (K[::2], True),
    (K[1::2], True),
    (K[0:10], True),
    (K[-10:2], True),
    (K[5:], True),
    (K[2:1], True),
    (K[:, ::3], True),
    (K[:, 1], True),
    (K[:, :, 0], True),
    (K[..., 0], True),
    (K[0, ...], True),
    (K[..., 1:3], True),
    (K[None], True),
    (K[:, None], True),
    (K[..., None], True),
    (K[None, 0, None, ..., None], True),
    (K[()], True),
    (K[...], True),
    (K[1, None, 2], True),
    (K[-2:, ..., 1::2], True),
    (K[True], True),
    (K[False], True),
    (K[0, True], True),
    (K[None, True, 1], True),
    (K[[0, 2]], True),
    (K[[2, 0, 2]], True),
    (K[[-1]], True),
    (K[I22], True),
    (K[[0, 1], [1, 2]], True),
    (K[[0, 1], :, [1, 2]], True),
    (K[:, [0, 3], [1, 4]], True),
    (K[[[0], [2]], [1, 3]], True),
    (K[1:, [0, 2]], True),
    (K[..., [0, 4]], True),
    (K[[0, 1], 1], True),
    (K[:, [[0, 1]], 2:], True),
    (K[[0, 1], None, [2, 3]], True),
    (K[1, :, [0, 1]], False),  # numpy treats the int as advanced (moves dims)
    (K[np.array([0, 2]), 1:3, np.array([4, 0])], True),
    (K[None, [0, 2], None], True),
    (K[M34], True),
    (K[M3], True),
    (K[:, :, M5], True),
    (K[M3, 1:], True),
    (K[M3, :, M5[[0, 1, 2, 3, 4]] & np.array([1, 1, 0, 0, 0], bool)], True),
    (K[..., M5], True),
    (K[None, M34], True),
    (K[M34, 0], False),
    (K[np.int64(1), np.int32(-1)], True),
    (K[np.array([], dtype=np.int64)], True),
    (K[[0, 1], ...], True),
    (K[[True, False, True]], True),
]


@pytest.mark.parametrize("key,np_ok", GETITEM, ids=[repr(k) for k, _ in GETITEM])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_getitem_table(torch, rng, key, np_ok, layout):
    a, x = make(rng, (3, 4, 5), layout=layout)
    r = x[key]
    assert_close(r, torch.from_numpy(np.asarray(a))[_tt(torch, key)])
    if np_ok:
        assert_close(r, a[key])
    assert_close(x[_ft(key)], torch.from_numpy(np.asarray(a))[_tt(torch, key)])  # tensor indices


@pytest.mark.parametrize("dtype", [np.float64, np.int32, np.int64, np.bool_])
@pytest.mark.parametrize("key", [K[1], K[:, 1:3], K[[0, 2], 1], K[M34], K[None, ..., 2]], ids=repr)
def test_getitem_dtypes(rng, dtype, key):
    a, x = make(rng, (3, 4, 5), dtype=dtype)
    assert_close(x[key], a[key])


def test_getitem_index_dtypes_and_scalars(torch, rng):
    a, x = make(rng, (3, 4, 5))
    idx32 = fg.tensor(np.array([2, 0], dtype=np.int32))
    assert_close(x[idx32], a[[2, 0]])
    assert_close(x[:, idx32], a[:, [2, 0]])
    # A 0-d int tensor selects like an int (a view); a 0-d bool acts like True/False.
    v = x[fg.tensor(1)]
    assert_close(v, a[1])
    assert v.data_ptr() == x[1].data_ptr()
    assert_close(x[fg.tensor(True)], a[None])
    assert_close(x[fg.tensor(False)], a[None][:0])
    assert_close(x[np.array([[1]])], a[np.array([[1]])])


def test_getitem_0d_and_empty(torch, rng):
    a, x = make(rng, ())
    for key in [K[...], K[None], K[()], K[True], K[False], K[None, ..., None]]:
        assert_close(x[key], torch.from_numpy(np.asarray(a))[key])
    b, y = make(rng, (0, 3))
    for key in [K[:, 1], K[..., [0, 2]], K[[]], K[1:], K[:, ::2]]:
        assert_close(y[key], torch.from_numpy(b)[key])


BASIC_VIEWS = [K[1], K[:, 1:3], K[..., ::2], K[None, 2, :, None], K[-1, -2:], K[...], K[5:], K[:, 5:], K[0, 1, 2]]


@pytest.mark.parametrize("key", BASIC_VIEWS, ids=repr)
def test_basic_indexing_is_a_view(torch, rng, key):
    a, x = make(rng, (3, 4, 5))
    v = x[key]
    t = torch.from_numpy(np.asarray(a))[key]
    assert v.stride() == t.stride()
    assert v.storage_offset() == t.storage_offset()
    # Writes through the view show up in the base (and vice versa).
    v.fill_(7.0)
    expected = a.copy()
    expected[key] = 7.0
    assert_close(x, expected)
    x.fill_(-1.0)
    assert np.all(to_np(v) == -1.0)


def test_chained_views_share_storage(rng):
    a, x = make(rng, (4, 6), layout="transposed")
    v = x[1:][:, ::2][None][0, 2]
    v[...] = 3.0
    a[1:][:, ::2][2] = 3.0
    assert_close(x, a)


# ---- __setitem__ ---------------------------------------------------------------------

SETITEM = [
    (K[0], lambda r: 5.0),
    (K[:, 1], lambda r: -1),
    (K[1:, ::2], lambda r: r.random((1, 5))),
    (K[...], lambda r: r.random(5)),
    (K[None, 1, 2], lambda r: r.random((1, 1, 5))),
    (K[-1, -1, -1], lambda r: 2.5),
    (K[[0, 2]], lambda r: r.random((2, 4, 5))),
    (K[[0, 2], :, [1, 3]], lambda r: r.random(4)),
    (K[:, [1, 3]], lambda r: 9.0),
    (K[M34], lambda r: 0.0),
    (K[M34], lambda r: r.random((6, 5))),
    (K[M3, 1:], lambda r: r.random(5)),
    (K[..., [0, 4]], lambda r: r.random((3, 4, 1))),
    (K[I22, 1], lambda r: r.random((2, 2, 5))),
    (K[[0, 1], [1, 2], [2, 3]], lambda r: [1.0, 2.0]),
    (K[1], lambda r: [[1.0] * 5] * 4),
    (K[True], lambda r: 1.0),
    (K[False], lambda r: 1.0),
    (K[:, :, M5], lambda r: r.random(3)),
]


@pytest.mark.parametrize("key,value", SETITEM, ids=[repr(k) for k, _ in SETITEM])
@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
@pytest.mark.parametrize("kind", ["number_or_list", "tensor", "numpy"])
def test_setitem_table(torch, rng, key, value, layout, kind):
    a, x = make(rng, (3, 4, 5), layout=layout)
    t = torch.from_numpy(a.copy())
    val = value(np.random.default_rng(1))
    if kind == "tensor":
        fv, tv = fg.tensor(np.asarray(val, dtype=np.float32)), torch.tensor(np.asarray(val, dtype=np.float32))
    elif kind == "numpy":
        fv, tv = np.asarray(val, dtype=np.float32), torch.tensor(np.asarray(val, dtype=np.float32))
    else:
        fv = val.tolist() if isinstance(val, np.ndarray) else val
        tv = torch.tensor(fv, dtype=torch.float32) if isinstance(fv, list) else fv
    v0 = x._version
    x[key] = fv
    t[_tt(torch, key)] = tv
    assert_close(x, t)
    assert x._version > v0


def test_setitem_casts_and_broadcasts(torch):
    a = np.arange(12, dtype=np.int64).reshape(3, 4)
    x, t = fg.tensor(a), torch.tensor(a)
    x[0] = 2.7
    t[0] = 2.7
    x[1:, [0, 3]] = fg.tensor([[-1.5], [8.9]])
    t[1:, [0, 3]] = torch.tensor([[-1.5], [8.9]]).long()  # torch's index_put_ won't cast
    x[fg.tensor([True, False, True])] = fg.tensor(np.array(True))
    t[torch.tensor([True, False, True])] = torch.tensor(True)
    assert_close(x, t)
    b = fg.tensor(np.zeros((2, 3), dtype=np.bool_))
    b[1, [0, 2]] = 1
    assert_close(b, np.array([[False] * 3, [True, False, True]]))


@pytest.mark.parametrize("case", range(4))
def test_setitem_overlap(rng, case):
    a, x = make(rng, (4, 5))
    if case == 0:
        x[1:] = x[:-1]
        a[1:] = a[:-1].copy()
    elif case == 1:
        x[:, [0, 1]] = x[:, 1:3]
        a[:, [0, 1]] = a[:, 1:3].copy()
    elif case == 2:
        x[[3, 2, 1]] = x[:3]
        a[[3, 2, 1]] = a[:3].copy()
    else:
        x[...] = x[0]  # broadcast from a row of itself
        a[...] = a[0].copy()
    assert_close(x, a)


def test_index_put(torch, rng):
    a, x = make(rng, (4, 5), layout="transposed")
    t = torch.from_numpy(a.copy())
    i, j = np.array([0, 2, 2, 3]), np.array([1, 4, 4, 0])
    v = rng.random(4).astype(np.float32)
    r = x.index_put_((fg.tensor(i), fg.tensor(j)), fg.tensor(v), accumulate=True)
    t.index_put_((torch.from_numpy(i), torch.from_numpy(j)), torch.from_numpy(v), accumulate=True)
    assert r is x
    assert_close(x, t)
    out = fg.index_put(x, (fg.tensor([1, 3]),), fg.tensor(np.float32(0.5)))
    assert_close(out, t.index_put((torch.tensor([1, 3]),), torch.tensor(0.5)))
    assert_close(x, t)  # out-of-place left x alone
    m = rng.random((4, 5)) > 0.5
    x.index_put_((fg.tensor(m),), fg.tensor(np.float32(-3)))
    t.index_put_((torch.from_numpy(m),), torch.tensor(-3.0))
    assert_close(x, t)
    x.index_put_((None, fg.tensor([0, 4])), fg.tensor(np.float32(1.0)))
    t[:, [0, 4]] = 1.0
    assert_close(x, t)


# ---- one-dim gather/scatter family ---------------------------------------------------

SHAPES_DIMS = [
    ((5,), 0),
    ((5,), -1),
    ((3, 4), 0),
    ((3, 4), 1),
    ((3, 4), -1),
    ((3, 4), -2),
    ((2, 3, 4), 1),
    ((2, 3, 4), -1),
    ((2, 0, 3), 2),
]


def _unique_index(rng, shape, dim, k):
    """An int64 index of `shape` with size k along dim, unique along dim."""
    idx = np.argsort(rng.random(shape), axis=dim)
    return np.take(idx, np.arange(k), axis=dim).astype(np.int64)


@pytest.mark.parametrize("shape,dim", SHAPES_DIMS)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("idx_dtype", [np.int64, np.int32])
def test_index_select(torch, rng, shape, dim, layout, idx_dtype):
    a, x = make(rng, shape, layout=layout)
    n = shape[dim]
    for idx in [rng.integers(0, max(n, 1), 7) if n else np.zeros(0), np.zeros(0), np.array([n - 1] if n else [])]:
        idx = idx.astype(idx_dtype)
        exp = torch.index_select(torch.from_numpy(np.asarray(a)), dim, torch.from_numpy(idx))
        assert_close(fg.index_select(x, dim, fg.tensor(idx)), exp)
        assert_close(x.index_select(dim=dim, index=fg.tensor(idx)), exp)


def test_index_select_0d(torch):
    x = fg.tensor(3.5)
    assert_close(fg.index_select(x, 0, fg.tensor([0])), torch.index_select(torch.tensor(3.5), 0, torch.tensor([0])))
    y = fg.tensor(np.arange(6.0).reshape(2, 3))
    assert_close(
        y.index_select(1, fg.tensor(2)),
        torch.arange(6.0, dtype=torch.float64).reshape(2, 3).index_select(1, torch.tensor(2)),
    )


@pytest.mark.parametrize("shape,dim", SHAPES_DIMS)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_gather(torch, rng, shape, dim, layout, dtype):
    a, x = make(rng, shape, dtype=dtype, layout=layout, low=-9, high=9)
    n = shape[dim]
    ishape = tuple(max(s - 1, 0) if i != dim % len(shape) else 6 for i, s in enumerate(shape))
    if len(shape) == 1:
        ishape = (6,)
    idx = rng.integers(0, n, ishape) if n else np.zeros(ishape, np.int64)
    if n == 0:
        ishape = tuple(0 if i == dim % len(shape) else s for i, s in enumerate(ishape))
        idx = np.zeros(ishape, np.int64)
    _, fi = make(rng, ishape, dtype=np.int64, layout=layout)  # index with the same layout
    if idx.size:
        fi.copy_(fg.tensor(idx.astype(np.int64)))
    else:  # (copy_ rejects numpy's stride-0 empty arrays)
        fi = fg.tensor(idx.astype(np.int64))
    exp = torch.gather(torch.from_numpy(np.asarray(a)), dim, torch.from_numpy(idx.astype(np.int64)))
    assert_close(fg.gather(x, dim, fi), exp)
    assert_close(x.gather(dim, index=fi), exp)


def test_gather_0d_and_empty(torch):
    assert_close(fg.gather(fg.tensor(2.0), 0, fg.tensor(0)), torch.gather(torch.tensor(2.0), 0, torch.tensor(0)))
    assert_close(
        fg.gather(fg.tensor(2.0), -1, fg.tensor([0, 0])), torch.gather(torch.tensor(2.0), -1, torch.tensor([0, 0]))
    )
    e = np.zeros((0, 4), np.int64)
    assert_close(
        fg.gather(fg.tensor(np.ones((3, 4))), 0, fg.tensor(e)),
        torch.gather(torch.ones(3, 4, dtype=torch.float64), 0, torch.from_numpy(e)),
    )


@pytest.mark.parametrize("shape,dim", [sd for sd in SHAPES_DIMS if 0 not in sd[0]])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_scatter(torch, rng, shape, dim, layout):
    a, x = make(rng, shape, layout=layout)
    k = max(shape[dim] - 1, 1)
    idx = _unique_index(rng, shape, dim, k)
    src_a, src = make(rng, tuple(s + 1 for s in shape), layout=layout)
    T, ti, ts = torch.from_numpy(np.asarray(a)), torch.from_numpy(idx), torch.from_numpy(src_a)
    fi = fg.tensor(idx)
    assert_close(fg.scatter(x, dim, fi, src), torch.scatter(T, dim, ti, ts))
    assert_close(x.scatter(dim, fi, value=1.5), T.scatter(dim, ti, 1.5))
    # reduce= with duplicates matches torch.scatter_reduce(include_self=True).
    dup = rng.integers(0, shape[dim], idx.shape)
    fd, td = fg.tensor(dup), torch.from_numpy(dup)
    assert_close(
        x.scatter(dim, fd, src, reduce="add"),
        T.scatter_reduce(dim, td, ts[tuple(slice(0, s) for s in idx.shape)], "sum"),
    )
    assert_close(
        x.scatter(dim, fd, src, reduce="multiply"),
        T.scatter_reduce(dim, td, ts[tuple(slice(0, s) for s in idx.shape)], "prod"),
        rtol=1e-4,
    )
    assert_close(fg.scatter_add(x, dim, fd, src), torch.scatter_add(T, dim, td, ts))
    # In place: returns self, bumps the version.
    y = x.clone()
    v0 = y._version
    assert y.scatter_(dim, fi, src) is y and y._version > v0
    assert_close(y, torch.scatter(T, dim, ti, ts))
    y = x.clone()
    y.scatter_add_(dim, fd, src)
    assert_close(y, torch.scatter_add(T, dim, td, ts))
    y = x.clone()
    y.scatter_(dim, fd, 2.0, reduce="multiply")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_close(y, T.clone().scatter_(dim, td, 2.0, reduce="multiply"))


def test_scatter_int_and_0d_and_empty(torch):
    a = np.arange(12, dtype=np.int64).reshape(3, 4)
    idx = np.array([[2, 0, 1, 2]])
    assert_close(
        fg.tensor(a).scatter_add(0, fg.tensor(idx), fg.tensor(a)),
        torch.tensor(a).scatter_add(0, torch.tensor(idx), torch.tensor(a)),
    )
    assert_close(
        fg.scatter(fg.tensor(1.0), 0, fg.tensor(0), fg.tensor(5.0)),
        torch.scatter(torch.tensor(1.0), 0, torch.tensor(0), torch.tensor(5.0)),
    )
    e = np.zeros((0, 4), np.int64)
    assert_close(fg.tensor(a).scatter(1, fg.tensor(e), 7), torch.tensor(a).scatter(1, torch.tensor(e), 7))


@pytest.mark.parametrize("shape,dim", [sd for sd in SHAPES_DIMS if 0 not in sd[0]])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", [np.float64, np.int32])
def test_index_add_and_fill(torch, rng, shape, dim, layout, dtype):
    a, x = make(rng, shape, dtype=dtype, layout=layout, low=-5, high=5)
    n = shape[dim]
    idx = rng.integers(0, n, 7)  # duplicates accumulate
    sshape = list(shape)
    sshape[dim] = 7
    s_a, s = make(rng, tuple(sshape), dtype=dtype, layout=layout, low=-5, high=5)
    T, ti, ts = torch.from_numpy(np.asarray(a)), torch.from_numpy(idx), torch.from_numpy(s_a)
    assert_close(fg.index_add(x, dim, fg.tensor(idx), s), torch.index_add(T, dim, ti, ts))
    assert_close(x.index_add(dim, fg.tensor(idx), s, alpha=3), T.index_add(dim, ti, ts, alpha=3))
    y = x.clone()
    assert y.index_add_(dim, fg.tensor(idx.astype(np.int32)), s) is y
    assert_close(y, T.index_add(dim, ti, ts))
    fidx = np.array([0, -1, 0])
    assert_close(x.index_fill(dim, fg.tensor(fidx), 4), T.index_fill(dim, torch.from_numpy(fidx), 4))
    y = x.clone()
    y.index_fill_(dim, fg.tensor(fidx), fg.tensor(np.array(-2, dtype=dtype)))
    assert_close(y, T.index_fill(dim, torch.from_numpy(fidx), -2))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_take(torch, rng, layout):
    a, x = make(rng, (3, 4), layout=layout)
    for idx in [np.array([0, 11, -1, 5]), np.array([[1, 2], [3, -12]]), np.array(7), np.zeros(0, np.int64)]:
        assert_close(fg.take(x, fg.tensor(idx)), torch.take(torch.from_numpy(np.asarray(a)), torch.from_numpy(idx)))
        assert_close(x.take(fg.tensor(idx)), torch.take(torch.from_numpy(np.asarray(a)), torch.from_numpy(idx)))


# ---- masks ---------------------------------------------------------------------------

MASK_SHAPES = [
    ((3, 4), (3, 4)),
    ((3, 4), (4,)),
    ((3, 4), (3, 1)),
    ((3, 4), ()),
    ((4,), (2, 4)),
    ((0, 4), (4,)),
    ((), ()),
]


@pytest.mark.parametrize("xshape,mshape", MASK_SHAPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.bool_])
def test_masked_fill_select(torch, rng, xshape, mshape, layout, dtype):
    a, x = make(rng, xshape, dtype=dtype, layout=layout)
    m_a, m = make(rng, mshape, dtype=np.bool_, layout=layout)
    T, tm = torch.from_numpy(np.asarray(a)), torch.from_numpy(np.asarray(m_a))
    assert_close(fg.masked_fill(x, m, 3), torch.masked_fill(T, tm, 3))
    assert_close(x.masked_fill(m, fg.tensor(1.0)), T.masked_fill(tm, torch.tensor(1.0)))
    assert_close(fg.masked_select(x, m), torch.masked_select(T, tm))
    assert_close(x.masked_select(mask=m), torch.masked_select(T, tm))
    if np.broadcast_shapes(xshape, mshape) == xshape:
        y = x.clone()
        v0 = y._version
        assert y.masked_fill_(m, 0) is y and y._version > v0
        assert_close(y, T.clone().masked_fill_(tm, 0))


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 4), (5,), (), (0, 3)])
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.bool_])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_nonzero_argwhere(torch, rng, shape, dtype, layout):
    a, x = make(rng, shape, dtype=dtype, layout=layout, low=-1, high=1)
    T = torch.from_numpy(np.asarray(a))
    assert_close(fg.nonzero(x), torch.nonzero(T))
    assert_close(x.nonzero(), torch.nonzero(T))
    assert_close(fg.argwhere(x), torch.argwhere(T))
    got, exp = fg.nonzero(x, as_tuple=True), torch.nonzero(T, as_tuple=True)
    assert isinstance(got, tuple) and len(got) == len(exp)
    for g, e in zip(got, exp):
        assert_close(g, e)


@pytest.mark.parametrize("shape", [(5,), (2, 3), (), (0,)])
@pytest.mark.parametrize("num_classes", [-1, 6])
def test_one_hot(torch, rng, shape, num_classes):
    a = rng.integers(0, 5, shape).astype(np.int64)
    if a.size == 0 and num_classes == -1:
        num_classes = 3
    exp = torch.nn.functional.one_hot(torch.from_numpy(np.asarray(a)), num_classes)
    assert_close(F.one_hot(fg.tensor(a), num_classes), exp)
    assert_close(fg.nn.functional.one_hot(fg.tensor(a), num_classes=num_classes), exp)


# ---- errors --------------------------------------------------------------------------


def _x():
    return fg.tensor(np.arange(12.0, dtype=np.float32).reshape(3, 4))


I = lambda *v: fg.tensor(np.array(v, dtype=np.int64))

ERRORS = [
    (lambda: _x()[5], IndexError, r"index 5 is out of bounds for dimension 0 with size 3"),
    (lambda: _x()[-4], IndexError, r"index -4 is out of bounds for dimension 0 with size 3"),
    (lambda: _x()[0, 10], IndexError, r"index 10 is out of bounds for dimension 1 with size 4"),
    (lambda: _x()[1, 2, 3], IndexError, r"too many indices for tensor of dimension 2"),
    (lambda: _x()[..., ...], IndexError, r"single ellipsis"),
    (lambda: _x()[::-1], ValueError, r"step must be greater than zero"),
    (lambda: _x()[::0], ValueError, r"step cannot be zero"),
    (lambda: _x()[1.5], IndexError, r"valid indices \(got float\)"),
    (lambda: _x()["a"], IndexError, r"valid indices \(got str\)"),
    (lambda: _x()[fg.tensor([1.0])], IndexError, r"tensors used as indices must be long"),
    (lambda: _x()[[0.5, 1.0]], IndexError, r"tensors used as indices must be long"),
    (lambda: _x()[I(5)], IndexError, r"index 5 is out of bounds for dimension 0 with size 3"),
    (lambda: _x()[:, I(-5)], IndexError, r"index -5 is out of bounds for dimension 1 with size 4"),
    (lambda: _x()[I(0, 1), I(0, 1, 2)], IndexError, r"could not be broadcast together"),
    (lambda: _x()[fg.tensor([True, False])], IndexError, r"shape of the mask \[2\] at index 0"),
    (lambda: _x()[2**70], IndexError, r"does not fit in int64"),
    (lambda: _x().__setitem__(I(0, 1), fg.tensor([1.0, 2.0, 3.0])), RuntimeError, r"index_put_: shape mismatch"),
    (
        lambda: _x().__setitem__(0, fg.tensor([1.0, 2.0])),
        RuntimeError,
        r"setitem: shape mismatch: value tensor of shape \(2,\) cannot be broadcast to indexing result of shape \(4,\)",
    ),
    (lambda: _x().__setitem__(I(7), 1.0), IndexError, r"index 7 is out of bounds"),
    (lambda: _x().index_put_((I(0),), fg.tensor(np.float64(1))), RuntimeError, r"index_put_: .*dtypes match"),
    (lambda: _x().index_put_((I(0), I(0), I(0)), fg.tensor(np.float32(1))), IndexError, r"too many indices"),
    (
        lambda: fg.index_select(_x(), 0, I(3)),
        IndexError,
        r"index_select: index 3 is out of bounds for dimension 0 with size 3",
    ),
    (lambda: fg.index_select(_x(), 1, I(-1)), IndexError, r"index_select: index -1 is out of bounds"),
    (
        lambda: fg.index_select(_x(), 0, fg.tensor([0.0])),
        TypeError,
        r"index_select: expected an int64 or int32 index tensor, got float32",
    ),
    (lambda: fg.index_select(_x(), 0, fg.tensor([[0]])), IndexError, r"index_select: index is supposed to be a vector"),
    (lambda: fg.index_select(_x(), 2, I(0)), IndexError, r"index_select: dimension 2 out of range"),
    (
        lambda: fg.gather(_x(), 1, fg.tensor([[5]])),
        IndexError,
        r"gather: index 5 is out of bounds for dimension 1 with size 4",
    ),
    (lambda: fg.gather(_x(), 1, fg.tensor([[-1]])), IndexError, r"gather: index -1 is out of bounds"),
    (
        lambda: fg.gather(_x(), 1, fg.tensor(np.array([[1]], np.int32))),
        TypeError,
        r"gather: expected an int64 index tensor, got int32",
    ),
    (lambda: fg.gather(_x(), 1, I(1)), RuntimeError, r"gather: index tensor must have the same number of dimensions"),
    (
        lambda: fg.gather(_x(), 1, fg.tensor(np.zeros((4, 1), np.int64))),
        RuntimeError,
        r"gather: size does not match at dimension 0",
    ),
    (
        lambda: _x().scatter_(1, fg.tensor([[4]]), 1.0),
        IndexError,
        r"scatter: index 4 is out of bounds for dimension 1 with size 4",
    ),
    (lambda: _x().scatter_(0, fg.tensor([[-4]]), 1.0), IndexError, r"scatter: index -4 is out of bounds"),
    (
        lambda: _x().scatter(1, fg.tensor([[1]]), fg.tensor(np.ones((1, 1)))),
        RuntimeError,
        r"scatter: expected self.dtype to be equal to src.dtype",
    ),
    (
        lambda: _x().scatter(1, fg.tensor([[1, 2]]), fg.tensor(np.ones((1, 1), np.float32))),
        RuntimeError,
        r"scatter: size does not match",
    ),
    (
        lambda: _x().scatter(1, fg.tensor([[1]]), 1.0, reduce="max"),
        ValueError,
        r"scatter: reduce argument must be either add or multiply",
    ),
    (lambda: _x().scatter_add(0, fg.tensor([[3]]), _x()), IndexError, r"scatter_add: index 3 is out of bounds"),
    (
        lambda: _x().index_add_(0, I(3), fg.tensor(np.ones((1, 4), np.float32))),
        IndexError,
        r"index_add_: index 3 is out of bounds",
    ),
    (
        lambda: _x().index_add_(0, I(1), fg.tensor(np.ones((1, 4)))),
        RuntimeError,
        r"index_add_: self \(float32\) and source \(float64\)",
    ),
    (
        lambda: _x().index_add_(0, I(1), fg.tensor(np.ones((1, 3), np.float32))),
        RuntimeError,
        r"index_add_: source tensor shape must match",
    ),
    (
        lambda: _x().index_add_(0, I(1, 2), fg.tensor(np.ones((1, 4), np.float32))),
        RuntimeError,
        r"index_add_: number of indices",
    ),
    (lambda: _x().index_fill_(1, I(4), 0.0), IndexError, r"index_fill_: index 4 is out of bounds"),
    (lambda: fg.take(_x(), I(12)), IndexError, r"take: index 12 is out of bounds"),
    (lambda: fg.take(_x(), I(-13)), IndexError, r"take: index -13 is out of bounds"),
    (lambda: fg.take(_x(), fg.tensor(np.array([1], np.int32))), TypeError, r"take: expected an int64 index tensor"),
    (lambda: _x().masked_fill(I(1, 0, 1, 0), 2.0), RuntimeError, r"masked_fill: expected a bool mask, got a int64"),
    (
        lambda: _x().masked_fill(fg.tensor([True] * 4), fg.tensor([1.0, 2.0])),
        RuntimeError,
        r"masked_fill: only supports a 0-dimensional value tensor",
    ),
    (
        lambda: _x().masked_fill_(fg.tensor(np.ones((2, 3, 4), bool)), 2.0),
        RuntimeError,
        r"masked_fill_: output with shape \(3, 4\)",
    ),
    (lambda: _x().masked_fill(fg.tensor([True] * 3), 2.0), ValueError, r"masked_fill: shapes"),
    (lambda: fg.masked_select(_x(), fg.tensor([1.0] * 4)), RuntimeError, r"masked_select: expected a bool mask"),
    (lambda: F.one_hot(I(1, -1)), RuntimeError, r"one_hot: class values must be non-negative"),
    (lambda: F.one_hot(I(1, 3), 2), RuntimeError, r"one_hot: class values must be smaller than num_classes"),
    (lambda: F.one_hot(fg.tensor(np.zeros(0, np.int64))), RuntimeError, r"one_hot: can not infer"),
    (lambda: F.one_hot(fg.tensor([1.0])), RuntimeError, r"one_hot: only applicable to index tensors of type int64"),
    (lambda: F.one_hot(fg.tensor(np.array([1], np.int32))), RuntimeError, r"one_hot: .*got int32"),
]


@pytest.mark.parametrize("fn,exc,match", ERRORS, ids=[m for _, _, m in ERRORS])
def test_errors(fn, exc, match):
    with pytest.raises(exc, match=match):
        fn()


def test_failed_ops_leave_tensor_untouched():
    x = _x()
    before = to_np(x)
    for bad in [
        lambda: x.scatter_(1, fg.tensor([[0, 9]]), 5.0),
        lambda: x.index_put_((I(0, 99),), fg.tensor(np.float32(5))),
        lambda: x.__setitem__((I(1), I(0, -99)), 5.0),
        lambda: x.index_add_(0, I(0, 9), fg.tensor(np.ones((2, 4), np.float32))),
    ]:
        with pytest.raises(IndexError):
            bad()
    np.testing.assert_array_equal(to_np(x), before)


def test_large_parallel_gather_and_mask(rng):
    a, x = make(rng, (300, 400))
    idx = rng.integers(-300, 300, 5000)
    assert_close(x[idx], a[idx])
    assert_close(x[a > 1.0], a[a > 1.0])
    y = x.clone()
    y[a > 1.0] = 0.0
    b = a.copy()
    b[a > 1.0] = 0.0
    assert_close(y, b)


def test_list_index_forms(rng):
    a, x = make(rng, (3, 4, 5))
    # A list holding slices/None/Ellipsis reads as a tuple (PyTorch's legacy rule).
    assert_close(x[[0, slice(None), None]], a[0, :, None])
    assert_close(x[[fg.tensor([0, 2]), 1]], a[[0, 2], 1])
    # A nested list of ints is one index array (NumPy's rule, and PyTorch's announced one).
    assert_close(x[[[0, 1], [1, 0]]], a[np.array([[0, 1], [1, 0]])])
    assert_close(x[(0, 2),], a[(0, 2),])
    assert_close(x[[np.int64(2), np.int64(-3)]], a[[2, -3]])


def test_writes_into_empty_tensors():
    # numpy gives empty arrays stride-0 dims; writing nothing must still work.
    x = fg.tensor(np.zeros((2, 0, 3)))
    x[...] = 1.0
    x[[0]] = 1.0
    x[:, :, fg.tensor([0, 2])] = 2.0
    x.masked_fill_(fg.tensor(True), 1.0)
    x.scatter_(1, fg.tensor(np.zeros((2, 0, 3), np.int64)), 1.0)
    x.index_fill_(2, fg.tensor([1]), 3.0)
    assert x.shape == (2, 0, 3)
