// Branch-free float32 exp, sigmoid and tanh, written once for a float and
// for a vector of kLanes floats (VF: eight with AVX, else four). CPU only:
// host functions that nvcc's device pass parses but never calls (math/unary.h
// picks libm under __CUDA_ARCH__).
//
// Note [Vectorizable float activations]: libm's expf is an out-of-line call
// (and GCC's default -ftrapping-math keeps clamp-then-compute loops scalar),
// so exp-heavy loops (RNN gates, softmax, cross entropy, exp/tanh/sigmoid)
// ran one libm call per element. exp_f32 below uses selects only, no
// branches, and is a template over V = float and V = VF (GCC/Clang vector
// extensions, lowered to AVX when the build targets it -- FASTGRAD_NATIVE on
// an AVX machine -- else to SSE2 on x86-64 and NEON on arm64, without
// intrinsics). Every element goes through the same sequence of IEEE
// operations (correctly rounded +, *, /; no reassociation), whichever lane or
// scalar tail computes it, so a value gives the same bits wherever it sits in
// a tensor, and runs do not depend on the thread split or alignment.
// float64 keeps libm (exact to an ulp), as its users ask for accuracy.
#pragma once
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace fastgrad::math::vec {

#if defined(__AVX__)
constexpr int kLanes = 8;  // one ymm register
#else
constexpr int kLanes = 4;  // one xmm / NEON register
#endif
typedef float VF __attribute__((vector_size(4 * kLanes)));
typedef int32_t VI __attribute__((vector_size(4 * kLanes)));

template <class V>
using IntOf = std::conditional_t<std::is_same_v<V, float>, int32_t, VI>;

template <class V>
inline V splat(float v) {
  if constexpr (std::is_same_v<V, float>) {
    return v;
  } else {
    return V{} + v;
  }
}

template <class To, class From>
inline To bit_cast(const From& f) {
  static_assert(sizeof(To) == sizeof(From));
  To t;
  std::memcpy(&t, &f, sizeof t);
  return t;
}

// x < y ? a : b, lane-wise for vectors.
template <class V>
inline V select_lt(V x, V y, V a, V b) {
  return x < y ? a : b;
}

// e^x within ~2 ulp over the whole float range, subnormal results included:
// x = n ln2 + r (Cody-Waite, |r| <= ln2 / 2), e^r by its degree-7 Taylor
// polynomial (truncation < 6e-9), 2^n applied as two normal factors so that
// a subnormal result is rounded once.
template <class V>
inline V exp_f32(V x) {
  using I = IntOf<V>;
  V xc = select_lt(x, splat<V>(-104.0f), splat<V>(-104.0f), x);  // NaN passes through
  xc = select_lt(splat<V>(89.0f), xc, splat<V>(89.0f), xc);
  // round(x / ln2) by the 1.5 * 2^23 trick: the integer lands in the low
  // mantissa bits, read from there
  const V t = xc * 1.44269504f + 12582912.0f;
  const V n = t - 12582912.0f;
  V r = xc - n * 0.693359375f;  // ln2's high part: n * it is exact
  r = r - n * -2.12194440e-4f;  // ln2's low part
  V p = splat<V>(1.0f / 5040);
  p = p * r + 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const I ni = bit_cast<I>(t) - 0x4B400000;  // bits of 12582912.0f
  const I n1 = ni >> 1, n2 = ni - n1;
  const V s1 = bit_cast<V>(I((n1 + 127) << 23)), s2 = bit_cast<V>(I((n2 + 127) << 23));
  return p * s1 * s2;  // overflows to inf for x > 88.72, as exp does
}

// 1 / (1 + e^-x) for x >= 0, e^x / (1 + e^x) below: e = e^-|x| never
// overflows, and one division serves both sides, so tiny (subnormal) results
// for very negative x stay accurate instead of flushing to 0.
template <class V>
inline V sigmoid_f32(V x) {
  const V zero = splat<V>(0.0f);
  const V e = exp_f32(select_lt(x, zero, x, -x));
  return select_lt(x, zero, e, splat<V>(1.0f)) / (1.0f + e);
}

// tanh through one exp: (e - 1) / (e + 1) with e = exp(2|x|) cancels in
// e - 1 for small |x|, so below |x| = 1/4 an odd Taylor polynomial (to x^11,
// truncation < 1e-9 relative) takes over; worst case ~4 ulp, just above the
// switch. |x| is capped at 10, where tanh rounds to 1.
template <class V>
inline V tanh_f32(V x) {
  const V zero = splat<V>(0.0f);
  const V a = select_lt(x, zero, -x, x), x2 = x * x;
  V q = splat<V>(-1382.0f / 155925);
  q = q * x2 + 62.0f / 2835;
  q = q * x2 + -17.0f / 315;
  q = q * x2 + 2.0f / 15;
  q = q * x2 + -1.0f / 3;
  const V small = x * (1.0f + x2 * q);  // keeps the sign of -0
  const V e = exp_f32(2.0f * select_lt(splat<V>(10.0f), a, splat<V>(10.0f), a));
  const V big = (e - 1.0f) / (e + 1.0f);
  return select_lt(a, splat<V>(0.25f), small, select_lt(x, zero, -big, big));
}

inline VF loadv(const float* p) {
  VF v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void storev(float* p, VF v) { std::memcpy(p, &v, sizeof v); }

// out[j] = f(in[j]) for j < n, kLanes at a time, then the tail; f is called
// on VF and on float (a generic lambda or a functor with both overloads).
// In place (out == in) is fine: each group is read before it is written.
template <class F>
inline void mapv(const float* in, float* out, int64_t n, const F& f) {
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) storev(out + j, f(loadv(in + j)));
  for (; j < n; ++j) out[j] = f(in[j]);
}

}  // namespace fastgrad::math::vec
