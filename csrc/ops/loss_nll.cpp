// nll_loss (a dedicated kernel, both directions) and cross_entropy
// (log_softmax + nll_loss, label smoothing and probability targets composed
// from fastgrad ops). Inputs are seen as (N, C, S): S = d1 * d2 * ...
// On CUDA the per-target functors of math/loss.h run through
// backend/cuda/index_loop.cuh; the fused cross_entropy has its own line kernel
// (backend/cuda/cross_entropy.cuh) over the same per-line math.
#include <cmath>
#include <limits>
#include <vector>

#include "backend/cpu/exp_lines.h"
#include "backend/cpu/parallel.h"
#include "math/loss.h"
#if defined(__CUDACC__)
#include "backend/cuda/cross_entropy.cuh"
#include "backend/cuda/index_loop.cuh"
#endif
#include "ops/elementwise.h"
#include "ops/elementwise_ops.h"
#include "ops/factory_ops.h"
#include "ops/grad_utils.h"
#include "ops/loss_ops.h"
#include "ops/reduce_ops.h"
#include "ops/shape_ops.h"
#include "ops/transfers.h"

namespace fastgrad {

namespace {

struct NllGeom {
  int64_t n = 1, c = 1, s = 1;
};

NllGeom geometry(const Tensor& x) {
  NllGeom g;
  if (x.dim() == 1) {
    g.c = x.size(0);
    return g;
  }
  g.n = x.size(0);
  g.c = x.size(1);
  for (int64_t d = 2; d < x.dim(); ++d) g.s *= x.size(d);
  return g;
}

// The class-index target shape for input x: (), (N) or (N, d1, ...).
Shape index_target_shape(const Tensor& x) {
  if (x.dim() == 1) return {};
  Shape s{x.size(0)};
  for (int64_t d = 2; d < x.dim(); ++d) s.push_back(x.size(d));
  return s;
}

void check_input(const char* op, const Tensor& x) {
  FG_CHECK(x.dim() >= 1, op,
           ": expected input of shape (C), (N, C) or (N, C, d1, ...), got a 0-d tensor");
  FG_CHECK_TYPE(is_floating(x.dtype()), op, ": expected a floating point input, got ",
                x.dtype());
}

// Weight as a contiguous (C) tensor in x's dtype, or undefined.
Tensor check_weight(const char* op, const Tensor& x, const std::optional<Tensor>& weight,
                    int64_t c) {
  if (!weight) return Tensor();
  const Tensor& w = *weight;
  FG_CHECK(w.dim() == 1 && w.size(0) == c, op,
           ": weight tensor should be defined either for all ", c,
           " classes or no classes but got weight tensor of shape: ", list_str(w.sizes()));
  FG_CHECK(w.device() == x.device(), op, ": weight on ", w.device(), " but input on ",
           x.device());
  FG_CHECK_TYPE(is_floating(w.dtype()), op, ": expected a floating point weight, got ",
                w.dtype());
  autograd::GradModeGuard no_grad(false);  // like PyTorch, no gradient for weight
  return contiguous(to_dtype(w, x.dtype()));
}

// t itself on the CPU, else a CPU copy (targets and weights are read on the
// host for the bounds check and the total weight: N*S + C values). The copy
// is an implicit transfer: the ledger shows it, strict mode refuses it.
Tensor on_host(const Tensor& t) {
  if (!t.defined() || t.device().is_cpu()) return t;
  return to_device_implicit(t, Device{}, "nll_loss (target check)");
}

// Raises "no kernel for device" where no per-index CUDA loop was compiled.
template <class F>
void run_indexed(const char* op, const Tensor& like, int64_t n, const F& f) {
#if defined(__CUDACC__)
  if (like.device().is_cuda()) return cuda::for_each_index(op, n, f, like.device().index);
#endif
  if (!like.device().is_cpu()) fail<NotImplementedError>(op, ": no kernel for device ", like.device());
  cpu::parallel_for(0, n, cpu::kGrain / 8, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) f(i);
  });
}

