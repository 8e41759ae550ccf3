// DeviceBlockCache: the bookkeeping of the CUDA caching allocator, free of
// CUDA headers so that the CPU build compiles it and tests it with a fake
// device (bindings/cuda.cpp: _C._cuda._BlockCacheSim).
//
// Note [CUDA block cache]
// cudaMalloc/cudaFree synchronise the device and cost tens of microseconds,
// so a freed block is kept and handed to the next request of its size class
// on the same device and stream. Reuse is stream-ordered: a block freed on
// stream s may still be read by queued kernels on s, and only work queued
// later on s can reuse it (one stream per device today, see current_stream()).
// Size classes: multiples of 512 bytes below 1 MiB; above, eight classes per
// power of two (at most 12.5% rounding). Blocks are never split, so a class
// is one exact size and lookup is a hash-map hit. When the device is out of
// memory the cache returns every unused block of that device to the driver
// and retries once; a second failure is the caller's error, with the sizes.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace fastgrad::cuda {

struct DeviceMemoryStats {
  int64_t allocated = 0;      // bytes of blocks handed out (class sizes)
  int64_t max_allocated = 0;  // peak of `allocated` since the last reset
  int64_t reserved = 0;       // bytes obtained from the driver (in use or cached)
  int64_t max_reserved = 0;
  int64_t num_raw_allocs = 0;  // driver allocations (cache misses)
  int64_t num_alloc_retries = 0;  // misses that had to empty the cache first
};

inline size_t block_size_class(size_t n) {
  constexpr size_t kSmall = 512, kLarge = size_t(1) << 20;
  if (n == 0) return 0;
  if (n < kLarge) return (n + kSmall - 1) / kSmall * kSmall;
  // Eight steps per octave: round up to a multiple of 2^(floor(log2 n) - 3).
  int log2n = 63 - __builtin_clzll(static_cast<unsigned long long>(n));
  size_t step = size_t(1) << (log2n - 3);
  return (n + step - 1) / step * step;
}

class DeviceBlockCache {
 public:
  // raw_alloc returns nullptr when the device is out of memory.
  using RawAlloc = std::function<void*(size_t bytes, int device)>;
  using RawFree = std::function<void(void* p, int device)>;

  DeviceBlockCache(RawAlloc raw_alloc, RawFree raw_free)
      : raw_alloc_(std::move(raw_alloc)), raw_free_(std::move(raw_free)) {}
  ~DeviceBlockCache() = default;  // device memory is left to process teardown
  DeviceBlockCache(const DeviceBlockCache&) = delete;
  DeviceBlockCache& operator=(const DeviceBlockCache&) = delete;

  // A block of at least `bytes` on `device` for work on `stream`, or nullptr
  // when even an emptied cache cannot get one (the caller raises).
  void* allocate(size_t bytes, int device, void* stream) {
    const size_t size = block_size_class(bytes);
    if (size == 0) return nullptr;
    std::lock_guard<std::mutex> lock(mu_);
    Dev& d = dev(device);
    auto it = d.free.find({stream, size});
    void* p = nullptr;
    if (it != d.free.end() && !it->second.empty()) {
      p = it->second.back();
      it->second.pop_back();
    } else {
      p = raw_alloc_(size, device);
      if (!p) {  // Free this device's cached blocks and try once more.
        release_cached(d, device);
        ++d.stats.num_alloc_retries;
        p = raw_alloc_(size, device);
        if (!p) return nullptr;
      }
      ++d.stats.num_raw_allocs;
      d.stats.reserved += static_cast<int64_t>(size);
      d.stats.max_reserved = std::max(d.stats.max_reserved, d.stats.reserved);
    }
    live_[p] = Block{device, stream, size};
    d.stats.allocated += static_cast<int64_t>(size);
    d.stats.max_allocated = std::max(d.stats.max_allocated, d.stats.allocated);
    return p;
  }

  // Returns a block from allocate() to its (device, stream, class) list.
  void free(void* p) {
    if (!p) return;
    std::lock_guard<std::mutex> lock(mu_);
    auto it = live_.find(p);
    if (it == live_.end()) return;  // not ours: nothing to do
    Block b = it->second;
    live_.erase(it);
    Dev& d = dev(b.device);
    d.stats.allocated -= static_cast<int64_t>(b.size);
    d.free[{b.stream, b.size}].push_back(p);
  }

  // Gives every cached (unused) block back to the driver; device < 0: all.
  void empty_cache(int device = -1) {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < devs_.size(); ++i)
      if (device < 0 || static_cast<int>(i) == device) release_cached(devs_[i], static_cast<int>(i));
  }

  DeviceMemoryStats stats(int device) {
    std::lock_guard<std::mutex> lock(mu_);
    return dev(device).stats;
  }
  void reset_peak(int device) {
    std::lock_guard<std::mutex> lock(mu_);
    DeviceMemoryStats& s = dev(device).stats;
    s.max_allocated = s.allocated;
    s.max_reserved = s.reserved;
  }
  // The class size of a live block (0 if p is not one).
  size_t block_size(void* p) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = live_.find(p);
    return it == live_.end() ? 0 : it->second.size;
  }

 private:
  struct Block {
    int device;
    void* stream;
    size_t size;
  };
  struct Key {
    void* stream;
    size_t size;
    bool operator==(const Key& o) const { return stream == o.stream && size == o.size; }
  };
  struct KeyHash {
    size_t operator()(const Key& k) const {
      return std::hash<size_t>()(k.size) ^ (std::hash<void*>()(k.stream) << 1);
    }
  };
  struct Dev {
    std::unordered_map<Key, std::vector<void*>, KeyHash> free;
    DeviceMemoryStats stats;
  };

  Dev& dev(int device) {
    if (device >= static_cast<int>(devs_.size())) devs_.resize(device + 1);
    return devs_[device];
  }
  void release_cached(Dev& d, int device) {
    for (auto& [key, blocks] : d.free) {
      for (void* p : blocks) raw_free_(p, device);
      d.stats.reserved -= static_cast<int64_t>(key.size * blocks.size());
    }
    d.free.clear();
  }

  RawAlloc raw_alloc_;
  RawFree raw_free_;
  std::mutex mu_;
  std::vector<Dev> devs_;
  std::unordered_map<void*, Block> live_;
};

}  // namespace fastgrad::cuda
