"""One exporter per traced op: how a fastgrad op (by its binding's name and
argument order) becomes ONNX opset-17 nodes. Shape ops reshape to the traced
output shape, whose batch-dependent dims become run-time sizes."""

import math

from .. import _C
from ..jit import Value
from ._context import UnsupportedOperatorError, onnx_dtype

EXPORTERS = {}


def exporter(*ops):
    def register(fn):
        for op in ops:
            EXPORTERS[op] = fn
        return fn

    return register


def _unsupported(node, why):
    raise UnsupportedOperatorError(f"fastgrad.onnx.export: op '{node.op}' {why}")


def _out(ctx, node, i=0):
    return ctx.out_name(node.outputs[i])


def _x(ctx, node, i=0):
    return ctx.name(node.args[i])


def _dim(d, rank):
    return d % rank if rank else 0


# ---- elementwise --------------------------------------------------------------------

_UNARY = {
    "relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "exp": "Exp", "log": "Log",
    "sqrt": "Sqrt", "abs": "Abs", "neg": "Neg", "sin": "Sin", "cos": "Cos", "erf": "Erf",
    "floor": "Floor", "ceil": "Ceil", "reciprocal": "Reciprocal", "sign": "Sign",
    "round": "Round", "logical_not": "Not", "_rnn_tanh": "Tanh", "tan": "Tan", "asin": "Asin",
    "acos": "Acos", "atan": "Atan", "sinh": "Sinh", "cosh": "Cosh",
}  # fmt: skip


def _unary(onnx_op):
    def emit(ctx, node):
        ctx.op(onnx_op, [ctx.operand(node.args[0], node.outputs[0].dtype)], [_out(ctx, node)])

    return emit


for _op, _onnx in _UNARY.items():
    EXPORTERS[_op] = _unary(_onnx)
    EXPORTERS[_op + "_"] = _unary(_onnx)


@exporter("rsqrt", "rsqrt_")
def _rsqrt(ctx, node):
    ctx.op("Reciprocal", [ctx.op("Sqrt", [_x(ctx, node)])], [_out(ctx, node)])


@exporter("silu", "silu_")
def _silu(ctx, node):
    x = _x(ctx, node)
    ctx.op("Mul", [x, ctx.op("Sigmoid", [x])], [_out(ctx, node)])


@exporter("log1p", "log1p_")
def _log1p(ctx, node):
    x = _x(ctx, node)
    ctx.op("Log", [ctx.op("Add", [x, ctx.const(1, node.args[0].dtype)])], [_out(ctx, node)])


@exporter("expm1", "expm1_")
def _expm1(ctx, node):
    x = _x(ctx, node)
    ctx.op("Sub", [ctx.op("Exp", [x]), ctx.const(1, node.args[0].dtype)], [_out(ctx, node)])


@exporter("gelu")
def _gelu(ctx, node):
    # opset 17 has no Gelu: torch's formulas, exact (erf) or tanh.
    x, dt = _x(ctx, node), node.args[0].dtype
    approximate = node.args[1] if len(node.args) > 1 else "none"
    if approximate == "tanh":
        cube = ctx.op("Mul", [ctx.op("Mul", [x, x]), x])
        inner = ctx.op("Add", [x, ctx.op("Mul", [cube, ctx.const(0.044715, dt)])])
        t = ctx.op("Tanh", [ctx.op("Mul", [inner, ctx.const(math.sqrt(2 / math.pi), dt)])])
    else:
        t = ctx.op("Erf", [ctx.op("Mul", [x, ctx.const(1 / math.sqrt(2), dt)])])
    half_x = ctx.op("Mul", [x, ctx.const(0.5, dt)])
    ctx.op("Mul", [half_x, ctx.op("Add", [t, ctx.const(1, dt)])], [_out(ctx, node)])


_BINARY = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "pow": "Pow",
           "maximum": "Max", "minimum": "Min", "max": None, "min": None}
_COMPARE = {"eq": "Equal", "lt": "Less", "gt": "Greater", "le": "LessOrEqual",
            "ge": "GreaterOrEqual", "ne": "Equal"}


def _operands(ctx, node, dtype):
    return [ctx.operand(a, dtype) for a in node.args[:2]]


