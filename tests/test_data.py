"""fastgrad.utils.data against torch.utils.data: datasets, samplers, collate, DataLoader."""

import collections

import fastgrad as fg
import numpy as np
import pytest
from fastgrad.utils import data as fgd
from helpers import assert_close

Point = collections.namedtuple("Point", ["x", "y"])


def _same(fg_obj, t_obj, torch):
    """Structural equality of a fastgrad batch and a torch batch (types, dtypes, values)."""
    if isinstance(t_obj, torch.Tensor):
        assert isinstance(fg_obj, fg.Tensor), type(fg_obj)
        assert_close(fg_obj, t_obj)
        return
    assert type(fg_obj) is type(t_obj), (type(fg_obj), type(t_obj))
    if isinstance(t_obj, dict):
        assert list(fg_obj) == list(t_obj)
        for k in t_obj:
            _same(fg_obj[k], t_obj[k], torch)
    elif isinstance(t_obj, (list, tuple)):
        assert len(fg_obj) == len(t_obj)
        for a, b in zip(fg_obj, t_obj):
            _same(a, b, torch)
    else:
        assert fg_obj == t_obj


def _to_torch(obj, torch):
    """The same sample with fastgrad tensors replaced by torch tensors."""
    if isinstance(obj, fg.Tensor):
        return torch.from_numpy(obj.numpy().copy())
    if isinstance(obj, dict):
        return type(obj)((k, _to_torch(v, torch)) for k, v in obj.items())
    if isinstance(obj, Point):
        return Point(*(_to_torch(v, torch) for v in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_torch(v, torch) for v in obj)
    return obj


class Seq(fgd.Dataset):
    """Sample i is made by `make(i)`; the same class serves both libraries."""

    def __init__(self, n, make=lambda i: i):
        self.n, self.make = n, make

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return self.make(i)


class Stream(fgd.IterableDataset):
    def __init__(self, n, with_len=True):
        self.n, self.with_len = n, with_len

    def __iter__(self):
        info = fgd.get_worker_info()
        if info is None:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))

    def __len__(self):
        if not self.with_len:
            raise TypeError("no len")
        return self.n


def _torch_stream(torch, n):
    class TStream(torch.utils.data.IterableDataset):
        def __iter__(self):
            return iter(range(n))

        def __len__(self):
            return n

    return TStream()


# ---- batching ---------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 7, 10])
@pytest.mark.parametrize("batch_size", [1, 3, 5, 10, 11])
@pytest.mark.parametrize("drop_last", [False, True])
def test_batch_counts_vs_torch(torch, n, batch_size, drop_last):
    x = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    fg_dl = fgd.DataLoader(fgd.TensorDataset(fg.tensor(x), fg.arange(n)), batch_size=batch_size,
                           drop_last=drop_last)
    t_dl = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(x), torch.arange(n)),
        batch_size=batch_size, drop_last=drop_last)
    assert len(fg_dl) == len(t_dl)
    fg_batches, t_batches = list(fg_dl), list(t_dl)
    assert len(fg_batches) == len(t_batches) == len(fg_dl)
    for a, b in zip(fg_batches, t_batches):
        _same(a, b, torch)


@pytest.mark.parametrize("n", [0, 1, 7, 10])
@pytest.mark.parametrize("batch_size", [None, 1, 3, 4])
@pytest.mark.parametrize("drop_last", [False, True])
def test_iterable_dataset_vs_torch(torch, n, batch_size, drop_last):
    if batch_size is None and drop_last:
        return  # invalid combination, tested in test_argument_errors
    fg_dl = fgd.DataLoader(Stream(n), batch_size=batch_size, drop_last=drop_last)
    t_dl = torch.utils.data.DataLoader(_torch_stream(torch, n), batch_size=batch_size,
                                       drop_last=drop_last)
    assert len(fg_dl) == len(t_dl)
    fg_b, t_b = list(fg_dl), list(t_dl)
    assert len(fg_b) == len(t_b)
    for a, b in zip(fg_b, t_b):
        _same(a, b, torch)


