"""fastgrad.onnx.export: a traced graph written as an ONNX model."""

import io
import os

from .._C import Tensor
from ..jit import SymInt, trace
from ..jit._trace import _Traced, _flatten
from ..nn.modules.module import Module
from . import _nn_ops  # noqa: F401  (registers the nn exporters)
from ._context import ExportContext, UnsupportedOperatorError, onnx_dtype
from ._ops import EXPORTERS

OPSET = 17


def _axis_spec(spec, name):
    """dynamic_axes entry -> {axis: symbol}; torch's dict and list forms."""
    if isinstance(spec, dict):
        return {int(k): str(v) for k, v in spec.items()}
    if isinstance(spec, (list, tuple)):  # unnamed: the shared batch symbol
        return {int(k): None for k in spec}
    raise TypeError(f"export: dynamic_axes['{name}'] must be a dict or a list of axes, "
                    f"got {type(spec).__name__}")


def _batch_dims(flat_in, input_names, dynamic_axes):
    """One batch dim per input (or None) from dynamic_axes, and the symbol names."""
    dims, names = [], {}
    known = set(input_names)
    for key in dynamic_axes:
        if not isinstance(key, str):
            raise TypeError(f"export: dynamic_axes keys must be input/output names, got {key!r}")
    for t, name in zip(flat_in, input_names):
        spec = _axis_spec(dynamic_axes[name], name) if name in dynamic_axes else {}
        if len(spec) > 1:
            raise NotImplementedError(
                f"export: input '{name}' has {len(spec)} dynamic axes; fastgrad exports one "
                "dynamic (batch) axis per input")
        for axis, sym in spec.items():
            if not -t.dim() <= axis < t.dim():
                raise IndexError(f"export: dynamic axis {axis} is not a dim of input '{name}' "
                                 f"of shape {list(t.shape)}")
            if sym is not None:
                names[name] = sym
        dims.append(next(iter(spec)) % t.dim() if spec else None)
    if len(set(names.values())) > 1:
        raise NotImplementedError(
            f"export: the inputs' dynamic axes have different names {sorted(set(names.values()))}"
            "; fastgrad exports one shared dynamic (batch) axis")
    return dims, (next(iter(names.values())) if names else None), known


def _value_info(value, name, dim_names):
    from onnx import helper

    dims = []
    for i, d in enumerate(value.shape):
        if isinstance(d, SymInt):
            dims.append(dim_names.get(i) or (dim_names.get("batch") if (d.a, d.c) == (1, 0)
                                              else None))
        else:
            dims.append(int(d))
    return helper.make_tensor_value_info(name, onnx_dtype(value.dtype), dims)


