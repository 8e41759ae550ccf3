// Random fills and random factories. Each op reserves one Philox counter per
// element from its generator and computes element i from (seed, base + i)
// only (Note [Generator state] in core/generator.h), so results are
// reproducible and independent of the thread count.
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "math/philox.h"
#include "ops/elementwise_ops.h"
#include "ops/factory_ops.h"
#include "ops/index_ops.h"
#include "ops/launch_indexed.h"

namespace fastgrad {

namespace {

using math::philox4x32_10;

// Floating dtypes only; PyTorch raises NotImplementedError for the others.
void check_float(const char* op, DType dt) {
  FG_CHECK_KIND(NotImplementedError, is_floating(dt), op,
                ": expected a floating point dtype, got ", dt);
}

// Element i of a random fill: draw(philox(key, base + i), i). Draws that are
// FG_HOST_DEVICE structs (kOnDevice) fill CUDA tensors on the device with the
// CPU's counter layout: the same bits where the math is exact (rand, randint,
// bernoulli_), within rounding where it is not (normal: device libm, FMA).
template <class T, class Draw>
struct RandomFill {
  static constexpr bool kOnDevice = Draw::kOnDevice;
  uint64_t key, base;
  Draw draw;
  FG_HOST_DEVICE T operator()(int64_t i) const {
    return draw(philox4x32_10(key, base + static_cast<uint64_t>(i)), i);
  }
};

// Draws for every element of `self` (i = row-major index).
template <class T, class Draw>
void fill_random(const char* op, const Tensor& self, Generator* gen, const Draw& draw) {
  auto d = generator_or_default(gen).reserve(static_cast<uint64_t>(self.numel()));
  launch_indexed<T>(op, self, RandomFill<T, Draw>{d.key, d.base, draw});
}

// [from, to) in T; rounding the double result to float could hit `to`.
template <class T>
struct UniformDraw {
  static constexpr bool kOnDevice = true;
  double from, to;
  FG_HOST_DEVICE T operator()(const math::Philox4x32& r, int64_t) const {
    double u = std::is_same_v<T, float> ? math::uniform_f32(r.w[0])
                                        : math::uniform_f64(r.w[0], r.w[1]);
    T v = static_cast<T>(from + (to - from) * u);
    const T hi = static_cast<T>(to), lo = static_cast<T>(from);
    if (!(v >= hi && lo < hi)) return v;
    if constexpr (std::is_same_v<T, float>) return nextafterf(hi, lo);
    else return nextafter(hi, lo);
  }
};

// Box-Muller in double; one normal per element (the cosine branch), which
// keeps element i a function of counter i alone.
template <class T>
struct NormalDraw {
  static constexpr bool kOnDevice = true;
  double mean, std;
  FG_HOST_DEVICE T operator()(const math::Philox4x32& r, int64_t) const {
    constexpr double kTwoPi = 6.283185307179586476925286766559;
    double u1 = 1.0 - math::uniform_f64(r.w[0], r.w[1]);  // (0, 1]: log is finite
    double u2 = math::uniform_f64(r.w[2], r.w[3]);
    return static_cast<T>(mean + std * (std::sqrt(-2.0 * std::log(u1)) *
                                        std::cos(kTwoPi * u2)));
  }
};

template <class T>
struct BernoulliDraw {
  static constexpr bool kOnDevice = true;
  double p;
  FG_HOST_DEVICE T operator()(const math::Philox4x32& r, int64_t) const {
    return static_cast<T>(math::uniform_f64(r.w[0], r.w[1]) < p);
  }
};

// Per-element probabilities from host memory: filled on the host.
template <class T>
struct BernoulliTensorDraw {
  static constexpr bool kOnDevice = false;  // pp is host memory: never launched on a GPU
  const double* pp;
  // Host and device only so RandomFill's FG_HOST_DEVICE operator() may call it.
  FG_HOST_DEVICE T operator()(const math::Philox4x32& r, int64_t i) const {
    return static_cast<T>(math::uniform_f64(r.w[0], r.w[1]) < pp[i]);
  }
};

// Modulo of 64 random bits: the bias is below range / 2^64.
template <class T>
struct RandomDraw {
  static constexpr bool kOnDevice = true;
  int64_t low;
  uint64_t range;
  FG_HOST_DEVICE T operator()(const math::Philox4x32& r, int64_t) const {
    uint64_t k = math::bits64(r.w[0], r.w[1]) % range;
    return static_cast<T>(static_cast<int64_t>(static_cast<uint64_t>(low) + k));
  }
};

// Smallest / largest integer a dtype holds exactly (floats: 2^digits).
template <class T>
std::pair<double, double> int_range() {
  if constexpr (std::is_same_v<T, bool>) return {0, 1};
  else if constexpr (std::is_floating_point_v<T>) {
    double m = std::ldexp(1.0, std::numeric_limits<T>::digits);
    return {-m, m};
  } else {
    return {static_cast<double>(std::numeric_limits<T>::min()),
            static_cast<double>(std::numeric_limits<T>::max())};
  }
}

// Note [16-bit floats]: a float16/bfloat16 tensor gets a float32 fill of the
// same draws, rounded once (fill(t) fills the float32 tensor t).
template <class Fill>
bool fill_16bit(const char* op, const Tensor& self, const Fill& fill) {
  if (!is_16bit_float(self.dtype())) return false;
  Tensor t = empty(self.sizes(), DType::Float32, self.device());
  fill(t);
  autograd::GradModeGuard no_grad(false);
  copy_(self, t, op);
  return true;
}

}  // namespace

const Tensor& uniform_(const Tensor& self, double from, double to, Generator* gen) {
  check_float("uniform_", self.dtype());
  FG_CHECK(from <= to, "uniform_: expects to return a [from, to) range, but found from=",
           from, " > to=", to);
  auto draw16 = [&](const Tensor& t) {
    uniform_(t, from, to, gen);
    // [from, to) must hold after rounding: a draw that rounds up to `to` becomes `from`.
    if (from < to) masked_fill_(t, ge(to_dtype(t, self.dtype()), Scalar(to)), Scalar(from));
  };
  if (fill_16bit("uniform_", self, draw16)) return self;
  dispatch_float(self.dtype(), "uniform_", [&](auto tag) {
    using T = decltype(tag);
    fill_random<T>("uniform_", self, gen, UniformDraw<T>{from, to});
  });
  return self;
}

const Tensor& normal_(const Tensor& self, double mean, double std, Generator* gen) {
  check_float("normal_", self.dtype());
  FG_CHECK(std >= 0.0, "normal_: expects std >= 0.0, but found std ", std);
  if (fill_16bit("normal_", self, [&](const Tensor& t) { normal_(t, mean, std, gen); }))
    return self;
  dispatch_float(self.dtype(), "normal_", [&](auto tag) {
    using T = decltype(tag);
    fill_random<T>("normal_", self, gen, NormalDraw<T>{mean, std});
  });
  return self;
}

const Tensor& bernoulli_(const Tensor& self, double p, Generator* gen) {
  FG_CHECK(p >= 0.0 && p <= 1.0, "bernoulli_: expects p to be in [0, 1], but got p=", p);
  if (fill_16bit("bernoulli_", self, [&](const Tensor& t) { bernoulli_(t, p, gen); }))
    return self;
  dispatch(self.dtype(), [&](auto tag) {
    using T = decltype(tag);
    fill_random<T>("bernoulli_", self, gen, BernoulliDraw<T>{p});
  });
  return self;
}

const Tensor& bernoulli_(const Tensor& self, const Tensor& p, Generator* gen) {
  check_float("bernoulli_", p.dtype());
  FG_CHECK(p.device() == self.device(), "bernoulli_: expected p on ", self.device(),
           ", got ", p.device());
  if (fill_16bit("bernoulli_", self, [&](const Tensor& t) { bernoulli_(t, p, gen); }))
    return self;
  // p broadcast to self's shape, densely and on the host (checked and read
  // there), so element i reads probs[i].
  Tensor probs = empty(self.sizes(), DType::Float64, Device{});
  copy_(probs, p);  // raises if p does not broadcast to self
  const double* pp = probs.data<double>();
  for (int64_t i = 0; i < probs.numel(); ++i)
    FG_CHECK(pp[i] >= 0.0 && pp[i] <= 1.0,
             "bernoulli_: expected all probabilities in [0, 1], got ", pp[i]);
  dispatch(self.dtype(), [&](auto tag) {
    using T = decltype(tag);
    fill_random<T>("bernoulli_", self, gen, BernoulliTensorDraw<T>{pp});
  });
  return self;
}

const Tensor& random_(const Tensor& self, int64_t low, int64_t high, Generator* gen) {
  FG_CHECK(low < high, "random_: expects 'from' to be less than 'to', but got from=", low,
           " >= to=", high);
  if (is_16bit_float(self.dtype())) {  // integers exact up to 2^(mantissa digits + 1)
    const double m = std::ldexp(1.0, self.dtype() == DType::Float16 ? 11 : 8);
    FG_CHECK(static_cast<double>(low) >= -m && static_cast<double>(high - 1) <= m,
             "random_: range [", low, ", ", high, ") is out of bounds for ", self.dtype());
  }
  if (fill_16bit("random_", self, [&](const Tensor& t) { random_(t, low, high, gen); }))
    return self;
  dispatch(self.dtype(), [&](auto tag) {
    using T = decltype(tag);
    auto [lo, hi] = int_range<T>();
    FG_CHECK(static_cast<double>(low) >= lo && static_cast<double>(high - 1) <= hi,
             "random_: range [", low, ", ", high, ") is out of bounds for ", self.dtype());
    const uint64_t range = static_cast<uint64_t>(high) - static_cast<uint64_t>(low);
    fill_random<T>("random_", self, gen, RandomDraw<T>{low, range});
  });
  return self;
}

namespace {
// An uninitialised floating tensor for the rand-family ops.
Tensor empty_float(const char* op, const Shape& size, std::optional<DType> dtype, Device device) {
  check_size(op, size);
  DType dt = dtype.value_or(default_float_dtype());
  check_float(op, dt);
  return empty(size, dt, device);
}
}  // namespace

Tensor rand(const Shape& size, std::optional<DType> dtype, Device device, Generator* gen) {
  Tensor out = empty_float("rand", size, dtype, device);
  uniform_(out, 0.0, 1.0, gen);
  return out;
}

Tensor randn(const Shape& size, std::optional<DType> dtype, Device device, Generator* gen) {
  Tensor out = empty_float("randn", size, dtype, device);
  normal_(out, 0.0, 1.0, gen);
  return out;
}

Tensor normal(double mean, double std, const Shape& size, std::optional<DType> dtype,
              Device device, Generator* gen) {
  check_size("normal", size);
  FG_CHECK(std >= 0.0, "normal: expects std >= 0.0, but found std ", std);
  DType dt = dtype.value_or(default_float_dtype());
  check_float("normal", dt);
  Tensor out = empty(size, dt, device);
  normal_(out, mean, std, gen);
  return out;
}

Tensor randint(int64_t low, int64_t high, const Shape& size, std::optional<DType> dtype,
               Device device, Generator* gen) {
  check_size("randint", size);
  FG_CHECK(low < high, "randint: expects 'low' to be less than 'high', but got low=", low,
           " >= high=", high);
  DType dt = dtype.value_or(kDefaultInt);
  dispatch(dt, [&](auto tag) {
    auto [lo, hi] = int_range<decltype(tag)>();
    FG_CHECK(static_cast<double>(low) >= lo && static_cast<double>(high - 1) <= hi,
             "randint: range [", low, ", ", high, ") is out of bounds for ", dt);
  });
  Tensor out = empty(size, dt, device);
  random_(out, low, high, gen);
  return out;
}

Tensor randperm(int64_t n, std::optional<DType> dtype, Device device, Generator* gen) {
  FG_CHECK(n >= 0, "randperm: n must be non-negative, got ", n);
  DType dt = dtype.value_or(kDefaultInt);
  FG_CHECK_KIND(NotImplementedError, dt != DType::Bool, "randperm: not implemented for bool");
  dispatch(dt, [&](auto tag) {
    FG_CHECK(n == 0 || static_cast<double>(n - 1) <= int_range<decltype(tag)>().second,
             "randperm: n=", n, " is too large for dtype ", dt);
  });
  Tensor out = empty({n}, dt, device);
  // Fisher-Yates: inherently sequential, but step i still draws from counter
  // base + i, so the permutation depends on (seed, offset) only.
  std::vector<int64_t> perm(static_cast<size_t>(n));
  std::iota(perm.begin(), perm.end(), int64_t{0});
  auto d = generator_or_default(gen).reserve(static_cast<uint64_t>(n));
  for (int64_t i = n - 1; i > 0; --i) {
    auto r = philox4x32_10(d.key, d.base + static_cast<uint64_t>(i));
    auto j = static_cast<int64_t>(math::bits64(r.w[0], r.w[1]) % static_cast<uint64_t>(i + 1));
    std::swap(perm[i], perm[j]);
  }
  const int64_t* p = perm.data();
  dispatch(dt, [&](auto tag) {
    using T = decltype(tag);
    launch_indexed<T>("randperm", out, [=](int64_t i) { return static_cast<T>(p[i]); });
  });
  return out;
}

Tensor bernoulli(const Tensor& probs, Generator* gen) {
  check_float("bernoulli", probs.dtype());
  Tensor out = empty(probs.sizes(), probs.dtype(), probs.device());
  bernoulli_(out, probs, gen);
  return out;
}

Tensor bernoulli(const Tensor& input, double p, Generator* gen) {
  Tensor out = empty(input.sizes(), input.dtype(), input.device());
  bernoulli_(out, p, gen);
  return out;
}

}  // namespace fastgrad
