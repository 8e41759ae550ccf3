// Max, average and adaptive pooling over the (H, W) planes of an (N, C, H, W)
// input. Every variant is described per axis by a window list (first input
// position, count, step, divisor) so one max kernel and one average kernel
// (and their backward kernels) serve all of them; planes run in parallel.
// On CUDA the same window tables go to the device (backend/cuda/pool.cuh).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <type_traits>

#include "autograd/grad_mode.h"
#include "backend/cpu/parallel.h"
#include "ops/conv_ops.h"
#include "ops/elementwise.h"
#include "ops/elementwise_ops.h"
#include "ops/grad_utils.h"
#include "ops/index_launch.h"
#include "ops/index_ops.h"
#include "ops/shape_ops.h"
#if defined(__CUDACC__)
#include "backend/cuda/pool.cuh"
#endif

namespace fastgrad {

namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -ceil_div(-a, b); }

// Windows along one axis: output o reads positions first[o] + j * step for
// j < count[o]; div[o] is its share of the average's divisor.
struct Axis {
  int64_t in = 0, step = 1;
  std::vector<int64_t> first, count, div;
  int64_t out() const { return static_cast<int64_t>(first.size()); }
};

int64_t pooled_size(const char* op, int64_t in, int64_t k, int64_t s, int64_t p, int64_t d,
                    bool ceil_mode) {
  int64_t span = in + 2 * p - d * (k - 1) - 1;
  int64_t out = floor_div(span + (ceil_mode ? s - 1 : 0), s) + 1;
  // The last window must start inside the input or its left padding.
  if (ceil_mode && (out - 1) * s >= in + p) --out;
  return out;
}

void check_window(const char* op, const std::vector<int64_t>& kernel,
                  const std::vector<int64_t>& stride, const std::vector<int64_t>& padding,
                  const std::vector<int64_t>& dilation) {
  FG_CHECK(kernel.size() == 2 && stride.size() == 2 && padding.size() == 2 &&
               dilation.size() == 2,
           op, ": expected 2 values each for kernel_size, stride, padding and dilation");
  for (int i = 0; i < 2; ++i) {
    FG_CHECK(kernel[i] > 0, op, ": kernel_size must be greater than zero, got ", kernel[i]);
    FG_CHECK(stride[i] > 0, op, ": stride must be greater than zero, got ", stride[i]);
    FG_CHECK(dilation[i] > 0, op, ": dilation must be greater than zero, got ", dilation[i]);
    FG_CHECK(padding[i] >= 0 && padding[i] <= kernel[i] / 2, op,
             ": pad should be smaller than or equal to half of kernel size, but got pad=",
             padding[i], ", kernel_size=", kernel[i]);
  }
}

void check_input(const char* op, const Tensor& x) {
  FG_CHECK(x.dim() == 4, op, ": expected a 4-d (N, C, H, W) input, got ", shape_str(x.sizes()));
  FG_CHECK(x.size(2) > 0 && x.size(3) > 0, op,
           ": expected input with non-zero spatial size, got ", shape_str(x.sizes()));
}

Axis window_axis(const char* op, int64_t in, int64_t k, int64_t s, int64_t p, int64_t d,
                 bool ceil_mode, bool include_pad) {
  int64_t out = pooled_size(op, in, k, s, p, d, ceil_mode);
  FG_CHECK(out > 0, op, ": output size is too small: input size ", in, " with kernel_size=", k,
           ", stride=", s, ", padding=", p, ", dilation=", d, " gives ", out);
  Axis a;
  a.in = in, a.step = d;
  for (int64_t o = 0; o < out; ++o) {
    int64_t start = o * s - p;
    int64_t jlo = start < 0 ? ceil_div(-start, d) : 0;
    int64_t jhi = std::min(k, ceil_div(in - start, d));
    a.first.push_back(start + jlo * d);
    a.count.push_back(std::max<int64_t>(0, jhi - jlo));
    // Average pooling (d == 1): the window clipped to the padded input.
    int64_t end = std::min(start + k, in + p);
    a.div.push_back(include_pad ? end - start : a.count.back());
  }
  return a;
}

