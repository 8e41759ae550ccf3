// The tracer: records the ops of one eager run into a jit::Graph.
//
// Note [One tracing hook]
// Every op binding calls its C++ op through `traced(name, fn)` (bindings/),
// a wrapper with fn's exact signature. When no trace is active on this thread
// it is one thread-local load and a branch. While tracing it runs fn, then
// records a node: the op name, its arguments (tensors become graph values,
// everything else an attribute kept by value) and its outputs. The node keeps
// a typed copy of the call (CallImpl), so replay runs the very same C++
// function with new tensors: no Python, no per-op code. Nested ops (C++ ops
// calling C++ ops) never pass through a binding, so only the user-visible call
// is recorded. ArgTraits says how each argument type splits into tensors and
// attributes; a new argument type needs one specialisation here, nothing per op.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/scalar.h"
#include "core/tensor.h"
#include "ops/index_ops.h"

namespace fastgrad {
class Generator;
}

namespace fastgrad::jit {

using Tensors = std::vector<Tensor>;

// One index of x[...] with its tensor replaced by a value id.
struct IndexArg {
  TensorIndex::Kind kind;
  int64_t start, stop, step;
  int value = -1;
};

// An argument of a recorded call as the graph sees it (for printing, for
// comparing two traces and for exporters).
struct Arg {
  enum class Kind : uint8_t { None, Bool, Int, Float, Str, Ints, DType, Device, Value, Values,
                              Index, Opaque };
  Kind kind = Kind::None;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;               // Str; Opaque: what it is
  std::vector<int64_t> ints;   // Ints; Values: value ids (-1: undefined tensor)
  DType dtype = DType::Float32;
  Device device;
  std::vector<IndexArg> index;
  bool operator==(const Arg& o) const;
};

class TraceState;

// Tensors met while describing a call become value ids.
int use_value(TraceState& st, const Tensor& t);

// ---- argument traits ---------------------------------------------------------
// describe: the Arg (tensor slots become value ids via use_value)
// strip:    drop tensors from the stored copy (the graph must not keep inputs alive)
// take:     the argument for a replay, tensors taken from the slot cursor in order
// ints:     every int an attribute holds, in Arg order (dynamic batch sizes)

inline Arg attr_arg(bool v) { Arg a; a.kind = Arg::Kind::Bool; a.b = v; return a; }
inline Arg attr_arg(double v) { Arg a; a.kind = Arg::Kind::Float; a.f = v; return a; }
inline Arg attr_arg(const std::string& v) { Arg a; a.kind = Arg::Kind::Str; a.s = v; return a; }
inline Arg attr_arg(const char* v) { return attr_arg(std::string(v ? v : "")); }
inline Arg attr_arg(DType v) { Arg a; a.kind = Arg::Kind::DType; a.dtype = v; return a; }
inline Arg attr_arg(Device v) { Arg a; a.kind = Arg::Kind::Device; a.device = v; return a; }
inline Arg attr_arg(Generator*) { Arg a; a.kind = Arg::Kind::Opaque; a.s = "generator"; return a; }
inline Arg attr_arg(const std::vector<int64_t>& v) {
  Arg a; a.kind = Arg::Kind::Ints; a.ints = v; return a;
}
inline Arg attr_arg(const Scalar& v) {
  if (v.kind == Scalar::Kind::Bool) return attr_arg(v.i != 0);
  if (v.kind == Scalar::Kind::Float) return attr_arg(v.f);
  Arg a; a.kind = Arg::Kind::Int; a.i = v.i; return a;
}
template <class I, std::enable_if_t<std::is_integral_v<I> && !std::is_same_v<I, bool>, int> = 0>
Arg attr_arg(I v) { Arg a; a.kind = Arg::Kind::Int; a.i = v; return a; }

template <class F> void attr_ints(int64_t& v, F&& f) { f(v); }
template <class F> void attr_ints(int& v, F&& f) { int64_t x = v; f(x); v = static_cast<int>(x); }
template <class F> void attr_ints(std::vector<int64_t>& v, F&& f) { for (auto& x : v) f(x); }
template <class F> void attr_ints(Scalar& v, F&& f) {
  if (v.kind != Scalar::Kind::Int) return;
  f(v.i);
  v.f = static_cast<double>(v.i);
}
template <class T, class F> void attr_ints(T&, F&&) {}

// Attributes (anything that is not a tensor).
template <class T> struct ArgTraits {
  static Arg describe(const T& v, TraceState&) { return attr_arg(v); }
  static void strip(T&) {}
  static const T& take(const T& v, const Tensor*&) { return v; }
  template <class F> static void ints(T& v, F&& f) { attr_ints(v, f); }
};

template <class T> struct ArgTraits<std::optional<T>> {
  static Arg describe(const std::optional<T>& v, TraceState& st) {
    return v ? ArgTraits<T>::describe(*v, st) : Arg{};
  }
  static void strip(std::optional<T>& v) { if (v) ArgTraits<T>::strip(*v); }
  static std::optional<T> take(const std::optional<T>& v, const Tensor*& next) {
    if constexpr (std::is_same_v<T, Tensor>) {
      if (!v) return std::nullopt;  // absent: no slot (describe gave None)
      return *next++;
    } else {
      return v;
    }
  }
  template <class F> static void ints(std::optional<T>& v, F&& f) {
    if (v) ArgTraits<T>::ints(*v, f);
  }
};

template <> struct ArgTraits<Tensor> {
  static Arg describe(const Tensor& t, TraceState& st) {
    Arg a;
    a.kind = Arg::Kind::Value;
    a.i = use_value(st, t);
    return a;
  }
  static void strip(Tensor& t) { t = Tensor(); }
  static const Tensor& take(const Tensor&, const Tensor*& next) { return *next++; }
  template <class F> static void ints(Tensor&, F&&) {}
};

template <> struct ArgTraits<std::vector<Tensor>> {
  static Arg describe(const Tensors& ts, TraceState& st) {
    Arg a;
    a.kind = Arg::Kind::Values;
    for (const Tensor& t : ts) a.ints.push_back(use_value(st, t));
    return a;
  }
  static void strip(Tensors& ts) { for (auto& t : ts) t = Tensor(); }
  static Tensors take(const Tensors& ts, const Tensor*& next) {
    Tensors out(next, next + ts.size());
    next += ts.size();
    return out;
  }
  template <class F> static void ints(Tensors&, F&&) {}
};

// index_put's indices: a None entry keeps its slot (an undefined tensor).
template <> struct ArgTraits<std::vector<std::optional<Tensor>>> {
  using V = std::vector<std::optional<Tensor>>;
  static Arg describe(const V& ts, TraceState& st) {
    Arg a;
    a.kind = Arg::Kind::Values;
    for (const auto& t : ts) a.ints.push_back(t ? use_value(st, *t) : -1);
    return a;
  }
  static void strip(V& ts) { for (auto& t : ts) if (t) *t = Tensor(); }
  static V take(const V& ts, const Tensor*& next) {
    V out;
    for (const auto& t : ts) {
      const Tensor& slot = *next++;
      out.push_back(t ? std::optional<Tensor>(slot) : std::nullopt);
    }
    return out;
  }
  template <class F> static void ints(V&, F&&) {}
};

template <> struct ArgTraits<std::vector<TensorIndex>> {
  using V = std::vector<TensorIndex>;
  static Arg describe(const V& idx, TraceState& st) {
    Arg a;
    a.kind = Arg::Kind::Index;
    for (const TensorIndex& i : idx)
      a.index.push_back({i.kind, i.start, i.stop, i.step,
                         i.kind == TensorIndex::Kind::Tensor ? use_value(st, i.tensor) : -1});
    return a;
  }
  static void strip(V& idx) { for (auto& i : idx) i.tensor = Tensor(); }
  static V take(const V& idx, const Tensor*& next) {
    V out = idx;
    for (auto& i : out)
      if (i.kind == TensorIndex::Kind::Tensor) i.tensor = *next++;
    return out;
  }
  template <class F> static void ints(V&, F&&) {}
};

// ---- outputs -----------------------------------------------------------------
inline void collect_outputs(const Tensor& t, Tensors& out) { out.push_back(t); }
inline void collect_outputs(const Tensors& ts, Tensors& out) {
  out.insert(out.end(), ts.begin(), ts.end());
}
template <class A, class B> void collect_outputs(const std::pair<A, B>& p, Tensors& out) {
  collect_outputs(p.first, out);
  collect_outputs(p.second, out);
}
template <class... T> void collect_outputs(const std::tuple<T...>& t, Tensors& out) {
  std::apply([&](const auto&... e) { (collect_outputs(e, out), ...); }, t);
}
template <class T, size_t N> void collect_outputs(const std::array<T, N>& a, Tensors& out) {
  for (const auto& e : a) collect_outputs(e, out);
}

// ---- the recorded call -------------------------------------------------------
// An integer attribute that follows the dynamic batch size B: a * B + c.
struct SymInt {
  int index;  // position among the call's attribute ints (Arg order)
  int64_t a, c;
};

class Call {
 public:
  virtual ~Call() = default;
  // Runs the op on `slots` (one per tensor argument, in argument order); the
  // symbolic ints are re-derived from `batch` first.
  virtual Tensors run(const Tensor* slots, const std::vector<SymInt>& sym,
                      int64_t batch) const = 0;
};

template <class F, class... A> class CallImpl final : public Call {
 public:
  using Stored = std::tuple<std::decay_t<A>...>;
  CallImpl(F f, Stored args) : f_(std::move(f)), args_(std::move(args)) {
    std::apply([](auto&... a) { (ArgTraits<std::decay_t<decltype(a)>>::strip(a), ...); }, args_);
  }
  Tensors run(const Tensor* slots, const std::vector<SymInt>& sym,
              int64_t batch) const override {
    if (sym.empty()) return invoke(args_, slots);
    Stored patched = args_;
    int k = 0;
    size_t next = 0;
    auto patch = [&](int64_t& v) {
      if (next < sym.size() && sym[next].index == k) {
        v = sym[next].a * batch + sym[next].c;
        ++next;
      }
      ++k;
    };
    std::apply([&](auto&... a) { (ArgTraits<std::decay_t<decltype(a)>>::ints(a, patch), ...); },
               patched);
    return invoke(patched, slots);
  }

 private:
  Tensors invoke(const Stored& args, const Tensor* slots) const {
    return std::apply(
        [&](const auto&... a) {
          // Braced initialisation evaluates left to right: slots are taken in order.
          std::tuple<decltype(ArgTraits<std::decay_t<A>>::take(a, slots))...> call{
              ArgTraits<std::decay_t<A>>::take(a, slots)...};
          Tensors out;
          if constexpr (std::is_void_v<decltype(std::apply(f_, call))>) std::apply(f_, call);
          else collect_outputs(std::apply(f_, call), out);
          return out;
        },
        args);
  }
  F f_;
  Stored args_;
};

// ---- the trace state ---------------------------------------------------------
// The active trace of this thread, or null (then traced() only calls fn).
TraceState* active_trace();

// Suspends tracing while fn runs (nested traced calls are not recorded).
class TraceSuspend {
 public:
  TraceSuspend();
  ~TraceSuspend();
  TraceSuspend(const TraceSuspend&) = delete;
  TraceSuspend& operator=(const TraceSuspend&) = delete;

