"""fastgrad.viz: drawing the recorded backward graph as DOT (and SVG with Graphviz)."""

import pathlib
import re
import shutil

import pytest

import fastgrad as fg
from fastgrad import nn, viz


def _mlp_loss():
    fg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    x = fg.randn(5, 4)
    loss = nn.functional.cross_entropy(model(x), fg.tensor([0, 1, 2, 0, 1]))
    return model, loss


def _walk(fn):
    """Every grad_fn reachable from `fn`, by identity, and the edge count."""
    seen, stack, edges = {id(fn): fn}, [fn], 0
    while stack:
        for nxt, _ in stack.pop().next_functions:
            if nxt is None:
                continue
            edges += 1
            if id(nxt) not in seen:
                seen[id(nxt)] = nxt
                stack.append(nxt)
    return list(seen.values()), edges


def _labels(source):
    return [m.replace("\\n", "\n") for m in re.findall(r'label="((?:[^"\\]|\\.)*)"', source)]


def test_every_op_and_parameter_is_drawn():
    model, loss = _mlp_loss()
    dot = viz.draw_graph(loss, params=dict(model.named_parameters()))
    nodes, n_edges = _walk(loss.grad_fn)
    ops = [f.name() for f in nodes if f.name() != "AccumulateGrad"]
    assert sorted(ops) == sorted(["CrossEntropyLossBackward", "AddmmBackward", "AddmmBackward",
                                  "ReluBackward", "TransposeBackward", "TransposeBackward"])
    labels = _labels(dot.source)
    titles = [lab.split("\n")[0] for lab in labels]
    for op in set(ops):
        assert titles.count(op) == ops.count(op)
    for name, p in model.named_parameters():
        shape = "(" + ", ".join(map(str, p.shape)) + ("," if p.dim() == 1 else "") + ")"
        assert f"{name}\n{shape}" in labels
    # one node per grad_fn (leaves drawn as their tensor) plus the output
    assert len(dot.graph.nodes) == len(nodes) + 1
    assert len(dot.graph.edges) == n_edges + 1
    assert dot.source.count("->") == n_edges + 1
    assert "AddmmBackward\n(5, 3)" in labels and "ReluBackward\n(5, 8)" in labels
    assert "output\n()" in labels


def test_node_styles_and_dot_syntax():
    model, loss = _mlp_loss()
    src = viz.draw_graph(loss, params=dict(model.named_parameters())).source
    assert src.startswith('digraph "backward" {') and src.rstrip().endswith("}")
    assert src.count('fillcolor="lightblue"') == 4  # the named parameters
    assert src.count('fillcolor="darkolivegreen1"') == 1
    assert str(viz.draw_graph(loss)) == viz.draw_graph(loss).source


def test_unnamed_leaves_and_dtypes():
    w = fg.randn(3, requires_grad=True)
    y = (w.double() * 2).sum()
    labels = _labels(viz.draw_graph(y).source)
    assert "leaf\n(3,)" in labels
    assert "MulBackward\n(3,) float64" in labels
    assert "output\n() float64" in labels
    assert 'style="filled,dashed"' in viz.draw_graph(y).source


def test_shared_subgraph_drawn_once():
    x = fg.randn(4, requires_grad=True)
    h = x.exp()
    y = (h * h + h).sum()
    dot = viz.draw_graph(y, params={"x": x})
    titles = [lab.split("\n")[0] for lab in _labels(dot.source)]
    assert titles.count("ExpBackward") == 1 and titles.count("x") == 1
    _, n_edges = _walk(y.grad_fn)
    assert len(dot.graph.edges) == n_edges + 1


def test_multiple_outputs_and_leaf_outputs():
    x = fg.randn(2, 3, requires_grad=True)
    a, b = x.sum(0), x.relu()
    c = fg.zeros(2)  # no graph at all
    dot = viz.draw_graph([a, b, x, c], params={"x": x})
    labels = _labels(dot.source)
    for lab in ("output 0\n(3,)", "output 1\n(2, 3)", "output 2\n(2, 3)", "output 3\n(2,)"):
        assert lab in labels
    titles = [lab.split("\n")[0] for lab in labels]
    assert titles.count("x") == 2  # once through the ops' AccumulateGrad, once as output 2's leaf
    assert not any(e.dst == "out3" for e in dot.graph.edges)


