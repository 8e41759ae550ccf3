"""fastgrad.distributed: data-parallel collectives (torch.distributed's names).

Processes are started by MPI (`mpiexec -n 2 python train.py`); `init_process_group`
joins them. Backends: "mpi" (CPU tensors, through mpi4py: `pip install
"fastgrad[mpi]"`) and "nccl" (CUDA tensors, in a CUDA build, with libnccl from the
nvidia-nccl wheel loaded at run time).
"""

from ._api import (
    GroupMember,
    ReduceOp,
    all_gather,
    all_gather_into_tensor,
    all_reduce,
    barrier,
    broadcast,
    destroy_process_group,
    get_backend,
    get_rank,
    get_world_size,
    init_process_group,
    is_available,
    is_initialized,
    is_mpi_available,
    is_nccl_available,
    reduce_scatter,
    reduce_scatter_tensor,
)
from ._work import Work

__all__ = [
    "GroupMember", "ReduceOp", "Work", "all_gather", "all_gather_into_tensor", "all_reduce",
    "barrier", "broadcast", "destroy_process_group", "get_backend", "get_rank",
    "get_world_size", "init_process_group", "is_available", "is_initialized",
    "is_mpi_available", "is_nccl_available", "reduce_scatter", "reduce_scatter_tensor",
]  # fmt: skip
