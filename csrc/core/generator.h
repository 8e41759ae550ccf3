// Random number generator state: a 64-bit seed (the Philox key) and a 64-bit
// counter offset. A random op reserves one counter per element it draws
// (`reserve`), then computes element i from (seed, base + i) independently
// (math/philox.h), so results never depend on the thread count.
//
// Note [Generator state]: get_state() is 16 bytes, little-endian: the seed,
// then the offset. set_state() takes exactly those 16 bytes back.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <mutex>

namespace fastgrad {

class Generator {
 public:
  // PyTorch's fixed default seed, so a fresh process is reproducible.
  static constexpr uint64_t kDefaultSeed = 67280421310721ull;
  static constexpr size_t kStateBytes = 16;

  explicit Generator(uint64_t seed = kDefaultSeed) : seed_(seed) {}

  void manual_seed(uint64_t seed);  // also restarts the counter
  uint64_t seed();                  // a fresh non-deterministic seed, set and returned
  uint64_t initial_seed() const;

  struct Draw {
    uint64_t key;   // the seed
    uint64_t base;  // first counter of the reserved block
  };
  // Reserves `n` consecutive counters (thread-safe).
  Draw reserve(uint64_t n);

  std::array<uint8_t, kStateBytes> get_state() const;
  void set_state(const uint8_t* bytes, size_t n);  // RuntimeError unless n == 16

 private:
  mutable std::mutex mu_;
  uint64_t seed_;
  uint64_t offset_ = 0;
};

// The process-wide generator random ops use when given none.
const std::shared_ptr<Generator>& default_generator();
// `gen` if not null, else the default one.
Generator& generator_or_default(Generator* gen);

}  // namespace fastgrad
