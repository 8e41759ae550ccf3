"""fastgrad.optim.lr_scheduler vs torch.optim.lr_scheduler: lr (and
momentum / beta1) sequences over 25+ steps, chaining, state_dict, warnings
and argument errors."""

import math

import fastgrad
import numpy as np
import pytest
from fastgrad import optim
from fastgrad.optim import lr_scheduler as fls

STEPS = 30


def _optimizers(torch, opt_name="SGD", **kwargs):
    """The same two-group optimizer (different lrs) in both frameworks."""
    kwargs = kwargs or {"momentum": 0.9}

    def groups(lib):
        a = lib.zeros(2, requires_grad=True)
        b = lib.zeros(3, requires_grad=True)
        return [{"params": [a]}, {"params": [b], "lr": 0.05}]

    return (getattr(torch.optim, opt_name)(groups(torch), lr=0.1, **kwargs),
            getattr(optim, opt_name)(groups(fastgrad), lr=0.1, **kwargs))


def _group_state(opt):
    keys = ("lr", "momentum", "betas", "initial_lr", "max_lr", "min_lr")
    return [{k: g[k] for k in keys if k in g} for g in opt.param_groups]


def _assert_same(ft, ff, msg=""):
    """Learning rates and momenta equal up to float rounding."""
    def close(a, b):
        if isinstance(a, dict):
            return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
        if isinstance(a, (tuple, list)):
            return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15)

    assert close(ft, ff), f"{msg}: torch {ft} vs fastgrad {ff}"


def _run(torch, name, kwargs, opt_name="SGD", opt_kwargs=None, steps=STEPS, metrics=None):
    ot, of = _optimizers(torch, opt_name, **(opt_kwargs or {}))
    st = getattr(torch.optim.lr_scheduler, name)(ot, **kwargs)
    sf = getattr(fls, name)(of, **kwargs)
    _assert_same(st.get_last_lr(), sf.get_last_lr(), "initial")
    _assert_same(_group_state(ot), _group_state(of), "initial groups")
    for i in range(steps):
        ot.step()
        of.step()
        if metrics is None:
            st.step()
            sf.step()
        else:
            st.step(metrics[i])
            sf.step(metrics[i])
        _assert_same(st.get_last_lr(), sf.get_last_lr(), f"step {i}")
        _assert_same(_group_state(ot), _group_state(of), f"groups at step {i}")
        assert st.last_epoch == sf.last_epoch
    return st, sf


