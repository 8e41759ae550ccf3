"""Whole training loops against torch: the same model (weights copied through
state_dict), the same batches, the same optimizer and schedule give the same
loss trajectory and final weights."""

import numpy as np
import pytest

import fastgrad as fg
import fastgrad.nn as nn
from helpers import assert_close

# Every test runs on each device (conftest.py's `device` fixture).
pytestmark = pytest.mark.usefixtures("device")


def cnn(m):
    # No bias before BatchNorm: its true gradient is 0, so Adam would amplify
    # rounding noise (in both libraries, differently) into +-lr steps.
    return m.Sequential(
        m.Conv2d(1, 4, 3, padding=1, bias=False), m.BatchNorm2d(4), m.ReLU(), m.MaxPool2d(2),
        m.Conv2d(4, 8, 3, padding="same", groups=2), m.GELU(), m.AdaptiveAvgPool2d(2),
        m.Flatten(), m.Dropout(0.0), m.Linear(32, 10), m.LogSoftmax(dim=1),
    )  # fmt: skip


class Recurrent:
    """Embedding -> LSTM -> LayerNorm -> GRU -> Linear, built in either library."""

    def __init__(self, m):
        class Net(m.Module):
            def __init__(self):
                super().__init__()
                self.embed = m.Embedding(12, 6, padding_idx=0)
                self.lstm = m.LSTM(6, 8, num_layers=2, batch_first=True, bidirectional=True)
                self.norm = m.LayerNorm(16)
                self.gru = m.GRU(16, 8, batch_first=True)
                self.fc = m.Linear(8, 3)

            def forward(self, x):
                out, _ = self.lstm(self.embed(x))
                out, h = self.gru(self.norm(out))
                return self.fc(h[0])

        self.net = Net()


def run(torch, build, make_opt, make_sched, inputs, targets, loss_name, steps=8):
    """Trains the fastgrad and torch twins side by side; compares every step."""
    t_model = build(torch.nn)
    f_model = build(nn)
    f_model.load_state_dict(t_model.state_dict())
    t_opt, f_opt = make_opt(torch.optim, t_model), make_opt(fg.optim, f_model)
    t_sched = make_sched(torch.optim, t_opt) if make_sched else None
    f_sched = make_sched(fg.optim, f_opt) if make_sched else None
    t_loss_fn, f_loss_fn = getattr(torch.nn, loss_name)(), getattr(nn, loss_name)()
    for step in range(steps):
        x, y = inputs[step % len(inputs)], targets[step % len(targets)]
        t_opt.zero_grad()
        f_opt.zero_grad()
        lt = t_loss_fn(t_model(torch.from_numpy(x)), torch.from_numpy(y))
        lf = f_loss_fn(f_model(fg.tensor(x)), fg.tensor(y))
        assert lf.item() == pytest.approx(lt.item(), rel=2e-4, abs=1e-5), f"step {step}"
        lt.backward()
        lf.backward()
        t_opt.step()
        f_opt.step()
        if t_sched:
            t_sched.step()
            f_sched.step()
    f_state = f_model.state_dict()
    for name, value in t_model.state_dict().items():
        try:
            assert_close(f_state[name], value, rtol=2e-3, atol=2e-4)
        except AssertionError as e:
            raise AssertionError(f"{name}: {e}") from None


def test_cnn_with_batchnorm_trains_like_torch(torch):
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((6, 1, 8, 8)).astype(np.float32) for _ in range(3)]
    ys = [rng.integers(0, 10, 6) for _ in range(3)]
    run(torch, cnn, lambda o, m: o.AdamW(m.parameters(), lr=1e-2, weight_decay=0.1, amsgrad=True),
        lambda o, opt: o.lr_scheduler.StepLR(opt, 3, gamma=0.5), xs, ys, "NLLLoss")


def test_recurrent_model_trains_like_torch(torch):
    rng = np.random.default_rng(1)
    xs = [rng.integers(0, 12, (4, 7)) for _ in range(2)]
    ys = [rng.integers(0, 3, 4) for _ in range(2)]
    run(torch, lambda m: Recurrent(m).net,
        lambda o, m: o.SGD(m.parameters(), lr=0.1, momentum=0.9, nesterov=True),
        lambda o, opt: o.lr_scheduler.CosineAnnealingLR(opt, T_max=8), xs, ys,
        "CrossEntropyLoss")


def test_eval_mode_after_training_matches(torch):
    """BatchNorm running statistics accumulated in training drive eval mode."""
    rng = np.random.default_rng(2)
    t_model, f_model = cnn(torch.nn), cnn(nn)
    f_model.load_state_dict(t_model.state_dict())
    for _ in range(3):
        x = rng.standard_normal((5, 1, 8, 8)).astype(np.float32)
        t_model(torch.from_numpy(x))
        f_model(fg.tensor(x))
    t_model.eval()
    f_model.eval()
    x = rng.standard_normal((5, 1, 8, 8)).astype(np.float32)
    assert_close(f_model(fg.tensor(x)), t_model(torch.from_numpy(x)), rtol=1e-4, atol=1e-5)
