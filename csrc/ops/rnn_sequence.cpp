// The whole time loop of one direction of one recurrent layer as ONE op (see
// ops/rnn_ops.h). The input projection of all rows is one gemm; per step it
// runs one gemm (h W_hh^T, written straight into the saved gate buffer) and
// the fused row kernels of ops/rnn_kernels.h. The backward node runs the
// loop in reverse (one gemm per step for dh), then computes dx and
// [dW_ih | dW_hh] with one gemm each over all steps (k = rows instead of the
// batch, and no autograd node or Python per step); that is why every row's
// x and h_prev are saved side by side in one (rows, I + H) buffer.
//
// Packed rows: step t owns rows [off[t], off[t] + bs[t]) of gi / out, its
// active batch rows are the first bs[t] of the state (batch sizes never grow
// along time). The state buffers (B, H) start as h0 / c0 and each step only
// updates its first bs[t] rows, so rows that already ended (forward) or have
// not started yet (reverse) keep their final / initial value: the buffers
// end as h_n / c_n, in both directions. The gradient buffers work the same
// way in reverse and end as dh0 / dc0.
//
// Note [RNN sequence double backward]: under create_graph the rule replays
// the recurrence with recorded per-step ops from the saved inputs (which keep
// their history) and builds the gradient from recorded ops, so second
// derivatives are exact; plain backward never takes that path.
#include <algorithm>
#include <string>

#include "backend/cpu/blas.h"
#include "ops/elementwise.h"
#include "ops/elementwise_ops.h"
#include "ops/grad_utils.h"
#include "ops/linalg_ops.h"
#include "ops/reduce_ops.h"
#include "ops/rnn_kernels.h"
#include "ops/rnn_ops.h"
#include "ops/shape_ops.h"

