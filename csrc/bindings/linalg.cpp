// Matrix products as fastgrad.* functions, Tensor methods and the @ operator,
// plus the thread-count knobs. Argument names follow PyTorch's signatures.
#include "bindings/common.h"
#include "ops/linalg_ops.h"

namespace fastgrad::bindings {

void bind_linalg(py::module_& m, TensorClass& cls) {
  using TT = const Tensor&;
  // name, fastgrad function, PyTorch's name for the second operand.
  struct Binary { const char* name; Tensor (*fn)(TT, TT); const char* other; };
  for (const Binary& op : {Binary{"matmul", &matmul, "other"}, Binary{"mm", &mm, "mat2"},
                           Binary{"bmm", &bmm, "mat2"}, Binary{"mv", &mv, "vec"},
                           Binary{"dot", &dot, "tensor"}, Binary{"outer", &outer, "vec2"}}) {
    m.def(op.name, traced(op.name, op.fn), "input"_a, py::arg(op.other));
    cls.def(op.name, traced(op.name, op.fn), py::arg(op.other));
  }
  m.attr("ger") = m.attr("outer");  // PyTorch's older name
  auto matmul_op = traced("matmul", &matmul);
  cls.def("__matmul__", matmul_op, py::is_operator());
  cls.def("__rmatmul__", [=](TT self, TT other) { return matmul_op(other, self); },
          py::is_operator());

  m.def("addmm", traced("addmm", &addmm), "input"_a, "mat1"_a, "mat2"_a, py::kw_only(),
        "beta"_a = 1, "alpha"_a = 1);
  cls.def("addmm", traced("addmm", &addmm), "mat1"_a, "mat2"_a, py::kw_only(), "beta"_a = 1,
          "alpha"_a = 1);

  m.def("set_num_threads", &set_num_threads, "n"_a,
        "Threads used by fastgrad's OpenMP kernels and by OpenBLAS.");
  m.def("get_num_threads", &get_num_threads);
  m.def("_linalg_copies", &linalg_layout_copies,
        "Test hook: operands copied because BLAS could not read their layout.");
}

}  // namespace fastgrad::bindings
