"""fastgrad.onnx: export a model to ONNX through the tracer's graph.

``export(model, args, f, input_names=..., output_names=..., dynamic_axes=...)``
traces the model (fastgrad.jit.trace) and writes the graph with the ``onnx``
package (opset 17), checked by ``onnx.checker``. ``onnx`` is imported only
when exporting.
"""

from ._context import UnsupportedOperatorError
from ._export import export

__all__ = ["export", "UnsupportedOperatorError"]
