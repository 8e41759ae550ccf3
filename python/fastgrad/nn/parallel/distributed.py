"""DistributedDataParallel: one model replica per process, gradients averaged
over all ranks during backward (torch.nn.parallel.DistributedDataParallel).

Note [Gradient buckets]: parameters are grouped, in reverse registration order
(roughly the order backward produces their gradients), into buckets of at most
`bucket_cap_mb` per dtype and device. A post-accumulate-grad hook on every
parameter counts down its bucket; when a bucket is complete its gradients are
copied into the bucket's flat buffer and a non-blocking all-reduce starts, while
backward goes on computing earlier layers' gradients. Buckets start strictly in
bucket order (a complete bucket waits for its predecessors) so every rank issues
the same collectives in the same order, whatever order its hooks fire in. A
callback queued on the autograd engine waits for all of them at the end of
backward, divides by the world size and copies the averages back into `.grad`.
"""

import contextlib
import weakref

import numpy as np

from ... import _C
from ...autograd import queue_callback
from ...autograd.grad_mode import no_grad
from ...distributed import _api as dist
from ..modules.module import Module


class _Bucket:
    __slots__ = ("flat", "offsets", "params", "pending", "work")

    def __init__(self, params):
        self.params = params  # indices into DistributedDataParallel._params
        self.offsets, self.flat, self.pending, self.work = [], None, 0, None


