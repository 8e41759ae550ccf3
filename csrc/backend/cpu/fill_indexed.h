// fill_indexed(out, n, f): out[i] = f(i) over a contiguous buffer, in parallel
// chunks. f sees only the element index, so the result is the same for every
// thread count (what makes counter-based random fills reproducible).
#pragma once
#include <cstdint>

#include "backend/cpu/parallel.h"

namespace fastgrad::cpu {

// Random fills cost ~20x a copy per element: parallelise sooner.
constexpr int64_t kIndexedGrain = 4096;

template <class T, class F>
void fill_indexed(T* out, int64_t n, const F& f) {
  parallel_for(0, n, kIndexedGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) out[i] = f(i);
  });
}

}  // namespace fastgrad::cpu
