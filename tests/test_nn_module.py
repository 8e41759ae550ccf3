"""nn.Module, Parameter, containers, Linear, activations and errors with layer paths."""

import copy
import pickle

import numpy as np
import pytest

import fastgrad as fg
import fastgrad.nn as nn
import fastgrad.nn.functional as F
from helpers import assert_close
from nn_helpers import check_module, to_fg


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(8, 3)
        self.register_buffer("steps", fg.zeros(1))
        self.register_buffer("scratch", fg.zeros(2), persistent=False)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = Block()
        self.head = nn.Sequential(nn.Linear(3, 3), nn.Tanh())

    def forward(self, x):
        return self.head(self.encoder(x))


def test_registration_and_iteration():
    m = Model()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["encoder.fc1.weight", "encoder.fc1.bias", "encoder.fc2.weight",
                     "encoder.fc2.bias", "head.0.weight", "head.0.bias"]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad and p.is_leaf for p in m.parameters())
    assert [n for n, _ in m.named_buffers()] == ["encoder.steps", "encoder.scratch"]
    assert [n for n, _ in m.named_children()] == ["encoder", "head"]
    assert [n for n, _ in m.named_modules()] == ["", "encoder", "encoder.fc1", "encoder.act",
                                                 "encoder.fc2", "head", "head.0", "head.1"]
    # like torch: a module's own tensors come before its children's
    assert list(m.state_dict()) == ["encoder.steps", "encoder.fc1.weight", "encoder.fc1.bias",
                                    "encoder.fc2.weight", "encoder.fc2.bias", "head.0.weight",
                                    "head.0.bias"]
    assert m.get_submodule("encoder.fc2") is m.encoder.fc2
    assert m.get_parameter("head.0.bias") is m.head[0].bias


def test_shared_parameters_counted_once():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, lin)
    assert len(list(seq.parameters())) == 2
    assert len(list(seq.named_modules())) == 2


def test_setattr_rules():
    m = nn.Linear(2, 3)
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'weight'"):
        m.weight = fg.zeros(3, 2)
    m.bias = None
    assert m.bias is None and "bias" not in dict(m.named_parameters())
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        m.nope
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("in_features", fg.zeros(1))
    del m.weight
    assert "weight" not in m._parameters


def test_train_eval_and_zero_grad():
    m = Model()
    assert m.training and m.encoder.fc1.training
    m.eval()
    assert not m.training and not m.head[1].training
    m.train()
    m(fg.randn(2, 4)).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad(set_to_none=False)
    assert all(float(p.grad.abs().sum()) == 0 for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())


def test_to_dtype_keeps_parameter_identity():
    m = Model()
    w = m.encoder.fc1.weight
    m(fg.randn(2, 4)).sum().backward()
    m.to(fg.float64)
    assert m.encoder.fc1.weight is w and w.dtype == fg.float64 and w.grad.dtype == fg.float64
    assert m(fg.randn(2, 4, dtype=fg.float64)).dtype == fg.float64
    m.float()
    assert w.dtype == fg.float32
    with pytest.raises(TypeError, match="floating point"):
        m.to(fg.int64)


def test_state_dict_round_trip_and_errors():
    a, b = Model(), Model()
    result = b.load_state_dict(a.state_dict())
    assert repr(result) == "<All keys matched successfully>"
    for (n, p), q in zip(a.named_parameters(), b.parameters()):
        assert_close(q, p.detach().numpy())
    sd = a.state_dict()
    sd.pop("encoder.fc1.bias")
    sd["encoder.extra"] = fg.zeros(1)
    sd["head.0.weight"] = fg.zeros(4, 3)
    with pytest.raises(RuntimeError) as e:
        b.load_state_dict(sd)
    msg = str(e.value)
    assert 'Missing key(s) in state_dict: "encoder.fc1.bias"' in msg
    assert 'Unexpected key(s) in state_dict: "encoder.extra"' in msg
    assert "size mismatch for head.0.weight" in msg and "[4, 3]" in msg and "[3, 3]" in msg
    result = b.load_state_dict({k: v for k, v in a.state_dict().items() if k != "encoder.steps"}, strict=False)
    assert result.missing_keys == ["encoder.steps"]  # strict=False reports, does not raise


def test_state_dict_from_torch(torch):
    t = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.ReLU(), torch.nn.Linear(5, 2))
    f = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 2))
    f.load_state_dict(t.state_dict())
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    assert_close(f(fg.tensor(x)), t(torch.from_numpy(x)))


def test_repr_matches_torch(torch):
    t = torch.nn.Sequential(torch.nn.Linear(4, 5, bias=False), torch.nn.LeakyReLU(0.2),
                            torch.nn.Sequential(torch.nn.GELU("tanh"), torch.nn.Softmax(dim=1)),
                            torch.nn.Flatten(), torch.nn.Identity(), torch.nn.ReLU(inplace=True))
    f = nn.Sequential(nn.Linear(4, 5, bias=False), nn.LeakyReLU(0.2),
                      nn.Sequential(nn.GELU("tanh"), nn.Softmax(dim=1)),
                      nn.Flatten(), nn.Identity(), nn.ReLU(inplace=True))
    assert repr(f) == repr(t)
    p = nn.Parameter(fg.ones(2))
    assert repr(p) == "Parameter containing:\ntensor([1., 1.], requires_grad=True)"


