"""BatchNorm1d, BatchNorm2d."""

__all__ = []
