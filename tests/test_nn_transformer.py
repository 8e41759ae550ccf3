"""nn.TransformerEncoderLayer and nn.TransformerEncoder against torch: same
weights via state_dict; outputs, input and parameter gradients; masks,
batch_first, norm_first, activations, dtypes, train/eval, errors."""

import warnings

import numpy as np
import pytest

import fastgrad as fg
import fastgrad.nn.functional as F
from fastgrad import nn

from helpers import assert_close
from nn_helpers import check_module, to_fg, to_torch

# Every test runs on each device (conftest.py's `device` fixture).
pytestmark = pytest.mark.usefixtures("device")


def _tol(dtype):
    return dict(rtol=1e-4, atol=2e-5) if dtype == "float32" else dict(rtol=1e-9, atol=1e-10)


def _activation(torch, name):
    """(fastgrad, torch) activation for an activation spec."""
    return {
        "relu": ("relu", "relu"),
        "gelu": ("gelu", "gelu"),
        "F.relu": (F.relu, torch.nn.functional.relu),
        "F.gelu": (F.gelu, torch.nn.functional.gelu),
        "GELU()": (nn.GELU(), torch.nn.GELU()),
        "tanh": (fg.tanh, torch.tanh),
    }[name]


def _layers(torch, d_model=8, nhead=2, dim_feedforward=16, dropout=0.0, activation="relu",
            dtype="float32", seed=0, **kw):
    torch.manual_seed(seed)
    fa, ta = _activation(torch, activation)
    f = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, fa,
                                   dtype=getattr(fg, dtype), **kw)
    t = torch.nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, ta,
                                         dtype=getattr(torch, dtype), **kw)
    return f, t


def _src(rng, N, S, E, batch_first, dtype):
    if N is None:
        return rng.standard_normal((S, E)).astype(dtype)
    return rng.standard_normal((N, S, E) if batch_first else (S, N, E)).astype(dtype)


def _masks(rng, kind, N, S, dtype):
    kw = {}
    if kind == "src_bool":
        m = rng.random((S, S)) > 0.7
        np.fill_diagonal(m, False)  # no row fully masked (NaN in torch too)
        kw["src_mask"] = m
    if kind == "src_float":
        kw["src_mask"] = rng.standard_normal((S, S)).astype(dtype)
    if kind in ("kpm_bool", "both"):
        m = np.zeros((N, S), bool)
        m[-1, -2:] = True
        kw["src_key_padding_mask"] = m
    if kind == "both":
        kw["src_mask"] = np.triu(np.ones((S, S), bool), 1)
    if kind == "causal":
        kw["src_mask"] = np.triu(np.full((S, S), -np.inf, dtype), 1)
        kw["is_causal"] = True
    return kw