Axis adaptive_axis(int64_t in, int64_t out) {
  Axis a;
  a.in = in;
  for (int64_t o = 0; o < out; ++o) {
    int64_t lo = o * in / out, hi = ceil_div((o + 1) * in, out);
    a.first.push_back(lo), a.count.push_back(hi - lo), a.div.push_back(hi - lo);
  }
  return a;
}

// Runs f(plane) over N * C planes, each costing about `cost` elements.
template <class F>
void over_planes(int64_t planes, int64_t cost, F f) {
  cpu::parallel_for(0, planes, std::max<int64_t>(1, cpu::kGrain / std::max<int64_t>(1, cost)),
                    [&](int64_t lo, int64_t hi) {
                      for (int64_t p = lo; p < hi; ++p) f(p);
                    });
}

struct Pool {
  Axis h, w;
  int64_t N = 0, C = 0;
  std::optional<int64_t> divisor;  // divisor_override
  int64_t planes() const { return N * C; }
  int64_t cost() const {
    int64_t win = h.out() && w.out() ? h.count[0] * w.count[0] : 1;
    return h.out() * w.out() * win + h.in * w.in;
  }
};

// take ? a : b by masking the bits: compilers turn a plain ?: back into a
// branch here, and on real data that branch is a coin flip.
template <class T>
T select_bits(bool take, T a, T b) {
  using U = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  U ua, ub;
  std::memcpy(&ua, &a, sizeof(T));
  std::memcpy(&ub, &b, sizeof(T));
  const U mask = U(0) - static_cast<U>(take);
  U r = (ua & mask) | (ub & ~mask);
  T out;
  std::memcpy(&out, &r, sizeof(T));
  return out;
}

template <class T>
void max_forward(const Pool& p, const T* x, T* y, int64_t* idx) {
  const int64_t H = p.h.in, W = p.w.in, OH = p.h.out(), OW = p.w.out();
  over_planes(p.planes(), p.cost(), [&](int64_t pl) {
    const T* xp = x + pl * H * W;
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        int64_t best_i = p.h.first[oh] * W + p.w.first[ow];
        T best = -std::numeric_limits<T>::infinity();
        for (int64_t i = 0, ih = p.h.first[oh]; i < p.h.count[oh]; ++i, ih += p.h.step)
          for (int64_t j = 0, iw = p.w.first[ow]; j < p.w.count[ow]; ++j, iw += p.w.step) {
            T v = xp[ih * W + iw];
            // NaN wins (the last one), like torch's kernel.
            const bool take = (v > best) | (v != v);  // no short-circuit branch
            best = select_bits(take, v, best);
            best_i ^= (best_i ^ (ih * W + iw)) & -static_cast<int64_t>(take);
          }
        y[(pl * OH + oh) * OW + ow] = best;
        idx[(pl * OH + oh) * OW + ow] = best_i;
      }
  });
}

template <class T>
void max_backward(int64_t planes, int64_t in_sz, int64_t out_sz, const T* gy, const int64_t* idx,
                  T* gx) {
  over_planes(planes, in_sz + out_sz, [&](int64_t pl) {
    T* g = gx + pl * in_sz;
    std::fill(g, g + in_sz, T(0));
    for (int64_t o = pl * out_sz; o < (pl + 1) * out_sz; ++o) g[idx[o]] += gy[o];
  });
}

template <class T>
T divisor(const Pool& p, int64_t oh, int64_t ow) {
  return static_cast<T>(p.divisor ? *p.divisor : p.h.div[oh] * p.w.div[ow]);
}

