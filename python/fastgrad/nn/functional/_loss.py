"""Functional losses."""

__all__ = []
