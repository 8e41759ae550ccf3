// Matrix products (PyTorch semantics) computed through BLAS, and the thread
// count shared by OpenMP kernels and OpenBLAS.
#pragma once
#include <cstdint>

#include "core/scalar.h"
#include "core/tensor.h"

namespace fastgrad {

// torch.matmul: 1-D @ 1-D is a 0-d dot, a 1-D operand gets a dim prepended
// (left) or appended (right) that is removed again, N-D operands broadcast
// their batch dims. float32/float64 use sgemm/dgemm; int32/int64 go through
// dgemm (see Note [Integer products through dgemm]); bool is rejected.
Tensor matmul(const Tensor& a, const Tensor& b);
Tensor mm(const Tensor& a, const Tensor& b);    // (m, k) @ (k, n)
Tensor bmm(const Tensor& a, const Tensor& b);   // (B, m, k) @ (B, k, n)
Tensor mv(const Tensor& a, const Tensor& v);    // (m, k) @ (k,)
Tensor dot(const Tensor& a, const Tensor& b);   // (k,) . (k,) -> 0-d
Tensor outer(const Tensor& a, const Tensor& b); // (m,) x (n,) -> (m, n), promotes
// beta * input + alpha * (mat1 @ mat2); input broadcasts to (m, n) and is
// ignored (NaNs included) when beta == 0.
Tensor addmm(const Tensor& input, const Tensor& mat1, const Tensor& mat2,
             const Scalar& beta = Scalar(1), const Scalar& alpha = Scalar(1));

// Test hook: how many operands so far had a layout BLAS can't read and were
// copied to contiguous memory first (transposed views are never copied).
int64_t linalg_layout_copies();

// Threads for OpenMP kernels and OpenBLAS together (torch.set_num_threads).
void set_num_threads(int64_t n);
int64_t get_num_threads();

}  // namespace fastgrad
