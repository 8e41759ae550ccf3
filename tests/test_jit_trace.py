"""fastgrad.jit.trace: recording, replay (equal to eager, at other batch sizes),
live parameters, the .graph printout, frozen control flow and its warnings,
and the errors for inputs or code the trace cannot follow."""

import numpy as np
import pytest

import fastgrad as fg
from fastgrad import nn
from fastgrad.jit import TracedFunction, TracedModule, TracerWarning


def flat(out):
    """Tensors of a nested output, in order."""
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in flat(o)]
    return [] if out is None else [out]


def assert_same(a, b):
    """Replay runs the very same C++ ops: results equal eager's bit for bit."""
    fa, fb = flat(a), flat(b)
    assert len(fa) == len(fb)
    for x, y in zip(fa, fb):
        assert x.shape == y.shape and x.dtype == y.dtype
        np.testing.assert_array_equal(x.detach().numpy(), y.detach().numpy())


def mlp():
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16), nn.Tanh(),
                         nn.Linear(16, 3))


def cnn():
    m = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 8, 3, stride=2, padding=1), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
        nn.Linear(8, 5))
    m[1].running_mean.uniform_(-1, 1)
    m[1].running_var.uniform_(0.5, 2.0)
    return m.eval()


@pytest.fixture(autouse=True)
def seed():
    fg.manual_seed(0)


@pytest.mark.parametrize("batch", [1, 5, 13])
def test_mlp_replay_equals_eager(batch):
    m = mlp()
    traced = fg.jit.trace(m, fg.randn(4, 6))
    assert isinstance(traced, TracedModule)
    x = fg.randn(batch, 6)
    assert_same(traced(x), m(x))


@pytest.mark.parametrize("batch", [2, 7])
def test_cnn_replay_equals_eager(batch):
    m = cnn()
    traced = fg.jit.trace(m, fg.randn(3, 1, 8, 8))
    x = fg.randn(batch, 1, 8, 8)
    assert_same(traced(x), m(x))
    ops = [n.op for n in traced.graph.nodes]
    for op in ("_conv2d", "_batch_norm", "relu", "_max_pool2d", "_avg_pool2d", "flatten",
               "addmm"):
        assert op in ops


@pytest.mark.parametrize("bidirectional", [False, True])
def test_lstm_replay_equals_eager(bidirectional):
    m = nn.LSTM(5, 7, num_layers=2, bidirectional=bidirectional)
    traced = fg.jit.trace(m, fg.randn(6, 3, 5), batch_dim=1)
    x = fg.randn(6, 4, 5)
    assert_same(traced(x), m(x))


def test_lstm_with_states_and_batch_first():
    m = nn.LSTM(5, 7, batch_first=True)
    h0, c0 = fg.randn(1, 3, 7), fg.randn(1, 3, 7)
    traced = fg.jit.trace(m, (fg.randn(3, 4, 5), (h0, c0)), batch_dim=[0, 1, 1])
    x, h, c = fg.randn(2, 4, 5), fg.randn(1, 2, 7), fg.randn(1, 2, 7)
    assert_same(traced(x, (h, c)), m(x, (h, c)))


def test_gru_replay_equals_eager():
    m = nn.GRU(5, 7, num_layers=2)
    traced = fg.jit.trace(m, fg.randn(6, 3, 5), batch_dim=1)
    x = fg.randn(6, 5, 5)
    assert_same(traced(x), m(x))


@pytest.mark.parametrize("batch_first", [False, True])
def test_transformer_encoder_layer_replay_equals_eager(batch_first):
    m = nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, batch_first=batch_first).eval()
    shape = (3, 6, 16) if batch_first else (6, 3, 16)
    traced = fg.jit.trace(m, fg.randn(*shape), batch_dim=0 if batch_first else 1)
    x = fg.randn(*((5, 6, 16) if batch_first else (6, 5, 16)))
    assert_same(traced(x), m(x))
    ops = {n.op for n in traced.graph.nodes}
    assert {"_layer_norm", "softmax", "matmul", "reshape"} <= ops


def test_function_trace_and_captured_constant():
    w = fg.randn(4, 3)

    def f(x, y):
        return (x @ w).relu() + y.sum(1, keepdim=True), x.mean()

    traced = fg.jit.trace(f, (fg.randn(2, 4), fg.randn(2, 5)))
    assert isinstance(traced, TracedFunction)
    x, y = fg.randn(6, 4), fg.randn(6, 5)
    assert_same(traced(x, y), f(x, y))
    assert [v.kind for v in traced.graph.constants] == ["constant"]


