// Autograd helpers shared by the shape/view ops (views.cpp, dims.cpp,
// expand.cpp, split.cpp, reorder.cpp). Each helper is itself differentiable,
// so the rules built from them support create_graph=True.
#pragma once
#include <functional>

#include "ops/grad_utils.h"

namespace fastgrad {

// A view op's result: remembers its base (mark_view) and records `fn` as its
// backward with `x` as the only input. Call only when `out` is a new tensor
// (never x itself).
void record_view(const char* name, const Tensor& x, const Tensor& out,
                 autograd::BackwardFn fn);

// The backward of every reshaping view: g reshaped to the input's shape.
Tensors reshape_back(const FunctionNode& n, const Tensors& gs);

// True when no two elements of the geometry share a memory location.
bool non_overlapping(const Shape& sizes, const Shape& strides);

// Backward of "take a view" ops (narrow, select, diagonal, as_strided):
// zeros of `sizes` with g added into view_fn(zeros). Where view_fn's view
// overlaps itself (stride 0, sliding windows) the elements accumulate.
// Differentiable: its own backward is view_fn(gg).
using ViewFn = std::function<Tensor(const Tensor&)>;
Tensor view_scatter(const Tensor& g, const Shape& sizes, ViewFn view_fn);

// sum_to (undoing a broadcast) as a recorded op: backward expands back.
Tensor sum_to_grad(const Tensor& g, const Shape& shape);

}  // namespace fastgrad
