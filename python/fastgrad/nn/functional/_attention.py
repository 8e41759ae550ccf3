"""Functional attention: scaled_dot_product_attention, multi_head_attention_forward.

Both are compositions of C++ ops that carry their own backward rules
(matmul/bmm, softmax, masked_fill, where, cat), so gradients, including
double backward, come for free. Semantics follow torch 2.13:

* scaled_dot_product_attention: a bool attn_mask marks positions that TAKE
  PART (True) in attention; a float mask is added to the scores. Query rows
  whose every key is masked out give 0 (torch's "safe softmax"), not NaN.
* multi_head_attention_forward (nn.MultiheadAttention): bool masks mark
  positions to IGNORE (True); with need_weights=True the weights come from a
  plain softmax, so a fully masked row gives NaN exactly as in torch.
"""

import math
import warnings

from ... import _C
from ... import _factories
from ._linear import linear

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]

_NEG_INF = float("-inf")
_BOOL = _C.dtype.bool


def _shape(t):
    return "[" + ", ".join(str(d) for d in t.shape) + "]"


def _dropout(x, p, training=True):
    # F.dropout lives in _dropout.py (nn-norm family); imported late so that
    # attention without dropout never depends on it.
    from ._dropout import dropout

    return dropout(x, p=p, training=training)


# -- scaled_dot_product_attention ---------------------------------------------


def _check_sdpa(query, key, value, attn_mask, dropout_p, is_causal, enable_gqa):
    op = "scaled_dot_product_attention"
    for name, t in (("query", query), ("key", key), ("value", value)):
        if t.dim() < 2:
            raise RuntimeError(
                f"{op}: expected {name} to be at least 2-d (..., seq_len, embed_dim), "
                f"got {_shape(t)}"
            )
    if not (query.dtype == key.dtype == value.dtype) or not query.is_floating_point():
        raise RuntimeError(
            f"{op}: expected query, key and value to have the same floating dtype, got "
            f"query.dtype={query.dtype}, key.dtype={key.dtype}, value.dtype={value.dtype}"
        )
    E, S = query.shape[-1], key.shape[-2]
    if key.shape[-1] != E:
        raise RuntimeError(
            f"{op}: expected key of shape (..., S, {E}) to match query's embedding size {E}, "
            f"got key {_shape(key)} for query {_shape(query)}"
        )
    if value.shape[-2] != S:
        raise RuntimeError(
            f"{op}: expected value of shape (..., {S}, Ev) (same sequence length as key), "
            f"got value {_shape(value)} for key {_shape(key)}"
        )
    if enable_gqa:
        for name, t in (("key", key), ("value", value)):
            if query.dim() < 3 or t.dim() < 3 or query.shape[-3] % t.shape[-3]:
                raise RuntimeError(
                    f"{op}: with enable_gqa=True the number of query heads (dim -3 of "
                    f"{_shape(query)}) must be a multiple of the number of {name} heads "
                    f"(dim -3 of {_shape(t)})"
                )
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"{op}: dropout_p must be in [0, 1], got {dropout_p}")
    if attn_mask is not None:
        if is_causal:
            raise RuntimeError(
                f"{op}: explicit attn_mask should not be set when is_causal=True"
            )
        if attn_mask.dtype != _BOOL and attn_mask.dtype != query.dtype:
            raise RuntimeError(
                f"{op}: expected attn_mask dtype to be bool or to match query dtype "
                f"{query.dtype}, got {attn_mask.dtype}"
            )


def _repeat_heads(t, times):
    """repeat_interleave(times, dim=-3) as expand + reshape (a view when possible)."""
    if times == 1:
        return t
    lead, h, s, e = list(t.shape[:-3]), t.shape[-3], t.shape[-2], t.shape[-1]
    t = t.unsqueeze(-3).expand(*lead, h, times, s, e)
    return t.reshape(*lead, h * times, s, e)


