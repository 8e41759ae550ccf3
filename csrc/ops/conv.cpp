// conv2d by im2col + gemm, and its backward (col2im for the input gradient).
// Note [Conv threading]: the work splits into (sample, group) units. When one
// unit's gemm is small enough for OpenBLAS to run it on the calling thread,
// units run in parallel OpenMP chunks, each with its own column buffer (and
// weight-gradient accumulator); otherwise units run in turn with im2col /
// col2im spread over threads and the gemm threaded by OpenBLAS.
#include <algorithm>
#include <cstring>

#include "backend/cpu/blas.h"
#include "backend/cpu/parallel.h"
#include "backend/cuda/blas.h"
#include "ops/conv_kernels.h"
#include "ops/elementwise.h"
#include "ops/elementwise_ops.h"
#if defined(__CUDACC__)
#include "backend/cuda/conv.cuh"
#endif

namespace fastgrad {

namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

using Geom = ConvGeom;

// Columns [ow_lo, ow_hi) of kernel column kj read inside the input row.
std::pair<int64_t, int64_t> valid_cols(const Geom& g, int64_t kj) {
  int64_t off = kj * g.dw - g.pl;
  int64_t lo = off >= 0 ? 0 : ceil_div(-off, g.sw);
  int64_t hi = g.W - off > 0 ? ceil_div(g.W - off, g.sw) : 0;
  hi = std::min(hi, g.OW);
  return {std::min(lo, hi), hi};
}

// Rows [r0, r1) of the (K, L) column matrix of one group of one sample; x
// points at the group's first channel.
template <class T>
void im2col(const Geom& g, const T* x, T* col, int64_t r0, int64_t r1) {
  const int64_t L = g.L();
  for (int64_t r = r0; r < r1; ++r) {
    int64_t c = r / (g.kh * g.kw), ki = (r / g.kw) % g.kh, kj = r % g.kw;
    auto [lo, hi] = valid_cols(g, kj);
    int64_t off = kj * g.dw - g.pl;
    const T* src = x + c * g.H * g.W;
    T* dst = col + r * L;
    for (int64_t oh = 0; oh < g.OH; ++oh, dst += g.OW) {
      int64_t ih = oh * g.sh - g.pt + ki * g.dh;
      if (ih < 0 || ih >= g.H) {
        std::fill(dst, dst + g.OW, T(0));
        continue;
      }
      std::fill(dst, dst + lo, T(0));
      const T* row = src + ih * g.W + off;
      if (g.sw == 1) {
        if (hi > lo) std::memcpy(dst + lo, row + lo, (hi - lo) * sizeof(T));
      } else {
        for (int64_t ow = lo; ow < hi; ++ow) dst[ow] = row[ow * g.sw];
      }
      std::fill(dst + hi, dst + g.OW, T(0));
    }
  }
}

// Adds the column matrix back onto channels [c0, c1) of one group's input
// gradient (channels never share pixels, so they can run in parallel).
template <class T>
void col2im(const Geom& g, const T* col, T* gx, int64_t c0, int64_t c1) {
  const int64_t L = g.L();
  for (int64_t c = c0; c < c1; ++c) {
    T* dstc = gx + c * g.H * g.W;
    for (int64_t ki = 0; ki < g.kh; ++ki)
      for (int64_t kj = 0; kj < g.kw; ++kj) {
        auto [lo, hi] = valid_cols(g, kj);
        int64_t off = kj * g.dw - g.pl;
        const T* src = col + ((c * g.kh + ki) * g.kw + kj) * L;
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          int64_t ih = oh * g.sh - g.pt + ki * g.dh;
          if (ih < 0 || ih >= g.H) continue;
          T* row = dstc + ih * g.W + off;
          const T* s = src + oh * g.OW;
          for (int64_t ow = lo; ow < hi; ++ow) row[ow * g.sw] += s[ow];
        }
      }
  }
}

