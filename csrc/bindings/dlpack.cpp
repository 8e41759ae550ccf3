// DLPack exchange (Python array API protocol): Tensor.__dlpack__ and
// __dlpack_device__ produce capsules, _C._from_dlpack consumes them. Both
// directions share memory; core/dlpack.h has the ABI structs.
#include <Python.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "bindings/common.h"
#include "core/check.h"
#include "core/dlpack.h"
#include "ops/elementwise.h"

namespace fastgrad {
int cuda_device_count();
}

namespace fastgrad::bindings {

namespace {

using namespace fastgrad::dlpack;

template <class... Args>
[[noreturn]] void buffer_error(const Args&... args) {
  throw py::buffer_error(str_cat(args...));
}

// ---- dtype and device mapping -----------------------------------------------

DLDataType to_dl_dtype(DType t) {
  switch (t) {
    case DType::Bool: return {kDLBool, 8, 1};
    case DType::Int32: return {kDLInt, 32, 1};
    case DType::Int64: return {kDLInt, 64, 1};
    case DType::Float32: return {kDLFloat, 32, 1};
    case DType::Float64: return {kDLFloat, 64, 1};
    case DType::Float16: return {kDLFloat, 16, 1};
    case DType::BFloat16: return {kDLBfloat, 16, 1};
  }
  fail<RuntimeError>("internal: bad dtype");
}

DType from_dl_dtype(DLDataType t) {
  if (t.lanes == 1) {
    if (t.code == kDLBool && t.bits == 8) return DType::Bool;
    if (t.code == kDLInt && t.bits == 32) return DType::Int32;
    if (t.code == kDLInt && t.bits == 64) return DType::Int64;
    if (t.code == kDLFloat && t.bits == 32) return DType::Float32;
    if (t.code == kDLFloat && t.bits == 64) return DType::Float64;
    if (t.code == kDLFloat && t.bits == 16) return DType::Float16;
    if (t.code == kDLBfloat && t.bits == 16) return DType::BFloat16;
  }
  static const char* const names[] = {"int", "uint", "float", "opaque", "bfloat", "complex", "bool"};
  std::string name = t.code < 7 ? names[t.code] : str_cat("(type code ", int(t.code), ")");
  fail<TypeError>("from_dlpack: unsupported dtype ", name, int(t.bits),
                  t.lanes == 1 ? "" : str_cat(" x", t.lanes, " lanes"),
                  "; fastgrad supports float16, bfloat16, float32, float64, int32, int64 and bool");
}

DLDevice to_dl_device(Device d) {
  if (d.is_cpu()) return {kDLCPU, 0};
  return {kDLCUDA, std::max(d.index, 0)};
}

Device from_dl_device(DLDevice d) {
  // Pinned host memory is ordinary CPU memory to us.
  if (d.device_type == kDLCPU || d.device_type == kDLCUDAHost) return Device{};
  if (d.device_type == kDLCUDA) {
    int n = cuda_device_count();
    FG_CHECK_VALUE(d.device_id >= 0 && d.device_id < n, "from_dlpack: the tensor is on cuda:",
                   d.device_id, " but fastgrad sees ", n, " CUDA device(s)",
                   n == 0 ? " (is this a CPU-only build?)" : "");
    return Device{DeviceType::CUDA, d.device_id};
  }
  fail<ValueError>("from_dlpack: unsupported DLPack device type ", d.device_type,
                   "; fastgrad reads CPU (1), CUDA (2) and CUDA host (3) memory");
}

// ---- export -------------------------------------------------------------------

// What a capsule owns: the tensor (so its storage outlives every consumer)
// and the shape/stride arrays the DLTensor points into.
struct ExportContext {
  Tensor tensor;
  std::vector<int64_t> shape, strides;
};

template <class M>
constexpr bool kVersioned = std::is_same_v<M, DLManagedTensorVersioned>;

template <class M>
const char* capsule_name() {
  return kVersioned<M> ? kVersionedCapsuleName : kCapsuleName;
}

template <class M>
void delete_managed(M* m) {
  delete static_cast<ExportContext*>(m->manager_ctx);
  delete m;
}

// A capsule nobody consumed still owns its tensor; a consumed one was renamed
// "used_..." and its consumer calls the deleter.
template <class M>
void capsule_destructor(PyObject* cap) {
  if (!PyCapsule_IsValid(cap, capsule_name<M>())) return;
  auto* m = static_cast<M*>(PyCapsule_GetPointer(cap, capsule_name<M>()));
  if (m->deleter) m->deleter(m);
}

template <class M>
py::capsule make_capsule(const Tensor& t, bool copied) {
  auto ctx = std::make_unique<ExportContext>();
  ctx->tensor = t;
  ctx->shape.assign(t.sizes().begin(), t.sizes().end());
  ctx->strides.assign(t.strides().begin(), t.strides().end());
  auto m = std::make_unique<M>();
  DLTensor& dl = m->dl_tensor;
  // The element pointer with byte_offset 0, as torch and numpy export: some
  // consumers ignore byte_offset.
  dl.data = t.raw_data();
  dl.device = to_dl_device(t.device());
  dl.ndim = static_cast<int32_t>(t.dim());
  dl.dtype = to_dl_dtype(t.dtype());
  dl.shape = ctx->shape.data();
  dl.strides = ctx->strides.data();
  dl.byte_offset = 0;
  if constexpr (kVersioned<M>) {
    m->version = {kMajorVersion, kMinorVersion};
    m->flags = copied ? kFlagIsCopied : 0;
  }
  m->manager_ctx = ctx.release();
  m->deleter = &delete_managed<M>;
  PyObject* cap = PyCapsule_New(m.get(), capsule_name<M>(), &capsule_destructor<M>);
  if (!cap) {
    delete_managed(m.release());
    throw py::error_already_set();
  }
  m.release();
  return py::reinterpret_steal<py::capsule>(cap);
}

std::pair<int, int> dlpack_device(const Tensor& t) {
  DLDevice d = to_dl_device(t.device());
  return {d.device_type, d.device_id};
}

// Tensor.__dlpack__ with the array API's keyword arguments.
py::object to_dlpack(const Tensor& self, const py::object& stream,
                      const py::object& max_version, const py::object& dl_device,
                      const py::object& copy) {
  if (self.requires_grad())
    buffer_error("__dlpack__: Can't export tensors that require gradient, use tensor.detach()");
  if (!stream.is_none()) {
    FG_CHECK_TYPE(PyLong_Check(stream.ptr()), "__dlpack__: stream must be an int or None, got ",
                  py::str(py::type::of(stream).attr("__name__")).cast<std::string>());
    auto s = stream.cast<int64_t>();
    if (self.device().is_cpu())
      FG_CHECK_VALUE(s == -1, "__dlpack__: stream must be None for cpu tensors, got ", s);
    else
      // fastgrad's CUDA work runs on the legacy default stream, which orders
      // itself with every blocking stream; 0 is ambiguous in the protocol.
      FG_CHECK_VALUE(s != 0, "__dlpack__: stream 0 is ambiguous; pass 1 for the legacy "
                     "default stream or 2 for the per-thread default stream");
  }
  bool versioned = false;
  if (!max_version.is_none()) {
    FG_CHECK_TYPE(py::isinstance<py::tuple>(max_version) && py::len(max_version) == 2,
                  "__dlpack__: max_version must be a (major, minor) tuple or None");
    versioned = max_version.cast<py::tuple>()[0].cast<int64_t>() >= 1;
  }
  std::optional<bool> want_copy;
  if (!copy.is_none()) want_copy = copy.cast<bool>();

  Tensor t = self;
  bool copied = false;
  if (!dl_device.is_none()) {
    FG_CHECK_TYPE(py::isinstance<py::tuple>(dl_device) && py::len(dl_device) == 2,
                  "__dlpack__: dl_device must be a (device_type, device_id) tuple or None");
    auto [type, id] = dl_device.cast<std::pair<int, int>>();
    if (type != kDLCPU && type != kDLCUDA)
      buffer_error("__dlpack__: can't export to DLPack device type ", type,
                   "; fastgrad tensors live on CPU (1) or CUDA (2)");
    Device target = type == kDLCPU ? Device{} : Device{DeviceType::CUDA, id};
    if (target != t.device()) {
      if (want_copy == false)
        buffer_error("__dlpack__: the tensor is on ", t.device(), " and dl_device asks for (",
                     type, ", ", id, "), which needs a copy, but copy=False");
      t = to_device(t, target);
      copied = true;
    }
  }
  if (want_copy == true && !copied) {
    t = clone(t);
    copied = true;
  }
  return versioned ? make_capsule<DLManagedTensorVersioned>(t, copied)
                   : make_capsule<DLManagedTensor>(t, copied);
}

// ---- import -------------------------------------------------------------------

// A tensor on the producer's memory; `release` (the producer's deleter) runs
// when the last fastgrad view of it dies.
Tensor adopt(const DLTensor& dl, std::function<void()> release) {
  Device device = from_dl_device(dl.device);
  DType dtype = from_dl_dtype(dl.dtype);
  FG_CHECK_VALUE(dl.ndim >= 0, "from_dlpack: negative ndim ", dl.ndim);
  Shape sizes(dl.shape, dl.shape + dl.ndim);
  for (int64_t s : sizes) FG_CHECK_VALUE(s >= 0, "from_dlpack: negative size in ", shape_str(sizes));
  Shape strides = dl.strides && dl.ndim > 0 ? Shape(dl.strides, dl.strides + dl.ndim)
                                            : contiguous_strides(sizes);
  // Extent of the memory the tensor can reach, for the storage's size.
  int64_t last = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    FG_CHECK_VALUE(strides[i] >= 0 || sizes[i] <= 1,
                   "from_dlpack: negative strides are not supported (strides ",
                   shape_str(strides), "); copy the tensor first");
    if (sizes[i] > 1) last += (sizes[i] - 1) * strides[i];
  }
  for (auto& s : strides)
    if (s < 0) s = 0;  // only on dims of size <= 1, where it is never used
  int64_t numel = numel_of(sizes);
  int64_t nbytes = numel == 0 ? 0 : (last + 1) * itemsize(dtype);
  void* data = static_cast<char*>(dl.data) + dl.byte_offset;
  // A producer's deleter may touch Python objects (numpy's does), so it runs
  // with the GIL held, whichever thread frees the storage.
  auto storage = std::make_shared<StorageImpl>(data, nbytes, device,
                                               [release = std::move(release)](void*) {
    py::gil_scoped_acquire gil;
    release();
  });
  return from_storage(std::move(storage), sizes, strides, 0, dtype);
}

template <class M>
Tensor consume(PyObject* cap, const char* used_name) {
  auto* m = static_cast<M*>(PyCapsule_GetPointer(cap, capsule_name<M>()));
  if (!m) throw py::error_already_set();
  if constexpr (kVersioned<M>) {
    // A newer major version may change the layout past `version`: read nothing
    // else and leave the capsule to free it.
    FG_CHECK_VALUE(m->version.major == kMajorVersion, "from_dlpack: DLPack version ",
                   m->version.major, ".", m->version.minor, " is not supported (fastgrad reads ",
                   kMajorVersion, ".x)");
  }
  // The read-only flag is not refused (torch accepts it too): fastgrad has no
  // read-only tensors, so writing to such memory is the caller's business.
  // Checks happen before the rename: on error the capsule still owns the tensor.
  Tensor t = adopt(m->dl_tensor, [m]() { if (m->deleter) m->deleter(m); });
  if (PyCapsule_SetName(cap, used_name) != 0) throw py::error_already_set();
  return t;
}

Tensor from_dlpack(const py::object& obj) {
  PyObject* cap = obj.ptr();
  FG_CHECK_TYPE(PyCapsule_CheckExact(cap),
                "from_dlpack: expected an object with __dlpack__ or a DLPack capsule, got ",
                py::str(py::type::of(obj).attr("__name__")).cast<std::string>());
  if (PyCapsule_IsValid(cap, kVersionedCapsuleName))
    return consume<DLManagedTensorVersioned>(cap, kUsedVersionedCapsuleName);
  if (PyCapsule_IsValid(cap, kCapsuleName))
    return consume<DLManagedTensor>(cap, kUsedCapsuleName);
  const char* name = PyCapsule_GetName(cap);
  std::string n = name ? name : "";
  FG_CHECK_VALUE(n != kUsedCapsuleName && n != kUsedVersionedCapsuleName,
                 "from_dlpack: this DLPack capsule was already consumed (a capsule can be "
                 "used only once; call __dlpack__ again)");
  fail<TypeError>("from_dlpack: expected a capsule named 'dltensor' or 'dltensor_versioned', "
                  "got '", n, "'");
}

}  // namespace

void bind_dlpack(py::module_& m, TensorClass& cls) {
  m.def("_from_dlpack", &from_dlpack, "capsule"_a,
        "A tensor sharing memory with a DLPack capsule (consumes the capsule).");
  cls.def("__dlpack__", &to_dlpack, py::kw_only(), "stream"_a = py::none(),
          "max_version"_a = py::none(), "dl_device"_a = py::none(), "copy"_a = py::none(),
          "A DLPack capsule sharing this tensor's memory (versioned when max_version >= (1, 0)).")
      .def("__dlpack_device__", &dlpack_device, "(DLPack device type, device index).");
}

}  // namespace fastgrad::bindings
