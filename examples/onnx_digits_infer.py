"""Classify the digits test split with an exported ONNX model, with
onnxruntime alone: this script never imports fastgrad.

    python examples/onnx_digits_infer.py digits_cnn.onnx

It rebuilds the test split the way examples/digits.py does (scikit-learn's
bundled digits, 25% test, stratified, seed 0) and runs the whole split as one
batch, whatever batch the model was traced with (its batch axis is dynamic).
"""

import argparse
import sys

import numpy as np
import onnxruntime as ort
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split


def test_split(seed):
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]  # (N, 1, 8, 8) in [0, 1]
    y = digits.target.astype(np.int64)
    _, xte, _, yte = train_test_split(x, y, test_size=0.25, random_state=seed, stratify=y)
    return xte, yte


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", help="the .onnx file written by examples/export_onnx.py")
    p.add_argument("--seed", type=int, default=0, help="the train/test split's seed")
    args = p.parse_args(argv)
    x, y = test_split(args.seed)
    sess = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    logits = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    acc = float((logits.argmax(axis=1) == y).mean())
    assert "fastgrad" not in sys.modules
    print(f"onnxruntime: test accuracy {acc:.4f} on {len(y)} images")
    return acc


if __name__ == "__main__":
    main()
