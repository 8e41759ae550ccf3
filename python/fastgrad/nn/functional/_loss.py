"""Functional losses with torch.nn.functional's signatures.

The math is in C++ (csrc/ops/loss.cpp, loss_nll.cpp): fused forward kernels
with backward rules. Differences from PyTorch: a target whose shape differs
from the input's raises ValueError instead of broadcasting with a warning,
and the long-deprecated size_average/reduce arguments raise (use reduction=).
"""

import warnings

from ... import _C

__all__ = [
    "mse_loss",
    "l1_loss",
    "smooth_l1_loss",
    "huber_loss",
    "kl_div",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "nll_loss",
    "cross_entropy",
]


def _shape(t):
    return "[" + ", ".join(str(d) for d in t.shape) + "]"


def _no_legacy(op, size_average, reduce):
    if size_average is not None or reduce is not None:
        raise NotImplementedError(
            f"{op}: size_average and reduce are deprecated and not supported by fastgrad; "
            "use reduction='mean', 'sum' or 'none'"
        )


def _weighted(op, loss_none, weight, input, reduction, mean_by_weight):
    """torch 2.13's elementwise `weight` of mse/l1/huber: same shape as input;
    'mean' divides by weight.sum() (mse, l1) or by numel (huber)."""
    if tuple(weight.shape) != tuple(input.shape):
        raise ValueError(
            f"{op}: weights and input must have the same size, got weight {_shape(weight)} "
            f"and input {_shape(input)}"
        )
    loss = loss_none * weight
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.sum() / weight.sum() if mean_by_weight else loss.mean()
    raise ValueError(f"{op}: {reduction} is not a valid value for reduction")


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    _no_legacy("mse_loss", size_average, reduce)
    if weight is None:
        return _C._mse_loss(input, target, reduction)
    return _weighted("mse_loss", _C._mse_loss(input, target, "none"), weight, input,
                     reduction, True)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    _no_legacy("l1_loss", size_average, reduce)
    if weight is None:
        return _C._l1_loss(input, target, reduction)
    return _weighted("l1_loss", _C._l1_loss(input, target, "none"), weight, input,
                     reduction, True)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    _no_legacy("smooth_l1_loss", size_average, reduce)
    return _C._smooth_l1_loss(input, target, reduction, float(beta))


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    if weight is None:
        return _C._huber_loss(input, target, reduction, float(delta))
    return _weighted("huber_loss", _C._huber_loss(input, target, "none", float(delta)),
                     weight, input, reduction, False)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    _no_legacy("kl_div", size_average, reduce)
    if reduction not in ("mean", "batchmean", "sum", "none"):
        raise ValueError(
            f"kl_div: {reduction} is not a valid value for reduction "
            "(expected 'mean', 'batchmean', 'sum' or 'none')"
        )
    if reduction == "mean":
        warnings.warn(  # torch's warning, word for word
            "reduction: 'mean' divides the total loss by both the batch size and the support size."
            "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
            "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
            stacklevel=2,
        )
    return _C._kl_div(input, target, reduction, bool(log_target))


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    _no_legacy("binary_cross_entropy", size_average, reduce)
    return _C._binary_cross_entropy(input, target, weight, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None,
                                     reduce=None, reduction="mean", pos_weight=None):
    _no_legacy("binary_cross_entropy_with_logits", size_average, reduce)
    return _C._binary_cross_entropy_with_logits(input, target, weight, pos_weight, reduction)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    _no_legacy("nll_loss", size_average, reduce)
    return _C._nll_loss(input, target, weight, reduction, int(ignore_index))


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100,
                  reduce=None, reduction="mean", label_smoothing=0.0):
    _no_legacy("cross_entropy", size_average, reduce)
    return _C._cross_entropy(input, target, weight, reduction, int(ignore_index),
                             float(label_smoothing))
