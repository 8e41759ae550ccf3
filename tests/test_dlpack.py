"""DLPack exchange: zero-copy round trips with numpy and torch, lifetimes, errors."""

import ctypes
import gc
import weakref

import numpy as np
import pytest

import fastgrad as fg

DTYPES = ["float32", "float64", "int32", "int64", "bool"]


def _values(dtype, shape=(3, 4)):
    a = np.arange(int(np.prod(shape))).reshape(shape) % 5
    return a.astype(dtype)


def _views(t):
    """Non-contiguous views of a (3, 4) tensor: strides and storage offsets."""
    return {
        "contiguous": t,
        "transposed": t.t(),
        "sliced": t[1:, 1:3],
        "strided": t[:, ::2],
        "row": t[2],
        "expanded": t[0:1].expand(3, 4),
    }


# ---- fastgrad -> numpy / torch ------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_numpy_consumes_fastgrad(dtype):
    t = fg.from_numpy(_values(dtype))
    a = np.from_dlpack(t)
    assert a.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(a, t.numpy())
    assert a.ctypes.data == t.data_ptr()


@pytest.mark.parametrize("view", ["contiguous", "transposed", "sliced", "strided", "row", "expanded"])
def test_views_export_with_strides_and_offset(view, torch):
    t = _views(fg.arange(12.0).reshape(3, 4))[view]
    a = np.from_dlpack(t)
    tt = torch.from_dlpack(t)
    np.testing.assert_array_equal(a, t.numpy())
    np.testing.assert_array_equal(tt.numpy(), t.numpy())
    assert a.strides == tuple(s * 4 for s in t.stride())
    assert tt.stride() == t.stride()
    assert a.ctypes.data == t.data_ptr() == tt.data_ptr()


def test_export_shares_memory_both_ways(torch):
    t = fg.zeros(2, 3)
    a = np.from_dlpack(t)
    tt = torch.from_dlpack(t)
    a[0, 1] = 5.0
    assert t[0, 1].item() == 5.0 and tt[0, 1].item() == 5.0
    tt[1, 2] = 7.0
    assert t[1, 2].item() == 7.0
    t.add_(1)
    assert a[0, 0] == 1.0 and tt[0, 0].item() == 1.0


@pytest.mark.parametrize("dtype", DTYPES)
def test_torch_consumes_fastgrad(dtype, torch):
    t = fg.from_numpy(_values(dtype))
    tt = torch.from_dlpack(t)
    assert str(tt.dtype) == f"torch.{dtype}"
    np.testing.assert_array_equal(tt.numpy(), t.numpy())


def test_zero_dim_and_empty(torch):
    s = fg.tensor(2.5)
    assert np.from_dlpack(s).shape == () and np.from_dlpack(s)[()] == 2.5
    assert torch.from_dlpack(s).item() == 2.5
    e = fg.zeros(2, 0, 3)
    assert np.from_dlpack(e).shape == (2, 0, 3)
    assert tuple(torch.from_dlpack(e).shape) == (2, 0, 3)


def test_dlpack_device():
    assert fg.zeros(2).__dlpack_device__() == (1, 0)


def test_capsule_versions():
    t = fg.zeros(2)
    assert '"dltensor"' in repr(t.__dlpack__())
    assert '"dltensor_versioned"' in repr(t.__dlpack__(max_version=(1, 0)))
    assert '"dltensor_versioned"' in repr(t.__dlpack__(max_version=(2, 3)))
    assert '"dltensor"' in repr(t.__dlpack__(max_version=(0, 8)))
    assert '"dltensor"' in repr(fg.utils.dlpack.to_dlpack(t))


def test_copy_and_dl_device_arguments():
    t = fg.arange(4.0)
    copied = np.from_dlpack(t, copy=True)
    copied[0] = 9.0
    assert t[0].item() == 0.0
    shared = np.from_dlpack(t, copy=False, device="cpu")
    shared[0] = 9.0
    assert t[0].item() == 9.0
    assert '"dltensor_versioned"' in repr(t.__dlpack__(max_version=(1, 0), dl_device=(1, 0)))
    # a CPU tensor is on every CPU "device index": no copy needed
    u = fg.from_dlpack(t.__dlpack__(dl_device=(1, 3), copy=False))
    assert u.data_ptr() == t.data_ptr()


def test_producer_dies_first():
    t = fg.arange(6.0)
    a = np.from_dlpack(t[2:])
    del t
    gc.collect()
    np.testing.assert_array_equal(a, [2.0, 3.0, 4.0, 5.0])


