"""F.scaled_dot_product_attention and nn.MultiheadAttention against torch:
outputs, attention weights, input and parameter gradients; masks of every
kind, batch_first both ways, kdim/vdim, unbatched inputs, dtypes, errors."""

import numpy as np
import pytest

import fastgrad as fg
import fastgrad.nn.functional as F
from fastgrad import nn

from helpers import assert_close
from nn_helpers import check_module, to_fg, to_torch

# Every test runs on each device (conftest.py's `device` fixture).
pytestmark = pytest.mark.usefixtures("device")

DTYPES = [np.float32, np.float64]


def _tol(dtype):
    return dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-10)


# -- scaled_dot_product_attention ---------------------------------------------


def _sdpa_case(torch, rng, qs, ks, vs, dtype, mask=None, layout=None, **kw):
    q, k, v = (rng.standard_normal(s).astype(dtype) for s in (qs, ks, vs))
    fq, fk, fv = (to_fg(a, True) for a in (q, k, v))
    tq, tk, tv = (to_torch(torch, a, True) for a in (q, k, v))
    fin, tin = (fq, fk, fv), (tq, tk, tv)
    if layout == "transposed":  # same values, non-contiguous fastgrad views
        fin = tuple(x.transpose(-2, -1).contiguous().transpose(-2, -1) for x in fin)
        fin = tuple(x.transpose(0, 1).contiguous().transpose(0, 1) if x.dim() > 2 else x
                    for x in fin)
    fm = None if mask is None else to_fg(mask)
    tm = None if mask is None else to_torch(torch, mask)
    out_f = F.scaled_dot_product_attention(*fin, attn_mask=fm, **kw)
    out_t = torch.nn.functional.scaled_dot_product_attention(*tin, attn_mask=tm, **kw)
    assert_close(out_f, out_t, **_tol(dtype))
    g = rng.standard_normal(tuple(out_t.shape)).astype(dtype)
    (out_f * to_fg(g)).sum().backward()
    (out_t * to_torch(torch, g)).sum().backward()
    for a, b in zip((fq, fk, fv), (tq, tk, tv)):
        assert_close(a.grad, b.grad, **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", [None, "transposed"])
@pytest.mark.parametrize(
    "qs,ks,vs",
    [
        ((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6)),  # (N, H, L, E), value dim differs
        ((4, 8), (6, 8), (6, 8)),  # 2-d
        ((3, 1, 8), (3, 5, 8), (3, 5, 8)),  # L = 1
        ((2, 3, 4, 8), (3, 5, 8), (3, 5, 8)),  # key/value broadcast over the batch
    ],
)  # fmt: skip
def test_sdpa_plain(torch, rng, qs, ks, vs, dtype, layout):
    _sdpa_case(torch, rng, qs, ks, vs, dtype, layout=layout)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mask_kind", ["bool", "float", "bool_4d", "float_batched", "bool_dead_row"])
def test_sdpa_masks(torch, rng, dtype, mask_kind):
    L, S = 4, 5
    if mask_kind.startswith("bool"):
        shape = (2, 1, L, S) if mask_kind == "bool_4d" else (L, S)
        mask = rng.random(shape) > 0.3
        mask[..., 0] = True  # every row keeps a key ...
        if mask_kind == "bool_dead_row":
            mask[1] = False  # ... except this one: torch gives 0 there, no NaN
    else:
        shape = (2, 3, L, S) if mask_kind == "float_batched" else (L, S)
        mask = rng.standard_normal(shape).astype(dtype)
        mask[..., 2] = -np.inf
    _sdpa_case(torch, rng, (2, 3, L, 8), (2, 3, S, 8), (2, 3, S, 8), dtype, mask=mask)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("L,S", [(4, 4), (3, 5), (5, 3)])
def test_sdpa_causal_and_scale(torch, rng, dtype, L, S):
    _sdpa_case(torch, rng, (2, 2, L, 8), (2, 2, S, 8), (2, 2, S, 8), dtype, is_causal=True)
    _sdpa_case(torch, rng, (2, 2, L, 8), (2, 2, S, 8), (2, 2, S, 8), dtype, scale=0.37)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sdpa_gqa(torch, rng, dtype):
    _sdpa_case(torch, rng, (2, 6, 4, 8), (2, 2, 5, 8), (2, 2, 5, 8), dtype, enable_gqa=True)
    _sdpa_case(torch, rng, (6, 4, 8), (3, 5, 8), (3, 5, 8), dtype, enable_gqa=True)


def test_sdpa_dropout(rng):
    q, k, v = (to_fg(rng.standard_normal((2, 3, 4, 8)).astype(np.float32)) for _ in range(3))
    ref = F.scaled_dot_product_attention(q, k, v)
    assert_close(F.scaled_dot_product_attention(q, k, v, dropout_p=0.0), ref.cpu().numpy())
    # p=1 drops every weight; any p in between changes the result
    zero = F.scaled_dot_product_attention(q, k, v, dropout_p=1.0)
    assert_close(zero, np.zeros((2, 3, 4, 8), np.float32))
    fg.manual_seed(0)
    dropped = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    assert not np.allclose(dropped.cpu().numpy(), ref.cpu().numpy())


@pytest.mark.parametrize(
    "qs,ks,vs,kw,match",
    [
        ((2, 4, 8), (2, 5, 7), (2, 5, 8), {}, r"expected key of shape \(\.\.\., S, 8\)"),
        ((2, 4, 8), (2, 5, 8), (2, 6, 8), {}, r"expected value of shape \(\.\.\., 5, Ev\)"),
        ((8,), (5, 8), (5, 8), {}, "expected query to be at least 2-d"),
        ((2, 4, 8), (3, 5, 8), (3, 5, 8), {}, "batch dimensions of query"),
        ((6, 4, 8), (4, 5, 8), (4, 5, 8), {"enable_gqa": True}, "multiple of the number of key heads"),
        ((2, 4, 8), (2, 5, 8), (2, 5, 8), {"mask": (4, 4)},
         r"expected attn_mask broadcastable to \[2, 4, 5\]"),
        ((2, 4, 8), (2, 5, 8), (2, 5, 8), {"mask": (4, 5), "is_causal": True},
         "should not be set when is_causal=True"),
        ((2, 4, 8), (2, 5, 8), (2, 5, 8), {"dropout_p": 1.5}, "dropout_p must be in"),
    ],
)  # fmt: skip
def test_sdpa_errors(rng, qs, ks, vs, kw, match):
    q, k, v = (to_fg(rng.standard_normal(s).astype(np.float32)) for s in (qs, ks, vs))
    kw = dict(kw)
    if "mask" in kw:
        kw["attn_mask"] = to_fg(np.ones(kw.pop("mask"), bool))
    with pytest.raises((RuntimeError, ValueError), match="^scaled_dot_product_attention: .*" + match):
        F.scaled_dot_product_attention(q, k, v, **kw)


def test_sdpa_dtype_errors(rng):
    q = to_fg(rng.standard_normal((4, 8)).astype(np.float32))
    k64 = to_fg(rng.standard_normal((5, 8)))
    with pytest.raises(RuntimeError, match="same floating dtype"):
        F.scaled_dot_product_attention(q, k64, k64)
    k = to_fg(rng.standard_normal((5, 8)).astype(np.float32))
    with pytest.raises(RuntimeError, match="attn_mask dtype to be bool"):
        F.scaled_dot_product_attention(q, k, k, attn_mask=fg.zeros(4, 5, dtype=fg.int64))


# -- MultiheadAttention --------------------------------------------------------


def _pair(torch, seed=0, **kw):
    torch.manual_seed(seed)
    t_kw = dict(kw)
    if "dtype" in kw:
        t_kw["dtype"] = getattr(torch, kw["dtype"])
        kw["dtype"] = getattr(fg, kw["dtype"])
    return nn.MultiheadAttention(**kw), torch.nn.MultiheadAttention(**t_kw)


def _qkv(rng, L, S, N, E, kdim, vdim, batch_first, dtype):
    def mk(n, d):
        if N is None:
            return rng.standard_normal((n, d)).astype(dtype)
        a = rng.standard_normal((n, N, d)).astype(dtype)
        return a.transpose(1, 0, 2).copy() if batch_first else a

    return mk(L, E), mk(S, kdim), mk(S, vdim)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("need_weights,average", [(True, True), (True, False), (False, True)])
@pytest.mark.parametrize(
    "opts",
    [{}, {"bias": False}, {"kdim": 5, "vdim": 7}, {"add_bias_kv": True}, {"add_zero_attn": True},
     {"num_heads": 1}],
)  # fmt: skip
def test_mha_cross_attention(torch, rng, dtype, batch_first, need_weights, average, opts):
    opts = dict(opts)
    heads = opts.pop("num_heads", 4)
    f, t = _pair(torch, embed_dim=16, num_heads=heads, batch_first=batch_first, dtype=dtype,
                 **opts)
    assert list(f.state_dict()) == list(t.state_dict())
    q, k, v = _qkv(rng, 5, 6, 3, 16, opts.get("kdim", 16), opts.get("vdim", 16), batch_first,
                   dtype)
    kw = dict(need_weights=need_weights, average_attn_weights=average)
    check_module(torch, f, t, [q, k, v], kwargs=kw, **_tol(np.dtype(dtype)))


def _self_attn(base, mha, kw):
    """Wraps an MHA so that query, key and value are the same tensor (the
    packed-projection path), with per-framework mask kwargs."""

    class SelfAttn(base):
        def __init__(self):
            super().__init__()
            self.mha = mha

        def forward(self, x):
            return self.mha(x, x, x, **kw)

    return SelfAttn()


def _masks(rng, kind, N, L, S, heads, dtype):
    """(kwargs for fastgrad, kwargs for torch) for a mask kind."""
    kw = {}
    if kind in ("attn_bool", "both_bool", "attn3d_bool"):
        shape = (N * heads, L, S) if kind == "attn3d_bool" else (L, S)
        m = rng.random(shape) > 0.7
        m[..., 0] = False  # no row fully masked (torch gives NaN there)
        kw["attn_mask"] = m
    if kind in ("attn_float", "attn3d_float"):
        shape = (N * heads, L, S) if kind == "attn3d_float" else (L, S)
        kw["attn_mask"] = rng.standard_normal(shape).astype(dtype)
    if kind in ("kpm_bool", "both_bool"):
        m = np.zeros((N, S), bool)
        m[1, -2:] = True
        kw["key_padding_mask"] = m
    if kind == "kpm_float":
        m = np.zeros((N, S), dtype)
        m[0, -1] = -np.inf
        m[1, 2] = -1.5
        kw["key_padding_mask"] = m
    if kind == "causal":
        kw["attn_mask"] = np.triu(np.ones((L, S), bool), 1)
        kw["is_causal"] = True
    return kw


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize(
    "kind",
    ["attn_bool", "attn_float", "attn3d_bool", "attn3d_float", "kpm_bool", "kpm_float",
     "both_bool", "causal"],
)  # fmt: skip
def test_mha_self_attention_masks(torch, rng, dtype, batch_first, need_weights, kind):
    heads, N, L = 2, 3, 5
    f, t = _pair(torch, embed_dim=8, num_heads=heads, batch_first=batch_first, dtype=dtype)
    x = rng.standard_normal((N, L, 8) if batch_first else (L, N, 8)).astype(dtype)
    masks = _masks(rng, kind, N, L, L, heads, dtype)
    kw_f = {k: (to_fg(v) if isinstance(v, np.ndarray) else v) for k, v in masks.items()}
    kw_t = {k: (to_torch(torch, v) if isinstance(v, np.ndarray) else v) for k, v in masks.items()}
    kw_f["need_weights"] = kw_t["need_weights"] = need_weights
    fw, tw = _self_attn(nn.Module, f, kw_f), _self_attn(torch.nn.Module, t, kw_t)
    check_module(torch, fw, tw, [x], **_tol(np.dtype(dtype)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", [None, "attn_bool", "attn_float", "kpm_bool", "causal"])
@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_unbatched(torch, rng, dtype, kind, need_weights):
    f, t = _pair(torch, embed_dim=8, num_heads=2, dtype=dtype)
    q, k, v = _qkv(rng, 4, 4, None, 8, 8, 8, False, dtype)
    masks = _masks(rng, kind, 2, 4, 4, 2, dtype)
    if "key_padding_mask" in masks:
        masks["key_padding_mask"] = masks["key_padding_mask"][1]
    inputs = [q, k, v, masks.get("key_padding_mask"), need_weights, masks.get("attn_mask")]
    kw = {"is_causal": masks["is_causal"]} if "is_causal" in masks else None
    out, _ = check_module(torch, f, t, inputs, kwargs=kw, **_tol(np.dtype(dtype)))
    assert tuple(out[0].shape) == (4, 8)


def test_mha_eval_disables_dropout_and_matches_fast_path(torch, rng):
    # train=False: dropout=0.3 is off; torch with grads takes its general path
    f, t = _pair(torch, embed_dim=8, num_heads=2, dropout=0.3, batch_first=True)
    q, k, v = _qkv(rng, 5, 6, 3, 8, 8, 8, True, np.float32)
    check_module(torch, f, t, [q, k, v], train=False)
    # torch's fused inference path (eval, no grad, batch_first self-attention)
    x = rng.standard_normal((3, 5, 8)).astype(np.float32)
    kpm = np.zeros((3, 5), bool)
    kpm[0, -2:] = True
    for kw in ({}, {"key_padding_mask": kpm}):
        with torch.no_grad():
            tx = to_torch(torch, x)
            ref = t(tx, tx, tx, **{a: to_torch(torch, b) for a, b in kw.items()})
        with fg.no_grad():
            fx = to_fg(x)
            out = f(fx, fx, fx, **{a: to_fg(b) for a, b in kw.items()})
        assert_close(out[0], ref[0], rtol=1e-4, atol=1e-5)
        assert_close(out[1], ref[1], rtol=1e-4, atol=1e-5)


def test_mha_train_dropout_drops_weights(rng):
    f = nn.MultiheadAttention(8, 2, dropout=0.5)
    q = to_fg(rng.standard_normal((5, 2, 8)).astype(np.float32))
    f.eval()
    _, w_eval = f(q, q, q, average_attn_weights=False)
    f.train()
    fg.manual_seed(0)
    _, w_train = f(q, q, q, average_attn_weights=False)
    w_eval, w_train = w_eval.detach().cpu().numpy(), w_train.detach().cpu().numpy()
    kept = w_train != 0
    # every weight is either dropped or scaled by 1 / (1 - p); both happen
    np.testing.assert_allclose(w_train[kept], 2 * w_eval[kept], rtol=1e-5)
    assert kept.any() and not kept.all()


def test_mha_init_and_repr(torch):
    f = nn.MultiheadAttention(16, 4)
    t = torch.nn.MultiheadAttention(16, 4)
    assert repr(f) == repr(t)
    assert [(n, tuple(p.shape)) for n, p in f.named_parameters()] == [
        (n, tuple(p.shape)) for n, p in t.named_parameters()
    ]
    assert not f.in_proj_bias.detach().cpu().numpy().any()
    assert not f.out_proj.bias.detach().cpu().numpy().any()
    bound = np.sqrt(6 / (16 + 48))  # xavier_uniform_ on the (48, 16) packed weight
    w = f.in_proj_weight.detach().cpu().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    sep = nn.MultiheadAttention(16, 4, kdim=3, vdim=5, bias=False)
    tsep = torch.nn.MultiheadAttention(16, 4, kdim=3, vdim=5, bias=False)
    assert list(sep.state_dict()) == list(tsep.state_dict())
    assert sep.in_proj_weight is None and sep.in_proj_bias is None
    assert tuple(sep.k_proj_weight.shape) == (16, 3)
    kv = nn.MultiheadAttention(16, 4, add_bias_kv=True)
    assert list(kv.state_dict()) == list(torch.nn.MultiheadAttention(16, 4, add_bias_kv=True).state_dict())


def test_mha_constructor_errors():
    with pytest.raises(ValueError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(10, 3)
    with pytest.raises(ValueError, match="greater than 0"):
        nn.MultiheadAttention(0, 1)


@pytest.mark.parametrize(
    "batch_first,shapes,kw,exc,match",
    [
        (False, [(5, 3, 12), (5, 3, 16), (5, 3, 16)], {}, RuntimeError,
         r"MultiheadAttention: expected query of shape \(L, N, 16\) \(batch_first=False\) "
         r"or \(L, 16\), got \[5, 3, 12\]"),
        (True, [(3, 5, 12), (3, 5, 16), (3, 5, 16)], {}, RuntimeError,
         r"expected query of shape \(N, L, 16\) \(batch_first=True\)"),
        (False, [(5, 3, 16), (5, 3, 16)], {"value": (5, 16)}, RuntimeError,
         r"expected value of shape \(S, N, 16\)"),
        (False, [(5, 3, 16), (6, 3, 16), (7, 3, 16)], {}, RuntimeError,
         "key and value must have the same sequence length"),
        (False, [(5, 3, 16), (6, 2, 16), (6, 2, 16)], {}, RuntimeError, "same batch size"),
        (False, [(5, 3, 16)] * 3, {"attn_mask": (5, 4)}, RuntimeError,
         r"expected 2-d attn_mask of shape \(5, 5\)"),
        (False, [(5, 3, 16)] * 3, {"attn_mask": (3, 5, 5)}, RuntimeError,
         r"expected 3-d attn_mask of shape \(12, 5, 5\)"),
        (False, [(5, 3, 16)] * 3, {"key_padding_mask": (3, 4)}, RuntimeError,
         r"expected key_padding_mask of shape \(N, S\) = \(3, 5\)"),
        (False, [(5, 3, 16)] * 3, {"key_padding_mask": (5,)}, RuntimeError,
         r"expected key_padding_mask of shape \(N, S\), got \[5\]"),
        (False, [(5, 3, 16)] * 3, {"is_causal": True}, RuntimeError, "Need attn_mask"),
    ],
)  # fmt: skip
def test_mha_input_errors(rng, batch_first, shapes, kw, exc, match):
    m = nn.MultiheadAttention(16, 4, batch_first=batch_first)
    args = [to_fg(rng.standard_normal(s).astype(np.float32)) for s in shapes]
    if "value" in kw:
        args.append(to_fg(rng.standard_normal(kw.pop("value")).astype(np.float32)))
    kw = {k: to_fg(np.zeros(v, bool)) if isinstance(v, tuple) else v for k, v in kw.items()}
    with pytest.raises(exc, match=match):
        m(*args, **kw)


def test_mha_mask_dtype_errors(rng):
    m = nn.MultiheadAttention(8, 2)
    x = to_fg(rng.standard_normal((4, 2, 8)).astype(np.float32))
    with pytest.raises(TypeError, match="only bool and floating types of attn_mask"):
        m(x, x, x, attn_mask=fg.zeros(4, 4, dtype=fg.int64))
    with pytest.warns(UserWarning, match="mismatched key_padding_mask and attn_mask"):
        m(x, x, x, attn_mask=fg.zeros(4, 4), key_padding_mask=fg.zeros(2, 4, dtype=fg.bool))


def test_mha_error_has_layer_path(rng):
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(12, 12)
            self.attn = nn.MultiheadAttention(16, 4)

        def forward(self, x):
            x = self.proj(x)
            return self.attn(x, x, x)[0]

    x = to_fg(rng.standard_normal((5, 3, 12)).astype(np.float32))
    with pytest.raises(RuntimeError, match=r"^attn \(MultiheadAttention\): "
                       r"expected query of shape \(L, N, 16\)"):
        Model()(x)


def test_mha_functional_matches_torch(torch, rng):
    # F.multi_head_attention_forward called directly with the module's weights
    f, t = _pair(torch, embed_dim=8, num_heads=2)
    f.load_state_dict(t.state_dict())
    q, k, v = _qkv(rng, 4, 6, 2, 8, 8, 8, False, np.float32)
    args_f = [to_fg(q), to_fg(k), to_fg(v), 8, 2, f.in_proj_weight, f.in_proj_bias, None, None,
              False, 0.0, f.out_proj.weight, f.out_proj.bias]
    args_t = [to_torch(torch, q), to_torch(torch, k), to_torch(torch, v), 8, 2,
              t.in_proj_weight, t.in_proj_bias, None, None, False, 0.0, t.out_proj.weight,
              t.out_proj.bias]
    out_f = F.multi_head_attention_forward(*args_f, training=False)
    out_t = torch.nn.functional.multi_head_attention_forward(*args_t, training=False)
    assert_close(out_f[0], out_t[0].detach(), rtol=1e-4, atol=1e-5)
    assert_close(out_f[1], out_t[1].detach(), rtol=1e-4, atol=1e-5)
