"""The whole-sequence recurrence op (_C._rnn_sequence) behind RNN / LSTM /
GRU layers: layers at sizes that exercise the four-lane kernels and their
scalar tails, single steps, batch 1, packed input, initial-state and bias
gradients against torch; second derivatives of the op itself (its
create_graph rule) by gradgradcheck; argument errors."""

import fastgrad as fg
import numpy as np
import pytest
from nn_helpers import check_module, to_fg, wrap_states

# Every test runs on each device (conftest.py's `device` fixture).
pytestmark = pytest.mark.usefixtures("device")

MODES = ["RNN_TANH", "RNN_RELU", "LSTM", "GRU"]
DTYPES = {"float32": (fg.float32, np.float32), "float64": (fg.float64, np.float64)}
# (seq, batch, input, hidden): hidden 8 runs whole lanes only, 5 / 13 a tail
SHAPES = [(6, 3, 5, 8), (4, 2, 3, 5), (1, 4, 7, 13), (7, 1, 4, 6), (3, 5, 2, 1)]


def _layer(lib, mode, *args, **kw):
    if mode.startswith("RNN"):
        return lib.nn.RNN(*args, nonlinearity=mode[4:].lower(), **kw)
    return getattr(lib.nn, mode)(*args, **kw)


def _tol(dtype):
    return {"rtol": 2e-4, "atol": 2e-5} if dtype == "float32" else {"rtol": 1e-9, "atol": 1e-10}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("cfg", [{}, {"num_layers": 2}, {"bidirectional": True},
                                 {"num_layers": 2, "bidirectional": True, "bias": False}],
                         ids=str)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("mode", MODES)
def test_layer_with_states_matches_torch(torch, rng, mode, shape, cfg, dtype):
    # outputs, h_n (and c_n), and the gradients of x, h0, c0 and every weight
    # and bias, from random upstream gradients on every output
    T, B, I, H = shape
    torch.manual_seed(3)
    t = _layer(torch, mode, I, H, **cfg).to(getattr(torch, dtype))
    f = _layer(fg, mode, I, H, dtype=DTYPES[dtype][0], **cfg)
    npd = DTYPES[dtype][1]
    L = cfg.get("num_layers", 1) * (2 if cfg.get("bidirectional") else 1)
    x = rng.standard_normal((T, B, I)).astype(npd)
    states = [rng.standard_normal((L, B, H)).astype(npd) for _ in range(2 if mode == "LSTM" else 1)]
    lstm = mode == "LSTM"
    check_module(torch, wrap_states(fg, f, lstm), wrap_states(torch, t, lstm), [x] + states,
                 **_tol(dtype))


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("mode", MODES)
def test_packed_odd_hidden_matches_torch(torch, rng, mode, bidirectional):
    # variable lengths (batch sizes shrink along time) with a lane tail
    torch.manual_seed(4)
    I, H, lengths = 3, 7, [5, 5, 3, 1]
    t = _layer(torch, mode, I, H, bidirectional=bidirectional).double()
    f = _layer(fg, mode, I, H, bidirectional=bidirectional, dtype=fg.float64)
    f.load_state_dict(t.state_dict())
    x = rng.standard_normal((5, len(lengths), I))
    xf, xt = to_fg(x, True), torch.tensor(x, requires_grad=True)
    pf = fg.nn.utils.rnn.pack_padded_sequence(xf, lengths)
    pt = torch.nn.utils.rnn.pack_padded_sequence(xt, lengths)
    of, hf = f(pf)
    ot, ht = t(pt)
    hf, ht = (hf[0], ht[0]) if mode == "LSTM" else (hf, ht)
    w = rng.standard_normal(tuple(ot.data.shape))
    lf = (of.data * fg.tensor(w)).sum() + (hf * hf).sum()
    lt = (ot.data * torch.tensor(w)).sum() + (ht * ht).sum()
    lf.backward()
    lt.backward()
    np.testing.assert_allclose(of.data.detach().cpu().numpy(), ot.data.detach().cpu().numpy(), rtol=1e-9,
                               atol=1e-10)
    np.testing.assert_allclose(xf.grad.cpu().numpy(), xt.grad.cpu().numpy(), rtol=1e-9, atol=1e-10)
    for (name, p), (_, q) in zip(f.named_parameters(), t.named_parameters()):
        np.testing.assert_allclose(p.grad.cpu().numpy(), q.grad.cpu().numpy(), rtol=1e-9, atol=1e-10,
                                   err_msg=name)


