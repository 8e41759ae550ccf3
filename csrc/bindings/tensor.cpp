// Tensor attributes and zero-copy numpy interop (from_numpy / .numpy()).
#include "bindings/common.h"
#include "core/check.h"
#include "ops/elementwise.h"
#include "ops/transfers.h"

namespace fastgrad::bindings {

namespace {

py::dtype numpy_dtype(DType t) {
  switch (t) {
    case DType::Bool: return py::dtype::of<bool>();
    case DType::Int32: return py::dtype::of<int32_t>();
    case DType::Int64: return py::dtype::of<int64_t>();
    case DType::Float32: return py::dtype::of<float>();
    case DType::Float64: return py::dtype::of<double>();
    case DType::Float16: return py::dtype("float16");
    case DType::BFloat16:
      fail<TypeError>("numpy: numpy has no bfloat16 dtype; convert first, e.g. "
                      "t.float().numpy()");
  }
  return py::dtype::of<float>();
}

DType from_numpy_dtype(const py::dtype& d) {
  char kind = d.kind();
  int64_t size = d.itemsize();
  if (kind == 'b') return DType::Bool;
  if (kind == 'i' && size == 4) return DType::Int32;
  if (kind == 'i' && size == 8) return DType::Int64;
  if (kind == 'f' && size == 4) return DType::Float32;
  if (kind == 'f' && size == 8) return DType::Float64;
  if (kind == 'f' && size == 2) return DType::Float16;
  fail<TypeError>("from_numpy: can't convert np.ndarray of type ",
                  py::str(d).cast<std::string>(),
                  ". The only supported types are: float64, float32, float16, int64, int32 and bool.");
}

py::tuple to_tuple(const Shape& s) {
  py::tuple t(s.size());
  for (size_t i = 0; i < s.size(); ++i) t[i] = py::int_(s[i]);
  return t;
}

py::object g_size_class;  // fastgrad.Size, set from Python

py::object as_size(const Shape& s) {
  py::tuple t = to_tuple(s);
  return g_size_class ? g_size_class(t) : py::object(t);
}

Tensor from_numpy(py::array arr) {
  DType dt = from_numpy_dtype(arr.dtype());
  int64_t isz = itemsize(dt);
  Shape sizes(arr.ndim()), strides(arr.ndim());
  for (py::ssize_t i = 0; i < arr.ndim(); ++i) {
    sizes[i] = arr.shape(i);
    FG_CHECK_VALUE(arr.strides(i) >= 0,
                   "from_numpy: at least one stride in the given numpy array is "
                   "negative, and tensors with negative strides are not currently "
                   "supported. (You can probably work around this by making a copy "
                   "of your array with array.copy().)");
    FG_CHECK_VALUE(arr.strides(i) % isz == 0,
                   "from_numpy: given numpy array strides not a multiple of the element "
                   "byte size. Copy the numpy array to reallocate the memory.");
    strides[i] = arr.strides(i) / isz;
  }
  // The storage keeps the array alive; releasing it needs the GIL.
  auto* owner = new py::object(arr);
  void* data = const_cast<void*>(arr.data());
  int64_t nbytes = arr.nbytes();
  auto storage = std::make_shared<StorageImpl>(data, nbytes, Device{}, [owner](void*) {
    py::gil_scoped_acquire gil;
    delete owner;
  });
  return from_storage(std::move(storage), sizes, strides, 0, dt);
}

py::array to_numpy(const Tensor& t) {
  FG_CHECK(t.device().is_cpu(), "numpy: can't convert ", t.device(),
           " tensor to numpy. Use Tensor.cpu() to copy the tensor to host memory first.");
  FG_CHECK(!t.requires_grad(),
           "numpy: can't call numpy() on Tensor that requires grad. Use "
           "tensor.detach().numpy() instead.");
  std::vector<py::ssize_t> shape(t.sizes().begin(), t.sizes().end());
  std::vector<py::ssize_t> strides(t.dim());
  for (int64_t i = 0; i < t.dim(); ++i) strides[i] = t.strides()[i] * t.itemsize();
  // The capsule owns a reference to the TensorImpl (and so its storage).
  auto* keep = new std::shared_ptr<TensorImpl>(t.impl_ptr());
  py::capsule base(keep, [](void* p) { delete static_cast<std::shared_ptr<TensorImpl>*>(p); });
  return py::array(numpy_dtype(t.dtype()), shape, strides, t.raw_data(), base);
}

py::object item(const Tensor& x) {
  FG_CHECK(x.numel() == 1, "item: a Tensor with ", x.numel(),
           " elements cannot be converted to Scalar");
  // A GPU value comes to the host first: an implicit copy (ops/transfers.h).
  const Tensor t = x.device().is_cpu() ? x : to_device_implicit(x, Device{}, "item()");
  return dispatch_all(t.dtype(), [&](auto tag) -> py::object {
    using T = decltype(tag);
    T v = *static_cast<const T*>(t.raw_data());
    if constexpr (std::is_same_v<T, bool>) return py::bool_(v);
    else if constexpr (std::is_integral_v<T>) return py::int_(static_cast<int64_t>(v));
    else return py::float_(static_cast<double>(v));
  });
}

}  // namespace

void bind_tensor(py::module_& m, TensorClass& cls) {
  m.def("_set_size_class", [](py::object c) { g_size_class = c; });
  m.add_object("_cleanup", py::capsule([]() { g_size_class = py::object(); }));
  m.def("from_numpy", &from_numpy, "ndarray"_a,
        "A tensor sharing memory with a numpy array.");
  m.def("_to_device", traced("to_device", &to_device), "input"_a, "device"_a);
  m.def("_scalar_tensor", traced("scalar_tensor", [](const Scalar& s, std::optional<DType> dt) {
    return scalar_tensor(s, dt.value_or(s.dtype()));
  }));

  // Lets Python subclasses (nn.Parameter) wrap an existing tensor: the new
  // object is another handle on the same TensorImpl.
  cls.def(py::init([](const Tensor& t) { return t; }), "data"_a);
  cls.def_property_readonly("shape", [](const Tensor& t) { return as_size(t.sizes()); })
      .def("size", [](const Tensor& t) { return as_size(t.sizes()); })
      .def("size", [](const Tensor& t, int64_t d) { return t.size(d); }, "dim"_a)
      .def("stride", [](const Tensor& t) { return to_tuple(t.strides()); })
      .def("stride", [](const Tensor& t, int64_t d) { return t.stride(d); }, "dim"_a)
      .def("dim", &Tensor::dim)
      .def("ndimension", &Tensor::dim)
      .def_property_readonly("ndim", &Tensor::dim)
      .def("numel", &Tensor::numel)
      .def("nelement", &Tensor::numel)
      .def_property_readonly("dtype", &Tensor::dtype)
      .def_property_readonly("device", &Tensor::device)
      .def_property_readonly("is_cuda", [](const Tensor& t) { return t.device().is_cuda(); })
      .def("is_contiguous", &Tensor::is_contiguous)
      .def("is_floating_point", [](const Tensor& t) { return is_floating(t.dtype()); })
      .def("storage_offset", &Tensor::offset)
      .def("element_size", &Tensor::itemsize)
      .def_property_readonly("itemsize", &Tensor::itemsize)
      .def_property_readonly("nbytes", [](const Tensor& t) { return t.numel() * t.itemsize(); })
      .def("data_ptr", [](const Tensor& t) { return reinterpret_cast<uintptr_t>(t.raw_data()); })
      .def_property_readonly("_version", &Tensor::version)
      .def("numpy", &to_numpy)
      .def("item", &item)
      .def("_is_same", &Tensor::is_same)
      .def("contiguous", traced("contiguous", [](const Tensor& t) { return contiguous(t); }))
      .def("clone", traced("clone", [](const Tensor& t) { return clone(t); }))
      .def("copy_", traced("copy_", &copy_autograd), "src"_a)
      .def("_to_dtype", traced("to_dtype", [](const Tensor& t, DType dt, bool copy) {
        Tensor r = to_dtype(t, dt);
        return copy && r.is_same(t) ? clone(t) : r;
      }), "dtype"_a, "copy"_a = false);
}

}  // namespace fastgrad::bindings
