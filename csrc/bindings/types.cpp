// fastgrad.dtype values (fastgrad.float32, ...) and fastgrad.device.
#include "bindings/common.h"

namespace fastgrad::bindings {

void bind_types(py::module_& m) {
  py::enum_<DType> dt(m, "dtype");
  dt.value("bool", DType::Bool)
      .value("int32", DType::Int32)
      .value("int64", DType::Int64)
      .value("float32", DType::Float32)
      .value("float64", DType::Float64)
      .value("float16", DType::Float16)
      .value("bfloat16", DType::BFloat16)
      .def("__repr__", [](DType t) { return std::string("fastgrad.") + dtype_name(t); })
      .def("__str__", [](DType t) { return std::string("fastgrad.") + dtype_name(t); })
      .def_property_readonly("is_floating_point", &is_floating)
      .def_property_readonly("is_signed", [](DType t) { return t != DType::Bool; })
      .def_property_readonly("itemsize", [](DType t) { return itemsize(t); });
  m.def("promote_types", &promote_types, "type1"_a, "type2"_a);
  m.def("get_default_dtype", &default_float_dtype);
  m.def("set_default_dtype", &set_default_float_dtype, "d"_a);

  py::class_<Device>(m, "device")
      .def(py::init(&Device::parse), "type"_a)
      .def(py::init([](const std::string& type, int index) {
             Device d = Device::parse(type);
             FG_CHECK_VALUE(d.is_cuda() || index <= 0,
                            "device: cpu device index must be 0 or -1, got ", index);
             if (d.is_cuda()) d.index = index;
             return d;
           }),
           "type"_a, "index"_a)
      .def_property_readonly("type", [](const Device& d) { return d.is_cpu() ? "cpu" : "cuda"; })
      .def_property_readonly("index", [](const Device& d) -> py::object {
        return d.index < 0 ? py::object(py::none()) : py::object(py::int_(d.index));
      })
      .def("__eq__", [](const Device& a, const Device& b) { return a == b; })
      .def("__eq__", [](const Device& a, const std::string& b) { return a == Device::parse(b); })
      .def("__hash__", [](const Device& d) { return std::hash<std::string>()(d.str()); })
      .def("__str__", &Device::str)
      .def("__repr__", [](const Device& d) {
        return d.index < 0 ? "device(type='" + std::string(d.is_cpu() ? "cpu" : "cuda") + "')"
                           : "device(type='cuda', index=" + std::to_string(d.index) + ")";
      });
  py::implicitly_convertible<py::str, Device>();
}

}  // namespace fastgrad::bindings
