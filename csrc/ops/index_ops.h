// Indexing ops: Tensor.__getitem__/__setitem__ (basic views + advanced
// copies), index_put_, and the gather/scatter family. Index tensors are
// bounds-checked before any kernel runs, so bad indices raise IndexError.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "core/scalar.h"
#include "core/tensor.h"

namespace fastgrad {

// One component of a Python index, already parsed by the bindings.
struct TensorIndex {
  enum class Kind : uint8_t { Int, Slice, None, Ellipsis, Bool, Tensor };
  Kind kind = Kind::None;
  int64_t start = 0;  // Int: the index; Bool: 0/1; Slice: start
  int64_t stop = 0;   // Slice: stop (clamped later to the dim size)
  int64_t step = 1;   // Slice: step (> 0, checked by the parser)
  Tensor tensor;      // Tensor

  static TensorIndex make(Kind k, int64_t a = 0, int64_t b = 0, int64_t s = 1) {
    TensorIndex r;
    r.kind = k;
    r.start = a;
    r.stop = b;
    r.step = s;
    return r;
  }
  static TensorIndex integer(int64_t i) { return make(Kind::Int, i); }
  static TensorIndex slice(int64_t a, int64_t b, int64_t s) { return make(Kind::Slice, a, b, s); }
  static TensorIndex none() { return make(Kind::None); }
  static TensorIndex ellipsis() { return make(Kind::Ellipsis); }
  static TensorIndex boolean(bool b) { return make(Kind::Bool, b ? 1 : 0); }
  static TensorIndex of(Tensor t) {
    TensorIndex r = make(Kind::Tensor);
    r.tensor = std::move(t);
    return r;
  }
};
using Indices = std::vector<std::optional<Tensor>>;

// x[idx]: a view when idx has no tensor/bool parts, else an advanced copy.
Tensor getitem(const Tensor& self, const std::vector<TensorIndex>& idx);
// x[idx] = value (value broadcast to the indexed shape and cast to x's dtype).
void setitem(const Tensor& self, const std::vector<TensorIndex>& idx, const Tensor& value);

// Advanced indexing with one optional index tensor per leading dim (aten::index).
Tensor index(const Tensor& self, const Indices& indices);
const Tensor& index_put_(const Tensor& self, const Indices& indices, const Tensor& values,
                         bool accumulate = false);
Tensor index_put(const Tensor& self, const Indices& indices, const Tensor& values,
                 bool accumulate = false);

// ---- one-dim gather/scatter family (index_gather_scatter.cpp) -----------------
Tensor index_select(const Tensor& self, int64_t dim, const Tensor& index);
Tensor gather(const Tensor& self, int64_t dim, const Tensor& index);
// reduce: "" (assign), "add" or "multiply".
const Tensor& scatter_(const Tensor& self, int64_t dim, const Tensor& index,
                       const Tensor& src, const std::string& reduce = "");
const Tensor& scatter_(const Tensor& self, int64_t dim, const Tensor& index,
                       const Scalar& value, const std::string& reduce = "");
Tensor scatter(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src,
               const std::string& reduce = "");
Tensor scatter(const Tensor& self, int64_t dim, const Tensor& index, const Scalar& value,
               const std::string& reduce = "");
const Tensor& scatter_add_(const Tensor& self, int64_t dim, const Tensor& index,
                           const Tensor& src);
Tensor scatter_add(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src);
const Tensor& index_add_(const Tensor& self, int64_t dim, const Tensor& index,
                         const Tensor& source, const Scalar& alpha = Scalar(int64_t{1}));
Tensor index_add(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& source,
                 const Scalar& alpha = Scalar(int64_t{1}));
const Tensor& index_fill_(const Tensor& self, int64_t dim, const Tensor& index,
                          const Scalar& value);
Tensor index_fill(const Tensor& self, int64_t dim, const Tensor& index, const Scalar& value);
// A 0-d value tensor (differentiable w.r.t. the value).
const Tensor& index_fill_(const Tensor& self, int64_t dim, const Tensor& index,
                          const Tensor& value);
Tensor index_fill(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& value);
Tensor take(const Tensor& self, const Tensor& index);
// take's backward: zeros of `sizes` with g added at the flat indices.
Tensor take_backward(const Tensor& g, const Tensor& index, const Shape& sizes);

// ---- masks (index_masked.cpp) -------------------------------------------------
Tensor masked_fill(const Tensor& self, const Tensor& mask, const Scalar& value);
const Tensor& masked_fill_(const Tensor& self, const Tensor& mask, const Scalar& value);
// A 0-d value tensor (differentiable w.r.t. the value: it gets the masked sum).
Tensor masked_fill(const Tensor& self, const Tensor& mask, const Tensor& value);
const Tensor& masked_fill_(const Tensor& self, const Tensor& mask, const Tensor& value);
Tensor masked_select(const Tensor& self, const Tensor& mask);
// (n, ndim) int64 coordinates of the non-zero elements, in row-major order.
Tensor nonzero(const Tensor& self);
std::vector<Tensor> nonzero_tuple(const Tensor& self);
// one_hot(int64 tensor, num_classes or -1 to infer) -> int64 (..., num_classes).
Tensor one_hot(const Tensor& self, int64_t num_classes = -1);

// ---- shared helpers (index_common.cpp) -----------------------------------------
// Contiguous int64 tensor of idx's shape holding wrap(idx) * stride; IndexError
// naming `op` (omitted when null) when an index is outside [-size, size) (or
// [0, size) when !allow_negative). Accepts int64 and int32 indices.
Tensor index_offsets(const char* op, const Tensor& idx, int64_t size, int64_t stride,
                     int64_t dim, bool allow_negative);
// Checks an index tensor's dtype: int64, or int32 too when allow_int32.
void check_index_dtype(const char* op, const Tensor& idx, bool allow_int32);

}  // namespace fastgrad
