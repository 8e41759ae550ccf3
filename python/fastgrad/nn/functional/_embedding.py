"""Functional embedding."""

__all__ = []
