#include "core/generator.h"

#include <random>

#include "core/check.h"

namespace fastgrad {

void Generator::manual_seed(uint64_t seed) {
  std::lock_guard<std::mutex> lock(mu_);
  seed_ = seed;
  offset_ = 0;
}

uint64_t Generator::seed() {
  std::random_device rd;
  uint64_t s = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  manual_seed(s);
  return s;
}

uint64_t Generator::initial_seed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return seed_;
}

Generator::Draw Generator::reserve(uint64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  Draw d{seed_, offset_};
  offset_ += n;  // wraps after 2^64 draws; Philox's counter space is that large
  return d;
}

std::array<uint8_t, Generator::kStateBytes> Generator::get_state() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::array<uint8_t, kStateBytes> out{};
  for (int b = 0; b < 8; ++b) {
    out[b] = static_cast<uint8_t>(seed_ >> (8 * b));
    out[8 + b] = static_cast<uint8_t>(offset_ >> (8 * b));
  }
  return out;
}

void Generator::set_state(const uint8_t* bytes, size_t n) {
  FG_CHECK(n == kStateBytes, "set_state: expected a generator state of ", kStateBytes,
           " bytes (from get_state()), got ", n);
  uint64_t seed = 0, offset = 0;
  for (int b = 0; b < 8; ++b) {
    seed |= static_cast<uint64_t>(bytes[b]) << (8 * b);
    offset |= static_cast<uint64_t>(bytes[8 + b]) << (8 * b);
  }
  std::lock_guard<std::mutex> lock(mu_);
  seed_ = seed;
  offset_ = offset;
}

const std::shared_ptr<Generator>& default_generator() {
  static const std::shared_ptr<Generator> gen = std::make_shared<Generator>();
  return gen;
}

Generator& generator_or_default(Generator* gen) {
  return gen ? *gen : *default_generator();
}

}  // namespace fastgrad
