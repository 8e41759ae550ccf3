// Fused elementwise part of one recurrent time step (ops/rnn_cells.cpp).
// The matrix products (x W_ih^T + b_ih, h W_hh^T + b_hh) are computed by the
// caller with matmul/addmm, so their gradients come from those ops; these
// kernels apply the gate nonlinearities and the state update in one pass and
// carry a fused backward rule. Gate order follows PyTorch (LSTM: i, f, g, o;
// GRU: r, z, n).
#pragma once
#include <string>
#include <vector>

#include "core/tensor.h"

namespace fastgrad {

// gates: (N, 4H) = x W_ih^T + b_ih + h W_hh^T + b_hh; cx: (N, H).
// Returns {h, c}: c = f * cx + i * g, h = o * tanh(c).
std::vector<Tensor> lstm_cell_fused(const Tensor& gates, const Tensor& cx);

// gi: (N, 3H) = x W_ih^T + b_ih; gh: (N, 3H) = h W_hh^T + b_hh; hx: (N, H).
// r, z = sigmoid(gi + gh), n = tanh(gi_n + r * gh_n), h = (1 - z) n + z hx.
Tensor gru_cell_fused(const Tensor& gi, const Tensor& gh, const Tensor& hx);

// tanh for the Elman RNN step (pre = x W_ih^T + b + h W_hh^T): float32 uses
// the cells' vectorized tanh (libm's tanhf is scalar), float64 libm.
Tensor rnn_tanh_fused(const Tensor& pre);

}  // namespace fastgrad

namespace fastgrad {

// One direction of one recurrent layer over a whole (packed) sequence, as
// one op with one backward node (ops/rnn_sequence.cpp): the input projection
// of every row (one gemm), the time loop, and in backward dx, [dW_ih | dW_hh]
// as one gemm over all rows and the bias gradients as column sums. mode:
// "LSTM", "GRU", "RNN_TANH" or "RNN_RELU". x (rows, I): the packed input
// rows; batch_sizes: rows of each time step (non-increasing, summing to
// rows; all B for padded input); h0, c0 (B, H) (c0 only for LSTM); w_ih
// (G*H, I), w_hh (G*H, H); b_ih, b_hh (G*H) or undefined. reverse runs the
// steps from last to first. Returns {out (rows, H), h_n (B, H)} plus c_n.
std::vector<Tensor> rnn_sequence(const std::string& mode, const Tensor& x,
                                 const std::vector<int64_t>& batch_sizes, const Tensor& h0,
                                 const Tensor& c0, const Tensor& w_ih, const Tensor& w_hh,
                                 const Tensor& b_ih, const Tensor& b_hh, bool reverse);

// The same op composed of recorded per-step ops (mm/addmm, the fused cells,
// cat), differentiated by autograd: the path of CUDA tensors, callable on the
// CPU so the tests cover it (_C._cuda._rnn_sequence_composed).
std::vector<Tensor> rnn_sequence_composed(const std::string& mode, const Tensor& x,
                                          const std::vector<int64_t>& batch_sizes,
                                          const Tensor& h0, const Tensor& c0,
                                          const Tensor& w_ih, const Tensor& w_hh,
                                          const Tensor& b_ih, const Tensor& b_hh, bool reverse);

}  // namespace fastgrad
