// Row kernels shared by the single-step fused cells (ops/rnn_cells.cpp) and
// the whole-sequence recurrence (ops/rnn_sequence.cpp): one batch row of the
// gate nonlinearities + state update, and of its gradient, on the CPU. The
// formulas are math/rnn.h's, which the CUDA cells run too. Internal header.
// The *_recorded helpers are the same gradients written with recorded ops,
// used under create_graph (Note [RNN cell double backward]).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <tuple>
#include <type_traits>
#include <utility>

#include "autograd/node.h"
#include "backend/cpu/parallel.h"
#include "math/rnn.h"
#include "math/vec_exp.h"

namespace fastgrad::rnn {

// Float gate activations: math/vec_exp.h (Note [Vectorizable float
// activations]); float64 keeps libm.
using math::vec::kLanes;
using math::vec::loadv;
using math::vec::sigmoid_f32;
using math::vec::storev;
using math::vec::VF;
using math::vec::tanh_f32;

// nvcc's device pass emits device code for every instantiation of a
// host-device template, and a VF cannot exist there: the VF loops that call
// math/rnn.h's formulas are compiled in host passes only (the device pass
// never runs these host functions anyway).
#if defined(__CUDA_ARCH__)
constexpr bool kVecRows = false;
#else
constexpr bool kVecRows = true;
#endif

// Gate activations for element type T on a T (or, for float, a VF).
template <class T, class V>
inline V sigmoid_any(V x) {
  if constexpr (std::is_same_v<T, float>) {
    return sigmoid_f32(x);
  } else {
    return T(1) / (T(1) + std::exp(-x));
  }
}

template <class T, class V>
inline V tanh_any(V x) {
  if constexpr (std::is_same_v<T, float>) {
    return tanh_f32(x);
  } else {
    return std::tanh(x);
  }
}

// out[j] = f(in[j]) for j < n: kLanes at a time for float, then the tail.
template <class T, class F>
inline void map_gate(const T* in, T* out, int64_t n, const F& f) {
  int64_t j = 0;
  if constexpr (std::is_same_v<T, float>) {
    for (; j + kLanes <= n; j += kLanes) storev(out + j, f(loadv(in + j)));
  }
  for (; j < n; ++j) out[j] = f(in[j]);
}

// out[j] = f(a[j] + b[j]) for j < n; b == nullptr reads as zeros.
template <class T, class F>
inline void map_gate_sum(const T* a, const T* b, T* out, int64_t n, const F& f) {
  if (b == nullptr) return map_gate(a, out, n, f);
  int64_t j = 0;
  if constexpr (std::is_same_v<T, float>) {
    for (; j + kLanes <= n; j += kLanes) storev(out + j, f(loadv(a + j) + loadv(b + j)));
  }
  for (; j < n; ++j) out[j] = f(a[j] + b[j]);
}

// One batch row of the LSTM forward: activations (Note [Vectorizable float
// activations]) of the gates gx + gh (gh may be nullptr: gates = gx; either
// may alias w), then the state update. w receives i, f, g, o and tanh(c).
template <class T>
void lstm_row(const T* gx, const T* gh, const T* c0, T* w, T* c, T* h, int64_t H) {
  auto sig = [](auto v) { return sigmoid_any<T>(v); };
  auto th = [](auto v) { return tanh_any<T>(v); };
  auto at = [H](const T* p, int64_t k) { return p == nullptr ? p : p + k * H; };
  map_gate_sum(gx, gh, w, 2 * H, sig);
  map_gate_sum(gx + 2 * H, at(gh, 2), w + 2 * H, H, th);
  map_gate_sum(gx + 3 * H, at(gh, 3), w + 3 * H, H, sig);
  using math::rnn::lstm_update;
  int64_t j = 0;
  if constexpr (kVecRows && std::is_same_v<T, float>) {
    for (; j + kLanes <= H; j += kLanes) {
      auto s = lstm_update(loadv(w + j), loadv(w + H + j), loadv(w + 2 * H + j),
                           loadv(w + 3 * H + j), loadv(c0 + j), th);
      storev(w + 4 * H + j, s.tc), storev(c + j, s.c), storev(h + j, s.h);
    }
  }
  for (; j < H; ++j) {
    auto s = lstm_update(w[j], w[H + j], w[2 * H + j], w[3 * H + j], c0[j], th);
    w[4 * H + j] = s.tc, c[j] = s.c, h[j] = s.h;
  }
}

// One batch row of the GRU forward; w receives r, z, n and gh_n.
template <class T>
void gru_row(const T* a, const T* b, const T* h0, T* w, T* h, int64_t H) {
  auto rz = [](auto x, auto y) { return sigmoid_any<T>(x + y); };
  auto th = [](auto v) { return tanh_any<T>(v); };
  auto nh = [&th](auto an, auto r, auto hn, auto z, auto hx) {
    auto s = math::rnn::gru_update<T>(an, r, hn, z, hx, th);
    return std::make_pair(s.n, s.h);
  };
  int64_t j = 0;
  if constexpr (std::is_same_v<T, float>) {
    for (; j + kLanes <= 2 * H; j += kLanes) storev(w + j, rz(loadv(a + j), loadv(b + j)));
  }
  for (; j < 2 * H; ++j) w[j] = rz(a[j], b[j]);
  j = 0;
  if constexpr (kVecRows && std::is_same_v<T, float>) {
    for (; j + kLanes <= H; j += kLanes) {
      VF hn = loadv(b + 2 * H + j);
      auto [nn, hv] = nh(loadv(a + 2 * H + j), loadv(w + j), hn, loadv(w + H + j), loadv(h0 + j));
      storev(w + 2 * H + j, nn), storev(w + 3 * H + j, hn), storev(h + j, hv);
    }
  }
  for (; j < H; ++j) {
    T hn = b[2 * H + j];
    auto [nn, hv] = nh(a[2 * H + j], w[j], hn, w[H + j], h0[j]);
    w[2 * H + j] = nn, w[3 * H + j] = hn, h[j] = hv;
  }
}

// Gradient of lstm_row for one batch row. w: the row's saved i, f, g, o,
// tanh(c); c0: the previous cell state; dh, dc: incoming gradients of h and
// c. Writes d(gates) and dc0 (dc0 may alias dc: each element is read first).
template <class T>
void lstm_row_backward(const T* w, const T* c0, const T* dh, const T* dc, T* d, T* dc0,
                       int64_t H) {
  auto grad = [](auto i, auto f, auto g, auto o, auto tc, auto cx, auto dhj, auto dcj) {
    auto d = math::rnn::lstm_grad<T>(i, f, g, o, tc, cx, dhj, dcj);
    return std::make_tuple(d.di, d.df, d.dg, d.dout, d.dcx);
  };
  int64_t j = 0;
  if constexpr (kVecRows && std::is_same_v<T, float>) {
    for (; j + kLanes <= H; j += kLanes) {
      auto [di, df, dg, dout, dcx] =
          grad(loadv(w + j), loadv(w + H + j), loadv(w + 2 * H + j), loadv(w + 3 * H + j),
               loadv(w + 4 * H + j), loadv(c0 + j), loadv(dh + j), loadv(dc + j));
      storev(d + j, di), storev(d + H + j, df), storev(d + 2 * H + j, dg);
      storev(d + 3 * H + j, dout), storev(dc0 + j, dcx);
    }
  }
  for (; j < H; ++j) {
    auto [di, df, dg, dout, dcx] = grad(w[j], w[H + j], w[2 * H + j], w[3 * H + j],
                                        w[4 * H + j], c0[j], dh[j], dc[j]);
    d[j] = di, d[H + j] = df, d[2 * H + j] = dg, d[3 * H + j] = dout, dc0[j] = dcx;
  }
}

// Gradient of gru_row for one batch row. w: saved r, z, n, gh_n; h0: the
// previous state; dh: incoming gradient of h. Writes d(gi) into a, d(gh)
// into b and the direct part of dh0 (dh * z; may alias dh).
template <class T>
void gru_row_backward(const T* w, const T* h0, const T* dh, T* a, T* b, T* dh0, int64_t H) {
  auto grad = [](auto r, auto z, auto nn, auto hn, auto hx, auto dhj) {
    auto d = math::rnn::gru_grad<T>(r, z, nn, hn, hx, dhj);
    return std::make_tuple(d.dr, d.dz, d.dn, d.dnr, d.dhx);
  };
  auto put = [&](int64_t j, auto dr, auto dz, auto dn, auto dnr, auto dx, auto st) {
    st(a + j, dr), st(b + j, dr), st(a + H + j, dz), st(b + H + j, dz);
    st(a + 2 * H + j, dn), st(b + 2 * H + j, dnr), st(dh0 + j, dx);
  };
  int64_t j = 0;
  if constexpr (kVecRows && std::is_same_v<T, float>) {
    auto st = [](float* p, VF v) { storev(p, v); };
    for (; j + kLanes <= H; j += kLanes) {
      auto [dr, dz, dn, dnr, dx] = grad(loadv(w + j), loadv(w + H + j), loadv(w + 2 * H + j),
                                        loadv(w + 3 * H + j), loadv(h0 + j), loadv(dh + j));
      put(j, dr, dz, dn, dnr, dx, st);
    }
  }
  auto st1 = [](T* p, T v) { *p = v; };
  for (; j < H; ++j) {
    auto [dr, dz, dn, dnr, dx] = grad(w[j], w[H + j], w[2 * H + j], w[3 * H + j], h0[j], dh[j]);
    put(j, dr, dz, dn, dnr, dx, st1);
  }
}

// Rows are independent: split the batch over threads once a step is big.
template <class F>
void for_rows(int64_t n, int64_t row_work, const F& f) {
  int64_t grain = std::max<int64_t>(1, cpu::kGrain / std::max<int64_t>(1, row_work));
  cpu::parallel_for(0, n, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) f(r);
  });
}

// Recorded-op gradients of one cell (ops/rnn_cells.cpp). LSTM: gates are the
// pre-activations (N, 4H), returns {d gates, d cx}. GRU: returns {d gi, d gh,
// the direct part of d hx}.
autograd::Tensors lstm_cell_backward_recorded(const Tensor& gates, const Tensor& cx,
                                              const Tensor& dh, const Tensor& dc, int64_t H);
autograd::Tensors gru_cell_backward_recorded(const Tensor& gi, const Tensor& gh,
                                             const Tensor& hx, const Tensor& dh, int64_t H);

}  // namespace fastgrad::rnn