def _run(torch, f, t, x, masks, train, dtype):
    """check_module with fastgrad/torch mask tensors routed to each side."""
    fm = {k: to_fg(v) if isinstance(v, np.ndarray) else v for k, v in masks.items()}
    tm = {k: to_torch(torch, v) if isinstance(v, np.ndarray) else v for k, v in masks.items()}

    class FW(nn.Module):
        def __init__(self):
            super().__init__()
            self.m = f

        def forward(self, x):
            return self.m(x, **fm)

    class TW(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.m = t

        def forward(self, x):
            return self.m(x, **tm)

    return check_module(torch, FW(), TW(), [x], train=train, **_tol(dtype))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu", "F.relu", "F.gelu", "GELU()", "tanh"])
def test_encoder_layer(torch, rng, dtype, batch_first, norm_first, activation):
    f, t = _layers(torch, activation=activation, dtype=dtype, batch_first=batch_first,
                   norm_first=norm_first)
    assert list(f.state_dict()) == list(t.state_dict())
    _run(torch, f, t, _src(rng, 3, 5, 8, batch_first, dtype), {}, True, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("kind", ["src_bool", "src_float", "kpm_bool", "both", "causal"])
def test_encoder_layer_masks(torch, rng, dtype, batch_first, kind):
    f, t = _layers(torch, dtype=dtype, batch_first=batch_first)
    _run(torch, f, t, _src(rng, 3, 5, 8, batch_first, dtype), _masks(rng, kind, 3, 5, dtype),
         True, dtype)


@pytest.mark.parametrize("kind", [None, "src_bool", "causal"])
@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_unbatched_and_no_bias(torch, rng, kind, norm_first):
    f, t = _layers(torch, norm_first=norm_first, bias=False, layer_norm_eps=1e-3)
    assert list(f.state_dict()) == list(t.state_dict())
    masks = _masks(rng, kind, 1, 5, "float32")
    out, _ = _run(torch, f, t, _src(rng, None, 5, 8, False, "float32"), masks, True,
                     "float32")
    assert tuple(out.shape) == (5, 8)


@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_layer_eval_disables_dropout(torch, rng, batch_first):
    f, t = _layers(torch, dropout=0.5, batch_first=batch_first)
    x = _src(rng, 3, 5, 8, batch_first, "float32")
    _run(torch, f, t, x, _masks(rng, "kpm_bool", 3, 5, "float32"), False, "float32")
    # torch's fused inference path (no grad, eval) computes the same function
    with torch.no_grad():
        ref = t(to_torch(torch, x))
    with fg.no_grad():
        out = f(to_fg(x))
    assert_close(out, ref, rtol=1e-4, atol=2e-5)


def test_encoder_layer_train_dropout_is_random(rng):
    f = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.5)
    x = to_fg(_src(rng, 3, 5, 8, False, "float32"))
    f.eval()
    a, b = f(x).detach().cpu().numpy(), f(x).detach().cpu().numpy()
    np.testing.assert_array_equal(a, b)
    f.train()
    fg.manual_seed(0)
    c = f(x).detach().cpu().numpy()
    assert not np.allclose(a, c)


def test_encoder_layer_repr_and_flags(torch):
    f, t = _layers(torch)
    assert repr(f) == repr(t)
    for act, flag in (("relu", 1), ("gelu", 2), ("F.relu", 1), ("GELU()", 2), ("tanh", 0)):
        f, t = _layers(torch, activation=act)
        assert f.activation_relu_or_gelu == t.activation_relu_or_gelu == flag
    f, t = _layers(torch, activation="GELU()")
    assert repr(f) == repr(t)  # a Module activation is a registered child
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")


def _encoders(torch, num_layers=2, final_norm=True, dtype="float32", **kw):
    f_layer, t_layer = _layers(torch, dtype=dtype, **kw)
    f_norm = nn.LayerNorm(8, dtype=getattr(fg, dtype)) if final_norm else None
    t_norm = torch.nn.LayerNorm(8, dtype=getattr(torch, dtype)) if final_norm else None
    f = nn.TransformerEncoder(f_layer, num_layers, norm=f_norm)
    # torch warns about its nested-tensor fast path; that path is torch-only
    t = torch.nn.TransformerEncoder(t_layer, num_layers, norm=t_norm, enable_nested_tensor=False)
    # torch deep-copies one initialisation; give each layer its own weights
    for p in t.parameters():
        with torch.no_grad():
            p.add_(torch.randn_like(p) * 0.1)
    return f, t


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("kind", [None, "src_bool", "kpm_bool", "both", "causal"])
def test_encoder(torch, rng, dtype, batch_first, norm_first, kind):
    f, t = _encoders(torch, dtype=dtype, batch_first=batch_first, norm_first=norm_first,
                     activation="gelu")
    assert list(f.state_dict()) == list(t.state_dict())
    masks = _masks(rng, kind, 3, 5, dtype)
    if "src_mask" in masks:
        masks["mask"] = masks.pop("src_mask")
    _run(torch, f, t, _src(rng, 3, 5, 8, batch_first, dtype), masks, True, dtype)


def test_encoder_layers_are_independent_copies(torch):
    layer = nn.TransformerEncoderLayer(8, 2, 16)
    enc = nn.TransformerEncoder(layer, 3, enable_nested_tensor=True, mask_check=False)
    assert len(enc.layers) == 3 and enc.num_layers == 3
    assert enc.enable_nested_tensor and not enc.mask_check
    names = [n for n, _ in enc.named_parameters()]
    assert names[0] == "layers.0.self_attn.in_proj_weight" and "layers.2.norm2.bias" in names
    ids = {id(p) for p in enc.parameters()}
    assert len(ids) == len(names)  # no sharing between copies or with `layer`
    assert all(id(p) not in ids for p in layer.parameters())
    with fg.no_grad():
        enc.layers[0].linear1.weight.fill_(0.0)
    assert enc.layers[1].linear1.weight.detach().cpu().numpy().any()
    t = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(8, 2, 16), 3,
                                    enable_nested_tensor=False)
    assert names == [n for n, _ in t.named_parameters()]


