"""Shared by the test_shape*.py files: run one lambda on fastgrad and torch
over the very same memory, and check a fastgrad view against torch's."""

import re

import fastgrad as fg
import numpy as np
import pytest
from helpers import assert_close

DTYPES = [np.float32, np.int64, np.bool_]
LAYOUTS = ["contiguous", "transposed", "sliced"]


def torch_twin(torch, x):
    """A torch tensor over the very same memory and strides as fastgrad's x."""
    return torch.from_numpy(x.numpy())


def run_both(torch, fn, x):
    """fn(fg, x) and fn(torch, x'), or the torch exception type."""
    tt = torch_twin(torch, x)
    try:
        expected = fn(torch, tt)
    except Exception as e:  # noqa: BLE001 - we mirror whatever torch raises
        with pytest.raises(
            type(e), match=r"^\w+: " + re.escape(str(e).splitlines()[0])
        ):
            fn(fg, x)
        return None, None, tt
    return fn(fg, x), expected, tt


def check_view(out, expected):
    """out is a fastgrad view, expected torch's view of the same memory."""
    assert tuple(out.shape) == tuple(expected.shape)
    assert out.stride() == expected.stride()
    assert (
        out.storage_offset() - expected.storage_offset() == 0 or expected.numel() == 0
    )
    if expected.numel() > 0:
        assert out.data_ptr() == expected.data_ptr()
    assert_close(out, expected)
    # Writing through the view must change the base's memory exactly where
    # torch's view looks (stride-0 views can't be written, like in torch).
    if out.numel() > 0 and all(
        s != 0 or n == 1 for s, n in zip(out.stride(), out.shape)
    ):
        out.fill_(1)
        assert (expected.numpy() == 1).all()
