"""RNN, LSTM, GRU and their single-step cells.

A layer runs each direction as one _C._rnn_sequence op: one gemm for the
input projection of every time step, then the whole time loop in C++ (per
step one gemm h W_hh^T and the fused gate kernel), with a single backward
node ([dW_ih | dW_hh] as one gemm over all steps). Padded and packed inputs share one path: a padded (L, N, *) input is
a packed sequence whose batch_sizes are all N, so variable-length batches
give exactly the per-sequence results. The cells run one step with
_C._lstm_cell / _C._gru_cell.
"""

import math
import numbers
import warnings

from ... import _C, _factories
from .. import init
from .._alloc import empty_param
from ..functional import dropout as _dropout
from ..functional import linear
from ..utils.rnn import PackedSequence
from .module import Module

__all__ = ["GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "RNNBase", "RNNCell", "RNNCellBase"]

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _shape(t):
    return "[" + ", ".join(str(d) for d in t.shape) + "]"


def _tup(*dims):
    return "(" + ", ".join(str(d) for d in dims) + ")"


def _check_size(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} should be of type int, got: {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name} must be greater than zero")


def _step_rnn(relu):
    def step(gi, h, c, w_hh_t, b_hh):
        pre = _C.addmm(gi, h, w_hh_t)
        return (_C.relu(pre) if relu else _C._rnn_tanh(pre)), None

    return step


def _step_lstm(gi, h, c, w_hh_t, b_hh):
    return _C._lstm_cell(_C.addmm(gi, h, w_hh_t), c)


def _step_gru(gi, h, c, w_hh_t, b_hh):
    gh = _C.addmm(b_hh, h, w_hh_t) if b_hh is not None else _C.mm(h, w_hh_t)
    return _C._gru_cell(gi, gh, h), None


def _input_projection(mode, x, w_ih, b_ih, b_hh):
    """x W_ih^T plus the biases that are simply added (both, except GRU's b_hh)."""
    if b_ih is None:
        return linear(x, w_ih)
    return linear(x, w_ih, b_ih if mode == "GRU" else b_ih + b_hh)


class RNNBase(Module):
    """Shared by RNN, LSTM and GRU: parameters named like PyTorch's
    (weight_ih_l{k}[_reverse], weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k})."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, proj_size=0,
                 device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        if mode not in _GATES:
            raise ValueError(f"Unrecognized RNN mode: {mode}")
        if (not isinstance(dropout, numbers.Number) or isinstance(dropout, bool)
                or not 0 <= dropout <= 1):
            raise ValueError(
                "dropout should be a number in range [0, 1] representing the probability "
                "of an element being zeroed"
            )
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero "
                f"dropout expects num_layers greater than 1, but got dropout={dropout} and "
                f"num_layers={num_layers}",
                stacklevel=2,
            )
        _check_size("hidden_size", hidden_size)
        _check_size("num_layers", num_layers)
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size != 0:
            if mode != "LSTM":
                raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
            raise NotImplementedError(
                f"{name}: proj_size={proj_size} (LSTM with projections) is not implemented "
                "in fastgrad; use proj_size=0"
            )
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        num_dir = 2 if bidirectional else 1
        gate = _GATES[mode] * hidden_size
        self._flat_weights_names = []
        for layer in range(num_layers):
            in_size = input_size if layer == 0 else hidden_size * num_dir
            for d in range(num_dir):
                sfx = f"_l{layer}" + ("_reverse" if d == 1 else "")
                shapes = [("weight_ih", (gate, in_size)), ("weight_hh", (gate, hidden_size))]
                if bias:
                    shapes += [("bias_ih", (gate,)), ("bias_hh", (gate,))]
                for base, shape in shapes:
                    setattr(self, base + sfx, empty_param(shape, device, dtype))
                    self._flat_weights_names.append(base + sfx)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    @property
    def _flat_weights(self):
        return [getattr(self, n) for n in self._flat_weights_names]

    @property
    def all_weights(self):
        per = 4 if self.bias else 2
        w = self._flat_weights
        return [w[i:i + per] for i in range(0, len(w), per)]

    def flatten_parameters(self):
        """No-op (kept for PyTorch compatibility)."""

    def _weights(self, layer, d):
        sfx = f"_l{layer}" + ("_reverse" if d == 1 else "")
        get = lambda base: getattr(self, base + sfx) if self.bias or "weight" in base else None
        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")

    def _check_input(self, x, batched):
        name = type(self).__name__
        if x.dim() not in (2, 3):
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {x.dim()}D instead")
        w = self.weight_ih_l0
        if x.shape[-1] != self.input_size:
            dims = "N, L" if self.batch_first else "L, N"
            raise RuntimeError(
                f"{name}: expected input of shape ({dims}, {self.input_size}) "
                f"(batch_first={self.batch_first}) or (L, {self.input_size}), got {_shape(x)}"
            )
        if x.dtype != w.dtype:
            raise RuntimeError(
                f"{name}: input dtype {x.dtype} does not match the weights' dtype {w.dtype}"
            )

    def _check_hidden(self, h, what, batch, x_dtype):
        name = type(self).__name__
        num_dir = 2 if self.bidirectional else 1
        expected = (self.num_layers * num_dir, batch, self.hidden_size)
        if tuple(h.shape) != expected:
            raise RuntimeError(
                f"{name}: expected {what} of shape {_tup(*expected)}, got {_shape(h)}"
            )
        if h.dtype != x_dtype:
            raise RuntimeError(
                f"{name}: {what} dtype {h.dtype} does not match the input dtype {x_dtype}"
            )

    def forward(self, input, hx=None):
        name = type(self).__name__
        is_lstm = self.mode == "LSTM"
        packed = isinstance(input, PackedSequence)
        num_dir = 2 if self.bidirectional else 1
        if packed:
            x2d = input.data
            batch_sizes = [int(b) for b in input.batch_sizes.tolist()]
            B, batched = batch_sizes[0], True
            if x2d.dim() != 2 or x2d.shape[-1] != self.input_size:
                raise RuntimeError(
                    f"{name}: expected packed data of shape (*, {self.input_size}), "
                    f"got {_shape(x2d)}"
                )
            if x2d.dtype != self.weight_ih_l0.dtype:
                raise RuntimeError(
                    f"{name}: input dtype {x2d.dtype} does not match the weights' dtype "
                    f"{self.weight_ih_l0.dtype}"
                )
        else:
            batched = input.dim() == 3
            self._check_input(input, batched)
            x = input if batched else input.unsqueeze(1)
            if self.batch_first and batched:
                x = x.transpose(0, 1)
            T, B = x.shape[0], x.shape[1]
            if T == 0 or B == 0:
                raise RuntimeError(f"{name}: expected a non-empty input, got {_shape(input)}")
            x2d = x.reshape([T * B, self.input_size])
            batch_sizes = [B] * T
        # initial states, checked in the caller's layout, then made (layers*dirs, B, H)
        if is_lstm:
            hs = [None, None] if hx is None else list(hx)
        else:
            hs = [hx]
        if len(hs) != (2 if is_lstm else 1):
            raise RuntimeError(f"{name}: hx must be a tuple (h_0, c_0), got {len(hs)} tensors")
        states = []
        for h, what in zip(hs, ["h_0", "c_0"] if is_lstm else ["h_0"]):
            if h is None:
                h = _factories.zeros(self.num_layers * num_dir, B, self.hidden_size,
                             dtype=x2d.dtype, device=x2d.device)
            else:
                if not packed and not batched:
                    if h.dim() != 2:
                        raise RuntimeError(
                            f"{name}: for unbatched 2-D input, {what} should also be 2-D but "
                            f"got {h.dim()}-D tensor"
                        )
                    h = h.unsqueeze(1)
                elif h.dim() != 3:
                    raise RuntimeError(
                        f"{name}: for batched input, {what} should be 3-D but got "
                        f"{h.dim()}-D tensor"
                    )
                self._check_hidden(h, what, B, x2d.dtype)
                if packed and input.sorted_indices is not None:
                    h = _C.index_select(h, 1, input.sorted_indices)
            states.append(h)
        h0s = states[0].unbind(0)
        c0s = states[1].unbind(0) if is_lstm else [None] * len(h0s)
        layer_in, h_n, c_n = x2d, [], []
        for layer in range(self.num_layers):
            outs = []
            for d in range(num_dir):
                w_ih, w_hh, b_ih, b_hh = self._weights(layer, d)
                k = layer * num_dir + d
                out, h, c = _C._rnn_sequence(self.mode, layer_in, batch_sizes, h0s[k], c0s[k],
                                             w_ih, w_hh, b_ih, b_hh, d == 1)
                outs.append(out)
                h_n.append(h)
                c_n.append(c)
            layer_in = outs[0] if num_dir == 1 else _C.cat(outs, 1)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                layer_in = _dropout(layer_in, self.dropout, True)
        h_n = _C.stack(h_n, 0)
        c_n = _C.stack(c_n, 0) if is_lstm else None
        if packed:
            if input.unsorted_indices is not None:
                h_n = _C.index_select(h_n, 1, input.unsorted_indices)
                c_n = _C.index_select(c_n, 1, input.unsorted_indices) if is_lstm else None
            output = PackedSequence(layer_in, input.batch_sizes, input.sorted_indices,
                                    input.unsorted_indices)
        else:
            output = layer_in.reshape([T, B, num_dir * self.hidden_size])
            if not batched:
                output, h_n = output.squeeze(1), h_n.squeeze(1)
                c_n = c_n.squeeze(1) if is_lstm else None
            elif self.batch_first:
                output = output.transpose(0, 1)
        return (output, (h_n, c_n)) if is_lstm else (output, h_n)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu)."""

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            self_nl = args[3]
            args = args[:3] + args[4:]
        else:
            self_nl = kwargs.pop("nonlinearity", "tanh")
        if self_nl == "tanh":
            mode = "RNN_TANH"
        elif self_nl == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{self_nl}'. Select from 'tanh' or 'relu'.")
        super().__init__(mode, *args, **kwargs)
        self.nonlinearity = self_nl


class LSTM(RNNBase):
    """LSTM (gates i, f, g, o); forward returns output, (h_n, c_n)."""

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)


