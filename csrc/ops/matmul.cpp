// Matrix products: matmul (and @), mm, bmm, mv, dot, outer, addmm. Every one
// reduces to product(): a batched (..., m, k) @ (..., k, n) handed to
// cpu::gemm_batched (CUDA: cuBLAS, backend/cuda/blas.h) without copying
// operands BLAS can read as they are.
// Each public product records its backward right after the forward; the
// rules are products and transposes again, so they differentiate twice.
#include <atomic>
#include <cmath>
#include <limits>

#include "backend/cpu/blas.h"
#include "backend/cuda/blas.h"
#include "ops/elementwise.h"
#include "ops/elementwise_ops.h"
#include "ops/grad_utils.h"
#include "ops/linalg_ops.h"
#include "ops/shape_ops.h"

namespace fastgrad {

namespace {

std::atomic<int64_t> g_layout_copies{0};

std::string pair_str(const Tensor& a, const Tensor& b) {
  return shape_str(a.sizes()) + " @ " + shape_str(b.sizes());
}

// Shared by every product: same device, same dtype, not bool.
void check_operands(const char* op, const Tensor& a, const Tensor& b) {
  FG_CHECK(a.device() == b.device(), op, ": expected all tensors on the same device, got ",
           a.device(), " and ", b.device());
  FG_CHECK(a.dtype() == b.dtype(), op,
           ": expected both operands to have the same dtype, but got: ",
           a.dtype(), " != ", b.dtype());
  FG_CHECK_KIND(NotImplementedError, a.dtype() != DType::Bool, op,
                ": not implemented for bool tensors");
}

void check_inner(const char* op, const Tensor& a, const Tensor& b,
                 int64_t ka, int64_t kb) {
  FG_CHECK(ka == kb, op, ": ", pair_str(a, b), ": inner dimensions ", ka,
           " and ", kb, " differ");
}

// How BLAS can read the last two dims of x, if at all.
struct Layout {
  bool ok = false;
  bool trans = false;
  int64_t ld = 0;
};

// Row-major (rows, cols) with strides (sr, sc): NoTrans needs unit column
// stride and ld = sr >= cols, Trans needs unit row stride and ld = sc >= rows.
// The stride of a size-1 dim is meaningless, so it never disqualifies.
Layout blas_layout(const Tensor& x) {
  int64_t r = x.size(-2), c = x.size(-1), sr = x.stride(-2), sc = x.stride(-1);
  int64_t need = std::max<int64_t>(1, c);
  if (c == 1 || sc == 1) {
    int64_t ld = r == 1 ? need : sr;
    if (ld >= need && cpu::fits_blasint(ld)) return {true, false, ld};
  }
  need = std::max<int64_t>(1, r);
  if (r == 1 || sr == 1) {
    int64_t ld = c == 1 ? need : sc;
    if (ld >= need && cpu::fits_blasint(ld)) return {true, true, ld};
  }
  return {};
}

// x itself when BLAS can read it, else a contiguous copy (counted). Runs on
// the un-broadcast operand so broadcast batch dims are never materialised.
Tensor blas_ready(const Tensor& x) {
  if (blas_layout(x).ok) return x;
  ++g_layout_copies;
  return clone(x);
}

// Element offset of x's matrix for each index of `batch` (x's batch dims are
// right-aligned to it; size-1 dims broadcast with stride 0).
std::vector<int64_t> batch_offsets(const Tensor& x, const Shape& batch) {
  int64_t nb = static_cast<int64_t>(batch.size());
  int64_t skip = nb - (x.dim() - 2);
  Shape strides(nb, 0);
  for (int64_t d = skip; d < nb; ++d)
    strides[d] = x.size(d - skip) == 1 ? 0 : x.stride(d - skip);
  std::vector<int64_t> offsets(numel_of(batch));
  Shape idx(nb, 0);
  int64_t off = 0;
  for (auto& o : offsets) {
    o = off;
    for (int64_t d = nb - 1; d >= 0; --d) {  // odometer step
      off += strides[d];
      if (++idx[d] < batch[d]) break;
      off -= strides[d] * idx[d];
      idx[d] = 0;
    }
  }
  return offsets;
}

#if defined(FASTGRAD_WITH_CUDA)
// The element distance between consecutive matrices of x over `batch`, or -1
// when it is not one constant (cuBLAS's strided batches need one; 0 is a
// broadcast operand).
int64_t batch_stride(const Tensor& x, const Shape& batch) {
  std::vector<int64_t> off = batch_offsets(x, batch);
  const int64_t step = off.size() > 1 ? off[1] - off[0] : 0;
  for (size_t i = 2; i < off.size(); ++i)
    if (off[i] - off[i - 1] != step) return -1;
  return step;
}

// x when its matrices are a constant stride apart over `batch`, else x
// broadcast to the batch and copied (counted as a layout copy).
Tensor uniform_batches(const Tensor& x, const Shape& batch) {
  if (batch_stride(x, batch) >= 0) return x;
  ++g_layout_copies;
  Shape full = batch;
  full.push_back(x.size(-2));
  full.push_back(x.size(-1));
  return clone(expand(x, full));
}
#endif

// True when x's batch and row dims collapse into one row dim of stride ld,
// so (B..., m, k) @ (k, n) is a single (B*m, k) @ (k, n) gemm.
bool rows_fold(const Tensor& x, int64_t ld) {
  int64_t expect = ld;
  for (int64_t d = x.dim() - 2; d >= 0; --d) {
    if (x.size(d) == 1) continue;
    if (x.stride(d) != expect) return false;
    expect *= x.size(d);
  }
  return true;
}

// out (batch..., m, n), contiguous, dtype T: out = alpha * a @ b + beta * out.
// a is (..., m, k), b (..., k, n); their batch dims broadcast to out's.
template <class T>
void gemm_into(const char* op, const Tensor& out, const Tensor& a_in,
               const Tensor& b_in, T alpha, T beta) {
  int64_t m = out.size(-2), n = out.size(-1), k = a_in.size(-1);
  if (out.numel() == 0) return;
  if (k == 0) {  // empty sum: BLAS must not see lda = 0
    if (beta == T(0)) zero_(out);
    else if (beta != T(1)) mul_(out, Scalar(static_cast<double>(beta)));
    return;
  }
  FG_CHECK(cpu::fits_blasint(m) && cpu::fits_blasint(n) && cpu::fits_blasint(k),
           op, ": ", pair_str(a_in, b_in),
           ": dimensions above 2^31 - 1 are not supported by BLAS");
  Tensor a = blas_ready(a_in), b = blas_ready(b_in);
  Shape batch(out.sizes().begin(), out.sizes().end() - 2);
  int64_t nbatch = numel_of(batch);
#if defined(FASTGRAD_WITH_CUDA)
  if (out.device().is_cuda()) {
    FG_CHECK(cpu::fits_blasint(nbatch), op, ": ", pair_str(a_in, b_in),
             ": more than 2^31 - 1 batches are not supported by cuBLAS");
    a = uniform_batches(a, batch), b = uniform_batches(b, batch);
    Layout la = blas_layout(a), lb = blas_layout(b);
    cuda::gemm_strided_batched<T>(
        op, out.device().index, nbatch, m, n, k, alpha,
        {a.data<T>(), la.trans, la.ld, batch_stride(a, batch)},
        {b.data<T>(), lb.trans, lb.ld, batch_stride(b, batch)}, beta, out.data<T>());
    return;
  }
#endif
  if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) {
    fail<RuntimeError>(op, ": internal: 16-bit products run on CUDA only");
  } else {
  Layout la = blas_layout(a), lb = blas_layout(b);
  if (nbatch > 1 && b.dim() == 2 && a.dim() == out.dim() && !la.trans &&
      cpu::fits_blasint(nbatch * m) && rows_fold(a, la.ld)) {
    cpu::gemm<T>(false, lb.trans, nbatch * m, n, k, alpha, a.data<T>(), la.ld,
                 b.data<T>(), lb.ld, beta, out.data<T>(), n);
    return;
  }
  std::vector<int64_t> oa = batch_offsets(a, batch), ob = batch_offsets(b, batch);
  cpu::gemm_batched<T>(nbatch, m, n, k, alpha, {a.data<T>(), la.trans, la.ld, &oa},
                       {b.data<T>(), lb.trans, lb.ld, &ob}, beta, out.data<T>());
  }
}

// Note [Integer products through dgemm]
// BLAS has no integer gemm, so int32/int64 operands are converted to float64
// copies, multiplied by dgemm and converted back. Every partial sum is exact
// while its magnitude stays below 2^53; past that the result is rounded
// (PyTorch wraps around on int64 overflow instead). Out-of-range doubles map
// to INT64_MIN rather than hitting undefined behaviour in the cast.
template <class To>
struct FromDoubleFn {
  FG_HOST_DEVICE To operator()(double x) const {
    if (!(std::fabs(x) < 9223372036854775808.0))
      return static_cast<To>(INT64_MIN);  // (no numeric_limits: device code)
    return static_cast<To>(static_cast<int64_t>(x));  // int32 wraps like torch
  }
};

Tensor half_product(const char* op, const Tensor& a, const Tensor& b, const Shape& shape,
                    const Scalar& alpha, const Scalar& beta, const Tensor* init);

// alpha * a @ b (+ beta * init broadcast, when init is given and beta != 0)
// over the broadcast batch: a (..., m, k), b (..., k, n), both >= 2-D and
// already checked. Returns a new contiguous (batch..., m, n) tensor.
Tensor product(const char* op, const Tensor& a, const Tensor& b,
               const Shape& batch, const Scalar& alpha = Scalar(1),
               const Scalar& beta = Scalar(0), const Tensor* init = nullptr) {
  Shape shape = batch;
  shape.push_back(a.size(-2));
  shape.push_back(b.size(-1));
  DType dt = a.dtype();
  if (is_16bit_float(dt)) return half_product(op, a, b, shape, alpha, beta, init);
  DType compute = is_floating(dt) ? dt : DType::Float64;
  Tensor out = empty(shape, compute, a.device());
  return dispatch_numeric(dt, op, [&](auto tag) {
    using T = decltype(tag);
    // Scalars take the operand dtype first (an int product truncates 1.5).
    double al = static_cast<double>(alpha.to<T>());
    double be = init ? static_cast<double>(beta.to<T>()) : 0.0;
    if (be != 0.0) copy_(out, *init);
    dispatch_float(compute, op, [&](auto ctag) {
      using C = decltype(ctag);
      gemm_into<C>(op, out, to_dtype(a, compute), to_dtype(b, compute),
                   static_cast<C>(al), static_cast<C>(be));
    });
    if constexpr (std::is_floating_point_v<T>) {
      return out;
    } else {
      Tensor res = empty(shape, dt, a.device());
      launch<T, double>(op, res, {&out}, FromDoubleFn<T>{});
      return res;
    }
  });
}

// Note [16-bit floats] for products: on CUDA cublasGemmEx multiplies the
// 16-bit operands with float32 accumulation; elsewhere the product runs in
// float32 and is rounded once. Either way C is rounded once, as in torch.
Tensor half_product(const char* op, const Tensor& a, const Tensor& b, const Shape& shape,
                    const Scalar& alpha, const Scalar& beta, const Tensor* init) {
  autograd::GradModeGuard no_grad(false);  // the calling op records itself
  const DType dt = a.dtype();
  const bool with_init = init && beta.to<double>() != 0.0;
  if (a.device().is_cuda()) {
#if defined(FASTGRAD_WITH_CUDA)
    Tensor out = empty(shape, dt, a.device());
    if (with_init) copy_(out, *init);
    dispatch_all(dt, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>)
        gemm_into<T>(op, out, a, b, T(alpha.to<double>()),  // (same dtype: check_operands)
                     T(with_init ? beta.to<double>() : 0.0));
    });
    return out;
#endif
  }
  Tensor init32 = with_init ? to_dtype(*init, DType::Float32) : Tensor();
  Tensor out = product(op, to_dtype(a, DType::Float32), to_dtype(b, DType::Float32),
                       Shape(shape.begin(), shape.end() - 2), alpha, beta,
                       with_init ? &init32 : nullptr);
  return to_dtype(out, dt);
}

