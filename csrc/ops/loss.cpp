// Pointwise losses: one fused pass computes each element's loss and folds the
// reduction in (double accumulators per fixed-size block, summed in block
// order: the result does not depend on the thread count). Backward rules are
// fastgrad ops, so create_graph works through them. The per-element losses
// are the FG_HOST_DEVICE functors of math/loss.h: on CUDA the same functor
// runs through launch and the reduction kernels add up (in double).
#include <array>
#include <cmath>
#include <utility>
#include <vector>

#include "autograd/grad_mode.h"
#include "backend/cpu/parallel.h"
#include "math/loss.h"
#include "ops/elementwise.h"
#include "ops/elementwise_ops.h"
#include "ops/grad_utils.h"
#include "ops/loss_ops.h"
#include "ops/reduce_ops.h"
#include "ops/shape_ops.h"
#include "ops/transfers.h"

namespace fastgrad {

Reduction parse_reduction(const char* op, const std::string& reduction) {
  if (reduction == "none") return Reduction::None;
  if (reduction == "mean") return Reduction::Mean;
  if (reduction == "sum") return Reduction::Sum;
  fail<ValueError>(op, ": ", reduction,
                   " is not a valid value for reduction (expected 'mean', 'sum' or 'none')");
}

Tensor apply_reduction(const Tensor& loss, Reduction r) {
  if (r == Reduction::Mean) return mean(loss);
  if (r == Reduction::Sum) return sum(loss);
  return loss;
}

namespace {

constexpr int64_t kBlock = 8192;

// out = f(i) for i in [0, n) ('none', shaped `sizes`) or its sum / divisor.
template <class T, class F>
Tensor map_reduce(const Shape& sizes, Reduction r, double divisor, const F& f) {
  const int64_t n = numel_of(sizes);
  if (r == Reduction::None) {
    Tensor out = empty(sizes, dtype_of<T>::value);
    T* o = out.data<T>();
    cpu::parallel_for(0, n, cpu::kGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) o[i] = static_cast<T>(f(i));
    });
    return out;
  }
  const int64_t nb = (n + kBlock - 1) / kBlock;
  std::vector<double> part(static_cast<size_t>(nb), 0.0);
  cpu::parallel_for(0, nb, 4, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      double acc = 0;
      const int64_t e = std::min(n, (b + 1) * kBlock);
      for (int64_t i = b * kBlock; i < e; ++i) acc += static_cast<double>(f(i));
      part[static_cast<size_t>(b)] = acc;
    }
  });
  double total = 0;
  for (double p : part) total += p;
  if (r == Reduction::Mean) total /= divisor;  // mean of nothing: 0/0 = nan
  Tensor out = empty({}, dtype_of<T>::value);
  *out.data<T>() = static_cast<T>(total);
  return out;
}

template <class Fn, class P, class S, size_t... K>
auto call_at(const Fn& fn, const P& p, const S& step, int64_t i, std::index_sequence<K...>) {
  return fn(p[K][i * step[K]]...);
}

// fn(a_i, b_i, ...) over operands shaped like ins[0] (or 0-d: broadcast
// factors), folded by the reduction: on the CPU in one fused pass
// (map_reduce, operands contiguous); on CUDA through launch, then sum() in
// float64 as the CPU accumulates.
template <class T, size_t N, class Fn>
Tensor loss_map_reduce(const char* op, const std::array<Tensor, N>& ins, Reduction r,
                       double divisor, const Fn& fn) {
  const Tensor& x = ins[0];
  if (!x.device().is_cpu()) {
    Tensor l = empty(x.sizes(), x.dtype(), x.device());
    std::array<const Tensor*, N> p;
    for (size_t k = 0; k < N; ++k) p[k] = &ins[k];
    if constexpr (N == 2) launch<T, T, T>(op, l, p, fn);
    else if constexpr (N == 3) launch<T, T, T, T>(op, l, p, fn);
    else launch<T, T, T, T, T>(op, l, p, fn);
    if (r == Reduction::None) return l;
    autograd::GradModeGuard no_grad(false);
    Tensor total = sum(l, std::nullopt, false, DType::Float64);
    if (r == Reduction::Mean) total = div(total, divisor);  // mean of nothing: nan
    return to_dtype(total, x.dtype());
  }
  std::array<const T*, N> p;
  std::array<int64_t, N> step;
  for (size_t k = 0; k < N; ++k) {
    p[k] = ins[k].template data<T>();
    step[k] = ins[k].sizes() == x.sizes() ? 1 : 0;
  }
  return map_reduce<T>(x.sizes(), r, divisor, [&](int64_t i) {
    return call_at(fn, p, step, i, std::make_index_sequence<N>{});
  });
}

