#include "core/tensor.h"

namespace fastgrad {

int64_t Tensor::size(int64_t d) const {
  FG_CHECK_INDEX(dim() > 0, "size: dimension specified as ", d, " but tensor has no dimensions");
  return impl_->sizes[wrap_dim(d, dim(), "size")];
}
int64_t Tensor::stride(int64_t d) const {
  FG_CHECK_INDEX(dim() > 0, "stride: dimension specified as ", d, " but tensor has no dimensions");
  return impl_->strides[wrap_dim(d, dim(), "stride")];
}

// Set by the autograd layer (core knows nothing about Python or autograd).
std::string (*g_inplace_location)() = nullptr;

void Tensor::bump_version(const char* op) const {
  StorageImpl& s = *impl_->storage;
  s.bump_version();
  if (s.saved_for_backward) {  // only then can autograd need to explain it
    s.last_inplace_op = op;
    s.last_inplace_location = g_inplace_location ? g_inplace_location() : "";
  }
}

bool Tensor::is_contiguous() const {
  if (numel() == 0) return true;  // like torch: no element is out of place
  int64_t expected = 1;
  for (int64_t i = dim() - 1; i >= 0; --i) {
    int64_t n = impl_->sizes[i];
    if (n != 1 && impl_->strides[i] != expected) return false;
    expected *= n;
  }
  return true;
}

Tensor empty(const Shape& sizes, DType dtype, Device device) {
  for (int64_t s : sizes)
    FG_CHECK_VALUE(s >= 0, "empty: negative dimension ", s, " in shape ",
                   shape_str(sizes));
  int64_t nbytes = 0;
  FG_CHECK(!__builtin_mul_overflow(checked_numel(sizes, "empty"), itemsize(dtype), &nbytes),
           "out of memory: a tensor of shape ", shape_str(sizes), " and dtype ", dtype,
           " would need more than 2^63 bytes");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = allocate_storage(nbytes, device);
  impl->sizes = sizes;
  impl->strides = contiguous_strides(sizes);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor make_view(const Tensor& base, Shape sizes, Shape strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.storage();
  impl->sizes = std::move(sizes);
  impl->strides = std::move(strides);
  impl->offset = offset;
  impl->dtype = base.dtype();
  return Tensor(std::move(impl));
}

Tensor from_storage(Storage storage, Shape sizes, Shape strides, int64_t offset,
                    DType dtype) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::move(storage);
  impl->sizes = std::move(sizes);
  impl->strides = std::move(strides);
  impl->offset = offset;
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

}  // namespace fastgrad