def _binary(onnx_op):
    def emit(ctx, node):
        dt = node.outputs[0].dtype
        if node.op.rstrip("_") == "div" and len(node.args) > 2 and node.args[2] is not None:
            _unsupported(node, f"with rounding_mode={node.args[2]!r} is not supported")
        a, b = _operands(ctx, node, dt)
        alpha = node.args[2] if node.op.rstrip("_") in ("add", "sub") and len(node.args) > 2 \
            else 1
        if alpha != 1:
            b = ctx.op("Mul", [b, ctx.const(alpha, dt)])
        ctx.op(onnx_op, [a, b], [_out(ctx, node)])

    return emit


for _op in ("add", "sub", "mul", "div", "pow", "maximum", "minimum"):
    EXPORTERS[_op] = EXPORTERS[_op + "_"] = _binary(_BINARY[_op])


def _common_dtype(args):
    dts = [a.dtype for a in args if isinstance(a, Value)]
    for dt in (_C.dtype.float64, _C.dtype.float32, _C.dtype.int64, _C.dtype.int32):
        if dt in dts:
            return dt
    return dts[0]


def _compare(onnx_op, negate):
    def emit(ctx, node):
        dt = _common_dtype(node.args[:2])
        out = ctx.op(onnx_op, _operands(ctx, node, dt), 1 if negate else [_out(ctx, node)])
        if negate:
            ctx.op("Not", [out], [_out(ctx, node)])

    return emit


for _op, _onnx in _COMPARE.items():
    EXPORTERS[_op] = _compare(_onnx, _op == "ne")


@exporter("where")
def _where(ctx, node):
    dt = node.outputs[0].dtype
    cond, a, b = node.args
    ctx.op("Where", [ctx.name(cond), ctx.operand(a, dt), ctx.operand(b, dt)],
           [_out(ctx, node)])


@exporter("masked_fill", "masked_fill_")
def _masked_fill(ctx, node):
    x, mask, value = node.args
    dt = x.dtype
    ctx.op("Where", [ctx.name(mask), ctx.operand(value, dt), ctx.name(x)], [_out(ctx, node)])


@exporter("clamp", "clamp_")
def _clamp(ctx, node):
    x, lo, hi = node.args
    if isinstance(lo, Value) or isinstance(hi, Value):
        out = ctx.name(x)
        if lo is not None:
            out = ctx.op("Max", [out, ctx.operand(lo, x.dtype)])
        if hi is not None:
            out = ctx.op("Min", [out, ctx.operand(hi, x.dtype)])
        ctx.op("Identity", [out], [_out(ctx, node)])
        return
    ctx.op("Clip", [ctx.name(x), "" if lo is None else ctx.const(lo, x.dtype),
                    "" if hi is None else ctx.const(hi, x.dtype)], [_out(ctx, node)])


@exporter("contiguous", "clone", "detach", "to_device")
def _identity(ctx, node):
    ctx.op("Identity", [_x(ctx, node)], [_out(ctx, node)])


@exporter("to_dtype")
def _to_dtype(ctx, node):
    ctx.op("Cast", [_x(ctx, node)], [_out(ctx, node)], to=onnx_dtype(node.outputs[0].dtype))


@exporter("_dropout", "_dropout_", "_feature_dropout", "_alpha_dropout")
def _dropout(ctx, node):
    if node.args[2]:  # train
        _unsupported(node, "in training mode is not exported (put the model in eval mode)")
    _identity(ctx, node)


# ---- reductions and softmax ----------------------------------------------------------


def _axes(dims, rank):
    return list(range(rank)) if dims is None or dims == [] else [_dim(d, rank) for d in dims]


@exporter("sum", "mean", "amax", "amin")
def _reduce(ctx, node):
    x, dims, keepdim = node.args[:3]
    if len(node.args) > 3 and node.args[3] is not None and node.args[3] != x.dtype:
        _unsupported(node, "with a dtype argument is not supported")
    axes = _axes(dims, len(x.shape))
    onnx_op = {"sum": "ReduceSum", "mean": "ReduceMean", "amax": "ReduceMax",
               "amin": "ReduceMin"}[node.op]
    src = ctx.name(x)
    if node.op == "sum" and x.dtype != node.outputs[0].dtype:
        src = ctx.op("Cast", [src], to=onnx_dtype(node.outputs[0].dtype))
    if onnx_op == "ReduceSum":  # axes is an input from opset 13
        ctx.op(onnx_op, [src, ctx.ints(axes)], [_out(ctx, node)], keepdims=int(keepdim))
    else:
        ctx.op(onnx_op, [src], [_out(ctx, node)], axes=axes, keepdims=int(keepdim))


