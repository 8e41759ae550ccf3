// set_num_threads / get_num_threads: one knob for OpenMP kernels
// (cpu::parallel_for) and OpenBLAS's own thread pool, like torch's.
#include <climits>

#include "backend/cpu/blas.h"
#include "backend/cpu/parallel.h"
#include "ops/linalg_ops.h"

namespace fastgrad {

void set_num_threads(int64_t n) {
  FG_CHECK(n >= 1 && n <= INT_MAX,
           "set_num_threads: expected a positive number of threads, got ", n);
#ifdef _OPENMP
  omp_set_num_threads(static_cast<int>(n));
#endif
  cpu::set_blas_num_threads(static_cast<int>(n));
}

// OpenMP's count: both pools were set together by set_num_threads.
int64_t get_num_threads() { return cpu::num_threads(); }

}  // namespace fastgrad
