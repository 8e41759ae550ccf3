"""The MPI backend: collectives on CPU tensors through mpi4py, without copies.

Each tensor goes to MPI as an `MPI.buffer` over its own memory (its data_ptr and
byte count), so MPI reads and writes the tensor in place; the caller checked that
it is contiguous and on the CPU. Async collectives are MPI's non-blocking
collectives (Iallreduce, ...), wrapped in a Work.
"""

import sys
import time

import numpy as np

from .. import _C
from ._work import Work


def import_mpi(what):
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise RuntimeError(
            f"{what}: the MPI backend needs mpi4py and an MPI library: "
            'pip install "fastgrad[mpi]" (mpi4py + the mpich wheel), or mpi4py built '
            "against your site's MPI"
        ) from e
    return MPI


def tensor_buffer(t):
    """A writable buffer over `t`'s memory (no copy); `t` must stay alive."""
    from mpi4py import MPI

    return MPI.buffer.fromaddress(t.data_ptr(), t.numel() * t.element_size())


def _abort_on_uncaught(prev_hook, comm):
    # An uncaught exception on one rank would leave the others waiting forever in
    # their next collective: print it, then take the whole job down.
    def hook(exc_type, exc, tb):
        prev_hook(exc_type, exc, tb)
        sys.stderr.flush()
        sys.stdout.flush()
        # The launcher forwards our output through its own pipes, and the abort
        # tears them down: give it a moment to pass the traceback on (under load
        # it was otherwise lost).
        time.sleep(1.0)
        comm.Abort(1)

    return hook


class MPIBackend:
    name = "mpi"
    cuda = False  # the tensors it takes

    def __init__(self):
        MPI = import_mpi("init_process_group")
        self.MPI = MPI
        self.comm = MPI.COMM_WORLD.Dup()  # our own context: user MPI traffic never matches ours
        self.mpi_comm = self.comm  # what the agreement check runs on
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        d = _C.dtype
        self._types = {d.float32: MPI.FLOAT, d.float64: MPI.DOUBLE, d.int32: MPI.INT32_T,
                       d.int64: MPI.INT64_T}  # fmt: skip
        self.reduce_dtypes = frozenset(self._types)
        self._ops = {"SUM": MPI.SUM, "AVG": MPI.SUM, "PRODUCT": MPI.PROD, "MAX": MPI.MAX,
                     "MIN": MPI.MIN}  # fmt: skip
        self._prev_excepthook = sys.excepthook
        if self.size > 1:
            sys.excepthook = _abort_on_uncaught(sys.excepthook, MPI.COMM_WORLD)

    def close(self):
        if sys.excepthook is not self._prev_excepthook:
            sys.excepthook = self._prev_excepthook
        self.comm.Free()

    def _run(self, async_op, blocking, nonblocking, args, finish=None, keep=()):
        if not async_op:
            blocking(*args)
            if finish is not None:
                finish()
            return None
        req = nonblocking(*args)
        return Work(req.Wait, req.Test, finish, keep)

    def _avg(self, t, op):
        # MPI has no average: sum, then divide in place (the caller allows AVG
        # on floating tensors only). Through numpy: `t` may be a leaf that
        # requires grad, which an in-place fastgrad op would refuse.
        if op != "AVG":
            return None
        np_dtype = np.float32 if t.dtype == _C.dtype.float32 else np.float64

        def finish():
            values = np.frombuffer(tensor_buffer(t), np_dtype)
            values /= self.size

        return finish

    def all_reduce(self, t, op, async_op):
        c = self.comm
        buf = [tensor_buffer(t), self._types[t.dtype]]
        return self._run(async_op, c.Allreduce, c.Iallreduce, (self.MPI.IN_PLACE, buf, self._ops[op]),
                         self._avg(t, op), (t,))  # fmt: skip

    def broadcast(self, t, src, async_op):
        c = self.comm
        return self._run(async_op, c.Bcast, c.Ibcast, ([tensor_buffer(t), self.MPI.BYTE], src), keep=(t,))

    def all_gather_into_tensor(self, out, t, async_op):
        c, B = self.comm, self.MPI.BYTE
        args = ([tensor_buffer(t), B], [tensor_buffer(out), B])
        return self._run(async_op, c.Allgather, c.Iallgather, args, keep=(out, t))

    def reduce_scatter_tensor(self, out, t, op, async_op):
        c, dt = self.comm, self._types[t.dtype]
        args = ([tensor_buffer(t), dt], [tensor_buffer(out), dt], self._ops[op])
        return self._run(async_op, c.Reduce_scatter_block, c.Ireduce_scatter_block, args,
                         self._avg(out, op), (out, t))  # fmt: skip

    def barrier(self, async_op):
        c = self.comm
        return self._run(async_op, c.Barrier, c.Ibarrier, ())
