"""The pieces every compare.py row shares: the Row record, the interleaved timer
and the check that fastgrad and its reference compute the same thing.

A row is built lazily (`Row.build()`), so `--filter` never pays for the big
arrays or models of rows it skips. `build` returns {impl: zero-arg callable}
for the impls "fastgrad", "torch" and "numpy" (missing or None: not applicable).
Each callable runs one repetition of the workload and returns what it computed
(an output, a loss, a gradient, or a tuple of those); the first call of every
impl doubles as the warm-up and as the input of `check_same`.
"""

import statistics
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

IMPLS = ("fastgrad", "torch", "numpy")


@dataclass
class Row:
    name: str
    build: Callable[[], dict]
    group: str = "op"              # "op", "matmul", "conv", "train", "layer"
    flops: Optional[float] = None  # per call, for GFLOP/s
    train: bool = False            # a training step: also report steps/s
    # Issue 5's target: (reference impl, largest acceptable fastgrad/ref time ratio).
    target: Optional[tuple] = None
    # The correctness check's tolerance: relative, and absolute scaled by the
    # reference's largest magnitude (see check_same).
    rtol: float = 1e-3


def to_numpy(x):
    """fastgrad / torch tensors, numpy arrays, scalars, tuples -> list of float64 arrays."""
    if isinstance(x, (tuple, list)):
        return [a for item in x for a in to_numpy(item)]
    if x is None:
        return []
    if hasattr(x, "detach"):  # torch and fastgrad tensors, on any device
        x = x.detach().cpu()
        if str(x.dtype).endswith(("float16", "bfloat16")):  # numpy has no bfloat16
            x = x.float()
    if hasattr(x, "numpy") and not isinstance(x, np.ndarray):
        x = x.numpy()
    return [np.asarray(x, dtype=np.float64)]


def check_same(results, rtol):
    """'ok' when every impl's first result matches the reference (torch when
    present, else numpy), else a one-line description of the mismatch. The
    tolerance is loose and scaled by the reference's magnitude: the point is
    to prove the rows compute the same thing, not to test rounding."""
    ref_name = "torch" if "torch" in results else "numpy" if "numpy" in results else None
    if ref_name is None:
        return "no reference"
    ref = to_numpy(results[ref_name])
    for impl, out in results.items():
        if impl == ref_name:
            continue
        got = to_numpy(out)
        if len(got) != len(ref):
            return f"{impl} returned {len(got)} values, {ref_name} {len(ref)}"
        for i, (g, r) in enumerate(zip(got, ref)):
            if g.shape != r.shape:
                return f"{impl} output {i}: shape {g.shape} vs {ref_name} {r.shape}"
            scale = max(1.0, float(np.max(np.abs(r)))) if r.size else 1.0
            if not np.allclose(g, r, rtol=rtol, atol=rtol * scale, equal_nan=True):
                diff = float(np.max(np.abs(g - r)))
                return f"{impl} output {i} differs from {ref_name}: max |diff| {diff:.3g}"
    return "ok"


def time_once(fn, min_time):
    """Seconds per call: calls fn back to back until min_time has passed
    (at least once), so fast calls are averaged over many iterations."""
    n, start = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            return elapsed / n


def run_row(fns, repeats, min_time, rtol):
    """One warm-up call per impl whose results are checked against each other
    (then dropped, so big outputs don't stay alive during timing), then
    `repeats` interleaved rounds (fastgrad, torch, numpy, fastgrad, ...) so
    every impl sees the same machine load.
    Returns (check string, {impl: [seconds per call, ...]})."""
    check = check_same({impl: fn() for impl, fn in fns.items()}, rtol)
    times = {impl: [] for impl in fns}
    for _ in range(repeats):
        for impl, fn in fns.items():
            times[impl].append(time_once(fn, min_time))
    return check, times


def summarize(row, times):
    """The JSON record of one row (without the check)."""
    med = {k: statistics.median(v) for k, v in times.items()}
    rec = {"workload": row.name, "group": row.group, "median_s": med,
           "min_s": {k: min(v) for k, v in times.items()},
           "fg_over_torch": med["fastgrad"] / med["torch"] if "torch" in med else None,
           "fg_over_numpy": med["fastgrad"] / med["numpy"] if "numpy" in med else None}
    if row.train:
        rec["steps_per_s"] = {k: 1.0 / v for k, v in med.items()}
    if row.flops:
        rec["gflops"] = {k: row.flops / v / 1e9 for k, v in med.items()}
    if row.target is not None:
        ref, limit = row.target
        ratio = rec[f"fg_over_{ref}"]
        rec["target"] = {"vs": ref, "max_ratio": limit,
                         "met": None if ratio is None else ratio <= limit}
    return rec


@dataclass
class Selection:
    """--filter: comma-separated, case-insensitive substrings of row names."""
    text: str = ""
    parts: list = field(init=False)

    def __post_init__(self):
        self.parts = [p.strip().lower() for p in self.text.split(",") if p.strip()]

    def __call__(self, name):
        return not self.parts or any(p in name.lower() for p in self.parts)
