"""fastgrad.distributed, DistributedDataParallel and DistributedSampler.

The multi-process checks live in tests/distributed/worker.py and run under
`mpiexec -n 2` (inside a timeout) in a few launches; they skip when mpi4py or
mpiexec is missing (`pip install "fastgrad[mpi]"`)."""

import os
import pathlib
import shutil
import subprocess
import sys

import fastgrad as fg
import fastgrad.distributed as dist
import pytest
from fastgrad import nn
from fastgrad.utils.data import DistributedSampler

WORKER = pathlib.Path(__file__).resolve().parent / "distributed" / "worker.py"
TIMEOUT_S = 180


def _mpiexec():
    pytest.importorskip("mpi4py")
    # The mpich wheel puts mpiexec next to the interpreter.
    here = pathlib.Path(sys.executable).parent / "mpiexec"
    found = str(here) if here.exists() else shutil.which("mpiexec")
    if found is None:
        pytest.skip("mpiexec not found")
    return found


def _run(args, world=2, script=WORKER):
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(pathlib.Path(fg.__file__).parent.parent),
                                           os.environ.get("PYTHONPATH", "")]))  # fmt: skip
    cmd = [sys.executable, str(script), *args]
    if world:
        cmd = [_mpiexec(), "-n", str(world), *cmd]
    else:
        pytest.importorskip("mpi4py")
    if shutil.which("timeout"):  # also kills the ranks if mpiexec itself hangs
        cmd = ["timeout", "-k", "5", str(TIMEOUT_S), *cmd]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=TIMEOUT_S + 10,
                       check=False)
    return p.returncode, p.stdout + p.stderr


def _assert_ok(checks, ranks, rc, out):
    assert rc == 0, out
    for name in checks:
        for r in range(ranks):
            assert f"OK {name} {r}" in out, out


def test_two_ranks():
    """Collectives over several dtypes and shapes, the error paths, 50 DDP steps
    against single-process training, no_sync, unused parameters, the sampler:
    one launch."""
    checks = ["collectives", "errors", "ddp", "ddp_no_sync", "ddp_unused", "sampler"]
    _assert_ok(checks, 2, *_run(checks))


def test_failing_rank_aborts_the_job():
    rc, out = _run(["raise"])
    assert rc != 0 and "rank 1 fails on purpose" in out, out


def test_ddp_digits_example_quick():
    pytest.importorskip("sklearn")
    example = WORKER.parent.parent.parent / "examples" / "ddp_digits.py"
    rc, out = _run(["--quick"], script=example)
    assert rc == 0 and "2 rank(s): test accuracy" in out, out


def test_singleton_without_mpiexec():
    _assert_ok(["singleton"], 1, *_run(["singleton"], world=0))


def _libnccl_loads():
    import ctypes

    from fastgrad.distributed._nccl import find_libnccl

    for path in find_libnccl():
        try:
            ctypes.CDLL(path)
            return True
        except OSError:
            pass
    return False


@pytest.mark.cuda
def test_nccl_world_of_one():
    if not _libnccl_loads():
        pytest.skip("no libnccl: pip install nvidia-nccl-cu13")
    _assert_ok(["nccl"], 1, *_run(["nccl"], world=0))


# -- in this process: no group is initialised here --------------------------------


@pytest.mark.parametrize("call", [
    lambda: dist.get_rank(), lambda: dist.get_world_size(), lambda: dist.barrier(),
    lambda: dist.all_reduce(fg.ones(2)), lambda: dist.broadcast(fg.ones(2), 0),
    lambda: nn.parallel.DistributedDataParallel(nn.Linear(2, 2)),
])  # fmt: skip
def test_needs_init(call):
    assert not dist.is_initialized()
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        call()


def test_init_arguments():
    with pytest.raises(ValueError, match="unknown backend 'gloo'"):
        dist.init_process_group("gloo")
    if not fg.cuda.is_built():
        with pytest.raises(RuntimeError, match="needs a CUDA build"):
            dist.init_process_group("nccl")
        assert not dist.is_nccl_available()
    assert not dist.is_initialized()


@pytest.mark.parametrize("n,replicas,drop_last,shuffle", [
    (10, 3, False, False), (10, 3, True, False), (2, 5, False, False), (11, 4, True, False),
    (12, 4, False, False), (7, 2, False, True), (7, 2, True, True),
])  # fmt: skip
def test_distributed_sampler_matches_torch(torch, n, replicas, drop_last, shuffle):
    from torch.utils.data import DistributedSampler as TorchSampler

    shares = []
    for rank in range(replicas):
        ours = DistributedSampler(range(n), replicas, rank, shuffle=shuffle, drop_last=drop_last)
        theirs = TorchSampler(range(n), replicas, rank, shuffle=shuffle, drop_last=drop_last)
        assert len(ours) == len(theirs)
        if not shuffle:
            assert list(ours) == list(theirs)
        shares.append(list(ours))
    flat = [i for share in shares for i in share]
    assert all(len(s) == len(shares[0]) for s in shares)
    if not drop_last:
        assert set(flat) == set(range(n))
    else:
        assert len(set(flat)) == len(flat)


def test_distributed_sampler_epochs():
    s = DistributedSampler(range(20), 2, 1, seed=3)
    first = list(s)
    assert list(s) == first  # the same epoch gives the same order
    s.set_epoch(1)
    assert list(s) != first
    with pytest.raises(ValueError, match=r"Invalid rank 2, rank should be in the interval \[0, 1\]"):
        DistributedSampler(range(4), 2, 2)
    with pytest.raises(RuntimeError, match="pass num_replicas and rank"):
        DistributedSampler(range(4))
