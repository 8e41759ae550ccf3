// Fused optimizer steps: each updates one parameter and its state tensors in
// place with a single elementwise pass (math/optim.h), bumping their versions.
// They bypass autograd on purpose (parameters are leaves that require grad;
// an optimizer step is not differentiable and records nothing). Optional
// state tensors may be undefined when the option that needs them is off.
#pragma once
#include "core/tensor.h"

namespace fastgrad {

// torch.optim.SGD; `first_step` initialises momentum_buffer to the gradient.
void sgd_step_(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer,
               double lr, double momentum, double dampening, double weight_decay,
               bool nesterov, bool maximize, bool first_step);

// torch.optim.Adam / AdamW (decoupled_weight_decay); `step` is the step count
// after incrementing (1 on the first step), for the bias corrections.
void adam_step_(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                const Tensor& exp_avg_sq, const Tensor& max_exp_avg_sq, double lr,
                double beta1, double beta2, double eps, double weight_decay, bool amsgrad,
                bool maximize, bool decoupled_weight_decay, double step);

// torch.optim.RMSprop; momentum_buffer when momentum > 0, grad_avg when centered.
void rmsprop_step_(const Tensor& param, const Tensor& grad, const Tensor& square_avg,
                   const Tensor& momentum_buffer, const Tensor& grad_avg, double lr,
                   double alpha, double eps, double weight_decay, double momentum,
                   bool centered, bool maximize);

// torch.optim.Adagrad; `step` counted like adam_step_, for lr_decay.
void adagrad_step_(const Tensor& param, const Tensor& grad, const Tensor& state_sum,
                   double lr, double lr_decay, double weight_decay, double eps,
                   bool maximize, double step);

}  // namespace fastgrad