// Int64 contiguous targets; IndexError for an index outside [0, C) that is
// not ignore_index (checked before any kernel reads through it).
Tensor check_targets(const char* op, const Tensor& target, int64_t c, int64_t ignore_index) {
  Tensor t = contiguous(to_dtype(target, DType::Int64));
  Tensor th = on_host(t);
  const int64_t* tp = th.data<int64_t>();
  for (int64_t i = 0, n = t.numel(); i < n; ++i) {
    int64_t v = tp[i];
    if (v != ignore_index && (v < 0 || v >= c))
      fail<IndexError>(op, ": Target ", v, " is out of bounds. (expected class indices in [0, ",
                       c, ") or ignore_index=", ignore_index, ")");
  }
  return t;
}

void check_index_target(const char* op, const Tensor& x, const Tensor& target) {
  FG_CHECK(target.device() == x.device(), op, ": target on ", target.device(),
           " but input on ", x.device());
  Shape want = index_target_shape(x);
  if (is_floating(target.dtype()) || target.dtype() == DType::Bool)
    fail<RuntimeError>(op, ": expected a target of class indices (int64) of shape ",
                       list_str(want), ", got a ", target.dtype(), " tensor of shape ",
                       list_str(target.sizes()));
  if (target.sizes() != want)
    fail<ValueError>(op, ": expected target of shape ", list_str(want),
                     " (class indices) for input of shape ", list_str(x.sizes()), ", got ",
                     list_str(target.sizes()));
}

// Sum of the weights (1 without weight) of the non-ignored targets: the
// divisor of the 'mean' reduction.
double total_weight(const Tensor& target, const Tensor& weight, int64_t ignore_index) {
  Tensor t = on_host(target), w = on_host(weight);
  const int64_t* tp = t.data<int64_t>();
  return dispatch_float(w.defined() ? w.dtype() : DType::Float64, "nll_loss", [&](auto tag) {
    using T = decltype(tag);
    const T* wp = w.defined() ? w.data<T>() : nullptr;
    double acc = 0;
    for (int64_t i = 0, n = t.numel(); i < n; ++i)
      if (tp[i] != ignore_index) acc += wp ? static_cast<double>(wp[tp[i]]) : 1.0;
    return acc;
  });
}

// Forward on checked inputs: x (any layout), t contiguous int64, w contiguous or undefined.
Tensor nll_forward(const Tensor& x, const Tensor& t, const Tensor& w, Reduction r,
                   int64_t ignore_index);

// d(loss)/d(x) as a recorded op: x-shaped zeros with -w[t] g at each target.
// It is linear in g, so its own backward is nll_forward of the incoming gradient.
Tensor nll_backward(const Tensor& g, const Tensor& t, const Tensor& w, const Shape& sizes,
                    DType dt, Reduction r, int64_t ignore_index, double tw) {
  Tensor gi = zeros(sizes, dt, g.device());
  Tensor gc = contiguous(to_dtype(g, dt));
  NllGeom geo;
  geo.n = sizes.size() == 1 ? 1 : sizes[0];
  geo.c = sizes.size() == 1 ? sizes[0] : sizes[1];
  for (size_t d = 2; d < sizes.size(); ++d) geo.s *= sizes[d];
  dispatch_float(dt, "nll_loss_backward", [&](auto tag) {
    using T = decltype(tag);
    const T scale = r == Reduction::Mean ? static_cast<T>(1.0 / tw) : T(1);
    const math::TargetCoef<T> coef{t.data<int64_t>(), w.defined() ? w.data<T>() : nullptr,
                                   gc.data<T>(), ignore_index, scale, r == Reduction::None};
    const math::NllGradFn<T> f{coef, gi.data<T>(), geo.c, geo.s};
    run_indexed("nll_loss_backward", gi, geo.n * geo.s, f);
  });
  maybe_record("NllLossBackwardBackward", {gc}, {gi}, {t, w},
               [r, ignore_index](const FunctionNode& n, const Tensors& gs) -> Tensors {
                 return {nll_forward(gs[0], n.saved(0), n.saved(1), r, ignore_index)};
               });
  return gi;
}

