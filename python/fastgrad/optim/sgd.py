"""SGD with momentum, dampening, Nesterov momentum and weight decay."""

from .. import _C
from .._factories import empty_like
from .optimizer import Optimizer, _to_scalar

__all__ = ["SGD"]


class SGD(Optimizer):
    """torch.optim.SGD: one fused C++ kernel per parameter updates it and its
    momentum buffer in place (state "momentum_buffer" when momentum != 0)."""

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False, foreach=None, differentiable=False,
                 fused=None):
        if _to_scalar(lr) < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if _to_scalar(weight_decay) < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if differentiable:
            raise NotImplementedError("SGD: differentiable=True is not supported by fastgrad")
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                        "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize,
                        "foreach": foreach, "differentiable": differentiable, "fused": fused}
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("nesterov", False)
            group.setdefault("maximize", False)
            group.setdefault("foreach", None)
            group.setdefault("differentiable", False)
            group.setdefault("fused", False)

    def step(self, closure=None):
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            momentum = _to_scalar(group["momentum"])
            for p, g in self._grads(group):
                # Like torch, state exists only with momentum (and the first
                # step copies the gradient into a fresh buffer).
                buf = self.state[p].get("momentum_buffer") if momentum != 0 else None
                first = buf is None
                if momentum != 0 and first:
                    buf = empty_like(p)
                _C._sgd_step(p, g, buf, lr=_to_scalar(group["lr"]), momentum=momentum,
                             dampening=_to_scalar(group["dampening"]),
                             weight_decay=_to_scalar(group["weight_decay"]),
                             nesterov=group["nesterov"], maximize=group["maximize"],
                             first_step=first)
                if momentum != 0:
                    self.state[p]["momentum_buffer"] = buf
        return loss
