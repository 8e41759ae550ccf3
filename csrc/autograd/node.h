// The tape: every differentiable result owns a Node (its grad_fn) that knows
// how to turn gradients of its outputs into gradients of its inputs, and holds
// edges to the inputs' Nodes (or their AccumulateGrad sinks for leaves).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace fastgrad::autograd {

using Tensors = std::vector<Tensor>;
class Node;

// Read-only view of some tensors, from a braced list or a vector, so that
// recording an op builds no vector (a heap allocation) at the call site.
// Only valid while the list or vector it views is alive: pass it down, never
// store it.
class TensorRefs {
 public:
  TensorRefs() = default;
  // The list's array lives until the end of the call that builds it, which is
  // all a TensorRefs argument needs (GCC warns about it all the same).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winit-list-lifetime"
  TensorRefs(std::initializer_list<Tensor> l) : p_(l.begin()), n_(l.size()) {}
#pragma GCC diagnostic pop
  TensorRefs(const Tensors& v) : p_(v.data()), n_(v.size()) {}
  const Tensor* begin() const { return p_; }
  const Tensor* end() const { return p_ + n_; }
  size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  const Tensor& operator[](size_t i) const { return p_[i]; }

 private:
  const Tensor* p_ = nullptr;
  size_t n_ = 0;
};

struct Edge {
  std::shared_ptr<Node> fn;
  uint32_t input_nr = 0;  // which output of fn this edge feeds
  bool valid() const { return fn != nullptr; }
};

// Where Python called an op from ("train.py:42"). The bindings install the
// capture function; without Python it stays null. Shared and immutable: the
// bindings hand out one string per call site, so recording a node copies a
// pointer, not text (Note [Cheap call-site capture] in bindings/autograd.cpp).
using Location = std::shared_ptr<const std::string>;
using LocationFn = Location (*)();
// `stack` gives the whole Python stack (anomaly mode), `line` one line.
void set_location_capture(LocationFn line, LocationFn stack);
Location capture_location();
inline std::string location_str(const Location& l) { return l ? *l : std::string(); }

// Note [Saved tensors and versions]
// A tensor saved for backward remembers its storage's version counter. If an
// in-place op bumps it before backward, unpack() raises, naming the op that
// saved it and the in-place op that modified it (recorded on the storage).
// A saved *output* of the node itself is kept without its grad_fn (the node
// owns it: keeping the link would be a reference cycle) and re-linked on unpack.
class SavedTensor {
 public:
  SavedTensor() = default;
  SavedTensor(const Tensor& t, bool is_output);
  Tensor unpack(const Node& owner) const;
  void release() { data_ = Tensor(); released_ = true; }
  // The saved tensor's grad_fn when this is the last reference to it (it is
  // about to die with us): lets node destruction run iteratively.
  std::shared_ptr<Node> take_history_if_last();
  bool defined() const { return defined_; }
  // Shape of the saved tensor for introspection (fastgrad.viz); null when
  // nothing was saved or it was released after backward.
  const Shape* sizes() const { return data_.defined() ? &data_.sizes() : nullptr; }

 private:
  Tensor data_;
  uint64_t version_ = 0;
  bool is_output_ = false;
  bool defined_ = false;
  bool released_ = false;
  bool requires_grad_ = false;
};

// Shape, dtype and device of one output: lets the engine make zeros for an
// output that received no gradient.
struct OutputMeta {
  Shape sizes;
  DType dtype;
  Device device;
};

class Node : public std::enable_shared_from_this<Node> {
 public:
  Node();
  virtual ~Node();
  virtual std::string name() const = 0;
  // grads[i]: gradient w.r.t. output i (may be undefined: no gradient flowed).
  // Returns one gradient per next_edges entry (undefined where not needed).
  virtual Tensors apply(const Tensors& grads) = 0;
  virtual void release_saved() {}

  std::vector<Edge> next_edges;
  std::vector<OutputMeta> outputs;
  uint64_t seq;                 // creation order: the engine runs newer first
  Location location;            // Python line of the forward call (may be null)
  // Hooks on the gradients flowing into this node (tensor.register_hook on a
  // non-leaf is a pre-hook on its grad_fn for its output_nr).
  struct PreHook {
    int output_nr;
    std::function<Tensor(const Tensor&)> fn;
    int id;
  };
  std::vector<PreHook> pre_hooks;
  bool needs_input_grad(size_t i) const { return i < next_edges.size() && next_edges[i].valid(); }
};

// ---- the generic node ops use ------------------------------------------------
// An op's backward rule: given the node (for saved tensors and input metadata)
// and the output gradients, return one gradient per input.
class FunctionNode;
using BackwardFn = std::function<Tensors(const FunctionNode&, const Tensors&)>;

class FunctionNode : public Node {
 public:
  FunctionNode(const char* name, BackwardFn fn) : name_(name), fn_(std::move(fn)) {}
  ~FunctionNode() override;
  std::string name() const override { return name_; }
  Tensors apply(const Tensors& grads) override;
  void release_saved() override;
  Tensor saved(size_t i) const { return saved_.at(i).unpack(*this); }
  std::vector<SavedTensor> saved_;
  std::vector<OutputMeta> inputs;  // metadata of each input (sum_to, zeros)

 private:
  const char* name_;
  BackwardFn fn_;
};

// Hooks registered on a leaf tensor: run on its incoming gradient (pre) and
// once its .grad is final for this backward (post).
struct LeafHooks {
  std::vector<Node::PreHook> pre;
  std::vector<std::pair<int, std::function<void(const Tensor&)>>> post;
};

// Leaves: runs the leaf's hooks, accumulates into .grad.
class AccumulateGrad : public Node {
 public:
  explicit AccumulateGrad(const std::shared_ptr<TensorImpl>& leaf) : leaf_(leaf) {}
  std::string name() const override { return "AccumulateGrad"; }
  Tensors apply(const Tensors& grads) override;
  // Null once the leaf is gone (then nobody can read its .grad).
  std::shared_ptr<TensorImpl> leaf() const { return leaf_.lock(); }
  // The gradient after the leaf's pre-hooks (also used by autograd.grad).
  Tensor run_pre_hooks(Tensor g) const;

 private:
  std::weak_ptr<TensorImpl> leaf_;  // the leaf owns us (its grad_accumulator)
};

// ---- recording ------------------------------------------------------------------
// True when grad mode is on and any input requires grad.
bool needs_grad(std::initializer_list<const Tensor*> inputs);
bool needs_grad(TensorRefs inputs);

// Note [Stale views]: a view whose storage was modified in place (through its
// base or a sibling view) after its history was recorded gets a fresh history
// (a view of the base's current one) when it is next used. ops/ installs it.
using ViewRegenerator = void (*)(const Tensor& view);
void set_view_regenerator(ViewRegenerator fn);

// The edge a gradient for `t` must flow along (its grad_fn, or the leaf's
// AccumulateGrad, created on first use); invalid when t doesn't require grad.
Edge gradient_edge(const Tensor& t);

// Records `fn` as the grad_fn of `outputs`, with edges to `inputs` and the
// listed tensors saved (outputs among them are saved without a cycle). Call
// only when needs_grad(inputs).
std::shared_ptr<FunctionNode> record(const char* name, TensorRefs inputs, TensorRefs outputs,
                                     TensorRefs saved, BackwardFn fn);

}  // namespace fastgrad::autograd
