"""Conv1d, Conv2d."""

__all__ = []
