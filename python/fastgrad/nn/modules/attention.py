"""MultiheadAttention (torch.nn.MultiheadAttention).

Parameter names, shapes and initialisation follow torch, so state_dicts move
between the two unchanged. torch has a fused inference "fast path" (eval,
no grad, batch_first self-attention); it computes the same function, so
fastgrad always takes the general path.
"""

from .. import init
from .._alloc import empty_param
from ..functional._attention import _canonical_mask, _none_or_dtype, multi_head_attention_forward
from .linear import Linear
from .module import Module

__all__ = ["MultiheadAttention"]


class NonDynamicallyQuantizableLinear(Linear):
    """torch's name for MultiheadAttention.out_proj (a plain Linear); kept so
    that reprs match."""


def _shape(t):
    return "[" + ", ".join(str(d) for d in t.shape) + "]"


class MultiheadAttention(Module):
    """Attention over num_heads heads of size embed_dim // num_heads.

    Inputs are (L, N, E) (or (N, L, E) with batch_first=True) or unbatched
    (L, E); key/value have kdim/vdim features. Bool masks mark positions to
    IGNORE (True), float masks are added to the attention scores.
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None,
                 dtype=None):
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(
                f"embed_dim and num_heads must be greater than 0,"
                f" got embed_dim={embed_dim} and num_heads={num_heads} instead"
            )
        super().__init__()
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        if self.head_dim * num_heads != embed_dim:
            raise ValueError(
                f"MultiheadAttention: embed_dim must be divisible by num_heads, got "
                f"embed_dim={embed_dim} and num_heads={num_heads}"
            )
        if not self._qkv_same_embed_dim:
            self.q_proj_weight = empty_param((embed_dim, embed_dim), device, dtype)
            self.k_proj_weight = empty_param((embed_dim, self.kdim), device, dtype)
            self.v_proj_weight = empty_param((embed_dim, self.vdim), device, dtype)
            self.register_parameter("in_proj_weight", None)
        else:
            self.in_proj_weight = empty_param((3 * embed_dim, embed_dim), device, dtype)
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        if bias:
            self.in_proj_bias = empty_param((3 * embed_dim,), device, dtype)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(
            embed_dim, embed_dim, bias=bias, device=device, dtype=dtype
        )
        if add_bias_kv:
            self.bias_k = empty_param((1, 1, embed_dim), device, dtype)
            self.bias_v = empty_param((1, 1, embed_dim), device, dtype)
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self):
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
        if self.bias_v is not None:
            init.xavier_normal_(self.bias_v)

    def __setstate__(self, state):
        state.setdefault("_qkv_same_embed_dim", True)
        super().__setstate__(state)

    def _check_inputs(self, query, key, value):
        E, bf = self.embed_dim, self.batch_first
        lead = "(N, L, " if bf else "(L, N, "
        if query.dim() not in (2, 3) or query.shape[-1] != E:
            raise RuntimeError(
                f"MultiheadAttention: expected query of shape {lead}{E}) "
                f"(batch_first={bf}) or (L, {E}), got {_shape(query)}"
            )
        lead = "(N, S, " if bf else "(S, N, "
        for name, t, d in (("key", key, self.kdim), ("value", value, self.vdim)):
            if t.dim() != query.dim() or t.shape[-1] != d:
                form = f"{lead}{d})" if query.dim() == 3 else f"(S, {d})"
                raise RuntimeError(
                    f"MultiheadAttention: expected {name} of shape {form} "
                    f"(batch_first={bf}) for {query.dim()}-d query, got {_shape(t)}"
                )
        if query.dim() == 3 and not (query.shape[1 - bf] == key.shape[1 - bf] == value.shape[1 - bf]):
            raise RuntimeError(
                f"MultiheadAttention: query, key and value must have the same batch size "
                f"(dim {1 - bf}, batch_first={bf}), got {_shape(query)}, {_shape(key)}, "
                f"{_shape(value)}"
            )
        if key.shape[-2 if query.dim() == 2 else bf] != value.shape[-2 if query.dim() == 2 else bf]:
            raise RuntimeError(
                f"MultiheadAttention: key and value must have the same sequence length, got "
                f"{_shape(key)} and {_shape(value)}"
            )

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        self._check_inputs(query, key, value)
        is_batched = query.dim() == 3
        key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask",
                                           _none_or_dtype(attn_mask), "attn_mask", query.dtype)
        attn_mask = _canonical_mask(attn_mask, "attn_mask", None, "", query.dtype, False)
        if self.batch_first and is_batched:
            # keep `query is key is value` so the packed projection stays one GEMM
            if key is value:
                if query is key:
                    query = key = value = query.transpose(1, 0)
                else:
                    query, key = (x.transpose(1, 0) for x in (query, key))
                    value = key
            else:
                query, key, value = (x.transpose(1, 0) for x in (query, key, value))
        separate = not self._qkv_same_embed_dim
        out, weights = multi_head_attention_forward(
            query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight,
            self.in_proj_bias, self.bias_k, self.bias_v, self.add_zero_attn, self.dropout,
            self.out_proj.weight, self.out_proj.bias, training=self.training,
            key_padding_mask=key_padding_mask, need_weights=need_weights,
            attn_mask=attn_mask, use_separate_proj_weight=separate,
            q_proj_weight=self.q_proj_weight, k_proj_weight=self.k_proj_weight,
            v_proj_weight=self.v_proj_weight, average_attn_weights=average_attn_weights,
            is_causal=is_causal,
        )
        if self.batch_first and is_batched:
            out = out.transpose(1, 0)
        return out, weights

    def merge_masks(self, attn_mask, key_padding_mask, query):
        """torch's helper: the (N, heads, L, L) sum of both masks and its type
        (None: no mask, 1: key padding only, 2: attn_mask given)."""
        mask_type, merged = None, None
        if key_padding_mask is not None:
            mask_type, merged = 1, key_padding_mask
        if attn_mask is not None:
            batch_size, seq_len, _ = query.shape
            mask_type = 2
            if attn_mask.dim() == 3:
                merged = attn_mask.reshape(batch_size, -1, seq_len, seq_len)
            else:
                merged = attn_mask.reshape(1, 1, seq_len, seq_len).expand(
                    batch_size, self.num_heads, seq_len, seq_len
                )
            if key_padding_mask is not None:
                merged = merged + key_padding_mask.reshape(batch_size, 1, 1, seq_len).expand(
                    batch_size, self.num_heads, 1, seq_len
                )
        return merged, mask_type

