// float16 (IEEE binary16) and bfloat16 storage types, host and device.
//
// Both are 16-bit containers that compute in float: a value converts to float
// exactly, and float (or anything else, through float) converts back with
// round-to-nearest-even, as PyTorch's c10::Half / c10::BFloat16 and CUDA's
// __half do, so casts give torch's bits. NaN stays NaN (quiet), overflow
// gives inf, float16 keeps its subnormals.
#pragma once
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "math/host_device.h"

// x86 with F16C (-march=native): the host converts float16 in one instruction.
#if !defined(__CUDA_ARCH__) && defined(__F16C__)
#include <immintrin.h>
#define FG_HOST_F16C 1
#endif

namespace fastgrad {

namespace half_bits {

FG_HOST_DEVICE uint32_t bits_of(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
#endif
}
FG_HOST_DEVICE float float_of(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
#endif
}

FG_HOST_DEVICE uint16_t from_float16(float f) {
#if defined(FG_HOST_F16C) && !defined(__CUDA_ARCH__)
  // Round to nearest even, as below; a NaN keeps its sign and top payload bits.
  return static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
#endif
  uint32_t x = bits_of(f);
  const uint32_t sign = (x >> 16) & 0x8000u;
  x &= 0x7fffffffu;
  if (x >= 0x7f800000u) return sign | (x > 0x7f800000u ? 0x7e00u : 0x7c00u);  // NaN, inf
  if (x >= 0x477ff000u) return sign | 0x7c00u;  // rounds above 65504: inf
  if (x < 0x38800000u) {
    // Below 2^-14 the result is subnormal, a multiple of 2^-24: adding 0.5
    // (whose float ulp is 2^-24) lets the FPU round to that grid, nearest
    // even; the low bits of the sum are then the half's mantissa (0x400, the
    // smallest normal, comes out right too).
    const float r = float_of(x) + 0.5f;
    return static_cast<uint16_t>(sign | (bits_of(r) - 0x3f000000u));
  }
  // Normal: rebias the exponent (127 -> 15: add -112 << 23) and round the 13
  // dropped mantissa bits to nearest even (a carry may bump the exponent).
  x += 0xc8000fffu + ((x >> 13) & 1u);
  return static_cast<uint16_t>(sign | (x >> 13));
}

FG_HOST_DEVICE float to_float16(uint16_t h) {
#if defined(FG_HOST_F16C) && !defined(__CUDA_ARCH__)
  return _cvtsh_ss(h);
#endif
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0x1f) return float_of(sign | 0x7f800000u | (m << 13));  // inf, NaN
  if (e == 0) {  // zero or subnormal: m * 2^-24, exact in float
    const float v = static_cast<float>(m) * 5.9604644775390625e-8f;
    return sign ? -v : v;
  }
  return float_of(sign | ((e + 112) << 23) | (m << 13));
}

FG_HOST_DEVICE uint16_t from_bfloat16(float f) {
  const uint32_t x = bits_of(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);  // quiet NaN
  return static_cast<uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);  // nearest even
}

FG_HOST_DEVICE float to_bfloat16(uint16_t b) { return float_of(static_cast<uint32_t>(b) << 16); }

}  // namespace half_bits

struct Float16Codec {
  static FG_HOST_DEVICE uint16_t encode(float f) { return half_bits::from_float16(f); }
  static FG_HOST_DEVICE float decode(uint16_t b) { return half_bits::to_float16(b); }
};
struct BFloat16Codec {
  static FG_HOST_DEVICE uint16_t encode(float f) { return half_bits::from_bfloat16(f); }
  static FG_HOST_DEVICE float decode(uint16_t b) { return half_bits::to_bfloat16(b); }
};

// A 16-bit float: arithmetic goes through float (operator float);
// constructing from any arithmetic type (or the other 16-bit type) rounds
// once from float, like torch's casts.
template <class Codec>
struct Float16Storage {
  uint16_t bits = 0;
  Float16Storage() = default;
  template <class T, class = std::enable_if_t<std::is_arithmetic_v<T>>>
  FG_HOST_DEVICE Float16Storage(T v) : bits(Codec::encode(static_cast<float>(v))) {}
  template <class C>
  FG_HOST_DEVICE explicit Float16Storage(Float16Storage<C> v)
      : bits(Codec::encode(static_cast<float>(v))) {}
  FG_HOST_DEVICE operator float() const { return Codec::decode(bits); }
};

using Half = Float16Storage<Float16Codec>;
using BFloat16 = Float16Storage<BFloat16Codec>;
static_assert(sizeof(Half) == 2 && sizeof(BFloat16) == 2);

}  // namespace fastgrad
