import numpy as np
import pytest

import fastgrad


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


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
