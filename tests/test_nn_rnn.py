"""RNN / LSTM / GRU layers and cells against torch (weights copied through
state_dict): outputs, final states, input and parameter gradients."""

import math

import fastgrad as fg
import numpy as np
import pytest
from fastgrad import nn
from helpers import assert_close
from nn_helpers import check_module, to_fg, wrap_states

# Every test runs on each device (conftest.py's `device` fixture).
pytestmark = pytest.mark.usefixtures("device")

MODES = ["RNN_TANH", "RNN_RELU", "LSTM", "GRU"]
CONFIGS = [
    {},
    {"num_layers": 2},
    {"bidirectional": True},
    {"num_layers": 2, "bidirectional": True, "batch_first": True},
    {"bias": False, "batch_first": True},
    {"num_layers": 2, "bias": False, "bidirectional": True},
]
DTYPES = {"float32": (fg.float32, np.float32), "float64": (fg.float64, np.float64)}


def _layer(lib, mode, *args, **kw):
    if mode.startswith("RNN"):
        return lib.nn.RNN(*args, nonlinearity=mode[4:].lower(), **kw)
    return getattr(lib.nn, mode)(*args, **kw)


def _pair(torch, mode, in_size, hidden, dtype, **kw):
    t = _layer(torch, mode, in_size, hidden, **kw).to(getattr(torch, dtype))
    f = _layer(fg, mode, in_size, hidden, dtype=DTYPES[dtype][0], **kw)
    return f, t


def _tol(dtype):
    return {"rtol": 1e-4, "atol": 1e-5} if dtype == "float32" else {"rtol": 1e-9, "atol": 1e-10}


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()) or "default")
@pytest.mark.parametrize("mode", MODES)
def test_layer_matches_torch(torch, rng, mode, cfg, dtype, train):
    torch.manual_seed(0)
    f, t = _pair(torch, mode, 5, 4, dtype, **cfg)
    x = rng.standard_normal((3, 6, 5) if cfg.get("batch_first") else (6, 3, 5))
    check_module(torch, f, t, [x.astype(DTYPES[dtype][1])], train=train, **_tol(dtype))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("cfg", CONFIGS[:4], ids=str)
@pytest.mark.parametrize("mode", MODES)
def test_layer_initial_states(torch, rng, mode, cfg, dtype):
    torch.manual_seed(1)
    f, t = _pair(torch, mode, 3, 4, dtype, **cfg)
    nd = 2 if cfg.get("bidirectional") else 1
    L = cfg.get("num_layers", 1) * nd
    npd = DTYPES[dtype][1]
    x = rng.standard_normal((2, 5, 3) if cfg.get("batch_first") else (5, 2, 3)).astype(npd)
    states = [rng.standard_normal((L, 2, 4)).astype(npd) for _ in range(2 if mode == "LSTM" else 1)]
    lstm = mode == "LSTM"
    check_module(torch, wrap_states(fg, f, lstm), wrap_states(torch, t, lstm), [x] + states, **_tol(dtype))


@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("cfg", [{}, {"num_layers": 2, "bidirectional": True}], ids=str)
@pytest.mark.parametrize("mode", MODES)
def test_layer_unbatched(torch, rng, mode, cfg, with_state):
    torch.manual_seed(2)
    f, t = _pair(torch, mode, 3, 4, "float64", **cfg)
    x = rng.standard_normal((7, 3))
    if not with_state:
        out_f, out_t = check_module(torch, f, t, [x])
    else:
        L = cfg.get("num_layers", 1) * (2 if cfg.get("bidirectional") else 1)
        states = [rng.standard_normal((L, 4)) for _ in range(2 if mode == "LSTM" else 1)]
        lstm = mode == "LSTM"
        out_f, out_t = check_module(torch, wrap_states(fg, f, lstm), wrap_states(torch, t, lstm), [x] + states)
    assert tuple(out_f[0].shape) == tuple(out_t[0].shape)


