"""fastgrad.jit: one tracer that turns a dynamic run into a static graph.

``trace(fn_or_module, example_inputs)`` records the C++ ops of one run;
the result replays them on new inputs in one C++ call, prints its ``.graph``,
and is what ``fastgrad.onnx.export`` translates.
"""

from ._graph import Graph, Node, SymInt, Value
from ._trace import TracedFunction, TracedModule, TracerWarning, trace

__all__ = ["trace", "TracedModule", "TracedFunction", "TracerWarning", "Graph", "Node",
           "Value", "SymInt"]
