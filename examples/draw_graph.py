"""Draws the backward graph of a small CNN's loss with fastgrad.viz.

    python examples/draw_graph.py                      # docs/images/cnn_backward.svg
    python examples/draw_graph.py --out graph.png

Writes the DOT source next to the picture; the picture needs Graphviz's `dot`.
"""

import argparse
import pathlib
import shutil

import fastgrad as fg
from fastgrad import nn, viz

ROOT = pathlib.Path(__file__).resolve().parent.parent


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "images" / "cnn_backward.svg"))
    args = ap.parse_args(argv)

    fg.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(4 * 4 * 4, 10))
    x, y = fg.randn(8, 1, 8, 8), fg.randint(0, 10, (8,))
    loss = nn.functional.cross_entropy(model(x), y)
    dot = viz.draw_graph(loss, params=dict(model.named_parameters()))

    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    print("wrote", dot.save(out.with_suffix(".dot")))
    if shutil.which("dot"):
        print("wrote", dot.render(out))
    else:
        print("Graphviz's dot is not installed: only the DOT source was written")
    return dot


if __name__ == "__main__":
    main()
