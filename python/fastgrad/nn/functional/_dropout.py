"""Functional dropout."""

__all__ = []
