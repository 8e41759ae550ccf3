// layer_norm and group_norm. Both normalize "rows" of contiguous memory: a
// row is one sample's trailing normalized_shape (layer norm) or one
// (sample, group) block of Cg channels x S positions (group norm). The affine
// parameters are indexed by channel: for layer norm S = 1 and every element of
// the row is its own channel. One kernel pair serves both.
#include <cmath>
#include <vector>

#include "backend/cpu/parallel.h"
#include "math/norm.h"
#include "ops/elementwise_ops.h"
#include "ops/factory_ops.h"
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

// M rows of G-periodic groups: row r covers channels (r % G) * Cg + [0, Cg),
// each of S contiguous elements.
struct RowGeom {
  int64_t M, G, Cg, S;
  int64_t row_len() const { return Cg * S; }
  int64_t channels() const { return G * Cg; }
};

// Per row: mean and 1/sqrt(var + eps) in double (two passes over a row that
// is in cache), then y = x * scale + shift with per-channel scale and shift.
template <class T>
void norm_rows_forward(const RowGeom& g, const T* x, const T* w, const T* b, T* y, T* mean,
                       T* rstd, double eps) {
  const int64_t L = g.row_len();
  const double inv_l = 1.0 / static_cast<double>(L);
  cpu::parallel_for(0, g.M, std::max<int64_t>(1, cpu::kGrain / std::max<int64_t>(L, 1)),
                    [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* xr = x + r * L;
      T* yr = y + r * L;
      const double mu = lane_sum(L, [&](int64_t j) { return static_cast<double>(xr[j]); }) * inv_l;
      const double v = lane_sum(L, [&](int64_t j) {
        const double d = xr[j] - mu;
        return d * d;
      });
      const double rs = 1.0 / std::sqrt(v * inv_l + eps);
      mean[r] = static_cast<T>(mu);
      rstd[r] = static_cast<T>(rs);
      if (g.S == 1 && g.G == 1) {  // layer norm: per-element affine, all in T
        const T m = static_cast<T>(mu), s = static_cast<T>(rs);
        if (w && b) {
          for (int64_t j = 0; j < L; ++j) yr[j] = (xr[j] - m) * s * w[j] + b[j];
        } else if (w) {
          for (int64_t j = 0; j < L; ++j) yr[j] = (xr[j] - m) * s * w[j];
        } else if (b) {
          for (int64_t j = 0; j < L; ++j) yr[j] = (xr[j] - m) * s + b[j];
        } else {
          for (int64_t j = 0; j < L; ++j) yr[j] = (xr[j] - m) * s;
        }
        continue;
      }
      const int64_t c0 = (r % g.G) * g.Cg;
      for (int64_t k = 0; k < g.Cg; ++k) {
        const double wc = w ? static_cast<double>(w[c0 + k]) : 1.0;
        const T scale = static_cast<T>(rs * wc);
        const T shift = static_cast<T>((b ? static_cast<double>(b[c0 + k]) : 0.0) - mu * rs * wc);
        const T* xs = xr + k * g.S;
        T* ys = yr + k * g.S;
        for (int64_t s2 = 0; s2 < g.S; ++s2) ys[s2] = xs[s2] * scale + shift;
      }
    }
  });
}