@pytest.mark.parametrize("mode", MODES)
def test_dropout_between_layers(torch, rng, mode):
    # eval: dropout is off, results equal torch's exactly
    torch.manual_seed(3)
    f, t = _pair(torch, mode, 3, 4, "float64", num_layers=3, dropout=0.5)
    x = rng.standard_normal((5, 2, 3))
    check_module(torch, f, t, [x], train=False)
    # train with p=1: layers 2 and 3 see zeros (deterministic, so torch agrees)
    f1, t1 = _pair(torch, mode, 3, 4, "float64", num_layers=2, dropout=1.0, bidirectional=True)
    check_module(torch, f1, t1, [x], train=True)
    # train with p=0.5: the layers' outputs are dropped, so the result changes,
    # reproducibly under the same seed, and gradients still reach every weight
    f.train()
    fg.manual_seed(0)
    out_a = f(fg.tensor(x))[0]
    fg.manual_seed(0)
    out_b = f(fg.tensor(x))[0]
    f.eval()
    out_eval = f(fg.tensor(x))[0]
    assert np.array_equal(out_a.detach().cpu().numpy(), out_b.detach().cpu().numpy())
    assert not np.allclose(out_a.detach().cpu().numpy(), out_eval.detach().cpu().numpy())
    out_a.sum().backward()
    assert all(p.grad is not None for p in f.parameters())


@pytest.mark.parametrize("cls", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("with_state", [False, True])
def test_cells(torch, rng, cls, bias, dtype, batched, with_state):
    torch.manual_seed(4)
    npd = DTYPES[dtype][1]
    for nl in (["tanh", "relu"] if cls == "RNNCell" else [None]):
        kw = {} if nl is None else {"nonlinearity": nl}
        t = getattr(torch.nn, cls)(5, 4, bias=bias, **kw).to(getattr(torch, dtype))
        f = getattr(nn, cls)(5, 4, bias=bias, dtype=DTYPES[dtype][0], **kw)
        shape = (3,) if batched else ()
        x = rng.standard_normal(shape + (5,)).astype(npd)
        if not with_state:
            check_module(torch, f, t, [x], **_tol(dtype))
            continue
        states = [rng.standard_normal(shape + (4,)).astype(npd)
                  for _ in range(2 if cls == "LSTMCell" else 1)]
        check_module(torch, wrap_states(fg, f, cls == "LSTMCell"),
                     wrap_states(torch, t, cls == "LSTMCell"), [x] + states, **_tol(dtype))


def test_cell_sequence_loop_matches_layer(torch, rng):
    # an LSTMCell unrolled by hand equals the LSTM layer with the same weights
    lstm = nn.LSTM(3, 4, dtype=fg.float64)
    cell = nn.LSTMCell(3, 4, dtype=fg.float64)
    for n in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]:
        getattr(cell, n).data = getattr(lstm, n + "_l0").detach().clone()
    x = fg.tensor(rng.standard_normal((6, 2, 3)))
    out, (_h, c) = lstm(x)
    hc = None
    for step in range(6):
        hc = cell(x[step], hc)
        assert_close(hc[0], out[step].detach().cpu().numpy(), rtol=1e-12, atol=1e-12)
    assert_close(hc[1], c[0].detach().cpu().numpy(), rtol=1e-12, atol=1e-12)


# ---- structure: parameter names, init, repr --------------------------------------

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("cfg", CONFIGS, ids=str)
def test_state_dict_and_repr_like_torch(torch, mode, cfg):
    kw = dict(cfg)
    if kw.get("num_layers", 1) > 1:
        kw["dropout"] = 0.25
    t = _layer(torch, mode, 5, 6, **kw)
    f = _layer(fg, mode, 5, 6, **kw)
    ts, fs = t.state_dict(), f.state_dict()
    assert list(fs) == list(ts)
    for k in ts:
        assert tuple(fs[k].shape) == tuple(ts[k].shape), k
    assert repr(f) == repr(t)
    # PyTorch's init: every parameter uniform in +-1/sqrt(hidden_size)
    bound = 1 / math.sqrt(6)
    values = []
    for name, p in f.named_parameters():
        v = p.detach().cpu().numpy().ravel()
        assert np.all(np.abs(v) <= bound), name
        assert len(np.unique(v)) == v.size, name  # really filled, not constant
        values.append(v)
    std = np.concatenate(values).std()
    assert abs(std - bound / math.sqrt(3)) < 0.15 * bound, std  # uniform's std


