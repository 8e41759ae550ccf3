"""Calls every public fastgrad function and Tensor method with wrong arguments.

Every call must return or raise one of the documented Python exceptions; anything
else (a segfault, an abort, an AttributeError/KeyError from deep inside) is a bug.
Run by tests/test_bad_input.py in a subprocess so a crash is reported, not fatal.
"""

import collections
import itertools
import random

import fastgrad as fg

t = fg.ones(2, 3)
i = fg.tensor([[1, 2, 3], [4, 5, 6]])
b = fg.tensor([True, False])
e = fg.ones(0, 3)
z = fg.tensor(1.0)
vals = [t, i, b, e, z, None, "a", 1.5, -1, 2**70, [1, 2], (0, 1), slice(None), ..., object(), fg.float64, [], [[1], [2, 3]], -2**63]
names = [n for n in dir(fg) if not n.startswith("_") and callable(getattr(fg, n))]
# set_default_device changes where every later tensor goes (its bad input is
# covered by tests/test_factories.py).
# save/load do file I/O on whatever path they get (a fuzzed "a" would write ./a); their
# bad input is covered by tests/test_serialization.py.
skip = {"set_num_threads", "manual_seed", "seed", "set_rng_state", "set_default_dtype", "Generator", "device", "dtype", "Size", "Tensor",
        "save", "load", "set_default_device"}
bad = []
random.seed(0)
count = 0
for n in names:
    if n in skip: continue
    f = getattr(fg, n)
    for args in list(itertools.product(vals, repeat=1)) + [tuple(random.choice(vals) for _ in range(k)) for k in (2, 3) for _ in range(60)]:
        try:
            f(*args); count += 1
        except (TypeError, ValueError, IndexError, RuntimeError, NotImplementedError, MemoryError, OverflowError):
            count += 1
        except Exception as ex:
            bad.append((n, args, type(ex).__name__, str(ex)[:80]))
# methods
for n in [m for m in dir(t) if not m.startswith("__") and callable(getattr(t, m))]:
    for x in (t, i, b, e, z):
        for args in [()] + [(v,) for v in vals] + [tuple(random.choice(vals) for _ in range(2)) for _ in range(30)]:
            try:
                getattr(x.clone() if hasattr(x, "clone") else x, n)(*args); count += 1
            except (TypeError, ValueError, IndexError, RuntimeError, NotImplementedError, MemoryError, OverflowError):
                count += 1
            except Exception as ex:
                bad.append((n, args, type(ex).__name__, str(ex)[:80]))
for x in (t, i, b, e, z):
    for v in vals + [fg.tensor([0, 1]), b, fg.tensor([[True, False, True]])]:
        for op in (lambda: x[v], lambda: x.__setitem__(v, 1), lambda: x + v, lambda: x @ v, lambda: x[v, 0]):
            try:
                op(); count += 1
            except (TypeError, ValueError, IndexError, RuntimeError, NotImplementedError, MemoryError, OverflowError):
                count += 1
            except Exception as ex:
                bad.append(("op", v, type(ex).__name__, str(ex)[:80]))
print("calls", count, "unexpected", len(bad))
c = collections.Counter((r[0], r[2]) for r in bad)
for k, v in c.most_common(): print(v, k, [r[3] for r in bad if (r[0], r[2]) == k][0])
raise SystemExit(1 if bad else 0)
