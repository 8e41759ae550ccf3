"""Functional max/avg/adaptive pooling."""

__all__ = []
