// TensorImpl: a strided view of a Storage plus the slots autograd fills in.
// Tensor: the value-semantics handle (a shared_ptr) every op takes and returns.
#pragma once
#include <cstdint>
#include <memory>

#include "core/device.h"
#include "core/dtype.h"
#include "core/shape.h"
#include "core/storage.h"

namespace fastgrad {

namespace autograd { class Node; struct LeafHooks; }
class Tensor;

struct TensorImpl {
  Storage storage;
  Shape sizes;
  Shape strides;  // in elements
  int64_t offset = 0;  // in elements
  DType dtype = DType::Float32;

  // Autograd slots (filled in by the autograd layer).
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;
  std::shared_ptr<autograd::Node> grad_fn;
  int output_nr = 0;  // which output of grad_fn this is
  // Leaves: the AccumulateGrad sink, shared by every graph that uses the leaf.
  // Owned by the leaf (it holds the leaf's hooks, which must live as long as
  // the leaf); the sink points back weakly, so there is no cycle.
  std::shared_ptr<autograd::Node> grad_accumulator;
  bool retains_grad = false;  // non-leaf with retain_grad()
  // Leaves' hooks live on the tensor (the AccumulateGrad node may not exist yet
  // when they are registered, and it is recreated per graph).
  std::shared_ptr<autograd::LeafHooks> leaf_hooks;
  // Set by view ops (reshape, slicing, ...): the tensor whose storage this
  // views, so in-place ops can refuse cases autograd cannot track yet.
  std::shared_ptr<TensorImpl> view_base;
  uint64_t view_version = 0;  // storage version when the view's history was made
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

  const Shape& sizes() const { return impl_->sizes; }
  const Shape& strides() const { return impl_->strides; }
  int64_t size(int64_t dim) const;   // negative dims allowed
  int64_t stride(int64_t dim) const;
  int64_t dim() const { return static_cast<int64_t>(impl_->sizes.size()); }
  int64_t numel() const { return numel_of(impl_->sizes); }
  int64_t offset() const { return impl_->offset; }
  DType dtype() const { return impl_->dtype; }
  Device device() const { return impl_->storage->device(); }
  int64_t itemsize() const { return fastgrad::itemsize(impl_->dtype); }
  const Storage& storage() const { return impl_->storage; }
  bool is_contiguous() const;
  bool is_same(const Tensor& o) const { return impl_ == o.impl_; }

  // Address of element 0 (storage base + offset).
  void* raw_data() const {
    return static_cast<char*>(impl_->storage->data()) + impl_->offset * itemsize();
  }
  template <class T> T* data() const {
    FG_CHECK(dtype_of<T>::value == dtype(), "internal: data<", dtype_of<T>::value,
             ">() on a ", dtype(), " tensor");
    return static_cast<T*>(raw_data());
  }

  // In-place ops call this after writing (autograd's saved-tensor check).
  // `op` names the in-place op for autograd's saved-tensor error.
  void bump_version(const char* op = "an in-place operation") const;
  uint64_t version() const { return impl_->storage->version(); }

  bool requires_grad() const { return impl_->requires_grad; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// A new contiguous tensor with uninitialised memory.
Tensor empty(const Shape& sizes, DType dtype, Device device = {});
// A view of `base`'s storage with new geometry (no checks on bounds).
Tensor make_view(const Tensor& base, Shape sizes, Shape strides, int64_t offset);
// Same geometry, different bytes: wraps external storage.
Tensor from_storage(Storage storage, Shape sizes, Shape strides, int64_t offset,
                    DType dtype);

}  // namespace fastgrad
