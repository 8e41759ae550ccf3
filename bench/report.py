"""compare.py's outputs: the printed table, the run's metadata, the JSON file and
the PNG chart of the fastgrad/torch ratios."""

import datetime
import json
import os
import platform
import sys
from importlib import metadata

import numpy as np

NAME_W = 52


def fmt_time(s):
    if s is None:
        return "-"
    for unit, scale in (("s", 1), ("ms", 1e-3), ("us", 1e-6)):
        if s >= scale or unit == "us":
            v = s / scale
            return f"{v:.3g} {unit}" if v < 100 else f"{v:.0f} {unit}"


def fmt_ratio(r, width):
    return f"{r:{width}.2f}" if r is not None else f"{'-':>{width}s}"


def header():
    return (f"{'workload':{NAME_W}s} {'fastgrad':>9s} {'torch':>9s} {'numpy':>9s} "
            f"{'fg/torch':>8s} {'fg/np':>6s}  {'target':12s} rates (fastgrad | torch | numpy)")


def line(rec):
    med = rec["median_s"]
    target = ""
    if "target" in rec:
        t = rec["target"]
        met = {True: "met", False: "MISSED", None: "?"}[t["met"]]
        target = f"<={t['max_ratio']:.2f}{'' if t['vs'] == 'torch' else ' np'} {met}"
    rates = ""
    if "steps_per_s" in rec:
        rates = "steps/s " + " | ".join(f"{v:.1f}" for v in rec["steps_per_s"].values())
    elif "gflops" in rec:
        rates = "GFLOP/s " + " | ".join(f"{v:.1f}" for v in rec["gflops"].values())
    return (f"{rec['workload']:{NAME_W}s} {fmt_time(med.get('fastgrad')):>9s} "
            f"{fmt_time(med.get('torch')):>9s} {fmt_time(med.get('numpy')):>9s} "
            f"{fmt_ratio(rec['fg_over_torch'], 8)} {fmt_ratio(rec['fg_over_numpy'], 6)}  "
            f"{target:12s} {rates}").rstrip()


def _version(dist):
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("model name"):
                    return ln.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _blas_info():
    """The BLAS/OpenMP pools threadpoolctl sees (numpy's OpenBLAS, fastgrad's,
    torch's OpenMP), with the thread counts in force during the run."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    keys = ("user_api", "internal_api", "prefix", "version", "num_threads", "architecture")
    return [{k: p.get(k) for k in keys} for p in threadpool_info()]


def meta(args, torch, fg):
    env = {k: v for k, v in sorted(os.environ.items())
           if k.startswith(("OMP_", "OPENBLAS", "MKL_", "GOMP_", "KMP_"))}
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "threads": args.threads, "repeats": args.repeats, "min_time_s": args.min_time,
        "quick": args.quick, "filter": args.filter,
        "cpu_model": _cpu_model(), "cpu_count": os.cpu_count(),
        "loadavg": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "platform": platform.platform(), "python": sys.version.split()[0],
        "versions": {"fastgrad": getattr(fg, "__version__", None), "numpy": np.__version__,
                     "torch": getattr(torch, "__version__", None),
                     "threadpoolctl": _version("threadpoolctl"),
                     "matplotlib": _version("matplotlib")},
        "env": env,
        "threadpools": _blas_info(),
    }


def write_json(path, meta_, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"meta": meta_, "rows": rows}, indent=1) + "\n")


def write_png(path, meta_, rows):
    """Horizontal bars of fastgrad/torch time ratios (log scale, < 1: fastgrad
    faster), a line at 1.0 and a tick at each row's target. Returns a message
    instead of failing when matplotlib is missing."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        return "matplotlib not installed: chart skipped (pip install '.[bench]')"
    rows = [r for r in rows if r.get("fg_over_torch")]
    if not rows:
        return "no fastgrad/torch ratios: chart skipped"
    names = [r["workload"] for r in rows][::-1]
    ratios = [r["fg_over_torch"] for r in rows][::-1]
    fig, ax = plt.subplots(figsize=(10, 0.32 * len(rows) + 1.6))
    colors = ["tab:green" if v <= 1 else "tab:red" for v in ratios]
    ax.barh(range(len(rows)), ratios, color=colors, alpha=0.8)
    ax.set_yticks(range(len(rows)), names, fontsize=8)
    ax.set_xscale("log")
    ax.axvline(1.0, color="black", linewidth=1)
    for y, r in enumerate(rows[::-1]):
        t = r.get("target")
        if t and t["vs"] == "torch":
            ax.plot([t["max_ratio"]] * 2, [y - 0.4, y + 0.4], color="black",
                    linestyle=":", linewidth=1.5)
        ax.text(ratios[y], y, f" {ratios[y]:.2f}", va="center", fontsize=7)
    lo, hi = min(ratios + [0.5]), max(ratios + [2.0])
    ax.set_xlim(lo / 1.3, hi * 1.6)
    ticks = [t for t in (0.125, 0.25, 0.5, 1, 2, 4, 8, 16) if lo / 1.3 <= t <= hi * 1.6]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("fastgrad time / torch time (log scale; < 1: fastgrad faster; "
                  "dotted: issue 5 target)")
    ax.set_title(f"fastgrad vs torch {meta_['versions']['torch']}, {meta_['threads']} "
                 f"thread(s), {meta_['cpu_model']}, {meta_['date'][:10]}", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return f"chart written to {path}"
