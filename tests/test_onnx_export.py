"""fastgrad.onnx.export: onnxruntime gives fastgrad's outputs (float32
tolerance) for MLPs, CNNs, LSTM/GRU and transformer encoder layers, at batch
sizes other than the traced one (dynamic batch axes)."""

import io

import numpy as np
import pytest

import fastgrad as fg
from fastgrad import nn

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


@pytest.fixture(autouse=True)
def seed():
    fg.manual_seed(0)


def flat(out):
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in flat(o)]
    return [] if out is None else [out]


def export_bytes(model, args, **kw):
    buf = io.BytesIO()
    proto = fg.onnx.export(model, args, buf, **kw)
    onnx.checker.check_model(proto, full_check=True)
    return buf.getvalue(), proto


def check_runtime(data, model, input_names, *inputs):
    """onnxruntime on `inputs` gives model(*inputs)."""
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    feed = {n: t.numpy() for n, t in zip(input_names, flat(inputs))}
    got = sess.run(None, feed)
    with fg.no_grad():
        want = flat(model(*inputs))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == tuple(w.shape)
        np.testing.assert_allclose(g, w.numpy(), rtol=1e-4, atol=2e-5)


def test_mlp_dynamic_batch():
    m = nn.Sequential(nn.Linear(6, 16), nn.GELU(), nn.Dropout(0.3), nn.Linear(16, 16),
                      nn.Tanh(), nn.Linear(16, 8), nn.Sigmoid(), nn.Linear(8, 3),
                      nn.LogSoftmax(dim=1))
    data, proto = export_bytes(m, fg.randn(4, 6), input_names=["x"], output_names=["logp"],
                               dynamic_axes={"x": {0: "batch"}, "logp": {0: "batch"}})
    assert m.training  # exported in eval mode, then restored
    m.eval()
    for batch in (1, 4, 9):
        check_runtime(data, m, ["x"], fg.randn(batch, 6))
    x_info = proto.graph.input[0].type.tensor_type.shape.dim
    assert x_info[0].dim_param == "batch" and x_info[1].dim_value == 6
    assert proto.graph.output[0].name == "logp"
    assert set(m.state_dict()) <= {i.name for i in proto.graph.initializer}
    assert proto.opset_import[0].version == 17


def test_cnn_dynamic_batch(tmp_path):
    m = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 8, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
        nn.AvgPool2d(2, ceil_mode=True), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(8, 10))
    for bn in (m[1], m[5]):
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2.0)
    m.eval()
    path = tmp_path / "cnn.onnx"
    fg.onnx.export(m, fg.randn(2, 1, 12, 12), str(path), input_names=["image"],
                   dynamic_axes={"image": [0]})
    onnx.checker.check_model(str(path))
    for batch in (1, 5):
        check_runtime(path.read_bytes(), m, ["image"], fg.randn(batch, 1, 12, 12))
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert {"Conv", "BatchNormalization", "MaxPool", "AveragePool", "GlobalAveragePool",
            "Gemm"} <= ops


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_recurrent_layers(mode, bidirectional):
    m = getattr(nn, mode)(5, 7, num_layers=2, bidirectional=bidirectional)
    data, proto = export_bytes(m, fg.randn(6, 3, 5), input_names=["x"],
                               dynamic_axes={"x": {1: "batch"}})
    assert mode in {n.op_type for n in proto.graph.node}
    for batch in (1, 4):
        check_runtime(data, m, ["x"], fg.randn(6, batch, 5))


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_recurrent_batch_first_with_states(mode):
    m = getattr(nn, mode)(5, 7, batch_first=True)
    states = (fg.randn(1, 3, 7), fg.randn(1, 3, 7)) if mode == "LSTM" else fg.randn(1, 3, 7)
    names = ["x", "h0", "c0"] if mode == "LSTM" else ["x", "h0"]
    axes = {"x": {0: "batch"}, "h0": {1: "batch"}, "c0": {1: "batch"}}
    data, _ = export_bytes(m, (fg.randn(3, 4, 5), states), input_names=names,
                           dynamic_axes={n: axes[n] for n in names})
    new_states = (fg.randn(1, 2, 7), fg.randn(1, 2, 7)) if mode == "LSTM" else fg.randn(1, 2, 7)
    check_runtime(data, m, names, fg.randn(2, 4, 5), new_states)


