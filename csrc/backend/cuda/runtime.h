// The CUDA runtime as the rest of fastgrad sees it: device queries, the
// caching allocator's counters, synchronisation. Free of CUDA headers: a CUDA
// build implements it in backend/cuda/runtime.cpp, a CPU build in
// backend/no_cuda/stubs.cpp (queries answer "no GPU", the rest raise
// "built without CUDA").
#pragma once
#include <cstdint>

#include "backend/cuda/block_cache.h"
#include "core/storage.h"

namespace fastgrad {

class Tensor;

int cuda_device_count();   // 0 without a driver or GPU (never throws)
bool cuda_is_available();  // device_count() > 0
int cuda_current_device();
void cuda_set_device(int device);
// Waits for all work queued on `device` (< 0: the current one).
void cuda_synchronize(int device);

// The caching allocator (Note [CUDA block cache]); device < 0: current.
Storage cuda_allocate(int64_t nbytes, int device);
cuda::DeviceMemoryStats cuda_memory_stats(int device);
void cuda_reset_peak_memory_stats(int device);
void cuda_empty_cache();

// Streams and events (backend/cuda/streams.cpp) as opaque handles, so that
// Python can hold them: a stream handle is a cudaStream_t (0: the legacy
// default stream), an event handle a cudaEvent_t. Note [User streams].
int64_t cuda_stream_create(int device, int priority);
void cuda_stream_destroy(int64_t stream);
int64_t cuda_get_current_stream(int device);
void cuda_set_current_stream(int device, int64_t stream);
void cuda_stream_synchronize(int64_t stream);
bool cuda_stream_query(int64_t stream);
void cuda_stream_wait_event(int64_t stream, int64_t event);
int64_t cuda_event_create(bool enable_timing);
void cuda_event_destroy(int64_t event);
void cuda_event_record(int64_t event, int64_t stream);
void cuda_event_synchronize(int64_t event);
bool cuda_event_query(int64_t event);
double cuda_event_elapsed_ms(int64_t start, int64_t end);

// Both tensors contiguous with equal sizes and dtype (ops/copy.cpp ensures
// it); one of them on a CUDA device.
void copy_between_devices(const Tensor& dst, const Tensor& src);

}  // namespace fastgrad
