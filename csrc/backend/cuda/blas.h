// The only door to cuBLAS, free of CUDA headers (matmul.cpp includes it in
// every build). Same row-major convention as backend/cpu/blas.h: a matrix
// argument is (rows, cols) with element (i, j) at p[i * ld + j] (NoTrans) or
// p[j * ld + i] (Trans). Batch b of an operand starts `stride` elements after
// batch b - 1 (0: the same matrix for every batch, a broadcast operand).
#pragma once
#include <cstdint>

#include "math/half.h"

namespace fastgrad::cuda {

template <class T>
struct GemmMatrix {
  const T* base;
  bool trans;
  int64_t ld;
  int64_t stride;
};

// C[b] = alpha * op(A[b]) @ op(B[b]) + beta * C[b] for b < batch, C a
// contiguous (batch, m, n) block, on the current stream of `device`. float,
// double, and float16/bfloat16 (cublasGemmEx: 16-bit operands, float32
// accumulation and alpha/beta, one rounding of C); m, n, k, batch >= 1 and every size/ld within int32 (callers check).
// Raises NotImplementedError naming `op` when fastgrad was built without cuBLAS.
template <class T>
void gemm_strided_batched(const char* op, int device, int64_t batch, int64_t m,
                          int64_t n, int64_t k, T alpha, const GemmMatrix<T>& a,
                          const GemmMatrix<T>& b, T beta, T* c);

}  // namespace fastgrad::cuda
