// Where a tensor's bytes live. Only CPU has kernels in a CPU build; CUDA
// entry points exist in every build and throw when built without CUDA.
#pragma once
#include <cstdint>
#include <ostream>
#include <string>

namespace fastgrad {

enum class DeviceType : uint8_t { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = -1;  // -1: "the current device" (cuda) / unused (cpu)
  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  bool operator==(const Device& o) const {
    return type == o.type && (type == DeviceType::CPU || index == o.index);
  }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string str() const;
  static Device parse(const std::string& s);  // "cpu", "cuda", "cuda:1"
};

inline std::ostream& operator<<(std::ostream& os, const Device& d) {
  return os << d.str();
}

}  // namespace fastgrad
