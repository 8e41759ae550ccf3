"""fastgrad.jit.trace: record one eager run as a static graph and replay it.

The recording hook is in C++ (csrc/jit/tracer.h, Note [One tracing hook]):
every op binding records itself while a trace is open on the thread. This
file opens and closes traces, handles nested inputs and outputs, binds
module parameters, and builds TracedModule / TracedFunction.
"""

import inspect
import os
import sys
import warnings

from .. import _C
from .._C import Tensor
from ..autograd.grad_mode import no_grad
from ..nn.modules.module import Module
from ._graph import Graph

__all__ = ["trace", "TracedModule", "TracedFunction", "TracerWarning"]

_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_AUTO = object()


class TracerWarning(Warning):
    """A traced run did something the static graph cannot reproduce (its data
    was read into Python, so control flow or values depending on it are frozen)."""


def _user_stacklevel():
    """The stacklevel of the first frame outside fastgrad (for warnings)."""
    f, level = sys._getframe(1), 1
    while f is not None and os.path.abspath(f.f_code.co_filename).startswith(_PKG_DIR):
        f, level = f.f_back, level + 1
    return level


def warn_conversion(what):
    """Called by Tensor's conversions (item, bool(), float(), tolist, numpy, ...)
    when the tensor is a value of the running trace."""
    warnings.warn(
        f"Converting a traced tensor to {what} might cause the trace to be incorrect: the "
        "graph cannot record the data flow of Python values, so this value (and any Python "
        "branch that used it) is frozen as it was for the example inputs. The trace might "
        "not generalize to other inputs!",
        TracerWarning,
        stacklevel=_user_stacklevel(),
    )


# ---- nested inputs and outputs ----------------------------------------------------


def _flatten(obj, out):
    """Tensors of a nested tuple/list, in order; returns the structure (spec)."""
    if isinstance(obj, Tensor):
        out.append(obj)
        return None
    if isinstance(obj, (tuple, list)):
        return (type(obj), [_flatten(o, out) for o in obj])
    return ("leaf", obj)  # a non-tensor value kept as is


def _unflatten(spec, it):
    if spec is None:
        return next(it)
    kind, payload = spec
    if kind == "leaf":
        return payload
    items = [_unflatten(s, it) for s in payload]
    return tuple(items) if kind is tuple else items


