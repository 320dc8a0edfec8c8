"""The controllers' work queue, with client-go's semantics.

Informer handlers ``add`` keys (``namespace/name``); worker tasks loop ``key = await
queue.get()`` -> sync(key) -> ``queue.done(key)``. Guarantees: a key waiting in the queue is
held once however often it is added; a key is never handed to two workers at once; a key added
while it is being processed is handed out again after ``done`` (so no change is lost). Failed
keys are retried with ``add_rate_limited`` (per-key exponential back-off, 5 ms doubling to
1000 s: 5 ms, 10 ms, 20 ms, ... the 18th retry waits the full 1000 s) until ``forget(key)``
after a success. ``add_after`` delays a key (the earliest of several delays wins). Time comes
from an injectable ``Clock`` so tests advance it instead of sleeping.
"""
from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, Hashable, TypeVar

from kubelite.client.clock import REAL_CLOCK, Clock, Timer

K = TypeVar("K", bound=Hashable)


class QueueShutDown(Exception):
    """``get()`` on a queue that is shut down and empty: the worker should exit."""


class ExponentialBackoff(Generic[K]):
    """Per-key failure back-off: ``base * 2**failures`` capped at ``cap`` (client-go's
    ItemExponentialFailureRateLimiter, 5 ms .. 1000 s by default)."""

    __slots__ = ("base", "cap", "_failures")

    def __init__(self, base: float = 0.005, cap: float = 1000.0) -> None:
        self.base = base
        self.cap = cap
        self._failures: dict[K, int] = {}

    def when(self, key: K) -> float:
        """The delay before the next retry of ``key``, counting this failure."""
        exp = self._failures.get(key, 0)
        self._failures[key] = exp + 1
        if exp >= 64:  # 2**64 * base overflows any sane cap; skip the float math
            return self.cap
        return min(self.base * (1 << exp), self.cap)

    def forget(self, key: K) -> None:
        self._failures.pop(key, None)

    def num_requeues(self, key: K) -> int:
        return self._failures.get(key, 0)


class WorkQueue(Generic[K]):
    """De-duplicating, delaying, rate-limited FIFO of keys for one controller."""

    def __init__(self, name: str = "", *, clock: Clock | None = None,
                 rate_limiter: ExponentialBackoff[K] | None = None) -> None:
        self.name = name
        self.clock = clock or REAL_CLOCK
        self.rate_limiter: ExponentialBackoff[K] = rate_limiter or ExponentialBackoff()
        self._queue: deque[K] = deque()
        self._dirty: set[K] = set()       # needs processing (queued, or re-added while processing)
        self._processing: set[K] = set()  # handed to a worker, not yet done
        self._waiting: dict[K, tuple[float, Timer]] = {}  # add_after: ready time + timer
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._shutting_down = False
        self._drained: asyncio.Event | None = None

    def __len__(self) -> int:
        """Keys ready to be handed out (not counting delayed or in-process ones)."""
        return len(self._queue)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    @property
    def processing(self) -> int:
        return len(self._processing)

    @property
    def delayed(self) -> int:
        return len(self._waiting)

    def add(self, key: K) -> None:
        if self._shutting_down or key in self._dirty:
            return
        self._dirty.add(key)
        if key in self._processing:
            return  # done() will queue it again
        self._queue.append(key)
        self._wake_one()

    def add_after(self, key: K, delay: float) -> None:
        """Add ``key`` once ``delay`` seconds have passed; an earlier pending time wins."""
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(key)
            return
        ready = self.clock.now() + delay
        pending = self._waiting.get(key)
        if pending is not None:
            if pending[0] <= ready:
                return
            pending[1].cancel()
        timer = self.clock.call_later(delay, lambda: self._fire(key))
        self._waiting[key] = (ready, timer)

    def _fire(self, key: K) -> None:
        self._waiting.pop(key, None)
        self.add(key)

    def add_rate_limited(self, key: K) -> None:
        """Retry ``key`` after its back-off (which grows with each call until ``forget``)."""
        self.add_after(key, self.rate_limiter.when(key))

    def forget(self, key: K) -> None:
        """Reset ``key``'s back-off (call after a successful sync)."""
        self.rate_limiter.forget(key)

    def num_requeues(self, key: K) -> int:
        return self.rate_limiter.num_requeues(key)

    async def get(self) -> K:
        """The next key; blocks while the queue is empty. Raises ``QueueShutDown`` once the
        queue is shut down and empty (keys queued before shutdown are still handed out)."""
        while not self._queue:
            if self._shutting_down:
                raise QueueShutDown(self.name)
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            try:
                await fut
            except BaseException:
                fut.cancel()
                try:
                    self._waiters.remove(fut)
                except ValueError:
                    pass
                # We were woken for a key but are leaving: pass the wake-up on.
                if self._queue:
                    self._wake_one()
                raise
        key = self._queue.popleft()
        self._processing.add(key)
        self._dirty.discard(key)
        return key

    def done(self, key: K) -> None:
        """Mark ``key`` processed; if it was added meanwhile it is queued again."""
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.append(key)
            self._wake_one()
        elif not self._processing and self._drained is not None:
            self._drained.set()

    def _wake_one(self) -> None:
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    def shutdown(self) -> None:
        """Stop accepting keys and cancel delayed ones; waiting workers get ``QueueShutDown``
        once the queue is empty."""
        self._shutting_down = True
        for _, timer in self._waiting.values():
            timer.cancel()
        self._waiting.clear()
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)

    async def shutdown_with_drain(self) -> None:
        """Shut down, then wait until every key handed out has been marked done."""
        self.shutdown()
        if self._processing:
            self._drained = asyncio.Event()
            await self._drained.wait()
