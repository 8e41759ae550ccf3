"""Checks run inside `mpiexec -n 2 python tests/distributed/worker.py CHECK...`
(tests/test_distributed.py launches it). Each check prints "OK <name> <rank>";
any failure raises, and the excepthook of the MPI backend aborts the whole job."""

import gc
import itertools
import sys
import weakref

import fastgrad as fg
import fastgrad.distributed as dist
import numpy as np
from fastgrad import nn

R = N = None
DTYPES = [fg.float32, fg.float64, fg.int64, fg.int32]


def _expect(exc, fn, match):
    try:
        fn()
    except exc as e:
        assert match in str(e), f"{match!r} not in {e}"
        return
    raise AssertionError(f"expected {exc.__name__} containing {match!r}")


def check_collectives():
    for dt in DTYPES:
        for shape in [(), (1,), (5,), (3, 4), (2, 3, 5)]:
            base = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)
            per_rank = [base * (r + 1) - r for r in range(N)]
            def mine(per_rank=per_rank, dt=dt):
                return fg.tensor(per_rank[R], dtype=dt)

            for op, ref in [("SUM", sum(per_rank)), ("MAX", np.max(per_rank, 0)),
                            ("MIN", np.min(per_rank, 0)), ("PRODUCT", np.prod(per_rank, 0))]:  # fmt: skip
                t = mine()
                dist.all_reduce(t, op=getattr(dist.ReduceOp, op))
                assert t.dtype == dt and t.shape == shape
                np.testing.assert_array_equal(t.numpy(), ref.astype(t.numpy().dtype))
            t = mine()
            dist.broadcast(t, src=N - 1)
            np.testing.assert_array_equal(t.numpy(), per_rank[N - 1].astype(t.numpy().dtype))
            outs = [fg.zeros(shape, dtype=dt) for _ in range(N)]
            dist.all_gather(outs, mine())
            for r in range(N):
                np.testing.assert_array_equal(outs[r].numpy(), per_rank[r].astype(outs[r].numpy().dtype))
            flat = fg.zeros((N * max(1, len(base.reshape(-1))),), dtype=dt)
            if base.size:
                dist.all_gather_into_tensor(flat, mine().reshape(-1))
                np.testing.assert_array_equal(flat.numpy(), np.concatenate(per_rank, None).astype(flat.numpy().dtype))
        # reduce_scatter: rank r's input chunk i is r * 10 + i
        ins = [fg.full((2, 2), R * 10 + i, dtype=dt) for i in range(N)]
        out = fg.zeros((2, 2), dtype=dt)
        dist.reduce_scatter(out, ins)
        assert out.tolist() == [[sum(r * 10 + R for r in range(N))] * 2] * 2
        big = fg.arange(N * 3, dtype=dt) + R
        out = fg.zeros(3, dtype=dt)
        dist.reduce_scatter_tensor(out, big, op=dist.ReduceOp.MAX)
        assert out.tolist() == [R * 3 + k + N - 1 for k in range(3)]
    for dt in (fg.float16, fg.bfloat16, fg.bool):  # no arithmetic: moved as bytes
        t = fg.full((3,), R + 1, dtype=dt)
        dist.broadcast(t, src=0)
        assert t.float().tolist() == [1.0] * 3
        outs = [fg.zeros(3, dtype=dt) for _ in range(N)]
        dist.all_gather(outs, fg.full((3,), R + 1, dtype=dt))
        assert [o.float().tolist() for o in outs] == [fg.full((3,), r + 1, dtype=dt).float().tolist()
                                                      for r in range(N)]  # fmt: skip
    # AVG and the async forms
    t = fg.full((4,), float(R))
    w = dist.all_reduce(t, op=dist.ReduceOp.AVG, async_op=True)
    assert w.wait() and w.is_completed()
    assert t.tolist() == [(N - 1) / 2] * 4
    outs = [fg.zeros(2, dtype=fg.int64) for _ in range(N)]
    works = [dist.broadcast(b := fg.full((5,), R * 7, dtype=fg.int64), src=1, async_op=True),
             dist.all_gather(outs, fg.full((2,), R, dtype=fg.int64), async_op=True),
             dist.barrier(async_op=True)]  # fmt: skip
    for w in works:
        w.wait()
    assert b.tolist() == [7] * 5 and [o.tolist() for o in outs] == [[r, r] for r in range(N)]
    # a parameter (a leaf that requires grad) can be reduced in place
    p = nn.Parameter(fg.full((2,), float(R)))
    dist.all_reduce(p, op=dist.ReduceOp.AVG)
    assert p.tolist() == [(N - 1) / 2] * 2 and p.requires_grad


