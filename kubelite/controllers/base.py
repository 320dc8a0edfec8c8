"""The one shape every controller has: informers → work queue → ``sync(key)``.

A controller declares its informers in ``setup()`` and registers handlers that only compute a
key and enqueue it. Workers take keys from the de-duplicating, rate-limited queue and call
``sync(key)``: level-triggered and idempotent -- read the informer caches (never mutate a cached
object), compute the change with pure functions, write through the client, status last. An
exception re-queues the key with exponential back-off; success forgets its failure count.

``ControllerContext`` is what the controller manager hands every controller: one client, one
shared informer factory (so ten controllers watching pods share one watch), event recorders
and the clock.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping

from kubelite.client import Client, EventRecorder, QueueShutDown, SharedInformerFactory, WorkQueue, object_key
from kubelite.client.clock import REAL_CLOCK, Clock
from kubelite.machinery.errors import StatusError

log = logging.getLogger(__name__)
Obj = dict[str, Any]


@dataclass
class ControllerContext:
    client: Client
    factory: SharedInformerFactory
    clock: Clock = REAL_CLOCK
    options: Mapping[str, Any] = field(default_factory=dict)
    _recorders: dict[str, EventRecorder] = field(default_factory=dict)

    def recorder(self, component: str) -> EventRecorder:
        if component not in self._recorders:
            self._recorders[component] = EventRecorder(self.client, component)
        return self._recorders[component]


class Controller:
    """Subclass: set ``name``, implement ``setup()`` and ``sync(key)``."""

    name: ClassVar[str] = "controller"
    workers: ClassVar[int] = 2

    def __init__(self, ctx: ControllerContext) -> None:
        self.ctx = ctx
        self.client = ctx.client
        self.clock = ctx.clock
        self.queue: WorkQueue[str] = WorkQueue(self.name, clock=ctx.clock)
        self.recorder = ctx.recorder(f"{self.name}-controller")
        self.setup()

    # -- for subclasses ----------------------------------------------------------------------

    def setup(self) -> None:
        """Create informers (``self.ctx.factory.informer(...)``) and register handlers."""

    async def sync(self, key: str) -> None:
        raise NotImplementedError

    # -- helpers -----------------------------------------------------------------------------

    def enqueue(self, obj: Obj | str, after: float = 0.0) -> None:
        key = obj if isinstance(obj, str) else object_key(obj)
        if after > 0:
            self.queue.add_after(key, after)
        else:
            self.queue.add(key)

    def enqueue_handlers(self, key_of: Callable[[Obj], str | None] | None = None) -> dict[str, Any]:
        """on_add/on_update/on_delete that enqueue ``key_of(obj)`` (default: the object's own key)."""
        fn = key_of or object_key

        def add(obj: Obj) -> None:
            k = fn(obj)
            if k:
                self.queue.add(k)

        def update(old: Obj, new: Obj) -> None:
            add(new)

        return {"on_add": add, "on_update": update, "on_delete": add}

    # -- running -----------------------------------------------------------------------------

    async def run(self) -> None:
        """Wait for the caches, then work the queue until cancelled."""
        # ``informers`` is a property (a list); start() starts whichever have not started yet.
        self.ctx.factory.start()
        await self.ctx.factory.wait_for_sync()
        workers = [asyncio.create_task(self._worker(i), name=f"{self.name}-worker-{i}") for i in range(self.workers)]
        try:
            await asyncio.gather(*workers)
        finally:
            self.queue.shutdown()
            for w in workers:
                w.cancel()
            for w in workers:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await w

    async def _worker(self, index: int) -> None:
        while True:
            try:
                key = await self.queue.get()
            except QueueShutDown:
                return
            started = time.perf_counter()
            try:
                await self.sync(key)
            except asyncio.CancelledError:
                self.queue.done(key)
                raise
            except Exception as e:  # noqa: BLE001 - retried with back-off
                retries = self.queue.num_requeues(key)
                # A 409 is a stale cache meeting a newer object: expected, retried at once, and
                # only worth a line at debug level (kube's controllers requeue these silently).
                conflict = isinstance(e, StatusError) and e.code == 409
                level = logging.DEBUG if conflict and retries < 5 else logging.INFO if retries < 3 else logging.WARNING
                log.log(level, "%s: sync %s failed (retry %d): %s", self.name, key, retries, e,
                        exc_info=log.isEnabledFor(logging.DEBUG))
                self.queue.add_rate_limited(key)
            else:
                self.queue.forget(key)
            finally:
                self.queue.done(key)
            elapsed = time.perf_counter() - started
            if elapsed > 1.0:
                log.debug("%s: sync %s took %.2fs", self.name, key, elapsed)


class Expectations:
    """How many creations/deletions a controller is still waiting to see in its cache.

    A controller that just created 3 pods must not create 3 more because its informer has not
    caught up; it records the expectation and skips acting until the informer has observed the
    changes (or a TTL passes, in case an event was missed)."""

    TTL = 300.0

    def __init__(self, clock: Clock = REAL_CLOCK) -> None:
        self.clock = clock
        self._items: dict[str, tuple[int, int, float]] = {}

    def expect(self, key: str, adds: int = 0, deletes: int = 0) -> None:
        self._items[key] = (adds, deletes, self.clock.now())

    def observed_add(self, key: str) -> None:
        a, d, t = self._items.get(key, (0, 0, 0.0))
        if key in self._items:
            self._items[key] = (a - 1, d, t)

    def observed_delete(self, key: str) -> None:
        a, d, t = self._items.get(key, (0, 0, 0.0))
        if key in self._items:
            self._items[key] = (a, d - 1, t)

    def lower(self, key: str, adds: int = 0, deletes: int = 0) -> None:
        """A create/delete that failed will never be observed."""
        if key in self._items:
            a, d, t = self._items[key]
            self._items[key] = (a - adds, d - deletes, t)

    def satisfied(self, key: str) -> bool:
        item = self._items.get(key)
        if item is None:
            return True
        a, d, t = item
        if a <= 0 and d <= 0:
            return True
        return self.clock.now() - t > self.TTL

    def forget(self, key: str) -> None:
        self._items.pop(key, None)
