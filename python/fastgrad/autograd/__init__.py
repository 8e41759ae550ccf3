"""fastgrad.autograd: reverse-mode differentiation on the C++ tape."""

from .. import _C
from .anomaly_mode import detect_anomaly, set_detect_anomaly  # noqa: F401
from .function import Function, FunctionCtx  # noqa: F401
from .gradcheck import gradcheck, gradgradcheck  # noqa: F401
from .grad_mode import enable_grad, inference_mode, no_grad, set_grad_enabled  # noqa: F401

__all__ = ["grad", "backward", "Function", "queue_callback", "gradcheck", "gradgradcheck", "no_grad", "enable_grad",
           "set_grad_enabled", "inference_mode", "detect_anomaly", "set_detect_anomaly"]


def queue_callback(fn):
    """Runs `fn()` once the current backward pass has finished (call it from a hook);
    PyTorch spells it Variable._execution_engine.queue_callback."""
    _C._queue_callback(fn)


class _ExecutionEngine:
    queue_callback = staticmethod(queue_callback)


class Variable:  # PyTorch compatibility: Variable._execution_engine.queue_callback
    _execution_engine = _ExecutionEngine()


def _seq(x):
    return (x,) if isinstance(x, _C.Tensor) else tuple(x)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False, materialize_grads=False):
    """Gradients of `outputs` w.r.t. `inputs` (a tuple), without touching `.grad`."""
    outputs, inputs = _seq(outputs), _seq(inputs)
    if grad_outputs is not None:
        grad_outputs = _seq(grad_outputs)
    if retain_graph is None:
        retain_graph = create_graph
    res = _C._run_backward(outputs, grad_outputs, retain_graph, create_graph, inputs,
                           allow_unused or materialize_grads)
    if materialize_grads:
        from .. import zeros_like

        res = tuple(zeros_like(i) if r is None else r for r, i in zip(res, inputs))
    return res


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulates gradients of `tensors` into the leaves' `.grad`."""
    tensors = _seq(tensors)
    if grad_tensors is not None:
        grad_tensors = _seq(grad_tensors)
    for i, t in enumerate(tensors):
        g = None if grad_tensors is None else grad_tensors[i]
        t.backward(g, retain_graph=retain_graph if retain_graph is not None else create_graph or i < len(tensors) - 1,
                   create_graph=create_graph, inputs=inputs)
