"""The CUDA kernels' shared pieces, run on the CPU in every build: the LSTM /
GRU element functors the CUDA cells run (math/rnn.h), against the fused CPU
cells; the composed recurrence CUDA layers run (recorded per-step ops that
autograd differentiates), against the fused _rnn_sequence op; device
normalisation ("cuda" as the current device) as far as a machine without a
GPU can show it."""

import fastgrad as fg
import numpy as np
import pytest
from fastgrad import _C


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def t64(rng, *shape, scale=1.0):
    return fg.tensor(rng.normal(size=shape) * scale)


# ---- cell element functors ------------------------------------------------------


@pytest.mark.parametrize("N, H", [(3, 5), (1, 1), (4, 16)])
def test_lstm_elements_match_fused_cell(rng, N, H):
    gates, cx = t64(rng, N, 4 * H, scale=2), t64(rng, N, H)
    gates.requires_grad_(), cx.requires_grad_()
    h, c = _C._lstm_cell(gates, cx)
    eh, ec, work = _C._cuda._rnn_cell_elements("lstm", [gates.detach(), cx.detach()])
    np.testing.assert_allclose(eh.numpy(), h.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ec.numpy(), c.detach().numpy(), rtol=1e-12, atol=1e-14)
    dh, dc = t64(rng, N, H), t64(rng, N, H)
    fg.autograd.backward([h, c], [dh, dc])
    dg, dcx = _C._cuda._rnn_cell_elements("lstm_backward", [work, cx.detach(), dh, dc])
    np.testing.assert_allclose(dg.numpy(), gates.grad.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dcx.numpy(), cx.grad.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("N, H", [(3, 5), (1, 1), (4, 16)])
def test_gru_elements_match_fused_cell(rng, N, H):
    gi, gh, hx = t64(rng, N, 3 * H, scale=2), t64(rng, N, 3 * H), t64(rng, N, H)
    for t in (gi, gh, hx):
        t.requires_grad_()
    h = _C._gru_cell(gi, gh, hx)
    eh, work = _C._cuda._rnn_cell_elements("gru", [gi.detach(), gh.detach(), hx.detach()])
    np.testing.assert_allclose(eh.numpy(), h.detach().numpy(), rtol=1e-12, atol=1e-14)
    dh = t64(rng, N, H)
    h.backward(dh)
    dgi, dgh, dhx = _C._cuda._rnn_cell_elements("gru_backward", [work, hx.detach(), dh])
    np.testing.assert_allclose(dgi.numpy(), gi.grad.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dgh.numpy(), gh.grad.numpy(), rtol=1e-12, atol=1e-14)
    # the kernel gives the direct part of d hx; the full one adds dgh @ W_hh
    # in the layer, and here (no W_hh) the cell's own gradient is that part
    np.testing.assert_allclose(dhx.numpy(), hx.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_cell_elements_reject_unknown_kind(rng):
    with pytest.raises(ValueError, match="unknown kind 'rnn'"):
        _C._cuda._rnn_cell_elements("rnn", [t64(rng, 2, 3), t64(rng, 2, 3), t64(rng, 2, 1)])


# ---- the composed recurrence (the CUDA layers' path) ------------------------------

MODES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batch_sizes", [[3, 3, 3, 3], [4, 3, 3, 1]], ids=["padded", "packed"])
@pytest.mark.parametrize("mode", list(MODES))
def test_composed_sequence_matches_fused_op(rng, mode, batch_sizes, bias, reverse):
    G, B, I, H = MODES[mode], batch_sizes[0], 3, 5
    rows = sum(batch_sizes)

    def inputs():
        r = np.random.default_rng(1)
        mk = lambda *s: fg.tensor(r.normal(size=s) * 0.5, requires_grad=True)  # noqa: E731
        x, h0, c0 = mk(rows, I), mk(B, H), mk(B, H) if mode == "LSTM" else None
        w_ih, w_hh = mk(G * H, I), mk(G * H, H)
        b_ih, b_hh = (mk(G * H), mk(G * H)) if bias else (None, None)
        return [x, h0, c0, w_ih, w_hh, b_ih, b_hh]

    res = {}
    for name, fn in (("fused", _C._rnn_sequence), ("composed", _C._cuda._rnn_sequence_composed)):
        ins = inputs()
        x, h0, c0, w_ih, w_hh, b_ih, b_hh = ins
        out, hn, cn = fn(mode, x, batch_sizes, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse)
        r = np.random.default_rng(2)
        outs = [o for o in (out, hn, cn) if o is not None]
        grads = [fg.tensor(r.normal(size=tuple(o.shape))) for o in outs]
        fg.autograd.backward(outs, grads)
        res[name] = ([o.detach().numpy() for o in outs],
                     [None if t is None else t.grad.numpy() for t in ins])
    for a, b in zip(res["fused"][0], res["composed"][0]):
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12)
    for a, b in zip(res["fused"][1], res["composed"][1]):
        if a is None:
            assert b is None
        else:
            np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12)