Tensor nll_forward(const Tensor& x, const Tensor& t, const Tensor& w, Reduction r,
                   int64_t ignore_index) {
  const NllGeom geo = geometry(x);
  Tensor xc = contiguous(x);
  const double tw = r == Reduction::Mean ? total_weight(t, w, ignore_index) : 1.0;
  Tensor out = dispatch_float(x.dtype(), "nll_loss", [&](auto tag) {
    using T = decltype(tag);
    const int64_t m = geo.n * geo.s;
    const math::NllTermFn<T> term{xc.data<T>(), t.data<int64_t>(),
                                  w.defined() ? w.data<T>() : nullptr, geo.c, geo.s,
                                  ignore_index};
    if (!x.device().is_cpu()) {  // per-target terms on the device, summed in double
      Tensor o = empty(t.sizes(), x.dtype(), x.device());
      run_indexed("nll_loss", o, m, math::StoreIndexedFn<T, math::NllTermFn<T>>{o.data<T>(), term});
      if (r == Reduction::None) return o;
      autograd::GradModeGuard no_grad(false);
      Tensor total = sum(o, std::nullopt, false, DType::Float64);
      if (r == Reduction::Mean) total = div(total, tw);
      return to_dtype(total, x.dtype());
    }
    if (r == Reduction::None) {
      Tensor o = empty(t.sizes(), x.dtype(), x.device());
      T* op = o.data<T>();
      cpu::parallel_for(0, m, cpu::kGrain / 8, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) op[i] = term(i);
      });
      return o;
    }
    double acc = 0;  // one pass, serial: m is the number of targets, not N*C
    for (int64_t i = 0; i < m; ++i) acc += static_cast<double>(term(i));
    if (r == Reduction::Mean) acc /= tw;  // all ignored: 0 / 0 = nan, like PyTorch
    Tensor o = empty({}, x.dtype(), x.device());
    *o.data<T>() = static_cast<T>(acc);
    return o;
  });
  maybe_record("NllLossBackward", {x}, {out}, {t, w},
               [r, ignore_index, tw, sizes = x.sizes(), dt = x.dtype()](
                   const FunctionNode& n, const Tensors& gs) -> Tensors {
                 return {nll_backward(gs[0], n.saved(0), n.saved(1), sizes, dt, r,
                                      ignore_index, tw)};
               });
  return out;
}

// Note [Fused cross entropy]
// Class-index cross_entropy without label smoothing runs as one kernel: per
// (n, s) line of C logits, lse = logsumexp and loss = w[t] (lse - x[t]); only
// lse (N*S values) is saved. Its backward writes coef (softmax - onehot) with
// coef = w[t] g (/ total weight) in one pass. Under create_graph the backward
// is composed instead, softmax(x) * sum(B) ... from nll_backward's recorded op
// B, so that second derivatives flow. The per-line formulas are math/loss.h's
// (ce_lse, ce_loss, TargetCoef), shared by the CPU loops and the CUDA kernels.

// Whether this build has the fused kernels for x's device.
bool fused_ce_on(const Device& d) {
#if defined(__CUDACC__)
  if (d.is_cuda()) return true;
#endif
  return d.is_cpu();
}

Tensor fused_ce_backward(const Tensor& g, const Tensor& x, const Tensor& lse, const Tensor& t,
                         const Tensor& w, Reduction r, int64_t ignore_index, double tw) {
  const NllGeom geo = geometry(x);
  const int64_t cdim = x.dim() == 1 ? 0 : 1;
  if (autograd::grad_enabled()) {
    Tensor b = nll_backward(g, t, w, x.sizes(), x.dtype(), r, ignore_index, tw);
    return add(mul(softmax(x, cdim), neg(sum(b, std::vector<int64_t>{cdim}, true))), b);
  }
  Tensor xc = contiguous(x);
  Tensor gc = contiguous(to_dtype(g, x.dtype()));
  Tensor gi = empty(x.sizes(), x.dtype(), x.device());
  dispatch_float(x.dtype(), "cross_entropy_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* xp = xc.data<T>();
    const T* lp = lse.data<T>();
    const int64_t* tp = t.data<int64_t>();
    T* out = gi.data<T>();
    const int64_t c = geo.c, s = geo.s;
    const math::TargetCoef<T> coefs{tp, w.defined() ? w.data<T>() : nullptr, gc.data<T>(),
                                    ignore_index,
                                    r == Reduction::Mean ? static_cast<T>(1.0 / tw) : T(1),
                                    r == Reduction::None};
    if (!x.device().is_cpu())
      return run_indexed("cross_entropy_backward", gi, x.numel(),
                         math::CeGradFn<T>{coefs, xp, lp, out, c, s});
    cpu::parallel_for(0, geo.n * s, std::max<int64_t>(1, cpu::kGrain / (c + 1)),
                      [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const int64_t k = tp[i], n = i / s, j = i - n * s;
        const T* xl = xp + n * c * s + j;
        T* ol = out + n * c * s + j;
        const T coef = coefs(i);
        cpu::exp_shift_line(xl, s, lp[i], coef, ol, s, c);
        if (k != ignore_index) ol[k * s] -= coef;
      }
    });
  });
  return gi;
}

