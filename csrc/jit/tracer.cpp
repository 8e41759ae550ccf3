// The thread-local trace state behind traced() (Note [One tracing hook]).
#include "jit/tracer.h"

#include <unordered_map>

#include "core/check.h"
#include "jit/trace_state.h"

namespace fastgrad::jit {

namespace {
thread_local TraceState* g_active = nullptr;
}

TraceState* active_trace() { return g_active; }

TraceSuspend::TraceSuspend() : saved_(g_active) { g_active = nullptr; }
TraceSuspend::~TraceSuspend() { g_active = saved_; }

int TraceState::add_value(const Tensor& t, Value::Kind kind, std::string name, int producer,
                          bool remap) {
  Value v;
  v.kind = kind;
  v.name = std::move(name);
  v.shape = t.sizes();
  v.dtype = t.dtype();
  v.producer = producer;
  if (kind == Value::Kind::Const) v.constant = t;
  int id = static_cast<int>(graph.values.size());
  graph.values.push_back(std::move(v));
  // An op that returns its input unchanged (contiguous() of a contiguous
  // tensor) leaves the tensor's value alone; an in-place op makes its result
  // the tensor's new value.
  if (remap || !ids.count(t.impl())) ids[t.impl()] = id;
  keep.push_back(t);  // the address stays unique while the trace is open
  return id;
}

int use_value(TraceState& st, const Tensor& t) {
  if (!t.defined()) return -1;
  auto it = st.ids.find(t.impl());
  if (it != st.ids.end()) return it->second;
  // Not made by a recorded op: a constant captured by the traced code.
  return st.add_value(t, Value::Kind::Const, "", -1);
}

void record_call(TraceState& st, const char* op, std::shared_ptr<const Call> call,
                 std::vector<Arg> args, const Tensors& outputs) {
  Node n;
  n.op = op;
  for (const Arg& a : args) {
    if (a.kind == Arg::Kind::Value) n.inputs.push_back(static_cast<int>(a.i));
    else if (a.kind == Arg::Kind::Values)
      for (int64_t v : a.ints) n.inputs.push_back(static_cast<int>(v));
    else if (a.kind == Arg::Kind::Index)
      for (const IndexArg& i : a.index)
        if (i.kind == TensorIndex::Kind::Tensor) n.inputs.push_back(i.value);
  }
  int id = static_cast<int>(st.graph.nodes.size());
  bool inplace = n.op.back() == '_';
  for (const Tensor& t : outputs)
    n.outputs.push_back(t.defined() ? st.add_value(t, Value::Kind::Op, "", id, inplace) : -1);
  n.args = std::move(args);
  n.call = std::move(call);
  st.graph.nodes.push_back(std::move(n));
}

bool is_traced_value(const Tensor& t) {
  if (!g_active || !t.defined()) return false;
  auto it = g_active->ids.find(t.impl());
  return it != g_active->ids.end() &&
         g_active->graph.values[it->second].kind != Value::Kind::Const;
}

void begin_trace(std::unique_ptr<TraceState>& holder, const Tensors& inputs,
                 const std::vector<std::string>& input_names, const Tensors& params,
                 const std::vector<std::string>& param_names) {
  FG_CHECK(!g_active, "trace: a trace is already running on this thread");
  FG_CHECK(inputs.size() == input_names.size() && params.size() == param_names.size(),
           "trace: one name per input and parameter expected");
  holder = std::make_unique<TraceState>();
  TraceState& st = *holder;
  for (size_t i = 0; i < inputs.size(); ++i) {
    FG_CHECK_TYPE(inputs[i].defined(), "trace: example input ", i, " is undefined");
    FG_CHECK_VALUE(!st.ids.count(inputs[i].impl()), "trace: example input ", i,
                   " ('", input_names[i], "') is the same tensor as an earlier input");
    st.graph.inputs.push_back(st.add_value(inputs[i], Value::Kind::Input, input_names[i], -1));
  }
  for (size_t i = 0; i < params.size(); ++i) {
    if (st.ids.count(params[i].impl())) {  // shared (tied) parameter: one value
      st.graph.params.push_back(st.ids[params[i].impl()]);
      continue;
    }
    st.graph.params.push_back(st.add_value(params[i], Value::Kind::Param, param_names[i], -1));
  }
  g_active = &st;
}

Graph end_trace(std::unique_ptr<TraceState>& holder, const Tensors& outputs) {
  FG_CHECK(holder && g_active == holder.get(), "trace: no trace is running on this thread");
  g_active = nullptr;
  TraceState& st = *holder;
  for (const Tensor& t : outputs) st.graph.outputs.push_back(use_value(st, t));
  Graph g = std::move(st.graph);
  holder.reset();
  g.finalize();
  return g;
}

void abort_trace(std::unique_ptr<TraceState>& holder) {
  if (holder && g_active == holder.get()) g_active = nullptr;
  holder.reset();
}

}  // namespace fastgrad::jit
