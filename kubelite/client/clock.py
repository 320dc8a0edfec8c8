"""Injectable time for the client layer: the real clock and a manually advanced fake.

The work queue (delays, back-off), informers (resync, relist back-off), the event recorder
(aggregation windows, timestamps) and leader election (lease expiry) all read time through a
``Clock`` so their tests advance time explicitly instead of sleeping. Controllers, the scheduler
and the kubelet can pass the same clock down. ``now()`` is monotonic seconds for intervals;
``wall()`` is UTC wall time for timestamps written into objects.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import heapq
import itertools
import time
from typing import Any, Callable, Protocol


class Timer(Protocol):
    """What ``call_later`` returns: something that can be cancelled (``asyncio.TimerHandle`` is one)."""

    def cancel(self) -> None: ...


class Clock(Protocol):
    """Time source. ``sleep`` and ``call_later`` must be driven by the same timeline as ``now``."""

    def now(self) -> float:
        """Monotonic seconds (only differences are meaningful)."""
        ...

    def wall(self) -> dt.datetime:
        """Current UTC time, for timestamps written into API objects."""
        ...

    async def sleep(self, seconds: float) -> None: ...

    def call_later(self, delay: float, callback: Callable[[], Any]) -> Timer:
        """Run ``callback()`` (synchronously, on the event loop) after ``delay`` seconds."""
        ...


class RealClock:
    """The process clock: ``time.monotonic`` / ``asyncio.sleep`` / the running loop's timers."""

    __slots__ = ()

    def now(self) -> float:
        return time.monotonic()

    def wall(self) -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def call_later(self, delay: float, callback: Callable[[], Any]) -> Timer:
        return asyncio.get_running_loop().call_later(max(0.0, delay), callback)


REAL_CLOCK = RealClock()


class _FakeTimer:
    __slots__ = ("deadline", "callback", "cancelled")

    def __init__(self, deadline: float, callback: Callable[[], Any]) -> None:
        self.deadline = deadline
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """A clock that only moves when told to. ``await clock.advance(5)`` fires every timer and
    wakes every sleeper whose deadline is reached, in deadline order, and lets the woken tasks
    run before returning.

    Example: a work-queue item added with ``add_after(key, 2.0)`` becomes available only after
    ``await clock.advance(2.0)``; ``advance(1.9)`` leaves it waiting.
    """

    def __init__(self, start: float = 1000.0,
                 wall_start: dt.datetime = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)) -> None:
        self._now = start
        self._start = start
        self._wall_start = wall_start
        self._timers: list[tuple[float, int, _FakeTimer]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def wall(self) -> dt.datetime:
        return self._wall_start + dt.timedelta(seconds=self._now - self._start)

    def call_later(self, delay: float, callback: Callable[[], Any]) -> Timer:
        timer = _FakeTimer(self._now + max(0.0, delay), callback)
        heapq.heappush(self._timers, (timer.deadline, next(self._seq), timer))
        return timer

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not fut.done():
                fut.set_result(None)

        timer = self.call_later(seconds, wake)
        try:
            await fut
        finally:
            timer.cancel()

    @property
    def pending(self) -> int:
        """How many live timers/sleepers are waiting (useful to wait until a task has parked)."""
        return sum(1 for _, _, t in self._timers if not t.cancelled)

    def next_deadline(self) -> float | None:
        for deadline, _, t in sorted(self._timers):
            if not t.cancelled:
                return deadline
        return None

    async def settle(self, rounds: int = 20) -> None:
        """Yield to the event loop until woken tasks have had a chance to run."""
        for _ in range(rounds):
            await asyncio.sleep(0)

    async def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, firing due timers in order (time steps to each
        deadline so callbacks observe their own deadline as ``now()``)."""
        target = self._now + seconds
        await self.settle()
        while self._timers and self._timers[0][0] <= target:
            deadline, _, timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self._now = max(self._now, deadline)
            timer.callback()
            # Woken tasks may register new timers that are themselves due before target.
            await self.settle()
        self._now = target
        await self.settle()
