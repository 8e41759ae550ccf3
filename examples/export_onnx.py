"""Train the digits CNN with fastgrad, export it to ONNX, and check that
onnxruntime alone (a separate process that never imports fastgrad) gets the
same test accuracy.

    python examples/export_onnx.py                      # full training (30 epochs)
    python examples/export_onnx.py --out digits.onnx    # keep the model file
    python examples/export_onnx.py --quick              # a few steps (CI smoke run)

The model, data and training loop are examples/digits.py's; the export is
fastgrad.onnx.export (built on fastgrad.jit.trace) with a dynamic batch axis.
"""

import argparse
import os
import pathlib
import re
import subprocess
import sys
import tempfile

import fastgrad as fg

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import digits  # noqa: E402  (examples/digits.py: data, model and training loop)


def run_onnxruntime(model_path, seed):
    """examples/onnx_digits_infer.py in a fresh interpreter: its accuracy."""
    proc = subprocess.run(
        [sys.executable, str(HERE / "onnx_digits_infer.py"), str(model_path), "--seed",
         str(seed)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"onnxruntime run failed:\n{proc.stderr}")
    print(proc.stdout.strip())
    return float(re.search(r"test accuracy ([0-9.]+)", proc.stdout).group(1))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--out", help="where to write the .onnx file (default: a temporary dir)")
    p.add_argument("--quick", action="store_true", help="a few steps only (smoke test)")
    args = p.parse_args(argv)
    fg.manual_seed(0)
    train_set, test_set = digits.load(seed=0)
    model = digits.cnn()
    acc = digits.train("cnn", model, train_set, test_set, args.epochs,
                       max_steps=5 if args.quick else None)

    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(args.out or os.path.join(tmp, "digits_cnn.onnx"))
        model.eval()
        proto = fg.onnx.export(model, train_set[0][:32], str(path), input_names=["image"],
                               output_names=["logits"],
                               dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})
        ops = sorted({n.op_type for n in proto.graph.node})
        print(f"exported {path.name}: {len(proto.graph.node)} ONNX nodes ({', '.join(ops)}), "
              f"{path.stat().st_size / 1024:.1f} KiB")
        ort_acc = run_onnxruntime(path, seed=0)
    print(f"fastgrad: test accuracy {acc:.4f}")
    if abs(ort_acc - acc) > 1.5 / len(test_set[1]):  # at most one image may flip on a tie
        raise SystemExit(f"onnxruntime accuracy {ort_acc:.4f} != fastgrad's {acc:.4f}")
    return acc, ort_acc


if __name__ == "__main__":
    main()
