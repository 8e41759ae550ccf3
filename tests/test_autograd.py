"""Behaviour of the autograd engine and its Python API: accumulation,
retain_graph, hooks, retain_grad, autograd.grad, grad modes (thread-local),
dynamic graphs, in-place checks, long chains, memory, graph introspection."""

import gc
import os
import threading

import numpy as np
import pytest

import fastgrad as fg
from helpers import assert_close

# Every test runs on each device (conftest.py's `device` fixture).
pytestmark = pytest.mark.usefixtures("device")

F64 = fg.float64


def leaf(values):
    return fg.tensor(np.array(values, dtype=np.float64)).requires_grad_()


def ones(shape):
    return fg.ones(shape, dtype=F64)


# ---- accumulation and retain_graph ------------------------------------------------
def test_grad_accumulates_over_two_backward_calls():
    x = leaf([1.0, 2.0, 3.0])
    (x * x).backward(ones((3,)))
    assert_close(x.grad, np.array([2.0, 4.0, 6.0]))
    (x * 3.0).backward(ones((3,)))
    assert_close(x.grad, np.array([5.0, 7.0, 9.0]))
    x.grad = None
    (x * x).backward(ones((3,)))
    assert_close(x.grad, np.array([2.0, 4.0, 6.0]))


def test_grad_is_not_aliased_to_upstream_gradient():
    x = leaf([1.0, 2.0])
    g = ones((2,))
    (x * 1.0).backward(g)
    (x * 1.0).backward(g)
    assert_close(g, np.ones(2))  # accumulating into x.grad must not write into g
    assert_close(x.grad, np.array([2.0, 2.0]))


def test_retain_graph_allows_second_backward():
    x = leaf([0.5, -1.0])
    y = x.exp()
    y.backward(ones((2,)), retain_graph=True)
    y.backward(ones((2,)))
    assert_close(x.grad, 2 * np.exp([0.5, -1.0]))


def test_second_backward_without_retain_graph_raises():
    x = leaf([0.5, -1.0])
    y = x.exp()
    y.backward(ones((2,)))
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.backward(ones((2,)))


def test_non_scalar_backward_needs_gradient():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        (x * 2.0).backward()
    y = leaf([3.0]) * 2.0  # one element: implicit gradient of ones
    y.backward()


def test_backward_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        fg.tensor(np.ones(2)).backward(ones((2,)))


def test_backward_gradient_shape_mismatch_raises():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="backward: mismatch in shape"):
        (x * 2.0).backward(ones((3,)))


def test_backward_inputs_accumulates_only_into_them():
    p, q = leaf([1.0]), leaf([2.0])
    (p * q).backward(inputs=[p])
    assert_close(p.grad, np.array([2.0]))
    assert q.grad is None
    (p * q).backward(inputs=[q])
    assert_close(q.grad, np.array([1.0]))
    assert_close(p.grad, np.array([2.0]))


# ---- hooks ------------------------------------------------------------------------
@pytest.mark.parametrize("on", ["leaf", "non_leaf"])
def test_hook_replacing_gradient(on):
    x = leaf([1.0, 2.0])
    z = x * 2.0
    target = x if on == "leaf" else z
    target.register_hook(lambda g: g * 10.0)
    (z * 3.0).backward(ones((2,)))
    # leaf: grad 6 -> 60; non-leaf: dz = 3 -> 30, dx = 60.
    assert_close(x.grad, np.array([60.0, 60.0]))


@pytest.mark.parametrize("on", ["leaf", "non_leaf"])
def test_observing_hook_and_remove(on):
    x = leaf([1.0, 2.0])
    z = x * 2.0
    target = x if on == "leaf" else z
    seen = []
    handle = target.register_hook(lambda g: seen.append(g.cpu().numpy().copy()))
    (z * 3.0).backward(ones((2,)), retain_graph=True)
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], [6.0, 6.0] if on == "leaf" else [3.0, 3.0])
    assert_close(x.grad, np.array([6.0, 6.0]))  # returning None keeps the gradient
    handle.remove()
    handle.remove()  # removing twice is harmless
    (z * 3.0).backward(ones((2,)))
    assert len(seen) == 1
    assert_close(x.grad, np.array([12.0, 12.0]))


