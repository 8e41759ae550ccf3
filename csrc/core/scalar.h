// A Python number crossing into C++: keeps its kind (bool/int/float) because
// PyTorch's promotion treats `t + 1` and `t + 1.0` differently.
#pragma once
#include <cstdint>

#include "core/dtype.h"

namespace fastgrad {

struct Scalar {
  enum class Kind : uint8_t { Bool, Int, Float } kind = Kind::Int;
  double f = 0;
  int64_t i = 0;

  Scalar() = default;
  Scalar(bool v) : kind(Kind::Bool), f(v), i(v) {}
  Scalar(int v) : kind(Kind::Int), f(v), i(v) {}
  Scalar(int64_t v) : kind(Kind::Int), f(static_cast<double>(v)), i(v) {}
  Scalar(double v) : kind(Kind::Float), f(v), i(static_cast<int64_t>(v)) {}

  bool is_float() const { return kind == Kind::Float; }
  Category category() const {
    return kind == Kind::Bool  ? Category::Bool
           : kind == Kind::Int ? Category::Integral
                               : Category::Floating;
  }
  // The dtype a 0-d tensor holding this scalar gets ("wrapped number").
  DType dtype() const {
    return kind == Kind::Bool  ? DType::Bool
           : kind == Kind::Int ? kDefaultInt
                               : default_float_dtype();
  }
  template <class T> T to() const {
    if constexpr (std::is_floating_point_v<T>) return static_cast<T>(f);
    else if constexpr (std::is_same_v<T, bool>) return kind == Kind::Float ? f != 0 : i != 0;
    else return kind == Kind::Float ? static_cast<T>(f) : static_cast<T>(i);
  }
};

}  // namespace fastgrad
