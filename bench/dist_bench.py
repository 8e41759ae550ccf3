"""fastgrad.distributed (MPI) against torch.distributed (gloo), same machine, same
processes: all-reduce bandwidth and latency, DDP step time, and what bucketing's
overlap of communication with backward buys.

    pip install ".[bench,mpi]"
    python bench/dist_bench.py                  # launches mpiexec -n 2 itself
    python bench/dist_bench.py --quick          # fewer repeats
    mpiexec -n 2 python bench/dist_bench.py     # the same, launched by hand

Both libraries live in each rank process (torch joins over TCP with MPI's rank
and size) and alternate round by round, so background load hits both alike.
Rank 0 prints a table and writes bench/results/dist_latest.json.
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time


def launch(argv):
    here = pathlib.Path(sys.executable).parent / "mpiexec"
    mpiexec = str(here) if here.exists() else "mpiexec"
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    return subprocess.call([mpiexec, "-n", "2", sys.executable, __file__, *argv], env=env)


def timed(fn, iters, sync):
    """Per-iteration seconds of `fn` (after a barrier, one warm-up call)."""
    fn()
    sync()
    out = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--out", default=str(pathlib.Path(__file__).parent / "results" / "dist_latest.json"))
    args = p.parse_args(argv)
    if "PMI_RANK" not in os.environ and "OMPI_COMM_WORLD_RANK" not in os.environ:
        return launch(sys.argv[1:] if argv is None else argv)

    import fastgrad as fg
    import fastgrad.distributed as fdist
    import torch
    import torch.distributed as tdist

    fg.set_num_threads(1)
    torch.set_num_threads(1)
    fdist.init_process_group("mpi")
    rank, world = fdist.get_rank(), fdist.get_world_size()
    comm = fdist._api._group().comm
    port = comm.bcast(29500 + os.getpid() % 1000 if rank == 0 else None, root=0)
    tdist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    rounds = 2 if args.quick else args.rounds
    scale = 0.3 if args.quick else 1.0

    def sync():
        comm.Barrier()
        tdist.barrier()

    rows = {}  # name -> {library: [seconds...]}

    def add(name, lib, secs):
        rows.setdefault(name, {}).setdefault(lib, []).extend(secs)

    big_f, big_t = fg.ones(10_000_000), torch.ones(10_000_000)  # 40 MB float32
    tiny_f, tiny_t = fg.ones(1), torch.ones(1)  # 4 bytes

    def ddp_pair(bucket_mb):
        sizes = [1024] * 5
        fg.manual_seed(0)
        fm = fg.nn.Sequential(*[m for a, b in zip(sizes, sizes[1:]) for m in (fg.nn.Linear(a, b), fg.nn.ReLU())])
        tm = torch.nn.Sequential(*[m for a, b in zip(sizes, sizes[1:]) for m in (torch.nn.Linear(a, b), torch.nn.ReLU())])
        fd = fg.nn.parallel.DistributedDataParallel(fm, bucket_cap_mb=bucket_mb)
        td = torch.nn.parallel.DistributedDataParallel(tm, bucket_cap_mb=bucket_mb)
        return fm, fd, tm, td

    fm, fddp, tm, tddp = ddp_pair(4)  # 16 MB of float32 weights: 4-5 buckets
    _, fddp_one, _, tddp_one = ddp_pair(1000)  # one bucket: all-reduce after backward
    x_f, x_t = fg.ones(64, 1024), torch.ones(64, 1024)

    def step(model, x):  # zero_grad, forward, backward (the optimizer step is the same for all)
        def run():
            for q in model.parameters():
                q.grad = None
            model(x).sum().backward()

        return run

    for r in range(rounds):
        n_big = max(3, int(10 * scale))
        n_tiny = max(200, int(2000 * scale))
        n_step = max(3, int(10 * scale))
        add("all_reduce 40 MB", "fastgrad", timed(lambda: fdist.all_reduce(big_f), n_big, sync))
        add("all_reduce 40 MB", "torch", timed(lambda: tdist.all_reduce(big_t), n_big, sync))
        os.environ["FASTGRAD_DISTRIBUTED_CHECKS"] = "0"
        add("all_reduce 4 B", "fastgrad", timed(lambda: fdist.all_reduce(tiny_f), n_tiny, sync))
        os.environ.pop("FASTGRAD_DISTRIBUTED_CHECKS")
        add("all_reduce 4 B (agreement check on)", "fastgrad",
            timed(lambda: fdist.all_reduce(tiny_f), n_tiny, sync))
        add("all_reduce 4 B", "torch", timed(lambda: tdist.all_reduce(tiny_t), n_tiny, sync))
        add("DDP step, buckets overlap backward", "fastgrad", timed(step(fddp, x_f), n_step, sync))
        add("DDP step, buckets overlap backward", "torch", timed(step(tddp, x_t), n_step, sync))
        add("DDP step, all-reduce after backward", "fastgrad", timed(step(fddp_one, x_f), n_step, sync))
        add("DDP step, all-reduce after backward", "torch", timed(step(tddp_one, x_t), n_step, sync))
        add("step without DDP (compute only)", "fastgrad", timed(step(fm, x_f), n_step, sync))
        add("step without DDP (compute only)", "torch", timed(step(tm, x_t), n_step, sync))

    if rank == 0:
        report(rows, args.out, world)
    tdist.destroy_process_group()
    fdist.destroy_process_group()
    return 0


def report(rows, out, world):
    table, print_rows = {}, []
    for name, libs in rows.items():
        rec = {}
        for lib, secs in libs.items():
            med = statistics.median(secs)
            rec[lib] = {"median_s": med, "min_s": min(secs), "samples": len(secs)}
            if name.startswith("all_reduce 40 MB"):
                rec[lib]["GB_per_s"] = 40e6 / med / 1e9
        table[name] = rec
        cells = []
        for lib in ("fastgrad", "torch"):
            if lib in rec:
                r = rec[lib]
                v = f"{r['GB_per_s']:.2f} GB/s" if "GB_per_s" in r else _fmt(r["median_s"])
                cells.append(f"{lib} {v}")
        print_rows.append(f"{name:42s} " + "   ".join(cells))
    print(f"{world} ranks, 1 thread each (medians)")
    print("\n".join(print_rows))
    meta = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "load_avg": os.getloadavg(), "world": world,
            "cpus": os.cpu_count()}  # fmt: skip
    pathlib.Path(out).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(out).write_text(json.dumps({"meta": meta, "rows": table}, indent=1))
    print(f"wrote {out}")


def _fmt(s):
    return f"{s * 1e6:.1f} us" if s < 1e-3 else f"{s * 1e3:.2f} ms"


if __name__ == "__main__":
    sys.exit(main())