Tensor fused_cross_entropy(const Tensor& x, const Tensor& t, const Tensor& w, Reduction r,
                           int64_t ignore_index) {
  const NllGeom geo = geometry(x);
  const int64_t m = geo.n * geo.s;
  Tensor xc = contiguous(x);
  Tensor lse = empty({m}, x.dtype(), x.device());
  Tensor per = empty(r == Reduction::None ? t.sizes() : Shape{m}, x.dtype(), x.device());
  const double tw = r == Reduction::Mean ? total_weight(t, w, ignore_index) : 1.0;
  Tensor out = dispatch_float(x.dtype(), "cross_entropy", [&](auto tag) {
    using T = decltype(tag);
    const T* xp = xc.data<T>();
    const int64_t* tp = t.data<int64_t>();
    const T* wp = w.defined() ? w.data<T>() : nullptr;
    T* lp = lse.data<T>();
    T* pp = per.data<T>();
    const int64_t c = geo.c, s = geo.s;
#if defined(__CUDACC__)
    if (x.device().is_cuda()) {  // per-line losses on the device, summed in double
      cuda::cross_entropy_lines<T>("cross_entropy", xp, tp, wp, lp, pp, m, c, s, ignore_index,
                                   x.device().index);
      if (r == Reduction::None) return per;
      autograd::GradModeGuard no_grad(false);
      Tensor total = sum(per, std::nullopt, false, DType::Float64);
      if (r == Reduction::Mean) total = div(total, tw);
      return to_dtype(total, x.dtype());
    }
#endif
    cpu::parallel_for(0, m, std::max<int64_t>(1, cpu::kGrain / (c + 1)),
                      [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const int64_t n = i / s, j = i - n * s;
        const T* xl = xp + n * c * s + j;
        const T mx = cpu::max_line(xl, s, c);
        const T l = math::ce_lse(mx, cpu::exp_shift_sum(xl, s, mx, c));
        lp[i] = l;
        pp[i] = math::ce_loss(l, xl, s, tp[i], wp, ignore_index);
      }
    });
    if (r == Reduction::None) return per;
    double total = 0;
    for (int64_t i = 0; i < m; ++i) total += static_cast<double>(pp[i]);
    if (r == Reduction::Mean) total /= tw;
    Tensor o = empty({}, x.dtype(), x.device());
    *o.data<T>() = static_cast<T>(total);
    return o;
  });
  maybe_record("CrossEntropyLossBackward", {x}, {out}, {x, lse, t, w},
               [r, ignore_index, tw](const FunctionNode& n, const Tensors& gs) -> Tensors {
                 return {fused_ce_backward(gs[0], n.saved(0), n.saved(1), n.saved(2),
                                           n.saved(3), r, ignore_index, tw)};
               });
  return out;
}

// (C) weight reshaped to broadcast against x along the class dim.
Tensor class_view(const Tensor& w, const Tensor& x) {
  Shape s{w.size(0)};
  for (int64_t d = x.dim() == 1 ? 1 : 2; d < x.dim(); ++d) s.push_back(1);
  return reshape(w, s);
}

}  // namespace