def test_unconsumed_capsule_releases_tensor():
    arr = np.arange(3.0)
    ref = weakref.ref(arr)
    t = fg.from_numpy(arr)
    cap = t.__dlpack__(max_version=(1, 0))
    del arr, t
    gc.collect()
    assert ref() is not None  # the capsule owns the tensor
    del cap
    gc.collect()
    assert ref() is None


# ---- numpy / torch -> fastgrad ------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_fastgrad_consumes_numpy(dtype):
    a = _values(dtype)
    t = fg.from_dlpack(a)
    assert t.dtype == getattr(fg, dtype)
    np.testing.assert_array_equal(t.numpy(), a)
    assert t.data_ptr() == a.ctypes.data
    assert not t.requires_grad


@pytest.mark.parametrize("dtype", DTYPES)
def test_fastgrad_consumes_torch(dtype, torch):
    tt = torch.from_numpy(_values(dtype))
    t = fg.from_dlpack(tt)
    assert t.dtype == getattr(fg, dtype)
    np.testing.assert_array_equal(t.numpy(), tt.numpy())
    assert t.data_ptr() == tt.data_ptr()


def test_import_shares_memory(torch):
    a = np.zeros((2, 3), np.float32)
    t = fg.from_dlpack(a)
    t[0, 2] = 4.0
    assert a[0, 2] == 4.0
    a[1, 0] = 3.0
    assert t[1, 0].item() == 3.0

    tt = torch.zeros(4)
    u = fg.from_dlpack(tt)
    u.mul_(0).add_(2)
    assert tt.tolist() == [2.0] * 4
    tt[1] = -1.0
    assert u[1].item() == -1.0


def test_import_strided_views(torch):
    a = np.arange(24.0).reshape(4, 6)
    for view in (a.T, a[1:3, ::2], a[:, 4], a[2:, 1:][::2]):
        t = fg.from_dlpack(view)
        np.testing.assert_array_equal(t.numpy(), view)
        assert t.data_ptr() == view.ctypes.data
    tt = torch.arange(24.0).reshape(4, 6)
    for view in (tt.t(), tt[1:3, ::2], tt[:, 4], tt.expand(2, 4, 6)):
        t = fg.from_dlpack(view)
        np.testing.assert_array_equal(t.numpy(), view.numpy())
        assert t.stride() == view.stride() and t.data_ptr() == view.data_ptr()


def test_import_zero_dim_and_empty(torch):
    assert fg.from_dlpack(np.array(3.5)).shape == ()
    assert fg.from_dlpack(np.array(3.5)).item() == 3.5
    assert fg.from_dlpack(torch.tensor(7)).item() == 7
    assert fg.from_dlpack(np.zeros((0, 3))).shape == (0, 3)
    assert fg.from_dlpack(torch.zeros(3, 0)).shape == (3, 0)


def test_consumer_keeps_producer_alive(torch):
    a = np.arange(5.0)
    ref = weakref.ref(a)
    t = fg.from_dlpack(a[1:])
    del a
    gc.collect()
    assert ref() is not None
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0, 3.0, 4.0])
    v = t[::2]  # a view keeps the shared storage too
    del t
    gc.collect()
    assert ref() is not None and v.tolist() == [1.0, 3.0]
    del v
    gc.collect()
    assert ref() is None

    tt = torch.arange(4.0)
    tref = weakref.ref(tt)
    u = fg.from_dlpack(tt)
    del tt
    gc.collect()
    assert tref() is not None and u.tolist() == [0.0, 1.0, 2.0, 3.0]
    del u
    gc.collect()
    assert tref() is None


def test_raw_capsules(torch):
    legacy = torch.arange(3).__dlpack__()
    assert fg.from_dlpack(legacy).tolist() == [0, 1, 2]
    assert "used_dltensor" in repr(legacy)
    versioned = np.arange(3.0).__dlpack__(max_version=(1, 0))
    assert fg.from_dlpack(versioned).tolist() == [0.0, 1.0, 2.0]
    assert "used_dltensor_versioned" in repr(versioned)


def test_fastgrad_round_trip():
    t = fg.arange(6.0).reshape(2, 3)
    u = fg.from_dlpack(t.t())
    assert u.shape == (3, 2) and u.stride() == (1, 3)
    u[0, 1] = 10.0
    assert t[1, 0].item() == 10.0


# ---- errors -------------------------------------------------------------------


def test_export_requires_grad_error():
    t = fg.zeros(2, requires_grad=True)
    with pytest.raises(BufferError, match="require gradient, use tensor.detach()"):
        t.__dlpack__()
    with pytest.raises(BufferError, match="require gradient"):
        np.from_dlpack(t)
    assert np.from_dlpack(t.detach()).shape == (2,)