// A 1-D operand as a matrix: (1, k) on the left, (k, 1) on the right.
Tensor as_row(const Tensor& v) {
  return make_view(v, {1, v.size(0)}, {v.size(0) * v.stride(0), v.stride(0)},
                   v.offset());
}
Tensor as_col(const Tensor& v) {
  return make_view(v, {v.size(0), 1}, {v.stride(0), 1}, v.offset());
}
Tensor reshaped(const Tensor& contig, const Shape& shape) {
  return make_view(contig, shape, contiguous_strides(shape), contig.offset());
}

void check_dims(const char* op, const Tensor& a, const Tensor& b, int64_t da,
                int64_t db, const char* what) {
  FG_CHECK(a.dim() == da && b.dim() == db, op, ": expected ", what,
           ", but got ", pair_str(a, b));
}

// ---- backward helpers ----------------------------------------------------------
Tensor scaled(const Tensor& t, const Scalar& s) {
  return s.to<double>() == 1.0 ? t : mul(t, s);
}

// Saved operands: each gradient reads only the *other* operand, so an operand
// is saved only when the other one needs a gradient.
std::vector<Tensor> save_other(const Tensor& a, const Tensor& b) {
  return {b.requires_grad() ? a : Tensor(), a.requires_grad() ? b : Tensor()};
}