def check_errors():
    _expect(RuntimeError, lambda: dist.all_reduce(fg.ones(2 + R)), "ranks disagree")
    _expect(RuntimeError, lambda: dist.all_reduce(fg.ones(2, dtype=DTYPES[R])), "rank 1: all_reduce(float64[2]")
    _expect(RuntimeError, lambda: dist.broadcast(fg.ones(2), src=0) if R else dist.barrier(), "ranks disagree")
    _expect(ValueError, lambda: dist.all_reduce(fg.ones(3, 4).t()), "must be contiguous")
    _expect(TypeError, lambda: dist.all_reduce(fg.ones(3, dtype=fg.int64), op=dist.ReduceOp.AVG), "AVG")
    _expect(TypeError, lambda: dist.all_reduce(fg.ones(3, dtype=fg.float16)), "cannot reduce")
    _expect(ValueError, lambda: dist.all_reduce(fg.ones(3), op="XOR"), "unknown op")
    _expect(TypeError, lambda: dist.all_reduce(np.ones(3)), "must be a fastgrad Tensor")
    _expect(ValueError, lambda: dist.broadcast(fg.ones(3), src=N), "src must be a rank")
    _expect(ValueError, lambda: dist.all_gather([fg.ones(3)], fg.ones(3)), "list of world_size")
    _expect(ValueError, lambda: dist.all_gather([fg.ones(2)] * N, fg.ones(3)), "tensor_list[0] is float32[2]")
    _expect(ValueError, lambda: dist.all_gather_into_tensor(fg.ones(5), fg.ones(3)), "world_size (2) times")
    _expect(ValueError, lambda: dist.init_process_group("mpi"), "twice")
    dist.barrier()


def _model(seed):
    fg.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 3))


def _data():
    g = np.random.default_rng(0)
    return fg.tensor(g.standard_normal((32, 8)), dtype=fg.float32), fg.tensor(g.integers(0, 3, 32))


