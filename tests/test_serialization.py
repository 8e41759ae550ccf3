"""fastgrad.save / fastgrad.load (safetensors): round trips, torch interop, bad files."""

import io
import json
import pathlib
import pickle
import struct
from collections import OrderedDict

import fastgrad as fg
import numpy as np
import pytest
from fastgrad import nn
from helpers import assert_close

DTYPES = ["bool", "int32", "int64", "float32", "float64"]
SHAPES = [(), (0,), (3,), (2, 0, 4), (2, 3), (2, 3, 4)]


def _array(rng, shape, dtype):
    if dtype == "bool":
        return rng.random(shape) > 0.5
    if dtype.startswith("int"):
        return rng.integers(-1000, 1000, shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def _roundtrip(obj, **kw):
    buf = io.BytesIO()
    fg.save(obj, buf)
    buf.seek(0)
    return fg.load(buf, **kw)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_tensor_roundtrip(rng, dtype, shape):
    a = _array(rng, shape, dtype)
    t = fg.tensor(a)
    out = _roundtrip(t)
    assert isinstance(out, fg.Tensor)
    assert_close(out, a)
    assert out.is_contiguous() and not out.requires_grad


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "view",
    [
        lambda t: t.t(),
        lambda t: t[:, ::2],
        lambda t: t[1:, 1:3],
        lambda t: t.t()[1:],
        lambda t: t[0].unsqueeze(0).expand(3, 6),
    ],
    ids=["transposed", "strided", "sliced", "transposed-sliced", "expanded"],
)
def test_non_contiguous_roundtrip(rng, dtype, view):
    base = fg.tensor(_array(rng, (4, 6), dtype))
    v = view(base)
    expected = v.numpy().copy()
    out = _roundtrip({"v": v})
    assert_close(out["v"], expected)
    assert out["v"].is_contiguous()
    assert_close(_roundtrip(v), expected)


def test_dict_roundtrip_keeps_order_and_type(rng):
    d = OrderedDict((k, fg.tensor(_array(rng, (2,), "float32"))) for k in ["z", "a", "m.weight", "b"])
    out = _roundtrip(d)
    assert isinstance(out, OrderedDict)
    assert list(out) == ["z", "a", "m.weight", "b"]
    for k in d:
        assert_close(out[k], d[k].numpy())


def test_requires_grad_and_parameters_saved_as_data():
    p = nn.Parameter(fg.ones(3))
    y = (p * 2).sum()
    out = _roundtrip({"p": p, "y": y})
    assert not out["p"].requires_grad and type(out["p"]) is fg.Tensor
    assert out["y"].item() == 6.0


def test_empty_dict_roundtrip():
    assert _roundtrip({}) == OrderedDict()


@pytest.mark.parametrize("kind", ["str", "pathlib"])
def test_paths(tmp_path, kind):
    p = tmp_path / "x.safetensors"
    f = str(p) if kind == "str" else pathlib.Path(p)
    fg.save({"a": fg.arange(5)}, f)
    assert_close(fg.load(f)["a"], np.arange(5))


def test_real_file_objects(tmp_path):
    p = tmp_path / "x.safetensors"
    with open(p, "wb") as fh:
        fg.save(fg.eye(3), fh)
    with open(p, "rb") as fh:
        assert_close(fg.load(fh), np.eye(3, dtype=np.float32))


@pytest.mark.parametrize("loc", [None, "cpu", fg.device("cpu")])
def test_map_location(loc):
    out = _roundtrip({"a": fg.ones(2)}, map_location=loc)
    assert out["a"].device == fg.device("cpu")


def test_map_location_bad_type():
    with pytest.raises(TypeError, match="map_location"):
        _roundtrip(fg.ones(2), map_location=3)


def test_file_is_standard_safetensors(tmp_path, rng):
    from safetensors import safe_open

    a = _array(rng, (2, 3), "float64")
    p = tmp_path / "x.safetensors"
    fg.save({"w": fg.tensor(a), "i": fg.tensor([1, 2], dtype=fg.int32)}, p)
    with safe_open(str(p), framework="numpy") as f:
        assert sorted(f.keys()) == ["i", "w"]
        np.testing.assert_array_equal(f.get_tensor("w"), a)
        assert f.get_tensor("i").dtype == np.int32
    raw = p.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + n])
    assert header["w"]["dtype"] == "F64" and header["w"]["shape"] == [2, 3]


def test_safetensors_numpy_file_loads_as_dict(rng):
    from safetensors.numpy import save

    a = _array(rng, (3,), "int64")
    out = fg.load(io.BytesIO(save({"x": a})))
    assert isinstance(out, OrderedDict)
    assert_close(out["x"], a)


