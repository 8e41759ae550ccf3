"""The CUDA backend's host-side logic, tested in every build: the caching
allocator's bookkeeping over a fake device, the strided indexer the kernels
use, and fastgrad.cuda's API in a build or machine without a GPU."""

import itertools

import fastgrad as fg
import numpy as np
import pytest
from fastgrad import _C

KiB, MiB = 1024, 1024 * 1024


# ---- size classes -------------------------------------------------------------


@pytest.mark.parametrize(
    "n, expected",
    [(1, 512), (512, 512), (513, 1024), (MiB - 1, MiB), (MiB, MiB),
     (MiB + 1, MiB + 128 * KiB), (3 * MiB, 3 * MiB), (5 * MiB + 1, 5 * MiB + 512 * KiB)],
)
def test_block_size_class(n, expected):
    assert _C._cuda._block_size_class(n) == expected


def test_block_size_class_bounds_waste():
    for n in [1, 100, 4095, 10**6, 3 * 10**6, 10**8 + 7, 2**33 + 1]:
        c = _C._cuda._block_size_class(n)
        assert c >= n
        assert c - n < max(512, n // 8 + 1)


# ---- the block cache over a fake device --------------------------------------


def test_cache_reuses_freed_block_of_same_class():
    sim = _C._cuda._BlockCacheSim(64 * MiB)
    p = sim.allocate(1000)
    sim.free(p)
    q = sim.allocate(900)  # same 1024-byte class: the cached block
    assert q == p
    s = sim.stats()
    assert s["num_raw_allocs"] == 1
    assert s["allocated_bytes"] == 1024 and s["reserved_bytes"] == 1024


def test_cache_keeps_classes_streams_and_devices_apart():
    sim = _C._cuda._BlockCacheSim(64 * MiB)
    p = sim.allocate(1000, device=0, stream=0)
    sim.free(p)
    assert sim.allocate(5000) != p  # another class
    assert sim.allocate(1000, stream=7) != p  # another stream: not stream-ordered
    assert sim.allocate(1000, device=1) != p  # another device
    assert sim.allocate(1000) == p
    assert sim.stats(0)["num_raw_allocs"] == 3
    assert sim.stats(1)["num_raw_allocs"] == 1


def test_cache_counters_and_peak():
    sim = _C._cuda._BlockCacheSim(64 * MiB)
    a = sim.allocate(MiB)
    b = sim.allocate(2 * MiB)
    s = sim.stats()
    assert s["allocated_bytes"] == 3 * MiB and s["max_allocated_bytes"] == 3 * MiB
    sim.free(b)
    s = sim.stats()
    assert s["allocated_bytes"] == MiB
    assert s["max_allocated_bytes"] == 3 * MiB
    assert s["reserved_bytes"] == 3 * MiB  # freed blocks stay cached
    sim.reset_peak()
    assert sim.stats()["max_allocated_bytes"] == MiB
    sim.empty_cache()
    s = sim.stats()
    assert s["reserved_bytes"] == MiB and sim.driver_bytes == MiB
    assert sim.driver_frees == 1
    sim.free(a)
    assert sim.stats()["allocated_bytes"] == 0


def test_cache_empties_itself_and_retries_when_out_of_memory():
    sim = _C._cuda._BlockCacheSim(4 * MiB)
    blocks = [sim.allocate(MiB) for _ in range(4)]
    for p in blocks:
        sim.free(p)
    # 4 MiB cached in the 1 MiB class: a 2 MiB request fails on the driver,
    # empties the cache and succeeds.
    sim.allocate(2 * MiB)
    s = sim.stats()
    assert s["num_alloc_retries"] == 1
    assert s["reserved_bytes"] == 2 * MiB and sim.driver_bytes == 2 * MiB


def test_cache_raises_when_still_out_of_memory():
    sim = _C._cuda._BlockCacheSim(4 * MiB)
    sim.allocate(3 * MiB)
    with pytest.raises(RuntimeError, match="out of memory"):
        sim.allocate(2 * MiB)
    assert sim.stats()["allocated_bytes"] == 3 * MiB


def test_cache_bad_arguments():
    sim = _C._cuda._BlockCacheSim(MiB)
    with pytest.raises(ValueError, match="bytes must be > 0"):
        sim.allocate(0)
    with pytest.raises(ValueError, match="device"):
        sim.allocate(8, device=-1)
    sim.free(12345)  # not a block of this cache: ignored, like a foreign pointer


# ---- the strided indexer of the CUDA kernels --------------------------------


def expected_offsets(out, *ins):
    """Element offsets (numpy's broadcasting rules) for every output index."""
    shape = tuple(out.shape)
    rows = []
    for idx in itertools.product(*[range(s) for s in shape]):
        row = []
        for t in (out, *ins):
            lead = len(shape) - t.dim()
            off = 0
            for d in range(t.dim()):
                if t.shape[d] != 1:
                    off += idx[lead + d] * t.stride(d)
            row.append(off)
        rows.append(tuple(row))
    return rows


def layouts():
    base = fg.tensor(np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5))
    yield "contiguous", fg.empty(2, 3, 4, 5), base, None
    yield "permuted", fg.empty(5, 4, 3, 2), base.permute(3, 2, 1, 0), None
    yield "sliced", fg.empty(2, 2, 4, 3), base[:, ::2, :, 1:4], None
    yield "broadcast", fg.empty(2, 3, 4, 5), fg.zeros(3, 1, 5), fg.zeros(4, 1)
    yield "scalar", fg.empty(3, 4), fg.zeros(()), base[0, :, :, 0]
    yield "strided out", base.transpose(0, 3), fg.zeros(5, 3, 4, 2), fg.zeros(2)
    yield "0-d", fg.empty(()), fg.zeros(()), None
    yield "size-1 dims", fg.empty(1, 3, 1, 2), fg.zeros(1, 3, 1, 1), None


