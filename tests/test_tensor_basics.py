"""Construction, attributes, numpy interop, Python protocols and repr."""

import numpy as np
import pytest

import fastgrad as fg
from helpers import assert_close


@pytest.mark.parametrize(
    "data",
    [1, 2.5, True, [1, 2, 3], [1.0, 2, 3], [True, False], [[1, 2], [3, 4]], [],
     [[1.5], [2.5]], np.arange(6, dtype=np.int32).reshape(2, 3), np.float64(3.0),
     np.array([1.0, 2.0]), np.array(7), [[[]]], [[1, 2.0]]],
    ids=repr,
)
def test_tensor_infers_dtype_and_shape_like_torch(torch, data):
    expected = torch.tensor(data)
    got = fg.tensor(data)
    assert_close(got, expected)


def test_tensor_dtype_argument_and_errors():
    assert fg.tensor([1, 2], dtype=fg.float64).dtype == fg.float64
    assert fg.tensor([1.7, -1.7], dtype=fg.int64).tolist() == [1, -1]
    with pytest.raises(ValueError, match="tensor"):
        fg.tensor([[1, 2], [3]])
    with pytest.raises(TypeError, match="tensor"):
        fg.tensor(["a", "b"])
    with pytest.raises(RuntimeError, match="requires_grad_"):
        fg.tensor([1, 2], requires_grad=True)


def test_from_numpy_shares_memory_both_ways():
    arr = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = fg.from_numpy(arr)
    arr[0, 0] = 100
    assert t[0, 0].item() == 100 if hasattr(t, "__getitem__") and False else t.numpy()[0, 0] == 100
    t.add_(1)
    assert arr[0, 0] == 101
    back = t.numpy()
    assert np.shares_memory(back, arr)
    # Non-contiguous numpy views keep their strides.
    view = fg.from_numpy(arr[:, ::2])
    assert view.stride() == (4, 2) and not view.is_contiguous()
    assert np.shares_memory(view.numpy(), arr)


def test_from_numpy_rejects_unsupported():
    with pytest.raises(TypeError, match="from_numpy.*complex128"):
        fg.from_numpy(np.zeros(3, dtype=np.complex128))
    with pytest.raises(TypeError, match="from_numpy.*uint8"):
        fg.from_numpy(np.zeros(3, dtype=np.uint8))
    with pytest.raises(ValueError, match="negative"):
        fg.from_numpy(np.arange(4.0)[::-1])


def test_numpy_keeps_tensor_alive():
    t = fg.tensor(np.arange(5.0))
    arr = t.numpy()
    del t
    np.testing.assert_array_equal(arr, np.arange(5.0))


def test_tensor_keeps_numpy_alive():
    t = fg.from_numpy(np.arange(1000.0))
    import gc

    gc.collect()
    assert t.numpy().sum() == sum(range(1000))


def test_array_protocol_and_numpy_functions():
    t = fg.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert np.asarray(t).dtype == np.float32
    np.testing.assert_array_equal(np.array(t, dtype=np.float64), [[1, 2], [3, 4]])
    np.testing.assert_array_equal(np.concatenate([t, t])[2:], [[1, 2], [3, 4]])


def test_item_and_python_numbers():
    assert fg.tensor(3.5).item() == 3.5
    assert isinstance(fg.tensor(3).item(), int)
    assert fg.tensor([True]).item() is True
    assert float(fg.tensor([2.5])) == 2.5
    assert int(fg.tensor(7)) == 7
    assert bool(fg.tensor(0.0)) is False
    assert [10, 20, 30][fg.tensor(1)] == 20
    with pytest.raises(RuntimeError, match="2 elements"):
        fg.tensor([1.0, 2.0]).item()
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(fg.tensor([1, 2]))
    with pytest.raises(TypeError, match="index"):
        [1, 2][fg.tensor(1.0)]


