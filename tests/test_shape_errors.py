"""Error cases of the shape ops: exception type and a message that names the op
(and says what PyTorch says)."""

import fastgrad as fg
import numpy as np
import pytest


# ---- errors ------------------------------------------------------------------------------
def t23():
    return fg.tensor(np.zeros((2, 3), np.float32))


ERROR_CASES = [
    (
        "view_stride",
        lambda: t23().t().view(6),
        RuntimeError,
        (
            r"^view: view size is not compatible with input "
            r"tensor's size and stride \(at least one dimension spans across two contiguous subspaces\)\. "
            r"Use \.reshape\(\.\.\.\) instead\."
        ),
    ),
    (
        "view_expand",
        lambda: t23().narrow(1, 0, 1).expand(2, 4).view(8),
        RuntimeError,
        "^view: view size is not compatible",
    ),
    (
        "view_numel",
        lambda: t23().view(2, 5),
        RuntimeError,
        r"^view: shape '\[2, 5\]' is invalid for input of size 6",
    ),
    (
        "view_two_infer",
        lambda: t23().view(-1, -1),
        RuntimeError,
        "^view: only one dimension can be inferred",
    ),
    (
        "view_neg",
        lambda: t23().view(-2, 3),
        RuntimeError,
        r"^view: invalid shape dimension -2",
    ),
    ("view_type", lambda: t23().view(2.0, 3), TypeError, "view"),
    (
        "reshape_ambiguous",
        lambda: fg.tensor(np.zeros((0, 3))).reshape(-1, 0),
        RuntimeError,
        (
            r"^reshape: cannot reshape tensor of 0 elements into shape \[-1, 0\] because the unspecified dimension "
            r"size -1 can be any value and is ambiguous"
        ),
    ),
    (
        "reshape_numel",
        lambda: fg.reshape(t23(), (4,)),
        RuntimeError,
        r"^reshape: shape '\[4\]' is invalid",
    ),
    (
        "permute_len",
        lambda: t23().permute(0),
        RuntimeError,
        "^permute: number of dimensions",
    ),
    (
        "permute_dup",
        lambda: t23().permute(1, 1),
        RuntimeError,
        "^permute: duplicate dims",
    ),
    (
        "permute_range",
        lambda: t23().permute(0, 2),
        IndexError,
        "^permute: dimension 2 out of range",
    ),
    (
        "transpose_range",
        lambda: t23().transpose(0, -3),
        IndexError,
        "^transpose: dimension -3 out of range",
    ),
    (
        "t_3d",
        lambda: t23().unsqueeze(0).t(),
        RuntimeError,
        (
            r"^t: t\(\) expects a tensor with <= 2 dimensions, "
            "but self is 3D"
        ),
    ),
    (
        "mT_1d",
        lambda: t23().flatten().mT,
        RuntimeError,
        "^mT: tensor.mT is only supported on matrices",
    ),
    (
        "squeeze_range",
        lambda: t23().squeeze(2),
        IndexError,
        "^squeeze: dimension 2 out of range",
    ),
    (
        "squeeze_dup",
        lambda: t23().squeeze((1, -2 + 3)),
        RuntimeError,
        "^squeeze: dim 1 appears multiple times",
    ),
    (
        "unsqueeze_range",
        lambda: t23().unsqueeze(3),
        IndexError,
        r"^unsqueeze: dimension 3 out of range.*\[-3, 2\]",
    ),
    (
        "flatten_order",
        lambda: t23().flatten(1, 0),
        RuntimeError,
        "^flatten: .*start_dim cannot come after end_dim",
    ),
    (
        "flatten_range",
        lambda: t23().flatten(0, 2),
        IndexError,
        "^flatten: dimension 2 out of range",
    ),
    (
        "unflatten_product",
        lambda: t23().unflatten(1, (2, 2)),
        RuntimeError,
        r"^unflatten: Provided sizes \[2, 2\] don't multiply up to the size of dim 1 \(3\)",
    ),
    (
        "unflatten_empty",
        lambda: t23().unflatten(1, ()),
        RuntimeError,
        "^unflatten: sizes must be non-empty",
    ),
    (
        "unflatten_two_infer",
        lambda: t23().unflatten(1, (-1, -1)),
        RuntimeError,
        "^unflatten: only one dimension can be inferred",
    ),
    (
        "expand_fewer",
        lambda: t23().expand(3),
        RuntimeError,
        (
            r"^expand: the number of sizes provided \(1\) must be "
            r"greater or equal to the number of dimensions in the tensor \(2\)"
        ),
    ),
    (
        "expand_mismatch",
        lambda: t23().expand(2, 4),
        RuntimeError,
        (
            r"^expand: The expanded size of the tensor \(4\) "
            r"must match the existing size \(3\) at non-singleton dimension 1\.  Target sizes: \[2, 4\]\.  "
            r"Tensor sizes: \[2, 3\]"
        ),
    ),
    (
        "expand_lead_neg",
        lambda: t23().expand(-1, 2, 3),
        RuntimeError,
        r"^expand: .*\(-1\) isn't allowed in a leading",
    ),
    (
        "broadcast_to",
        lambda: fg.broadcast_to(t23(), (3, 3)),
        RuntimeError,
        "^broadcast_to: The expanded size",
    ),
    (
        "broadcast_tensors",
        lambda: fg.broadcast_tensors(t23(), t23().t()),
        RuntimeError,
        "^broadcast_tensors: shape .* cannot be broadcast",
    ),
    (
        "broadcast_shapes",
        lambda: fg.broadcast_shapes((2,), (3,)),
        RuntimeError,
        "^broadcast_shapes: ",
    ),
    (
        "narrow_0d",
        lambda: t23().select(0, 0).select(0, 0).narrow(0, 0, 1),
        RuntimeError,
        r"^narrow: narrow\(\) cannot be applied to a 0-dim tensor",
    ),
    (
        "narrow_start",
        lambda: t23().narrow(1, 4, 0),
        IndexError,
        r"^narrow: start out of range \(expected to be in range of \[-3, 3\], but got 4\)",
    ),
    (
        "narrow_length",
        lambda: t23().narrow(1, 1, 3),
        RuntimeError,
        r"^narrow: start \(1\) \+ length \(3\) exceeds dimension size \(3\)",
    ),
    (
        "narrow_neg_length",
        lambda: t23().narrow(1, 1, -1),
        RuntimeError,
        "^narrow: .*length must be non-negative",
    ),
    (
        "narrow_dim",
        lambda: t23().narrow(2, 0, 1),
        IndexError,
        "^narrow: dimension 2 out of range",
    ),
    (
        "select_index",
        lambda: t23().select(0, 2),
        IndexError,
        r"^select: index 2 out of range for tensor of size \[2, 3\] at dimension 0",
    ),
    (
        "select_neg_index",
        lambda: t23().select(1, -4),
        IndexError,
        r"^select: index -4 out of range",
    ),
    (
        "select_0d",
        lambda: t23().select(0, 0).select(0, 0).select(0, 0),
        IndexError,
        r"^select: select\(\) cannot be applied to a 0-dim tensor",
    ),
    (
        "unbind_0d",
        lambda: t23().select(0, 0).select(0, 0).unbind(),
        IndexError,
        "^unbind: Dimension specified as 0 but tensor has no dimensions",
    ),
    (
        "unbind_range",
        lambda: t23().unbind(2),
        IndexError,
        "^unbind: dimension 2 out of range",
    ),
    (
        "split_neg",
        lambda: t23().split(-1),
        RuntimeError,
        "^split: split expects split_size be non-negative",
    ),
    (
        "split_zero",
        lambda: t23().split(0),
        RuntimeError,
        "^split: split_size can only be 0 if dimension size is 0",
    ),
    (
        "split_sizes",
        lambda: t23().split([1, 2, 1], 1),
        RuntimeError,
        (
            r"^split_with_sizes: split_with_sizes expects split_sizes to sum exactly to 3 "
            r"\(input tensor's size at dimension 1\), but got split_sizes=\[1, 2, 1\]"
        ),
    ),
    (
        "split_sizes_neg",
        lambda: t23().split([3, -1], 1),
        RuntimeError,
        "^split_with_sizes: .*non-negative",
    ),
    (
        "split_0d",
        lambda: t23().select(0, 0).select(0, 0).split(1),
        RuntimeError,
        "^split: .*at least a 1-dim",
    ),
    (
        "chunk_zero",
        lambda: t23().chunk(0),
        RuntimeError,
        "^chunk: chunk expects `chunks` to be greater than 0, got: 0",
    ),
    (
        "chunk_range",
        lambda: t23().chunk(2, 3),
        IndexError,
        "^chunk: dimension 3 out of range",
    ),
    (
        "movedim_len",
        lambda: t23().movedim((0, 1), (0,)),
        RuntimeError,
        r"^movedim: Invalid source or destination dims",
    ),
    (
        "movedim_dup",
        lambda: t23().movedim((0, 0), (0, 1)),
        RuntimeError,
        r"^movedim: repeated dim in `source`",
    ),
    (
        "movedim_dup_dst",
        lambda: t23().movedim((0, 1), (1, 1)),
        RuntimeError,
        r"^movedim: repeated dim in `destination`",
    ),
    (
        "movedim_range",
        lambda: t23().movedim(0, 2),
        IndexError,
        "^movedim: dimension 2 out of range",
    ),
    (
        "diagonal_same",
        lambda: t23().diagonal(0, 1, -1),
        RuntimeError,
        "^diagonal: diagonal dimensions cannot be identical",
    ),
    (
        "diagonal_1d",
        lambda: t23().flatten().diagonal(),
        IndexError,
        "^diagonal: dimension 1 out of range",
    ),
    (
        "as_strided_oob",
        lambda: t23().as_strided((3, 3), (3, 1)),
        RuntimeError,
        (
            r"^as_strided: sizes \[3, 3\], strides \[3, 1\], storage offset 0, and itemsize 4 requiring a storage "
            r"size of 36 are out of bounds for storage of size 24"
        ),
    ),
    (
        "as_strided_offset",
        lambda: t23().as_strided((1,), (1,), 6),
        RuntimeError,
        "^as_strided: .*out of bounds",
    ),
    (
        "as_strided_huge",
        lambda: t23().as_strided((2**62, 4), (2**62, 1)),
        RuntimeError,
        "^as_strided: .*out of bounds",
    ),
    (
        "as_strided_neg",
        lambda: t23().as_strided((3,), (-1,)),
        RuntimeError,
        "^as_strided: Negative strides",
    ),
    (
        "as_strided_neg_offset",
        lambda: t23().as_strided((1,), (1,), -1),
        RuntimeError,
        "^as_strided: invalid storage offset -1",
    ),
    (
        "as_strided_len",
        lambda: t23().as_strided((1, 1), (1,)),
        RuntimeError,
        "^as_strided: mismatch in length",
    ),
    (
        "cat_empty_list",
        lambda: fg.cat([]),
        ValueError,
        "^cat: expected a non-empty list of Tensors",
    ),
    (
        "cat_0d",
        lambda: fg.cat([t23().select(0, 0).select(0, 0)]),
        RuntimeError,
        r"^cat: zero-dimensional tensor \(at position 0\) cannot be concatenated",
    ),
    (
        "cat_rank",
        lambda: fg.cat([t23(), t23().unsqueeze(0)]),
        RuntimeError,
        "^cat: Tensors must have same number of dimensions: got 2 and 3",
    ),
    (
        "cat_size",
        lambda: fg.cat([t23(), t23().t()], 1),
        RuntimeError,
        (
            r"^cat: Sizes of tensors must match except in dimension 1\. Expected size 2 but got size 3 "
            r"for tensor number 1 in the list\."
        ),
    ),
    (
        "cat_dim",
        lambda: fg.cat([t23(), t23()], 2),
        IndexError,
        "^cat: dimension 2 out of range",
    ),
    ("cat_not_tensor", lambda: fg.cat([t23(), 3]), TypeError, "cat"),
    (
        "stack_empty",
        lambda: fg.stack([]),
        RuntimeError,
        "^stack: stack expects a non-empty TensorList",
    ),
    (
        "stack_shapes",
        lambda: fg.stack([t23(), t23().t()]),
        RuntimeError,
        r"^stack: stack expects each tensor to be equal size, but got \[2, 3\] at entry 0 and \[3, 2\] at entry 1",
    ),
    (
        "stack_dim",
        lambda: fg.stack([t23()], 3),
        IndexError,
        "^stack: dimension 3 out of range",
    ),
    (
        "repeat_fewer",
        lambda: t23().repeat(2),
        RuntimeError,
        "^repeat: Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor",
    ),
    (
        "repeat_neg",
        lambda: t23().repeat(2, -1),
        RuntimeError,
        r"^repeat: Trying to create tensor with negative dimension -3: \[4, -3\]",
    ),
    (
        "repeat_overflow",
        lambda: t23().repeat(2**62, 4),
        RuntimeError,
        "^repeat: .*overflow",
    ),
    (
        "repeat_too_large",
        lambda: t23().repeat(2**40, 2**40),
        RuntimeError,
        "^repeat: .*too large",
    ),
    (
        "expand_overflow",
        lambda: t23().narrow(0, 0, 1).expand(2**62, 2**62, 3),
        RuntimeError,
        "^expand: the number of elements .* overflows",
    ),
    (
        "broadcast_overflow",
        lambda: fg.broadcast_tensors(
            t23().narrow(1, 0, 1).narrow(0, 0, 1).expand(2**62, 1),
            t23().narrow(0, 0, 1).narrow(1, 0, 1).expand(1, 2**62),
        ),
        RuntimeError,
        "^broadcast_tensors: .*overflows",
    ),
    (
        "flip_dup",
        lambda: t23().flip(0, -2),
        RuntimeError,
        "^flip: dim 0 appears multiple times in the list of dims",
    ),
    (
        "flip_range",
        lambda: t23().flip(2),
        IndexError,
        "^flip: dimension 2 out of range",
    ),
    (
        "roll_align",
        lambda: t23().roll((1, 2), (0,)),
        RuntimeError,
        "^roll: shifts and dimensions must align. shifts: 2, dims:1",
    ),
    (
        "roll_align_flat",
        lambda: t23().roll((1, 2)),
        RuntimeError,
        "^roll: shifts and dimensions must align",
    ),
    (
        "roll_range",
        lambda: t23().roll(1, 2),
        IndexError,
        "^roll: dimension 2 out of range",
    ),
    (
        "tril_1d",
        lambda: t23().flatten().tril(),
        RuntimeError,
        "^tril: input tensor must have at least 2 dimensions",
    ),
    (
        "triu_1d",
        lambda: fg.triu(t23().flatten()),
        RuntimeError,
        "^triu: input tensor must have at least 2 dimensions",
    ),
    (
        "tril__1d",
        lambda: t23().flatten().tril_(),
        RuntimeError,
        "^tril_: input tensor must have at least 2 dim",
    ),
]


@pytest.mark.parametrize(
    "name,fn,exc,match", ERROR_CASES, ids=[c[0] for c in ERROR_CASES]
)
def test_errors(name, fn, exc, match):
    with pytest.raises(exc, match=match):
        fn()
