"""Graphviz DOT text for a `Graph`, and `Dot`: the source plus save/render."""

import os
import shutil
import subprocess

# torchviz's palette: parameters light blue, the output green, ops grey.
_STYLE = {
    "op": 'fillcolor="lightgrey"',
    "param": 'fillcolor="lightblue"',
    "leaf": 'fillcolor="lightblue", style="filled,dashed"',
    "input": 'fillcolor="lightyellow"',
    "output": 'fillcolor="darkolivegreen1"',
    "const": 'fillcolor="white"',
}
RENDER_FORMATS = ("svg", "png", "pdf")


def _quote(text):
    """A DOT double-quoted string; newlines become centred line breaks."""
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(graph):
    out = [f"digraph {_quote(graph.name)} {{",
           '  graph [rankdir=TB, fontname="Helvetica"];',
           '  node [shape=box, style=filled, fontname="Helvetica", fontsize=11, height=0.2];',
           '  edge [fontname="Helvetica", fontsize=9];']
    for n in graph.nodes:
        attrs = [f"label={_quote(chr(10).join(n.lines))}", _STYLE[n.kind]]
        if n.tooltip:
            attrs.append(f"tooltip={_quote(n.tooltip)}")
        out.append(f"  {_quote(n.id)} [{', '.join(attrs)}];")
    for e in graph.edges:
        label = f" [label={_quote(e.label)}]" if e.label else ""
        out.append(f"  {_quote(e.src)} -> {_quote(e.dst)}{label};")
    out.append("}")
    return "\n".join(out) + "\n"


class Dot:
    """DOT source of a drawn graph: `.source`, `.save(path)`, `.render(path)`."""

    def __init__(self, graph):
        self.graph = graph
        self.source = to_dot(graph)

    def __str__(self):
        return self.source

    def save(self, path):
        """Writes the DOT source to `path`; returns the path."""
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.source)
        return os.fspath(path)

    def render(self, path, format=None):
        """Runs Graphviz's `dot` to write an image to `path`; returns the path.

        `format` is 'svg', 'png' or 'pdf'; by default it comes from the path's
        extension (svg if there is none)."""
        path = os.fspath(path)
        if format is None:
            ext = os.path.splitext(path)[1].lstrip(".").lower()
            format = ext if ext in RENDER_FORMATS else "svg"
        if format not in RENDER_FORMATS:
            raise ValueError(f"render: format must be one of {RENDER_FORMATS}, got {format!r}")
        exe = shutil.which("dot")
        if exe is None:
            raise RuntimeError(
                "render: Graphviz's `dot` executable was not found on PATH; install Graphviz "
                "(e.g. `apt-get install graphviz`, `brew install graphviz`) or write the DOT "
                "source with .save(path)")
        done = subprocess.run([exe, f"-T{format}", "-o", path], input=self.source.encode(),
                              capture_output=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"render: dot failed: {done.stderr.decode(errors='replace').strip()}")
        return path

    def _repr_svg_(self):
        # Jupyter shows the picture when Graphviz is installed, else the source.
        exe = shutil.which("dot")
        if exe is None:
            return None
        done = subprocess.run([exe, "-Tsvg"], input=self.source.encode(), capture_output=True,
                              check=False)
        return done.stdout.decode() if done.returncode == 0 else None