// Whether every element of x (contiguous, floating) lies in [0, 1] (NaN does
// not). On CUDA the flag crosses to the host: an implicit transfer that the
// ledger shows and strict mode refuses.
bool all_probabilities(const Tensor& x) {
  if (x.device().is_cpu())
    return dispatch_float(x.dtype(), "binary_cross_entropy", [&](auto tag) {
      using T = decltype(tag);
      const T* p = x.data<T>();
      for (int64_t i = 0, n = x.numel(); i < n; ++i)
        if (!(p[i] >= T(0) && p[i] <= T(1))) return false;
      return true;
    });
  autograd::GradModeGuard no_grad(false);
  Tensor bad = any(logical_not(logical_and(ge(x, 0), le(x, 1))));
  return !*to_device_implicit(bad, Device{}, "binary_cross_entropy (range check)").data<bool>();
}

// The float dtype both sides compute in, after the shape check PyTorch's
// broadcasting would skip (see loss_ops.h).
DType check_pair(const char* op, const Tensor& x, const Tensor& t) {
  if (x.sizes() != t.sizes())
    fail<ValueError>(op, ": expected target of the same shape as input ", list_str(x.sizes()),
                     ", got ", list_str(t.sizes()),
                     " (fastgrad does not broadcast loss targets)");
  FG_CHECK(x.device() == t.device(), op, ": input on ", x.device(), " but target on ",
           t.device());
  DType dt = promote_types(x.dtype(), t.dtype());
  FG_CHECK_TYPE(is_floating(dt), op, ": expected floating point input and target, got ",
                x.dtype(), " and ", t.dtype());
  return dt;
}

// An optional per-element factor (weight, pos_weight) broadcast to `sizes`
// and made contiguous in dtype `dt`.
Tensor expand_factor(const char* op, const char* what, const Tensor& w, const Shape& sizes,
                     DType dt) {
  Shape b;
  try {
    b = broadcast_shapes(w.sizes(), sizes, op);
  } catch (const std::exception&) {
    b = {};
  }
  if (b != sizes)
    fail<ValueError>(op, ": ", what, " of shape ", list_str(w.sizes()),
                     " does not broadcast to the input shape ", list_str(sizes));
  return contiguous(expand(to_dtype(w, dt), sizes));
}

// d(loss)/d(x) factor for the upstream gradient g: g itself ('none') or g
// spread over the elements (a 0-d tensor times 1/divisor for 'mean').
Tensor spread(const Tensor& g, Reduction r, double divisor) {
  return r == Reduction::Mean ? div(g, divisor) : g;
}

// The shared frame of the (input, target) losses: checks, the fused forward
// with per-element functor Fn(x, t) and the backward rule
// grads(g, x, t) -> {dx, dt} (g already spread).
template <class Fn, class Grads>
Tensor pointwise(const char* op, const char* node, const Tensor& x, const Tensor& t,
                 const std::string& reduction, double batch_div, Fn fn, Grads grads) {
  DType dt = check_pair(op, x, t);
  if (is_16bit_float(dt))  // Note [16-bit floats]
    return to_dtype(pointwise(op, node, as_float32(x), as_float32(t), reduction, batch_div,
                              fn, grads),
                    dt);
  Reduction r = reduction == "batchmean" ? Reduction::Mean : parse_reduction(op, reduction);
  double divisor = batch_div > 0 ? batch_div : static_cast<double>(x.numel());
  Tensor xi = to_dtype(x, dt), ti = to_dtype(t, dt);
  Tensor xc = contiguous(xi), tc = contiguous(ti);
  Tensor out = dispatch_float(dt, op, [&](auto tag) {
    return loss_map_reduce<decltype(tag), 2>(op, {xc, tc}, r, divisor, fn);
  });
  maybe_record(node, {xi, ti}, {out}, {xi, ti},
               [r, divisor, grads](const FunctionNode& n, const Tensors& gs) -> Tensors {
                 Tensor g = spread(gs[0], r, divisor);
                 return grads(n, g, n.saved(0), n.saved(1));
               });
  return out;
}

}  // namespace

Tensor mse_loss(const Tensor& input, const Tensor& target, const std::string& reduction) {
  return pointwise(
      "mse_loss", "MseLossBackward", input, target, reduction, 0,
      math::MseLossFn{},
      [](const FunctionNode& n, const Tensor& g, const Tensor& x, const Tensor& t) -> Tensors {
        Tensor d = mul(mul(sub(x, t), 2), g);
        return {d, n.needs_input_grad(1) ? neg(d) : Tensor()};
      });
}