def check_ddp():
    """50 steps on two ranks == 50 full-batch steps in one process; replicas equal."""
    x, y = _data()
    ref = _model(0)
    opt = fg.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
    for _ in range(50):
        opt.zero_grad()
        nn.functional.cross_entropy(ref(x), y).backward()
        opt.step()
    model = _model(R)  # different on each rank: the broadcast from rank 0 must fix it
    ddp = nn.parallel.DistributedDataParallel(model, bucket_cap_mb=0.0005)  # several buckets
    assert len(ddp._buckets) > 2
    opt = fg.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    share = slice(R * 32 // N, (R + 1) * 32 // N)
    for _ in range(50):
        opt.zero_grad()
        nn.functional.cross_entropy(ddp(x[share]), y[share]).backward()
        opt.step()
    for (name, p), q in zip(model.named_parameters(), ref.parameters()):
        mine = p.detach().numpy().copy()
        gathered = [fg.zeros(p.shape) for _ in range(N)]
        dist.all_gather(gathered, p.detach())
        for other in gathered:  # bitwise identical replicas
            assert other.numpy().tobytes() == mine.tobytes(), name
        np.testing.assert_allclose(mine, q.detach().numpy(), rtol=0, atol=1e-6, err_msg=name)


def check_ddp_no_sync():
    """Two micro-batches under no_sync + one synced == one step on all of them."""
    x, y = _data()
    ref = _model(0)
    for part in range(2 * N):
        sl = slice(part * 8, part * 8 + 8)
        (nn.functional.cross_entropy(ref(x[sl]), y[sl]) / (2 * N)).backward()
    ddp = nn.parallel.DistributedDataParallel(_model(0))
    mine = [2 * R, 2 * R + 1]
    with ddp.no_sync():
        sl = slice(mine[0] * 8, mine[0] * 8 + 8)
        (nn.functional.cross_entropy(ddp(x[sl]), y[sl]) / 2).backward()
    first = [p.grad.numpy().copy() for p in ddp.parameters()]
    sl = slice(mine[1] * 8, mine[1] * 8 + 8)
    (nn.functional.cross_entropy(ddp(x[sl]), y[sl]) / 2).backward()
    for p, q in zip(ddp.parameters(), ref.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=0, atol=1e-6)
    assert any(not np.array_equal(f, p.grad.numpy()) for f, p in zip(first, ddp.parameters()))
    # the wrapped module called directly (not through ddp) reduces nothing
    w = ddp.module[0].weight
    w.grad = None
    ddp.module(x[R : R + 1]).sum().backward()
    grads = [fg.zeros(w.shape) for _ in range(N)]
    dist.all_gather(grads, w.grad)
    assert not np.array_equal(grads[0].numpy(), grads[1].numpy())


class _Branches(nn.Module):
    def __init__(self):
        super().__init__()
        # registered c, b, a: buckets (reverse order) hold a first, then b, then c
        self.c, self.b, self.a = nn.Linear(4, 2), nn.Linear(4, 2), nn.Linear(4, 2)

    def forward(self, x, use_b):
        return self.a(x) + (self.b(x) if use_b else 0) + 0 * x.sum()


def check_ddp_unused():
    x = fg.ones(3, 4) * (R + 1)
    # rank 0 uses b, rank 1 does not; nobody uses c
    ddp = nn.parallel.DistributedDataParallel(_Branches(), find_unused_parameters=True)
    ddp(x, use_b=(R == 0)).sum().backward()
    m = ddp.module
    assert m.c.weight.grad is None and m.c.bias.grad is None
    assert m.b.bias.grad.tolist() == [1.5, 1.5]  # (3 + 0) / 2
    assert m.a.bias.grad.tolist() == [3.0, 3.0]
    # one bucket per parameter: rank 0 starts b's buckets from its hooks, rank 1 only
    # at the end of backward; the collectives must still line up on both ranks
    ddp = nn.parallel.DistributedDataParallel(_Branches(), find_unused_parameters=True,
                                              bucket_cap_mb=1e-6)  # fmt: skip
    assert len(ddp._buckets) == 6
    for _ in range(3):
        ddp(x, use_b=(R == 0)).sum().backward()
    m = ddp.module
    assert m.c.weight.grad is None
    assert m.b.bias.grad.tolist() == [4.5, 4.5] and m.a.bias.grad.tolist() == [9.0, 9.0]
    # the forward's graph shows `unused` is unused: its buckets (first in order) do not
    # hold back the others, which all start during backward
    model = nn.Module()
    model.used, model.unused = nn.Linear(4, 2), nn.Linear(4, 2)
    model.forward = lambda x: model.used(x)
    ddp = nn.parallel.DistributedDataParallel(model, find_unused_parameters=True, bucket_cap_mb=1e-6)
    started = []
    finish = ddp._finish
    ddp._finish = lambda: (started.append(ddp._next_bucket), finish())
    ddp(x).sum().backward()
    assert started == [4] and model.unused.weight.grad is None
    assert model.used.bias.grad.tolist() == [3.0, 3.0]
    _expect(RuntimeError, lambda: (ddp(x).sum() + model.unused.weight.sum()).backward(),
            "forward's outputs do not depend on it")  # fmt: skip
    dist.barrier()
    # without find_unused_parameters the missing gradient is an error, not a hang
    ddp = nn.parallel.DistributedDataParallel(_Branches())
    _expect(RuntimeError, lambda: ddp(x, use_b=True).sum().backward(), "c.weight")
    dist.barrier()


def check_sampler():
    from fastgrad.utils.data import DistributedSampler

    s = DistributedSampler(range(11))
    s.set_epoch(3)
    mine = list(s)
    everyone = dist._api._group().comm.allgather(mine)
    assert len(mine) == 6 and set(itertools.chain(*everyone)) == set(range(11))


def check_singleton():
    assert dist.get_world_size() == 1 and dist.get_rank() == 0
    t = fg.arange(4.0)
    dist.all_reduce(t, op=dist.ReduceOp.AVG)
    dist.broadcast(t, src=0)
    assert t.tolist() == [0.0, 1.0, 2.0, 3.0]
    model = _model(0)
    old = nn.parallel.DistributedDataParallel(model)
    gone = weakref.ref(old)
    del old
    gc.collect()
    assert gone() is None  # the parameters' hooks do not keep a wrapper alive
    ddp = nn.parallel.DistributedDataParallel(model)
    ddp(fg.ones(2, 8)).sum().backward()
    assert all(p.grad is not None for p in ddp.parameters())
    _expect(ValueError, lambda: nn.parallel.DistributedDataParallel(model, device_ids=[0]),
            "only apply to CUDA modules")  # fmt: skip
    _expect(ValueError, lambda: nn.parallel.DistributedDataParallel(model, bucket_cap_mb=0),
            "bucket_cap_mb must be positive")  # fmt: skip
    _expect(TypeError, lambda: nn.parallel.DistributedDataParallel(lambda x: x), "nn.Module")


def check_nccl():
    """A world of one on the GPU (backend "nccl"): each collective, sync and async."""
    assert dist.get_backend() == "nccl"
    t = fg.full((4,), 3.0, device="cuda")
    dist.all_reduce(t)
    w = dist.all_reduce(t, op=dist.ReduceOp.MAX, async_op=True)
    w.wait()
    assert t.cpu().tolist() == [3.0] * 4 and w.is_completed()
    b = fg.arange(6, dtype=fg.int64).to("cuda")
    dist.broadcast(b, src=0)
    out = fg.zeros(6, dtype=fg.int64, device="cuda")
    dist.all_gather_into_tensor(out, b)
    dist.reduce_scatter_tensor(b, out, op=dist.ReduceOp.SUM)
    assert out.cpu().tolist() == list(range(6)) and b.cpu().tolist() == list(range(6))
    _expect(ValueError, lambda: dist.all_reduce(fg.ones(2)), "takes CUDA tensors")


def check_raise():
    if R == 1:
        raise RuntimeError("rank 1 fails on purpose")
    dist.barrier()  # rank 0 would wait here forever without the abort


def main():
    global R, N
    dist.init_process_group("nccl" if "nccl" in sys.argv else "mpi")
    R, N = dist.get_rank(), dist.get_world_size()
    for name in sys.argv[1:]:
        globals()[f"check_{name}"]()
        print(f"OK {name} {R}", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
