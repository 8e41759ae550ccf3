"""Collects the recorded backward graph behind some tensors into a `Graph`:
one node per grad_fn (its name and output shapes), leaves as tensors (named
from `params`), the outputs themselves, edges in data-flow order."""

from collections.abc import Mapping, Sequence

from .. import _C
from ._graph import Graph, Node


def shape_str(shape):
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _tensor_lines(title, t):
    lines = [title, shape_str(t.shape)]
    if t.dtype != _C.dtype.float32:
        lines[-1] += f" {t.dtype.name}"
    return lines


class _Namer:
    """Finds a leaf's name in `params` by tensor identity (the Python objects
    differ: grad_fn.variable makes a new handle on the same tensor)."""

    def __init__(self, params):
        if params is None:
            params = {}
        if not isinstance(params, Mapping):
            raise TypeError("draw_graph: params must be a dict of name -> Tensor (e.g. "
                            f"dict(model.named_parameters())), got {type(params).__name__}")
        self.by_ptr = {}
        for name, t in params.items():
            if not isinstance(t, _C.Tensor):
                raise TypeError(f"draw_graph: params[{name!r}] is a {type(t).__name__}, "
                                "expected a Tensor")
            self.by_ptr.setdefault(t.data_ptr(), []).append((name, t))

    def __call__(self, t):
        for name, p in self.by_ptr.get(t.data_ptr(), ()):
            if p._is_same(t):
                return name
        return None


def _op_lines(fn, show_saved):
    meta = fn._output_metadata
    shapes = ", ".join(shape_str(s) + ("" if dt == _C.dtype.float32 else f" {dt.name}")
                       for s, dt in meta)
    lines = [fn.name(), shapes] if shapes else [fn.name()]
    if show_saved:
        saved = fn._saved_tensor_shapes
        if saved:
            lines.append("saved: " + ", ".join("released" if s is None else shape_str(s)
                                               for s in saved))
    return lines


def backward_graph(outputs, params=None, show_saved=False):
    if isinstance(outputs, _C.Tensor):
        outputs = [outputs]
    elif not (isinstance(outputs, Sequence) and outputs
              and all(isinstance(t, _C.Tensor) for t in outputs)):
        raise TypeError("draw_graph: expected a Tensor, a non-empty sequence of Tensors or a "
                        f"viz.Graph, got {type(outputs).__name__}")
    name_of = _Namer(params)
    graph = Graph(name="backward")
    ids = {}  # id(node object) -> graph id; `keep` holds the objects so ids stay unique
    keep = []

    def leaf_node(t):
        name = name_of(t)
        gid = f"t{len(ids)}"
        graph.add_node(Node(gid, _tensor_lines(name or "leaf", t), "param" if name else "leaf"))
        return gid

    def node_id(fn):
        key = id(fn)
        if key in ids:
            return ids[key], False
        keep.append(fn)
        var = fn.variable if fn.name() == "AccumulateGrad" else None
        if var is not None:
            gid = leaf_node(var)
        else:
            gid = f"n{len(ids)}"
            graph.add_node(Node(gid, _op_lines(fn, show_saved), "op"))
        ids[key] = gid
        return gid, True

    stack = []
    for i, t in enumerate(outputs):
        title = "output" if len(outputs) == 1 else f"output {i}"
        out_id = f"out{i}"
        graph.add_node(Node(out_id, _tensor_lines(title, t), "output"))
        fn = t.grad_fn
        if fn is not None:
            gid, new = node_id(fn)
            if new:
                stack.append(fn)
        elif t.requires_grad:
            gid = leaf_node(t)
        else:
            continue
        graph.add_edge(gid, out_id)
    # Depth-first without recursion (graphs can be deep).
    while stack:
        fn = stack.pop()
        dst = ids[id(fn)]
        for nxt, _ in fn.next_functions:
            if nxt is None:
                continue
            src, new = node_id(nxt)
            graph.add_edge(src, dst)
            if new and nxt.name() != "AccumulateGrad":
                stack.append(nxt)
    return graph
