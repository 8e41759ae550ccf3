"""Backward rules of the reduction ops: finite differences (float64 gradcheck)
and x.grad against torch for a random upstream gradient, over dims (None, int,
negative, tuple) x keepdim x layouts, plus ties, zeros, dtype= and
second-order gradients."""

import math

import fastgrad as fg
import numpy as np
import pytest
from fastgrad.autograd import gradcheck, gradgradcheck
from helpers import NP_DTYPES, assert_close, make

# Every test runs on each device (conftest.py's `device` fixture).
pytestmark = pytest.mark.usefixtures("device")

SHAPE = (2, 3, 4)
LAYOUTS = ["contiguous", "transposed", "sliced"]
DIMS = [None, 1, -1, (0, 2), (-1, 0)]


def leaf(rng, shape, layout="contiguous", dtype=np.float64, low=-2.0, high=2.0):
    """numpy values and a fastgrad leaf requiring grad with the given layout."""
    base, t = make(rng, shape, dtype, low=low, high=high, layout=layout)
    return base, t.requires_grad_()


def torch_leaf(torch, base):
    return torch.tensor(np.array(base), requires_grad=True)


def dim_kw(dim):
    return {"dim": dim}


# name -> f(t, dim, keepdim), the same call for fastgrad and torch tensors.
# Every op here accepts dim=None, an int or a tuple.
DIM_OPS = {
    "sum": lambda t, d, k: t.sum(**dim_kw(d), keepdim=k),
    "nansum": lambda t, d, k: t.nansum(**dim_kw(d), keepdim=k),
    "mean": lambda t, d, k: t.mean(**dim_kw(d), keepdim=k),
    "amax": lambda t, d, k: t.amax(dim=() if d is None else d, keepdim=k),
    "amin": lambda t, d, k: t.amin(dim=() if d is None else d, keepdim=k),
    "var": lambda t, d, k: t.var(**dim_kw(d), keepdim=k),
    "var_corr0": lambda t, d, k: t.var(**dim_kw(d), keepdim=k, correction=0),
    "std": lambda t, d, k: t.std(**dim_kw(d), keepdim=k),
    "std_corr2": lambda t, d, k: t.std(**dim_kw(d), keepdim=k, correction=2),
    # logsumexp needs a dim: None stands for every dim here.
    "logsumexp": lambda t, d, k: t.logsumexp(
        dim=tuple(range(t.dim())) if d is None else d, keepdim=k
    ),
    "norm_fro": lambda t, d, k: t.norm(**dim_kw(d), keepdim=k),
    "norm_2": lambda t, d, k: t.norm(p=2, **dim_kw(d), keepdim=k),
    "norm_1": lambda t, d, k: t.norm(p=1, **dim_kw(d), keepdim=k),
    "norm_inf": lambda t, d, k: t.norm(p=math.inf, **dim_kw(d), keepdim=k),
    "norm_-inf": lambda t, d, k: t.norm(p=-math.inf, **dim_kw(d), keepdim=k),
    "norm_3": lambda t, d, k: t.norm(p=3, **dim_kw(d), keepdim=k),
    "norm_1.5": lambda t, d, k: t.norm(p=1.5, **dim_kw(d), keepdim=k),
    "norm_0.5": lambda t, d, k: t.norm(p=0.5, **dim_kw(d), keepdim=k),
}

# Ops along one int dim (None only where the op allows it).
ONE_DIM_OPS = {
    "prod": lambda t, d, k: t.prod(d, keepdim=k),
    "max_dim": lambda t, d, k: t.max(dim=d, keepdim=k)[0],
    "min_dim": lambda t, d, k: t.min(dim=d, keepdim=k)[0],
    "cumsum": lambda t, d, k: t.cumsum(d),
    "cumprod": lambda t, d, k: t.cumprod(d),
    "softmax": lambda t, d, k: t.softmax(d),
    "log_softmax": lambda t, d, k: t.log_softmax(d),
}
ONE_DIMS = [0, 1, -1]