// Note [Gradients in their operand's layout]
// linear multiplies by W.t(), a transposed view of a contiguous parameter.
// Its gradient x^T @ g comes out contiguous, so the transpose's backward
// hands W a transposed gradient, and AccumulateGrad must make a strided
// copy of it every step. For an operand that is such a transposed matrix,
// the gradient is computed transposed instead, (g^T @ x)^T, with the same
// one GEMM: W then receives a contiguous gradient it adopts without a copy.
bool transposed_matrix(const Tensor& x) {
  return x.dim() == 2 && x.size(0) > 1 && x.size(1) > 1 && x.stride(0) == 1 &&
         x.stride(1) == x.size(0);
}
// l @ r, laid out like a transposed matrix when `transposed`.
Tensor mm_in_layout(bool transposed, const Tensor& l, const Tensor& r) {
  return transposed ? mT(mm(mT(r), mT(l))) : mm(l, r);
}

// Gradients of matmul(a, b) for upstream g. 1-D cases use dot/mv/outer forms
// (no reshapes); N-D cases treat a 1-D operand as a (1, k) / (k, 1) matrix,
// and sum the batched products over the batch dims the operand was broadcast
// along (sum_to), so each gradient has its operand's shape.
// a_t/b_t: a/b was a transposed matrix (Note [Gradients in their operand's
// layout]).
Tensors matmul_grads(const FunctionNode& n, const Tensor& g, bool a_t, bool b_t) {
  Tensor a = n.saved(0), b = n.saved(1);
  const bool need_a = n.needs_input_grad(0), need_b = n.needs_input_grad(1);
  const int64_t da = static_cast<int64_t>(n.inputs[0].sizes.size());
  const int64_t db = static_cast<int64_t>(n.inputs[1].sizes.size());
  Tensor ga, gb;
  if (da == 1 && db == 1) {  // g is 0-d
    if (need_a) ga = mul(g, b);
    if (need_b) gb = mul(g, a);
  } else if (da == 2 && db == 1) {  // g (m,)
    if (need_a) ga = outer(g, b);
    if (need_b) gb = matmul(g, a);
  } else if (da == 1 && db == 2) {  // g (n,)
    if (need_a) ga = matmul(b, g);
    if (need_b) gb = outer(a, g);
  } else {
    Tensor g2 = db == 1 ? unsqueeze(g, -1) : g;
    if (da == 1) g2 = unsqueeze(g2, -2);
    if (need_a && da == 2 && db == 2) {
      ga = mm_in_layout(a_t, g2, mT(b));
    } else if (need_a) {
      Tensor b2 = db == 1 ? unsqueeze(b, 1) : b;
      ga = matmul(g2, mT(b2));
      if (da == 1) ga = squeeze(ga, {-2});
      ga = sum_to(ga, n.inputs[0].sizes);
    }
    if (need_b && db == 2 && da >= 2) {
      // (B..., m, k) @ (k, n): b's gradient sums over the batch, which is
      // one (k, B*m) @ (B*m, n) GEMM on the folded rows, not B products
      // and a reduction (for 2-D a the reshapes are no-ops).
      const int64_t k = a.size(-1), cols = g2.size(-1);
      const int64_t rows = numel_of(Shape(a.sizes().begin(), a.sizes().end() - 1));
      gb = mm_in_layout(b_t, mT(reshape(a, {rows, k})), reshape(g2, {rows, cols}));
    } else if (need_b) {
      Tensor a2 = da == 1 ? unsqueeze(a, 0) : a;
      gb = matmul(mT(a2), g2);
      if (db == 1) gb = squeeze(gb, {-1});
      gb = sum_to(gb, n.inputs[1].sizes);
    }
  }
  return {ga, gb};
}

