// embedding: a row gather with a scatter-add backward, and the max_norm
// renormalisation. Indices are validated before any kernel runs. On CUDA the
// gather and the scatter-add are the indexing kernels (ops/index_launch.h:
// offsets into the weight, atomic adds for the gradient), and the per-index
// factors are tensors computed on the device.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "backend/cpu/parallel.h"
#include "ops/elementwise_ops.h"
#include "ops/factory_ops.h"
#include "ops/grad_utils.h"
#include "ops/index_launch.h"
#if defined(__CUDACC__)
#include "backend/cuda/rows.cuh"
#endif
#include "ops/norm_ops.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"

namespace fastgrad {

namespace {

// Indices as a contiguous int64 tensor, every entry checked against [0, V).
Tensor checked_indices(const char* op, const Tensor& indices, int64_t V) {
  FG_CHECK_TYPE(indices.dtype() == DType::Int64 || indices.dtype() == DType::Int32, op,
                ": expected indices of dtype int64 or int32, got ", indices.dtype());
  if (!indices.device().is_cpu())  // checked by the device (one flag read back)
    return index_offsets(op, indices, V, 1, 0, false);
  Tensor idx = contiguous(to_dtype(indices, DType::Int64));
  const int64_t* p = idx.data<int64_t>();
  for (int64_t k = 0; k < idx.numel(); ++k)
    FG_CHECK_INDEX(p[k] >= 0 && p[k] < V, op, ": index ", p[k],
                   " is out of range for num_embeddings=", V, " (valid indices are 0 to ",
                   V - 1, ")");
  return idx;
}

// The (idx..., D) views that gather_offsets/scatter_offsets walk for rows
// idx of a contiguous (V, D) matrix m: m's row 0 repeated, and each index's
// element offset idx * D repeated along the row.
struct RowViews {
  Shape shape;
  Tensor base, off;
};
RowViews row_views(const Tensor& m, const Tensor& idx) {
  const int64_t D = m.size(1);
  Shape shape = idx.sizes();
  shape.push_back(D);
  Shape bs(idx.dim(), 0), os = contiguous_strides(idx.sizes());
  bs.push_back(1);
  os.push_back(0);
  Tensor off = mul(idx, Scalar(D));  // a new contiguous tensor
  return {shape, make_view(m, shape, bs, m.offset()), make_view(off, shape, os, 0)};
}

// out[k, :] = w[idx[k], :] (w contiguous (V, D)).
Tensor gather_rows(const Tensor& w, const Tensor& idx) {
  const int64_t D = w.size(1), K = idx.numel();
  Shape os = idx.sizes();
  os.push_back(D);
  Tensor out = empty(os, w.dtype(), w.device());
  if (!w.device().is_cpu()) {
    RowViews v = row_views(w, idx);
    gather_offsets("embedding", out, v.base, v.off);
    return out;
  }
  const int64_t* ip = idx.data<int64_t>();
  const auto* src = static_cast<const char*>(w.raw_data());
  auto* dst = static_cast<char*>(out.raw_data());
  const size_t row = static_cast<size_t>(D * w.itemsize());
  cpu::parallel_for(0, K, std::max<int64_t>(1, cpu::kGrain / std::max<int64_t>(D, 1)),
                    [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) std::memcpy(dst + k * row, src + ip[k] * row, row);
  });
  return out;
}

// Per-index gradient factor: 0 for padding_idx, 1 / count(idx) when scaling
// by frequency, else 1 (nullopt: all ones).
std::vector<double> index_factors(const Tensor& idx, int64_t V, int64_t pad, bool scale) {
  const int64_t* ip = idx.data<int64_t>();
  const int64_t K = idx.numel();
  std::vector<double> f(static_cast<size_t>(K), 1.0);
  if (scale) {
    std::vector<int64_t> counts(static_cast<size_t>(V), 0);
    for (int64_t k = 0; k < K; ++k) ++counts[ip[k]];
    for (int64_t k = 0; k < K; ++k) f[k] = 1.0 / static_cast<double>(counts[ip[k]]);
  }
  if (pad >= 0)
    for (int64_t k = 0; k < K; ++k)
      if (ip[k] == pad) f[k] = 0.0;
  return f;
}

// index_factors as an (idx..., 1) tensor of dtype dt on idx's device, or an
// undefined tensor when every factor is 1. Counts are a scatter-add of ones.
Tensor factor_tensor(const Tensor& idx, int64_t V, int64_t pad, bool scale, DType dt) {
  if (pad < 0 && !scale) return Tensor();
  const char* op = "embedding_backward";
  Tensor f = ones(idx.sizes(), dt, idx.device());
  if (scale) {
    Tensor counts = zeros({V}, dt, idx.device());
    Tensor each = make_view(counts, idx.sizes(), Shape(idx.dim(), 0), 0);
    scatter_offsets(op, idx.sizes(), each, idx, f, ScatterMode::Add);
    Tensor mine = empty(idx.sizes(), dt, idx.device());
    gather_offsets(op, mine, each, idx);
    f = reciprocal(mine);
  }
  if (pad >= 0) f = mul(f, to_dtype(ne(idx, Scalar(pad)), dt));
  return unsqueeze(f, -1);
}

Tensor embedding_backward(const Tensor& g, const Tensor& idx, int64_t V, int64_t pad,
                          bool scale);

// d(dW)/dg: gg[k] = ggW[idx[k]] * factor[k], a gather: differentiable again.
Tensor embedding_backward_backward(const Tensor& ggw, const Tensor& idx, int64_t V,
                                   int64_t pad, bool scale) {
  Tensor rows = gather_rows(contiguous(ggw), idx);
  if (pad < 0 && !scale) return rows;
  if (!ggw.device().is_cpu()) return mul(rows, factor_tensor(idx, V, pad, scale, ggw.dtype()));
  std::vector<double> f = index_factors(idx, V, pad, scale);
  Tensor ft = empty({static_cast<int64_t>(f.size()), 1}, DType::Float64, ggw.device());
  std::copy(f.begin(), f.end(), ft.data<double>());
  Shape fs = idx.sizes();
  fs.push_back(1);
  return mul(rows, reshape(to_dtype(ft, ggw.dtype()), fs));
}

// dw[idx[k]] += g[k] * factor[k] for a zeroed (V, D) dw on the CPU. Threads
// own disjoint row ranges of dw and each scans all indices in order: no
// atomics, and the sum order is fixed.
void scatter_rows_cpu(const Tensor& dw, const Tensor& g, const Tensor& idx, int64_t pad,
                      bool scale) {
  const int64_t V = dw.size(0), D = dw.size(1), K = idx.numel();
  Tensor gc = contiguous(g);
  const int64_t* ip = idx.data<int64_t>();
  std::vector<double> f = index_factors(idx, V, pad, scale);
  dispatch_float(g.dtype(), "embedding_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* gp = gc.data<T>();
    T* o = dw.data<T>();
    const int64_t grain = std::max<int64_t>(1, V * cpu::kGrain / std::max<int64_t>(1, K * D));
    cpu::parallel_for(0, V, grain, [&](int64_t r0, int64_t r1) {
      for (int64_t k = 0; k < K; ++k) {
        const int64_t r = ip[k];
        if (r < r0 || r >= r1 || f[k] == 0.0) continue;
        const T s = static_cast<T>(f[k]);
        T* dst = o + r * D;
        const T* src = gp + k * D;
        for (int64_t j = 0; j < D; ++j) dst[j] += src[j] * s;
      }
    });
  });
}