// One layer-norm row of the backward (every element its own channel). One
// pass over the row sums sum(g w) and sum(g w (x - mu)) in double, in
// lane_sum's eight lanes and order, while adding the row's g xhat and g into
// the chunk's dw / db partials pw, pb; a second pass over the row (now in
// cache) writes dx by math/norm.h's affine map when dr is set. HasW / NeedWB
// are template flags so each variant's loop vectorises.
template <bool HasW, bool NeedWB, class T>
void layer_norm_row_backward(const T* gr, const T* xr, const T* w, double mu, double rs,
                             int64_t L, double* pw, double* pb, T* dr) {
  double a[8] = {0, 0, 0, 0, 0, 0, 0, 0}, b[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  auto step = [&](int l, int64_t j) {
    const double gv = gr[j];
    const double gw = HasW ? gv * static_cast<double>(w[j]) : gv;
    const double xm = xr[j] - mu;
    a[l] += gw;
    b[l] += gw * xm;
    if constexpr (NeedWB) {
      pw[j] += gv * (xm * rs);
      pb[j] += gv;
    }
  };
  int64_t j = 0;
  for (; j + 8 <= L; j += 8)
    for (int l = 0; l < 8; ++l) step(l, j + l);
  for (; j < L; ++j) step(0, j);
  if (!dr) return;
  auto total = [](const double* v) {
    return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
  };
  const auto aff = math::norm_grad_affine<T>({total(a), total(b) * rs}, mu, rs, L, true);
  for (int64_t k = 0; k < L; ++k) dr[k] = aff(HasW ? gr[k] * w[k] : gr[k], xr[k]);
}

// dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat)) per row, gw = g * w;
// dw[c] = sum g * xhat, db[c] = sum g over all rows touching channel c, summed
// in per-chunk double buffers (no atomics, deterministic for a thread count).
template <class T>
void norm_rows_backward(const RowGeom& geo, const T* gy, const T* x, const T* w,
                        const T* mean, const T* rstd, T* dx, T* dw, T* db) {
  const int64_t L = geo.row_len(), C = geo.channels();
  const bool need_wb = dw || db;
  int64_t chunks = std::min<int64_t>(cpu::num_threads(),
                                     std::max<int64_t>(1, geo.M * L / cpu::kGrain));
  chunks = std::max<int64_t>(1, std::min(chunks, geo.M));
  std::vector<double> part(need_wb ? static_cast<size_t>(chunks * 2 * C) : 0, 0.0);
  cpu::parallel_for(0, chunks, 1, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) {
      double* pw = need_wb ? part.data() + k * 2 * C : nullptr;
      double* pb = need_wb ? pw + C : nullptr;
      for (int64_t r = geo.M * k / chunks; r < geo.M * (k + 1) / chunks; ++r) {
        const T* xr = x + r * L;
        const T* gr = gy + r * L;
        T* dr = dx ? dx + r * L : nullptr;
        const double mu = mean[r], rs = rstd[r];
        if (geo.S == 1 && geo.G == 1) {  // layer norm: channel = element
          const bool has_w = w != nullptr;
          if (has_w && need_wb) layer_norm_row_backward<true, true>(gr, xr, w, mu, rs, L, pw, pb, dr);
          else if (has_w) layer_norm_row_backward<true, false>(gr, xr, w, mu, rs, L, pw, pb, dr);
          else if (need_wb) layer_norm_row_backward<false, true>(gr, xr, w, mu, rs, L, pw, pb, dr);
          else layer_norm_row_backward<false, false>(gr, xr, w, mu, rs, L, pw, pb, dr);
          continue;
        }
        const int64_t c0 = (r % geo.G) * geo.Cg;
        math::NormGradSums sums{0.0, 0.0};
        for (int64_t c = 0; c < geo.Cg; ++c) {
          const double wc = w ? static_cast<double>(w[c0 + c]) : 1.0;
          const T* gs = gr + c * geo.S;
          const T* xs = xr + c * geo.S;
          const double sg = lane_sum(geo.S, [&](int64_t s) { return static_cast<double>(gs[s]); });
          const double sgx = lane_sum(geo.S, [&](int64_t s) {
            return static_cast<double>(gs[s]) * (xs[s] - mu);
          });
          sums.gw += wc * sg;
          sums.gw_xhat += wc * sgx * rs;
          if (need_wb) {
            pw[c0 + c] += sgx * rs;
            pb[c0 + c] += sg;
          }
        }
        if (!dr) continue;
        const auto aff = math::norm_grad_affine<T>(sums, mu, rs, L, true);
        for (int64_t c = 0; c < geo.Cg; ++c) {
          const T wt = w ? w[c0 + c] : T(1);
          const T* gs = gr + c * geo.S;
          const T* xs = xr + c * geo.S;
          T* ds = dr + c * geo.S;
          for (int64_t s = 0; s < geo.S; ++s) ds[s] = aff(gs[s] * wt, xs[s]);
        }
      }
    }
  });
  if (!need_wb) return;
  for (int64_t c = 0; c < C; ++c) {
    math::NormGradSums s{0.0, 0.0};  // (sum g, sum g xhat) of channel c
    for (int64_t k = 0; k < chunks; ++k) {
      s.gw_xhat += part[k * 2 * C + c];
      s.gw += part[k * 2 * C + C + c];
    }
    math::norm_param_grads(s, c, dw, db);
  }
}