template <class T>
void avg_forward(const Pool& p, const T* x, T* y) {
  const int64_t H = p.h.in, W = p.w.in, OH = p.h.out(), OW = p.w.out();
  over_planes(p.planes(), p.cost(), [&](int64_t pl) {
    const T* xp = x + pl * H * W;
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        T s = 0;
        for (int64_t ih = p.h.first[oh]; ih < p.h.first[oh] + p.h.count[oh]; ++ih) {
          const T* row = xp + ih * W + p.w.first[ow];
          for (int64_t j = 0; j < p.w.count[ow]; ++j) s += row[j];
        }
        y[(pl * OH + oh) * OW + ow] = s / divisor<T>(p, oh, ow);
      }
  });
}

template <class T>
void avg_backward(const Pool& p, const T* gy, T* gx) {
  const int64_t H = p.h.in, W = p.w.in, OH = p.h.out(), OW = p.w.out();
  over_planes(p.planes(), p.cost(), [&](int64_t pl) {
    T* g = gx + pl * H * W;
    std::fill(g, g + H * W, T(0));
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        T v = gy[(pl * OH + oh) * OW + ow] / divisor<T>(p, oh, ow);
        for (int64_t ih = p.h.first[oh]; ih < p.h.first[oh] + p.h.count[oh]; ++ih) {
          T* row = g + ih * W + p.w.first[ow];
          for (int64_t j = 0; j < p.w.count[ow]; ++j) row[j] += v;
        }
      }
  });
}

// ---- CUDA ------------------------------------------------------------------------
#if defined(__CUDACC__)
// The window tables on `dev`, and the kernels' view of them (valid while the
// tables live).
struct DeviceWindows {
  Tensor h, w;
  cuda::PoolWindows p;
};
DeviceWindows device_windows(const Pool& p, Device dev) {
  auto table = [dev](const Axis& a) {
    Tensor host = empty({3 * a.out()}, DType::Int64, Device{});
    int64_t* t = host.data<int64_t>();
    for (const auto* v : {&a.first, &a.count, &a.div}) t = std::copy(v->begin(), v->end(), t);
    return to_device(host, dev);
  };
  DeviceWindows d{table(p.h), table(p.w), {}};
  d.p = {d.h.data<int64_t>(), d.w.data<int64_t>(), p.h.in, p.w.in, p.h.out(), p.w.out(),
         p.h.step, p.w.step, p.divisor.value_or(0)};
  return d;
}

// Launches kernel<<<...>>>(windows, args...) over n outputs on x's device.
template <class K, class... A>
void pool_launch(const Pool& p, const Tensor& x, int64_t n, K kernel, A... args) {
  if (n == 0) return;
  const int dev = x.device().index;
  DeviceWindows d = device_windows(p, x.device());
  cuda::DeviceGuard guard(dev);
  kernel<<<cuda::pool_blocks(n), cuda::kPoolThreads, 0, cuda::current_stream(dev)>>>(d.p, args...,
                                                                                  n);
  cuda::check_launch("pooling");
  // the tables are freed to the stream-ordered cache: the kernel runs first
}
#endif

#if !defined(__CUDACC__)
[[noreturn]] void no_pool_kernel(const char* op, Device dev) {
  fail<NotImplementedError>(op, ": no kernel for device ", dev);
}
#endif

