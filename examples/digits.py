"""Train an MLP and a small CNN on scikit-learn's bundled 8x8 digits (no download).

    python examples/digits.py                 # both models, full training
    python examples/digits.py --model cnn     # one of them
    python examples/digits.py --quick         # a few steps (CI smoke run)

The code is PyTorch's with `import fastgrad as torch`-style names: only the
import differs.
"""

import argparse
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from tqdm import tqdm

import fastgrad as fg
from fastgrad import nn
from fastgrad.utils.data import DataLoader, TensorDataset


def mlp():
    return nn.Sequential(
        nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.1), nn.Linear(128, 10)
    )


def cnn():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),  # 16x4x4
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2),  # 32x2x2
        nn.Flatten(), nn.Linear(128, 10),
    )  # fmt: skip


def load(seed):
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]  # (N, 1, 8, 8) in [0, 1]
    y = digits.target.astype(np.int64)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.25, random_state=seed, stratify=y)
    return (fg.tensor(xtr), fg.tensor(ytr)), (fg.tensor(xte), fg.tensor(yte))


def accuracy(model, x, y):
    model.eval()
    with fg.no_grad():
        pred = model(x).argmax(dim=1)
    return (pred == y).float().mean().item()


def train(name, model, train_set, test_set, epochs, max_steps=None):
    loader = DataLoader(TensorDataset(*train_set), batch_size=32, shuffle=True,
                        generator=fg.Generator().manual_seed(0))
    opt = fg.optim.Adam(model.parameters(), lr=3e-3)
    sched = fg.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    loss_fn = nn.CrossEntropyLoss()
    start, steps = time.perf_counter(), 0
    for epoch in (bar := tqdm(range(epochs), desc=name, disable=max_steps is not None)):
        model.train()
        for xb, yb in loader:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            steps += 1
            if max_steps is not None and steps >= max_steps:
                break
        sched.step()
        bar.set_postfix(loss=f"{loss.item():.3f}")
        if max_steps is not None and steps >= max_steps:
            break
    acc = accuracy(model, *test_set)
    print(f"{name}: test accuracy {acc:.4f} after {epoch + 1} epochs "
          f"({steps} steps, {time.perf_counter() - start:.1f} s)")
    return acc


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=["mlp", "cnn", "both"], default="both")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--quick", action="store_true", help="a few steps only (smoke test)")
    args = p.parse_args(argv)
    fg.manual_seed(0)
    train_set, test_set = load(seed=0)
    models = {"mlp": mlp, "cnn": cnn}
    names = list(models) if args.model == "both" else [args.model]
    results = {}
    for name in names:
        results[name] = train(name, models[name](), train_set, test_set, args.epochs,
                              max_steps=5 if args.quick else None)
        if not args.quick and results[name] < 0.95:
            raise SystemExit(f"{name}: accuracy {results[name]:.4f} is below 0.95")
    return results


if __name__ == "__main__":
    main()