def test_iterable_without_len():
    dl = fgd.DataLoader(Stream(5, with_len=False), batch_size=2)
    assert [b.tolist() for b in dl] == [[0, 1], [2, 3], [4]]
    with pytest.raises(TypeError, match="has no __len__"):
        len(dl)


def test_batch_size_none_converts_like_torch(torch):
    make = lambda i: (np.full(2, i, dtype=np.int32), float(i), {"k": np.float64(i)})
    fg_out = list(fgd.DataLoader(Seq(3, make), batch_size=None))
    t_out = list(torch.utils.data.DataLoader(Seq(3, make), batch_size=None))
    for a, b in zip(fg_out, t_out):
        _same(a, b, torch)


def test_map_dataset_getitems_used():
    class Batched(Seq):
        calls = []

        def __getitems__(self, idx):
            self.calls.append(list(idx))
            return [self[i] for i in idx]

    ds = Batched(5)
    out = [b.tolist() for b in fgd.DataLoader(ds, batch_size=2)]
    assert out == [[0, 1], [2, 3], [4]] and ds.calls == [[0, 1], [2, 3], [4]]


def test_custom_collate_fn():
    seen = []

    def collate(batch):
        seen.append(batch)
        return sum(batch)

    out = list(fgd.DataLoader(Seq(5), batch_size=2, collate_fn=collate))
    assert out == [1, 5, 4] and seen == [[0, 1], [2, 3], [4]]
    out = list(fgd.DataLoader(Seq(3), batch_size=None, collate_fn=lambda s: s * 10))
    assert out == [0, 10, 20]


# ---- default_collate --------------------------------------------------------------

COLLATE_CASES = {
    "tensors": lambda i: fg.full((2, 3), float(i)),
    "int-tensors-0d": lambda i: fg.tensor(i),
    "floats": lambda i: i * 0.5,
    "ints": lambda i: i,
    "bools": lambda i: i % 2 == 0,
    "numpy": lambda i: np.arange(3, dtype=np.float32) + i,
    "numpy-int64": lambda i: np.array([[i, 2 * i]]),
    "numpy-bool": lambda i: np.array([i > 0]),
    "numpy-scalars": lambda i: np.float32(i),
    "numpy-int-scalars": lambda i: np.int64(i),
    "strings": lambda i: f"s{i}",
    "bytes": lambda i: b"b%d" % i,
    "tuples": lambda i: (fg.ones(2) * i, i, "x"),
    "lists": lambda i: [i, float(i)],
    "dicts": lambda i: {"a": i, "b": fg.zeros(1) + i, "c": {"d": float(i)}},
    "ordered-dicts": lambda i: collections.OrderedDict([("z", i), ("a", 1.5)]),
    "namedtuples": lambda i: Point(fg.ones(2) * i, i),
    "nested": lambda i: [{"x": (i, np.ones(2) * i)}, "t"],
}


@pytest.mark.parametrize("case", list(COLLATE_CASES))
def test_default_collate_vs_torch(torch, case):
    from torch.utils.data import default_collate as t_collate

    samples = [COLLATE_CASES[case](i) for i in range(3)]
    fg_batch = fgd.default_collate(samples)
    t_batch = t_collate([_to_torch(s, torch) for s in samples])
    _same(fg_batch, t_batch, torch)


def test_default_collate_dtypes():
    assert fgd.default_collate([1.0, 2.0]).dtype == fg.float64
    assert fgd.default_collate([1, 2]).dtype == fg.int64
    assert fgd.default_collate([True, False]).dtype == fg.bool
    assert fgd.default_collate([fg.ones(2, dtype=fg.int32)] * 3).shape == (3, 2)


def test_default_collate_through_loader_vs_torch(torch):
    make = lambda i: {"x": np.full((2,), i, np.float32), "y": i, "name": f"n{i}"}
    fg_out = list(fgd.DataLoader(Seq(5, make), batch_size=2))
    t_out = list(torch.utils.data.DataLoader(Seq(5, make), batch_size=2))
    for a, b in zip(fg_out, t_out):
        _same(a, b, torch)


