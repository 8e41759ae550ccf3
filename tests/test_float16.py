"""float16 / bfloat16 tensors on the CPU: creation, conversions, copies, printing,
numpy and save/load (Note [16-bit floats]). Their compute ops: test_float16_ops.py."""
import numpy as np
import pytest

import fastgrad as fg

HALVES = ["float16", "bfloat16"]


def special_values():
    f32 = np.float32
    vals = [0.0, -0.0, 1.0, -1.0, 0.1, 1 / 3, 65504.0, 65519.99, 65520.0, 1e5, -1e5,
            6.1e-5, 6.0e-5, 2.0 ** -24, 2.0 ** -25, 2.0 ** -25 * 1.0001, 3 * 2.0 ** -26,
            1e-8, 1e-30, 3.0e38, -3.4e38, float("inf"), float("-inf"), 1.00048828125,
            1.0009765625 + 2.0 ** -11, 2049.0, 2051.0, 256.5, 257.5]
    rng = np.random.default_rng(0)
    rand = np.concatenate([rng.standard_normal(2000) * 10.0 ** rng.integers(-9, 9, 2000),
                           rng.uniform(-70000, 70000, 500)])
    # Ties of both formats: halfway bit patterns round to even.
    ties = (np.arange(1, 200, dtype=np.uint32) * (1 << 12) | 0x3F800000).view(np.float32)
    bties = (np.arange(1, 200, dtype=np.uint32) * (1 << 15) | 0x3F800000).view(np.float32)
    return np.concatenate([np.array(vals, f32), rand.astype(f32), ties, bties])


@pytest.mark.parametrize("name", HALVES)
def test_float32_to_16_bits_match_torch(torch, name):
    a = special_values()
    got = fg.tensor(a).to(getattr(fg, name)).to(fg.float32).numpy()
    want = torch.tensor(a).to(getattr(torch, name)).float().numpy()
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))


@pytest.mark.parametrize("name", HALVES)
def test_nan_stays_nan(name):
    t = fg.tensor([float("nan"), -float("nan")]).to(getattr(fg, name))
    assert np.isnan(t.float().numpy()).all()


@pytest.mark.parametrize("name", HALVES)
@pytest.mark.parametrize("src", ["float64", "int64", "int32", "bool"])
def test_conversions_from_other_dtypes_match_torch(torch, name, src):
    a = np.array([0, 1, -3, 70000, 1234567, 2 ** 40] if src != "bool" else [0, 1, 1, 0])
    if src == "float64":
        a = special_values().astype(np.float64) * 1.0000001
    a = a.astype(np.dtype(src) if src != "bool" else np.bool_)
    got = fg.tensor(a).to(getattr(fg, name))
    want = torch.tensor(a).to(getattr(torch, name))
    np.testing.assert_array_equal(got.float().numpy(), want.float().numpy())
    # ... and back to integer, bool and float64, through float like torch
    for back in ["float64", "bool"] + (["int32"] if src != "float64" else []):
        np.testing.assert_array_equal(got.to(getattr(fg, back)).numpy(),
                                      want.to(getattr(torch, back)).numpy())


def test_float16_bfloat16_cross_conversion(torch):
    a = special_values()
    got = fg.tensor(a).half().bfloat16().float().numpy()
    want = torch.tensor(a).half().bfloat16().float().numpy()
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", HALVES)
def test_creation_and_attributes(name):
    dt = getattr(fg, name)
    for t in [fg.zeros(2, 3, dtype=dt), fg.ones(4, dtype=dt), fg.full((2,), 2.5, dtype=dt),
              fg.tensor([1.5, -2.0], dtype=dt), fg.empty(3, dtype=dt)]:
        assert t.dtype == dt and t.element_size() == 2 and dt.itemsize == 2
        assert dt.is_floating_point
    assert fg.full((2,), 2.5, dtype=dt).tolist() == [2.5, 2.5]
    assert fg.tensor(3.0, dtype=dt).item() == 3.0
    assert fg.half is fg.float16


def test_float16_numpy_zero_copy():
    a = np.arange(6, dtype=np.float16).reshape(2, 3)
    t = fg.from_numpy(a)
    assert t.dtype == fg.float16
    a[0, 0] = 7
    assert t[0, 0].item() == 7.0
    assert t.numpy().dtype == np.float16
    assert fg.tensor(a).dtype == fg.float16