// Note [Pool double backward]: every pooling backward is linear in the
// output gradient, so it is a recorded op whose own backward is its
// transpose: max pooling's scatter into the argmax positions has the gather
// at the same indices, average pooling's spread over the window has the
// forward average. The kernels run either way; recording happens only under
// create_graph (grad mode on inside a backward rule).
Tensor max_scatter(const char* op, const Tensor& gy, const Tensor& idx, const Pool& p) {
  int64_t in_sz = p.h.in * p.w.in, out_sz = p.h.out() * p.w.out();
  Tensor gx;
  {
    autograd::GradModeGuard no_grad(false);
    Tensor g = contiguous(gy);
    gx = empty({p.N, p.C, p.h.in, p.w.in}, gy.dtype(), gy.device());
    if (!gy.device().is_cpu()) {  // the indexing scatter-add (atomic on CUDA)
      zero_(gx);
      const Shape it{p.planes(), out_sz};
      scatter_offsets(op, it, make_view(gx, it, {in_sz, 0}, 0),
                      make_view(idx, it, {out_sz, 1}, idx.offset()),
                      make_view(g, it, {out_sz, 1}, g.offset()), ScatterMode::Add);
    } else {
      dispatch_float(gy.dtype(), op, [&](auto tag) {
        using T = decltype(tag);
        max_backward<T>(p.planes(), in_sz, out_sz, g.data<T>(), idx.data<int64_t>(),
                        gx.data<T>());
      });
    }
  }
  Shape ys = gy.sizes();
  maybe_record("MaxPool2DWithIndicesBackwardBackward", {gy}, {gx}, {idx},
               [=](const FunctionNode& n, const Tensors& gs) -> Tensors {
                 Tensor ix = n.saved(0);
                 Tensor flat = reshape(gs[0], {p.N, p.C, in_sz});
                 Tensor picked = gather(flat, 2, reshape(ix, {p.N, p.C, out_sz}));
                 return {reshape(picked, ys)};
               });
  return gx;
}

std::tuple<Tensor, Tensor> run_max(const char* op, const char* node, const Tensor& input,
                                   const Pool& p) {
  if (is_16bit_float(input.dtype())) {  // Note [16-bit floats]
    auto [y, idx] = run_max(op, node, as_float32(input), p);
    return {to_dtype(y, input.dtype()), idx};
  }
  Tensor y, idx;
  {
    autograd::GradModeGuard no_grad(false);
    Tensor x = contiguous(input);
    y = empty({p.N, p.C, p.h.out(), p.w.out()}, input.dtype(), input.device());
    idx = empty(y.sizes(), DType::Int64, input.device());
    dispatch_float(input.dtype(), op, [&](auto tag) {
      using T = decltype(tag);
      if (!x.device().is_cpu()) {
#if defined(__CUDACC__)
        return pool_launch(p, x, y.numel(), cuda::max_pool_kernel<T>, x.data<T>(), y.data<T>(),
                           idx.data<int64_t>(), -std::numeric_limits<T>::infinity());
#else
        no_pool_kernel(op, x.device());
#endif
      }
      if (y.numel() > 0) max_forward<T>(p, x.data<T>(), y.data<T>(), idx.data<int64_t>());
    });
  }
  maybe_record(node, {input}, {y}, {idx},
               [=](const FunctionNode& n, const Tensors& gs) -> Tensors {
                 return {max_scatter(op, gs[0], n.saved(0), p)};
               });
  return {y, idx};
}

// Average pooling (transpose=false) or its backward, the spread of each
// output over its window (transpose=true); each is the other's backward.
// nodes: {forward's backward node, its backward's node} (static strings).
using NodeNames = std::pair<const char*, const char*>;

Tensor avg_apply(const char* op, NodeNames nodes, const Tensor& input,
                 std::shared_ptr<const Pool> p, bool transpose) {
  if (is_16bit_float(input.dtype()))  // Note [16-bit floats]
    return to_dtype(avg_apply(op, nodes, as_float32(input), p, transpose), input.dtype());
  Tensor y;
  {
    autograd::GradModeGuard no_grad(false);
    Tensor x = contiguous(input);
    Shape in{p->N, p->C, p->h.in, p->w.in}, out{p->N, p->C, p->h.out(), p->w.out()};
    y = empty(transpose ? in : out, input.dtype(), input.device());
    dispatch_float(input.dtype(), op, [&](auto tag) {
      using T = decltype(tag);
      if (y.numel() == 0) return;
      if (!x.device().is_cpu()) {
#if defined(__CUDACC__)
        if (!transpose)
          return pool_launch(*p, x, y.numel(), cuda::avg_pool_kernel<T>, x.data<T>(), y.data<T>());
        zero_(y);
        return pool_launch(*p, x, x.numel(), cuda::avg_pool_backward_kernel<T>, x.data<T>(),
                           y.data<T>());
#else
        no_pool_kernel(op, x.device());
#endif
      }
      if (transpose)
        avg_backward<T>(*p, x.data<T>(), y.data<T>());
      else
        avg_forward<T>(*p, x.data<T>(), y.data<T>());
    });
  }
  maybe_record(transpose ? nodes.second : nodes.first, {input}, {y}, {},
               [=](const FunctionNode&, const Tensors& gs) -> Tensors {
                 return {avg_apply(op, nodes, gs[0], p, !transpose)};
               });
  return y;
}

