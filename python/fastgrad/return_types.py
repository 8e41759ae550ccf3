"""Named tuples returned by ops with several outputs (torch.return_types)."""

from collections import namedtuple

max = namedtuple("max", ["values", "indices"])  # noqa: A001
min = namedtuple("min", ["values", "indices"])  # noqa: A001

# Their repr mirrors torch.return_types.max(values=..., indices=...).
for _t in (max, min):
    _t.__module__ = "fastgrad.return_types"
    _t.__repr__ = lambda self: (
        f"fastgrad.return_types.{type(self).__name__}(\nvalues={self.values!r},\nindices={self.indices!r})"
    )
del _t
