// fastgrad._C._cuda: what the build has, device selection, synchronisation
// and the caching allocator's counters (fastgrad.cuda wraps these with
// torch.cuda's names). _BlockCacheSim runs the allocator's bookkeeping over
// a fake device, so every build can test it (Note [CUDA block cache]).
#include <memory>

#include "backend/cuda/reduce_plan.h"
#include "backend/cuda/runtime.h"
#include "backend/cuda/strided_indexer.h"
#include "bindings/common.h"
#include "core/generator.h"
#include "math/dropout.h"
#include "ops/reduce.h"

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

// The CUDA reduction kernels' decomposition (reduce_plan.h) run on the host
// over a CPU tensor with the combiners of math/reduce.h: the arithmetic the
// GPU runs, checked on the CPU. Output: the keepdim=False reduction.
template <class T, class Op>
Tensor reduce_sim_rows(const Tensor& x, const std::vector<bool>& mask, bool ordered,
                       const Op& op) {
  using R = decltype(op.finish(op.init(), 0));
  Tensor out = empty(reduced_shape(x, mask, false), dtype_of<R>::value, x.device());
  cuda::simulate_rows<T>(cpu::make_row_layout(x, mask, ordered), op, out.data<R>());
  return out;
}

Tensor reduce_sim(const Tensor& x, const std::string& op, const DimList& dims, double p,
                  double correction) {
  FG_CHECK(x.device().is_cpu(), "_reduce_sim: expected a CPU tensor");
  auto mask = reduce_mask("_reduce_sim", x, dims);
  return dispatch(x.dtype(), [&](auto tag) -> Tensor {
    using T = decltype(tag);
    if (op == "sum") return reduce_sim_rows<T>(x, mask, false, math::SumOp<T>{});
    if (op == "prod") return reduce_sim_rows<T>(x, mask, false, math::ProdOp<T>{});
    if (op == "any") return reduce_sim_rows<T>(x, mask, false, math::FindOp<T, true>{});
    if (op == "all") return reduce_sim_rows<T>(x, mask, false, math::FindOp<T, false>{});
    if (op == "count_nonzero")
      return reduce_sim_rows<T>(x, mask, false, math::CountNonzeroOp<T>{});
    if (op == "argmax") return reduce_sim_rows<T>(x, mask, true, math::ArgOp<T, true>{});
    if (op == "argmin") return reduce_sim_rows<T>(x, mask, true, math::ArgOp<T, false>{});
    if (op == "amax") return reduce_sim_rows<T>(x, mask, false, math::ArgOp<T, true, true>{});
    if (op == "amin") return reduce_sim_rows<T>(x, mask, false, math::ArgOp<T, false, true>{});
    if constexpr (std::is_floating_point_v<T>) {
      if (op == "nansum")
        return reduce_sim_rows<T>(x, mask, false, math::SumOp<T, math::NanToZeroMap>{});
      if (op == "mean")
        return reduce_sim_rows<T>(x, mask, false, math::SumOp<T, math::IdentityMap, true>{});
      if (op == "var" || op == "std")
        return reduce_sim_rows<T>(x, mask, false, math::VarOp<T>{correction, op == "std"});
      if (op == "logsumexp") return reduce_sim_rows<T>(x, mask, false, math::LogSumExpOp<T>{});
      if (op == "norm")
        return reduce_sim_rows<T>(x, mask, false, math::NormOp<T>{p, math::norm_kind(p)});
    }
    fail<ValueError>("_reduce_sim: unknown op '", op, "' for ", x.dtype());
  });
}

// The scan kernel's steps along the last dim of a contiguous CPU tensor.
Tensor scan_sim(const Tensor& x, bool prod) {
  FG_CHECK(x.device().is_cpu() && x.is_contiguous() && x.dim() >= 1,
           "_scan_sim: expected a contiguous CPU tensor with at least one dim");
  Tensor out = empty(x.sizes(), x.dtype(), x.device());
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const int64_t n = x.sizes().back(), lines = n ? x.numel() / n : 0;
    for (int64_t r = 0; r < lines; ++r) {
      const T* p = x.data<T>() + r * n;
      T* q = out.data<T>() + r * n;
      if (prod) cuda::simulate_scan_line(math::ScanOp<T, true>{}, p, 1, q, 1, n);
      else cuda::simulate_scan_line(math::ScanOp<T, false>{}, p, 1, q, 1, n);
    }
  });
  return out;
}

// The keep mask of dropout(ones(n), p) from the default generator, drawn by
// the functor the CUDA kernel runs (math::KeepDraw), element by element.
Tensor dropout_keep_sim(int64_t n, double p) {
  FG_CHECK_VALUE(n >= 0 && p >= 0 && p <= 1, "_dropout_keep_sim: bad n or p");
  auto d = default_generator()->reserve(static_cast<uint64_t>((n + 3) / 4));
  const math::KeepDraw keep{d.key, d.base, std::ldexp(1.0 - p, 32)};
  Tensor out = empty({n}, DType::Bool, Device{});
  for (int64_t i = 0; i < n; ++i) out.data<bool>()[i] = keep(i);
  return out;
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

  c.def("_reduce_sim", &reduce_sim, "x"_a, "op"_a, "dim"_a = py::none(), "p"_a = 2.0,
        "correction"_a = 1.0,
        "A reduction through the CUDA kernels' decomposition, run on the host (a test hook).");
  c.def("_scan_sim", &scan_sim, "x"_a, "prod"_a = false,
        "cumsum/cumprod along the last dim through the CUDA scan's steps (a test hook).");

  c.def("_dropout_keep_sim", &dropout_keep_sim, "n"_a, "p"_a,
        "dropout's keep mask through the CUDA per-element draw (a test hook).");

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
