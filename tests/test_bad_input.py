"""Bad input never crashes the interpreter: it raises a Python exception naming the op."""

import subprocess
import sys
from pathlib import Path

import pytest

import fastgrad as fg

FUZZ = Path(__file__).parent / "fuzz" / "fuzz_api.py"


def test_api_fuzz_raises_only_python_exceptions():
    r = subprocess.run([sys.executable, "-X", "faulthandler", str(FUZZ)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    assert "unexpected 0" in r.stdout


@pytest.mark.parametrize("make", [
    lambda: fg.zeros(2**40, 2**40),
    lambda: fg.empty(2**33, 2**33),
    lambda: fg.full((2**31, 2**31, 2), 1),
    lambda: fg.eye(2**40),
])
def test_element_count_overflow(make):
    with pytest.raises(RuntimeError, match="overflows int64"):
        make()


@pytest.mark.parametrize("make", [lambda: fg.zeros(2**62), lambda: fg.linspace(0, 1, 2**62),
                                  lambda: fg.ones(2**61, dtype=fg.float64)])
def test_byte_size_overflow(make):
    with pytest.raises(RuntimeError, match="out of memory"):
        make()


def test_zero_dim_size_and_stride():
    z = fg.tensor(1.0)
    with pytest.raises(IndexError, match="no dimensions"):
        z.size(-1)
    with pytest.raises(IndexError, match="no dimensions"):
        z.stride(0)


@pytest.mark.parametrize("call,exc,match", [
    (lambda: fg.zeros_like("a"), TypeError, "zeros_like: expected a Tensor"),
    (lambda: fg.as_tensor([1], dtype="float"), TypeError, "as_tensor: dtype"),
    (lambda: fg.ones(2).type_as(None), TypeError, "type_as"),
    (lambda: fg.ones(3) + fg.ones(2), ValueError, r"add: shapes \(3,\) and \(2,\)"),
    (lambda: fg.ones(2, 3) @ fg.ones(4, 5), RuntimeError, r"matmul: \(2, 3\) @ \(4, 5\): inner dimensions 3 and 4 differ"),
    (lambda: fg.ones(3)[5], IndexError, "index 5 is out of bounds for dimension 0 with size 3"),
    (lambda: fg.ones(4, 6).t().view(24), RuntimeError, r"view.*Use \.reshape"),
    (lambda: fg.ones(3).sum(dim=2), IndexError, "sum: dimension"),
])
def test_error_messages_name_the_op(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
