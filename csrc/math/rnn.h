// The LSTM / GRU cell math, written once: the CPU row kernels
// (ops/rnn_kernels.h) run the formulas on float vectors (VF) and scalars, the
// CUDA cells (backend/cuda/rnn.cuh) run the element functors below, which the
// CPU tests also run on the host (_C._cuda._rnn_cell_elements).
//
// Layouts (row-major, one row per batch element, H = hidden size):
//   LSTM gates (N, 4H): i, f, g, o pre-activations; work (N, 5H): activated
//   i, f, g, o and tanh(c). GRU gi, gh (N, 3H): r, z, n parts of the input
//   and hidden projections; work (N, 4H): r, z, n and gh_n.
#pragma once
#include <cstdint>

#include "math/host_device.h"
#include "math/unary.h"

namespace fastgrad::math::rnn {

// ---- formulas, over T or a vector of T (V) ---------------------------------------

template <class V>
struct LstmState {
  V c, tc, h;  // new cell state, tanh(c), new hidden state
};
// c = f * cx + i * g; h = o * tanh(c). `th`: tanh on V.
FG_EXEC_CHECK_DISABLE
template <class V, class Tanh>
FG_HOST_DEVICE LstmState<V> lstm_update(V i, V f, V g, V o, V cx, const Tanh& th) {
  V c = f * cx + i * g;
  V tc = th(c);
  return {c, tc, o * tc};
}

template <class V>
struct LstmGrad {
  V di, df, dg, dout, dcx;  // d pre-activations, d previous cell state
};
// From the activated gates, tanh(c), the previous cell state and the
// incoming gradients of h and c.
template <class T, class V>
FG_HOST_DEVICE LstmGrad<V> lstm_grad(V i, V f, V g, V o, V tc, V cx, V dh, V dc) {
  V dct = dc + dh * o * (T(1) - tc * tc);
  return {dct * g * i * (T(1) - i), dct * cx * f * (T(1) - f), dct * i * (T(1) - g * g),
          dh * tc * o * (T(1) - o), dct * f};
}

template <class V>
struct GruState {
  V n, h;  // the n gate, new hidden state
};
// n = tanh(gi_n + r * gh_n); h = (1 - z) * n + z * hx.
FG_EXEC_CHECK_DISABLE
template <class T, class V, class Tanh>
FG_HOST_DEVICE GruState<V> gru_update(V gin, V r, V ghn, V z, V hx, const Tanh& th) {
  V n = th(gin + r * ghn);
  return {n, (T(1) - z) * n + z * hx};
}

template <class V>
struct GruGrad {
  V dr, dz, dn, dnr, dhx;  // d(gi/gh r, z), d gi_n, d gh_n (= dn * r), direct d hx
};
template <class T, class V>
FG_HOST_DEVICE GruGrad<V> gru_grad(V r, V z, V n, V ghn, V hx, V dh) {
  V dn = dh * (T(1) - z) * (T(1) - n * n);
  V dz = dh * (hx - n) * z * (T(1) - z);
  V dr = dn * ghn * r * (T(1) - r);
  return {dr, dz, dn, dn * r, dh * z};
}

// ---- element functors: f(r, j) handles element j < H of batch row r ---------------

template <class T>
struct LstmCellElems {
  const T* gates;  // (N, 4H)
  const T* cx;     // (N, H)
  T *work, *c, *h;
  int64_t H;
  FG_HOST_DEVICE void operator()(int64_t r, int64_t j) const {
    const T* g = gates + r * 4 * H + j;
    T* w = work + r * 5 * H + j;
    SigmoidFn sig;
    TanhFn th;
    w[0] = sig(g[0]), w[H] = sig(g[H]), w[2 * H] = th(g[2 * H]), w[3 * H] = sig(g[3 * H]);
    LstmState<T> s = lstm_update(w[0], w[H], w[2 * H], w[3 * H], cx[r * H + j], th);
    w[4 * H] = s.tc, c[r * H + j] = s.c, h[r * H + j] = s.h;
  }
};

template <class T>
struct LstmCellGradElems {
  const T *work, *cx, *dh, *dc;
  T *dgates, *dcx;  // (N, 4H), (N, H)
  int64_t H;
  FG_HOST_DEVICE void operator()(int64_t r, int64_t j) const {
    const T* w = work + r * 5 * H + j;
    const int64_t k = r * H + j;
    LstmGrad<T> d = lstm_grad<T>(w[0], w[H], w[2 * H], w[3 * H], w[4 * H], cx[k], dh[k], dc[k]);
    T* o = dgates + r * 4 * H + j;
    o[0] = d.di, o[H] = d.df, o[2 * H] = d.dg, o[3 * H] = d.dout, dcx[k] = d.dcx;
  }
};

template <class T>
struct GruCellElems {
  const T *gi, *gh, *hx;  // (N, 3H), (N, 3H), (N, H)
  T *work, *h;
  int64_t H;
  FG_HOST_DEVICE void operator()(int64_t r, int64_t j) const {
    const T *a = gi + r * 3 * H + j, *b = gh + r * 3 * H + j;
    T* w = work + r * 4 * H + j;
    SigmoidFn sig;
    w[0] = sig(a[0] + b[0]), w[H] = sig(a[H] + b[H]), w[3 * H] = b[2 * H];
    GruState<T> s = gru_update<T>(a[2 * H], w[0], b[2 * H], w[H], hx[r * H + j], TanhFn{});
    w[2 * H] = s.n, h[r * H + j] = s.h;
  }
};

template <class T>
struct GruCellGradElems {
  const T *work, *hx, *dh;
  T *dgi, *dgh, *dhx;  // (N, 3H), (N, 3H), (N, H): dhx gets the direct part only
  int64_t H;
  FG_HOST_DEVICE void operator()(int64_t r, int64_t j) const {
    const T* w = work + r * 4 * H + j;
    const int64_t k = r * H + j;
    GruGrad<T> d = gru_grad<T>(w[0], w[H], w[2 * H], w[3 * H], hx[k], dh[k]);
    T *a = dgi + r * 3 * H + j, *b = dgh + r * 3 * H + j;
    a[0] = b[0] = d.dr, a[H] = b[H] = d.dz, a[2 * H] = d.dn, b[2 * H] = d.dnr;
    dhx[k] = d.dhx;
  }
};

}  // namespace fastgrad::math::rnn
