// fastgrad._C._cuda: what the build has, device selection, synchronisation
// and the caching allocator's counters (fastgrad.cuda wraps these with
// torch.cuda's names). _BlockCacheSim runs the allocator's bookkeeping over
// a fake device, so every build can test it (Note [CUDA block cache]).
#include <memory>

#include "backend/cuda/runtime.h"
#include "backend/cuda/strided_indexer.h"
#include "bindings/common.h"

namespace fastgrad::bindings {

namespace {

py::dict stats_dict(const cuda::DeviceMemoryStats& s) {
  py::dict d;
  d["allocated_bytes"] = s.allocated;
  d["max_allocated_bytes"] = s.max_allocated;
  d["reserved_bytes"] = s.reserved;
  d["max_reserved_bytes"] = s.max_reserved;
  d["num_raw_allocs"] = s.num_raw_allocs;
  d["num_alloc_retries"] = s.num_alloc_retries;
  return d;
}

// A device of `capacity` bytes whose "pointers" are distinct fake addresses.
struct BlockCacheSim {
  int64_t capacity, used = 0, raw_frees = 0;
  uintptr_t next = 4096;
  std::unordered_map<uintptr_t, size_t> sizes;
  std::unique_ptr<cuda::DeviceBlockCache> cache;

  explicit BlockCacheSim(int64_t cap) : capacity(cap) {
    cache = std::make_unique<cuda::DeviceBlockCache>(
        [this](size_t bytes, int) -> void* {
          if (used + static_cast<int64_t>(bytes) > capacity) return nullptr;
          used += static_cast<int64_t>(bytes);
          uintptr_t p = next;
          next += bytes + 4096;
          sizes[p] = bytes;
          return reinterpret_cast<void*>(p);
        },
        [this](void* p, int) {
          auto it = sizes.find(reinterpret_cast<uintptr_t>(p));
          used -= static_cast<int64_t>(it->second);
          sizes.erase(it);
          ++raw_frees;
        });
  }
};

// Element offsets (per operand, from its first element) that the CUDA
// kernels' indexer computes for every output element, with 32- or 64-bit
// index math: the layout code the GPU runs, checked on the CPU.
template <size_t N>
py::list strided_offsets(const std::array<const Tensor*, N>& ops, bool wide) {
  auto L = cpu::make_layout<N>(ops[0]->sizes(), ops);
  auto ix = cuda::make_indexer("_strided_offsets", L);
  py::list rows;
  for (int64_t i = 0; i < ops[0]->numel(); ++i) {
    int64_t off[N];
    if (wide) ix.offsets(static_cast<uint64_t>(i), off);
    else ix.offsets(static_cast<uint32_t>(i), off);
    py::tuple row(N);
    for (size_t k = 0; k < N; ++k) row[k] = off[k] / ops[k]->itemsize();
    rows.append(row);
  }
  return rows;
}

int check_sim_device(int device) {
  FG_CHECK_VALUE(device >= 0, "_BlockCacheSim: device must be >= 0, got ", device);
  return device;
}

}  // namespace

void bind_cuda(py::module_& m) {
  auto c = m.def_submodule("_cuda", "CUDA backend: queries, devices, memory");
#ifdef FASTGRAD_WITH_CUDA
  c.attr("built") = true;
#else
  c.attr("built") = false;
#endif
  c.def("is_available", &cuda_is_available);
  c.def("device_count", &cuda_device_count);
  c.def("current_device", &cuda_current_device);
  c.def("set_device", &cuda_set_device, "device"_a);
  c.def("synchronize", &cuda_synchronize, "device"_a = -1,
        "Wait for all work queued on the device (-1: the current one).");
  c.def("memory_stats", [](int device) { return stats_dict(cuda_memory_stats(device)); },
        "device"_a = -1, "The caching allocator's byte counters for a device.");
  c.def("reset_peak_memory_stats", &cuda_reset_peak_memory_stats, "device"_a = -1);
  c.def("empty_cache", &cuda_empty_cache,
        "Return every cached, unused block to the driver.");
  // Streams and events as integer handles; fastgrad.cuda.Stream/Event own
  // them (Note [User streams]).
  c.def("_stream_create", &cuda_stream_create, "device"_a = -1, "priority"_a = 0);
  c.def("_stream_destroy", &cuda_stream_destroy, "stream"_a);
  c.def("_current_stream", &cuda_get_current_stream, "device"_a = -1);
  c.def("_set_current_stream", &cuda_set_current_stream, "device"_a, "stream"_a);
  c.def("_stream_synchronize", &cuda_stream_synchronize, "stream"_a);
  c.def("_stream_query", &cuda_stream_query, "stream"_a);
  c.def("_stream_wait_event", &cuda_stream_wait_event, "stream"_a, "event"_a);
  c.def("_event_create", &cuda_event_create, "enable_timing"_a = false);
  c.def("_event_destroy", &cuda_event_destroy, "event"_a);
  c.def("_event_record", &cuda_event_record, "event"_a, "stream"_a);
  c.def("_event_synchronize", &cuda_event_synchronize, "event"_a);
  c.def("_event_query", &cuda_event_query, "event"_a);
  c.def("_event_elapsed_ms", &cuda_event_elapsed_ms, "start"_a, "end"_a);
  c.def("_block_size_class", [](int64_t n) {
    FG_CHECK_VALUE(n >= 0, "_block_size_class: size must be >= 0, got ", n);
    return static_cast<int64_t>(cuda::block_size_class(static_cast<size_t>(n)));
  });

  c.def(
      "_strided_offsets",
      [](const Tensor& out, const Tensor& a, std::optional<Tensor> b, bool wide) {
        if (b) return strided_offsets<3>({&out, &a, &*b}, wide);
        return strided_offsets<2>({&out, &a}, wide);
      },
      "out"_a, "a"_a, "b"_a = py::none(), "wide"_a = false,
      "Per-element offsets of the CUDA kernels' indexer (a test hook).");

  py::class_<BlockCacheSim>(c, "_BlockCacheSim",
                            "The CUDA block cache over a fake device of `capacity` bytes.")
      .def(py::init<int64_t>(), "capacity"_a)
      .def(
          "allocate",
          [](BlockCacheSim& s, int64_t bytes, int device, int64_t stream) {
            FG_CHECK_VALUE(bytes > 0, "_BlockCacheSim.allocate: bytes must be > 0");
            void* p = s.cache->allocate(static_cast<size_t>(bytes), check_sim_device(device),
                                        reinterpret_cast<void*>(stream));
            FG_CHECK(p, "_BlockCacheSim.allocate: out of memory for ", bytes, " bytes");
            return reinterpret_cast<uintptr_t>(p);
          },
          "bytes"_a, "device"_a = 0, "stream"_a = 0)
      .def("free", [](BlockCacheSim& s, uintptr_t p) { s.cache->free(reinterpret_cast<void*>(p)); })
      .def("empty_cache", [](BlockCacheSim& s, int device) { s.cache->empty_cache(device); },
           "device"_a = -1)
      .def("stats", [](BlockCacheSim& s, int device) {
        return stats_dict(s.cache->stats(check_sim_device(device)));
      }, "device"_a = 0)
      .def("reset_peak", [](BlockCacheSim& s, int device) {
        s.cache->reset_peak(check_sim_device(device));
      }, "device"_a = 0)
      .def_property_readonly("driver_bytes", [](const BlockCacheSim& s) { return s.used; })
      .def_property_readonly("driver_frees", [](const BlockCacheSim& s) { return s.raw_frees; });
}

}  // namespace fastgrad::bindings
