"""The scheduler: the loop that takes pending pods from the queue and binds them to nodes, and
``run_scheduler``, the entry point the server bundler calls.

One iteration (kube's ``scheduleOne``)::

    pop ─► refresh snapshot ─► schedule_pod (pure: filter, score, select) ─► assume in cache
         ─► Reserve ─► Permit ─► [binding task: PreBind ─► Bind (POST pods/binding) ─► event]
    on FitError: PostFilter (preemption) ─► requeue (unschedulable/backoff) ─► FailedScheduling
                 event + PodScheduled=False condition (+ nominatedNodeName)

The binding runs in its own task (up to ``max_in_flight_bindings`` at once): the loop moves on
to the next pod as soon as the decision is assumed in the cache, so API round trips overlap
with scheduling -- the next cycle already sees the assumed pod's resources taken. If a bind
fails, the pod is forgotten from the cache and retried after back-off.

All writes go through the ``Binder`` (``binder.py``); decisions never touch the client.
"""
from __future__ import annotations

import asyncio
import logging
import random
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Coroutine

from kubelite.api.helpers.podutil import get_pod_condition
from kubelite.api.helpers.times import format_time
from kubelite.client import (
    NAMESPACES, NODES, NORMAL, PODS, REPLICASETS, REPLICATIONCONTROLLERS, SERVICES, STATEFULSETS, WARNING, ApiError,
    Client, EventRecorder, FakeRecorder, LeaderElector, SharedInformerFactory, index_by_namespace,
)
from kubelite.client.clock import REAL_CLOCK, Clock
from kubelite.client.resources import ResourceRef
from kubelite.scheduler.algorithm import Algorithm, SchedulingError
from kubelite.scheduler.binder import ApiBinder, Binder
from kubelite.scheduler.cache import Cache, CacheError, Snapshot
from kubelite.scheduler.eventhandlers import ClusterListers, add_all_event_handlers, is_assigned
from kubelite.scheduler.framework.interface import EVENT_ASSIGNED_POD_DELETE, Code, CycleState, Status
from kubelite.scheduler.framework.registry import REGISTRY, default_profile
from kubelite.scheduler.framework.runtime import Framework, Profile, ScoreError
from kubelite.scheduler.framework.types import DEFAULT_SCHEDULER_NAME, FitError, NoNodesAvailable, PodInfo
from kubelite.scheduler.queue import QueueClosed, QueuedPodInfo, SchedulingQueue, sort_key_from_less

log = logging.getLogger(__name__)

PRIORITYCLASSES = ResourceRef("scheduling.k8s.io", "v1", "priorityclasses", False, "PriorityClass")
# Terminal pods hold no resources: kube-scheduler's pod informer leaves them out.
POD_FIELD_SELECTOR = "status.phase!=Succeeded,status.phase!=Failed"
REASON_UNSCHEDULABLE = "Unschedulable"
REASON_SCHEDULER_ERROR = "SchedulerError"
POD_SCHEDULED = "PodScheduled"
MAX_MESSAGE = 1024


@dataclass(slots=True)
class SchedulerStats:
    attempts: int = 0
    scheduled: int = 0           # bound successfully
    unschedulable: int = 0       # attempts that ended in FitError
    errors: int = 0              # attempts that ended in an error (incl. failed binds)
    preemptions: int = 0
    algorithm_seconds: float = 0.0  # time inside the pure decision (filter/score/select)
    cycle_seconds: float = 0.0      # the whole synchronous part of each iteration


def _truncate(msg: str) -> str:
    return msg if len(msg) <= MAX_MESSAGE else msg[:MAX_MESSAGE - 3] + "..."


