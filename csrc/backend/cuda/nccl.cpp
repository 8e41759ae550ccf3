// NCCL through dlopen (see nccl.h). The declarations below follow NCCL's
// public API reference: C enums are ints, ncclUniqueId is 128 bytes passed by
// value, every call returns an ncclResult_t (0: success).
#include "backend/cuda/nccl.h"

#include <dlfcn.h>

#include <mutex>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/runtime.h"

namespace fastgrad::cuda {

namespace {

using ncclComm_t = void*;
using ncclResult_t = int;
struct ncclUniqueId {
  char internal[128];  // NCCL_UNIQUE_ID_BYTES
};
// ncclDataType_t values.
enum : int { kInt8 = 0, kUint8 = 1, kInt32 = 2, kInt64 = 4, kFloat16 = 6, kFloat32 = 7,
             kFloat64 = 8, kBfloat16 = 9 };

struct NcclApi {
  ncclResult_t (*GetVersion)(int*);
  const char* (*GetErrorString)(ncclResult_t);
  ncclResult_t (*GetUniqueId)(ncclUniqueId*);
  ncclResult_t (*CommInitRank)(ncclComm_t*, int, ncclUniqueId, int);
  ncclResult_t (*CommDestroy)(ncclComm_t);
  ncclResult_t (*AllReduce)(const void*, void*, size_t, int, int, ncclComm_t, cudaStream_t);
  ncclResult_t (*Broadcast)(const void*, void*, size_t, int, int, ncclComm_t, cudaStream_t);
  ncclResult_t (*AllGather)(const void*, void*, size_t, int, ncclComm_t, cudaStream_t);
  ncclResult_t (*ReduceScatter)(const void*, void*, size_t, int, int, ncclComm_t,
                                cudaStream_t);
};

NcclApi g_api;
bool g_loaded = false;
std::mutex g_load_mutex;

template <class Fn>
bool resolve(void* lib, const char* name, Fn*& slot, std::string& why) {
  slot = reinterpret_cast<Fn*>(dlsym(lib, name));
  if (!slot) why = std::string("no symbol ") + name;
  return slot != nullptr;
}

bool try_load(const std::string& path, std::string& why) {
  void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* e = dlerror();
    why = e ? e : "dlopen failed";
    return false;
  }
  NcclApi a{};
  bool ok = resolve(lib, "ncclGetVersion", a.GetVersion, why) &&
            resolve(lib, "ncclGetErrorString", a.GetErrorString, why) &&
            resolve(lib, "ncclGetUniqueId", a.GetUniqueId, why) &&
            resolve(lib, "ncclCommInitRank", a.CommInitRank, why) &&
            resolve(lib, "ncclCommDestroy", a.CommDestroy, why) &&
            resolve(lib, "ncclAllReduce", a.AllReduce, why) &&
            resolve(lib, "ncclBroadcast", a.Broadcast, why) &&
            resolve(lib, "ncclAllGather", a.AllGather, why) &&
            resolve(lib, "ncclReduceScatter", a.ReduceScatter, why);
  if (!ok) {
    dlclose(lib);
    return false;
  }
  g_api = a;  // the library stays loaded for the life of the process
  return true;
}

const NcclApi& api(const char* op) {
  FG_CHECK(g_loaded, op, ": NCCL is not loaded (fastgrad.distributed.init_process_group"
                         "(\"nccl\") loads it)");
  return g_api;
}

void nccl_check(ncclResult_t r, const char* op) {
  if (r != 0)
    fail<RuntimeError>(op, ": NCCL error ", r, ": ", g_api.GetErrorString(r),
                       " (NCCL_DEBUG=WARN prints details)");
}

int nccl_dtype(const char* op, DType d) {
  switch (d) {
    case DType::Bool: return kUint8;
    case DType::Int32: return kInt32;
    case DType::Int64: return kInt64;
    case DType::Float32: return kFloat32;
    case DType::Float64: return kFloat64;
    case DType::Float16: return kFloat16;
    case DType::BFloat16: return kBfloat16;
  }
  fail<TypeError>(op, ": no NCCL type for ", d);
}

cudaEvent_t as_event(void* e) { return static_cast<cudaEvent_t>(e); }
cudaStream_t as_stream(void* s) { return static_cast<cudaStream_t>(s); }

}  // namespace

