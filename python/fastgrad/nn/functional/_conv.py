"""Functional conv1d/conv2d (C++ kernels in csrc/ops/conv.cpp)."""

__all__ = []