@pytest.mark.parametrize("cls,kw", [("RNNCell", {}), ("RNNCell", {"nonlinearity": "relu", "bias": False}),
                                    ("LSTMCell", {}), ("GRUCell", {"bias": False})])
def test_cell_state_dict_and_repr(torch, cls, kw):
    t = getattr(torch.nn, cls)(3, 5, **kw)
    f = getattr(nn, cls)(3, 5, **kw)
    assert list(f.state_dict()) == list(t.state_dict())
    assert repr(f) == repr(t)


def test_layer_inside_model_and_training_step(torch, rng):
    # a small seq model: GRU -> Linear on the last output; one SGD-like update
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.GRU(3, 8, num_layers=2, batch_first=True)
            self.fc = nn.Linear(8, 2)

        def forward(self, x):
            out, _ = self.rnn(x)
            return self.fc(out[:, -1])

    m = Model()
    x = fg.tensor(rng.standard_normal((4, 6, 3)).astype(np.float32))
    loss = (m(x) ** 2).sum()
    loss.backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape, name


# ---- errors --------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_bad_input_errors(mode):
    name = "LSTM" if mode == "LSTM" else ("GRU" if mode == "GRU" else "RNN")
    m = _layer(fg, mode, 10, 20, num_layers=2)
    with pytest.raises(ValueError, match=rf"{name}: Expected input to be 2D or 3D, got 4D"):
        m(fg.zeros(2, 3, 4, 10))
    msg = (rf"{name}: expected input of shape \(L, N, 10\) \(batch_first=False\) or "
           r"\(L, 10\), got \[5, 3, 7\]")
    with pytest.raises(RuntimeError, match=msg):
        m(fg.zeros(5, 3, 7))
    mb = _layer(fg, mode, 10, 20, batch_first=True)
    with pytest.raises(RuntimeError, match=r"\(N, L, 10\) \(batch_first=True\)"):
        mb(fg.zeros(5, 3, 7))
    bad_h = fg.zeros(2, 4, 20)
    hx = (bad_h, fg.zeros(2, 3, 20)) if mode == "LSTM" else bad_h
    with pytest.raises(RuntimeError, match=rf"{name}: expected h_0 of shape \(2, 3, 20\), got \[2, 4, 20\]"):
        m(fg.zeros(5, 3, 10), hx)
    with pytest.raises(RuntimeError, match=r"unbatched 2-D input, h_0 should also be 2-D"):
        m(fg.zeros(5, 10), fg.zeros(2, 1, 20) if mode != "LSTM" else (fg.zeros(2, 1, 20),) * 2)
    with pytest.raises(RuntimeError, match=rf"{name}: input dtype fastgrad.float64 does not match"):
        m(fg.zeros(5, 3, 10, dtype=fg.float64))
    with pytest.raises(RuntimeError, match="non-empty input"):
        m(fg.zeros(0, 3, 10))


def test_lstm_c0_shape_error():
    m = nn.LSTM(4, 3)
    with pytest.raises(RuntimeError, match=r"LSTM: expected c_0 of shape \(1, 2, 3\), got \[1, 2, 4\]"):
        m(fg.zeros(5, 2, 4), (fg.zeros(1, 2, 3), fg.zeros(1, 2, 4)))
    with pytest.raises(RuntimeError, match=r"LSTM: hx must be a tuple \(h_0, c_0\)"):
        m(fg.zeros(5, 2, 4), (fg.zeros(1, 2, 3),))


def test_error_prefixed_with_layer_path():
    model = nn.Sequential(nn.Linear(4, 7), nn.LSTM(10, 20))
    with pytest.raises(RuntimeError, match=r"^1 \(LSTM\): expected input of shape \(L, N, 10\)"):
        model(fg.zeros(5, 3, 4))