@pytest.mark.parametrize(
    ("batch", "exc", "match"),
    [
        ([fg.ones(2), fg.ones(2), fg.ones(3)], RuntimeError,
         r"\(2,\) at batch element 0 and \(3,\) at batch element 2"),
        ([fg.ones(2, 2), fg.ones(2)], RuntimeError, r"\(2, 2\) at batch element 0 and \(2,\) at batch element 1"),
        ([fg.ones(2), 3], TypeError, "batch element 1 is a int"),
        ([(1, 2), (1, 2, 3)], RuntimeError, "each element in list of batch should be of equal size"),
        ([{"a": 1}, {"b": 2}], KeyError, "'a'"),
        ([object(), object()], TypeError, "default_collate: batch must contain tensors"),
        ([np.array(["a", "b"])], TypeError, "default_collate: batch must contain"),
        ([], TypeError, "non-empty list"),
    ],
)
def test_default_collate_errors(batch, exc, match):
    with pytest.raises(exc, match=match):
        fgd.default_collate(batch)


def test_collate_error_through_loader():
    ds = Seq(4, lambda i: fg.ones(i + 1))
    with pytest.raises(RuntimeError, match=r"\(1,\) at batch element 0 and \(2,\) at batch element 1"):
        list(fgd.DataLoader(ds, batch_size=2))


# ---- shuffling and samplers -------------------------------------------------------


def _order(loader):
    return [i for b in loader for i in b.tolist()]


def test_shuffle_seeded_generator_reproducible():
    ds = Seq(50)
    a = _order(fgd.DataLoader(ds, batch_size=4, shuffle=True, generator=fg.Generator().manual_seed(7)))
    b = _order(fgd.DataLoader(ds, batch_size=4, shuffle=True, generator=fg.Generator().manual_seed(7)))
    c = _order(fgd.DataLoader(ds, batch_size=4, shuffle=True, generator=fg.Generator().manual_seed(8)))
    assert a == b and sorted(a) == list(range(50)) and a != list(range(50)) and a != c


def test_shuffle_new_order_each_epoch():
    dl = fgd.DataLoader(Seq(30), batch_size=5, shuffle=True, generator=fg.Generator().manual_seed(0))
    e1, e2 = _order(dl), _order(dl)
    assert sorted(e1) == sorted(e2) == list(range(30)) and e1 != e2


def test_shuffle_without_generator_follows_manual_seed():
    dl = fgd.DataLoader(Seq(40), batch_size=8, shuffle=True)
    fg.manual_seed(123)
    a = _order(dl)
    fg.manual_seed(123)
    b = _order(dl)
    c = _order(dl)
    assert a == b and a != c and sorted(c) == list(range(40))


