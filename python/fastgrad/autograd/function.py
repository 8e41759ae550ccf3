"""autograd.Function: custom ops with a Python forward and backward, recorded on the
same C++ tape as built-in ops (PyTorch's API: forward/backward staticmethods, ctx)."""

from .. import _C
from .grad_mode import no_grad


class FunctionCtx:
    """The `ctx` passed to forward and backward."""

    def __init__(self, needs_input_grad):
        self.needs_input_grad = needs_input_grad
        self._to_save = ()
        self._saved = None
        self.materialize_grads = True

    def save_for_backward(self, *tensors):
        for t in tensors:
            if t is not None and not isinstance(t, _C.Tensor):
                raise TypeError(f"save_for_backward: expected tensors or None, got {type(t).__name__}")
        self._to_save = tensors

    @property
    def saved_tensors(self):
        if self._saved is None:
            raise RuntimeError("saved_tensors: only available inside backward()")
        return self._saved

    def mark_non_differentiable(self, *tensors):
        self._non_diff = tensors

    def set_materialize_grads(self, value):
        self.materialize_grads = bool(value)


class Function:
    """Subclass with `forward(ctx, *args)` and `backward(ctx, *grad_outputs)` staticmethods,
    then call `MyFn.apply(*args)`."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("Function subclasses must implement forward(ctx, ...)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("Function subclasses must implement backward(ctx, ...)")

    @classmethod
    def apply(cls, *args):
        tensor_pos = [i for i, a in enumerate(args) if isinstance(a, _C.Tensor)]
        ctx = FunctionCtx(tuple(isinstance(a, _C.Tensor) and a.requires_grad for a in args))
        with no_grad():
            outputs = cls.forward(ctx, *args)
        single = isinstance(outputs, _C.Tensor)
        outs = (outputs,) if single else tuple(outputs)
        inputs = [args[i] for i in tensor_pos]
        if _C.is_grad_enabled() and any(t.requires_grad for t in inputs):
            # An output that is an input object gets a fresh alias to own the history.
            outs = tuple(o.detach() if isinstance(o, _C.Tensor) and any(o is t for t in inputs) else o
                         for o in outs)
            saved = list(ctx._to_save)
            none_saved = [i for i, t in enumerate(saved) if t is None]
            saved_tensors = [t for t in saved if t is not None]
            n_args = len(args)

            def backward(saved_vals, grads):
                vals = list(saved_vals)
                for i in none_saved:
                    vals.insert(i, None)
                ctx._saved = tuple(vals)
                try:
                    res = cls.backward(ctx, *grads)
                finally:
                    ctx._saved = None
                res = res if isinstance(res, tuple) else (res,)
                if len(res) != n_args:
                    raise RuntimeError(
                        f"{cls.__name__}.backward returned {len(res)} gradients, but forward "
                        f"took {n_args} arguments: return one per argument (None for non-tensors)")
                return tuple(res[i] for i in tensor_pos)

            tensor_outs = [o for o in outs if isinstance(o, _C.Tensor)]
            _C._record_function(f"{cls.__name__}Backward", inputs, tensor_outs, saved_tensors, backward)
        return outs[0] if single else outs
