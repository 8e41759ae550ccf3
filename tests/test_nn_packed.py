"""nn.utils.rnn (pad/pack helpers, PackedSequence) and RNN layers on packed
input: against torch, and against running each sequence alone."""

import fastgrad as fg
import numpy as np
import pytest
from fastgrad import nn
from fastgrad.nn.utils import rnn as U
from helpers import assert_close
from nn_helpers import to_fg, to_torch

# Every test runs on each device (conftest.py's `device` fixture).
pytestmark = pytest.mark.usefixtures("device")

LENGTHS = [[5, 3, 2], [2, 6, 1, 4], [4, 4, 4], [1]]


def _seqs(rng, lengths, trailing=(3,), dtype=np.float64):
    return [rng.standard_normal((n,) + trailing).astype(dtype) for n in lengths]


def _both(torch, arrays, grad=False):
    return [to_fg(a, grad) for a in arrays], [to_torch(torch, a, grad) for a in arrays]


# ---- pad_sequence ----------------------------------------------------------------

@pytest.mark.parametrize("lengths", LENGTHS)
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
@pytest.mark.parametrize("trailing", [(), (3,), (2, 2)])
def test_pad_sequence(torch, rng, lengths, batch_first, padding_side, trailing):
    arrays = _seqs(rng, lengths, trailing)
    f, t = _both(torch, arrays, grad=True)
    kw = {"batch_first": batch_first, "padding_value": -1.5, "padding_side": padding_side}
    out_f = U.pad_sequence(f, **kw)
    out_t = torch.nn.utils.rnn.pad_sequence(t, **kw)
    assert_close(out_f, out_t)
    g = rng.standard_normal(tuple(out_t.shape))
    (out_f * to_fg(g)).sum().backward()
    (out_t * to_torch(torch, g)).sum().backward()
    for a, b in zip(f, t):
        assert_close(a.grad, b.grad)


@pytest.mark.parametrize("dtype", [np.int64, np.float32])
def test_pad_sequence_dtypes(torch, rng, dtype):
    arrays = [(rng.standard_normal((n, 2)) * 10).astype(dtype) for n in (3, 1, 2)]
    f, t = _both(torch, arrays)
    assert_close(U.pad_sequence(f, padding_value=7), torch.nn.utils.rnn.pad_sequence(t, padding_value=7))


def test_pad_sequence_errors():
    with pytest.raises(ValueError, match="padding_side must be 'left' or 'right'"):
        U.pad_sequence([fg.zeros(2)], padding_side="middle")
    with pytest.raises(RuntimeError, match=r"pad_sequence: all sequences must have shape \(L, 3,\)"):
        U.pad_sequence([fg.zeros(2, 3), fg.zeros(2, 4)])


# ---- pack_padded_sequence / pad_packed_sequence --------------------------------

@pytest.mark.parametrize("lengths", [[5, 3, 2], [2, 6, 1, 4], [3, 3, 1], [1]])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("as_tensor", [False, True])
def test_pack_padded_roundtrip(torch, rng, lengths, batch_first, as_tensor):
    sorted_ok = all(a >= b for a, b in zip(lengths, lengths[1:]))
    T, B = max(lengths), len(lengths)
    x = rng.standard_normal((B, T, 3) if batch_first else (T, B, 3))
    f, t = to_fg(x, True), to_torch(torch, x, True)
    lf = fg.tensor(lengths, dtype=fg.int64) if as_tensor else lengths
    lt = torch.tensor(lengths) if as_tensor else lengths
    for enforce in ([True, False] if sorted_ok else [False]):
        pf = U.pack_padded_sequence(f, lf, batch_first=batch_first, enforce_sorted=enforce)
        pt = torch.nn.utils.rnn.pack_padded_sequence(t, lt, batch_first=batch_first,
                                                     enforce_sorted=enforce)
        assert isinstance(pf, U.PackedSequence) and isinstance(pf, tuple)
        assert_close(pf.data, pt.data)
        assert_close(pf.batch_sizes, pt.batch_sizes)
        for a, b in [(pf.sorted_indices, pt.sorted_indices), (pf.unsorted_indices, pt.unsorted_indices)]:
            assert (a is None) == (b is None)
            if b is not None and len(set(lengths)) == len(lengths):  # ties may order differently
                assert_close(a, b)
        for total in [None, T + 2]:
            kw = {"batch_first": batch_first, "padding_value": 9.0, "total_length": total}
            of, lof = U.pad_packed_sequence(pf, **kw)
            ot, lot = torch.nn.utils.rnn.pad_packed_sequence(pt, **kw)
            assert_close(of, ot)
            assert_close(lof, lot)
        g = rng.standard_normal(tuple(ot.shape))
        f.grad, t.grad = None, None
        (of * to_fg(g)).sum().backward()
        (ot * to_torch(torch, g)).sum().backward()
        assert_close(f.grad, t.grad)