def test_containers():
    seq = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
    assert len(seq) == 3 and isinstance(seq[-1], nn.Linear)
    assert isinstance(seq[:2], nn.Sequential) and len(seq[:2]) == 2
    with pytest.raises(IndexError, match="out of range"):
        seq[3]
    del seq[1]
    assert [n for n, _ in seq.named_children()] == ["0", "1"]
    seq.append(nn.Sigmoid())
    assert len(seq) == 3
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    ml.append(nn.ReLU())
    assert len(ml) == 4 and len(list(ml.parameters())) == 6
    md = nn.ModuleDict({"a": nn.Linear(1, 1), "b": nn.ReLU()})
    assert list(md.keys()) == ["a", "b"] and "a" in md
    assert len(list(md.parameters())) == 2
    pl = nn.ParameterList([nn.Parameter(fg.zeros(2)), fg.ones(3)])
    assert [tuple(p.shape) for p in pl.parameters()] == [(2,), (3,)]


def test_hooks():
    m = nn.Linear(2, 2)
    seen = []
    h1 = m.register_forward_pre_hook(lambda mod, args: seen.append("pre"))
    h2 = m.register_forward_hook(lambda mod, args, out: out * 0)
    out = m(fg.ones(1, 2))
    assert seen == ["pre"] and float(out.abs().sum()) == 0
    h1.remove()
    h2.remove()
    assert float(m(fg.ones(1, 2)).abs().sum()) > 0


def test_deepcopy_and_pickle():
    m = Model()
    c = copy.deepcopy(m)
    assert c.encoder.fc1.weight is not m.encoder.fc1.weight
    assert_close(c.encoder.fc1.weight, m.encoder.fc1.weight.detach().numpy())
    assert isinstance(c.encoder.fc1.weight, nn.Parameter) and c.encoder.fc1.weight.requires_grad
    p = pickle.loads(pickle.dumps(nn.Parameter(fg.ones(3))))
    assert isinstance(p, nn.Parameter) and p.requires_grad


def test_apply_and_requires_grad():
    m = Model()
    m.apply(lambda mod: nn.init.zeros_(mod.bias) if isinstance(mod, nn.Linear) else None)
    assert float(m.encoder.fc1.bias.abs().sum()) == 0
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())


def test_missing_forward():
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        nn.Module()(fg.ones(1))


# -- layers against torch ---------------------------------------------------------

@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(5, 3), (2, 4, 3), (3,)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linear_matches_torch(torch, bias, shape, dtype):
    rng = np.random.default_rng(1)
    f = nn.Linear(3, 4, bias=bias)
    t = torch.nn.Linear(3, 4, bias=bias)
    if dtype == np.float64:
        f.double()
        t.double()
    check_module(torch, f, t, [rng.standard_normal(shape).astype(dtype)])


def test_linear_default_init_range():
    m = nn.Linear(16, 1000)
    w = m.weight.detach().numpy()
    assert np.abs(w).max() <= 0.25 and np.abs(w).max() > 0.2
    assert 0.12 < w.std() < 0.16  # U(-1/4, 1/4) has std 0.144


ACTIVATIONS = [
    ("ReLU", ()), ("LeakyReLU", (0.2,)), ("GELU", ()), ("GELU", ("tanh",)), ("SiLU", ()),
    ("Tanh", ()), ("Sigmoid", ()), ("Softmax", (1,)), ("LogSoftmax", (-1,)), ("Softmin", (0,)),
    ("ELU", (0.7,)), ("Softplus", (2.0, 3.0)), ("Hardtanh", (-0.5, 0.8)), ("ReLU6", ()),
    ("Mish", ()), ("LogSigmoid", ()), ("Softsign", ()), ("Tanhshrink", ()),
    ("Threshold", (0.3, -1.0)), ("GLU", (1,)),
]  # fmt: skip


