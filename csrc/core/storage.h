// Storage: a reference-counted, device-tagged byte buffer shared by views.
// CPU buffers are 64-byte aligned. External memory (numpy arrays, DLPack) is
// adopted with a deleter that keeps its owner alive.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/device.h"

namespace fastgrad {

class StorageImpl {
 public:
  using Deleter = std::function<void(void*)>;
  StorageImpl(void* data, int64_t nbytes, Device device, Deleter deleter)
      : data_(data), nbytes_(nbytes), device_(device), deleter_(std::move(deleter)) {}
  ~StorageImpl() { if (deleter_) deleter_(data_); }
  StorageImpl(const StorageImpl&) = delete;
  StorageImpl& operator=(const StorageImpl&) = delete;

  void* data() const { return data_; }
  int64_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  // Bumped by every in-place op on any view of this storage; autograd compares
  // it against the value saved with a tensor to detect invalid saved tensors.
  uint64_t version() const { return version_; }
  void bump_version() { ++version_; }
  // For autograd's error message: the last in-place op on this storage while
  // a tensor on it was saved for backward, and where Python called it.
  bool saved_for_backward = false;
  std::string last_inplace_op;
  std::string last_inplace_location;

 private:
  void* data_;
  int64_t nbytes_;
  Device device_;
  Deleter deleter_;
  uint64_t version_ = 0;
};

using Storage = std::shared_ptr<StorageImpl>;

// Allocates `nbytes` on `device` (uninitialised).
Storage allocate_storage(int64_t nbytes, Device device);

}  // namespace fastgrad
