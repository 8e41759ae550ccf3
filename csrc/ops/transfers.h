// The transfer ledger behind fastgrad.cuda.transfers(): every copy between
// devices (ops/copy.cpp's to_device, forward or backward) with its size,
// direction and the Python line that caused it, so a user sees what a
// per-stage device choice (embedding on the CPU, network on the GPU) costs.
// Strict mode turns implicit copies -- item(), tolist(), bool(t), float(t) of
// a GPU tensor: a hidden synchronisation in a hot loop -- into errors.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/device.h"

namespace fastgrad {

class Tensor;

struct TransferRecord {
  Device src, dst;
  int64_t nbytes = 0;
  std::string implicit;  // what asked for it ("item()", ...); empty: explicit
  std::string location;  // file:line of the Python call (or the backward call)
};

// Logging is on while at least one Python `transfers()` block is open.
void begin_transfer_log();
std::vector<TransferRecord> end_transfer_log(size_t first);  // records from `first` on
size_t transfer_log_size();
void set_strict_transfers(bool on);
bool strict_transfers();

// to_device (ops/elementwise.h) for a copy the user did not spell out:
// `implicit` names what asked for it ("item()", "tolist()").
Tensor to_device_implicit(const Tensor& x, Device device, const char* implicit);

// Called for every cross-device copy of `x` to `dst` before it happens;
// raises in strict mode when `implicit` is set.
void note_transfer(const Tensor& x, Device dst, const char* implicit);

}  // namespace fastgrad