@exporter("all", "any")
def _all_any(ctx, node):
    x, dims, keepdim = node.args
    as_int = ctx.op("Cast", [ctx.name(x)], to=onnx_dtype(_C.dtype.int32))
    red = ctx.op("ReduceMin" if node.op == "all" else "ReduceMax", [as_int],
                 axes=_axes(dims, len(x.shape)), keepdims=int(keepdim))
    ctx.op("Cast", [red], [_out(ctx, node)], to=onnx_dtype(_C.dtype.bool))


@exporter("softmax", "log_softmax")
def _softmax(ctx, node):
    x, dim, dtype = node.args
    src = ctx.operand(x, node.outputs[0].dtype)
    ctx.op("Softmax" if node.op == "softmax" else "LogSoftmax", [src], [_out(ctx, node)],
           axis=_dim(dim, len(x.shape)))


# ---- matrix products -------------------------------------------------------------------


@exporter("matmul", "mm", "bmm")
def _matmul(ctx, node):
    ctx.op("MatMul", [_x(ctx, node, 0), _x(ctx, node, 1)], [_out(ctx, node)])


@exporter("addmm")
def _addmm(ctx, node):
    bias, a, b, beta, alpha = node.args
    ctx.op("Gemm", [ctx.name(a), ctx.name(b), ctx.name(bias)], [_out(ctx, node)],
           alpha=float(alpha), beta=float(beta))


# ---- shapes -----------------------------------------------------------------------------


@exporter("view", "reshape", "flatten", "unflatten", "squeeze", "unsqueeze", "atleast_1d",
          "atleast_2d")
def _reshape(ctx, node):
    out = node.outputs[0]
    ctx.op("Reshape", [_x(ctx, node), ctx.ints(out.shape)], [_out(ctx, node)],
           allowzero=1 if 0 in out.shape else None)


@exporter("expand", "broadcast_to")
def _expand(ctx, node):
    ctx.op("Expand", [_x(ctx, node), ctx.ints(node.outputs[0].shape)], [_out(ctx, node)])


def _transpose_perm(ctx, node, perm):
    ctx.op("Transpose", [_x(ctx, node)], [_out(ctx, node)], perm=perm)


@exporter("transpose")
def _transpose(ctx, node):
    rank = len(node.args[0].shape)
    perm = list(range(rank))
    a, b = _dim(node.args[1], rank), _dim(node.args[2], rank)
    perm[a], perm[b] = perm[b], perm[a]
    _transpose_perm(ctx, node, perm)


@exporter("t", "T", "mT")
def _t(ctx, node):
    rank = len(node.args[0].shape)
    perm = list(range(rank))
    if node.op == "mT":
        perm[-2:] = perm[-1], perm[-2]
    else:
        perm.reverse()
    _transpose_perm(ctx, node, perm)


@exporter("permute")
def _permute(ctx, node):
    rank = len(node.args[0].shape)
    _transpose_perm(ctx, node, [_dim(d, rank) for d in node.args[1]])


def _split(ctx, node, x, dim):
    rank = len(x.shape)
    dim = _dim(dim, rank)
    sizes = [ctx.static(o.shape[dim], "the split dim", node) for o in node.outputs]
    names = [_out(ctx, node, i) for i in range(len(node.outputs))]
    if len(names) == 1:
        ctx.op("Identity", [ctx.name(x)], names)
    else:
        ctx.op("Split", [ctx.name(x), ctx.ints(sizes)], names, axis=dim)


@exporter("chunk")
def _chunk(ctx, node):
    _split(ctx, node, node.args[0], node.args[2])


@exporter("split", "split_with_sizes")
def _split_op(ctx, node):
    _split(ctx, node, node.args[0], node.args[2])


