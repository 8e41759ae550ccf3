"""Collects a fastgrad.jit traced graph into a drawable `Graph`: inputs,
parameters and constants as tensors, one node per recorded op (its name and
output shapes, B for the batch dim), the outputs, edges in data-flow order."""

from ._graph import Graph, Node


def _shape(shape):
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def traced_graph(jg):
    """A viz Graph of `jg` (a fastgrad.jit Graph: `traced.graph`)."""
    g = Graph(name="traced")
    value_node = {}  # value id -> the viz node that produces it

    def tensor_node(v, kind, title):
        nid = f"v{v.id}"
        g.add_node(Node(nid, [title, _shape(v.shape)], kind))
        value_node[v.id] = nid
        return nid

    for v in jg.inputs:
        tensor_node(v, "input", v.debug_name)
    for v in jg.params:
        if v.id not in value_node:
            tensor_node(v, "param", v.debug_name)
    for v in jg.constants:
        tensor_node(v, "const", "constant")
    for n in jg.nodes:
        nid = f"n{n.index}"
        outs = [o for o in n.outputs if o is not None]
        g.add_node(Node(nid, [n.op] + [_shape(o.shape) for o in outs], "op"))
        seen = set()
        for v in n.inputs:
            if v is not None and v.id in value_node and v.id not in seen:
                seen.add(v.id)
                g.add_edge(value_node[v.id], nid)
        for o in outs:
            value_node[o.id] = nid
    for k, v in enumerate(jg.outputs):
        if v is None:
            continue
        oid = f"out{k}"
        g.add_node(Node(oid, [f"output {k}", _shape(v.shape)], "output"))
        if v.id in value_node:
            g.add_edge(value_node[v.id], oid)
    return g