def _input_names(fn, args, n):
    try:
        target = fn.forward if isinstance(fn, Module) else fn
        params = [p.name for p in inspect.signature(target).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    names = []
    for i, a in enumerate(args):
        base = params[i] if i < len(params) else f"input_{i}"
        flat = []
        _flatten(a, flat)
        names += [base] if isinstance(a, Tensor) else [f"{base}_{k}" for k in range(len(flat))]
    return names if len(names) == n else [f"input_{i}" for i in range(n)]


def _state_refs(module):
    """(owner, table, key, name) for every parameter and buffer: looked up at each
    call, so replay uses the module's current tensors (after training, reloading)."""
    refs, seen = [], set()
    for prefix, m in module.named_modules():
        for table in ("_parameters", "_buffers"):
            for key, t in getattr(m, table).items():
                if t is None or id(t) in seen:
                    continue
                seen.add(id(t))
                refs.append((m, table, key, f"{prefix}.{key}" if prefix else key))
    return refs


def _record(fn, args, flat_in, names, params, param_names):
    _C._trace_begin(flat_in, names, params, param_names)
    try:
        with no_grad():
            out = fn(*args)
    except BaseException:
        _C._trace_abort()
        raise
    flat_out = []
    spec = _flatten(out, flat_out)
    return _C._trace_end(flat_out), spec


def _batch_dims(batch_dim, flat_in):
    if batch_dim is None:
        return [None] * len(flat_in)
    dims = list(batch_dim) if isinstance(batch_dim, (tuple, list)) else [batch_dim] * len(flat_in)
    if len(dims) != len(flat_in):
        raise ValueError(
            f"trace: batch_dim has {len(dims)} entries for {len(flat_in)} input tensors")
    out = []
    for i, (d, t) in enumerate(zip(dims, flat_in)):
        if d is None:
            out.append(None)
            continue
        if not isinstance(d, int) or isinstance(d, bool) or not -t.dim() <= d < t.dim():
            raise IndexError(
                f"trace: batch_dim {d!r} is not a dim of input {i} of shape {list(t.shape)}")
        out.append(d % t.dim())
    sizes = {t.shape[d] for t, d in zip(flat_in, out) if d is not None}
    if len(sizes) > 1:
        raise ValueError(
            f"trace: the example inputs disagree on the batch size along batch_dim: "
            f"{[list(t.shape) for t in flat_in]}")
    return out


def _repeated(args, flat_in, dims, times):
    """args with every input's batch dim `times` as large (the input repeated)."""
    it = iter([t if d is None else _C.cat([t] * times, d) for t, d in zip(flat_in, dims)])
    spec = _flatten(args, [])
    return _unflatten(spec, it)


class _Traced:
    """Shared by TracedModule and TracedFunction: the graph and its replay."""

    def _setup(self, cgraph, in_count, in_spec, out_spec, label):
        cgraph.label = label
        self._cgraph = cgraph
        self._in_count = in_count
        self._in_spec = in_spec
        self._out_spec = out_spec
        self._graph = None

    @property
    def graph(self):
        """The recorded graph (prints like torch's: one line per op)."""
        if self._graph is None:
            self._graph = Graph(self._cgraph)
        return self._graph

    def _replay(self, args, params):
        flat = []
        _flatten(args, flat)
        if len(flat) != self._in_count or len(args) != len(self._in_spec[1]):
            raise TypeError(
                f"{self._cgraph.label}: expected {len(self._in_spec[1])} arguments "
                f"holding {self._in_count} tensors (as traced), got {len(args)} holding "
                f"{len(flat)}")
        outs = self._cgraph.run(flat, params)
        return _unflatten(self._out_spec, iter(outs))


class TracedFunction(_Traced):
    """A traced function: calling it replays the recorded ops (one C++ call)."""

    def __init__(self, fn, cgraph, in_count, in_spec, out_spec):
        self.__name__ = getattr(fn, "__name__", "traced")
        self._setup(cgraph, in_count, in_spec, out_spec, f"traced function {self.__name__}")

    def __call__(self, *args):
        return self._replay(args, [])

    def _current_params(self):
        return []


class TracedModule(_Traced, Module):
    """A traced module: calling it replays the recorded ops (one C++ call) with
    the original module's current parameters and buffers (it shares them, and
    their names, with the module it was traced from; freeze=True snapshots
    them instead). The ops are those of the mode (train/eval) at trace time."""

    def __init__(self, module, cgraph, in_count, in_spec, out_spec, refs, frozen):
        Module.__init__(self)
        # Share the original's state tables: same parameter names, same tensors.
        object.__setattr__(self, "_parameters", module._parameters)
        object.__setattr__(self, "_buffers", module._buffers)
        object.__setattr__(self, "_modules", module._modules)
        object.__setattr__(self, "_non_persistent_buffers_set",
                           module._non_persistent_buffers_set)
        object.__setattr__(self, "_refs", refs)
        object.__setattr__(self, "_frozen", frozen)
        object.__setattr__(self, "original_name", type(module).__name__)
        self._setup(cgraph, in_count, in_spec, out_spec, f"TracedModule({type(module).__name__})")

    def _current_params(self):
        if self._frozen is not None:
            return self._frozen
        return [getattr(m, table)[key] for m, table, key, _ in self._refs]

    def forward(self, *args):
        return self._replay(args, self._current_params())

    def extra_repr(self):
        return f"original={self.original_name}"


def trace(fn, example_inputs, *, batch_dim=_AUTO, freeze=False):
    """Runs ``fn(*example_inputs)`` once and records the C++ ops it calls.

    Returns a TracedModule (fn is a Module) or a TracedFunction: callable on
    new inputs of the traced shapes, replaying the recorded ops in C++.

    * Python control flow is frozen: only the branch taken for the example
      inputs is recorded. Reading a traced tensor into Python (``.item()``,
      ``bool(t)``, ``float(t)``, ``int(t)``, ``.tolist()``, ``.numpy()``)
      warns with a TracerWarning.
    * ``batch_dim`` (default 0): the dim of every input tensor (or one entry per
      input tensor, None for none) whose size may change at replay. Every size
      that follows the batch (a view's ``x.shape[0]``, ...) is re-derived at
      each call: tracing also runs the function at 2x and 3x the batch to find
      them. With the default, code that cannot follow the batch is traced with
      fixed shapes instead (with a TracerWarning); an explicit batch_dim raises.
      ``batch_dim=None``: fixed shapes.
    * A module's parameters and buffers are graph inputs bound to the module's
      current tensors; ``freeze=True`` makes them constants (a snapshot).
      Other tensors the code captures are constants.
    * Module buffers changed by the traced runs (batch norm statistics in
      training mode) are restored afterwards.
    """
    args = (example_inputs,) if isinstance(example_inputs, Tensor) else tuple(example_inputs)
    flat_in = []
    in_spec = _flatten(args, flat_in)
    if not flat_in:
        raise ValueError("trace: example_inputs must hold at least one tensor")
    names = _input_names(fn, args, len(flat_in))
    is_module = isinstance(fn, Module)
    refs = _state_refs(fn) if is_module else []
    params = [getattr(m, table)[key] for m, table, key, _ in refs]
    param_names = [name for *_, name in refs]
    auto = batch_dim is _AUTO
    dims = _batch_dims(0 if auto else batch_dim, flat_in)

    saved = [(m, key, t.detach().clone()) for m, table, key, _ in refs if table == "_buffers"
             for t in [m._buffers[key]]]
    try:
        cgraph, out_spec = _record(fn, args, flat_in, names, params, param_names)
        if any(d is not None for d in dims):
            batch = next(t.shape[d] for t, d in zip(flat_in, dims) if d is not None)
            try:
                others = []
                for times in (2, 3):
                    big_args = _repeated(args, flat_in, dims, times)
                    big_flat = []
                    _flatten(big_args, big_flat)
                    try:
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore", TracerWarning)
                            others.append(_record(fn, big_args, big_flat, names, params,
                                                  param_names)[0])
                    except Exception as e:
                        raise RuntimeError(
                            f"trace: running the code at {times} times the batch size "
                            f"({times * batch}, to see which sizes follow the batch dim) "
                            f"failed: {e}; trace with batch_dim=None for fixed shapes") from e
                cgraph.make_batch_dynamic(others, batch)
            except (RuntimeError, ValueError, IndexError, TypeError) as e:
                if not auto:
                    raise
                warnings.warn(
                    f"trace: the traced code does not follow a batch dim 0 ({e}); the trace "
                    "has fixed shapes. Pass batch_dim=None to trace with fixed shapes "
                    "without this warning, or the right batch_dim.",
                    TracerWarning, stacklevel=2)
    finally:
        with no_grad():
            for m, key, t in saved:
                m._buffers[key].copy_(t)

    if not is_module:
        return TracedFunction(fn, cgraph, len(flat_in), in_spec, out_spec)
    frozen = [p.detach().clone() for p in params] if freeze else None
    return TracedModule(fn, cgraph, len(flat_in), in_spec, out_spec, refs, frozen)
