"""CUDA kernels against the CPU backend (itself tested against torch): the
caching allocator, transfers, the elementwise launcher (same functors as the
CPU loop, strided and broadcast operands), casts and strided copies, fused
optimizer steps. Marked `cuda`: skipped without a CUDA build and a GPU."""

import fastgrad as fg
import numpy as np
import pytest

pytestmark = pytest.mark.cuda

MiB = 1024 * 1024


def cu(a, dtype=None):
    t = fg.tensor(np.asarray(a)) if not isinstance(a, fg.Tensor) else a
    if dtype is not None:
        t = t.to(dtype)
    return t.to("cuda")


def host(t):
    assert t.device.type == "cuda"
    return t.to("cpu").numpy()


def check(got, expected, rtol=1e-5, atol=1e-6):
    """A CUDA result against the CPU backend's: same shape, dtype and values."""
    assert tuple(got.shape) == tuple(expected.shape)
    assert got.dtype == expected.dtype
    np.testing.assert_allclose(host(got), expected.numpy(), rtol=rtol, atol=atol)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# ---- allocator ----------------------------------------------------------------


def test_memory_counters_follow_tensors():
    fg.cuda.synchronize()
    base = fg.cuda.memory_allocated()
    x = fg.empty(MiB, device="cuda")  # 4 MiB of float32
    assert fg.cuda.memory_allocated() >= base + 4 * MiB
    assert fg.cuda.max_memory_allocated() >= base + 4 * MiB
    assert fg.cuda.memory_reserved() >= fg.cuda.memory_allocated()
    del x
    assert fg.cuda.memory_allocated() == base
    fg.cuda.reset_peak_memory_stats()
    assert fg.cuda.max_memory_allocated() == base
    fg.cuda.empty_cache()
    assert fg.cuda.memory_reserved() == fg.cuda.memory_allocated()


def test_freed_blocks_are_reused_without_driver_calls():
    x = fg.empty(1000, device="cuda")
    del x
    before = fg.cuda.memory_stats()["num_raw_allocs"]
    for _ in range(10):
        y = fg.empty(1000, device="cuda")
        del y
    assert fg.cuda.memory_stats()["num_raw_allocs"] == before


def test_out_of_memory_names_sizes_and_device():
    with pytest.raises(RuntimeError, match=r"CUDA out of memory: tried to allocate .* on cuda:0"):
        fg.empty(2**42, dtype=fg.float32, device="cuda")  # 16 TiB
    fg.empty(16, device="cuda")  # the device still works


def test_device_queries():
    assert fg.cuda.is_built() and fg.cuda.is_available()
    assert fg.cuda.device_count() >= 1
    assert 0 <= fg.cuda.current_device() < fg.cuda.device_count()
    fg.cuda.set_device(0)
    assert fg.cuda.current_device() == 0
    fg.cuda.synchronize(0)
    fg.cuda.synchronize("cuda:0")


# ---- transfers, casts, copies ----------------------------------------------


@pytest.mark.parametrize("dtype", [fg.float32, fg.float64, fg.int32, fg.int64, fg.bool])
def test_round_trip(rng, dtype):
    a = fg.tensor(rng.normal(size=(3, 5)) * 4).to(dtype)
    c = a.to("cuda")
    assert c.device == fg.device("cuda", 0) and c.dtype == dtype
    np.testing.assert_array_equal(host(c), a.numpy())


@pytest.mark.parametrize("src", [fg.float32, fg.float64, fg.int32, fg.int64, fg.bool])
@pytest.mark.parametrize("dst", [fg.float32, fg.float64, fg.int32, fg.int64, fg.bool])
def test_casts_on_device(rng, src, dst):
    a = fg.tensor(rng.normal(size=(4, 6)) * 5).to(src)
    check(cu(a).to(dst), a.to(dst), rtol=0, atol=0)


