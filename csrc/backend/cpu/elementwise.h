// cpu_kernel<Out, In...>(out, {inputs...}, f): out[i] = f(in0[i], in1[i], ...)
// over the strided loop. Inputs must already have dtype In... and broadcast to
// out's shape. Contiguous runs (and runs where an input is a broadcast scalar)
// get plain indexed loops the compiler vectorizes; anything else walks strides.
#pragma once
#include <tuple>
#include <type_traits>
#include <utility>

#include "backend/cpu/strided_loop.h"
#include "math/unary.h"
#include "math/vec_exp.h"

namespace fastgrad::cpu {

// Unary functors with a vector float form (math/vec_exp.h): a contiguous
// float -> float run calls apply() on kLanes floats at a time and on a float
// for the tail, which is what the functor itself computes for a float, so a
// value gives the same bits on every path (Note [Vectorizable float
// activations]).
template <class F>
struct VecUnary : std::false_type {};
#define FG_VEC_UNARY(Fn, vec_fn)                                   \
  template <>                                                      \
  struct VecUnary<math::Fn> : std::true_type {                     \
    template <class V> static V apply(V x) { return math::vec::vec_fn(x); } \
  };
FG_VEC_UNARY(ExpFn, exp_f32)
FG_VEC_UNARY(TanhFn, tanh_f32)
FG_VEC_UNARY(SigmoidFn, sigmoid_f32)
#undef FG_VEC_UNARY

namespace detail {

template <class T>
inline T load(const char* p, int64_t i, int64_t stride) {
  return *reinterpret_cast<const T*>(p + i * stride);
}

// Mask bit k set: input k is a broadcast scalar (byte stride 0).
template <unsigned Mask, class Out, class... In, class F, size_t... I>
inline void contiguous_run(char** p, int64_t n, const F& f, std::index_sequence<I...>) {
  Out* __restrict o = reinterpret_cast<Out*>(p[0]);
  std::tuple<const In*...> in{reinterpret_cast<const In*>(p[I + 1])...};
  for (int64_t i = 0; i < n; ++i)
    o[i] = f(std::get<I>(in)[((Mask >> I) & 1u) ? 0 : i]...);
}

template <class Out, class... In, class F, size_t... I>
inline void strided_run(char** p, const int64_t* s, int64_t n, const F& f,
                        std::index_sequence<I...>) {
  for (int64_t i = 0; i < n; ++i)
    *reinterpret_cast<Out*>(p[0] + i * s[0]) = f(load<In>(p[I + 1], i, s[I + 1])...);
}

// A VecUnary functor over a strided float run: kLanes gathered values per
// vector call (libm-free exp is only cheap in vectors), same bits as the
// contiguous loop. In place is safe: a group is read before it is written.
template <class F>
inline void vec_strided_run(char** p, const int64_t* s, int64_t n) {
  using math::vec::kLanes;
  auto at = [&](int k, int64_t i) { return reinterpret_cast<float*>(p[k] + i * s[k]); };
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    math::vec::VF v;
    for (int k = 0; k < kLanes; ++k) v[k] = *at(1, i + k);
    v = VecUnary<F>::apply(v);
    for (int k = 0; k < kLanes; ++k) *at(0, i + k) = v[k];
  }
  for (; i < n; ++i) *at(0, i) = VecUnary<F>::apply(*at(1, i));
}

template <class Out, class... In, class F, size_t... I>
inline void dispatch_run(char** p, const int64_t* s, int64_t n, const F& f,
                         std::index_sequence<I...> seq) {
  constexpr size_t NI = sizeof...(In);
  constexpr int64_t sizes[] = {static_cast<int64_t>(sizeof(Out)),
                               static_cast<int64_t>(sizeof(In))...};
  bool out_contig = s[0] == sizes[0];
  unsigned mask = 0;
  bool ok = out_contig;
  for (size_t k = 0; k < NI; ++k) {
    if (s[k + 1] == 0) mask |= 1u << k;
    else ok &= s[k + 1] == sizes[k + 1];
  }
  // Aliasing: in-place ops pass the same buffer as input and output; the
  // element-by-element order keeps that correct (no __restrict on inputs).
  if (ok) {
    if constexpr (NI == 1) {
      if constexpr (VecUnary<F>::value && std::is_same_v<Out, float> &&
                    std::is_same_v<std::tuple<In...>, std::tuple<float>>) {
        if (mask == 0)
          return math::vec::mapv(reinterpret_cast<const float*>(p[1]),
                                 reinterpret_cast<float*>(p[0]), n,
                                 [](auto v) { return VecUnary<F>::apply(v); });
      }
      if (mask == 0) return contiguous_run<0, Out, In...>(p, n, f, seq);
    } else if constexpr (NI == 2) {
      switch (mask) {
        case 0: return contiguous_run<0, Out, In...>(p, n, f, seq);
        case 1: return contiguous_run<1, Out, In...>(p, n, f, seq);
        case 2: return contiguous_run<2, Out, In...>(p, n, f, seq);
        default: break;
      }
    } else {
      if (mask == 0) return contiguous_run<0, Out, In...>(p, n, f, seq);
    }
  }
  if constexpr (NI == 1 && VecUnary<F>::value && std::is_same_v<Out, float> &&
                std::is_same_v<std::tuple<In...>, std::tuple<float>>) {
    return vec_strided_run<F>(p, s, n);
  } else {
    strided_run<Out, In...>(p, s, n, f, seq);
  }
}

}  // namespace detail

template <class Out, class... In, class F>
void cpu_kernel(const Tensor& out, const std::array<const Tensor*, sizeof...(In)>& ins,
                const F& f) {
  constexpr size_t N = sizeof...(In) + 1;
  std::array<const Tensor*, N> ops;
  ops[0] = &out;
  for (size_t k = 0; k < sizeof...(In); ++k) ops[k + 1] = ins[k];
  auto L = make_layout<N>(out.sizes(), ops);
  for_each_run(L, [&](char** p, const int64_t* s, int64_t n) {
    detail::dispatch_run<Out, In...>(p, s, n, f, std::index_sequence_for<In...>{});
  });
}

}  // namespace fastgrad::cpu
