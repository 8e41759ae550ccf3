// Fused LSTM / GRU gate kernels (see ops/rnn_ops.h). Forward keeps the
// activated gates in a workspace tensor saved for backward, so the backward
// kernel needs no transcendental functions except tanh(c) for the LSTM.
// Note [RNN cell double backward]: the normal backward runs a dedicated
// kernel on the saved activations, which carry no history. Under create_graph
// (grad mode on inside the rule) the rules instead recompute the activations
// from the saved gate inputs with recorded ops and build the gradient from
// them, so second derivatives (gradient penalties) are exact.
#include <cmath>
#include <type_traits>

#include "backend/cpu/parallel.h"
#include "ops/elementwise.h"
#include "ops/elementwise_ops.h"
#include "ops/grad_utils.h"
#include "ops/rnn_ops.h"
#include "ops/shape_ops.h"

namespace fastgrad {

namespace {

template <class T>
inline T sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

// tanh through one exp (libm's tanh costs several exps): (e - 1) / (e + 1)
// with e = exp(2|x|) loses at most ~3 bits for |x| >= 1/16; below that an odd
// Taylor polynomial keeps the relative error within 4 ulps. float only:
// float64 keeps libm's tanh (exact to an ulp), as its users ask for accuracy.
template <class T>
inline T fast_tanh(T x) {
  if constexpr (!std::is_same_v<T, float>) return std::tanh(x);
  T a = std::abs(x);
  if (a < T(0.0625)) {
    T x2 = x * x;
    return x * (T(1) + x2 * (T(-1) / 3 + x2 * (T(2) / 15 + x2 * (T(-17) / 315 +
                                                                 x2 * (T(62) / 2835)))));
  }
  T e = std::exp(T(2) * a);
  T t = std::isinf(e) ? T(1) : (e - T(1)) / (e + T(1));
  return x < 0 ? -t : t;
}

// Rows are independent: split the batch over threads once a step is big.
template <class F>
void for_rows(int64_t n, int64_t row_work, const F& f) {
  int64_t grain = std::max<int64_t>(1, cpu::kGrain / std::max<int64_t>(1, row_work));
  cpu::parallel_for(0, n, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) f(r);
  });
}

void check_2d(const char* op, const char* name, const Tensor& t, int64_t n, int64_t cols,
              const Tensor& ref) {
  FG_CHECK(t.defined(), op, ": ", name, " is undefined");
  FG_CHECK(t.dim() == 2 && t.sizes()[0] == n && t.sizes()[1] == cols, op, ": expected ",
           name, " of shape (", n, ", ", cols, "), got ", shape_str(t.sizes()));
  FG_CHECK_TYPE(t.dtype() == ref.dtype(), op, ": ", name, " has dtype ", t.dtype(),
                " but expected ", ref.dtype());
  FG_CHECK(t.device() == ref.device() && t.device().is_cpu(), op,
           ": all tensors must be on the same CPU device");
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

}  // namespace

