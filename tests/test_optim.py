"""fastgrad.optim vs torch.optim: parameter trajectories, parameter groups,
state_dict round trips, the fused in-place kernels, and error cases.

The same small model (tanh of an affine map, squared error) is trained 20
steps in torch and in fastgrad (gradients from fastgrad's own autograd);
parameters must agree after every step.
"""

import fastgrad
import numpy as np
import pytest
from fastgrad import _C, optim

# Every test runs on each device (conftest.py's `device` fixture).
pytestmark = pytest.mark.usefixtures("device")

STEPS = 20


def _data(dtype):
    rng = np.random.default_rng(0)
    return {
        "w": rng.normal(size=(3, 4)).astype(dtype),
        "b": rng.normal(size=(3,)).astype(dtype),
        "x": rng.normal(size=(5, 4)).astype(dtype),
        "y": rng.normal(size=(5, 3)).astype(dtype),
    }


def _loss(x, y, w, b):
    return ((x @ w.t() + b).tanh() - y).pow(2).mean()


class _Run:
    """One model in one framework: parameters, data and a loss closure."""

    def __init__(self, lib, dtype):
        d = _data(dtype)
        self.lib = lib
        self.w = lib.tensor(d["w"]).requires_grad_()
        self.b = lib.tensor(d["b"]).requires_grad_()
        self.x, self.y = lib.tensor(d["x"]), lib.tensor(d["y"])

    def params(self):
        return [self.w, self.b]

    def backward(self):
        loss = _loss(self.x, self.y, self.w, self.b)
        loss.backward()
        return loss

    def values(self):
        return [p.detach().cpu().numpy().copy() for p in self.params()]


def _train(run, opt, steps):
    """Yields the parameter values after each step."""
    for _ in range(steps):
        opt.zero_grad()
        run.backward()
        opt.step()
        yield run.values()


def _compare(torch, name, kwargs, dtype=np.float32, groups=None, steps=STEPS):
    rt, rf = _Run(torch, dtype), _Run(fastgrad, dtype)

    def make(run, lib):
        params = groups(run) if groups else run.params()
        return getattr(lib.optim, name)(params, **kwargs)

    ot, of = make(rt, torch), make(rf, fastgrad)
    tol = {"rtol": 2e-5, "atol": 2e-6} if dtype == np.float32 else {"rtol": 1e-11, "atol": 1e-12}
    for step, (vt, vf) in enumerate(zip(_train(rt, ot, steps), _train(rf, of, steps))):
        for a, b in zip(vf, vt):
            assert a.dtype == b.dtype
            np.testing.assert_allclose(a, b, err_msg=f"{name}{kwargs} step {step}", **tol)
    return ot, of


