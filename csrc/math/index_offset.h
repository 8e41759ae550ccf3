// The bounds check and offset arithmetic of every indexing op
// (ops/index_common.cpp's index_offsets): one functor run by the CPU loop and
// by the CUDA kernel (backend/cuda/index.cuh).
#pragma once
#include <cstdint>

#include "math/host_device.h"

namespace fastgrad::math {

// Index v along a dim of `size` elements `stride` apart -> element offset.
// Negative indices count from the end when allow_negative.
struct IndexToOffset {
  int64_t size;
  int64_t stride;
  bool allow_negative;
  // False (out untouched) when v is out of range.
  FG_HOST_DEVICE bool operator()(int64_t v, int64_t& out) const {
    if (v < (allow_negative ? -size : 0) || v >= size) return false;
    out = (v < 0 ? v + size : v) * stride;
    return true;
  }
};

}  // namespace fastgrad::math
