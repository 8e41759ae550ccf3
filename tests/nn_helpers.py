"""Compare a fastgrad nn layer with its torch twin: same weights (copied
through state_dict), same inputs; outputs, input gradients, parameter
gradients and buffers must match."""

import numpy as np

import fastgrad as fg

from helpers import assert_close


def _flat(out):
    """Tensors of a (possibly nested) output, in order; None entries dropped."""
    if out is None:
        return []
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flat(o)]
    if hasattr(out, "shape"):
        return [out]
    return []


def to_torch(torch, a, requires_grad=False):
    t = torch.from_numpy(np.array(a, copy=True))
    return t.requires_grad_(requires_grad and t.is_floating_point())


def to_fg(a, requires_grad=False):
    t = fg.tensor(np.array(a, copy=True))
    return t.requires_grad_(requires_grad and t.is_floating_point())


def check_module(torch, fg_mod, t_mod, inputs, *, train=True, rtol=1e-4, atol=1e-5,
                 kwargs=None, grad_inputs=True, seed=0, copy_weights=True):
    """Runs both modules on the same numpy `inputs` (a list; non-array
    entries such as None or ints are passed as they are) and compares.

    Weights go torch -> fastgrad through load_state_dict. A random upstream
    gradient is back-propagated from every floating output.
    Returns (fastgrad outputs, torch outputs).
    """
    kwargs = kwargs or {}
    if copy_weights:
        fg_mod.load_state_dict(t_mod.state_dict())
    fg_mod.train(train)
    t_mod.train(train)
    fg_in = [to_fg(a, grad_inputs) if isinstance(a, np.ndarray) else a for a in inputs]
    t_in = [to_torch(torch, a, grad_inputs) if isinstance(a, np.ndarray) else a for a in inputs]
    out_fg = fg_mod(*fg_in, **kwargs)
    out_t = t_mod(*t_in, **kwargs)
    fl_fg, fl_t = _flat(out_fg), _flat(out_t)
    assert len(fl_fg) == len(fl_t), f"{len(fl_fg)} outputs != torch's {len(fl_t)}"
    for a, b in zip(fl_fg, fl_t):
        assert_close(a, b, rtol=rtol, atol=atol)

    # backward from a random upstream gradient on each floating output
    rng = np.random.default_rng(seed)
    loss_fg, loss_t = None, None
    for a, b in zip(fl_fg, fl_t):
        if not (b.requires_grad and b.is_floating_point()):
            continue
        g = rng.standard_normal(tuple(b.shape)).astype(str(b.dtype).replace("torch.", ""))
        lf = (a * to_fg(g)).sum()
        lt = (b * to_torch(torch, g)).sum()
        loss_fg = lf if loss_fg is None else loss_fg + lf
        loss_t = lt if loss_t is None else loss_t + lt
    if loss_t is None:
        return out_fg, out_t
    loss_fg.backward()
    loss_t.backward()
    for i, (a, b) in enumerate(zip(fg_in, t_in)):
        if hasattr(b, "grad") and b.requires_grad:
            assert (a.grad is None) == (b.grad is None), f"input {i}: grad presence differs"
            if b.grad is not None:
                assert_close(a.grad, b.grad, rtol=rtol, atol=atol)
    fg_params = dict(fg_mod.named_parameters())
    for name, p in t_mod.named_parameters():
        q = fg_params[name]
        assert (q.grad is None) == (p.grad is None), f"{name}: grad presence differs"
        if p.grad is not None:
            assert_close(q.grad, p.grad, rtol=rtol, atol=atol)
    fg_bufs = dict(fg_mod.named_buffers())
    for name, b in t_mod.named_buffers():
        assert_close(fg_bufs[name], b, rtol=rtol, atol=atol)
    return out_fg, out_t


def wrap_states(lib, mod, lstm):
    """A module calling mod(x, h0) or mod(x, (h0, c0)) so that check_module
    can pass the initial states as plain inputs (and compare their grads)."""

    class Wrap(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.m = mod

        def forward(self, x, h0, c0=None):
            return self.m(x, (h0, c0)) if lstm else self.m(x, h0)

    return Wrap()
