// Index validation shared by every indexing op: dtype checks and the
// bounds-checked conversion of an index tensor to element offsets.
#include "ops/elementwise.h"
#include "ops/index_launch.h"

namespace fastgrad {

void check_index_dtype(const char* op, const Tensor& idx, bool allow_int32) {
  FG_CHECK_TYPE(idx.dtype() == DType::Int64 || (allow_int32 && idx.dtype() == DType::Int32),
                op, ": expected an int64", allow_int32 ? " or int32" : "",
                " index tensor, got ", idx.dtype());
}

Tensor index_offsets(const char* op, const Tensor& idx, int64_t size, int64_t stride,
                     int64_t dim, bool allow_negative) {
  FG_CHECK(idx.device().is_cpu(), op ? op : "index", ": no kernel for device ",
           idx.device());
  Tensor src = contiguous(idx);
  Tensor out = empty(idx.sizes(), DType::Int64, idx.device());
  int64_t* o = out.data<int64_t>();
  const int64_t n = idx.numel(), lo = allow_negative ? -size : 0;
  auto run = [&](const auto* in) {
    // Serial on purpose: a bad index must throw here, outside any parallel
    // region, before a kernel touches memory.
    for (int64_t i = 0; i < n; ++i) {
      int64_t v = static_cast<int64_t>(in[i]);
      if (__builtin_expect(v < lo || v >= size, 0))
        fail<IndexError>(op ? op : "", op ? ": " : "", "index ", v,
                         " is out of bounds for dimension ", dim, " with size ", size);
      o[i] = (v < 0 ? v + size : v) * stride;
    }
  };
  if (src.dtype() == DType::Int64) run(src.data<int64_t>());
  else if (src.dtype() == DType::Int32) run(src.data<int32_t>());
  else check_index_dtype(op ? op : "index", idx, true);
  return out;
}

Scalar item_scalar(const char* op, const Tensor& v) {
  FG_CHECK(v.dim() == 0, op, ": only supports a 0-dimensional value tensor, but got tensor "
           "with ", v.dim(), " dimension(s)");
  Tensor c = to_device(v, Device());
  return dispatch(c.dtype(), [&](auto tag) -> Scalar {
    using T = decltype(tag);
    T x = *static_cast<const T*>(c.raw_data());
    if constexpr (std::is_same_v<T, bool>) return Scalar(x);
    else if constexpr (std::is_integral_v<T>) return Scalar(static_cast<int64_t>(x));
    else return Scalar(static_cast<double>(x));
  });
}

}  // namespace fastgrad