class Scheduler:
    """The scheduling loop over a cache, a queue and one framework profile.

    Build it with ``Scheduler.for_client(client, factory, ...)`` in production; tests build it
    directly with a ``RecordingBinder`` and feed the cache/queue (or informers) themselves.
    """

    def __init__(self, *, binder: Binder, recorder: Any = None, scheduler_name: str = DEFAULT_SCHEDULER_NAME,
                 profile: Profile | None = None, registry: dict[str, Any] | None = None,
                 clock: Clock | None = None, rng: random.Random | None = None,
                 listers: ClusterListers | None = None,
                 pod_lookup: Callable[[str], dict[str, Any] | None] | None = None,
                 max_in_flight_bindings: int = 512) -> None:
        self.scheduler_name = scheduler_name
        self.clock = clock or REAL_CLOCK
        self.rng = rng or random.Random()
        self.listers = listers or ClusterListers()
        self.binder = binder
        self.recorder = recorder if recorder is not None else FakeRecorder()
        self.cache = Cache()
        self.snapshot = Snapshot()
        self.fwk = Framework(profile or default_profile(scheduler_name), registry or REGISTRY, binder=binder,
                             namespace_labels=self.listers.namespace_labels, rng=self.rng,
                             default_selector=self.listers.default_selector)
        sort = self.fwk.queue_sort
        sort_key = getattr(sort, "sort_key", None) or (sort_key_from_less(sort.less) if sort is not None else None)
        self.queue = SchedulingQueue(clock=self.clock, sort_key=sort_key, pre_enqueue=self.fwk.run_pre_enqueue,
                                     events=self.fwk.cluster_events())
        self.fwk.set_nominator(self.queue)
        self.algorithm = Algorithm(rng=self.rng)
        self.stats = SchedulerStats()
        self._pod_lookup = pod_lookup
        self._max_bindings = max_in_flight_bindings
        self._bind_slots: asyncio.Semaphore | None = None
        self._bindings: set[asyncio.Task[None]] = set()
        self._background: set[asyncio.Task[Any]] = set()

    # -- construction against a cluster -----------------------------------------------------

    @classmethod
    def for_client(cls, client: Client, factory: SharedInformerFactory, *,
                   scheduler_name: str = DEFAULT_SCHEDULER_NAME, recorder: Any = None,
                   profile: Profile | None = None, clock: Clock | None = None,
                   rng: random.Random | None = None, spread_defaults: bool = True,
                   max_in_flight_bindings: int = 512) -> "Scheduler":
        """A scheduler fed by ``factory``'s informers (call ``factory.start()`` afterwards)."""
        pods = factory.informer(PODS, field_selector=POD_FIELD_SELECTOR)
        nodes = factory.informer(NODES)
        listers = ClusterListers(
            namespaces=factory.informer(NAMESPACES),
            priority_classes=factory.informer(PRIORITYCLASSES),
            services=factory.informer(SERVICES) if spread_defaults else None,
            replicasets=factory.informer(REPLICASETS) if spread_defaults else None,
            statefulsets=factory.informer(STATEFULSETS) if spread_defaults else None,
            replicationcontrollers=factory.informer(REPLICATIONCONTROLLERS) if spread_defaults else None,
        )
        for inf in (listers.services, listers.replicasets, listers.statefulsets, listers.replicationcontrollers):
            if inf is not None:
                try:
                    inf.add_index("namespace", index_by_namespace)
                except ValueError:
                    pass  # shared informer already indexed
        sched = cls(binder=ApiBinder(client, scheduler_name=scheduler_name), recorder=recorder,
                    scheduler_name=scheduler_name, profile=profile, clock=clock, rng=rng, listers=listers,
                    pod_lookup=pods.get, max_in_flight_bindings=max_in_flight_bindings)
        add_all_event_handlers(sched, pods=pods, nodes=nodes)
        return sched

    def pod_info(self, pod: dict[str, Any]) -> PodInfo:
        return PodInfo(pod, priority=self.listers.resolve_priority(pod))

    # -- the loop ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Schedule until cancelled (or the queue is closed)."""
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.queue.run(), name=f"{self.scheduler_name}:queue-flush")
                tg.create_task(self._loop(), name=f"{self.scheduler_name}:loop")
        finally:
            self.queue.close()
            await self._cancel_tasks()

    async def _loop(self) -> None:
        while True:
            try:
                q = await self.queue.pop()
            except QueueClosed:
                self.queue.close()
                raise asyncio.CancelledError() from None
            await self.schedule_one(q)
            # Let informer events, binding tasks and status writes run between cycles.
            await asyncio.sleep(0)

    async def schedule_next(self) -> QueuedPodInfo:
        """Pop one pod and run one scheduling cycle for it (tests drive the loop with this)."""
        q = await self.queue.pop()
        await self.schedule_one(q)
        return q

    async def schedule_one(self, q: QueuedPodInfo) -> None:
        t0 = time.perf_counter()
        try:
            assumed = self._scheduling_cycle(q)
        finally:
            self.stats.cycle_seconds += time.perf_counter() - t0
        if assumed is None:
            return
        pod, host, state, waiting = assumed
        if self._bind_slots is None:
            self._bind_slots = asyncio.Semaphore(self._max_bindings)
        await self._bind_slots.acquire()
        task = asyncio.get_running_loop().create_task(self._binding_cycle(state, q, pod, host, waiting),
                                                      name=f"bind:{pod.key}")
        self._bindings.add(task)
        task.add_done_callback(self._bindings.discard)

    def _scheduling_cycle(self, q: QueuedPodInfo) -> tuple[PodInfo, str, CycleState, bool] | None:
        """The synchronous part: decide, assume, reserve, permit. Returns what to bind."""
        pi = q.pod_info
        key = pi.key
        if pi.terminating or self.cache.get_pod(key) is not None:
            self.queue.done(key)  # being deleted, or already assumed/bound
            return None
        fwk = self.fwk
        state = CycleState()
        self.cache.update_snapshot(self.snapshot)
        fwk.set_snapshot(self.snapshot)
        self.stats.attempts += 1
        t0 = time.perf_counter()
        try:
            result = self.algorithm.schedule_pod(fwk, state, pi, self.snapshot)
        except FitError as fe:
            self._on_fit_error(q, state, fe)
            return None
        except NoNodesAvailable as e:
            self.stats.errors += 1
            self._fail(q, str(e), reason=REASON_UNSCHEDULABLE, error=True)
            return None
        except (SchedulingError, ScoreError) as e:
            self.stats.errors += 1
            log.warning("scheduling %s failed: %s", key, e.status.message)
            self._fail(q, e.status.message, reason=REASON_SCHEDULER_ERROR, error=True)
            return None
        finally:
            self.stats.algorithm_seconds += time.perf_counter() - t0
        host = result.suggested_host
        assumed = pi.assumed(host)
        try:
            self.cache.assume_pod(assumed)
        except CacheError as e:
            self.stats.errors += 1
            self._fail(q, str(e), reason=REASON_SCHEDULER_ERROR, error=True)
            return None
        st = fwk.run_reserve(state, assumed, host)
        if st is None:
            st = fwk.run_permit(state, assumed, host)
            if st is not None and st.code == Code.WAIT:
                self.queue.delete_nominated_pod(key)
                self.queue.done(key)
                return assumed, host, state, True
        if st is not None:
            fwk.run_unreserve(state, assumed, host)
            self.cache.forget_pod(assumed)
            self._fail_status(q, st)
            return None
        self.queue.delete_nominated_pod(key)
        self.queue.done(key)
        return assumed, host, state, False

    def _on_fit_error(self, q: QueuedPodInfo, state: CycleState, fe: FitError) -> None:
        self.stats.unschedulable += 1
        pi = q.pod_info
        diag = fe.diagnosis
        nominating: str | None = None
        if self.fwk.post_filter_plugins:
            res, st = self.fwk.run_post_filter(state, pi, diag.node_to_status)
            if st is not None and st.code == Code.ERROR:
                log.warning("PostFilter for %s failed: %s", pi.key, st.message)
            elif st is not None and st.message:
                diag.post_filter_msg = st.message
            if res is not None:
                nominating = res.nominated_node_name
                if res.victims:
                    self._preempt(pi, res.nominated_node_name, res.victims)
        self._fail(q, str(fe), reason=REASON_UNSCHEDULABLE, plugins=diag.unschedulable_plugins,
                   nominating=nominating)

    def _preempt(self, preemptor: PodInfo, node_name: str, victims: list[PodInfo]) -> None:
        """Carry out a preemption decision: evict the victims, drop weaker nominations."""
        self.stats.preemptions += 1
        for v in victims:
            waiting = self.fwk.get_waiting_pod(v.uid or v.key)
            if waiting is not None:
                waiting.reject("DefaultPreemption", "preempted")
                continue
            self._spawn(self.binder.preempt(v, preemptor, node_name), f"preempt:{v.key}")
            self.recorder.event(v.pod, NORMAL, "Preempted", f"Preempted by pod {preemptor.uid} on node {node_name}")
        for p in self.queue.nominated_pods_for_node(node_name):
            if p.priority < preemptor.priority and p.key != preemptor.key:
                self.queue.delete_nominated_pod(p.key)
                self._spawn(self.binder.set_scheduling_status(p, None, ""), f"clear-nomination:{p.key}")

    def _fail_status(self, q: QueuedPodInfo, st: Status) -> None:
        if st.rejected:
            self.stats.unschedulable += 1
            self._fail(q, st.message, reason=REASON_UNSCHEDULABLE, plugins={st.plugin} if st.plugin else set())
        else:
            self.stats.errors += 1
            self._fail(q, st.message, reason=REASON_SCHEDULER_ERROR, error=True)

    def _fail(self, q: QueuedPodInfo, message: str, *, reason: str, plugins: set[str] | None = None,
              error: bool = False, nominating: str | None = None) -> None:
        """Requeue a pod that could not be scheduled and tell the user why."""
        pi = q.pod_info
        key = pi.key
        current = self._pod_lookup(key) if self._pod_lookup is not None else pi.pod
        if current is None or is_assigned(current):
            self.queue.done(key)  # deleted, or bound meanwhile (by us or someone else)
            return
        self.queue.requeue_failed(q, unschedulable_plugins=plugins, error=error)
        if nominating is not None:
            if nominating:
                self.queue.add_nominated_pod(pi, nominating)
            else:
                self.queue.delete_nominated_pod(key)
        message = _truncate(message)
        self.recorder.event(pi.pod, WARNING, "FailedScheduling", message)
        old = get_pod_condition(current, POD_SCHEDULED)
        current_nominated = (current.get("status") or {}).get("nominatedNodeName") or ""
        nominated_change = nominating if nominating is not None and nominating != current_nominated else None
        unchanged = (old is not None and old.get("status") == "False" and old.get("reason") == reason
                     and old.get("message") == message)
        if unchanged and nominated_change is None:
            return
        now = format_time(self.clock.wall())
        transition = old.get("lastTransitionTime") if old is not None and old.get("status") == "False" else now
        condition = None if unchanged else {"type": POD_SCHEDULED, "status": "False", "reason": reason,
                                            "message": message, "lastProbeTime": None,
                                            "lastTransitionTime": transition or now}
        self._spawn(self.binder.set_scheduling_status(pi, condition, nominated_change), f"status:{key}")

    async def _binding_cycle(self, state: CycleState, q: QueuedPodInfo, pod: PodInfo, host: str,
                             waiting: bool) -> None:
        fwk = self.fwk
        try:
            st: Status | None = None
            if waiting:
                st = await fwk.wait_on_permit(pod)
            if st is None:
                st = await fwk.run_pre_bind(state, pod, host)
            if st is None:
                st = await fwk.run_bind(state, pod, host)
            if st is not None:
                self._binding_failed(state, q, pod, host, st)
                return
            self.cache.finish_binding(pod)
            self.stats.scheduled += 1
            self.recorder.event(pod.pod, NORMAL, "Scheduled", f"Successfully assigned {pod.key} to {host}")
            fwk.run_post_bind(state, pod, host)
        except Exception as e:  # never lose a pod to an unexpected error
            log.exception("binding cycle of %s failed", pod.key)
            self._binding_failed(state, q, pod, host, Status.as_error(e))
        finally:
            assert self._bind_slots is not None
            self._bind_slots.release()

    def _binding_failed(self, state: CycleState, q: QueuedPodInfo, pod: PodInfo, host: str, st: Status) -> None:
        self.fwk.run_unreserve(state, pod, host)
        try:
            self.cache.forget_pod(pod)
        except CacheError:
            log.exception("forgetting %s", pod.key)
        # The resources it held are free again: pods waiting for room may fit now.
        self.queue.move_on_event(EVENT_ASSIGNED_POD_DELETE, pod.pod, None)
        err = st.error
        if isinstance(err, ApiError) and err.code == 404:
            self.queue.delete(pod.key)  # the pod is gone
            return
        if st.rejected:
            self._fail_status(q, st)
            return
        self.stats.errors += 1
        where = f'running Bind plugin "{st.plugin}": ' if st.plugin else ""
        self._fail(q, f"binding rejected: {where}{st.message}", reason=REASON_SCHEDULER_ERROR, error=True)

    # -- background tasks -------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        async def guarded() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception as e:  # best effort: the next cycle retries
                log.warning("%s: %s", name, e)

        task = asyncio.get_running_loop().create_task(guarded(), name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until in-flight bindings and background writes are done (tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        while self._bindings or self._background:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self._bindings)} bindings and {len(self._background)} writes still running")
            await asyncio.wait(self._bindings | self._background, timeout=max(0.0, deadline - time.monotonic()))

    async def _cancel_tasks(self) -> None:
        tasks = list(self._bindings | self._background)
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


