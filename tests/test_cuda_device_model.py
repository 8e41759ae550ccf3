"""The device model across the training stack on a GPU (issue 6): modules,
optimizer state, graphs spanning the CPU and the GPU, save/load. Marked
`cuda`: they skip without a CUDA build and a GPU. The per-op kernels are
covered by the device-generic modules (conftest.py's `device` fixture)."""

import numpy as np
import pytest

import fastgrad as fg
from fastgrad import nn
from helpers import assert_close, to_np

pytestmark = pytest.mark.cuda


def test_module_to_moves_parameters_buffers_and_grads():
    m = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    m(fg.randn(5, 4)).sum().backward()
    assert m.to("cuda") is m
    for name, t in list(m.named_parameters()) + list(m.named_buffers()):
        assert t.device == fg.device("cuda:0"), name
    for p in m.parameters():
        assert p.grad is None or p.grad.device == fg.device("cuda:0")
    m.cpu()
    assert all(p.device == fg.device("cpu") for p in m.parameters())
    m.cuda()
    assert all(p.is_cuda for p in m.parameters())


def test_cuda_training_matches_cpu():
    fg.manual_seed(0)
    cpu_model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))
    gpu_model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))
    gpu_model.load_state_dict(cpu_model.state_dict())
    gpu_model.to("cuda")
    opts = [fg.optim.Adam(cpu_model.parameters(), lr=1e-2),
            fg.optim.Adam(gpu_model.parameters(), lr=1e-2)]
    x, y = fg.randn(32, 6), fg.randint(0, 3, (32,))
    for _ in range(5):
        for model, opt, dev in zip((cpu_model, gpu_model), opts, ("cpu", "cuda")):
            loss = nn.functional.cross_entropy(model(x.to(dev)), y.to(dev))
            opt.zero_grad()
            loss.backward()
            opt.step()
    # optimizer state lives with its parameter
    for p in gpu_model.parameters():
        for v in opts[1].state[p].values():
            if isinstance(v, fg.Tensor) and v.dim() > 0:
                assert v.device == p.device
    for a, b in zip(cpu_model.parameters(), gpu_model.parameters()):
        assert_close(b.cpu(), to_np(a), rtol=1e-4, atol=1e-5)


def test_graph_spans_cpu_and_gpu():
    emb = nn.Embedding(10, 4)                      # CPU stage
    head = nn.Linear(4, 1).to("cuda")              # GPU stage
    idx = fg.tensor([1, 2, 2, 7])
    out = head(emb(idx).to("cuda")).sum()
    out.backward()
    assert emb.weight.grad.device == fg.device("cpu")
    ref = fg.zeros(10, 4)
    w = head.weight.detach().cpu()[0]
    for i in idx.tolist():
        ref[i] += w
    assert_close(emb.weight.grad, to_np(ref))


def test_mixing_devices_names_the_op():
    a, b = fg.ones(3), fg.ones(3, device="cuda")
    with pytest.raises(RuntimeError, match=r"add.*expected all tensors on the same device, got"):
        fg.add(b, a)
    with pytest.raises(RuntimeError, match="same device"):
        fg.matmul(fg.ones(2, 2, device="cuda"), fg.ones(2, 2))


def test_save_and_load_cuda_tensors(tmp_path):
    t = fg.arange(6.0, device="cuda").reshape(2, 3)
    fg.save({"t": t}, tmp_path / "t.safetensors")
    back = fg.load(tmp_path / "t.safetensors")["t"]
    assert back.device == fg.device("cpu")       # safetensors stores no device
    assert back.tolist() == t.tolist()
    on_gpu = fg.load(tmp_path / "t.safetensors", map_location="cuda")["t"]
    assert on_gpu.is_cuda and on_gpu.tolist() == t.tolist()


def test_default_device_cuda():
    with fg.device("cuda"):
        assert fg.zeros(2).is_cuda and fg.tensor([1.0]).is_cuda
        assert nn.Linear(2, 2).weight.is_cuda
    assert not fg.zeros(2).is_cuda


def test_index_less_cuda_device_is_the_current_device():
    t = fg.ones(2, device="cuda")
    assert t.device == fg.device("cuda:0")
    assert t.to("cuda") is t                       # no copy: already there
    with fg.cuda.transfers() as log:
        t.to("cuda")
    assert log.count == 0


def test_half_precision_on_device(rng):
    a = rng.standard_normal((64, 33)).astype(np.float32)
    for dt in (fg.float16, fg.bfloat16):
        t = fg.tensor(a, device="cuda").to(dt)
        assert t.dtype == dt and t.is_cuda
        assert_close(t.float().cpu(), to_np(fg.tensor(a).to(dt).float()))


@pytest.mark.parametrize("dt", [fg.float16, fg.bfloat16])
def test_half_precision_elementwise_math_on_device(rng, dt):
    """Note [16-bit floats] on CUDA: computed in float32, rounded once."""
    a = rng.uniform(0.5, 2.0, (64, 33)).astype(np.float32)
    b = rng.uniform(0.5, 2.0, (33,)).astype(np.float32)
    x, y = fg.tensor(a, device="cuda").to(dt), fg.tensor(b, device="cuda").to(dt)
    xf, yf = x.float(), y.float()  # the 16-bit values, exactly, in float32
    for got, want in [(x + y, xf + yf), (x * y, xf * yf), (fg.exp(x), fg.exp(xf)),
                      (fg.tanh(x - y), fg.tanh(xf - yf)), (x * 3.0, xf * 3.0)]:
        assert got.dtype == dt and got.is_cuda
        assert got.cpu().tolist() == want.to(dt).cpu().tolist()
    assert ((x > y).cpu().tolist() == (xf > yf).cpu().tolist())
    z = x.clone()
    z.add_(y)
    assert z.dtype == dt and z.cpu().tolist() == (xf + yf).to(dt).cpu().tolist()
