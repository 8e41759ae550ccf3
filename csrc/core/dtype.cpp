#include "core/dtype.h"

namespace fastgrad {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::Bool: return "bool";
    case DType::Int32: return "int32";
    case DType::Int64: return "int64";
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Float16: return "float16";
    case DType::BFloat16: return "bfloat16";
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

void fail_float16_op(DType t, const char* op) {
  fail<TypeError>(op ? op : "this operation", ": not implemented for ", t,
                  " tensors; compute in float32 with .float() (or .to(float32)) and convert "
                  "back with .to(", t, ") (Note [16-bit floats])");
}

DType promote_types(DType a, DType b) {
  if (a == b) return a;
  if (is_float16(a) || is_float16(b)) {
    // float16 with bfloat16 meet in float32; a wider float wins; ints and
    // bool go to the 16-bit float (torch.promote_types).
    if (is_float16(a) && is_float16(b)) return DType::Float32;
    const DType h = is_float16(a) ? a : b, o = is_float16(a) ? b : a;
    return is_floating(o) ? o : h;
  }
  // The enum is ordered so that within our five types the larger wins:
  // bool < int32 < int64 < float32 < float64 (int64 + float32 -> float32).
  return static_cast<uint8_t>(a) > static_cast<uint8_t>(b) ? a : b;
}

}  // namespace fastgrad
