// The dropout draw (Note [Dropout draws] in ops/dropout.cpp), shared by the
// CPU loop and the CUDA per-index kernel so both give the same mask bits for
// the same generator state: element i keeps when word i % 4 of the Philox
// block at counter base + i / 4, read as u = w / 2^32, is below q.
#pragma once
#include <cstdint>

#include "math/host_device.h"
#include "math/philox.h"

namespace fastgrad::math {

struct KeepDraw {
  uint64_t key, base;
  double thr;  // q * 2^32: integers compared against it

  FG_HOST_DEVICE bool word_keeps(const Philox4x32& r, int word) const {
    return static_cast<double>(r.w[word]) < thr;
  }
  FG_HOST_DEVICE bool operator()(int64_t i) const {
    return word_keeps(philox4x32_10(key, base + static_cast<uint64_t>(i / 4)),
                      static_cast<int>(i % 4));
  }
};

// mask[i] = keep ? scale : 0 and out[i] = x[i] * mask[i]; null pointers are
// skipped (a mask alone, or the output alone).
template <class T>
struct DropoutFn {
  KeepDraw keep;
  const T* x;
  T* out;
  T* mask;
  T scale;
  FG_HOST_DEVICE void operator()(int64_t i) const {
    const T m = keep(i) ? scale : T(0);
    if (mask) mask[i] = m;
    if (out) out[i] = x[i] * m;
  }
};

}  // namespace fastgrad::math
