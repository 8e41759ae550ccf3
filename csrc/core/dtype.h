// Scalar types, PyTorch's promotion lattice, and compile-time dispatch.
#pragma once
#include <cstdint>
#include <string>
#include <type_traits>

#include "core/check.h"
#include "math/half.h"

namespace fastgrad {

// Float16 / BFloat16 are storage types on the CPU: creation, copies and
// conversions (dispatch_all); compute ops raise (dispatch) -- see
// Note [16-bit floats].
enum class DType : uint8_t { Bool, Int32, Int64, Float32, Float64, Float16, BFloat16 };
constexpr int kNumDTypes = 7;

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

inline bool is_float16(DType t) { return t == DType::Float16 || t == DType::BFloat16; }

inline int64_t itemsize(DType t) {
  switch (t) {
    case DType::Bool: return 1;
    case DType::Float16:
    case DType::BFloat16: return 2;
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
template <> struct dtype_of<Half> { static constexpr DType value = DType::Float16; };
template <> struct dtype_of<BFloat16> { static constexpr DType value = DType::BFloat16; };

// Note [16-bit floats]: float16 and bfloat16 tensors exist on every device.
// Creation, copies, conversions, item, numpy and save/load handle them
// directly (dispatch_all); compute ops detour through float32 and round once
// (ops/elementwise.h), so dispatch() instantiates no 16-bit kernel and only
// an op without the detour reaches fail_float16_op's TypeError.
// `op` names the operation in the message when the caller knows it.
[[noreturn]] void fail_float16_op(DType t, const char* op = nullptr);

// Calls f(T{}) with T the C++ type of `t`. One switch for the whole code base:
//   dispatch(t, [&](auto tag) { using T = decltype(tag); ... });
template <class F>
decltype(auto) dispatch(DType t, F&& f, const char* op = nullptr) {
  switch (t) {
    case DType::Bool: return f(bool{});
    case DType::Int32: return f(int32_t{});
    case DType::Int64: return f(int64_t{});
    case DType::Float32: return f(float{});
    case DType::Float64: return f(double{});
    case DType::Float16:
    case DType::BFloat16: fail_float16_op(t, op);
  }
  fail<RuntimeError>("internal: bad dtype");
}

// Every dtype, 16-bit floats included: creation, copies and conversions.
template <class F>
decltype(auto) dispatch_all(DType t, F&& f) {
  switch (t) {
    case DType::Float16: return f(Half{});
    case DType::BFloat16: return f(BFloat16{});
    default: return dispatch(t, std::forward<F>(f));
  }
}

// Floating types only (saves instantiations for float-only math).
template <class F>
decltype(auto) dispatch_float(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::Float32: return f(float{});
    case DType::Float64: return f(double{});
    case DType::Float16:
    case DType::BFloat16: fail_float16_op(t, op);
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
    case DType::Float16:
    case DType::BFloat16: fail_float16_op(t, op);
    default: fail<TypeError>(op, ": not supported for ", t, " tensors");
  }
}

}  // namespace fastgrad
