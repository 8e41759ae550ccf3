"""Shared test helpers: compare fastgrad results with numpy/torch."""

import numpy as np

import fastgrad as fg

NP_DTYPES = {
    fg.float32: np.float32,
    fg.float64: np.float64,
    fg.int32: np.int32,
    fg.int64: np.int64,
    fg.bool: np.bool_,
}


def to_np(t):
    """A numpy copy of a fastgrad (or torch) tensor, any layout, any device."""
    return np.array(t.detach().cpu().numpy(), copy=True)


def check_device(actual):
    """In a device-generic test (conftest's `device` fixture) results live on
    the device under test: an op that fell back to the CPU is a bug."""
    want = fg.get_default_device()
    if want.type != "cpu":
        assert actual.device.type == want.type, f"result on {actual.device}, expected {want}"


def assert_close(actual, expected, rtol=1e-5, atol=1e-6, check_dtype=True):
    """actual: fastgrad tensor; expected: numpy array or torch tensor."""
    check_device(actual)
    if hasattr(expected, "detach"):  # torch
        exp_dtype = str(expected.dtype).replace("torch.", "")
        expected = expected.detach().cpu().numpy()
        if check_dtype:
            assert actual.dtype.name == exp_dtype, f"dtype {actual.dtype} != {exp_dtype}"
    else:
        expected = np.asarray(expected)
        if check_dtype:
            assert NP_DTYPES[actual.dtype] == expected.dtype, f"dtype {actual.dtype} != {expected.dtype}"
    got = to_np(actual)
    assert tuple(actual.shape) == expected.shape, f"shape {tuple(actual.shape)} != {expected.shape}"
    if expected.dtype.kind in "biu":
        np.testing.assert_array_equal(got, expected)
    else:
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, equal_nan=True)


def make(rng, shape, dtype=np.float32, low=-2.0, high=2.0, layout="contiguous"):
    """A numpy array and the fastgrad tensor with the same values.

    layout: "contiguous", "transposed" (a permuted view) or "sliced" (a stepped view),
    so that kernels see non-contiguous strides.
    """
    if np.dtype(dtype) == np.bool_:
        base = rng.random(shape) > 0.5
    elif np.dtype(dtype).kind in "iu":
        base = rng.integers(int(low), int(high) + 1, size=shape).astype(dtype)
    else:
        base = rng.uniform(low, high, size=shape).astype(dtype)
    if layout == "contiguous" or len(shape) == 0:
        return base, fg.tensor(base)
    if fg.get_default_device().type != "cpu":
        # The same strided views, made on the device under test.
        if layout == "transposed":
            return base, fg.tensor(np.ascontiguousarray(base.T)).permute(*reversed(range(len(shape))))
        if layout == "sliced":
            big = np.zeros(tuple(2 * s for s in shape), dtype=base.dtype)
            big[tuple(slice(None, None, 2) for _ in shape)] = base
            return base, fg.tensor(big)[tuple(slice(None, None, 2) for _ in shape)]
    # Non-contiguous layouts are numpy views shared with fastgrad (from_numpy
    # keeps numpy's strides), so kernels see real strided memory.
    if layout == "transposed":
        holder = np.ascontiguousarray(base.T)
        return base, fg.from_numpy(holder.T)
    if layout == "sliced":
        big = np.zeros(tuple(2 * s for s in shape), dtype=base.dtype)
        view = big[tuple(slice(None, None, 2) for _ in shape)]
        view[...] = base
        return base, fg.from_numpy(view)
    raise ValueError(layout)