def grad_vs_torch(
    torch,
    rng,
    fn,
    shape,
    layout="contiguous",
    dtype=np.float64,
    low=-2.0,
    high=2.0,
    base=None,
    rtol=1e-7,
    atol=1e-9,
):
    """x.grad of fn(x).backward(g) for a random g, checked against torch."""
    if base is None:
        base, x = leaf(rng, shape, layout, dtype, low, high)
    else:
        x = fg.tensor(base).requires_grad_()
    out = fn(x)
    g = rng.standard_normal(tuple(out.shape)).astype(NP_DTYPES[out.dtype])
    out.backward(fg.tensor(g))
    tx = torch_leaf(torch, base)
    fn(tx).backward(torch.tensor(g))
    assert x.grad is not None
    assert_close(x.grad, tx.grad, rtol=rtol, atol=atol)
    return x


# ---- gradcheck and torch comparison over dims x keepdim x layout ----------------------------


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", DIMS, ids=str)
@pytest.mark.parametrize("name", list(DIM_OPS))
def test_gradcheck_dim_ops(rng, name, dim, keepdim, layout):
    if name == "norm_fro" and dim is not None and not isinstance(dim, tuple):
        dim = (dim,)
    _, x = leaf(rng, SHAPE, layout)
    assert gradcheck(lambda t: DIM_OPS[name](t, dim, keepdim), (x,))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", DIMS, ids=str)
@pytest.mark.parametrize("name", list(DIM_OPS))
def test_grad_dim_ops_match_torch(torch, rng, name, dim, keepdim, layout):
    x = grad_vs_torch(
        torch, rng, lambda t: DIM_OPS[name](t, dim, keepdim), SHAPE, layout
    )
    assert x.grad.shape == x.shape


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", ONE_DIMS)
@pytest.mark.parametrize("name", list(ONE_DIM_OPS))
def test_gradcheck_one_dim_ops(rng, name, dim, keepdim, layout):
    # prod and cumprod: keep values away from 0 so that finite differences
    # are well conditioned (zeros are tested separately).
    _, x = (
        leaf(rng, SHAPE, layout, low=0.5, high=1.5)
        if "prod" in name
        else leaf(rng, SHAPE, layout)
    )
    assert gradcheck(lambda t: ONE_DIM_OPS[name](t, dim, keepdim), (x,))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", ONE_DIMS)
@pytest.mark.parametrize("name", list(ONE_DIM_OPS))
def test_grad_one_dim_ops_match_torch(torch, rng, name, dim, keepdim, layout):
    grad_vs_torch(
        torch, rng, lambda t: ONE_DIM_OPS[name](t, dim, keepdim), SHAPE, layout
    )


@pytest.mark.parametrize("layout", LAYOUTS)
def test_prod_all(torch, rng, layout):
    _, x = leaf(rng, SHAPE, layout, low=0.5, high=1.5)
    assert gradcheck(lambda t: t.prod(), (x,))
    grad_vs_torch(torch, rng, lambda t: t.prod(), SHAPE, layout)


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_all(torch, rng, name):
    fn = lambda t: getattr(t, name)()
    _, x = leaf(rng, SHAPE, "transposed")
    assert gradcheck(fn, (x,))
    grad_vs_torch(torch, rng, fn, SHAPE, "sliced")


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_dim_indices_output_is_not_differentiable(torch, rng, name):
    base, x = leaf(rng, (3, 4))
    values, indices = getattr(x, name)(dim=1)
    assert values.requires_grad and not indices.requires_grad
    (values * 2).sum().backward()
    tx = torch_leaf(torch, base)
    (getattr(tx, name)(dim=1).values * 2).sum().backward()
    assert_close(x.grad, tx.grad)


# ---- 0-d, size-1 and empty inputs --------------------------------------------------------------

