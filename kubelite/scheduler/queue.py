"""The scheduling queue: kube-scheduler's PriorityQueue with three sub-queues, and the nominator.

- **active**: pods ready to be tried, a heap in QueueSort order (higher priority first, then
  the earlier arrival); ``pop()`` waits on it.
- **backoff**: pods that failed recently and must wait ``1s * 2^(attempts-1)``, capped at 10 s
  (1, 2, 4, 8, 10, 10 ... seconds) before they return to active.
- **unschedulable**: pods no node fits. They stay until a cluster event that could change that
  arrives -- one of the events registered by a plugin that rejected the pod, and whose
  queueing hint says "this event may help this pod" (a node was added that the pod tolerates,
  a pod was deleted from a node...) -- and then move to backoff (if still backing off) or
  active. A pod parked for 5 minutes is retried regardless (the safety net kube calls
  ``flushUnschedulablePodsLeftover``).

Events that arrive while a pod is being scheduled are remembered; if one of them matters to
the pod when it fails, it goes to backoff instead of unschedulable (otherwise it could wait
forever for an event that already happened). Pods whose PreEnqueue fails (scheduling gates)
wait in unschedulable until they are updated.

The nominator tracks pods nominated to a node by preemption (``status.nominatedNodeName``):
filters of lower-or-equal-priority pods treat them as already running there.

Who calls it: the informer event handlers (``add``/``update``/``delete``/``move_on_event``),
the scheduling loop (``pop``/``done``/``requeue_failed``), and ``run()`` (the flush timers).
"""
from __future__ import annotations

import asyncio
import functools
import heapq
import itertools
import logging
from collections import deque
from typing import Any, Callable, Iterable

from kubelite.client.clock import REAL_CLOCK, Clock
from kubelite.scheduler.framework.interface import (
    EVENT_UNSCHEDULABLE_TIMEOUT, WILDCARD, ClusterEvent, ClusterEventWithHint, QueueingHint, Status,
)
from kubelite.scheduler.framework.types import PodInfo

log = logging.getLogger(__name__)

DEFAULT_INITIAL_BACKOFF = 1.0
DEFAULT_MAX_BACKOFF = 10.0
DEFAULT_MAX_UNSCHEDULABLE = 300.0
BACKOFF_FLUSH_PERIOD = 1.0
UNSCHEDULABLE_FLUSH_PERIOD = 30.0
ACTIVE, BACKOFF, UNSCHEDULABLE, IN_FLIGHT = "active", "backoff", "unschedulable", "in-flight"


class QueueClosed(Exception):
    """``pop()`` on a closed queue."""


class QueuedPodInfo:
    """A pod in the queue plus its scheduling history."""

    __slots__ = ("pod_info", "timestamp", "attempts", "initial_attempt_timestamp", "unschedulable_plugins",
                 "gated", "cycle", "seq")

    def __init__(self, pod_info: PodInfo, timestamp: float) -> None:
        self.pod_info = pod_info
        self.timestamp = timestamp                       # when it last entered the queue
        self.attempts = 0
        self.initial_attempt_timestamp: float | None = None
        self.unschedulable_plugins: set[str] = set()     # plugins that rejected it last time
        self.gated = False                               # held by PreEnqueue
        self.cycle = 0                                   # scheduling cycle of its last pop
        self.seq = 0                                     # heap entry validity

    @property
    def key(self) -> str:
        return self.pod_info.key

    def __repr__(self) -> str:
        return f"QueuedPodInfo({self.pod_info.key}, attempts={self.attempts})"


def _default_sort_key(q: QueuedPodInfo) -> Any:
    return (-q.pod_info.priority, q.timestamp)


def sort_key_from_less(less: Callable[[Any, Any], bool]) -> Callable[[QueuedPodInfo], Any]:
    def cmp(a: QueuedPodInfo, b: QueuedPodInfo) -> int:
        return -1 if less(a, b) else (1 if less(b, a) else 0)
    return functools.cmp_to_key(cmp)  # type: ignore[return-value]