def test_random_sampler_options(torch):
    ds = Seq(10)
    s = fgd.RandomSampler(ds, replacement=True, num_samples=75, generator=fg.Generator().manual_seed(0))
    draws = list(s)
    assert len(s) == len(draws) == 75 and all(0 <= d < 10 for d in draws)
    assert len(set(draws)) < 75  # with replacement indices repeat
    s = fgd.RandomSampler(ds, num_samples=25, generator=fg.Generator().manual_seed(0))
    draws = list(s)
    assert len(draws) == 25
    assert sorted(draws[:10]) == sorted(draws[10:20]) == list(range(10))
    t_s = torch.utils.data.RandomSampler(range(10), num_samples=25)
    assert len(t_s) == len(s)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"replacement": 1}, TypeError, "replacement should be a boolean value"),
        ({"num_samples": 0}, ValueError, "num_samples should be a positive integer"),
        ({"num_samples": 2.5}, ValueError, "num_samples should be a positive integer"),
    ],
)
def test_random_sampler_errors(torch, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        torch.utils.data.RandomSampler(range(3), **kwargs)
    with pytest.raises(exc, match=match):
        fgd.RandomSampler(range(3), **kwargs)


def test_random_sampler_empty_dataset(torch):
    with pytest.raises(ValueError, match="num_samples=0"):
        torch.utils.data.DataLoader([], shuffle=True)
    with pytest.raises(ValueError, match="num_samples=0"):
        fgd.DataLoader(Seq(0), shuffle=True)


def test_sampler_and_batch_sampler_options(torch):
    ds = Seq(10)
    sub = fgd.SubsetRandomSampler([1, 3, 5, 7], generator=fg.Generator().manual_seed(0))
    got = _order(fgd.DataLoader(ds, batch_size=3, sampler=sub))
    assert sorted(got) == [1, 3, 5, 7] and len(sub) == 4
    seq = fgd.SequentialSampler(ds)
    bs = fgd.BatchSampler(seq, 4, drop_last=False)
    t_bs = torch.utils.data.BatchSampler(torch.utils.data.SequentialSampler(range(10)), 4, False)
    assert list(bs) == list(t_bs) and len(bs) == len(t_bs) == 3
    dl = fgd.DataLoader(ds, batch_sampler=bs)
    assert [b.tolist() for b in dl] == list(t_bs) and len(dl) == 3 and dl.batch_size is None
    bs = fgd.BatchSampler(range(10), 4, drop_last=True)
    assert list(bs) == [[0, 1, 2, 3], [4, 5, 6, 7]] and len(bs) == 2
    # A plain list works as a sampler (any iterable of indices).
    assert _order(fgd.DataLoader(ds, sampler=[9, 0, 4], batch_size=2)) == [9, 0, 4]


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((0, False), "batch_size should be a positive integer value"),
        ((True, False), "batch_size should be a positive integer value"),
        ((2, 1), "drop_last should be a boolean value"),
    ],
)
def test_batch_sampler_errors(torch, args, match):
    with pytest.raises(ValueError, match=match):
        torch.utils.data.BatchSampler(range(3), *args)
    with pytest.raises(ValueError, match=match):
        fgd.BatchSampler(range(3), *args)


# ---- DataLoader argument validation -----------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"shuffle": True, "sampler": [0, 1]}, "sampler option is mutually exclusive with shuffle"),
        ({"batch_sampler": [[0]], "batch_size": 2}, "batch_sampler option is mutually exclusive"),
        ({"batch_sampler": [[0]], "shuffle": True}, "batch_sampler option is mutually exclusive"),
        ({"batch_sampler": [[0]], "sampler": [0]}, "batch_sampler option is mutually exclusive"),
        ({"batch_sampler": [[0]], "drop_last": True}, "batch_sampler option is mutually exclusive"),
        ({"batch_size": None, "drop_last": True}, "mutually exclusive with drop_last"),
        ({"num_workers": -1}, "num_workers option should be non-negative"),
        ({"timeout": -1}, "timeout option should be non-negative"),
        ({"prefetch_factor": 2}, "prefetch_factor option could only be specified"),
        ({"persistent_workers": True}, "persistent_workers option needs num_workers > 0"),
        ({"batch_size": 0}, "batch_size should be a positive integer value"),
    ],
)
def test_argument_errors(torch, kwargs, match):
    with pytest.raises(ValueError, match=match):
        torch.utils.data.DataLoader(list(range(4)), **kwargs)
    with pytest.raises(ValueError, match=match):
        fgd.DataLoader(Seq(4), **kwargs)


@pytest.mark.parametrize("kwargs", [{"shuffle": True}, {"sampler": [0]}, {"batch_sampler": [[0]]}])
def test_iterable_dataset_argument_errors(torch, kwargs):
    with pytest.raises(ValueError, match="DataLoader with IterableDataset: expected unspecified"):
        torch.utils.data.DataLoader(_torch_stream(torch, 3), **kwargs)
    with pytest.raises(ValueError, match="DataLoader with IterableDataset: expected unspecified"):
        fgd.DataLoader(Stream(3), **kwargs)


@pytest.mark.parametrize("attr", ["batch_size", "sampler", "dataset", "drop_last"])
def test_frozen_attributes(attr):
    dl = fgd.DataLoader(Seq(3))
    with pytest.raises(ValueError, match=f"{attr} attribute should not be set after DataLoader"):
        setattr(dl, attr, 2)
    dl.num_workers = 0  # others may change


