"""The transfer ledger: what copies between devices a block of code makes.

    with fastgrad.cuda.transfers() as log:
        loss = model(x.to("cuda")).sum(); loss.backward()
    print(log)            # one line per (direction, Python line): count and bytes
    log.records           # every copy: Transfer(src, dst, nbytes, implicit, where)

Every copy made by ``to``/``cpu``/``cuda`` and by the backward of such a copy is
recorded with its Python line (the ``backward()`` call for a backward copy).
``strict_transfers()`` turns *implicit* copies -- ``item()``, ``tolist()``,
``bool(t)``, ``float(t)``, ``int(t)`` of a GPU tensor, each a hidden
synchronisation -- into RuntimeErrors naming the line, so a hot loop cannot pay
for them by accident.
"""

from collections import namedtuple
from contextlib import contextmanager

from .. import _C

__all__ = ["Transfer", "TransferLog", "transfers", "strict_transfers"]

Transfer = namedtuple("Transfer", "src dst nbytes implicit where")
Transfer.__doc__ = "One copy between devices; `implicit` names what asked for it ('' if explicit)."


def _size(n):
    for unit in ("B", "KiB", "MiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


class TransferLog:
    """Context manager collecting the copies between devices made inside it."""

    def __init__(self):
        self.records = []
        self._first = None

    def __enter__(self):
        self.records = []
        self._first = _C._transfers_begin()
        return self

    def __exit__(self, *exc):
        self.records = [Transfer(str(s), str(d), n, i, w) for s, d, n, i, w in
                        _C._transfers_end(self._first)]
        return False

    @property
    def count(self):
        return len(self.records)

    @property
    def nbytes(self):
        return sum(r.nbytes for r in self.records)

    def summary(self):
        """[(src, dst, where, implicit, count, nbytes)] grouped, largest first."""
        groups = {}
        for r in self.records:
            key = (r.src, r.dst, r.where, r.implicit)
            c, b = groups.get(key, (0, 0))
            groups[key] = (c + 1, b + r.nbytes)
        rows = [k + v for k, v in groups.items()]
        return sorted(rows, key=lambda row: -row[5])

    def __str__(self):
        if not self.records:
            return "no copies between devices"
        lines = [f"{self.count} copies between devices, {_size(self.nbytes)} in all:"]
        for src, dst, where, implicit, count, nbytes in self.summary():
            how = f" [implicit: {implicit}]" if implicit else ""
            lines.append(f"  {src} -> {dst}: {count} x, {_size(nbytes)} at {where or '?'}{how}")
        return "\n".join(lines)

    __repr__ = __str__


def transfers():
    """A TransferLog for a ``with`` block (they nest: each sees its own copies)."""
    return TransferLog()


@contextmanager
def strict_transfers(enabled=True):
    """Within the block, implicit copies between devices raise a RuntimeError."""
    prev = _C._strict_transfers()
    _C._set_strict_transfers(bool(enabled))
    try:
        yield
    finally:
        _C._set_strict_transfers(prev)
