// StridedIndexer<N>: the CPU backend's strided layout (backend/cpu/
// strided_loop.h: broadcast dims at stride 0, dims coalesced where every
// operand allows) flattened into a fixed-size struct a kernel takes by value.
// offsets(i) turns a row-major element index into each operand's byte offset.
// Host+device and free of CUDA headers, so the CPU build tests the same math
// (_C._cuda._strided_offsets).
#pragma once
#include <cstdint>

#include "backend/cpu/strided_loop.h"
#include "core/check.h"
#include "math/host_device.h"

namespace fastgrad::cuda {

// More dims than this are left after coalescing only by tensors with more
// than 16 non-mergeable dims (PyTorch allows 25; fastgrad raises).
constexpr int kMaxIndexerDims = 16;

template <int N>
struct StridedIndexer {
  int dims = 0;                                // 0: a single element
  int64_t sizes[kMaxIndexerDims];              // innermost first
  int64_t strides[kMaxIndexerDims][N];         // bytes, innermost first
  char* base[N];

  // `Index` is uint32_t when the element count allows: 64-bit division is
  // several times slower on GPUs.
  template <class Index>
  FG_HOST_DEVICE void offsets(Index i, int64_t (&off)[N]) const {
    for (int k = 0; k < N; ++k) off[k] = 0;
    for (int d = 0; d < dims; ++d) {
      const Index size = static_cast<Index>(sizes[d]);
      const Index q = i / size;
      const int64_t r = static_cast<int64_t>(i - q * size);
      i = q;
      for (int k = 0; k < N; ++k) off[k] += r * strides[d][k];
    }
  }
};

template <size_t N>
StridedIndexer<static_cast<int>(N)> make_indexer(const char* op,
                                                 const cpu::StridedLayout<N>& L) {
  StridedIndexer<static_cast<int>(N)> ix{};  // unused strides read as 0
  const int nd = static_cast<int>(L.sizes.size());
  FG_CHECK(nd <= kMaxIndexerDims, op, ": ", nd, " dims that cannot be merged exceed the "
           "CUDA kernels' limit of ", kMaxIndexerDims, " (make the inputs contiguous)");
  for (size_t k = 0; k < N; ++k) ix.base[k] = L.base[k];
  for (int d = 0; d < nd; ++d) {  // reverse: the division loop starts innermost
    if (L.sizes[nd - 1 - d] == 1) continue;
    ix.sizes[ix.dims] = L.sizes[nd - 1 - d];
    for (size_t k = 0; k < N; ++k) ix.strides[ix.dims][k] = L.strides[nd - 1 - d][k];
    ++ix.dims;
  }
  return ix;
}

}  // namespace fastgrad::cuda
