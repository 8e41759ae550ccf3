"""A drawable graph: nodes with labels and a kind, directed edges. Collectors
(the recorded backward graph today, a traced graph later) build one; the DOT
writer (`_dot.py`) knows nothing about where it came from."""

from dataclasses import dataclass, field

# What a node stands for; the writer styles each kind.
KINDS = ("op", "param", "leaf", "input", "output", "const")


@dataclass
class Node:
    id: str
    lines: list  # label lines: the first is the title (op or tensor name)
    kind: str = "op"
    tooltip: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"viz.Node: kind must be one of {KINDS}, got {self.kind!r}")


@dataclass
class Edge:
    src: str
    dst: str
    label: str = ""


@dataclass
class Graph:
    nodes: list = field(default_factory=list)
    edges: list = field(default_factory=list)
    name: str = "G"

    def add_node(self, node):
        self.nodes.append(node)
        return node.id

    def add_edge(self, src, dst, label=""):
        self.edges.append(Edge(src, dst, label))