def test_leaf_hook_survives_without_graph():
    # The hook is registered before any graph uses the leaf.
    x = leaf([1.0])
    x.register_hook(lambda g: g + 1.0)
    (x * 3.0).backward(ones((1,)))
    assert_close(x.grad, np.array([4.0]))
    (x * 3.0).backward(ones((1,)))
    assert_close(x.grad, np.array([8.0]))


def test_hooks_run_in_registration_order():
    x = leaf([1.0])
    order = []
    x.register_hook(lambda g: order.append("a") or g * 2.0)
    x.register_hook(lambda g: order.append("b") or g + 1.0)
    (x * 1.0).backward(ones((1,)))
    assert order == ["a", "b"]
    assert_close(x.grad, np.array([3.0]))


@pytest.mark.parametrize("on", ["leaf", "non_leaf"])
def test_hook_changing_shape_raises(on):
    x = leaf([1.0, 2.0])
    z = x * 2.0
    (x if on == "leaf" else z).register_hook(lambda g: fg.ones((3,), dtype=F64))
    with pytest.raises(RuntimeError, match=r"hook .* changed its shape from \(2,\) to \(3,\)"):
        (z * 3.0).backward(ones((2,)))


def test_hook_exception_propagates():
    x = leaf([1.0])

    def bad(g):
        raise ValueError("from hook")

    (x * 1.0).register_hook(bad)
    y = x * 1.0
    y.register_hook(bad)
    with pytest.raises(ValueError, match="from hook"):
        y.backward()
    assert fg.is_grad_enabled()
    (x * 2.0).backward()  # the engine is usable afterwards
    assert_close(x.grad, np.array([2.0]))


def test_register_hook_needs_requires_grad():
    with pytest.raises(RuntimeError, match="register_hook"):
        fg.tensor(np.ones(2)).register_hook(lambda g: g)


def test_retain_grad_on_non_leaf():
    x = leaf([1.0, 2.0])
    m = x * 3.0
    n = x * 3.0
    m.retain_grad()
    assert m.retains_grad and not n.retains_grad and not x.retains_grad
    (m * m + n).backward(ones((2,)))
    assert_close(m.grad, np.array([6.0, 12.0]))
    assert n.grad is None
    assert_close(x.grad, np.array([21.0, 39.0]))


def test_post_accumulate_grad_hook_fires_once_with_final_grad():
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    calls = []
    x.register_post_accumulate_grad_hook(lambda t: calls.append(("x", t.grad.cpu().numpy().copy())))
    w.register_post_accumulate_grad_hook(lambda t: calls.append(("w", t.grad.cpu().numpy().copy())))
    # x is used three times: its grad is final only after all three paths arrive.
    (x * x + x * w + x.exp()).backward(ones((2,)))
    assert sorted(c[0] for c in calls) == ["w", "x"]
    got = dict(calls)
    np.testing.assert_allclose(got["x"], 2 * np.array([1.0, 2.0]) + [3.0, 4.0] + np.exp([1.0, 2.0]))
    np.testing.assert_allclose(got["w"], [1.0, 2.0])


def test_post_accumulate_grad_hook_only_on_leaves_and_removable():
    x = leaf([1.0])
    with pytest.raises(RuntimeError, match="leaf"):
        (x * 2.0).register_post_accumulate_grad_hook(lambda t: None)
    calls = []
    h = x.register_post_accumulate_grad_hook(lambda t: calls.append(1))
    (x * 2.0).backward()
    h.remove()
    (x * 2.0).backward()
    assert calls == [1]


# ---- autograd.grad ----------------------------------------------------------------
def test_grad_allow_unused():
    a, b = leaf([2.0]), leaf([1.0])
    ga, gb = fg.autograd.grad(a * 3.0, (a, b), allow_unused=True)
    assert_close(ga, np.array([3.0]))
    assert gb is None
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        fg.autograd.grad(a * 3.0, (a, b))
    ga, gb = fg.autograd.grad(a * 3.0, (a, b), materialize_grads=True)
    assert_close(gb, np.array([0.0]))
    assert a.grad is None and b.grad is None  # grad() does not touch .grad


def test_grad_create_graph_second_derivative():
    x = leaf([2.0, -1.0])
    (g,) = fg.autograd.grad(x ** 3, x, grad_outputs=ones((2,)), create_graph=True)
    assert g.requires_grad and g.grad_fn is not None
    assert_close(g.detach(), 3 * np.array([2.0, -1.0]) ** 2)
    (gg,) = fg.autograd.grad(g, x, grad_outputs=ones((2,)))
    assert_close(gg, 6 * np.array([2.0, -1.0]))
    assert not gg.requires_grad


