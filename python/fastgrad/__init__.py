"""fastgrad: eager tensors with a C++ core and a PyTorch-style API."""

import os as _os

# Our OpenMP kernels and OpenBLAS's own pthreads share the cores; OpenMP's default
# spin-waiting between regions starves OpenBLAS when the machine is busy (10-50x
# slower small gemms on a loaded 2-core box). Sleep instead; users may override.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# Likewise OpenBLAS's idle workers spin 2^28 cycles (~0.1 s) after every call
# by default, taking a core from our OpenMP kernels in between GEMMs; 2^22
# cycles (~1.5 ms) still covers back-to-back GEMMs. Read when OpenBLAS loads.
_os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "22")

# Load the OpenBLAS that numpy's wheels ship before the extension needs it
# (an editable build's _C cannot find it through its RUNPATH).
import scipy_openblas32 as _openblas  # noqa: F401

from . import _C
from ._C import Tensor, device, dtype, from_numpy  # noqa: F401
from ._tensor import Size, tensor, as_tensor  # noqa: F401
from . import cuda  # noqa: F401
from ._factories import *  # noqa: F401,F403
from . import autograd, distributed, nn, optim, return_types, utils  # noqa: F401
from . import jit, onnx  # noqa: F401
from .serialization import save, load  # noqa: F401
from .utils.dlpack import from_dlpack  # noqa: F401
from .autograd.grad_mode import enable_grad, inference_mode, no_grad, set_grad_enabled  # noqa: F401

bool = _C.dtype.bool  # noqa: A001  (torch.bool)
int32 = _C.dtype.int32
int64 = _C.dtype.int64
float32 = _C.dtype.float32
float64 = _C.dtype.float64
float16 = _C.dtype.float16
bfloat16 = _C.dtype.bfloat16
half = float16
int = int64  # noqa: A001
long = int64
float = float32  # noqa: A001
double = float64


def _export_ops():
    # Every public function of _C is a fastgrad.* op (add, sin, sum, ...).
    g = globals()
    for name in dir(_C):
        if not name.startswith("_") and name not in g:
            g[name] = getattr(_C, name)


_export_ops()
del _export_ops

__version__ = "0.1.0"
