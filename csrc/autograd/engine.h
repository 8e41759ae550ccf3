// The backward engine: runs the graph reachable from `roots` in dependency
// order (counts, not recursion), newest node first among the ready ones.
#pragma once
#include <functional>

#include "autograd/node.h"

namespace fastgrad::autograd {

struct BackwardOptions {
  bool retain_graph = false;
  bool create_graph = false;
  // autograd.grad(): capture the gradients reaching these edges instead of
  // accumulating into leaves' .grad (which is then left untouched).
  std::vector<Edge> capture;
  bool allow_unused = false;
};

// Returns the captured gradients (one per options.capture entry) or nothing.
Tensors run_backward(const Tensors& roots, const Tensors& grad_roots,
                     const BackwardOptions& options);

// Called once when the current backward pass finishes (queue_callback).
void queue_callback(std::function<void()> fn);

}  // namespace fastgrad::autograd
