"""F.linear: y = x W^T + b, one BLAS call (addmm) for 2-d input."""

from ... import _C

__all__ = ["linear"]


def _shape(t):
    return "[" + ", ".join(str(d) for d in t.shape) + "]"


def linear(input, weight, bias=None):
    if weight.dim() not in (1, 2):
        raise RuntimeError(f"linear: weight must be 1-d or 2-d, got shape {_shape(weight)}")
    in_features = weight.shape[-1]
    if input.dim() == 0 or input.shape[-1] != in_features:
        raise RuntimeError(
            f"linear: expected input of shape (*, {in_features}) (in_features={in_features}), "
            f"got {_shape(input)}; weight has shape {_shape(weight)}"
        )
    if bias is not None and weight.dim() == 2 and bias.shape not in ((weight.shape[0],), ()):
        raise RuntimeError(
            f"linear: bias of shape {_shape(bias)} does not match out_features={weight.shape[0]}"
        )
    if input.dim() == 2 and weight.dim() == 2 and bias is not None:
        return _C.addmm(bias, input, weight.t())
    out = _C.matmul(input, weight.t() if weight.dim() == 2 else weight)
    return out if bias is None else out + bias
