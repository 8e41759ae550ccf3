"""DataLoader worker processes (num_workers > 0).

Each worker gets (task id, index) pairs on its own queue, fetches and collates in
its process, and sends (task id, batch) back on one shared result queue; the main
process hands batches out in task order. Tensors cross the queue by value
(Tensor.__reduce_ex__ pickles a numpy copy).
"""

import multiprocessing
import queue
import random
import sys
import traceback


from ... import _C
from ._fetch import make_fetcher

__all__ = ["WorkerInfo", "get_worker_info"]

_worker_info = None
_POLL_S = 1.0  # how often a waiting main process checks that its workers are alive


class WorkerInfo:
    """id, num_workers, seed and dataset (this worker's copy) of the current worker."""

    def __init__(self, **kwargs):
        self.__dict__.update(kwargs)

    def __repr__(self):
        fields = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items() if k != "dataset")
        return f"WorkerInfo({fields})"


def get_worker_info():
    """The current WorkerInfo inside a DataLoader worker process, None in the main process."""
    return _worker_info


class _IterableEnd:
    """Sent by a worker whose copy of an IterableDataset is exhausted."""


class _WorkerError:
    def __init__(self, worker_id, exc):
        self.exc_type = type(exc)
        self.message = (
            f"Caught {type(exc).__name__} in DataLoader worker process {worker_id}.\n"
            f"Original {traceback.format_exc()}"
        )

    def reraise(self):
        try:
            err = self.exc_type(self.message)
        except Exception:
            err = RuntimeError(self.message)
        raise err


def _worker_loop(dataset, is_iterable, auto_collation, collate_fn, drop_last, index_queue,
                 result_queue, worker_id, num_workers, seed, init_fn):
    global _worker_info
    try:
        # A forked child must not touch the parent's OpenMP pool; workers are the parallelism.
        _C.set_num_threads(1)
        random.seed(seed)
        _C.manual_seed(seed)
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed,
                                  dataset=dataset)
        if init_fn is not None:
            init_fn(worker_id)
        fetcher = make_fetcher(is_iterable, dataset, auto_collation, collate_fn, drop_last)
        init_error = None
    except Exception as e:
        init_error = _WorkerError(worker_id, e)
    while True:
        task = index_queue.get()
        if task is None:
            break
        task_id, index = task
        if init_error is not None:
            result_queue.put((task_id, init_error))
            continue
        try:
            data = fetcher.fetch(index)
        except StopIteration:
            data = _IterableEnd()
        except Exception as e:
            data = _WorkerError(worker_id, e)
        result_queue.put((task_id, data))


class MultiProcessIter:
    def __init__(self, loader, sampler_iter, base_seed):
        self._loader = loader
        self._sampler_iter = sampler_iter
        self._is_iterable = loader._is_iterable
        self._timeout = loader.timeout
        ctx = loader.multiprocessing_context
        if ctx is None:
            ctx = multiprocessing.get_context()
        elif isinstance(ctx, str):
            ctx = multiprocessing.get_context(ctx)
        n = loader.num_workers
        self._result_queue = ctx.Queue()
        self._index_queues, self._workers = [], []
        for wid in range(n):
            iq = ctx.Queue()
            w = ctx.Process(
                target=_worker_loop,
                args=(loader.dataset, self._is_iterable, loader._auto_collation,
                      loader.collate_fn, loader.drop_last, iq, self._result_queue, wid, n,
                      base_seed + wid, loader.worker_init_fn),
                daemon=True,
            )
            w.start()
            self._index_queues.append(iq)
            self._workers.append(w)
        self._active = [True] * n
        self._next_worker = 0
        self._send_id = 0  # next task id to hand out
        self._rcv_id = 0  # next task id to yield
        self._owner = {}  # task id -> worker id, for tasks not yet yielded
        self._done = {}  # task id -> result that arrived out of order
        self._sampler_done = False
        self._shutdown = False
        for _ in range(loader.prefetch_factor * n):
            self._try_put()

    def __iter__(self):
        return self

    def _try_put(self):
        if self._sampler_done or not any(self._active):
            return
        try:
            index = next(self._sampler_iter)
        except StopIteration:
            self._sampler_done = True
            return
        n = len(self._workers)
        for _ in range(n):
            wid = self._next_worker
            self._next_worker = (wid + 1) % n
            if self._active[wid]:
                break
        self._index_queues[wid].put((self._send_id, index))
        self._owner[self._send_id] = wid
        self._send_id += 1

    def _get_result(self):
        waited = 0.0
        while True:
            try:
                return self._result_queue.get(timeout=_POLL_S)
            except queue.Empty:
                waited += _POLL_S
                dead = [w for w in self._workers if not w.is_alive()]
                if dead:
                    self._shutdown_workers()
                    pids = ", ".join(str(w.pid) for w in dead)
                    raise RuntimeError(
                        f"DataLoader worker (pid(s) {pids}) exited unexpectedly "
                        f"(exit code {dead[0].exitcode})"
                    ) from None
                if self._timeout and waited >= self._timeout:
                    self._shutdown_workers()
                    raise RuntimeError(
                        f"DataLoader timed out after {self._timeout} seconds"
                    ) from None

    def __next__(self):
        while True:
            if self._rcv_id == self._send_id:
                # Nothing outstanding: the sampler or every worker's stream is done.
                self._shutdown_workers()
                raise StopIteration
            if self._rcv_id in self._done:
                data = self._done.pop(self._rcv_id)
            else:
                task_id, data = self._get_result()
                if task_id != self._rcv_id:
                    self._done[task_id] = data
                    continue
            wid = self._owner.pop(self._rcv_id)
            self._rcv_id += 1
            if isinstance(data, _IterableEnd):
                self._active[wid] = False
                self._try_put()  # keep the other workers' queues full
                continue
            self._try_put()
            if isinstance(data, _WorkerError):
                self._shutdown_workers()
                data.reraise()
            return data

    def _shutdown_workers(self):
        if self._shutdown:
            return
        self._shutdown = True
        for q in self._index_queues:
            try:
                q.put(None)
            except Exception:  # the queue may already be broken at interpreter exit
                pass
        for w in self._workers:
            w.join(timeout=5.0)
            if w.is_alive():
                w.terminate()
        for q in self._index_queues + [self._result_queue]:
            q.cancel_join_thread()
            q.close()

    def __del__(self):
        if sys is not None and not getattr(self, "_shutdown", True):
            self._shutdown_workers()
