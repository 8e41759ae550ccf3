// Fused optimizer steps: host-side hyperparameter math and checks, then one
// pass of the functor from math/optim.h over parameter, gradient and state.
#include <cmath>

#include "core/check.h"
#include "math/optim.h"
#include "ops/elementwise.h"
#include "ops/launch.h"
#include "ops/optim_ops.h"

namespace fastgrad {

namespace {

struct Operand {
  const char* name;
  const Tensor* t;  // null or undefined: optional state that is switched off
};

// Operand 0 is the parameter, 1 its gradient, the rest state tensors. All
// must be float32/float64 tensors of the parameter's shape, dtype and device;
// written ones must not have overlapping elements.
template <size_t N>
std::array<const Tensor*, N> checked(const char* op, const std::array<Operand, N>& ops) {
  const Tensor& p = *ops[0].t;
  FG_CHECK(p.defined(), op, ": parameter is undefined");
  FG_CHECK_TYPE(is_floating(p.dtype()), op,
                ": expected a floating-point parameter, got ", p.dtype());
  std::array<const Tensor*, N> out{};
  for (size_t k = 0; k < N; ++k) {
    const Tensor* t = ops[k].t;
    if (!t || !t->defined()) {
      FG_CHECK(k >= 2, op, ": ", ops[k].name, " is undefined");
      continue;
    }
    FG_CHECK(t->sizes() == p.sizes(), op, ": ", ops[k].name, " of shape ",
             shape_str(t->sizes()), " does not match the parameter's shape ",
             shape_str(p.sizes()));
    FG_CHECK_TYPE(t->dtype() == p.dtype(), op, ": ", ops[k].name, " has dtype ", t->dtype(),
                  " but the parameter has dtype ", p.dtype());
    FG_CHECK(t->device() == p.device(), op, ": ", ops[k].name, " is on ", t->device(),
             " but the parameter is on ", p.device());
    if (k != 1) check_writable(op, *t);
    out[k] = t;
  }
  return out;
}

// Runs `make_fn(T{})`'s functor over the operands and bumps every written
// tensor's version (not the gradient's). No autograd: see optim_ops.h.
template <size_t N, class MakeFn>
void fused_step(const char* op, const std::array<Operand, N>& operands, MakeFn make_fn) {
  auto ops = checked(op, operands);
  if (is_16bit_float(ops[0]->dtype())) {
    // Note [16-bit floats]: the float32 step on copies, each written tensor
    // rounded back once (PyTorch's fused steps also compute in float32).
    autograd::GradModeGuard no_grad(false);
    std::array<Tensor, N> f;
    std::array<Operand, N> f_ops = operands;
    for (size_t k = 0; k < N; ++k) {
      if (ops[k]) f[k] = to_dtype(*ops[k], DType::Float32);
      f_ops[k].t = ops[k] ? &f[k] : nullptr;
    }
    fused_step<N>(op, f_ops, make_fn);
    for (size_t k = 0; k < N; ++k)
      if (k != 1 && ops[k]) copy_(*ops[k], f[k], op);
    return;
  }
  dispatch_float(ops[0]->dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    launch_inplace<T, N>(op, ops[0]->sizes(), ops, make_fn(tag));
  });
  for (size_t k = 0; k < N; ++k)
    if (k != 1 && ops[k]) ops[k]->bump_version(op);
}

}  // namespace

void sgd_step_(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer,
               double lr, double momentum, double dampening, double weight_decay,
               bool nesterov, bool maximize, bool first_step) {
  const char* op = "sgd_step_";
  bool use_momentum = momentum != 0;
  FG_CHECK(!use_momentum || momentum_buffer.defined(), op,
           ": momentum != 0 needs a momentum_buffer");
  fused_step<3>(op, {Operand{"param", &param}, {"grad", &grad},
                     {"momentum_buffer", use_momentum ? &momentum_buffer : nullptr}},
                [&](auto tag) {
                  using T = decltype(tag);
                  return math::SgdFn<T>{T(-lr), T(momentum), T(1 - dampening),
                                        T(weight_decay), use_momentum, nesterov,
                                        maximize, first_step, weight_decay != 0};
                });
}

void adam_step_(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                const Tensor& exp_avg_sq, const Tensor& max_exp_avg_sq, double lr,
                double beta1, double beta2, double eps, double weight_decay, bool amsgrad,
                bool maximize, bool decoupled_weight_decay, double step) {
  const char* op = "adam_step_";
  FG_CHECK(!amsgrad || max_exp_avg_sq.defined(), op, ": amsgrad needs max_exp_avg_sq");
  FG_CHECK_VALUE(step >= 1, op, ": step must be >= 1, got ", step);
  // Same double-precision host math as PyTorch's for-loop Adam.
  double bias_correction1 = 1 - std::pow(beta1, step);
  double bias_correction2 = 1 - std::pow(beta2, step);
  double step_size = lr / bias_correction1;
  double bias_correction2_sqrt = std::pow(bias_correction2, 0.5);
  fused_step<5>(op, {Operand{"param", &param}, {"grad", &grad}, {"exp_avg", &exp_avg},
                     {"exp_avg_sq", &exp_avg_sq},
                     {"max_exp_avg_sq", amsgrad ? &max_exp_avg_sq : nullptr}},
                [&](auto tag) {
                  using T = decltype(tag);
                  return math::AdamFn<T>{T(1 - beta1), T(beta2), T(1 - beta2), T(eps),
                                         T(-step_size), T(bias_correction2_sqrt),
                                         T(weight_decay), T(1 - lr * weight_decay),
                                         weight_decay != 0, decoupled_weight_decay,
                                         amsgrad, maximize};
                });
}

void rmsprop_step_(const Tensor& param, const Tensor& grad, const Tensor& square_avg,
                   const Tensor& momentum_buffer, const Tensor& grad_avg, double lr,
                   double alpha, double eps, double weight_decay, double momentum,
                   bool centered, bool maximize) {
  const char* op = "rmsprop_step_";
  bool use_momentum = momentum > 0;
  FG_CHECK(!use_momentum || momentum_buffer.defined(), op,
           ": momentum > 0 needs a momentum_buffer");
  FG_CHECK(!centered || grad_avg.defined(), op, ": centered needs grad_avg");
  fused_step<5>(op, {Operand{"param", &param}, {"grad", &grad}, {"square_avg", &square_avg},
                     {"momentum_buffer", use_momentum ? &momentum_buffer : nullptr},
                     {"grad_avg", centered ? &grad_avg : nullptr}},
                [&](auto tag) {
                  using T = decltype(tag);
                  return math::RmspropFn<T>{T(-lr), T(alpha), T(1 - alpha), T(eps),
                                            T(weight_decay), T(momentum),
                                            weight_decay != 0, use_momentum, centered,
                                            maximize};
                });
}

void adagrad_step_(const Tensor& param, const Tensor& grad, const Tensor& state_sum,
                   double lr, double lr_decay, double weight_decay, double eps,
                   bool maximize, double step) {
  const char* op = "adagrad_step_";
  double clr = lr / (1 + (step - 1) * lr_decay);
  fused_step<3>(op, {Operand{"param", &param}, {"grad", &grad}, {"state_sum", &state_sum}},
                [&](auto tag) {
                  using T = decltype(tag);
                  return math::AdagradFn<T>{T(-clr), T(eps), T(weight_decay),
                                            weight_decay != 0, maximize};
                });
}

}  // namespace fastgrad
