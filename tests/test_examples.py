"""The examples run end to end in a reduced form (a few steps each); the full
runs and their accuracies are recorded in README.md."""

import importlib.util
import pathlib

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_digits_quick(capsys):
    pytest.importorskip("sklearn")
    results = load("digits").main(["--quick"])
    assert set(results) == {"mlp", "cnn"}
    assert all(0.0 <= acc <= 1.0 for acc in results.values())
    assert "test accuracy" in capsys.readouterr().out


def test_char_lstm_quick(capsys):
    loss = load("char_lstm").main(["--quick"])
    assert loss == loss and loss > 0  # finite
    out = capsys.readouterr().out
    assert 'sample: ' in out and 'The ' in out


def test_packed_classifier_quick(capsys):
    acc = load("packed_classifier").main(["--quick"])
    assert 0.0 <= acc <= 1.0
    assert "test accuracy" in capsys.readouterr().out


def test_demo_runs(capsys):
    load("demo")
    assert "fitted weights" in capsys.readouterr().out


def test_draw_graph_example(tmp_path, capsys):
    dot = load("draw_graph").main(["--out", str(tmp_path / "g.svg")])
    assert (tmp_path / "g.dot").read_text() == dot.source
    assert "ConvolutionBackward" in dot.source and "0.weight" in dot.source
    assert "wrote" in capsys.readouterr().out


def test_export_onnx_quick(capsys):
    pytest.importorskip("sklearn")
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    acc, ort_acc = load("export_onnx").main(["--quick"])
    assert abs(acc - ort_acc) < 0.01
    out = capsys.readouterr().out
    assert "onnxruntime: test accuracy" in out and "exported digits_cnn.onnx" in out


def test_mixed_device_quick_cpu(capsys):
    acc, log = load("mixed_device").main(["--quick", "--device", "cpu"])
    assert 0.0 <= acc <= 1.0
    assert log.count == 0  # one device: no copies
    out = capsys.readouterr().out
    assert "no copies between devices" in out and "test accuracy" in out


@pytest.mark.cuda
def test_mixed_device_quick_cuda(capsys):
    acc, log = load("mixed_device").main(["--quick", "--device", "cuda"])
    assert 0.0 <= acc <= 1.0
    directions = {(r.src, r.dst) for r in log.records}
    # the embedded batch goes up, its gradient comes back down to the CPU table
    assert ("cpu", "cuda:0") in directions and ("cuda:0", "cpu") in directions
    assert not any(r.implicit for r in log.records)
