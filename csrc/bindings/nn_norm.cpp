// Bindings for batch/layer/group norm, dropout and embedding: private _C._*
// functions wrapped by python/fastgrad/nn/functional. Optional tensors arrive
// as None and become undefined Tensor().
#include "bindings/common.h"
#include "ops/norm_ops.h"

namespace fastgrad::bindings {

namespace {
using OptT = std::optional<Tensor>;
Tensor opt(const OptT& t) { return t.value_or(Tensor()); }
}  // namespace

void bind_nn_norm(py::module_& m) {
  m.def(
      "_layer_norm",
      traced("_layer_norm",
             [](const Tensor& x, const Shape& shape, const OptT& w, const OptT& b, double eps) {
               return layer_norm(x, shape, opt(w), opt(b), eps);
             }),
      "input"_a, "normalized_shape"_a, "weight"_a = py::none(), "bias"_a = py::none(),
      "eps"_a = 1e-5);
  m.def(
      "_group_norm",
      traced("_group_norm",
             [](const Tensor& x, int64_t groups, const OptT& w, const OptT& b, double eps) {
               return group_norm(x, groups, opt(w), opt(b), eps);
             }),
      "input"_a, "num_groups"_a, "weight"_a = py::none(), "bias"_a = py::none(),
      "eps"_a = 1e-5);
  m.def(
      "_batch_norm",
      traced("_batch_norm",
             [](const Tensor& x, const OptT& rm, const OptT& rv, const OptT& w, const OptT& b,
                bool training, double momentum, double eps) {
               return batch_norm(x, opt(rm), opt(rv), opt(w), opt(b), training, momentum, eps);
             }),
      "input"_a, "running_mean"_a, "running_var"_a, "weight"_a = py::none(),
      "bias"_a = py::none(), "training"_a = false, "momentum"_a = 0.1, "eps"_a = 1e-5);
  m.def("_embedding", traced("_embedding", &embedding), "weight"_a, "indices"_a,
        "padding_idx"_a = -1, "scale_grad_by_freq"_a = false);
  m.def("_embedding_renorm_", traced("_embedding_renorm_", &embedding_renorm_), "weight"_a,
        "indices"_a, "max_norm"_a, "norm_type"_a = 2.0);
  auto gen = "generator"_a = static_cast<Generator*>(nullptr);
  m.def("_dropout", traced("_dropout", &dropout), "input"_a, "p"_a, "train"_a, gen);
  m.def("_dropout_", traced("_dropout_", &dropout_), "input"_a, "p"_a, "train"_a, gen);
  m.def("_feature_dropout", traced("_feature_dropout", &feature_dropout), "input"_a, "p"_a,
        "train"_a, "batched"_a, gen);
  m.def("_alpha_dropout", traced("_alpha_dropout", &alpha_dropout), "input"_a, "p"_a, "train"_a,
        gen);
}

}  // namespace fastgrad::bindings
