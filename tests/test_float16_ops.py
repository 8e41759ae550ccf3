"""float16 / bfloat16 compute (Note [16-bit floats]): every op computes in
float32 and rounds its result once, on every device. torch's CPU build, in the
same 16-bit dtype, is the oracle for values and gradients; the run on CUDA
(conftest's `device` fixture) checks the CUDA paths (cublasGemmEx products,
the float32 detours) against the same numbers."""
import numpy as np
import pytest

import fastgrad as fg

from helpers import to_np

pytestmark = pytest.mark.usefixtures("device")

HALVES = ["float16", "bfloat16"]
# A few ulps of the 16-bit format: both sides round once, but torch may round
# an intermediate (e.g. a 16-bit bias add after its GEMM).
TOL = {"float16": dict(rtol=4e-3, atol=4e-3), "bfloat16": dict(rtol=3e-2, atol=3e-2)}


def _nn(lib):
    return lib.nn.functional


# name -> (f(lib, *inputs), input shapes, positive inputs?)
OPS = {
    "matmul": (lambda L, a, b: a @ b, [(3, 4), (4, 5)], False),
    "bmm_broadcast": (lambda L, a, b: a @ b, [(2, 3, 4), (4, 5)], False),
    "mv": (lambda L, a, b: L.mv(a, b), [(3, 4), (4,)], False),
    "dot": (lambda L, a, b: L.dot(a, b), [(6,), (6,)], False),
    "addmm": (lambda L, c, a, b: L.addmm(c, a, b, beta=0.5, alpha=2.0), [(3, 5), (3, 4), (4, 5)],
              False),
    "linear": (lambda L, x, w, b: _nn(L).linear(x, w, b), [(2, 3, 4), (5, 4), (5,)], False),
    "conv2d": (lambda L, x, w, b: _nn(L).conv2d(x, w, b, padding=1), [(2, 2, 5, 5), (3, 2, 3, 3),
                                                                      (3,)], False),
    "conv1d": (lambda L, x, w: _nn(L).conv1d(x, w, stride=2), [(2, 2, 9), (3, 2, 3)], False),
    "max_pool2d": (lambda L, x: _nn(L).max_pool2d(x, 2), [(1, 2, 6, 6)], False),
    "avg_pool2d": (lambda L, x: _nn(L).avg_pool2d(x, 3, 1, 1), [(1, 2, 6, 6)], False),
    "adaptive_avg_pool2d": (lambda L, x: _nn(L).adaptive_avg_pool2d(x, 2), [(1, 2, 5, 5)], False),
    "layer_norm": (lambda L, x, w, b: _nn(L).layer_norm(x, (4,), w, b), [(3, 4), (4,), (4,)],
                   False),
    "group_norm": (lambda L, x, w, b: _nn(L).group_norm(x, 2, w, b), [(2, 4, 3), (4,), (4,)],
                   False),
    "batch_norm_train": (
        lambda L, x, w, b: _nn(L).batch_norm(x, None, None, w, b, training=True),
        [(5, 3), (3,), (3,)], False),
    "softmax": (lambda L, x: x.softmax(1), [(3, 7)], False),
    "log_softmax": (lambda L, x: x.log_softmax(-1), [(3, 7)], False),
    "mse_loss": (lambda L, x, t: _nn(L).mse_loss(x, t), [(3, 4), (3, 4)], False),
    "l1_loss": (lambda L, x, t: _nn(L).l1_loss(x, t, reduction="sum"), [(3, 4), (3, 4)], False),
    "smooth_l1_loss": (lambda L, x, t: _nn(L).smooth_l1_loss(x, t), [(3, 4), (3, 4)], False),
    "bce_with_logits": (
        lambda L, x, t: _nn(L).binary_cross_entropy_with_logits(x, t.sigmoid()),
        [(3, 4), (3, 4)], False),
    "bce": (lambda L, x, t: _nn(L).binary_cross_entropy(x.sigmoid(), t.sigmoid()),
            [(3, 4), (3, 4)], False),
    "where": (lambda L, a, b: L.where(a > 0, a, b), [(3, 4), (3, 4)], False),
    "clamp": (lambda L, x: x.clamp(-0.5, 0.5), [(3, 4)], False),
    "masked_fill": (lambda L, x: x.masked_fill(x < 0, 0.25), [(3, 4)], False),
    "hardtanh": (lambda L, x: _nn(L).hardtanh(x, -0.3, 0.3), [(3, 4)], False),
    "leaky_relu": (lambda L, x: _nn(L).leaky_relu(x, 0.1), [(3, 4)], False),
    "elu": (lambda L, x: _nn(L).elu(x), [(3, 4)], False),
    "gelu": (lambda L, x: _nn(L).gelu(x), [(3, 4)], False),
    "index_select": (lambda L, x: L.index_select(x, 0, L.tensor([2, 0, 2])), [(3, 4)], False),
    "getitem_tensor": (lambda L, x: x[L.tensor([1, 1, 0])], [(3, 4)], False),
    "gather": (lambda L, x: L.gather(x, 1, L.tensor([[0, 0], [1, 3], [2, 2]])), [(3, 4)], False),
    "embedding": (lambda L, w: _nn(L).embedding(L.tensor([[0, 2], [2, 1]]), w), [(3, 4)], False),
    "masked_select": (lambda L, x: x[x > 0], [(3, 4)], False),
    "max_dim": (lambda L, x: x.max(1)[0], [(3, 4)], False),
    "cumsum": (lambda L, x: x.cumsum(0), [(5, 3)], False),
    "var": (lambda L, x: x.var(1), [(3, 6)], False),
    "norm": (lambda L, x: x.norm(), [(3, 6)], False),
    "pow": (lambda L, x: x ** 1.5, [(3, 4)], True),
}


