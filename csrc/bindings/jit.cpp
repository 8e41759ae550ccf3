// The tracer's Python entry points (private; fastgrad.jit wraps them): open
// and close a trace, and the recorded graph (replay, batch analysis, and its
// contents as plain Python objects for printing and the ONNX exporter).
#include "bindings/common.h"
#include "jit/trace_state.h"

namespace fastgrad::bindings {

namespace {

using jit::Arg;
using jit::Graph;
using jit::Tensors;

thread_local std::unique_ptr<jit::TraceState> g_trace;

// A use of graph value `id` inside a node's arguments.
struct ValueRef {
  int id;
};

py::object ref(int id) { return id < 0 ? py::none() : py::cast(ValueRef{id}); }

py::object arg_to_py(const Arg& a) {
  switch (a.kind) {
    case Arg::Kind::None: return py::none();
    case Arg::Kind::Bool: return py::bool_(a.b);
    case Arg::Kind::Int: return py::int_(a.i);
    case Arg::Kind::Float: return py::float_(a.f);
    case Arg::Kind::Str: return py::str(a.s);
    case Arg::Kind::Opaque: return py::str("<" + a.s + ">");
    case Arg::Kind::Ints: return py::cast(a.ints);
    case Arg::Kind::DType: return py::cast(a.dtype);
    case Arg::Kind::Device: return py::cast(a.device);
    case Arg::Kind::Value: return ref(static_cast<int>(a.i));
    case Arg::Kind::Values: {
      py::list l;
      for (int64_t v : a.ints) l.append(ref(static_cast<int>(v)));
      return std::move(l);
    }
    case Arg::Kind::Index: {
      py::tuple t(a.index.size());
      for (size_t k = 0; k < a.index.size(); ++k) {
        const jit::IndexArg& i = a.index[k];
        using K = TensorIndex::Kind;
        switch (i.kind) {
          case K::Int: t[k] = py::int_(i.start); break;
          case K::Slice:
            t[k] = py::slice(py::int_(i.start), py::int_(i.stop), py::int_(i.step));
            break;
          case K::None: t[k] = py::none(); break;
          case K::Ellipsis: t[k] = py::ellipsis(); break;
          case K::Bool: t[k] = py::bool_(i.start != 0); break;
          case K::Tensor: t[k] = ref(i.value); break;
        }
      }
      return std::move(t);
    }
  }
  return py::none();
}

py::list sym_list(const std::vector<jit::SymInt>& s) {
  py::list l;
  for (const jit::SymInt& x : s) l.append(py::make_tuple(x.index, x.a, x.c));
  return l;
}

const char* kind_name(jit::Value::Kind k) {
  switch (k) {
    case jit::Value::Kind::Input: return "input";
    case jit::Value::Kind::Param: return "param";
    case jit::Value::Kind::Const: return "constant";
    case jit::Value::Kind::Op: return "op";
  }
  return "";
}

}  // namespace

void bind_jit(py::module_& m) {
  py::class_<ValueRef>(m, "_ValueRef")
      .def_readonly("id", &ValueRef::id)
      .def("__repr__", [](const ValueRef& r) { return "%" + std::to_string(r.id); });

  py::class_<Graph>(m, "_Graph")
      .def_readwrite("label", &Graph::label)
      .def_readonly("batch", &Graph::batch)
      .def_readonly("inputs", &Graph::inputs)
      .def_readonly("params", &Graph::params)
      .def_readonly("outputs", &Graph::outputs)
      .def("run", &Graph::run, "inputs"_a, "params"_a,
           "Runs the recorded ops on new inputs (one C++ call for the whole graph).")
      .def("make_batch_dynamic", &Graph::make_batch_dynamic, "others"_a, "batch"_a,
           "Makes the sizes that follow the batch symbolic, from traces at 2B, 3B, ...")
      .def_property_readonly("values", [](const Graph& g) {
        py::list out;
        for (const jit::Value& v : g.values) {
          py::dict d;
          d["kind"] = kind_name(v.kind);
          d["name"] = v.name;
          d["shape"] = py::cast(v.shape);
          d["dtype"] = py::cast(v.dtype);
          d["sym_dims"] = sym_list(v.sym_dims);
          d["constant"] = v.constant.defined() ? py::cast(v.constant) : py::none();
          out.append(d);
        }
        return out;
      })
      .def_property_readonly("nodes", [](const Graph& g) {
        py::list out;
        for (const jit::Node& n : g.nodes) {
          py::dict d;
          d["op"] = n.op;
          py::list args;
          for (const Arg& a : n.args) args.append(arg_to_py(a));
          d["args"] = args;
          d["inputs"] = py::cast(n.inputs);
          d["outputs"] = py::cast(n.outputs);
          d["sym"] = sym_list(n.sym);
          out.append(d);
        }
        return out;
      });

  m.def("_trace_begin", [](const Tensors& inputs, const std::vector<std::string>& input_names,
                           const Tensors& params, const std::vector<std::string>& param_names) {
    jit::begin_trace(g_trace, inputs, input_names, params, param_names);
  }, "inputs"_a, "input_names"_a, "params"_a, "param_names"_a);
  m.def("_trace_end", [](const Tensors& outputs) { return jit::end_trace(g_trace, outputs); },
        "outputs"_a);
  m.def("_trace_abort", []() { jit::abort_trace(g_trace); });
  m.def("_is_traced", &jit::is_traced_value, "tensor"_a,
        "Whether the tensor is a value of the trace running on this thread.");
}

}  // namespace fastgrad::bindings
