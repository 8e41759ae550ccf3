// Shape and view ops with PyTorch's names and semantics.
//   views.cpp    view/reshape/flatten/unflatten/squeeze/unsqueeze/as_strided
//   dims.cpp     permute/transpose/t/T/mT/movedim/diagonal
//   expand.cpp   expand/broadcast_to/broadcast_tensors
//   split.cpp    narrow/select/unbind/split/chunk
//   join.cpp     cat/stack/hstack/vstack
//   reorder.cpp  repeat/tile/flip/roll/tril/triu (copies)
// View ops return tensors sharing the input's storage (make_view); the
// others return new tensors and move data only through copy_.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace fastgrad {

using Tensors = std::vector<Tensor>;
using Dims = std::vector<int64_t>;

// ---- views.cpp ---------------------------------------------------------------
// "[2, 3]": how PyTorch's shape messages print a size list.
std::string list_str(const Shape& s);
// Resolves one -1 in `shape` against `numel` (errors name `op`).
Shape infer_size(const char* op, const Shape& shape, int64_t numel);
// Strides that let `sizes`/`strides` be seen as `new_sizes` without a copy,
// or nullopt when some new dim would span two non-contiguous chunks.
std::optional<Shape> view_strides(const Shape& sizes, const Shape& strides,
                                  const Shape& new_sizes);
Tensor view(const Tensor& x, const Shape& shape);
Tensor reshape(const Tensor& x, const Shape& shape);  // a view when possible
Tensor flatten(const Tensor& x, int64_t start_dim = 0, int64_t end_dim = -1);
Tensor unflatten(const Tensor& x, int64_t dim, const Shape& sizes);
Tensor squeeze(const Tensor& x);
Tensor squeeze(const Tensor& x, const Dims& dims);
Tensor unsqueeze(const Tensor& x, int64_t dim);
// storage_offset defaults to x's; checks the view stays inside the storage.
Tensor as_strided(const Tensor& x, const Shape& size, const Shape& stride,
                  std::optional<int64_t> storage_offset);

// ---- dims.cpp ----------------------------------------------------------------
Tensor permute(const Tensor& x, const Dims& dims);
Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1);
Tensor t(const Tensor& x);        // <= 2-D only
Tensor T(const Tensor& x);        // all dims reversed
Tensor mT(const Tensor& x);       // last two dims swapped, >= 2-D
Tensor movedim(const Tensor& x, const Dims& source, const Dims& destination);
Tensor diagonal(const Tensor& x, int64_t offset = 0, int64_t dim1 = 0,
                int64_t dim2 = 1);

// ---- expand.cpp ---------------------------------------------------------------
// -1 keeps a size; new leading dims and expanded size-1 dims get stride 0.
Tensor expand(const Tensor& x, const Shape& sizes);
Tensor broadcast_to(const Tensor& x, const Shape& sizes);
Shape broadcast_shape_list(const std::vector<Shape>& shapes);  // RuntimeError
Tensors broadcast_tensors(const Tensors& xs);

// ---- split.cpp ----------------------------------------------------------------
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);
Tensor select(const Tensor& x, int64_t dim, int64_t index);
Tensors unbind(const Tensor& x, int64_t dim = 0);
Tensors split(const Tensor& x, int64_t split_size, int64_t dim = 0);
Tensors split_with_sizes(const Tensor& x, const Shape& sizes, int64_t dim = 0);
Tensors chunk(const Tensor& x, int64_t chunks, int64_t dim = 0);

// ---- join.cpp -----------------------------------------------------------------
// Inputs are promoted to a common dtype; 1-D tensors of shape (0,) are skipped.
Tensor cat(const Tensors& xs, int64_t dim = 0);
Tensor stack(const Tensors& xs, int64_t dim = 0);
Tensor hstack(const Tensors& xs);
Tensor vstack(const Tensors& xs);
Tensor atleast_1d(const Tensor& x);
Tensor atleast_2d(const Tensor& x);

// ---- reorder.cpp --------------------------------------------------------------
Tensor repeat(const Tensor& x, const Shape& repeats);
Tensor tile(const Tensor& x, const Shape& reps);
Tensor flip(const Tensor& x, const Dims& dims);
// dims empty: roll the flattened tensor.
Tensor roll(const Tensor& x, const Shape& shifts, const Dims& dims);
Tensor tril(const Tensor& x, int64_t diagonal = 0);
Tensor triu(const Tensor& x, int64_t diagonal = 0);
const Tensor& tril_(const Tensor& x, int64_t diagonal = 0);
const Tensor& triu_(const Tensor& x, int64_t diagonal = 0);

}  // namespace fastgrad
