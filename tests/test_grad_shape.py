"""Backward rules of the shape and view ops (views, dims, expand, split, join,
reorder): gradcheck, x.grad against torch, gradgradcheck, view bookkeeping."""

import fastgrad as fg
import numpy as np
import pytest
from fastgrad.autograd import gradcheck, gradgradcheck
from helpers import assert_close, make

# Every test runs on each device (conftest.py's `device` fixture).
pytestmark = pytest.mark.usefixtures("device")


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


# (id, input shape, fn(module, x)). fn works for both fastgrad and torch.
UNARY = [
    ("view", (3, 4), lambda m, x: x.view(2, 6)),
    ("view_-1", (3, 4), lambda m, x: x.view(-1)),
    ("view_0d", (), lambda m, x: x.view(1, 1)),
    ("view_as", (3, 4), lambda m, x: x.view_as(m.zeros(4, 3, dtype=m.float64))),
    ("reshape", (2, 3, 4), lambda m, x: x.reshape(4, -1)),
    ("reshape_fn", (2, 3, 4), lambda m, x: m.reshape(x, (24,))),
    ("reshape_as", (3, 4), lambda m, x: x.reshape_as(m.zeros(2, 6, dtype=m.float64))),
    ("reshape_empty", (0, 3), lambda m, x: x.reshape(3, 0)),
    ("flatten", (2, 3, 4), lambda m, x: x.flatten()),
    ("flatten_neg", (2, 3, 4), lambda m, x: m.flatten(x, -2, -1)),
    ("flatten_0d", (), lambda m, x: x.flatten()),
    ("unflatten", (2, 12), lambda m, x: x.unflatten(-1, (3, -1))),
    ("squeeze", (1, 3, 1, 2), lambda m, x: x.squeeze()),
    ("squeeze_0d", (), lambda m, x: x.squeeze()),
    ("squeeze_dim", (1, 3, 1, 2), lambda m, x: x.squeeze(-2)),
    ("squeeze_dims", (1, 3, 1, 2), lambda m, x: m.squeeze(x, (0, 2))),
    ("unsqueeze", (3, 2), lambda m, x: x.unsqueeze(1)),
    ("unsqueeze_neg", (3, 2), lambda m, x: m.unsqueeze(x, -1)),
    ("unsqueeze_0d", (), lambda m, x: x.unsqueeze(0)),
    ("as_strided", (3, 4), lambda m, x: m.as_strided(x, (2, 2), (4, 1), 1)),
    ("as_strided_overlap", (8,), lambda m, x: x.as_strided((3, 4), (2, 1))),
    ("as_strided_stride0", (6,), lambda m, x: x.as_strided((2, 3), (0, 2))),
    ("as_strided_windows", (10,), lambda m, x: x.as_strided((7, 4), (1, 1))),
    ("as_strided_expanded", (6,), lambda m, x: x.as_strided((2, 5, 3), (0, 0, 2), 0)),
    ("permute_0d", (), lambda m, x: m.permute(x, ())),
    ("permute", (2, 3, 4), lambda m, x: x.permute(2, 0, 1)),
    ("permute_neg", (2, 3, 4), lambda m, x: m.permute(x, (-1, -3, -2))),
    ("transpose", (2, 3, 4), lambda m, x: x.transpose(0, -1)),
    ("swapdims", (2, 3), lambda m, x: m.swapdims(x, 0, 1)),
    ("t", (3, 4), lambda m, x: x.t()),
    ("t_1d", (3,), lambda m, x: m.t(x)),
    ("t_0d", (), lambda m, x: x.t()),
    ("transpose_0d", (), lambda m, x: x.transpose(0, -1)),
    ("T", (2, 3, 4), lambda m, x: x.T if m is fg else x.permute(2, 1, 0)),  # torch warns on 3-D .T
    ("T2d", (3, 4), lambda m, x: x.T),
    ("mT", (2, 3, 4), lambda m, x: x.mT),
    ("movedim", (2, 3, 4), lambda m, x: x.movedim(0, -1)),
    ("movedim_list", (2, 3, 4, 5), lambda m, x: m.movedim(x, (0, 1), (3, 0))),
    ("movedim_0d", (), lambda m, x: x.movedim(0, 0)),
    ("diagonal", (3, 4), lambda m, x: x.diagonal()),
    ("diagonal_off", (3, 4), lambda m, x: m.diagonal(x, 1)),
    ("diagonal_neg", (2, 3, 4), lambda m, x: x.diagonal(-1, -1, 0)),
    ("diagonal_empty", (3, 4), lambda m, x: x.diagonal(5)),
    ("expand", (3, 1), lambda m, x: x.expand(2, 3, 4)),
    ("expand_-1", (3, 1), lambda m, x: x.expand(-1, 5)),
    ("expand_0d", (), lambda m, x: x.expand(2, 3)),
    ("expand_as", (1, 4), lambda m, x: x.expand_as(m.zeros(3, 4, dtype=m.float64))),
    ("broadcast_to", (4,), lambda m, x: m.broadcast_to(x, (2, 3, 4))),
    ("narrow", (4, 5), lambda m, x: x.narrow(1, 1, 3)),
    ("narrow_neg", (4, 5), lambda m, x: m.narrow(x, -2, -3, 2)),
    ("narrow_empty", (4, 5), lambda m, x: x.narrow(0, 2, 0)),
    ("select", (4, 5), lambda m, x: x.select(1, 2)),
    ("select_neg", (2, 3, 4), lambda m, x: m.select(x, -1, -1)),
    ("select_to_0d", (5,), lambda m, x: x.select(0, 3)),
    ("unbind", (3, 4), lambda m, x: x.unbind(1)),
    ("unbind_neg", (2, 3, 4), lambda m, x: m.unbind(x, -3)),
    ("split", (7, 3), lambda m, x: x.split(3)),
    ("split_sizes", (7, 3), lambda m, x: m.split(x, [2, 0, 5], 0)),
    ("split_neg", (2, 7), lambda m, x: x.split(2, -1)),
    ("split_empty", (0, 3), lambda m, x: x.split(2)),
    ("chunk", (7, 3), lambda m, x: x.chunk(3)),
    ("chunk_neg", (3, 5), lambda m, x: m.chunk(x, 2, -1)),
    ("repeat", (2, 3), lambda m, x: x.repeat(2, 1, 3)),
    ("repeat_0d", (), lambda m, x: x.repeat(3, 2)),
    ("repeat_zero", (2, 3), lambda m, x: x.repeat(0, 2)),
    ("tile", (2, 3), lambda m, x: x.tile(2)),
    ("tile_fn", (2, 3), lambda m, x: m.tile(x, (2, 1, 2))),
    ("flip", (3, 4), lambda m, x: x.flip(0)),
    ("flip_neg", (2, 3, 4), lambda m, x: m.flip(x, (-1, 0))),
    ("flip_empty", (0, 3), lambda m, x: x.flip(1)),
    ("flip_0d", (), lambda m, x: x.flip(0)),
    ("roll_0d", (), lambda m, x: x.roll(1)),
    ("roll", (3, 4), lambda m, x: x.roll(1, 1)),
    ("roll_multi", (3, 4), lambda m, x: m.roll(x, (-2, 5), (0, -1))),
    ("roll_flat", (3, 4), lambda m, x: x.roll(5)),
    ("tril", (4, 5), lambda m, x: x.tril()),
    ("tril_k", (2, 4, 3), lambda m, x: m.tril(x, -1)),
    ("triu", (4, 5), lambda m, x: x.triu(1)),
    ("triu_fn", (5, 3), lambda m, x: m.triu(x, -2)),
    ("atleast_1d", (), lambda m, x: m.atleast_1d(x)),
    ("atleast_2d", (3,), lambda m, x: m.atleast_2d(x)),
    ("iter", (3, 4), lambda m, x: tuple(r for r in x)),
]
UNARY_IDS = [u[0] for u in UNARY]
# Not run on non-contiguous inputs: as_strided indexes storage (the numerical
# side perturbs a contiguous copy) and view() needs a viewable layout.
NOT_STRIDED = {"as_strided", "as_strided_overlap", "as_strided_stride0", "as_strided_windows",
               "as_strided_expanded", "view", "view_-1", "view_as"}
