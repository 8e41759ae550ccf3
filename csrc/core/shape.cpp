#include "core/shape.h"

#include "core/check.h"

namespace fastgrad {

int64_t numel_of(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

int64_t checked_numel(const Shape& s, const char* op) {
  int64_t n = 1;
  for (int64_t d : s)
    FG_CHECK(!__builtin_mul_overflow(n, d, &n), op, ": the number of elements of shape ",
             shape_str(s), " overflows int64");
  return n;
}

Shape contiguous_strides(const Shape& s) {
  Shape st(s.size());
  int64_t acc = 1;
  for (int64_t i = static_cast<int64_t>(s.size()) - 1; i >= 0; --i) {
    st[i] = acc;
    acc *= s[i] > 1 ? s[i] : 1;
  }
  return st;
}

std::string shape_str(const Shape& s) {
  std::string r = "(";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) r += ", ";
    r += std::to_string(s[i]);
  }
  if (s.size() == 1) r += ",";
  return r + ")";
}

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  int64_t n = ndim == 0 ? 1 : ndim;
  FG_CHECK_INDEX(dim >= -n && dim < n, op, ": dimension ", dim,
                 " out of range (expected to be in range of [", -n, ", ",
                 n - 1, "])");
  return dim < 0 ? dim + n : dim;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    FG_CHECK_VALUE(da == db || da == 1 || db == 1, op, ": shapes ",
                   shape_str(a), " and ", shape_str(b),
                   " are not broadcastable (dim ",
                   static_cast<int64_t>(i) - static_cast<int64_t>(n), ": ", da,
                   " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

}  // namespace fastgrad
