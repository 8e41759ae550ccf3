// Op-level helpers shared by the reduction ops: dim-list parsing with
// PyTorch's errors, output shapes, and the launch of a per-row functor on the
// CPU reduction engine (backend/cpu/reduce.h).
#pragma once
#include <optional>
#include <type_traits>
#include <vector>

#include "autograd/grad_mode.h"
#include "backend/cpu/reduce.h"
#include "math/reduce.h"
#include "ops/elementwise.h"
#include "ops/reduce_ops.h"
#if defined(__CUDACC__)
#include "backend/cuda/reduce.cuh"
#endif

namespace fastgrad {

// Which dims are reduced (nullopt and, as in PyTorch, {} mean every dim).
// Out-of-range dims raise IndexError, repeated dims RuntimeError, both naming
// `op`.
std::vector<bool> reduce_mask(const char* op, const Tensor& x, const DimList& dims);
std::vector<bool> reduce_mask(const char* op, const Tensor& x, int64_t dim);
// Sizes after reducing: reduced dims become 1 (keepdim) or disappear.
Shape reduced_shape(const Tensor& x, const std::vector<bool>& mask, bool keepdim);
// "max(): Expected reduction dim 0 to have non-zero size." for ops without an
// identity (max, argmax, ...); also the numel() == 0 full-reduction message.
void check_nonempty_reduction(const char* op, const Tensor& x,
                              const std::vector<bool>& mask, bool dim_given);
void check_cpu(const char* op, const Tensor& x);

// The accumulator of a row: double for floats (so float32 sums stay within
// 1e-7 relative of the exact value), the type itself otherwise.
template <class T>
using acc_t = std::conditional_t<std::is_floating_point_v<T>, double, T>;

// A row functor may also offer f.cols<T>(p, s, n, cnt, out) (floating T): the
// results of cnt adjacent rows whose runs start at p + j (Note [Pairwise
// sums]); column reductions then skip the transposing copy.
template <class F, class = void>
struct HasCols : std::false_type {};
template <class F>
struct HasCols<F, std::void_t<decltype(&F::template cols<float>)>> : std::true_type {};

// Raises "no kernel for device" unless x is on the CPU or on CUDA in a file
// nvcc compiles (ops whose CUDA branch sits beside the CPU one).
inline void check_cpu_or_cuda(const char* op, const Tensor& x) {
#if defined(__CUDACC__)
  if (x.device().is_cuda()) return;
#endif
  check_cpu(op, x);
}

// A row functor that also runs on CUDA names its math/reduce.h combiner:
// f.template combiner<T>() (Note [CUDA reductions]).
template <class F, class T, class = void>
struct HasCombiner : std::false_type {};
template <class F, class T>
struct HasCombiner<F, T, std::void_t<decltype(std::declval<const F&>().template combiner<T>())>>
    : std::true_type {};

// x with the reduced dims of `mask` collapsible into one run (x itself if they
// are; else a contiguous copy with the reduced dims last, `mask` updated):
// what make_row_layout does with a CPU copy, through ops for any device.
Tensor rows_collapsible(const Tensor& x, std::vector<bool>& mask, bool ordered);

// Note [16-bit floats]: reductions, scans and softmax, too, take float16/
// bfloat16 and compute in float32 (`is_16bit_float`, ops/elementwise.h).

// x as `dtype`, unrecorded (for ops that record themselves on x).
inline Tensor to_dtype_nograd(const Tensor& x, DType dtype) {
  autograd::GradModeGuard no_grad(false);
  return to_dtype(x, dtype);
}
// x in the dtype a kernel reads: float32 for a 16-bit x, else x itself; unrecorded.
inline Tensor kernel_input(const Tensor& x) {
  return to_dtype_nograd(x, is_16bit_float(x.dtype()) ? DType::Float32 : x.dtype());
}

// out[row] = f(p, stride, n) for each row; x must already have the dtype T
// the functor reads. `ordered`: see make_row_layout.
template <class T, class F>
Tensor reduce_rows(const char* op, const Tensor& x, const std::vector<bool>& mask,
                   bool keepdim, const F& f, bool ordered = false) {
  using R = decltype(f(static_cast<const T*>(nullptr), int64_t{}, int64_t{}));
#if defined(__CUDACC__)
  if constexpr (HasCombiner<F, T>::value) {
    if (x.device().is_cuda()) {
      auto comb = f.template combiner<T>();
      static_assert(std::is_same_v<decltype(comb.finish(comb.init(), 0)), R>,
                    "the combiner must give the row functor's result type");
      Tensor out = empty(reduced_shape(x, mask, keepdim), dtype_of<R>::value, x.device());
      std::vector<bool> m = mask;
      Tensor src = rows_collapsible(x, m, ordered);
      cuda::reduce_rows<T>(op, cpu::make_row_layout(src, m, ordered), comb, out.data<R>(),
                           x.device().index);
      return out;
    }
  }
#endif
  check_cpu(op, x);
  Tensor out = empty(reduced_shape(x, mask, keepdim), dtype_of<R>::value, x.device());
  R* o = out.data<R>();
  auto L = cpu::make_row_layout(x, mask, ordered);
  if constexpr (HasCols<F>::value && std::is_floating_point_v<T>) {
    if (cpu::for_each_col_tile<T>(L, [&](int64_t r0, const T* p, int64_t s, int64_t n,
                                         int64_t cnt) { f.cols(p, s, n, cnt, o + r0); }))
      return out;
  }
  cpu::for_each_row<T>(L, [&](int64_t r, const T* p, int64_t s, int64_t n) {
    o[r] = f(p, s, n);
  });
  return out;
}

// Note [Lines along strided dims]: a line op (softmax, ...) along a dim that
// is not innermost in memory walks one cache line per element. Moving the dim
// last with one tiled transposing copy (Note [Tiled transpose]) and moving
// the result back costs two memory-speed copies and lets the line kernel run
// on unit strides; this wins for all but tiny tensors.
// line_major(t, d): t with dim d last and contiguous (t itself if it is
// already); line_major_back(t, d) the inverse, contiguous. Neither records.
Tensor line_major(const Tensor& t, int64_t d);
Tensor line_major_back(const Tensor& t, int64_t d);
// Whether lines along d of t are strided, so line_major pays off.
bool lines_strided(const Tensor& t, int64_t d);

// out lines = f(in line) along `dim` (scans, softmax): out has x's shape and
// dtype; x must already have dtype T.
// A line functor that also runs on CUDA offers f.template cuda<T>(op, in, out,
// device), launching its kernel of backend/cuda/reduce.cuh.
template <class T, class F>
Tensor map_lines(const char* op, const Tensor& x, int64_t dim, const F& f) {
  constexpr bool kCuda =
#if defined(__CUDACC__)
      true;
#else
      false;
#endif
  if (!kCuda || !x.device().is_cuda()) check_cpu(op, x);
  if (lines_strided(x, dim))
    return line_major_back(map_lines<T>(op, line_major(x, dim), x.dim() - 1, f), dim);
  Tensor out = empty(x.sizes(), dtype_of<T>::value, x.device());
  if (x.numel() == 0) return out;
  auto Li = cpu::make_line_layout(x, dim);
  auto Lo = cpu::make_line_layout(out, dim);
#if defined(__CUDACC__)
  if (x.device().is_cuda()) {
    f.template cuda<T>(op, Li, Lo, x.device().index);
    return out;
  }
#endif
  cpu::for_each_line<T>(Li, Lo, f);
  return out;
}

// ---- backward plumbing (reduce_grad.cpp) ----------------------------------------
// Reduced dims of `mask` as a dim list; `full` with those dims set to 1; the
// number of elements each output element reduces over.
std::vector<int64_t> mask_dims(const std::vector<bool>& mask);
Shape keepdim_shape(const Shape& full, const std::vector<bool>& mask);
double reduced_count(const Shape& full, const std::vector<bool>& mask);
// `t` (a reduction's output shape, keepdim or not) broadcast back to `full`.
// Recorded (its backward is a sum), so rules built on it stay differentiable.
Tensor expand_reduced(const Tensor& t, const Shape& full, const std::vector<bool>& mask);

}  // namespace fastgrad