@pytest.mark.parametrize("name,args", ACTIVATIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activation_modules_match_torch(torch, name, args, dtype):
    x = np.random.default_rng(2).uniform(-4, 4, (3, 4, 5)).astype(dtype)
    f, t = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(f) == repr(t)
    check_module(torch, f, t, [x])


@pytest.mark.parametrize("fn,args", [("relu", ()), ("leaky_relu", (0.1,)), ("elu", ()),
                                     ("hardtanh", ()), ("relu6", ()), ("silu", ()), ("mish", ())])
def test_inplace_activations(torch, fn, args):
    x = np.random.default_rng(3).uniform(-3, 8, (4, 5)).astype(np.float32)
    a = fg.tensor(x, requires_grad=True)
    b = torch.tensor(x, requires_grad=True)
    ya, yb = a * 1, b * 1
    getattr(F, fn)(ya, *args, inplace=True)
    getattr(torch.nn.functional, fn)(yb, *args, inplace=True)
    assert_close(ya, yb)
    ya.sum().backward()
    yb.sum().backward()
    assert_close(a.grad, b.grad)


def test_softmax_implicit_dim_warns():
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        F.softmax(fg.randn(2, 3))


# -- init -----------------------------------------------------------------------

def test_init_functions(torch):
    w = fg.empty(300, 200)
    for fn, expected_std in [
        (lambda t: nn.init.xavier_uniform_(t), np.sqrt(2 / 500)),
        (lambda t: nn.init.xavier_normal_(t, gain=2.0), 2 * np.sqrt(2 / 500)),
        (lambda t: nn.init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"), np.sqrt(2 / 300)),
        (lambda t: nn.init.kaiming_uniform_(t, nonlinearity="relu"), np.sqrt(2 / 200)),
        (lambda t: nn.init.normal_(t, 1.0, 0.5), 0.5),
        (lambda t: nn.init.trunc_normal_(t, std=0.02), 0.02),
        (lambda t: nn.init.trunc_normal_(t, std=1.0, a=-1.0, b=1.0), 0.5380),
    ]:
        out = fn(w)
        assert out is w
        assert abs(w.detach().numpy().std() - expected_std) / expected_std < 0.05
    nn.init.trunc_normal_(w, a=-0.5, b=0.5)
    assert np.abs(w.numpy()).max() <= 0.5
    nn.init.constant_(w, 0.3)
    assert np.all(w.numpy() == np.float32(0.3))
    q = nn.init.orthogonal_(fg.empty(4, 6), gain=2.0).numpy()
    np.testing.assert_allclose(q @ q.T, 4 * np.eye(4), atol=1e-5)
    q = nn.init.orthogonal_(fg.empty(6, 3)).numpy()
    np.testing.assert_allclose(q.T @ q, np.eye(3), atol=1e-5)
    assert_close(nn.init.eye_(fg.empty(2, 3)), np.eye(2, 3, dtype=np.float32))
    for nl, p in [("relu", None), ("leaky_relu", 0.2), ("tanh", None), ("selu", None), ("conv2d", None)]:
        assert nn.init.calculate_gain(nl, p) == pytest.approx(torch.nn.init.calculate_gain(nl, p))
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        nn.init.xavier_uniform_(fg.empty(3))
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        nn.init.calculate_gain("nope")


def test_init_on_parameter_needs_no_grad_context():
    m = nn.Linear(3, 3)
    nn.init.ones_(m.weight)
    assert m.weight.is_leaf and m.weight.requires_grad
    assert float(m.weight.sum()) == 9


# -- errors name the layer path ---------------------------------------------------

def test_error_names_layer_path():
    m = Model()
    m.encoder.fc2 = nn.Linear(5, 3)  # mismatched with fc1's 8 outputs
    with pytest.raises(RuntimeError) as e:
        m(fg.randn(2, 4))
    msg = str(e.value)
    assert msg.startswith("encoder.fc2 (Linear): linear: expected input of shape (*, 5)")
    assert "[2, 8]" in msg


def test_error_at_root_and_in_sequential():
    with pytest.raises(RuntimeError, match=r"^Linear: linear: expected input of shape \(\*, 3\)"):
        nn.Linear(3, 2)(fg.randn(4, 5))
    seq = nn.Sequential(nn.Linear(3, 4), nn.Linear(3, 2))
    with pytest.raises(RuntimeError, match=r"^1 \(Linear\): linear:"):
        seq(fg.randn(4, 3))
    # the error is annotated once, and the model keeps working afterwards
    seq[1] = nn.Linear(4, 2)
    assert tuple(seq(fg.randn(4, 3)).shape) == (4, 2)


def test_functional_linear_errors():
    with pytest.raises(RuntimeError, match="linear: bias of shape"):
        F.linear(fg.randn(2, 3), fg.randn(4, 3), fg.randn(5))
    with pytest.raises(RuntimeError, match="linear: expected input"):
        F.linear(fg.tensor(1.0), fg.randn(4, 3))


def test_parameter_basics():
    p = nn.Parameter(fg.ones(2, 2))
    assert isinstance(p, fg.Tensor) and p.requires_grad and p.is_leaf
    q = nn.Parameter(fg.ones(2), requires_grad=False)
    assert not q.requires_grad
    with pytest.raises(TypeError, match="expected a Tensor"):
        nn.Parameter([1.0, 2.0])
    x = to_fg(np.ones((2, 2), np.float32), requires_grad=True)
    y = x * 2
    p = nn.Parameter(y)
    assert p.is_leaf and p.grad_fn is None  # history is not shared


def test_modulelist_repr_collapses_repeats_like_torch(torch):
    def build(m):
        return m.ModuleList([m.Linear(2, 2) for _ in range(3)] + [m.ReLU(), m.Linear(2, 3), m.Linear(2, 3)])

    assert repr(build(nn)) == repr(build(torch.nn))
    assert repr(nn.ModuleList()) == repr(torch.nn.ModuleList())
