"""CUDA streams and events with torch.cuda's names (Note [User streams]).

    s = fastgrad.cuda.Stream()
    with fastgrad.cuda.stream(s):          # ops inside queue on s
        y = model(x)
    fastgrad.cuda.current_stream().wait_stream(s)

    start, end = fastgrad.cuda.Event(enable_timing=True), fastgrad.cuda.Event(enable_timing=True)
    start.record(); work(); end.record(); end.synchronize()
    ms = start.elapsed_time(end)

As in torch, a tensor made on one stream and used on another must be ordered
by the user (``wait_stream`` / ``wait_event``) before it is freed: the caching
allocator reuses a freed block on the stream that allocated it.
"""

from .. import _C


def _device_index(device):
    from . import _index

    return _index(device)


class Stream:
    """A CUDA stream on `device` (default: the current one). `priority`: lower
    is more urgent (CUDA's convention)."""

    def __init__(self, device=None, priority=0, *, _handle=None, _owned=True):
        dev = _device_index(device)
        self.cuda_stream = _C._cuda._stream_create(dev, priority) if _handle is None else _handle
        self._owned = _owned and _handle is None  # set last: __del__ reads it
        self.device_index = _C._cuda.current_device() if dev < 0 else dev

    @property
    def device(self):
        return _C.device("cuda", self.device_index)

    def synchronize(self):
        """Wait until every kernel queued on the stream has finished."""
        _C._cuda._stream_synchronize(self.cuda_stream)

    def query(self):
        """True when all the stream's work is done."""
        return _C._cuda._stream_query(self.cuda_stream)

    def wait_event(self, event):
        """Later work on this stream waits for `event`."""
        _C._cuda._stream_wait_event(self.cuda_stream, event._handle)

    def wait_stream(self, stream):
        """Later work on this stream waits for the work queued on `stream` so far."""
        self.wait_event(stream.record_event())

    def record_event(self, event=None):
        event = Event() if event is None else event
        event.record(self)
        return event

    def __eq__(self, other):
        return isinstance(other, Stream) and (self.cuda_stream, self.device_index) == (
            other.cuda_stream, other.device_index)

    def __hash__(self):
        return hash((self.cuda_stream, self.device_index))

    def __repr__(self):
        return f"<fastgrad.cuda.Stream device=cuda:{self.device_index} cuda_stream={self.cuda_stream:#x}>"

    def __del__(self):
        if getattr(self, "_owned", False) and self.cuda_stream:
            _C._cuda._stream_destroy(self.cuda_stream)


class Event:
    """A CUDA event: a point in a stream's work to wait for or to time."""

    def __init__(self, enable_timing=False):
        self.enable_timing = enable_timing
        self._handle = _C._cuda._event_create(enable_timing)

    def record(self, stream=None):
        """Marks the current point of `stream` (default: the current stream)."""
        stream = current_stream() if stream is None else stream
        _C._cuda._event_record(self._handle, stream.cuda_stream)

    def wait(self, stream=None):
        (current_stream() if stream is None else stream).wait_event(self)

    def synchronize(self):
        _C._cuda._event_synchronize(self._handle)

    def query(self):
        return _C._cuda._event_query(self._handle)

    def elapsed_time(self, end_event):
        """Milliseconds between this event and `end_event` (both recorded and done)."""
        return _C._cuda._event_elapsed_ms(self._handle, end_event._handle)

    def __del__(self):
        if getattr(self, "_handle", 0):
            _C._cuda._event_destroy(self._handle)


def current_stream(device=None):
    """The stream this thread queues work on for `device`."""
    dev = _device_index(device)
    handle = _C._cuda._current_stream(dev)  # raises without a GPU
    return Stream(dev, _handle=handle, _owned=False)


def default_stream(device=None):
    """The device's legacy default stream (what work uses outside `stream(...)`)."""
    dev = _device_index(device)
    _C._cuda._current_stream(dev)  # raises without a GPU
    return Stream(dev, _handle=0, _owned=False)


def set_stream(stream):
    """Makes `stream` current on its device for this thread."""
    _C._cuda._set_current_stream(stream.device_index, stream.cuda_stream)


class StreamContext:
    """`with fastgrad.cuda.stream(s):` -- s is the current stream inside (None: no-op)."""

    def __init__(self, stream):
        self.stream = stream
        self._prev = None

    def __enter__(self):
        if self.stream is not None:
            self._prev = current_stream(self.stream.device_index)
            set_stream(self.stream)
        return self.stream

    def __exit__(self, *exc):
        if self.stream is not None:
            set_stream(self._prev)
        return False


def stream(stream):
    return StreamContext(stream)
