"""Pictures of computation graphs (like torchviz's make_dot).

``draw_graph(loss, params=dict(model.named_parameters()))`` returns a `Dot`
whose ``.source`` is Graphviz DOT text; ``.save(path)`` writes it and
``.render("graph.svg")`` runs Graphviz's ``dot`` (when installed) for SVG, PNG
or PDF. Collecting a graph (`_autograd.py`) is separate from writing DOT
(`_dot.py`): any producer of a `Graph` (e.g. a traced program) draws the same
way, through ``draw_graph(graph)``.
"""

from ._autograd import backward_graph
from ._dot import Dot, to_dot
from ._graph import Edge, Graph, Node
from ._traced import traced_graph

__all__ = ["Dot", "Edge", "Graph", "Node", "draw_graph", "to_dot", "traced_graph"]


def draw_graph(output, params=None, *, show_saved=False):
    """Draws the recorded backward graph that produced `output`.

    Args:
        output: a Tensor, a sequence of Tensors, a traced module or function
            (``fastgrad.jit.trace``: its static graph is drawn, inputs, parameters,
            ops and outputs), or a ready `viz.Graph`.
        params: optional dict name -> Tensor (e.g. ``dict(model.named_parameters())``)
            to label leaves by name; unnamed leaves are drawn as "leaf".
        show_saved: also list the shapes of the tensors each node saved for
            backward ("released" once a backward pass freed them).

    Each grad_fn node shows its name (``AddmmBackward``, ...) and output
    shapes; leaves show their name and shape; the outputs are green.
    """
    if isinstance(output, Graph):
        return Dot(output)
    jg = getattr(output, "graph", output)  # a TracedModule / TracedFunction, or its .graph
    if type(jg).__module__ == "fastgrad.jit._graph" and type(jg).__name__ == "Graph":
        return Dot(traced_graph(jg))
    return Dot(backward_graph(output, params, show_saved))