def _inputs(rng, shapes, positive, dtype_name, lib):
    out = []
    for s in shapes:
        a = rng.standard_normal(s).astype(np.float32)
        if positive:
            a = np.abs(a) + 0.5
        t = lib.tensor(a).to(getattr(lib, dtype_name))
        out.append(t.requires_grad_(True))
    return out


def _check(got, want, name):
    assert got.dtype == getattr(fg, name), got.dtype
    np.testing.assert_allclose(to_np(got.float()), want.detach().float().numpy(), **TOL[name])


@pytest.mark.parametrize("name", HALVES)
@pytest.mark.parametrize("op", sorted(OPS))
def test_op_matches_torch(torch, name, op):
    f, shapes, positive = OPS[op]
    xs = _inputs(np.random.default_rng(0), shapes, positive, name, fg)
    ts = _inputs(np.random.default_rng(0), shapes, positive, name, torch)
    y, ty = f(fg, *xs), f(torch, *ts)
    _check(y, ty, name)
    # Gradients flow back through the float32 detour as 16-bit tensors.
    gw = np.random.default_rng(1).standard_normal(tuple(ty.shape)).astype(np.float32)
    (y.float() * fg.tensor(gw)).sum().backward()
    (ty.float() * torch.tensor(gw)).sum().backward()
    for x, t in zip(xs, ts):
        _check(x.grad, t.grad, name)


@pytest.mark.parametrize("name", HALVES)
def test_losses_with_class_targets(torch, name):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((6, 5)).astype(np.float32)
    target = [0, 4, 2, 2, 1, 3]
    w = rng.uniform(0.5, 2, 5).astype(np.float32)
    for kw in [{}, {"label_smoothing": 0.1}, {"ignore_index": 2}]:
        for L, ref in [(fg, False), (torch, True)]:
            dt = getattr(L, name)
            x = L.tensor(a).to(dt).requires_grad_(True)
            loss = L.nn.functional.cross_entropy(x, L.tensor(target), weight=L.tensor(w).to(dt),
                                                 **kw)
            loss.backward()
            if ref:
                tl, tg = loss, x.grad
            else:
                fl, fgr = loss, x.grad
        _check(fl, tl, name)
        _check(fgr, tg, name)
    x = fg.tensor(a).to(getattr(fg, name)).log_softmax(1)
    tx = torch.tensor(a).to(getattr(torch, name)).log_softmax(1)
    _check(fg.nn.functional.nll_loss(x, fg.tensor(target)),
           torch.nn.functional.nll_loss(tx, torch.tensor(target)), name)


