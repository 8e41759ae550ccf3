// batch_norm: per-channel statistics over (N, *spatial) of a contiguous
// (N, C, S) view, one channel per task of cpu::parallel_for. Training also
// updates the running statistics in place (unbiased variance, as PyTorch).
#include <cmath>
#include <vector>

#include "backend/cpu/parallel.h"
#include "math/norm.h"
#include "ops/elementwise_ops.h"
#include "ops/grad_utils.h"
#include "ops/norm_common.h"
#include "ops/norm_ops.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"
#if defined(__CUDACC__)
#include "backend/cuda/norm.cuh"
#include "backend/cuda/norm_backward.cuh"
#endif

namespace fastgrad {

namespace {

struct BnGeom {
  int64_t N, C, S;
  int64_t count() const { return N * S; }
};

// Calls f(p, len) for each contiguous run of channel c (one per sample).
template <class T, class F>
void for_channel(const BnGeom& g, T* base, int64_t c, const F& f) {
  for (int64_t n = 0; n < g.N; ++n) f(base + (n * g.C + c) * g.S, g.S);
}

int64_t channel_grain(const BnGeom& g) {
  return std::max<int64_t>(1, cpu::kGrain / std::max<int64_t>(1, g.count()));
}

// Batch statistics (or the running ones) per channel, then y = x * scale + shift.
// `var` receives the biased batch variance (for the running update).
template <class T>
void bn_forward(const BnGeom& g, const T* x, T* y, const T* w, const T* b, const T* rm,
                const T* rv, bool use_batch, double eps, T* mean, T* invstd, double* var) {
  cpu::parallel_for(0, g.C, channel_grain(g), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      double mu, is;
      if (use_batch) {
        double s = 0, v = 0;
        for_channel(g, x, c, [&](const T* p, int64_t len) {
          s += lane_sum(len, [&](int64_t i) { return static_cast<double>(p[i]); });
        });
        mu = s / static_cast<double>(g.count());
        for_channel(g, x, c, [&](const T* p, int64_t len) {
          v += lane_sum(len, [&](int64_t i) {
            const double d = p[i] - mu;
            return d * d;
          });
        });
        var[c] = v / static_cast<double>(g.count());
        is = 1.0 / std::sqrt(var[c] + eps);
      } else {
        mu = rm[c];
        is = 1.0 / std::sqrt(static_cast<double>(rv[c]) + eps);
      }
      mean[c] = static_cast<T>(mu);
      invstd[c] = static_cast<T>(is);
      const double wc = w ? static_cast<double>(w[c]) : 1.0;
      const T scale = static_cast<T>(is * wc);
      const T shift = static_cast<T>((b ? static_cast<double>(b[c]) : 0.0) - mu * is * wc);
      for (int64_t n = 0; n < g.N; ++n) {
        const int64_t off = (n * g.C + c) * g.S;
        for (int64_t i = 0; i < g.S; ++i) y[off + i] = x[off + i] * scale + shift;
      }
    }
  });
}

// Per channel: sum g and sum g xhat, then dw, db and dx by math/norm.h (the
// mean terms of dx only in training: eval's statistics are constants).
template <class T>
void bn_backward(const BnGeom& geo, const T* gy, const T* x, const T* w, const T* mean,
                 const T* invstd, bool use_batch, T* dx, T* dw, T* db) {
  cpu::parallel_for(0, geo.C, channel_grain(geo), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const double mu = mean[c], is = invstd[c];
      double sg = 0, sgx = 0;
      for (int64_t n = 0; n < geo.N; ++n) {
        const T* gp = gy + (n * geo.C + c) * geo.S;
        const T* xp = x + (n * geo.C + c) * geo.S;
        sg += lane_sum(geo.S, [&](int64_t i) { return static_cast<double>(gp[i]); });
        sgx += lane_sum(geo.S, [&](int64_t i) { return static_cast<double>(gp[i]) * (xp[i] - mu); });
      }
      // An empty batch has NaN statistics but sums of 0 (dw = 0, as PyTorch).
      const math::NormGradSums sums{sg, geo.count() > 0 ? sgx * is : 0.0};
      math::norm_param_grads(sums, c, dw, db);
      if (!dx) continue;
      const double wc = w ? static_cast<double>(w[c]) : 1.0;
      const auto aff = math::norm_grad_affine<T>({wc * sums.gw, wc * sums.gw_xhat}, mu, is,
                                                 geo.count(), use_batch);
      const T wt = w ? w[c] : T(1);
      for (int64_t n = 0; n < geo.N; ++n) {
        const int64_t off = (n * geo.C + c) * geo.S;
        for (int64_t i = 0; i < geo.S; ++i) dx[off + i] = aff(gy[off + i] * wt, x[off + i]);
      }
    }
  });
}