# ---- datasets ---------------------------------------------------------------------


def test_tensor_dataset():
    x, y = fg.arange(12.0).reshape(4, 3), fg.arange(4)
    ds = fgd.TensorDataset(x, y)
    assert len(ds) == 4
    xi, yi = ds[2]
    assert xi.tolist() == [6.0, 7.0, 8.0] and yi.item() == 2
    with pytest.raises(ValueError, match=r"Size mismatch between tensors.*\(4, 3\), \(5,\)"):
        fgd.TensorDataset(x, fg.arange(5))
    with pytest.raises(TypeError, match="argument 1 is a list"):
        fgd.TensorDataset(x, [1, 2, 3, 4])


def test_concat_and_add(torch):
    a, b = Seq(3), Seq(4, lambda i: 10 + i)
    cat = a + b
    assert isinstance(cat, fgd.ConcatDataset)
    t_cat = torch.utils.data.ConcatDataset([a, b])
    assert len(cat) == len(t_cat) == 7 and cat.cumulative_sizes == t_cat.cumulative_sizes
    assert [cat[i] for i in range(-7, 7)] == [t_cat[i] for i in range(-7, 7)]
    with pytest.raises(ValueError, match="absolute value of index"):
        cat[-8]
    with pytest.raises(IndexError):
        cat[7]
    with pytest.raises(ValueError, match="datasets should not be an empty iterable"):
        fgd.ConcatDataset([])
    with pytest.raises(TypeError, match="does not support IterableDataset"):
        fgd.ConcatDataset([a, Stream(2)])


def test_chain_dataset():
    ch = Stream(2) + Stream(3)
    assert isinstance(ch, fgd.ChainDataset) and len(ch) == 5
    assert list(ch) == [0, 1, 0, 1, 2]
    assert [b.tolist() for b in fgd.DataLoader(ch, batch_size=4)] == [[0, 1, 0, 1], [2]]


def test_subset():
    s = fgd.Subset(Seq(10), [9, 2, 4])
    assert len(s) == 3 and [s[i] for i in range(3)] == [9, 2, 4]
    assert _order(fgd.DataLoader(s, batch_size=2)) == [9, 2, 4]


def test_base_dataset_abstract():
    with pytest.raises(NotImplementedError):
        fgd.Dataset()[0]
    with pytest.raises(NotImplementedError):
        iter(fgd.IterableDataset())


# ---- random_split -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "lengths"),
    [
        (10, [3, 7]),
        (10, [0.3, 0.7]),
        (10, [0.5, 0.5]),
        (11, [0.5, 0.5]),
        (7, [0.33, 0.33, 0.34]),
        (100, [0.1] * 10),
        (5, [1.0]),
        (13, [0.25, 0.25, 0.25, 0.25]),
    ],
)
def test_random_split_lengths_vs_torch(torch, n, lengths):
    parts = fgd.random_split(Seq(n), lengths, generator=fg.Generator().manual_seed(0))
    t_parts = torch.utils.data.random_split(range(n), lengths, generator=torch.Generator().manual_seed(0))
    assert [len(p) for p in parts] == [len(p) for p in t_parts]
    items = [x for p in parts for x in (p[i] for i in range(len(p)))]
    assert sorted(items) == list(range(n))
    assert all(isinstance(p, fgd.Subset) for p in parts)


def test_random_split_reproducible_and_uses_global_rng():
    gen = lambda: fg.Generator().manual_seed(3)
    a = [p.indices for p in fgd.random_split(Seq(20), [5, 15], generator=gen())]
    b = [p.indices for p in fgd.random_split(Seq(20), [5, 15], generator=gen())]
    assert a == b
    fg.manual_seed(1)
    c = [p.indices for p in fgd.random_split(Seq(20), [0.5, 0.5])]
    fg.manual_seed(1)
    d = [p.indices for p in fgd.random_split(Seq(20), [0.5, 0.5])]
    assert c == d