Tensor l1_loss(const Tensor& input, const Tensor& target, const std::string& reduction) {
  return pointwise(
      "l1_loss", "L1LossBackward", input, target, reduction, 0,
      math::L1LossFn{},
      [](const FunctionNode& n, const Tensor& g, const Tensor& x, const Tensor& t) -> Tensors {
        Tensor d = mul(sign(sub(x, t)), g);
        return {d, n.needs_input_grad(1) ? neg(d) : Tensor()};
      });
}

// |d| < beta: d^2 / (2 beta), else |d| - beta / 2; the gradient is
// clamp(d / beta, -1, 1) (sign(d) when beta = 0, which is l1_loss).
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target,
                      const std::string& reduction, double beta) {
  FG_CHECK(beta >= 0, "smooth_l1_loss: beta must be non-negative, got ", beta);
  return pointwise(
      "smooth_l1_loss", "SmoothL1LossBackward", input, target, reduction, 0,
      math::SmoothL1LossFn{beta},
      [beta](const FunctionNode& n, const Tensor& g, const Tensor& x,
             const Tensor& t) -> Tensors {
        Tensor d = sub(x, t);
        Tensor slope = beta == 0 ? sign(d)
                                 : clamp(div(d, beta), std::optional<Scalar>(Scalar(-1.0)),
                                         std::optional<Scalar>(Scalar(1.0)));
        Tensor gx = mul(slope, g);
        return {gx, n.needs_input_grad(1) ? neg(gx) : Tensor()};
      });
}

// |d| < delta: d^2 / 2, else delta (|d| - delta / 2); gradient clamp(d, +-delta).
Tensor huber_loss(const Tensor& input, const Tensor& target, const std::string& reduction,
                  double delta) {
  FG_CHECK(delta > 0, "huber_loss: delta must be positive, got ", delta);
  return pointwise(
      "huber_loss", "HuberLossBackward", input, target, reduction, 0,
      math::HuberLossFn{delta},
      [delta](const FunctionNode& n, const Tensor& g, const Tensor& x,
              const Tensor& t) -> Tensors {
        Tensor gx = mul(clamp(sub(x, t), std::optional<Scalar>(Scalar(-delta)),
                              std::optional<Scalar>(Scalar(delta))),
                        g);
        return {gx, n.needs_input_grad(1) ? neg(gx) : Tensor()};
      });
}

// target (log(target) - input), with 0 log 0 = 0 (xlogy); or with log-space
// targets exp(target) (target - input).
Tensor kl_div(const Tensor& input, const Tensor& target, const std::string& reduction,
              bool log_target) {
  double batch = 0;
  if (reduction == "batchmean") batch = input.dim() > 0 ? static_cast<double>(input.size(0)) : 1;
  auto grads = [log_target](const FunctionNode& n, const Tensor& g, const Tensor& x,
                            const Tensor& t) -> Tensors {
    if (log_target) {
      Tensor et = exp(t);
      Tensor gx = n.needs_input_grad(0) ? neg(mul(et, g)) : Tensor();
      Tensor gt = n.needs_input_grad(1) ? mul(mul(et, add(sub(t, x), Scalar(1))), g) : Tensor();
      return {gx, gt};
    }
    Tensor gx = n.needs_input_grad(0) ? neg(mul(t, g)) : Tensor();
    Tensor gt = n.needs_input_grad(1) ? mul(add(sub(log(t), x), Scalar(1)), g) : Tensor();
    return {gx, gt};
  };
  return pointwise("kl_div", "KlDivBackward", input, target, reduction, batch,
                   math::KlDivFn{log_target}, grads);
}

