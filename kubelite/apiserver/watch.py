"""Watch fan-out: one storage watch for the whole registry, decoded once, delivered to many.

The hub keeps a single ``storage.watch("/registry/")`` open, decodes each change once into a
``Change`` and keeps the most recent ones in a ring, so a client resuming from a recent
resourceVersion is served from memory. Subscribers (one per HTTP watch, or an in-process
watcher) register for one storage resource (``core/pods``) and optionally one namespace; each
gets changes through its own bounded queue. A watcher that falls too far behind is ended with
410 Expired -- like kube-apiserver, which closes slow watchers -- and its client relists.

The ring is bounded by count (``RING_SIZE``) and by bytes (``RING_BYTES``), whichever is
reached first. Resuming from a revision older than the ring goes straight to storage (which replays its own
history or answers Compacted -> 410 Gone).
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from typing import Any

import orjson

from kubelite.storage import Compacted, Storage, WatchEvent

log = logging.getLogger(__name__)

RING_SIZE = 10000
#: bytes of object JSON the ring may hold (new and old value of each change): 10,000 changes of
#: a 1 MB ConfigMap would otherwise pin 20 GB
RING_BYTES = 32 * 1024 * 1024
QUEUE_LIMIT = 10000


class Change:
    """One committed change, shared by every subscriber (treat as read-only!).

    Objects are decoded lazily and at most once: the first subscriber that needs ``obj`` (or
    ``prev``) pays for the decode, the rest share it. The ring keeps only the raw bytes
    (``Change.raw_copy``), because thousands of decoded objects kept alive make every garbage
    collection slower for the whole server."""

    __slots__ = ("revision", "type", "storage_resource", "namespace", "raw", "prev_raw",
                 "prev_rev", "_obj", "_prev", "cache")

    def __init__(self, revision: int, type: str, storage_resource: str, namespace: str, raw: bytes,
                 prev_raw: bytes | None, prev_rev: int) -> None:
        self.revision = revision
        self.type = type  # PUT or DELETE
        self.storage_resource = storage_resource
        self.namespace = namespace  # "" for cluster-scoped keys
        self.raw = raw
        self.prev_raw = prev_raw
        self.prev_rev = prev_rev
        self._obj: dict[str, Any] | None = None
        self._prev: dict[str, Any] | None = None
        #: encodings computed by the first subscriber that needs them, reused by the rest
        self.cache: dict[Any, bytes] = {}

    @property
    def obj(self) -> dict[str, Any]:
        if self._obj is None:
            self._obj = orjson.loads(self.raw)
            self._obj.setdefault("metadata", {})["resourceVersion"] = str(self.revision)
        return self._obj

    @property
    def prev(self) -> dict[str, Any] | None:
        """The object before this change (only selector-filtered watches need it)."""
        if self._prev is None and self.prev_raw is not None:
            self._prev = orjson.loads(self.prev_raw)
            self._prev.setdefault("metadata", {})["resourceVersion"] = str(self.prev_rev)
        return self._prev

    def raw_copy(self) -> "Change":
        return Change(self.revision, self.type, self.storage_resource, self.namespace, self.raw,
                      self.prev_raw, self.prev_rev)


def _size(ch: Change) -> int:
    return len(ch.raw) + (len(ch.prev_raw) if ch.prev_raw is not None else 0)


def split_key(key: str) -> tuple[str, str]:
    """``/registry/core/pods/ns/name`` -> ("core/pods", "ns"); cluster-scoped -> (res, "")."""
    parts = key.split("/")
    # ["", "registry", group, plural, ns?, name]
    res = parts[2] + "/" + parts[3]
    return res, (parts[4] if len(parts) == 6 else "")


def to_change(ev: WatchEvent) -> Change:
    res, ns = split_key(ev.kv.key)
    prev = ev.prev
    return Change(ev.kv.mod_revision, ev.type, res, ns, ev.kv.value,
                  prev.value if prev is not None else None, prev.mod_revision if prev is not None else 0)


class _End:
    """Queue sentinel: the stream is over (``error`` says why, None for a normal close)."""

    def __init__(self, error: Exception | None) -> None:
        self.error = error


class Subscription:
    """A stream of Changes for one resource (and namespace) after a revision.

    ``await next(timeout)`` returns the next Change, None when ``timeout`` passed with nothing
    new (time for a bookmark), and raises StopAsyncIteration at the end or ``Compacted`` when the
    watcher fell behind or asked for history that is gone."""

    def __init__(self, hub: "WatchHub", storage_resource: str, namespace: str, after: int) -> None:
        self.hub = hub
        self.storage_resource = storage_resource
        self.namespace = namespace
        self.last = after
        self.queue: asyncio.Queue[Change | _End] = asyncio.Queue()
        self.closed = False
        self._pump: asyncio.Task[None] | None = None

    def offer(self, change: Change) -> None:
        if self.closed:
            return
        if self.queue.qsize() >= QUEUE_LIMIT:
            self._finish(Compacted(self.last, 0))
            return
        self.queue.put_nowait(change)

    def _finish(self, error: Exception | None) -> None:
        if not self.closed:
            self.closed = True
            self.hub._unsubscribe(self)
            self.queue.put_nowait(_End(error))

    def close(self) -> None:
        self._finish(None)
        if self._pump is not None:
            self._pump.cancel()

    async def next(self, timeout: float | None = None) -> Change | None:
        if not timeout:
            return await self._next()
        # asyncio.timeout, not wait_for: Python 3.11's wait_for drops a cancellation that races
        # with the queue delivering an item, and the cancelled watcher then runs on (a server
        # whose components never stop); it also spares a task per call. One deadline for the
        # whole call: changes at or below ``last`` are skipped and must not restart the clock.
        try:
            async with asyncio.timeout(timeout):
                return await self._next()
        except TimeoutError:
            return None

    async def _next(self) -> Change:
        while True:
            item = await self.queue.get()
            if isinstance(item, _End):
                self.queue.put_nowait(item)  # stay ended for later calls
                if item.error is not None:
                    raise item.error
                raise StopAsyncIteration
            if item.revision > self.last:
                self.last = item.revision
                return item


class WatchHub:
    def __init__(self, storage: Storage, *, ring_size: int = RING_SIZE, ring_bytes: int = RING_BYTES) -> None:
        self.storage = storage
        self.ring: collections.deque[Change] = collections.deque()
        self.ring_size = ring_size
        self.ring_bytes = ring_bytes
        self.ring_used = 0  # bytes of raw values in the ring
        self.revision = 0  # last revision seen by the hub
        self.floor = 0  # every change after this revision is in the ring
        self._subs: dict[str, set[Subscription]] = {}
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()
        #: (revision, future) of callers waiting for the hub to reach a revision
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    async def wait_for(self, revision: int, timeout: float) -> bool:
        """Wait until the hub has seen ``revision`` (at most ``timeout`` seconds): True if it has."""
        if self.revision >= revision:
            return True
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (revision, fut)
        self._waiters.append(entry)
        try:
            async with asyncio.timeout(timeout):
                await fut
            return True
        except TimeoutError:
            return self.revision >= revision
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(entry)

    def _wake(self) -> None:
        for rev, fut in self._waiters:
            if rev <= self.revision and not fut.done():
                fut.set_result(None)

    async def start(self) -> None:
        self.revision = self.floor = self.storage.current_revision()
        self._task = asyncio.create_task(self._run(), name="watch-hub")
        self.ready.set()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        for subs in list(self._subs.values()):
            for s in list(subs):
                s.close()

    async def _run(self) -> None:
        while True:
            watcher = self.storage.watch("/registry/", revision=self.revision)
            try:
                async for ev in watcher:
                    ch = to_change(ev)
                    self.revision = ch.revision
                    if self._waiters:
                        self._wake()
                    self._remember(ch)
                    subs = self._subs.get(ch.storage_resource)
                    if subs:
                        for s in list(subs):
                            if not s.namespace or s.namespace == ch.namespace:
                                s.offer(ch)
            except asyncio.CancelledError:
                watcher.close()
                raise
            except Exception:  # storage hiccup or overflow: resume from where we were
                log.exception("watch hub: storage watch ended; resuming from %d", self.revision)
                watcher.close()
                await asyncio.sleep(0.05)

    def _remember(self, ch: Change) -> None:
        """Keep ``ch`` in the ring, dropping the oldest changes past the count or byte bound
        (``floor`` then moves up: resuming below it reads storage)."""
        kept = ch.raw_copy()
        self.ring.append(kept)
        self.ring_used += _size(kept)
        while len(self.ring) > 1 and (len(self.ring) > self.ring_size or self.ring_used > self.ring_bytes):
            old = self.ring.popleft()
            self.ring_used -= _size(old)
            self.floor = old.revision

    def _unsubscribe(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.storage_resource)
        if subs is not None:
            subs.discard(sub)

    def subscribe(self, storage_resource: str, namespace: str, after: int) -> Subscription:
        """Every change to the resource (in the namespace, if given) after revision ``after``,
        in order, then live. History older than the ring is read from storage, which raises
        ``Compacted`` (-> 410 Gone) if it is gone."""
        sub = Subscription(self, storage_resource, namespace, after)
        if after < self.floor:
            prefix = f"/registry/{storage_resource}/" + (f"{namespace}/" if namespace else "")
            watcher = self.storage.watch(prefix, revision=after)  # may raise Compacted

            async def pump() -> None:
                try:
                    async for ev in watcher:
                        sub.offer(to_change(ev))
                except Exception as e:  # noqa: BLE001 - handed to the reader
                    sub._finish(e)
                finally:
                    watcher.close()
            sub._pump = asyncio.create_task(pump(), name=f"watch-pump {prefix}")
            return sub
        self._subs.setdefault(storage_resource, set()).add(sub)
        for ch in self._since(after):
            if ch.storage_resource == storage_resource and (not namespace or ch.namespace == namespace):
                sub.queue.put_nowait(ch.raw_copy())
        return sub

    def _since(self, after: int) -> list[Change]:
        ring = self.ring
        if not ring or after >= ring[-1].revision:
            return []
        # binary search over the ring (revisions strictly increase)
        lo, hi = 0, len(ring)
        while lo < hi:
            mid = (lo + hi) // 2
            if ring[mid].revision <= after:
                lo = mid + 1
            else:
                hi = mid
        return [ring[i] for i in range(lo, len(ring))]
