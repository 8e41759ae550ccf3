// fastgrad._C._cuda: what the build has, device selection, synchronisation
// and the caching allocator's counters (fastgrad.cuda wraps these with
// torch.cuda's names). _BlockCacheSim runs the allocator's bookkeeping over
// a fake device, so every build can test it (Note [CUDA block cache]).
#include <memory>

#include "backend/cuda/norm_plan.h"
#include "backend/cuda/reduce_plan.h"
#include "backend/cuda/runtime.h"
#include "backend/cuda/strided_indexer.h"
#include "bindings/common.h"
#include "math/rnn.h"
#include "ops/conv_kernels.h"
#include "ops/elementwise.h"
#include "ops/rnn_ops.h"
#include "core/generator.h"
#include "math/dropout.h"
#include "math/loss.h"
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

// The CUDA cells' element functors (math/rnn.h) run on the host over every
// (row, unit): the GPU's gate math, checked on the CPU against the fused CPU
// cells. kind: lstm [gates, cx] -> [h, c, work]; lstm_backward [work, cx, dh,
// dc] -> [dgates, dcx]; gru [gi, gh, hx] -> [h, work]; gru_backward [work,
// hx, dh] -> [dgi, dgh, dhx].
std::vector<Tensor> rnn_cell_elements(const std::string& kind, std::vector<Tensor> in) {
  namespace r = math::rnn;
  FG_CHECK_VALUE(!in.empty(), "_rnn_cell_elements: no tensors");
  for (auto& t : in) t = contiguous(t);
  const int64_t N = in[0].size(0);
  const int64_t H = in[1].size(1);  // cx / gh (3H for gru) / hx: fixed below
  const DType dt = in[0].dtype();
  auto make = [&](int64_t cols) { return empty({N, cols}, dt, Device{}); };
  auto run = [N](int64_t h, const auto& f) {
    for (int64_t row = 0; row < N; ++row)
      for (int64_t j = 0; j < h; ++j) f(row, j);
  };
  return dispatch_float(dt, "_rnn_cell_elements", [&](auto tag) -> std::vector<Tensor> {
    using T = decltype(tag);
    auto p = [&](size_t k) { return in.at(k).template data<T>(); };
    if (kind == "lstm") {
      Tensor h = make(H), c = make(H), w = make(5 * H);
      run(H, r::LstmCellElems<T>{p(0), p(1), w.data<T>(), c.data<T>(), h.data<T>(), H});
      return {h, c, w};
    }
    if (kind == "lstm_backward") {
      Tensor dg = make(4 * H), dc = make(H);
      run(H, r::LstmCellGradElems<T>{p(0), p(1), p(2), p(3), dg.data<T>(), dc.data<T>(), H});
      return {dg, dc};
    }
    const int64_t Hg = in.at(2).size(1);  // gru: hx / dh is (N, H)
    if (kind == "gru") {
      Tensor h = make(Hg), w = make(4 * Hg);
      run(Hg, r::GruCellElems<T>{p(0), p(1), p(2), w.data<T>(), h.data<T>(), Hg});
      return {h, w};
    }
    FG_CHECK_VALUE(kind == "gru_backward", "_rnn_cell_elements: unknown kind '", kind, "'");
    Tensor a = make(3 * Hg), b = make(3 * Hg), d = make(Hg);
    run(Hg, r::GruCellGradElems<T>{p(0), p(1), p(2), a.data<T>(), b.data<T>(), d.data<T>(), Hg});
    return {a, b, d};
  });
}

// The CUDA conv kernels' index math (Note [Conv index math]) run on the host:
// every sample's (G, K, L) column matrices, and col2im's gather back to
// (N, C, H, W). float64 CPU tensors.
Tensor conv_columns(const Tensor& x_in, const ConvGeom& g) {
  Tensor x = contiguous(x_in), col = empty({g.N, g.G, g.K(), g.L()}, DType::Float64, Device{});
  const double* xp = x.data<double>();
  double* cp = col.data<double>();
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t grp = 0; grp < g.G; ++grp)
      for (int64_t r = 0; r < g.K(); ++r)
        for (int64_t l = 0; l < g.L(); ++l, ++cp) {
          const int64_t src = im2col_source(g, r, l);
          *cp = src < 0 ? 0.0 : xp[(n * g.C + grp * g.Cg) * g.H * g.W + src];
        }
  return col;
}

