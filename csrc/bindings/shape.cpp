// Shape and view ops as fastgrad.* functions and Tensor methods. Sizes and
// dims are accepted the PyTorch ways: varargs (x.view(2, 3)), one sequence
// (x.view((2, 3)), x.view(x.shape)), and an int or a tuple where torch does.
#include "bindings/common.h"
#include "core/check.h"
#include "ops/shape_ops.h"

namespace fastgrad::bindings {

namespace {

using TT = const Tensor&;

bool is_sequence(py::handle h) {
  return PySequence_Check(h.ptr()) && !PyUnicode_Check(h.ptr()) &&
         !py::isinstance<Tensor>(h);
}

int64_t to_int(py::handle h, const char* op, const char* what) {
  if (PyBool_Check(h.ptr()) || PyFloat_Check(h.ptr()) || !PyIndex_Check(h.ptr()))
    fail<TypeError>(op, ": argument '", what, "' must be a tuple of ints, but found ",
                    "element of type ", Py_TYPE(h.ptr())->tp_name);
  return py::cast<int64_t>(h);
}

// One int or a sequence of ints.
Shape int_list(py::handle h, const char* op, const char* what) {
  Shape out;
  if (!is_sequence(h)) return {to_int(h, op, what)};
  for (py::handle e : py::reinterpret_borrow<py::sequence>(h)) out.push_back(to_int(e, op, what));
  return out;
}

// Varargs sizes: f(2, 3) or f((2, 3)) / f([2, 3]) / f(x.shape).
Shape varargs_list(const py::args& args, const char* op, const char* what) {
  if (args.size() == 1 && is_sequence(args[0])) return int_list(args[0], op, what);
  Shape out;
  for (py::handle a : args) out.push_back(to_int(a, op, what));
  return out;
}

Tensor squeeze_any(TT x, const py::object& dim) {
  return dim.is_none() ? squeeze(x) : squeeze(x, int_list(dim, "squeeze", "dim"));
}

Tensors split_any(TT x, const py::object& split, int64_t dim) {
  if (is_sequence(split)) return split_with_sizes(x, int_list(split, "split", "split_size"), dim);
  return fastgrad::split(x, to_int(split, "split", "split_size_or_sections"), dim);
}

Tensor roll_any(TT x, const py::object& shifts, const py::object& dims) {
  Dims d = dims.is_none() ? Dims{} : int_list(dims, "roll", "dims");
  return roll(x, int_list(shifts, "roll", "shifts"), d);
}

Tensor movedim_any(TT x, const py::object& src, const py::object& dst) {
  return movedim(x, int_list(src, "movedim", "source"),
                 int_list(dst, "movedim", "destination"));
}

py::tuple as_tuple(const Tensors& ts) {
  py::tuple out(ts.size());
  for (size_t i = 0; i < ts.size(); ++i) out[i] = py::cast(ts[i]);
  return out;
}

// Tensors from f(a, b) or f((a, b)) / f([a, b]).
Tensors tensor_varargs(const py::args& args) {
  if (args.size() == 1 && !py::isinstance<Tensor>(args[0]))
    return py::cast<Tensors>(args[0]);
  return py::cast<Tensors>(args);
}

}  // namespace

void bind_shape(py::module_& m, TensorClass& cls) {
  // ---- reshaping views --------------------------------------------------------
  cls.def("view", [](TT x, py::args a) { return view(x, varargs_list(a, "view", "size")); });
  cls.def("view_as", [](TT x, TT other) { return view(x, other.sizes()); }, "other"_a);
  cls.def("reshape", [](TT x, py::args a) {
    return reshape(x, varargs_list(a, "reshape", "shape"));
  });
  cls.def("reshape_as", [](TT x, TT other) { return reshape(x, other.sizes()); }, "other"_a);
  m.def("reshape", [](TT x, py::object s) { return reshape(x, int_list(s, "reshape", "shape")); },
        "input"_a, "shape"_a);
  m.def("flatten", &flatten, "input"_a, "start_dim"_a = 0, "end_dim"_a = -1);
  cls.def("flatten", &flatten, "start_dim"_a = 0, "end_dim"_a = -1);
  auto unflatten_fn = [](TT x, int64_t dim, py::object sizes) {
    return unflatten(x, dim, int_list(sizes, "unflatten", "sizes"));
  };
  m.def("unflatten", unflatten_fn, "input"_a, "dim"_a, "sizes"_a);
  cls.def("unflatten", unflatten_fn, "dim"_a, "sizes"_a);
  m.def("squeeze", &squeeze_any, "input"_a, "dim"_a = py::none());
  cls.def("squeeze", &squeeze_any, "dim"_a = py::none());
  m.def("unsqueeze", &unsqueeze, "input"_a, "dim"_a);
  cls.def("unsqueeze", &unsqueeze, "dim"_a);
  auto as_strided_fn = [](TT x, py::object size, py::object stride,
                          std::optional<int64_t> offset) {
    return as_strided(x, int_list(size, "as_strided", "size"),
                      int_list(stride, "as_strided", "stride"), offset);
  };
  m.def("as_strided", as_strided_fn, "input"_a, "size"_a, "stride"_a,
        "storage_offset"_a = py::none());
  cls.def("as_strided", as_strided_fn, "size"_a, "stride"_a, "storage_offset"_a = py::none());

  // ---- dim reordering ------------------------------------------------------------
  cls.def("permute", [](TT x, py::args a) { return permute(x, varargs_list(a, "permute", "dims")); });
  m.def("permute", [](TT x, py::object d) { return permute(x, int_list(d, "permute", "dims")); },
        "input"_a, "dims"_a);
  m.def("transpose", &transpose, "input"_a, "dim0"_a, "dim1"_a);
  cls.def("transpose", &transpose, "dim0"_a, "dim1"_a);
  m.def("swapdims", &transpose, "input"_a, "dim0"_a, "dim1"_a);
  cls.def("swapdims", &transpose, "dim0"_a, "dim1"_a);
  m.def("swapaxes", &transpose, "input"_a, "axis0"_a, "axis1"_a);
  cls.def("swapaxes", &transpose, "axis0"_a, "axis1"_a);
  m.def("t", &t, "input"_a);
  cls.def("t", &t);
  cls.def_property_readonly("T", &T);
  cls.def_property_readonly("mT", &mT);
  for (const char* name : {"movedim", "moveaxis"}) {
    m.def(name, &movedim_any, "input"_a, "source"_a, "destination"_a);
    cls.def(name, &movedim_any, "source"_a, "destination"_a);
  }
  m.def("diagonal", &diagonal, "input"_a, "offset"_a = 0, "dim1"_a = 0, "dim2"_a = 1);
  cls.def("diagonal", &diagonal, "offset"_a = 0, "dim1"_a = 0, "dim2"_a = 1);

  // ---- broadcasting --------------------------------------------------------------
  cls.def("expand", [](TT x, py::args a) { return expand(x, varargs_list(a, "expand", "size")); });
  cls.def("expand_as", [](TT x, TT other) { return expand(x, other.sizes()); }, "other"_a);
  auto broadcast_to_fn = [](TT x, py::object s) {
    return broadcast_to(x, int_list(s, "broadcast_to", "size"));
  };
  m.def("broadcast_to", broadcast_to_fn, "input"_a, "size"_a);
  cls.def("broadcast_to", broadcast_to_fn, "size"_a);
  m.def("broadcast_tensors", [](py::args a) { return as_tuple(broadcast_tensors(tensor_varargs(a))); });
  m.def("broadcast_shapes", [](py::args a) {
    std::vector<Shape> shapes;
    for (py::handle s : a) shapes.push_back(int_list(s, "broadcast_shapes", "shapes"));
    Shape r = broadcast_shape_list(shapes);
    return py::module_::import("fastgrad").attr("Size")(py::tuple(py::cast(r)));
  });

  // ---- slicing -------------------------------------------------------------------
  m.def("narrow", &narrow, "input"_a, "dim"_a, "start"_a, "length"_a);
  cls.def("narrow", &narrow, "dim"_a, "start"_a, "length"_a);
  m.def("select", &select, "input"_a, "dim"_a, "index"_a);
  cls.def("select", &select, "dim"_a, "index"_a);
  m.def("unbind", [](TT x, int64_t d) { return as_tuple(unbind(x, d)); }, "input"_a, "dim"_a = 0);
  cls.def("unbind", [](TT x, int64_t d) { return as_tuple(unbind(x, d)); }, "dim"_a = 0);
  m.def("split", [](TT x, py::object s, int64_t d) { return as_tuple(split_any(x, s, d)); },
        "tensor"_a, "split_size_or_sections"_a, "dim"_a = 0);
  cls.def("split", [](TT x, py::object s, int64_t d) { return as_tuple(split_any(x, s, d)); },
          "split_size"_a, "dim"_a = 0);
  m.def("chunk", [](TT x, int64_t c, int64_t d) { return as_tuple(chunk(x, c, d)); },
        "input"_a, "chunks"_a, "dim"_a = 0);
  cls.def("chunk", [](TT x, int64_t c, int64_t d) { return as_tuple(chunk(x, c, d)); },
          "chunks"_a, "dim"_a = 0);

  // ---- joining (copies) ----------------------------------------------------------
  for (const char* name : {"cat", "concat"})
    m.def(name, &cat, "tensors"_a, "dim"_a = 0);
  m.def("concatenate", &cat, "tensors"_a, "axis"_a = 0);
  m.def("stack", &stack, "tensors"_a, "dim"_a = 0);
  m.def("hstack", &hstack, "tensors"_a);
  m.def("vstack", &vstack, "tensors"_a);
  m.def("atleast_1d", &atleast_1d, "input"_a);
  m.def("atleast_2d", &atleast_2d, "input"_a);

  // ---- reordering copies ---------------------------------------------------------
  cls.def("repeat", [](TT x, py::args a) { return repeat(x, varargs_list(a, "repeat", "repeats")); });
  cls.def("tile", [](TT x, py::args a) { return tile(x, varargs_list(a, "tile", "dims")); });
  m.def("tile", [](TT x, py::object d) { return tile(x, int_list(d, "tile", "dims")); },
        "input"_a, "dims"_a);
  cls.def("flip", [](TT x, py::args a) { return flip(x, varargs_list(a, "flip", "dims")); });
  m.def("flip", [](TT x, py::object d) { return flip(x, int_list(d, "flip", "dims")); },
        "input"_a, "dims"_a);
  m.def("roll", &roll_any, "input"_a, "shifts"_a, "dims"_a = py::none());
  cls.def("roll", &roll_any, "shifts"_a, "dims"_a = py::none());
  m.def("tril", &tril, "input"_a, "diagonal"_a = 0);
  cls.def("tril", &tril, "diagonal"_a = 0);
  m.def("triu", &triu, "input"_a, "diagonal"_a = 0);
  cls.def("triu", &triu, "diagonal"_a = 0);
  cls.def("tril_", &tril_, "diagonal"_a = 0);
  cls.def("triu_", &triu_, "diagonal"_a = 0);
}

}  // namespace fastgrad::bindings
