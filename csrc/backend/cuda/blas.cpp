// cuBLAS behind backend/cuda/blas.h: one handle per device, created on first
// use and bound to the device's current stream before every call.
//
// Row-major through a column-major library: a row-major (m, n) C is the
// column-major (n, m) C^T, and C^T = op(B)^T op(A)^T, so the call passes B
// before A with n and m swapped; each operand keeps its own transpose flag
// because a row-major NoTrans matrix *is* the column-major transpose.
#include "backend/cuda/blas.h"

#include <mutex>
#include <type_traits>
#include <vector>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/runtime.h"
#include "core/check.h"

#if defined(FASTGRAD_WITH_CUBLAS)
#include <cublas_v2.h>
#endif

namespace fastgrad::cuda {

#if defined(FASTGRAD_WITH_CUBLAS)

namespace {

void check_cublas(cublasStatus_t st, const char* op, const char* what) {
  if (st != CUBLAS_STATUS_SUCCESS)
    fail<RuntimeError>(op, ": ", what, " failed (cuBLAS error: ", cublasGetStatusString(st), ")");
}

// The device's handle (leaked at exit on purpose, like the block cache:
// destroying it during interpreter teardown may race the driver's own).
cublasHandle_t handle_for(const char* op, int device) {
  static std::mutex mu;
  static std::vector<cublasHandle_t> handles;
  std::lock_guard<std::mutex> lock(mu);
  if (static_cast<int>(handles.size()) <= device) handles.resize(device + 1, nullptr);
  if (!handles[device]) {
    check_cublas(cublasCreate(&handles[device]), op, "cublasCreate");
    // The library's own default already, said explicitly: TF32 stays off for
    // float32 products, as with torch's allow_tf32=False default.
    check_cublas(cublasSetMathMode(handles[device], CUBLAS_DEFAULT_MATH), op,
                 "cublasSetMathMode");
  }
  return handles[device];
}

}  // namespace

template <class T>
void gemm_strided_batched(const char* op, int device, int64_t batch, int64_t m,
                          int64_t n, int64_t k, T alpha, const GemmMatrix<T>& a,
                          const GemmMatrix<T>& b, T beta, T* c) {
  DeviceGuard guard(device);
  if (device < 0) device = cuda_current_device();
  cublasHandle_t h = handle_for(op, device);
  check_cublas(cublasSetStream(h, current_stream(device)), op, "cublasSetStream");
  auto t = [](bool tr) { return tr ? CUBLAS_OP_T : CUBLAS_OP_N; };
  auto i = [](int64_t v) { return static_cast<int>(v); };
  cublasStatus_t st;
  if constexpr (std::is_same_v<T, float>) {
    st = cublasSgemmStridedBatched(h, t(b.trans), t(a.trans), i(n), i(m), i(k), &alpha,
                                   b.base, i(b.ld), b.stride, a.base, i(a.ld), a.stride,
                                   &beta, c, i(n), m * n, i(batch));
  } else if constexpr (std::is_same_v<T, double>) {
    st = cublasDgemmStridedBatched(h, t(b.trans), t(a.trans), i(n), i(m), i(k), &alpha,
                                   b.base, i(b.ld), b.stride, a.base, i(a.ld), a.stride,
                                   &beta, c, i(n), m * n, i(batch));
  } else {
    // Note [16-bit floats]: 16-bit storage, float32 accumulation (tensor cores).
    static_assert(std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>,
                  "gemm_strided_batched: float, double, float16 or bfloat16");
    const cudaDataType dt = std::is_same_v<T, Half> ? CUDA_R_16F : CUDA_R_16BF;
    const float al = static_cast<float>(alpha), be = static_cast<float>(beta);
    st = cublasGemmStridedBatchedEx(h, t(b.trans), t(a.trans), i(n), i(m), i(k), &al, b.base,
                                    dt, i(b.ld), b.stride, a.base, dt, i(a.ld), a.stride, &be,
                                    c, dt, i(n), m * n, i(batch), CUBLAS_COMPUTE_32F,
                                    CUBLAS_GEMM_DEFAULT);
  }
  check_cublas(st, op, "cuBLAS gemm");
}

#else  // built without cuBLAS: the CUDA build compiles, products say why not

template <class T>
void gemm_strided_batched(const char* op, int, int64_t, int64_t, int64_t, int64_t, T,
                          const GemmMatrix<T>&, const GemmMatrix<T>&, T, T*) {
  fail<NotImplementedError>(
      op, ": fastgrad was built without cuBLAS, so CUDA matrix products are unavailable "
      "(`pip install nvidia-cublas` and rebuild, or pass -DFASTGRAD_CUBLAS_ROOT=<dir>)");
}

#endif

#define FG_GEMM_INSTANCE(T)                                                                 \
  template void gemm_strided_batched<T>(const char*, int, int64_t, int64_t, int64_t, int64_t, \
                                        T, const GemmMatrix<T>&, const GemmMatrix<T>&, T, T*);
FG_GEMM_INSTANCE(float)
FG_GEMM_INSTANCE(double)
FG_GEMM_INSTANCE(Half)
FG_GEMM_INSTANCE(BFloat16)
#undef FG_GEMM_INSTANCE

}  // namespace fastgrad::cuda