def test_strided_copies_on_device(rng):
    a = fg.tensor(rng.normal(size=(4, 5, 6)).astype(np.float32))
    c = cu(a)
    for view in (lambda t: t.transpose(0, 2), lambda t: t[:, ::2, 1:],
                 lambda t: t.permute(1, 2, 0), lambda t: t[1]):
        check(view(c).contiguous(), view(a).contiguous(), rtol=0, atol=0)
        check(view(c).clone(), view(a).clone(), rtol=0, atol=0)
    d = fg.zeros(6, 5, 4, device="cuda")
    d.copy_(c.transpose(0, 2))
    check(d, a.transpose(0, 2).contiguous(), rtol=0, atol=0)


def test_copy_between_devices_broadcasts_and_casts(rng):
    a = fg.tensor(rng.normal(size=(5,)))  # float64 on the CPU
    d = fg.zeros(3, 5, device="cuda")     # float32, broadcast source
    d.copy_(a)
    check(d, a.to(fg.float32).expand(3, 5).contiguous())
    e = fg.zeros(5, 3, device="cuda").t()  # strided destination
    e.copy_(fg.ones(3, 5))
    check(e, fg.ones(3, 5))
    back = fg.zeros(3, 5)
    back.copy_(d)
    np.testing.assert_allclose(back.numpy(), host(d))


# ---- elementwise ----------------------------------------------------------------

UNARY = ["sin", "cos", "exp", "log", "sqrt", "tanh", "sigmoid", "abs", "neg", "relu",
         "floor", "round", "expm1", "log1p", "erf", "reciprocal", "square", "sign"]


@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("dtype", [fg.float32, fg.float64])
def test_unary_matches_cpu(rng, name, dtype):
    a = fg.tensor(rng.uniform(0.1, 3.0, size=(7, 9))).to(dtype)
    f = getattr(fg, name)
    check(f(cu(a)), f(a), rtol=1e-5 if dtype == fg.float32 else 1e-12)
    check(f(cu(a).t()), f(a.t()), rtol=1e-5 if dtype == fg.float32 else 1e-12)


BINARY = ["add", "sub", "mul", "div", "maximum", "minimum", "pow", "atan2", "remainder",
          "eq", "lt", "ge", "logical_and"]


@pytest.mark.parametrize("name", BINARY)
def test_binary_broadcast_and_strided(rng, name):
    a = fg.tensor(rng.uniform(0.5, 2.0, size=(4, 1, 6)).astype(np.float32))
    b = fg.tensor(rng.uniform(0.5, 2.0, size=(6, 5)).astype(np.float32)).t()  # (5, 6), strided
    f = getattr(fg, name)
    check(f(cu(a), cu(b)), f(a, b))
    check(f(cu(a), 1.5), f(a, 1.5))  # a wrapped scalar


@pytest.mark.parametrize("dtype", [fg.int32, fg.int64])
def test_integer_binary(rng, dtype):
    a = fg.tensor(rng.integers(-50, 50, size=(3, 8))).to(dtype)
    b = fg.tensor(rng.integers(1, 9, size=(8,))).to(dtype)
    for name in ("add", "mul", "floor_divide", "remainder", "bitwise_xor", "maximum"):
        f = getattr(fg, name)
        check(f(cu(a), cu(b)), f(a, b), rtol=0, atol=0)


def test_inplace_ops_on_views(rng):
    a = fg.tensor(rng.normal(size=(6, 4)).astype(np.float32))
    c = cu(a)
    c.t().mul_(2.0)
    c[1:3].add_(cu(fg.ones(4)))
    c.clamp_(-1.0, 1.5)
    a.t().mul_(2.0)
    a[1:3].add_(fg.ones(4))
    a.clamp_(-1.0, 1.5)
    check(c, a)


def test_where_masked_fill_clamp(rng):
    a = fg.tensor(rng.normal(size=(5, 7)).astype(np.float32))
    m = a > 0
    check(fg.where(cu(m), cu(a), 0.0), fg.where(m, a, 0.0))
    check(cu(a).masked_fill(cu(m), -3.0), a.masked_fill(m, -3.0))
    check(cu(a).clamp(min=-0.5), a.clamp(min=-0.5))


