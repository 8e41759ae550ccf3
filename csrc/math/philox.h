// Philox4x32-10, the counter-based generator of Salmon et al., "Parallel
// random numbers: as easy as 1, 2, 3" (SC'11), written from the paper's
// description. A (key, counter) pair maps to 128 random bits with no state
// carried between calls, so element i of a random tensor can be computed by
// any thread (or CUDA lane) from (seed, base + i) alone.
#pragma once
#include <cstdint>

#include "math/host_device.h"

namespace fastgrad::math {

struct Philox4x32 {
  uint32_t w[4];
};

namespace detail {
constexpr uint32_t kPhiloxM0 = 0xD2511F53u, kPhiloxM1 = 0xCD9E8D57u;
constexpr uint32_t kPhiloxW0 = 0x9E3779B9u, kPhiloxW1 = 0xBB67AE85u;  // key bumps
}  // namespace detail

// 10 rounds on the 128-bit counter (ctr_lo, ctr_hi) with the 64-bit key.
FG_HOST_DEVICE Philox4x32 philox4x32_10(uint64_t key, uint64_t ctr_lo,
                                        uint64_t ctr_hi = 0) {
  using namespace detail;
  uint32_t c0 = static_cast<uint32_t>(ctr_lo), c1 = static_cast<uint32_t>(ctr_lo >> 32);
  uint32_t c2 = static_cast<uint32_t>(ctr_hi), c3 = static_cast<uint32_t>(ctr_hi >> 32);
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  for (int r = 0; r < 10; ++r) {
    if (r) {
      k0 += kPhiloxW0;
      k1 += kPhiloxW1;
    }
    uint64_t p0 = static_cast<uint64_t>(kPhiloxM0) * c0;
    uint64_t p1 = static_cast<uint64_t>(kPhiloxM1) * c2;
    uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1 ^ k0;
    uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3 ^ k1;
    c1 = static_cast<uint32_t>(p1);
    c3 = static_cast<uint32_t>(p0);
    c0 = n0;
    c2 = n2;
  }
  return {{c0, c1, c2, c3}};
}

FG_HOST_DEVICE uint64_t bits64(uint32_t hi, uint32_t lo) {
  return (static_cast<uint64_t>(hi) << 32) | lo;
}
// [0, 1) with 53 random bits (every double of the form k * 2^-53).
FG_HOST_DEVICE double uniform_f64(uint32_t hi, uint32_t lo) {
  return static_cast<double>(bits64(hi, lo) >> 11) * 0x1.0p-53;
}
// [0, 1) with 24 random bits: exact in float32, so never rounds up to 1.
FG_HOST_DEVICE float uniform_f32(uint32_t w) {
  return static_cast<float>(w >> 8) * 0x1.0p-24f;
}

}  // namespace fastgrad::math
