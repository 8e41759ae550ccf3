"""The Python view of a traced graph: values, nodes and the .graph printout."""

from .. import _C

__all__ = ["Graph", "Node", "Value", "SymInt"]

_DTYPE_NAMES = {
    _C.dtype.float32: "Float", _C.dtype.float64: "Double", _C.dtype.int64: "Long",
    _C.dtype.int32: "Int", _C.dtype.bool: "Bool",
}  # fmt: skip


class SymInt(int):
    """An integer that follows the batch size B: a * B + c (its int value is
    the one seen at trace time)."""

    def __new__(cls, value, a, c):
        self = super().__new__(cls, value)
        self.a, self.c = a, c
        return self

    def at(self, batch):
        return self.a * batch + self.c

    def __repr__(self):
        s = "B" if self.a == 1 else f"{self.a}*B"
        return s + (f"{self.c:+d}" if self.c else "")

    __str__ = __repr__


def _sym_shape(shape, sym_dims):
    shape = list(shape)
    for dim, a, c in sym_dims:
        shape[dim] = SymInt(shape[dim], a, c)
    return tuple(shape)


class Value:
    """A tensor of the graph: an input, a parameter, a constant or an op result."""

    __slots__ = ("id", "kind", "name", "shape", "dtype", "constant", "producer")

    def __init__(self, id, info):
        self.id = id
        self.kind = info["kind"]
        self.name = info["name"]
        self.shape = _sym_shape(info["shape"], info["sym_dims"])
        self.dtype = info["dtype"]
        self.constant = info["constant"]
        self.producer = None

    @property
    def debug_name(self):
        return self.name if self.name else str(self.id)

    def type_str(self):
        dims = ", ".join(str(d) for d in self.shape)
        return f"{_DTYPE_NAMES.get(self.dtype, str(self.dtype))}({dims})"

    def __repr__(self):
        return f"%{self.debug_name}"


def _attach_syms(args, sym):
    """Replaces the batch-dependent ints of a node's arguments (counted in the
    tracer's order: an int, or every element of a list of ints) by SymInts."""
    if not sym:
        return args
    table = {i: (a, c) for i, a, c in sym}
    k = 0
    out = []
    for arg in args:
        if isinstance(arg, int) and not isinstance(arg, bool):
            if k in table:
                arg = SymInt(arg, *table[k])
            k += 1
        elif isinstance(arg, list) and arg and all(
                isinstance(e, int) and not isinstance(e, bool) for e in arg):
            new = []
            for e in arg:
                new.append(SymInt(e, *table[k]) if k in table else e)
                k += 1
            arg = new
        out.append(arg)
    return out


class Node:
    """One recorded call: the op name (the fastgrad binding's name), its
    arguments in call order (Values for tensors, Python values for the rest,
    SymInts for sizes that follow the batch) and its output Values."""

    __slots__ = ("index", "op", "args", "inputs", "outputs")

    def __init__(self, index, info, values):
        def resolve(a):
            if isinstance(a, _C._ValueRef):
                return values[a.id]
            if isinstance(a, list):
                return [resolve(e) for e in a]
            if isinstance(a, tuple):
                return tuple(resolve(e) for e in a)
            return a

        self.index = index
        self.op = info["op"]
        self.args = [resolve(a) for a in _attach_syms(info["args"], info["sym"])]
        self.inputs = [values[i] if i >= 0 else None for i in info["inputs"]]
        self.outputs = [values[i] if i >= 0 else None for i in info["outputs"]]

    def __repr__(self):
        return _format_node(self)


def _format_arg(a):
    if isinstance(a, Value):
        return repr(a)
    if isinstance(a, list):
        return "[" + ", ".join(_format_arg(e) for e in a) + "]"
    if isinstance(a, tuple):  # an index
        return "[" + ", ".join(_format_arg(e) for e in a) + "]"
    if isinstance(a, slice):
        return f"{a.start}:{a.stop}:{a.step}"
    if a is Ellipsis:
        return "..."
    if isinstance(a, str):
        return repr(a)
    if isinstance(a, _C.dtype):
        return a.name
    return str(a)


def _format_node(n):
    outs = ", ".join(f"{o!r} : {o.type_str()}" for o in n.outputs if o is not None)
    args = ", ".join(_format_arg(a) for a in n.args)
    return f"{outs or '()'} = {n.op}({args})"


class Graph:
    """A static graph recorded by fastgrad.jit.trace.

    Printing it lists the inputs and parameters, one line per recorded op and
    the outputs; dims written B follow the batch size."""

    def __init__(self, cgraph):
        self._c = cgraph
        self.values = [Value(i, v) for i, v in enumerate(cgraph.values)]
        self.nodes = [Node(k, n, self.values) for k, n in enumerate(cgraph.nodes)]
        for n in self.nodes:
            for o in n.outputs:
                if o is not None:
                    o.producer = n
        self.inputs = [self.values[i] for i in cgraph.inputs]
        self.params = [self.values[i] for i in cgraph.params]
        self.outputs = [self.values[i] if i >= 0 else None for i in cgraph.outputs]
        self.batch = cgraph.batch if cgraph.batch >= 0 else None

    @property
    def constants(self):
        return [v for v in self.values if v.kind == "constant"]

    def __str__(self):
        heads = [f"%{v.debug_name} : {v.type_str()}" for v in self.inputs]
        seen = set()
        for v in self.params:
            if v.id not in seen:
                seen.add(v.id)
                heads.append(f"%{v.debug_name} : {v.type_str()}")
        lines = ["graph(" + (",\n      ".join(heads)) + "):"]
        for v in self.constants:
            c = v.constant
            shown = f"value={c.item()!r}" if c.numel() == 1 else f"shape={list(c.shape)}"
            lines.append(f"  %{v.debug_name} : {v.type_str()} = constant[{shown}]")
        lines += [f"  {_format_node(n)}" for n in self.nodes]
        lines.append("  return (" + ", ".join(repr(o) for o in self.outputs) + ")")
        if self.batch is not None:
            lines.append(f"  # B = {self.batch} when traced")
        return "\n".join(lines)

    __repr__ = __str__