def test_random_split_errors_and_warning(torch):
    for lib, ds in [(torch.utils.data, range(10)), (fgd, Seq(10))]:
        with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
            lib.random_split(ds, [3, 3])
        with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
            lib.random_split(ds, [0.3, 0.3])
        with pytest.raises(ValueError, match="Fraction at index 0 is not between 0 and 1"):
            lib.random_split(ds, [1.5, -0.5])
    with pytest.raises(ValueError, match="lengths must be non-negative ints"):
        fgd.random_split(Seq(10), [2.5, 7.5])
        with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
            lib.random_split(Seq(2) if lib is fgd else range(2), [0.9, 0.05, 0.05])


# ---- worker processes -------------------------------------------------------------


def _init_fn(worker_id):
    info = fgd.get_worker_info()
    assert info.id == worker_id and info.num_workers == 2
    info.dataset.offset = 100


class _Offset(Seq):
    offset = 0

    def __getitem__(self, i):
        return i + self.offset


def _fail_on_3(i):
    if i == 3:
        raise KeyError("bad sample 3")
    return i


@pytest.mark.parametrize("num_workers", [1, 2, 3])
def test_workers_map_style_same_as_single_process(num_workers):
    make = lambda i: (fg.full((2,), float(i)), {"y": i})
    ref = list(fgd.DataLoader(Seq(11, make), batch_size=3, shuffle=True,
                              generator=fg.Generator().manual_seed(5)))
    got = list(fgd.DataLoader(Seq(11, make), batch_size=3, shuffle=True, num_workers=num_workers,
                              generator=fg.Generator().manual_seed(5)))
    assert len(got) == len(ref) == 4
    for (ax, ay), (bx, by) in zip(got, ref):
        assert_close(ax, bx.numpy())
        assert ay["y"].tolist() == by["y"].tolist()


def test_workers_iterable_sharded_with_worker_info():
    got = list(fgd.DataLoader(Stream(10), batch_size=3, num_workers=2))
    # Like torch: batches alternate between the workers, each one's last batch is partial.
    assert [b.tolist() for b in got] == [[0, 2, 4], [1, 3, 5], [6, 8], [7, 9]]
    assert [b.tolist() for b in fgd.DataLoader(Stream(10), batch_size=3, num_workers=2,
                                                drop_last=True)] == [[0, 2, 4], [1, 3, 5]]
    assert fgd.get_worker_info() is None


def test_workers_init_fn_and_errors():
    dl = fgd.DataLoader(_Offset(4), batch_size=2, num_workers=2, worker_init_fn=_init_fn)
    assert [b.tolist() for b in dl] == [[100, 101], [102, 103]]
    dl = fgd.DataLoader(Seq(6, _fail_on_3), batch_size=2, num_workers=2)
    with pytest.raises(KeyError, match="Caught KeyError in DataLoader worker process 1"):
        list(dl)


def _exit_on_2(i):
    if i == 2:
        import os

        os._exit(3)
    return i


def _slow(i):
    import time

    time.sleep(3)
    return i


def test_workers_dead_worker_and_timeout():
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+\) exited unexpectedly"):
        list(fgd.DataLoader(Seq(4, _exit_on_2), batch_size=1, num_workers=2))
    with pytest.raises(RuntimeError, match="DataLoader timed out after 1 seconds"):
        list(fgd.DataLoader(Seq(2, _slow), num_workers=1, timeout=1))


def test_workers_spawn_context():
    # spawn pickles the dataset: fastgrad tensors cross processes as numpy arrays.
    ds = fgd.TensorDataset(fg.arange(10.0).reshape(5, 2), fg.arange(5))
    dl = fgd.DataLoader(ds, batch_size=2, num_workers=2, multiprocessing_context="spawn")
    assert [b[1].tolist() for b in dl] == [[0, 1], [2, 3], [4]]
    assert_close(list(dl)[1][0], np.array([[4.0, 5.0], [6.0, 7.0]], dtype=np.float32))


def test_tensors_pickle_by_value():
    import pickle

    t = pickle.loads(pickle.dumps(fg.arange(3.0)))
    assert t.tolist() == [0.0, 1.0, 2.0]
