"""Work queue semantics, table-driven over scripts of operations on a fake clock.

Script steps:
  ("add", k)            queue.add(k)
  ("after", k, s)       queue.add_after(k, s)
  ("limited", k)        queue.add_rate_limited(k)
  ("forget", k)         queue.forget(k)
  ("get", k)            queue.get() must return k at once
  ("empty",)            queue.get() must block (nothing ready)
  ("done", k)           queue.done(k)
  ("tick", s)           advance the clock by s seconds
  ("len", n)            len(queue) == n
  ("requeues", k, n)    queue.num_requeues(k) == n
  ("shutdown",)         queue.shutdown()
  ("closed",)           queue.get() raises QueueShutDown
"""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kubelite.client import ExponentialBackoff, FakeClock, QueueShutDown, WorkQueue

CASES: dict[str, list[tuple[Any, ...]]] = {
    "fifo order": [("add", "a"), ("add", "b"), ("add", "c"), ("get", "a"), ("get", "b"), ("get", "c"), ("empty",)],
    "duplicate adds collapse": [("add", "a"), ("add", "b"), ("add", "a"), ("len", 2), ("get", "a"), ("get", "b"),
                                ("empty",)],
    "re-add while processing is deferred until done": [
        ("add", "a"), ("get", "a"), ("add", "a"), ("len", 0), ("empty",), ("done", "a"), ("len", 1),
        ("get", "a"), ("done", "a"), ("empty",)],
    "several re-adds while processing give one more round": [
        ("add", "a"), ("get", "a"), ("add", "a"), ("add", "a"), ("add", "a"), ("done", "a"), ("get", "a"),
        ("done", "a"), ("empty",)],
    "done without re-add does not requeue": [("add", "a"), ("get", "a"), ("done", "a"), ("len", 0), ("empty",)],
    "other keys flow while one is processing": [
        ("add", "a"), ("get", "a"), ("add", "b"), ("add", "a"), ("get", "b"), ("done", "a"), ("get", "a")],
    "add_after waits for the clock": [
        ("after", "a", 2.0), ("empty",), ("tick", 1.9), ("empty",), ("tick", 0.1), ("get", "a")],
    "add_after earliest wins": [
        ("after", "a", 5.0), ("after", "a", 1.0), ("after", "a", 3.0), ("tick", 1.0), ("get", "a"), ("done", "a"),
        ("tick", 10.0), ("empty",)],
    "add_after zero is immediate": [("after", "a", 0), ("get", "a")],
    "add_after of a queued key is absorbed": [
        ("add", "a"), ("after", "a", 1.0), ("tick", 1.0), ("len", 1), ("get", "a"), ("empty",)],
    "rate limited back-off doubles from 5ms": [
        ("limited", "a"), ("requeues", "a", 1), ("tick", 0.004), ("empty",), ("tick", 0.001), ("get", "a"),
        ("done", "a"),
        ("limited", "a"), ("tick", 0.009), ("empty",), ("tick", 0.001), ("get", "a"), ("done", "a"),
        ("limited", "a"), ("tick", 0.019), ("empty",), ("tick", 0.001), ("get", "a"), ("done", "a"),
        ("requeues", "a", 3), ("forget", "a"), ("requeues", "a", 0),
        ("limited", "a"), ("tick", 0.005), ("get", "a")],
    "rate limits are per key": [
        ("limited", "a"), ("tick", 0.005), ("get", "a"), ("done", "a"),
        ("limited", "a"), ("limited", "b"), ("tick", 0.005), ("get", "b"), ("empty",),
        ("tick", 0.005), ("get", "a")],
    "shutdown drains queued keys then closes": [
        ("add", "a"), ("after", "b", 1.0), ("shutdown",), ("add", "c"), ("get", "a"), ("closed",), ("tick", 5.0),
        ("closed",)],
}


@pytest.mark.parametrize("script", CASES.values(), ids=CASES.keys())
async def test_workqueue_script(script: list[tuple[Any, ...]]) -> None:
    clock = FakeClock()
    q: WorkQueue[str] = WorkQueue("test", clock=clock)
    for step in script:
        op, *args = step
        if op == "add":
            q.add(args[0])
        elif op == "after":
            q.add_after(args[0], args[1])
        elif op == "limited":
            q.add_rate_limited(args[0])
        elif op == "forget":
            q.forget(args[0])
        elif op == "get":
            assert await asyncio.wait_for(q.get(), 0.1) == args[0], step
        elif op == "empty":
            getter = asyncio.ensure_future(q.get())
            await clock.settle()
            assert not getter.done(), f"{step}: got {getter.result() if getter.done() else None}"
            getter.cancel()
            with pytest.raises(asyncio.CancelledError):
                await getter
        elif op == "done":
            q.done(args[0])
        elif op == "tick":
            await clock.advance(args[0])
        elif op == "len":
            assert len(q) == args[0], step
        elif op == "requeues":
            assert q.num_requeues(args[0]) == args[1], step
        elif op == "shutdown":
            q.shutdown()
        elif op == "closed":
            with pytest.raises(QueueShutDown):
                await asyncio.wait_for(q.get(), 0.1)
        else:  # pragma: no cover
            raise AssertionError(f"bad step {step}")


@pytest.mark.parametrize("failures,expected", [(0, 0.005), (1, 0.01), (10, 5.12), (17, 655.36), (18, 1000.0),
                                               (500, 1000.0)])
def test_exponential_backoff(failures: int, expected: float) -> None:
    b: ExponentialBackoff[str] = ExponentialBackoff()
    for _ in range(failures):
        b.when("k")
    assert b.when("k") == pytest.approx(expected)


async def test_blocked_getter_wakes_on_add_and_on_shutdown() -> None:
    q: WorkQueue[str] = WorkQueue()
    getter = asyncio.ensure_future(q.get())
    await asyncio.sleep(0)
    q.add("x")
    assert await asyncio.wait_for(getter, 0.1) == "x"
    waiting = [asyncio.ensure_future(q.get()) for _ in range(3)]
    await asyncio.sleep(0)
    q.shutdown()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(r, QueueShutDown) for r in results)


async def test_cancelled_getter_passes_wakeup_on() -> None:
    q: WorkQueue[str] = WorkQueue()
    first = asyncio.ensure_future(q.get())
    second = asyncio.ensure_future(q.get())
    await asyncio.sleep(0)
    q.add("x")  # wakes `first`...
    first.cancel()  # ...which leaves before taking it
    assert await asyncio.wait_for(second, 0.1) == "x"
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_each_key_to_one_worker_at_a_time() -> None:
    q: WorkQueue[int] = WorkQueue()
    active: set[int] = set()
    processed: list[int] = []

    async def worker() -> None:
        while True:
            try:
                key = await q.get()
            except QueueShutDown:
                return
            assert key not in active
            active.add(key)
            await asyncio.sleep(0)
            q.add(key % 3)  # keep re-adding keys that other workers may hold
            active.discard(key)
            processed.append(key)
            q.done(key)

    for i in range(10):
        q.add(i)
    workers = [asyncio.ensure_future(worker()) for _ in range(4)]
    await asyncio.sleep(0.01)
    await q.shutdown_with_drain()
    await asyncio.gather(*workers)
    assert set(processed) == set(range(10))


async def test_shutdown_with_drain_waits_for_in_flight() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("a")
    key = await q.get()
    drain = asyncio.ensure_future(q.shutdown_with_drain())
    await asyncio.sleep(0.01)
    assert not drain.done()
    q.done(key)
    await asyncio.wait_for(drain, 0.1)
