#include "core/device.h"

#include <cstdlib>

#include "core/check.h"

namespace fastgrad {

std::string Device::str() const {
  if (type == DeviceType::CPU) return "cpu";
  return index < 0 ? "cuda" : "cuda:" + std::to_string(index);
}

Device Device::parse(const std::string& s) {
  if (s == "cpu") return {DeviceType::CPU, -1};
  if (s == "cuda") return {DeviceType::CUDA, -1};
  if (s.rfind("cuda:", 0) == 0 && s.size() > 5) {
    char* end = nullptr;
    long idx = std::strtol(s.c_str() + 5, &end, 10);
    if (*end == '\0' && idx >= 0) return {DeviceType::CUDA, static_cast<int>(idx)};
  }
  fail<ValueError>("device: expected 'cpu', 'cuda' or 'cuda:N', got '", s, "'");
}

}  // namespace fastgrad
