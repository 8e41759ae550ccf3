"""TransformerEncoderLayer, TransformerEncoder."""

__all__ = []