@exporter("unbind")
def _unbind(ctx, node):
    x, dim = node.args
    dim = _dim(dim, len(x.shape))
    parts = [ctx.fresh("part") for _ in node.outputs]
    if len(parts) == 1:
        parts = [ctx.name(x)]
    else:
        ctx.op("Split", [ctx.name(x), ctx.ints([1] * len(parts))], parts, axis=dim)
    axes = ctx.ints([dim])
    for i, p in enumerate(parts):
        ctx.op("Squeeze", [p, axes], [_out(ctx, node, i)])


@exporter("cat")
def _cat(ctx, node):
    xs, dim = node.args
    rank = len(node.outputs[0].shape)
    ctx.op("Concat", [ctx.operand(x, node.outputs[0].dtype) for x in xs], [_out(ctx, node)],
           axis=_dim(dim, rank))


@exporter("stack")
def _stack(ctx, node):
    xs, dim = node.args
    rank = len(node.outputs[0].shape)
    axes = ctx.ints([_dim(dim, rank)])
    parts = [ctx.op("Unsqueeze", [ctx.name(x), axes]) for x in xs]
    ctx.op("Concat", parts, [_out(ctx, node)], axis=_dim(dim, rank))


@exporter("select")
def _select(ctx, node):
    x, dim, index = node.args
    ctx.op("Gather", [ctx.name(x), ctx.const(index, _C.dtype.int64)], [_out(ctx, node)],
           axis=_dim(dim, len(x.shape)))


@exporter("narrow")
def _narrow(ctx, node):
    x, dim, start, length = node.args
    ctx.op("Slice", [ctx.name(x), ctx.ints([start]), ctx.ints([start + length]),
                     ctx.ints([_dim(dim, len(x.shape))])], [_out(ctx, node)])


@exporter("getitem")
def _getitem(ctx, node):
    """Basic indexing (ints, slices, None, ...): one Slice, then a Reshape to the
    traced result shape (which drops int dims and adds None dims)."""
    x, index = node.args
    rank = len(x.shape)
    if any(isinstance(i, Value) or isinstance(i, bool) for i in index):
        _unsupported(node, "with tensor or bool indices is not supported")
    consumed = sum(1 for i in index if i is not None and i is not Ellipsis)
    dim, starts, ends, axes, steps = 0, [], [], [], []
    for i in index:
        if i is None:
            continue
        if i is Ellipsis:
            dim += rank - consumed
            continue
        if isinstance(i, slice):
            starts.append(i.start)
            ends.append(min(i.stop, 2**63 - 1))
            steps.append(i.step)
        else:
            starts.append(i)
            ends.append(i + 1 if i != -1 else 2**63 - 1)
            steps.append(1)
        axes.append(dim)
        dim += 1
    src = ctx.name(x)
    if axes:
        src = ctx.op("Slice", [src, ctx.ints(starts), ctx.ints(ends), ctx.ints(axes),
                               ctx.ints(steps)])
    ctx.op("Reshape", [src, ctx.ints(node.outputs[0].shape)], [_out(ctx, node)])


@exporter("tril", "triu")
def _trilu(ctx, node):
    x, k = node.args
    ctx.op("Trilu", [ctx.name(x), ctx.const(k, _C.dtype.int64)], [_out(ctx, node)],
           upper=int(node.op == "triu"))


# ---- factories -------------------------------------------------------------------------


def _filled(ctx, node, size, fill):
    from onnx import helper

    dt = node.outputs[0].dtype
    value = helper.make_tensor("value", onnx_dtype(dt), [1], [fill])
    ctx.op("ConstantOfShape", [ctx.ints(size)], [_out(ctx, node)], value=value)


@exporter("_zeros", "_ones")
def _zeros_ones(ctx, node):
    _filled(ctx, node, node.args[0], 0 if node.op == "_zeros" else 1)


@exporter("_full")
def _full(ctx, node):
    _filled(ctx, node, node.args[0], node.args[1])


@exporter("scalar_tensor")
def _scalar_tensor(ctx, node):
    ctx.op("Identity", [ctx.const(node.args[0], node.outputs[0].dtype)], [_out(ctx, node)])