def test_large_and_empty(rng):
    a = fg.tensor(rng.normal(size=(3, 1 << 20)).astype(np.float32))
    check(fg.exp(cu(a)[:, ::2]), fg.exp(a[:, ::2]))
    e = fg.zeros(0, 3, device="cuda")
    assert tuple((e + 1).shape) == (0, 3)


def test_cpu_scalar_tensors_join_cuda_ops(rng):
    a = fg.tensor(rng.normal(size=(3, 4)).astype(np.float32))
    two = fg.tensor(2.0, dtype=fg.float32)  # 0-d, on the CPU: allowed, as in torch
    check(cu(a) * two, a * two)
    check(fg.where(cu(a) > 0, cu(a), two), fg.where(a > 0, a, two))


def test_mixed_devices_raise():
    with pytest.raises(RuntimeError, match="same device"):
        fg.ones(3, device="cuda") + fg.ones(3)


def test_autograd_of_elementwise_on_device(rng):
    a = fg.tensor(rng.normal(size=(4, 3)).astype(np.float32), requires_grad=True)
    c = a.to("cuda")
    y = fg.tanh(c) * c
    g = fg.ones(4, 3, device="cuda")
    y.backward(g)
    ref = fg.tensor(a.detach().numpy(), requires_grad=True)
    (fg.tanh(ref) * ref).backward(fg.ones(4, 3))
    np.testing.assert_allclose(a.grad.numpy(), ref.grad.numpy(), rtol=1e-5)


# ---- fused optimizer steps --------------------------------------------------------


@pytest.mark.parametrize("make", [
    lambda ps: fg.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    lambda ps: fg.optim.Adam(ps, lr=0.01, amsgrad=True),
    lambda ps: fg.optim.AdamW(ps, lr=0.01, weight_decay=0.1),
], ids=["sgd", "adam", "adamw"])
def test_optimizer_steps_match_cpu(rng, make):
    p0 = rng.normal(size=(5, 3)).astype(np.float32)
    grads = [rng.normal(size=(5, 3)).astype(np.float32) for _ in range(3)]
    pc = fg.tensor(p0, requires_grad=True)
    pg = fg.tensor(p0).to("cuda").requires_grad_()
    oc, og = make([pc]), make([pg])
    for g in grads:
        pc.grad = fg.tensor(g)
        pg.grad = fg.tensor(g).to("cuda")
        oc.step()
        og.step()
    np.testing.assert_allclose(host(pg.detach()), pc.detach().numpy(), rtol=1e-5, atol=1e-6)


# ---- random and factories (filled on the device with the CPU's counter layout) ----


def test_random_fills_match_cpu_for_same_seed():
    for make, exact in ((lambda **kw: fg.rand(4, 5, **kw), True),
                        (lambda **kw: fg.randint(0, 100, (4, 5), **kw), True),
                        (lambda **kw: fg.randn(4, 5, **kw), False)):  # device libm
        fg.manual_seed(3)
        a = make()
        fg.manual_seed(3)
        b = make(device="cuda")
        if exact:
            np.testing.assert_array_equal(host(b), a.numpy())
        else:
            np.testing.assert_allclose(host(b), a.numpy(), rtol=1e-6, atol=1e-7)
    fg.manual_seed(5)
    m = fg.nn.functional.dropout(fg.ones(1000), 0.3)
    fg.manual_seed(5)
    md = fg.nn.functional.dropout(fg.ones(1000, device="cuda"), 0.3)
    np.testing.assert_array_equal(host(md), m.numpy())
    check(fg.arange(0, 10, 2, device="cuda"), fg.arange(0, 10, 2), rtol=0, atol=0)


# ---- devices ----------------------------------------------------------------------