def test_export_argument_errors():
    t = fg.zeros(2)
    with pytest.raises(ValueError, match="stream must be None for cpu tensors, got 3"):
        t.__dlpack__(stream=3)
    with pytest.raises(TypeError, match="stream must be an int or None, got str"):
        t.__dlpack__(stream="s")
    with pytest.raises(TypeError, match=r"max_version must be a \(major, minor\) tuple"):
        t.__dlpack__(max_version=1)
    with pytest.raises(TypeError, match="dl_device must be a"):
        t.__dlpack__(dl_device="cpu")
    with pytest.raises(BufferError, match="can't export to DLPack device type 4"):
        t.__dlpack__(dl_device=(4, 0))
    with pytest.raises(BufferError, match="needs a copy, but copy=False"):
        t.__dlpack__(dl_device=(2, 0), copy=False)
    with pytest.raises(TypeError):
        t.__dlpack__(None)  # keyword-only, as in the array API


def test_import_dtype_errors(torch):
    with pytest.raises(TypeError, match="from_dlpack: unsupported dtype uint8; fastgrad supports"):
        fg.from_dlpack(np.zeros(3, np.uint8))
    with pytest.raises(TypeError, match="unsupported dtype complex128"):
        fg.from_dlpack(np.zeros(3, np.complex128))
    with pytest.raises(TypeError, match="unsupported dtype int16"):
        fg.from_dlpack(torch.zeros(3, dtype=torch.int16))
    # the failed import left the capsule unconsumed (its owner frees it)
    cap = np.zeros(3, np.uint16).__dlpack__()
    with pytest.raises(TypeError, match="unsupported dtype uint16"):
        fg.from_dlpack(cap)
    assert '"dltensor"' in repr(cap)


def test_import_object_errors():
    with pytest.raises(TypeError, match="expected an object with __dlpack__ or a DLPack capsule, got list"):
        fg.from_dlpack([1.0, 2.0])
    cap = np.arange(2.0).__dlpack__()
    fg.from_dlpack(cap)
    with pytest.raises(ValueError, match="capsule was already consumed"):
        fg.from_dlpack(cap)
    with pytest.raises(TypeError, match="to_dlpack: expected a Tensor, got ndarray"):
        fg.utils.dlpack.to_dlpack(np.zeros(2))


def _capsule_with_device(device_type, device_id=0):
    """numpy's legacy capsule with its DLTensor's device rewritten (DLTensor
    starts with void* data, then DLDevice {int32 type, int32 id})."""
    cap = np.zeros(2).__dlpack__()
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype, get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    device = (ctypes.c_int32 * 2).from_address(get(cap, b"dltensor") + 8)
    device[0], device[1] = device_type, device_id
    return cap


@pytest.mark.skipif(fg.cuda.is_available(), reason="checks the CPU-only build's message")
def test_import_cuda_without_cuda():
    cap = _capsule_with_device(2)
    with pytest.raises(ValueError, match=r"on cuda:0 but fastgrad sees 0 CUDA device\(s\)"):
        fg.from_dlpack(cap)


def test_import_unsupported_device():
    with pytest.raises(ValueError, match="unsupported DLPack device type 4"):
        fg.from_dlpack(_capsule_with_device(4))


def test_consumer_names_its_stream_for_cuda_producers():
    seen = {}

    class CudaProducer:
        def __dlpack_device__(self):
            return (2, 0)

        def __dlpack__(self, **kwargs):
            seen.update(kwargs)
            return _capsule_with_device(1)

    fg.from_dlpack(CudaProducer())
    assert seen == {"stream": 1, "max_version": (1, 0)}


def test_legacy_producer_without_max_version():
    class Legacy:
        def __dlpack_device__(self):
            return (1, 0)

        def __dlpack__(self, stream=None):
            return np.arange(3.0).__dlpack__()

    assert fg.from_dlpack(Legacy()).tolist() == [0.0, 1.0, 2.0]


@pytest.mark.parametrize("name", ["float16", "bfloat16"])
def test_16_bit_floats_share_memory_with_torch(torch, name):
    w = torch.tensor([1.5, -2.0, 65504.0]).to(getattr(torch, name))
    t = fg.from_dlpack(w)
    assert t.dtype == getattr(fg, name)
    w[0] = 3.0  # same memory
    assert t.float().tolist() == w.float().tolist()
    back = torch.from_dlpack(t)
    assert back.dtype == w.dtype and back.data_ptr() == w.data_ptr()


def test_float16_with_numpy():
    a = np.arange(4, dtype=np.float16)
    t = fg.from_dlpack(a)
    assert t.dtype == fg.float16
    assert np.shares_memory(np.from_dlpack(t), a)