STRIDED = [u for u in UNARY if len(u[1]) >= 2 and u[0] not in NOT_STRIDED]


def _leaf(rng, shape, layout="contiguous"):
    _, t = make(rng, shape, np.float64, layout=layout)
    return t.requires_grad_()


@pytest.mark.parametrize("name,shape,fn", UNARY, ids=UNARY_IDS)
def test_gradcheck(name, shape, fn):
    rng = np.random.default_rng(0)
    x = _leaf(rng, shape)
    assert gradcheck(lambda x: fn(fg, x), (x,))


@pytest.mark.parametrize("layout", ["transposed", "sliced"])
@pytest.mark.parametrize("name,shape,fn", STRIDED, ids=[u[0] for u in STRIDED])
def test_gradcheck_noncontiguous(name, shape, fn, layout):
    rng = np.random.default_rng(1)
    x = _leaf(rng, shape, layout)
    if min(shape) > 1:
        assert not x.is_contiguous()
    assert gradcheck(lambda x: fn(fg, x), (x,))


def _outs(out):
    return out if isinstance(out, tuple) else (out,)


@pytest.mark.parametrize("name,shape,fn", UNARY, ids=UNARY_IDS)
def test_grad_matches_torch(name, shape, fn, torch):
    rng = np.random.default_rng(2)
    base = rng.standard_normal(shape)
    x = fg.tensor(base).requires_grad_()
    tx = torch.tensor(base, requires_grad=True)
    outs, touts = _outs(fn(fg, x)), _outs(fn(torch, tx))
    assert len(outs) == len(touts)
    gs = [rng.standard_normal(tuple(o.shape)) for o in touts]
    for o, to in zip(outs, touts):
        assert o.requires_grad and o.grad_fn is not None
        assert tuple(o.shape) == tuple(to.shape)
    if not outs:
        return
    fg.autograd.backward(outs, [fg.tensor(g) for g in gs])
    torch.autograd.backward(touts, [torch.tensor(g) for g in gs])
    assert_close(x.grad, tx.grad)