def test_index_less_cuda_is_the_current_device():
    a = fg.ones(3, device="cuda")
    assert a.device == fg.device("cuda", fg.cuda.current_device())
    assert str(fg.device("cuda")) == "cuda"
    before = fg.cuda.memory_stats()["allocated_bytes"]
    b = a.to("cuda")  # already there: no copy
    assert fg.cuda.memory_stats()["allocated_bytes"] == before
    check(b, fg.ones(3))
    check(fg.ones(2).cuda(), fg.ones(2))


# ---- matrix products (cuBLAS) --------------------------------------------------------


def _grads_match(f, cpu_inputs, rtol=1e-4, atol=1e-5):
    """f on CUDA copies of the inputs (leaves) against f on the CPU: value and grads."""
    ref = f(*cpu_inputs)
    ref.backward(fg.ones_like(ref))
    dev = [t.detach().to("cuda").requires_grad_() for t in cpu_inputs]
    out = f(*dev)
    out.backward(fg.ones_like(out))
    check(out.detach(), ref.detach(), rtol=rtol, atol=atol)
    for d, c in zip(dev, cpu_inputs):
        check(d.grad, c.grad, rtol=rtol, atol=atol)


@pytest.mark.parametrize("dtype", [fg.float32, fg.float64])
@pytest.mark.parametrize("sa, sb", [((5, 7), (7, 3)), ((2, 5, 7), (7, 3)), ((4, 1, 5, 7), (3, 7, 6)),
                                    ((7,), (7, 3)), ((5, 7), (7,)), ((7,), (7,))])
def test_matmul_matches_cpu(rng, dtype, sa, sb):
    a = fg.tensor(rng.normal(size=sa)).to(dtype).requires_grad_()
    b = fg.tensor(rng.normal(size=sb)).to(dtype).requires_grad_()
    _grads_match(fg.matmul, [a, b])


def test_transposed_and_strided_operands(rng):
    a = fg.tensor(rng.normal(size=(6, 5)).astype(np.float32))
    b = fg.tensor(rng.normal(size=(4, 6)).astype(np.float32))
    check(fg.mm(cu(a).t(), cu(b).t()), fg.mm(a.t(), b.t()), rtol=1e-4, atol=1e-5)
    check(fg.mm(cu(a)[::2], cu(b).t()[:5, ::2]), fg.mm(a[::2], b.t()[:5, ::2]), rtol=1e-4,
          atol=1e-5)
    x = fg.tensor(rng.normal(size=(3, 4, 5)).astype(np.float32))
    y = fg.tensor(rng.normal(size=(3, 5, 2)).astype(np.float32))
    check(fg.bmm(cu(x), cu(y)), fg.bmm(x, y), rtol=1e-4, atol=1e-5)
    check(fg.bmm(cu(x).transpose(1, 2).transpose(1, 2), cu(y)), fg.bmm(x, y), rtol=1e-4,
          atol=1e-5)


def test_addmm_linear_outer_integers(rng):
    i = fg.tensor(rng.normal(size=(3,)).astype(np.float32))
    m1 = fg.tensor(rng.normal(size=(4, 5)).astype(np.float32))
    m2 = fg.tensor(rng.normal(size=(5, 3)).astype(np.float32))
    check(fg.addmm(cu(i), cu(m1), cu(m2), beta=0.5, alpha=2.0),
          fg.addmm(i, m1, m2, beta=0.5, alpha=2.0), rtol=1e-4, atol=1e-5)
    lin = fg.nn.Linear(5, 3)
    ref = lin(m1)
    check(lin.to("cuda")(cu(m1)), ref.detach(), rtol=1e-4, atol=1e-5)
    v = fg.tensor(rng.normal(size=(4,)))
    check(fg.outer(cu(v), cu(v)), fg.outer(v, v))
    ia = fg.tensor(rng.integers(-5, 5, size=(3, 4)))
    ib = fg.tensor(rng.integers(-5, 5, size=(4, 2)))
    check(fg.mm(cu(ia), cu(ib)), fg.mm(ia, ib), rtol=0, atol=0)