@pytest.mark.parametrize("name", HALVES)
def test_batch_norm_running_stats_stay_16bit(torch, name):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((8, 3, 2)).astype(np.float32)
    bn, tbn = fg.nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    getattr(bn, name if name == "bfloat16" else "half")()
    getattr(tbn, name if name == "bfloat16" else "half")()
    for _ in range(2):
        y = bn(fg.tensor(a).to(getattr(fg, name)))
        ty = tbn(torch.tensor(a).to(getattr(torch, name)))
    _check(y, ty, name)
    _check(bn.running_mean, tbn.running_mean, name)
    _check(bn.running_var, tbn.running_var, name)
    bn.eval(), tbn.eval()
    _check(bn(fg.tensor(a).to(getattr(fg, name))), tbn(torch.tensor(a).to(getattr(torch, name))),
           name)


@pytest.mark.parametrize("name", HALVES)
def test_recurrent_layers(torch, name):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 5, 4)).astype(np.float32)
    for cls in ["LSTM", "GRU", "RNN"]:
        torch.manual_seed(0)
        ref = getattr(torch.nn, cls)(4, 3, batch_first=True)
        m = getattr(fg.nn, cls)(4, 3, batch_first=True)
        m.load_state_dict({k: fg.tensor(v.detach().numpy()) for k, v in ref.state_dict().items()})
        m.to(getattr(fg, name)), ref.to(getattr(torch, name))
        out, _ = m(fg.tensor(x).to(getattr(fg, name)))
        tout, _ = ref(torch.tensor(x).to(getattr(torch, name)))
        _check(out, tout, name)
        out.float().sum().backward()
        tout.float().sum().backward()
        _check(m.weight_hh_l0.grad, ref.weight_hh_l0.grad, name)
    cell, tcell = fg.nn.LSTMCell(4, 3), torch.nn.LSTMCell(4, 3)
    cell.load_state_dict({k: fg.tensor(v.detach().numpy()) for k, v in tcell.state_dict().items()})
    cell.to(getattr(fg, name)), tcell.to(getattr(torch, name))
    h, c = cell(fg.tensor(x[:, 0]).to(getattr(fg, name)))
    th, tc = tcell(torch.tensor(x[:, 0]).to(getattr(torch, name)))
    _check(h, th, name)
    _check(c, tc, name)


@pytest.mark.parametrize("name", HALVES)
@pytest.mark.parametrize("opt", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_optimizer_steps_on_16bit_parameters(torch, name, opt):
    """Fused steps run in float32 and round each written tensor once; torch's
    step on the same 16-bit parameters agrees to the format's precision."""
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((4, 3)).astype(np.float32)
    grads = [rng.standard_normal((4, 3)).astype(np.float32) for _ in range(3)]
    kw = {"lr": 0.05, **({"momentum": 0.9} if opt == "SGD" else {})}
    p = fg.nn.Parameter(fg.tensor(w0).to(getattr(fg, name)))
    tp = torch.nn.Parameter(torch.tensor(w0).to(getattr(torch, name)))
    o, to = getattr(fg.optim, opt)([p], **kw), getattr(torch.optim, opt)([tp], **kw)
    for g in grads:
        p.grad = fg.tensor(g).to(getattr(fg, name))
        tp.grad = torch.tensor(g).to(getattr(torch, name))
        o.step()
        to.step()
    _check(p.detach(), tp, name)


@pytest.mark.parametrize("name", HALVES)
def test_half_model_trains(name):
    """model.half() / .bfloat16(): forward, backward and Adam all in 16 bits."""
    fg.manual_seed(0)
    rng = np.random.default_rng(0)
    x = fg.tensor(rng.standard_normal((64, 8)).astype(np.float32)).to(getattr(fg, name))
    y = fg.tensor((rng.standard_normal(64) > 0).astype(np.int64))
    model = fg.nn.Sequential(fg.nn.Linear(8, 16), fg.nn.LayerNorm(16), fg.nn.ReLU(),
                             fg.nn.Dropout(0.1), fg.nn.Linear(16, 2))
    getattr(model, "half" if name == "float16" else "bfloat16")()
    assert all(p.dtype == getattr(fg, name) for p in model.parameters())
    opt = fg.optim.Adam(model.parameters(), lr=0.02)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = fg.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        assert all(p.grad.dtype == getattr(fg, name) for p in model.parameters())
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0], losses