def test_bfloat16_numpy_says_how():
    with pytest.raises(TypeError, match="bfloat16.*float\\(\\)"):
        fg.ones(2, dtype=fg.bfloat16).numpy()


@pytest.mark.parametrize("name", HALVES)
def test_repr(torch, name):
    t = fg.tensor([1.5, -0.25, 3.0]).to(getattr(fg, name))
    assert repr(t) == repr(torch.tensor([1.5, -0.25, 3.0]).to(getattr(torch, name))).replace(
        "torch.", "fastgrad.")


@pytest.mark.parametrize("name", HALVES)
def test_strided_copies_and_views(torch, name):
    a = np.random.default_rng(1).standard_normal((5, 7)).astype(np.float32)
    t = fg.tensor(a).to(getattr(fg, name))
    w = torch.tensor(a).to(getattr(torch, name))
    np.testing.assert_array_equal(t.t().contiguous().float().numpy(), w.t().contiguous().float().numpy())
    np.testing.assert_array_equal(t[:, 1::2].clone().float().numpy(), w[:, 1::2].clone().float().numpy())
    dst = fg.zeros(7, 5, dtype=getattr(fg, name))
    dst.copy_(fg.tensor(a).t())  # float32 -> 16-bit copy_ into an existing tensor
    np.testing.assert_array_equal(dst.float().numpy(), w.t().float().numpy())


def test_promote_types_match_torch(torch):
    names = ["bool", "int32", "int64", "float16", "bfloat16", "float32", "float64"]
    for a in names:
        for b in names:
            got = fg.promote_types(getattr(fg, a), getattr(fg, b))
            want = torch.promote_types(getattr(torch, a), getattr(torch, b))
            assert str(got).split(".")[1] == str(want).split(".")[1], (a, b)


@pytest.mark.parametrize("name", HALVES)
def test_compute_rounds_the_float32_result_once(name):
    """Note [16-bit floats]: out-of-place and in-place math alike compute on
    the float32 values and round once."""
    dt = getattr(fg, name)
    t = fg.tensor([0.1, 1.7, 3.3]).to(dt)
    f = t.float()  # the 16-bit values, exactly
    for got, want in [(t + t, f + f), (t.exp(), f.exp()), (t.sum(), f.sum()), (t @ t, f @ f),
                      (t * 2, f * 2)]:
        assert got.dtype == dt
        assert got.float().tolist() == want.to(dt).float().tolist()
    u = t.clone()
    u.exp_()
    assert u.dtype == dt and u.float().tolist() == f.exp().to(dt).float().tolist()
    with pytest.raises(TypeError, match=f"bitwise_not_: only integral and bool tensors .*{name}"):
        t.clone().bitwise_not_()


@pytest.mark.parametrize("name", HALVES)
def test_gradient_flows_through_conversions(name):
    x = fg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x.to(getattr(fg, name)).float()
    (y * y).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0, 6.0])
    leaf = fg.tensor([1.0, 2.0], dtype=getattr(fg, name), requires_grad=True)
    (leaf.float() * 3).sum().backward()
    assert leaf.grad.dtype == getattr(fg, name)
    assert leaf.grad.float().tolist() == [3.0, 3.0]


@pytest.mark.parametrize("name", HALVES)
def test_save_load_round_trip(tmp_path, name):
    pytest.importorskip("safetensors")
    a = special_values()[:100]
    t = fg.tensor(a).to(getattr(fg, name))
    fg.save({"w": t}, tmp_path / "w.safetensors")
    back = fg.load(tmp_path / "w.safetensors")["w"]
    assert back.dtype == t.dtype
    np.testing.assert_array_equal(back.float().numpy(), t.float().numpy())


@pytest.mark.parametrize("name", HALVES)
def test_torch_reads_our_16_bit_safetensors(torch, tmp_path, name):
    st = pytest.importorskip("safetensors.torch")
    a = special_values()[:50]
    fg.save({"w": fg.tensor(a).to(getattr(fg, name))}, tmp_path / "w.safetensors")
    w = st.load_file(str(tmp_path / "w.safetensors"))["w"]
    assert w.dtype == getattr(torch, name)
    np.testing.assert_array_equal(w.float().numpy(), torch.tensor(a).to(w.dtype).float().numpy())
