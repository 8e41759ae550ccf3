"""LayerNorm."""

__all__ = []
