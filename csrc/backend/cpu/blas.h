// The only door to BLAS. fastgrad links the OpenBLAS of the scipy-openblas32
// wheel, whose every symbol carries a `scipy_` prefix (scipy_cblas_sgemm,
// scipy_openblas_set_num_threads); FG_CBLAS / FG_OPENBLAS name them so that a
// different BLAS build needs a change here only. Integers are 32-bit (blasint).
//
// Row-major throughout: a matrix argument is (rows, cols) with element (i, j)
// at p[i * ld + j] (NoTrans) or at p[j * ld + i] (Trans).
#pragma once
#include <cblas.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "backend/cpu/parallel.h"
#include "core/check.h"

#define FG_CBLAS(name) scipy_cblas_##name
#define FG_OPENBLAS(name) scipy_openblas_##name

namespace fastgrad::cpu {

// True when every size/leading dim fits BLAS's 32-bit integers.
inline bool fits_blasint(int64_t v) { return v >= 0 && v <= INT_MAX; }

// C = alpha * op(A) @ op(B) + beta * C; op(A) is (m, k), op(B) is (k, n), C is
// (m, n) NoTrans. Callers guarantee m, n, k >= 1 and valid leading dims
// (ld >= max(1, cols of the stored matrix)); BLAS would abort otherwise.
inline void set_blas_num_threads(int n) { FG_OPENBLAS(set_num_threads)(n); }
inline int get_blas_num_threads() { return FG_OPENBLAS(get_num_threads)(); }

// Note [Small GEMMs on one thread]: OpenBLAS splits a product over its
// threads from m*n*k = 64^3 on. Below kSmallGemm the handoff costs more than
// the second thread saves, and on a busy machine each handoff waits for a
// scheduler slot: a 128^3 product took 54 us on one thread and 8 ms on two
// while other processes ran. The bound was 2^22 until an LSTM step (16x256 by
// 256x2048 gate GEMMs, 8.4M) took 1.2 s instead of 80 ms at 2 threads on a
// loaded machine: 2^24 keeps every product under ~0.6 ms of one-thread work
// off the pool. MKL keeps such problems on one thread too; so
// does this guard, restoring the pool's size afterwards (ops hold the GIL, so
// no other product runs meanwhile; inside an OpenMP region -- gemm_batched's
// one product per thread -- OpenBLAS is single-threaded already).
constexpr double kOneThreadGemm = double(1 << 24);  // m*n*k: 16x256x4096, 256^3

class SmallGemmGuard {
 public:
  SmallGemmGuard(int64_t m, int64_t n, int64_t k)
      : prev_(double(m) * double(n) * double(k) <= kOneThreadGemm && !in_parallel_region()
                  ? get_blas_num_threads()
                  : 1) {
    if (prev_ > 1) set_blas_num_threads(1);
  }
  ~SmallGemmGuard() {
    if (prev_ > 1) set_blas_num_threads(prev_);
  }
  SmallGemmGuard(const SmallGemmGuard&) = delete;
  SmallGemmGuard& operator=(const SmallGemmGuard&) = delete;

 private:
  int prev_;
};

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha,
          const T* a, int64_t lda, const T* b, int64_t ldb, T beta, T* c,
          int64_t ldc) {
  SmallGemmGuard one_thread(m, n, k);
  auto ta = trans_a ? CblasTrans : CblasNoTrans;
  auto tb = trans_b ? CblasTrans : CblasNoTrans;
  auto i = [](int64_t v) { return static_cast<blasint>(v); };
  if constexpr (std::is_same_v<T, float>) {
    FG_CBLAS(sgemm)(CblasRowMajor, ta, tb, i(m), i(n), i(k), alpha, a, i(lda),
                    b, i(ldb), beta, c, i(ldc));
  } else {
    static_assert(std::is_same_v<T, double>, "gemm: float or double only");
    FG_CBLAS(dgemm)(CblasRowMajor, ta, tb, i(m), i(n), i(k), alpha, a, i(lda),
                    b, i(ldb), beta, c, i(ldc));
  }
}

// One stored matrix of a batched product: element (batch b, i, j) lives at
// base + offsets[b] + (trans ? j * ld + i : i * ld + j).
template <class T>
struct GemmOperand {
  const T* base;
  bool trans;
  int64_t ld;
  const std::vector<int64_t>* offsets;  // one per batch, in elements
};

// Below this m*n*k OpenBLAS runs a gemm on the calling thread (its own
// threshold is 65536 * GEMM_MULTITHREAD_THRESHOLD), so many small products
// are better spread over OpenMP threads, one whole gemm per thread.
constexpr int64_t kSmallGemm = 64 * 64 * 64;

// C[b] = alpha * A[b] @ B[b] + beta * C[b] for b in [0, batch); C is a
// contiguous (batch, m, n) block. Same contract on sizes as gemm().
template <class T>
void gemm_batched(int64_t batch, int64_t m, int64_t n, int64_t k, T alpha,
                  const GemmOperand<T>& a, const GemmOperand<T>& b, T beta,
                  T* c) {
  auto one = [&](int64_t i) {
    gemm<T>(a.trans, b.trans, m, n, k, alpha, a.base + (*a.offsets)[i], a.ld,
            b.base + (*b.offsets)[i], b.ld, beta, c + i * m * n, n);
  };
  if (batch > 1 && m * n * k <= kSmallGemm) {
    parallel_for(0, batch, std::max<int64_t>(1, kSmallGemm / (m * n * k)),
                 [&](int64_t lo, int64_t hi) {
                   for (int64_t i = lo; i < hi; ++i) one(i);
                 });
  } else {
    for (int64_t i = 0; i < batch; ++i) one(i);  // OpenBLAS threads each one
  }
}

}  // namespace fastgrad::cpu