ZERO_D = {
    "sum": lambda t: t.sum(),
    "sum_dim0": lambda t: t.sum(0),
    "nansum": lambda t: t.nansum(),
    "mean_keepdim": lambda t: t.mean(dim=-1, keepdim=True),
    "prod": lambda t: t.prod(),
    "prod_dim0": lambda t: t.prod(0, keepdim=True),
    "amax": lambda t: t.amax(),
    "amin_dim0": lambda t: t.amin(0),
    "max": lambda t: t.max(),
    "max_dim0": lambda t: t.max(0)[0],
    "min_dim": lambda t: t.min(-1, keepdim=True)[0],
    "std_corr0": lambda t: t.std(correction=0),
    "var_corr0": lambda t: t.var(correction=0),
    "logsumexp": lambda t: t.logsumexp(0),
    "norm": lambda t: t.norm(),
    "norm_1": lambda t: t.norm(p=1),
    "norm_inf": lambda t: t.norm(p=math.inf),
    "norm_3": lambda t: t.norm(p=3),
    "cumsum": lambda t: t.cumsum(0),
    "cumprod": lambda t: t.cumprod(0),
    "softmax": lambda t: t.softmax(0),
    "log_softmax": lambda t: t.log_softmax(-1),
}


@pytest.mark.parametrize("shape", [(), (1,), (1, 3, 1)], ids=str)
@pytest.mark.parametrize("name", list(ZERO_D))
def test_zero_d_and_size_one(torch, rng, name, shape):
    fn = ZERO_D[name]
    grad_vs_torch(torch, rng, fn, shape)
    if (
        "corr0" not in name
    ):  # var/std of one element sits at a kink of sqrt / is constant
        _, x = leaf(rng, shape)
        assert gradcheck(fn, (x,))


@pytest.mark.parametrize("name", ["sum", "mean", "nansum"])
def test_empty_input(torch, name):
    x = fg.zeros((0, 3), dtype=fg.float64, requires_grad=True)
    out = getattr(x, name)(dim=0)
    out.backward(fg.ones(3, dtype=fg.float64))
    assert tuple(x.grad.shape) == (0, 3)
    tx = torch.zeros((0, 3), dtype=torch.float64, requires_grad=True)
    getattr(tx, name)(dim=0).backward(torch.ones(3, dtype=torch.float64))
    assert_close(x.grad, tx.grad)


# ---- ties, zeros, NaN ---------------------------------------------------------------------------

TIES = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 1.0, 2.0], [-1.0, -1.0, -1.0, -1.0]])
TIE_OPS = {
    "amax_all": lambda t: t.amax(),
    "amax_dim": lambda t: t.amax(1),
    "amin_dim_keepdim": lambda t: t.amin(-1, keepdim=True),
    "amax_tuple": lambda t: t.amax((0, 1)),
    "max_all": lambda t: t.max(),
    "min_all": lambda t: t.min(),
    "max_dim": lambda t: t.max(1)[0],
    "min_dim": lambda t: t.min(1, keepdim=True)[0],
    "max_dim0": lambda t: t.max(0)[0],
    "norm_inf": lambda t: t.norm(p=math.inf, dim=1),
    "norm_-inf": lambda t: (t - 2).norm(p=-math.inf, dim=1),
}


@pytest.mark.parametrize("name", list(TIE_OPS))
def test_ties_match_torch(torch, rng, name):
    x = grad_vs_torch(torch, rng, TIE_OPS[name], None, base=TIES)
    if name.startswith("amax_all") or name == "max_all":
        # Evenly split: the two 3.0s get half each.
        g = x.grad.cpu().numpy()
        assert g[0, 1] == g[0, 2] != 0 and np.count_nonzero(g) == 2


PROD_ZEROS = {
    "one_zero": np.array([[2.0, 0.0, 3.0, 0.5], [1.5, -2.0, 0.5, 1.0]]),
    "two_zeros": np.array([[2.0, 0.0, 3.0, 0.0], [0.0, -2.0, 0.5, 1.0]]),
    "all_zero_row": np.array([[0.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 2.0]]),
}


