"""Variable-length sequences: pad_sequence, PackedSequence, pack/unpack.

Packing and padding move rows with one gather (index_select) over a flat
(rows, *features) view, so each is a single differentiable op whatever the
batch size; the row indices are built from the lengths (metadata only).
"""

from collections import namedtuple

import fastgrad

from ... import _C, _factories

__all__ = [
    "PackedSequence",
    "invert_permutation",
    "pack_padded_sequence",
    "pack_sequence",
    "pad_packed_sequence",
    "pad_sequence",
    "unpack_sequence",
    "unpad_sequence",
]

_PackedSequenceBase = namedtuple(
    "PackedSequence", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"]
)


def _index_tensor(values, device=None):
    t = fastgrad.tensor(list(values), dtype=fastgrad.int64)
    return t if device is None else t.to(device)


def _int_list(t):
    return [int(v) for v in (t.tolist() if hasattr(t, "tolist") else t)]


def invert_permutation(permutation):
    """The permutation q with q[p[i]] = i (None stays None)."""
    if permutation is None:
        return None
    p = _int_list(permutation)
    inv = [0] * len(p)
    for i, v in enumerate(p):
        inv[v] = i
    return _index_tensor(inv, permutation.device)


class PackedSequence(_PackedSequenceBase):
    """Sequences of several lengths packed time step by time step: `data` holds
    the rows of step 0 for all batch_sizes[0] sequences, then step 1 for the
    batch_sizes[1] sequences still running, ... (sequences sorted by length,
    longest first; sorted_indices maps that order to the original batch)."""

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:  # PackedSequence((data, batch_sizes))
            data, batch_sizes = data
        if not hasattr(batch_sizes, "dim"):
            batch_sizes = _index_tensor(_int_list(batch_sizes))
        elif batch_sizes.dim() != 1:
            raise ValueError(
                "PackedSequence: batch_sizes should be a 1-D int64 tensor, got "
                f"{batch_sizes.dim()}-D"
            )
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        """data.to(...); index tensors follow data's device; batch_sizes stays on CPU."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self

        def move(t):
            return None if t is None else t.to(data.device)

        return type(self)(
            data, self.batch_sizes, move(self.sorted_indices), move(self.unsorted_indices)
        )

    def cpu(self, *args, **kwargs):
        return self.to("cpu")

    def double(self):
        return self.to(dtype=fastgrad.float64)

    def float(self):
        return self.to(dtype=fastgrad.float32)

    @property
    def is_cuda(self):
        return self.data.device.type == "cuda"

    def is_pinned(self):
        return False


def _lengths_list(lengths, op):
    if hasattr(lengths, "dim"):
        if lengths.dim() != 1:
            raise ValueError(f"{op}: lengths must be a 1-D tensor, got {lengths.dim()}-D")
        if lengths.is_floating_point():
            raise TypeError(f"{op}: lengths must be integers, got {lengths.dtype}")
    out = _int_list(lengths)
    for v in out:
        if v <= 0:
            raise RuntimeError(
                f"{op}: length of all samples has to be greater than 0, but found an "
                f"element in 'lengths' that is <= 0 (lengths={out})"
            )
    return out


def _batch_sizes(sorted_lengths):
    """batch_sizes[t] = how many sequences are longer than t."""
    sizes, b = [], len(sorted_lengths)
    for t in range(sorted_lengths[0]):
        while sorted_lengths[b - 1] <= t:
            b -= 1
        sizes.append(b)
    return sizes


def _flat_rows(x, rows):
    """x reshaped to (rows, *x.shape[2:])."""
    return x.reshape([rows] + list(x.shape[2:]))


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Packs a padded (T, B, *) (or (B, T, *) with batch_first) batch."""
    op = "pack_padded_sequence"
    if input.dim() < 2:
        raise ValueError(f"{op}: expected input of at least 2 dims (T, B, *), got {input.dim()}-D")
    lens = _lengths_list(lengths, op)
    T, B = (input.shape[1], input.shape[0]) if batch_first else (input.shape[0], input.shape[1])
    if len(lens) != B:
        raise ValueError(
            f"{op}: expected len(lengths) to be equal to batch_size, but got {len(lens)} "
            f"(batch_size={B})"
        )
    if enforce_sorted:
        if any(lens[i] < lens[i + 1] for i in range(len(lens) - 1)):
            raise RuntimeError(
                f"{op}: `lengths` array must be sorted in decreasing order when "
                "`enforce_sorted` is True (got lengths="
                f"{lens}). You can pass `enforce_sorted=False` to pack_padded_sequence "
                "and/or pack_sequence to sidestep this requirement if you do not need "
                "ONNX exportability."
            )
        order = None
    else:
        order = sorted(range(B), key=lambda i: -lens[i])  # stable: ties keep batch order
    perm = order if order is not None else list(range(B))
    sorted_lens = [lens[i] for i in perm]
    if sorted_lens[0] > T:
        raise ValueError(
            f"{op}: the longest sequence has length {sorted_lens[0]}, but the padded input "
            f"has only {T} time steps"
        )
    sizes = _batch_sizes(sorted_lens)
    # row of (t, sorted position s) in the flat padded input
    if batch_first:
        idx = [perm[s] * T + t for t, b in enumerate(sizes) for s in range(b)]
    else:
        idx = [t * B + perm[s] for t, b in enumerate(sizes) for s in range(b)]
    flat = _flat_rows(input, T * B)
    data = _C.index_select(flat, 0, _index_tensor(idx, input.device))
    sorted_indices = None if order is None else _index_tensor(order, input.device)
    return PackedSequence(data, _index_tensor(sizes), sorted_indices, None)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Inverse of pack_padded_sequence: (padded, lengths) in the original batch order."""
    data, batch_sizes = sequence.data, _int_list(sequence.batch_sizes)
    T, B = len(batch_sizes), batch_sizes[0]
    if total_length is not None:
        if total_length < T:
            raise ValueError(
                "Expected total_length to be at least the length of the longest sequence "
                f"in input, but got total_length={total_length} and max sequence length "
                f"being {T}"
            )
        T_out = total_length
    else:
        T_out = T
    lens_sorted = [sum(1 for b in batch_sizes if b > s) for s in range(B)]
    unsorted = (
        _int_list(sequence.unsorted_indices)
        if sequence.unsorted_indices is not None
        else list(range(B))
    )
    offsets = [0]
    for b in batch_sizes:
        offsets.append(offsets[-1] + b)
    pad_row = offsets[-1]  # index of the appended padding row

    def src(t, j):
        s = unsorted[j]
        return offsets[t] + s if t < T and s < batch_sizes[t] else pad_row

    if batch_first:
        idx = [src(t, j) for j in range(B) for t in range(T_out)]
    else:
        idx = [src(t, j) for t in range(T_out) for j in range(B)]
    pad = _factories.full([1] + list(data.shape[1:]), padding_value, dtype=data.dtype, device=data.device)
    ext = _C.cat([data, pad], 0)
    out = _C.index_select(ext, 0, _index_tensor(idx, data.device))
    shape = [B, T_out] if batch_first else [T_out, B]
    lengths = _index_tensor([lens_sorted[unsorted[j]] for j in range(B)])
    return out.reshape(shape + list(data.shape[1:])), lengths


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stacks (L_i, *) tensors into (L_max, B, *) (or (B, L_max, *)), padded."""
    op = "pad_sequence"
    if padding_side not in ("right", "left"):
        raise ValueError(
            f"{op}: padding_side must be 'left' or 'right', got {padding_side!r}"
        )
    if hasattr(sequences, "dim"):
        sequences = list(sequences.unbind(0))
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError(f"{op}: received an empty list of sequences")
    trailing = list(sequences[0].shape[1:])
    for i, s in enumerate(sequences):
        if s.dim() == 0 or list(s.shape[1:]) != trailing:
            raise RuntimeError(
                f"{op}: all sequences must have shape (L, {', '.join(map(str, trailing))}"
                f"{',' if len(trailing) == 1 else ''}) (only the first dim may differ); "
                f"sequence 0 has shape {list(sequences[0].shape)} and sequence {i} has "
                f"shape {list(s.shape)}"
            )
    lens = [s.shape[0] for s in sequences]
    B, L = len(sequences), max(lens)
    starts = [0]
    for n in lens:
        starts.append(starts[-1] + n)
    pad_row = starts[-1]

    def src(t, j):
        pos = t if padding_side == "right" else t - (L - lens[j])
        return starts[j] + pos if 0 <= pos < lens[j] else pad_row

    if batch_first:
        idx = [src(t, j) for j in range(B) for t in range(L)]
    else:
        idx = [src(t, j) for t in range(L) for j in range(B)]
    ref = sequences[0]
    pad = _factories.full([1] + trailing, padding_value, dtype=ref.dtype, device=ref.device)
    ext = _C.cat(list(sequences) + [pad], 0)
    out = _C.index_select(ext, 0, _index_tensor(idx, ref.device))
    return out.reshape(([B, L] if batch_first else [L, B]) + trailing)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """The list of unpadded sequences of a padded batch."""
    lens = _int_list(lengths)
    x = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    return [x[i][: lens[i]] for i in range(len(lens))]


def pack_sequence(sequences, enforce_sorted=True):
    """Packs a list of (L_i, *) tensors."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """The list of sequences of a PackedSequence, in the original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
