// Shapes, strides (in elements) and broadcasting.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace fastgrad {

using Shape = std::vector<int64_t>;

int64_t numel_of(const Shape& s);
// numel_of with a check: RuntimeError naming `op` if the product overflows int64.
int64_t checked_numel(const Shape& s, const char* op);
Shape contiguous_strides(const Shape& s);
std::string shape_str(const Shape& s);  // "(3, 4)", "()" , "(5,)"

// Wraps a possibly negative dim into [0, ndim); IndexError naming `op` if out
// of range. A 0-d tensor accepts dims -1 and 0 (PyTorch's rule).
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);

// Broadcast shape of a and b, or ValueError naming `op` and the offending dim.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace fastgrad
