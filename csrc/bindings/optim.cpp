// Bindings for fused optimizer steps (private _C functions wrapped in Python
// by fastgrad.optim). Optional state tensors are None when switched off.
#include "bindings/common.h"
#include "ops/optim_ops.h"

namespace fastgrad::bindings {

namespace {
using OptTensor = std::optional<Tensor>;
Tensor or_undefined(const OptTensor& t) { return t ? *t : Tensor(); }
}  // namespace

void bind_optim(py::module_& m) {
  m.def(
      "_sgd_step",
      [](const Tensor& param, const Tensor& grad, const OptTensor& momentum_buffer,
         double lr, double momentum, double dampening, double weight_decay, bool nesterov,
         bool maximize, bool first_step) {
        sgd_step_(param, grad, or_undefined(momentum_buffer), lr, momentum, dampening,
                  weight_decay, nesterov, maximize, first_step);
      },
      "param"_a, "grad"_a, "momentum_buffer"_a, py::kw_only(), "lr"_a, "momentum"_a,
      "dampening"_a, "weight_decay"_a, "nesterov"_a, "maximize"_a, "first_step"_a,
      "Fused SGD update of param (and momentum_buffer) in place.");
  m.def(
      "_adam_step",
      [](const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
         const Tensor& exp_avg_sq, const OptTensor& max_exp_avg_sq, double lr, double beta1,
         double beta2, double eps, double weight_decay, bool amsgrad, bool maximize,
         bool decoupled_weight_decay, double step) {
        adam_step_(param, grad, exp_avg, exp_avg_sq, or_undefined(max_exp_avg_sq), lr, beta1,
                   beta2, eps, weight_decay, amsgrad, maximize, decoupled_weight_decay, step);
      },
      "param"_a, "grad"_a, "exp_avg"_a, "exp_avg_sq"_a, "max_exp_avg_sq"_a, py::kw_only(),
      "lr"_a, "beta1"_a, "beta2"_a, "eps"_a, "weight_decay"_a, "amsgrad"_a, "maximize"_a,
      "decoupled_weight_decay"_a, "step"_a,
      "Fused Adam/AdamW update of param and its moments in place.");
  m.def(
      "_rmsprop_step",
      [](const Tensor& param, const Tensor& grad, const Tensor& square_avg,
         const OptTensor& momentum_buffer, const OptTensor& grad_avg, double lr, double alpha,
         double eps, double weight_decay, double momentum, bool centered, bool maximize) {
        rmsprop_step_(param, grad, square_avg, or_undefined(momentum_buffer),
                      or_undefined(grad_avg), lr, alpha, eps, weight_decay, momentum,
                      centered, maximize);
      },
      "param"_a, "grad"_a, "square_avg"_a, "momentum_buffer"_a, "grad_avg"_a, py::kw_only(),
      "lr"_a, "alpha"_a, "eps"_a, "weight_decay"_a, "momentum"_a, "centered"_a,
      "maximize"_a, "Fused RMSprop update of param and its state in place.");
  m.def("_adagrad_step", &adagrad_step_, "param"_a, "grad"_a, "state_sum"_a, py::kw_only(),
        "lr"_a, "lr_decay"_a, "weight_decay"_a, "eps"_a, "maximize"_a, "step"_a,
        "Fused Adagrad update of param and state_sum in place.");
}

}  // namespace fastgrad::bindings