Tensor conv_col2im(const Tensor& col_in, const ConvGeom& g) {
  Tensor col = contiguous(col_in), gx = empty({g.N, g.C, g.H, g.W}, DType::Float64, Device{});
  const double* cp = col.data<double>();
  double* o = gx.data<double>();
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t c = 0; c < g.C; ++c)
      for (int64_t ih = 0; ih < g.H; ++ih)
        for (int64_t iw = 0; iw < g.W; ++iw)
          *o++ = col2im_gather(g, cp + (n * g.G + c / g.Cg) * g.K() * g.L(), c % g.Cg, ih, iw);
  return gx;
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

// The CUDA norm backwards' thread splits run on the host (norm_plan.h) over
// contiguous CPU tensors: kind "rows" is layer/group norm of an (N, C, S) x in
// `groups` groups (mean, rstd: (N * groups)); "batch" is batch_norm (mean,
// invstd: (C)), its dx with the batch statistics' terms when `training`.
std::vector<Tensor> norm_backward_sim(const std::string& kind, const Tensor& g, const Tensor& x,
                                      const std::optional<Tensor>& weight, const Tensor& mean,
                                      const Tensor& rstd, int64_t groups, bool training) {
  const char* op = "_norm_backward_sim";
  const Tensor w = weight.value_or(Tensor());
  for (const Tensor* t : {&g, &x, &w, &mean, &rstd})
    FG_CHECK(!t->defined() || (t->device().is_cpu() && t->is_contiguous() &&
                               t->dtype() == x.dtype()),
             op, ": expected contiguous CPU tensors of one dtype");
  FG_CHECK_VALUE(x.dim() == 3 && g.sizes() == x.sizes(), op, ": expected (N, C, S) x and g");
  const int64_t N = x.size(0), C = x.size(1), S = x.size(2);
  FG_CHECK_VALUE(kind == "rows" || kind == "batch", op, ": unknown kind '", kind, "'");
  FG_CHECK_VALUE(groups > 0 && C % groups == 0, op, ": bad groups");
  const int64_t stats = kind == "rows" ? N * groups : C;
  FG_CHECK_VALUE(mean.numel() == stats && rstd.numel() == stats, op, ": expected ", stats,
                 " statistics");
  FG_CHECK_VALUE(!w.defined() || w.numel() == C, op, ": expected a (C) weight");
  Tensor dx = empty(x.sizes(), x.dtype(), Device{});
  Tensor dw = empty({C}, x.dtype(), Device{}), db = empty({C}, x.dtype(), Device{});
  dispatch_float(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    const T* wp = w.defined() ? w.data<T>() : nullptr;
    if (kind == "rows")
      cuda::simulate_norm_rows_backward<T>(g.data<T>(), x.data<T>(), wp, mean.data<T>(),
                                           rstd.data<T>(), dx.data<T>(), dw.data<T>(),
                                           db.data<T>(), N * groups,
                                           math::NormRowIndex{groups, C / groups, S});
    else
      cuda::simulate_batch_norm_backward<T>(g.data<T>(), x.data<T>(), wp, mean.data<T>(),
                                            rstd.data<T>(), training, dx.data<T>(),
                                            dw.data<T>(), db.data<T>(), N, C, S);
  });
  return {dx, dw, db};
}