template <class T>
const T* ptr_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// Forward of both ops: y, and (mean, rstd) of shape (M,) for backward.
std::vector<Tensor> rows_forward(const char* op, const RowGeom& geo, const Tensor& xc,
                                 const Tensor& wc, const Tensor& bc, double eps) {
  Tensor y = empty(xc.sizes(), xc.dtype(), xc.device());
  Tensor mean = empty({geo.M}, xc.dtype(), xc.device());
  Tensor rstd = empty({geo.M}, xc.dtype(), xc.device());
  if (xc.numel() == 0) return {y, mean, rstd};
  dispatch_float(xc.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
#if defined(__CUDACC__)
    if (xc.device().is_cuda())
      return cuda::norm_rows<T>(op, xc.data<T>(), ptr_or_null<T>(wc), ptr_or_null<T>(bc),
                                y.data<T>(), mean.data<T>(), rstd.data<T>(), geo.M, geo.G,
                                geo.Cg, geo.S, eps, xc.device().index);
#endif
    norm_rows_forward<T>(geo, xc.data<T>(), ptr_or_null<T>(wc), ptr_or_null<T>(bc),
                         y.data<T>(), mean.data<T>(), rstd.data<T>(), eps);
  });
  return {y, mean, rstd};
}

// Gradients {dx, dw, db} from the kernel (undefined where not needed).
std::vector<Tensor> rows_backward(const char* op, const RowGeom& geo, const FunctionNode& n,
                                  const Tensor& g, const Tensor& x, const Tensor& w,
                                  const Tensor& mean, const Tensor& rstd) {
  Tensor gc = contiguous(g), xc = contiguous(x), wc = w.defined() ? contiguous(w) : w;
  const int64_t C = geo.channels();
  Tensor dx = n.needs_input_grad(0) ? empty(x.sizes(), x.dtype(), x.device()) : Tensor();
  Tensor dw = n.needs_input_grad(1) ? empty({C}, x.dtype(), x.device()) : Tensor();
  Tensor db = n.needs_input_grad(2) ? empty({C}, x.dtype(), x.device()) : Tensor();
  if (x.numel() == 0) {  // no rows: zero parameter gradients
    for (Tensor* t : {&dw, &db})
      if (t->defined()) *t = zeros({C}, x.dtype(), x.device());
    return {dx, dw, db};
  }
  dispatch_float(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    auto out = [](const Tensor& t) { return t.defined() ? t.data<T>() : nullptr; };
#if defined(__CUDACC__)
    if (x.device().is_cuda())
      return cuda::norm_rows_backward<T>(op, gc.data<T>(), xc.data<T>(), ptr_or_null<T>(wc),
                                         mean.data<T>(), rstd.data<T>(), out(dx), out(dw),
                                         out(db), geo.M, geo.G, geo.Cg, geo.S,
                                         x.device().index);
#endif
    norm_rows_backward<T>(geo, gc.data<T>(), xc.data<T>(), ptr_or_null<T>(wc),
                          mean.data<T>(), rstd.data<T>(), out(dx), out(dw), out(db));
  });
  return {dx, dw, db};
}

}  // namespace

