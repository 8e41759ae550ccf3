// Indexing bindings: Tensor.__getitem__/__setitem__ (the Python index object
// is parsed here, on the hot path, with plain CPython checks) and the
// gather/scatter/mask ops as fastgrad.* functions and Tensor methods.
#include <cstring>

#include "bindings/common.h"
#include "core/check.h"
#include "ops/elementwise.h"
#include "ops/index_ops.h"

namespace fastgrad::bindings {

namespace {

using TT = const Tensor&;
using OptStr = std::optional<std::string>;

[[noreturn]] void bad_index(PyObject* o) {
  fail<IndexError>("only integers, slices (`:`), ellipsis (`...`), None and long or bool "
                   "tensors are valid indices (got ", Py_TYPE(o)->tp_name, ")");
}

// Lists, nested sequences and numpy arrays become int64 (or bool) tensors.
Tensor sequence_to_tensor(py::handle h) {
  if (PyList_Check(h.ptr()) && PyList_GET_SIZE(h.ptr()) == 0)
    return empty({0}, DType::Int64);  // x[[]] selects nothing (not a float index)
  Tensor t = py::module_::import("fastgrad").attr("tensor")(h).cast<Tensor>();
  FG_CHECK_INDEX(!is_floating(t.dtype()),
                 "tensors used as indices must be long, int or bool tensors, got ", t.dtype());
  return t;
}

TensorIndex parse_slice(PyObject* o) {
  Py_ssize_t start, stop, step;
  if (PySlice_Unpack(o, &start, &stop, &step) < 0) throw py::error_already_set();
  FG_CHECK_VALUE(step > 0, "step must be greater than zero");
  return TensorIndex::slice(start, stop, step);
}

TensorIndex parse_one(py::handle h) {
  PyObject* o = h.ptr();
  if (o == Py_None) return TensorIndex::none();
  if (o == Py_Ellipsis) return TensorIndex::ellipsis();
  if (PyBool_Check(o)) return TensorIndex::boolean(o == Py_True);
  if (PyLong_Check(o)) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    FG_CHECK_INDEX(!overflow, "index ", py::str(h).cast<std::string>(),
                   " does not fit in int64");
    return TensorIndex::integer(v);
  }
  if (PySlice_Check(o)) return parse_slice(o);
  if (py::isinstance<Tensor>(h)) return TensorIndex::of(h.cast<Tensor>());
  if (PyFloat_Check(o)) bad_index(o);
  if (PyList_Check(o) || PyTuple_Check(o) || py::isinstance<py::array>(h))
    return TensorIndex::of(sequence_to_tensor(h));
  const char* tn = Py_TYPE(o)->tp_name;
  if (std::strncmp(tn, "numpy.bool", 10) == 0) return TensorIndex::boolean(PyObject_IsTrue(o));
  if (PyIndex_Check(o)) {  // numpy integer scalars and other __index__ objects
    auto i = py::reinterpret_steal<py::object>(PyNumber_Index(o));
    if (!i) throw py::error_already_set();
    return parse_one(i);
  }
  bad_index(o);
}

// PyTorch (like old NumPy) reads a list holding slices, None, Ellipsis or
// tensors as a tuple of indices; any other list is an index array.
bool list_as_tuple(PyObject* o) {
  for (Py_ssize_t i = 0; i < PyList_GET_SIZE(o); ++i) {
    PyObject* e = PyList_GET_ITEM(o, i);
    if (e == Py_None || e == Py_Ellipsis || PySlice_Check(e) ||
        py::isinstance<Tensor>(py::handle(e)))
      return true;
  }
  return false;
}

std::vector<TensorIndex> parse_index(py::handle idx) {
  std::vector<TensorIndex> out;
  PyObject* o = idx.ptr();
  if (PyTuple_Check(o)) {
    const Py_ssize_t n = PyTuple_GET_SIZE(o);
    out.reserve(n);
    for (Py_ssize_t i = 0; i < n; ++i) out.push_back(parse_one(PyTuple_GET_ITEM(o, i)));
  } else if (PyList_Check(o) && list_as_tuple(o)) {
    const Py_ssize_t n = PyList_GET_SIZE(o);
    out.reserve(n);
    for (Py_ssize_t i = 0; i < n; ++i) out.push_back(parse_one(PyList_GET_ITEM(o, i)));
  } else {
    out.push_back(parse_one(idx));
  }
  return out;
}

// The value of x[...] = value: a Tensor, a Python number (in x's dtype), or
// anything fastgrad.tensor accepts (numpy arrays, nested lists).
Tensor value_tensor(TT self, py::handle v) {
  if (py::isinstance<Tensor>(v)) return v.cast<Tensor>();
  if (is_python_scalar(v)) return scalar_tensor(to_scalar(v), self.dtype());
  return py::module_::import("fastgrad").attr("tensor")(v).cast<Tensor>();
}

// In-place methods return the Python object they were called on (x.op_() is x).
template <class... A>
auto returning_self(const char* op, const Tensor& (*f)(const Tensor&, A...)) {
  auto g = traced(op, f);
  return [g](py::object self, A... args) {
    g(self.cast<const Tensor&>(), args...);
    return self;
  };
}

std::string reduce_of(const OptStr& r) { return r.value_or(""); }

py::object nonzero_py(TT x, bool as_tuple) {
  if (!as_tuple) return py::cast(traced("nonzero", &nonzero)(x));
  std::vector<Tensor> cols = traced("nonzero_tuple", &nonzero_tuple)(x);
  py::tuple t(cols.size());
  for (size_t i = 0; i < cols.size(); ++i) t[i] = py::cast(cols[i]);
  return std::move(t);
}

}  // namespace

