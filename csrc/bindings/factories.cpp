// Creation and random ops. Size/dtype/device argument parsing is Python's
// (python/fastgrad/_factories.py), so the factories are bound under private
// names; the generator API and the in-place random fills are public here.
#include "bindings/common.h"
#include "math/philox.h"
#include "ops/factory_ops.h"

namespace fastgrad::bindings {

namespace {

using OptDType = std::optional<DType>;
using GenPtr = std::shared_ptr<Generator>;

// PyTorch accepts seeds in [-2^63, 2^64); negatives wrap to uint64.
uint64_t seed_arg(py::handle h) {
  py::int_ v = py::reinterpret_steal<py::int_>(PyNumber_Index(h.ptr()));
  if (!v) throw py::error_already_set();
  unsigned long long u = PyLong_AsUnsignedLongLong(v.ptr());
  if (!PyErr_Occurred()) return u;
  PyErr_Clear();
  long long s = PyLong_AsLongLong(v.ptr());
  if (PyErr_Occurred()) {
    PyErr_Clear();
    fail<RuntimeError>("manual_seed: seed must be within the range [-2**63, 2**64), got ",
                       py::str(v).cast<std::string>());
  }
  return static_cast<uint64_t>(s);
}

py::bytes state_bytes(const Generator& g) {
  auto s = g.get_state();
  return py::bytes(reinterpret_cast<const char*>(s.data()), s.size());
}

void set_state_bytes(Generator& g, const py::bytes& b) {
  std::string s = b;
  g.set_state(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

void bind_generator(py::module_& m) {
  py::class_<Generator, GenPtr>(m, "Generator")
      .def(py::init([](Device device) {
             FG_CHECK(device.is_cpu(), "Generator: only cpu generators are supported, got ",
                      device);
             return std::make_shared<Generator>();
           }),
           "device"_a = Device{})
      .def_property_readonly("device", [](const Generator&) { return Device{}; })
      .def("manual_seed", [](const GenPtr& g, py::handle s) {
        g->manual_seed(seed_arg(s));
        return g;
      }, "seed"_a)
      .def("seed", &Generator::seed)
      .def("initial_seed", &Generator::initial_seed)
      .def("get_state", &state_bytes)
      .def("set_state", [](const GenPtr& g, const py::bytes& b) {
        set_state_bytes(*g, b);
        return g;
      }, "new_state"_a);

  m.attr("default_generator") = default_generator();
  m.def("manual_seed", [](py::handle s) {
    default_generator()->manual_seed(seed_arg(s));
    return default_generator();
  }, "seed"_a);
  m.def("seed", [] { return default_generator()->seed(); });
  m.def("initial_seed", [] { return default_generator()->initial_seed(); });
  m.def("get_rng_state", [] { return state_bytes(*default_generator()); });
  m.def("set_rng_state", [](const py::bytes& b) { set_state_bytes(*default_generator(), b); },
        "new_state"_a);
  // Known-answer hook for the tests: Philox4x32-10 of (key, counter).
  m.def("_philox4x32_10", [](uint64_t key, uint64_t lo, uint64_t hi) {
    auto r = math::philox4x32_10(key, lo, hi);
    return py::make_tuple(r.w[0], r.w[1], r.w[2], r.w[3]);
  });
}

}  // namespace

void bind_factories(py::module_& m, TensorClass& cls) {
  bind_generator(m);
  auto gen = "generator"_a = static_cast<Generator*>(nullptr);
  using TT = const Tensor&;

  // Private factories: (size, ..., dtype, device[, generator]) in fixed order.
  m.def("_empty", traced("_empty", &empty_op), "size"_a, "dtype"_a, "device"_a);
  m.def("_full", traced("_full", &full), "size"_a, "fill_value"_a, "dtype"_a, "device"_a);
  m.def("_zeros", traced("_zeros", &zeros), "size"_a, "dtype"_a, "device"_a);
  m.def("_ones", traced("_ones", &ones), "size"_a, "dtype"_a, "device"_a);
  m.def("_arange", traced("_arange", &arange), "start"_a, "end"_a, "step"_a, "dtype"_a, "device"_a);
  m.def("_linspace", traced("_linspace", &linspace), "start"_a, "end"_a, "steps"_a, "dtype"_a,
        "device"_a);
  m.def("_eye", traced("_eye", &eye), "n"_a, "m"_a, "dtype"_a, "device"_a);
  m.def("_rand", traced("_rand", &rand), "size"_a, "dtype"_a, "device"_a, gen);
  m.def("_randn", traced("_randn", &randn), "size"_a, "dtype"_a, "device"_a, gen);
  m.def("_normal", traced("_normal", &normal), "mean"_a, "std"_a, "size"_a, "dtype"_a, "device"_a,
        gen);
  m.def("_randint", traced("_randint", &randint), "low"_a, "high"_a, "size"_a, "dtype"_a,
        "device"_a, gen);
  m.def("_randperm", traced("_randperm", &randperm), "n"_a, "dtype"_a, "device"_a, gen);

  // bernoulli(input) draws with probabilities input; bernoulli(input, p) with p.
  m.def("bernoulli", traced("bernoulli", py::overload_cast<TT, Generator*>(&bernoulli)), "input"_a,
        py::kw_only(), gen);
  m.def("bernoulli", traced("bernoulli", py::overload_cast<TT, double, Generator*>(&bernoulli)),
        "input"_a, "p"_a, py::kw_only(), gen);
  cls.def("bernoulli", traced("bernoulli", py::overload_cast<TT, Generator*>(&bernoulli)),
          py::kw_only(), gen);
  cls.def("bernoulli", traced("bernoulli", py::overload_cast<TT, double, Generator*>(&bernoulli)),
          "p"_a, py::kw_only(), gen);

  // In-place fills (nn.init, dropout). `from` is a Python keyword: pass it
  // positionally or as **{"from": x}, as with PyTorch.
  cls.def("uniform_", traced("uniform_", &uniform_), "from"_a = 0.0, "to"_a = 1.0, py::kw_only(),
          gen);
  cls.def("normal_", traced("normal_", &normal_), "mean"_a = 0.0, "std"_a = 1.0, py::kw_only(),
          gen);
  cls.def("bernoulli_",
          traced("bernoulli_", py::overload_cast<TT, double, Generator*>(&bernoulli_)),
          "p"_a = 0.5, py::kw_only(), gen);
  cls.def("bernoulli_", traced("bernoulli_", py::overload_cast<TT, TT, Generator*>(&bernoulli_)),
          "p"_a, py::kw_only(), gen);
  cls.def("random_", traced("random_", &random_), "from"_a, "to"_a, py::kw_only(), gen);
  cls.def("random_",
          [](TT self, int64_t to, Generator* g) {
            return traced("random_", &random_)(self, 0, to, g);
          },
          "to"_a, py::kw_only(), gen);
}

}  // namespace fastgrad::bindings
