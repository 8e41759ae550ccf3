// Fused LSTM / GRU gate kernels (see ops/rnn_ops.h). Forward keeps the
// activated gates in a workspace tensor saved for backward, so the backward
// kernel needs no transcendental functions except tanh(c) for the LSTM.
// Note [RNN cell double backward]: the normal backward runs a dedicated
// kernel on the saved activations, which carry no history. Under create_graph
// (grad mode on inside the rule) the rules instead recompute the activations
// from the saved gate inputs with recorded ops and build the gradient from
// them, so second derivatives (gradient penalties) are exact.
// On CUDA the same kernels are math/rnn.h's element functors, one thread per
// (row, hidden unit) (backend/cuda/rows.cuh).
#if defined(__CUDACC__)
#include "backend/cuda/rows.cuh"
#endif
#include "math/rnn.h"
#include "ops/elementwise.h"
#include "ops/elementwise_ops.h"
#include "ops/grad_utils.h"
#include "ops/rnn_kernels.h"
#include "ops/rnn_ops.h"
#include "ops/shape_ops.h"

namespace fastgrad {

using rnn::for_rows;
using rnn::gru_row;
using rnn::lstm_row;
using rnn::map_gate;
using rnn::tanh_any;

namespace {

void check_2d(const char* op, const char* name, const Tensor& t, int64_t n, int64_t cols,
              const Tensor& ref) {
  FG_CHECK(t.defined(), op, ": ", name, " is undefined");
  FG_CHECK(t.dim() == 2 && t.sizes()[0] == n && t.sizes()[1] == cols, op, ": expected ",
           name, " of shape (", n, ", ", cols, "), got ", shape_str(t.sizes()));
  FG_CHECK_TYPE(t.dtype() == ref.dtype(), op, ": ", name, " has dtype ", t.dtype(),
                " but expected ", ref.dtype());
  FG_CHECK(t.device() == ref.device(), op, ": expected all tensors on the same device, got ",
           ref.device(), " and ", t.device());
}

// f(r, j) for every element of N rows of H on a non-CPU device.
template <class F>
void on_device(const char* op, Device dev, int64_t N, int64_t H, const F& f) {
#if defined(__CUDACC__)
  cuda::launch_row_elements(op, dev.index, N, H, f);
#else
  fail<NotImplementedError>(op, ": no kernel for device ", dev);
#endif
}

// Number of gates (4 for LSTM, 3 for GRU) from a (N, G*H) gate tensor.
int64_t hidden_of(const char* op, const Tensor& gates, int64_t ngates) {
  FG_CHECK(gates.dim() == 2 && gates.sizes()[1] % ngates == 0, op,
           ": expected gates of shape (N, ", ngates, " * hidden_size), got ",
           shape_str(gates.sizes()));
  return gates.sizes()[1] / ngates;
}

// Column block k (of width H) of a (N, G*H) tensor, as a recorded view.
Tensor block(const Tensor& t, int64_t k, int64_t H) { return narrow(t, 1, k * H, H); }

// d sigmoid / dx and d tanh / dx from the activated value y, recorded.
Tensor dsigmoid(const Tensor& y) { return mul(y, sub(Scalar(1), y)); }
Tensor dtanh(const Tensor& y) { return sub(Scalar(1), mul(y, y)); }

}  // namespace

namespace rnn {

// See Note [RNN cell double backward]: the LSTM cell gradient from recorded ops.
Tensors lstm_cell_backward_recorded(const Tensor& gates, const Tensor& cx, const Tensor& dh,
                                    const Tensor& dc, int64_t H) {
  Tensor i = fastgrad::sigmoid(block(gates, 0, H)), f = fastgrad::sigmoid(block(gates, 1, H));
  Tensor g = fastgrad::tanh(block(gates, 2, H)), o = fastgrad::sigmoid(block(gates, 3, H));
  Tensor tc = fastgrad::tanh(add(mul(f, cx), mul(i, g)));
  Tensor dct = add(dc, mul(mul(dh, o), dtanh(tc)));
  Tensor dg = cat({mul(mul(dct, g), dsigmoid(i)), mul(mul(dct, cx), dsigmoid(f)),
                   mul(mul(dct, i), dtanh(g)), mul(mul(dh, tc), dsigmoid(o))},
                  1);
  return {dg, mul(dct, f)};
}

// The GRU cell gradient from recorded ops.
Tensors gru_cell_backward_recorded(const Tensor& gi, const Tensor& gh, const Tensor& hx,
                                   const Tensor& dh, int64_t H) {
  Tensor r = fastgrad::sigmoid(add(block(gi, 0, H), block(gh, 0, H)));
  Tensor z = fastgrad::sigmoid(add(block(gi, 1, H), block(gh, 1, H)));
  Tensor hn = block(gh, 2, H);
  Tensor nn = fastgrad::tanh(add(block(gi, 2, H), mul(r, hn)));
  Tensor dn = mul(mul(dh, sub(Scalar(1), z)), dtanh(nn));
  Tensor dz = mul(mul(dh, sub(hx, nn)), dsigmoid(z));
  Tensor dr = mul(mul(dn, hn), dsigmoid(r));
  return {cat({dr, dz, dn}, 1), cat({dr, dz, mul(dn, r)}, 1), mul(dh, z)};
}

}  // namespace rnn

std::vector<Tensor> lstm_cell_fused(const Tensor& gates_in, const Tensor& cx_in) {
  const char* op = "lstm_cell";
  FG_CHECK(gates_in.defined(), op, ": gates are undefined");
  const int64_t H = hidden_of(op, gates_in, 4), N = gates_in.sizes()[0];
  check_2d(op, "cx", cx_in, N, H, gates_in);
  if (is_16bit_float(gates_in.dtype())) {  // Note [16-bit floats]
    auto r = lstm_cell_fused(as_float32(gates_in), as_float32(cx_in));
    for (Tensor& t : r) t = to_dtype(t, gates_in.dtype());
    return r;
  }
  Tensor gates = contiguous(gates_in), cx = contiguous(cx_in);
  Tensor h = empty({N, H}, gates.dtype(), gates.device());
  Tensor c = empty({N, H}, gates.dtype(), gates.device());
  // activated i, f, g, o and tanh(c): backward then needs no transcendental
  Tensor work = empty({N, 5 * H}, gates.dtype(), gates.device());
  dispatch_float(gates.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    const T *G = gates.data<T>(), *C0 = cx.data<T>();
    T *Hp = h.data<T>(), *Cp = c.data<T>(), *W = work.data<T>();
    if (!gates.device().is_cpu())
      return on_device(op, gates.device(), N, H,
                       math::rnn::LstmCellElems<T>{G, C0, W, Cp, Hp, H});
    // activations first (contiguous gate blocks: vectorizable loops, see
    // Note [Vectorizable float activations]), then the state update
    for_rows(N, 8 * H, [&](int64_t r) {
      lstm_row(G + r * 4 * H, static_cast<const T*>(nullptr), C0 + r * H, W + r * 5 * H, Cp + r * H, Hp + r * H, H);
    });
  });
  maybe_record("LstmCellBackward", {gates_in, cx_in}, {h, c}, {work, cx_in, gates_in},
               [N, H](const FunctionNode& n, const Tensors& gs) -> Tensors {
                 if (autograd::grad_enabled())
                   return rnn::lstm_cell_backward_recorded(n.saved(2), n.saved(1), gs[0], gs[1], H);
                 Tensor w = n.saved(0), c0 = contiguous(n.saved(1));
                 Tensor dh = contiguous(gs[0]), dc = contiguous(gs[1]);
                 Tensor dg = empty({N, 4 * H}, w.dtype(), w.device());
                 Tensor dc0 = empty({N, H}, w.dtype(), w.device());
                 dispatch_float(w.dtype(), "lstm_cell", [&](auto tag) {
                   using T = decltype(tag);
                   const T *W = w.data<T>(), *C0 = c0.data<T>(), *DH = dh.data<T>(),
                           *DC = dc.data<T>();
                   T *DG = dg.data<T>(), *DC0 = dc0.data<T>();
                   if (!w.device().is_cpu())
                     return on_device("lstm_cell", w.device(), N, H,
                                      math::rnn::LstmCellGradElems<T>{W, C0, DH, DC, DG, DC0, H});
                   for_rows(N, 8 * H, [&](int64_t r) {
                     rnn::lstm_row_backward(W + r * 5 * H, C0 + r * H, DH + r * H,
                                            DC + r * H, DG + r * 4 * H, DC0 + r * H, H);
                   });
                 });
                 return {dg, dc0};
               });
  return {h, c};
}