def test_products_reject_mixed_devices():
    with pytest.raises(RuntimeError, match="matmul: expected all tensors on the same device, "
                                           "got cuda:0 and cpu"):
        fg.matmul(fg.ones(2, 2, device="cuda"), fg.ones(2, 2))
    with pytest.raises(RuntimeError, match="addmm: expected all tensors on the same device"):
        fg.addmm(fg.ones(2), fg.ones(2, 2, device="cuda"), fg.ones(2, 2, device="cuda"))


# ---- indexing and embedding -----------------------------------------------------


def test_indexing_ops_match_cpu(rng):
    x = fg.tensor(rng.normal(size=(5, 6)).astype(np.float32))
    idx = fg.tensor(np.array([4, 0, 4, 2]))
    check(fg.index_select(cu(x), 0, cu(idx)), fg.index_select(x, 0, idx), rtol=0, atol=0)
    check(cu(x)[cu(idx)], x[idx], rtol=0, atol=0)
    check(cu(x)[cu(idx), 1:4], x[idx, 1:4], rtol=0, atol=0)
    check(cu(x)[cu(x) > 0], x[x > 0], rtol=0, atol=0)
    check(fg.masked_select(cu(x), cu(x) > 0.5), fg.masked_select(x, x > 0.5), rtol=0, atol=0)
    check(fg.nonzero(cu(x) > 0), fg.nonzero(x > 0), rtol=0, atol=0)
    g = fg.tensor(rng.integers(0, 6, size=(5, 3)))
    check(fg.gather(cu(x), 1, cu(g)), fg.gather(x, 1, g), rtol=0, atol=0)
    src = fg.tensor(rng.normal(size=(5, 3)).astype(np.float32))
    check(fg.zeros(5, 6, device="cuda").scatter_add(1, cu(g), cu(src)),
          fg.zeros(5, 6).scatter_add(1, g, src))
    check(fg.zeros(5, 6, device="cuda").index_add(0, cu(idx), cu(x[:4])),
          fg.zeros(5, 6).index_add(0, idx, x[:4]))
    c = cu(x).clone()
    c[cu(idx)] = 0.0
    y = x.clone()
    y[idx] = 0.0
    check(c, y, rtol=0, atol=0)
    check(fg.take(cu(x), cu(idx)), fg.take(x, idx), rtol=0, atol=0)
    check(fg.nn.functional.one_hot(cu(idx), 6), fg.nn.functional.one_hot(idx, 6), rtol=0, atol=0)
    check(fg.flip(cu(x), [0]), fg.flip(x, [0]), rtol=0, atol=0)
    check(fg.roll(cu(x), 2, 1), fg.roll(x, 2, 1), rtol=0, atol=0)
    check(fg.cat([cu(x), cu(x)], 1), fg.cat([x, x], 1), rtol=0, atol=0)
    with pytest.raises(IndexError, match="out of bounds"):
        fg.index_select(cu(x), 0, cu(fg.tensor([7])))


@pytest.mark.parametrize("padding_idx, scale", [(None, False), (2, False), (None, True)])
def test_embedding_forward_backward(rng, padding_idx, scale):
    w = fg.tensor(rng.normal(size=(7, 4)).astype(np.float32), requires_grad=True)
    idx = fg.tensor(np.array([[1, 2, 2], [6, 1, 2]]))
    f = lambda w, i: fg.nn.functional.embedding(i, w, padding_idx=padding_idx,  # noqa: E731
                                                scale_grad_by_freq=scale)
    ref = f(w, idx)
    ref.backward(fg.ones_like(ref))
    wd = w.detach().to("cuda").requires_grad_()
    out = f(wd, cu(idx))
    out.backward(fg.ones_like(out))
    check(out.detach(), ref.detach(), rtol=0, atol=0)
    check(wd.grad, w.grad)
    with pytest.raises(RuntimeError, match="same device"):
        fg.nn.functional.embedding(idx, wd)