def _op_inputs(rng, mode, batch_sizes, H, bias, I=3):
    G = {"LSTM": 4, "GRU": 3}.get(mode, 1)
    rows, B = sum(batch_sizes), batch_sizes[0]
    t = lambda *s: to_fg(rng.standard_normal(s) * 0.5, True)
    x, h0, w_ih, w = t(rows, I), t(B, H), t(G * H, I), t(G * H, H)
    c0 = t(B, H) if mode == "LSTM" else None
    b_ih, b_hh = (t(G * H), t(G * H)) if bias else (None, None)
    return x, h0, c0, w_ih, w, b_ih, b_hh


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("batch_sizes", [[2, 2, 2], [3, 2, 2, 1]], ids=str)
@pytest.mark.parametrize("mode", MODES)
def test_op_gradgradcheck(rng, mode, batch_sizes, reverse):
    # first derivatives of the fused rule and second derivatives of the
    # create_graph rule (recorded replay) against finite differences
    H = 2
    x, h0, c0, w_ih, w, b_ih, b_hh = _op_inputs(rng, mode, batch_sizes, H, True, I=2)
    if mode == "RNN_RELU":  # keep pre-activations away from relu's kink
        b_ih = to_fg(b_ih.detach().cpu().numpy() + 3.0, True)

    def fn(x, h0, w_ih, w, b_ih, b_hh, *c):
        out = fg._C._rnn_sequence(mode, x, batch_sizes, h0, c[0] if c else None, w_ih, w, b_ih,
                                  b_hh, reverse)
        return tuple(o for o in out if o is not None)

    ins = [x, h0, w_ih, w, b_ih, b_hh] + ([c0] if c0 is not None else [])
    assert fg.autograd.gradcheck(fn, ins, atol=1e-7, rtol=1e-6)
    assert fg.autograd.gradgradcheck(fn, ins, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("mode", MODES)
def test_op_create_graph_first_derivative_matches_fused(rng, mode):
    # the recorded replay (create_graph=True) and the fused loop agree, with
    # a lane tail (H = 6) and a packed batch
    bs = [4, 3, 3, 1]
    x, h0, c0, w_ih, w, b_ih, b_hh = _op_inputs(rng, mode, bs, 6, True)
    ins = [t for t in (x, h0, c0, w_ih, w, b_ih, b_hh) if t is not None]
    outs = [o for o in fg._C._rnn_sequence(mode, x, bs, h0, c0, w_ih, w, b_ih, b_hh, True)
            if o is not None]
    gos = [fg.tensor(rng.standard_normal(tuple(o.shape))) for o in outs]
    plain = fg.autograd.grad(outs, ins, grad_outputs=gos, retain_graph=True)
    graph = fg.autograd.grad(outs, ins, grad_outputs=gos, create_graph=True)
    for a, b in zip(plain, graph):
        assert b.requires_grad
        np.testing.assert_allclose(b.detach().cpu().numpy(), a.cpu().numpy(), rtol=1e-10, atol=1e-12)


def test_op_without_bias_and_float32_matches_float64(rng):
    # no biases, and float32 (four-lane kernels) against float64 (libm)
    bs = [3, 3, 2]
    ins = _op_inputs(rng, "LSTM", bs, 9, False, I=5)[:5]
    f32 = [fg.tensor(t.detach().cpu().numpy().astype(np.float32)) for t in ins]
    a = fg._C._rnn_sequence("LSTM", ins[0], bs, ins[1], ins[2], ins[3], ins[4], None, None, False)
    b = fg._C._rnn_sequence("LSTM", f32[0], bs, f32[1], f32[2], f32[3], f32[4], None, None,
                            False)
    for x, y in zip(a, b):
        assert y.dtype == fg.float32
        np.testing.assert_allclose(y.cpu().numpy(), x.detach().cpu().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kwargs, match", [
    ({"mode": "LSTMX"}, "rnn_sequence: unknown mode"),
    ({"batch_sizes": [2, 3]}, "rnn_sequence: batch_sizes must be positive and non-increasing"),
    ({"batch_sizes": []}, "rnn_sequence: batch_sizes is empty"),
    ({"batch_sizes": [3, 3]}, r"rnn_sequence: expected x of shape \(6, 3\)"),
    ({"w_ih": fg.zeros(8, 2)}, r"rnn_sequence: expected w_ih of shape \(8, 3\)"),
    ({"c0": None}, "rnn_sequence: c0 is required for LSTM"),
    ({"h0": fg.zeros(3, 2)}, r"rnn_sequence: expected h0 of shape \(2, 2\)"),
    ({"w": fg.zeros(8, 3)}, "rnn_sequence: expected w_hh of shape"),
    ({"b_ih": fg.zeros(7)}, r"rnn_sequence: expected b_ih of shape \(8,\)"),
    ({"h0": fg.zeros(2, 2, dtype=fg.float32)}, "rnn_sequence: h0 has dtype"),
])
def test_op_errors(kwargs, match):
    z = lambda *s: fg.zeros(*s, dtype=fg.float64)
    args = {"mode": "LSTM", "x": z(4, 3), "batch_sizes": [2, 2], "h0": z(2, 2), "c0": z(2, 2),
            "w_ih": z(8, 3), "w": z(8, 2), "b_ih": None, "b_hh": None}
    args.update(kwargs)
    with pytest.raises((RuntimeError, ValueError, TypeError), match=match):
        fg._C._rnn_sequence(args["mode"], args["x"], args["batch_sizes"], args["h0"],
                            args["c0"], args["w_ih"], args["w"], args["b_ih"], args["b_hh"],
                            False)


def test_op_rejects_integer_dtype():
    z = lambda *s: fg.zeros(*s, dtype=fg.int64)
    with pytest.raises(TypeError, match="rnn_sequence: expected a floating dtype"):
        fg._C._rnn_sequence("RNN_TANH", z(2, 2), [1, 1], z(1, 2), None, z(2, 2), z(2, 2), None,
                            None, False)