// -w (t max(log x, -100) + (1 - t) max(log(1 - x), -100)); the gradient
// w (x - t) / max(x (1 - x), 1e-12) stays finite at x = 0 or 1.
Tensor binary_cross_entropy(const Tensor& input, const Tensor& target,
                            const std::optional<Tensor>& weight,
                            const std::string& reduction) {
  const char* op = "binary_cross_entropy";
  DType dt = check_pair(op, input, target);
  if (is_16bit_float(dt))  // Note [16-bit floats]
    return to_dtype(binary_cross_entropy(as_float32(input), as_float32(target),
                                         weight ? as_float32(*weight) : weight, reduction),
                    dt);
  Reduction r = parse_reduction(op, reduction);
  const double divisor = static_cast<double>(input.numel());
  Tensor xi = to_dtype(input, dt), ti = to_dtype(target, dt);
  Tensor xc = contiguous(xi), tc = contiguous(ti);
  Tensor w = weight ? expand_factor(op, "weight", *weight, input.sizes(), dt) : Tensor();
  const bool in_range = all_probabilities(xc);
  FG_CHECK(in_range, op,
           ": all elements of input should be between 0 and 1 (probabilities; use "
           "binary_cross_entropy_with_logits for logits)");
  Tensor one = scalar_tensor(Scalar(1.0), dt);  // a missing weight
  Tensor out = dispatch_float(dt, op, [&](auto tag) {
    return loss_map_reduce<decltype(tag), 3>(op, {xc, tc, w.defined() ? w : one}, r, divisor,
                                             math::BceLossFn{});
  });
  maybe_record("BinaryCrossEntropyBackward", {xi, ti}, {out}, {xi, ti, w},
               [r, divisor](const FunctionNode& n, const Tensors& gs) -> Tensors {
                 Tensor x = n.saved(0), t = n.saved(1), w = n.saved(2);
                 Tensor g = spread(gs[0], r, divisor);
                 if (w.defined()) g = mul(g, w);
                 Tensor gx, gt;
                 if (n.needs_input_grad(0))
                   gx = mul(g, div(sub(x, t),
                                   clamp(mul(x, sub(1, x)), std::optional<Scalar>(1e-12),
                                         std::optional<Scalar>())));
                 if (n.needs_input_grad(1)) {
                   auto lo = std::optional<Scalar>(Scalar(-100.0));
                   auto none = std::optional<Scalar>();
                   gt = mul(g, sub(clamp(log1p(neg(x)), lo, none), clamp(log(x), lo, none)));
                 }
                 return {gx, gt};
               });
  return out;
}

// With lw = 1 + (pos_weight - 1) t:
//   w ((1 - t) x + lw (log1p(exp(-|x|)) + max(-x, 0)))
// (softplus(-x) without overflow); d/dx = w (lw sigmoid(x) - pos_weight t),
// d/dt = w ((pos_weight - 1) softplus(-x) - x).
Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        const std::optional<Tensor>& weight,
                                        const std::optional<Tensor>& pos_weight,
                                        const std::string& reduction) {
  const char* op = "binary_cross_entropy_with_logits";
  DType dt = check_pair(op, input, target);
  if (is_16bit_float(dt))  // Note [16-bit floats]
    return to_dtype(binary_cross_entropy_with_logits(
                        as_float32(input), as_float32(target),
                        weight ? as_float32(*weight) : weight,
                        pos_weight ? as_float32(*pos_weight) : pos_weight, reduction),
                    dt);
  Reduction r = parse_reduction(op, reduction);
  const double divisor = static_cast<double>(input.numel());
  Tensor xi = to_dtype(input, dt), ti = to_dtype(target, dt);
  Tensor xc = contiguous(xi), tc = contiguous(ti);
  Tensor w = weight ? expand_factor(op, "weight", *weight, input.sizes(), dt) : Tensor();
  Tensor pw =
      pos_weight ? expand_factor(op, "pos_weight", *pos_weight, input.sizes(), dt) : Tensor();
  Tensor one = scalar_tensor(Scalar(1.0), dt);  // a missing weight / pos_weight
  Tensor out = dispatch_float(dt, op, [&](auto tag) {
    return loss_map_reduce<decltype(tag), 4>(
        op, {xc, tc, w.defined() ? w : one, pw.defined() ? pw : one}, r, divisor,
        math::BceWithLogitsLossFn{pw.defined()});
  });
  maybe_record("BinaryCrossEntropyWithLogitsBackward", {xi, ti}, {out}, {xi, ti, w, pw},
               [r, divisor](const FunctionNode& n, const Tensors& gs) -> Tensors {
                 Tensor x = n.saved(0), t = n.saved(1), w = n.saved(2), pw = n.saved(3);
                 Tensor g = spread(gs[0], r, divisor);
                 if (w.defined()) g = mul(g, w);
                 Tensor gx, gt;
                 if (n.needs_input_grad(0)) {
                   Tensor s = sigmoid(x);
                   gx = pw.defined() ? sub(mul(add(mul(sub(pw, 1), t), Scalar(1)), s), mul(pw, t))
                                     : sub(s, t);
                   gx = mul(g, gx);
                 }
                 if (n.needs_input_grad(1)) {
                   gt = neg(x);
                   if (pw.defined()) {
                     // softplus(-x) = relu(-x) + log1p(exp(-|x|))
                     Tensor sp = add(relu(neg(x)), log1p(exp(neg(abs(x)))));
                     gt = add(gt, mul(sub(pw, 1), sp));
                   }
                   gt = mul(g, gt);
                 }
                 return {gx, gt};
               });
  return out;
}

}  // namespace fastgrad
