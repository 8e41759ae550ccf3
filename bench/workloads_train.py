"""Training-stack rows: whole training steps (model, loss, backward, Adam) and
layers forward+backward. Each model is written once as a function of the
library module `m` and built twice; fastgrad's twin gets torch's weights
(`load_state_dict(torch_model.state_dict())`), so the first losses agree and
compare.py can check that before timing. These rows need torch (the twin)."""

import numpy as np

import fastgrad as fg
from harness import Row

try:
    import torch
except ImportError:
    torch = None

STEPS = ("torch", 1 / 1.2)      # MLP, nn.LSTM, LeNet-5: >= 1.2x torch's steps/s
DYNAMIC = ("torch", 1 / 1.5)    # the hand-written LSTM cell loop: >= 1.5x


# ---- models, written once for both libraries ------------------------------------
def mlp(m, sizes):
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers += [m.nn.Linear(a, b)] + ([m.nn.ReLU()] if i < len(sizes) - 2 else [])
    return m.nn.Sequential(*layers)


def lenet5(m):
    """LeNet-5 on 1x28x28 (padding 2 stands in for the original 32x32 input)."""
    return m.nn.Sequential(
        m.nn.Conv2d(1, 6, 5, padding=2), m.nn.ReLU(), m.nn.MaxPool2d(2),
        m.nn.Conv2d(6, 16, 5), m.nn.ReLU(), m.nn.MaxPool2d(2), m.nn.Flatten(),
        m.nn.Linear(400, 120), m.nn.ReLU(), m.nn.Linear(120, 84), m.nn.ReLU(),
        m.nn.Linear(84, 10))


