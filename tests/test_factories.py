"""Deterministic creation ops: values, dtypes, shapes vs numpy and torch."""

import numpy as np
import pytest

import fastgrad as fg
from helpers import assert_close

DTYPES = [fg.bool, fg.int32, fg.int64, fg.float32, fg.float64]
NP = {fg.bool: np.bool_, fg.int32: np.int32, fg.int64: np.int64, fg.float32: np.float32, fg.float64: np.float64}


def tdt(torch, dt):
    return getattr(torch, dt.name)


# ---- size argument forms ------------------------------------------------------------

SIZE_FORMS = [
    ((2, 3), {}, (2, 3)),
    (((2, 3),), {}, (2, 3)),
    (([2, 3],), {}, (2, 3)),
    ((fg.Size([4, 0, 2]),), {}, (4, 0, 2)),
    (([],), {}, ()),
    (((),), {}, ()),
    ((5,), {}, (5,)),
    ((np.int64(3), 2), {}, (3, 2)),
    ((), {"size": (2, 1)}, (2, 1)),
]


@pytest.mark.parametrize("fn", ["zeros", "ones", "empty", "rand", "randn"])
@pytest.mark.parametrize("args,kwargs,shape", SIZE_FORMS)
def test_size_forms(fn, args, kwargs, shape, torch):
    t = getattr(fg, fn)(*args, **kwargs)
    assert tuple(t.shape) == shape
    assert t.dtype == fg.float32
    targs = tuple(tuple(a) if isinstance(a, fg.Size) else a for a in args)
    assert tuple(getattr(torch, fn)(*targs, **kwargs).shape) == shape


@pytest.mark.parametrize("fn", ["zeros", "ones", "empty", "rand", "randn"])
@pytest.mark.parametrize("bad", [(2.5,), (2, "3"), ((2, None),), (True,), ()])
def test_size_type_errors(fn, bad):
    with pytest.raises(TypeError, match=fn):
        getattr(fg, fn)(*bad)


@pytest.mark.parametrize("fn", ["zeros", "ones", "empty", "rand", "randn"])
def test_negative_size(fn, torch):
    with pytest.raises(RuntimeError, match=f"{fn}: .*negative dimension -1"):
        getattr(fg, fn)(2, -1)
    with pytest.raises(RuntimeError):
        getattr(torch, fn)(2, -1)


def test_negative_size_full_randint():
    with pytest.raises(RuntimeError, match="full: .*negative"):
        fg.full((-2,), 1.0)
    with pytest.raises(RuntimeError, match="randint: .*negative"):
        fg.randint(0, 5, (3, -4))