void check_norm_param(const char* op, const char* what, const Tensor& x, const Tensor& t,
                      const Shape& shape) {
  if (!t.defined()) return;
  FG_CHECK(t.sizes() == shape, op, ": expected ", what, " of shape ", list_str(shape),
           ", got ", list_str(t.sizes()));
  FG_CHECK(t.dtype() == x.dtype(), op, ": expected ", what, " of dtype ", x.dtype(),
           " (the input's), got ", t.dtype());
  FG_CHECK(t.device() == x.device(), op, ": expected ", what, " on ", x.device(), ", got ",
           t.device());
}

void check_channels(const char* op, const Tensor& x, const Tensor& t, const char* what) {
  if (!t.defined() || t.dim() != 1 || x.dim() < 2 || t.size(0) == x.size(1)) return;
  fail<RuntimeError>(op, ": expected input with ", t.size(0), " channels (the size of ", what,
                     "), got input of shape ", list_str(x.sizes()));
}

std::pair<Tensor, Tensor> norm_backward_composite(const Tensor& x, const Tensor& g,
                                                  const Tensor& w, const Shape& grouped,
                                                  const std::vector<int64_t>& dims,
                                                  double eps) {
  Tensor xr = reshape(x, grouped);
  Tensor xc = sub(xr, mean(xr, dims, true));
  Tensor rs = rsqrt(add(mean(square(xc), dims, true), Scalar(eps)));
  Tensor xhat = mul(xc, rs);
  Tensor gw = reshape(w.defined() ? mul(g, w) : g, grouped);
  Tensor dx = mul(rs, sub(sub(gw, mean(gw, dims, true)),
                          mul(xhat, mean(mul(gw, xhat), dims, true))));
  return {reshape(dx, x.sizes()), reshape(xhat, x.sizes())};
}

bool fused_norm_backward_on(const Device& d) {
#if defined(__CUDACC__)
  if (d.is_cuda()) return true;
#endif
  return d.is_cpu();
}

Tensor channel_view(const Tensor& t, int64_t ndim) {
  Shape s(static_cast<size_t>(std::max<int64_t>(ndim, 2)), 1);
  s[1] = t.numel();
  return reshape(t, s);
}

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight,
                  const Tensor& bias, double eps) {
  const char* op = "layer_norm";
  check_cpu_or_cuda(op, x);
  FG_CHECK(!normalized_shape.empty(), op,
           ": expected normalized_shape to be at least 1-dimensional, i.e., containing at "
           "least one element, but got normalized_shape = []");
  const auto k = static_cast<int64_t>(normalized_shape.size());
  bool match = x.dim() >= k;
  for (int64_t i = 0; match && i < k; ++i)
    match = x.sizes()[x.dim() - k + i] == normalized_shape[i];
  FG_CHECK(match, op, ": given normalized_shape=", list_str(normalized_shape),
           ", expected input with shape [*, ", list_str(normalized_shape).substr(1),
           ", but got input of size ", list_str(x.sizes()));
  check_floating(op, x.dtype());
  check_norm_param(op, "weight", x, weight, normalized_shape);
  check_norm_param(op, "bias", x, bias, normalized_shape);
  if (is_16bit_float(x.dtype()))  // Note [16-bit floats]
    return to_dtype(layer_norm(as_float32(x), normalized_shape, as_float32(weight),
                               as_float32(bias), eps),
                    x.dtype());
  const int64_t N = numel_of(normalized_shape);
  const RowGeom geo{N == 0 ? 0 : x.numel() / N, 1, N, 1};
  Tensor xc = contiguous(x);
  Tensor wc = weight.defined() ? contiguous(weight) : weight;
  Tensor bc = bias.defined() ? contiguous(bias) : bias;
  auto r = rows_forward(op, geo, xc, wc, bc, eps);
  std::vector<int64_t> dims;
  for (int64_t i = -k; i < 0; ++i) dims.push_back(i);
  maybe_record("NativeLayerNormBackward", {x, weight, bias}, {r[0]}, {x, weight, r[1], r[2]},
               [geo, dims, eps, ns = normalized_shape](const FunctionNode& n,
                                                       const Tensors& gs) -> Tensors {
                 const Tensor& g = gs[0];
                 Tensor x = n.saved(0), w = n.saved(1);
                 // Note [Normalization double backward]
                 if (autograd::grad_enabled() || !fused_norm_backward_on(x.device())) {
                   auto [dx, xhat] = norm_backward_composite(x, g, w, x.sizes(), dims, eps);
                   Tensor dw = n.needs_input_grad(1) ? sum_to(mul(g, xhat), ns) : Tensor();
                   Tensor db = n.needs_input_grad(2) ? sum_to(g, ns) : Tensor();
                   return {dx, dw, db};
                 }
                 auto r = rows_backward("layer_norm", geo, n, g, x, w, n.saved(2), n.saved(3));
                 for (int i = 1; i < 3; ++i)
                   if (r[i].defined()) r[i] = reshape(r[i], ns);
                 return r;
               });
  return r[0];
}