async def run_scheduler(client: Client, *, leader_elect: bool = True, name: str = DEFAULT_SCHEDULER_NAME,
                        lease_name: str = "kube-scheduler", lease_namespace: str = "kube-system",
                        identity: str | None = None, clock: Clock | None = None,
                        ready: asyncio.Event | None = None, profile: Profile | None = None) -> None:
    """Run a kube-scheduler until cancelled.

    Informers start (and sync) at once, so a standby replica has a warm cache; the loop runs
    only while this process holds the ``kube-system/kube-scheduler`` Lease (with
    ``leader_elect``). ``ready`` is set once the caches have synced. Losing the Lease raises
    ``LeadershipLost`` -- like kube-scheduler, the caller should exit or restart the component.
    """
    hostname = socket.gethostname()
    factory = SharedInformerFactory(client, clock=clock)
    recorder = EventRecorder(client, name, host=hostname, clock=clock)
    sched = Scheduler.for_client(client, factory, scheduler_name=name, recorder=recorder, profile=profile,
                                 clock=clock)
    factory.start()
    try:
        await factory.wait_for_sync()
        if ready is not None:
            ready.set()
        if leader_elect:
            elector = LeaderElector(client, name=lease_name, namespace=lease_namespace,
                                    identity=identity or f"{hostname}_{uuid.uuid4()}", clock=clock)
            await elector.run(sched.run)
        else:
            await sched.run()
    finally:
        await asyncio.shield(recorder.stop(timeout=2.0))
        await factory.stop()
