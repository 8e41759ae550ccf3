"""fastgrad.nn: neural-network building blocks (for now only `functional`)."""

from . import functional  # noqa: F401
