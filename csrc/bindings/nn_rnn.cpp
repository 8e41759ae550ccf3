// Bindings for recurrent cells (private _C functions wrapped in Python).
#include "bindings/common.h"
#include "ops/rnn_ops.h"

namespace fastgrad::bindings {

void bind_nn_rnn(py::module_& m) {
  m.def(
      "_lstm_cell",
      [](const Tensor& gates, const Tensor& cx) {
        auto hc = lstm_cell_fused(gates, cx);
        return py::make_tuple(hc[0], hc[1]);
      },
      "gates"_a, "cx"_a,
      "Fused LSTM gate update: gates (N, 4H) already summed, cx (N, H) -> (h, c).");
  m.def("_gru_cell", &gru_cell_fused, "gi"_a, "gh"_a, "hx"_a,
        "Fused GRU gate update: gi = x W_ih^T + b_ih, gh = h W_hh^T + b_hh -> h.");
  m.def("_rnn_tanh", &rnn_tanh_fused, "pre"_a,
        "tanh for the Elman RNN step (vectorized in float32).");
}

}  // namespace fastgrad::bindings