// Node names follow PyTorch for the cases it maps to one kernel.
const char* matmul_node_name(int64_t da, int64_t db) {
  if (da == 1 && db == 1) return "DotBackward";
  if (da == 2 && db == 1) return "MvBackward";
  if (da == 2 && db == 2) return "MmBackward";
  return "MatmulBackward";
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  const char* op = "matmul";
  FG_CHECK(a.dim() >= 1 && b.dim() >= 1,
           "both arguments to matmul need to be at least 1D, but they are ",
           a.dim(), "D and ", b.dim(), "D");
  check_operands(op, a, b);
  Tensor a2 = a.dim() == 1 ? as_row(a) : a;
  Tensor b2 = b.dim() == 1 ? as_col(b) : b;
  check_inner(op, a, b, a2.size(-1), b2.size(-2));
  // Batch dims broadcast right-aligned (PyTorch raises RuntimeError here).
  Shape ba(a2.sizes().begin(), a2.sizes().end() - 2);
  Shape bb(b2.sizes().begin(), b2.sizes().end() - 2);
  size_t nb = std::max(ba.size(), bb.size());
  Shape batch(nb);
  for (size_t i = 0; i < nb; ++i) {
    int64_t x = i < nb - ba.size() ? 1 : ba[i - (nb - ba.size())];
    int64_t y = i < nb - bb.size() ? 1 : bb[i - (nb - bb.size())];
    FG_CHECK(x == y || x == 1 || y == 1, op, ": ", pair_str(a, b),
             ": batch dimensions ", shape_str(ba), " and ", shape_str(bb),
             " are not broadcastable");
    batch[i] = x == 1 ? y : x;
  }
  Tensor out = product(op, a2, b2, batch);
  Shape shape = batch;
  if (a.dim() >= 2) shape.push_back(a2.size(-2));
  if (b.dim() >= 2) shape.push_back(b2.size(-1));
  Tensor res = reshaped(out, shape);
  maybe_record(matmul_node_name(a.dim(), b.dim()), {a, b}, {res}, save_other(a, b),
               [a_t = transposed_matrix(a), b_t = transposed_matrix(b)](
                   const FunctionNode& n, const Tensors& gs) {
                 return matmul_grads(n, gs[0], a_t, b_t);
               });
  return res;
}


