// Autograd's Python surface: Tensor.backward/.grad/.grad_fn/hooks, grad mode,
// autograd.grad, and the Node type (grad_fn objects).

#include <algorithm>
#include <unordered_map>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "bindings/common.h"
#include "core/check.h"
#include "ops/elementwise.h"
#include "ops/elementwise_ops.h"
#include "ops/factory_ops.h"
#include "ops/grad_utils.h"

#if PY_VERSION_HEX < 0x030B0000
#include <frameobject.h>  // f_lasti
#endif

namespace fastgrad::bindings {

namespace {

using autograd::Node;

// Note [Cheap call-site capture]
// Every recorded node keeps "file.py:12" of the Python line that ran its op,
// for error messages. Turning a frame into a line number walks the code
// object's line table (~2,800 instructions, a quarter of a tiny op's cost),
// so the string is made once per call site: a (code object, bytecode offset)
// pair always maps to the same line. The cache holds references to its code
// objects, so a key is never reused by another code object while cached; it
// is dropped whole when it grows past kMaxSites (dynamically exec'd code).
// Always runs with the GIL held (ops are called from Python).
struct SiteKey {
  PyCodeObject* code;
  int lasti;
  bool operator==(const SiteKey& o) const { return code == o.code && lasti == o.lasti; }
};
struct SiteHash {
  size_t operator()(const SiteKey& k) const {
    return std::hash<const void*>()(k.code) * 31 + static_cast<size_t>(k.lasti);
  }
};
constexpr size_t kMaxSites = 1 << 14;

autograd::Location python_location() {
  static auto* sites = new std::unordered_map<SiteKey, autograd::Location, SiteHash>();
  PyFrameObject* f = PyEval_GetFrame();
  if (!f) return nullptr;
  PyCodeObject* code = PyFrame_GetCode(f);  // new reference
#if PY_VERSION_HEX >= 0x030B0000
  SiteKey key{code, PyFrame_GetLasti(f)};
#else
  SiteKey key{code, f->f_lasti};
#endif
  auto it = sites->find(key);
  if (it != sites->end()) {
    Py_DECREF(code);
    return it->second;
  }
  if (sites->size() >= kMaxSites) {
    for (auto& kv : *sites) Py_DECREF(kv.first.code);
    sites->clear();
  }
  const char* file = PyUnicode_AsUTF8(code->co_filename);
  auto loc = std::make_shared<const std::string>(std::string(file ? file : "?") + ":" +
                                                 std::to_string(PyFrame_GetLineNumber(f)));
  sites->emplace(key, loc);  // keeps the reference to `code`
  return loc;
}

// The whole Python stack (anomaly mode): traceback.format_stack().
autograd::Location python_stack() {
  py::object lines = py::module_::import("traceback").attr("format_stack")();
  std::string r;
  for (py::handle l : lines) r += l.cast<std::string>();
  return std::make_shared<const std::string>(std::move(r));
}

void set_requires_grad(const Tensor& t, bool v) {
  FG_CHECK(!v || is_floating(t.dtype()),
           "requires_grad_: only Tensors of floating point dtype can require gradients, got ",
           t.dtype());
  FG_CHECK(!t.impl()->grad_fn,
           "requires_grad_: you can only change requires_grad flags of leaf variables. If you "
           "want to use a computed variable in a subgraph that doesn't require differentiation "
           "use var_no_grad = var.detach().");
  t.impl()->requires_grad = v;
}

Tensor detach(const Tensor& t) {
  Tensor d = make_view(t, t.sizes(), t.strides(), t.offset());
  return d;  // no grad_fn, requires_grad false, same storage and version counter
}

int g_hook_id = 0;
int hook_id(const Node::PreHook& h) { return h.id; }
int hook_id(const std::pair<int, std::function<void(const Tensor&)>>& h) { return h.first; }

// A Python hook returning None keeps the gradient, a Tensor replaces it.
std::function<Tensor(const Tensor&)> wrap_hook(py::function fn) {
  return [fn](const Tensor& g) -> Tensor {
    py::object r = fn(g);
    if (r.is_none()) return Tensor();
    return r.cast<Tensor>();
  };
}

autograd::LeafHooks& leaf_hooks(const Tensor& t) {
  auto& h = t.impl()->leaf_hooks;
  if (!h) h = std::make_shared<autograd::LeafHooks>();
  return *h;
}

py::object removable(std::function<void()> remove) {
  py::module_ handles = py::module_::import("fastgrad.autograd.hooks");
  return handles.attr("RemovableHandle")(py::cpp_function(std::move(remove)));
}

template <class V>
void erase_id(V& v, int id) {
  v.erase(std::remove_if(v.begin(), v.end(), [id](const auto& h) { return hook_id(h) == id; }), v.end());
}

// tensor.register_hook: a pre-hook on grad_fn (non-leaf) or on the leaf itself.
py::object register_hook(const Tensor& t, py::function fn) {
  FG_CHECK(t.requires_grad(),
           "register_hook: cannot register a hook on a tensor that doesn't require gradient");
  int id = ++g_hook_id;
  if (!t.impl()->grad_fn) {
    leaf_hooks(t).pre.push_back({0, wrap_hook(fn), id});
    std::weak_ptr<TensorImpl> weak = t.impl_ptr();
    return removable([weak, id]() {
      if (auto impl = weak.lock()) erase_id(impl->leaf_hooks->pre, id);
    });
  }
  autograd::Edge e = autograd::gradient_edge(t);
  e.fn->pre_hooks.push_back({static_cast<int>(e.input_nr), wrap_hook(fn), id});
  std::weak_ptr<Node> weak = e.fn;
  return removable([weak, id]() {
    if (auto n = weak.lock()) erase_id(n->pre_hooks, id);
  });
}

py::object register_post_accumulate_grad_hook(const Tensor& t, py::function fn) {
  FG_CHECK(t.requires_grad() && !t.impl()->grad_fn,
           "register_post_accumulate_grad_hook: post accumulate grad hooks can only be "
           "registered on leaf tensors that require grad");
  int id = ++g_hook_id;
  leaf_hooks(t).post.push_back({id, [fn](const Tensor& leaf) { fn(leaf); }});
  std::weak_ptr<TensorImpl> weak = t.impl_ptr();
  return removable([weak, id]() {
    if (auto impl = weak.lock()) erase_id(impl->leaf_hooks->post, id);
  });
}

void retain_grad(const Tensor& t) {
  FG_CHECK(t.requires_grad(), "retain_grad: can't retain_grad on Tensor that has requires_grad=False");
  if (!t.impl()->grad_fn || t.impl()->retains_grad) return;  // leaves always keep .grad
  t.impl()->retains_grad = true;
  std::weak_ptr<TensorImpl> weak = t.impl_ptr();
  autograd::Edge e = autograd::gradient_edge(t);
  e.fn->pre_hooks.push_back({static_cast<int>(e.input_nr), [weak](const Tensor& g) -> Tensor {
    if (auto impl = weak.lock()) {
      autograd::GradModeGuard no_grad(false);
      impl->grad = impl->grad ? add(Tensor(impl->grad), g).impl_ptr() : clone(g).impl_ptr();
    }
    return Tensor();
  }, ++g_hook_id});
}

Tensors to_tensors(const py::object& o) {
  if (py::isinstance<Tensor>(o)) return {o.cast<Tensor>()};
  Tensors r;
  for (py::handle h : o) r.push_back(h.cast<Tensor>());
  return r;
}

// Default gradient: ones for a one-element output, like PyTorch.
Tensors default_grads(const Tensors& roots, const py::object& grads, const char* op) {
  Tensors g;
  if (!grads.is_none()) {
    for (py::handle h : (py::isinstance<Tensor>(grads) ? py::make_tuple(grads) : py::tuple(grads)))
      g.push_back(h.is_none() ? Tensor() : h.cast<Tensor>());
    FG_CHECK(g.size() == roots.size(), op, ": got ", roots.size(), " outputs but ", g.size(),
             " gradients");
  } else {
    g.resize(roots.size());
  }
  for (size_t i = 0; i < roots.size(); ++i) {
    if (g[i].defined()) {
      FG_CHECK(g[i].sizes() == roots[i].sizes(), op, ": mismatch in shape: grad_output[", i,
               "] has a shape of ", shape_str(g[i].sizes()), " and output[", i,
               "] has a shape of ", shape_str(roots[i].sizes()));
      continue;
    }
    FG_CHECK(roots[i].numel() == 1, op, ": grad can be implicitly created only for scalar "
             "outputs (got an output of shape ", shape_str(roots[i].sizes()),
             "); pass gradient=")
    ;
    Tensor one = empty(roots[i].sizes(), roots[i].dtype(), roots[i].device());
    fill_(one, Scalar(1.0));
    g[i] = one;
  }
  return g;
}

}  // namespace

void bind_autograd(py::module_& m, TensorClass& cls) {
  autograd::set_location_capture(&python_location, &python_stack);
  m.def("_set_anomaly_enabled", &autograd::set_anomaly_enabled, "mode"_a);
  m.def("is_anomaly_enabled", &autograd::anomaly_enabled);

  py::class_<Node, std::shared_ptr<Node>>(m, "Node")
      .def("name", &Node::name)
      .def_property_readonly("next_functions", [](const Node& n) {
        py::list r;
        for (const auto& e : n.next_edges)
          r.append(py::make_tuple(e.fn ? py::cast(e.fn) : py::none(), e.input_nr));
        return py::tuple(r);
      })
      .def_property_readonly("variable", [](Node& n) -> py::object {
        if (auto* acc = dynamic_cast<autograd::AccumulateGrad*>(&n))
          if (auto leaf = acc->leaf()) return py::cast(Tensor(leaf));
        return py::none();
      })
      .def_property_readonly("metadata", [](const Node& n) { return py::dict(); })
      // For fastgrad.viz: (shape, dtype) of each forward output, and the shapes
      // of the saved tensors (None once backward released them).
      .def_property_readonly("_output_metadata", [](const Node& n) {
        py::list r;
        for (const auto& o : n.outputs) r.append(py::make_tuple(py::tuple(py::cast(o.sizes)), o.dtype));
        return py::tuple(r);
      })
      .def_property_readonly("_saved_tensor_shapes", [](const Node& n) {
        py::list r;
        if (auto* f = dynamic_cast<const autograd::FunctionNode*>(&n))
          for (const auto& s : f->saved_) {
            if (!s.defined()) continue;
            const Shape* sizes = s.sizes();
            r.append(sizes ? py::object(py::tuple(py::cast(*sizes))) : py::none());
          }
        return py::tuple(r);
      })
      .def("register_prehook", [](Node& n, py::function fn) {
        n.pre_hooks.push_back({0, wrap_hook(fn), ++g_hook_id});
      })
      .def("__repr__", [](const Node& n) { return "<" + n.name() + ">"; });

  m.def("is_grad_enabled", &autograd::grad_enabled);
  m.def("_set_grad_enabled", &autograd::set_grad_enabled, "mode"_a);

  cls.def_property("requires_grad", &Tensor::requires_grad, &set_requires_grad)
      .def("requires_grad_", [](const Tensor& t, bool v) -> const Tensor& {
        set_requires_grad(t, v);
        return t;
      }, "requires_grad"_a = true)
      .def_property_readonly("is_leaf", [](const Tensor& t) { return !t.impl()->grad_fn; })
      .def_property_readonly("grad_fn", [](const Tensor& t) { return t.impl()->grad_fn; })
      .def_property("grad",
                    [](const Tensor& t) -> py::object {
                      if (!t.impl()->grad) return py::none();
                      return py::cast(Tensor(t.impl()->grad));
                    },
                    [](const Tensor& t, const std::optional<Tensor>& g) {
                      if (g) FG_CHECK(g->sizes() == t.sizes(), "grad: assigned grad has shape ",
                                      shape_str(g->sizes()), " but the tensor has shape ",
                                      shape_str(t.sizes()));
                      t.impl()->grad = g ? g->impl_ptr() : nullptr;
                    })
      .def_property_readonly("retains_grad", [](const Tensor& t) { return t.impl()->retains_grad; })
      .def("retain_grad", &retain_grad)
      .def("detach", traced("detach", &detach))
      .def("detach_", [](const Tensor& t) -> const Tensor& {
        FG_CHECK(!t.impl()->view_base, "detach_: can't detach views in-place. Use detach() instead.");
        t.impl()->grad_fn.reset();
        t.impl()->requires_grad = false;
        return t;
      })
      // torch's `.data`: the same storage without history; assigning swaps the
      // tensor's contents (storage, shape, dtype) but keeps its autograd identity.
      .def_property("data", traced("detach", &detach), [](const Tensor& t, const Tensor& src) {
        FG_CHECK_TYPE(!t.requires_grad() || is_floating(src.dtype()),
                      "data: cannot assign a ", dtype_name(src.dtype()),
                      " tensor to a tensor that requires grad");
        TensorImpl* d = t.impl();
        const TensorImpl* s = src.impl();
        d->storage = s->storage;
        d->sizes = s->sizes;
        d->strides = s->strides;
        d->offset = s->offset;
        d->dtype = s->dtype;
        d->view_base.reset();
      })
      .def("register_hook", &register_hook, "hook"_a)
      .def("register_post_accumulate_grad_hook", &register_post_accumulate_grad_hook, "hook"_a)
      .def("_backward", [](const Tensor& t, py::object gradient, bool retain_graph, bool create_graph,
                           py::object inputs) {
        Tensors roots{t};
        Tensors grads = default_grads(roots, gradient, "backward");
        autograd::BackwardOptions opt;
        opt.retain_graph = retain_graph;
        opt.create_graph = create_graph;
        if (inputs.is_none()) {
          autograd::run_backward(roots, grads, opt);
          return;
        }
        // backward(inputs=...): accumulate only into these.
        Tensors ins = to_tensors(inputs);
        for (const Tensor& x : ins) opt.capture.push_back(autograd::gradient_edge(x));
        opt.allow_unused = true;
        Tensors got = autograd::run_backward(roots, grads, opt);
        autograd::GradModeGuard mode(create_graph);
        for (size_t i = 0; i < ins.size(); ++i) {
          if (!got[i].defined()) continue;
          TensorImpl* impl = ins[i].impl();
          impl->grad = impl->grad ? add(Tensor(impl->grad), got[i]).impl_ptr()
                                  : (create_graph ? got[i] : clone(got[i])).impl_ptr();
        }
      }, "gradient"_a = py::none(), "retain_graph"_a = false, "create_graph"_a = false,
         "inputs"_a = py::none());

  m.def("_run_backward", [](py::object outputs, py::object grad_outputs, bool retain_graph,
                            bool create_graph, py::object inputs, bool allow_unused) -> py::object {
    Tensors roots = to_tensors(outputs);
    Tensors grads = default_grads(roots, grad_outputs, "grad");
    autograd::BackwardOptions opt;
    opt.retain_graph = retain_graph;
    opt.create_graph = create_graph;
    opt.allow_unused = allow_unused;
    Tensors ins = to_tensors(inputs);
    for (size_t i = 0; i < ins.size(); ++i) {
      FG_CHECK(ins[i].requires_grad(), "grad: input ", i, " does not require grad");
      opt.capture.push_back(autograd::gradient_edge(ins[i]));
    }
    Tensors got = autograd::run_backward(roots, grads, opt);
    py::tuple r(got.size());
    for (size_t i = 0; i < got.size(); ++i)
      r[i] = got[i].defined() ? py::cast(got[i]) : py::none();
    return r;
  });
  // autograd.Function: a Python backward on the C++ tape. `backward(saved, grads)`
  // returns one gradient (or None) per tensor input.
  m.def("_record_function", [](const std::string& name, const Tensors& inputs,
                               const Tensors& outputs, const Tensors& saved, py::function backward) {
    static std::vector<std::unique_ptr<std::string>> names;  // node names must outlive nodes
    names.push_back(std::make_unique<std::string>(name));
    const char* cname = names.back()->c_str();
    autograd::record(cname, inputs, outputs, saved,
                     [backward, n_saved = saved.size(), n_in = inputs.size()](
                         const autograd::FunctionNode& n, const Tensors& gs) -> Tensors {
      py::tuple sv(n_saved), gt(gs.size());
      for (size_t i = 0; i < n_saved; ++i) sv[i] = py::cast(n.saved(i));
      for (size_t i = 0; i < gs.size(); ++i) gt[i] = py::cast(gs[i]);
      py::object r = backward(sv, gt);
      py::tuple rt = py::isinstance<py::tuple>(r) ? r.cast<py::tuple>() : py::make_tuple(r);
      FG_CHECK(rt.size() == n_in, n.name(), ": backward returned ", rt.size(),
               " gradients but expected ", n_in, " (one per tensor input)");
      Tensors out(n_in);
      for (size_t i = 0; i < n_in; ++i)
        if (!rt[i].is_none()) out[i] = rt[i].cast<Tensor>();
      return out;
    });
  });
  m.def("_queue_callback", [](py::function fn) { autograd::queue_callback([fn]() { fn(); }); });
}

}  // namespace fastgrad::bindings
