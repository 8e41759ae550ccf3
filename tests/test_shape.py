"""View ops against torch (values, shapes, dtypes, strides, data pointers and
storage sharing) and numpy (values), over several dtypes and memory layouts."""

import fastgrad as fg
import numpy as np
import pytest
from helpers import assert_close, make, to_np
from shape_helpers import DTYPES, LAYOUTS, check_view, run_both, torch_twin

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
    (
        "as_strided",
        (3, 4),
        lambda m, t: m.as_strided(t.contiguous(), (2, 2), (1, 4), 1),
    ),
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
    (
        "kw_as_strided",
        (3, 4),
        lambda m, t: m.as_strided(
            t.contiguous(), size=(2,), stride=(2,), storage_offset=3
        ),
    ),
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
    (
        "broadcast_tensors",
        (3, 1),
        lambda m, t: m.broadcast_tensors(t, t.reshape(1, 3), t.select(0, 0)),
    ),
    (
        "broadcast_tensors_list",
        (3, 1),
        lambda m, t: m.broadcast_tensors(*[t.reshape(1, 1, 3), t]),
    ),
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
            with pytest.raises(
                RuntimeError, match="^view: view size is not compatible"
            ):
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
    with pytest.raises(
        RuntimeError, match=r"^view: view size is not compatible.*\.reshape"
    ):
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
