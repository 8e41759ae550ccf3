// The CPU block cache's controls (Note [CPU block cache] in allocator.cpp).
#pragma once
#include <cstdint>

namespace fastgrad::cpu {

struct CacheStats {
  int64_t hits = 0;          // requests served from the cache
  int64_t misses = 0;        // requests that went to the system allocator
  int64_t cached_bytes = 0;  // bytes held in free lists now
  int64_t limit_bytes = 0;   // most bytes the cache may hold
};

CacheStats cache_stats();
// Returns every cached block to the system.
void empty_cache();
// Most bytes kept cached (0 disables caching); trims the cache if above.
void set_cache_limit(int64_t bytes);

}  // namespace fastgrad::cpu