template <class T>
const T* ptr_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

Tensor contig_or_undef(const Tensor& t) { return t.defined() ? contiguous(t) : t; }

// r = (1 - momentum) r + momentum * stat, through copy_ so any layout works
// and the version bumps.
template <class T>
void update_running(const Tensor& r, const std::vector<double>& stat, double momentum) {
  Tensor rc = contiguous(r);
  Tensor nr = empty(r.sizes(), r.dtype(), r.device());
  const T* old = rc.data<T>();
  T* o = nr.data<T>();
  for (size_t c = 0; c < stat.size(); ++c)
    o[c] = static_cast<T>(momentum * stat[c] + (1.0 - momentum) * static_cast<double>(old[c]));
  autograd::GradModeGuard no_grad(false);
  copy_(r, nr, "batch_norm");
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight, const Tensor& bias, bool training, double momentum,
                  double eps) {
  const char* op = "batch_norm";
  check_cpu_or_cuda(op, x);
  FG_CHECK(x.dim() >= 2, op, ": expected input of shape (N, C, *) with at least 2 dims, got ",
           list_str(x.sizes()));
  check_floating(op, x.dtype());
  const int64_t C = x.size(1);
  const std::pair<const Tensor*, const char*> params[] = {
      {&weight, "weight"}, {&bias, "bias"}, {&running_mean, "running_mean"},
      {&running_var, "running_var"}};
  for (auto [t, name] : params) {
    check_channels(op, x, *t, name);
    check_norm_param(op, name, x, *t, {C});
  }
  FG_CHECK(running_mean.defined() == running_var.defined(), op,
           ": running_mean and running_var must both be given or both be None");
  if (is_16bit_float(x.dtype())) {
    // Note [16-bit floats]; the running statistics update through float32 copies.
    Tensor rm, rv;
    {
      autograd::GradModeGuard no_grad(false);
      rm = as_float32(running_mean), rv = as_float32(running_var);
    }
    Tensor y = batch_norm(as_float32(x), rm, rv, as_float32(weight), as_float32(bias), training,
                          momentum, eps);
    if (training && running_mean.defined()) {
      autograd::GradModeGuard no_grad(false);
      copy_(running_mean, rm, "batch_norm");
      copy_(running_var, rv, "batch_norm");
    }
    return to_dtype(y, x.dtype());
  }
  const bool use_batch = training || !running_mean.defined();
  const BnGeom geo{x.size(0), C, C == 0 || x.size(0) == 0 ? 0 : x.numel() / (x.size(0) * C)};
  Tensor xc = contiguous(x), wc = contig_or_undef(weight), bc = contig_or_undef(bias);
  Tensor rmc = contig_or_undef(running_mean), rvc = contig_or_undef(running_var);
  Tensor y = empty(x.sizes(), x.dtype(), x.device());
  Tensor mean = empty({C}, x.dtype(), x.device()), invstd = empty({C}, x.dtype(), x.device());
  std::vector<double> var(static_cast<size_t>(C), 0.0);
  dispatch_float(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
#if defined(__CUDACC__)
    if (x.device().is_cuda()) {
      const bool update = training && running_mean.defined() && geo.count() > 0;
      Tensor rm_new = update ? empty({C}, x.dtype(), x.device()) : Tensor();
      Tensor rv_new = update ? empty({C}, x.dtype(), x.device()) : Tensor();
      cuda::batch_norm_forward<T>(op, xc.data<T>(), y.data<T>(), geo.N, C, geo.S,
                                  ptr_or_null<T>(wc), ptr_or_null<T>(bc), ptr_or_null<T>(rmc),
                                  ptr_or_null<T>(rvc), use_batch, eps, mean.data<T>(),
                                  invstd.data<T>(), update ? rm_new.data<T>() : nullptr,
                                  update ? rv_new.data<T>() : nullptr, momentum,
                                  x.device().index);
      if (update) {  // through copy_, as below: any layout, version bumps
        autograd::GradModeGuard no_grad(false);
        copy_(running_mean, rm_new, "batch_norm");
        copy_(running_var, rv_new, "batch_norm");
      }
      return;
    }
#endif
    bn_forward<T>(geo, xc.data<T>(), y.data<T>(), ptr_or_null<T>(wc), ptr_or_null<T>(bc),
                  ptr_or_null<T>(rmc), ptr_or_null<T>(rvc), use_batch, eps, mean.data<T>(),
                  invstd.data<T>(), var.data());
    if (training && running_mean.defined() && geo.count() > 0) {
      std::vector<double> mu(var.size());
      const double n = static_cast<double>(geo.count());
      for (size_t c = 0; c < var.size(); ++c) {
        mu[c] = static_cast<double>(mean.data<T>()[c]);
        var[c] *= n / (n - 1);  // unbiased, as PyTorch's running_var
      }
      update_running<T>(running_mean, mu, momentum);
      update_running<T>(running_var, var, momentum);
    }
  });
  maybe_record(
      "NativeBatchNormBackward", {x, weight, bias}, {y}, {x, weight, mean, invstd},
      [geo, use_batch, eps](const FunctionNode& n, const Tensors& gs) -> Tensors {
        const Tensor& g = gs[0];
        Tensor x = n.saved(0), w = n.saved(1), mean = n.saved(2), invstd = n.saved(3);
        const int64_t C = geo.C;
        // Note [Normalization double backward]
        if (autograd::grad_enabled() || !fused_norm_backward_on(x.device())) {
          Shape cs(static_cast<size_t>(x.dim()), 1);
          cs[1] = C;
          Tensor wb = w.defined() ? channel_view(w, x.dim()) : Tensor();
          Tensor dx, xhat;
          if (use_batch) {
            std::vector<int64_t> dims;
            for (int64_t d = 0; d < x.dim(); ++d)
              if (d != 1) dims.push_back(d);
            std::tie(dx, xhat) = norm_backward_composite(x, g, wb, x.sizes(), dims, eps);
          } else {
            Tensor is = channel_view(invstd, x.dim());
            xhat = mul(sub(x, channel_view(mean, x.dim())), is);
            dx = mul(g, wb.defined() ? mul(wb, is) : is);
          }
          Tensor dw = n.needs_input_grad(1) ? reshape(sum_to(mul(g, xhat), cs), {C}) : Tensor();
          Tensor db = n.needs_input_grad(2) ? reshape(sum_to(g, cs), {C}) : Tensor();
          return {n.needs_input_grad(0) ? dx : Tensor(), dw, db};
        }
        Tensor gc = contiguous(g), xc = contiguous(x), wc = contig_or_undef(w);
        Tensor dx = n.needs_input_grad(0) ? empty(x.sizes(), x.dtype(), x.device()) : Tensor();
        Tensor dw = n.needs_input_grad(1) ? empty({C}, x.dtype(), x.device()) : Tensor();
        Tensor db = n.needs_input_grad(2) ? empty({C}, x.dtype(), x.device()) : Tensor();
        dispatch_float(x.dtype(), "batch_norm", [&](auto tag) {
          using T = decltype(tag);
          auto out = [](const Tensor& t) { return t.defined() ? t.data<T>() : nullptr; };
#if defined(__CUDACC__)
          if (x.device().is_cuda())
            return cuda::batch_norm_backward<T>(
                "batch_norm", gc.data<T>(), xc.data<T>(), ptr_or_null<T>(wc), mean.data<T>(),
                invstd.data<T>(), use_batch, out(dx), out(dw), out(db), geo.N, C, geo.S,
                x.device().index);
#endif
          bn_backward<T>(geo, gc.data<T>(), xc.data<T>(), ptr_or_null<T>(wc), mean.data<T>(),
                         invstd.data<T>(), use_batch, out(dx), out(dw), out(db));
        });
        return {dx, dw, db};
      });
  return y;
}

}  // namespace fastgrad
