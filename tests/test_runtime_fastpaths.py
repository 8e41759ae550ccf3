"""Fast paths of the runtime: the CPU block cache, adopting a sole-owner
gradient instead of copying it, and the per-call-site location cache. Each
must keep results and error messages exactly as before."""

import inspect
import re

import numpy as np
import pytest

import fastgrad as fg
from fastgrad import _C


@pytest.fixture
def cache_limit():
    before = _C._cpu_cache_stats()["limit_bytes"]
    yield
    _C._cpu_set_cache_limit(before)


def test_cache_reuses_freed_blocks(cache_limit):
    _C._cpu_set_cache_limit(1 << 30)
    _C._cpu_empty_cache()
    a = fg.ones(1 << 20)
    del a
    before = _C._cpu_cache_stats()
    assert before["cached_bytes"] >= 4 << 20
    b = fg.full((1 << 20,), 3.0)  # same size class: served from the cache
    after = _C._cpu_cache_stats()
    assert after["hits"] > before["hits"]
    assert after["cached_bytes"] < before["cached_bytes"]
    np.testing.assert_array_equal(b.numpy(), np.full(1 << 20, 3.0, np.float32))


def test_cache_limit_zero_disables_and_empty_releases(cache_limit):
    _C._cpu_set_cache_limit(0)
    assert _C._cpu_cache_stats()["cached_bytes"] == 0
    a = fg.ones(1000)
    del a
    assert _C._cpu_cache_stats()["cached_bytes"] == 0
    _C._cpu_set_cache_limit(1 << 30)
    a = fg.ones(1000)
    del a
    assert _C._cpu_cache_stats()["cached_bytes"] > 0
    _C._cpu_empty_cache()
    assert _C._cpu_cache_stats()["cached_bytes"] == 0


def test_cache_limit_rejects_negative():
    with pytest.raises(ValueError, match="set_cpu_cache_limit"):
        _C._cpu_set_cache_limit(-1)


@pytest.mark.parametrize("n", [0, 1, 7, 255, 256, 257, 1000, 4097, (4 << 20) + 3])
def test_reused_blocks_hold_independent_values(n):
    # Tensors of many sizes created, freed and re-created in a loop keep
    # their own values (no block handed out twice).
    keep = []
    for i in range(6):
        t = fg.full((n,), float(i))
        if i % 2:
            keep.append((i, t))
    for i, t in keep:
        np.testing.assert_array_equal(t.numpy(), np.full(n, float(i), np.float32))


def test_leaf_grad_adopted_is_private():
    x = fg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * 2).sum().backward()
    g = x.grad
    np.testing.assert_array_equal(g.numpy(), [2.0, 2.0, 2.0])
    (x * 3).sum().backward()  # accumulates in place into the adopted grad
    np.testing.assert_array_equal(x.grad.numpy(), [5.0, 5.0, 5.0])


def test_leaf_grad_from_hook_is_copied_not_aliased():
    # The hook's result is also held by the user: .grad must not alias it.
    x = fg.tensor([1.0, 2.0], requires_grad=True)
    held = fg.tensor([10.0, 20.0])
    x.register_hook(lambda g: held)
    (x * 1).sum().backward()
    (x * 1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [20.0, 40.0])
    np.testing.assert_array_equal(held.numpy(), [10.0, 20.0])


def test_shared_gradient_not_adopted_by_two_leaves():
    # add's backward hands the same gradient to both inputs.
    a = fg.tensor([1.0, 2.0], requires_grad=True)
    b = fg.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()
    a.grad.add_(1.0)
    np.testing.assert_array_equal(a.grad.numpy(), [2.0, 2.0])
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 1.0])


def test_error_names_each_call_site_line():
    # The same op on two lines of one function: each node reports its own
    # line, also when the location comes from the per-site cache.
    def run(which):
        x = fg.tensor([1.0, 2.0], requires_grad=True)
        y = x.exp()
        if which == "a":
            out = y * 2.0  # site A
        else:
            out = y * 3.0  # site B
        y.add_(1.0)  # site M
        return out

    lines = inspect.getsource(run).splitlines()
    first = run.__code__.co_firstlineno
    for which, tag in (("a", "site A"), ("b", "site B"), ("a", "site A")):
        for _ in range(2):
            out = run(which)
            with pytest.raises(RuntimeError, match="modified by an inplace") as e:
                out.sum().backward()
            fwd = re.search(r"forward called at [^ ]*test_runtime_fastpaths\.py:(\d+)", str(e.value))
            mod = re.search(r"add_ at [^ ]*test_runtime_fastpaths\.py:(\d+)", str(e.value))
            assert fwd and mod, str(e.value)
            assert tag in lines[int(fwd.group(1)) - first], str(e.value)
            assert "site M" in lines[int(mod.group(1)) - first], str(e.value)