void nccl_load(const std::vector<std::string>& candidates) {
  std::lock_guard<std::mutex> lock(g_load_mutex);
  if (g_loaded) return;
  std::string tried;
  for (const auto& path : candidates) {
    std::string why;
    if (try_load(path, why)) {
      g_loaded = true;
      return;
    }
    tried += "\n  " + path + ": " + why;
  }
  fail<RuntimeError>("init_process_group: cannot load libnccl (pip install nvidia-nccl-cu13, "
                     "or set FASTGRAD_NCCL_LIBRARY); tried:", tried);
}

int nccl_version() {
  int v = 0;
  nccl_check(api("nccl_version").GetVersion(&v), "nccl_version");
  return v;
}

std::string nccl_unique_id() {
  ncclUniqueId id;
  nccl_check(api("init_process_group").GetUniqueId(&id), "init_process_group");
  return std::string(id.internal, sizeof id.internal);
}

// Note [NCCL stream order]: each communicator queues its collectives on its
// own non-blocking stream. Before a collective that stream waits for an event
// recorded on fastgrad's current stream (so the collective sees every kernel
// that produced its inputs); after it, an event is recorded that Work::wait
// makes the current stream wait for (so later kernels and the caching
// allocator's stream-ordered reuse see its outputs). The host never blocks.
NcclComm::NcclComm(const std::string& unique_id, int world_size, int rank, int device)
    : world_size_(world_size), rank_(rank), device_(device) {
  const char* op = "init_process_group";
  FG_CHECK_VALUE(unique_id.size() == sizeof(ncclUniqueId), op, ": the NCCL unique id must be ",
                 sizeof(ncclUniqueId), " bytes, got ", unique_id.size());
  FG_CHECK_VALUE(world_size > 0 && rank >= 0 && rank < world_size, op, ": rank ", rank,
                 " is not in a world of ", world_size);
  FG_CHECK_VALUE(device >= 0 && device < cuda_device_count(), op, ": no CUDA device ", device,
                 " (", cuda_device_count(), " visible)");
  const NcclApi& a = api(op);
  DeviceGuard guard(device);
  cudaStream_t s;
  FG_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), op,
                ": cannot create the NCCL stream");
  stream_ = s;
  cudaEvent_t e;
  FG_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), op,
                ": cannot create an event");
  ready_ = e;
  ncclUniqueId id;
  std::copy(unique_id.begin(), unique_id.end(), id.internal);
  ncclComm_t comm = nullptr;
  nccl_check(a.CommInitRank(&comm, world_size, id, rank), op);
  comm_ = comm;
}

NcclComm::~NcclComm() {
  if (comm_) g_api.CommDestroy(comm_);
  if (ready_) cudaEventDestroy(as_event(ready_));
  if (stream_) cudaStreamDestroy(as_stream(stream_));
}

void NcclComm::check(const char* op, const Tensor& t, const char* name) const {
  FG_CHECK_VALUE(t.device().is_cuda() && t.device().index == device_, op, ": ", name,
                 " must be on cuda:", device_, " (the communicator's device), got ", t.device());
  FG_CHECK_VALUE(t.is_contiguous(), op, ": ", name, " must be contiguous");
}