@pytest.mark.parametrize("name", ["unbind", "split", "chunk"])
def test_multi_output_partial_grad(name, torch):
    """Outputs that get no gradient contribute zeros."""
    rng = np.random.default_rng(3)
    base = rng.standard_normal((6, 2))
    x = fg.tensor(base).requires_grad_()
    tx = torch.tensor(base, requires_grad=True)
    fn = {"unbind": lambda t: t.unbind(0), "split": lambda t: t.split(4), "chunk": lambda t: t.chunk(3)}[name]
    g = rng.standard_normal(tuple(fn(tx)[-1].shape))
    (gx,) = fg.autograd.grad(fn(x)[-1], x, grad_outputs=fg.tensor(g))
    (tgx,) = torch.autograd.grad(fn(tx)[-1], tx, grad_outputs=torch.tensor(g))
    assert_close(gx, tgx)


# ---- joins (several inputs) ----------------------------------------------------
JOINS = [
    ("cat", [(2, 3), (4, 3)], lambda m, xs: m.cat(xs)),
    ("cat_neg", [(2, 3), (2, 1), (2, 2)], lambda m, xs: m.cat(xs, -1)),
    ("cat_empty_piece", [(2, 3), (0, 3)], lambda m, xs: m.cat(xs, 0)),
    ("cat_legacy_empty", [(2, 3), (0,)], lambda m, xs: m.cat(xs, 1)),
    ("concat", [(3,), (2,)], lambda m, xs: m.concat(xs)),
    ("stack", [(2, 3), (2, 3)], lambda m, xs: m.stack(xs)),
    ("stack_neg", [(2, 3), (2, 3), (2, 3)], lambda m, xs: m.stack(xs, -1)),
    ("stack_0d", [(), ()], lambda m, xs: m.stack(xs)),
    ("hstack", [(2, 3), (2, 1)], lambda m, xs: m.hstack(xs)),
    ("hstack_1d", [(3,), ()], lambda m, xs: m.hstack(xs)),
    ("vstack", [(3,), (2, 3)], lambda m, xs: m.vstack(xs)),
    ("broadcast_tensors", [(3, 1), (4,), ()], lambda m, xs: m.broadcast_tensors(*xs)),
]


@pytest.mark.parametrize("name,shapes,fn", JOINS, ids=[j[0] for j in JOINS])
def test_join_gradcheck(name, shapes, fn):
    rng = np.random.default_rng(4)
    # Empty inputs take part but are not differentiated (a 0-column Jacobian).
    xs = [_leaf(rng, s) if 0 not in s else fg.zeros(s, dtype=fg.float64) for s in shapes]
    assert gradcheck(lambda *xs: fn(fg, list(xs)), xs)


@pytest.mark.parametrize("name,shapes,fn", JOINS, ids=[j[0] for j in JOINS])
def test_join_grad_matches_torch(name, shapes, fn, torch):
    rng = np.random.default_rng(5)
    bases = [rng.standard_normal(s) for s in shapes]
    xs = [fg.tensor(b).requires_grad_() for b in bases]
    txs = [torch.tensor(b, requires_grad=True) for b in bases]
    outs, touts = _outs(fn(fg, xs)), _outs(fn(torch, txs))
    gs = [rng.standard_normal(tuple(o.shape)) for o in touts]
    fg.autograd.backward(outs, [fg.tensor(g) for g in gs])
    torch.autograd.backward(touts, [torch.tensor(g) for g in gs])
    for x, tx in zip(xs, txs):
        assert_close(x.grad, tx.grad)


