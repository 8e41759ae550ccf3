"""bench/compare.py runs end to end on a few cheap rows (--quick) and writes a
sane JSON (and chart). Timings are never asserted: only that they exist."""

import importlib.util
import json
import math
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import fastgrad

COMPARE = pathlib.Path(__file__).resolve().parent.parent / "bench" / "compare.py"


def run_compare(tmp_path, *args, hide=()):
    """Runs compare.py --quick in a fresh interpreter, output into tmp_path;
    `hide` lists modules made unimportable there (as if not installed)."""
    env = dict(os.environ)
    # The fastgrad this test imported (the dev tree or the installed wheel).
    pkg_root = str(pathlib.Path(fastgrad.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join([pkg_root] + [p for p in [env.get("PYTHONPATH")] if p])
    argv = [str(COMPARE), *args, "--quick", "--out-dir", str(tmp_path)]
    code = (f"import sys, runpy; sys.modules.update(dict.fromkeys({list(hide)!r})); "
            f"sys.argv = {argv!r}; runpy.run_path(sys.argv[0], run_name='__main__')")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120)


def load_bench_module(name):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", COMPARE.parent / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def load_rows(tmp_path):
    data = json.loads((tmp_path / "latest.json").read_text())
    return data["meta"], {r["workload"]: r for r in data["rows"]}


def positive(x):
    return isinstance(x, float) and math.isfinite(x) and x > 0


def test_quick_rows_with_torch(tmp_path):
    pytest.importorskip("torch")
    res = run_compare(tmp_path, "--threads", "1", "--filter", "add tiny")
    assert res.returncode == 0, res.stdout + res.stderr
    meta, rows = load_rows(tmp_path)
    assert meta["threads"] == 1 and meta["quick"] and meta["repeats"] == 2
    assert meta["date"] and meta["cpu_model"] and isinstance(meta["env"], dict)
    assert meta["versions"]["torch"].startswith("2.13")
    assert set(rows) == {"add tiny (4)", "add tiny (4), requires_grad (record 1 op)"}
    add = rows["add tiny (4)"]
    assert set(add["median_s"]) == {"fastgrad", "torch", "numpy"}
    assert all(positive(v) for v in add["median_s"].values())
    med = add["median_s"]
    assert add["fg_over_torch"] == pytest.approx(med["fastgrad"] / med["torch"])
    assert add["fg_over_numpy"] == pytest.approx(med["fastgrad"] / med["numpy"])
    assert all(r["check"] == "ok" for r in rows.values())
    # Autograd recording has no numpy twin; its row carries the target.
    rec = rows["add tiny (4), requires_grad (record 1 op)"]
    assert set(rec["median_s"]) == {"fastgrad", "torch"} and rec["fg_over_numpy"] is None
    assert rec["target"]["vs"] == "torch" and rec["target"]["met"] in (True, False)
    assert "add tiny (4)" in res.stdout and "fg/torch" in res.stdout
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "chart skipped" in res.stdout
    else:
        assert (tmp_path / "latest.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_torch_or_matplotlib(tmp_path):
    """numpy becomes the reference; the chart is skipped with a message;
    --threads 0 means every core."""
    res = run_compare(tmp_path, "--threads", "0", "--filter", "add tiny (4)",
                      hide=["torch", "matplotlib"])
    assert res.returncode == 0, res.stdout + res.stderr
    assert "chart skipped" in res.stdout
    assert not (tmp_path / "latest.png").exists()
    meta, rows = load_rows(tmp_path)
    assert meta["threads"] == os.cpu_count() and meta["versions"]["torch"] is None
    row = rows["add tiny (4)"]
    assert set(row["median_s"]) == {"fastgrad", "numpy"} and row["fg_over_torch"] is None
    assert row["check"] == "ok"
    # Autograd has no numpy twin: fastgrad alone, timed but not compared.
    rec = rows["add tiny (4), requires_grad (record 1 op)"]
    assert set(rec["median_s"]) == {"fastgrad"} and rec["check"] == "no reference"
    assert rec["target"]["met"] is None


def test_summary_of_a_training_row():
    """Training rows add steps/s, flop-counted rows GFLOP/s (in-process: a
    real training row would import torch's optimizer stack, seconds)."""
    harness = load_bench_module("harness")
    row = harness.Row("step", build=None, train=True, flops=2e9, target=("torch", 0.5))
    rec = harness.summarize(row, {"fastgrad": [0.3, 0.1, 0.2], "torch": [0.5, 0.4, 0.6]})
    assert rec["median_s"] == {"fastgrad": 0.2, "torch": 0.5}
    assert rec["fg_over_torch"] == pytest.approx(0.4) and rec["fg_over_numpy"] is None
    assert rec["steps_per_s"] == pytest.approx({"fastgrad": 5.0, "torch": 2.0})
    assert rec["gflops"] == pytest.approx({"fastgrad": 10.0, "torch": 4.0})
    assert rec["target"] == {"vs": "torch", "max_ratio": 0.5, "met": True}


def test_check_same_flags_a_mismatch():
    harness = load_bench_module("harness")
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert harness.check_same({"fastgrad": (a, a[0]), "torch": (a, a[0])}, 1e-3) == "ok"
    assert "differs" in harness.check_same({"fastgrad": a + 1, "numpy": a}, 1e-3)
    assert "shape" in harness.check_same({"fastgrad": a.T, "numpy": a}, 1e-3)


def test_no_matching_row(tmp_path):
    res = run_compare(tmp_path, "--filter", "no such workload", hide=["torch"])
    assert res.returncode == 2 and "no row matches" in res.stderr


def test_gpu_bench_smoke_on_cpu(tmp_path):
    """bench/gpu_bench.py's own logic (rows, checks, targets, JSON) with
    --device cpu; the real run needs a GPU and torch's CUDA build."""
    pytest.importorskip("torch")
    env = dict(os.environ)
    pkg_root = str(pathlib.Path(fastgrad.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join([pkg_root] + [p for p in [env.get("PYTHONPATH")] if p])
    out = tmp_path / "gpu.json"
    script = COMPARE.with_name("gpu_bench.py")
    proc = subprocess.run([sys.executable, str(script), "--device", "cpu", "--quick", "--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert [r["group"] for r in data["rows"]] == ["bandwidth"] * 5 + ["matmul"] * 4 + ["train"] * 2
    assert [r["workload"].split()[-1] for r in data["rows"][5:9]] == [
        "float32", "float32", "float16", "bfloat16"]
    assert all(r["check"] == "ok" for r in data["rows"]), data["rows"]
    assert all(r["median_s"]["fastgrad"] > 0 and r["median_s"]["torch"] > 0 for r in data["rows"])
    assert len(data["targets"]) == 10 and all(isinstance(t["met"], bool) for t in data["targets"].values())
