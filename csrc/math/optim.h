// Per-element optimizer updates, shared by CPU and CUDA. Each functor gets
// references to one element of the parameter, its gradient and its state
// tensors and updates them in place. The arithmetic follows the order of
// PyTorch's single-tensor (for-loop) implementations step by step, with every
// hyperparameter cast to T once on the host, so float32 trajectories match.
// Optional state (momentum buffer, max_exp_avg_sq, grad_avg) is a scratch
// reference when disabled and is then neither read nor written meaningfully.
#pragma once
#include <cmath>

#include "math/host_device.h"

namespace fastgrad::math {

// torch.lerp: start + w * (end - start), from the other end when w >= 0.5.
template <class T>
FG_HOST_DEVICE T lerp(T start, T end, T w) {
  return std::abs(w) < T(0.5) ? start + w * (end - start) : end - (end - start) * (T(1) - w);
}

template <class T>
struct SgdFn {
  T neg_lr, momentum, one_minus_dampening, weight_decay;
  bool use_momentum, nesterov, maximize, first_step, use_weight_decay;

  FG_HOST_DEVICE void operator()(T& p, T& grad, T& buf) const {
    T g = maximize ? -grad : grad;
    if (use_weight_decay) g = g + weight_decay * p;
    if (use_momentum) {
      // The first step copies the gradient into the buffer (no dampening).
      buf = first_step ? g : T(buf * momentum) + one_minus_dampening * g;
      g = nesterov ? g + momentum * buf : buf;
    }
    p = p + neg_lr * g;
  }
};

// Adam and AdamW (decoupled weight decay); bias corrections come from the host.
template <class T>
struct AdamFn {
  T one_minus_beta1, beta2, one_minus_beta2, eps, neg_step_size, bias_correction2_sqrt;
  T weight_decay, decay_factor;  // decay_factor = 1 - lr * weight_decay (AdamW)
  bool use_weight_decay, decoupled, amsgrad, maximize;

  FG_HOST_DEVICE void operator()(T& p, T& grad, T& exp_avg, T& exp_avg_sq,
                                 T& max_exp_avg_sq) const {
    T g = maximize ? -grad : grad;
    if (use_weight_decay) {
      if (decoupled) p = p * decay_factor;
      else g = g + weight_decay * p;
    }
    exp_avg = lerp(exp_avg, g, one_minus_beta1);
    exp_avg_sq = T(exp_avg_sq * beta2) + one_minus_beta2 * g * g;
    T v = exp_avg_sq;
    if (amsgrad) {
      // NaN-propagating maximum, like torch.maximum.
      T m = max_exp_avg_sq;
      max_exp_avg_sq = (m != m || v != v) ? m + v : (m > v ? m : v);
      v = max_exp_avg_sq;
    }
    T denom = std::sqrt(v) / bias_correction2_sqrt + eps;
    p = p + neg_step_size * (exp_avg / denom);
  }
};

template <class T>
struct RmspropFn {
  T neg_lr, alpha, one_minus_alpha, eps, weight_decay, momentum;
  bool use_weight_decay, use_momentum, centered, maximize;

  FG_HOST_DEVICE void operator()(T& p, T& grad, T& square_avg, T& buf, T& grad_avg) const {
    T g = maximize ? -grad : grad;
    if (use_weight_decay) g = g + weight_decay * p;
    square_avg = T(square_avg * alpha) + one_minus_alpha * g * g;
    T avg;
    if (centered) {
      grad_avg = lerp(grad_avg, g, one_minus_alpha);
      avg = std::sqrt(square_avg + T(-1) * grad_avg * grad_avg);
    } else {
      avg = std::sqrt(square_avg);
    }
    avg = avg + eps;
    if (use_momentum) {
      buf = T(buf * momentum) + g / avg;
      p = p + neg_lr * buf;
    } else {
      p = p + neg_lr * (g / avg);
    }
  }
};

template <class T>
struct AdagradFn {
  T neg_clr, eps, weight_decay;  // clr: lr decayed for this step on the host
  bool use_weight_decay, maximize;

  FG_HOST_DEVICE void operator()(T& p, T& grad, T& sum) const {
    T g = maximize ? -grad : grad;
    if (use_weight_decay) g = g + weight_decay * p;
    sum = sum + g * g;
    T std_ = std::sqrt(sum) + eps;
    p = p + neg_clr * (g / std_);
  }
};

}  // namespace fastgrad::math