std::vector<Tensor> lstm_cell_fused(const Tensor& gates_in, const Tensor& cx_in) {
  const char* op = "lstm_cell";
  FG_CHECK(gates_in.defined(), op, ": gates are undefined");
  const int64_t H = hidden_of(op, gates_in, 4), N = gates_in.sizes()[0];
  check_2d(op, "cx", cx_in, N, H, gates_in);
  Tensor gates = contiguous(gates_in), cx = contiguous(cx_in);
  Tensor h = empty({N, H}, gates.dtype(), gates.device());
  Tensor c = empty({N, H}, gates.dtype(), gates.device());
  // activated i, f, g, o and tanh(c): backward then needs no transcendental
  Tensor work = empty({N, 5 * H}, gates.dtype(), gates.device());
  dispatch_float(gates.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    const T *G = gates.data<T>(), *C0 = cx.data<T>();
    T *Hp = h.data<T>(), *Cp = c.data<T>(), *W = work.data<T>();
    for_rows(N, 8 * H, [&](int64_t r) {
      const T* g = G + r * 4 * H;
      T* w = W + r * 5 * H;
      for (int64_t j = 0; j < H; ++j) {
        T i = sigmoid(g[j]), f = sigmoid(g[H + j]), gg = fast_tanh(g[2 * H + j]),
          o = sigmoid(g[3 * H + j]);
        T cn = f * C0[r * H + j] + i * gg;
        w[j] = i, w[H + j] = f, w[2 * H + j] = gg, w[3 * H + j] = o;
        T tc = fast_tanh(cn);
        w[4 * H + j] = tc;
        Cp[r * H + j] = cn;
        Hp[r * H + j] = o * tc;
      }
    });
  });
  maybe_record("LstmCellBackward", {gates_in, cx_in}, {h, c}, {work, cx_in, gates_in},
               [N, H](const FunctionNode& n, const Tensors& gs) -> Tensors {
                 if (autograd::grad_enabled())
                   return lstm_cell_backward_recorded(n.saved(2), n.saved(1), gs[0], gs[1], H);
                 Tensor w = n.saved(0), c0 = contiguous(n.saved(1));
                 Tensor dh = contiguous(gs[0]), dc = contiguous(gs[1]);
                 Tensor dg = empty({N, 4 * H}, w.dtype(), w.device());
                 Tensor dc0 = empty({N, H}, w.dtype(), w.device());
                 dispatch_float(w.dtype(), "lstm_cell", [&](auto tag) {
                   using T = decltype(tag);
                   const T *W = w.data<T>(), *C0 = c0.data<T>(), *DH = dh.data<T>(),
                           *DC = dc.data<T>();
                   T *DG = dg.data<T>(), *DC0 = dc0.data<T>();
                   for_rows(N, 8 * H, [&](int64_t r) {
                     const T* wr = W + r * 5 * H;
                     T* d = DG + r * 4 * H;
                     for (int64_t j = 0; j < H; ++j) {
                       const int64_t k = r * H + j;
                       T i = wr[j], f = wr[H + j], g = wr[2 * H + j], o = wr[3 * H + j];
                       T tc = wr[4 * H + j];
                       T dct = DC[k] + DH[k] * o * (T(1) - tc * tc);
                       d[j] = dct * g * i * (T(1) - i);
                       d[H + j] = dct * C0[k] * f * (T(1) - f);
                       d[2 * H + j] = dct * i * (T(1) - g * g);
                       d[3 * H + j] = DH[k] * tc * o * (T(1) - o);
                       DC0[k] = dct * f;
                     }
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
  Tensor gi = contiguous(gi_in), gh = contiguous(gh_in), hx = contiguous(hx_in);
  Tensor h = empty({N, H}, gi.dtype(), gi.device());
  Tensor work = empty({N, 4 * H}, gi.dtype(), gi.device());  // r, z, n, gh_n
  dispatch_float(gi.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    const T *GI = gi.data<T>(), *GH = gh.data<T>(), *H0 = hx.data<T>();
    T *Hp = h.data<T>(), *W = work.data<T>();
    for_rows(N, 10 * H, [&](int64_t row) {
      const T *a = GI + row * 3 * H, *b = GH + row * 3 * H;
      T* w = W + row * 4 * H;
      for (int64_t j = 0; j < H; ++j) {
        T r = sigmoid(a[j] + b[j]), z = sigmoid(a[H + j] + b[H + j]);
        T nn = fast_tanh(a[2 * H + j] + r * b[2 * H + j]);
        w[j] = r, w[H + j] = z, w[2 * H + j] = nn, w[3 * H + j] = b[2 * H + j];
        Hp[row * H + j] = (T(1) - z) * nn + z * H0[row * H + j];
      }
    });
  });
  maybe_record("GruCellBackward", {gi_in, gh_in, hx_in}, {h}, {work, hx_in, gi_in, gh_in},
               [N, H](const FunctionNode& n, const Tensors& gs) -> Tensors {
                 if (autograd::grad_enabled())
                   return gru_cell_backward_recorded(n.saved(2), n.saved(3), n.saved(1), gs[0],
                                                     H);
                 Tensor w = n.saved(0), h0 = contiguous(n.saved(1)), dh = contiguous(gs[0]);
                 Tensor dgi = empty({N, 3 * H}, w.dtype(), w.device());
                 Tensor dgh = empty({N, 3 * H}, w.dtype(), w.device());
                 Tensor dh0 = empty({N, H}, w.dtype(), w.device());
                 dispatch_float(w.dtype(), "gru_cell", [&](auto tag) {
                   using T = decltype(tag);
                   const T *W = w.data<T>(), *H0 = h0.data<T>(), *DH = dh.data<T>();
                   T *A = dgi.data<T>(), *B = dgh.data<T>(), *D0 = dh0.data<T>();
                   for_rows(N, 10 * H, [&](int64_t row) {
                     const T* wr = W + row * 4 * H;
                     T *a = A + row * 3 * H, *b = B + row * 3 * H;
                     for (int64_t j = 0; j < H; ++j) {
                       const int64_t k = row * H + j;
                       T r = wr[j], z = wr[H + j], nn = wr[2 * H + j], hn = wr[3 * H + j];
                       T dn = DH[k] * (T(1) - z) * (T(1) - nn * nn);
                       T dz = DH[k] * (H0[k] - nn) * z * (T(1) - z);
                       T dr = dn * hn * r * (T(1) - r);
                       a[j] = b[j] = dr;
                       a[H + j] = b[H + j] = dz;
                       a[2 * H + j] = dn;
                       b[2 * H + j] = dn * r;
                       D0[k] = DH[k] * z;
                     }
                   });
                 });
                 return {dgi, dgh, dh0};
               });
  return h;
}

}  // namespace fastgrad