Tensor gru_cell_fused(const Tensor& gi_in, const Tensor& gh_in, const Tensor& hx_in) {
  const char* op = "gru_cell";
  FG_CHECK(gi_in.defined(), op, ": input gates are undefined");
  const int64_t H = hidden_of(op, gi_in, 3), N = gi_in.sizes()[0];
  check_2d(op, "hidden gates", gh_in, N, 3 * H, gi_in);
  check_2d(op, "hx", hx_in, N, H, gi_in);
  if (is_16bit_float(gi_in.dtype()))  // Note [16-bit floats]
    return to_dtype(gru_cell_fused(as_float32(gi_in), as_float32(gh_in), as_float32(hx_in)),
                    gi_in.dtype());
  Tensor gi = contiguous(gi_in), gh = contiguous(gh_in), hx = contiguous(hx_in);
  Tensor h = empty({N, H}, gi.dtype(), gi.device());
  Tensor work = empty({N, 4 * H}, gi.dtype(), gi.device());  // r, z, n, gh_n
  dispatch_float(gi.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    const T *GI = gi.data<T>(), *GH = gh.data<T>(), *H0 = hx.data<T>();
    T *Hp = h.data<T>(), *W = work.data<T>();
    if (!gi.device().is_cpu())
      return on_device(op, gi.device(), N, H, math::rnn::GruCellElems<T>{GI, GH, H0, W, Hp, H});
    for_rows(N, 10 * H, [&](int64_t r) {
      gru_row(GI + r * 3 * H, GH + r * 3 * H, H0 + r * H, W + r * 4 * H, Hp + r * H, H);
    });
  });
  maybe_record("GruCellBackward", {gi_in, gh_in, hx_in}, {h}, {work, hx_in, gi_in, gh_in},
               [N, H](const FunctionNode& n, const Tensors& gs) -> Tensors {
                 if (autograd::grad_enabled())
                   return rnn::gru_cell_backward_recorded(n.saved(2), n.saved(3), n.saved(1), gs[0],
                                                     H);
                 Tensor w = n.saved(0), h0 = contiguous(n.saved(1)), dh = contiguous(gs[0]);
                 Tensor dgi = empty({N, 3 * H}, w.dtype(), w.device());
                 Tensor dgh = empty({N, 3 * H}, w.dtype(), w.device());
                 Tensor dh0 = empty({N, H}, w.dtype(), w.device());
                 dispatch_float(w.dtype(), "gru_cell", [&](auto tag) {
                   using T = decltype(tag);
                   const T *W = w.data<T>(), *H0 = h0.data<T>(), *DH = dh.data<T>();
                   T *A = dgi.data<T>(), *B = dgh.data<T>(), *D0 = dh0.data<T>();
                   if (!w.device().is_cpu())
                     return on_device("gru_cell", w.device(), N, H,
                                      math::rnn::GruCellGradElems<T>{W, H0, DH, A, B, D0, H});
                   for_rows(N, 10 * H, [&](int64_t r) {
                     rnn::gru_row_backward(W + r * 4 * H, H0 + r * H, DH + r * H,
                                           A + r * 3 * H, B + r * 3 * H, D0 + r * H, H);
                   });
                 });
                 return {dgi, dgh, dh0};
               });
  return h;
}