Tensor mm(const Tensor& a, const Tensor& b) {
  check_dims("mm", a, b, 2, 2, "two 2-D matrices");
  check_operands("mm", a, b);
  check_inner("mm", a, b, a.size(1), b.size(0));
  Tensor out = product("mm", a, b, {});
  maybe_record("MmBackward", {a, b}, {out}, save_other(a, b),
               [a_t = transposed_matrix(a), b_t = transposed_matrix(b)](
                   const FunctionNode& n, const Tensors& gs) -> Tensors {
                 const Tensor& g = gs[0];
                 Tensor a = n.saved(0), b = n.saved(1);
                 return {n.needs_input_grad(0) ? mm_in_layout(a_t, g, mT(b)) : Tensor(),
                         n.needs_input_grad(1) ? mm_in_layout(b_t, mT(a), g) : Tensor()};
               });
  return out;
}

Tensor bmm(const Tensor& a, const Tensor& b) {
  check_dims("bmm", a, b, 3, 3, "two 3-D tensors");
  check_operands("bmm", a, b);
  FG_CHECK(a.size(0) == b.size(0), "bmm: ", pair_str(a, b), ": batch sizes ",
           a.size(0), " and ", b.size(0), " differ");
  check_inner("bmm", a, b, a.size(2), b.size(1));
  Tensor out = product("bmm", a, b, {a.size(0)});
  maybe_record("BmmBackward", {a, b}, {out}, save_other(a, b),
               [](const FunctionNode& n, const Tensors& gs) -> Tensors {
                 const Tensor& g = gs[0];
                 Tensor a = n.saved(0), b = n.saved(1);
                 return {n.needs_input_grad(0) ? bmm(g, mT(b)) : Tensor(),
                         n.needs_input_grad(1) ? bmm(mT(a), g) : Tensor()};
               });
  return out;
}

Tensor mv(const Tensor& a, const Tensor& v) {
  check_dims("mv", a, v, 2, 1, "a 2-D matrix and a 1-D vector");
  check_operands("mv", a, v);
  check_inner("mv", a, v, a.size(1), v.size(0));
  Tensor out = reshaped(product("mv", a, as_col(v), {}), {a.size(0)});
  maybe_record("MvBackward", {a, v}, {out}, save_other(a, v),
               [](const FunctionNode& n, const Tensors& gs) -> Tensors {
                 const Tensor& g = gs[0];
                 Tensor a = n.saved(0), v = n.saved(1);
                 return {n.needs_input_grad(0) ? outer(g, v) : Tensor(),
                         n.needs_input_grad(1) ? mv(mT(a), g) : Tensor()};
               });
  return out;
}