// Runs f(chunk, u0, u1, inner_parallel) over the units (sample, group) =
// (u / G, u % G) in [0, N * G) (Note [Conv threading]); returns the number
// of chunks used (f is called once per chunk).
template <class F>
int64_t over_units(const Geom& g, F f) {
  int64_t nt = cpu::num_threads(), units = g.N * g.G;
  // OpenBLAS runs a gemm this small on the calling thread; a larger one
  // inside an OpenMP region would start its own (pthreads) pool and clash.
  int64_t work = g.Og * g.K() * g.L();
  bool small = work <= cpu::kSmallGemm;
  if (units <= 1 || nt == 1 || !small || units * work < cpu::kGrain ||
      cpu::in_parallel_region()) {
    f(0, 0, units, true);
    return 1;
  }
  int64_t chunks = std::min(nt, units);
  cpu::parallel_for(0, chunks, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t c = lo; c < hi; ++c) f(c, units * c / chunks, units * (c + 1) / chunks, false);
  });
  return chunks;
}

// Splits [0, n) over threads when allowed, else runs it inline.
template <class F>
void maybe_parallel(bool par, int64_t n, int64_t cost_per_item, F f) {
  if (!par) return f(0, n);
  int64_t grain = cpu::kGrain / std::max<int64_t>(1, cost_per_item);
  cpu::parallel_for(0, n, std::max<int64_t>(1, grain), f);
}

template <class T>
void conv_forward(const Geom& g, const T* x, const T* w, const T* b, T* y) {
  const int64_t K = g.K(), L = g.L(), in_sz = g.C * g.H * g.W;
  int64_t nbuf = g.direct() ? 0 : std::min<int64_t>(g.N * g.G, cpu::num_threads());
  std::vector<std::vector<T>> cols(nbuf);
  over_units(g, [&](int64_t chunk, int64_t u0, int64_t u1, bool par) {
    std::vector<T>* col = cols.empty() ? nullptr : &cols[chunk];
    if (col) col->resize(K * L);
    for (int64_t u = u0; u < u1; ++u) {
      int64_t n = u / g.G, gi = u % g.G;
      const T* xg = x + n * in_sz + gi * g.Cg * g.H * g.W;
      T* yg = y + (n * g.O + gi * g.Og) * L;
      const T* cp = xg;
      if (col) {
        maybe_parallel(par, K, L, [&](int64_t lo, int64_t hi) {
          im2col(g, xg, col->data(), lo, hi);
        });
        cp = col->data();
      }
      if (b)
        for (int64_t o = 0; o < g.Og; ++o)
          std::fill(yg + o * L, yg + (o + 1) * L, b[gi * g.Og + o]);
      if (K > 0)
        cpu::gemm<T>(false, false, g.Og, L, K, T(1), w + gi * g.Og * K, K, cp, L,
                     b ? T(1) : T(0), yg, L);
      else if (!b)
        std::fill(yg, yg + g.Og * L, T(0));
    }
  });
}

