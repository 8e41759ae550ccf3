// Replay of a traced graph, and the batch analysis that lets it run at other
// batch sizes (Note [Dynamic batch by a second trace]).
#include "jit/graph.h"

#include <cstring>

#include "autograd/grad_mode.h"
#include "core/check.h"
#include "ops/elementwise.h"
#include "ops/elementwise_ops.h"
#include "ops/reduce_ops.h"

namespace fastgrad::jit {

bool Arg::operator==(const Arg& o) const {
  if (kind != o.kind) return false;
  switch (kind) {
    case Kind::None: return true;
    case Kind::Bool: return b == o.b;
    case Kind::Int: return i == o.i;
    case Kind::Float: return f == o.f || (f != f && o.f != o.f);
    case Kind::Str:
    case Kind::Opaque: return s == o.s;
    case Kind::Ints:
    case Kind::Values: return ints == o.ints;
    case Kind::DType: return dtype == o.dtype;
    case Kind::Device: return device == o.device;
    case Kind::Value: return i == o.i;
    case Kind::Index:
      if (index.size() != o.index.size()) return false;
      for (size_t k = 0; k < index.size(); ++k) {
        const IndexArg &x = index[k], &y = o.index[k];
        if (x.kind != y.kind || x.start != y.start || x.stop != y.stop || x.step != y.step ||
            x.value != y.value)
          return false;
      }
      return true;
  }
  return false;
}

namespace {

std::string dims_str(const Value& v) {
  std::string s = "[";
  for (size_t d = 0; d < v.shape.size(); ++d) {
    if (d) s += ", ";
    const SymInt* sym = nullptr;
    for (const SymInt& x : v.sym_dims)
      if (x.index == static_cast<int>(d)) sym = &x;
    if (!sym) s += std::to_string(v.shape[d]);
    else s += (sym->a == 1 ? "" : std::to_string(sym->a) + "*") + std::string("B") +
              (sym->c ? (sym->c > 0 ? "+" : "") + std::to_string(sym->c) : "");
  }
  return s + "]";
}

// The ints of an Arg in order (Int: one, Ints: all), and the Arg without them.
void split_ints(const Arg& a, std::vector<int64_t>& ints, Arg& rest) {
  rest = a;
  if (a.kind == Arg::Kind::Int) {
    ints.push_back(a.i);
    rest.i = 0;
  } else if (a.kind == Arg::Kind::Ints) {
    ints.insert(ints.end(), a.ints.begin(), a.ints.end());
    rest.ints.assign(a.ints.size(), 0);
  }
}

bool same_data(const Tensor& a, const Tensor& b) {
  if (a.is_same(b)) return true;
  if (a.sizes() != b.sizes() || a.dtype() != b.dtype()) return false;
  autograd::GradModeGuard no_grad(false);
  Tensor r = all(eq(a, b));
  return *static_cast<const bool*>(r.raw_data());
}

}  // namespace

// Note [Dynamic batch by a second trace]
// Python code reads sizes as plain ints (x.view(x.shape[0], -1)), so a trace
// alone cannot tell which attributes came from the batch size. trace() runs
// the function again with every input's batch dim doubled and tripled (the
// inputs concatenated with themselves) and compares: an integer that is
// a * B + c at B, 2B and 3B (two runs fit a and c, the third checks the fit,
// so B * B is caught) is re-derived at every replay; anything else that
// changed (the op sequence, a float, an integer that is not affine in B, a
// constant created during the call) is an error naming the op, since a
// replay at another batch could not be right.
void Graph::make_batch_dynamic(const std::vector<const Graph*>& others, int64_t batch_size) {
  FG_CHECK(others.size() >= 1 && batch_size > 0, "make_batch_dynamic: bad arguments");
  std::string sizes = std::to_string(batch_size);
  for (size_t i = 0; i < others.size(); ++i)
    sizes += (i + 1 == others.size() ? " and " : ", ") + std::to_string((i + 2) * batch_size);
  auto differ = [&](const std::string& what) {
    fail<RuntimeError>("trace: ", what, " differs between batch sizes ", sizes,
                       ", so the trace cannot follow the batch dim; trace with "
                       "batch_dim=None for fixed shapes");
  };
  // vals[i] is the int at batch (i + 1) * B; true and `out` when it is a * B + c
  // (a != 0) at every one, false when it never changes; raises otherwise.
  auto fit = [&](const std::vector<int64_t>& vals, int index, SymInt& out,
                 const std::string& what) {
    bool same = true;
    for (int64_t v : vals) same = same && v == vals[0];
    if (same) return false;
    out = {index, (vals[1] - vals[0]) / batch_size, 0};
    out.c = vals[0] - out.a * batch_size;
    bool ok = (vals[1] - vals[0]) % batch_size == 0;
    for (size_t i = 0; ok && i < vals.size(); ++i)
      ok = vals[i] == out.a * static_cast<int64_t>(i + 1) * batch_size + out.c;
    if (!ok) {
      std::string seen;
      for (size_t i = 0; i < vals.size(); ++i) seen += (i ? ", " : "") + std::to_string(vals[i]);
      fail<RuntimeError>("trace: ", what, " is ", seen, " at batch sizes ", sizes,
                         ": not of the form a*B + c, so it cannot follow the batch dim; trace "
                         "with batch_dim=None for fixed shapes");
    }
    return true;
  };
  for (const Graph* d : others)
    if (d->nodes.size() != nodes.size() || d->values.size() != values.size() ||
        d->outputs != outputs || d->inputs != inputs || d->params != params)
      differ("the sequence of recorded ops");
  // Computed first, committed at the end: a failure leaves a valid static graph.
  std::vector<std::vector<SymInt>> node_sym(nodes.size()), value_sym(values.size());
  for (size_t k = 0; k < nodes.size(); ++k) {
    const Node& n = nodes[k];
    std::string where = "op #" + std::to_string(k) + " '" + n.op + "'";
    std::vector<std::vector<int64_t>> ints(1 + others.size());
    std::vector<Arg> rest(n.args.size());
    for (size_t j = 0; j < n.args.size(); ++j) split_ints(n.args[j], ints[0], rest[j]);
    for (size_t g = 0; g < others.size(); ++g) {
      const Node& m = others[g]->nodes[k];
      if (n.op != m.op || n.inputs != m.inputs || n.outputs != m.outputs ||
          n.args.size() != m.args.size())
        differ("the sequence of recorded ops (at " + where + ")");
      for (size_t j = 0; j < m.args.size(); ++j) {
        Arg r;
        split_ints(m.args[j], ints[g + 1], r);
        if (!(r == rest[j])) differ("argument " + std::to_string(j) + " of " + where);
      }
      if (ints[g + 1].size() != ints[0].size()) differ("the integer arguments of " + where);
    }
    for (size_t j = 0; j < ints[0].size(); ++j) {
      std::vector<int64_t> vals;
      for (const auto& run : ints) vals.push_back(run[j]);
      SymInt s;
      if (fit(vals, static_cast<int>(j), s, "an integer argument of " + where))
        node_sym[k].push_back(s);
    }
  }
  for (size_t v = 0; v < values.size(); ++v) {
    const Value& x = values[v];
    for (const Graph* d : others) {
      const Value& y = d->values[v];
      if (x.kind != y.kind || x.shape.size() != y.shape.size() || x.dtype != y.dtype)
        differ("value %" + std::to_string(v));
      if (x.kind == Value::Kind::Const && !same_data(x.constant, y.constant)) {
        std::string user = "the graph outputs";
        for (const Node& n : nodes)
          for (int i : n.inputs)
            if (i == static_cast<int>(v) && user == "the graph outputs")
              user = "op '" + n.op + "'";
        fail<RuntimeError>(
            "trace: a tensor of shape ", shape_str(x.shape), " used by ", user,
            " is not produced by a recorded op and changes with the inputs (it was made by an "
            "op the tracer does not record, or from Python data such as .tolist() or numpy); "
            "replay would reuse the traced value");
      }
    }
    for (size_t dim = 0; dim < x.shape.size(); ++dim) {
      std::vector<int64_t> vals{x.shape[dim]};
      for (const Graph* d : others) vals.push_back(d->values[v].shape[dim]);
      SymInt s;
      if (fit(vals, static_cast<int>(dim), s,
              "dim " + std::to_string(dim) + " of value %" + std::to_string(v)))
        value_sym[v].push_back(s);
    }
  }
  batch = batch_size;
  for (size_t k = 0; k < nodes.size(); ++k) nodes[k].sym = std::move(node_sym[k]);
  for (size_t v = 0; v < values.size(); ++v) values[v].sym_dims = std::move(value_sym[v]);
}

// A node with no outputs, or named like an in-place op, writes into its
// arguments: it stays even when nothing reads its results.
static bool has_side_effects(const Node& n) {
  return n.outputs.empty() || n.op.back() == '_' || n.op == "setitem";
}

void Graph::finalize() {
  // Dead code: ops whose results nothing uses (a repr or a shape check inside
  // the traced code), found backwards from the outputs.
  std::vector<char> live(values.size(), 0), keep(nodes.size(), 0);
  for (int o : outputs)
    if (o >= 0) live[o] = 1;
  for (size_t k = nodes.size(); k-- > 0;) {
    const Node& n = nodes[k];
    bool used = has_side_effects(n);
    for (int o : n.outputs) used = used || (o >= 0 && live[o]);
    if (!used) continue;
    keep[k] = 1;
    for (int i : n.inputs)
      if (i >= 0) live[i] = 1;
  }
  std::vector<Node> kept;
  for (size_t k = 0; k < nodes.size(); ++k) {
    if (!keep[k]) continue;
    for (int o : nodes[k].outputs)
      if (o >= 0) values[o].producer = static_cast<int>(kept.size());
    kept.push_back(std::move(nodes[k]));
  }
  nodes = std::move(kept);

  std::vector<int> last(values.size(), -1);
  for (size_t k = 0; k < nodes.size(); ++k)
    for (int i : nodes[k].inputs)
      if (i >= 0) last[i] = static_cast<int>(k);
  for (int o : outputs)
    if (o >= 0) last[o] = static_cast<int>(nodes.size());
  release_.assign(nodes.size(), {});
  for (size_t v = 0; v < values.size(); ++v)
    if (values[v].kind == Value::Kind::Op && last[v] >= 0 &&
        last[v] < static_cast<int>(nodes.size()))
      release_[last[v]].push_back(static_cast<int>(v));
}

int64_t Graph::batch_of(const Tensors& in) const {
  FG_CHECK_VALUE(in.size() == inputs.size(), label, ": expected ", inputs.size(),
                 " input tensors, got ", in.size());
  int64_t b = -1;
  for (size_t i = 0; i < in.size(); ++i) {
    const Value& v = values[inputs[i]];
    const Tensor& t = in[i];
    FG_CHECK_TYPE(t.defined(), label, ": input ", i, " ('", v.name, "') is undefined");
    auto bad = [&]() {
      fail<ValueError>(label, ": input ", i, " ('", v.name, "') has shape ",
                       shape_str(t.sizes()), ", but the trace expects ", dims_str(v),
                       batch >= 0 ? " (B: the batch size, free)" : " (traced with fixed shapes)");
    };
    if (t.dim() != static_cast<int64_t>(v.shape.size())) bad();
    for (size_t dim = 0; dim < v.shape.size(); ++dim) {
      const SymInt* s = nullptr;
      for (const SymInt& x : v.sym_dims)
        if (x.index == static_cast<int>(dim)) s = &x;
      int64_t n = t.sizes()[dim];
      if (!s) {
        if (n != v.shape[dim]) bad();
        continue;
      }
      if ((n - s->c) % s->a != 0 || (n - s->c) / s->a <= 0) bad();
      int64_t nb = (n - s->c) / s->a;
      if (b >= 0 && nb != b)
        fail<ValueError>(label, ": inputs disagree on the batch size (", b, " and ", nb,
                         " at input ", i, " ('", v.name, "') of shape ", shape_str(t.sizes()),
                         ")");
      b = nb;
    }
    FG_CHECK_TYPE(t.dtype() == v.dtype, label, ": input ", i, " ('", v.name, "') has dtype ",
                  t.dtype(), ", but the trace expects ", v.dtype);
  }
  return b < 0 ? batch : b;
}

Tensors Graph::run(const Tensors& in, const Tensors& ps) const {
  int64_t b = batch_of(in);
  FG_CHECK_VALUE(ps.size() == params.size(), label, ": expected ", params.size(),
                 " parameters, got ", ps.size());
  std::vector<Tensor> env(values.size());
  for (size_t i = 0; i < in.size(); ++i) env[inputs[i]] = in[i];
  for (size_t i = 0; i < ps.size(); ++i) env[params[i]] = ps[i];
  for (size_t v = 0; v < values.size(); ++v)
    if (values[v].kind == Value::Kind::Const) env[v] = values[v].constant;
  std::vector<Tensor> slots;
  for (size_t k = 0; k < nodes.size(); ++k) {
    const Node& n = nodes[k];
    slots.clear();
    for (int i : n.inputs) slots.push_back(i >= 0 ? env[i] : Tensor());
    Tensors outs = n.call->run(slots.data(), n.sym, b);
    FG_CHECK(outs.size() == n.outputs.size(), label, ": op #", k, " '", n.op, "' returned ",
             outs.size(), " tensors at replay, ", n.outputs.size(), " when traced");
    for (size_t o = 0; o < outs.size(); ++o)
      if (n.outputs[o] >= 0) env[n.outputs[o]] = std::move(outs[o]);
    if (k < release_.size())
      for (int v : release_[k]) env[v] = Tensor();
  }
  Tensors result;
  result.reserve(outputs.size());
  for (int o : outputs) result.push_back(o >= 0 ? env[o] : Tensor());
  return result;
}

}  // namespace fastgrad::jit