// dW = zeros(V, D); dW[idx[k]] += g[k] * factor[k]. On CUDA an atomic
// scatter-add (the sum order varies between runs, as in PyTorch).
Tensor embedding_backward(const Tensor& g, const Tensor& idx, int64_t V, int64_t pad,
                          bool scale) {
  if (is_16bit_float(g.dtype()))  // Note [16-bit floats]: float32 sums, rounded once
    return to_dtype(embedding_backward(as_float32(g), idx, V, pad, scale), g.dtype());
  Tensor dw = zeros({V, g.size(-1)}, g.dtype(), g.device());
  if (g.device().is_cpu()) {
    scatter_rows_cpu(dw, g, idx, pad, scale);
  } else {
    autograd::GradModeGuard no_grad(false);  // EmbeddingDenseBackward covers it
    Tensor f = factor_tensor(idx, V, pad, scale, g.dtype());
    RowViews v = row_views(dw, idx);
    scatter_offsets("embedding_backward", v.shape, v.base, v.off,
                    f.defined() ? mul(g, f) : g, ScatterMode::Add);
  }
  maybe_record("EmbeddingDenseBackward", {g}, {dw}, {idx},
               [V, pad, scale](const FunctionNode& n, const Tensors& gs) -> Tensors {
                 return {embedding_backward_backward(gs[0], n.saved(0), V, pad, scale)};
               });
  return dw;
}