// Input and/or weight gradient from the output gradient gy.
template <class T>
void conv_backward(const Geom& g, const T* x, const T* w, const T* gy, T* gx, T* gw) {
  const int64_t K = g.K(), L = g.L(), in_sz = g.C * g.H * g.W, wsz = g.O * K;
  int64_t nt = std::min<int64_t>(g.N * g.G, cpu::num_threads());
  std::vector<std::vector<T>> cols(nt), gws(gw ? nt : 0);
  if (gx) std::fill(gx, gx + g.N * in_sz, T(0));
  if (gw) std::fill(gw, gw + wsz, T(0));
  if (K == 0 || g.N == 0 || g.O == 0) return;
  int64_t chunks = over_units(g, [&](int64_t chunk, int64_t u0, int64_t u1, bool par) {
    std::vector<T>& col = cols[chunk];
    if (!g.direct()) col.resize(K * L);
    T* gwc = nullptr;
    if (gw) {
      if (chunk == 0) {
        gwc = gw;
      } else {
        gws[chunk].assign(wsz, T(0));
        gwc = gws[chunk].data();
      }
    }
    for (int64_t u = u0; u < u1; ++u) {
      int64_t n = u / g.G, gi = u % g.G;
      const T* gyg = gy + (n * g.O + gi * g.Og) * L;
      int64_t xoff = n * in_sz + gi * g.Cg * g.H * g.W;
      if (gw) {
        const T* cp = x + xoff;
        if (!g.direct()) {
          maybe_parallel(par, K, L, [&](int64_t lo, int64_t hi) {
            im2col(g, x + xoff, col.data(), lo, hi);
          });
          cp = col.data();
        }
        cpu::gemm<T>(false, true, g.Og, K, L, T(1), gyg, L, cp, L, T(1), gwc + gi * g.Og * K, K);
      }
      if (gx) {
        const T* wg = w + gi * g.Og * K;
        if (g.direct()) {  // the column matrix is the input gradient itself
          cpu::gemm<T>(true, false, K, L, g.Og, T(1), wg, K, gyg, L, T(0), gx + xoff, L);
          continue;
        }
        cpu::gemm<T>(true, false, K, L, g.Og, T(1), wg, K, gyg, L, T(0), col.data(), L);
        maybe_parallel(par, g.Cg, g.kh * g.kw * L, [&](int64_t lo, int64_t hi) {
          col2im(g, col.data(), gx + xoff, lo, hi);
        });
      }
    }
  });
  for (int64_t c = 1; c < chunks && gw; ++c)
    for (int64_t i = 0; i < wsz; ++i) gw[i] += gws[c][i];
}

// Note [Depthwise convolution]: with one input channel per group the im2col
// gemms have k = kh * kw and m = out_channels / groups, shapes BLAS handles
// poorly; direct loops over (sample, channel) planes are much faster.
template <class T, class F>
void dw_taps(const Geom& g, F f) {  // f(ki, kj, col_lo, col_hi, col_offset)
  for (int64_t ki = 0; ki < g.kh; ++ki)
    for (int64_t kj = 0; kj < g.kw; ++kj) {
      auto [lo, hi] = valid_cols(g, kj);
      f(ki, kj, lo, hi, kj * g.dw - g.pl);
    }
}

int64_t dw_grain(const Geom& g) {
  return std::max<int64_t>(1, cpu::kGrain / std::max<int64_t>(1, g.L() * g.kh * g.kw));
}

template <class T>
void dw_forward(const Geom& g, const T* x, const T* w, const T* b, T* y) {
  const int64_t HW = g.H * g.W, L = g.L(), KK = g.kh * g.kw;
  cpu::parallel_for(0, g.N * g.O, dw_grain(g), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      int64_t n = p / g.O, o = p % g.O;
      const T* xp = x + (n * g.C + o / g.Og) * HW;
      T* yp = y + p * L;
      std::fill(yp, yp + L, b ? b[o] : T(0));
      dw_taps<T>(g, [&](int64_t ki, int64_t kj, int64_t lo, int64_t hi, int64_t off) {
        T wv = w[o * KK + ki * g.kw + kj];
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          int64_t ih = oh * g.sh - g.pt + ki * g.dh;
          if (ih < 0 || ih >= g.H) continue;
          const T* row = xp + ih * g.W + off;
          T* yr = yp + oh * g.OW;
          if (g.sw == 1) {
            for (int64_t ow = lo; ow < hi; ++ow) yr[ow] += wv * row[ow];
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) yr[ow] += wv * row[ow * g.sw];
          }
        }
      });
    }
  });
}

