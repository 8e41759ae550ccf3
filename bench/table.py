"""Prints a compare.py JSON result as the markdown table bench/README.md shows.

    python bench/table.py bench/results/latest.json [more.json ...]

With several files (e.g. a --threads 1 and a --threads 0 run), the fastgrad/torch
ratio of each is a column of its own.
"""

import json
import sys


def _t(s):
    if s is None:
        return "-"
    for unit, f in (("s", 1), ("ms", 1e3), ("us", 1e6)):
        if s * f >= 1 or unit == "us":
            return f"{s * f:.3g} {unit}"


def _rate(rec):
    for key, unit in (("steps_per_s", "steps/s"), ("gflops", "GFLOP/s")):
        if key in rec:
            v = rec[key]
            return f"{v['fastgrad']:.0f} / {v.get('torch', 0):.0f} {unit}"
    return ""


def _target(rec):
    t = rec.get("target")
    if not t:
        return "-"
    want = f"<= {t['max_ratio']:.2f} x {t['vs']}"
    return f"{want}: {'met' if t['met'] else '**not met**'}"


def main(paths):
    runs = [json.load(open(p)) for p in paths]
    first = runs[0]
    labels = [f"fg/torch ({r['meta']['threads'] or 'all'} thr)" for r in runs]
    print(f"| workload | fastgrad | torch | numpy | {' | '.join(labels)} | fg/np | rates (fg / torch) | target (1st run) |")
    print("|---|---:|---:|---:|" + "---:|" * len(runs) + "---:|---|---|")
    others = [{r["workload"]: r for r in run["rows"]} for run in runs[1:]]
    for rec in first["rows"]:
        m = rec["median_s"]
        ratios = [rec.get("fg_over_torch")] + [o.get(rec["workload"], {}).get("fg_over_torch") for o in others]
        cells = [f"{x:.2f}" if x is not None else "-" for x in ratios]
        np_ratio = rec.get("fg_over_numpy")
        print(f"| {rec['workload']} | {_t(m.get('fastgrad'))} | {_t(m.get('torch'))} | "
              f"{_t(m.get('numpy'))} | {' | '.join(cells)} | "
              f"{f'{np_ratio:.2f}' if np_ratio is not None else '-'} | {_rate(rec)} | {_target(rec)} |")


if __name__ == "__main__":
    main(sys.argv[1:] or ["bench/results/latest.json"])
