"""The state of one ONNX export: names, initializers, emitted nodes, and the
runtime batch size for sizes that follow it."""

import numpy as np

from .. import _C
from ..jit import SymInt, Value


class UnsupportedOperatorError(RuntimeError):
    """The traced graph holds an op (or an op's form) fastgrad.onnx cannot export."""


def onnx_dtype(dtype):
    from onnx import TensorProto

    return {
        _C.dtype.float32: TensorProto.FLOAT, _C.dtype.float64: TensorProto.DOUBLE,
        _C.dtype.int64: TensorProto.INT64, _C.dtype.int32: TensorProto.INT32,
        _C.dtype.bool: TensorProto.BOOL,
    }[dtype]  # fmt: skip


_NP = {
    _C.dtype.float32: np.float32, _C.dtype.float64: np.float64, _C.dtype.int64: np.int64,
    _C.dtype.int32: np.int32, _C.dtype.bool: np.bool_,
}  # fmt: skip


class ExportContext:
    def __init__(self, graph, output_names):
        self.graph = graph
        self.nodes = []
        self.initializers = []
        self._names = {}  # Value id -> ONNX name
        self._counter = 0
        self._const_cache = {}
        self._batch = None
        self._outputs = {}  # Value id -> output name, for values that are graph outputs
        for v, name in zip(graph.outputs, output_names):
            if v is not None and v.kind == "op" and v.id not in self._outputs:
                self._outputs[v.id] = name

    # -- names -------------------------------------------------------------------
    def fresh(self, hint="t"):
        self._counter += 1
        return f"{hint}_{self._counter}"

    def bind(self, value, name):
        self._names[value.id] = name

    def name(self, value):
        if value is None:
            return ""
        try:
            return self._names[value.id]
        except KeyError:
            producer = value.producer.op if value.producer is not None else value.kind
            raise UnsupportedOperatorError(
                f"fastgrad.onnx.export: value %{value.debug_name} (an output of '{producer}') "
                "is used, but its exporter does not produce it") from None

    def out_name(self, value):
        """The ONNX name a node should write for `value`."""
        name = self._outputs.get(value.id) or self.fresh(f"v{value.id}")
        self.bind(value, name)
        return name

    # -- nodes and constants --------------------------------------------------------
    def op(self, op_type, inputs, outputs=1, **attrs):
        """Adds a node; `outputs` is a count (fresh names) or a list of names.
        Returns the output names (one name when a single one)."""
        from onnx import helper

        outs = [self.fresh(op_type.lower()) for _ in range(outputs)] if isinstance(
            outputs, int) else list(outputs)
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(helper.make_node(op_type, list(inputs), outs,
                                           name=f"{op_type}_{len(self.nodes)}", **attrs))
        return outs[0] if len(outs) == 1 else outs

    def initializer(self, array, hint="const"):
        from onnx import numpy_helper

        name = self.fresh(hint)
        self.initializers.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def const(self, value, dtype):
        """A constant of a fastgrad dtype: a number (0-d) or a nested list."""
        arr = np.asarray(value, dtype=_NP[dtype])
        key = (arr.dtype.str, arr.shape, arr.tobytes())
        if key not in self._const_cache:
            self._const_cache[key] = self.initializer(arr)
        return self._const_cache[key]

    def ints(self, values):
        """A 1-d int64 tensor of sizes; SymInts become a * B + c at run time."""
        values = list(values)
        if not any(isinstance(v, SymInt) for v in values):
            return self.const(values, _C.dtype.int64)
        pieces = []
        for v in values:
            if isinstance(v, SymInt):
                piece = self.batch()
                if v.a != 1:
                    piece = self.op("Mul", [piece, self.const([v.a], _C.dtype.int64)])
                if v.c:
                    piece = self.op("Add", [piece, self.const([v.c], _C.dtype.int64)])
                pieces.append(piece)
            else:
                pieces.append(self.const([int(v)], _C.dtype.int64))
        return self.op("Concat", pieces, axis=0)

    def batch(self):
        """The batch size as a 1-element int64 tensor, read from the first input
        with a batch dim."""
        if self._batch is None:
            for v in self.graph.inputs:
                for dim, d in enumerate(v.shape):
                    if isinstance(d, SymInt):
                        self._batch = self.op("Shape", [self.name(v)], start=dim, end=dim + 1)
                        return self._batch
            raise UnsupportedOperatorError("fastgrad.onnx.export: no input has a batch dim")
        return self._batch

    # -- operands ---------------------------------------------------------------------
    def operand(self, a, dtype):
        """A node argument (a Value or a Python number) as an ONNX name of `dtype`."""
        if isinstance(a, Value):
            name = self.name(a)
            return name if a.dtype == dtype else self.op("Cast", [name], to=onnx_dtype(dtype))
        return self.const(a, dtype)

    def static(self, v, what, node):
        if isinstance(v, SymInt):
            raise UnsupportedOperatorError(
                f"fastgrad.onnx.export: op '{node.op}': {what} follows the batch size, which "
                "this exporter cannot express for it")
        return int(v)
