#include "core/dtype.h"

namespace fastgrad {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::Bool: return "bool";
    case DType::Int32: return "int32";
    case DType::Int64: return "int64";
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
  }
  return "?";
}

static DType g_default_float = DType::Float32;
DType default_float_dtype() { return g_default_float; }
void set_default_float_dtype(DType t) {
  FG_CHECK_TYPE(is_floating(t),
                "set_default_dtype: only floating types are allowed, got ", t);
  g_default_float = t;
}

DType promote_types(DType a, DType b) {
  if (a == b) return a;
  // The enum is ordered so that within our five types the larger wins:
  // bool < int32 < int64 < float32 < float64 (int64 + float32 -> float32).
  return static_cast<uint8_t>(a) > static_cast<uint8_t>(b) ? a : b;
}

}  // namespace fastgrad