@pytest.mark.parametrize("form", ["mm", "addmm", "matmul3d", "matmul2d", "linear"])
def test_transposed_weight_gets_contiguous_grad(form):
    # Note [Gradients in their operand's layout]: the gradient of W used as
    # W.t() arrives contiguous, with numpy's values.
    rng = np.random.default_rng(0)
    xa = rng.standard_normal((2, 5, 4) if form == "matmul3d" else (5, 4))
    wa, ba = rng.standard_normal((3, 4)), rng.standard_normal(3)
    x = fg.tensor(xa, requires_grad=True)
    w = fg.tensor(wa, requires_grad=True)
    b = fg.tensor(ba, requires_grad=True)
    if form == "mm":
        y = fg.mm(x, w.t())
    elif form == "addmm":
        y = fg.addmm(b, x, w.t())
    elif form in ("matmul3d", "matmul2d"):
        y = x @ w.t()
    else:
        y = fg.nn.functional.linear(x, w, b)
    ga = rng.standard_normal(y.shape)
    y.backward(fg.tensor(ga))
    assert w.grad.is_contiguous()
    g2 = ga.reshape(-1, 3)
    np.testing.assert_allclose(w.grad.numpy(), g2.T @ xa.reshape(-1, 4), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), ga @ wa, rtol=1e-12)


@pytest.mark.parametrize("form", ["mm", "addmm", "matmul3d", "matmul2d"])
def test_transposed_weight_double_backward(form):
    rng = np.random.default_rng(1)
    x = fg.tensor(rng.standard_normal((2, 3, 4) if form == "matmul3d" else (3, 4)),
                  requires_grad=True)
    w = fg.tensor(rng.standard_normal((2, 4)), requires_grad=True)
    b = fg.tensor(rng.standard_normal(2), requires_grad=True)
    fns = {"mm": lambda x, w, b: fg.mm(x, w.t()).tanh() + b,
           "addmm": lambda x, w, b: fg.addmm(b, x, w.t()).tanh(),
           "matmul3d": lambda x, w, b: fg.matmul(x, w.t()).tanh() + b,
           "matmul2d": lambda x, w, b: (w @ x.t()).t().tanh() + b}
    assert fg.autograd.gradgradcheck(fns[form], (x, w, b))


def test_engine_sums_many_contributions_in_place_correctly():
    # W used in a Python loop: 20 contributions summed into one buffer.
    rng = np.random.default_rng(2)
    wa = rng.standard_normal((6, 4))
    xs = [rng.standard_normal((3, 4)) for _ in range(20)]
    w = fg.tensor(wa, requires_grad=True)
    total = None
    for xa in xs:
        y = (fg.tensor(xa) @ w.T).tanh().sum()
        total = y if total is None else total + y
    total.backward()
    want = sum((1 - np.tanh(xa @ wa.T) ** 2).T @ xa for xa in xs)
    np.testing.assert_allclose(w.grad.numpy(), want, rtol=1e-10)


def test_engine_never_sums_into_a_user_tensor():
    x = fg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    g = fg.tensor([1.0, 1.0, 1.0])
    (x * 2 + x * 3 + x).backward(g)
    np.testing.assert_array_equal(g.numpy(), [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 6.0, 6.0])
    # A hook that keeps the gradient it sees must keep its value too.
    seen = []
    y = x * 1.0
    y.register_hook(lambda t: seen.append(t))
    (y + y * 2).sum().backward()
    np.testing.assert_array_equal(seen[0].numpy(), [3.0, 3.0, 3.0])


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_relu_backward_matches_torch_threshold_backward(create_graph, dtype):
    torch = pytest.importorskip("torch")
    xa = np.array([-1.0, 0.0, 2.0, np.nan, 5.0, -0.0, 3.0], dtype=dtype)
    ga = np.array([np.inf, 1.0, 3.0, 1.0, np.nan, np.nan, -2.0], dtype=dtype)
    out = []
    for m in (fg, torch):
        x = m.tensor(xa, requires_grad=True)
        (gx,) = m.autograd.grad(m.relu(x), x, m.tensor(ga), create_graph=create_graph)
        out.append(gx.detach().numpy())
    np.testing.assert_array_equal(out[0], out[1])