def test_composed_sequence_checks_arguments(rng):
    x, h0 = t64(rng, 4, 3), t64(rng, 2, 5)
    with pytest.raises(RuntimeError, match="c0 is required for LSTM"):
        _C._cuda._rnn_sequence_composed("LSTM", x, [2, 2], h0, None, t64(rng, 20, 3),
                                        t64(rng, 20, 5), None, None, False)


# ---- devices --------------------------------------------------------------------


def test_index_less_cuda_device_keeps_torch_spelling():
    d = fg.device("cuda")
    assert str(d) == "cuda" and d.index is None
    assert fg.device("cuda", 0) == fg.device("cuda:0") and str(fg.device("cuda", 0)) == "cuda:0"
    assert d != fg.device("cuda:0")  # as torch.device: only tensors resolve the index


@pytest.mark.skipif(fg.cuda.is_available(), reason="checks the no-GPU message")
def test_tensor_cuda_without_gpu_raises():
    with pytest.raises(RuntimeError, match="without CUDA|no CUDA GPU"):
        fg.ones(2).cuda()
    with pytest.raises(RuntimeError, match="without CUDA|no CUDA GPU"):
        fg.ones(2).cuda(0)


# ---- conv2d's index math (im2col / col2im gather) -------------------------------

CONVS = [  # (N, C, H, W), (O, kh, kw), stride, padding (t, l, b, r), dilation, groups
    ((2, 3, 7, 6), (4, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1),
    ((1, 4, 9, 8), (6, 3, 2), (2, 3), (2, 0, 1, 1), (1, 2), 2),
    ((2, 4, 5, 5), (4, 3, 3), (2, 2), (1, 1, 1, 1), (2, 1), 4),  # depthwise
    ((1, 2, 4, 4), (3, 1, 1), (1, 1), (0, 0, 0, 0), (1, 1), 1),  # 1x1
]


@pytest.mark.parametrize("xs, ws, stride, pad, dil, groups", CONVS)
def test_conv_index_math_matches_torch(torch, rng, xs, ws, stride, pad, dil, groups):
    N, C, H, W = xs
    O, kh, kw = ws
    x = rng.normal(size=xs)
    w = rng.normal(size=(O, C // groups, kh, kw))
    args = (list(stride), list(pad), list(dil), groups)
    col = _C._cuda._conv_columns(fg.tensor(x), fg.tensor(w), *args).numpy()  # (N, G, K, L)
    G, Og = groups, O // groups
    wg = w.reshape(G, Og, -1)
    y = np.einsum("gok,ngkl->ngol", wg, col).reshape(N, O, -1)
    tx = torch.tensor(x, requires_grad=True)
    padded = torch.nn.functional.pad(tx, (pad[1], pad[3], pad[0], pad[2]))
    ty = torch.nn.functional.conv2d(padded, torch.tensor(w), stride=stride, dilation=dil,
                                    groups=groups)
    np.testing.assert_allclose(y.reshape(ty.shape), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    gy = rng.normal(size=tuple(ty.shape))
    ty.backward(torch.tensor(gy))
    gcol = np.einsum("gok,ngol->ngkl", wg, gy.reshape(N, G, Og, -1))
    gx = _C._cuda._conv_col2im(fg.tensor(gcol), fg.tensor(x), fg.tensor(w), *args).numpy()
    np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
