// Scalar types, PyTorch's promotion lattice, and compile-time dispatch.
#pragma once
#include <cstdint>
#include <string>
#include <type_traits>

#include "core/check.h"

namespace fastgrad {

enum class DType : uint8_t { Bool, Int32, Int64, Float32, Float64 };
constexpr int kNumDTypes = 5;

// Category order used by promotion: bool < integral < floating.
enum class Category : uint8_t { Bool, Integral, Floating };

inline Category category(DType t) {
  switch (t) {
    case DType::Bool: return Category::Bool;
    case DType::Int32:
    case DType::Int64: return Category::Integral;
    default: return Category::Floating;
  }
}
inline bool is_floating(DType t) { return category(t) == Category::Floating; }
inline bool is_integral(DType t, bool include_bool = false) {
  return category(t) == Category::Integral ||
         (include_bool && t == DType::Bool);
}

inline int64_t itemsize(DType t) {
  switch (t) {
    case DType::Bool: return 1;
    case DType::Int32:
    case DType::Float32: return 4;
    default: return 8;
  }
}

const char* dtype_name(DType t);  // "float32", ...

inline std::ostream& operator<<(std::ostream& os, DType t) {
  return os << dtype_name(t);
}

// The dtype used for a Python float / int, and for float results of int ops.
DType default_float_dtype();
void set_default_float_dtype(DType t);
constexpr DType kDefaultInt = DType::Int64;

// Promotion of two tensor dtypes (torch.promote_types).
DType promote_types(DType a, DType b);
// The floating type an op like sin/exp computes in: ints and bool go to the
// default float dtype.
inline DType to_float_dtype(DType t) {
  return is_floating(t) ? t : default_float_dtype();
}

template <class T> struct dtype_of;
template <> struct dtype_of<bool> { static constexpr DType value = DType::Bool; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::Int32; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::Int64; };
template <> struct dtype_of<float> { static constexpr DType value = DType::Float32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::Float64; };

// Calls f(T{}) with T the C++ type of `t`. One switch for the whole code base:
//   dispatch(t, [&](auto tag) { using T = decltype(tag); ... });
template <class F>
decltype(auto) dispatch(DType t, F&& f) {
  switch (t) {
    case DType::Bool: return f(bool{});
    case DType::Int32: return f(int32_t{});
    case DType::Int64: return f(int64_t{});
    case DType::Float32: return f(float{});
    case DType::Float64: return f(double{});
  }
  fail<RuntimeError>("internal: bad dtype");
}

// Floating types only (saves instantiations for float-only math).
template <class F>
decltype(auto) dispatch_float(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::Float32: return f(float{});
    case DType::Float64: return f(double{});
    default: fail<TypeError>(op, ": expected a floating point tensor, got ", t);
  }
}

// Numeric (non-bool) types.
template <class F>
decltype(auto) dispatch_numeric(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::Int32: return f(int32_t{});
    case DType::Int64: return f(int64_t{});
    case DType::Float32: return f(float{});
    case DType::Float64: return f(double{});
    default: fail<TypeError>(op, ": not supported for ", t, " tensors");
  }
}

}  // namespace fastgrad
