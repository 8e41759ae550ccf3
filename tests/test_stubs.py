"""The checked-in python/fastgrad/_C.pyi matches the built extension."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_stub_matches_extension():
    pytest.importorskip("pybind11_stubgen")
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "gen_stubs.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