template <class T>
void dw_backward(const Geom& g, const T* x, const T* w, const T* gy, T* gx, T* gw) {
  const int64_t HW = g.H * g.W, L = g.L(), KK = g.kh * g.kw;
  if (gx)  // each input plane gathers from its own group's output planes
    cpu::parallel_for(0, g.N * g.C, dw_grain(g) / std::max<int64_t>(1, g.Og) + 1,
                      [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        int64_t n = p / g.C, c = p % g.C;
        T* gp = gx + p * HW;
        std::fill(gp, gp + HW, T(0));
        for (int64_t o = c * g.Og; o < (c + 1) * g.Og; ++o) {
          const T* gyp = gy + (n * g.O + o) * L;
          dw_taps<T>(g, [&](int64_t ki, int64_t kj, int64_t lo, int64_t hi, int64_t off) {
            T wv = w[o * KK + ki * g.kw + kj];
            for (int64_t oh = 0; oh < g.OH; ++oh) {
              int64_t ih = oh * g.sh - g.pt + ki * g.dh;
              if (ih < 0 || ih >= g.H) continue;
              T* row = gp + ih * g.W + off;
              const T* gr = gyp + oh * g.OW;
              for (int64_t ow = lo; ow < hi; ++ow) row[ow * g.sw] += wv * gr[ow];
            }
          });
        }
      }
    });
  if (gw)  // one output channel's taps sum over the whole batch
    cpu::parallel_for(0, g.O, 1, [&](int64_t o0, int64_t o1) {
      // per-column partial sums: an elementwise (vectorizable) inner loop
      std::vector<T> part(g.OW);
      for (int64_t o = o0; o < o1; ++o)
        dw_taps<T>(g, [&](int64_t ki, int64_t kj, int64_t lo, int64_t hi, int64_t off) {
          std::fill(part.begin(), part.end(), T(0));
          T* pp = part.data();
          for (int64_t n = 0; n < g.N; ++n) {
            const T* xp = x + (n * g.C + o / g.Og) * HW;
            const T* gyp = gy + (n * g.O + o) * L;
            for (int64_t oh = 0; oh < g.OH; ++oh) {
              int64_t ih = oh * g.sh - g.pt + ki * g.dh;
              if (ih < 0 || ih >= g.H) continue;
              const T* row = xp + ih * g.W + off;
              const T* gr = gyp + oh * g.OW;
              if (g.sw == 1) {
                for (int64_t ow = lo; ow < hi; ++ow) pp[ow] += gr[ow] * row[ow];
              } else {
                for (int64_t ow = lo; ow < hi; ++ow) pp[ow] += gr[ow] * row[ow * g.sw];
              }
            }
          }
          double acc = 0;
          for (T v : part) acc += v;
          gw[o * KK + ki * g.kw + kj] = static_cast<T>(acc);
        });
    });
}

bool depthwise(const Geom& g) { return g.G > 1 && g.Cg == 1; }

// ---- CUDA: per sample, im2col of all groups, then one strided batch of
// GEMMs over the groups (depthwise convolutions take the same path) ----------

#if defined(__CUDACC__)
// A group-strided matrix of the cuBLAS batch: (rows, cols) at ld, groups `stride` apart.
template <class T>
cuda::GemmMatrix<T> mat(const T* p, bool trans, int64_t ld, int64_t stride) {
  return {p, trans, ld, stride};
}

template <class T>
void conv_forward_cuda(const Geom& g, const Tensor& x, const Tensor& w, const Tensor& b,
                       const Tensor& y) {
  const int dev = x.device().index;
  const int64_t K = g.K(), L = g.L(), in_sz = g.C * g.H * g.W;
  if (b.defined())  // y starts as the bias; the GEMMs add onto it (beta = 1)
    copy_(y, make_view(b, y.sizes(), {0, b.stride(0), 0, 0}, b.offset()));
  if (K == 0) {
    if (!b.defined()) zero_(y);
    return;
  }
  Tensor col = g.direct() ? Tensor() : empty({g.G * K * L}, x.dtype(), x.device());
  const T* W = w.data<T>();
  for (int64_t n = 0; n < g.N; ++n) {
    const T* xn = x.data<T>() + n * in_sz;
    const T* cp = xn;
    if (col.defined()) {
      cuda::im2col_cuda<T>(dev, g, xn, col.data<T>());
      cp = col.data<T>();
    }
    cuda::gemm_strided_batched<T>("conv2d", dev, g.G, g.Og, L, K, T(1), mat(W, false, K, g.Og * K),
                                  mat(cp, false, L, K * L), b.defined() ? T(1) : T(0),
                                  y.data<T>() + n * g.O * L);
  }
}