def test_encoder_eval_matches_torch_fast_path(torch, rng):
    # eval + no grad + batch_first + padding mask: torch runs nested tensors and
    # zeroes padded positions; the other positions must agree
    f, _ = _encoders(torch, final_norm=False, batch_first=True, dropout=0.2)
    torch.manual_seed(0)
    t_layer = torch.nn.TransformerEncoderLayer(8, 2, 16, 0.2, batch_first=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = torch.nn.TransformerEncoder(t_layer, 2)
    f.load_state_dict(t.state_dict())
    f.eval()
    t.eval()
    x = _src(rng, 3, 5, 8, True, "float32")
    kpm = np.zeros((3, 5), bool)
    kpm[1, -2:] = True
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "nested tensors are a prototype"
        ref = t(to_torch(torch, x), src_key_padding_mask=to_torch(torch, kpm)).cpu().numpy()
    with fg.no_grad():
        out = f(to_fg(x), src_key_padding_mask=to_fg(kpm)).cpu().numpy()
    keep = ~kpm
    np.testing.assert_allclose(out[keep], ref[keep], rtol=1e-4, atol=2e-5)


def test_detect_is_causal(torch, rng):
    # a causal float mask is detected (is_causal=None) and gives the same result
    f, t = _encoders(torch, final_norm=False)
    f.load_state_dict(t.state_dict())
    x = to_fg(_src(rng, 2, 4, 8, False, "float32"))
    causal = nn.modules.transformer._generate_square_subsequent_mask(4)
    with fg.no_grad():
        a = f(x, mask=causal).cpu().numpy()
        b = f(x, mask=causal, is_causal=True).cpu().numpy()
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    ref = torch.nn.Transformer.generate_square_subsequent_mask(4)
    np.testing.assert_array_equal(causal.cpu().numpy(), ref.cpu().numpy())


@pytest.mark.parametrize(
    "shape,masks,match",
    [
        ((5, 3, 6), {}, r"^layers\.0 \(TransformerEncoderLayer\): "
                        r"expected src of shape \(S, N, 8\) \(batch_first=False\) or \(S, 8\), "
                        r"got \[5, 3, 6\]"),
        ((5, 3, 8), {"mask": (4, 4)}, r"^layers\.0\.self_attn \(MultiheadAttention\): "
                                      r"multi_head_attention_forward: expected 2-d attn_mask "
                                      r"of shape \(5, 5\)"),
        ((5, 3, 8), {"src_key_padding_mask": (3, 4)},
         r"^layers\.0\.self_attn \(MultiheadAttention\): .*key_padding_mask of shape "
         r"\(N, S\) = \(3, 5\)"),
    ],
)  # fmt: skip
def test_encoder_errors_name_the_layer(rng, shape, masks, match):
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16), 2)
    x = to_fg(rng.standard_normal(shape).astype(np.float32))
    kw = {k: to_fg(np.zeros(v, bool)) for k, v in masks.items()}
    with pytest.raises(RuntimeError, match=match):
        enc(x, **kw)


def test_encoder_layer_constructor_errors():
    with pytest.raises(ValueError, match="embed_dim must be divisible by num_heads"):
        nn.TransformerEncoderLayer(10, 3)
    with pytest.raises(TypeError, match="encoder_layer must be a Module"):
        nn.TransformerEncoder("layer", 2)