def test_len_tolist_and_attributes():
    t = fg.tensor(np.arange(24, dtype=np.int64).reshape(2, 3, 4))
    assert len(t) == 2
    assert t.tolist() == np.arange(24).reshape(2, 3, 4).tolist()
    assert t.shape == (2, 3, 4) and t.size() == (2, 3, 4) and t.size(-1) == 4
    assert repr(t.shape) == "fastgrad.Size([2, 3, 4])"
    assert t.stride() == (12, 4, 1) and t.stride(0) == 12
    assert t.dim() == t.ndim == 3 and t.numel() == 24
    assert t.element_size() == 8 and t.nbytes == 192
    assert t.dtype == fg.int64 and t.device == fg.device("cpu") and str(t.device) == "cpu"
    assert t.is_contiguous() and not t.is_floating_point()
    with pytest.raises(TypeError, match="0-d"):
        len(fg.tensor(1.0))
    with pytest.raises(IndexError, match="size"):
        t.size(3)


def test_to_and_type_conversions(torch):
    t = fg.tensor([1.7, -2.2, 0.0])
    assert_close(t.to(fg.int64), torch.tensor([1.7, -2.2, 0.0]).to(torch.int64))
    assert_close(t.bool(), torch.tensor([1.7, -2.2, 0.0]).bool())
    assert t.double().dtype == fg.float64 and t.long().dtype == fg.int64 and t.int().dtype == fg.int32
    assert t.to(fg.float32) is t
    assert t.to(fg.float32, copy=True) is not t
    assert t.to("cpu") is t
    if not fg.cuda.is_built():
        with pytest.raises(RuntimeError, match="built without CUDA"):
            t.to("cuda")
    elif not fg.cuda.is_available():  # a CUDA build on a machine without a GPU
        with pytest.raises(RuntimeError, match="no CUDA GPU is available"):
            t.to("cuda")
    with pytest.raises(ValueError, match="device"):
        fg.device("tpu")


def test_requires_grad_flag():
    t = fg.tensor([1.0, 2.0], requires_grad=True)
    assert t.requires_grad
    with pytest.raises(RuntimeError, match="numpy"):
        t.numpy()
    assert t.detach().numpy().tolist() == [1.0, 2.0]


def test_dtype_objects():
    assert repr(fg.float32) == "fastgrad.float32"
    assert fg.float64.is_floating_point and not fg.int32.is_floating_point
    assert fg.float32.itemsize == 4
    assert fg.get_default_dtype() == fg.float32
    assert fg.promote_types(fg.int64, fg.float32) == fg.float32


REPR_CASES = [
    [1.0, 2.0, 3.0],
    [1.5, 2.25],
    [[1.0, 2.5], [3.0, 4.0]],
    [1, 2, 3],
    [True, False],
    3.5,
    7,
    [1e-6, 1.0],
    [1e10, 1.0],
    [float("nan"), 1.0, float("inf")],
    [-1.0, 0.5],
    np.zeros((0, 3), np.float32),
    np.zeros((0,), np.float32),
    np.arange(2000, dtype=np.float32),
    np.arange(24, dtype=np.int64).reshape(2, 3, 4),
    np.arange(3000, dtype=np.float32).reshape(30, 100) / 7,
]


@pytest.mark.parametrize("data", REPR_CASES, ids=lambda d: str(np.asarray(d).shape) + str(np.asarray(d).dtype))
def test_repr_matches_torch(torch, data):
    expected = repr(torch.tensor(data) if not isinstance(data, np.ndarray) else torch.from_numpy(data))
    assert repr(fg.tensor(data)) == expected.replace("torch.", "fastgrad.")


def test_repr_dtype_suffix(torch):
    assert repr(fg.tensor([1.0, 2.0], dtype=fg.float64)) == "tensor([1., 2.], dtype=fastgrad.float64)"
    assert repr(fg.tensor([1, 2], dtype=fg.int32)) == "tensor([1, 2], dtype=fastgrad.int32)"
    assert repr(fg.tensor([1.0], requires_grad=True)) == "tensor([1.], requires_grad=True)"
