// Index validation shared by every indexing op: dtype checks and the
// bounds-checked conversion of an index tensor to element offsets.
#include "ops/elementwise.h"
#include "ops/index_launch.h"
#include "math/index_offset.h"

namespace fastgrad {

void check_index_dtype(const char* op, const Tensor& idx, bool allow_int32) {
  FG_CHECK_TYPE(idx.dtype() == DType::Int64 || (allow_int32 && idx.dtype() == DType::Int32),
                op, ": expected an int64", allow_int32 ? " or int32" : "",
                " index tensor, got ", idx.dtype());
}

Tensor index_offsets(const char* op, const Tensor& idx, int64_t size, int64_t stride,
                     int64_t dim, bool allow_negative) {
  check_index_dtype(op ? op : "index", idx, true);
  Tensor src = contiguous(idx);
  Tensor out = empty(idx.sizes(), DType::Int64, idx.device());
  const math::IndexToOffset f{size, stride, allow_negative};
  auto bad = [&](int64_t v) {
    fail<IndexError>(op ? op : "", op ? ": " : "", "index ", v,
                     " is out of bounds for dimension ", dim, " with size ", size);
  };
  auto run = [&](auto tag) {
    using In = decltype(tag);
    if (!idx.device().is_cpu()) {
#if defined(__CUDACC__)
      int64_t v = 0;
      if (!cuda::index_offsets_cuda<In>(op ? op : "index", src, out, f, v)) bad(v);
      return;
#else
      no_kernel(op ? op : "index", idx.device());
#endif
    }
    const In* in = src.data<In>();
    int64_t* o = out.data<int64_t>();
    // Serial on purpose: a bad index must throw here, outside any parallel
    // region, before a kernel touches memory.
    for (int64_t i = 0, n = idx.numel(); i < n; ++i) {
      const int64_t v = static_cast<int64_t>(in[i]);
      if (__builtin_expect(!f(v, o[i]), 0)) bad(v);
    }
  };
  if (src.dtype() == DType::Int64) run(int64_t{});
  else run(int32_t{});
  return out;
}

Scalar item_scalar(const char* op, const Tensor& v) {
  FG_CHECK(v.dim() == 0, op, ": only supports a 0-dimensional value tensor, but got tensor "
           "with ", v.dim(), " dimension(s)");
  Tensor c = to_device(v, Device());
  return dispatch_all(c.dtype(), [&](auto tag) -> Scalar {
    using T = decltype(tag);
    T x = *static_cast<const T*>(c.raw_data());
    if constexpr (std::is_same_v<T, bool>) return Scalar(x);
    else if constexpr (std::is_integral_v<T>) return Scalar(static_cast<int64_t>(x));
    else return Scalar(static_cast<double>(x));
  });
}

}  // namespace fastgrad
