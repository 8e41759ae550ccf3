"""Shape and view ops against torch (values, shapes, dtypes, strides, storage
sharing) and numpy (values), over several dtypes and memory layouts."""

import re

import numpy as np
import pytest

import fastgrad as fg
from helpers import assert_close, make, to_np

DTYPES = [np.float32, np.int64, np.bool_]
LAYOUTS = ["contiguous", "transposed", "sliced"]


def torch_twin(torch, x):
    """A torch tensor over the very same memory and strides as fastgrad's x."""
    return torch.from_numpy(x.numpy())


def run_both(torch, fn, x):
    """fn(fg, x) and fn(torch, x'), or the torch exception type."""
    tt = torch_twin(torch, x)
    try:
        expected = fn(torch, tt)
    except Exception as e:  # noqa: BLE001 - we mirror whatever torch raises
        with pytest.raises(type(e), match=r"^\w+: " + re.escape(str(e).splitlines()[0])):
            fn(fg, x)
        return None, None, tt
    return fn(fg, x), expected, tt


def check_view(out, expected):
    """out is a fastgrad view, expected torch's view of the same memory."""
    assert tuple(out.shape) == tuple(expected.shape)
    assert out.stride() == expected.stride()
    assert out.storage_offset() - expected.storage_offset() == 0 or expected.numel() == 0
    if expected.numel() > 0:
        assert out.data_ptr() == expected.data_ptr()
    assert_close(out, expected)
    # Writing through the view must change the base's memory exactly where
    # torch's view looks (stride-0 views can't be written, like in torch).
    if out.numel() > 0 and all(s != 0 or n == 1 for s, n in zip(out.stride(), out.shape)):
        out.fill_(1)
        assert (expected.numpy() == 1).all()