@pytest.mark.parametrize("dim", [None, 0, 1, -1], ids=str)
@pytest.mark.parametrize("case", list(PROD_ZEROS))
def test_prod_with_zeros(torch, rng, case, dim):
    fn = (lambda t: t.prod()) if dim is None else (lambda t: t.prod(dim))
    base = PROD_ZEROS[case]
    grad_vs_torch(torch, rng, fn, None, base=base)
    # prod is multilinear: central differences are exact even at zeros.
    assert gradcheck(fn, (fg.tensor(base).requires_grad_(),))


def test_prod_single_zero_gradient_is_product_of_others():
    x = fg.tensor([2.0, 0.0, 3.0, -1.5], dtype=fg.float64, requires_grad=True)
    x.prod().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), [0.0, -9.0, 0.0, 0.0])


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("case", list(PROD_ZEROS))
def test_cumprod_with_zeros(torch, rng, case, dim):
    fn = lambda t: t.cumprod(dim)
    base = PROD_ZEROS[case]
    grad_vs_torch(torch, rng, fn, None, base=base)
    assert gradcheck(fn, (fg.tensor(base).requires_grad_(),))


@pytest.mark.parametrize("dim", [None, 1, (0, 1)], ids=str)
def test_nansum_nan_inputs_get_zero_grad(torch, rng, dim):
    base = rng.standard_normal((3, 4))
    base[0, 1] = base[2, 3] = np.nan
    x = grad_vs_torch(torch, rng, lambda t: t.nansum(**dim_kw(dim)), None, base=base)
    assert x.grad.cpu().numpy()[0, 1] == 0 and x.grad.cpu().numpy()[2, 3] == 0


@pytest.mark.parametrize("p", [2, "fro", 3, 1.5, 0.5])
def test_norm_of_zero_vector_has_zero_grad(torch, rng, p):
    base = np.zeros((2, 3))
    base[1] = [1.0, -2.0, 0.5]
    x = grad_vs_torch(torch, rng, lambda t: t.norm(p=p, dim=1), None, base=base)
    assert np.all(x.grad.cpu().numpy()[0] == 0)


def test_norm_p0_has_no_grad(torch, rng):
    base, x = leaf(rng, (3, 4))
    x.norm(p=0).backward()
    tx = torch_leaf(torch, base)
    tx.norm(p=0).backward()
    assert x.grad is None and tx.grad is None


def test_std_of_constant_row_has_zero_grad(torch, rng):
    base = np.array([[1.0, 1.0, 1.0], [1.0, 2.0, 4.0]])
    x = grad_vs_torch(torch, rng, lambda t: t.std(dim=1), None, base=base)
    assert np.all(x.grad.cpu().numpy()[0] == 0)


# ---- dtype= and float32 ------------------------------------------------------------------------

DTYPE_OPS = {
    "sum": lambda t, M: t.sum(dim=1, dtype=M.float64),
    "mean": lambda t, M: t.mean(dim=(0, 1), dtype=M.float64),
    "prod": lambda t, M: t.prod(1, dtype=M.float64),
    "cumsum": lambda t, M: t.cumsum(0, dtype=M.float64),
    "cumprod": lambda t, M: t.cumprod(1, dtype=M.float64),
    "softmax": lambda t, M: t.softmax(1, dtype=M.float64),
    "log_softmax": lambda t, M: t.log_softmax(0, dtype=M.float64),
    "norm": lambda t, M: t.norm(dim=1, dtype=M.float64),
}


@pytest.mark.parametrize("name", list(DTYPE_OPS))
def test_dtype_arg_grad_keeps_input_dtype(torch, rng, name):
    base, x = leaf(rng, (3, 4), dtype=np.float32, low=0.5, high=1.5)
    out = DTYPE_OPS[name](x, fg)
    assert out.dtype == fg.float64
    g = rng.standard_normal(tuple(out.shape))
    out.backward(fg.tensor(g))
    tx = torch_leaf(torch, base)
    DTYPE_OPS[name](tx, torch).backward(torch.tensor(g))
    assert x.grad.dtype == fg.float32
    assert_close(x.grad, tx.grad, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "name", ["sum", "mean", "amax", "var", "std", "logsumexp", "norm_2"]
)
def test_float32_grads(torch, rng, name):
    x = grad_vs_torch(
        torch,
        rng,
        lambda t: DIM_OPS[name](t, (0, 2), False),
        SHAPE,
        "transposed",
        dtype=np.float32,
        rtol=1e-5,
        atol=1e-6,
    )
    assert x.grad.dtype == fg.float32


