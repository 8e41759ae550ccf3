"""Variable-length sequences: pad_sequence, PackedSequence, pack/unpack."""

__all__ = []
