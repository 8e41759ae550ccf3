"""Side-by-side timings: fastgrad vs torch vs numpy in one process.

Each workload is a row; the libraries run interleaved (fastgrad, torch, numpy,
fastgrad, ...) for `--repeats` rounds on the same thread count, and the
medians are reported with the fastgrad/torch and fastgrad/numpy time ratios
(< 1: fastgrad is faster). Before timing, every row checks once that fastgrad
computes what torch (or numpy) computes. Writes latest.json and latest.png
(ratio chart, needs matplotlib) into --out-dir (default bench/results).

    python bench/compare.py --threads 1               # every row, one thread
    python bench/compare.py --threads 0               # all cores
    python bench/compare.py --filter matmul,conv --repeats 5
    python bench/compare.py --quick --filter "add tiny"   # a fast smoke run

Rows live in workloads_ops.py (single ops) and workloads_train.py (training
steps and layers); harness.py times and checks, report.py prints and saves.
"""

import argparse
import contextlib
import os
import sys
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling modules

import fastgrad as fg  # noqa: E402
import harness  # noqa: E402
import report  # noqa: E402
import workloads_ops  # noqa: E402
import workloads_train  # noqa: E402

torch = workloads_ops.torch  # None when torch is not installed


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1,
                    help="threads for every library (0: os.cpu_count())")
    ap.add_argument("--all-threads", action="store_true", help="same as --threads 0")
    ap.add_argument("--repeats", type=int, default=None,
                    help="interleaved rounds per row (default 11, 2 with --quick)")
    ap.add_argument("--min-time", type=float, default=None,
                    help="seconds per timed sample (default 0.02, 0.002 with --quick)")
    ap.add_argument("--quick", action="store_true",
                    help="few repeats and short samples (CI and tests)")
    ap.add_argument("--filter", default="",
                    help="comma-separated substrings of row names (case-insensitive)")
    ap.add_argument("--out-dir", type=Path, default=Path(__file__).resolve().parent / "results",
                    help="where latest.json and latest.png go")
    ap.add_argument("--no-png", action="store_true", help="skip the chart")
    args = ap.parse_args(argv)
    if args.all_threads or args.threads == 0:
        args.threads = os.cpu_count() or 1
    if args.repeats is None:
        args.repeats = 2 if args.quick else 11
    if args.min_time is None:
        args.min_time = 0.002 if args.quick else 0.02
    return args


def thread_limits(n):
    """Caps every BLAS/OpenMP pool in the process (numpy's OpenBLAS included,
    which ignores torch's and fastgrad's settings) at n threads."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        print("threadpoolctl not installed: numpy's BLAS keeps its own thread count "
              "(pip install '.[bench]')", file=sys.stderr)
        return contextlib.nullcontext()
    return threadpool_limits(limits=n)


def run_rows(args):
    """Times every selected row; returns (records, number of failed rows)."""
    select = harness.Selection(args.filter)
    records, failures = [], 0
    print(report.header())
    for row in (*workloads_ops.rows(), *workloads_train.rows()):
        if not select(row.name):
            continue
        try:
            fns = {k: v for k, v in row.build().items() if v is not None}
            check, times = harness.run_row(fns, args.repeats, args.min_time, row.rtol)
        except Exception as e:  # a missing op or a crash: report it, keep going
            traceback.print_exc()
            records.append({"workload": row.name, "group": row.group, "error": repr(e)})
            print(f"{row.name:{report.NAME_W}s} ERROR {e!r}")
            failures += 1
            continue
        rec = harness.summarize(row, times)
        rec["check"] = check
        print(report.line(rec), flush=True)
        if rec["check"] not in ("ok", "no reference"):
            print(f"  !! results differ: {rec['check']}")
            failures += 1
        records.append(rec)
    return records, failures


def main(argv=None):
    args = parse_args(argv)
    fg.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
    print(f"threads={args.threads} repeats={args.repeats} min_time={args.min_time}s "
          f"torch={getattr(torch, '__version__', None)} (times: medians; ratios < 1: "
          f"fastgrad faster)")
    with thread_limits(args.threads):
        records, failures = run_rows(args)
        meta = report.meta(args, torch, fg)  # inside: records the limited pools
    if not records:
        print(f"no row matches --filter {args.filter!r}", file=sys.stderr)
        return 2
    report.write_json(args.out_dir / "latest.json", meta, records)
    print(f"results written to {args.out_dir / 'latest.json'}")
    if not args.no_png:
        print(report.write_png(args.out_dir / "latest.png", meta, records))
    if failures:
        print(f"{failures} row(s) failed or disagreed with the reference", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
