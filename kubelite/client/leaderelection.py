"""Leader election on a coordination.k8s.io/v1 Lease, with client-go's semantics.

The controller manager and the scheduler run several replicas (or restart quickly); only the
holder of their Lease acts. ``LeaderElector`` keeps ``spec.holderIdentity``,
``leaseDurationSeconds``, ``acquireTime``, ``renewTime`` and ``leaseTransitions`` the way
client-go does, so ``kubectl get lease -n kube-system`` reads the same, and a kubelite
component can even share a Lease with a client-go one:

- A candidate takes the Lease when it does not exist, is released (empty holder), or has not
  changed for ``leaseDurationSeconds`` as timed on the candidate's *own* clock since it last
  saw the Lease change (so clock skew between machines does not matter).
- Writes are conditional on the read ``resourceVersion``: of two candidates racing for an
  expired Lease exactly one wins, the other gets 409 and keeps waiting.
- The leader renews every ``retry_period`` (2 s); if it cannot renew for ``renew_deadline``
  (10 s) -- or sees another holder -- it stops leading. 15 s lease > 10 s deadline leaves a
  5 s margin in which nobody else can take over while the old leader winds down.
- On a clean stop the leader releases the Lease (empty holder, duration 1 s) so a successor
  takes over at its next retry instead of waiting out the lease.

Use ``await elector.run(work)`` or ``async with elector.leading(): ...``: both wait to acquire,
run the work while leading, cancel it when leadership is lost (raising ``LeadershipLost``),
and release on exit.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from typing import Any, AsyncIterator, Awaitable, Callable

from kubelite.api.helpers.times import format_micro_time
from kubelite.client.clock import REAL_CLOCK, Clock
from kubelite.client.resources import LEASES
from kubelite.client.rest import ApiError, Client

log = logging.getLogger(__name__)

JITTER = 1.2  # client-go's JitterFactor: retries are spread over [retry, 1.2 * retry]


class LeadershipLost(Exception):
    """The Lease could not be renewed within the renew deadline, or another holder took it."""


def _micro_time(clock: Clock) -> str:
    """metav1.MicroTime: RFC 3339 with microseconds."""
    return format_micro_time(clock.wall())


class LeaderElector:
    """Campaigns for Lease ``namespace/name`` as ``identity`` (unique per replica: hostname
    plus a random suffix, as kube-controller-manager uses)."""

    def __init__(self, client: Client, *, name: str, identity: str, namespace: str = "kube-system",
                 lease_duration: float = 15.0, renew_deadline: float = 10.0, retry_period: float = 2.0,
                 clock: Clock | None = None, release_on_cancel: bool = True,
                 on_started_leading: Callable[[], Any] | None = None,
                 on_stopped_leading: Callable[[], Any] | None = None,
                 on_new_leader: Callable[[str], Any] | None = None) -> None:
        if not identity:
            raise ValueError("leader election needs a non-empty identity")
        if lease_duration <= renew_deadline:
            raise ValueError("lease_duration must be greater than renew_deadline")
        if renew_deadline <= JITTER * retry_period:
            raise ValueError("renew_deadline must be greater than retry_period * 1.2")
        if retry_period <= 0:
            raise ValueError("retry_period must be positive")
        self.client = client
        self.name = name
        self.namespace = namespace
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.clock = clock or REAL_CLOCK
        self.release_on_cancel = release_on_cancel
        self.on_started_leading = on_started_leading
        self.on_stopped_leading = on_stopped_leading
        self.on_new_leader = on_new_leader
        self._lease: dict[str, Any] | None = None  # the Lease as last read or written
        self._observed_spec: dict[str, Any] | None = None
        self._observed_time = 0.0  # clock.now() when _observed_spec last changed
        self._leader = ""  # last observed holder
        self._is_leader = False

    @property
    def is_leader(self) -> bool:
        return self._is_leader

    @property
    def leader(self) -> str:
        """The holder identity last observed on the Lease ("" if none)."""
        return self._leader

    # -- one attempt ----------------------------------------------------------------------

    def _observe(self, lease: dict[str, Any]) -> None:
        spec = lease.get("spec") or {}
        if spec != self._observed_spec:
            self._observed_spec = spec
            self._observed_time = self.clock.now()
        self._lease = lease
        holder = spec.get("holderIdentity") or ""
        if holder != self._leader:
            self._leader = holder
            if holder and self.on_new_leader is not None:
                self._callback(self.on_new_leader, holder)

    def _record(self, *, transitions: int, acquire_time: str) -> dict[str, Any]:
        now = _micro_time(self.clock)
        return {"holderIdentity": self.identity, "leaseDurationSeconds": int(self.lease_duration),
                "acquireTime": acquire_time or now, "renewTime": now, "leaseTransitions": transitions}

    def _lease_valid(self) -> bool:
        spec = self._observed_spec or {}
        duration = spec.get("leaseDurationSeconds") or self.lease_duration
        return self._observed_time + duration > self.clock.now()

    async def try_acquire_or_renew(self) -> bool:
        """One attempt to take or renew the Lease; True if we hold it afterwards."""
        # Fast path, as client-go: a leader renews with one conditional PUT of what it last
        # wrote; only on conflict does it read the Lease again.
        if self._is_leader and self._lease is not None and self._lease_valid():
            spec = self._lease.get("spec") or {}
            lease = {**self._lease, "spec": self._record(
                transitions=spec.get("leaseTransitions") or 0, acquire_time=spec.get("acquireTime") or "")}
            try:
                self._observe(await self.client.update(LEASES, lease, namespace=self.namespace))
                return True
            except ApiError as e:
                if e.code != 409:
                    log.warning("lease %s/%s: renew failed: %s", self.namespace, self.name, e)
                    return False
        try:
            current = await self.client.get(LEASES, self.name, namespace=self.namespace)
        except ApiError as e:
            if e.code != 404:
                log.warning("lease %s/%s: read failed: %s", self.namespace, self.name, e)
                return False
            lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                     "metadata": {"name": self.name, "namespace": self.namespace},
                     "spec": self._record(transitions=0, acquire_time="")}
            try:
                self._observe(await self.client.create(LEASES, lease, namespace=self.namespace))
            except ApiError as e2:
                log.info("lease %s/%s: create lost: %s", self.namespace, self.name, e2)
                return False
            return True
        self._observe(current)
        spec = current.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        if holder and holder != self.identity and self._lease_valid():
            return False  # held by someone else and not expired
        transitions = spec.get("leaseTransitions") or 0
        if holder == self.identity:
            record = self._record(transitions=transitions, acquire_time=spec.get("acquireTime") or "")
        else:
            record = self._record(transitions=transitions + 1, acquire_time="")
        # The read resourceVersion rides along in metadata: a concurrent writer makes this 409.
        try:
            self._observe(await self.client.update(LEASES, {**current, "spec": record}, namespace=self.namespace))
        except ApiError as e:
            log.info("lease %s/%s: update lost: %s", self.namespace, self.name, e)
            return False
        return True

    # -- loops ----------------------------------------------------------------------------

    async def acquire(self) -> None:
        """Retry every ``retry_period`` (jittered) until we hold the Lease."""
        while True:
            try:
                ok = await self.try_acquire_or_renew()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - transport trouble: keep campaigning
                log.warning("lease %s/%s: %s", self.namespace, self.name, e)
                ok = False
            if ok:
                self._set_leader(True)
                return
            await self.clock.sleep(self.retry_period * random.uniform(1.0, JITTER))

    async def _renew_loop(self) -> None:
        """Returns when leadership is lost."""
        while True:
            await self.clock.sleep(self.retry_period)
            started = self.clock.now()
            while True:
                try:
                    ok = await self.try_acquire_or_renew()
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # noqa: BLE001
                    log.warning("lease %s/%s: renew: %s", self.namespace, self.name, e)
                    ok = False
                if ok:
                    break
                if self._leader and self._leader != self.identity:
                    log.warning("lease %s/%s: taken over by %s", self.namespace, self.name, self._leader)
                    return
                await self.clock.sleep(self.retry_period)
                if self.clock.now() - started >= self.renew_deadline:
                    log.warning("lease %s/%s: not renewed within %.0fs", self.namespace, self.name,
                                self.renew_deadline)
                    return

    async def release(self) -> bool:
        """Give the Lease up if we hold it (empty holder, 1 s duration)."""
        if not self._is_leader or self._lease is None:
            return False
        spec = self._lease.get("spec") or {}
        now = _micro_time(self.clock)
        lease = {**self._lease, "spec": {"holderIdentity": "", "leaseDurationSeconds": 1,
                                         "acquireTime": now, "renewTime": now,
                                         "leaseTransitions": spec.get("leaseTransitions") or 0}}
        try:
            self._observe(await self.client.update(LEASES, lease, namespace=self.namespace))
        except Exception as e:  # noqa: BLE001 - best effort: the lease expires anyway
            log.warning("lease %s/%s: release failed: %s", self.namespace, self.name, e)
            return False
        finally:
            self._set_leader(False)
        return True

    def _set_leader(self, leading: bool) -> None:
        if leading == self._is_leader:
            return
        self._is_leader = leading
        cb = self.on_started_leading if leading else self.on_stopped_leading
        if cb is not None:
            self._callback(cb)

    def _callback(self, cb: Callable[..., Any], *args: Any) -> None:
        try:
            res = cb(*args)
            if asyncio.iscoroutine(res):
                asyncio.ensure_future(res)
        except Exception:  # noqa: BLE001
            log.exception("lease %s/%s: callback %r failed", self.namespace, self.name, cb)

    # -- public drivers -------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def leading(self) -> AsyncIterator["LeaderElector"]:
        """Acquire, then run the block while leading. If leadership is lost the block's task
        is cancelled and ``LeadershipLost`` raised; on any exit the Lease is released (unless
        ``release_on_cancel`` is False or it was lost)."""
        await self.acquire()
        task = asyncio.current_task()
        assert task is not None
        lost = False

        async def guard() -> None:
            nonlocal lost
            await self._renew_loop()
            lost = True
            self._set_leader(False)
            task.cancel()

        renewer = asyncio.get_running_loop().create_task(guard(), name=f"lease-renew:{self.namespace}/{self.name}")
        try:
            yield self
        except asyncio.CancelledError:
            if lost and task.uncancel() == 0:
                raise LeadershipLost(f"lost lease {self.namespace}/{self.name}") from None
            raise
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            if not lost and self.release_on_cancel:
                await self.release()
            self._set_leader(False)
        if lost:  # the block finished just as the lease was lost
            if task.uncancel() == 0:
                raise LeadershipLost(f"lost lease {self.namespace}/{self.name}")

    async def run(self, work: Callable[[], Awaitable[Any]]) -> Any:
        """Wait for leadership, then ``await work()`` while leading; returns its result.
        Raises ``LeadershipLost`` (after cancelling ``work``) if the Lease is lost."""
        async with self.leading():
            return await work()