def export(model, args, f, *, input_names=None, output_names=None, dynamic_axes=None,
           opset_version=OPSET, verbose=False):
    """Exports ``model(*args)`` (a Module, a function, or a traced one) to ONNX.

    f: a path or a binary file object. input_names / output_names name the
    graph's input and output tensors (default: the traced argument names and
    output_0, ...). dynamic_axes maps those names to the axes that may change
    size, as in torch.onnx.export ({"x": {0: "batch"}} or {"x": [0]}); one
    shared batch axis is supported. Modules are exported in eval mode (as
    torch does); parameters become initializers under their state_dict names.
    Returns the onnx.ModelProto, checked with onnx.checker.
    """
    import onnx
    from onnx import helper, numpy_helper

    if opset_version != OPSET:
        raise ValueError(f"export: fastgrad exports opset {OPSET}, got opset_version="
                         f"{opset_version}")
    args = (args,) if isinstance(args, Tensor) else tuple(args)
    flat_in = []
    _flatten(args, flat_in)
    dynamic_axes = dict(dynamic_axes or {})

    if isinstance(model, _Traced):
        traced = model
    else:
        names = list(input_names) if input_names else None
        if names is not None and len(names) != len(flat_in):
            raise ValueError(f"export: {len(names)} input_names for {len(flat_in)} input tensors")
        if names is None:
            dims, batch_name = [None] * len(flat_in), None
            if dynamic_axes:
                raise ValueError("export: dynamic_axes needs input_names to name the inputs")
        else:
            dims, batch_name, _ = _batch_dims(flat_in, names, dynamic_axes)
        was_training = isinstance(model, Module) and model.training
        if was_training:
            model.eval()
        try:
            traced = trace(model, args, batch_dim=dims if any(d is not None for d in dims)
                           else None)
        finally:
            if was_training:
                model.train()
    graph = traced.graph
    input_names = list(input_names) if input_names else [v.name for v in graph.inputs]
    if len(input_names) != len(graph.inputs):
        raise ValueError(f"export: {len(input_names)} input_names for {len(graph.inputs)} inputs")
    output_names = list(output_names) if output_names else [
        f"output_{i}" for i in range(len(graph.outputs))]
    if len(output_names) != len(graph.outputs):
        raise ValueError(
            f"export: {len(output_names)} output_names for {len(graph.outputs)} outputs")
    for key in dynamic_axes:
        if key not in input_names and key not in output_names:
            raise ValueError(f"export: dynamic_axes names '{key}', which is neither an input "
                             f"name {input_names} nor an output name {output_names}")
    if graph.batch is None and any(n in dynamic_axes for n in input_names):
        raise ValueError("export: dynamic_axes given, but the model was traced with fixed "
                         "shapes (trace it with a batch_dim)")
    batch_name = None
    for n in input_names + output_names:
        if n in dynamic_axes:
            batch_name = batch_name or next(iter(_axis_spec(dynamic_axes[n], n).values()), None)

    ctx = ExportContext(graph, output_names)
    inputs = []
    for v, name in zip(graph.inputs, input_names):
        ctx.bind(v, name)
        dim_names = _axis_spec(dynamic_axes[name], name) if name in dynamic_axes else {}
        dim_names["batch"] = batch_name or "batch"
        inputs.append(_value_info(v, name, dim_names))
    nodes = graph.nodes  # unused ops were dropped when the trace ended
    used = {v.id for n in nodes for v in n.inputs if v is not None}
    used.update(v.id for v in graph.outputs if v is not None)
    params = traced._current_params()
    seen = set()
    for v, p in zip(graph.params, params):
        if v.id in seen or v.id not in used:
            continue
        seen.add(v.id)
        ctx.bind(v, v.name)
        ctx.initializers.append(numpy_helper.from_array(p.detach().numpy().copy(), v.name))
    for v in graph.constants:
        if v.id not in used:
            continue
        name = f"const_{v.id}"
        ctx.bind(v, name)
        ctx.initializers.append(numpy_helper.from_array(v.constant.detach().numpy().copy(), name))

    for node in nodes:
        emit = EXPORTERS.get(node.op)
        if emit is None:
            raise UnsupportedOperatorError(
                f"fastgrad.onnx.export: op '{node.op}' is not supported (node {node!r})")
        emit(ctx, node)

    outputs = []
    for v, name in zip(graph.outputs, output_names):
        if v is None:
            raise UnsupportedOperatorError("fastgrad.onnx.export: an output is undefined")
        if ctx.name(v) != name:
            ctx.op("Identity", [ctx.name(v)], [name])
        dim_names = _axis_spec(dynamic_axes[name], name) if name in dynamic_axes else {}
        dim_names["batch"] = batch_name or "batch"
        outputs.append(_value_info(v, name, dim_names))

    onnx_graph = helper.make_graph(ctx.nodes, getattr(traced, "original_name", "fastgrad"),
                                   inputs, outputs, initializer=ctx.initializers)
    proto = helper.make_model(onnx_graph, producer_name="fastgrad",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    proto.ir_version = min(proto.ir_version, 8)  # readable by older onnxruntime too
    onnx.checker.check_model(proto)
    if verbose:
        print(helper.printable_graph(proto.graph))
    if isinstance(f, (str, os.PathLike)):
        onnx.save(proto, os.fspath(f))
    elif isinstance(f, io.IOBase) or hasattr(f, "write"):
        f.write(proto.SerializeToString())
    else:
        raise TypeError(f"export: f must be a path or a binary file, got {type(f).__name__}")
    return proto

