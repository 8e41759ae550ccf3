"""Exporters for the nn kernels (conv, pooling, normalization, embedding and
the fused recurrent sequence op)."""

import numpy as np

from ._ops import _out, _unsupported, _x, exporter

# ONNX stores LSTM gates as (i, o, f, c) and GRU gates as (z, r, h); fastgrad
# (like torch) as (i, f, g, o) and (r, z, n).
_GATE_ORDER = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN_TANH": [0], "RNN_RELU": [0]}
_ONNX_RNN = {"LSTM": "LSTM", "GRU": "GRU", "RNN_TANH": "RNN", "RNN_RELU": "RNN"}


@exporter("_conv2d")
def _conv2d(ctx, node):
    x, w, b, stride, padding, dilation, groups = node.args
    # padding is (top, left, bottom, right): ONNX's (x1_begin, x2_begin, x1_end, x2_end)
    ctx.op("Conv", [ctx.name(x), ctx.name(w)] + ([ctx.name(b)] if b is not None else []),
           [_out(ctx, node)], kernel_shape=list(w.shape[2:]), strides=list(stride),
           pads=list(padding), dilations=list(dilation), group=int(groups))


def _pool_pads(padding):
    return list(padding) + list(padding)


@exporter("_max_pool2d")
def _max_pool2d(ctx, node):
    x, k, s, p, d, ceil_mode = node.args
    # The indices output (torch's flat per-plane positions) differs from ONNX's; only
    # the values are exported, and a graph that uses the indices fails to export.
    ctx.op("MaxPool", [ctx.name(x)], [_out(ctx, node)], kernel_shape=list(k), strides=list(s),
           pads=_pool_pads(p), dilations=list(d), ceil_mode=int(ceil_mode))


@exporter("_avg_pool2d")
def _avg_pool2d(ctx, node):
    x, k, s, p, ceil_mode, count_include_pad, divisor = node.args
    if divisor is not None:
        _unsupported(node, "with divisor_override is not supported")
    ctx.op("AveragePool", [ctx.name(x)], [_out(ctx, node)], kernel_shape=list(k),
           strides=list(s), pads=_pool_pads(p), ceil_mode=int(ceil_mode),
           count_include_pad=int(count_include_pad))


@exporter("_adaptive_avg_pool2d", "_adaptive_max_pool2d")
def _adaptive_pool2d(ctx, node):
    x, size = node.args
    is_max = node.op == "_adaptive_max_pool2d"
    h, w = ctx.static(x.shape[2], "the height", node), ctx.static(x.shape[3], "the width", node)
    oh, ow = size
    if (oh, ow) == (1, 1):
        ctx.op("GlobalMaxPool" if is_max else "GlobalAveragePool", [ctx.name(x)],
               [_out(ctx, node)])
        return
    if h % oh or w % ow:
        _unsupported(node, f"from {h}x{w} to {oh}x{ow} (not a whole window) is not supported")
    k = [h // oh, w // ow]
    ctx.op("MaxPool" if is_max else "AveragePool", [ctx.name(x)], [_out(ctx, node)],
           kernel_shape=k, strides=k)


def _ones_or(ctx, t, n, dtype, fill):
    return ctx.name(t) if t is not None else ctx.const(np.full(n, fill), dtype)


@exporter("_batch_norm")
def _batch_norm(ctx, node):
    x, rm, rv, w, b, training, momentum, eps = node.args
    if training or rm is None:
        _unsupported(node, "in training mode (batch statistics) is not exported; call "
                           "model.eval() first")
    c = x.shape[1]
    ctx.op("BatchNormalization",
           [ctx.name(x), _ones_or(ctx, w, c, x.dtype, 1), _ones_or(ctx, b, c, x.dtype, 0),
            ctx.name(rm), ctx.name(rv)], [_out(ctx, node)], epsilon=float(eps),
           momentum=float(1 - momentum))


@exporter("_layer_norm")
def _layer_norm(ctx, node):
    x, shape, w, b, eps = node.args
    n = int(np.prod(shape))
    scale = _ones_or(ctx, w, n, x.dtype, 1)
    if w is None:
        scale = ctx.op("Reshape", [scale, ctx.ints(shape)])
    ctx.op("LayerNormalization", [ctx.name(x), scale] + ([ctx.name(b)] if b is not None else []),
           [_out(ctx, node)], axis=-len(shape), epsilon=float(eps))


@exporter("_embedding")
def _embedding(ctx, node):
    w, idx = node.args[:2]
    ctx.op("Gather", [ctx.name(w), ctx.name(idx)], [_out(ctx, node)], axis=0)


def _gates(ctx, t, order):
    """A (G*H, K) weight or (G*H,) bias with its gate blocks reordered for ONNX."""
    if len(order) == 1:
        return ctx.name(t)
    parts = ctx.op("Split", [ctx.name(t), ctx.ints([t.shape[0] // len(order)] * len(order))],
                   len(order), axis=0)
    return ctx.op("Concat", [parts[i] for i in order], axis=0)


@exporter("_rnn_sequence")
def _rnn_sequence(ctx, node):
    """One direction of a recurrent layer: ONNX LSTM / GRU / RNN over the
    padded (T, B, K) sequence (packed sequences of unequal lengths are not
    exported)."""
    mode, x, batch_sizes, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse = node.args
    if len(set(int(b) for b in batch_sizes)) != 1:
        _unsupported(node, "over a packed sequence of unequal lengths is not supported")
    steps, batch = len(batch_sizes), batch_sizes[0]
    hidden = w_hh.shape[1]
    order = _GATE_ORDER[mode]
    axis0 = ctx.ints([0])
    seq = ctx.op("Reshape", [ctx.name(x), ctx.ints([steps, batch, x.shape[1]])])
    w = ctx.op("Unsqueeze", [_gates(ctx, w_ih, order), axis0])
    r = ctx.op("Unsqueeze", [_gates(ctx, w_hh, order), axis0])
    bias = ""
    if b_ih is not None:
        both = ctx.op("Concat", [_gates(ctx, b_ih, order), _gates(ctx, b_hh, order)], axis=0)
        bias = ctx.op("Unsqueeze", [both, axis0])
    inputs = [seq, w, r, bias, "", ctx.op("Unsqueeze", [ctx.name(h0), axis0])]
    if mode == "LSTM":
        inputs.append(ctx.op("Unsqueeze", [ctx.name(c0), axis0]))
    attrs = {"hidden_size": hidden, "direction": "reverse" if reverse else "forward"}
    if mode == "GRU":
        attrs["linear_before_reset"] = 1  # torch's n = tanh(W x + b + r * (U h + b_hn))
    if mode.startswith("RNN"):
        attrs["activations"] = ["Tanh" if mode == "RNN_TANH" else "Relu"]
    outs = ctx.op(_ONNX_RNN[mode], inputs, 3 if mode == "LSTM" else 2, **attrs)
    y, states = outs[0], outs[1:]
    # Y (T, 1, B, H) -> (T*B, H); Y_h / Y_c (1, B, H) -> (B, H)
    ctx.op("Reshape", [y, ctx.ints(node.outputs[0].shape)], [_out(ctx, node, 0)])
    for i, s in enumerate(states, start=1):
        if node.outputs[i] is not None:
            ctx.op("Squeeze", [s, axis0], [_out(ctx, node, i)])


@exporter("_lstm_cell", "_gru_cell")
def _cells(ctx, node):
    _unsupported(node, "(a single-step cell) is not supported; export nn.LSTM / nn.GRU layers")

