// CPU allocator: 64-byte aligned blocks, cached for reuse.
//
// Note [CPU block cache]
// Eager code frees and re-allocates same-sized buffers on every step (each
// op's output, each gradient). Going back to malloc each time costs twice:
// the allocator's own bookkeeping, and, for blocks above glibc's mmap
// threshold, fresh pages that the kernel zero-fills on first touch (a 64 MB
// add spent two thirds of its time in page faults). So freed blocks go to
// size-class free lists and the next request of that class reuses them,
// already faulted in. Classes are 4 per power of two (at most 25% slack).
// The cache holds at most FASTGRAD_CPU_CACHE_MB (default 1024) MB; a block
// that does not fit goes back to the system. Blocks of 4 MB and more are
// 2 MB aligned and madvise'd for transparent huge pages (512x fewer faults
// when the kernel is in THP "madvise" mode, as numpy does).
#include <sys/mman.h>
#include <pthread.h>

#include <cstdlib>
#include <mutex>
#include <vector>

#include "backend/cpu/allocator.h"
#include "core/check.h"
#include "core/storage.h"

namespace fastgrad {

Storage cuda_allocate(int64_t nbytes, int index);  // backend/cuda or no_cuda

namespace cpu {
namespace {

constexpr size_t kAlign = 64;
constexpr size_t kHugeAlign = size_t{2} << 20;     // one transparent huge page
constexpr size_t kHugeFrom = size_t{4} << 20;      // worth a huge-page advice
constexpr size_t kMinClass = 256;                  // smaller requests share one class

// Rounds n up to its size class: 256 B, then 4 steps per power of two.
size_t class_size(size_t n) {
  if (n <= kMinClass) return kMinClass;
  size_t top = size_t{1} << (63 - __builtin_clzll(n - 1));  // largest power of 2 < n
  size_t step = top / 4;
  return (n + step - 1) / step * step;
}
// Index of a class size among all classes (dense, for the bin table).
size_t class_index(size_t c) {
  if (c <= kMinClass) return 0;
  int octave = 63 - __builtin_clzll(c - 1);                 // c in (2^octave, 2^(octave+1)]
  size_t step = (size_t{1} << octave) / 4;
  size_t sub = (c - (size_t{1} << octave)) / step - 1;      // 0..3
  return 1 + static_cast<size_t>(octave - 8) * 4 + sub;     // octave >= 8 here
}

void* system_alloc(size_t c) {
  if (c >= kHugeFrom) {
    void* p = std::aligned_alloc(kHugeAlign, (c + kHugeAlign - 1) / kHugeAlign * kHugeAlign);
#ifdef MADV_HUGEPAGE
    if (p) madvise(p, c, MADV_HUGEPAGE);  // advice only: failure is harmless
#endif
    return p;
  }
  return std::aligned_alloc(kAlign, c);
}

class BlockCache {
 public:
  BlockCache() {
    const char* env = std::getenv("FASTGRAD_CPU_CACHE_MB");
    limit_ = (env ? static_cast<size_t>(std::strtoull(env, nullptr, 10)) : 1024) << 20;
    // A forked child (DataLoader workers) may inherit the mutex locked by
    // another parent thread: reset it in the child.
    pthread_atfork(nullptr, nullptr, [] { new (&instance().mu_) std::mutex(); });
  }
  static BlockCache& instance() {
    static BlockCache* c = new BlockCache();  // never destroyed: frees may come late
    return *c;
  }

  void* get(size_t c) {
    {
      std::lock_guard<std::mutex> g(mu_);
      size_t i = class_index(c);
      if (i < bins_.size() && !bins_[i].empty()) {
        void* p = bins_[i].back();
        bins_[i].pop_back();
        cached_ -= c;
        ++stats_.hits;
        return p;
      }
      ++stats_.misses;
    }
    void* p = system_alloc(c);
    if (!p) {  // give the cache back to the system and retry once
      empty();
      p = system_alloc(c);
    }
    return p;
  }

  void put(void* p, size_t c) {
    {
      std::lock_guard<std::mutex> g(mu_);
      if (cached_ + c <= limit_) {
        size_t i = class_index(c);
        if (i >= bins_.size()) bins_.resize(i + 1);
        bins_[i].push_back(p);
        cached_ += c;
        return;
      }
    }
    std::free(p);
  }

  void empty() {
    std::vector<std::vector<void*>> bins;
    {
      std::lock_guard<std::mutex> g(mu_);
      bins.swap(bins_);
      cached_ = 0;
    }
    for (auto& b : bins)
      for (void* p : b) std::free(p);
  }

  CacheStats stats() {
    std::lock_guard<std::mutex> g(mu_);
    CacheStats s = stats_;
    s.cached_bytes = static_cast<int64_t>(cached_);
    s.limit_bytes = static_cast<int64_t>(limit_);
    return s;
  }
  void set_limit(size_t bytes) {
    bool over;
    {
      std::lock_guard<std::mutex> g(mu_);
      limit_ = bytes;
      over = cached_ > limit_;
    }
    if (over) empty();
  }

 private:
  std::mutex mu_;
  std::vector<std::vector<void*>> bins_;  // by class_index
  size_t cached_ = 0;
  size_t limit_;
  CacheStats stats_;
};

}  // namespace

CacheStats cache_stats() { return BlockCache::instance().stats(); }
void empty_cache() { BlockCache::instance().empty(); }
void set_cache_limit(int64_t bytes) {
  FG_CHECK_VALUE(bytes >= 0, "set_cpu_cache_limit: limit must be >= 0 bytes, got ", bytes);
  BlockCache::instance().set_limit(static_cast<size_t>(bytes));
}

}  // namespace cpu

Storage allocate_storage(int64_t nbytes, Device device) {
  if (device.is_cuda()) return cuda_allocate(nbytes, device.index);
  if (nbytes == 0) return std::make_shared<StorageImpl>(nullptr, 0, device, nullptr);
  size_t c = cpu::class_size(static_cast<size_t>(nbytes));
  void* p = cpu::BlockCache::instance().get(c);
  if (!p) fail<RuntimeError>("out of memory: failed to allocate ", nbytes, " bytes on cpu");
  return std::make_shared<StorageImpl>(p, nbytes, device,
                                       [c](void* q) { cpu::BlockCache::instance().put(q, c); });
}

}  // namespace fastgrad
