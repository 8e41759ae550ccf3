// Deterministic creation ops: empty, full/zeros/ones, arange, linspace, eye.
#include <cmath>
#include <limits>

#include "ops/elementwise_ops.h"
#include "ops/factory_ops.h"
#include "ops/launch_indexed.h"

namespace fastgrad {

void check_size(const char* op, const Shape& size) {
  for (int64_t s : size)
    FG_CHECK(s >= 0, op, ": trying to create a tensor with negative dimension ", s,
             ": ", shape_str(size));
}

Tensor empty_op(const Shape& size, std::optional<DType> dtype, Device device) {
  check_size("empty", size);
  return empty(size, dtype.value_or(default_float_dtype()), device);
}

Tensor full(const Shape& size, const Scalar& fill, std::optional<DType> dtype,
            Device device) {
  check_size("full", size);
  Tensor out = empty(size, dtype.value_or(fill.dtype()), device);
  fill_(out, fill);
  return out;
}

Tensor zeros(const Shape& size, std::optional<DType> dtype, Device device) {
  check_size("zeros", size);
  Tensor out = empty(size, dtype.value_or(default_float_dtype()), device);
  fill_(out, Scalar(int64_t{0}));
  return out;
}

Tensor ones(const Shape& size, std::optional<DType> dtype, Device device) {
  check_size("ones", size);
  Tensor out = empty(size, dtype.value_or(default_float_dtype()), device);
  fill_(out, Scalar(int64_t{1}));
  return out;
}

namespace {

// Element i of arange / linspace: FG_HOST_DEVICE, so CUDA outputs are filled
// on the device (ops/launch_indexed.h).
template <class T>
struct ArangeFloatFn {  // accumulates in double
  static constexpr bool kOnDevice = true;
  double s, st;
  FG_HOST_DEVICE T operator()(int64_t i) const { return static_cast<T>(s + st * i); }
};

template <class T>
struct ArangeIntFn {  // wraps like PyTorch (unsigned math: no UB)
  static constexpr bool kOnDevice = true;
  int64_t s, st;
  FG_HOST_DEVICE T operator()(int64_t i) const {
    return static_cast<T>(static_cast<int64_t>(static_cast<uint64_t>(s) +
                                               static_cast<uint64_t>(st) * i));
  }
};

// Walks from both ends so the last point is exactly `end` (one step: start).
template <class T, class C>
struct LinspaceFn {
  static constexpr bool kOnDevice = true;
  C s, e, step;
  int64_t steps, half;
  FG_HOST_DEVICE T operator()(int64_t i) const {
    C v = i < half ? s + step * static_cast<C>(i) : e - step * static_cast<C>(steps - 1 - i);
    return static_cast<T>(v);
  }
};

}  // namespace

Tensor arange(const Scalar& start, const Scalar& end, const Scalar& step,
              std::optional<DType> dtype, Device device) {
  const bool all_int = !start.is_float() && !end.is_float() && !step.is_float();
  const DType dt = dtype.value_or(all_int ? kDefaultInt : default_float_dtype());
  if (is_16bit_float(dt))  // Note [16-bit floats]
    return to_dtype(arange(start, end, step, DType::Float32, device), dt);
  FG_CHECK(std::isfinite(start.f) && std::isfinite(end.f), "arange: unsupported range: ",
           start.f, " -> ", end.f);
  FG_CHECK(step.f != 0, "arange: step must be nonzero");
  FG_CHECK((step.f > 0 && end.f >= start.f) || (step.f < 0 && end.f <= start.f),
           "arange: upper bound and lower bound inconsistent with step sign (start=",
           start.f, ", end=", end.f, ", step=", step.f, ")");
  int64_t n;
  if (all_int) {  // exact: ceil((end - start) / step) without double rounding
    __int128 d = static_cast<__int128>(end.i) - start.i;
    __int128 st = step.i;
    __int128 q = (d + st - (st > 0 ? 1 : -1)) / st;
    FG_CHECK(q < (static_cast<__int128>(1) << 62), "arange: invalid size, possible overflow");
    n = static_cast<int64_t>(q);
  } else {
    double len = std::ceil((end.f - start.f) / step.f);
    FG_CHECK(len < 9.2e18, "arange: invalid size ", len, ", possible overflow");
    n = static_cast<int64_t>(len);
  }
  Tensor out = empty({n}, dt, device);
  dispatch(dt, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_floating_point_v<T>) {
      const double s = start.f, st = step.f;  // accumulate in double
      launch_indexed<T>("arange", out, ArangeFloatFn<T>{s, st});
    } else {
      // Integer outputs work on integer start/step (PyTorch truncates floats).
      const int64_t s = start.to<int64_t>(), st = step.to<int64_t>();
      FG_CHECK(st != 0, "arange: step must be nonzero (step ", step.f,
               " truncates to 0 for dtype ", dt, ")");
      launch_indexed<T>("arange", out, ArangeIntFn<T>{s, st});
    }
  });
  return out;
}

Tensor linspace(const Scalar& start, const Scalar& end, int64_t steps,
                std::optional<DType> dtype, Device device) {
  FG_CHECK(steps >= 0, "linspace: number of steps must be non-negative, got ", steps);
  const DType dt = dtype.value_or(default_float_dtype());
  FG_CHECK_KIND(NotImplementedError, dt != DType::Bool,
                "linspace: not implemented for bool");
  if (is_16bit_float(dt))  // Note [16-bit floats]
    return to_dtype(linspace(start, end, steps, DType::Float32, device), dt);
  Tensor out = empty({steps}, dt, device);
  dispatch(dt, [&](auto tag) {
    using T = decltype(tag);
    // Floats step in their own precision; integers in double, then truncate.
    using C = std::conditional_t<std::is_floating_point_v<T>, T, double>;
    const C s = start.to<C>(), e = end.to<C>();
    const C step = steps > 1 ? (e - s) / static_cast<C>(steps - 1) : C(0);
    const int64_t half = steps == 1 ? 1 : steps / 2;
    launch_indexed<T>("linspace", out, LinspaceFn<T, C>{s, e, step, steps, half});
  });
  return out;
}

Tensor eye(int64_t n, std::optional<int64_t> m_opt, std::optional<DType> dtype,
           Device device) {
  FG_CHECK(n >= 0, "eye: n must be greater or equal to 0, got ", n);
  const int64_t m = m_opt.value_or(n);
  FG_CHECK(m >= 0, "eye: m must be greater or equal to 0, got ", m);
  Tensor out = zeros({n, m}, dtype, device);
  if (int64_t d = std::min(n, m); d > 0)
    fill_(make_view(out, {d}, {m + 1}, 0), Scalar(int64_t{1}));
  return out;
}

}  // namespace fastgrad
