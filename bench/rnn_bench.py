"""RNN / LSTM / GRU layers: fastgrad vs torch, forward and forward+backward.

Both libraries get the same weights (state_dict) and input; runs are
interleaved (fg, torch, fg, torch, ...) so that both see the same machine
load, and the medians and the fastgrad/torch ratio (< 1: fastgrad faster) are
printed. torch uses as many threads as fastgrad.

    PYTHONPATH=python python bench/rnn_bench.py
    PYTHONPATH=python python bench/rnn_bench.py --threads 1 --repeats 15 --filter LSTM
"""

import argparse
import statistics
import time

import fastgrad as fg
import numpy as np
import torch


def _layer(lib, mode, in_size, hidden, **kw):
    if mode.startswith("RNN"):
        return lib.nn.RNN(in_size, hidden, nonlinearity=mode[4:].lower(), **kw)
    return getattr(lib.nn, mode)(in_size, hidden, **kw)


def _runners(mode, seq, batch, in_size, hidden, dtype, **kw):
    """{(impl, phase): zero-arg callable} for one configuration."""
    tm = _layer(torch, mode, in_size, hidden, **kw).to(getattr(torch, dtype))
    fm = _layer(fg, mode, in_size, hidden, dtype=getattr(fg, dtype), **kw)
    fm.load_state_dict(tm.state_dict())
    x = np.random.default_rng(0).standard_normal((seq, batch, in_size)).astype(dtype)
    tx, fx = torch.from_numpy(x), fg.from_numpy(x)
    txg, fxg = tx.clone().requires_grad_(), fg.from_numpy(x).requires_grad_()

    def fwd(lib, m, xin):
        def run():
            with lib.no_grad():
                m(xin)
        return run

    def fwd_bwd(m, xin):
        def run():
            m.zero_grad()
            m(xin)[0].sum().backward()
        return run

    return {
        ("fastgrad", "forward"): fwd(fg, fm, fx),
        ("torch", "forward"): fwd(torch, tm, tx),
        ("fastgrad", "fwd+bwd"): fwd_bwd(fm, fxg),
        ("torch", "fwd+bwd"): fwd_bwd(tm, txg),
    }


def _median_ms(fns, repeats, inner):
    """Interleaved repeats: {key: median milliseconds per call}."""
    times = {k: [] for k in fns}
    for fn in fns.values():  # warm-up (allocator, BLAS, lazy init)
        fn()
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(inner):
                fn()
            times[k].append((time.perf_counter() - t0) / inner * 1e3)
    return {k: statistics.median(v) for k, v in times.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=None, help="fastgrad threads (default: keep)")
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--inner", type=int, default=1, help="calls per timed repeat")
    ap.add_argument("--filter", default="", help="only rows whose name contains this")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    args = ap.parse_args()
    if args.threads is not None:
        fg.set_num_threads(args.threads)
    torch.set_num_threads(fg.get_num_threads())
    base = {"seq": 50, "batch": 32, "in_size": 64, "hidden": 128}
    rows = [
        ("LSTM", base),
        ("GRU", base),
        ("RNN_TANH", base),
        ("LSTM", {"seq": 100, "batch": 8, "in_size": 32, "hidden": 64}),
        ("LSTM", {"seq": 20, "batch": 64, "in_size": 128, "hidden": 256, "num_layers": 2,
                  "bidirectional": True}),
    ]
    print(f"threads: fastgrad {fg.get_num_threads()}, torch {torch.get_num_threads()}; "
          f"dtype {args.dtype}; medians of {args.repeats} interleaved repeats")
    print(f"{'workload':<58} {'phase':<8} {'fastgrad':>10} {'torch':>10} {'fg/torch':>9}")
    for mode, cfg in rows:
        cfg = dict(cfg)
        shape = f"seq {cfg['seq']}, batch {cfg['batch']}, in {cfg['in_size']}, hid {cfg['hidden']}"
        extra = {k: cfg.pop(k) for k in ("num_layers", "bidirectional") if k in cfg}
        name = f"{mode} ({shape}" + "".join(f", {k}={v}" for k, v in extra.items()) + ")"
        if args.filter and args.filter not in name:
            continue
        fns = _runners(mode, cfg["seq"], cfg["batch"], cfg["in_size"], cfg["hidden"],
                       args.dtype, **extra)
        med = _median_ms(fns, args.repeats, args.inner)
        for phase in ("forward", "fwd+bwd"):
            f, t = med[("fastgrad", phase)], med[("torch", phase)]
            print(f"{name:<58} {phase:<8} {f:>8.2f}ms {t:>8.2f}ms {f / t:>9.2f}")


if __name__ == "__main__":
    main()