def test_cat_mixed_dtypes_and_no_grad_inputs(torch):
    """Only inputs that require grad get one, cast back to their dtype."""
    a = fg.tensor(np.arange(6.0).reshape(2, 3)).to(fg.float32).requires_grad_()
    b = fg.ones(1, 3, dtype=fg.float64)
    out = fg.cat([a, b])
    assert out.dtype == fg.float64
    out.backward(fg.tensor(np.arange(9.0).reshape(3, 3)))
    assert_close(a.grad, np.arange(6.0, dtype=np.float32).reshape(2, 3))
    assert b.grad is None


def test_noncontiguous_join_inputs():
    rng = np.random.default_rng(6)
    xs = [_leaf(rng, (3, 4), "transposed"), _leaf(rng, (3, 4), "sliced")]
    assert gradcheck(lambda a, b: fg.cat([a, b], 1), xs)
    assert gradcheck(lambda a, b: fg.stack([a, b], -1), xs)


# ---- double backward ------------------------------------------------------------
GRADGRAD = [
    ("reshape", (2, 6), lambda x: x.reshape(3, 4) * x.reshape(3, 4)),
    ("as_strided_windows", (6,), lambda x: x.as_strided((4, 3), (1, 1)) * x.as_strided((4, 3), (1, 1))),
    ("permute", (2, 3, 4), lambda x: x.permute(1, 2, 0) * x.permute(1, 2, 0)),
    ("expand", (3, 1), lambda x: x.expand(2, 3, 4) * x.expand(-1, 4).expand(2, 3, 4)),
    ("narrow", (4, 3), lambda x: x.narrow(0, 1, 2) * x.narrow(0, 0, 2)),
    ("select", (4, 3), lambda x: x.select(1, 0) * x.select(1, 2)),
    ("diagonal", (3, 3), lambda x: x.diagonal() * x.diagonal()),
    ("as_strided", (8,), lambda x: x.as_strided((3, 4), (2, 1)) * x.as_strided((3, 4), (2, 1))),
    ("cat", (2, 3), lambda x: fg.cat([x, x * x], 0) * fg.cat([x, x], 0)),
    ("stack", (2, 3), lambda x: fg.stack([x, x * x], -1) * fg.stack([x, x], -1)),
    ("repeat", (2, 3), lambda x: x.repeat(2, 2) * x.repeat(2, 2)),
    ("split", (5, 2), lambda x: tuple(p * p for p in x.split(2))),
    ("unbind", (3, 2), lambda x: tuple(p * p for p in x.unbind(1))),
    ("flip_roll", (3, 4), lambda x: x.flip(0) * x.roll(1, 1)),
    ("tril", (3, 3), lambda x: x.tril() * x.triu()),
]


@pytest.mark.parametrize("name,shape,fn", GRADGRAD, ids=[g[0] for g in GRADGRAD])
def test_gradgradcheck(name, shape, fn):
    rng = np.random.default_rng(7)
    x = _leaf(rng, shape)
    assert gradgradcheck(fn, (x,))


def test_create_graph_through_views(torch):
    base = np.arange(1.0, 7.0).reshape(2, 3)
    x = fg.tensor(base).requires_grad_()
    tx = torch.tensor(base, requires_grad=True)
    for m, t in ((fg, x), (torch, tx)):
        y = t.t().reshape(6)
        z = (m.cat([y, y]) * m.cat([y, y])).narrow(0, 1, 4)
        (g,) = m.autograd.grad(z, t, grad_outputs=m.ones(4, dtype=m.float64), create_graph=True)
        (gg,) = m.autograd.grad(g, t, grad_outputs=m.ones(2, 3, dtype=m.float64))
        if m is fg:
            fg_res = (g, gg)
        else:
            torch_res = (g, gg)
    assert fg_res[0].requires_grad
    assert_close(fg_res[0].detach(), torch_res[0])
    assert_close(fg_res[1], torch_res[1])


# ---- view bookkeeping -------------------------------------------------------------
VIEWS = {
    "view": lambda x: x.view(6),
    "t": lambda x: x.t(),
    "T": lambda x: x.T,
    "mT": lambda x: x.mT,
    "narrow": lambda x: x.narrow(0, 0, 1),
    "select": lambda x: x.select(0, 1),
    "diagonal": lambda x: x.diagonal(),
    "expand": lambda x: x.expand(2, 2, 3),
    "unbind": lambda x: x.unbind(0)[0],
    "split": lambda x: x.split(1, 1)[1],
    "unsqueeze": lambda x: x.unsqueeze(0),
    "as_strided": lambda x: x.as_strided((2,), (1,)),
}


