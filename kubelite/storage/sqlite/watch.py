"""Watchers of the SQLite store: history replay from the database, then live events.

``SQLiteStorage.watch`` creates a ``SQLiteWatcher`` and registers it with the ``WatchHub``; the
store's commit callback (on the event loop) calls ``WatchHub.publish`` with each committed batch
in revision order. Everything here runs on the event loop; only the history pages are read on
the store's reader threads (through the ``fetch`` function the store passes in).

Worked example: the store is at revision 120 and a client watches from 100. The watcher is
registered at once, so events 121, 122, ... are buffered from that instant; iteration first
pages through rows 101..120 from the database, then drains the buffer. Both sources meet at
120 exactly, so there is no gap; a revision already delivered is skipped, so no duplicate.

Slow consumers: the live buffer is bounded (``max_queue`` events). When a commit would push it
past that, the watcher is closed and the next ``__anext__`` raises ``WatchOverflow``; the client
re-watches from the last revision it saw (or relists), exactly as kube-apiserver drops a watcher
that cannot keep up. Memory per watcher therefore stays bounded however far a client lags.
"""
from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

from kubelite.storage.interface import StorageError, WatchEvent

# fetch(prefix, after, upto, limit): history rows after < rev <= upto, raises Compacted.
Fetch = Callable[[str, int, int, int], Awaitable[list[WatchEvent]]]

REPLAY_PAGE = 1000


class WatchOverflow(StorageError):
    """The watcher fell too far behind and was closed; watch again from the last seen revision."""

    def __init__(self, prefix: str, limit: int) -> None:
        super().__init__(f"watch on {prefix!r} closed: more than {limit} events pending")
        self.prefix = prefix


class SQLiteWatcher:
    """Iterates the changes under ``prefix`` with revision > ``after``; ``close()`` ends it."""

    def __init__(self, prefix: str, *, after: int, replay_upto: int, max_queue: int,
                 fetch: Fetch, on_close: Callable[[SQLiteWatcher], None]) -> None:
        self.prefix = prefix
        self._pos = after              # highest revision handed to (or queued for) the consumer
        self._replay_upto = replay_upto
        self._max_queue = max_queue
        self._fetch = fetch
        self._on_close = on_close
        self._replayed: deque[WatchEvent] = deque()
        self._live: deque[WatchEvent] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self._error: BaseException | None = None

    def __aiter__(self) -> SQLiteWatcher:
        return self

    async def __anext__(self) -> WatchEvent:
        while True:
            if self._error is not None:
                err, self._error = self._error, None
                raise err
            if self._closed:
                raise StopAsyncIteration
            if self._replayed:
                return self._replayed.popleft()
            if self._pos < self._replay_upto:
                await self._replay_page()
                continue
            if self._live:
                ev = self._live.popleft()
                if ev.revision > self._pos:
                    self._pos = ev.revision
                    return ev
                continue
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    async def _replay_page(self) -> None:
        try:
            page = await self._fetch(self.prefix, self._pos, self._replay_upto, REPLAY_PAGE)
        except StorageError as e:
            self._fail(e)
            return
        if self._closed:
            return
        self._replayed.extend(page)
        # A short page means nothing else is left at or below replay_upto.
        self._pos = page[-1].revision if len(page) == REPLAY_PAGE else self._replay_upto

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._replayed.clear()
        self._live.clear()
        self._on_close(self)
        self._wake()

    # -- called by the hub ----------------------------------------------------------------

    def push(self, events: list[WatchEvent]) -> None:
        if self._closed:
            return
        if len(self._live) + len(events) > self._max_queue:
            self._fail(WatchOverflow(self.prefix, self._max_queue))
            return
        self._live.extend(events)
        self._wake()

    def _fail(self, err: BaseException) -> None:
        if self._closed:
            return
        self._error = err
        self.close()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class WatchHub:
    """Fans committed events out to the watchers whose prefix matches the key.

    Watchers are grouped by prefix (typically one per resource type, shared by many clients),
    so a batch is filtered once per distinct prefix, not once per watcher.
    """

    def __init__(self) -> None:
        self._by_prefix: dict[str, set[SQLiteWatcher]] = {}

    def __len__(self) -> int:
        return sum(len(ws) for ws in self._by_prefix.values())

    def add(self, w: SQLiteWatcher) -> None:
        self._by_prefix.setdefault(w.prefix, set()).add(w)

    def remove(self, w: SQLiteWatcher) -> None:
        ws = self._by_prefix.get(w.prefix)
        if ws is not None:
            ws.discard(w)
            if not ws:
                del self._by_prefix[w.prefix]

    def publish(self, events: list[WatchEvent]) -> None:
        for prefix, ws in list(self._by_prefix.items()):
            matched = events if not prefix else [e for e in events if e.kv.key.startswith(prefix)]
            if matched:
                for w in list(ws):
                    w.push(matched)

    def close_all(self) -> None:
        for ws in list(self._by_prefix.values()):
            for w in list(ws):
                w.close()
