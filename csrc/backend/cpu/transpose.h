// Cache-blocked 2-d copies for layouts whose source and destination walk
// memory in different orders (x.T.contiguous(), column tiles of the reduction
// engine).
//
// Note [Tiled transpose]: copying a transposed matrix element by element in
// the destination's order reads one element per source cache line (and, for
// rows of 4 KiB or more, one per page), so every read misses. Copying tiles
// instead keeps the tile's source lines in L1 while the destination is
// written a run at a time: each cache line on either side is fetched once.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "backend/cpu/parallel.h"
#include "backend/cpu/strided_loop.h"

namespace fastgrad::cpu {

constexpr int64_t kTileI = 64, kTileJ = 8;

// dst[i * dr + j * dc] = f(src[i * sr + j * sc]) for i < rows, j < cols
// (strides in elements), tile by tile; j runs innermost inside a tile: pass
// the destination's contiguous dim as j and the source's as i.
template <class To, class From, class F>
inline void copy_2d_tiled(To* dst, int64_t dr, int64_t dc, const From* src, int64_t sr,
                          int64_t sc, int64_t rows, int64_t cols, const F& f) {
  for (int64_t i0 = 0; i0 < rows; i0 += kTileI) {
    const int64_t i1 = std::min(rows, i0 + kTileI);
    for (int64_t j0 = 0; j0 < cols; j0 += kTileJ) {
      const int64_t j1 = std::min(cols, j0 + kTileJ);
      for (int64_t i = i0; i < i1; ++i) {
        To* d = dst + i * dr;
        const From* s = src + i * sr;
        if (dc == 1) {
          for (int64_t j = j0; j < j1; ++j) d[j] = f(s[j * sc]);
        } else {
          for (int64_t j = j0; j < j1; ++j) d[j * dc] = f(s[j * sc]);
        }
      }
    }
  }
}

// out = f(in) elementwise (same shape, no broadcasting) through tiles when
// the innermost dim of out is not the innermost dim of in, e.g.
// x.T.contiguous(). Returns false, doing nothing, where the plain strided
// loop is as good (small tensors, same innermost dim, broadcasts).
template <class To, class From, class F>
bool copy_transposed(const Tensor& out, const Tensor& in, const F& f) {
  constexpr int64_t kMinNumel = 4096;  // below this the tiles' overhead wins
  if (out.numel() < kMinNumel || in.sizes() != out.sizes()) return false;
  auto L = make_layout<2>(out.sizes(), {&out, &in});
  const int64_t nd = static_cast<int64_t>(L.sizes.size());
  if (nd < 2) return false;
  auto elems = [&](int64_t d, int k) {
    return L.strides[d][k] / static_cast<int64_t>(k == 0 ? sizeof(To) : sizeof(From));
  };
  const int64_t jd = nd - 1;  // out's innermost dim (j, written in runs)
  if (elems(jd, 1) == 1 || elems(jd, 1) == 0) return false;
  // i: the dim the input steps through most finely, read in runs.
  int64_t id = -1;
  for (int64_t d = 0; d < jd; ++d) {
    const int64_t s = std::llabs(elems(d, 1));
    if (s != 0 && s < std::llabs(elems(jd, 1)) && (id < 0 || s < std::llabs(elems(id, 1))))
      id = d;
  }
  if (id < 0) return false;
  // Every other dim is a batch of independent 2-d copies.
  std::vector<int64_t> bsz, bso, bsi;
  for (int64_t d = 0; d < nd; ++d)
    if (d != id && d != jd) {
      bsz.push_back(L.sizes[d]);
      bso.push_back(elems(d, 0));
      bsi.push_back(elems(d, 1));
    }
  const int64_t rows = L.sizes[id], cols = L.sizes[jd];
  const int64_t strips = (rows + kTileI - 1) / kTileI;
  const int64_t batches = numel_of(bsz);
  To* ob = static_cast<To*>(out.raw_data());
  const From* ib = static_cast<const From*>(in.raw_data());
  const int64_t grain = std::max<int64_t>(1, kGrain / (kTileI * cols));
  parallel_for(0, batches * strips, grain, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      int64_t bi = t / strips, oo = 0, io = 0;
      for (int64_t d = static_cast<int64_t>(bsz.size()) - 1; d >= 0; --d) {
        oo += bi % bsz[d] * bso[d];
        io += bi % bsz[d] * bsi[d];
        bi /= bsz[d];
      }
      const int64_t i0 = t % strips * kTileI;
      copy_2d_tiled(ob + oo + i0 * elems(id, 0), elems(id, 0), elems(jd, 0),
                    ib + io + i0 * elems(id, 1), elems(id, 1), elems(jd, 1),
                    std::min(kTileI, rows - i0), cols, f);
    }
  });
  return true;
}

}  // namespace fastgrad::cpu
