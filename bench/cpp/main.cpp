// main() for every microbenchmark: fixes fastgrad's thread count first
// (FASTGRAD_BENCH_THREADS, default 1: single-thread numbers are the stable
// ones on a shared machine), then hands over to Google Benchmark.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>

#include "ops/linalg_ops.h"

int main(int argc, char** argv) {
  const char* env = std::getenv("FASTGRAD_BENCH_THREADS");
  const int64_t threads = env ? std::atoll(env) : 1;
  fastgrad::set_num_threads(threads > 0 ? threads : 1);
  benchmark::AddCustomContext("fastgrad_threads", std::to_string(fastgrad::get_num_threads()));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