@pytest.mark.parametrize("name", list(VIEWS))
def test_views_track_grad(name):
    leaf = fg.ones(2, 3, dtype=fg.float64).requires_grad_()
    v = VIEWS[name](leaf)
    assert v.requires_grad and v.grad_fn is not None
    with fg.no_grad():
        w = VIEWS[name](leaf)
    assert not w.requires_grad and w.grad_fn is None


@pytest.mark.parametrize("name", ["narrow", "select", "t", "view", "diagonal", "T", "as_strided"])
def test_inplace_on_view_updates_the_base_gradient(torch, name):
    """CopySlices: an in-place op on a view changes the base's history, like torch."""
    data = np.arange(1.0, 7.0).reshape(2, 3)
    w = np.linspace(0.5, 3.0, 6).reshape(2, 3)
    grads = []
    for lib in (fg, torch):
        x = lib.tensor(data, requires_grad=True)
        y = x * 1
        v = VIEWS[name](y)
        v.mul_(v.detach() + 2)  # a data-dependent factor
        (y * lib.tensor(w)).sum().backward()
        grads.append(np.array(x.grad.cpu().numpy()))
        grads.append(np.array(y.detach().cpu().numpy()))
    np.testing.assert_allclose(grads[0], grads[2])
    np.testing.assert_allclose(grads[1], grads[3])


def test_inplace_on_view_of_leaf_raises():
    x = fg.ones(2, 3, dtype=fg.float64).requires_grad_()
    with pytest.raises(RuntimeError, match=r"mul_: a view of a leaf Variable that requires grad"):
        x.narrow(0, 0, 1).mul_(2)


def test_inplace_on_view_without_grad_still_works():
    x = fg.zeros(2, 3, dtype=fg.float64)
    x.narrow(1, 0, 2).add_(1)
    x.select(0, 1).mul_(3)
    assert_close(x, np.array([[1.0, 1.0, 0.0], [3.0, 3.0, 0.0]]))


def test_reshape_copy_is_not_a_view():
    """reshape of a non-viewable tensor returns a copy: in-place on it is allowed."""
    leaf = fg.ones(3, 4, dtype=fg.float64).requires_grad_()
    r = leaf.t().reshape(12)
    r.mul_(2)
    r.backward(fg.ones(12, dtype=fg.float64))
    assert_close(leaf.grad, np.full((3, 4), 2.0))


@pytest.mark.parametrize("op", ["tril_", "triu_"])
def test_triangle_inplace_grad(op, torch):
    base = np.arange(1.0, 13.0).reshape(3, 4)
    g = np.linspace(-1, 1, 12).reshape(3, 4)
    res = []
    for m in (fg, torch):
        leaf = m.tensor(base, requires_grad=True)
        y = leaf * 2
        getattr(y, op)(1)
        y.backward(m.tensor(g))
        res.append((y, leaf.grad))
    assert_close(res[0][0].detach(), res[1][0])
    assert_close(res[0][1], res[1][1])
    leaf = fg.tensor(base).requires_grad_()
    with pytest.raises(RuntimeError, match=op + ": a leaf Variable that requires grad"):
        getattr(leaf, op)()


def test_as_strided_overlapping_input_backward_raises():
    leaf = fg.ones(3, dtype=fg.float64).requires_grad_()
    y = leaf.expand(2, 3).as_strided((2,), (1,))
    with pytest.raises(RuntimeError, match="as_strided: backward through an input"):
        y.backward(fg.ones(2, dtype=fg.float64))


def test_iteration_is_differentiable(torch):
    base = np.arange(6.0).reshape(3, 2)
    x = fg.tensor(base).requires_grad_()
    rows = list(x)
    assert all(r.grad_fn is not None for r in rows)
    (rows[0] * 2 + rows[2] * 3).backward(fg.ones(2, dtype=fg.float64))
    assert_close(x.grad, np.array([[2.0, 2.0], [0.0, 0.0], [3.0, 3.0]]))


def test_stale_sibling_views_get_fresh_history(torch):
    """A view taken before its base (or a sibling view) was modified in place sees the
    new history when used afterwards (Note [Stale views]), like torch."""
    out = []
    for lib in (fg, torch):
        x = lib.tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
        y = x * 1
        a, b, c = y[0], y[0], y.t()
        a.mul_(2)
        y[1] += 5
        (b * 3 + c.sum(0) * 7).sum().backward()
        out.append(np.array(x.grad.cpu().numpy()))
    np.testing.assert_allclose(out[0], out[1])