def lstm_classifier(m, n_in, hidden, classes):
    """nn.LSTM over the sequence, a linear head on the last step."""
    class LSTMClassifier(m.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = m.nn.LSTM(n_in, hidden)
            self.head = m.nn.Linear(hidden, classes)

        def forward(self, x):
            out, _ = self.lstm(x)
            return self.head(out[-1])
    return LSTMClassifier()


def small_cnn(m):
    return m.nn.Sequential(
        m.nn.Conv2d(1, 16, 3, padding=1), m.nn.BatchNorm2d(16), m.nn.ReLU(), m.nn.MaxPool2d(2),
        m.nn.Conv2d(16, 32, 3, padding=1), m.nn.ReLU(), m.nn.AdaptiveAvgPool2d(2),
        m.nn.Flatten(), m.nn.Linear(128, 10))


def lstm_cell_loop(m, x, w_ih, w_hh, b, w_out):
    """An LSTM cell unrolled in Python: ~12 small ops per time step, the
    dispatch-heavy dynamic-graph case. Returns the logits of the last step."""
    h = c = m.zeros(x.shape[1], w_hh.shape[1])
    for t in range(x.shape[0]):
        gates = x[t] @ w_ih.T + h @ w_hh.T + b
        i, f, g, o = gates.chunk(4, 1)
        c = m.sigmoid(f) * c + m.sigmoid(i) * m.tanh(g)
        h = m.sigmoid(o) * m.tanh(c)
    return h @ w_out.T


# ---- step bodies ------------------------------------------------------------------
def train_step(m, model):
    """zero_grad, cross-entropy loss, backward, Adam step; returns the loss."""
    opt = m.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = m.nn.CrossEntropyLoss()

    def run(x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return run


def fwd_bwd(m, model):
    """Forward and backward of sum(output); returns the output."""
    def run(*xs):
        model.zero_grad()
        out = model(*xs)
        out = out[0] if isinstance(out, tuple) else out
        out.sum().backward()
        return out
    return run


def twins(build_model, make_inputs, step):
    """A Row.build: the torch model (seeded), its fastgrad twin with the same
    weights, the same inputs, and step(m, model) -> callable per library."""
    def build():
        torch.manual_seed(0)
        tm = build_model(torch)
        fm = build_model(fg)
        fm.load_state_dict(tm.state_dict())
        arrays = make_inputs()
        ti = [torch.from_numpy(a) for a in arrays]
        fi = [fg.from_numpy(a) for a in arrays]
        t_run, f_run = step(torch, tm), step(fg, fm)
        return {"fastgrad": lambda: f_run(*fi), "torch": lambda: t_run(*ti)}
    return build


def lstm_cell_build(seq, batch, n_in, hidden, classes):
    """A Row.build for the hand-written cell: the same numpy weights as leaves
    of each library, trained with Adam on cross-entropy."""
    def build():
        rng = np.random.default_rng(1)
        bound = hidden ** -0.5
        u = lambda *s: rng.uniform(-bound, bound, s).astype(np.float32)
        weights = [u(4 * hidden, n_in), u(4 * hidden, hidden), u(4 * hidden), u(classes, hidden)]
        x = rng.standard_normal((seq, batch, n_in)).astype(np.float32)
        y = rng.integers(0, classes, batch).astype(np.int64)
        fns = {}
        for impl, m in (("fastgrad", fg), ("torch", torch)):
            params = [m.tensor(w, requires_grad=True) for w in weights]
            opt = m.optim.Adam(params, lr=1e-3)
            xm, ym = m.from_numpy(x), m.from_numpy(y)

            def run(m=m, params=params, opt=opt, xm=xm, ym=ym):
                opt.zero_grad()
                loss = m.nn.functional.cross_entropy(lstm_cell_loop(m, xm, *params), ym)
                loss.backward()
                opt.step()
                return loss
            fns[impl] = run
        return fns
    return build


def cross_entropy_build(n, classes):
    def build():
        rng = np.random.default_rng(2)
        logits = rng.standard_normal((n, classes)).astype(np.float32)
        labels = rng.integers(0, classes, n).astype(np.int64)
        fns = {}
        for impl, m in (("fastgrad", fg), ("torch", torch)):
            x, y = m.tensor(logits, requires_grad=True), m.from_numpy(labels)

            def run(m=m, x=x, y=y):
                x.grad = None
                loss = m.nn.functional.cross_entropy(x, y)
                loss.backward()
                return loss, x.grad
            fns[impl] = run
        return fns
    return build


# ---- rows -------------------------------------------------------------------------
def rows():
    if torch is None:
        return
    rng = np.random.default_rng(0)
    f32 = lambda *shape: rng.standard_normal(shape).astype(np.float32)
    labels = lambda n, c: rng.integers(0, c, n).astype(np.int64)

    yield Row("MLP 784-512-512-10 b128 train step (Adam)",
              twins(lambda m: mlp(m, [784, 512, 512, 10]),
                    lambda: [f32(128, 784), labels(128, 10)], train_step),
              group="train", train=True, target=STEPS)
    yield Row("nn.LSTM 128->256 seq35 b32 train step (Adam)",
              twins(lambda m: lstm_classifier(m, 128, 256, 10),
                    lambda: [f32(35, 32, 128), labels(32, 10)], train_step),
              group="train", train=True, target=STEPS)
    yield Row("LSTM cell loop 128->256 seq35 b32 train step (Adam)",
              lstm_cell_build(35, 32, 128, 256, 10), group="train", train=True, target=DYNAMIC)
    yield Row("LeNet-5 1x28x28 b64 train step (Adam)",
              twins(lenet5, lambda: [f32(64, 1, 28, 28), labels(64, 10)], train_step),
              group="train", train=True, target=STEPS)
    yield Row("MLP 64-128-10 b32 train step (Adam)",
              twins(lambda m: mlp(m, [64, 128, 10]), lambda: [f32(32, 64), labels(32, 10)],
                    train_step), group="train", train=True)
    yield Row("CNN digits-size b32 train step (Adam)",
              twins(small_cnn, lambda: [f32(32, 1, 8, 8), labels(32, 10)], train_step),
              group="train", train=True)

    yield Row("LayerNorm 512 on (64,128,512) fwd+bwd",
              twins(lambda m: m.nn.LayerNorm(512), lambda: [f32(64, 128, 512)], fwd_bwd),
              group="layer")
    yield Row("GRU 64->128 seq50 b32 fwd+bwd",
              twins(lambda m: m.nn.GRU(64, 128), lambda: [f32(50, 32, 64)], fwd_bwd),
              group="layer")
    yield Row("TransformerEncoderLayer d128 h4 (32,64) fwd+bwd",
              twins(lambda m: m.nn.TransformerEncoderLayer(128, 4, 256, dropout=0.0,
                                                           batch_first=True),
                    lambda: [f32(32, 64, 128)], fwd_bwd), group="layer")
    yield Row("cross_entropy (4096,1000) fwd+bwd", cross_entropy_build(4096, 1000),
              group="layer")