Tensor nll_loss(const Tensor& input, const Tensor& target, const std::optional<Tensor>& weight,
                const std::string& reduction, int64_t ignore_index) {
  const char* op = "nll_loss";
  Reduction r = parse_reduction(op, reduction);
  check_input(op, input);
  if (is_16bit_float(input.dtype()))  // Note [16-bit floats]
    return to_dtype(nll_loss(as_float32(input), target, weight ? as_float32(*weight) : weight,
                             reduction, ignore_index),
                    input.dtype());
  check_index_target(op, input, target);
  const NllGeom geo = geometry(input);
  Tensor w = check_weight(op, input, weight, geo.c);
  Tensor t = check_targets(op, target, geo.c, ignore_index);
  return nll_forward(input, t, w, r, ignore_index);
}

Tensor cross_entropy(const Tensor& input, const Tensor& target,
                     const std::optional<Tensor>& weight, const std::string& reduction,
                     int64_t ignore_index, double label_smoothing) {
  const char* op = "cross_entropy";
  Reduction r = parse_reduction(op, reduction);
  check_input(op, input);
  if (is_16bit_float(input.dtype()))  // Note [16-bit floats]
    return to_dtype(cross_entropy(as_float32(input), as_float32(target),
                                  weight ? as_float32(*weight) : weight, reduction,
                                  ignore_index, label_smoothing),
                    input.dtype());
  FG_CHECK(label_smoothing >= 0 && label_smoothing <= 1, op,
           ": label_smoothing must be between 0.0 and 1.0, got ", label_smoothing);
  const NllGeom geo = geometry(input);
  const int64_t cdim = input.dim() == 1 ? 0 : 1;
  const double c = static_cast<double>(geo.c);
  Shape want = index_target_shape(input);
  const bool probs = is_floating(target.dtype()) && target.sizes() == input.sizes();
  if (!probs && target.sizes() != want) {
    std::string idx = input.dim() == 1 ? "[]" : input.dim() == 2 ? "[N] = " + list_str(want)
                                                                  : "[N, d1, ...] = " + list_str(want);
    fail<ValueError>(op, ": expected target of shape ", idx, " (class indices) or ",
                     list_str(input.sizes()), " (probabilities), got ",
                     list_str(target.sizes()));
  }
  Tensor w = check_weight(op, input, weight, geo.c);
  if (probs) {
    // -sum_c w_c t_c log_softmax(x)_c; 'mean' divides by N * d1 * ...
    Tensor logp = log_softmax(input, cdim);
    Tensor tt = to_dtype(target, promote_types(input.dtype(), target.dtype()));
    if (label_smoothing > 0) tt = add(mul(tt, 1 - label_smoothing), Scalar(label_smoothing / c));
    Tensor prod = mul(logp, tt);
    if (w.defined()) prod = mul(prod, class_view(w, input));
    if (r == Reduction::None) return neg(sum(prod, std::vector<int64_t>{cdim}));
    Tensor total = neg(sum(prod));
    return r == Reduction::Sum ? total : div(total, static_cast<double>(geo.n * geo.s));
  }
  check_index_target(op, input, target);
  Tensor t = check_targets(op, target, geo.c, ignore_index);
  if (label_smoothing <= 0 && fused_ce_on(input.device()))
    return fused_cross_entropy(input, t, w, r, ignore_index);
  if (label_smoothing <= 0) return nll_forward(log_softmax(input, cdim), t, w, r, ignore_index);
  Tensor logp = log_softmax(input, cdim);
  Tensor nll = nll_forward(logp, t, w, r, ignore_index);
  // PyTorch's smoothing term: -sum_c w_c log p_c per target, 0 where ignored,
  // and for 'mean' divided by the same total weight as the nll part.
  Tensor lw = w.defined() ? mul(logp, class_view(w, input)) : logp;
  Tensor smooth = neg(sum(lw, std::vector<int64_t>{cdim}));
  smooth = where(ne(t, ignore_index), smooth, Scalar(0.0));
  if (r == Reduction::Sum) smooth = sum(smooth);
  if (r == Reduction::Mean) smooth = div(sum(smooth), total_weight(t, w, ignore_index));
  return add(mul(nll, 1 - label_smoothing), mul(smooth, label_smoothing / c));
}

}  // namespace fastgrad
