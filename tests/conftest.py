import numpy as np
import pytest

import fastgrad


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


# Device-generic test modules say `pytestmark = pytest.mark.usefixtures("device")`:
# each of their tests then runs once per device, with the factories
# (fastgrad.tensor, zeros, rand, layers' parameters, ...) defaulting to it, so
# one test body checks the CPU and the CUDA kernels alike. The CUDA runs are
# marked `cuda` and skip without a CUDA build and a GPU.
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]


@pytest.fixture(params=DEVICES)
def device(request):
    fastgrad.set_default_device(request.param)
    try:
        yield request.param
    finally:
        fastgrad.set_default_device(None)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def pytest_collection_modifyitems(config, items):
    if not (hasattr(fastgrad, "cuda") and fastgrad.cuda.is_available()):
        skip = pytest.mark.skip(reason="needs a CUDA build and a GPU")
        for item in items:
            # The marker itself: item.keywords also holds directory names.
            if item.get_closest_marker("cuda"):
                item.add_marker(skip)
    # `cpu_only` tests in a device-generic module check CPU internals (BLAS
    # copies, numpy memory sharing): their other-device variants are dropped.
    for item in items:
        spec = getattr(item, "callspec", None)
        if item.get_closest_marker("cpu_only") and spec and spec.params.get("device", "cpu") != "cpu":
            item.add_marker(pytest.mark.skip(reason="checks a CPU-only mechanism"))