@pytest.mark.parametrize("name", HALVES)
def test_random_fills_and_ranges(name):
    dt = getattr(fg, name)
    u = fg.rand(4096, dtype=dt)
    assert u.dtype == dt and 0.0 <= u.min().item() and u.max().item() < 1.0
    n = fg.randn(4096, dtype=dt)
    assert n.dtype == dt and abs(n.float().mean().item()) < 0.1
    assert abs(n.float().std().item() - 1.0) < 0.1
    r = fg.empty(100, dtype=dt).random_(-5, 5)
    assert set(r.float().tolist()) <= set(range(-5, 5))
    with pytest.raises(RuntimeError, match=f"random_.*out of bounds for .*{name}"):
        fg.empty(3, dtype=dt).random_(0, 1 << 20)
    a = fg.arange(0, 2, 0.25, dtype=dt)
    assert a.dtype == dt and a.float().tolist() == [i * 0.25 for i in range(8)]
    assert fg.linspace(0, 1, 5, dtype=dt).float().tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]


@pytest.mark.parametrize("name", HALVES)
def test_in_place_indexing_and_scatter(torch, name):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 3)).astype(np.float32)
    v = rng.standard_normal((3, 3)).astype(np.float32)
    got = fg.tensor(a).to(getattr(fg, name))
    want = torch.tensor(a).to(getattr(torch, name))
    idx = [3, 0, 3]
    got.index_put_((fg.tensor(idx),), fg.tensor(v).to(got.dtype), accumulate=True)
    want.index_put_((torch.tensor(idx),), torch.tensor(v).to(want.dtype), accumulate=True)
    _check(got, want, name)
    got[fg.tensor([1, 2])] = 0.5
    want[torch.tensor([1, 2])] = 0.5
    _check(got, want, name)
    s = fg.tensor(a).to(getattr(fg, name)).scatter_add(0, fg.tensor([[1, 0, 1]]),
                                                       fg.tensor(v[:1]).to(got.dtype))
    ts = torch.tensor(a).to(getattr(torch, name)).scatter_add(0, torch.tensor([[1, 0, 1]]),
                                                              torch.tensor(v[:1]).to(want.dtype))
    _check(s, ts, name)
    assert fg.tensor([0.0, 1.5, -0.0, 2.0]).to(getattr(fg, name)).nonzero().tolist() == [[1], [3]]


@pytest.mark.parametrize("name", HALVES)
def test_embedding_max_norm(torch, name):
    a = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32) * 2
    emb = fg.nn.Embedding(5, 4, max_norm=1.0)
    temb = torch.nn.Embedding(5, 4, max_norm=1.0)
    with fg.no_grad():
        emb.weight.copy_(fg.tensor(a))
    with torch.no_grad():
        temb.weight.copy_(torch.tensor(a))
    emb.to(getattr(fg, name)), temb.to(getattr(torch, name))
    out = emb(fg.tensor([[0, 3], [3, 1]]))
    tout = temb(torch.tensor([[0, 3], [3, 1]]))
    _check(out, tout, name)
    _check(emb.weight.detach(), temb.weight, name)


@pytest.mark.parametrize("name", HALVES)
def test_mismatched_dtypes_still_raise(name):
    """The float32 detour converts only 16-bit tensors: a 16-bit input with a
    float32 parameter is still the dtype error that names both."""
    x = fg.ones(2, 4, dtype=getattr(fg, name))
    with pytest.raises(RuntimeError, match=f"layer_norm: expected weight of dtype {name}"):
        fg.nn.functional.layer_norm(x, (4,), fg.ones(4))
    with pytest.raises((TypeError, RuntimeError), match=f"{name}|float32"):
        fg.nn.functional.conv2d(fg.ones(1, 2, 4, 4, dtype=getattr(fg, name)), fg.ones(3, 2, 3, 3))
    with pytest.raises(RuntimeError, match=f"input dtype fastgrad.{name} does not match"):
        fg.nn.LSTMCell(4, 3)(x)