template <class F>
std::shared_ptr<NcclWork> NcclComm::enqueue(const char* op, std::vector<Tensor> keep, F&& call) {
  DeviceGuard guard(device_);
  FG_CUDA_CHECK(cudaEventRecord(as_event(ready_), current_stream(device_)), op,
                ": cannot record an event");
  FG_CUDA_CHECK(cudaStreamWaitEvent(as_stream(stream_), as_event(ready_), 0), op,
                ": cannot order the NCCL stream");
  nccl_check(call(static_cast<ncclComm_t>(comm_), as_stream(stream_)), op);
  cudaEvent_t done;
  FG_CUDA_CHECK(cudaEventCreateWithFlags(&done, cudaEventDisableTiming), op,
                ": cannot create an event");
  FG_CUDA_CHECK(cudaEventRecord(done, as_stream(stream_)), op, ": cannot record an event");
  return std::make_shared<NcclWork>(done, device_, std::move(keep));
}

std::shared_ptr<NcclWork> NcclComm::all_reduce(const Tensor& t, int op) {
  const char* name = "all_reduce";
  check(name, t, "tensor");
  int dt = nccl_dtype(name, t.dtype());
  const NcclApi& a = api(name);
  return enqueue(name, {t}, [&](ncclComm_t c, cudaStream_t s) {
    return a.AllReduce(t.raw_data(), t.raw_data(), t.numel(), dt, op, c, s);
  });
}

std::shared_ptr<NcclWork> NcclComm::broadcast(const Tensor& t, int root) {
  const char* name = "broadcast";
  check(name, t, "tensor");
  FG_CHECK_VALUE(root >= 0 && root < world_size_, name, ": src ", root, " is not a rank");
  // Any dtype moves as bytes.
  const NcclApi& a = api(name);
  size_t n = static_cast<size_t>(t.numel() * t.itemsize());
  return enqueue(name, {t}, [&](ncclComm_t c, cudaStream_t s) {
    return a.Broadcast(t.raw_data(), t.raw_data(), n, kUint8, root, c, s);
  });
}

std::shared_ptr<NcclWork> NcclComm::all_gather(const Tensor& out, const Tensor& in) {
  const char* name = "all_gather_into_tensor";
  check(name, out, "output_tensor");
  check(name, in, "input_tensor");
  FG_CHECK_VALUE(out.dtype() == in.dtype() && out.numel() == in.numel() * world_size_, name,
                 ": output_tensor must have world_size times the input's elements");
  const NcclApi& a = api(name);
  size_t n = static_cast<size_t>(in.numel() * in.itemsize());
  return enqueue(name, {out, in}, [&](ncclComm_t c, cudaStream_t s) {
    return a.AllGather(in.raw_data(), out.raw_data(), n, kUint8, c, s);
  });
}

std::shared_ptr<NcclWork> NcclComm::reduce_scatter(const Tensor& out, const Tensor& in, int op) {
  const char* name = "reduce_scatter_tensor";
  check(name, out, "output");
  check(name, in, "input");
  FG_CHECK_VALUE(out.dtype() == in.dtype() && in.numel() == out.numel() * world_size_, name,
                 ": input must have world_size times the output's elements");
  int dt = nccl_dtype(name, out.dtype());
  const NcclApi& a = api(name);
  return enqueue(name, {out, in}, [&](ncclComm_t c, cudaStream_t s) {
    return a.ReduceScatter(in.raw_data(), out.raw_data(), out.numel(), dt, op, c, s);
  });
}

NcclWork::~NcclWork() {
  if (!event_) return;
  try {
    if (!waited_) wait();
  } catch (...) {  // a destructor must not throw; the CUDA error stays reported
  }
  cudaEventDestroy(as_event(event_));
}

void NcclWork::wait() {
  DeviceGuard guard(device_);
  FG_CUDA_CHECK(cudaStreamWaitEvent(current_stream(device_), as_event(event_), 0),
                "Work.wait: cannot order the current stream after the collective");
  waited_ = true;
}

bool NcclWork::query() {
  cudaError_t r = cudaEventQuery(as_event(event_));
  if (r == cudaErrorNotReady) {
    cudaGetLastError();
    return false;
  }
  FG_CUDA_CHECK(r, "Work.is_completed: cannot query the collective");
  return true;
}

}  // namespace fastgrad::cuda