@pytest.mark.parametrize("wide", [False, True], ids=["idx32", "idx64"])
@pytest.mark.parametrize("case", list(layouts()), ids=lambda c: c[0])
def test_strided_indexer_matches_broadcast_offsets(case, wide):
    _, out, a, b = case
    ins = (a,) if b is None else (a, b)
    got = _C._cuda._strided_offsets(out, a, b, wide=wide)
    assert [tuple(r) for r in got] == expected_offsets(out, *ins)


# ---- fastgrad.cuda without a GPU ------------------------------------------------


def test_cuda_queries_without_gpu():
    if fg.cuda.is_available():
        pytest.skip("a GPU is visible")
    assert fg.cuda.device_count() == 0
    assert fg.cuda.is_built() in (True, False)
    fg.cuda.empty_cache()  # a no-op: nothing can be cached
    msg = "built without CUDA" if not fg.cuda.is_built() else "no CUDA GPU"
    for call in (fg.cuda.memory_allocated, fg.cuda.max_memory_allocated,
                 fg.cuda.memory_reserved, fg.cuda.reset_peak_memory_stats,
                 fg.cuda.synchronize):
        with pytest.raises(RuntimeError, match=msg):
            call()
    with pytest.raises(RuntimeError, match=msg):
        fg.zeros(2, device="cuda")


def test_cuda_device_arguments():
    with pytest.raises(ValueError, match="expected a cuda device"):
        fg.cuda.memory_allocated("cpu")
    with pytest.raises(TypeError, match="expected a device"):
        fg.cuda.memory_allocated(1.5)
    with pytest.raises(ValueError, match="device"):
        fg.cuda.memory_allocated("gpu:0")


# ---- streams and events ------------------------------------------------------------


def test_streams_and_events_without_gpu():
    if fg.cuda.is_available():
        pytest.skip("a GPU is visible")
    msg = "built without CUDA" if not fg.cuda.is_built() else "no CUDA GPU"
    for call in (fg.cuda.Stream, fg.cuda.Event, fg.cuda.current_stream, fg.cuda.default_stream,
                 lambda: fg.cuda.Event(enable_timing=True)):
        with pytest.raises(RuntimeError, match=msg):
            call()
    with fg.cuda.stream(None):  # torch: a None stream is a no-op context
        pass
    with pytest.raises(ValueError, match="expected a cuda device"):
        fg.cuda.Stream("cpu")


@pytest.mark.cuda
def test_stream_context_orders_work_and_events_time_it():
    s = fg.cuda.Stream()
    assert fg.cuda.current_stream() == fg.cuda.default_stream()
    x = fg.ones(1 << 20, device="cuda")
    fg.cuda.current_stream().wait_stream(s)  # nothing queued on s yet: no-op
    start, end = fg.cuda.Event(enable_timing=True), fg.cuda.Event(enable_timing=True)
    with fg.cuda.stream(s):
        assert fg.cuda.current_stream() == s
        s.wait_stream(fg.cuda.default_stream())  # x was written on the default stream
        start.record()
        y = x
        for _ in range(20):
            y = y * 1.5 - 0.5 * y  # stays 1
        end.record()
    assert fg.cuda.current_stream() == fg.cuda.default_stream()
    fg.cuda.current_stream().wait_stream(s)
    assert y.sum().item() == float(1 << 20)
    end.synchronize()
    assert end.query() and s.query()
    assert start.elapsed_time(end) > 0
    s.synchronize()


@pytest.mark.cuda
def test_event_without_timing_cannot_time():
    a, b = fg.cuda.Event(), fg.cuda.Event()
    a.record(), b.record()
    b.synchronize()
    with pytest.raises(RuntimeError, match="enable_timing=True"):
        a.elapsed_time(b)
