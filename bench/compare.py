"""Side-by-side timings: fastgrad vs torch vs numpy in one process.

Each workload is a row; implementations run interleaved (fg, torch, numpy, fg, ...)
for `--repeats` rounds and the median per implementation is reported together with
the fastgrad/torch and fastgrad/numpy ratios (< 1 means fastgrad is faster).
Results go to bench/results/latest.json.

    python bench/compare.py --threads 1            # all rows
    python bench/compare.py --filter add --repeats 30
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import fastgrad as fg

try:
    import torch
except ImportError:  # the comparison still runs fastgrad vs numpy
    torch = None


def _timeit(fn, min_time=0.02):
    """Seconds per call: calls fn in a loop until min_time has passed."""
    fn()
    n, start = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        el = time.perf_counter() - start
        if el >= min_time:
            return el / n


def workloads():
    """Yields (name, {impl: zero-arg callable})."""
    rng = np.random.default_rng(0)

    def impls(make_np, body):
        arrs = make_np()
        out = {"fastgrad": None, "torch": None, "numpy": None}
        fa = [fg.from_numpy(a) for a in arrs]
        out["fastgrad"] = lambda: body(fg, *fa)
        if torch is not None:
            ta = [torch.from_numpy(a) for a in arrs]
            out["torch"] = lambda: body(torch, *ta)
        out["numpy"] = lambda: body(np, *arrs)
        return out

    small = lambda: [rng.standard_normal(4).astype(np.float32) for _ in range(2)]
    yield "add tiny (4)", impls(small, lambda m, a, b: a + b)
    yield "mul+add tiny chain x10", impls(small, lambda m, a, b: ((a * b + a) * b + a) * b + a)
    # Tape overhead: recording one op, and a 10-op chain plus its backward.
    def grad_impls(body):
        out = {"fastgrad": None, "torch": None, "numpy": None}
        a = rng.standard_normal(4).astype(np.float32)
        fa = fg.tensor(a, requires_grad=True)
        out["fastgrad"] = lambda: body(fg, fa)
        if torch is not None:
            ta = torch.tensor(a, requires_grad=True)
            out["torch"] = lambda: body(torch, ta)
        return out

    yield "add tiny, requires_grad (record 1 op)", grad_impls(lambda m, x: x + x)

    def chain(m, x):
        y = x
        for _ in range(5):
            y = y * 1.01 + 0.1
        y.backward(m.ones(4))
        x.grad = None

    yield "10-op chain + backward (per 10 nodes)", grad_impls(chain)
    big = lambda: [rng.standard_normal(1 << 24).astype(np.float32) for _ in range(2)]
    yield "add 16M", impls(big, lambda m, a, b: a + b)
    yield "mul 16M", impls(big, lambda m, a, b: a * b)
    yield "exp 16M", impls(big, lambda m, a, b: m.exp(a))
    yield "tanh 16M", impls(big, lambda m, a, b: m.tanh(a))
    mat = lambda: [rng.standard_normal((4096, 1024)).astype(np.float32)]
    yield "transpose copy (4096,1024)", impls(
        mat, lambda m, a: (a.T.contiguous() if m is not np else np.ascontiguousarray(a.T)))
    bcast = lambda: [rng.standard_normal((4096, 1024)).astype(np.float32),
                     rng.standard_normal(1024).astype(np.float32)]
    yield "broadcast add (4096,1024)+(1024,)", impls(bcast, lambda m, a, b: a + b)
    if hasattr(fg, "sum"):
        yield "sum (4096,1024) dim=1", impls(
            mat, lambda m, a: a.sum(axis=1) if m is np else a.sum(dim=1))
    if hasattr(fg, "softmax") and torch is not None:
        out = impls(mat, lambda m, a: m.softmax(a, dim=1) if m is not np else None)
        out["numpy"] = None
        yield "softmax (4096,1024) dim=1", out
    if hasattr(fg, "matmul"):
        for n in (64, 256, 1024, 2048):
            sq = lambda n=n: [rng.standard_normal((n, n)).astype(np.float32) for _ in range(2)]
            yield f"matmul {n}", impls(sq, lambda m, a, b: a @ b)


def nn_workloads():
    """Training-stack rows: layers forward+backward and whole training steps,
    the fastgrad and torch twins built with the same weights (state_dict)."""
    if torch is None or not hasattr(fg, "optim"):
        return
    rng = np.random.default_rng(0)

    def twins(build, make_inputs, step):
        tm = build(torch.nn)
        fm = build(fg.nn)
        fm.load_state_dict(tm.state_dict())
        arrs = make_inputs()
        ti = [torch.from_numpy(a) for a in arrs]
        fi = [fg.from_numpy(a) for a in arrs]
        t_state, f_state = step(torch, tm), step(fg, fm)
        return {"fastgrad": lambda: f_state(*fi), "torch": lambda: t_state(*ti), "numpy": None}

    def fwd_bwd(lib, model):
        def run(*xs):
            out = model(*xs)
            out = out[0] if isinstance(out, tuple) else out
            out.sum().backward()
        return run

    def train_step(lib, model):
        opt = lib.optim.Adam(model.parameters(), lr=1e-3)
        loss_fn = lib.nn.CrossEntropyLoss()

        def run(x, y):
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()
        return run

    f32 = lambda *shape: rng.standard_normal(shape).astype(np.float32)
    labels = lambda n, c: rng.integers(0, c, n).astype(np.int64)
    yield "MLP train step 64-128-10 b32 (Adam)", twins(
        lambda m: m.Sequential(m.Linear(64, 128), m.ReLU(), m.Linear(128, 10)),
        lambda: [f32(32, 64), labels(32, 10)], train_step)
    yield "CNN train step digits-size b32 (Adam)", twins(
        lambda m: m.Sequential(m.Conv2d(1, 16, 3, padding=1), m.BatchNorm2d(16), m.ReLU(),
                               m.MaxPool2d(2), m.Conv2d(16, 32, 3, padding=1), m.ReLU(),
                               m.AdaptiveAvgPool2d(2), m.Flatten(), m.Linear(128, 10)),
        lambda: [f32(32, 1, 8, 8), labels(32, 10)], train_step)
    yield "Conv2d 64->64 3x3 16x28x28 fwd+bwd", twins(
        lambda m: m.Conv2d(64, 64, 3, padding=1), lambda: [f32(16, 64, 28, 28)], fwd_bwd)
    yield "LayerNorm 512 on (64,128,512) fwd+bwd", twins(
        lambda m: m.LayerNorm(512), lambda: [f32(64, 128, 512)], fwd_bwd)
    for cell in ("LSTM", "GRU"):
        yield f"{cell} 64->128 seq50 b32 fwd+bwd", twins(
            lambda m, cell=cell: getattr(m, cell)(64, 128), lambda: [f32(50, 32, 64)], fwd_bwd)
    yield "TransformerEncoderLayer d128 h4 (32,64) fwd+bwd", twins(
        lambda m: m.TransformerEncoderLayer(128, 4, 256, dropout=0.0, batch_first=True),
        lambda: [f32(32, 64, 128)], fwd_bwd)

    def ce(lib, _model):
        def run(x, y):
            x.grad = None
            lib.nn.functional.cross_entropy(x, y).backward()
        return run

    logits, targets = f32(4096, 1000), labels(4096, 1000)
    tx = torch.from_numpy(logits).requires_grad_()
    fx = fg.tensor(logits, requires_grad=True)
    ty, fy = torch.from_numpy(targets), fg.from_numpy(targets)
    yield "cross_entropy (4096,1000) fwd+bwd", {
        "fastgrad": lambda: ce(fg, None)(fx, fy), "torch": lambda: ce(torch, None)(tx, ty),
        "numpy": None}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=11)
    ap.add_argument("--filter", default="")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "latest.json"))
    args = ap.parse_args()
    if hasattr(fg, "set_num_threads"):
        fg.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
    rows = []
    print(f"threads={args.threads} repeats={args.repeats} torch={getattr(torch, '__version__', None)}")
    print(f"{'workload':38s} {'fastgrad':>11s} {'torch':>11s} {'numpy':>11s} {'fg/torch':>9s} {'fg/np':>7s}")
    for name, fns in (*workloads(), *nn_workloads()):
        if args.filter not in name:
            continue
        fns = {k: v for k, v in fns.items() if v is not None}
        times = {k: [] for k in fns}
        for _ in range(args.repeats):
            for k, fn in fns.items():
                times[k].append(_timeit(fn))
        med = {k: statistics.median(v) for k, v in times.items()}
        r_t = med["fastgrad"] / med["torch"] if "torch" in med else None
        r_n = med["fastgrad"] / med["numpy"] if "numpy" in med else None
        fmt = lambda k: f"{med[k] * 1e6:9.1f}us" if k in med else f"{'-':>11s}"
        print(f"{name:38s} {fmt('fastgrad')} {fmt('torch')} {fmt('numpy')} "
              f"{(f'{r_t:9.2f}' if r_t else '        -')} {(f'{r_n:7.2f}' if r_n else '      -')}")
        rows.append({"workload": name, "median_s": med, "fg_over_torch": r_t, "fg_over_numpy": r_n})
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    meta = {"threads": args.threads, "repeats": args.repeats, "python": sys.version.split()[0],
            "machine": platform.machine(), "cpus": os.cpu_count(),
            "torch": getattr(torch, "__version__", None), "numpy": np.__version__}
    Path(args.out).write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
