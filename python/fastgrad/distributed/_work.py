"""The handle an async collective returns (torch.distributed.Work)."""


class Work:
    """`wait()` blocks until the collective finished (MPI: the request completed;
    NCCL: the current CUDA stream waits for the collective's stream), then runs the
    backend's finishing step once (e.g. AVG's division, copies out of a staging buffer).
    The handle keeps the tensors alive until then."""

    __slots__ = ("_done", "_finish", "_keep", "_test", "_wait")

    def __init__(self, wait, test=None, finish=None, keep=()):
        self._wait, self._test, self._finish, self._keep = wait, test, finish, keep
        self._done = False

    def wait(self, timeout=None):
        if not self._done:
            self._wait()
            self._complete()
        return True

    def is_completed(self):
        if not self._done and self._test is not None and self._test():
            self._complete()
        return self._done

    def is_success(self):
        return self._done

    def _complete(self):
        self._done = True
        if self._finish is not None:
            self._finish()
        self._keep = ()