Tensor dot(const Tensor& a, const Tensor& b) {
  check_dims("dot", a, b, 1, 1, "two 1-D vectors");
  check_operands("dot", a, b);
  FG_CHECK(a.size(0) == b.size(0), "dot: ", pair_str(a, b),
           ": expected both vectors to have the same number of elements, but got ",
           a.size(0), " and ", b.size(0));
  Tensor out = reshaped(product("dot", as_row(a), as_col(b), {}), {});
  maybe_record("DotBackward", {a, b}, {out}, save_other(a, b),
               [](const FunctionNode& n, const Tensors& gs) -> Tensors {
                 const Tensor& g = gs[0];  // 0-d
                 Tensor a = n.saved(0), b = n.saved(1);
                 return {n.needs_input_grad(0) ? mul(g, b) : Tensor(),
                         n.needs_input_grad(1) ? mul(g, a) : Tensor()};
               });
  return out;
}

Tensor outer(const Tensor& a, const Tensor& b) {
  check_dims("outer", a, b, 1, 1, "two 1-D vectors");
  // Elementwise (m, 1) * (1, n): promotes dtypes and allows bool like torch.
  // The views are not tracked, so outer records its own backward.
  Tensor out;
  {
    autograd::GradModeGuard no_grad(false);
    out = mul(as_col(a), as_row(b));
  }
  maybe_record("OuterBackward", {a, b}, {out}, save_other(a, b),
               [](const FunctionNode& n, const Tensors& gs) -> Tensors {
                 const Tensor& g = gs[0];  // promoted dtype: operands follow it
                 auto like_g = [&](const Tensor& x) {
                   return x.dtype() == g.dtype() ? x : to_dtype(x, g.dtype());
                 };
                 Tensor a = n.saved(0), b = n.saved(1);
                 return {n.needs_input_grad(0) ? mv(g, like_g(b)) : Tensor(),
                         n.needs_input_grad(1) ? mv(mT(g), like_g(a)) : Tensor()};
               });
  return out;
}

Tensor addmm(const Tensor& input, const Tensor& mat1, const Tensor& mat2,
             const Scalar& beta, const Scalar& alpha) {
  const char* op = "addmm";
  check_dims(op, mat1, mat2, 2, 2, "mat1 and mat2 to be 2-D matrices");
  check_operands(op, mat1, mat2);
  FG_CHECK(input.device() == mat1.device(), op,
           ": expected all tensors on the same device, got ", input.device(), " and ",
           mat1.device());
  FG_CHECK(input.dtype() == mat1.dtype(), op,
           ": expected input and mat1 to have the same dtype, but got: ",
           input.dtype(), " != ", mat1.dtype());
  check_inner(op, mat1, mat2, mat1.size(1), mat2.size(0));
  Shape shape{mat1.size(0), mat2.size(1)};
  bool fits = input.dim() <= 2;
  for (int64_t d = 1; fits && d <= input.dim(); ++d)
    fits = input.size(-d) == 1 || input.size(-d) == shape[2 - d];
  FG_CHECK(fits, op, ": input of shape ", shape_str(input.sizes()),
           " can't be broadcast to the output shape ", shape_str(shape));
  Tensor out = product(op, mat1, mat2, {}, alpha, beta, &input);
  // input's gradient is beta * g, summed to input's shape by the engine.
  maybe_record("AddmmBackward", {input, mat1, mat2}, {out},
               {mat2.requires_grad() ? mat1 : Tensor(), mat1.requires_grad() ? mat2 : Tensor()},
               [beta, alpha, m1_t = transposed_matrix(mat1), m2_t = transposed_matrix(mat2)](
                   const FunctionNode& n, const Tensors& gs) -> Tensors {
                 const Tensor& g = gs[0];
                 Tensor m1 = n.saved(0), m2 = n.saved(1);
                 return {n.needs_input_grad(0) ? scaled(g, beta) : Tensor(),
                         n.needs_input_grad(1) ? scaled(mm_in_layout(m1_t, g, mT(m2)), alpha)
                                               : Tensor(),
                         n.needs_input_grad(2) ? scaled(mm_in_layout(m2_t, mT(m1), g), alpha)
                                               : Tensor()};
               });
  return out;
}

int64_t linalg_layout_copies() { return g_layout_copies.load(); }

}  // namespace fastgrad