@pytest.mark.parametrize("cls", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cell_errors(cls):
    c = getattr(nn, cls)(10, 20)
    with pytest.raises(ValueError, match=rf"{cls}: Expected input to be 1D or 2D, got 3D"):
        c(fg.zeros(1, 2, 10))
    with pytest.raises(RuntimeError, match=rf"{cls}: expected input of shape \(N, 10\) or \(10,\), got \[3, 7\]"):
        c(fg.zeros(3, 7))
    h = fg.zeros(4, 20)
    with pytest.raises(RuntimeError, match=rf"{cls}: expected h of shape \(3, 20\), got \[4, 20\]"):
        c(fg.zeros(3, 10), (h, h) if cls == "LSTMCell" else h)


def test_constructor_errors():
    with pytest.raises(NotImplementedError, match="proj_size"):
        nn.LSTM(3, 4, proj_size=2)
    with pytest.raises(ValueError, match="only supported for LSTM"):
        nn.GRU(3, 4, proj_size=2)
    with pytest.raises(ValueError, match="dropout should be a number in range"):
        nn.LSTM(3, 4, num_layers=2, dropout=1.5)
    with pytest.raises(ValueError, match="Unknown nonlinearity 'sigmoid'"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="hidden_size must be greater than zero"):
        nn.GRU(3, 0)
    with pytest.raises(TypeError, match="hidden_size should be of type int"):
        nn.GRU(3, 2.5)
    with pytest.raises(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        nn.LSTM(3, 4, dropout=0.5)


def test_fused_cell_kernel_errors():
    with pytest.raises(RuntimeError, match=r"lstm_cell: expected gates of shape \(N, 4 \* hidden_size\)"):
        fg._C._lstm_cell(fg.zeros(2, 7), fg.zeros(2, 1))
    with pytest.raises(RuntimeError, match=r"lstm_cell: expected cx of shape \(2, 3\), got \(3, 3\)"):
        fg._C._lstm_cell(fg.zeros(2, 12), fg.zeros(3, 3))
    with pytest.raises(TypeError, match="lstm_cell: cx has dtype"):
        fg._C._lstm_cell(fg.zeros(2, 12), fg.zeros(2, 3, dtype=fg.float64))
    with pytest.raises(TypeError, match="lstm_cell: expected a floating point tensor"):
        fg._C._lstm_cell(fg.zeros(2, 12, dtype=fg.int64), fg.zeros(2, 3, dtype=fg.int64))
    with pytest.raises(RuntimeError, match=r"gru_cell: expected hidden gates of shape \(2, 9\)"):
        fg._C._gru_cell(fg.zeros(2, 9), fg.zeros(2, 6), fg.zeros(2, 3))
    with pytest.raises(RuntimeError, match=r"gru_cell: expected hx of shape \(2, 3\)"):
        fg._C._gru_cell(fg.zeros(2, 9), fg.zeros(2, 9), fg.zeros(2, 4))


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_fused_cell_gradgradcheck(mode, rng):
    # second derivatives of the fused kernels (create_graph=True runs the
    # recorded-op backward rule) against finite differences, float64
    H, N = 3, 2
    if mode == "LSTM":
        shapes, fn = [(N, 4 * H), (N, H)], fg._C._lstm_cell
    else:
        shapes, fn = [(N, 3 * H), (N, 3 * H), (N, H)], fg._C._gru_cell
    ts = [to_fg(rng.standard_normal(s), True) for s in shapes]
    assert fg.autograd.gradcheck(fn, ts, atol=1e-7, rtol=1e-6)
    assert fg.autograd.gradgradcheck(fn, ts, atol=1e-7, rtol=1e-6)


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_cell_create_graph_first_derivative_matches_fused(mode, rng):
    # the recorded-op rule (create_graph=True) and the fused kernel agree
    H, N = 4, 3
    shapes = [(N, 4 * H), (N, H)] if mode == "LSTM" else [(N, 3 * H), (N, 3 * H), (N, H)]
    fn = fg._C._lstm_cell if mode == "LSTM" else fg._C._gru_cell
    ts = [to_fg(rng.standard_normal(s), True) for s in shapes]
    outs = fn(*ts)
    outs = list(outs) if isinstance(outs, tuple) else [outs]
    gos = [fg.tensor(rng.standard_normal(tuple(o.shape))) for o in outs]
    plain = fg.autograd.grad(outs, ts, grad_outputs=gos, retain_graph=True)
    graph = fg.autograd.grad(outs, ts, grad_outputs=gos, create_graph=True)
    for a, b in zip(plain, graph):
        assert b.requires_grad
        assert_close(b.detach(), a.cpu().numpy(), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("cfg", [{}, {"num_layers": 2, "bidirectional": True}], ids=str)
@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN_TANH", "RNN_RELU"])
def test_layer_gradient_penalty_matches_torch(torch, rng, mode, cfg, dtype):
    # WGAN-GP style: loss = out.sum() + ||d out.sum()/dx||^2, backward through
    # autograd.grad(create_graph=True); compare x and every parameter grad
    torch.manual_seed(2)
    f, t = _pair(torch, mode, 3, 4, dtype, **cfg)
    f.load_state_dict(t.state_dict())
    npd = DTYPES[dtype][1]
    x = rng.standard_normal((5, 2, 3)).astype(npd)
    w = rng.standard_normal((5, 2, 8 if cfg else 4)).astype(npd)
    grads = {}
    for lib, m in (("fg", f), ("torch", t)):
        if lib == "fg":
            xt, wt = to_fg(x, True), fg.tensor(w)
            grad = fg.autograd.grad
        else:
            xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w)
            grad = torch.autograd.grad
        out = m(xt)[0]
        (gx,) = grad((out * wt).sum(), [xt], create_graph=True)
        loss = (out * wt).sum() + (gx * gx).sum() * 3
        loss.backward()
        grads[lib] = {"x": xt.grad, **{n: p.grad for n, p in m.named_parameters()}}
    assert grads["fg"].keys() == grads["torch"].keys()
    for name, g in grads["torch"].items():
        assert_close(grads["fg"][name], g, **_tol(dtype))


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_fused_kernel_gradcheck(mode, rng):
    # finite differences in float64 on the fused kernel alone
    H, N = 3, 2
    if mode == "LSTM":
        args = [rng.standard_normal((N, 4 * H)), rng.standard_normal((N, H))]
        fn = lambda a, b: sum(o.sum() * (k + 1) for k, o in enumerate(fg._C._lstm_cell(a, b)))
    else:
        args = [rng.standard_normal((N, 3 * H)), rng.standard_normal((N, 3 * H)),
                rng.standard_normal((N, H))]
        fn = lambda *a: (fg._C._gru_cell(*a) * fg.tensor(np.arange(N * H).reshape(N, H) / 5)).sum()
    ts = [to_fg(a, True) for a in args]
    fn(*ts).backward()
    eps = 1e-6
    for i, a in enumerate(args):
        num = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            plus, minus = [x.copy() for x in args], [x.copy() for x in args]
            plus[i][idx] += eps
            minus[i][idx] -= eps
            num[idx] = (fn(*map(fg.tensor, plus)).item() - fn(*map(fg.tensor, minus)).item()) / (2 * eps)
        assert_close(ts[i].grad, num, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype,rtol", [(np.float32, 1e-6), (np.float64, 1e-15)])
def test_fused_lstm_activation_accuracy(dtype, rtol):
    # float32 cells use a one-exp tanh: check it over the whole range, with
    # tiny, saturating and infinite pre-activations (no NaN, no overflow)
    x = np.concatenate([np.linspace(-30, 30, 20001), [0.0, 1e-30, -1e-8, 0.0624999, 0.0625,
                                                     1e4, -1e4, np.inf, -np.inf]])
    g = np.zeros((len(x), 4), dtype)
    g[:, 2] = x  # i = f = o = sigmoid(0) = 1/2, so c = tanh(x) / 2, h = tanh(c) / 2
    g[:, 0] = -x  # ... and i = sigmoid(-x) instead, to cover the sigmoid as well
    h, c = fg._C._lstm_cell(fg.tensor(g), fg.zeros(len(x), 1, dtype=fg.tensor(g).dtype))
    with np.errstate(over="ignore"):
        i = 1 / (1 + np.exp(x.astype(np.float64)))
    c_ref = i * np.tanh(x.astype(np.float64))
    h_ref = 0.5 * np.tanh(c_ref)
    np.testing.assert_allclose(c.cpu().numpy()[:, 0], c_ref, rtol=rtol * 8, atol=1e-300)
    np.testing.assert_allclose(h.cpu().numpy()[:, 0], h_ref, rtol=rtol * 8, atol=1e-300)


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_fused_cell_lanes_and_tail_agree(mode, rng):
    # float32 cells run four lanes at a time plus a scalar tail: the same
    # value must give bit-identical results wherever it sits in a row, and
    # repeated calls must be bit-for-bit identical
    H, N = 7, 3
    vals = rng.standard_normal((N, 1)).astype(np.float32) * 4
    G = 4 if mode == "LSTM" else 3
    gates = fg.tensor(np.repeat(vals, G * H, axis=1))
    state = fg.tensor(np.repeat(vals[::-1].copy(), H, axis=1))
    if mode == "LSTM":
        outs = fg._C._lstm_cell(gates, state)
    else:
        outs = (fg._C._gru_cell(gates, gates, state),)
    for o in outs:
        a = o.cpu().numpy()
        assert (a == a[:, :1]).all()
    again = fg._C._lstm_cell(gates, state) if mode == "LSTM" else (fg._C._gru_cell(gates, gates, state),)
    for o, p in zip(outs, again):
        assert (o.cpu().numpy() == p.cpu().numpy()).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_cells_propagate_nan(dtype):
    # the branch-free float32 activations must not turn NaN into a number
    for k in range(4):  # each gate (i, f, g, o) of unit 0, H = 2
        g = np.zeros((1, 8), dtype)
        g[0, 2 * k] = np.nan
        h, c = fg._C._lstm_cell(fg.tensor(g), fg.zeros(1, 2, dtype=fg.tensor(g).dtype))
        assert np.isnan(h.cpu().numpy()[0, 0]) and not np.isnan(h.cpu().numpy()[0, 1])
        assert np.isnan(c.cpu().numpy()[0, 0]) == (k != 3)
    g = np.zeros((1, 8), dtype)
    g[0, 0] = np.nan
    h, c = fg._C._lstm_cell(fg.tensor(g), fg.zeros(1, 2, dtype=fg.tensor(g).dtype))
    assert np.isnan(h.cpu().numpy()[0, 0]) and np.isnan(c.cpu().numpy()[0, 0]) and not np.isnan(h.cpu().numpy()[0, 1])
    gi = np.zeros((1, 6), dtype)
    gi[0, 4] = np.nan  # n gate of unit 0
    out = fg._C._gru_cell(fg.tensor(gi), fg.tensor(np.zeros_like(gi)), fg.zeros(1, 2, dtype=fg.tensor(gi).dtype))
    assert np.isnan(out.cpu().numpy()[0, 0]) and not np.isnan(out.cpu().numpy()[0, 1])


@pytest.mark.parametrize("dtype,rtol", [(np.float32, 4e-7), (np.float64, 1e-15)])
def test_rnn_tanh_kernel(dtype, rtol):
    # the Elman step's tanh: values over the whole range (odd sizes: vector
    # lanes and scalar tail), infinities and NaN
    x = np.concatenate([np.linspace(-30, 30, 20003), [0.0, 1e-30, 0.0625, -1e4, np.inf, -np.inf]])
    y = fg._C._rnn_tanh(fg.tensor(x.astype(dtype))).cpu().numpy()
    assert y.dtype == dtype
    np.testing.assert_allclose(y, np.tanh(x), rtol=rtol * 8, atol=1e-300)
    assert np.isnan(fg._C._rnn_tanh(fg.tensor(np.array([np.nan], dtype))).cpu().numpy()[0])
    with pytest.raises(TypeError, match="rnn_tanh_cell: expected a floating point tensor"):
        fg._C._rnn_tanh(fg.zeros(2, 3, dtype=fg.int64))


def test_rnn_tanh_gradgradcheck(rng):
    x = to_fg(rng.standard_normal((3, 5)), True)
    assert fg.autograd.gradcheck(fg._C._rnn_tanh, [x], atol=1e-7, rtol=1e-6)
    assert fg.autograd.gradgradcheck(fg._C._rnn_tanh, [x], atol=1e-7, rtol=1e-6)
