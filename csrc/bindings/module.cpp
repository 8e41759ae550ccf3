// PYBIND11_MODULE(_C): error translation, then one bind_* call per group.
#include "bindings/common.h"
#include "core/check.h"

namespace fastgrad::bindings {

bool is_python_scalar(py::handle h) {
  if (PyBool_Check(h.ptr()) || PyLong_Check(h.ptr()) || PyFloat_Check(h.ptr())) return true;
  // numpy scalars (np.float32(1), np.int64(3), np.bool_(True))
  PyTypeObject* t = Py_TYPE(h.ptr());
  return std::string(t->tp_name).rfind("numpy.", 0) == 0 && py::hasattr(h, "dtype") &&
         py::hasattr(h, "item") && py::cast<int>(h.attr("ndim")) == 0 &&
         !py::isinstance<py::array>(h);
}

Scalar to_scalar(py::handle h) {
  if (!PyBool_Check(h.ptr()) && !PyLong_Check(h.ptr()) && !PyFloat_Check(h.ptr()))
    return to_scalar(h.attr("item")());  // numpy scalar
  if (PyBool_Check(h.ptr())) return Scalar(h.ptr() == Py_True);
  if (PyLong_Check(h.ptr())) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(h.ptr(), &overflow);
    FG_CHECK(!overflow, "value cannot be converted to type int64 without overflow");
    return Scalar(static_cast<int64_t>(v));
  }
  return Scalar(PyFloat_AsDouble(h.ptr()));
}

}  // namespace fastgrad::bindings

PYBIND11_MODULE(_C, m) {
  using namespace fastgrad;
  using namespace fastgrad::bindings;
  m.doc() = "fastgrad's C++ core";

  // Each C++ error kind becomes the matching Python exception.
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const fastgrad::ValueError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const fastgrad::TypeError& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    } catch (const fastgrad::IndexError& e) {
      PyErr_SetString(PyExc_IndexError, e.what());
    } catch (const fastgrad::NotImplementedError& e) {
      PyErr_SetString(PyExc_NotImplementedError, e.what());
    } catch (const fastgrad::RuntimeError& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    } catch (const std::bad_alloc&) {
      PyErr_SetString(PyExc_MemoryError, "fastgrad: out of memory");
    }
  });

  bind_types(m);
  TensorClass cls(m, "Tensor");
  bind_tensor(m, cls);
  bind_dlpack(m, cls);
  bind_elementwise(m, cls);
  bind_factories(m, cls);
  bind_reductions(m, cls);
  bind_shape(m, cls);
  bind_indexing(m, cls);
  bind_linalg(m, cls);
  bind_cuda(m);
#ifdef FASTGRAD_WITH_CUDA
  bind_nccl(m);
#endif
  bind_autograd(m, cls);
  bind_nn_conv(m);
  bind_nn_norm(m);
  bind_nn_loss(m);
  bind_nn_rnn(m);
  bind_optim(m);
  bind_runtime(m);
  bind_jit(m);
}
