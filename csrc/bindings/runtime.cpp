// Runtime controls: the CPU block cache (Note [CPU block cache]).
#include "backend/cpu/allocator.h"
#include "bindings/common.h"
#include "ops/transfers.h"

namespace fastgrad::bindings {

void bind_runtime(py::module_& m) {
  // The transfer ledger (ops/transfers.h), driven by fastgrad.cuda.transfers().
  m.def("_transfers_begin", [] {
    begin_transfer_log();
    return transfer_log_size();
  });
  m.def("_transfers_end", [](size_t first) {
    py::list out;
    for (const TransferRecord& r : end_transfer_log(first))
      out.append(py::make_tuple(r.src, r.dst, r.nbytes, r.implicit, r.location));
    return out;
  }, "first"_a);
  m.def("_set_strict_transfers", &set_strict_transfers, "on"_a);
  m.def("_strict_transfers", &strict_transfers);
  m.def("_to_device_implicit", &to_device_implicit, "input"_a, "device"_a, "what"_a);
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