# ---- zeros / ones / full / empty -----------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(), (0,), (3,), (2, 3, 4)])
def test_zeros_ones(dtype, shape, torch):
    assert_close(fg.zeros(shape, dtype=dtype), np.zeros(shape, NP[dtype]))
    ones = fg.ones(*shape, dtype=dtype) if shape else fg.ones(shape, dtype=dtype)
    assert_close(ones, np.ones(shape, NP[dtype]))
    assert_close(fg.zeros(shape, dtype=dtype), torch.zeros(shape, dtype=tdt(torch, dtype)))
    assert_close(fg.ones(shape, dtype=dtype), torch.ones(shape, dtype=tdt(torch, dtype)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_empty(dtype):
    t = fg.empty(3, 0, 2, dtype=dtype)
    assert tuple(t.shape) == (3, 0, 2) and t.dtype == dtype and t.is_contiguous()
    t = fg.empty((4, 5), dtype=dtype)
    assert tuple(t.shape) == (4, 5) and t.numel() == 20


FILL_CASES = [True, False, 3, -7, 2.5, 1e30, float("inf"), float("nan")]


@pytest.mark.parametrize("fill", FILL_CASES)
@pytest.mark.parametrize("dtype", [None] + DTYPES)
def test_full_matches_torch(fill, dtype, torch):
    if dtype in (fg.int32, fg.int64) and isinstance(fill, float) and not np.isfinite(fill):
        return  # float -> int of inf/nan is undefined behaviour in both
    if dtype in (fg.int32, fg.int64) and fill == 1e30:
        return
    kw = {} if dtype is None else {"dtype": dtype}
    tkw = {} if dtype is None else {"dtype": tdt(torch, dtype)}
    assert_close(fg.full((2, 3), fill, **kw), torch.full((2, 3), fill, **tkw))


def test_full_dtype_inference(torch):
    # The table PyTorch uses: bool / int / float fill -> bool / int64 / default float.
    for fill, expected in [(True, fg.bool), (3, fg.int64), (3.0, fg.float32)]:
        assert fg.full((2,), fill).dtype == expected
        assert str(torch.full((2,), fill).dtype).replace("torch.", "") == expected.name
    assert fg.full((2,), fg.tensor(2.5)).dtype == fg.float32
    assert_close(fg.full([], 4), np.array(4, np.int64))


def test_default_dtype_followed():
    old = fg.get_default_dtype()
    try:
        fg.set_default_dtype(fg.float64)
        for t in [fg.zeros(2), fg.ones(2), fg.full((2,), 1.5), fg.arange(0.0, 1.0, 0.5),
                  fg.linspace(0, 1, 3), fg.eye(2), fg.rand(2), fg.randn(2), fg.empty(2)]:
            assert t.dtype == fg.float64
        assert fg.full((2,), 1).dtype == fg.int64
    finally:
        fg.set_default_dtype(old)


# ---- arange ----------------------------------------------------------------------------

ARANGE_CASES = [
    ((5,), {}),
    ((0,), {}),
    ((2, 9), {}),
    ((0, 10, 3), {}),
    ((10, 0, -3), {}),
    ((-5, 5, 2), {}),
    ((0.0, 1.0, 0.1), {}),
    ((0, 1, 0.3), {}),
    ((1.5,), {}),
    ((5, 5), {}),
    ((1, 4), {"dtype": fg.float64}),
    ((0.5, 3, 1), {"dtype": fg.int64}),
    ((0, 3.5, 1.5), {"dtype": fg.int32}),
    ((-3, 3, 0.25), {"dtype": fg.float64}),
    ((True,), {}),
    ((0, 2**62, 2**61), {}),
    ((0, 100000, 1), {"dtype": fg.float32}),
    ((0, 7), {"dtype": fg.int32}),
]


@pytest.mark.parametrize("args,kw", ARANGE_CASES)
def test_arange_matches_torch(args, kw, torch):
    tkw = {k: (tdt(torch, v) if k == "dtype" else v) for k, v in kw.items()}
    assert_close(fg.arange(*args, **kw), torch.arange(*args, **tkw))


def test_arange_numpy_and_kwargs():
    assert_close(fg.arange(2, 11, 3), np.arange(2, 11, 3))
    assert_close(fg.arange(start=1, end=4, step=1, dtype=fg.float32), np.arange(1, 4, dtype=np.float32))
    assert_close(fg.arange(fg.tensor(4)), np.arange(4))
    assert_close(fg.arange(0, -2.5, -0.5, dtype=fg.float64), np.arange(0, -2.5, -0.5))


@pytest.mark.parametrize(
    "args,match",
    [
        ((0, 5, 0), "arange: step must be nonzero"),
        ((0.0, 1.0, 0.0), "arange: step must be nonzero"),
        ((5, 0, 1), "arange: upper bound and lower bound inconsistent"),
        ((0, 5, -1), "arange: upper bound and lower bound inconsistent"),
        ((0, float("inf")), "arange: unsupported range"),
        ((0, float("nan")), "arange: unsupported range"),
    ],
)
def test_arange_errors(args, match, torch):
    with pytest.raises(RuntimeError, match=match):
        fg.arange(*args)
    with pytest.raises(RuntimeError):
        torch.arange(*args)


def test_arange_int_step_truncates_to_zero():
    with pytest.raises(RuntimeError, match="arange: step must be nonzero"):
        fg.arange(0, 2.5, 0.5, dtype=fg.int64)


# ---- linspace ---------------------------------------------------------------------------

LINSPACE_CASES = [
    (0, 1, 5, None),
    (0, 10, 4, fg.int64),
    (0, -10, 5, fg.int32),
    (-1.5, 2.25, 7, fg.float64),
    (1, 0, 1024, None),
    (3, 3, 1, None),
    (0, 10, 1, None),
    (0, 10, 0, None),
    (2, 5, 2, fg.float32),
]


@pytest.mark.parametrize("start,end,steps,dtype", LINSPACE_CASES)
def test_linspace_matches_torch_numpy(start, end, steps, dtype, torch):
    kw = {} if dtype is None else {"dtype": dtype}
    tkw = {} if dtype is None else {"dtype": tdt(torch, dtype)}
    got = fg.linspace(start, end, steps, **kw)
    assert_close(got, torch.linspace(start, end, steps, **tkw), rtol=1e-6, atol=1e-6)
    if dtype is None or dtype.is_floating_point:
        exp = np.linspace(start, end, steps).astype(NP[dtype or fg.float32])
        assert_close(got, exp, rtol=1e-6, atol=1e-6)
        if steps >= 2:  # endpoints exact
            assert got.numpy()[0] == np.float32(start) and got.numpy()[-1] == np.float32(end)


def test_linspace_errors(torch):
    with pytest.raises(RuntimeError, match="linspace: number of steps must be non-negative"):
        fg.linspace(0, 1, -1)
    with pytest.raises(RuntimeError):
        torch.linspace(0, 1, -1)
    with pytest.raises(NotImplementedError, match="linspace"):
        fg.linspace(0, 1, 3, dtype=fg.bool)
    with pytest.raises(TypeError):
        fg.linspace(0, 1)  # steps is required


# ---- eye --------------------------------------------------------------------------------


@pytest.mark.parametrize("n,m", [(0, None), (1, None), (3, None), (2, 4), (4, 2), (3, 0)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_eye(n, m, dtype, torch):
    got = fg.eye(n, m, dtype=dtype) if m is not None else fg.eye(n, dtype=dtype)
    assert_close(got, np.eye(n, m, dtype=NP[dtype]))
    tt = torch.eye(n, m, dtype=tdt(torch, dtype)) if m is not None else torch.eye(n, dtype=tdt(torch, dtype))
    assert_close(got, tt)


def test_eye_errors(torch):
    with pytest.raises(RuntimeError, match="eye: n must be greater or equal to 0, got -1"):
        fg.eye(-1)
    with pytest.raises(RuntimeError, match="eye: m must be greater or equal to 0, got -2"):
        fg.eye(3, -2)
    with pytest.raises(RuntimeError):
        torch.eye(-1)


# ---- *_like ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_like_keeps_dtype_and_shape(dtype, rng, torch):
    src = fg.from_numpy(np.zeros((3, 4), NP[dtype])[:, ::2])  # non-contiguous source
    tsrc = torch.zeros((3, 2), dtype=tdt(torch, dtype))
    for name in ["zeros_like", "ones_like", "empty_like"]:
        got = getattr(fg, name)(src)
        assert tuple(got.shape) == (3, 2) and got.dtype == dtype and got.is_contiguous()
        if name != "empty_like":
            assert_close(got, getattr(torch, name)(tsrc))
    assert_close(fg.full_like(src, 2.7), torch.full_like(tsrc, 2.7))
    assert_close(fg.full_like(src, 5, dtype=fg.float64), torch.full_like(tsrc, 5, dtype=torch.float64))
    assert fg.zeros_like(src, dtype=fg.float32).dtype == fg.float32
    assert fg.zeros_like(src).device == src.device


def test_like_random_dtypes(torch):
    f = fg.zeros(2, 3, dtype=fg.float64)
    assert fg.rand_like(f).dtype == fg.float64 and tuple(fg.rand_like(f).shape) == (2, 3)
    assert fg.randn_like(f, dtype=fg.float32).dtype == fg.float32
    r = fg.randint_like(f, 5)
    assert r.dtype == fg.float64 and ((r.numpy() >= 0) & (r.numpy() < 5)).all()
    r = fg.randint_like(fg.zeros(100, dtype=fg.int32), 2, 5)
    assert r.dtype == fg.int32 and set(np.unique(r.numpy())) <= {2, 3, 4}
    assert str(torch.randint_like(torch.zeros(3), 5).dtype) == "torch.float32"
    with pytest.raises(NotImplementedError, match="rand"):
        fg.rand_like(fg.zeros(3, dtype=fg.int64))


# ---- requires_grad / device ------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda **k: fg.zeros(2, 3, **k),
        lambda **k: fg.ones((2,), **k),
        lambda **k: fg.empty(2, **k),
        lambda **k: fg.full((2,), 1.5, **k),
        lambda **k: fg.arange(0.0, 3.0, **k),
        lambda **k: fg.linspace(0, 1, 4, **k),
        lambda **k: fg.eye(3, **k),
        lambda **k: fg.rand(2, **k),
        lambda **k: fg.randn(2, **k),
        lambda **k: fg.normal(0.0, 1.0, (2,), **k),
        lambda **k: fg.zeros_like(fg.zeros(2), **k),
        lambda **k: fg.rand_like(fg.zeros(2), **k),
    ],
)
def test_requires_grad_and_device(make):
    assert make().requires_grad is False
    assert make(requires_grad=True).requires_grad is True
    assert make(device="cpu").device == fg.device("cpu")
    assert make(device=fg.device("cpu")).device == fg.device("cpu")
    if not fg.cuda.is_available():  # the message follows the build (CPU, or CUDA without a GPU)
        msg = "no CUDA GPU" if fg.cuda.is_built() else "built without CUDA"
        with pytest.raises(RuntimeError, match=msg):
            make(device="cuda")


def test_requires_grad_int_rejected(torch):
    with pytest.raises(RuntimeError, match="floating point"):
        fg.zeros(2, dtype=fg.int64, requires_grad=True)
    with pytest.raises(RuntimeError):
        torch.zeros(2, dtype=torch.int64, requires_grad=True)


# ---- the default device (torch.set_default_device) ----------------------------


def test_default_device_routes_factories_and_layers():
    assert fg.get_default_device() == fg.device("cpu")
    with fg.device("cpu"):
        assert fg.get_default_device() == fg.device("cpu")
        assert fg.zeros(2).device == fg.device("cpu")
        assert fg.nn.Linear(2, 3).weight.device == fg.device("cpu")
    fg.set_default_device("cpu")
    try:
        assert fg.tensor([1.0]).device == fg.device("cpu")
    finally:
        fg.set_default_device(None)
    assert fg.get_default_device() == fg.device("cpu")


def test_default_device_rejects_non_devices():
    with pytest.raises(TypeError, match=r"set_default_device\(\): expected a device"):
        fg.set_default_device(1.5)
    with pytest.raises(ValueError, match="index must be >= 0"):
        fg.set_default_device(-1)
    with pytest.raises(ValueError, match="tpu"):
        fg.set_default_device("tpu")
    assert fg.get_default_device() == fg.device("cpu")


@pytest.mark.skipif(fg.cuda.is_available(), reason="checks the CPU build's message")
def test_default_device_cuda_without_gpu_fails_at_creation():
    fg.set_default_device("cuda")
    try:
        assert fg.from_numpy(np.zeros(2)).device == fg.device("cpu")  # like torch
        with pytest.raises(RuntimeError, match="CUDA"):
            fg.zeros(2)
        with pytest.raises(RuntimeError, match="CUDA"):
            fg.tensor([1.0])
    finally:
        fg.set_default_device(None)
