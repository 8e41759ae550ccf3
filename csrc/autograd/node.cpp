// Nodes, saved tensors and recording (see node.h).
#include "autograd/node.h"

#include <atomic>

#include "autograd/grad_mode.h"
#include "core/check.h"
#include "ops/elementwise.h"
#include "ops/grad_utils.h"

namespace fastgrad {
extern std::string (*g_inplace_location)();
}

namespace fastgrad::autograd {

namespace {
std::atomic<uint64_t> g_seq{0};
LocationFn g_location = nullptr;
LocationFn g_stack = nullptr;
}  // namespace

void set_location_capture(LocationFn line, LocationFn stack) {
  g_location = line;
  g_stack = stack;
  g_inplace_location = [] { return g_location ? location_str(g_location()) : std::string(); };
}
Location capture_location() {
  LocationFn f = anomaly_enabled() && g_stack ? g_stack : g_location;
  return f ? f() : nullptr;
}

Node::Node() : seq(g_seq.fetch_add(1, std::memory_order_relaxed)) {}

// Note [Iterative graph teardown]
// Dropping the last reference to a long chain (x = x * c, 10^6 times) would
// destroy node after node recursively and overflow the stack. Instead each
// dying node hands the nodes it owns (edges, histories of saved tensors) to
// the outermost destructor on this thread, which releases them in a loop.
namespace {
thread_local std::vector<std::shared_ptr<Node>>* t_teardown = nullptr;

void teardown(std::vector<std::shared_ptr<Node>>&& owned) {
  if (t_teardown) {
    for (auto& n : owned) t_teardown->push_back(std::move(n));
    return;
  }
  std::vector<std::shared_ptr<Node>> pending = std::move(owned);
  t_teardown = &pending;
  while (!pending.empty()) {
    std::shared_ptr<Node> n = std::move(pending.back());
    pending.pop_back();
    n.reset();  // may push n's own children onto `pending`
  }
  t_teardown = nullptr;
}
}  // namespace

Node::~Node() {
  // Only a node whose every reference is one of our edges dies with us and
  // goes to the iterative teardown; the rest just drop a count (the usual
  // case for leaves' sinks: no vector, no allocation).
  std::vector<std::shared_ptr<Node>> owned;
  for (size_t i = 0; i < next_edges.size(); ++i) {
    std::shared_ptr<Node>& fn = next_edges[i].fn;
    if (!fn) continue;
    long ours = 0;  // edges from here on holding the same node (x + x)
    for (size_t j = i; j < next_edges.size(); ++j) ours += next_edges[j].fn == fn;
    if (fn.use_count() == ours) owned.push_back(std::move(fn));
  }
  if (!owned.empty()) teardown(std::move(owned));
}

FunctionNode::~FunctionNode() {
  std::vector<std::shared_ptr<Node>> owned;
  for (SavedTensor& s : saved_)
    if (auto h = s.take_history_if_last()) owned.push_back(std::move(h));
  if (!owned.empty()) teardown(std::move(owned));
}

// ---- SavedTensor ------------------------------------------------------------------
SavedTensor::SavedTensor(const Tensor& t, bool is_output)
    : is_output_(is_output), defined_(t.defined()) {
  if (!t.defined()) return;
  version_ = t.version();
  requires_grad_ = t.requires_grad();
  t.storage()->saved_for_backward = true;
  if (is_output) {
    // Same data and geometry, no grad_fn: the node owning us is that grad_fn.
    data_ = make_view(t, t.sizes(), t.strides(), t.offset());
  } else {
    data_ = t;
  }
}

std::shared_ptr<Node> SavedTensor::take_history_if_last() {
  if (!data_.defined() || data_.impl_ptr().use_count() != 1) return nullptr;
  return std::move(data_.impl()->grad_fn);
}

Tensor SavedTensor::unpack(const Node& owner) const {
  if (!defined_) return Tensor();
  FG_CHECK(!released_,
           "Trying to backward through the graph a second time (or directly access saved "
           "tensors after they have already been freed). Saved intermediate values of the "
           "graph are freed when you call .backward() or autograd.grad(). Specify "
           "retain_graph=True if you need to backward through the graph a second time or "
           "if you need to access saved tensors after calling backward. (node ",
           owner.name(), ")");
  if (data_.version() != version_) {
    const StorageImpl& s = *data_.storage();
    fail<RuntimeError>(
        "one of the variables needed for gradient computation has been modified by an "
        "inplace operation: [", dtype_name(data_.dtype()), " ", shape_str(data_.sizes()),
        "] is at version ", data_.version(), "; expected version ", version_,
        " instead. It was saved by ", owner.name(),
        owner.location ? " (forward called at " + *owner.location + ")" : std::string(),
        " and modified by ", s.last_inplace_op.empty() ? "an in-place operation" : s.last_inplace_op,
        s.last_inplace_location.empty() ? std::string() : " at " + s.last_inplace_location,
        ". Hint: clone() the tensor before modifying it in place, or do the in-place "
        "operation out of place.");
  }
  if (!is_output_) return data_;
  Tensor t = make_view(data_, data_.sizes(), data_.strides(), data_.offset());
  t.impl()->requires_grad = requires_grad_;
  if (requires_grad_) t.impl()->grad_fn = std::const_pointer_cast<Node>(owner.shared_from_this());
  return t;
}

// ---- FunctionNode ---------------------------------------------------------------------
// Rules may return gradients in the broadcast shape or the computation dtype;
// here they are reduced and cast to each input's shape and dtype (PyTorch's
// validate_outputs), so rules stay short.
Tensors FunctionNode::apply(const Tensors& grads) {
  Tensors r = fn_(*this, grads);
  FG_CHECK(r.size() <= next_edges.size(), "internal: ", name(), " returned ", r.size(),
           " gradients for ", next_edges.size(), " inputs");
  for (size_t i = 0; i < r.size(); ++i) {
    if (!r[i].defined() || !next_edges[i].valid()) {
      r[i] = Tensor();
      continue;
    }
    const OutputMeta& m = inputs[i];
    if (r[i].sizes() != m.sizes) r[i] = sum_to(r[i], m.sizes);
    FG_CHECK(r[i].sizes() == m.sizes, "internal: ", name(), " produced a gradient of shape ",
             shape_str(r[i].sizes()), " for an input of shape ", shape_str(m.sizes));
    if (r[i].dtype() != m.dtype) r[i] = to_dtype(r[i], m.dtype);
  }
  return r;
}

void FunctionNode::release_saved() {
  for (auto& s : saved_) s.release();
}

// ---- recording --------------------------------------------------------------------------
bool needs_grad(std::initializer_list<const Tensor*> inputs) {
  if (!grad_enabled()) return false;
  for (const Tensor* t : inputs)
    if (t->defined() && t->requires_grad()) return true;
  return false;
}

bool needs_grad(TensorRefs inputs) {
  if (!grad_enabled()) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

namespace {
ViewRegenerator g_regenerate_view = nullptr;
}
void set_view_regenerator(ViewRegenerator fn) { g_regenerate_view = fn; }

Edge gradient_edge(const Tensor& t) {
  if (!t.defined() || !t.requires_grad()) return {};
  TensorImpl* impl = t.impl();
  if (impl->view_base && impl->grad_fn && impl->view_version != t.version() && g_regenerate_view)
    g_regenerate_view(t);
  if (impl->grad_fn) return {impl->grad_fn, static_cast<uint32_t>(impl->output_nr)};
  if (!impl->grad_accumulator) impl->grad_accumulator = std::make_shared<AccumulateGrad>(t.impl_ptr());
  return {impl->grad_accumulator, 0};
}

std::shared_ptr<FunctionNode> record(const char* name, TensorRefs inputs, TensorRefs outputs,
                                     TensorRefs saved, BackwardFn fn) {
  auto node = std::make_shared<FunctionNode>(name, std::move(fn));
  node->next_edges.reserve(inputs.size());
  node->inputs.reserve(inputs.size());
  for (const Tensor& t : inputs) {
    node->next_edges.push_back(gradient_edge(t));
    if (t.defined()) node->inputs.push_back({t.sizes(), t.dtype(), t.device()});
    else node->inputs.push_back({{}, DType::Float32, Device{}});
  }
  node->location = capture_location();
  for (size_t i = 0; i < outputs.size(); ++i) {
    TensorImpl* o = outputs[i].impl();
    node->outputs.push_back({o->sizes, o->dtype, outputs[i].device()});
    if (!is_floating(o->dtype)) continue;  // int/bool outputs never require grad
    o->requires_grad = true;
    o->grad_fn = node;
    o->output_nr = static_cast<int>(i);
  }
  for (const Tensor& s : saved) {
    bool is_output = false;
    for (const Tensor& o : outputs) is_output |= s.defined() && s.is_same(o);
    node->saved_.emplace_back(s, is_output);
  }
  return node;
}

}  // namespace fastgrad::autograd