# ---- views ------------------------------------------------------------------------
# (id, input shape, fn(lib, t)); the same lambda runs on fastgrad and torch.
VIEW_CASES = [
    ("view_flat", (2, 3, 4), lambda m, t: t.view(-1)),
    ("view_split", (2, 3, 4), lambda m, t: t.view(2, 3, 2, 2)),
    ("view_merge", (2, 3, 4), lambda m, t: t.view(6, 4)),
    ("view_tuple", (2, 3, 4), lambda m, t: t.view((4, -1))),
    ("view_ones", (2, 3, 4), lambda m, t: t.view(1, 2, 1, 12, 1)),
    ("view_0d", (), lambda m, t: t.view(1, 1)),
    ("view_0d_back", (1, 1), lambda m, t: t.view(())),
    ("view_empty", (0, 3), lambda m, t: t.view(3, 0, 1)),
    ("view_empty_infer", (0, 3), lambda m, t: t.view(-1, 3)),
    ("view_as", (2, 6), lambda m, t: t.view_as(t.reshape(3, 4))),
    ("reshape", (2, 3, 4), lambda m, t: t.reshape(4, 6)),
    ("reshape_fn", (2, 3, 4), lambda m, t: m.reshape(t, (-1,))),
    ("reshape_as", (2, 6), lambda m, t: t.reshape_as(t.reshape(4, 3).t())),
    ("permute", (2, 3, 4), lambda m, t: t.permute(2, 0, 1)),
    ("permute_tuple_neg", (2, 3, 4), lambda m, t: t.permute((-1, 0, -2))),
    ("permute_fn", (2, 3, 4), lambda m, t: m.permute(t, (1, 2, 0))),
    ("permute_0d", (), lambda m, t: t.permute(())),
    ("transpose", (2, 3, 4), lambda m, t: t.transpose(0, -1)),
    ("transpose_fn", (2, 3), lambda m, t: m.transpose(t, 1, 0)),
    ("transpose_0d", (), lambda m, t: t.transpose(0, -1)),
    ("swapaxes", (2, 3, 4), lambda m, t: t.swapaxes(0, 1)),
    ("swapdims", (2, 3, 4), lambda m, t: m.swapdims(t, 2, 1)),
    ("t_2d", (2, 3), lambda m, t: t.t()),
    ("t_1d", (3,), lambda m, t: m.t(t)),
    # torch warns (an error here) on .T of a non-2-D tensor: compare with permute.
    ("T", (2, 3, 4), lambda m, t: t.permute(2, 1, 0) if m is not fg else t.T),
    ("T_0d", (), lambda m, t: t if m is not fg else t.T),
    ("T_2d", (2, 3), lambda m, t: t.T),
    ("mT", (2, 3, 4), lambda m, t: t.mT),
    ("squeeze_all", (1, 3, 1, 4), lambda m, t: t.squeeze()),
    ("squeeze_dim", (1, 3, 1, 4), lambda m, t: t.squeeze(-2)),
    ("squeeze_non1", (1, 3, 1, 4), lambda m, t: t.squeeze(1)),
    ("squeeze_tuple", (1, 3, 1, 4), lambda m, t: m.squeeze(t, (0, 2, 3))),
    ("squeeze_kw", (1, 3, 1, 4), lambda m, t: m.squeeze(t, dim=0)),
    ("squeeze_0d", (), lambda m, t: t.squeeze(0)),
    ("unsqueeze0", (2, 3), lambda m, t: t.unsqueeze(0)),
    ("unsqueeze_mid", (2, 3), lambda m, t: t.unsqueeze(1)),
    ("unsqueeze_last", (2, 3), lambda m, t: m.unsqueeze(t, -1)),
    ("unsqueeze_0d", (), lambda m, t: t.unsqueeze(-1)),
    ("unsqueeze_empty", (0, 3), lambda m, t: t.unsqueeze(1)),
    ("flatten", (2, 3, 4), lambda m, t: t.flatten()),
    ("flatten_range", (2, 3, 4, 5), lambda m, t: m.flatten(t, 1, -2)),
    ("flatten_kw", (2, 3, 4), lambda m, t: t.flatten(start_dim=1)),
    ("flatten_0d", (), lambda m, t: t.flatten()),
    ("unflatten", (2, 12), lambda m, t: t.unflatten(1, (3, -1))),
    ("unflatten_fn", (12, 2), lambda m, t: m.unflatten(t, 0, (2, 2, 3))),
    ("unflatten_empty", (2, 0), lambda m, t: t.unflatten(-1, (3, 0))),
    ("expand", (3, 1), lambda m, t: t.expand(3, 4)),
    ("expand_lead", (3, 1), lambda m, t: t.expand(2, -1, 5)),
    ("expand_tuple", (1,), lambda m, t: t.expand((2, 3))),
    ("expand_0d", (), lambda m, t: t.expand(2, 2)),
    ("expand_same", (2, 3), lambda m, t: t.expand(2, 3)),
    ("expand_as", (1, 3), lambda m, t: t.expand_as(t.expand(4, 3).contiguous())),
    ("expand_to_empty", (1, 3), lambda m, t: t.expand(0, 3)),
    ("broadcast_to", (3, 1), lambda m, t: m.broadcast_to(t, (2, 3, 4))),
    ("broadcast_to_meth", (4,), lambda m, t: t.broadcast_to((3, 4))),
    ("narrow", (5, 4), lambda m, t: t.narrow(0, 1, 3)),
    ("narrow_neg", (5, 4), lambda m, t: m.narrow(t, -1, -3, 2)),
    ("narrow_empty", (5, 4), lambda m, t: t.narrow(1, 4, 0)),
    ("select", (3, 4, 5), lambda m, t: t.select(1, 2)),
    ("select_neg", (3, 4, 5), lambda m, t: m.select(t, -1, -1)),
    ("select_1d", (3,), lambda m, t: t.select(0, 1)),
    ("diagonal", (3, 4), lambda m, t: t.diagonal()),
    ("diagonal_offset", (3, 4), lambda m, t: m.diagonal(t, 1)),
    ("diagonal_neg_offset", (4, 3), lambda m, t: t.diagonal(offset=-2)),
    ("diagonal_dims", (2, 3, 4), lambda m, t: t.diagonal(0, 2, 0)),
    ("diagonal_empty", (3, 4), lambda m, t: t.diagonal(5)),
    ("movedim", (2, 3, 4), lambda m, t: t.movedim(0, -1)),
    ("movedim_tuple", (2, 3, 4, 5), lambda m, t: m.movedim(t, (0, 1), (3, 1))),
    ("moveaxis", (2, 3, 4), lambda m, t: m.moveaxis(t, -1, 0)),
    ("as_strided", (3, 4), lambda m, t: m.as_strided(t.contiguous(), (2, 2), (1, 4), 1)),
    ("as_strided_meth", (3, 4), lambda m, t: t.contiguous().as_strided((3,), (5,))),
    ("detach_view", (2, 3), lambda m, t: t.detach().view(3, 2)),
    ("view_0d_infer", (), lambda m, t: t.view(-1)),
    ("view_size_obj", (2, 3, 4), lambda m, t: t.view(t.shape[::-1])),
    ("view_numpy_ints", (2, 3, 4), lambda m, t: t.view(np.int64(4), np.int32(6))),
    ("view_expanded", (3, 1), lambda m, t: t.expand(3, 4).view(3, 2, 2)),
    ("view_expanded_bad", (3, 1), lambda m, t: t.expand(3, 4).view(12)),
    ("reshape_expanded", (3, 1), lambda m, t: t.expand(3, 4).reshape(12)),
    ("view_after_narrow", (4, 6), lambda m, t: t.narrow(1, 0, 3).view(4, 3, 1)),
    ("kw_transpose", (2, 3, 4), lambda m, t: m.transpose(t, dim0=2, dim1=0)),
    ("kw_narrow", (5, 4), lambda m, t: t.narrow(dim=1, start=1, length=2)),
    ("kw_select", (5, 4), lambda m, t: m.select(t, dim=1, index=-2)),
    ("kw_unsqueeze", (5, 4), lambda m, t: t.unsqueeze(dim=-2)),
    ("kw_unflatten", (5, 4), lambda m, t: t.unflatten(dim=1, sizes=(2, 2))),
    ("kw_movedim", (2, 3, 4), lambda m, t: t.movedim(source=1, destination=0)),
    ("kw_diagonal", (2, 3, 4), lambda m, t: m.diagonal(t, offset=1, dim1=-1, dim2=1)),
    ("kw_as_strided", (3, 4), lambda m, t: m.as_strided(t.contiguous(), size=(2,), stride=(2,), storage_offset=3)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name,shape,fn", VIEW_CASES, ids=[c[0] for c in VIEW_CASES])
def test_view_ops_match_torch(torch, rng, name, shape, fn, layout, dtype):
    _, x = make(rng, shape, dtype, layout=layout)
    out, expected, tt = run_both(torch, fn, x)
    if out is None:
        return
    if expected.untyped_storage().data_ptr() == tt.untyped_storage().data_ptr():
        check_view(out, expected)
    else:  # reshape had to copy: so must we, leaving the input alone
        before = to_np(x)
        assert_close(out, expected)
        assert out.stride() == expected.stride()
        out.fill_(0)
        np.testing.assert_array_equal(to_np(x), before)


# Views returning tuples of views.
MULTI_CASES = [
    ("unbind", (3, 4), lambda m, t: t.unbind()),
    ("unbind_neg", (3, 4), lambda m, t: m.unbind(t, -1)),
    ("split_int", (7, 3), lambda m, t: t.split(3)),
    ("split_list", (7, 3), lambda m, t: m.split(t, [2, 0, 5])),
    ("split_dim", (3, 7), lambda m, t: m.split(t, 2, dim=-1)),
    ("split_big", (3, 2), lambda m, t: t.split(5)),
    ("split_empty", (0, 2), lambda m, t: m.split(t, 2)),
    ("split_zero_empty", (0, 2), lambda m, t: m.split(t, 0)),
    ("chunk", (7, 3), lambda m, t: t.chunk(3)),
    ("chunk_even", (6, 3), lambda m, t: m.chunk(t, 4)),
    ("chunk_dim", (3, 5), lambda m, t: m.chunk(t, 2, dim=1)),
    ("chunk_empty", (0, 3), lambda m, t: t.chunk(3)),
    ("kw_split", (3, 7), lambda m, t: t.split(split_size=[3, 4], dim=1)),
    ("kw_chunk", (3, 7), lambda m, t: m.chunk(t, chunks=2, dim=-1)),
    ("kw_unbind", (3, 7), lambda m, t: t.unbind(dim=1)),
    ("broadcast_tensors", (3, 1), lambda m, t: m.broadcast_tensors(t, t.reshape(1, 3), t.select(0, 0))),
    ("broadcast_tensors_list", (3, 1), lambda m, t: m.broadcast_tensors(*[t.reshape(1, 1, 3), t])),
]


@pytest.mark.parametrize("dtype", [np.float64, np.int32])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name,shape,fn", MULTI_CASES, ids=[c[0] for c in MULTI_CASES])
def test_multi_view_ops_match_torch(torch, rng, name, shape, fn, layout, dtype):
    _, x = make(rng, shape, dtype, layout=layout)
    outs, expected, _ = run_both(torch, fn, x)
    assert isinstance(outs, tuple)
    assert len(outs) == len(expected)
    for o, e in zip(outs, expected):
        check_view(o, e)


@pytest.mark.parametrize(
    "shape,fn,np_fn",
    [
        ((2, 3, 4), lambda t: t.reshape(4, 6), lambda a: a.reshape(4, 6)),
        ((2, 3, 4), lambda t: t.permute(1, 2, 0), lambda a: a.transpose(1, 2, 0)),
        ((2, 3, 4), lambda t: t.flatten(), lambda a: a.ravel()),
        ((3, 1), lambda t: t.expand(2, 3, 4), lambda a: np.broadcast_to(a, (2, 3, 4))),
        ((3, 4), lambda t: t.diagonal(1), lambda a: np.diagonal(a, 1)),
        ((2, 3, 4), lambda t: t.movedim(0, 2), lambda a: np.moveaxis(a, 0, 2)),
        ((5, 4), lambda t: t.narrow(0, 1, 2), lambda a: a[1:3]),
        ((1, 3, 1), lambda t: t.squeeze(), lambda a: a.squeeze()),
    ],
)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_views_match_numpy(rng, shape, fn, np_fn, layout):
    a, x = make(rng, shape, np.float32, layout=layout)
    assert_close(fn(x), np_fn(a))


def random_target(rng, numel):
    """A random shape with `numel` elements, with some size-1 dims."""
    factors = [p for p in (2, 3, 5) for _ in range(50) if numel % p ** (_ + 1) == 0]
    rng.shuffle(factors)
    dims, i = [], 0
    while i < len(factors):
        k = int(rng.integers(1, 3))
        dims.append(int(np.prod(factors[i : i + k])))
        i += k
    for _ in range(int(rng.integers(0, 3))):
        dims.insert(int(rng.integers(0, len(dims) + 1)), 1)
    return tuple(dims) if dims else (1,) * int(rng.integers(0, 2))


@pytest.mark.parametrize("seed", range(40))
def test_view_strides_random(torch, seed):
    """view on random permuted / narrowed / expanded layouts: succeeds exactly
    when torch's does, with torch's strides and data pointer."""
    rng = np.random.default_rng(seed)
    shape = tuple(int(s) for s in rng.integers(1, 5, size=int(rng.integers(1, 5))))
    x = fg.tensor(rng.standard_normal(shape).astype(np.float32))
    tt = torch_twin(torch, x)
    perm = tuple(int(p) for p in rng.permutation(len(shape)))
    x, tt = x.permute(perm), tt.permute(perm)
    d = int(rng.integers(0, x.dim()))
    if x.shape[d] > 1 and rng.random() < 0.5:
        x, tt = x.narrow(d, 1, x.shape[d] - 1), tt.narrow(d, 1, tt.shape[d] - 1)
    if rng.random() < 0.3:
        x, tt = x.unsqueeze(0).expand(2, *x.shape), tt.unsqueeze(0).expand(2, *tt.shape)
    for _ in range(10):
        target = random_target(rng, x.numel())
        try:
            expected = tt.view(target)
        except RuntimeError:
            with pytest.raises(RuntimeError, match="^view: view size is not compatible"):
                x.view(target)
            continue
        out = x.view(target)
        assert out.shape == expected.shape and out.stride() == expected.stride()
        assert out.data_ptr() == expected.data_ptr()
        assert_close(out, expected)


def test_reshape_copies_only_when_needed(rng):
    a, x = make(rng, (3, 4), layout="transposed")  # memory holds a.T contiguously
    y = x.reshape(12)
    assert y.is_contiguous()
    assert_close(y, a.reshape(12))
    y.fill_(0)  # a copy: the base is untouched
    assert_close(x, a)
    z = x.t().reshape(12)  # contiguous again: a view
    assert z.data_ptr() == x.data_ptr()
    with pytest.raises(RuntimeError, match=r"^view: view size is not compatible.*\.reshape"):
        x.view(12)


def test_view_chain_writes_reach_base():
    base = fg.tensor(np.arange(24, dtype=np.float32))
    v = base.view(2, 3, 4).permute(2, 0, 1).select(0, 1).narrow(1, 1, 2)
    v.fill_(-1)
    expected = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    expected[:, 1:3, 1] = -1
    assert_close(base, expected.ravel())


def test_flatten_same_dim_returns_input(rng):
    _, x = make(rng, (2, 3))
    assert x.flatten(1, 1)._is_same(x)


def test_iteration_uses_unbind(rng):
    a, x = make(rng, (3, 2))
    rows = list(x)
    assert len(rows) == 3
    for r, e in zip(rows, a):
        assert_close(r, e)


# ---- copies -------------------------------------------------------------------------
# (id, input shape, fn(lib, t), numpy fn or None)
COPY_CASES = [
    ("repeat", (2, 3), lambda m, t: t.repeat(2, 3), lambda a: np.tile(a, (2, 3))),
    ("repeat_lead", (2, 3), lambda m, t: t.repeat((2, 1, 2)), lambda a: np.tile(a, (2, 1, 2))),
    ("repeat_0d", (), lambda m, t: t.repeat(3), lambda a: np.tile(a, 3)),
    ("repeat_zero", (2, 3), lambda m, t: t.repeat(0, 2), lambda a: np.tile(a, (0, 2))),
    ("tile", (2, 3), lambda m, t: m.tile(t, (2,)), lambda a: np.tile(a, 2)),
    ("tile_meth", (2, 3), lambda m, t: t.tile(2, 1, 2), lambda a: np.tile(a, (2, 1, 2))),
    ("flip", (2, 3, 4), lambda m, t: t.flip(0), lambda a: np.flip(a, 0)),
    ("flip_many", (2, 3, 4), lambda m, t: m.flip(t, (0, -1)), lambda a: np.flip(a, (0, 2))),
    ("flip_varargs", (2, 3, 4), lambda m, t: t.flip(1, 2), lambda a: np.flip(a, (1, 2))),
    ("flip_0d", (), lambda m, t: t.flip(0), lambda a: a),
    ("flip_expanded", (1, 4), lambda m, t: t.expand(3, 4).flip(1), lambda a: np.flip(np.broadcast_to(a, (3, 4)), 1)),
    ("flip_expanded_col", (3, 1), lambda m, t: t.expand(3, 4).flip(0), lambda a: np.flip(np.broadcast_to(a, (3, 4)), 0)),
    ("flip_permuted_sliced", (2, 3, 4), lambda m, t: t.permute(1, 2, 0).narrow(0, 1, 2).flip(0),
     lambda a: np.flip(a.transpose(1, 2, 0)[1:3], 0)),
    ("flip_kw", (2, 3), lambda m, t: m.flip(t, dims=[1]), lambda a: np.flip(a, 1)),
    ("roll_kw", (2, 3), lambda m, t: m.roll(t, shifts=-4, dims=1), lambda a: np.roll(a, -4, 1)),
    ("repeat_expanded", (3, 1), lambda m, t: t.expand(3, 2).repeat(1, 2),
     lambda a: np.tile(np.broadcast_to(a, (3, 2)), (1, 2))),
    ("tril_kw", (3, 3), lambda m, t: m.tril(t, diagonal=1), lambda a: np.tril(a, 1)),
    ("flip_empty", (0, 3), lambda m, t: t.flip(0), lambda a: a),
    ("roll_flat", (3, 4), lambda m, t: t.roll(5), lambda a: np.roll(a, 5)),
    ("roll_dim", (3, 4), lambda m, t: m.roll(t, -1, 1), lambda a: np.roll(a, -1, 1)),
    ("roll_many", (3, 4), lambda m, t: m.roll(t, (1, 7), (0, 1)), lambda a: np.roll(a, (1, 7), (0, 1))),
    ("roll_zero", (3, 4), lambda m, t: t.roll(3, 0), lambda a: np.roll(a, 3, 0)),
    ("roll_0d", (), lambda m, t: t.roll(2), lambda a: a),
    ("roll_empty", (0, 3), lambda m, t: t.roll(1, 0), lambda a: a),
    ("tril", (4, 5), lambda m, t: t.tril(), lambda a: np.tril(a)),
    ("tril_k", (5, 3), lambda m, t: m.tril(t, 1), lambda a: np.tril(a, 1)),
    ("tril_neg", (2, 4, 5), lambda m, t: m.tril(t, diagonal=-2), lambda a: np.tril(a, -2)),
    ("tril_far", (3, 4), lambda m, t: t.tril(-10), lambda a: np.tril(a, -10)),
    ("triu", (4, 5), lambda m, t: t.triu(), lambda a: np.triu(a)),
    ("triu_k", (5, 3), lambda m, t: m.triu(t, -1), lambda a: np.triu(a, -1)),
    ("triu_batch", (2, 5, 4), lambda m, t: t.triu(2), lambda a: np.triu(a, 2)),
    ("triu_far", (3, 4), lambda m, t: t.triu(10), lambda a: np.triu(a, 10)),
    ("triu_empty", (0, 3), lambda m, t: t.triu(), lambda a: a),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name,shape,fn,np_fn", COPY_CASES, ids=[c[0] for c in COPY_CASES])
def test_copy_ops(torch, rng, name, shape, fn, np_fn, layout, dtype):
    a, x = make(rng, shape, dtype, layout=layout)
    before = to_np(x)
    out, expected, _ = run_both(torch, fn, x)
    assert_close(out, expected)
    assert_close(out, np.array(np_fn(a), order="C"))
    if out.numel() > 0:  # (torch keeps odd strides on some empty results)
        assert out.stride() == expected.stride()
        assert out.data_ptr() != x.data_ptr()
    np.testing.assert_array_equal(to_np(x), before)  # input untouched


@pytest.mark.parametrize("op", ["tril_", "triu_"])
@pytest.mark.parametrize("k", [-1, 0, 2])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_tril_triu_inplace(torch, rng, op, k, layout):
    a, x = make(rng, (4, 5), np.float64, layout=layout)
    tt = torch_twin(torch, x).clone()
    v = x._version
    r = getattr(x, op)(k)
    assert r._is_same(x) or r.data_ptr() == x.data_ptr()
    assert x._version > v
    assert_close(x, getattr(tt, op)(k))
    assert_close(x, (np.tril if op == "tril_" else np.triu)(a, k))


# ---- cat / stack -----------------------------------------------------------------------
CAT_CASES = [
    # (id, shapes, dtypes, fn(lib, tensors), numpy fn)
    ("cat0", [(2, 3), (4, 3)], [np.float32] * 2, lambda m, ts: m.cat(ts), lambda xs: np.concatenate(xs)),
    ("cat1", [(2, 3), (2, 1), (2, 0)], [np.int64] * 3, lambda m, ts: m.cat(ts, 1), lambda xs: np.concatenate(xs, 1)),
    ("cat_neg", [(2, 3, 1), (2, 3, 2)], [np.float64] * 2, lambda m, ts: m.cat(tuple(ts), dim=-1),
     lambda xs: np.concatenate(xs, -1)),
    ("cat_promote", [(2, 2), (1, 2), (1, 2)], [np.int32, np.bool_, np.float32], lambda m, ts: m.cat(ts),
     lambda xs: np.concatenate(xs).astype(np.float32)),
    ("cat_int_promote", [(2,), (3,)], [np.int32, np.int64], lambda m, ts: m.concat(ts),
     lambda xs: np.concatenate(xs)),
    ("cat_legacy_empty", [(0,), (2, 3), (0,), (1, 3)], [np.float64, np.float32, np.float32, np.float32],
     lambda m, ts: m.cat(ts), lambda xs: np.concatenate(xs[1::2]).astype(np.float64)),
    ("cat_all_legacy", [(0,), (0,)], [np.float32, np.int64], lambda m, ts: m.cat(ts),
     lambda xs: np.zeros(0, np.float32)),
    ("cat_single", [(2, 3)], [np.bool_], lambda m, ts: m.cat(ts, 1), lambda xs: xs[0]),
    ("concatenate_axis", [(2, 3), (2, 2)], [np.float32] * 2, lambda m, ts: m.concatenate(ts, axis=1),
     lambda xs: np.concatenate(xs, 1)),
    ("stack", [(2, 3), (2, 3), (2, 3)], [np.float32] * 3, lambda m, ts: m.stack(ts), lambda xs: np.stack(xs)),
    ("stack_last", [(2, 3), (2, 3)], [np.int64, np.float64], lambda m, ts: m.stack(ts, dim=-1),
     lambda xs: np.stack(xs, -1).astype(np.float64)),
    ("stack_0d", [(), ()], [np.float32] * 2, lambda m, ts: m.stack(ts), lambda xs: np.stack(xs)),
    ("stack_empty", [(0, 2), (0, 2)], [np.float32] * 2, lambda m, ts: m.stack(ts, 1), lambda xs: np.stack(xs, 1)),
    ("hstack", [(2, 3), (2, 1)], [np.float32] * 2, lambda m, ts: m.hstack(ts), lambda xs: np.hstack(xs)),
    ("hstack_1d", [(), (3,)], [np.int64] * 2, lambda m, ts: m.hstack(ts), lambda xs: np.hstack(xs)),
    ("vstack", [(3,), (2, 3)], [np.float32] * 2, lambda m, ts: m.vstack(ts), lambda xs: np.vstack(xs)),
]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name,shapes,dtypes,fn,np_fn", CAT_CASES, ids=[c[0] for c in CAT_CASES])
def test_join_ops(torch, rng, name, shapes, dtypes, fn, np_fn, layout):
    pairs = [make(rng, s, d, layout=layout) for s, d in zip(shapes, dtypes)]
    arrays = [a for a, _ in pairs]
    tensors = [x for _, x in pairs]
    out = fn(fg, tensors)
    expected = fn(torch, [torch_twin(torch, x) for x in tensors])
    assert_close(out, expected)
    assert_close(out, np_fn(arrays))
    assert out.stride() == expected.stride()


def test_cat_input_aliasing_output_source(rng):
    a, x = make(rng, (2, 3))
    out = fg.cat([x, x.t().t(), x.narrow(0, 0, 1)])
    assert_close(out, np.concatenate([a, a, a[:1]]))


def test_split_huge_size_is_one_piece(rng):
    a, x = make(rng, (3, 2))
    (piece,) = x.split(2**63 - 1)
    assert_close(piece, a)
    assert piece.data_ptr() == x.data_ptr()


def test_broadcast_shapes(torch):
    assert fg.broadcast_shapes((3, 1), (4,), ()) == torch.broadcast_shapes((3, 1), (4,), ())
    assert isinstance(fg.broadcast_shapes((2,)), fg.Size)


def test_expand_is_not_writable(rng):
    _, x = make(rng, (3, 1))
    with pytest.raises(RuntimeError, match="fill_"):
        x.expand(3, 4).fill_(0)
    with pytest.raises(RuntimeError, match="tril_"):
        x.expand(3, 4).tril_()


def test_as_strided_within_storage():
    x = fg.tensor(np.arange(6, dtype=np.float32))
    # The last element reached is offset + 3 + 1: offset 1 fits, offset 2 not.
    y = x.as_strided((2, 2), (3, 1), 1)
    assert_close(y, np.array([[1, 2], [4, 5]], np.float32))
    with pytest.raises(RuntimeError, match="^as_strided: .*requiring a storage size of 28 are out of bounds for storage of size 24"):
        x.as_strided((2, 2), (3, 1), 2)


# ---- errors ------------------------------------------------------------------------------
def t23():
    return fg.tensor(np.zeros((2, 3), np.float32))


ERROR_CASES = [
    ("view_stride", lambda: t23().t().view(6), RuntimeError, r"^view: view size is not compatible with input "
     r"tensor's size and stride \(at least one dimension spans across two contiguous subspaces\)\. "
     r"Use \.reshape\(\.\.\.\) instead\."),
    ("view_expand", lambda: t23().narrow(1, 0, 1).expand(2, 4).view(8),
     RuntimeError, "^view: view size is not compatible"),
    ("view_numel", lambda: t23().view(2, 5), RuntimeError, r"^view: shape '\[2, 5\]' is invalid for input of size 6"),
    ("view_two_infer", lambda: t23().view(-1, -1), RuntimeError, "^view: only one dimension can be inferred"),
    ("view_neg", lambda: t23().view(-2, 3), RuntimeError, r"^view: invalid shape dimension -2"),
    ("view_type", lambda: t23().view(2.0, 3), TypeError, "view"),
    ("reshape_ambiguous", lambda: fg.tensor(np.zeros((0, 3))).reshape(-1, 0), RuntimeError,
     r"^reshape: cannot reshape tensor of 0 elements into shape \[-1, 0\] because the unspecified dimension "
     r"size -1 can be any value and is ambiguous"),
    ("reshape_numel", lambda: fg.reshape(t23(), (4,)), RuntimeError, r"^reshape: shape '\[4\]' is invalid"),
    ("permute_len", lambda: t23().permute(0), RuntimeError, "^permute: number of dimensions"),
    ("permute_dup", lambda: t23().permute(1, 1), RuntimeError, "^permute: duplicate dims"),
    ("permute_range", lambda: t23().permute(0, 2), IndexError, "^permute: dimension 2 out of range"),
    ("transpose_range", lambda: t23().transpose(0, -3), IndexError, "^transpose: dimension -3 out of range"),
    ("t_3d", lambda: t23().unsqueeze(0).t(), RuntimeError, r"^t: t\(\) expects a tensor with <= 2 dimensions, "
     "but self is 3D"),
    ("mT_1d", lambda: t23().flatten().mT, RuntimeError, "^mT: tensor.mT is only supported on matrices"),
    ("squeeze_range", lambda: t23().squeeze(2), IndexError, "^squeeze: dimension 2 out of range"),
    ("squeeze_dup", lambda: t23().squeeze((1, -2 + 3)), RuntimeError, "^squeeze: dim 1 appears multiple times"),
    ("unsqueeze_range", lambda: t23().unsqueeze(3), IndexError, r"^unsqueeze: dimension 3 out of range.*\[-3, 2\]"),
    ("flatten_order", lambda: t23().flatten(1, 0), RuntimeError, "^flatten: .*start_dim cannot come after end_dim"),
    ("flatten_range", lambda: t23().flatten(0, 2), IndexError, "^flatten: dimension 2 out of range"),
    ("unflatten_product", lambda: t23().unflatten(1, (2, 2)), RuntimeError,
     r"^unflatten: Provided sizes \[2, 2\] don't multiply up to the size of dim 1 \(3\)"),
    ("unflatten_empty", lambda: t23().unflatten(1, ()), RuntimeError, "^unflatten: sizes must be non-empty"),
    ("unflatten_two_infer", lambda: t23().unflatten(1, (-1, -1)), RuntimeError,
     "^unflatten: only one dimension can be inferred"),
    ("expand_fewer", lambda: t23().expand(3), RuntimeError, r"^expand: the number of sizes provided \(1\) must be "
     r"greater or equal to the number of dimensions in the tensor \(2\)"),
    ("expand_mismatch", lambda: t23().expand(2, 4), RuntimeError, r"^expand: The expanded size of the tensor \(4\) "
     r"must match the existing size \(3\) at non-singleton dimension 1\.  Target sizes: \[2, 4\]\.  "
     r"Tensor sizes: \[2, 3\]"),
    ("expand_lead_neg", lambda: t23().expand(-1, 2, 3), RuntimeError, r"^expand: .*\(-1\) isn't allowed in a leading"),
    ("broadcast_to", lambda: fg.broadcast_to(t23(), (3, 3)), RuntimeError, "^broadcast_to: The expanded size"),
    ("broadcast_tensors", lambda: fg.broadcast_tensors(t23(), t23().t()), RuntimeError,
     "^broadcast_tensors: shape .* cannot be broadcast"),
    ("broadcast_shapes", lambda: fg.broadcast_shapes((2,), (3,)), RuntimeError, "^broadcast_shapes: "),
    ("narrow_0d", lambda: t23().select(0, 0).select(0, 0).narrow(0, 0, 1), RuntimeError,
     r"^narrow: narrow\(\) cannot be applied to a 0-dim tensor"),
    ("narrow_start", lambda: t23().narrow(1, 4, 0), IndexError,
     r"^narrow: start out of range \(expected to be in range of \[-3, 3\], but got 4\)"),
    ("narrow_length", lambda: t23().narrow(1, 1, 3), RuntimeError,
     r"^narrow: start \(1\) \+ length \(3\) exceeds dimension size \(3\)"),
    ("narrow_neg_length", lambda: t23().narrow(1, 1, -1), RuntimeError, "^narrow: .*length must be non-negative"),
    ("narrow_dim", lambda: t23().narrow(2, 0, 1), IndexError, "^narrow: dimension 2 out of range"),
    ("select_index", lambda: t23().select(0, 2), IndexError,
     r"^select: index 2 out of range for tensor of size \[2, 3\] at dimension 0"),
    ("select_neg_index", lambda: t23().select(1, -4), IndexError, r"^select: index -4 out of range"),
    ("select_0d", lambda: t23().select(0, 0).select(0, 0).select(0, 0), IndexError,
     r"^select: select\(\) cannot be applied to a 0-dim tensor"),
    ("unbind_0d", lambda: t23().select(0, 0).select(0, 0).unbind(), IndexError,
     "^unbind: Dimension specified as 0 but tensor has no dimensions"),
    ("unbind_range", lambda: t23().unbind(2), IndexError, "^unbind: dimension 2 out of range"),
    ("split_neg", lambda: t23().split(-1), RuntimeError, "^split: split expects split_size be non-negative"),
    ("split_zero", lambda: t23().split(0), RuntimeError, "^split: split_size can only be 0 if dimension size is 0"),
    ("split_sizes", lambda: t23().split([1, 2, 1], 1), RuntimeError,
     r"^split_with_sizes: split_with_sizes expects split_sizes to sum exactly to 3 "
     r"\(input tensor's size at dimension 1\), but got split_sizes=\[1, 2, 1\]"),
    ("split_sizes_neg", lambda: t23().split([3, -1], 1), RuntimeError, "^split_with_sizes: .*non-negative"),
    ("split_0d", lambda: t23().select(0, 0).select(0, 0).split(1), RuntimeError, "^split: .*at least a 1-dim"),
    ("chunk_zero", lambda: t23().chunk(0), RuntimeError, "^chunk: chunk expects `chunks` to be greater than 0, got: 0"),
    ("chunk_range", lambda: t23().chunk(2, 3), IndexError, "^chunk: dimension 3 out of range"),
    ("movedim_len", lambda: t23().movedim((0, 1), (0,)), RuntimeError,
     r"^movedim: Invalid source or destination dims"),
    ("movedim_dup", lambda: t23().movedim((0, 0), (0, 1)), RuntimeError, r"^movedim: repeated dim in `source`"),
    ("movedim_dup_dst", lambda: t23().movedim((0, 1), (1, 1)), RuntimeError,
     r"^movedim: repeated dim in `destination`"),
    ("movedim_range", lambda: t23().movedim(0, 2), IndexError, "^movedim: dimension 2 out of range"),
    ("diagonal_same", lambda: t23().diagonal(0, 1, -1), RuntimeError, "^diagonal: diagonal dimensions cannot be identical"),
    ("diagonal_1d", lambda: t23().flatten().diagonal(), IndexError, "^diagonal: dimension 1 out of range"),
    ("as_strided_oob", lambda: t23().as_strided((3, 3), (3, 1)), RuntimeError,
     r"^as_strided: sizes \[3, 3\], strides \[3, 1\], storage offset 0, and itemsize 4 requiring a storage "
     r"size of 36 are out of bounds for storage of size 24"),
    ("as_strided_offset", lambda: t23().as_strided((1,), (1,), 6), RuntimeError, "^as_strided: .*out of bounds"),
    ("as_strided_huge", lambda: t23().as_strided((2**62, 4), (2**62, 1)), RuntimeError, "^as_strided: .*out of bounds"),
    ("as_strided_neg", lambda: t23().as_strided((3,), (-1,)), RuntimeError, "^as_strided: Negative strides"),
    ("as_strided_neg_offset", lambda: t23().as_strided((1,), (1,), -1), RuntimeError,
     "^as_strided: invalid storage offset -1"),
    ("as_strided_len", lambda: t23().as_strided((1, 1), (1,)), RuntimeError, "^as_strided: mismatch in length"),
    ("cat_empty_list", lambda: fg.cat([]), ValueError, "^cat: expected a non-empty list of Tensors"),
    ("cat_0d", lambda: fg.cat([t23().select(0, 0).select(0, 0)]), RuntimeError,
     r"^cat: zero-dimensional tensor \(at position 0\) cannot be concatenated"),
    ("cat_rank", lambda: fg.cat([t23(), t23().unsqueeze(0)]), RuntimeError,
     "^cat: Tensors must have same number of dimensions: got 2 and 3"),
    ("cat_size", lambda: fg.cat([t23(), t23().t()], 1), RuntimeError,
     r"^cat: Sizes of tensors must match except in dimension 1\. Expected size 2 but got size 3 "
     r"for tensor number 1 in the list\."),
    ("cat_dim", lambda: fg.cat([t23(), t23()], 2), IndexError, "^cat: dimension 2 out of range"),
    ("cat_not_tensor", lambda: fg.cat([t23(), 3]), TypeError, "cat"),
    ("stack_empty", lambda: fg.stack([]), RuntimeError, "^stack: stack expects a non-empty TensorList"),
    ("stack_shapes", lambda: fg.stack([t23(), t23().t()]), RuntimeError,
     r"^stack: stack expects each tensor to be equal size, but got \[2, 3\] at entry 0 and \[3, 2\] at entry 1"),
    ("stack_dim", lambda: fg.stack([t23()], 3), IndexError, "^stack: dimension 3 out of range"),
    ("repeat_fewer", lambda: t23().repeat(2), RuntimeError,
     "^repeat: Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor"),
    ("repeat_neg", lambda: t23().repeat(2, -1), RuntimeError,
     r"^repeat: Trying to create tensor with negative dimension -3: \[4, -3\]"),
    ("repeat_overflow", lambda: t23().repeat(2**62, 4), RuntimeError, "^repeat: .*overflow"),
    ("repeat_too_large", lambda: t23().repeat(2**40, 2**40), RuntimeError, "^repeat: .*too large"),
    ("expand_overflow", lambda: t23().narrow(0, 0, 1).expand(2**62, 2**62, 3), RuntimeError,
     "^expand: the number of elements .* overflows"),
    ("broadcast_overflow", lambda: fg.broadcast_tensors(t23().narrow(1, 0, 1).narrow(0, 0, 1).expand(2**62, 1),
                                                        t23().narrow(0, 0, 1).narrow(1, 0, 1).expand(1, 2**62)),
     RuntimeError, "^broadcast_tensors: .*overflows"),
    ("flip_dup", lambda: t23().flip(0, -2), RuntimeError, "^flip: dim 0 appears multiple times in the list of dims"),
    ("flip_range", lambda: t23().flip(2), IndexError, "^flip: dimension 2 out of range"),
    ("roll_align", lambda: t23().roll((1, 2), (0,)), RuntimeError,
     "^roll: shifts and dimensions must align. shifts: 2, dims:1"),
    ("roll_align_flat", lambda: t23().roll((1, 2)), RuntimeError, "^roll: shifts and dimensions must align"),
    ("roll_range", lambda: t23().roll(1, 2), IndexError, "^roll: dimension 2 out of range"),
    ("tril_1d", lambda: t23().flatten().tril(), RuntimeError, "^tril: input tensor must have at least 2 dimensions"),
    ("triu_1d", lambda: fg.triu(t23().flatten()), RuntimeError, "^triu: input tensor must have at least 2 dimensions"),
    ("tril__1d", lambda: t23().flatten().tril_(), RuntimeError, "^tril_: input tensor must have at least 2 dim"),
]


@pytest.mark.parametrize("name,fn,exc,match", ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_errors(name, fn, exc, match):
    with pytest.raises(exc, match=match):
        fn()
