// Runtime controls: the CPU block cache (Note [CPU block cache]).
#include "backend/cpu/allocator.h"
#include "bindings/common.h"

namespace fastgrad::bindings {

void bind_runtime(py::module_& m) {
  m.def("_cpu_cache_stats", [] {
    cpu::CacheStats s = cpu::cache_stats();
    py::dict d;
    d["hits"] = s.hits;
    d["misses"] = s.misses;
    d["cached_bytes"] = s.cached_bytes;
    d["limit_bytes"] = s.limit_bytes;
    return d;
  }, "CPU block cache counters: hits, misses, cached_bytes, limit_bytes.");
  m.def("_cpu_empty_cache", &cpu::empty_cache, "Return every cached CPU block to the system.");
  m.def("_cpu_set_cache_limit", &cpu::set_cache_limit, "nbytes"_a,
        "Most bytes the CPU block cache keeps (0 turns caching off).");
}

}  // namespace fastgrad::bindings
