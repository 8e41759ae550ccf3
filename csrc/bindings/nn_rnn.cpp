// Bindings for recurrent cells (private _C functions wrapped in Python).
#include "bindings/common.h"
#include "ops/rnn_ops.h"

namespace fastgrad::bindings {

void bind_nn_rnn(py::module_& m) {
  m.def(
      "_lstm_cell",
      [](const Tensor& gates, const Tensor& cx) {
        auto hc = traced("_lstm_cell", &lstm_cell_fused)(gates, cx);
        return py::make_tuple(hc[0], hc[1]);
      },
      "gates"_a, "cx"_a,
      "Fused LSTM gate update: gates (N, 4H) already summed, cx (N, H) -> (h, c).");
  m.def("_gru_cell", traced("_gru_cell", &gru_cell_fused), "gi"_a, "gh"_a, "hx"_a,
        "Fused GRU gate update: gi = x W_ih^T + b_ih, gh = h W_hh^T + b_hh -> h.");
  m.def("_rnn_tanh", traced("_rnn_tanh", &rnn_tanh_fused), "pre"_a,
        "tanh for the Elman RNN step (vectorized in float32).");
  m.def(
      "_rnn_sequence",
      [](const std::string& mode, const Tensor& x, const std::vector<int64_t>& batch_sizes,
         const Tensor& h0, const std::optional<Tensor>& c0, const Tensor& w_ih, const Tensor& w_hh,
         const std::optional<Tensor>& b_ih, const std::optional<Tensor>& b_hh, bool reverse) {
        auto r = traced("_rnn_sequence", &rnn_sequence)(
            mode, x, batch_sizes, h0, c0.value_or(Tensor()), w_ih, w_hh,
            b_ih.value_or(Tensor()), b_hh.value_or(Tensor()), reverse);
        return py::make_tuple(r[0], r[1], r.size() > 2 ? py::cast(r[2]) : py::none());
      },
      "mode"_a, "x"_a, "batch_sizes"_a, "h0"_a, "c0"_a, "w_ih"_a, "w_hh"_a, "b_ih"_a, "b_hh"_a,
      "reverse"_a,
      "One direction of a recurrent layer over a packed sequence -> (out, h_n, c_n or None).");
}

}  // namespace fastgrad::bindings