# ---- recurrent layers --------------------------------------------------------------


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN"])
def test_recurrent_layers_match_cpu(rng, mode):
    fg.manual_seed(0)
    layer = getattr(fg.nn, mode)(4, 6, num_layers=2, batch_first=True)
    x = fg.tensor(rng.normal(size=(3, 5, 4)).astype(np.float32), requires_grad=True)
    out, _ = layer(x)
    out.sum().backward()
    ref_grads = [p.grad.numpy().copy() for p in layer.parameters()]
    layer.zero_grad()
    layer.to("cuda")
    xd = x.detach().to("cuda").requires_grad_()
    outd, _ = layer(xd)
    outd.backward(fg.ones_like(outd))
    check(outd.detach(), out.detach(), rtol=1e-4, atol=1e-5)
    check(xd.grad, x.grad, rtol=1e-4, atol=1e-5)
    for p, g in zip(layer.parameters(), ref_grads):
        np.testing.assert_allclose(host(p.grad), g, rtol=1e-4, atol=1e-5)


def test_embedding_on_cpu_lstm_on_gpu(rng):
    emb = fg.nn.Embedding(10, 4)
    lstm = fg.nn.LSTM(4, 5, batch_first=True).to("cuda")
    idx = fg.tensor(rng.integers(0, 10, size=(2, 3)))
    out, (h, c) = lstm(emb(idx).to("cuda"))
    assert out.device == fg.device("cuda", 0) and tuple(out.shape) == (2, 3, 5)
    out.backward(fg.ones(2, 3, 5, device="cuda"))
    assert emb.weight.grad.device.type == "cpu"


# ---- convolution and pooling -----------------------------------------------------


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1), dict(dilation=2, groups=2),
                                dict(groups=4, padding=1)], ids=str)
def test_conv2d_matches_cpu(rng, kw):
    x = fg.tensor(rng.normal(size=(2, 4, 9, 8)).astype(np.float32), requires_grad=True)
    w = fg.tensor(rng.normal(size=(8, 4 // kw.get("groups", 1), 3, 3)).astype(np.float32),
                  requires_grad=True)
    _grads_match(lambda x, w: fg.nn.functional.conv2d(x, w, **kw), [x, w])


@pytest.mark.parametrize("pool", [
    lambda x: fg.nn.functional.max_pool2d(x, 3, stride=2, padding=1),
    lambda x: fg.nn.functional.avg_pool2d(x, 2, ceil_mode=True),
    lambda x: fg.nn.functional.adaptive_avg_pool2d(x, (3, 2)),
    lambda x: fg.nn.functional.adaptive_max_pool2d(x, 2),
], ids=["max", "avg", "adaptive_avg", "adaptive_max"])
def test_pooling_matches_cpu(rng, pool):
    x = fg.tensor(rng.normal(size=(2, 3, 7, 6)).astype(np.float32), requires_grad=True)
    _grads_match(pool, [x])


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
def test_embedding_max_norm_renormalises_rows(rng, norm_type):
    w = rng.normal(size=(6, 4)).astype(np.float32) * 3
    idx = fg.tensor(np.array([[0, 2, 2], [5, 0, 1]]))
    ref = fg.nn.Embedding(6, 4, max_norm=1.5, norm_type=norm_type, _weight=fg.tensor(w))
    dev = fg.nn.Embedding(6, 4, max_norm=1.5, norm_type=norm_type,
                          _weight=fg.tensor(w)).to("cuda")
    check(dev(cu(idx)).detach(), ref(idx).detach())
    check(dev.weight.detach(), ref.weight.detach())
    check(fg.linspace(0, 1, 7, device="cuda"), fg.linspace(0, 1, 7), rtol=1e-7, atol=0)
    x, y = fg.empty(4, 5).t(), fg.empty(4, 5, device="cuda").t()  # strided outputs
    fg.manual_seed(1)
    x.uniform_()
    fg.manual_seed(1)
    y.uniform_()
    np.testing.assert_array_equal(host(y), x.numpy())