Tensor rnn_tanh_fused(const Tensor& pre_in) {
  const char* op = "rnn_tanh_cell";
  FG_CHECK(pre_in.defined(), op, ": input is undefined");
  if (is_16bit_float(pre_in.dtype()))  // Note [16-bit floats]
    return to_dtype(rnn_tanh_fused(as_float32(pre_in)), pre_in.dtype());
  Tensor pre = contiguous(pre_in);
  Tensor h = empty(pre.sizes(), pre.dtype(), pre.device());
  dispatch_float(pre.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    if (!pre.device().is_cpu()) return launch<T, T>(op, h, {&pre}, math::TanhFn{});
    const T* X = pre.data<T>();
    T* Y = h.data<T>();
    auto th = [](auto v) { return tanh_any<T>(v); };
    // chunks may end mid-vector: the scalar tail computes what a lane does
    cpu::parallel_for(0, pre.numel(), cpu::kGrain / 8, [&](int64_t lo, int64_t hi) {
      map_gate(X + lo, Y + lo, hi - lo, th);
    });
  });
  // written with fastgrad ops on the saved output: differentiable again
  maybe_record("RnnTanhCellBackward", {pre_in}, {h}, {h},
               [](const FunctionNode& n, const Tensors& gs) -> Tensors {
                 Tensor y = n.saved(0);
                 return {mul(gs[0], dtanh(y))};
               });
  return h;
}

}  // namespace fastgrad
