"""Leader election: two electors on one fake Lease, driven by a fake clock."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kubelite.client import Client, FakeClock, LeaderElector, LeadershipLost, MockTransport
from kubelite.client.transport import Request, Response

from .fakeapi import FakeAPI, status

LEASE = ("coordination.k8s.io/leases", "kube-system", "kube-controller-manager")


class Candidate:
    """One replica: its own client (whose network can be cut), elector and work task."""

    def __init__(self, api: FakeAPI, clock: FakeClock, identity: str, log: list[str], **kw: Any) -> None:
        self.partitioned = False
        self.identity = identity

        async def handle(req: Request) -> Any:
            if self.partitioned:
                return status(503, "ServiceUnavailable", "network partition")
            return await api.handle(req)
        self.client = Client(MockTransport(handle))
        self.log = log
        self.elector = LeaderElector(
            self.client, name="kube-controller-manager", identity=identity, clock=clock,
            on_started_leading=lambda: log.append(f"{identity} started"),
            on_stopped_leading=lambda: log.append(f"{identity} stopped"), **kw)
        self.working = False
        self.task: asyncio.Task[Any] | None = None

    async def work(self) -> None:
        self.working = True
        try:
            await asyncio.Event().wait()  # a controller runs until cancelled
        finally:
            self.working = False
            self.log.append(f"{self.identity} work cancelled")

    def start(self) -> None:
        self.task = asyncio.ensure_future(self.elector.run(self.work))

    async def stop(self) -> None:
        assert self.task is not None
        self.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self.task


def lease(api: FakeAPI) -> dict:
    obj = api.get(*LEASE)
    assert obj is not None
    return obj["spec"]


async def test_hand_over_on_clean_stop() -> None:
    api, clock, log = FakeAPI(), FakeClock(), list[str]()
    a, b = Candidate(api, clock, "a", log), Candidate(api, clock, "b", log)
    a.start()
    await clock.settle()
    assert a.elector.is_leader and a.working
    spec = lease(api)
    assert spec["holderIdentity"] == "a" and spec["leaseTransitions"] == 0 and spec["leaseDurationSeconds"] == 15
    assert spec["acquireTime"] == spec["renewTime"] == "2025-01-01T00:00:00.000000Z"
    b.start()
    for _ in range(15):  # 30 s: a renews every 2 s, b keeps seeing a valid lease
        await clock.advance(2)
    assert a.elector.is_leader and not b.elector.is_leader and not b.working
    assert b.elector.leader == "a"
    spec = lease(api)
    assert spec["holderIdentity"] == "a" and spec["renewTime"] > spec["acquireTime"]
    assert spec["acquireTime"] == "2025-01-01T00:00:00.000000Z"

    await a.stop()  # clean stop: work cancelled, lease released
    assert not a.working and not a.elector.is_leader
    assert lease(api)["holderIdentity"] == ""
    await clock.advance(2.4)  # b's next retry takes it without waiting out the lease
    assert b.elector.is_leader and b.working
    spec = lease(api)
    assert spec["holderIdentity"] == "b" and spec["leaseTransitions"] == 1
    assert log == ["a started", "a work cancelled", "a stopped", "b started"]
    await b.stop()


async def test_partitioned_leader_steps_down_before_successor_takes_over() -> None:
    api, clock, log = FakeAPI(), FakeClock(), list[str]()
    a, b = Candidate(api, clock, "a", log), Candidate(api, clock, "b", log)
    a.start()
    await clock.settle()
    b.start()
    await clock.advance(5)
    a.partitioned = True  # a can no longer renew; b sees the lease stop changing
    overlap: list[bool] = []

    def b_started() -> None:
        overlap.append(a.elector.is_leader)
        log.append("b started")
    b.elector.on_started_leading = b_started
    for _ in range(100):
        await clock.advance(0.5)
        if b.elector.is_leader:
            break
    assert b.elector.is_leader and overlap == [False]
    with pytest.raises(LeadershipLost):
        await a.task  # type: ignore[misc]
    assert not a.working and log.index("a work cancelled") < log.index("b started")
    spec = lease(api)
    assert spec["holderIdentity"] == "b" and spec["leaseTransitions"] == 1
    await b.stop()


async def test_renew_deadline_is_ten_seconds() -> None:
    api, clock, log = FakeAPI(), FakeClock(), list[str]()
    a = Candidate(api, clock, "a", log)
    a.start()
    await clock.settle()
    a.partitioned = True
    await clock.advance(2 + 9.9)  # next renew round starts at 2 s; it fails for 9.9 s
    assert a.elector.is_leader and a.working
    await clock.advance(0.2)
    assert not a.elector.is_leader and not a.working
    with pytest.raises(LeadershipLost):
        await a.task  # type: ignore[misc]


async def test_stolen_lease_is_noticed_at_next_renew() -> None:
    api, clock, log = FakeAPI(), FakeClock(), list[str]()
    a = Candidate(api, clock, "a", log)
    a.start()
    await clock.settle()
    obj = api.get(*LEASE)
    assert obj is not None
    api.put(LEASE[0], {**obj, "spec": {**obj["spec"], "holderIdentity": "intruder"}})
    await clock.advance(2)
    assert not a.working
    with pytest.raises(LeadershipLost):
        await a.task  # type: ignore[misc]
    assert lease(api)["holderIdentity"] == "intruder"  # not released: it was not ours


async def test_exactly_one_wins_a_race() -> None:
    api, clock = FakeAPI(), FakeClock()

    async def interleave(req: Request) -> Any:
        await asyncio.sleep(0)  # let the other candidate's request go first: reads, then writes
        return await api.handle(req)
    electors = [LeaderElector(Client(MockTransport(interleave)), name="l", identity=i, clock=clock) for i in "ab"]
    first = await asyncio.gather(*(e.try_acquire_or_renew() for e in electors))
    assert sorted(first) == [False, True]
    assert [r.method for r in api.requests] == ["GET", "GET", "POST", "POST"]
    # Both have now seen the lease; it then goes 16 s without renewal (> 15 s duration).
    assert sorted(await asyncio.gather(*(e.try_acquire_or_renew() for e in electors))) == [False, True]
    await clock.advance(16)
    # Both candidates read the expired lease, then both write: the resourceVersion decides.
    a, b = electors
    a._is_leader = b._is_leader = False  # both think they are challengers
    results = await asyncio.gather(a.try_acquire_or_renew(), b.try_acquire_or_renew())
    assert sorted(results) == [False, True]
    methods = [r.method for r in api.requests[-4:]]
    assert methods == ["GET", "GET", "PUT", "PUT"]  # both read the same resourceVersion
    assert (api.get("coordination.k8s.io/leases", "kube-system", "l") or {})["spec"]["leaseTransitions"] in (0, 1)


async def test_leading_context_and_no_release() -> None:
    api, clock = FakeAPI(), FakeClock()
    e = LeaderElector(Client(api.transport), name="sched", identity="s1", namespace="ns", clock=clock,
                      release_on_cancel=False)
    async with e.leading():
        assert e.is_leader
    assert not e.is_leader
    assert (api.get("coordination.k8s.io/leases", "ns", "sched") or {})["spec"]["holderIdentity"] == "s1"


@pytest.mark.parametrize("kw", [dict(lease_duration=10, renew_deadline=10), dict(renew_deadline=2.3, retry_period=2),
                                dict(identity="")])
def test_invalid_settings(kw: dict) -> None:
    args: dict[str, Any] = dict(name="l", identity="x", **{k: v for k, v in kw.items() if k != "identity"})
    if "identity" in kw:
        args["identity"] = kw["identity"]
    with pytest.raises(ValueError):
        LeaderElector(Client(MockTransport(lambda r: Response(500))), **args)
