// The engine (see engine.h). Note [Engine order]: a node runs once all the
// nodes that feed it have run (dependency counts over the reachable graph);
// among ready nodes the most recently created runs first, which matches the
// reverse of the forward order and keeps memory low on long chains.
#include "autograd/engine.h"

#include <queue>
#include <unordered_map>

#include "autograd/grad_mode.h"
#include "core/check.h"
#include "ops/elementwise.h"
#include "ops/elementwise_ops.h"

namespace fastgrad::autograd {

namespace {

thread_local std::vector<std::function<void()>>* t_callbacks = nullptr;

struct NodeState {
  int dependencies = 0;
  Tensors buffer;  // gradients arriving for each output
};

// True when `g` (held by the engine's grads vector only) is a dense tensor
// that owns its storage outright: nobody else can observe or modify it.
bool sole_owner(const Tensor& g) {
  return g.impl_ptr().use_count() == 1 && g.storage().use_count() == 1 && g.offset() == 0 &&
         !g.requires_grad() && g.is_contiguous() &&
         g.storage()->nbytes() == g.numel() * g.itemsize();
}

// Sums gradients arriving for one input slot. In place when nothing else can
// see the running sum (no create_graph, a sole-owner dense buffer of the same
// shape and dtype), as a dozen x @ W.T in a Python loop would otherwise
// allocate and fill a fresh W-sized buffer per contribution.
void accumulate(Tensor& slot, const Tensor& g) {
  if (!g.defined()) return;
  if (!slot.defined()) {
    slot = g;
  } else if (!grad_enabled() && sole_owner(slot) && slot.sizes() == g.sizes() &&
             slot.dtype() == g.dtype()) {
    add_(slot, g);
  } else {
    slot = add(slot, g);
  }
}

Tensor zeros_for(const OutputMeta& m) {
  Tensor z = empty(m.sizes, m.dtype, m.device);
  fill_(z, Scalar(int64_t{0}));
  return z;
}

// detect_anomaly: the first node whose gradients hold NaN/Inf is named, with
// the Python stack of its forward call.
void check_finite(const Node& n, const Tensors& grads) {
  GradModeGuard no_grad(false);
  for (size_t i = 0; i < grads.size(); ++i) {
    const Tensor& g = grads[i];
    if (!g.defined() || !is_floating(g.dtype())) continue;
    Tensor bad = logical_not(isfinite(g));
    const bool* p = nullptr;
    Tensor flat = contiguous(bad);
    p = flat.data<bool>();
    bool any_bad = false;
    for (int64_t k = 0; k < flat.numel() && !any_bad; ++k) any_bad = p[k];
    FG_CHECK(!any_bad, "Function '", n.name(), "' returned nan or inf values in its ", i,
             "th output (detect_anomaly). Its forward was called at:\n", location_str(n.location));
  }
}

}  // namespace

void queue_callback(std::function<void()> fn) {
  FG_CHECK(t_callbacks != nullptr,
           "queue_callback: can only be called while a backward pass is running");
  t_callbacks->push_back(std::move(fn));
}

Tensors run_backward(const Tensors& roots, const Tensors& grad_roots,
                     const BackwardOptions& opt) {
  FG_CHECK(roots.size() == grad_roots.size(), "backward: got ", roots.size(),
           " tensors and ", grad_roots.size(), " gradients");
  std::vector<Edge> root_edges;
  for (size_t i = 0; i < roots.size(); ++i) {
    FG_CHECK(roots[i].requires_grad(),
             "element ", i, " of tensors does not require grad and does not have a grad_fn");
    root_edges.push_back(gradient_edge(roots[i]));
  }

  // 1. Dependency counts over the reachable graph (explicit stack).
  std::unordered_map<Node*, NodeState> state;
  std::vector<Node*> stack;
  for (const Edge& e : root_edges) {
    if (state.emplace(e.fn.get(), NodeState{}).second) stack.push_back(e.fn.get());
  }
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->next_edges) {
      if (!e.valid()) continue;
      auto [it, fresh] = state.emplace(e.fn.get(), NodeState{});
      it->second.dependencies++;
      if (fresh) stack.push_back(e.fn.get());
    }
  }

  // Captures for autograd.grad: (node, output_nr) -> result slot.
  const bool capturing = !opt.capture.empty();
  Tensors captured(opt.capture.size());
  auto capture_into = [&](Node* n, uint32_t nr, const Tensor& g) {
    for (size_t i = 0; i < opt.capture.size(); ++i)
      if (opt.capture[i].fn.get() == n && opt.capture[i].input_nr == nr) accumulate(captured[i], g);
  };

  // 2. Seed the roots' buffers.
  auto buffer_of = [&](Node* n) -> Tensors& {
    Tensors& b = state[n].buffer;
    if (b.size() < std::max<size_t>(1, n->outputs.size())) b.resize(std::max<size_t>(1, n->outputs.size()));
    return b;
  };
  for (size_t i = 0; i < roots.size(); ++i)
    accumulate(buffer_of(root_edges[i].fn.get())[root_edges[i].input_nr], grad_roots[i]);

  GradModeGuard mode(opt.create_graph);
  std::vector<std::function<void()>> callbacks;
  auto* prev_callbacks = t_callbacks;
  t_callbacks = &callbacks;
  struct Restore {
    std::vector<std::function<void()>>** slot;
    std::vector<std::function<void()>>* prev;
    ~Restore() { *slot = prev; }
  } restore{&t_callbacks, prev_callbacks};

  // 3. Run ready nodes, newest first.
  auto newer = [](Node* a, Node* b) { return a->seq < b->seq; };
  std::priority_queue<Node*, std::vector<Node*>, decltype(newer)> ready(newer);
  for (auto& [n, s] : state)
    if (s.dependencies == 0) ready.push(n);
  while (!ready.empty()) {
    Node* n = ready.top();
    ready.pop();
    Tensors grads = std::move(buffer_of(n));
    state[n].buffer.clear();
    for (const auto& h : n->pre_hooks) {
      Tensor& g = grads[h.output_nr];
      if (!g.defined()) continue;
      Tensor r = h.fn(g);
      if (!r.defined()) continue;
      FG_CHECK(r.sizes() == g.sizes(), "backward: a hook on the gradient of ", n->name(),
               " changed its shape from ", shape_str(g.sizes()), " to ", shape_str(r.sizes()));
      g = r;
    }
    Tensors in_grads;
    auto* sink = dynamic_cast<AccumulateGrad*>(n);
    bool is_leaf_sink = sink != nullptr;
    if (sink && !grads.empty()) grads[0] = sink->run_pre_hooks(grads[0]);
    if (capturing) {
      for (size_t k = 0; k < grads.size(); ++k) capture_into(n, static_cast<uint32_t>(k), grads[k]);
    }
    if (is_leaf_sink) {
      if (!capturing) n->apply(grads);
    } else {
      // Outputs that got no gradient get zeros, so rules need no special case.
      bool any = false;
      for (const Tensor& g : grads) any |= g.defined();
      if (any) {
        for (size_t k = 0; k < grads.size() && k < n->outputs.size(); ++k)
          if (!grads[k].defined()) grads[k] = zeros_for(n->outputs[k]);
        in_grads = n->apply(grads);
        if (anomaly_enabled()) check_finite(*n, in_grads);
      }
      if (!opt.retain_graph) n->release_saved();
    }
    for (size_t i = 0; i < n->next_edges.size(); ++i) {
      const Edge& e = n->next_edges[i];
      if (!e.valid()) continue;
      if (i < in_grads.size()) accumulate(buffer_of(e.fn.get())[e.input_nr], in_grads[i]);
      if (--state[e.fn.get()].dependencies == 0) ready.push(e.fn.get());
    }
  }
  for (auto& cb : callbacks) cb();

  if (capturing && !opt.allow_unused) {
    for (size_t i = 0; i < captured.size(); ++i)
      FG_CHECK(captured[i].defined(),
               "grad: one of the differentiated Tensors appears to not have been used in the "
               "graph. Set allow_unused=True if this is the desired behavior.");
  }
  return captured;
}

