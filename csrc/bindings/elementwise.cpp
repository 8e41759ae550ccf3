// Elementwise ops as fastgrad.* functions, Tensor methods and Python operators.
#include "bindings/common.h"
#include "ops/elementwise.h"
#include "ops/elementwise_ops.h"

namespace fastgrad::bindings {

using OptScalar = std::optional<Scalar>;
using OptTensor = std::optional<Tensor>;
using OptStr = std::optional<std::string>;

void bind_elementwise(py::module_& m, TensorClass& cls) {
#define FG_BIND_UNARY(name, Fn, save, grad)                                            \
  {                                                                                    \
    auto op = traced(#name, py::overload_cast<const Tensor&>(&fastgrad::name));        \
    m.def(#name, op, "input"_a);                                                       \
    cls.def(#name, op);                                                                \
    cls.def(#name "_", traced(#name "_", &fastgrad::name##_));                         \
  }
  FG_UNARY_FLOAT_OPS(FG_BIND_UNARY)
  FG_UNARY_SAME_OPS(FG_BIND_UNARY)
#undef FG_BIND_UNARY
#define FG_BIND_UNARY_BOOL(name, Fn)                         \
  m.def(#name, traced(#name, &fastgrad::name), "input"_a); \
  cls.def(#name, traced(#name, &fastgrad::name));
  FG_UNARY_BOOL_OPS(FG_BIND_UNARY_BOOL)
#undef FG_BIND_UNARY_BOOL
  m.def("gelu", traced("gelu", &gelu), "input"_a, "approximate"_a = "none");
  cls.def("gelu", traced("gelu", &gelu), "approximate"_a = "none");

  // Binary: function (T|S, T|S), method (T, T|S), in-place method.
#define FG_BIND_BINARY(name)                                                             \
  {                                                                                      \
    auto tt = traced(#name, py::overload_cast<const Tensor&, const Tensor&>(&fastgrad::name)); \
    auto ts = traced(#name, py::overload_cast<const Tensor&, const Scalar&>(&fastgrad::name)); \
    auto st = traced(#name, py::overload_cast<const Scalar&, const Tensor&>(&fastgrad::name)); \
    m.def(#name, tt, "input"_a, "other"_a);                                              \
    m.def(#name, ts, "input"_a, "other"_a);                                              \
    m.def(#name, st, "input"_a, "other"_a);                                              \
    cls.def(#name, tt, "other"_a);                                                       \
    cls.def(#name, ts, "other"_a);                                                       \
    cls.def(#name "_",                                                                   \
            traced(#name "_",                                                            \
                   py::overload_cast<const Tensor&, const Tensor&>(&fastgrad::name##_)), \
            "other"_a);                                                                  \
    cls.def(#name "_",                                                                   \
            traced(#name "_",                                                            \
                   py::overload_cast<const Tensor&, const Scalar&>(&fastgrad::name##_)), \
            "other"_a);                                                                  \
  }
  FG_BINARY_OPS(FG_BIND_BINARY)
#undef FG_BIND_BINARY

  // Names PyTorch also accepts.
  for (auto [alias, name] : {std::pair{"multiply", "mul"}, {"subtract", "sub"},
                             {"divide", "div"}, {"true_divide", "div"},
                             {"greater", "gt"}, {"greater_equal", "ge"}, {"less", "lt"},
                             {"less_equal", "le"}, {"not_equal", "ne"},
                             {"negative", "neg"}, {"absolute", "abs"}, {"arctan2", "atan2"},
                             {"clip", "clamp"}}) {
    if (py::hasattr(m, name)) m.attr(alias) = m.attr(name);
  }

  // add / sub with alpha.
  using TT = const Tensor&;
  auto add_tt = traced("add", py::overload_cast<TT, TT, const Scalar&>(&add));
  auto add_ts = traced("add", py::overload_cast<TT, const Scalar&, const Scalar&>(&add));
  auto add_st = traced("add", py::overload_cast<const Scalar&, TT>(&add));
  auto add_tt_ = traced("add_", py::overload_cast<TT, TT, const Scalar&>(&add_));
  auto add_ts_ = traced("add_", py::overload_cast<TT, const Scalar&, const Scalar&>(&add_));
  auto sub_tt = traced("sub", py::overload_cast<TT, TT, const Scalar&>(&sub));
  auto sub_tt_ = traced("sub_", py::overload_cast<TT, TT, const Scalar&>(&sub_));
  m.def("add", add_tt, "input"_a, "other"_a, py::kw_only(), "alpha"_a = 1);
  m.def("add", add_ts, "input"_a, "other"_a, py::kw_only(), "alpha"_a = 1);
  m.def("add", add_st, "input"_a, "other"_a);
  cls.def("add", add_tt, "other"_a, py::kw_only(), "alpha"_a = 1);
  cls.def("add", add_ts, "other"_a, py::kw_only(), "alpha"_a = 1);
  cls.def("add_", add_tt_, "other"_a, py::kw_only(), "alpha"_a = 1);
  cls.def("add_", add_ts_, "other"_a, py::kw_only(), "alpha"_a = 1);
  m.def("sub", sub_tt, "input"_a, "other"_a, py::kw_only(), "alpha"_a = 1);
  cls.def("sub", sub_tt, "other"_a, py::kw_only(), "alpha"_a = 1);
  cls.def("sub_", sub_tt_, "other"_a, py::kw_only(), "alpha"_a = 1);
  auto div_mode = traced("div", [](TT a, TT b, const OptStr& mode) { return div(a, b, mode); });
  auto div_mode_s = traced("div", [](TT a, const Scalar& b, const OptStr& mode) {
    return div(a, scalar_tensor(b, result_type(a, b)), mode);
  });
  m.def("div", div_mode, "input"_a, "other"_a, py::kw_only(), "rounding_mode"_a);
  m.def("div", div_mode_s, "input"_a, "other"_a, py::kw_only(), "rounding_mode"_a);
  cls.def("div", div_mode, "other"_a, py::kw_only(), "rounding_mode"_a);
  cls.def("div", div_mode_s, "other"_a, py::kw_only(), "rounding_mode"_a);

  // clamp / where / fills.
  auto clamp_s = traced("clamp", py::overload_cast<TT, const OptScalar&, const OptScalar&>(&clamp));
  auto clamp_t = traced("clamp", py::overload_cast<TT, const OptTensor&, const OptTensor&>(&clamp));
  m.def("clamp", clamp_s, "input"_a, "min"_a = py::none(), "max"_a = py::none());
  m.def("clamp", clamp_t, "input"_a, "min"_a = py::none(), "max"_a = py::none());
  cls.def("clamp", clamp_s, "min"_a = py::none(), "max"_a = py::none());
  cls.def("clamp", clamp_t, "min"_a = py::none(), "max"_a = py::none());
  cls.def("clamp_", traced("clamp_", &clamp_), "min"_a = py::none(), "max"_a = py::none());
  m.attr("clip") = m.attr("clamp");
  cls.attr("clip") = cls.attr("clamp");
  cls.attr("clip_") = cls.attr("clamp_");
  auto where_ttt = traced("where", py::overload_cast<TT, TT, TT>(&where));
  auto where_tts = traced("where", py::overload_cast<TT, TT, const Scalar&>(&where));
  auto where_tst = traced("where", py::overload_cast<TT, const Scalar&, TT>(&where));
  auto where_tss = traced("where", py::overload_cast<TT, const Scalar&, const Scalar&>(&where));
  m.def("where", where_ttt, "condition"_a, "input"_a, "other"_a);
  m.def("where", where_tts, "condition"_a, "input"_a, "other"_a);
  m.def("where", where_tst, "condition"_a, "input"_a, "other"_a);
  m.def("where", where_tss, "condition"_a, "input"_a, "other"_a);
  cls.def("where", [=](TT self, TT cond, TT other) { return where_ttt(cond, self, other); },
          "condition"_a, "other"_a);
  cls.def("where",
          [=](TT self, TT cond, const Scalar& other) { return where_tts(cond, self, other); },
          "condition"_a, "other"_a);
  cls.def("fill_", traced("fill_", &fill_), "value"_a);
  cls.def("fill_", traced("fill_", [](TT self, TT v) -> const Tensor& {
    FG_CHECK(v.dim() == 0, "fill_: only supports 0-dimension value tensor but got tensor with ",
             v.dim(), " dimensions.");
    copy_(self, v);
    return self;
  }), "value"_a);
  cls.def("zero_", traced("zero_", &zero_));

  // ---- Python operators --------------------------------------------------------
  // (T, T) and (T, S) for the forward form; (S) for the reflected one, recorded
  // as fn(S, T).
#define FG_BIND_OP(py_name, py_rname, fn)                                                  \
  cls.def(py_name, traced(#fn, [](TT a, TT b) { return fn(a, b); }), py::is_operator());    \
  cls.def(py_name, traced(#fn, [](TT a, const Scalar& b) { return fn(a, b); }),             \
          py::is_operator());                                                               \
  cls.def(py_rname, [](TT a, const Scalar& b) {                                             \
    return traced(#fn, [](const Scalar& s, TT t) { return fn(s, t); })(b, a);               \
  }, py::is_operator());
  FG_BIND_OP("__add__", "__radd__", add)
  FG_BIND_OP("__sub__", "__rsub__", sub)
  FG_BIND_OP("__mul__", "__rmul__", mul)
  FG_BIND_OP("__truediv__", "__rtruediv__", div)
  FG_BIND_OP("__floordiv__", "__rfloordiv__", floor_divide)
  FG_BIND_OP("__mod__", "__rmod__", remainder)
  FG_BIND_OP("__pow__", "__rpow__", pow)
  FG_BIND_OP("__and__", "__rand__", bitwise_and)
  FG_BIND_OP("__or__", "__ror__", bitwise_or)
  FG_BIND_OP("__xor__", "__rxor__", bitwise_xor)
#undef FG_BIND_OP
  // In-place operators return the same Python object (reference policy finds
  // the existing wrapper of `a`).
#define FG_BIND_IOP(py_name, fn)                                                           \
  cls.def(py_name, traced(#fn, [](TT a, TT b) -> const Tensor& { fn(a, b); return a; }),   \
          py::is_operator(), py::return_value_policy::reference);                          \
  cls.def(py_name,                                                                         \
          traced(#fn, [](TT a, const Scalar& b) -> const Tensor& { fn(a, b); return a; }), \
          py::is_operator(), py::return_value_policy::reference);
  FG_BIND_IOP("__iadd__", add_)
  FG_BIND_IOP("__isub__", sub_)
  FG_BIND_IOP("__imul__", mul_)
  FG_BIND_IOP("__itruediv__", div_)
  FG_BIND_IOP("__ifloordiv__", floor_divide_)
  FG_BIND_IOP("__imod__", remainder_)
  FG_BIND_IOP("__ipow__", pow_)
  FG_BIND_IOP("__iand__", bitwise_and_)
  FG_BIND_IOP("__ior__", bitwise_or_)
  FG_BIND_IOP("__ixor__", bitwise_xor_)
#undef FG_BIND_IOP
#define FG_BIND_CMP(py_name, fn)                                                       \
  cls.def(py_name, traced(#fn, [](TT a, TT b) { return fn(a, b); }), py::is_operator()); \
  cls.def(py_name, traced(#fn, [](TT a, const Scalar& b) { return fn(a, b); }),          \
          py::is_operator());
  FG_BIND_CMP("__eq__", eq)
  FG_BIND_CMP("__ne__", ne)
  FG_BIND_CMP("__lt__", lt)
  FG_BIND_CMP("__le__", le)
  FG_BIND_CMP("__gt__", gt)
  FG_BIND_CMP("__ge__", ge)
#undef FG_BIND_CMP
  // Defining __eq__ drops the default hash; tensors hash by identity as in PyTorch.
  cls.def("__hash__", [](py::handle self) { return reinterpret_cast<intptr_t>(self.ptr()); });
  cls.def("__neg__", py::overload_cast<TT>(&neg));
  cls.def("__pos__", [](TT a) { return a; });
  cls.def("__abs__", py::overload_cast<TT>(&fastgrad::abs));
  cls.def("__invert__", py::overload_cast<TT>(&bitwise_not));
}

}  // namespace fastgrad::bindings
