"""Functional batch_norm, layer_norm."""

__all__ = []
