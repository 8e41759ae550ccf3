"""torch.distributed's functions over the MPI or NCCL backend.

Every collective checks its arguments locally, then (unless disabled) that all
ranks called the same collective with the same shapes and dtypes (Note
[Collective agreement check]), then hands the tensors to the backend.
"""

import os
import zlib

import numpy as np

from .. import _C
from .._factories import empty


class ReduceOp:
    """Reduction operators of all_reduce / reduce_scatter (torch.distributed.ReduceOp)."""

    SUM = "SUM"
    AVG = "AVG"
    PRODUCT = "PRODUCT"
    MAX = "MAX"
    MIN = "MIN"


_OPS = (ReduceOp.SUM, ReduceOp.AVG, ReduceOp.PRODUCT, ReduceOp.MAX, ReduceOp.MIN)
_FLOAT_ONLY = (ReduceOp.AVG,)


class GroupMember:
    WORLD = None  # the default group is the only group


_backend = None
_check_env = "FASTGRAD_DISTRIBUTED_CHECKS"


def _checks_enabled():
    return os.environ.get(_check_env, "1") not in ("0", "off", "OFF", "false")


def is_available():
    return True


def is_mpi_available():
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


def is_nccl_available():
    return hasattr(_C, "_nccl")  # bound in CUDA builds only


def is_initialized():
    return _backend is not None


def _group():
    if _backend is None:
        raise ValueError(
            "Default process group has not been initialized, please make sure to call "
            "init_process_group."
        )
    return _backend


def _check_group(what, group):
    if group is not None and group is not GroupMember.WORLD:
        raise ValueError(f"{what}: only the default group (group=None) is supported")


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1,
                       store=None, group_name="", pg_options=None, device_id=None):  # fmt: skip
    """Joins the job started by `mpiexec -n N python script.py` (or a singleton: a
    plain `python script.py` is a world of one). backend: "mpi" (CPU tensors) or
    "nccl" (CUDA tensors; needs a CUDA build and the nvidia-nccl wheel; MPI still
    starts the processes and hands out the NCCL unique id). Ranks come from MPI:
    a world_size or rank that disagrees raises. `timeout`, `group_name` and
    `pg_options` are accepted for torch compatibility and not used (a rank that
    fails aborts the job instead of timing out)."""
    global _backend
    if _backend is not None:
        raise ValueError("trying to initialize the default process group twice!")
    name = "mpi" if backend is None else str(backend).lower()
    if name not in ("mpi", "nccl"):
        raise ValueError(f"init_process_group: unknown backend {backend!r}; fastgrad has 'mpi' and 'nccl'")
    if init_method is not None or store is not None:
        raise ValueError("init_process_group: init_method and store are not used: mpiexec starts "
                         "the processes and MPI connects them")  # fmt: skip
    if name == "nccl":
        from ._nccl import NCCLBackend

        b = NCCLBackend(device_id)
    else:
        from ._mpi import MPIBackend

        b = MPIBackend()
    for what, given, actual in (("world_size", world_size, b.size), ("rank", rank, b.rank)):
        if given not in (-1, None) and given != actual:
            b.close()
            raise ValueError(f"init_process_group: {what}={given}, but MPI says {actual} "
                             f"(mpiexec -n sets the world size)")  # fmt: skip
    _backend = b


def destroy_process_group(group=None):
    global _backend
    if _backend is not None:
        _backend.close()
        _backend = None


def get_backend(group=None):
    return _group().name


def get_rank(group=None):
    return _group().rank


def get_world_size(group=None):
    return _group().size


# Note [Collective agreement check]: ranks that call different collectives, or the
# same one with different shapes or dtypes, would hang or silently mix memory.
# Before each collective every rank reduces (MIN) the pair (h, -h) of a hash of its
# call: one tiny all-reduce. If min(h) != max(h), they disagree, and every rank
# (they all know) gathers the descriptions and raises the same error. Checking
# only a signature's first use would be cheaper but is unsound: ranks whose
# caches differ would run different collectives. So it is all or nothing;
# FASTGRAD_DISTRIBUTED_CHECKS=0 turns it off for latency-bound code, and
# DistributedDataParallel checks its bucket layout once at construction instead.
def _agree(what, describe, force=False):
    """`describe()` builds the call's description only when the check runs."""
    b = _group()
    if b.size == 1 or not (force or _checks_enabled()):
        return
    comm, MPI = b.mpi_comm, b.MPI
    desc = describe()
    h = zlib.crc32(repr(desc).encode())
    pair = np.array([h, -h], np.int64)
    comm.Allreduce(MPI.IN_PLACE, pair, MPI.MIN)
    if pair[0] != -pair[1]:
        descs = comm.allgather(desc)
        lines = "; ".join(f"rank {r}: {_describe(d)}" for r, d in enumerate(descs))
        raise RuntimeError(
            f"{what}: ranks disagree on the collective ({lines}); every rank must call the "
            "same collectives in the same order, with tensors of the same shape and dtype"
        )


def _describe(desc):
    op, *rest = desc
    return op + "(" + ", ".join(str(r) for r in rest) + ")"


def _sig(t):
    return f"{str(t.dtype).replace('fastgrad.', '')}{list(t.shape)}"


def _check_tensor(what, t, name="tensor"):
    if not isinstance(t, _C.Tensor):
        raise TypeError(f"{what}: {name} must be a fastgrad Tensor, got {type(t).__name__}")
    b = _group()
    if t.is_cuda != b.cuda:
        want = "CUDA" if b.cuda else "CPU"
        other = "'mpi' for CPU tensors" if b.cuda else "'nccl' for CUDA tensors"
        raise ValueError(f"{what}: the {b.name} backend takes {want} tensors, got {name} on "
                         f"{t.device}; use backend={other}")  # fmt: skip
    if not t.is_contiguous():
        raise ValueError(f"{what}: {name} must be contiguous (call .contiguous() on a copy, "
                         "then copy the result back)")  # fmt: skip