class SchedulingQueue:
    """Priority queue with active / backoff / unschedulable sub-queues (see module docstring).

    ``events`` are (plugin name, registered event + hint) pairs from the framework;
    ``pre_enqueue(pod) -> Status | None`` runs the PreEnqueue plugins.
    """

    def __init__(self, *, clock: Clock | None = None, sort_key: Callable[[QueuedPodInfo], Any] | None = None,
                 pre_enqueue: Callable[[PodInfo], Status | None] | None = None,
                 events: Iterable[tuple[str, ClusterEventWithHint]] = (),
                 initial_backoff: float = DEFAULT_INITIAL_BACKOFF, max_backoff: float = DEFAULT_MAX_BACKOFF,
                 max_unschedulable: float = DEFAULT_MAX_UNSCHEDULABLE) -> None:
        self.clock = clock or REAL_CLOCK
        self._sort_key = sort_key or _default_sort_key
        self._pre_enqueue = pre_enqueue
        self._events = list(events)
        self._interest: dict[tuple[str, int], frozenset[str]] = {}  # event kind -> plugins registered for it
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.max_unschedulable = max_unschedulable
        self._seq = itertools.count(1)
        self._active_heap: list[tuple[Any, int, QueuedPodInfo]] = []
        self._active: dict[str, QueuedPodInfo] = {}
        self._backoff_heap: list[tuple[float, int, QueuedPodInfo]] = []
        self._backoff: dict[str, QueuedPodInfo] = {}
        self._unschedulable: dict[str, QueuedPodInfo] = {}
        self._by_plugin: dict[str, set[str]] = {}
        self._in_flight: dict[str, QueuedPodInfo] = {}
        self._in_flight_events: deque[tuple[ClusterEvent, Any, Any]] = deque()
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._closed = False
        self.scheduling_cycle = 0
        # nominator
        self._nominated: dict[str, dict[str, PodInfo]] = {}
        self._nominated_node: dict[str, str] = {}

    # -- introspection ----------------------------------------------------------------------

    def where(self, key: str) -> str | None:
        """Which sub-queue holds the pod (or "in-flight"), None if none."""
        for name, d in ((ACTIVE, self._active), (BACKOFF, self._backoff),
                        (UNSCHEDULABLE, self._unschedulable), (IN_FLIGHT, self._in_flight)):
            if key in d:
                return name
        return None

    def get(self, key: str) -> QueuedPodInfo | None:
        return (self._active.get(key) or self._backoff.get(key) or self._unschedulable.get(key)
                or self._in_flight.get(key))

    def pending(self) -> dict[str, int]:
        return {ACTIVE: len(self._active), BACKOFF: len(self._backoff), UNSCHEDULABLE: len(self._unschedulable)}

    def __len__(self) -> int:
        return len(self._active) + len(self._backoff) + len(self._unschedulable)

    # -- sub-queue plumbing -----------------------------------------------------------------

    def _push_active(self, q: QueuedPodInfo) -> None:
        q.seq = next(self._seq)
        self._active[q.key] = q
        heapq.heappush(self._active_heap, (self._sort_key(q), q.seq, q))
        self._wake()

    def _push_backoff(self, q: QueuedPodInfo) -> None:
        q.seq = next(self._seq)
        self._backoff[q.key] = q
        heapq.heappush(self._backoff_heap, (self.backoff_expiry(q), q.seq, q))

    def _push_unschedulable(self, q: QueuedPodInfo) -> None:
        self._unschedulable[q.key] = q
        for p in q.unschedulable_plugins:
            self._by_plugin.setdefault(p, set()).add(q.key)

    def _drop_unschedulable(self, key: str) -> QueuedPodInfo | None:
        q = self._unschedulable.pop(key, None)
        if q is not None:
            for p in q.unschedulable_plugins:
                keys = self._by_plugin.get(p)
                if keys is not None:
                    keys.discard(key)
        return q

    def _remove(self, key: str) -> QueuedPodInfo | None:
        """Take the pod out of whichever sub-queue holds it (heap entries die lazily)."""
        q = self._active.pop(key, None) or self._backoff.pop(key, None)
        if q is not None:
            q.seq = 0
            return q
        return self._drop_unschedulable(key)

    def _wake(self) -> None:
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    def backoff_duration(self, q: QueuedPodInfo) -> float:
        duration = self.initial_backoff
        for _ in range(1, q.attempts):
            duration *= 2
            if duration >= self.max_backoff:
                return self.max_backoff
        return min(duration, self.max_backoff)

    def backoff_expiry(self, q: QueuedPodInfo) -> float:
        return q.timestamp + self.backoff_duration(q)

    def _backing_off(self, q: QueuedPodInfo) -> bool:
        return q.attempts > 0 and self.backoff_expiry(q) > self.clock.now()

    def _enqueue_ready(self, q: QueuedPodInfo) -> str:
        """Gate check, then active (or backoff if still backing off). Returns the sub-queue."""
        if self._pre_enqueue is not None:
            st = self._pre_enqueue(q.pod_info)
            if not Status.is_success(st):
                assert st is not None
                q.gated = True
                q.unschedulable_plugins = {st.plugin} if st.plugin else set()
                self._push_unschedulable(q)
                return UNSCHEDULABLE
        q.gated = False
        if self._backing_off(q):
            self._push_backoff(q)
            return BACKOFF
        self._push_active(q)
        return ACTIVE

    # -- informer-driven changes ------------------------------------------------------------

    def add(self, pod: PodInfo) -> None:
        """A new pending pod (or one that reappeared)."""
        if self.where(pod.key) is not None:
            self.update(pod)
            return
        self._enqueue_ready(QueuedPodInfo(pod, self.clock.now()))
        if pod.nominated_node_name:
            self.add_nominated_pod(pod, pod.nominated_node_name)

    def update(self, pod: PodInfo) -> None:
        """A pending pod changed (labels, tolerations, gates, priority ...)."""
        key = pod.key
        self._update_nominated(pod)
        q = self._in_flight.get(key)
        if q is not None:
            q.pod_info = pod  # being scheduled right now; the next attempt sees the new spec
            return
        q = self._active.get(key)
        if q is not None:
            old_key = self._sort_key(q)
            q.pod_info = pod
            if self._sort_key(q) != old_key:
                self._active.pop(key)
                self._push_active(q)
            return
        q = self._backoff.get(key)
        if q is not None:
            q.pod_info = pod
            return
        q = self._unschedulable.get(key)
        if q is not None:
            old = q.pod_info
            q.pod_info = pod
            if _scheduling_relevant_change(old, pod):
                # The pod itself changed: it may fit now (new tolerations, removed gates ...).
                self._drop_unschedulable(key)
                self._enqueue_ready(q)
            return
        self.add(pod)

    def delete(self, key: str) -> None:
        self._remove(key)
        self._in_flight.pop(key, None)
        self.delete_nominated_pod(key)

    def move_on_event(self, event: ClusterEvent, old: Any = None, new: Any = None) -> int:
        """A cluster event: retry the unschedulable pods it may help. Returns how many moved."""
        if self._in_flight:
            self._in_flight_events.append((event, old, new))
        if not self._unschedulable:
            return 0
        if event.resource == WILDCARD:
            keys: Iterable[str] = list(self._unschedulable)
        else:
            ekey = (event.resource, int(event.action))
            interested = self._interest.get(ekey)
            if interested is None:
                interested = self._interest[ekey] = frozenset(
                    name for name, ev in self._events if ev.event.matches(event))
            if not interested:
                return 0
            seen: set[str] = set()
            for name in interested:
                seen |= self._by_plugin.get(name, set())
            keys = list(seen)
        moved = 0
        for key in keys:
            q = self._unschedulable.get(key)
            if q is None or q.gated:
                continue
            if event.resource != WILDCARD and not self._worth_retrying(q, event, old, new):
                continue
            self._drop_unschedulable(key)
            self._enqueue_ready(q)
            moved += 1
        return moved

    def _worth_retrying(self, q: QueuedPodInfo, event: ClusterEvent, old: Any, new: Any) -> bool:
        if not q.unschedulable_plugins:
            return True
        for name, ev in self._events:
            if name not in q.unschedulable_plugins or not ev.event.matches(event):
                continue
            if ev.hint is None:
                return True
            try:
                if ev.hint(q.pod_info, old, new) == QueueingHint.QUEUE:
                    return True
            except Exception:  # a broken hint must not strand the pod
                log.exception("queueing hint of %s failed for %s", name, q.key)
                return True
        return False

    # -- the scheduling loop ----------------------------------------------------------------

    async def pop(self) -> QueuedPodInfo:
        """The next pod to schedule (waits while active is empty)."""
        while True:
            if self._closed:
                raise QueueClosed()
            heap = self._active_heap
            while heap:
                _, seq, q = heapq.heappop(heap)
                if q.seq != seq or self._active.get(q.key) is not q:
                    continue  # stale entry (removed or re-pushed)
                del self._active[q.key]
                self.scheduling_cycle += 1
                q.cycle = self.scheduling_cycle
                q.attempts += 1
                if q.initial_attempt_timestamp is None:
                    q.initial_attempt_timestamp = self.clock.now()
                self._in_flight[q.key] = q
                return q
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            try:
                await fut
            finally:
                if not fut.done():
                    fut.cancel()

    def done(self, key: str) -> None:
        """The scheduling attempt of ``key`` is over (bound, requeued or dropped)."""
        self._in_flight.pop(key, None)
        if not self._in_flight:
            self._in_flight_events.clear()

    def requeue_failed(self, q: QueuedPodInfo, *, unschedulable_plugins: set[str] | None = None,
                       error: bool = False) -> str:
        """Put back a pod whose attempt failed. ``error`` (or no rejecting plugin) -> backoff;
        otherwise unschedulable, unless an event that may help arrived during the attempt.
        Returns the sub-queue it went to (None-equivalent "" if it is already queued again)."""
        key = q.key
        events = list(self._in_flight_events)
        self.done(key)
        if key in self._active or key in self._backoff or key in self._unschedulable:
            return ""
        q.timestamp = self.clock.now()
        q.unschedulable_plugins = set(unschedulable_plugins or ())
        if error or not q.unschedulable_plugins:
            q.unschedulable_plugins = set()
            self._push_backoff(q)
            return BACKOFF
        for event, old, new in events:
            if self._worth_retrying(q, event, old, new):
                self._push_backoff(q)
                return BACKOFF
        self._push_unschedulable(q)
        return UNSCHEDULABLE

    # -- timers -----------------------------------------------------------------------------

    def flush_backoff_completed(self) -> int:
        now = self.clock.now()
        heap = self._backoff_heap
        moved = 0
        while heap and heap[0][0] <= now:
            _, seq, q = heapq.heappop(heap)
            if q.seq != seq or self._backoff.get(q.key) is not q:
                continue
            del self._backoff[q.key]
            self._push_active(q)
            moved += 1
        return moved

    def flush_unschedulable_leftover(self) -> int:
        now = self.clock.now()
        stale = [k for k, q in self._unschedulable.items()
                 if not q.gated and now - q.timestamp > self.max_unschedulable]
        for key in stale:
            q = self._drop_unschedulable(key)
            if q is not None:
                self._enqueue_ready(q)
        if stale:
            log.debug("moved %d pods unschedulable for over %.0fs (%s)", len(stale), self.max_unschedulable,
                      EVENT_UNSCHEDULABLE_TIMEOUT)
        return len(stale)

    async def run(self) -> None:
        """Flush backoff every second and stale unschedulable pods every 30 s, until cancelled."""
        last_leftover = self.clock.now()
        while not self._closed:
            await self.clock.sleep(BACKOFF_FLUSH_PERIOD)
            self.flush_backoff_completed()
            if self.clock.now() - last_leftover >= UNSCHEDULABLE_FLUSH_PERIOD:
                last_leftover = self.clock.now()
                self.flush_unschedulable_leftover()

    def close(self) -> None:
        self._closed = True
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)

    # -- nominator --------------------------------------------------------------------------

    def add_nominated_pod(self, pod: PodInfo, node_name: str) -> None:
        self.delete_nominated_pod(pod.key)
        if not node_name:
            return
        self._nominated_node[pod.key] = node_name
        self._nominated.setdefault(node_name, {})[pod.key] = pod

    def delete_nominated_pod(self, key: str) -> None:
        node = self._nominated_node.pop(key, None)
        if node is not None:
            pods = self._nominated.get(node)
            if pods is not None:
                pods.pop(key, None)
                if not pods:
                    del self._nominated[node]

    def _update_nominated(self, pod: PodInfo) -> None:
        if pod.nominated_node_name:
            self.add_nominated_pod(pod, pod.nominated_node_name)
        elif pod.key in self._nominated_node:
            # Nominated by this scheduler, not yet visible in the pod's status: keep the
            # reservation, with the newer pod.
            self.add_nominated_pod(pod, self._nominated_node[pod.key])

    def nominated_pods_for_node(self, node_name: str) -> list[PodInfo]:
        pods = self._nominated.get(node_name)
        return list(pods.values()) if pods else []

    def nominated_node(self, key: str) -> str | None:
        return self._nominated_node.get(key)

    def nominated_node_names(self) -> Any:
        """The nodes that have nominated pods (a live view: do not hold on to it)."""
        return self._nominated.keys()


def _scheduling_relevant_change(old: PodInfo, new: PodInfo) -> bool:
    """Spec or labels changed (status-only updates, e.g. our own condition write, do not count)."""
    return (old.pod.get("spec") != new.pod.get("spec")
            or (old.pod.get("metadata") or {}).get("labels") != (new.pod.get("metadata") or {}).get("labels"))