def test_pack_errors():
    x = fg.zeros(4, 3, 2)
    with pytest.raises(RuntimeError, match="`lengths` array must be sorted in decreasing order "
                                           "when `enforce_sorted` is True"):
        U.pack_padded_sequence(x, [2, 4, 1])
    with pytest.raises(RuntimeError, match="greater than 0.*<= 0"):
        U.pack_padded_sequence(x, [4, 0, 0])
    with pytest.raises(RuntimeError, match="greater than 0"):
        U.pack_padded_sequence(x, [4, -1, 2], enforce_sorted=False)
    with pytest.raises(ValueError, match=r"len\(lengths\) to be equal to batch_size, but got 2"):
        U.pack_padded_sequence(x, [4, 2])
    with pytest.raises(ValueError, match="longest sequence has length 5"):
        U.pack_padded_sequence(x, [5, 2, 1])
    with pytest.raises(TypeError, match="lengths must be integers"):
        U.pack_padded_sequence(x, fg.tensor([4.0, 2.0, 1.0]))
    p = U.pack_padded_sequence(x, [4, 2, 1])
    with pytest.raises(ValueError, match="Expected total_length to be at least"):
        U.pad_packed_sequence(p, total_length=3)


@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_pack_sequence_unpack(torch, rng, enforce_sorted):
    lengths = [4, 3, 1] if enforce_sorted else [2, 5, 1, 3]
    f, t = _both(torch, _seqs(rng, lengths))
    pf = U.pack_sequence(f, enforce_sorted=enforce_sorted)
    pt = torch.nn.utils.rnn.pack_sequence(t, enforce_sorted=enforce_sorted)
    assert_close(pf.data, pt.data)
    assert_close(pf.batch_sizes, pt.batch_sizes)
    for a, b in zip(U.unpack_sequence(pf), torch.nn.utils.rnn.unpack_sequence(pt)):
        assert_close(a, b)
    padded_f = U.pad_sequence(f, batch_first=True)
    padded_t = torch.nn.utils.rnn.pad_sequence(t, batch_first=True)
    for bf, pf_, pt_ in [(True, padded_f, padded_t),
                         (False, padded_f.transpose(0, 1), padded_t.transpose(0, 1))]:
        for a, b in zip(U.unpad_sequence(pf_, fg.tensor(lengths), batch_first=bf),
                        torch.nn.utils.rnn.unpad_sequence(pt_, torch.tensor(lengths), batch_first=bf)):
            assert_close(a, b)


def test_packed_sequence_object():
    p = U.pack_sequence([fg.zeros(3, 2), fg.ones(1, 2)])
    _data, batch_sizes, si, ui = p  # a 4-field named tuple
    assert si is None and ui is None
    assert batch_sizes.tolist() == [2, 1, 1]
    q = p.to(fg.float64)
    assert q.data.dtype == fg.float64 and q.batch_sizes.dtype == fg.int64
    assert p.to(fg.float32) is p
    assert p.double().data.dtype == fg.float64 and not p.is_cuda
    r = U.PackedSequence(p.data, [2, 1, 1], fg.tensor([1, 0]))
    assert r.unsorted_indices.tolist() == [1, 0]
    assert U.invert_permutation(fg.tensor([2, 0, 1])).tolist() == [1, 2, 0]


# ---- RNN layers on packed input --------------------------------------------------

MODES = ["RNN_TANH", "RNN_RELU", "LSTM", "GRU"]
CFGS = [{}, {"num_layers": 2}, {"bidirectional": True}, {"num_layers": 2, "bidirectional": True}]


def _layer(lib, mode, *args, **kw):
    if mode.startswith("RNN"):
        return lib.nn.RNN(*args, nonlinearity=mode[4:].lower(), **kw)
    return getattr(lib.nn, mode)(*args, **kw)


def _states(out, lstm):
    return list(out[1]) if lstm else [out[1]]


