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
  if (dim.is_none()) return traced("squeeze", py::overload_cast<TT>(&squeeze))(x);
  return traced("squeeze", py::overload_cast<TT, const Dims&>(&squeeze))(
      x, int_list(dim, "squeeze", "dim"));
}

Tensors split_any(TT x, const py::object& split, int64_t dim) {
  if (is_sequence(split))
    return traced("split_with_sizes", &split_with_sizes)(x, int_list(split, "split", "split_size"),
                                                         dim);
  return traced("split", &fastgrad::split)(x, to_int(split, "split", "split_size_or_sections"),
                                           dim);
}

Tensor roll_any(TT x, const py::object& shifts, const py::object& dims) {
  Dims d = dims.is_none() ? Dims{} : int_list(dims, "roll", "dims");
  return traced("roll", &roll)(x, int_list(shifts, "roll", "shifts"), d);
}

Tensor movedim_any(TT x, const py::object& src, const py::object& dst) {
  return traced("movedim", &movedim)(x, int_list(src, "movedim", "source"),
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
  auto view_op = traced("view", &view);
  auto reshape_op = traced("reshape", &reshape);
  cls.def("view", [=](TT x, py::args a) { return view_op(x, varargs_list(a, "view", "size")); });
  cls.def("view_as", [=](TT x, TT other) { return view_op(x, other.sizes()); }, "other"_a);
  cls.def("reshape", [=](TT x, py::args a) {
    return reshape_op(x, varargs_list(a, "reshape", "shape"));
  });
  cls.def("reshape_as", [=](TT x, TT other) { return reshape_op(x, other.sizes()); }, "other"_a);
  m.def("reshape",
        [=](TT x, py::object s) { return reshape_op(x, int_list(s, "reshape", "shape")); },
        "input"_a, "shape"_a);
  m.def("flatten", traced("flatten", &flatten), "input"_a, "start_dim"_a = 0, "end_dim"_a = -1);
  cls.def("flatten", traced("flatten", &flatten), "start_dim"_a = 0, "end_dim"_a = -1);
  auto unflatten_fn = [](TT x, int64_t dim, py::object sizes) {
    return traced("unflatten", &unflatten)(x, dim, int_list(sizes, "unflatten", "sizes"));
  };
  m.def("unflatten", unflatten_fn, "input"_a, "dim"_a, "sizes"_a);
  cls.def("unflatten", unflatten_fn, "dim"_a, "sizes"_a);
  m.def("squeeze", &squeeze_any, "input"_a, "dim"_a = py::none());
  cls.def("squeeze", &squeeze_any, "dim"_a = py::none());
  m.def("unsqueeze", traced("unsqueeze", &unsqueeze), "input"_a, "dim"_a);
  cls.def("unsqueeze", traced("unsqueeze", &unsqueeze), "dim"_a);
  auto as_strided_fn = [](TT x, py::object size, py::object stride,
                          std::optional<int64_t> offset) {
    return traced("as_strided", &as_strided)(x, int_list(size, "as_strided", "size"),
                                             int_list(stride, "as_strided", "stride"), offset);
  };
  m.def("as_strided", as_strided_fn, "input"_a, "size"_a, "stride"_a,
        "storage_offset"_a = py::none());
  cls.def("as_strided", as_strided_fn, "size"_a, "stride"_a, "storage_offset"_a = py::none());

  // ---- dim reordering ------------------------------------------------------------
  auto permute_op = traced("permute", &permute);
  cls.def("permute",
          [=](TT x, py::args a) { return permute_op(x, varargs_list(a, "permute", "dims")); });
  m.def("permute",
        [=](TT x, py::object d) { return permute_op(x, int_list(d, "permute", "dims")); },
        "input"_a, "dims"_a);
  auto transpose_op = traced("transpose", &transpose);
  m.def("transpose", transpose_op, "input"_a, "dim0"_a, "dim1"_a);
  cls.def("transpose", transpose_op, "dim0"_a, "dim1"_a);
  m.def("swapdims", transpose_op, "input"_a, "dim0"_a, "dim1"_a);
  cls.def("swapdims", transpose_op, "dim0"_a, "dim1"_a);
  m.def("swapaxes", transpose_op, "input"_a, "axis0"_a, "axis1"_a);
  cls.def("swapaxes", transpose_op, "axis0"_a, "axis1"_a);
  m.def("t", traced("t", &t), "input"_a);
  cls.def("t", traced("t", &t));
  cls.def_property_readonly("T", traced("T", &T));
  cls.def_property_readonly("mT", traced("mT", &mT));
  for (const char* name : {"movedim", "moveaxis"}) {
    m.def(name, &movedim_any, "input"_a, "source"_a, "destination"_a);
    cls.def(name, &movedim_any, "source"_a, "destination"_a);
  }
  m.def("diagonal", traced("diagonal", &diagonal), "input"_a, "offset"_a = 0, "dim1"_a = 0,
        "dim2"_a = 1);
  cls.def("diagonal", traced("diagonal", &diagonal), "offset"_a = 0, "dim1"_a = 0, "dim2"_a = 1);

  // ---- broadcasting --------------------------------------------------------------
  auto expand_op = traced("expand", &expand);
  cls.def("expand",
          [=](TT x, py::args a) { return expand_op(x, varargs_list(a, "expand", "size")); });
  cls.def("expand_as", [=](TT x, TT other) { return expand_op(x, other.sizes()); }, "other"_a);
  auto broadcast_to_fn = [](TT x, py::object s) {
    return traced("broadcast_to", &broadcast_to)(x, int_list(s, "broadcast_to", "size"));
  };
  m.def("broadcast_to", broadcast_to_fn, "input"_a, "size"_a);
  cls.def("broadcast_to", broadcast_to_fn, "size"_a);
  m.def("broadcast_tensors", [](py::args a) {
    return as_tuple(traced("broadcast_tensors", &broadcast_tensors)(tensor_varargs(a)));
  });
  m.def("broadcast_shapes", [](py::args a) {
    std::vector<Shape> shapes;
    for (py::handle s : a) shapes.push_back(int_list(s, "broadcast_shapes", "shapes"));
    Shape r = broadcast_shape_list(shapes);
    return py::module_::import("fastgrad").attr("Size")(py::tuple(py::cast(r)));
  });

  // ---- slicing -------------------------------------------------------------------
  m.def("narrow", traced("narrow", &narrow), "input"_a, "dim"_a, "start"_a, "length"_a);
  cls.def("narrow", traced("narrow", &narrow), "dim"_a, "start"_a, "length"_a);
  m.def("select", traced("select", &select), "input"_a, "dim"_a, "index"_a);
  cls.def("select", traced("select", &select), "dim"_a, "index"_a);
  auto unbind_op = traced("unbind", &unbind);
  auto chunk_op = traced("chunk", &chunk);
  m.def("unbind", [=](TT x, int64_t d) { return as_tuple(unbind_op(x, d)); }, "input"_a,
        "dim"_a = 0);
  cls.def("unbind", [=](TT x, int64_t d) { return as_tuple(unbind_op(x, d)); }, "dim"_a = 0);
  m.def("split", [](TT x, py::object s, int64_t d) { return as_tuple(split_any(x, s, d)); },
        "tensor"_a, "split_size_or_sections"_a, "dim"_a = 0);
  cls.def("split", [](TT x, py::object s, int64_t d) { return as_tuple(split_any(x, s, d)); },
          "split_size"_a, "dim"_a = 0);
  m.def("chunk", [=](TT x, int64_t c, int64_t d) { return as_tuple(chunk_op(x, c, d)); },
        "input"_a, "chunks"_a, "dim"_a = 0);
  cls.def("chunk", [=](TT x, int64_t c, int64_t d) { return as_tuple(chunk_op(x, c, d)); },
          "chunks"_a, "dim"_a = 0);

  // ---- joining (copies) ----------------------------------------------------------
  for (const char* name : {"cat", "concat"})
    m.def(name, traced("cat", &cat), "tensors"_a, "dim"_a = 0);
  m.def("concatenate", traced("cat", &cat), "tensors"_a, "axis"_a = 0);
  m.def("stack", traced("stack", &stack), "tensors"_a, "dim"_a = 0);
  m.def("hstack", traced("hstack", &hstack), "tensors"_a);
  m.def("vstack", traced("vstack", &vstack), "tensors"_a);
  m.def("atleast_1d", traced("atleast_1d", &atleast_1d), "input"_a);
  m.def("atleast_2d", traced("atleast_2d", &atleast_2d), "input"_a);

  // ---- reordering copies ---------------------------------------------------------
  auto repeat_op = traced("repeat", &repeat);
  auto tile_op = traced("tile", &tile);
  auto flip_op = traced("flip", &flip);
  cls.def("repeat",
          [=](TT x, py::args a) { return repeat_op(x, varargs_list(a, "repeat", "repeats")); });
  cls.def("tile", [=](TT x, py::args a) { return tile_op(x, varargs_list(a, "tile", "dims")); });
  m.def("tile", [=](TT x, py::object d) { return tile_op(x, int_list(d, "tile", "dims")); },
        "input"_a, "dims"_a);
  cls.def("flip", [=](TT x, py::args a) { return flip_op(x, varargs_list(a, "flip", "dims")); });
  m.def("flip", [=](TT x, py::object d) { return flip_op(x, int_list(d, "flip", "dims")); },
        "input"_a, "dims"_a);
  m.def("roll", &roll_any, "input"_a, "shifts"_a, "dims"_a = py::none());
  cls.def("roll", &roll_any, "shifts"_a, "dims"_a = py::none());
  m.def("tril", traced("tril", &tril), "input"_a, "diagonal"_a = 0);
  cls.def("tril", traced("tril", &tril), "diagonal"_a = 0);
  m.def("triu", traced("triu", &triu), "input"_a, "diagonal"_a = 0);
  cls.def("triu", traced("triu", &triu), "diagonal"_a = 0);
  cls.def("tril_", traced("tril_", &tril_), "diagonal"_a = 0);
  cls.def("triu_", traced("triu_", &triu_), "diagonal"_a = 0);
}

}  // namespace fastgrad::bindings