template <class T>
void conv_backward_cuda(const Geom& g, const Tensor& x, const Tensor& w, const Tensor& gy,
                        const Tensor& gx, const Tensor& gw) {
  const int dev = gy.device().index;
  const int64_t K = g.K(), L = g.L(), in_sz = g.C * g.H * g.W;
  if (gw.defined()) zero_(gw);  // accumulated over the batch
  if (K == 0 || g.N == 0 || g.O == 0 || L == 0) {
    if (gx.defined()) zero_(gx);
    return;
  }
  Tensor col = g.direct() ? Tensor() : empty({g.G * K * L}, gy.dtype(), gy.device());
  T* C = col.defined() ? col.data<T>() : nullptr;
  for (int64_t n = 0; n < g.N; ++n) {
    const T* gyn = gy.data<T>() + n * g.O * L;
    if (gw.defined()) {  // gw_g += gy_g (Og, L) @ col_g^T (L, K)
      const T* xn = x.data<T>() + n * in_sz;
      const T* cp = xn;
      if (C) {
        cuda::im2col_cuda<T>(dev, g, xn, C);
        cp = C;
      }
      cuda::gemm_strided_batched<T>("conv2d", dev, g.G, g.Og, K, L, T(1),
                                    mat(gyn, false, L, g.Og * L), mat(cp, true, L, K * L), T(1),
                                    gw.data<T>());
    }
    if (gx.defined()) {  // col_g = w_g^T (K, Og) @ gy_g (Og, L), then gathered
      T* gxn = gx.data<T>() + n * in_sz;
      cuda::gemm_strided_batched<T>("conv2d", dev, g.G, K, L, g.Og, T(1),
                                    mat(w.data<T>(), true, K, g.Og * K),
                                    mat(gyn, false, L, g.Og * L), T(0), C ? C : gxn);
      if (C) cuda::col2im_cuda<T>(dev, g, C, gxn);
    }
  }
}
#endif

#if !defined(__CUDACC__)
[[noreturn]] void no_conv_kernel(Device dev) {
  fail<NotImplementedError>("conv2d: no kernel for device ", dev);
}
#endif

}  // namespace