@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_transformer_encoder_layer(activation, batch_first):
    layer = nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, activation=activation,
                                       batch_first=batch_first, norm_first=batch_first)
    m = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(16), enable_nested_tensor=False)
    axis = 0 if batch_first else 1
    shape = [6, 6, 16]
    shape[axis] = 3
    data, proto = export_bytes(m, fg.randn(*shape), input_names=["src"],
                               dynamic_axes={"src": {axis: "batch"}})
    ops = {n.op_type for n in proto.graph.node}
    assert {"LayerNormalization", "Softmax", "MatMul"} <= ops
    assert "Dropout" not in ops
    m.eval()
    for batch in (1, 5):
        shape[axis] = batch
        check_runtime(data, m, ["src"], fg.randn(*shape))


def test_static_shapes_without_dynamic_axes():
    m = nn.Sequential(nn.Linear(4, 3), nn.ReLU()).eval()
    data, proto = export_bytes(m, fg.randn(2, 4))
    assert [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim] == [2, 4]
    assert proto.graph.input[0].name == "input"
    check_runtime(data, m, ["input"], fg.randn(2, 4))
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    with pytest.raises(Exception, match="[Ii]nvalid|dimension"):
        sess.run(None, {"input": np.zeros((3, 4), np.float32)})


def test_export_a_traced_module_and_function():
    m = nn.Sequential(nn.Linear(4, 3), nn.Softmax(dim=-1)).eval()
    traced = fg.jit.trace(m, fg.randn(2, 4))
    data, _ = export_bytes(traced, fg.randn(2, 4), input_names=["x"])
    check_runtime(data, m, ["x"], fg.randn(7, 4))

    def f(a, b):
        return (a * 2 - b).clamp(-1, 1).sum(dim=1, keepdim=True), a.mean(0)

    data, _ = export_bytes(f, (fg.randn(3, 5), fg.randn(3, 5)), input_names=["a", "b"],
                           output_names=["s", "m"], dynamic_axes={"a": [0], "b": [0]})
    check_runtime(data, f, ["a", "b"], fg.randn(6, 5), fg.randn(6, 5))


def test_unsupported_op_names_the_op():
    def f(x):
        return x.cumsum(1)

    with pytest.raises(fg.onnx.UnsupportedOperatorError, match="op 'cumsum' is not supported"):
        fg.onnx.export(f, fg.randn(2, 3), io.BytesIO())
    with pytest.raises(RuntimeError, match="op 'div' with rounding_mode='floor'"):
        fg.onnx.export(lambda x: x.div(2.0, rounding_mode="floor"), fg.randn(2, 3), io.BytesIO())


def test_training_batch_norm_and_dropout_are_refused():
    def f(x):
        return nn.functional.dropout(x, 0.5, training=True)

    with pytest.raises(RuntimeError, match="op '_dropout' in training mode"):
        fg.onnx.export(f, fg.randn(2, 3), io.BytesIO())


def test_bad_arguments():
    m = nn.Linear(3, 2)
    x = fg.randn(2, 3)
    with pytest.raises(ValueError, match="opset 17"):
        fg.onnx.export(m, x, io.BytesIO(), opset_version=13)
    with pytest.raises(ValueError, match="2 input_names for 1 input tensors"):
        fg.onnx.export(m, x, io.BytesIO(), input_names=["a", "b"])
    with pytest.raises(NotImplementedError, match="one dynamic"):
        fg.onnx.export(m, x, io.BytesIO(), input_names=["x"],
                       dynamic_axes={"x": {0: "batch", 1: "feat"}})
    with pytest.raises(TypeError, match="path or a binary file"):
        fg.onnx.export(m, x, 3)
    with pytest.raises(ValueError, match="dynamic_axes names 'y', which is neither"):
        fg.onnx.export(m, x, io.BytesIO(), input_names=["x"], dynamic_axes={"y": [0]})
    static = fg.jit.trace(m, x, batch_dim=None)
    with pytest.raises(ValueError, match="traced with fixed shapes"):
        fg.onnx.export(static, x, io.BytesIO(), input_names=["x"], dynamic_axes={"x": [0]})


class SequenceClassifier(nn.Module):
    """Embedding -> LSTM -> last step (x[-1]) -> Linear: int64 tokens in."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 8)
        self.rnn = nn.LSTM(8, 16)
        self.fc = nn.Linear(16, 3)

    def forward(self, tokens):
        out, _ = self.rnn(self.emb(tokens))
        return self.fc(out[-1, :, ...])


def test_embedding_lstm_last_step_classifier():
    m = SequenceClassifier()
    data, proto = export_bytes(m, fg.randint(0, 10, (5, 3)), input_names=["tokens"],
                               dynamic_axes={"tokens": {1: "batch"}})
    assert {"Gather", "LSTM", "Slice"} <= {n.op_type for n in proto.graph.node}
    for batch in (1, 6):
        check_runtime(data, m, ["tokens"], fg.randint(0, 10, (5, batch)))