CONFIGS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.5}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "weight_decay": 0.05, "nesterov": True, "maximize": True}),
    ("SGD", {"lr": 0.1, "maximize": True, "dampening": 0.3, "momentum": 0.5}),
    ("Adam", {}),
    ("Adam", {"lr": 0.05}),
    ("Adam", {"lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-6}),
    ("Adam", {"lr": 0.05, "amsgrad": True}),
    ("Adam", {"lr": 0.05, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.05, "maximize": True}),
    ("Adam", {"lr": 0.05, "weight_decay": 0.1, "amsgrad": True, "maximize": True}),
    ("Adam", {"lr": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("AdamW", {}),
    ("AdamW", {"lr": 0.05, "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.05, "amsgrad": True}),
    ("AdamW", {"lr": 0.05, "weight_decay": 0.2, "amsgrad": True, "maximize": True}),
    ("RMSprop", {}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9}),
    ("RMSprop", {"lr": 0.01, "centered": True}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01, "weight_decay": 0.1, "eps": 1e-4}),
    ("RMSprop", {"lr": 0.01, "maximize": True, "momentum": 0.3}),
    ("Adagrad", {}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05}),
    ("Adagrad", {"lr": 0.1, "initial_accumulator_value": 0.5}),
    ("Adagrad", {"lr": 0.1, "weight_decay": 0.1, "eps": 1e-6}),
    ("Adagrad", {"lr": 0.1, "maximize": True, "lr_decay": 0.01, "initial_accumulator_value": 0.1}),
]


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=lambda v: str(v))
def test_trajectory_float32(torch, name, kwargs):
    _compare(torch, name, kwargs)


@pytest.mark.parametrize("name,kwargs", CONFIGS[::2], ids=lambda v: str(v))
def test_trajectory_float64(torch, name, kwargs):
    _compare(torch, name, kwargs, dtype=np.float64)


@pytest.mark.parametrize("name,shared,per_group", [
    ("SGD", {"lr": 0.1, "momentum": 0.9}, [{"lr": 0.3}, {"momentum": 0.5, "nesterov": True}]),
    ("Adam", {"lr": 0.01}, [{"lr": 0.1, "amsgrad": True}, {"weight_decay": 0.1}]),
    ("AdamW", {"lr": 0.01}, [{"lr": 0.1}, {"betas": (0.5, 0.9)}]),
    ("RMSprop", {"lr": 0.01}, [{"centered": True}, {"lr": 0.02, "momentum": 0.9}]),
    ("Adagrad", {"lr": 0.1}, [{"lr": 0.3, "lr_decay": 0.1}, {}]),
])
def test_param_groups(torch, name, shared, per_group):
    def groups(run):
        return [dict(params=[run.w], **per_group[0]), dict(params=[run.b], **per_group[1])]

    ot, of = _compare(torch, name, shared, groups=groups)
    assert len(of.param_groups) == 2
    for gt, gf in zip(ot.param_groups, of.param_groups):
        assert set(gt) == set(gf)
        for k in gt:
            if k != "params":
                assert gt[k] == gf[k], k


ROUND_TRIP = [
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("Adam", {"lr": 0.05, "amsgrad": True, "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.05}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.1}),
]


@pytest.mark.parametrize("name,kwargs", ROUND_TRIP)
def test_state_dict_round_trip(name, kwargs):
    # Uninterrupted reference.
    ra = _Run(fastgrad, np.float32)
    oa = getattr(optim, name)(ra.params(), **kwargs)
    ref = list(_train(ra, oa, STEPS))
    # Interrupted at STEPS // 2: a new optimizer over copies of the params.
    rb = _Run(fastgrad, np.float32)
    ob = getattr(optim, name)(rb.params(), **kwargs)
    list(_train(rb, ob, STEPS // 2))
    sd = ob.state_dict()
    assert sorted(sd["state"]) == [0, 1]
    assert sd["param_groups"][0]["params"] == [0, 1]
    rc = _Run(fastgrad, np.float32)
    with fastgrad.no_grad():
        rc.w.copy_(rb.w)
        rc.b.copy_(rb.b)
    oc = getattr(optim, name)(rc.params(), lr=123.0)  # overwritten by the load
    oc.load_state_dict(sd)
    assert oc.param_groups[0]["lr"] == kwargs.get("lr", oa.defaults["lr"])
    assert oc.param_groups[0]["params"][0] is rc.w
    rest = list(_train(rc, oc, STEPS - STEPS // 2))
    for a, b in zip(rest, ref[STEPS // 2:]):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("name,kwargs", ROUND_TRIP)
def test_state_dict_matches_torch_and_loads_torch(torch, name, kwargs):
    rt, rf = _Run(torch, np.float32), _Run(fastgrad, np.float32)
    ot = getattr(torch.optim, name)(rt.params(), **kwargs)
    of = getattr(optim, name)(rf.params(), **kwargs)
    list(_train(rt, ot, 5))
    list(_train(rf, of, 5))
    st, sf = ot.state_dict(), of.state_dict()
    assert st["param_groups"] == sf["param_groups"]
    assert st["state"].keys() == sf["state"].keys()
    for i in st["state"]:
        assert st["state"][i].keys() == sf["state"][i].keys()
        for k, vt in st["state"][i].items():
            vf = sf["state"][i][k]
            assert isinstance(vf, fastgrad.Tensor)
            assert tuple(vf.shape) == tuple(vt.shape) and str(vf.dtype)[9:] == str(vt.dtype)[6:]
            np.testing.assert_allclose(vf.cpu().numpy(), vt.cpu().numpy(), rtol=2e-5, atol=2e-6)
    # A torch state dict loads into fastgrad (tensors copied) and both continue alike.
    rf2 = _Run(fastgrad, np.float32)
    with fastgrad.no_grad():
        rf2.w.copy_(fastgrad.tensor(rt.w.detach().cpu().numpy()))
        rf2.b.copy_(fastgrad.tensor(rt.b.detach().cpu().numpy()))
    of2 = getattr(optim, name)(rf2.params(), **kwargs)
    of2.load_state_dict(ot.state_dict())
    for vt, vf in zip(_train(rt, ot, 5), _train(rf2, of2, 5)):
        for a, b in zip(vf, vt):
            np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("name,kwargs,kernel", [
    ("SGD", {"lr": 0.1, "momentum": 0.9}, "_sgd_step"),
    ("Adam", {"amsgrad": True}, "_adam_step"),
    ("AdamW", {}, "_adam_step"),
    ("RMSprop", {"centered": True, "momentum": 0.9}, "_rmsprop_step"),
    ("Adagrad", {}, "_adagrad_step"),
])
def test_fused_in_place_kernel(monkeypatch, name, kwargs, kernel):
    run = _Run(fastgrad, np.float32)
    opt = getattr(optim, name)(run.params(), **kwargs)
    calls = []
    real = getattr(_C, kernel)

    def spy(*args, **kw):
        calls.append(args[0])
        return real(*args, **kw)

    monkeypatch.setattr(_C, kernel, spy)
    ptrs = [p.data_ptr() for p in run.params()]
    state_ptrs = None
    for step in range(3):
        opt.zero_grad()
        run.backward()
        versions = [p._version for p in run.params()]
        before = run.values()
        opt.step()
        # One kernel call per parameter, updating it in place.
        assert calls[-2:] == run.params() and len(calls) == 2 * (step + 1)
        assert [p.data_ptr() for p in run.params()] == ptrs
        assert all(p._version > v for p, v in zip(run.params(), versions))
        assert all(not np.array_equal(a, b) for a, b in zip(run.values(), before))
        # No autograd history: still leaves that require grad.
        for p in run.params():
            assert p.is_leaf and p.grad_fn is None and p.requires_grad
        # State tensors are updated in place too.
        now = {(i, k): v.data_ptr() for i, p in enumerate(run.params())
               for k, v in opt.state[p].items() if k != "step"}
        assert now
        if state_ptrs is not None:
            assert now == state_ptrs
        state_ptrs = now


def _kernel_args(name, shape, dtype, layout):
    """Fresh (param, grad, states...) numpy arrays and fastgrad tensors."""
    rng = np.random.default_rng(1)
    arrays = [rng.normal(size=shape).astype(dtype) for _ in range(5)]
    arrays[3] = np.abs(arrays[3])  # squared averages are non-negative
    arrays[4] = np.abs(arrays[4]) + 1.0

    def fg(a):
        if layout == "transposed":
            return fastgrad.tensor(np.ascontiguousarray(a.T)).t()
        return fastgrad.tensor(a)

    return [fg(a) for a in arrays]


KERNELS = {
    "_sgd_step": lambda t: _C._sgd_step(t[0], t[1], t[2], lr=0.1, momentum=0.9,
                                        dampening=0.1, weight_decay=0.01, nesterov=False,
                                        maximize=False, first_step=False),
    "_adam_step": lambda t: _C._adam_step(t[0], t[1], t[2], t[3], t[4], lr=0.1, beta1=0.9,
                                          beta2=0.99, eps=1e-8, weight_decay=0.1,
                                          amsgrad=True, maximize=False,
                                          decoupled_weight_decay=True, step=3),
    "_rmsprop_step": lambda t: _C._rmsprop_step(t[0], t[1], t[3], t[2], t[4], lr=0.1,
                                                alpha=0.9, eps=1e-8, weight_decay=0.0,
                                                momentum=0.9, centered=True, maximize=True),
    "_adagrad_step": lambda t: _C._adagrad_step(t[0], t[1], t[3], lr=0.1, lr_decay=0.1,
                                                weight_decay=0.1, eps=1e-10, maximize=False,
                                                step=2),
}


@pytest.mark.parametrize("kernel", sorted(KERNELS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(4, 5), (300, 300), (0, 3)])
def test_kernel_strided_matches_contiguous(kernel, dtype, shape):
    # Transposed (non-contiguous) operands take the strided loop; large ones
    # are split across threads. Results must equal the contiguous run.
    a = _kernel_args(kernel, shape, dtype, "contiguous")
    b = _kernel_args(kernel, shape, dtype, "transposed")
    assert not b[0].is_contiguous() or shape[0] == 0
    KERNELS[kernel](a)
    KERNELS[kernel](b)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.cpu().numpy(), y.cpu().numpy())


@pytest.mark.parametrize("shape", [(3, 4), (40, 30)])
def test_kernel_expanded_grad(shape):
    # A broadcast (stride-0) gradient is read-only and allowed (several
    # blocks of the contiguous loop for the larger shape).
    p = fastgrad.ones(*shape)
    g = fastgrad.tensor([0.5]).expand(*shape)
    _C._sgd_step(p, g, None, lr=1.0, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, maximize=False, first_step=True)
    np.testing.assert_array_equal(p.cpu().numpy(), np.full(shape, 0.5, np.float32))


@pytest.mark.parametrize("name,kwargs", [
    ("SGD", {"lr": 0.1}),
    ("Adam", {"lr": 0.1}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.5}),
])
def test_large_params_with_optional_state_off(torch, name, kwargs):
    # Thousands of elements: blocked, threaded loop with optional operands absent.
    rng = np.random.default_rng(2)
    p0 = rng.normal(size=(257, 131)).astype(np.float32)
    pt = torch.tensor(p0).requires_grad_()
    pf = fastgrad.tensor(p0).requires_grad_()
    ot = getattr(torch.optim, name)([pt], **kwargs)
    of = getattr(optim, name)([pf], **kwargs)
    for _ in range(3):
        for lib, p, o in ((torch, pt, ot), (fastgrad, pf, of)):
            o.zero_grad()
            (p * p * p).sum().backward()
            o.step()
    np.testing.assert_allclose(pf.detach().cpu().numpy(), pt.detach().cpu().numpy(), rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("call,exc,match", [
    (lambda: _C._adagrad_step(fastgrad.zeros(3), fastgrad.zeros(2), fastgrad.zeros(3),
                              lr=1.0, lr_decay=0.0, weight_decay=0.0, eps=1e-10,
                              maximize=False, step=1),
     RuntimeError, r"adagrad_step_: grad of shape \(2,\) does not match the parameter's shape \(3,\)"),
    (lambda: _C._adagrad_step(fastgrad.zeros(3), fastgrad.zeros(3), fastgrad.zeros(3, 1),
                              lr=1.0, lr_decay=0.0, weight_decay=0.0, eps=1e-10,
                              maximize=False, step=1),
     RuntimeError, r"adagrad_step_: state_sum of shape \(3, 1\)"),
    (lambda: _C._sgd_step(fastgrad.zeros(3), fastgrad.zeros(3, dtype=fastgrad.float64), None,
                          lr=1.0, momentum=0.0, dampening=0.0, weight_decay=0.0,
                          nesterov=False, maximize=False, first_step=True),
     TypeError, r"sgd_step_: grad has dtype"),
    (lambda: _C._sgd_step(fastgrad.zeros(3, dtype=fastgrad.int64),
                          fastgrad.zeros(3, dtype=fastgrad.int64), None, lr=1.0,
                          momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
                          maximize=False, first_step=True),
     TypeError, r"sgd_step_: expected a floating-point parameter"),
    (lambda: _C._sgd_step(fastgrad.zeros(3), fastgrad.zeros(3), None, lr=1.0, momentum=0.9,
                          dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False,
                          first_step=True),
     RuntimeError, r"sgd_step_: momentum != 0 needs a momentum_buffer"),
    (lambda: _C._adam_step(fastgrad.zeros(3), fastgrad.zeros(3), fastgrad.zeros(3),
                           fastgrad.zeros(3), None, lr=1.0, beta1=0.9, beta2=0.9, eps=0.0,
                           weight_decay=0.0, amsgrad=True, maximize=False,
                           decoupled_weight_decay=False, step=1),
     RuntimeError, r"adam_step_: amsgrad needs max_exp_avg_sq"),
    (lambda: _C._adam_step(fastgrad.zeros(3), fastgrad.zeros(3), fastgrad.zeros(3),
                           fastgrad.zeros(3), None, lr=1.0, beta1=0.9, beta2=0.9, eps=0.0,
                           weight_decay=0.0, amsgrad=False, maximize=False,
                           decoupled_weight_decay=False, step=0),
     ValueError, r"adam_step_: step must be >= 1"),
    (lambda: _C._rmsprop_step(fastgrad.zeros(3), fastgrad.zeros(3),
                              fastgrad.zeros(1).expand(3), None, None, lr=1.0, alpha=0.9,
                              eps=0.0, weight_decay=0.0, momentum=0.0, centered=False,
                              maximize=False),
     RuntimeError, r"rmsprop_step_: unsupported operation: more than one element"),
])
def test_kernel_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("name,kwargs", [
    ("SGD", {"lr": -1}),
    ("SGD", {"momentum": -0.5}),
    ("SGD", {"weight_decay": -0.1}),
    ("SGD", {"nesterov": True}),
    ("SGD", {"nesterov": True, "momentum": 0.9, "dampening": 0.1}),
    ("Adam", {"lr": -1}),
    ("Adam", {"eps": -1e-8}),
    ("Adam", {"betas": (1.0, 0.999)}),
    ("Adam", {"betas": (0.9, -0.1)}),
    ("Adam", {"weight_decay": -1.0}),
    ("Adam", {"betas": (0.9, 1)}),
    ("AdamW", {"lr": -0.5}),
    ("RMSprop", {"alpha": -0.1}),
    ("RMSprop", {"momentum": -0.1}),
    ("RMSprop", {"eps": -1.0}),
    ("Adagrad", {"lr_decay": -0.1}),
    ("Adagrad", {"initial_accumulator_value": -1.0}),
    ("Adagrad", {"eps": -1.0}),
])
def test_invalid_hyperparameters_match_torch(torch, name, kwargs):
    with pytest.raises(ValueError) as et:
        getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kwargs)
    with pytest.raises(ValueError) as ef:
        getattr(optim, name)([fastgrad.zeros(2, requires_grad=True)], **kwargs)
    assert str(ef.value) == str(et.value)


def test_bad_params():
    w = fastgrad.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        optim.SGD([w * 2], lr=0.1)
    with pytest.raises(TypeError, match="optimizer can only optimize Tensors"):
        optim.SGD([w, 3.0], lr=0.1)
    with pytest.raises(TypeError, match="should be an iterable of Tensors or dicts"):
        optim.SGD(w, lr=0.1)
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        optim.Adam([])
    with pytest.raises(TypeError, match="ordered collections"):
        optim.Adam([{"params": {w}}])
    with pytest.raises(TypeError, match="floating-point"):
        optim.Adam([fastgrad.zeros(2, dtype=fastgrad.int64)])
    opt = optim.SGD([w], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [w]})
    with pytest.raises(TypeError, match="param_group must be a dict"):
        opt.add_param_group([w])
    with pytest.warns(UserWarning, match="duplicate parameters"):
        optim.SGD([w, w], lr=0.1)
    opt2 = optim.SGD([w], lr=0.1)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        opt2.load_state_dict({"state": {}, "param_groups": []})
    with pytest.raises(ValueError, match="doesn't match the size"):
        opt2.load_state_dict({"state": {}, "param_groups": [{"lr": 0.1, "params": [0, 1]}]})


def test_add_param_group_defaults_and_repr(torch):
    rt, rf = _Run(torch, np.float32), _Run(fastgrad, np.float32)
    ot = torch.optim.SGD([rt.w], lr=0.1, momentum=0.9)
    of = optim.SGD([rf.w], lr=0.1, momentum=0.9)
    ot.add_param_group({"params": rt.b, "lr": 0.01})
    of.add_param_group({"params": rf.b, "lr": 0.01})
    assert of.param_groups[1]["params"] == [rf.b]
    assert {k: v for k, v in of.param_groups[1].items() if k != "params"} == {
        k: v for k, v in ot.param_groups[1].items() if k != "params"}
    assert repr(of) == repr(ot)


def test_params_without_grad_are_skipped():
    a = fastgrad.ones(2, requires_grad=True)
    frozen = fastgrad.ones(2, requires_grad=True)
    opt = optim.Adam([a, frozen], lr=0.1)
    (a * a).sum().backward()
    opt.step()
    np.testing.assert_array_equal(frozen.detach().cpu().numpy(), np.ones(2, np.float32))
    assert len(opt.state[frozen]) == 0 and len(opt.state[a]) == 3
    assert not np.array_equal(a.detach().cpu().numpy(), np.ones(2, np.float32))


def test_zero_grad():
    a = fastgrad.ones(2, requires_grad=True)
    opt = optim.SGD([a], lr=0.1)
    (a * 3).sum().backward()
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(a.grad.cpu().numpy(), np.zeros(2, np.float32))
    opt.zero_grad()
    assert a.grad is None


def test_step_closure(torch):
    rt, rf = _Run(torch, np.float32), _Run(fastgrad, np.float32)
    ot = torch.optim.SGD(rt.params(), lr=0.1, momentum=0.9)
    of = optim.SGD(rf.params(), lr=0.1, momentum=0.9)

    def closure(run, opt):
        def f():
            opt.zero_grad()
            return run.backward()
        return f

    for _ in range(5):
        lt = ot.step(closure(rt, ot))
        lf = of.step(closure(rf, of))
        np.testing.assert_allclose(lf.item(), lt.item(), rtol=1e-5)
    for a, b in zip(rf.values(), rt.values()):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)
    assert of.step() is None


@pytest.mark.parametrize("name,kwargs", [
    ("SGD", {"lr": 0.05, "momentum": 0.9, "weight_decay": 1e-3}),
    ("AdamW", {"lr": 0.01, "amsgrad": True}),
])
def test_nn_module_training_matches_torch(torch, name, kwargs):
    # The usual loop on nn.Linear layers (Parameters), weights copied from torch.
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    fm = fastgrad.nn.Sequential(fastgrad.nn.Linear(4, 8), fastgrad.nn.Tanh(),
                                fastgrad.nn.Linear(8, 2))
    fm.load_state_dict(tm.state_dict())
    ot = getattr(torch.optim, name)(tm.parameters(), **kwargs)
    of = getattr(optim, name)(fm.parameters(), **kwargs)
    rng = np.random.default_rng(3)
    for _ in range(STEPS):
        x = rng.normal(size=(6, 4)).astype(np.float32)
        y = rng.normal(size=(6, 2)).astype(np.float32)
        for lib, m, o in ((torch, tm, ot), (fastgrad, fm, of)):
            o.zero_grad()
            ((m(lib.tensor(x)) - lib.tensor(y)) ** 2).mean().backward()
            o.step()
    for (kt, vt), (kf, vf) in zip(tm.state_dict().items(), fm.state_dict().items()):
        assert kt == kf
        np.testing.assert_allclose(vf.cpu().numpy(), vt.cpu().numpy(), rtol=1e-4, atol=1e-5)