// Row rows[k] of w (stride s0, elements s1 apart) scaled to norm max_norm
// when its p-norm exceeds it (the CPU loop and the CUDA kernel: f(k, 0)).
template <class T>
struct RenormRow {
  T* w;
  const int64_t* rows;
  int64_t D, s0, s1;
  double max_norm, p;
  bool inf;  // p == inf (std::isinf is host-only here)
  FG_HOST_DEVICE void operator()(int64_t k, int64_t) const {
    T* row = w + rows[k] * s0;
    double norm = 0;
    for (int64_t j = 0; j < D; ++j) {
      const double a = std::abs(static_cast<double>(row[j * s1]));
      if (p == 1) norm += a;
      else if (p == 2) norm += a * a;
      else if (inf) norm = a > norm ? a : norm;
      else norm += std::pow(a, p);
    }
    if (p == 2) norm = std::sqrt(norm);
    else if (p != 1 && !inf) norm = std::pow(norm, 1.0 / p);
    if (norm > max_norm) {
      const T scale = static_cast<T>(max_norm / (norm + 1e-7));
      for (int64_t j = 0; j < D; ++j) row[j * s1] *= scale;
    }
  }
};

}  // namespace

Tensor embedding(const Tensor& weight, const Tensor& indices, int64_t padding_idx,
                 bool scale_grad_by_freq) {
  const char* op = "embedding";
  FG_CHECK(indices.device() == weight.device(), op,
           ": expected all tensors on the same device, got ", weight.device(), " and ",
           indices.device());
  FG_CHECK(weight.dim() == 2, op,
           ": expected weight of shape (num_embeddings, embedding_dim), got ",
           list_str(weight.sizes()));
  const int64_t V = weight.size(0);
  FG_CHECK(padding_idx >= -1 && padding_idx < V, op, ": padding_idx ", padding_idx,
           " is out of range for num_embeddings=", V);
  Tensor idx = checked_indices(op, indices, V);
  Tensor out = gather_rows(contiguous(weight), idx);
  maybe_record("EmbeddingBackward", {weight}, {out}, {idx},
               [V, padding_idx, scale_grad_by_freq](const FunctionNode& n,
                                                   const Tensors& gs) -> Tensors {
                 return {embedding_backward(gs[0], n.saved(0), V, padding_idx,
                                            scale_grad_by_freq)};
               });
  return out;
}

const Tensor& embedding_renorm_(const Tensor& weight, const Tensor& indices, double max_norm,
                                double norm_type) {
  const char* op = "embedding_renorm_";
  FG_CHECK(indices.device() == weight.device(), op,
           ": expected all tensors on the same device, got ", weight.device(), " and ",
           indices.device());
  FG_CHECK(weight.dim() == 2, op, ": expected a 2-D weight, got ", list_str(weight.sizes()));
  check_writable(op, weight);
  if (is_16bit_float(weight.dtype())) {  // Note [16-bit floats]: renorm a float32 copy
    autograd::GradModeGuard no_grad(false);
    Tensor w = to_dtype(weight, DType::Float32);
    embedding_renorm_(w, indices, max_norm, norm_type);
    copy_(weight, w, op);
    return weight;
  }
  // the distinct rows, sorted on the host (CUDA: one copy of the indices back)
  Tensor idx = to_device(checked_indices(op, indices, weight.size(0)), Device{});
  std::vector<int64_t> rows(idx.data<int64_t>(), idx.data<int64_t>() + idx.numel());
  std::sort(rows.begin(), rows.end());
  rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
  Tensor rt = empty({static_cast<int64_t>(rows.size())}, DType::Int64, Device{});
  std::copy(rows.begin(), rows.end(), rt.data<int64_t>());
  rt = to_device(rt, weight.device());
  dispatch_float(weight.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    const RenormRow<T> f{static_cast<T*>(weight.raw_data()), rt.data<int64_t>(), weight.size(1),
                         weight.stride(0), weight.stride(1), max_norm, norm_type,
                         std::isinf(norm_type)};
    if (weight.device().is_cpu()) {
      for (int64_t k = 0; k < rt.numel(); ++k) f(k, 0);
    } else {
#if defined(__CUDACC__)
      cuda::launch_row_elements(op, weight.device().index, rt.numel(), 1, f);
#else
      fail<NotImplementedError>(op, ": no kernel for device ", weight.device());
#endif
    }
  });
  weight.bump_version(op);
  return weight;
}

}  // namespace fastgrad