 private:
  TraceState* saved_;
};

void record_call(TraceState& st, const char* op, std::shared_ptr<const Call> call,
                 std::vector<Arg> args, const Tensors& outputs);

// Whether `t` is a value of the active trace (an input, a parameter or derived
// from them): reading its data into Python freezes it into the trace.
bool is_traced_value(const Tensor& t);

template <class T> struct Signature : Signature<decltype(&T::operator())> {};
template <class R, class... A> struct Signature<R (*)(A...)> {
  using Ret = R;
  using Args = std::tuple<A...>;
};
template <class R, class... A> struct Signature<R (&)(A...)> : Signature<R (*)(A...)> {};
template <class C, class R, class... A> struct Signature<R (C::*)(A...) const>
    : Signature<R (*)(A...)> {};
template <class C, class R, class... A> struct Signature<R (C::*)(A...)>
    : Signature<R (*)(A...)> {};

template <class F, class R, class... A>
auto traced_impl(const char* op, F f, std::tuple<A...>*) {
  return [op, f](A... args) -> R {
    TraceState* st = active_trace();
    if (!st) return f(std::forward<A>(args)...);
    auto call = std::make_shared<CallImpl<F, A...>>(
        f, typename CallImpl<F, A...>::Stored(args...));
    std::vector<Arg> described{ArgTraits<std::decay_t<A>>::describe(args, *st)...};
    auto run = [&]() -> R {
      TraceSuspend suspend;
      return f(std::forward<A>(args)...);
    };
    Tensors outs;
    if constexpr (std::is_void_v<R>) {  // writes into an argument (setitem)
      run();
      record_call(*st, op, std::move(call), std::move(described), outs);
    } else {
      R r = run();
      collect_outputs(r, outs);
      record_call(*st, op, std::move(call), std::move(described), outs);
      return r;
    }
  };
}

// fn with the same signature, recorded as op `op` while a trace is active.
// `op` must be a string literal (it is kept).
template <class F> auto traced(const char* op, F f) {
  using S = Signature<std::decay_t<F>>;
  return traced_impl<std::decay_t<F>, typename S::Ret>(op, f,
                                                      static_cast<typename S::Args*>(nullptr));
}

}  // namespace fastgrad::jit
