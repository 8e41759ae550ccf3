// Reductions as fastgrad.* functions and Tensor methods, with PyTorch's
// argument names: `dim` may be an int, a tuple or a list; max/min with a dim
// return fastgrad.return_types.max/min named tuples.
#include "bindings/common.h"
#include "ops/elementwise_ops.h"
#include "ops/reduce_ops.h"

namespace fastgrad::bindings {

namespace {

using TT = const Tensor&;
using OptInt = std::optional<int64_t>;

// Python and numpy integers (anything with __index__ that is not a tensor).
bool is_index(py::handle h) {
  return PyIndex_Check(h.ptr()) && !py::isinstance<Tensor>(h);
}
int64_t index_of(py::handle h) {
  auto o = py::reinterpret_steal<py::object>(PyNumber_Index(h.ptr()));
  if (!o) throw py::error_already_set();
  return o.cast<int64_t>();
}

// None -> all dims; an int or a sequence of ints -> that list.
DimList to_dims(const char* op, py::handle h) {
  if (h.is_none()) return std::nullopt;
  if (is_index(h)) return std::vector<int64_t>{index_of(h)};
  if (py::isinstance<py::sequence>(h) && !py::isinstance<py::str>(h)) {
    std::vector<int64_t> dims;
    for (py::handle d : h.cast<py::sequence>()) {
      FG_CHECK_TYPE(is_index(d), op, "(): argument 'dim' must be a tuple of ints, "
                    "but found element of type ", Py_TYPE(d.ptr())->tp_name);
      dims.push_back(index_of(d));
    }
    return dims;
  }
  fail<TypeError>(op, "(): argument 'dim' must be int, tuple of ints or None, not ",
                  Py_TYPE(h.ptr())->tp_name);
}

// fastgrad.return_types.<name>(values, indices)
py::object named_pair(const char* name, const std::pair<Tensor, Tensor>& r) {
  return py::module_::import("fastgrad.return_types").attr(name)(r.first, r.second);
}

// var/std: correction= wins, else the legacy unbiased= flag, else 1.
double correction_of(const char* op, std::optional<bool> unbiased,
                     std::optional<double> correction) {
  FG_CHECK(!(unbiased && correction), op,
           ": cannot specify both 'unbiased' and 'correction'");
  if (correction) return *correction;
  return unbiased.value_or(true) ? 1.0 : 0.0;
}

// norm's p: None or 'fro' -> nullopt; a number -> that order.
std::optional<double> norm_order(py::handle p) {
  if (p.is_none()) return std::nullopt;
  if (py::isinstance<py::str>(p)) {
    auto s = p.cast<std::string>();
    if (s == "fro") return std::nullopt;
    if (s == "nuc") fail<NotImplementedError>("norm: the nuclear norm ('nuc') is not supported");
    fail<ValueError>("norm: unknown norm type '", s, "'");
  }
  FG_CHECK_TYPE(is_python_scalar(p), "norm: p must be a number or 'fro'");
  return to_scalar(p).f;
}

}  // namespace

void bind_reductions(py::module_& m, TensorClass& cls) {
  // Each reduction is bound twice: fastgrad.<name>(input, ...) and
  // Tensor.<name>(...). `def2` registers one callable under both.
  auto def2 = [&](const char* name, auto fn, auto... args) {
    m.def(name, fn, "input"_a, args...);
    cls.def(name, fn, args...);
  };

  // sum / nansum / mean: (input, dim=None, keepdim=False, *, dtype=None)
#define FG_BIND_SUMLIKE(name, fn)                                                   \
  def2(#name, [](TT x, py::object dim, bool keepdim, std::optional<DType> dtype) {  \
    return traced(#name, &fn)(x, to_dims(#name, dim), keepdim, dtype);              \
  }, "dim"_a = py::none(), "keepdim"_a = false, py::kw_only(), "dtype"_a = py::none());
  FG_BIND_SUMLIKE(sum, sum)
  FG_BIND_SUMLIKE(nansum, nansum)
  FG_BIND_SUMLIKE(mean, mean)
#undef FG_BIND_SUMLIKE
  def2("prod", [](TT x, OptInt dim, bool keepdim, std::optional<DType> dtype) {
    return traced("prod", &prod)(x, dim, keepdim, dtype);
  }, "dim"_a = py::none(), "keepdim"_a = false, py::kw_only(), "dtype"_a = py::none());

  // all / any / amax / amin: (input, dim=None, keepdim=False)
#define FG_BIND_DIMS(name, fn)                                                  \
  def2(#name, [](TT x, py::object dim, bool keepdim) {                          \
    return traced(#name, &fn)(x, to_dims(#name, dim), keepdim);                 \
  }, "dim"_a = py::none(), "keepdim"_a = false);
  FG_BIND_DIMS(all, all)
  FG_BIND_DIMS(any, any)
  FG_BIND_DIMS(amax, amax)
  FG_BIND_DIMS(amin, amin)
#undef FG_BIND_DIMS
  def2("logsumexp", [](TT x, py::object dim, bool keepdim) {  // dim is required
    return traced("logsumexp", &logsumexp)(x, to_dims("logsumexp", dim), keepdim);
  }, "dim"_a, "keepdim"_a = false);
  def2("count_nonzero", [](TT x, py::object dim) {
    return traced("count_nonzero", &count_nonzero)(x, to_dims("count_nonzero", dim));
  }, "dim"_a = py::none());

  // max / min: (), (other: Tensor) -> maximum, (dim, keepdim) -> (values, indices).
#define FG_BIND_EXTREME(name, all_fn, dim_fn, binary_fn)                               \
  def2(#name, traced(#name, &all_fn));                                                 \
  def2(#name, traced(#binary_fn, [](TT x, TT other) { return binary_fn(x, other); }),  \
       "other"_a);                                                                     \
  def2(#name, [](TT x, int64_t dim, bool keepdim) {                                    \
    return named_pair(#name, traced(#dim_fn, &dim_fn)(x, dim, keepdim));               \
  }, "dim"_a, "keepdim"_a = false);
  FG_BIND_EXTREME(max, max_all, max_dim, maximum)
  FG_BIND_EXTREME(min, min_all, min_dim, minimum)
#undef FG_BIND_EXTREME
  def2("argmax", traced("argmax", &argmax), "dim"_a = py::none(), "keepdim"_a = false);
  def2("argmin", traced("argmin", &argmin), "dim"_a = py::none(), "keepdim"_a = false);

  // var / std: (input, dim=None, unbiased=None, keepdim=False, *, correction=None).
  // A bool in dim's place is the legacy var(input, unbiased).
#define FG_BIND_VAR(name, fn)                                                          \
  def2(#name, [](TT x, py::object dim, std::optional<bool> unbiased, bool keepdim,     \
                 std::optional<double> correction) {                                   \
    if (PyBool_Check(dim.ptr())) {                                                     \
      FG_CHECK(!unbiased, #name ": unbiased given twice");                             \
      unbiased = dim.cast<bool>();                                                     \
      dim = py::none();                                                                \
    }                                                                                  \
    return traced(#name, &fn)(x, to_dims(#name, dim),                                 \
                              correction_of(#name, unbiased, correction), keepdim);    \
  }, "dim"_a = py::none(), "unbiased"_a = py::none(), "keepdim"_a = false,             \
     py::kw_only(), "correction"_a = py::none());
  FG_BIND_VAR(var, var)
  FG_BIND_VAR(std, stddev)
#undef FG_BIND_VAR

  def2("norm", [](TT x, py::object p, py::object dim, bool keepdim,
                  std::optional<DType> dtype) {
    return traced("norm", &norm)(x, norm_order(p), to_dims("norm", dim), keepdim, dtype);
  }, "p"_a = "fro", "dim"_a = py::none(), "keepdim"_a = false, "dtype"_a = py::none());

  // Along one dim: (input, dim, *, dtype=None); softmax also takes dtype
  // positionally, as torch.softmax does.
  def2("cumsum", traced("cumsum", &cumsum), "dim"_a, py::kw_only(), "dtype"_a = py::none());
  def2("cumprod", traced("cumprod", &cumprod), "dim"_a, py::kw_only(), "dtype"_a = py::none());
  def2("softmax", traced("softmax", &softmax), "dim"_a, "dtype"_a = py::none());
  def2("log_softmax", traced("log_softmax", &log_softmax), "dim"_a, "dtype"_a = py::none());
}

}  // namespace fastgrad::bindings