# ---- what save refuses -------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "exc", "match"),
    [
        ([fg.ones(1)], TypeError, "expected a Tensor or a dict"),
        (3.0, TypeError, "expected a Tensor or a dict"),
        ({"a": {"b": fg.ones(1)}}, TypeError, "key 'a' is a dict"),
        ({"a": [fg.ones(1)]}, TypeError, "key 'a' is a list"),
        ({"a": 1}, TypeError, "key 'a' is a int"),
        ({1: fg.ones(1)}, TypeError, "keys must be str"),
        ({"__metadata__": fg.ones(1)}, ValueError, "reserved"),
    ],
)
def test_save_rejects(obj, exc, match):
    with pytest.raises(exc, match=match):
        fg.save(obj, io.BytesIO())


def test_save_rejects_shared_storage():
    w = fg.ones(4)
    with pytest.raises(ValueError, match="'a' and 'b' share memory"):
        fg.save({"a": w, "b": w}, io.BytesIO())
    with pytest.raises(ValueError, match="share memory"):
        fg.save({"a": w, "b": w[1:]}, io.BytesIO())
    fg.save({"a": w, "b": w.clone()}, io.BytesIO())  # separate memory is fine


def test_save_bad_file_argument():
    with pytest.raises(TypeError, match="path"):
        fg.save(fg.ones(1), 3)
    with pytest.raises(TypeError, match="path"):
        fg.load(3)


# ---- corrupt files -----------------------------------------------------------------


def _valid_bytes():
    buf = io.BytesIO()
    fg.save({"w": fg.arange(6.0).reshape(2, 3), "b": fg.tensor([1, 2], dtype=fg.int32)}, buf)
    return buf.getvalue()


def _with_header(header, data=b""):
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