class DistributedDataParallel(Module):
    """Wraps `module` for data-parallel training over the default process group.

    At construction the parameters and buffers of rank 0 are broadcast to every
    rank (after checking that all ranks hold the same parameter shapes), so all
    replicas start equal; each backward then leaves every rank with the same
    averaged gradients. `no_sync()` skips the reduction (gradient accumulation);
    `find_unused_parameters=True` lets a forward pass leave some parameters without
    a gradient (they count as zero on that rank, and a parameter no rank used keeps
    `.grad` as it was); each forward then walks its outputs' autograd graph to find
    the unused ones, so their buckets need not wait for the end of backward.
    device_ids, output_device, dim, gradient_as_bucket_view and static_graph
    are accepted for torch compatibility and change nothing: one device per process,
    and gradients are copied into the buckets and back."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 process_group=None, bucket_cap_mb=None, find_unused_parameters=False,
                 gradient_as_bucket_view=False, static_graph=False):  # fmt: skip
        super().__init__()
        what = "DistributedDataParallel"
        dist._check_group(what, process_group)
        if not isinstance(module, Module):
            raise TypeError(f"{what}: module must be an nn.Module, got {type(module).__name__}")
        devices = {str(p.device) for p in module.parameters()}
        if device_ids is not None and devices == {"cpu"}:
            raise ValueError(f"{what}: device_ids and output_device only apply to CUDA modules, "
                             f"got device_ids {device_ids} for a module on the CPU")  # fmt: skip
        if len(devices) > 1:
            raise ValueError(f"{what}: the module's parameters must be on one device, got "
                             f"{sorted(devices)}")  # fmt: skip
        cap = 25 if bucket_cap_mb is None else bucket_cap_mb
        if not cap > 0:
            raise ValueError(f"{what}: bucket_cap_mb must be positive, got {bucket_cap_mb}")
        self.module = module
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.require_backward_grad_sync = True
        self.bucket_bytes_cap = int(cap * 1024 * 1024)
        self._backend = dist._group()
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        self._names = [n for n, _ in named]
        self._params = [p for _, p in named]
        dist._agree(what, lambda: (what, tuple(dist._sig(p) for p in self._params)), force=True)
        with no_grad():
            for t in list(module.parameters()) + list(module.buffers()):
                self._broadcast(t)
        self._buckets, self._bucket_of = self._make_buckets()
        self._hooks = [p.register_post_accumulate_grad_hook(self._hook(i))
                       for i, p in enumerate(self._params)]  # fmt: skip
        self._sync_step = False
        self._reset()

    def _broadcast(self, t):
        if self._backend.size > 1:
            self._backend.broadcast(t.detach(), 0, False)

    def _make_buckets(self):
        groups = {}  # (dtype, device) -> buckets being filled, newest last
        order = []
        for i in reversed(range(len(self._params))):
            p = self._params[i]
            key = (str(p.dtype), str(p.device))
            nbytes = p.numel() * p.element_size()
            fill = groups.get(key)
            if fill is None or (fill[1] + nbytes > self.bucket_bytes_cap and fill[0].params):
                fill = groups[key] = [_Bucket([]), 0]
                order.append(fill[0])
            fill[0].params.append(i)
            fill[1] += nbytes
        bucket_of = [None] * len(self._params)
        from ..._factories import zeros

        for b in order:
            n = 0
            for i in b.params:
                b.offsets.append(n)
                n += self._params[i].numel()
                bucket_of[i] = b
            p0 = self._params[b.params[0]]
            b.flat = zeros(n, dtype=p0.dtype, device=p0.device)
        return order, bucket_of

    def _reset(self):
        self._ready = [False] * len(self._params)
        for b in self._buckets:
            b.pending, b.work = len(b.params), None
        self._next_bucket = 0
        self._queued = False
        self._unused = frozenset()

    # -- forward ---------------------------------------------------------------

    def forward(self, *inputs, **kwargs):
        if self.broadcast_buffers and self._backend.size > 1:
            for buf in self.module.buffers():
                self._broadcast(buf)
        self._reset()
        self._sync_step = self.require_backward_grad_sync and _C.is_grad_enabled()
        out = self.module(*inputs, **kwargs)
        if self._sync_step and self.find_unused_parameters:
            self._unused = frozenset(self._unreachable(out))
        return out

    def _unreachable(self, out):
        """Indices of the parameters the outputs' autograd graph never reaches: their
        buckets need not wait for them (torch's find_unused_parameters search)."""
        index = {(p.data_ptr(), tuple(p.shape)): i for i, p in enumerate(self._params)}
        reached = set()
        stack, seen = [], {}  # seen holds the node objects, so their ids stay unique
        todo = [out]
        while todo:
            x = todo.pop()
            if isinstance(x, _C.Tensor):
                if x.grad_fn is not None:
                    stack.append(x.grad_fn)
                elif x.requires_grad:
                    reached.add(index.get((x.data_ptr(), tuple(x.shape))))
            elif isinstance(x, (list, tuple)):
                todo.extend(x)
            elif isinstance(x, dict):
                todo.extend(x.values())
        while stack:
            fn = stack.pop()
            if id(fn) in seen:
                continue
            seen[id(fn)] = fn
            var = fn.variable
            if var is not None:
                reached.add(index.get((var.data_ptr(), tuple(var.shape))))
            stack.extend(nxt for nxt, _ in fn.next_functions if nxt is not None)
        return [i for i in range(len(self._params)) if i not in reached]

    @contextlib.contextmanager
    def no_sync(self):
        """Backward passes of forwards run inside only accumulate local gradients;
        the first backward after it reduces the accumulated sum."""
        prev = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = prev

    # -- backward: hooks, buckets, the final wait --------------------------------

    def _hook(self, i):
        # A weak reference: the parameters must not keep a discarded wrapper alive
        # (its __del__ removes the hooks).
        ref = weakref.ref(self)

        def hook(param):
            ddp = ref()
            if ddp is not None:
                ddp._mark_ready(i)

        return hook

    def __del__(self):
        for h in self.__dict__.get("_hooks", ()):
            h.remove()

    def _mark_ready(self, i):
        if not self._sync_step:
            return
        if self._ready[i] or i in self._unused:
            raise RuntimeError(
                f"DistributedDataParallel: parameter {self._names[i]} received a gradient twice "
                "in one reduction (run one backward per forward; no_sync() accumulates over "
                "several), or, with find_unused_parameters=True, a gradient although the "
                "forward's outputs do not depend on it (e.g. a loss term that uses the parameter "
                "directly)"
            )
        if not self._queued:
            queue_callback(self._finish)
            self._queued = True
            for j in self._unused:  # no gradient will come: count them as ready zeros
                self._bucket_of[j].pending -= 1
        self._ready[i] = True
        b = self._bucket_of[i]
        b.pending -= 1
        if b.pending == 0:
            self._launch_ready()
        else:
            self._progress()

    def _progress(self):
        # MPI moves a non-blocking collective along only inside MPI calls: poke the
        # ones in flight from each hook so they advance while backward computes.
        for b in self._buckets[: self._next_bucket]:
            if b.work is not None:
                b.work.is_completed()

    def _launch_ready(self):
        while self._next_bucket < len(self._buckets) and self._buckets[self._next_bucket].pending == 0:
            b = self._buckets[self._next_bucket]
            for i, off in zip(b.params, b.offsets):
                p = self._params[i]
                part = b.flat[off : off + p.numel()]
                if p.grad is None:
                    part.zero_()
                else:
                    part.copy_(p.grad.reshape(-1))
            b.work = self._backend.all_reduce(b.flat, "SUM", True)
            self._next_bucket += 1

    def _finish(self):
        missing = [i for i, r in enumerate(self._ready) if not r]
        if missing and not self.find_unused_parameters:
            names = ", ".join(self._names[i] for i in missing[:10])
            raise RuntimeError(
                "DistributedDataParallel: these parameters received no gradient in this backward "
                f"pass, so their bucket's all-reduce never started and the other ranks would wait "
                f"for it forever: {names}. Pass find_unused_parameters=True to "
                "DistributedDataParallel if some parameters may go unused in a forward pass"
            )
        used = None
        if self.find_unused_parameters:
            # The remaining buckets first, then the flags: every rank then starts
            # its collectives in the same order, wherever its hooks stopped.
            for b in self._buckets:
                b.pending = 0
            self._launch_ready()
            used = self._globally_used()
        size = self._backend.size
        for b in self._buckets:
            b.work.wait()
            if size > 1:
                b.flat.div_(size)
            for i, off in zip(b.params, b.offsets):
                p = self._params[i]
                if used is not None and not used[i]:
                    continue
                avg = b.flat[off : off + p.numel()].view(p.shape)
                if p.grad is None:
                    p.grad = avg.clone()
                else:
                    p.grad.copy_(avg)
        self._reset()
        self._sync_step = False  # a backward not preceded by our forward reduces nothing

    def _globally_used(self):
        # One small all-reduce of the "got a gradient here" flags: a parameter
        # unused on every rank keeps its .grad untouched, as in torch.
        b = self._backend
        flags = np.array(self._ready, np.int32)
        if b.size > 1:
            b.mpi_comm.Allreduce(b.MPI.IN_PLACE, flags, b.MPI.MAX)
        return flags.astype(bool).tolist()