def test_show_saved_before_and_after_backward():
    _, loss = _mlp_loss()
    before = _labels(viz.draw_graph(loss, show_saved=True).source)
    assert "ReluBackward\n(5, 8)\nsaved: (5, 8)" in before
    assert not any("saved" in lab for lab in _labels(viz.draw_graph(loss).source))
    loss.backward()
    after = _labels(viz.draw_graph(loss, show_saved=True).source)
    assert "ReluBackward\n(5, 8)\nsaved: released" in after


def test_deep_chain_has_no_recursion_limit():
    x = fg.ones(1, requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0
    dot = viz.draw_graph(y)
    assert len(dot.graph.nodes) == 5002 and len(dot.graph.edges) == 5001


def test_escaping_in_labels():
    x = fg.ones(2, requires_grad=True)
    src = viz.draw_graph(x.sum(), params={'we"ird\\name': x}).source
    assert 'label="we\\"ird\\\\name\\n(2,)"' in src


def test_generic_graph_uses_the_same_writer():
    g = viz.Graph(name="traced")
    g.add_node(viz.Node("x", ["input x", "(2, 3)"], "input"))
    g.add_node(viz.Node("mm", ["matmul"], "op", tooltip="model.py:3"))
    g.add_node(viz.Node("y", ["output", "(2, 4)"], "output"))
    g.add_edge("x", "mm")
    g.add_edge("mm", "y", label="0")
    src = viz.draw_graph(g).source
    assert src.startswith('digraph "traced" {')
    assert '"mm" [label="matmul", fillcolor="lightgrey", tooltip="model.py:3"];' in src
    assert '"mm" -> "y" [label="0"];' in src
    assert src == viz.to_dot(g)


def test_save(tmp_path):
    _, loss = _mlp_loss()
    dot = viz.draw_graph(loss)
    path = dot.save(tmp_path / "g.dot")
    assert pathlib.Path(path).read_text() == dot.source


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_render(tmp_path, fmt):
    model, loss = _mlp_loss()
    dot = viz.draw_graph(loss, params=dict(model.named_parameters()))
    out = dot.render(tmp_path / f"g.{fmt}")
    data = pathlib.Path(out).read_bytes()
    if fmt == "svg":
        text = data.decode()
        assert "<svg" in text and "AddmmBackward" in text and "0.weight" in text
        assert dot._repr_svg_().startswith("<?xml")
    else:
        assert data.startswith(b"\x89PNG")
    # explicit format beats the extension
    out = dot.render(tmp_path / "picture", format="svg")
    assert pathlib.Path(out).read_text().lstrip().startswith("<?xml")


def test_render_errors(tmp_path, monkeypatch):
    _, loss = _mlp_loss()
    dot = viz.draw_graph(loss)
    with pytest.raises(ValueError, match=r"render: format must be one of \('svg', 'png', 'pdf'\), got 'bmp'"):
        dot.render(tmp_path / "g.bmp", format="bmp")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="Graphviz's `dot` executable was not found"):
        dot.render(tmp_path / "g.svg")
    assert dot._repr_svg_() is None


def test_bad_arguments():
    x = fg.ones(2, requires_grad=True)
    with pytest.raises(TypeError, match="draw_graph: expected a Tensor, a non-empty sequence of Tensors or a viz.Graph, got int"):
        viz.draw_graph(3)
    with pytest.raises(TypeError, match="got list"):
        viz.draw_graph([])
    with pytest.raises(TypeError, match="params must be a dict of name -> Tensor"):
        viz.draw_graph(x.sum(), params=[x])
    with pytest.raises(TypeError, match=r"params\['w'\] is a float, expected a Tensor"):
        viz.draw_graph(x.sum(), params={"w": 1.0})
    with pytest.raises(ValueError, match="viz.Node: kind must be one of"):
        viz.Node("a", ["a"], "blob")


def test_draw_traced_graph_has_every_recorded_op():
    model = fg.nn.Sequential(fg.nn.Linear(6, 8), fg.nn.ReLU(), fg.nn.Linear(8, 3)).eval()
    traced = fg.jit.trace(model, fg.randn(4, 6))
    src = viz.draw_graph(traced).source
    ops = {n.op for n in traced.graph.nodes}
    assert ops and all(op in src for op in ops)
    for name, _ in model.named_parameters():
        assert name in src
    assert "output 0" in src and "(B, 3)" in src
    assert viz.draw_graph(traced.graph).source == src  # the graph itself draws the same
