"""GPU side by side: fastgrad's CUDA build against torch's CUDA build on the
same GPU, in one process, interleaved (issue 6's targets).

Rows:
  - bandwidth: a device-to-device copy (the HBM peak that the targets are
    measured against), then add / mul / exp on 256 MB float32 operands; GB/s
    counts the bytes read and written. Target: elementwise >= 80% of the copy
    peak (the better of the two libraries' copies).
    A float16 add row shows the 16-bit path (Note [16-bit floats]).
  - matmul: float32 1024^3 and 4096^3 products. Target: >= 0.9x torch.
    float16 and bfloat16 4096^3 products (cublasGemmEx, tensor cores).
  - training steps: an MLP (784-2048-2048-10, batch 512) and an nn.LSTM
    classifier (seq 64, batch 128, 256 -> 512), Adam on cross-entropy.
    Target: >= 1.0x torch's steps/s.

Every row first checks that both libraries compute the same thing (harness.py).
Timing synchronises the device after each batch of calls (see time_device).

    python bench/gpu_bench.py                    # needs a CUDA build and torch with CUDA
    python bench/gpu_bench.py --device cpu --quick   # smoke run of the script itself
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import fastgrad as fg  # noqa: E402
import harness  # noqa: E402
import workloads_train as wt  # noqa: E402

torch = wt.torch

MB = 1 << 20


def time_device(fn, sync, min_time):
    """Seconds per call: batches of back-to-back calls, the device synchronised
    at the end of each batch, the batch doubled until it lasts min_time."""
    n = 1
    while True:
        sync()
        start = time.perf_counter()
        for _ in range(n):
            fn()
        sync()
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            return elapsed / n
        n *= 2


def run_row(fns, syncs, repeats, min_time, rtol):
    check = harness.check_same({impl: fn() for impl, fn in fns.items()}, rtol)
    times = {impl: [] for impl in fns}
    for _ in range(repeats):
        for impl, fn in fns.items():
            times[impl].append(time_device(fn, syncs[impl], min_time))
    return check, {k: statistics.median(v) for k, v in times.items()}


def elementwise_rows(dev, numel):
    a_np = np.random.default_rng(0).standard_normal(numel, dtype=np.float32)
    b_np = np.random.default_rng(1).standard_normal(numel, dtype=np.float32)
    fa, fb = fg.tensor(a_np, device=dev), fg.tensor(b_np, device=dev)
    ta, tb = torch.from_numpy(a_np).to(dev), torch.from_numpy(b_np).to(dev)
    fout, tout = fg.empty_like(fa), torch.empty_like(ta)
    ha, hb, tha, thb = fa.half(), fb.half(), ta.half(), tb.half()
    nbytes = numel * 4

    def copy(m_out, m_in):
        def run():
            m_out.copy_(m_in)
            return m_out
        return run

    return [
        # (name, {impl: fn}, bytes moved per call)
        ("copy (device to device)", {"fastgrad": copy(fout, fa), "torch": copy(tout, ta)}, 2 * nbytes),
        ("add", {"fastgrad": lambda: fa + fb, "torch": lambda: ta + tb}, 3 * nbytes),
        ("mul", {"fastgrad": lambda: fa * fb, "torch": lambda: ta * tb}, 3 * nbytes),
        ("exp", {"fastgrad": lambda: fg.exp(fa), "torch": lambda: torch.exp(ta)}, 2 * nbytes),
        ("add float16", {"fastgrad": lambda: ha + hb, "torch": lambda: tha + thb}, 3 * nbytes // 2),
    ]


def matmul_rows(dev, sizes):
    rows = []
    for n, dt in [(n, "float32") for n in sizes] + [(sizes[-1], "float16"),
                                                    (sizes[-1], "bfloat16")]:
        rng = np.random.default_rng(n)
        a, b = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
        fa, fb = (fg.tensor(m, device=dev).to(getattr(fg, dt)) for m in (a, b))
        ta, tb = (torch.from_numpy(m).to(dev, getattr(torch, dt)) for m in (a, b))
        rows.append((f"matmul {n}x{n}x{n} {dt}",
                     {"fastgrad": lambda fa=fa, fb=fb: fa @ fb, "torch": lambda ta=ta, tb=tb: ta @ tb},
                     2.0 * n ** 3))
    return rows


def train_rows(dev, quick):
    batch, seq = (64, 8) if quick else (512, 64)
    width, n_in, hidden = (128, 32, 64) if quick else (2048, 256, 512)

    def mlp_inputs():
        rng = np.random.default_rng(0)
        return [rng.standard_normal((batch, 784), dtype=np.float32),
                rng.integers(0, 10, batch).astype(np.int64)]

    def lstm_inputs():
        rng = np.random.default_rng(0)
        n = batch // 4
        return [rng.standard_normal((seq, n, n_in), dtype=np.float32),
                rng.integers(0, 10, n).astype(np.int64)]

    def on_device(build_model, make_inputs):
        torch.manual_seed(0)
        tm = build_model(torch).to(dev)
        fm = build_model(fg)
        fm.load_state_dict({k: fg.tensor(v.detach().cpu().numpy()) for k, v in tm.state_dict().items()})
        fm.to(dev)
        arrays = make_inputs()
        ti = [torch.from_numpy(a).to(dev) for a in arrays]
        fi = [fg.tensor(a, device=dev) for a in arrays]
        t_run, f_run = wt.train_step(torch, tm), wt.train_step(fg, fm)
        return {"fastgrad": lambda: f_run(*fi), "torch": lambda: t_run(*ti)}

    return [
        (f"MLP 784-{width}-{width}-10 train step",
         on_device(lambda m: wt.mlp(m, [784, width, width, 10]), mlp_inputs), None),
        (f"nn.LSTM {n_in}->{hidden} train step",
         on_device(lambda m: wt.lstm_classifier(m, n_in, hidden, 10), lstm_inputs), None),
    ]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--quick", action="store_true", help="small sizes, few repeats (smoke run)")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "gpu_latest.json")
    args = ap.parse_args(argv)
    if torch is None:
        sys.exit("gpu_bench.py needs torch (the reference)")
    dev = args.device
    if dev.startswith("cuda"):
        if not fg.cuda.is_available():
            sys.exit("gpu_bench.py: fastgrad has no GPU here (a CUDA build and a GPU are needed)")
        if not torch.cuda.is_available():
            sys.exit("gpu_bench.py: torch has no CUDA here (install a CUDA build of torch)")
        syncs = {"fastgrad": fg.cuda.synchronize, "torch": torch.cuda.synchronize}
        gpu = torch.cuda.get_device_name()
    else:
        syncs = {"fastgrad": lambda: None, "torch": lambda: None}
        gpu = "cpu (smoke run)"
    repeats = args.repeats or (2 if args.quick else 7)
    min_time = 0.005 if args.quick else 0.05
    numel = (1 << 16) if args.quick else 64 * MB  # 256 MB of float32

    print(f"{'workload':40s} {'fastgrad':>10s} {'torch':>10s} {'fg/torch':>8s}  rate (fastgrad | torch)")
    records = []
    groups = [("bandwidth", elementwise_rows(dev, numel)),
              ("matmul", matmul_rows(dev, [64, 128] if args.quick else [1024, 4096])),
              ("train", train_rows(dev, args.quick))]
    for group, rows in groups:
        for name, fns, work in rows:
            check, med = run_row(fns, syncs, repeats, min_time, rtol=2e-3)
            rec = {"workload": name, "group": group, "check": check, "median_s": med,
                   "fg_over_torch": med["fastgrad"] / med["torch"]}
            if group == "bandwidth":
                rec["gb_per_s"] = {k: work / v / 1e9 for k, v in med.items()}
                rate = "GB/s " + " | ".join(f"{v:.0f}" for v in rec["gb_per_s"].values())
            elif group == "matmul":
                rec["tflops"] = {k: work / v / 1e12 for k, v in med.items()}
                rate = "TFLOP/s " + " | ".join(f"{v:.2f}" for v in rec["tflops"].values())
            else:
                rec["steps_per_s"] = {k: 1 / v for k, v in med.items()}
                rate = "steps/s " + " | ".join(f"{v:.1f}" for v in rec["steps_per_s"].values())
            records.append(rec)
            print(f"{name:40s} {med['fastgrad'] * 1e3:8.3f}ms {med['torch'] * 1e3:8.3f}ms "
                  f"{rec['fg_over_torch']:8.2f}  {rate}  [{check}]")

    # Issue 6's targets.
    bw = [r for r in records if r["group"] == "bandwidth"]
    peak = max(bw[0]["gb_per_s"].values())
    targets = {}
    for r in bw[1:]:
        frac = r["gb_per_s"]["fastgrad"] / peak
        targets[f"{r['workload']}: >= 80% of copy peak"] = {"value": frac, "met": frac >= 0.8}
    for r in records:
        if r["group"] == "matmul":
            speed = 1 / r["fg_over_torch"]
            targets[f"{r['workload']}: >= 0.9x torch"] = {"value": speed, "met": speed >= 0.9}
        if r["group"] == "train":
            speed = 1 / r["fg_over_torch"]
            targets[f"{r['workload']}: >= 1.0x torch"] = {"value": speed, "met": speed >= 1.0}
    print(f"\ncopy peak {peak:.0f} GB/s on {gpu}")
    for k, v in targets.items():
        print(f"  {'met   ' if v['met'] else 'MISSED'} {k} ({v['value']:.2f})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"gpu": gpu, "device": dev, "quick": args.quick,
                                    "rows": records, "targets": targets}, indent=1))
    print(f"wrote {args.out}")
    return records, targets


if __name__ == "__main__":
    main()