void bind_indexing(py::module_& m, TensorClass& cls) {
  cls.def("__getitem__", [](TT self, py::handle idx) {
    return traced("getitem", &getitem)(self, parse_index(idx));
  });
  cls.def("__setitem__", [](TT self, py::handle idx, py::handle value) {
    traced("setitem", &setitem)(self, parse_index(idx), value_tensor(self, value));
  });

  // index_put(_): indices is a tuple of tensors (None entries skip a dim).
  m.def("index_put", traced("index_put", &index_put), "input"_a, "indices"_a, "values"_a, "accumulate"_a = false);
  cls.def("index_put", traced("index_put", &index_put), "indices"_a, "values"_a, "accumulate"_a = false);
  cls.def("index_put_", returning_self("index_put_", &index_put_), "indices"_a, "values"_a, "accumulate"_a = false);

  m.def("index_select", traced("index_select", &index_select), "input"_a, "dim"_a, "index"_a);
  cls.def("index_select", traced("index_select", &index_select), "dim"_a, "index"_a);

  auto gather_py = [](TT x, int64_t dim, TT index, bool sparse_grad) {
    FG_CHECK_KIND(NotImplementedError, !sparse_grad, "gather: sparse_grad=True is not supported");
    return traced("gather", &gather)(x, dim, index);
  };
  m.def("gather", gather_py, "input"_a, "dim"_a, "index"_a, py::kw_only(), "sparse_grad"_a = false);
  cls.def("gather", gather_py, "dim"_a, "index"_a, py::kw_only(), "sparse_grad"_a = false);

  // scatter / scatter_: src (Tensor) or value (number), optional reduce.
  auto sc_t = traced("scatter", [](TT x, int64_t d, TT i, TT src, const OptStr& r) { return scatter(x, d, i, src, reduce_of(r)); });
  auto sc_s = traced("scatter", [](TT x, int64_t d, TT i, const Scalar& v, const OptStr& r) { return scatter(x, d, i, v, reduce_of(r)); });
  auto sc_t_ = returning_self("scatter_", +[](TT x, int64_t d, TT i, TT src, const OptStr& r) -> TT { return scatter_(x, d, i, src, reduce_of(r)); });
  auto sc_s_ = returning_self("scatter_", +[](TT x, int64_t d, TT i, const Scalar& v, const OptStr& r) -> TT { return scatter_(x, d, i, v, reduce_of(r)); });
  m.def("scatter", sc_t, "input"_a, "dim"_a, "index"_a, "src"_a, py::kw_only(), "reduce"_a = py::none());
  m.def("scatter", sc_s, "input"_a, "dim"_a, "index"_a, "value"_a, py::kw_only(), "reduce"_a = py::none());
  cls.def("scatter", sc_t, "dim"_a, "index"_a, "src"_a, py::kw_only(), "reduce"_a = py::none());
  cls.def("scatter", sc_s, "dim"_a, "index"_a, "value"_a, py::kw_only(), "reduce"_a = py::none());
  cls.def("scatter_", sc_t_, "dim"_a, "index"_a, "src"_a, py::kw_only(), "reduce"_a = py::none());
  cls.def("scatter_", sc_s_, "dim"_a, "index"_a, "value"_a, py::kw_only(), "reduce"_a = py::none());
  m.def("scatter_add", traced("scatter_add", &scatter_add), "input"_a, "dim"_a, "index"_a, "src"_a);
  cls.def("scatter_add", traced("scatter_add", &scatter_add), "dim"_a, "index"_a, "src"_a);
  cls.def("scatter_add_", returning_self("scatter_add_", &scatter_add_), "dim"_a, "index"_a, "src"_a);

  m.def("index_add", traced("index_add", &index_add), "input"_a, "dim"_a, "index"_a, "source"_a, py::kw_only(), "alpha"_a = 1);
  cls.def("index_add", traced("index_add", &index_add), "dim"_a, "index"_a, "source"_a, py::kw_only(), "alpha"_a = 1);
  cls.def("index_add_", returning_self("index_add_", &index_add_), "dim"_a, "index"_a, "source"_a, py::kw_only(), "alpha"_a = 1);

  // index_fill / masked_fill: the value is a number or a 0-d tensor.
  m.def("index_fill", traced("index_fill", [](TT x, int64_t d, TT i, const Scalar& v) { return index_fill(x, d, i, v); }), "input"_a, "dim"_a, "index"_a, "value"_a);
  m.def("index_fill", traced("index_fill", [](TT x, int64_t d, TT i, TT v) { return index_fill(x, d, i, v); }),
        "input"_a, "dim"_a, "index"_a, "value"_a);
  cls.def("index_fill", traced("index_fill", [](TT x, int64_t d, TT i, const Scalar& v) { return index_fill(x, d, i, v); }), "dim"_a, "index"_a, "value"_a);
  cls.def("index_fill", traced("index_fill", [](TT x, int64_t d, TT i, TT v) { return index_fill(x, d, i, v); }),
          "dim"_a, "index"_a, "value"_a);
  cls.def("index_fill_", returning_self("index_fill_", +[](TT x, int64_t d, TT i, const Scalar& v) -> TT { return index_fill_(x, d, i, v); }), "dim"_a, "index"_a, "value"_a);
  cls.def("index_fill_", returning_self("index_fill_", +[](TT x, int64_t d, TT i, TT v) -> TT { return index_fill_(x, d, i, v); }),
          "dim"_a, "index"_a, "value"_a);
  m.def("masked_fill", traced("masked_fill", [](TT x, TT mask, const Scalar& v) { return masked_fill(x, mask, v); }), "input"_a, "mask"_a, "value"_a);
  m.def("masked_fill", traced("masked_fill", [](TT x, TT mask, TT v) { return masked_fill(x, mask, v); }),
        "input"_a, "mask"_a, "value"_a);
  cls.def("masked_fill", traced("masked_fill", [](TT x, TT mask, const Scalar& v) { return masked_fill(x, mask, v); }), "mask"_a, "value"_a);
  cls.def("masked_fill", traced("masked_fill", [](TT x, TT mask, TT v) { return masked_fill(x, mask, v); }),
          "mask"_a, "value"_a);
  cls.def("masked_fill_", returning_self("masked_fill_", +[](TT x, TT mask, const Scalar& v) -> TT { return masked_fill_(x, mask, v); }), "mask"_a, "value"_a);
  cls.def("masked_fill_", returning_self("masked_fill_", +[](TT x, TT mask, TT v) -> TT { return masked_fill_(x, mask, v); }),
          "mask"_a, "value"_a);

  m.def("masked_select", traced("masked_select", &masked_select), "input"_a, "mask"_a);
  cls.def("masked_select", traced("masked_select", &masked_select), "mask"_a);
  m.def("nonzero", &nonzero_py, "input"_a, py::kw_only(), "as_tuple"_a = false);
  cls.def("nonzero", &nonzero_py, py::kw_only(), "as_tuple"_a = false);
  m.def("argwhere", traced("nonzero", &nonzero), "input"_a);
  cls.def("argwhere", traced("nonzero", &nonzero));
  m.def("take", traced("take", &take), "input"_a, "index"_a);
  cls.def("take", traced("take", &take), "index"_a);
  // nn.functional.one_hot wraps this.
  m.def("_one_hot", traced("_one_hot", &one_hot), "input"_a, "num_classes"_a = -1);
}

}  // namespace fastgrad::bindings
