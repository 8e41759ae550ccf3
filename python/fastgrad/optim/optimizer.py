"""Optimizer: the base class of fastgrad.optim (torch.optim.Optimizer's API).

Parameter groups, per-parameter state and state_dict()/load_state_dict() in
PyTorch's format: state keyed by integer index, param_groups with "params" as
index lists. Subclasses implement step() by calling one fused C++ kernel per
parameter (fastgrad._C._<name>_step), which updates the parameter and its
state in place without recording autograd history.
"""

import warnings
from collections import defaultdict
from copy import deepcopy
from itertools import chain

import numpy as np

from .. import _C
from .._C import Tensor
from .._tensor import tensor
from ..nn.modules.module import zero_grads

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """Marks a hyperparameter without a default (torch.optim.optimizer.required)."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


def _to_scalar(x):
    """A hyperparameter as a Python number (1-element tensors allowed)."""
    if isinstance(x, Tensor) or (hasattr(x, "item") and hasattr(x, "numel")):
        if x.numel() != 1:
            raise ValueError("Tensor hyperparameters must be 1-element")
        return x.item()
    return x


def _as_fastgrad(value, like=None):
    """A state value loaded from a state_dict as a fastgrad tensor (torch
    tensors and numpy arrays are copied), cast like PyTorch does."""
    if not isinstance(value, Tensor):
        if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
            value = value.detach().cpu().numpy()
        value = _C.from_numpy(np.array(value, copy=True, order="C"))
    if like is not None and like.is_floating_point():
        value = value.to(like.dtype)
    return value


class Optimizer:
    """Base class for all optimizers.

    Args:
        params: an iterable of Tensors, or of dicts defining parameter groups.
        defaults: default values of the optimization options, used by groups
            that do not specify them.
    """

    def __init__(self, params, defaults):
        self.defaults = defaults
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of "
                f"Tensors or dicts, but got {type(params).__module__}.{type(params).__name__}"
            )
        self.state = defaultdict(dict)
        self.param_groups = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)
        # states saved with a plain-number step (older torch) get a tensor step
        for s in self.state.values():
            if isinstance(s, dict) and "step" in s and not isinstance(s["step"], Tensor):
                s["step"] = tensor(float(s["step"]))

    def __repr__(self):
        s = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            s += f"\nParameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    s += f"    {key}: {group[key]}\n"
        return s + ")"

    def add_param_group(self, param_group):
        """Adds a parameter group (a dict with "params" and optional options)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but "
                "the ordering of tensors in sets will change between runs. "
                "Please use a list instead."
            )
        else:
            param_group["params"] = list(params)

        tensors, names = [], []
        for p in param_group["params"]:
            if isinstance(p, tuple):
                names.append(p[0])
                tensors.append(p[1])
            else:
                tensors.append(p)
        param_group["params"] = tensors
        if names:
            if len(names) != len(tensors):
                raise ValueError(
                    "all optimizer params should be with/without names. "
                    "Some param names are missing"
                )
            param_group["param_names"] = names

        for p in tensors:
            if not isinstance(p, Tensor):
                raise TypeError(
                    "optimizer can only optimize Tensors, but one of the params is "
                    f"{type(p).__module__}.{type(p).__name__}"
                )
            if not p.is_leaf:
                raise ValueError(
                    "can't optimize a non-leaf Tensor (one computed by an operation "
                    f"{type(p.grad_fn).__name__ if p.grad_fn is not None else ''}); "
                    "optimize the leaf it was computed from, or a .detach()ed copy "
                    "with requires_grad_()"
                )
            if not p.is_floating_point():
                raise TypeError(
                    f"optimizer can only optimize floating-point Tensors, got {p.dtype}"
                )

        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(
                    "parameter group didn't specify a value of required optimization "
                    f"parameter {name}"
                )
            param_group.setdefault(name, default)

        if len({id(p) for p in tensors}) != len(tensors):
            warnings.warn(
                "optimizer contains a parameter group with duplicate parameters; "
                "in future, this will cause an error; "
                "see github.com/pytorch/pytorch/issues/40967 for more information",
                stacklevel=3,
            )
        existing = set()
        for group in self.param_groups:
            existing.update(id(p) for p in group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                txt = "with names" if "param_names" in param_group else "without names"
                raise ValueError(
                    "all optimizer param groups should be with/without names. "
                    f"cannot add param group {txt} to the optimizer"
                )
        if any(id(p) in existing for p in tensors):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none=True):
        """Resets the gradients of all optimized tensors (to None by default)."""
        zero_grads((p for group in self.param_groups for p in group["params"]), set_to_none)

    def step(self, closure=None):
        """Performs a single optimization step; closure re-evaluates the loss."""
        raise NotImplementedError

    def _closure_loss(self, closure):
        if closure is None:
            return None
        from ..autograd.grad_mode import enable_grad

        with enable_grad():
            return closure()

    def _grads(self, group):
        """(param, grad) for the params of `group` that have a gradient."""
        for p in group["params"]:
            g = p.grad
            if g is None:
                continue
            if g.shape != p.shape:
                raise RuntimeError(
                    f"{type(self).__name__}.step: the gradient of shape {tuple(g.shape)} "
                    f"does not match its parameter's shape {tuple(p.shape)}"
                )
            yield p, g

    # ---- state_dict ---------------------------------------------------------
    def state_dict(self):
        """The optimizer's state as a dict: "state" maps parameter indices
        (in group order) to their state, "param_groups" holds each group's
        options with "params" as index lists. Tensors are not copied."""
        mapping = {}
        start = 0

        def pack_group(group):
            nonlocal start
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                mapping.setdefault(id(p), i)
            packed["params"] = [mapping[id(p)] for p in group["params"]]
            start += len(packed["params"])
            return packed

        param_groups = [pack_group(g) for g in self.param_groups]
        packed_state = {
            (mapping[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()
        }
        return {"state": packed_state, "param_groups": param_groups}

    def load_state_dict(self, state_dict):
        """Loads a state_dict() (also one saved by torch.optim, whose tensors
        are copied); the groups must have the same sizes as this optimizer's."""
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError(
                "loaded state dict contains a parameter group that doesn't match "
                "the size of optimizer's group"
            )
        id_map = dict(
            zip(
                chain.from_iterable(g["params"] for g in saved_groups),
                chain.from_iterable(g["params"] for g in groups),
            )
        )

        def cast(param, value, key=None):
            if isinstance(value, Tensor) or hasattr(value, "detach"):
                # "step" keeps its dtype (PyTorch: float32 0-d tensor).
                return _as_fastgrad(value, None if key == "step" else param)
            if isinstance(value, dict):
                return {k: cast(param, v, k) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return type(value)(cast(param, v) for v in value)
            return value

        state = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                state[param] = cast(param, v)
            else:
                state[k] = v

        def update_group(group, new_group):
            new_group["params"] = group["params"]
            if "param_names" in group and "param_names" not in new_group:
                new_group["param_names"] = group["param_names"]
            return new_group

        param_groups = [update_group(g, ng) for g, ng in zip(groups, saved_groups)]
        self.__setstate__({"state": state, "param_groups": param_groups})