def _check_op(what, t, op):
    if op not in _OPS:
        raise ValueError(f"{what}: unknown op {op!r}; use fastgrad.distributed.ReduceOp.SUM, AVG, "
                         "PRODUCT, MAX or MIN")  # fmt: skip
    if t.dtype not in _group().reduce_dtypes:
        raise TypeError(f"{what}: the {_group().name} backend cannot reduce {t.dtype} tensors")
    if op in _FLOAT_ONLY and not t.is_floating_point():
        raise TypeError(f"{what}: ReduceOp.AVG needs a floating-point tensor, got {t.dtype}")


def _check_src(what, src):
    n = _group().size
    if not isinstance(src, int) or not 0 <= src < n:
        raise ValueError(f"{what}: src must be a rank in [0, {n - 1}], got {src!r}")


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduces `tensor` over all ranks in place: every rank ends with the result."""
    _check_group("all_reduce", group)
    _check_tensor("all_reduce", tensor)
    _check_op("all_reduce", tensor, op)
    _agree("all_reduce", lambda: ("all_reduce", _sig(tensor), op))
    return _group().all_reduce(tensor, op, async_op)


def broadcast(tensor, src, group=None, async_op=False):
    """Copies rank `src`'s tensor into `tensor` on every other rank."""
    _check_group("broadcast", group)
    _check_tensor("broadcast", tensor)
    _check_src("broadcast", src)
    _agree("broadcast", lambda: ("broadcast", _sig(tensor), f"src={src}"))
    return _group().broadcast(tensor, src, async_op)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """output (world_size * n elements, rank order) <- every rank's input (n elements)."""
    what = "all_gather_into_tensor"
    _check_group(what, group)
    _check_tensor(what, input_tensor, "input_tensor")
    _check_tensor(what, output_tensor, "output_tensor")
    _check_sizes(what, output_tensor, input_tensor, "output_tensor", "input_tensor")
    _agree(what, lambda: (what, _sig(input_tensor)))
    return _group().all_gather_into_tensor(output_tensor, input_tensor, async_op)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """output (n elements) <- the reduction over ranks of chunk `rank` of input
    (world_size * n elements)."""
    what = "reduce_scatter_tensor"
    _check_group(what, group)
    _check_tensor(what, input, "input")
    _check_tensor(what, output, "output")
    _check_op(what, input, op)
    _check_sizes(what, input, output, "input", "output")
    _agree(what, lambda: (what, _sig(input), op))
    return _group().reduce_scatter_tensor(output, input, op, async_op)


def _check_sizes(what, big, small, big_name, small_name):
    n = _group().size
    if big.dtype != small.dtype:
        raise TypeError(f"{what}: {big_name} and {small_name} must have the same dtype, "
                        f"got {big.dtype} and {small.dtype}")  # fmt: skip
    if big.numel() != n * small.numel():
        raise ValueError(f"{what}: {big_name} must have world_size ({n}) times the elements of "
                         f"{small_name}, got shapes {list(big.shape)} and {list(small.shape)}")  # fmt: skip


def _check_list(what, tensors, like, name):
    n = _group().size
    if not isinstance(tensors, (list, tuple)) or len(tensors) != n:
        raise ValueError(f"{what}: {name} must be a list of world_size ({n}) tensors")
    for i, t in enumerate(tensors):
        _check_tensor(what, t, f"{name}[{i}]")
        if t.dtype != like.dtype or t.shape != like.shape:
            raise ValueError(f"{what}: {name}[{i}] is {_sig(t)}, expected {_sig(like)} like the "
                             "tensor argument")  # fmt: skip


def _staged(work, finish, async_op):
    # The list forms go through one contiguous staging tensor: copy out when done.
    if not async_op:
        finish()
        return None
    prev = work._finish
    work._finish = (lambda: (prev(), finish())) if prev else finish
    return work


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """tensor_list[r] <- rank r's tensor (through one staging buffer; use
    all_gather_into_tensor to gather without a copy)."""
    _check_group("all_gather", group)
    _check_tensor("all_gather", tensor)
    _check_list("all_gather", tensor_list, tensor, "tensor_list")
    _agree("all_gather", lambda: ("all_gather", _sig(tensor)))
    flat = empty(len(tensor_list) * tensor.numel(), dtype=tensor.dtype, device=tensor.device)
    work = _group().all_gather_into_tensor(flat, tensor, async_op)

    def finish():
        for i, t in enumerate(tensor_list):
            t.copy_(flat[i * tensor.numel() : (i + 1) * tensor.numel()].view(t.shape))

    return _staged(work, finish, async_op)


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """output <- the reduction over ranks of input_list[rank] (through one staging
    buffer; reduce_scatter_tensor avoids the copy)."""
    _check_group("reduce_scatter", group)
    _check_tensor("reduce_scatter", output, "output")
    _check_list("reduce_scatter", input_list, output, "input_list")
    _check_op("reduce_scatter", output, op)
    _agree("reduce_scatter", lambda: ("reduce_scatter", _sig(output), op))
    flat = _C.cat([t.reshape(-1) for t in input_list])
    return _group().reduce_scatter_tensor(output, flat, op, async_op)


def barrier(group=None, async_op=False, device_ids=None):
    """Returns once every rank has entered the barrier."""
    _check_group("barrier", group)
    _agree("barrier", lambda: ("barrier",))
    return _group().barrier(async_op)
