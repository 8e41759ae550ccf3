"""nn.Embedding / F.embedding against torch: lookups, weight gradients
(padding_idx, scale_grad_by_freq, repeated indices), max_norm, init,
from_pretrained, repr, double backward and errors."""

import fastgrad as fg
import fastgrad.nn.functional as F
import numpy as np
import pytest
from fastgrad import nn
from helpers import assert_close
from nn_helpers import check_module, to_fg, to_torch

# Every test runs on each device (conftest.py's `device` fixture).
pytestmark = pytest.mark.usefixtures("device")


def _tdt(torch, np_dtype):
    return torch.float32 if np_dtype == np.float32 else torch.float64


@pytest.mark.parametrize("np_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("idx_dtype", [np.int64, np.int32])
@pytest.mark.parametrize("idx_shape", [(5,), (3, 4), (2, 3, 2), (), (0,)])
@pytest.mark.parametrize("padding_idx,scale", [(None, False), (2, False), (-1, False),
                                               (None, True), (0, True)])
def test_embedding_module(torch, rng, np_dtype, idx_dtype, idx_shape, padding_idx, scale):
    t_mod = torch.nn.Embedding(7, 4, padding_idx=padding_idx, scale_grad_by_freq=scale,
                               dtype=_tdt(torch, np_dtype))
    f_mod = nn.Embedding(7, 4, padding_idx=padding_idx, scale_grad_by_freq=scale,
                         dtype=fg.float32 if np_dtype == np.float32 else fg.float64)
    assert repr(f_mod) == repr(t_mod)
    idx = rng.integers(0, 7, size=idx_shape).astype(idx_dtype)
    if idx.size > 2:
        idx.flat[:3] = [2, 2, 6]  # repeats and the padding rows
    for train in (True, False):
        t_mod.zero_grad()
        f_mod.zero_grad()
        check_module(torch, f_mod, t_mod, [idx], train=train)


def test_embedding_large_parallel_backward(torch, rng):
    t_mod = torch.nn.Embedding(1000, 64)
    f_mod = nn.Embedding(1000, 64)
    idx = rng.integers(0, 1000, size=(64, 200))
    check_module(torch, f_mod, t_mod, [idx])


def test_embedding_init_and_padding_row():
    fg.manual_seed(0)
    e = nn.Embedding(2000, 50, padding_idx=-3)
    assert e.padding_idx == 1997
    w = e.weight.detach().cpu().numpy()
    assert np.all(w[1997] == 0)
    rest = np.delete(w, 1997, axis=0)
    assert abs(rest.mean()) < 0.01 and abs(rest.std() - 1) < 0.01  # N(0, 1)
    assert e.weight.requires_grad


def test_embedding_max_norm(torch, rng):
    wn = rng.standard_normal((6, 3)).astype(np.float32) * 3
    idx = np.array([[0, 2, 2], [5, 1, 0]])
    for norm_type in (2.0, 1.0, 3.0):
        tw, fw = to_torch(torch, wn, True), to_fg(wn, True)
        ty = torch.nn.functional.embedding(to_torch(torch, idx), tw, max_norm=1.5,
                                           norm_type=norm_type)
        fy = F.embedding(to_fg(idx), fw, max_norm=1.5, norm_type=norm_type)
        assert_close(fy, ty)
        assert_close(fw.detach(), tw.detach())  # rows renormalised in place
        ty.sum().backward()
        fy.sum().backward()
        assert_close(fw.grad, tw.grad)
    t_mod = torch.nn.Embedding(6, 3, max_norm=1.0)
    f_mod = nn.Embedding(6, 3, max_norm=1.0)
    assert repr(f_mod) == repr(t_mod)
    check_module(torch, f_mod, t_mod, [idx])


def test_embedding_from_pretrained(torch, rng):
    wn = rng.standard_normal((4, 3)).astype(np.float32)
    e = nn.Embedding.from_pretrained(fg.tensor(wn))
    t = torch.nn.Embedding.from_pretrained(torch.from_numpy(wn))
    assert not e.weight.requires_grad and repr(e) == repr(t)
    assert_close(e(fg.tensor([1, 3])), t(torch.tensor([1, 3])))
    e2 = nn.Embedding.from_pretrained(fg.tensor(wn), freeze=False, padding_idx=1)
    assert e2.weight.requires_grad and e2.padding_idx == 1
    np.testing.assert_array_equal(e2.weight.detach().cpu().numpy(), wn)  # row 1 kept as given
    with pytest.raises(AssertionError, match="Embeddings parameter is expected to be 2-dim"):
        nn.Embedding.from_pretrained(fg.ones(3))
    with pytest.raises(AssertionError, match="Shape of weight does not match"):
        nn.Embedding(3, 3, _weight=fg.ones(4, 3))


def test_embedding_repr_options(torch):
    kw = {"padding_idx": 1, "max_norm": 2.0, "norm_type": 1.0, "scale_grad_by_freq": True}
    assert repr(nn.Embedding(5, 2, **kw)) == repr(torch.nn.Embedding(5, 2, **kw))
    assert list(nn.Embedding(5, 2).state_dict()) == ["weight"]


def test_embedding_double_backward(torch, rng):
    wn = rng.standard_normal((5, 3))
    idx = np.array([0, 3, 3, 1, 4])
    for pad, scale in [(-1, False), (3, True)]:
        fw, tw = to_fg(wn, True), to_torch(torch, wn, True)
        g = rng.standard_normal((5, 3))
        tpad = None if pad < 0 else pad
        fy = F.embedding(to_fg(idx), fw, padding_idx=tpad, scale_grad_by_freq=scale)
        ty = torch.nn.functional.embedding(to_torch(torch, idx), tw, padding_idx=tpad,
                                           scale_grad_by_freq=scale)
        fgo, tgo = to_fg(g, True), to_torch(torch, g, True)
        (fgw,) = fg.autograd.grad((fy * fgo).sum(), [fw], create_graph=True)
        (tgw,) = torch.autograd.grad((ty * tgo).sum(), [tw], create_graph=True)
        assert_close(fgw, tgw, rtol=1e-12, atol=1e-12)
        v = rng.standard_normal((5, 3))
        (fgw * to_fg(v)).sum().backward()
        (tgw * to_torch(torch, v)).sum().backward()
        assert_close(fgo.grad, tgo.grad, rtol=1e-12, atol=1e-12)


def test_embedding_errors():
    e = nn.Embedding(10, 3)
    with pytest.raises(IndexError, match=r"embedding: index 10 is out of range for "
                       r"num_embeddings=10"):
        e(fg.tensor([1, 10]))
    with pytest.raises(IndexError, match=r"embedding: index -1 is out of range"):
        e(fg.tensor([-1]))
    with pytest.raises(TypeError, match=r"embedding: expected indices of dtype int64 or int32, "
                       r"got float32"):
        e(fg.tensor([1.0]))
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        nn.Embedding(5, 2, padding_idx=5)
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        nn.Embedding(5, 2, padding_idx=-6)
    with pytest.raises(NotImplementedError, match="sparse"):
        nn.Embedding(5, 2, sparse=True)
    with pytest.raises(RuntimeError, match=r"embedding: expected weight of shape "
                       r"\(num_embeddings, embedding_dim\), got \[5\]"):
        F.embedding(fg.tensor([0]), fg.ones(5))


def test_embedding_error_prefixed_with_layer_path():
    model = nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 2))
    model2 = nn.Sequential()
    model2.add_module("emb", nn.Embedding(10, 4))
    with pytest.raises(IndexError, match=r"0 \(Embedding\): embedding: index 12 is out of range"):
        model(fg.tensor([[1, 12]]))
    with pytest.raises(IndexError, match=r"emb \(Embedding\): embedding: index 99"):
        model2(fg.tensor([99]))