namespace fastgrad {

namespace {

enum class Cell { Lstm, Gru, Tanh, Relu };

// Packed-row bookkeeping plus the static sizes of one call.
struct Seq {
  Cell cell;
  int64_t T, B, H, G, I, rows;  // G: gates (4 LSTM, 3 GRU, 1 RNN); I: input size
  std::vector<int64_t> bs, off;
  bool reverse;
  int64_t step(int64_t s) const { return reverse ? T - 1 - s : s; }  // s-th step run
};

Cell parse_cell(const std::string& mode) {
  if (mode == "LSTM") return Cell::Lstm;
  if (mode == "GRU") return Cell::Gru;
  if (mode == "RNN_TANH") return Cell::Tanh;
  FG_CHECK_VALUE(mode == "RNN_RELU", "rnn_sequence: unknown mode '", mode,
                 "' (expected LSTM, GRU, RNN_TANH or RNN_RELU)");
  return Cell::Relu;
}

void check_shape(const Tensor& t, const char* name, const Shape& want, const Tensor& ref) {
  const char* op = "rnn_sequence";
  FG_CHECK(t.sizes() == want, op, ": expected ", name, " of shape ", shape_str(want), ", got ",
           shape_str(t.sizes()));
  FG_CHECK_TYPE(t.dtype() == ref.dtype(), op, ": ", name, " has dtype ", t.dtype(),
                " but gi has ", ref.dtype());
  FG_CHECK(t.device() == ref.device(), op, ": expected all tensors on the same device, got ",
           ref.device(), " and ", t.device());
}

// rows [o, o + n) of a row-major matrix with `cols` columns
template <class T>
void copy_rows(const T* src, T* dst, int64_t n, int64_t cols) {
  std::copy(src, src + n * cols, dst);
}

// A new contiguous tensor holding x's values, not recorded (a state buffer).
Tensor fresh_copy(const Tensor& x) {
  autograd::GradModeGuard no_grad(false);
  Tensor y = empty(x.sizes(), x.dtype(), x.device());
  copy_(y, x, "rnn_sequence");
  return y;
}

// Saved per-row buffers of the forward, read by the backward.
struct Saved {
  Tensor w_hh;   // contiguous (G*H, H)
  Tensor w_ih;   // contiguous (G*H, I)
  Tensor xh;     // (rows, I + H): each row's input x, then the state its step started from
  Tensor cprev;  // LSTM: (rows, H) previous cell state
  Tensor work;   // LSTM (rows, 5H): i, f, g, o, tanh(c); GRU (rows, 4H): r, z, n, gh_n
};

// dst row r (of n, leading dim ld) = a row r (+ bias when given): the gates
// a step starts from. a == nullptr: the bias alone.
template <class T>
void init_rows(T* dst, int64_t ld, const T* a, const T* bias, int64_t n, int64_t cols) {
  for (int64_t r = 0; r < n; ++r) {
    T* d = dst + r * ld;
    const T* x = a == nullptr ? nullptr : a + r * cols;
    if (x == nullptr) std::copy(bias, bias + cols, d);
    else if (bias == nullptr) std::copy(x, x + cols, d);
    else for (int64_t j = 0; j < cols; ++j) d[j] = x[j] + bias[j];
  }
}

// gi: x W_ih^T plus the biases that are simply added; bh: the GRU's b_hh
// (inside r * (h W_hn^T + b_hn)) or nullptr.
template <class T>
void forward_loop(const Seq& q, const Tensor& gi, const T* bh, const Saved& s,
                  const Tensor& out, const Tensor& hn, const Tensor& cn) {
  const int64_t H = q.H, GH = q.G * H, LD = q.I + H;
  const T *GI = gi.data<T>(), *W = s.w_hh.data<T>();
  T *OUT = out.data<T>(), *HB = hn.data<T>(), *HP = s.xh.data<T>() + q.I;
  const bool gru = q.cell == Cell::Gru;
  Tensor gh = gru ? empty({q.B, GH}, gi.dtype()) : Tensor();
  for (int64_t k = 0; k < q.T; ++k) {
    const int64_t t = q.step(k), b = q.bs[t], o = q.off[t];
    const T* git = GI + o * GH;
    T* hp = HP + o * LD;
    for (int64_t r = 0; r < b; ++r) copy_rows(HB + r * H, hp + r * LD, 1, H);
    if (q.cell == Cell::Lstm) {
      // h W_hh^T in the first 4H columns of work; the row kernel adds gi
      T *wk = s.work.data<T>() + o * 5 * H, *CP = s.cprev.data<T>() + o * H, *CB = cn.data<T>();
      cpu::gemm<T>(false, true, b, GH, H, T(1), hp, LD, W, H, T(0), wk, 5 * H);
      copy_rows(CB, CP, b, H);
      rnn::for_rows(b, 8 * H, [&](int64_t r) {
        T* w = wk + r * 5 * H;
        rnn::lstm_row(git + r * GH, static_cast<const T*>(w), CP + r * H, w, CB + r * H,
                      HB + r * H, H);
      });
      copy_rows(HB, OUT + o * H, b, H);
    } else if (gru) {
      T* G = gh.data<T>();
      if (bh != nullptr) init_rows<T>(G, GH, nullptr, bh, b, GH);
      cpu::gemm<T>(false, true, b, GH, H, T(1), hp, LD, W, H, T(bh != nullptr), G, GH);
      T* wk = s.work.data<T>() + o * 4 * H;
      rnn::for_rows(b, 10 * H, [&](int64_t r) {
        rnn::gru_row(git + r * GH, G + r * GH, hp + r * LD, wk + r * 4 * H, HB + r * H, H);
      });
      copy_rows(HB, OUT + o * H, b, H);
    } else {
      T* y = OUT + o * H;
      copy_rows(git, y, b, H);
      cpu::gemm<T>(false, true, b, H, H, T(1), hp, LD, W, H, T(1), y, H);
      if (q.cell == Cell::Tanh) {
        rnn::map_gate(y, y, b * H, [](auto v) { return rnn::tanh_any<T>(v); });
      } else {
        for (int64_t j = 0; j < b * H; ++j) y[j] = y[j] < T(0) ? T(0) : y[j];  // NaN stays
      }
      copy_rows(y, HB, b, H);
    }
  }
}

// dst (cols, rows) = src (rows, cols)^T, in tiles that stay in cache.
template <class T>
void transpose_into(const T* src, int64_t rows, int64_t cols, T* dst) {
  constexpr int64_t kTile = 16;
  for (int64_t i0 = 0; i0 < rows; i0 += kTile)
    for (int64_t j0 = 0; j0 < cols; j0 += kTile)
      for (int64_t i = i0; i < std::min(rows, i0 + kTile); ++i)
        for (int64_t j = j0; j < std::min(cols, j0 + kTile); ++j)
          dst[j * rows + i] = src[i * cols + j];
}

// Column sums of a (rows, cols) matrix: the bias gradients. Blocks of rows
// are summed in T, the blocks in double (accurate without a slow loop).
template <class T>
Tensor column_sums(const T* m, int64_t rows, int64_t cols, DType dt) {
  constexpr int64_t kBlock = 32;
  std::vector<double> acc(cols, 0.0);
  std::vector<T> part(cols);
  for (int64_t r0 = 0; r0 < rows; r0 += kBlock) {
    std::fill(part.begin(), part.end(), T(0));
    for (int64_t r = r0; r < std::min(rows, r0 + kBlock); ++r) {
      const T* row = m + r * cols;
      for (int64_t j = 0; j < cols; ++j) part[j] += row[j];
    }
    for (int64_t j = 0; j < cols; ++j) acc[j] += part[j];
  }
  Tensor out = empty({cols}, dt);
  std::copy(acc.begin(), acc.end(), out.data<T>());
  return out;
}

// Which input gradients the node needs (by its edges).
struct Wanted {
  bool x, h0, bih, bhh;
};

// Plain backward: {dx, dh0, dc0 (LSTM), dW_ih, dW_hh, db_ih, db_hh} (x, h0
// and bias gradients only where wanted).
template <class T>
Tensors backward_loop(const Seq& q, const Saved& s, const Tensor& out, const Tensors& gs,
                      const Wanted& want) {
  const int64_t H = q.H, GH = q.G * H, I = q.I, LD = I + H;
  const DType dt = s.w_hh.dtype();
  const T *W = s.w_hh.data<T>(), *XH = s.xh.data<T>(), *HP = XH + I;
  Tensor gout = contiguous(gs[0]);
  Tensor dh = fresh_copy(gs[1]);  // ends as dh0
  Tensor dc = q.cell == Cell::Lstm ? fresh_copy(gs[2]) : Tensor();
  Tensor dgi = empty({q.rows, GH}, dt);
  // d(h W_hh^T): the same as d gi except for the GRU, whose n gate differs
  Tensor dgh = q.cell == Cell::Gru ? empty({q.rows, GH}, dt) : dgi;
  const T* GO = gout.data<T>();
  T *DH = dh.data<T>(), *DGI = dgi.data<T>(), *DGH = dgh.data<T>();
  for (int64_t k = q.T - 1; k >= 0; --k) {
    const int64_t t = q.step(k), b = q.bs[t], o = q.off[t];
    for (int64_t j = 0; j < b * H; ++j) DH[j] += GO[o * H + j];
    T beta(0);
    if (q.cell == Cell::Lstm) {
      const T *wk = s.work.data<T>() + o * 5 * H, *CP = s.cprev.data<T>() + o * H;
      T* DC = dc.data<T>();
      rnn::for_rows(b, 8 * H, [&](int64_t r) {
        rnn::lstm_row_backward(wk + r * 5 * H, CP + r * H, DH + r * H, DC + r * H,
                               DGI + (o + r) * GH, DC + r * H, H);
      });
    } else if (q.cell == Cell::Gru) {
      const T* wk = s.work.data<T>() + o * 4 * H;
      rnn::for_rows(b, 10 * H, [&](int64_t r) {
        rnn::gru_row_backward(wk + r * 4 * H, HP + (o + r) * LD, DH + r * H, DGI + (o + r) * GH,
                              DGH + (o + r) * GH, DH + r * H, H);
      });
      beta = T(1);  // dh0 = dh * z + dgh W_hh
    } else {
      const T* y = out.data<T>() + o * H;
      T* d = DGI + o * H;
      if (q.cell == Cell::Tanh) {
        for (int64_t j = 0; j < b * H; ++j) d[j] = DH[j] * (T(1) - y[j] * y[j]);
      } else {
        for (int64_t j = 0; j < b * H; ++j) d[j] = y[j] > T(0) ? DH[j] : T(0);
      }
    }
    if (k == 0 && !want.h0) break;  // what is left in dh would only be dh0
    cpu::gemm<T>(false, false, b, H, GH, T(1), DGH + o * GH, GH, W, H, beta, DH, H);
  }
  // [dW_ih | dW_hh]^T = [x | h_prev]^T @ dgates: one gemm over all rows
  // (two for the GRU, whose input and hidden gates differ), then transposed
  // (OpenBLAS runs this orientation faster than dgates^T @ [x | h_prev]).
  Tensor dwt = empty({LD, GH}, dt);
  T* DWT = dwt.data<T>();
  if (q.cell == Cell::Gru) {
    cpu::gemm<T>(true, false, I, GH, q.rows, T(1), XH, LD, DGI, GH, T(0), DWT, GH);
    cpu::gemm<T>(true, false, H, GH, q.rows, T(1), HP, LD, DGH, GH, T(0), DWT + I * GH, GH);
  } else {
    cpu::gemm<T>(true, false, LD, GH, q.rows, T(1), XH, LD, DGI, GH, T(0), DWT, GH);
  }
  Tensor dwi = empty({GH, I}, dt), dwh = empty({GH, H}, dt);
  transpose_into(DWT, I, GH, dwi.data<T>());
  transpose_into(DWT + I * GH, H, GH, dwh.data<T>());
  Tensor dx;
  if (want.x) {
    dx = empty({q.rows, I}, dt);
    cpu::gemm<T>(false, false, q.rows, I, GH, T(1), DGI, GH, s.w_ih.data<T>(), I, T(0),
                 dx.data<T>(), I);
  }
  // gi and the biases other than the GRU's b_hh enter the gates the same way
  Tensor dbi = want.bih || (want.bhh && q.cell != Cell::Gru)
                   ? column_sums(DGI, q.rows, GH, dt) : Tensor();
  Tensor dbh = !want.bhh ? Tensor() : q.cell == Cell::Gru ? column_sums(DGH, q.rows, GH, dt) : dbi;
  return {dx, want.h0 ? dh : Tensor(), dc, dwi, dwh, dbi, dbh};
}

// The state `x` (B, H) with rows [0, b) replaced by `head`, recorded.
Tensor merge(const Tensor& head, const Tensor& x, int64_t b) {
  const int64_t B = x.size(0);
  return b < B ? cat({head, narrow(x, 0, b, B - b)}, 0) : head;
}

// The recurrence replayed with recorded per-step ops (addmm, the fused cells,
// cat for the rows that ended): what the double backward differentiates
// (Note [RNN sequence double backward]), and the CUDA forward, whose
// gradients autograd then derives through those ops.
struct Replay {
  Tensor gi;                                          // x W_ih^T + added biases
  std::vector<Tensor> hp, cp, pre, gh, y, out;        // per time step t
  Tensor h, c;                                        // final states
};

Replay replay(const Seq& q, const Tensor& x, const Tensor& h0, const Tensor& c0,
              const Tensor& w_ih, const Tensor& w, const Tensor& bih, const Tensor& bhh) {
  const bool lstm = q.cell == Cell::Lstm, gru = q.cell == Cell::Gru;
  Replay r;
  r.gi = mm(x, t(w_ih));  // plus the biases that are simply added
  if (bih.defined()) r.gi = add(r.gi, bih);
  if (bhh.defined() && !gru) r.gi = add(r.gi, bhh);
  Tensor wt = t(w);
  for (auto* v : {&r.hp, &r.cp, &r.pre, &r.gh, &r.y, &r.out}) v->resize(q.T);
  Tensor h = h0, c = c0;
  for (int64_t k = 0; k < q.T; ++k) {
    const int64_t t = q.step(k), b = q.bs[t];
    Tensor git = narrow(r.gi, 0, q.off[t], b);
    r.hp[t] = narrow(h, 0, 0, b);
    Tensor hnew;
    if (lstm) {
      r.cp[t] = narrow(c, 0, 0, b);
      r.pre[t] = addmm(git, r.hp[t], wt);
      std::vector<Tensor> hc = lstm_cell_fused(r.pre[t], r.cp[t]);
      hnew = hc[0];
      c = merge(hc[1], c, b);
    } else if (gru) {
      r.gh[t] = bhh.defined() ? addmm(bhh, r.hp[t], wt) : mm(r.hp[t], wt);
      hnew = gru_cell_fused(git, r.gh[t], r.hp[t]);
    } else {
      r.pre[t] = addmm(git, r.hp[t], wt);
      hnew = r.y[t] = q.cell == Cell::Tanh ? fastgrad::tanh(r.pre[t]) : relu(r.pre[t]);
    }
    r.out[t] = hnew;
    h = merge(hnew, h, b);
  }
  r.h = h, r.c = c;
  return r;
}

// Note [RNN sequence double backward]: the same gradient from recorded ops.
Tensors backward_recorded(const Seq& q, const Tensor& x, const Tensor& h0, const Tensor& c0,
                          const Tensor& w_ih, const Tensor& w, const Tensor& bih,
                          const Tensor& bhh, const Tensors& gs) {
  const int64_t H = q.H;
  const bool lstm = q.cell == Cell::Lstm, gru = q.cell == Cell::Gru;
  Replay rp = replay(q, x, h0, c0, w_ih, w, bih, bhh);
  const Tensor& gi = rp.gi;
  std::vector<Tensor>&hp = rp.hp, &cp = rp.cp, &pre = rp.pre, &gh = rp.gh, &y = rp.y;
  Tensor dh = gs[1], dc = lstm ? gs[2] : Tensor();
  std::vector<Tensor> dgi(q.T), dgh(q.T);
  for (int64_t k = q.T - 1; k >= 0; --k) {
    const int64_t t = q.step(k), b = q.bs[t];
    Tensor dht = add(narrow(dh, 0, 0, b), narrow(gs[0], 0, q.off[t], b));
    Tensor dhp;
    if (lstm) {
      Tensors r = rnn::lstm_cell_backward_recorded(pre[t], cp[t], dht, narrow(dc, 0, 0, b), H);
      dgi[t] = dgh[t] = r[0];
      dhp = mm(r[0], w);
      dc = merge(r[1], dc, b);
    } else if (gru) {
      Tensors r = rnn::gru_cell_backward_recorded(narrow(gi, 0, q.off[t], b), gh[t], hp[t], dht, H);
      dgi[t] = r[0], dgh[t] = r[1];
      dhp = add(mm(r[1], w), r[2]);
    } else {
      dgi[t] = dgh[t] = q.cell == Cell::Tanh ? mul(dht, sub(Scalar(1), mul(y[t], y[t])))
                                             : mul(dht, gt(y[t], Scalar(0)));
      dhp = mm(dgi[t], w);
    }
    dh = merge(dhp, dh, b);
  }
  Tensor dgi_all = cat(dgi, 0), dgh_all = cat(dgh, 0);
  auto colsum = [](const Tensor& x) { return sum(x, std::vector<int64_t>{0}); };
  Tensor dbi = bih.defined() ? colsum(dgi_all) : Tensor();
  Tensor dbh = !bhh.defined() ? Tensor() : gru ? colsum(dgh_all) : colsum(dgi_all);
  return {mm(dgi_all, w_ih), dh, dc, mm(t(dgi_all), x), mm(t(dgh_all), cat(hp, 0)), dbi, dbh};
}

// The call's sizes, every argument checked.
Seq checked_seq(const std::string& mode, const Tensor& x,
                const std::vector<int64_t>& batch_sizes, const Tensor& h0, const Tensor& c0,
                const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih,
                const Tensor& b_hh, bool reverse) {
  const char* op = "rnn_sequence";
  Seq q;
  q.cell = parse_cell(mode);
  q.G = q.cell == Cell::Lstm ? 4 : q.cell == Cell::Gru ? 3 : 1;
  q.reverse = reverse;
  q.bs = batch_sizes;
  q.T = static_cast<int64_t>(batch_sizes.size());
  FG_CHECK(q.T > 0, op, ": batch_sizes is empty");
  q.rows = 0;
  for (int64_t t = 0; t < q.T; ++t) {
    FG_CHECK(q.bs[t] > 0 && (t == 0 || q.bs[t] <= q.bs[t - 1]), op,
             ": batch_sizes must be positive and non-increasing");
    q.off.push_back(q.rows);
    q.rows += q.bs[t];
  }
  q.B = q.bs[0];
  FG_CHECK(w_hh.defined() && w_hh.dim() == 2 && w_hh.sizes()[0] == q.G * w_hh.sizes()[1], op,
           ": expected w_hh of shape (", q.G, " * hidden_size, hidden_size)");
  q.H = w_hh.sizes()[1];
  const int64_t GH = q.G * q.H;
  FG_CHECK(x.defined() && x.dim() == 2, op, ": expected x of shape (rows, input_size)");
  q.I = x.sizes()[1];
  FG_CHECK(q.I > 0, op, ": input_size must be positive");
  FG_CHECK_TYPE(is_floating(x.dtype()), op, ": expected a floating dtype, got ", x.dtype());
  check_shape(x, "x", {q.rows, q.I}, x);
  check_shape(h0, "h0", {q.B, q.H}, x);
  FG_CHECK(w_ih.defined(), op, ": w_ih is undefined");
  check_shape(w_ih, "w_ih", {GH, q.I}, x);
  check_shape(w_hh, "w_hh", {GH, q.H}, x);
  const bool lstm = q.cell == Cell::Lstm;
  FG_CHECK(lstm == c0.defined(), op, ": c0 is required for LSTM and only for LSTM");
  if (lstm) check_shape(c0, "c0", {q.B, q.H}, x);
  if (b_ih.defined()) check_shape(b_ih, "b_ih", {GH}, x);
  if (b_hh.defined()) check_shape(b_hh, "b_hh", {GH}, x);
  return q;
}

}  // namespace

std::vector<Tensor> rnn_sequence_composed(const std::string& mode, const Tensor& x,
                                          const std::vector<int64_t>& batch_sizes,
                                          const Tensor& h0, const Tensor& c0,
                                          const Tensor& w_ih, const Tensor& w_hh,
                                          const Tensor& b_ih, const Tensor& b_hh, bool reverse) {
  Seq q = checked_seq(mode, x, batch_sizes, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse);
  Replay r = replay(q, x, h0, c0, w_ih, w_hh, b_ih, b_hh);
  std::vector<Tensor> outputs{cat(r.out, 0), r.h};
  if (q.cell == Cell::Lstm) outputs.push_back(r.c);
  return outputs;
}

std::vector<Tensor> rnn_sequence(const std::string& mode, const Tensor& x,
                                 const std::vector<int64_t>& batch_sizes, const Tensor& h0,
                                 const Tensor& c0, const Tensor& w_ih, const Tensor& w_hh,
                                 const Tensor& b_ih, const Tensor& b_hh, bool reverse) {
  const char* op = "rnn_sequence";
  if (x.defined() && is_16bit_float(x.dtype())) {  // Note [16-bit floats]
    checked_seq(mode, x, batch_sizes, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse);
    auto r = rnn_sequence(mode, as_float32(x), batch_sizes, as_float32(h0), as_float32(c0),
                          as_float32(w_ih), as_float32(w_hh), as_float32(b_ih),
                          as_float32(b_hh), reverse);
    for (Tensor& t : r) t = to_dtype(t, x.dtype());
    return r;
  }
  if (x.defined() && !x.device().is_cpu())
    return rnn_sequence_composed(mode, x, batch_sizes, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse);
  Seq q = checked_seq(mode, x, batch_sizes, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse);
  const int64_t GH = q.G * q.H;
  const bool lstm = q.cell == Cell::Lstm, gru = q.cell == Cell::Gru;
  const DType dt = x.dtype();
  const int64_t LD = q.I + q.H;
  Saved s;
  s.w_hh = contiguous(w_hh);
  s.w_ih = contiguous(w_ih);
  s.xh = empty({q.rows, LD}, dt);
  if (lstm) s.cprev = empty({q.rows, q.H}, dt);
  if (lstm || gru) s.work = empty({q.rows, (lstm ? 5 : 4) * q.H}, dt);
  Tensor out = empty({q.rows, q.H}, dt), gi = empty({q.rows, GH}, dt);
  Tensor hn = fresh_copy(h0);  // the state buffers: see the note at the top
  Tensor cn = lstm ? fresh_copy(c0) : Tensor();
  {
    // x into its columns of xh; the bias added to gi (b_ih, plus b_hh except
    // for the GRU) and the GRU's b_hh (inside r * (...)); none recorded
    autograd::GradModeGuard no_grad(false);
    copy_(narrow(s.xh, 1, 0, q.I), x, op);
    Tensor bx = b_ih.defined() ? contiguous(b_ih) : Tensor(), bh;
    if (!gru && b_hh.defined()) bx = bx.defined() ? add(bx, b_hh) : contiguous(b_hh);
    if (gru && b_hh.defined()) bh = contiguous(b_hh);
    dispatch_float(dt, op, [&](auto tag) {
      using T = decltype(tag);
      // gi = bias + x W_ih^T for every row: one gemm
      T* GI = gi.data<T>();
      if (bx.defined()) init_rows<T>(GI, GH, nullptr, bx.data<T>(), q.rows, GH);
      cpu::gemm<T>(false, true, q.rows, GH, q.I, T(1), s.xh.data<T>(), LD, s.w_ih.data<T>(),
                   q.I, T(bx.defined()), GI, GH);
      forward_loop<T>(q, gi, bh.defined() ? bh.data<T>() : nullptr, s, out, hn, cn);
    });
  }
  std::vector<Tensor> inputs{x, h0, c0, w_ih, w_hh, b_ih, b_hh}, outputs{out, hn};
  if (lstm) outputs.push_back(cn);
  // gradients come back in the order of `inputs` (empty where undefined)
  maybe_record(
      "RnnSequenceBackward", inputs, outputs,
      {s.w_hh, s.w_ih, s.xh, s.cprev, s.work, out, x, h0, c0, w_ih, w_hh, b_ih, b_hh},
      [q](const FunctionNode& n, const Tensors& gs) -> Tensors {
        auto opt = [&n](size_t i) { return n.saved_[i].defined() ? n.saved(i) : Tensor(); };
        if (autograd::grad_enabled())
          return backward_recorded(q, n.saved(6), n.saved(7), opt(8), n.saved(9), n.saved(10),
                                   opt(11), opt(12), gs);
        Saved sv{n.saved(0), n.saved(1), n.saved(2), opt(3), opt(4)};
        Tensor y = n.saved(5);
        Wanted want{n.needs_input_grad(0), n.needs_input_grad(1), n.needs_input_grad(5),
                    n.needs_input_grad(6)};
        Tensors g;
        dispatch_float(y.dtype(), "rnn_sequence", [&](auto tag) {
          g = backward_loop<decltype(tag)>(q, sv, y, gs, want);
        });
        return g;
      });
  return outputs;
}

}  // namespace fastgrad
