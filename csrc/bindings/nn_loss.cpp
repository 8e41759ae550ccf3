// Bindings for losses (private _C functions wrapped in Python by
// fastgrad.nn.functional, which adds PyTorch's legacy-argument handling).
#include "bindings/common.h"
#include "ops/loss_ops.h"

namespace fastgrad::bindings {

void bind_nn_loss(py::module_& m) {
  using OptT = std::optional<Tensor>;
  m.def("_mse_loss", traced("_mse_loss", &mse_loss), "input"_a, "target"_a,
        "reduction"_a = "mean");
  m.def("_l1_loss", traced("_l1_loss", &l1_loss), "input"_a, "target"_a, "reduction"_a = "mean");
  m.def("_smooth_l1_loss", traced("_smooth_l1_loss", &smooth_l1_loss), "input"_a, "target"_a,
        "reduction"_a = "mean", "beta"_a = 1.0);
  m.def("_huber_loss", traced("_huber_loss", &huber_loss), "input"_a, "target"_a,
        "reduction"_a = "mean", "delta"_a = 1.0);
  m.def("_kl_div", traced("_kl_div", &kl_div), "input"_a, "target"_a, "reduction"_a = "mean",
        "log_target"_a = false);
  m.def("_binary_cross_entropy", traced("_binary_cross_entropy", &binary_cross_entropy),
        "input"_a, "target"_a, "weight"_a = OptT(), "reduction"_a = "mean");
  m.def("_binary_cross_entropy_with_logits",
        traced("_binary_cross_entropy_with_logits", &binary_cross_entropy_with_logits), "input"_a,
        "target"_a, "weight"_a = OptT(), "pos_weight"_a = OptT(), "reduction"_a = "mean");
  m.def("_nll_loss", traced("_nll_loss", &nll_loss), "input"_a, "target"_a, "weight"_a = OptT(),
        "reduction"_a = "mean", "ignore_index"_a = -100);
  m.def("_cross_entropy", traced("_cross_entropy", &cross_entropy), "input"_a, "target"_a,
        "weight"_a = OptT(), "reduction"_a = "mean", "ignore_index"_a = -100,
        "label_smoothing"_a = 0.0);
}

}  // namespace fastgrad::bindings