Tensor group_norm(const Tensor& x, int64_t num_groups, const Tensor& weight,
                  const Tensor& bias, double eps) {
  const char* op = "group_norm";
  check_cpu_or_cuda(op, x);
  FG_CHECK(x.dim() >= 2, op, ": expected input of shape (N, C, *) with at least 2 dims, got ",
           list_str(x.sizes()));
  check_floating(op, x.dtype());
  const int64_t N = x.size(0), C = x.size(1);
  FG_CHECK(num_groups > 0 && C % num_groups == 0, op, ": expected number of channels in input (",
           C, ") to be divisible by num_groups (", num_groups, "), input of shape ",
           list_str(x.sizes()));
  check_channels(op, x, weight, "weight");
  check_norm_param(op, "weight", x, weight, {C});
  check_norm_param(op, "bias", x, bias, {C});
  if (is_16bit_float(x.dtype()))  // Note [16-bit floats]
    return to_dtype(group_norm(as_float32(x), num_groups, as_float32(weight), as_float32(bias),
                               eps),
                    x.dtype());
  const int64_t S = N * C == 0 ? 0 : x.numel() / (N * C);
  const RowGeom geo{N * num_groups, num_groups, C / num_groups, S};
  Tensor wc = weight.defined() ? contiguous(weight) : weight;
  Tensor bc = bias.defined() ? contiguous(bias) : bias;
  auto r = rows_forward(op, geo, contiguous(x), wc, bc, eps);
  maybe_record("NativeGroupNormBackward", {x, weight, bias}, {r[0]}, {x, weight, r[1], r[2]},
               [geo, eps, C](const FunctionNode& n, const Tensors& gs) -> Tensors {
                 const Tensor& g = gs[0];
                 Tensor x = n.saved(0), w = n.saved(1);
                 // Note [Normalization double backward]
                 if (autograd::grad_enabled() || !fused_norm_backward_on(x.device())) {
                   Tensor wb = w.defined() ? channel_view(w, x.dim()) : Tensor();
                   auto [dx, xhat] = norm_backward_composite(
                       x, g, wb, {x.size(0), geo.G, -1}, {2}, eps);
                   Shape cs(static_cast<size_t>(x.dim()), 1);
                   cs[1] = C;
                   Tensor dw = n.needs_input_grad(1)
                                   ? reshape(sum_to(mul(g, xhat), cs), {C}) : Tensor();
                   Tensor db = n.needs_input_grad(2) ? reshape(sum_to(g, cs), {C}) : Tensor();
                   return {dx, dw, db};
                 }
                 return rows_backward("group_norm", geo, n, g, x, w, n.saved(2), n.saved(3));
               });
  return r[0];
}

}  // namespace fastgrad
