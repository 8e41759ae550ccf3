"""Data-parallel training of the digits CNN on several processes (DDP over MPI).

    mpiexec -n 2 python examples/ddp_digits.py          # 2 ranks on this machine
    mpiexec -n 2 python examples/ddp_digits.py --quick  # a few steps (smoke run)
    python examples/ddp_digits.py                       # a world of one works too

Each rank reads its share of every batch through DistributedSampler;
DistributedDataParallel averages the gradients over all ranks during backward, so
every replica takes the same optimizer steps. `pip install "fastgrad[mpi]"` brings
mpi4py and MPICH (mpiexec lands next to python); README "Distributed training"
covers several machines.
"""

import argparse
import time

import fastgrad as fg
import fastgrad.distributed as dist
import numpy as np
from fastgrad import nn
from fastgrad.nn.parallel import DistributedDataParallel
from fastgrad.utils.data import DataLoader, DistributedSampler, TensorDataset
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split


def cnn():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 16x4x4
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2),  # 32x2x2
        nn.Flatten(), nn.Linear(128, 10),
    )  # fmt: skip


def load():
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]
    y = digits.target.astype(np.int64)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    return TensorDataset(fg.tensor(xtr), fg.tensor(ytr)), (fg.tensor(xte), fg.tensor(yte))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--batch-size", type=int, default=64, help="global batch (split over ranks)")
    p.add_argument("--quick", action="store_true", help="a few steps only")
    args = p.parse_args(argv)

    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    fg.manual_seed(rank)  # replicas start different; DDP broadcasts rank 0's weights
    train_set, (xte, yte) = load()
    sampler = DistributedSampler(train_set, shuffle=True, seed=0)
    loader = DataLoader(train_set, batch_size=args.batch_size // world, sampler=sampler)
    model = DistributedDataParallel(cnn())
    opt = fg.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = nn.CrossEntropyLoss()

    epochs = 1 if args.quick else args.epochs
    start, steps = time.perf_counter(), 0
    for epoch in range(epochs):
        sampler.set_epoch(epoch)  # a new shuffle, the same on every rank
        model.train()
        for xb, yb in loader:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            steps += 1
            if args.quick and steps >= 5:
                break
        # The mean loss over ranks, for the log line.
        avg = fg.tensor([loss.item()])
        dist.all_reduce(avg, op=dist.ReduceOp.AVG)
        if rank == 0:
            print(f"epoch {epoch + 1}/{epochs}: loss {avg.item():.4f}", flush=True)

    model.eval()
    with fg.no_grad():
        acc = (model(xte).argmax(dim=1) == yte).float().mean().item()
    if rank == 0:
        print(f"{world} rank(s): test accuracy {acc:.4f} after {steps} steps per rank "
              f"({time.perf_counter() - start:.1f} s)", flush=True)  # fmt: skip
    dist.destroy_process_group()
    return acc


if __name__ == "__main__":
    main()