ConvGeom conv2d_geom(const Tensor& x, const Tensor& w, const std::vector<int64_t>& stride,
                     const std::vector<int64_t>& padding, const std::vector<int64_t>& dilation,
                     int64_t groups) {
  const char* op = "conv2d";
  FG_CHECK(x.dim() == 4, op, ": expected a 4-d (N, C, H, W) input, got ", shape_str(x.sizes()));
  FG_CHECK(w.dim() == 4, op,
           ": expected a 4-d (out_channels, in_channels / groups, kH, kW) weight, got ",
           shape_str(w.sizes()));
  FG_CHECK(stride.size() == 2 && dilation.size() == 2 && padding.size() == 4, op,
           ": expected 2 strides, 2 dilations and 4 paddings");
  FG_CHECK(x.dtype() == w.dtype(), op, ": input (", x.dtype(), ") and weight (", w.dtype(),
           ") must have the same dtype");
  FG_CHECK(x.device() == w.device(), op, ": expected all tensors on the same device, got ",
           x.device(), " and ", w.device());
  FG_CHECK(groups > 0, op, ": non-positive groups is not supported, got ", groups);
  for (int i = 0; i < 2; ++i) {
    FG_CHECK(stride[i] > 0, op, ": non-positive stride is not supported, got ", stride[i]);
    FG_CHECK(dilation[i] > 0, op, ": dilation must be greater than zero, got ", dilation[i]);
  }
  for (int64_t p : padding) FG_CHECK(p >= 0, op, ": negative padding is not supported, got ", p);
  Geom g{};
  g.N = x.size(0), g.C = x.size(1), g.H = x.size(2), g.W = x.size(3);
  g.O = w.size(0), g.G = groups, g.kh = w.size(2), g.kw = w.size(3);
  FG_CHECK(g.C % groups == 0 && g.O % groups == 0, op, ": groups=", groups,
           " must divide in_channels=", g.C, " and out_channels=", g.O);
  g.Cg = g.C / groups, g.Og = g.O / groups;
  FG_CHECK(w.size(1) == g.Cg, op, ": expected input with ", w.size(1) * groups,
           " channels, got ", shape_str(x.sizes()), " for weight ", shape_str(w.sizes()),
           " and groups=", groups);
  g.sh = stride[0], g.sw = stride[1], g.dh = dilation[0], g.dw = dilation[1];
  g.pt = padding[0], g.pl = padding[1];
  int64_t eh = g.dh * (g.kh - 1) + 1, ew = g.dw * (g.kw - 1) + 1;
  int64_t ph = g.H + padding[0] + padding[2], pw = g.W + padding[1] + padding[3];
  FG_CHECK(g.kh > 0 && g.kw > 0 && eh <= ph && ew <= pw, op, ": kernel size (", eh, ", ", ew,
           ") (dilated) can't be greater than the padded input size (", ph, ", ", pw, ")");
  g.OH = (ph - eh) / g.sh + 1, g.OW = (pw - ew) / g.sw + 1;
  FG_CHECK(cpu::fits_blasint(g.K() * g.L()) && cpu::fits_blasint(g.O * g.K()), op,
           ": problem too large for 32-bit BLAS");
  return g;
}

void conv2d_forward_kernel(const ConvGeom& g, const Tensor& x, const Tensor& w,
                           const Tensor& b, const Tensor& y) {
  dispatch_float(x.dtype(), "conv2d", [&](auto tag) {
    using T = decltype(tag);
    if (g.N * g.O * g.L() == 0) return;
    if (!x.device().is_cpu()) {
#if defined(__CUDACC__)
      return conv_forward_cuda<T>(g, x, w, b, y);
#else
      no_conv_kernel(x.device());
#endif
    }
    const T* bp = b.defined() ? b.data<T>() : nullptr;
    if (depthwise(g))
      dw_forward<T>(g, x.data<T>(), w.data<T>(), bp, y.data<T>());
    else
      conv_forward<T>(g, x.data<T>(), w.data<T>(), bp, y.data<T>());
  });
}

void conv2d_backward_kernel(const ConvGeom& g, const Tensor& x, const Tensor& w,
                            const Tensor& gy, const Tensor& gx, const Tensor& gw) {
  dispatch_float(gy.dtype(), "conv2d", [&](auto tag) {
    using T = decltype(tag);
    if (!gy.device().is_cpu()) {
#if defined(__CUDACC__)
      return conv_backward_cuda<T>(g, x, w, gy, gx, gw);
#else
      no_conv_kernel(gy.device());
#endif
    }
    const T* xp = x.defined() ? x.data<T>() : nullptr;
    const T* wp = w.defined() ? w.data<T>() : nullptr;
    T* gxp = gx.defined() ? gx.data<T>() : nullptr;
    T* gwp = gw.defined() ? gw.data<T>() : nullptr;
    if (depthwise(g) && g.N * g.L() > 0)
      dw_backward<T>(g, xp, wp, gy.data<T>(), gxp, gwp);
    else
      conv_backward<T>(g, xp, wp, gy.data<T>(), gxp, gwp);
  });
}

}  // namespace fastgrad
