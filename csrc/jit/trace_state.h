// The state of an open trace and the calls that open and close one.
#pragma once
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "jit/graph.h"

namespace fastgrad::jit {

class TraceState {
 public:
  Graph graph;
  std::unordered_map<const TensorImpl*, int> ids;  // live tensor -> its latest value
  Tensors keep;

  // A new value for t; `remap`: t's later uses read it even if t already has one.
  int add_value(const Tensor& t, Value::Kind kind, std::string name, int producer,
                bool remap = true);
};

// Opens a trace on this thread: `inputs` and `params` become the graph's
// inputs and parameters (a parameter met twice is one value).
void begin_trace(std::unique_ptr<TraceState>& holder, const Tensors& inputs,
                 const std::vector<std::string>& input_names, const Tensors& params,
                 const std::vector<std::string>& param_names);
// Closes it; `outputs` become the graph's outputs.
Graph end_trace(std::unique_ptr<TraceState>& holder, const Tensors& outputs);
// Closes it after an error in the traced code.
void abort_trace(std::unique_ptr<TraceState>& holder);

}  // namespace fastgrad::jit