@pytest.mark.parametrize("name,kwargs", [
    ("StepLR", {"step_size": 4}),
    ("StepLR", {"step_size": 3, "gamma": 0.5}),
    ("MultiStepLR", {"milestones": [3, 7, 7, 20], "gamma": 0.3}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("CosineAnnealingLR", {"T_max": 10}),
    ("CosineAnnealingLR", {"T_max": 7, "eta_min": 0.001}),
    ("LambdaLR", {"lr_lambda": lambda e: 0.95**e + 0.01 * e}),
])
def test_schedule_matches_torch(torch, name, kwargs):
    _run(torch, name, kwargs)


def test_lambda_lr_per_group(torch):
    _run(torch, "LambdaLR", {"lr_lambda": [lambda e: 1 / (e + 1), lambda e: 0.9**e]})


@pytest.mark.parametrize("kwargs", [
    {"max_lr": 1.0, "total_steps": STEPS},
    {"max_lr": [1.0, 0.5], "total_steps": STEPS, "anneal_strategy": "linear"},
    {"max_lr": 0.3, "epochs": 3, "steps_per_epoch": 10, "pct_start": 0.25, "div_factor": 10.0,
         "final_div_factor": 100.0},
    {"max_lr": 1.0, "total_steps": STEPS, "three_phase": True},
    {"max_lr": 1.0, "total_steps": STEPS, "three_phase": True, "anneal_strategy": "linear",
         "base_momentum": 0.8, "max_momentum": [0.9, 0.99]},
    {"max_lr": 1.0, "total_steps": STEPS, "cycle_momentum": False},
])
def test_one_cycle_sgd_momentum(torch, kwargs):
    _run(torch, "OneCycleLR", kwargs)


@pytest.mark.parametrize("opt_name", ["Adam", "AdamW"])
def test_one_cycle_adam_beta1(torch, opt_name):
    _, sf = _run(torch, "OneCycleLR", {"max_lr": 0.01, "total_steps": STEPS},
                  opt_name=opt_name, opt_kwargs={"betas": (0.9, 0.99)})
    assert sf.optimizer.param_groups[0]["betas"][1] == 0.99


def test_one_cycle_too_many_steps(torch):
    _, of = _optimizers(torch)
    s = fls.OneCycleLR(of, max_lr=1.0, total_steps=3)
    for _ in range(3):
        of.step()
        s.step()
    with pytest.raises(ValueError, match="Tried to step 4 times. The specified number of "
                                         "total steps is 3"):
        s.step()


METRICS = [1.0, 0.9, 0.9, 0.91, 0.95, 0.9, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.79999, 0.7,
           0.7, 0.7, 0.7, 0.71, 0.72, 0.73, 0.74, 0.75, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5,
           0.5, 0.5]


@pytest.mark.parametrize("kwargs,metrics", [
    ({"patience": 2}, METRICS),
    ({"patience": 1, "factor": 0.5, "cooldown": 2}, METRICS),
    ({"patience": 0, "factor": 0.5, "min_lr": 0.01}, METRICS),
    ({"patience": 0, "factor": 0.5, "min_lr": [0.02, 0.001], "eps": 1e-3}, METRICS),
    ({"patience": 1, "threshold": 0.05}, METRICS),
    ({"patience": 1, "threshold": 0.05, "threshold_mode": "abs"}, METRICS),
    ({"mode": "max", "patience": 1}, [-m for m in METRICS]),
    ({"mode": "max", "patience": 1, "threshold_mode": "abs", "threshold": 0.02, "cooldown": 1},
     [-m for m in METRICS]),
])
def test_reduce_lr_on_plateau(torch, kwargs, metrics):
    st, sf = _run(torch, "ReduceLROnPlateau", kwargs, metrics=metrics)
    assert sf.num_bad_epochs == st.num_bad_epochs
    assert sf.cooldown_counter == st.cooldown_counter
    assert sf.best == st.best


def test_reduce_lr_on_plateau_tensor_metric(torch):
    _, of = _optimizers(torch)
    sf = fls.ReduceLROnPlateau(of, patience=0)
    sf.step(fastgrad.tensor(1.0))
    sf.step(fastgrad.tensor(2.0))
    assert sf.get_last_lr() == [0.010000000000000002, 0.005000000000000001]


def test_chained_schedulers(torch):
    ot, of = _optimizers(torch)
    ts = [torch.optim.lr_scheduler.ExponentialLR(ot, gamma=0.9),
          torch.optim.lr_scheduler.StepLR(ot, step_size=3, gamma=0.5)]
    fs = [fls.ExponentialLR(of, gamma=0.9), fls.StepLR(of, step_size=3, gamma=0.5)]
    for i in range(STEPS):
        ot.step()
        of.step()
        for a, b in zip(ts, fs):
            a.step()
            b.step()
        _assert_same(ts[-1].get_last_lr(), fs[-1].get_last_lr(), f"step {i}")


@pytest.mark.parametrize("name,kwargs", [
    ("StepLR", {"step_size": 4}),
    ("MultiStepLR", {"milestones": [2, 5]}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("CosineAnnealingLR", {"T_max": 6, "eta_min": 0.01}),
])
def test_step_with_epoch_uses_closed_form(torch, name, kwargs):
    ot, of = _optimizers(torch)
    st = getattr(torch.optim.lr_scheduler, name)(ot, **kwargs)
    sf = getattr(fls, name)(of, **kwargs)
    for epoch in [3, 7, 1, 10]:
        ot.step()
        of.step()
        with pytest.warns(UserWarning, match="epoch parameter"):
            st.step(epoch)
        with pytest.warns(UserWarning, match="epoch parameter"):
            sf.step(epoch)
        _assert_same(st.get_last_lr(), sf.get_last_lr(), f"epoch {epoch}")


def test_state_dict_round_trip(torch):
    _, of = _optimizers(torch)
    s = fls.CosineAnnealingLR(of, T_max=10)
    ref = []
    for _ in range(12):
        of.step()
        s.step()
        ref.append(s.get_last_lr())
    _, of2 = _optimizers(torch)
    s2 = fls.CosineAnnealingLR(of2, T_max=10)
    for _ in range(5):
        of2.step()
        s2.step()
    sd = s2.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 5
    osd = of2.state_dict()
    _, of3 = _optimizers(torch)
    s3 = fls.CosineAnnealingLR(of3, T_max=10)
    of3.load_state_dict(osd)
    s3.load_state_dict(sd)
    for i in range(5, 12):
        of3.step()
        s3.step()
        assert s3.get_last_lr() == ref[i]


def test_lambda_state_dict_skips_functions(torch):
    _, of = _optimizers(torch)

    class Scale:
        def __init__(self):
            self.k = 2.0

        def __call__(self, e):
            return self.k

    s = fls.LambdaLR(of, lr_lambda=[lambda e: 1.0, Scale()])
    sd = s.state_dict()
    assert sd["lr_lambdas"] == [None, {"k": 2.0}]
    sd["lr_lambdas"][1]["k"] = 3.0
    s.load_state_dict(sd)
    assert s.lr_lambdas[1].k == 3.0


def test_resume_with_last_epoch(torch):
    ot, of = _optimizers(torch)
    for opt in (ot, of):
        for g in opt.param_groups:
            g["initial_lr"] = g["lr"]
    st = torch.optim.lr_scheduler.StepLR(ot, step_size=2, last_epoch=4)
    sf = fls.StepLR(of, step_size=2, last_epoch=4)
    _assert_same(st.get_last_lr(), sf.get_last_lr())
    _, of2 = _optimizers(torch)
    with pytest.raises(KeyError, match="param 'initial_lr' is not specified in param_groups"):
        fls.StepLR(of2, step_size=2, last_epoch=3)


def test_warnings(torch):
    _, of = _optimizers(torch)
    s = fls.StepLR(of, step_size=2)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        s.step()
    with pytest.warns(UserWarning, match="please use `get_last_lr\\(\\)`"):
        s.get_lr()


def test_argument_errors(torch):
    _, of = _optimizers(torch)
    with pytest.raises(TypeError, match="list is not an Optimizer"):
        fls.StepLR([], step_size=2)
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        fls.ReduceLROnPlateau(of, factor=1.5)
    with pytest.raises(ValueError, match="mode sideways is unknown"):
        fls.ReduceLROnPlateau(of, mode="sideways")
    with pytest.raises(ValueError, match="threshold mode x is unknown"):
        fls.ReduceLROnPlateau(of, threshold_mode="x")
    with pytest.raises(ValueError, match="expected 2 min_lrs, got 1"):
        fls.ReduceLROnPlateau(of, min_lr=[0.1])
    with pytest.raises(ValueError, match="You must define either total_steps"):
        fls.OneCycleLR(of, max_lr=1.0)
    with pytest.raises(ValueError, match="Expected positive integer total_steps"):
        fls.OneCycleLR(of, max_lr=1.0, total_steps=0)
    with pytest.raises(ValueError, match="Expected float between 0 and 1 pct_start"):
        fls.OneCycleLR(of, max_lr=1.0, total_steps=10, pct_start=1.5)
    with pytest.raises(ValueError, match="anneal_strategy must be one of"):
        fls.OneCycleLR(of, max_lr=1.0, total_steps=10, anneal_strategy="exp")
    with pytest.raises(ValueError, match="max_lr must have the same length"):
        fls.OneCycleLR(of, max_lr=[1.0], total_steps=10)
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
        fls.LambdaLR(of, lr_lambda=[lambda e: 1.0])
    ada = optim.Adagrad([fastgrad.zeros(2, requires_grad=True)])
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        fls.OneCycleLR(ada, max_lr=1.0, total_steps=10)


def test_scheduler_drives_training(torch):
    # End to end: Adam + OneCycleLR on the same quadratic, parameters match.
    target = np.array([1.0, -2.0, 0.5], np.float32)

    def setup(lib, sched_mod):
        p = lib.zeros(3, requires_grad=True)
        opt = lib.optim.Adam([p], lr=0.01) if lib is torch else optim.Adam([p], lr=0.01)
        return p, opt, sched_mod.OneCycleLR(opt, max_lr=0.1, total_steps=25)

    pt, ot, st = setup(torch, torch.optim.lr_scheduler)
    pf, of, sf = setup(fastgrad, fls)
    tt, tf = torch.tensor(target), fastgrad.tensor(target)
    for _ in range(25):
        for p, o, s, t in ((pt, ot, st, tt), (pf, of, sf, tf)):
            o.zero_grad()
            ((p - t) ** 2).sum().backward()
            o.step()
            s.step()
        np.testing.assert_allclose(pf.detach().numpy(), pt.detach().numpy(), rtol=2e-5,
                                   atol=2e-6)


@pytest.mark.parametrize("name,kwargs", [
    ("StepLR", {"step_size": 2}),
    ("CosineAnnealingLR", {"T_max": 5}),
])
def test_tensor_lr_filled_in_place(torch, name, kwargs):
    pt = torch.zeros(2, requires_grad=True)
    pf = fastgrad.zeros(2, requires_grad=True)
    ot = torch.optim.SGD([pt], lr=torch.tensor(0.1))
    of = optim.SGD([pf], lr=fastgrad.tensor(0.1))
    lr_t, lr_f = ot.param_groups[0]["lr"], of.param_groups[0]["lr"]
    st = getattr(torch.optim.lr_scheduler, name)(ot, **kwargs)
    sf = getattr(fls, name)(of, **kwargs)
    for _ in range(8):
        for p, o, s in ((pt, ot, st), (pf, of, sf)):
            o.zero_grad()
            (p * p + p).sum().backward()
            o.step()
            s.step()
        assert of.param_groups[0]["lr"] is lr_f  # updated in place
        assert isinstance(sf.get_last_lr()[0], fastgrad.Tensor)
        assert sf.get_last_lr()[0] is not lr_f
        np.testing.assert_allclose(lr_f.item(), lr_t.item(), rtol=1e-6)
        np.testing.assert_allclose(pf.detach().numpy(), pt.detach().numpy(), rtol=1e-5)