BAD_FILES = {
    "empty": b"",
    "short-length": b"\x01\x02\x03",
    "length-too-big": struct.pack("<Q", 10**6) + b"{}",
    "length-huge": b"\xff" * 8 + b"{}",
    "bad-json": struct.pack("<Q", 5) + b"{abc}",
    "bad-utf8": struct.pack("<Q", 4) + b"\xff\xfe{}",
    "json-list": _with_header([1, 2]),
    "entry-not-object": _with_header({"a": 3}),
    "no-dtype": _with_header({"a": {"shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4),
    "unknown-dtype": _with_header({"a": {"dtype": "Q7", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4),
    "bad-shape": _with_header({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4),
    "shape-not-list": _with_header({"a": {"dtype": "F32", "shape": "x", "data_offsets": [0, 4]}}, b"\0" * 4),
    "offsets-beyond": _with_header({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 8),
    "offsets-reversed": _with_header({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}}, b"\0" * 8),
    "offsets-size-mismatch": _with_header({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8),
    "bad-metadata": _with_header({"__metadata__": {"a": 1}}),
    "bad-bool": _with_header({"a": {"dtype": "BOOL", "shape": [1], "data_offsets": [0, 1]}}, b"\x07"),
    "truncated": _valid_bytes()[:-5],
    "header-only-truncated": _valid_bytes()[:20],
}


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_corrupt_files(name, tmp_path):
    p = tmp_path / f"{name}.safetensors"
    p.write_bytes(BAD_FILES[name])
    with pytest.raises(RuntimeError, match=r"fastgrad\.load: .* is not a valid safetensors file: "):
        fg.load(p)
    with pytest.raises(RuntimeError, match=r"fastgrad\.load: <BytesIO> is not a valid safetensors"):
        fg.load(io.BytesIO(BAD_FILES[name]))


@pytest.mark.parametrize("seed", range(40))
def test_random_bytes_never_crash(seed):
    r = np.random.default_rng(seed)
    data = r.integers(0, 256, int(r.integers(0, 300))).astype(np.uint8).tobytes()
    with pytest.raises(RuntimeError, match="not a valid safetensors file"):
        fg.load(io.BytesIO(data))


@pytest.mark.parametrize("seed", range(40))
def test_flipped_bytes_in_valid_file(seed):
    # Any single corrupted byte either still parses or gives the fastgrad error.
    r = np.random.default_rng(seed)
    data = bytearray(_valid_bytes())
    i = int(r.integers(0, len(data)))
    data[i] = int(r.integers(0, 256))
    try:
        out = fg.load(io.BytesIO(bytes(data)))
    except RuntimeError as e:
        assert "not a valid safetensors file" in str(e)
    except TypeError as e:  # a dtype code mutated into another valid (unsupported) one
        assert "not support" in str(e)
    else:
        assert isinstance(out, (dict, fg.Tensor))


def test_unsupported_dtype_names_dtype():
    h = {"h": {"dtype": "I16", "shape": [2], "data_offsets": [0, 4]}}
    with pytest.raises(TypeError, match=r"tensor 'h' has dtype I16 \(int16\).*not support"):
        fg.load(io.BytesIO(_with_header(h, b"\0" * 4)))


def test_text_mode_file_rejected(tmp_path):
    p = tmp_path / "x.safetensors"
    fg.save(fg.ones(2), p)
    with open(p, encoding="latin-1") as fh, pytest.raises(TypeError, match="binary file"):
        fg.load(fh)


# ---- no pickle ---------------------------------------------------------------------


def test_no_pickle_involved(monkeypatch, tmp_path):
    def boom(*a, **k):
        raise AssertionError("pickle used")

    for name in ["load", "loads", "dump", "dumps", "Unpickler", "Pickler"]:
        monkeypatch.setattr(pickle, name, boom)
    p = tmp_path / "x.safetensors"
    fg.save({"a": fg.ones(3)}, p)
    assert_close(fg.load(p)["a"], np.ones(3, dtype=np.float32))
    assert b"pickle" not in p.read_bytes() and not p.read_bytes().startswith(b"\x80")
    import fastgrad.serialization as ser

    src = pathlib.Path(ser.__file__).read_text()
    assert "import pickle" not in src and "import torch" not in src


def test_a_pickle_file_is_rejected_not_executed(tmp_path):
    class Evil:
        def __reduce__(self):
            return (exec, ("raise SystemExit('executed')",))

    p = tmp_path / "evil.pt"
    p.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(RuntimeError, match="not a valid safetensors file"):
        fg.load(p)


# ---- models ------------------------------------------------------------------------


def _fg_mlp():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


def test_state_dict_roundtrip_into_model(tmp_path):
    fg.manual_seed(0)
    src = _fg_mlp()
    p = tmp_path / "m.safetensors"
    fg.save(src.state_dict(), p)
    fg.manual_seed(1)
    dst = _fg_mlp()
    dst.load_state_dict(fg.load(p))
    x = fg.randn(5, 4)
    assert_close(dst(x), src(x).detach().numpy())
    lin = nn.Linear(3, 2, bias=False)
    fg.save(lin.state_dict(), p)
    assert list(fg.load(p)) == ["weight"]


def _torch_mlp(torch):
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))


def test_torch_to_fastgrad(torch, tmp_path):
    from safetensors.torch import save_file

    torch.manual_seed(0)
    t_model = _torch_mlp(torch)
    p = tmp_path / "torch.safetensors"
    save_file(t_model.state_dict(), str(p))
    fg_model = _fg_mlp()
    fg_model.load_state_dict(fg.load(p))
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    with torch.no_grad():
        expected = t_model(torch.from_numpy(x))
    assert_close(fg_model(fg.tensor(x)), expected, atol=1e-6, rtol=1e-5)


def test_fastgrad_to_torch(torch, tmp_path):
    from safetensors.torch import load_file

    fg.manual_seed(0)
    fg_model = _fg_mlp()
    p = tmp_path / "fg.safetensors"
    fg.save(fg_model.state_dict(), str(p))
    t_model = _torch_mlp(torch)
    t_model.load_state_dict(load_file(str(p)))
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    with torch.no_grad():
        expected = t_model(torch.from_numpy(x))
    assert_close(fg_model(fg.tensor(x)), expected, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_torch_file_dtypes(torch, tmp_path, dtype, rng):
    from safetensors.torch import load_file, save_file

    a = _array(rng, (2, 3), dtype)
    p = tmp_path / "t.safetensors"
    save_file({"x": torch.from_numpy(a), "s": torch.from_numpy(a)[0, 1].clone()}, str(p))
    out = fg.load(p)
    assert_close(out["x"], torch.from_numpy(a))
    assert out["s"].shape == ()
    fg.save(out, p)
    back = load_file(str(p))
    assert back["x"].dtype == getattr(torch, dtype)
    assert torch.equal(back["x"], torch.from_numpy(a))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_torch_16_bit_float_files_load(torch, tmp_path, dtype):
    from safetensors.torch import save_file

    p = tmp_path / "t.safetensors"
    w = torch.tensor([1.5, -0.1, 65504.0, 1e-6]).to(getattr(torch, dtype))
    save_file({"w": w}, str(p))
    back = fg.load(p)["w"]
    assert str(back.dtype) == f"fastgrad.{dtype}"
    np.testing.assert_array_equal(back.float().numpy(), w.float().numpy())


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16"])
def test_torch_file_unsupported_dtype(torch, tmp_path, dtype):
    from safetensors.torch import save_file

    p = tmp_path / "t.safetensors"
    save_file({"w": torch.zeros(2, dtype=getattr(torch, dtype))}, str(p))
    with pytest.raises(TypeError, match=rf"'w' has dtype \w+ \({dtype}\)"):
        fg.load(p)