Pool adaptive_pool(const char* op, const Tensor& x, const std::vector<int64_t>& out) {
  check_input(op, x);
  FG_CHECK(out.size() == 2 && out[0] >= 0 && out[1] >= 0, op,
           ": expected output_size of 2 non-negative values");
  Pool p;
  p.N = x.size(0), p.C = x.size(1);
  p.h = adaptive_axis(x.size(2), out[0]), p.w = adaptive_axis(x.size(3), out[1]);
  return p;
}

}  // namespace

std::tuple<Tensor, Tensor> max_pool2d_nn(const Tensor& input, const std::vector<int64_t>& kernel,
                                         const std::vector<int64_t>& stride,
                                         const std::vector<int64_t>& padding,
                                         const std::vector<int64_t>& dilation, bool ceil_mode) {
  const char* op = "max_pool2d";
  check_input(op, input);
  check_window(op, kernel, stride, padding, dilation);
  Pool p;
  p.N = input.size(0), p.C = input.size(1);
  p.h = window_axis(op, input.size(2), kernel[0], stride[0], padding[0], dilation[0],
                    ceil_mode, true);
  p.w = window_axis(op, input.size(3), kernel[1], stride[1], padding[1], dilation[1],
                    ceil_mode, true);
  return run_max(op, "MaxPool2DWithIndicesBackward", input, p);
}

Tensor avg_pool2d_nn(const Tensor& input, const std::vector<int64_t>& kernel,
                     const std::vector<int64_t>& stride, const std::vector<int64_t>& padding,
                     bool ceil_mode, bool count_include_pad,
                     std::optional<int64_t> divisor_override) {
  const char* op = "avg_pool2d";
  check_input(op, input);
  check_window(op, kernel, stride, padding, {1, 1});
  FG_CHECK(!divisor_override || *divisor_override != 0, op, ": divisor must be not zero");
  auto p = std::make_shared<Pool>();
  p->N = input.size(0), p->C = input.size(1), p->divisor = divisor_override;
  p->h = window_axis(op, input.size(2), kernel[0], stride[0], padding[0], 1, ceil_mode,
                     count_include_pad);
  p->w = window_axis(op, input.size(3), kernel[1], stride[1], padding[1], 1, ceil_mode,
                     count_include_pad);
  return avg_apply(op, {"AvgPool2DBackward", "AvgPool2DBackwardBackward"}, input, p, false);
}

Tensor adaptive_avg_pool2d_nn(const Tensor& input, const std::vector<int64_t>& output_size) {
  const char* op = "adaptive_avg_pool2d";
  auto p = std::make_shared<Pool>(adaptive_pool(op, input, output_size));
  return avg_apply(
      op, {"AdaptiveAvgPool2DBackward", "AdaptiveAvgPool2DBackwardBackward"}, input, p, false);
}

std::tuple<Tensor, Tensor> adaptive_max_pool2d_nn(const Tensor& input,
                                                  const std::vector<int64_t>& output_size) {
  const char* op = "adaptive_max_pool2d";
  return run_max(op, "AdaptiveMaxPool2DBackward", input, adaptive_pool(op, input, output_size));
}

}  // namespace fastgrad