@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("enforce_sorted", [True, False])
@pytest.mark.parametrize("cfg", CFGS, ids=str)
@pytest.mark.parametrize("mode", MODES)
def test_packed_layer_matches_torch_and_per_sequence(torch, rng, mode, cfg, enforce_sorted, with_state):
    torch.manual_seed(0)
    lstm = mode == "LSTM"
    t_mod = _layer(torch, mode, 3, 4, **cfg).double()
    f_mod = _layer(fg, mode, 3, 4, dtype=fg.float64, **cfg)
    f_mod.load_state_dict(t_mod.state_dict())
    lengths = [5, 3, 3, 1] if enforce_sorted else [2, 5, 1, 4]
    arrays = _seqs(rng, lengths)
    f_seqs, t_seqs = _both(torch, arrays, grad=True)
    L = cfg.get("num_layers", 1) * (2 if cfg.get("bidirectional") else 1)
    st = [rng.standard_normal((L, len(lengths), 4)) for _ in range(2 if lstm else 1)] if with_state else []
    f_st, t_st = _both(torch, st, grad=True)
    hx_f = (tuple(f_st) if lstm else f_st[0]) if with_state else None
    hx_t = (tuple(t_st) if lstm else t_st[0]) if with_state else None

    pf = U.pack_sequence(f_seqs, enforce_sorted=enforce_sorted)
    pt = torch.nn.utils.rnn.pack_sequence(t_seqs, enforce_sorted=enforce_sorted)
    out_f, out_t = f_mod(pf, hx_f), t_mod(pt, hx_t)
    assert isinstance(out_f[0], U.PackedSequence)
    assert_close(out_f[0].data, out_t[0].data, rtol=1e-10, atol=1e-12)
    assert_close(out_f[0].batch_sizes, out_t[0].batch_sizes)
    for a, b in zip(_states(out_f, lstm), _states(out_t, lstm)):
        assert_close(a, b, rtol=1e-10, atol=1e-12)

    # each sequence alone gives the same outputs and final states (original order)
    seq_outs = U.unpack_sequence(out_f[0])
    for i, a in enumerate(f_seqs):
        hx_i = None
        if with_state:
            pieces = [s[:, i:i + 1] for s in f_st]
            hx_i = tuple(pieces) if lstm else pieces[0]
        o, hc = f_mod(a.detach().unsqueeze(1), hx_i)
        assert_close(seq_outs[i], o[:, 0].detach().cpu().numpy(), rtol=1e-10, atol=1e-12)
        for s_all, s_one in zip(_states(out_f, lstm), list(hc) if lstm else [hc]):
            assert_close(s_all[:, i], s_one[:, 0].detach().cpu().numpy(), rtol=1e-10, atol=1e-12)

    # gradients through the packed path: inputs, initial states, parameters
    g_out = rng.standard_normal(tuple(out_t[0].data.shape))
    g_st = [rng.standard_normal(tuple(s.shape)) for s in _states(out_t, lstm)]
    loss_f = (out_f[0].data * to_fg(g_out)).sum()
    loss_t = (out_t[0].data * to_torch(torch, g_out)).sum()
    for a, b, g in zip(_states(out_f, lstm), _states(out_t, lstm), g_st):
        loss_f = loss_f + (a * to_fg(g)).sum()
        loss_t = loss_t + (b * to_torch(torch, g)).sum()
    loss_f.backward()
    loss_t.backward()
    for a, b in zip(f_seqs + f_st, t_seqs + t_st):
        assert_close(a.grad, b.grad, rtol=1e-9, atol=1e-10)
    fp = dict(f_mod.named_parameters())
    for name, p in t_mod.named_parameters():
        assert_close(fp[name].grad, p.grad, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("mode", MODES)
def test_packed_float32_batch_first_padded_pipeline(torch, rng, mode):
    # the usual pipeline: pad -> pack_padded(enforce_sorted=False) -> GRU -> pad_packed
    torch.manual_seed(1)
    t_mod = _layer(torch, mode, 3, 5, batch_first=True, num_layers=2, bidirectional=True)
    f_mod = _layer(fg, mode, 3, 5, batch_first=True, num_layers=2, bidirectional=True)
    f_mod.load_state_dict(t_mod.state_dict())
    lengths = [3, 6, 2]
    x = rng.standard_normal((3, 6, 3)).astype(np.float32)
    f, t = to_fg(x, True), to_torch(torch, x, True)
    pf = U.pack_padded_sequence(f, lengths, batch_first=True, enforce_sorted=False)
    pt = torch.nn.utils.rnn.pack_padded_sequence(t, lengths, batch_first=True, enforce_sorted=False)
    of, _ = U.pad_packed_sequence(f_mod(pf)[0], batch_first=True)
    ot, _ = torch.nn.utils.rnn.pad_packed_sequence(t_mod(pt)[0], batch_first=True)
    assert_close(of, ot, rtol=1e-4, atol=1e-5)
    g = rng.standard_normal(tuple(ot.shape)).astype(np.float32)
    (of * to_fg(g)).sum().backward()
    (ot * to_torch(torch, g)).sum().backward()
    assert_close(f.grad, t.grad, rtol=1e-4, atol=1e-5)
    # padded positions get no gradient
    assert np.all(f.grad.cpu().numpy()[2, 2:] == 0)


def test_packed_errors():
    m = nn.GRU(3, 4)
    p = U.pack_sequence([fg.zeros(3, 2), fg.zeros(2, 2)])
    with pytest.raises(RuntimeError, match=r"GRU: expected packed data of shape \(\*, 3\), got \[5, 2\]"):
        m(p)
    p = U.pack_sequence([fg.zeros(3, 3), fg.zeros(2, 3)])
    with pytest.raises(RuntimeError, match=r"GRU: expected h_0 of shape \(1, 2, 4\), got \[1, 3, 4\]"):
        m(p, fg.zeros(1, 3, 4))
