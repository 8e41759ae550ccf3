// The transfer ledger (ops/transfers.h).
#include "ops/transfers.h"

#include "autograd/node.h"
#include "core/check.h"
#include "core/tensor.h"

namespace fastgrad {

namespace {
int g_depth = 0;  // open transfers() blocks (the GIL serialises callers)
std::vector<TransferRecord> g_records;
bool g_strict = false;
}  // namespace

void begin_transfer_log() { ++g_depth; }

size_t transfer_log_size() { return g_records.size(); }

std::vector<TransferRecord> end_transfer_log(size_t first) {
  first = std::min(first, g_records.size());
  std::vector<TransferRecord> out(g_records.begin() + static_cast<std::ptrdiff_t>(first),
                                  g_records.end());
  if (g_depth > 0 && --g_depth == 0) g_records.clear();  // an outer block keeps them
  return out;
}

void set_strict_transfers(bool on) { g_strict = on; }
bool strict_transfers() { return g_strict; }

void note_transfer(const Tensor& x, Device dst, const char* implicit) {
  if (!g_strict && g_depth == 0) return;
  const int64_t nbytes = x.numel() * x.itemsize();
  std::string where = autograd::location_str(autograd::capture_location());
  FG_CHECK(!(g_strict && implicit), implicit, ": implicit copy of a ", nbytes, "-byte ",
           x.device(), " tensor to ", dst, where.empty() ? "" : " at ", where,
           " (strict transfer mode); copy it explicitly with .to('", dst,
           "') where the cost is intended, e.g. once outside the loop, or leave "
           "fastgrad.cuda.strict_transfers()");
  if (g_depth > 0)
    g_records.push_back({x.device(), dst, nbytes, implicit ? implicit : "", std::move(where)});
}

}  // namespace fastgrad