// ---- AccumulateGrad ------------------------------------------------------------------
Tensor AccumulateGrad::run_pre_hooks(Tensor g) const {
  std::shared_ptr<TensorImpl> leaf = leaf_.lock();
  if (!g.defined() || !leaf || !leaf->leaf_hooks) return g;
  for (const auto& h : leaf->leaf_hooks->pre) {
    Tensor r = h.fn(g);
    if (!r.defined()) continue;
    FG_CHECK(r.sizes() == g.sizes(), "backward: a hook on the gradient of a leaf changed its "
             "shape from ", shape_str(g.sizes()), " to ", shape_str(r.sizes()));
    g = r;
  }
  return g;
}


Tensors AccumulateGrad::apply(const Tensors& grads) {
  const Tensor& g = grads.at(0);
  if (!g.defined()) return {};
  std::shared_ptr<TensorImpl> leaf_ptr = leaf_.lock();
  if (!leaf_ptr) return {};
  TensorImpl* leaf = leaf_ptr.get();
  if (!leaf->grad) {
    // Without create_graph, store a copy: g may be shared with other values,
    // unless nothing else can see it (adopting it saves a copy per parameter
    // per step).
    leaf->grad = (grad_enabled() || sole_owner(g) ? g : clone(g)).impl_ptr();
  } else if (grad_enabled()) {
    leaf->grad = add(Tensor(leaf->grad), g).impl_ptr();  // differentiable sum
  } else {
    add_(Tensor(leaf->grad), g);
  }
  if (leaf->leaf_hooks) {
    Tensor self(leaf_ptr);
    for (auto& [id, hook] : leaf->leaf_hooks->post) hook(self);
  }
  return {};
}

}  // namespace fastgrad::autograd