def test_parameters_are_live_after_training():
    m = mlp()
    traced = fg.jit.trace(m, fg.randn(4, 6))
    frozen = fg.jit.trace(m, fg.randn(4, 6), freeze=True)
    x = fg.randn(8, 6)
    before = m(x).detach().clone()
    opt = fg.optim.SGD(m.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        nn.functional.mse_loss(m(x), fg.zeros(8, 3)).backward()
        opt.step()
    assert_same(traced(x), m(x))
    assert_same(frozen(x), before)
    # a replaced parameter object is picked up too
    m[0].weight = nn.Parameter(fg.randn(16, 6))
    assert_same(traced(x), m(x))
    assert dict(traced.named_parameters()).keys() == dict(m.named_parameters()).keys()


def test_replay_is_differentiable():
    m = mlp()
    traced = fg.jit.trace(m, fg.randn(4, 6))
    x = fg.randn(5, 6)
    traced(x).pow(2).sum().backward()
    grads = [p.grad.clone() for p in m.parameters()]
    m.zero_grad()
    m(x).pow(2).sum().backward()
    for g, p in zip(grads, m.parameters()):
        np.testing.assert_allclose(g.numpy(), p.grad.numpy(), rtol=1e-6, atol=1e-7)


def test_graph_printout():
    m = nn.Sequential(nn.Linear(6, 4), nn.ReLU())
    g = fg.jit.trace(m, fg.randn(3, 6)).graph
    text = str(g)
    assert text.startswith("graph(%input : Float(B, 6),")
    assert "%0.weight : Float(4, 6)" in text
    assert "= addmm(%0.bias, %input," in text
    assert ": Float(B, 4) = relu(" in text
    assert "# B = 3 when traced" in text
    static = str(fg.jit.trace(m, fg.randn(3, 6), batch_dim=None).graph)
    assert "Float(3, 4) = relu(" in static and "B" not in static.split("return")[0]


def test_view_sizes_follow_the_batch():
    def f(x):
        return x.view(x.shape[0], -1).sum(1) + x.reshape(x.shape[0] * 2, -1)[::2].sum(1)

    traced = fg.jit.trace(f, fg.randn(3, 4, 2))
    node = next(n for n in traced.graph.nodes if n.op == "reshape")
    assert repr(node.args[1][0]) == "2*B"
    x = fg.randn(7, 4, 2)
    assert_same(traced(x), f(x))


def test_shape_mismatch_errors():
    traced = fg.jit.trace(mlp(), fg.randn(4, 6))
    with pytest.raises(ValueError, match=r"input 0 \('input'\) has shape \(2, 5\), but the "
                                         r"trace expects \[B, 6\]"):
        traced(fg.randn(2, 5))
    with pytest.raises(ValueError, match="expects"):
        traced(fg.randn(2, 6, 1))
    with pytest.raises(TypeError, match="has dtype float64, but the trace expects float32"):
        traced(fg.randn(2, 6, dtype=fg.float64))
    with pytest.raises(TypeError, match="expected 1 arguments"):
        traced(fg.randn(2, 6), fg.randn(2, 6))
    static = fg.jit.trace(mlp(), fg.randn(4, 6), batch_dim=None)
    with pytest.raises(ValueError, match=r"expects \[4, 6\] \(traced with fixed shapes\)"):
        static(fg.randn(5, 6))


def test_inputs_must_agree_on_batch():
    traced = fg.jit.trace(lambda a, b: a + b, (fg.randn(3, 2), fg.randn(3, 2)))
    with pytest.raises(ValueError, match="inputs disagree on the batch size"):
        traced(fg.randn(4, 2), fg.randn(5, 2))
    with pytest.raises(ValueError, match="disagree on the batch size"):
        fg.jit.trace(lambda a, b: a, (fg.randn(3, 2), fg.randn(4, 2)))
    with pytest.raises(IndexError, match="batch_dim 2 is not a dim"):
        fg.jit.trace(lambda a: a, fg.randn(3, 2), batch_dim=2)


@pytest.mark.parametrize("convert", [
    lambda t: t.sum().item(), lambda t: bool(t.sum() > 0), lambda t: float(t.sum()),
    lambda t: int(t.sum()), lambda t: t.tolist(), lambda t: t.numpy(),
], ids=["item", "bool", "float", "int", "tolist", "numpy"])
def test_conversion_of_traced_value_warns(convert):
    def f(x):
        convert(x)
        return x * 2

    with pytest.warns(TracerWarning, match="Converting a traced tensor to"):
        fg.jit.trace(f, fg.randn(2, 3), batch_dim=None)


def test_data_dependent_branch_is_frozen():
    def f(x):
        return x * 2 if x.sum() > 0 else x * -1

    x = fg.ones(2, 3)
    with pytest.warns(TracerWarning, match="Python boolean") as record:
        traced = fg.jit.trace(f, x)
    assert record[0].filename == __file__  # points at the user's code
    neg = -fg.ones(4, 3)
    assert_same(traced(neg), neg * 2)  # the traced branch, not f(neg)
    # constants read from outside the trace do not warn
    c = fg.tensor(3.0)
    assert_same(fg.jit.trace(lambda x: x * c.item(), x)(neg), neg * 3)


def test_code_that_cannot_follow_the_batch():
    def fixed(x):
        return x.reshape(12)

    with pytest.warns(TracerWarning, match="trace has fixed shapes"):
        traced = fg.jit.trace(fixed, fg.randn(3, 4))
    assert traced.graph.batch is None
    with pytest.raises(RuntimeError, match=r"at 2 times the batch size \(6.*reshape: shape"):
        fg.jit.trace(fixed, fg.randn(3, 4), batch_dim=0)

    def halves(x):
        return x.reshape(x.shape[0] // 2, -1)

    with pytest.raises(RuntimeError, match=r"an integer argument of op #0 'reshape' is 2, 4, "
                                           r"6 at batch sizes 4, 8 and 12: not of the form a\*B"):
        fg.jit.trace(halves, fg.randn(4, 4), batch_dim=0)

    def squared(x):  # B * B: two runs would fit a line, the third one refutes it
        return x.reshape(-1).narrow(0, 0, x.shape[0] * x.shape[0])

    with pytest.raises(RuntimeError, match=r"'narrow' is 4, 16, 36 at batch sizes 2, 4 and 6"):
        fg.jit.trace(squared, fg.randn(2, 16), batch_dim=0)

    def mean_by_int(x):  # an int operand is an integer argument: it follows B
        return x.sum() / x.shape[0]

    x = fg.randn(5, 4)
    assert_same(fg.jit.trace(mean_by_int, fg.randn(3, 4), batch_dim=0)(x), mean_by_int(x))

    def mean_by_float(x):  # a float computed from B cannot be re-derived
        return x.sum() * (1.0 / x.shape[0])

    with pytest.raises(RuntimeError, match="argument 1 of op #1 'mul' differs between batch "
                                           "sizes 3, 6 and 9"):
        fg.jit.trace(mean_by_float, fg.randn(3, 4), batch_dim=0)


def test_untraced_data_is_detected():
    def via_python(x):
        return fg.tensor(x.tolist()) + 1

    with pytest.warns(TracerWarning, match="Python list"):
        with pytest.raises(RuntimeError, match="not produced by a recorded op"):
            fg.jit.trace(via_python, fg.randn(3, 4), batch_dim=0)


def test_failed_trace_leaves_no_trace_open():
    def boom(x):
        raise KeyError("inside")

    with pytest.raises(KeyError):
        fg.jit.trace(boom, fg.randn(2))
    assert not fg._C._is_traced(fg.randn(2))
    traced = fg.jit.trace(lambda x: x + 1, fg.randn(2))
    assert_same(traced(fg.ones(3)), fg.ones(3) + 1)


def test_nested_trace_is_an_error():
    def inner(x):
        fg.jit.trace(lambda y: y, x)
        return x

    with pytest.raises(RuntimeError, match="a trace is already running"):
        fg.jit.trace(inner, fg.randn(2))


def test_batchnorm_training_buffers_restored():
    m = nn.BatchNorm1d(3)
    traced = fg.jit.trace(m, fg.randn(4, 3) * 5 + 2)
    np.testing.assert_array_equal(m.running_mean.numpy(), np.zeros(3, np.float32))
    assert int(m.num_batches_tracked) == 0
    x = fg.randn(6, 3)
    out = traced(x)  # replay runs training-mode batch norm and updates the stats
    m2 = nn.BatchNorm1d(3)
    assert_same(out, m2(x))
    np.testing.assert_array_equal(m.running_mean.numpy(), m2.running_mean.numpy())


def test_tied_parameters_and_passthrough_outputs():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(4, 4)
            self.b = self.a

        def forward(self, x):
            return self.b(self.a(x)), x

    m = Tied()
    traced = fg.jit.trace(m, fg.randn(2, 4))
    x = fg.randn(3, 4)
    y, same = traced(x)
    assert same is not None and same._is_same(x)
    assert_same(y, m(x)[0])


def test_inplace_and_indexing_replay():
    def f(x):
        y = x.clone()
        y[:, 0] = 0.0
        y.relu_()
        return y[1:, ::2] * 2, y.chunk(2, 1)[1]

    traced = fg.jit.trace(f, fg.randn(4, 6))
    x = fg.randn(5, 6)
    assert_same(traced(x), f(x))


def test_unused_ops_are_dropped_and_printing_does_not_warn(capsys):
    def f(x):
        print(x)  # reads the data for display only
        x.sum()  # result unused
        y = x.clone()
        y.mul_(2)  # in-place: kept although its result is unused
        return y

    traced = fg.jit.trace(f, fg.randn(2, 3))
    assert [n.op for n in traced.graph.nodes] == ["clone", "mul_"]
    x = fg.randn(4, 3)
    assert_same(traced(x), x * 2)
    assert "tensor(" in capsys.readouterr().out
