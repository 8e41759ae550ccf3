// NCCL collectives for fastgrad.distributed's "nccl" backend (CUDA builds
// only). libnccl is not linked: nccl_load() dlopens it at run time (the
// nvidia-nccl wheel's copy, found by Python), and the few NCCL functions and
// enums used are declared in nccl.cpp from NCCL's public API documentation.
// Free of CUDA and NCCL headers.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace fastgrad::cuda {

// dlopens the first candidate that loads and resolves every symbol; later
// calls are no-ops. Raises naming each candidate and why it failed.
void nccl_load(const std::vector<std::string>& candidates);
int nccl_version();          // e.g. 22703 for 2.27.3
std::string nccl_unique_id();  // ncclGetUniqueId's 128 bytes, for rank 0 to share

// Reduction codes: ncclRedOp_t's values.
enum class NcclOp : int { Sum = 0, Prod = 1, Max = 2, Min = 3, Avg = 4 };

// A collective queued on a communicator's stream. Keeps its tensors alive;
// wait() makes fastgrad's current stream wait for it (the host does not
// block), query() says whether the device finished it. Destroying an unwaited
// Work also orders the current stream after it, so freed memory is never
// reused while NCCL still writes it (Note [NCCL stream order]).
class NcclWork {
 public:
  NcclWork(void* event, int device, std::vector<Tensor> keep)
      : event_(event), device_(device), keep_(std::move(keep)) {}
  ~NcclWork();
  NcclWork(const NcclWork&) = delete;
  NcclWork& operator=(const NcclWork&) = delete;
  void wait();
  bool query();

 private:
  void* event_;  // cudaEvent_t recorded after the collective
  int device_;
  bool waited_ = false;
  std::vector<Tensor> keep_;
};

// One rank of an NCCL communicator on one device, with its own stream.
class NcclComm {
 public:
  NcclComm(const std::string& unique_id, int world_size, int rank, int device);
  ~NcclComm();
  NcclComm(const NcclComm&) = delete;
  NcclComm& operator=(const NcclComm&) = delete;

  std::shared_ptr<NcclWork> all_reduce(const Tensor& t, int op);
  std::shared_ptr<NcclWork> broadcast(const Tensor& t, int root);
  // out: world_size * in.numel() elements, rank order.
  std::shared_ptr<NcclWork> all_gather(const Tensor& out, const Tensor& in);
  // in: world_size * out.numel() elements; out gets chunk `rank`, reduced.
  std::shared_ptr<NcclWork> reduce_scatter(const Tensor& out, const Tensor& in, int op);

  int device() const { return device_; }

 private:
  template <class F>
  std::shared_ptr<NcclWork> enqueue(const char* op, std::vector<Tensor> keep, F&& call);
  void check(const char* op, const Tensor& t, const char* name) const;

  void* comm_ = nullptr;    // ncclComm_t
  void* stream_ = nullptr;  // cudaStream_t
  void* ready_ = nullptr;   // cudaEvent_t: the current stream's work so far
  int world_size_, rank_, device_;
};

}  // namespace fastgrad::cuda
