"""The NCCL backend: collectives on CUDA tensors through libnccl, loaded at run
time by the C++ core (`_C._nccl`, CUDA builds only). MPI still starts the
processes and carries the NCCL unique id from rank 0 to the others; the
agreement check and find_unused_parameters' flags also go over MPI."""

import glob
import os

from .. import _C
from ._mpi import MPIBackend
from ._work import Work

_NCCL_OPS = {"SUM": 0, "PRODUCT": 1, "MAX": 2, "MIN": 3, "AVG": 4}


def find_libnccl():
    """libnccl.so.2 from the nvidia-nccl wheel (nvidia-nccl-cu13), else the
    dynamic loader's search path; FASTGRAD_NCCL_LIBRARY overrides both."""
    if os.environ.get("FASTGRAD_NCCL_LIBRARY"):
        return [os.environ["FASTGRAD_NCCL_LIBRARY"]]
    found = []
    try:
        import nvidia

        for root in nvidia.__path__:
            found += sorted(glob.glob(os.path.join(root, "**", "libnccl.so*"), recursive=True))
    except ImportError:
        pass
    return found + ["libnccl.so.2"]


class NCCLBackend:
    name = "nccl"
    cuda = True

    def __init__(self, device_id=None):
        if not hasattr(_C, "_nccl"):
            raise RuntimeError(
                "init_process_group: backend 'nccl' needs a CUDA build of fastgrad (this one is "
                "built without CUDA: use backend='mpi' for CPU tensors, or rebuild with "
                "`pip install . -Ccmake.define.FASTGRAD_CUDA=ON`)"
            )
        self._mpi = MPIBackend()
        self.MPI, self.mpi_comm = self._mpi.MPI, self._mpi.comm
        self.rank, self.size = self._mpi.rank, self._mpi.size
        try:
            _C._nccl.load(find_libnccl())
            if device_id is None:
                device = self.rank % max(1, _C._cuda.device_count())
            else:
                device = device_id.index if hasattr(device_id, "index") else int(device_id)
            uid = _C._nccl.unique_id() if self.rank == 0 else None
            uid = self.mpi_comm.bcast(uid, root=0)
            self._comm = _C._nccl.Communicator(uid, self.size, self.rank, device)
        except BaseException:
            self._mpi.close()
            raise
        d = _C.dtype
        self.reduce_dtypes = frozenset({d.float32, d.float64, d.float16, d.bfloat16, d.int32, d.int64})

    def close(self):
        self._comm = None
        self._mpi.close()

    @staticmethod
    def _result(handle, async_op):
        # torch's NCCL semantics: even a "blocking" collective only makes the
        # current CUDA stream wait for it; the host goes on.
        work = Work(handle.wait, handle.query, keep=(handle,))
        if async_op:
            return work
        work.wait()
        return None

    def all_reduce(self, t, op, async_op):
        return self._result(self._comm.all_reduce(t, _NCCL_OPS[op]), async_op)

    def broadcast(self, t, src, async_op):
        return self._result(self._comm.broadcast(t, src), async_op)

    def all_gather_into_tensor(self, out, t, async_op):
        return self._result(self._comm.all_gather(out, t), async_op)

    def reduce_scatter_tensor(self, out, t, op, async_op):
        return self._result(self._comm.reduce_scatter(out, t, _NCCL_OPS[op]), async_op)

    def barrier(self, async_op):
        # Host-side: MPI's barrier, after this rank's queued GPU work finished.
        _C._cuda.synchronize(-1)
        return self._mpi.barrier(async_op)