def test_backward_create_graph_gives_differentiable_grad():
    x = leaf([1.5])
    (x ** 3).backward(create_graph=True)
    assert x.grad.requires_grad
    (gg,) = fg.autograd.grad(x.grad, x)
    assert_close(gg, np.array([9.0]))


def test_grad_outputs_weight_the_outputs(torch):
    nx = np.array([0.3, -0.7, 1.1])
    nv = np.array([2.0, -1.0, 0.5])
    x = fg.tensor(nx).requires_grad_()
    y1, y2 = x.sin(), x * x
    g1, g2 = fg.tensor(nv), fg.tensor(nv * 3)
    (gx,) = fg.autograd.grad((y1, y2), x, grad_outputs=(g1, g2))
    tx = torch.tensor(nx, requires_grad=True)
    (tgx,) = torch.autograd.grad((tx.sin(), tx * tx), tx,
                                 grad_outputs=(torch.tensor(nv), torch.tensor(nv * 3)))
    assert_close(gx, tgx)


def test_grad_input_must_require_grad():
    x = leaf([1.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        fg.autograd.grad(x * 2.0, fg.tensor(np.ones(1)))


# ---- grad modes -------------------------------------------------------------------
MODES = [
    ("no_grad", lambda: fg.no_grad(), False),
    ("enable_grad", lambda: fg.enable_grad(), True),
    ("set_grad_enabled_false", lambda: fg.set_grad_enabled(False), False),
    ("set_grad_enabled_true", lambda: fg.set_grad_enabled(True), True),
    ("inference_mode", lambda: fg.inference_mode(), False),
    ("inference_mode_false", lambda: fg.inference_mode(False), True),
    ("autograd.no_grad", lambda: fg.autograd.no_grad(), False),
]


@pytest.mark.parametrize("name,make_ctx,enabled", MODES, ids=[m[0] for m in MODES])
@pytest.mark.parametrize("outer", [True, False])
def test_grad_mode_context_manager(name, make_ctx, enabled, outer):
    x = leaf([1.0])
    with fg.set_grad_enabled(outer):
        with make_ctx():
            assert fg.is_grad_enabled() is enabled
            y = x * 2.0
        assert fg.is_grad_enabled() is outer
    assert fg.is_grad_enabled()
    assert y.requires_grad is enabled
    assert (y.grad_fn is not None) is enabled


@pytest.mark.parametrize("name,make_ctx,enabled", MODES, ids=[m[0] for m in MODES])
def test_grad_mode_decorator(name, make_ctx, enabled):
    x = leaf([1.0])

    @make_ctx()
    def f(t):
        """doc"""
        return t * 2.0, fg.is_grad_enabled()

    with fg.set_grad_enabled(not enabled):
        y, inside = f(x)
        assert fg.is_grad_enabled() is (not enabled)
    assert inside is enabled and y.requires_grad is enabled
    assert f.__doc__ == "doc" and f.__name__ == "f"


def test_grad_mode_restored_after_exception():
    with pytest.raises(ValueError):
        with fg.no_grad():
            raise ValueError("boom")
    assert fg.is_grad_enabled()


def test_set_grad_enabled_as_function():
    try:
        fg.set_grad_enabled(False)
        assert not fg.is_grad_enabled()
    finally:
        fg.set_grad_enabled(True)
    assert fg.is_grad_enabled()


def test_grad_mode_is_thread_local():
    x = leaf([1.0])
    seen = {}
    started, release = threading.Event(), threading.Event()

    def worker():
        seen["enabled"] = fg.is_grad_enabled()
        seen["records"] = (x * 2.0).requires_grad
        with fg.no_grad():
            started.set()
            release.wait(5)
        seen["after"] = fg.is_grad_enabled()

    release.set()
    with fg.no_grad():
        t = threading.Thread(target=worker)
        t.start()
        t.join()
    assert seen == {"enabled": True, "records": True, "after": True}
    # The worker's no_grad does not leak into this thread.
    started.clear()
    release.clear()
    t = threading.Thread(target=worker)
    t.start()
    started.wait(5)
    assert fg.is_grad_enabled() and (x * 2.0).requires_grad
    release.set()
    t.join()


# ---- dynamic graphs ---------------------------------------------------------------
def _dynamic(lib, x, w):
    """Loop length and branch depend on tensor values."""
    h = x
    steps = 0
    while float(h.detach().abs().max()) < 10.0 and steps < 20:
        h = h * w + 1.0
        steps += 1
    if float(h.detach()[0]) > 0:
        h = h.exp() * 0.001
    else:
        h = h * h
    return h, steps


@pytest.mark.parametrize("x0", [[0.5, 1.0], [-3.0, 0.2], [1.5, -0.5]])
def test_dynamic_graph_rebuilt_each_iteration(torch, x0):
    nw = np.array([1.3, 0.9])
    for it in range(3):
        nx = np.array(x0) * (1 + it)
        x, w = fg.tensor(nx).requires_grad_(), fg.tensor(nw).requires_grad_()
        tx, tw = torch.tensor(nx, requires_grad=True), torch.tensor(nw, requires_grad=True)
        out, steps = _dynamic(fg, x, w)
        tout, tsteps = _dynamic(torch, tx, tw)
        assert steps == tsteps
        g = np.array([1.0, -2.0])
        out.backward(fg.tensor(g))
        tout.backward(torch.tensor(g))
        assert_close(out.detach(), tout)
        assert_close(x.grad, tx.grad, rtol=1e-10)
        assert_close(w.grad, tw.grad, rtol=1e-10)


# ---- in-place checks --------------------------------------------------------------
def test_modified_saved_tensor_error_names_op():
    x = leaf([1.0, 2.0])
    y = (x * 1.0).exp()  # exp saves its output
    y.add_(1.0)
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation.*saved by ExpBackward"
                                           r".*modified by"):
        y.backward(ones((2,)))


def test_modified_saved_input_error():
    x = leaf([1.0, 2.0])
    h = x * 1.0
    y = h.sin()  # sin saves its input
    h.mul_(2.0)
    with pytest.raises(RuntimeError, match=r"is at version \d+; expected version \d+.*SinBackward"):
        y.backward(ones((2,)))


def test_inplace_on_leaf_requiring_grad_raises():
    x = leaf([1.0])
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.mul_(2.0)
    with fg.no_grad():
        x.mul_(2.0)  # allowed: e.g. parameter updates
    assert_close(x.detach(), np.array([2.0]))


def test_inplace_on_non_leaf_keeps_gradient_right(torch):
    nx = np.array([0.5, 1.5])
    x = fg.tensor(nx).requires_grad_()
    y = x * 2.0
    y.mul_(x)  # y = 2x^2
    y.exp_()
    y.backward(ones((2,)))
    tx = torch.tensor(nx, requires_grad=True)
    ty = tx * 2.0
    ty.mul_(tx)
    ty.exp_()
    ty.backward(torch.ones(2, dtype=torch.float64))
    assert_close(x.grad, tx.grad)
    assert y.grad_fn.name() == "ExpBackward"


def test_inplace_with_itself_raises_like_torch():
    # y.mul_(y): MulBackward saved y as an operand, which the write then changes.
    x = leaf([0.5, 1.5])
    y = x * 2.0
    y.mul_(y)
    with pytest.raises(RuntimeError, match="MulBackward"):
        y.backward(ones((2,)))


# ---- long chains and memory -------------------------------------------------------
def _in_small_stack_thread(fn):
    """Runs fn in a thread with a 1 MiB stack: recursion over a long graph
    (in backward or in freeing it) would crash there."""
    result = {}

    def run():
        try:
            result["value"] = fn()
        except BaseException as e:  # re-raised in the caller
            result["error"] = e

    old = threading.stack_size(1 << 20)
    try:
        t = threading.Thread(target=run)
        t.start()
        t.join()
    finally:
        threading.stack_size(old)
    if "error" in result:
        raise result["error"]
    return result["value"]


def _chain(x, n):
    y = x
    for _ in range(n):
        y = y * 1.0001
    return y


def test_long_chain_backward_does_not_overflow_stack():
    n = 100_000

    def run():
        x = leaf([1.0])
        y = _chain(x, n)
        y.backward()
        del y  # frees the 100k-node graph
        return x.grad.cpu().numpy().copy()

    np.testing.assert_allclose(_in_small_stack_thread(run), [1.0001 ** n], rtol=1e-9)


@pytest.mark.parametrize("retain", [False, True])
def test_long_chain_freed_iteratively(retain):
    # Dropping a 100k-node graph whose saved tensors are still held (never
    # differentiated, or retain_graph=True) must not recurse either.
    def run():
        x = leaf([1.0])
        y = _chain(x, 100_000)
        if retain:
            y.backward(retain_graph=True)
        del y
        gc.collect()
        return True

    assert _in_small_stack_thread(run)


def test_long_chain_create_graph():
    # y = x^n built as n multiplications: dy/dx = n x^(n-1), d2y/dx2 = n (n-1) x^(n-2).
    n = 2000
    x = leaf([1.0])
    y = x
    for _ in range(n - 1):
        y = y * x
    (g,) = fg.autograd.grad(y, x, create_graph=True)
    (gg,) = fg.autograd.grad(g, x)
    assert_close(g.detach(), np.array([float(n)]))
    assert_close(gg, np.array([float(n * (n - 1))]))


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
def test_memory_flat_over_many_iterations():
    w = fg.tensor(np.random.default_rng(0).standard_normal(2048)).requires_grad_()

    def step():
        h = (w * 1.5).tanh()
        out = (h * h + w.exp()).sin()
        out.backward(ones((2048,)))
        return out

    for _ in range(500):  # warm up allocator caches
        step()
    gc.collect()
    before = _rss_bytes()
    for _ in range(10_000):
        out = step()
    del out
    gc.collect()
    grown = _rss_bytes() - before
    # A leaked graph per step would hold >= 5 tensors of 16 KiB: >= 800 MB.
    assert grown < 32 * 2**20, f"RSS grew by {grown / 2**20:.1f} MiB"


def test_graph_freed_when_output_dropped():
    # The output's grad_fn holds the graph; after del, a hook closure is freed.
    import weakref

    class Marker:
        pass

    x = leaf([1.0])
    m = Marker()
    ref = weakref.ref(m)
    y = (x * 2.0).exp()
    y.grad_fn  # touch
    mid = x * 3.0
    mid.register_hook(lambda g, m=m: g)
    z = mid.sin()
    del m, mid
    gc.collect()
    assert ref() is not None  # still reachable through z's graph
    del z
    gc.collect()
    assert ref() is None


# ---- introspection ----------------------------------------------------------------
def test_grad_fn_name_and_next_functions():
    x, w = leaf([1.0]), leaf([2.0])
    h = x * w
    y = h.exp()
    assert y.grad_fn.name() == "ExpBackward"
    ((mul, nr),) = y.grad_fn.next_functions
    assert mul.name() == "MulBackward" and nr == 0
    acc_x, acc_w = (f for f, _ in mul.next_functions)
    assert acc_x.name() == acc_w.name() == "AccumulateGrad"
    assert acc_x.variable is not None
    assert_close(acc_x.variable.detach(), np.array([1.0]))
    c = x * fg.tensor(np.array([2.0]))  # constant operand: no edge
    assert c.grad_fn.next_functions[1][0] is None
    assert x.grad_fn is None


def test_is_leaf_and_requires_grad_():
    x = fg.tensor(np.ones(2))
    assert x.is_leaf and not x.requires_grad
    assert x.requires_grad_() is x
    assert x.requires_grad and x.is_leaf
    y = x * 2.0
    assert not y.is_leaf and y.requires_grad
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad_(False)
    x.requires_grad_(False)
    assert not x.requires_grad
    with pytest.raises(RuntimeError, match="floating point"):
        fg.tensor(np.ones(2, dtype=np.int64)).requires_grad_()
    x.requires_grad = True
    assert x.requires_grad


def test_detach_shares_storage_and_has_no_grad():
    x = leaf([1.0, 2.0])
    y = x * 2.0
    d = y.detach()
    assert d.is_leaf and not d.requires_grad and d.grad_fn is None
    with fg.no_grad():
        d.add_(1.0)  # writes through to y
    assert_close(y.detach(), np.array([3.0, 5.0]))
    assert y.requires_grad  # y keeps its history


def test_detach_in_place():
    x = leaf([1.0])
    y = x * 2.0
    assert y.detach_() is y
    assert y.is_leaf and not y.requires_grad and y.grad_fn is None
    (x * 2.0).backward()
    assert_close(x.grad, np.array([2.0]))
