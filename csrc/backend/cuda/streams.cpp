// User streams and events (Note [User streams]). Compiled only with
// FASTGRAD_CUDA=ON; no_cuda/stubs.cpp stands in otherwise.
//
// Note [User streams]: each thread has a current stream per device, the
// legacy default stream until `with fastgrad.cuda.stream(s):` selects another.
// Every launch, copy and allocation asks cuda::current_stream(), so work
// queued inside the block runs on s. The caching allocator keys free blocks by
// the stream they were allocated on (Note [CUDA block cache]); as in PyTorch,
// a tensor allocated on one stream and used on another must be ordered by the
// user (Event.record / Stream.wait_event) before it is freed. Streams are
// created non-blocking (they do not wait on the legacy default stream), as
// torch's are.
#include <cuda_runtime.h>

#include <array>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/runtime.h"

namespace fastgrad {

namespace {

constexpr int kMaxDevices = 64;
thread_local std::array<cudaStream_t, kMaxDevices> t_current{};  // zero: legacy default

int resolve(const char* op, int device) {
  FG_CHECK(cuda_device_count() > 0, op, ": no CUDA GPU is available (this CUDA build found no device)");
  if (device < 0) device = cuda_current_device();
  FG_CHECK(device < kMaxDevices && device < cuda_device_count(), op, ": device index ",
           device, " is out of range (", cuda_device_count(), " CUDA devices available)");
  return device;
}

cudaStream_t as_stream(int64_t h) { return reinterpret_cast<cudaStream_t>(h); }
cudaEvent_t as_event(int64_t h) {
  FG_CHECK(h != 0, "cuda.Event: the event was destroyed");
  return reinterpret_cast<cudaEvent_t>(h);
}

}  // namespace

cudaStream_t cuda::current_stream(int device) {
  if (device < 0) {
    if (cudaGetDevice(&device) != cudaSuccess) {
      cudaGetLastError();
      return nullptr;
    }
  }
  return device < kMaxDevices ? t_current[device] : nullptr;
}

int64_t cuda_stream_create(int device, int priority) {
  device = resolve("cuda.Stream", device);
  cuda::DeviceGuard guard(device);
  cudaStream_t s = nullptr;
  FG_CUDA_CHECK(cudaStreamCreateWithPriority(&s, cudaStreamNonBlocking, priority),
                "cuda.Stream: cannot create a stream on cuda:", device);
  return reinterpret_cast<int64_t>(s);
}

void cuda_stream_destroy(int64_t stream) {
  // Deferred by the driver until the stream's queued work is done.
  if (stream != 0) cudaStreamDestroy(as_stream(stream));
}

int64_t cuda_get_current_stream(int device) {
  return reinterpret_cast<int64_t>(cuda::current_stream(resolve("cuda.current_stream", device)));
}

void cuda_set_current_stream(int device, int64_t stream) {
  t_current[resolve("cuda.set_stream", device)] = as_stream(stream);
}

void cuda_stream_synchronize(int64_t stream) {
  FG_CUDA_CHECK(cudaStreamSynchronize(as_stream(stream)),
                "cuda.Stream.synchronize: a kernel on the stream failed");
}

bool cuda_stream_query(int64_t stream) {
  cudaError_t e = cudaStreamQuery(as_stream(stream));
  if (e == cudaErrorNotReady) return false;
  FG_CUDA_CHECK(e, "cuda.Stream.query: a kernel on the stream failed");
  return true;
}

void cuda_stream_wait_event(int64_t stream, int64_t event) {
  FG_CUDA_CHECK(cudaStreamWaitEvent(as_stream(stream), as_event(event), 0),
                "cuda.Stream.wait_event failed");
}

int64_t cuda_event_create(bool enable_timing) {
  FG_CHECK(cuda_device_count() > 0, "cuda.Event: no CUDA GPU is available");
  cudaEvent_t e = nullptr;
  FG_CUDA_CHECK(cudaEventCreateWithFlags(&e, enable_timing ? cudaEventDefault
                                                           : cudaEventDisableTiming),
                "cuda.Event: cannot create an event");
  return reinterpret_cast<int64_t>(e);
}

void cuda_event_destroy(int64_t event) {
  if (event != 0) cudaEventDestroy(as_event(event));
}

void cuda_event_record(int64_t event, int64_t stream) {
  FG_CUDA_CHECK(cudaEventRecord(as_event(event), as_stream(stream)), "cuda.Event.record failed");
}

void cuda_event_synchronize(int64_t event) {
  FG_CUDA_CHECK(cudaEventSynchronize(as_event(event)),
                "cuda.Event.synchronize: work before the event failed");
}

bool cuda_event_query(int64_t event) {
  cudaError_t e = cudaEventQuery(as_event(event));
  if (e == cudaErrorNotReady) return false;
  FG_CUDA_CHECK(e, "cuda.Event.query failed");
  return true;
}

double cuda_event_elapsed_ms(int64_t start, int64_t end) {
  float ms = 0;
  FG_CUDA_CHECK(cudaEventElapsedTime(&ms, as_event(start), as_event(end)),
                "cuda.Event.elapsed_time: both events must be recorded, completed and "
                "created with enable_timing=True");
  return ms;
}

}  // namespace fastgrad
