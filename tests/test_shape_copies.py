"""Copying shape ops (repeat, tile, flip, roll, tril/triu, cat, stack, ...)
against torch and numpy, over several dtypes and memory layouts."""

import fastgrad as fg
import numpy as np
import pytest
from helpers import assert_close, make, to_np
from shape_helpers import DTYPES, LAYOUTS, run_both, torch_twin

# ---- copies -------------------------------------------------------------------------
# (id, input shape, fn(lib, t), numpy fn or None)
COPY_CASES = [
    ("repeat", (2, 3), lambda m, t: t.repeat(2, 3), lambda a: np.tile(a, (2, 3))),
    (
        "repeat_lead",
        (2, 3),
        lambda m, t: t.repeat((2, 1, 2)),
        lambda a: np.tile(a, (2, 1, 2)),
    ),
    ("repeat_0d", (), lambda m, t: t.repeat(3), lambda a: np.tile(a, 3)),
    ("repeat_zero", (2, 3), lambda m, t: t.repeat(0, 2), lambda a: np.tile(a, (0, 2))),
    ("tile", (2, 3), lambda m, t: m.tile(t, (2,)), lambda a: np.tile(a, 2)),
    (
        "tile_meth",
        (2, 3),
        lambda m, t: t.tile(2, 1, 2),
        lambda a: np.tile(a, (2, 1, 2)),
    ),
    ("flip", (2, 3, 4), lambda m, t: t.flip(0), lambda a: np.flip(a, 0)),
    (
        "flip_many",
        (2, 3, 4),
        lambda m, t: m.flip(t, (0, -1)),
        lambda a: np.flip(a, (0, 2)),
    ),
    (
        "flip_varargs",
        (2, 3, 4),
        lambda m, t: t.flip(1, 2),
        lambda a: np.flip(a, (1, 2)),
    ),
    ("flip_0d", (), lambda m, t: t.flip(0), lambda a: a),
    (
        "flip_expanded",
        (1, 4),
        lambda m, t: t.expand(3, 4).flip(1),
        lambda a: np.flip(np.broadcast_to(a, (3, 4)), 1),
    ),
    (
        "flip_expanded_col",
        (3, 1),
        lambda m, t: t.expand(3, 4).flip(0),
        lambda a: np.flip(np.broadcast_to(a, (3, 4)), 0),
    ),
    (
        "flip_permuted_sliced",
        (2, 3, 4),
        lambda m, t: t.permute(1, 2, 0).narrow(0, 1, 2).flip(0),
        lambda a: np.flip(a.transpose(1, 2, 0)[1:3], 0),
    ),
    ("flip_kw", (2, 3), lambda m, t: m.flip(t, dims=[1]), lambda a: np.flip(a, 1)),
    (
        "roll_kw",
        (2, 3),
        lambda m, t: m.roll(t, shifts=-4, dims=1),
        lambda a: np.roll(a, -4, 1),
    ),
    (
        "repeat_expanded",
        (3, 1),
        lambda m, t: t.expand(3, 2).repeat(1, 2),
        lambda a: np.tile(np.broadcast_to(a, (3, 2)), (1, 2)),
    ),
    ("tril_kw", (3, 3), lambda m, t: m.tril(t, diagonal=1), lambda a: np.tril(a, 1)),
    ("flip_empty", (0, 3), lambda m, t: t.flip(0), lambda a: a),
    ("roll_flat", (3, 4), lambda m, t: t.roll(5), lambda a: np.roll(a, 5)),
    ("roll_dim", (3, 4), lambda m, t: m.roll(t, -1, 1), lambda a: np.roll(a, -1, 1)),
    (
        "roll_many",
        (3, 4),
        lambda m, t: m.roll(t, (1, 7), (0, 1)),
        lambda a: np.roll(a, (1, 7), (0, 1)),
    ),
    ("roll_zero", (3, 4), lambda m, t: t.roll(3, 0), lambda a: np.roll(a, 3, 0)),
    ("roll_0d", (), lambda m, t: t.roll(2), lambda a: a),
    ("roll_empty", (0, 3), lambda m, t: t.roll(1, 0), lambda a: a),
    ("tril", (4, 5), lambda m, t: t.tril(), lambda a: np.tril(a)),
    ("tril_k", (5, 3), lambda m, t: m.tril(t, 1), lambda a: np.tril(a, 1)),
    (
        "tril_neg",
        (2, 4, 5),
        lambda m, t: m.tril(t, diagonal=-2),
        lambda a: np.tril(a, -2),
    ),
    ("tril_far", (3, 4), lambda m, t: t.tril(-10), lambda a: np.tril(a, -10)),
    ("triu", (4, 5), lambda m, t: t.triu(), lambda a: np.triu(a)),
    ("triu_k", (5, 3), lambda m, t: m.triu(t, -1), lambda a: np.triu(a, -1)),
    ("triu_batch", (2, 5, 4), lambda m, t: t.triu(2), lambda a: np.triu(a, 2)),
    ("triu_far", (3, 4), lambda m, t: t.triu(10), lambda a: np.triu(a, 10)),
    ("triu_empty", (0, 3), lambda m, t: t.triu(), lambda a: a),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(
    "name,shape,fn,np_fn", COPY_CASES, ids=[c[0] for c in COPY_CASES]
)
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
@pytest.mark.parametrize(
    "shape", [(4, 5), (5, 3), (2, 4, 3)]
)  # row- and column-wise paths
@pytest.mark.parametrize("layout", LAYOUTS)
def test_tril_triu_inplace(torch, rng, op, k, shape, layout):
    a, x = make(rng, shape, np.float64, layout=layout)
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
    (
        "cat0",
        [(2, 3), (4, 3)],
        [np.float32] * 2,
        lambda m, ts: m.cat(ts),
        lambda xs: np.concatenate(xs),
    ),
    (
        "cat1",
        [(2, 3), (2, 1), (2, 0)],
        [np.int64] * 3,
        lambda m, ts: m.cat(ts, 1),
        lambda xs: np.concatenate(xs, 1),
    ),
    (
        "cat_neg",
        [(2, 3, 1), (2, 3, 2)],
        [np.float64] * 2,
        lambda m, ts: m.cat(tuple(ts), dim=-1),
        lambda xs: np.concatenate(xs, -1),
    ),
    (
        "cat_promote",
        [(2, 2), (1, 2), (1, 2)],
        [np.int32, np.bool_, np.float32],
        lambda m, ts: m.cat(ts),
        lambda xs: np.concatenate(xs).astype(np.float32),
    ),
    (
        "cat_int_promote",
        [(2,), (3,)],
        [np.int32, np.int64],
        lambda m, ts: m.concat(ts),
        lambda xs: np.concatenate(xs),
    ),
    (
        "cat_legacy_empty",
        [(0,), (2, 3), (0,), (1, 3)],
        [np.float64, np.float32, np.float32, np.float32],
        lambda m, ts: m.cat(ts),
        lambda xs: np.concatenate(xs[1::2]).astype(np.float64),
    ),
    (
        "cat_all_legacy",
        [(0,), (0,)],
        [np.float32, np.int64],
        lambda m, ts: m.cat(ts),
        lambda xs: np.zeros(0, np.float32),
    ),
    ("cat_single", [(2, 3)], [np.bool_], lambda m, ts: m.cat(ts, 1), lambda xs: xs[0]),
    (
        "concatenate_axis",
        [(2, 3), (2, 2)],
        [np.float32] * 2,
        lambda m, ts: m.concatenate(ts, axis=1),
        lambda xs: np.concatenate(xs, 1),
    ),
    (
        "stack",
        [(2, 3), (2, 3), (2, 3)],
        [np.float32] * 3,
        lambda m, ts: m.stack(ts),
        lambda xs: np.stack(xs),
    ),
    (
        "stack_last",
        [(2, 3), (2, 3)],
        [np.int64, np.float64],
        lambda m, ts: m.stack(ts, dim=-1),
        lambda xs: np.stack(xs, -1).astype(np.float64),
    ),
    (
        "stack_0d",
        [(), ()],
        [np.float32] * 2,
        lambda m, ts: m.stack(ts),
        lambda xs: np.stack(xs),
    ),
    (
        "stack_empty",
        [(0, 2), (0, 2)],
        [np.float32] * 2,
        lambda m, ts: m.stack(ts, 1),
        lambda xs: np.stack(xs, 1),
    ),
    (
        "hstack",
        [(2, 3), (2, 1)],
        [np.float32] * 2,
        lambda m, ts: m.hstack(ts),
        lambda xs: np.hstack(xs),
    ),
    (
        "hstack_1d",
        [(), (3,)],
        [np.int64] * 2,
        lambda m, ts: m.hstack(ts),
        lambda xs: np.hstack(xs),
    ),
    (
        "vstack",
        [(3,), (2, 3)],
        [np.float32] * 2,
        lambda m, ts: m.vstack(ts),
        lambda xs: np.vstack(xs),
    ),
]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(
    "name,shapes,dtypes,fn,np_fn", CAT_CASES, ids=[c[0] for c in CAT_CASES]
)
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
    assert fg.broadcast_shapes((3, 1), (4,), ()) == torch.broadcast_shapes(
        (3, 1), (4,), ()
    )
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
    with pytest.raises(
        RuntimeError,
        match="^as_strided: .*requiring a storage size of 28 are out of bounds for storage of size 24",
    ):
        x.as_strided((2, 2), (3, 1), 2)
