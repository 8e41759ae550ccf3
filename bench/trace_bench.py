"""Traced replay (fastgrad.jit.trace) vs eager: a small MLP and an LSTM step.

Eager runs each layer's Python (module calls, argument checks, one binding
call per op); a traced module runs the recorded ops in one C++ call. Both
run forward under no_grad on the same inputs; they are interleaved (eager,
traced, eager, ...) so both see the same machine load, and the medians and
the traced/eager ratio (< 1: replay faster) are printed. With torch
installed, torch eager and torch.jit.trace are timed the same way as a
reference.

    PYTHONPATH=python python bench/trace_bench.py
    PYTHONPATH=python python bench/trace_bench.py --threads 1 --repeats 21
"""

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

import fastgrad as fg

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling modules
from harness import time_once  # noqa: E402

try:
    import torch
except ImportError:  # the torch columns are optional
    torch = None


def _mlp(lib):
    nn = lib.nn
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(),
                         nn.Linear(128, 10))


def _lstm(lib):
    return lib.nn.LSTM(32, 64)


# name, model factory, input shapes (numpy), batch dim of each input
WORKLOADS = [
    ("MLP 64-128-128-10, batch 1", _mlp, [(1, 64)], 0),
    ("MLP 64-128-128-10, batch 32", _mlp, [(32, 64)], 0),
    ("LSTM(32, 64) one step, batch 1", _lstm, [(1, 1, 32), (1, 1, 64), (1, 1, 64)], 1),
    ("LSTM(32, 64) one step, batch 16", _lstm, [(1, 16, 32), (1, 16, 64), (1, 16, 64)], 1),
]


def _args(tensors, is_lstm):
    return (tensors[0], (tensors[1], tensors[2])) if is_lstm else tuple(tensors)


def _flat(out):
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flat(o)]
    return [out]


def _runners(make, shapes, is_lstm):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    fm = make(fg).eval()
    fx = _args([fg.from_numpy(a) for a in arrays], is_lstm)
    traced = fg.jit.trace(fm, fx, batch_dim=1 if is_lstm else 0)

    def fg_run(m):
        def run():
            with fg.no_grad():
                m(*fx)
        return run

    runners = {"fastgrad eager": fg_run(fm), "fastgrad traced": fg_run(traced)}
    with fg.no_grad():
        check = [np.abs(a.numpy() - b.numpy()).max()
                 for a, b in zip(_flat(fm(*fx)), _flat(traced(*fx)))]
    assert max(check) == 0.0, "traced output differs from eager"
    if torch is not None:
        tm = make(torch).eval()
        tm.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in fm.state_dict().items()})
        tx = _args([torch.from_numpy(a) for a in arrays], is_lstm)
        with torch.no_grad():
            tt = torch.jit.trace(tm, tx)

        def t_run(m):
            def run():
                with torch.no_grad():
                    m(*tx)
            return run

        runners["torch eager"] = t_run(tm)
        runners["torch jit.trace"] = t_run(tt)
    return runners


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=11)
    p.add_argument("--min-time", type=float, default=0.05)
    p.add_argument("--filter", default="")
    a = p.parse_args()
    fg.set_num_threads(a.threads)
    if torch is not None:
        torch.set_num_threads(a.threads)
    print(f"threads={a.threads} repeats={a.repeats} (medians, microseconds per forward)")
    header = f"{'workload':34s} {'eager':>8s} {'traced':>8s} {'ratio':>6s}"
    if torch is not None:
        header += f" {'torch eager':>11s} {'torch trace':>11s}"
    print(header)
    for name, make, shapes, _ in WORKLOADS:
        if a.filter and a.filter not in name:
            continue
        runners = _runners(make, shapes, make is _lstm)
        samples = {k: [] for k in runners}
        for _ in range(a.repeats):
            for k, fn in runners.items():
                samples[k].append(time_once(fn, a.min_time))
        med = {k: statistics.median(v) * 1e6 for k, v in samples.items()}
        line = (f"{name:34s} {med['fastgrad eager']:8.1f} {med['fastgrad traced']:8.1f} "
                f"{med['fastgrad traced'] / med['fastgrad eager']:6.2f}")
        if torch is not None:
            line += f" {med['torch eager']:11.1f} {med['torch jit.trace']:11.1f}"
        print(line)


if __name__ == "__main__":
    main()