// The fused cross_entropy's input gradient as the CUDA backward computes it
// (math::CeGradFn per element) for a contiguous CPU (N, C, S) x, its lines'
// lse (N * S), int64 targets (N * S), and g: (N * S) when per_element, else
// g[0] * scale for every line.
Tensor cross_entropy_grad_sim(const Tensor& x, const Tensor& lse, const Tensor& target,
                              const std::optional<Tensor>& weight, const Tensor& g,
                              int64_t ignore_index, double scale, bool per_element) {
  const char* op = "_cross_entropy_grad_sim";
  const Tensor w = weight.value_or(Tensor());
  FG_CHECK_VALUE(x.dim() == 3 && target.dtype() == DType::Int64, op,
                 ": expected an (N, C, S) x and int64 targets");
  for (const Tensor* t : {&x, &lse, &target, &w, &g})
    FG_CHECK(!t->defined() || (t->device().is_cpu() && t->is_contiguous()), op,
             ": expected contiguous CPU tensors");
  const int64_t lines = x.size(0) * x.size(2);
  FG_CHECK_VALUE(lse.numel() == lines && target.numel() == lines &&
                     g.numel() == (per_element ? lines : 1),
                 op, ": expected ", lines, " lines");
  Tensor out = empty(x.sizes(), x.dtype(), Device{});
  dispatch_float(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    const math::TargetCoef<T> coef{target.data<int64_t>(), w.defined() ? w.data<T>() : nullptr,
                                   g.data<T>(), ignore_index, static_cast<T>(scale),
                                   per_element};
    const math::CeGradFn<T> f{coef, x.data<T>(), lse.data<T>(), out.data<T>(), x.size(1),
                              x.size(2)};
    for (int64_t e = 0; e < x.numel(); ++e) f(e);
  });
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
  auto geom = [](const Tensor& x, const Tensor& w, const std::vector<int64_t>& stride,
                 const std::vector<int64_t>& padding, const std::vector<int64_t>& dilation,
                 int64_t groups) {
    FG_CHECK_TYPE(x.dtype() == DType::Float64, "_conv_columns: float64 tensors only");
    return conv2d_geom(x, w, stride, padding, dilation, groups);
  };
  c.def(
      "_conv_columns",
      [geom](const Tensor& x, const Tensor& w, const std::vector<int64_t>& stride,
             const std::vector<int64_t>& padding, const std::vector<int64_t>& dilation,
             int64_t groups) {
        return conv_columns(x, geom(x, w, stride, padding, dilation, groups));
      },
      "x"_a, "weight"_a, "stride"_a, "padding"_a, "dilation"_a, "groups"_a,
      "The CUDA conv2d's column matrices (N, G, K, L), built on the host (a test hook).");
  c.def(
      "_conv_col2im",
      [geom](const Tensor& col, const Tensor& x, const Tensor& w, const std::vector<int64_t>& stride,
             const std::vector<int64_t>& padding, const std::vector<int64_t>& dilation,
             int64_t groups) {
        return conv_col2im(col, geom(x, w, stride, padding, dilation, groups));
      },
      "col"_a, "x"_a, "weight"_a, "stride"_a, "padding"_a, "dilation"_a, "groups"_a,
      "The CUDA conv2d's col2im gather, run on the host (a test hook).");
  c.def("_rnn_cell_elements", &rnn_cell_elements, "kind"_a, "tensors"_a,
        "The CUDA LSTM/GRU cells' element functors run on the host (a test hook).");
  c.def(
      "_rnn_sequence_composed",
      [](const std::string& mode, const Tensor& x, const std::vector<int64_t>& batch_sizes,
         const Tensor& h0, const std::optional<Tensor>& c0, const Tensor& w_ih, const Tensor& w_hh,
         const std::optional<Tensor>& b_ih, const std::optional<Tensor>& b_hh, bool reverse) {
        auto r = rnn_sequence_composed(mode, x, batch_sizes, h0, c0.value_or(Tensor()), w_ih,
                                       w_hh, b_ih.value_or(Tensor()), b_hh.value_or(Tensor()),
                                       reverse);
        return py::make_tuple(r[0], r[1], r.size() > 2 ? py::cast(r[2]) : py::none());
      },
      "mode"_a, "x"_a, "batch_sizes"_a, "h0"_a, "c0"_a, "w_ih"_a, "w_hh"_a, "b_ih"_a, "b_hh"_a,
      "reverse"_a,
      "_rnn_sequence as the CUDA path runs it: recorded per-step ops (a test hook).");

  c.def("_reduce_sim", &reduce_sim, "x"_a, "op"_a, "dim"_a = py::none(), "p"_a = 2.0,
        "correction"_a = 1.0,
        "A reduction through the CUDA kernels' decomposition, run on the host (a test hook).");
  c.def("_scan_sim", &scan_sim, "x"_a, "prod"_a = false,
        "cumsum/cumprod along the last dim through the CUDA scan's steps (a test hook).");

  c.def("_dropout_keep_sim", &dropout_keep_sim, "n"_a, "p"_a,
        "dropout's keep mask through the CUDA per-element draw (a test hook).");
  c.def("_norm_backward_sim", &norm_backward_sim, "kind"_a, "grad"_a, "x"_a, "weight"_a,
        "mean"_a, "rstd"_a, "groups"_a = 1, "training"_a = true,
        "(dx, dw, db) of layer/group ('rows') or batch norm through the CUDA backward "
        "kernels' thread splits, run on the host (a test hook).");
  c.def("_cross_entropy_grad_sim", &cross_entropy_grad_sim, "x"_a, "lse"_a, "target"_a,
        "weight"_a, "grad"_a, "ignore_index"_a, "scale"_a, "per_element"_a,
        "The fused cross_entropy's input gradient by the CUDA per-element functor, run on "
        "the host (a test hook).");

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