def _safe_softmax(scores):
    """softmax(-1) where rows that are entirely -inf give 0 instead of NaN.

    The masked rows are zeroed before the softmax too, so that no NaN is made
    at all: a NaN in the unselected branch would leak into gradients."""
    dead = (scores == _NEG_INF).all(-1, keepdim=True)
    probs = _C.softmax(_C.where(dead, 0.0, scores), -1)
    return _C.where(dead, 0.0, probs)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False):
    """softmax(Q K^T * scale + mask) V with query (..., L, E), key (..., S, E),
    value (..., S, Ev) -> (..., L, Ev). Dropout is applied whenever
    dropout_p > 0 (pass 0.0 in eval mode), as in torch."""
    _check_sdpa(query, key, value, attn_mask, dropout_p, is_causal, enable_gqa)
    L, S = query.shape[-2], key.shape[-2]
    scale_factor = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    if enable_gqa:
        key = _repeat_heads(key, query.shape[-3] // key.shape[-3])
        value = _repeat_heads(value, query.shape[-3] // value.shape[-3])
    try:
        scores = _C.matmul(query * scale_factor, key.transpose(-2, -1))
    except RuntimeError as e:
        raise RuntimeError(
            f"scaled_dot_product_attention: batch dimensions of query {_shape(query)} and "
            f"key {_shape(key)} do not broadcast ({e})"
        ) from None
    masked = attn_mask is not None
    if is_causal:
        keep = _factories.ones(L, S, dtype=_BOOL).tril()
        scores = scores.masked_fill(keep.logical_not(), _NEG_INF)
    elif attn_mask is not None:
        try:
            full = list(_C.broadcast_shapes(list(attn_mask.shape), list(scores.shape)))
        except (RuntimeError, ValueError):
            full = None
        if full != list(scores.shape):
            raise RuntimeError(
                f"scaled_dot_product_attention: expected attn_mask broadcastable to "
                f"{_shape(scores)} (..., L={L}, S={S}), got {_shape(attn_mask)}"
            )
        if attn_mask.dtype == _BOOL:
            scores = scores.masked_fill(attn_mask.logical_not(), _NEG_INF)
        else:
            scores = scores + attn_mask
    probs = _safe_softmax(scores) if masked else _C.softmax(scores, -1)
    if dropout_p > 0.0:
        probs = _dropout(probs, dropout_p)
    return _C.matmul(probs, value)


# -- multi-head attention ------------------------------------------------------


def _none_or_dtype(input):
    return None if input is None else input.dtype


def _canonical_mask(mask, mask_name, other_type, other_name, target_type, check_other=True):
    """A bool mask (True = ignore) becomes an additive float mask of target_type
    (-inf where True); float masks pass through."""
    if mask is None:
        return None
    is_float = mask.is_floating_point()
    if mask.dtype != _BOOL and not is_float:
        raise TypeError(
            f"only bool and floating types of {mask_name} are supported, got {mask.dtype}"
        )
    if check_other and other_type is not None and mask.dtype != other_type:
        warnings.warn(
            f"Support for mismatched {mask_name} and {other_name} "
            "is deprecated. Use same type for both instead.",
            stacklevel=3,
        )
    if not is_float:
        mask = _factories.zeros(*mask.shape, dtype=target_type).masked_fill(mask, _NEG_INF)
    return mask


def _in_projection_packed(q, k, v, w, b):
    """q, k, v projected by the packed (3E, E) weight; one GEMM when q is k is v."""
    E = q.shape[-1]
    if k is v and q is k:
        return linear(q, w, b).chunk(3, -1)
    w_q, w_k, w_v = w.chunk(3)
    b_q, b_k, b_v = (None, None, None) if b is None else b.chunk(3)
    if k is v:
        kv = linear(k, _C.cat([w_k, w_v]), None if b is None else _C.cat([b_k, b_v]))
        return (linear(q, w_q, b_q),) + tuple(kv.split(E, -1))
    return linear(q, w_q, b_q), linear(k, w_k, b_k), linear(v, w_v, b_v)


def _append_zero_col(mask):
    """Pads the last dim of a float mask with one 0 column (a key nobody masks)."""
    if mask is None:
        return None
    pad = _factories.zeros(*mask.shape[:-1], 1, dtype=mask.dtype)
    return _C.cat([mask, pad], -1)


def _mha_check(query, key, value, key_padding_mask, attn_mask, num_heads, embed_dim):
    op = "multi_head_attention_forward"
    if query.dim() not in (2, 3):
        raise RuntimeError(
            f"{op}: expected query of shape (L, N, {embed_dim}) or (L, {embed_dim}), "
            f"got {_shape(query)}"
        )
    batched = query.dim() == 3
    if key.dim() != query.dim() or value.dim() != query.dim():
        form = "(S, N, E)" if batched else "(S, E)"
        raise RuntimeError(
            f"{op}: for {query.dim()}-d query, expected key and value of shape {form}, got "
            f"key {_shape(key)} and value {_shape(value)}"
        )
    if key_padding_mask is not None and key_padding_mask.dim() != (2 if batched else 1):
        raise RuntimeError(
            f"{op}: expected key_padding_mask of shape {'(N, S)' if batched else '(S)'}, "
            f"got {_shape(key_padding_mask)}"
        )
    if attn_mask is not None and attn_mask.dim() not in (2, 3):
        raise RuntimeError(
            f"{op}: expected attn_mask of shape (L, S) or (N*num_heads, L, S), "
            f"got {_shape(attn_mask)}"
        )
    return batched


def multi_head_attention_forward(
    query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias,
    bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias,
    training=True, key_padding_mask=None, need_weights=True, attn_mask=None,
    use_separate_proj_weight=False, q_proj_weight=None, k_proj_weight=None,
    v_proj_weight=None, static_k=None, static_v=None, average_attn_weights=True,
    is_causal=False,
):  # fmt: skip
    """Sequence-first multi-head attention (torch.nn.functional's function of
    the same name): query (L, N, E) or (L, E), key/value (S, N, *) or (S, *).
    Returns (attn_output, attn_weights or None)."""
    op = "multi_head_attention_forward"
    batched = _mha_check(query, key, value, key_padding_mask, attn_mask, num_heads,
                         embed_dim_to_check)
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]

    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask",
                                       _none_or_dtype(attn_mask), "attn_mask", query.dtype)
    if is_causal and attn_mask is None:
        raise RuntimeError(
            "Need attn_mask if specifying the is_causal hint. You may use the Transformer "
            "module method `generate_square_subsequent_mask` to create this mask."
        )
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None  # the hint alone drives scaled_dot_product_attention
    else:
        attn_mask = _canonical_mask(attn_mask, "attn_mask", None, "", query.dtype, False)
        if key_padding_mask is not None:
            is_causal = False  # the merged mask is no longer causal

    if embed_dim != embed_dim_to_check:
        raise RuntimeError(
            f"{op}: expected query of shape (L, N, {embed_dim_to_check}), got "
            f"{_shape(query)}"
        )
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise ValueError(f"{op}: embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if use_separate_proj_weight:
        if tuple(key.shape[:2]) != tuple(value.shape[:2]):
            raise RuntimeError(
                f"{op}: key's sequence and batch dims {list(key.shape[:2])} do not match "
                f"value's {list(value.shape[:2])}"
            )
        if q_proj_weight is None or k_proj_weight is None or v_proj_weight is None:
            raise ValueError(f"{op}: use_separate_proj_weight=True needs q/k/v_proj_weight")
        b_q, b_k, b_v = (None,) * 3 if in_proj_bias is None else in_proj_bias.chunk(3)
        q = linear(query, q_proj_weight, b_q)
        k = linear(key, k_proj_weight, b_k)
        v = linear(value, v_proj_weight, b_v)
    else:
        if tuple(key.shape) != tuple(value.shape):
            raise RuntimeError(
                f"{op}: key shape {_shape(key)} does not match value shape {_shape(value)}"
            )
        if in_proj_weight is None:
            raise ValueError(f"{op}: use_separate_proj_weight=False needs in_proj_weight")
        q, k, v = _in_projection_packed(query, key, value, in_proj_weight, in_proj_bias)

    if attn_mask is not None:
        want = (tgt_len, src_len) if attn_mask.dim() == 2 else (bsz * num_heads, tgt_len, src_len)
        if tuple(attn_mask.shape) != want:
            raise RuntimeError(
                f"{op}: expected {attn_mask.dim()}-d attn_mask of shape {want} "
                f"({'(L, S)' if attn_mask.dim() == 2 else '(N*num_heads, L, S)'}), "
                f"got {_shape(attn_mask)}"
            )
        if attn_mask.dim() == 2:
            attn_mask = attn_mask.unsqueeze(0)

    if bias_k is not None and bias_v is not None:
        if static_k is not None or static_v is not None:
            raise RuntimeError(f"{op}: bias_k/bias_v cannot be added to static_k/static_v")
        k = _C.cat([k, bias_k.expand(1, bsz, embed_dim)])
        v = _C.cat([v, bias_v.expand(1, bsz, embed_dim)])
        attn_mask = _append_zero_col(attn_mask)
        key_padding_mask = _append_zero_col(key_padding_mask)
    elif (bias_k is None) != (bias_v is None):
        raise ValueError(f"{op}: bias_k and bias_v must be given together")

    # (seq, N, E) -> (N*heads, seq, head_dim)
    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = _static_or(static_k, k, bsz * num_heads, head_dim, "static_k")
    v = _static_or(static_v, v, bsz * num_heads, head_dim, "static_v")

    if add_zero_attn:
        zeros = _factories.zeros(bsz * num_heads, 1, head_dim, dtype=k.dtype)
        k = _C.cat([k, zeros], 1)
        v = _C.cat([v, zeros], 1)
        attn_mask = _append_zero_col(attn_mask)
        key_padding_mask = _append_zero_col(key_padding_mask)

    src_len = k.shape[1]
    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (bsz, src_len):
            raise RuntimeError(
                f"{op}: expected key_padding_mask of shape (N, S) = ({bsz}, {src_len}), "
                f"got {_shape(key_padding_mask)}"
            )
        kpm = (key_padding_mask.reshape(bsz, 1, 1, src_len)
               .expand(bsz, num_heads, 1, src_len).reshape(bsz * num_heads, 1, src_len))
        attn_mask = kpm if attn_mask is None else attn_mask + kpm

    if not training:
        dropout_p = 0.0

    if need_weights:
        if is_causal and attn_mask is None:
            raise RuntimeError(f"{op}: is_causal without attn_mask needs need_weights=False")
        scores = _C.bmm(q * math.sqrt(1.0 / head_dim), k.transpose(-2, -1))
        if attn_mask is not None:
            scores = scores + attn_mask
        weights = _C.softmax(scores, -1)
        if dropout_p > 0.0:
            weights = _dropout(weights, dropout_p)
        out = _C.bmm(weights, v).transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
        out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, -1)
        weights = weights.reshape(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            weights = weights.mean(dim=1)
        if not batched:
            out, weights = out.squeeze(1), weights.squeeze(0)
        return out, weights

    if attn_mask is not None:
        if attn_mask.shape[0] == 1:
            attn_mask = attn_mask.unsqueeze(0)
        else:
            attn_mask = attn_mask.reshape(bsz, num_heads, -1, src_len)
    q = q.reshape(bsz, num_heads, tgt_len, head_dim)
    k = k.reshape(bsz, num_heads, src_len, head_dim)
    v = v.reshape(bsz, num_heads, src_len, head_dim)
    out = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal)
    out = out.permute(2, 0, 1, 3).reshape(bsz * tgt_len, embed_dim)
    out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, -1)
    return (out if batched else out.squeeze(1)), None


def _static_or(static, t, bh, head_dim, name):
    if static is None:
        return t.reshape(t.shape[0], bh, head_dim).transpose(0, 1)
    if static.dim() != 3 or static.shape[0] != bh or static.shape[2] != head_dim:
        raise RuntimeError(
            f"multi_head_attention_forward: expected {name} of shape "
            f"(N*num_heads, S, head_dim) = ({bh}, S, {head_dim}), got {_shape(static)}"
        )
    return static
