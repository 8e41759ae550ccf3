"""Finite-difference checks of backward (float64 inputs recommended)."""

import numpy as np

from .. import _C


def _inputs(inputs):
    return (inputs,) if isinstance(inputs, _C.Tensor) else tuple(inputs)


def _flat_outputs(out):
    return (out,) if isinstance(out, _C.Tensor) else tuple(o for o in out if isinstance(o, _C.Tensor))


def _numerical_jacobian(fn, inputs, i, eps):
    """d(outputs)/d(inputs[i]) by central differences, as a (n_in, n_out) array."""
    from .. import no_grad

    x = inputs[i]
    base = np.array(x.detach().numpy(), copy=True)
    cols = []
    with no_grad():
        for k in range(base.size):
            vals = []
            for sign in (1, -1):
                pert = base.copy().reshape(-1)
                pert[k] += sign * eps
                arg = list(inputs)
                arg[i] = _C.from_numpy(pert.reshape(base.shape))
                outs = _flat_outputs(fn(*arg))
                vals.append(np.concatenate([np.asarray(o.detach().numpy(), np.float64).reshape(-1) for o in outs]))
            cols.append((vals[0] - vals[1]) / (2 * eps))
    return np.stack(cols) if cols else np.zeros((0, 0))


def _analytical_jacobian(fn, inputs, i, create_graph=False):
    from . import grad

    outs = _flat_outputs(fn(*inputs))
    n_out = sum(o.numel() for o in outs)
    jac = np.zeros((inputs[i].numel(), n_out))
    col = 0
    for o in outs:
        if not o.requires_grad:  # constant output (e.g. a gradient independent of the inputs)
            col += o.numel()
            continue
        for k in range(o.numel()):
            seed = np.zeros(o.numel(), dtype=np.float64)
            seed[k] = 1.0
            g = _C.from_numpy(seed.reshape(tuple(o.shape)).astype(o.numpy().dtype if not o.requires_grad else o.detach().numpy().dtype))
            (gi,) = grad(o, inputs[i], grad_outputs=g, retain_graph=True, allow_unused=True)
            if gi is not None:
                jac[:, col] = np.asarray(gi.detach().numpy(), np.float64).reshape(-1)
            col += 1
    return jac


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, **_):
    """True when backward() matches central finite differences for every input
    that requires grad; otherwise raises (or returns False) naming the input."""
    inputs = _inputs(inputs)
    for i, x in enumerate(inputs):
        if not (isinstance(x, _C.Tensor) and x.requires_grad):
            continue
        num = _numerical_jacobian(func, inputs, i, eps)
        ana = _analytical_jacobian(func, inputs, i)
        if num.shape != ana.shape or not np.allclose(ana, num, atol=atol, rtol=rtol):
            if raise_exception:
                raise RuntimeError(
                    f"gradcheck: Jacobian mismatch for output 0 with respect to input {i},\n"
                    f"numerical:{num}\nanalytical:{ana}")
            return False
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  raise_exception=True, **_):
    """gradcheck of the first derivative (built with create_graph=True)."""
    from . import grad

    inputs = _inputs(inputs)
    diff = [x for x in inputs if isinstance(x, _C.Tensor) and x.requires_grad]
    outs = _flat_outputs(func(*inputs))
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = tuple(
            _C.from_numpy(rng.standard_normal(tuple(o.shape)).astype(o.detach().numpy().dtype)) for o in outs)
    grad_outputs = _inputs(grad_outputs)

    diff_idx = [i for i, x in enumerate(inputs) if isinstance(x, _C.Tensor) and x.requires_grad]

    def first_derivative(*args):
        # The numerical Jacobian calls this under no_grad with perturbed copies
        # that don't require grad: the first derivative needs a graph anyway.
        from .grad_mode import enable_grad

        with enable_grad():
            args = list(args)
            for i in diff_idx:
                if not args[i].requires_grad:
                    args[i] = args[i].detach().requires_grad_()
            outs = _flat_outputs(func(*args))
            wrt = [args[i] for i in diff_idx]
            gs = grad(outs, wrt, grad_outputs=grad_outputs, create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(first_derivative, inputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception) if diff else True