def test_integer_logsumexp_input_has_no_grad():
    out = fg.tensor([1, 2, 3]).logsumexp(0)
    assert not out.requires_grad


def test_no_grad_records_nothing():
    x = fg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    with fg.no_grad():
        assert not x.sum().requires_grad
        assert not x.softmax(0).requires_grad
        assert not x.max(0)[0].requires_grad


def test_grad_fn_names():
    x = fg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    assert "SumBackward" in x.sum().grad_fn.name()
    assert "SoftmaxBackward" in x.softmax(0).grad_fn.name()
    assert "MaxBackward" in x.max(1)[0].grad_fn.name()


# ---- second order --------------------------------------------------------------------------------

GRADGRAD = {
    "sum": lambda t: t.sum(dim=1) ** 2,
    "sum_all_keepdim": lambda t: t.sum(dim=(0, 1), keepdim=True).exp() * t,
    "mean": lambda t: t.mean(dim=-1, keepdim=True) * t,
    "mean_all": lambda t: t.mean() ** 3,
    "softmax": lambda t: t.softmax(1),
    "softmax_dim0": lambda t: t.softmax(0),
    "log_softmax": lambda t: t.log_softmax(-1),
    "logsumexp": lambda t: t.logsumexp(1),
    "logsumexp_tuple_keepdim": lambda t: t.logsumexp((0, 1), keepdim=True),
    "var": lambda t: t.var(dim=1),
    "var_all": lambda t: t.var(),
    "std": lambda t: t.std(dim=0, keepdim=True),
    "norm": lambda t: t.norm(dim=1),
    "prod": lambda t: t.prod(1),
    "amax": lambda t: t.amax(1) ** 2,
    "max_dim": lambda t: t.max(0)[0] ** 2,
}


@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
@pytest.mark.parametrize("name", list(GRADGRAD))
def test_gradgradcheck(rng, name, layout):
    _, x = leaf(rng, (3, 4), layout, low=0.5, high=1.5)
    assert gradgradcheck(GRADGRAD[name], (x,))


@pytest.mark.parametrize("name", list(GRADGRAD))
def test_create_graph_matches_torch(torch, rng, name):
    """Hessian-vector products through fastgrad.autograd.grad(create_graph=True)."""
    fn = GRADGRAD[name]
    base = rng.uniform(0.5, 1.5, (3, 4))
    x = fg.tensor(base).requires_grad_()
    out = fn(x)
    v = rng.standard_normal(tuple(out.shape))
    w = rng.standard_normal((3, 4))
    (g1,) = fg.autograd.grad(out, x, grad_outputs=fg.tensor(v), create_graph=True)
    assert g1.requires_grad
    (g2,) = fg.autograd.grad((g1 * fg.tensor(w)).sum(), x)
    tx = torch_leaf(torch, base)
    (tg1,) = torch.autograd.grad(
        fn(tx), tx, grad_outputs=torch.tensor(v), create_graph=True
    )
    (tg2,) = torch.autograd.grad((tg1 * torch.tensor(w)).sum(), tx)
    assert_close(g1.detach(), tg1, rtol=1e-7, atol=1e-9)
    assert_close(g2, tg2, rtol=1e-7, atol=1e-9)


def test_prod_second_derivative_through_single_zero(torch):
    base = np.array([2.0, 0.0, 3.0, -1.5])
    x = fg.tensor(base).requires_grad_()
    (g1,) = fg.autograd.grad(x.prod(), x, create_graph=True)
    (g2,) = fg.autograd.grad(g1.sum(), x)
    tx = torch_leaf(torch, base)
    (tg1,) = torch.autograd.grad(tx.prod(), tx, create_graph=True)
    (tg2,) = torch.autograd.grad(tg1.sum(), tx)
    assert_close(g2, tg2)