class GRU(RNNBase):
    """GRU with PyTorch's formulation n = tanh(W_in x + b_in + r * (W_hn h + b_hn))."""

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)


class RNNCellBase(Module):
    """One time step: weight_ih (G*H, in), weight_hh (G*H, H), bias_ih, bias_hh."""

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        _check_size("hidden_size", hidden_size)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        gate = num_chunks * hidden_size
        self.weight_ih = empty_param((gate, input_size), device, dtype)
        self.weight_hh = empty_param((gate, hidden_size), device, dtype)
        if bias:
            self.bias_ih = empty_param((gate,), device, dtype)
            self.bias_hh = empty_param((gate,), device, dtype)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if "nonlinearity" in self.__dict__ and self.nonlinearity != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _prepare(self, input, hx, n_states):
        """Checks shapes; returns 2-D input, list of 2-D states, batched flag."""
        name = type(self).__name__
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(
                f"{name}: expected input of shape (N, {self.input_size}) or "
                f"({self.input_size},), got {_shape(input)}"
            )
        if input.dtype != self.weight_ih.dtype:
            raise RuntimeError(
                f"{name}: input dtype {input.dtype} does not match the weights' dtype "
                f"{self.weight_ih.dtype}"
            )
        batched = input.dim() == 2
        x = input if batched else input.unsqueeze(0)
        N = x.shape[0]
        if hx is None:
            states = [_factories.zeros(N, self.hidden_size, dtype=x.dtype, device=x.device)
                      for _ in range(n_states)]
        else:
            states = list(hx) if n_states == 2 else [hx]
            if len(states) != n_states:
                raise RuntimeError(f"{name}: hx must be a tuple (h, c)")
            what = ["h", "c"]
            for i, s in enumerate(states):
                want = (N, self.hidden_size) if batched else (self.hidden_size,)
                if tuple(s.shape) != want:
                    raise RuntimeError(
                        f"{name}: expected {what[i]} of shape {_tup(*want)}, got {_shape(s)}"
                    )
                if s.dtype != x.dtype:
                    raise RuntimeError(
                        f"{name}: {what[i]} dtype {s.dtype} does not match the input dtype "
                        f"{x.dtype}"
                    )
            states = states if batched else [s.unsqueeze(0) for s in states]
        return x, states, batched


class RNNCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh",
                 device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        x, (h,), batched = self._prepare(input, hx, 1)
        gi = _input_projection("RNN", x, self.weight_ih, self.bias_ih, self.bias_hh)
        out, _ = _step_rnn(self.nonlinearity == "relu")(gi, h, None, self.weight_hh.t(), None)
        return out if batched else out.squeeze(0)


class LSTMCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input, hx=None):
        x, (h, c), batched = self._prepare(input, hx, 2)
        gi = _input_projection("LSTM", x, self.weight_ih, self.bias_ih, self.bias_hh)
        h, c = _step_lstm(gi, h, c, self.weight_hh.t(), None)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input, hx=None):
        x, (h,), batched = self._prepare(input, hx, 1)
        gi = _input_projection("GRU", x, self.weight_ih, self.bias_ih, self.bias_hh)
        out, _ = _step_gru(gi, h, None, self.weight_hh.t(), self.bias_hh)
        return out if batched else out.squeeze(0)
