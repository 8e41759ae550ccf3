// A traced graph: values (inputs, parameters, constants, op results), the
// recorded calls in order, and the replay that runs them on new tensors.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "jit/tracer.h"

namespace fastgrad::jit {

struct Value {
  enum class Kind : uint8_t { Input, Param, Const, Op };
  Kind kind = Kind::Op;
  std::string name;  // inputs and parameters
  Shape shape;       // at trace time
  DType dtype = DType::Float32;
  Tensor constant;   // Const only
  int producer = -1; // Op: the node
  // Dims that follow the batch size B: shape[dim] = a * B + c (SymInt::index is the dim).
  std::vector<SymInt> sym_dims;
};

struct Node {
  std::string op;
  std::vector<Arg> args;
  std::vector<int> inputs;   // one per tensor slot of args, in order (-1: undefined)
  std::vector<int> outputs;  // -1: the op returned an undefined tensor
  std::shared_ptr<const Call> call;
  std::vector<SymInt> sym;   // attribute ints that follow the batch size
};

class Graph {
 public:
  std::string label = "traced graph";  // names the traced object in errors
  std::vector<Value> values;
  std::vector<Node> nodes;
  std::vector<int> inputs, params, outputs;
  int64_t batch = -1;  // the batch size at trace time; -1: static shapes

  // Runs the recorded calls on `inputs` (checked against the traced shapes and
  // dtypes, the batch dims free when dynamic) with `params` for the parameters.
  Tensors run(const Tensors& inputs, const Tensors& params) const;

  // Compares this trace (at batch B) with `others`, traces of the same call
  // with every input's batch dim 2B, 3B, ..., and turns every size and
  // integer attribute that follows the batch into a * B + c. Raises, naming
  // the op, when the runs differ in any other way.
  void make_batch_dynamic(const std::vector<const Graph*>& others, int64_t batch_size);

  // Drops ops whose results are unused (and that write nothing), and plans
  // when run() may release each value. Called when a trace ends.
  void finalize();

 private:
  std::vector<std::vector<int>> release_;  // values dropped after node k
  int64_t batch_of(const Tensors& inputs) const;
};

}  // namespace fastgrad::jit
