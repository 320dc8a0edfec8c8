"""The event recorder: core/v1 Events about objects, aggregated the way client-go does.

Controllers, the scheduler and the kubelet call ``recorder.event(obj, "Normal", "Scheduled",
"Successfully assigned default/web-1 to node-a")``; ``kubectl describe`` and ``kubectl get
events`` show the result. ``event()`` never blocks and never raises: it drops the event into a
bounded buffer (dropping when full) that one background task writes out. Writing applies
client-go's correlation:

- *De-duplication*: a repeat of the same (object, type, reason, message) within 10 minutes of its
  previous occurrence PATCHes the existing Event's ``count`` and ``lastTimestamp`` instead of
  creating a new Event (the third "BackOff" in a minute is one Event with ``count: 3``).
- *Similar-event aggregation*: once 10 different messages arrive for the same (object, type,
  reason) within 10 minutes, later ones are folded into one Event whose message reads
  ``(combined from similar events): <latest message>``.

Event names are ``<object name>.<hex timestamp>``; cluster-scoped objects' events go to the
``default`` namespace, as in Kubernetes.
"""
from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Mapping

from kubelite.api.helpers.times import format_time
from kubelite.client.clock import REAL_CLOCK, Clock
from kubelite.client.resources import EVENTS
from kubelite.client.rest import Client, is_not_found

log = logging.getLogger(__name__)

NORMAL = "Normal"
WARNING = "Warning"
COMBINED_PREFIX = "(combined from similar events): "


def _timestamp(clock: Clock) -> str:
    return format_time(clock.wall())


def object_reference(obj: Mapping[str, Any], field_path: str | None = None) -> dict[str, Any]:
    """An ObjectReference (involvedObject) for an API object; an ObjectReference-shaped dict
    (``{"kind":..,"name":..}`` without metadata) is passed through."""
    if "metadata" not in obj and "name" in obj:
        ref = dict(obj)
    else:
        meta = obj.get("metadata") or {}
        ref = {"kind": obj.get("kind", ""), "apiVersion": obj.get("apiVersion", ""),
               "name": meta.get("name", "")}
        if meta.get("namespace"):
            ref["namespace"] = meta["namespace"]
        if meta.get("uid"):
            ref["uid"] = meta["uid"]
        if meta.get("resourceVersion"):
            ref["resourceVersion"] = meta["resourceVersion"]
    if field_path:
        ref["fieldPath"] = field_path
    return ref


@dataclass(slots=True)
class _Seen:
    """The Event last written for one de-duplication key."""

    name: str
    namespace: str
    count: int
    first_timestamp: str
    last_seen: float  # clock.now() of the latest occurrence


@dataclass(slots=True)
class _Similar:
    """Distinct messages seen for one aggregation key within the window."""

    messages: set[str] = field(default_factory=set)
    last_seen: float = 0.0


class EventRecorder:
    """Writes Events on behalf of ``component`` (``source.component`` / ``reportingComponent``)
    running on ``host`` (``source.host`` / ``reportingInstance``)."""

    def __init__(self, client: Client, component: str, host: str | None = None, *,
                 clock: Clock | None = None, buffer: int = 1000, window: float = 600.0,
                 max_similar: int = 10, cache_size: int = 4096) -> None:
        self.client = client
        self.component = component
        self.host = host
        self.clock = clock or REAL_CLOCK
        self.window = window
        self.max_similar = max_similar
        self.cache_size = cache_size
        self.dropped = 0
        self._buffer: asyncio.Queue[tuple[dict[str, Any], str, str, str, float, str]] = asyncio.Queue(buffer)
        self._seen: OrderedDict[tuple[Any, ...], _Seen] = OrderedDict()
        self._similar: OrderedDict[tuple[Any, ...], _Similar] = OrderedDict()
        self._task: asyncio.Task[None] | None = None
        self._last_unique = 0

    # -- callers --------------------------------------------------------------------------

    def event(self, obj: Mapping[str, Any], type: str, reason: str, message: str, *,
              field_path: str | None = None) -> None:
        """Record an event about ``obj`` (``type`` is "Normal" or "Warning"). Non-blocking:
        the write happens in the background; when the buffer is full the event is dropped."""
        if type not in (NORMAL, WARNING):
            log.error("event %s/%s dropped: type must be Normal or Warning, not %r", reason, message, type)
            return
        ref = object_reference(obj, field_path)
        try:
            self._buffer.put_nowait((ref, type, reason, message, self.clock.now(), _timestamp(self.clock)))
        except asyncio.QueueFull:
            self.dropped += 1
            return
        self._ensure_started()

    def _ensure_started(self) -> None:
        if self._task is None or self._task.done():
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # no loop yet: start() or the next event() starts the writer
            self._task = loop.create_task(self._run(), name=f"event-recorder:{self.component}")

    def start(self) -> asyncio.Task[None]:
        self._ensure_started()
        assert self._task is not None
        return self._task

    async def flush(self, timeout: float | None = None) -> bool:
        """Wait until every buffered event has been written (or given up on)."""
        if not self._buffer.empty():
            self._ensure_started()
        try:
            await asyncio.wait_for(self._buffer.join(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    async def stop(self, timeout: float = 5.0) -> None:
        """Flush (for at most ``timeout`` seconds), then stop the writer."""
        await self.flush(timeout)
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    # -- writer ---------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            item = await self._buffer.get()
            try:
                await self._write(*item)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - events are best effort
                log.warning("%s: writing event %s for %s/%s failed: %s", self.component, item[2],
                            item[0].get("namespace", ""), item[0].get("name", ""), e)
            finally:
                self._buffer.task_done()

    def _unique_name(self, name: str) -> str:
        # client-go uses the nanosecond timestamp in hex; keep it strictly increasing so two
        # events in the same nanosecond (or under a fake clock) still get distinct names.
        t = max(int(self.clock.wall().timestamp() * 1e9), self._last_unique + 1)
        self._last_unique = t
        return f"{name}.{t:x}"

    def _lru_get(self, cache: OrderedDict[tuple[Any, ...], Any], key: tuple[Any, ...]) -> Any:
        val = cache.get(key)
        if val is not None:
            cache.move_to_end(key)
        return val

    def _lru_put(self, cache: OrderedDict[tuple[Any, ...], Any], key: tuple[Any, ...], val: Any) -> None:
        cache[key] = val
        cache.move_to_end(key)
        while len(cache) > self.cache_size:
            cache.popitem(last=False)

    def _aggregate(self, agg_key: tuple[Any, ...], message: str, now: float) -> tuple[str, str]:
        """Returns (message to write, message part of the de-duplication key)."""
        sim = self._lru_get(self._similar, agg_key)
        if sim is None or now - sim.last_seen > self.window:
            sim = _Similar()
            self._lru_put(self._similar, agg_key, sim)
        sim.last_seen = now
        sim.messages.add(message)
        if len(sim.messages) >= self.max_similar:
            return COMBINED_PREFIX + message, COMBINED_PREFIX
        return message, message

    async def _write(self, ref: dict[str, Any], type: str, reason: str, message: str,
                     now: float, ts: str) -> None:
        agg_key = (ref.get("kind"), ref.get("namespace"), ref.get("name"), ref.get("uid"),
                   ref.get("apiVersion"), ref.get("fieldPath"), type, reason)
        message, msg_key = self._aggregate(agg_key, message, now)
        key = agg_key + (msg_key,)
        seen: _Seen | None = self._lru_get(self._seen, key)
        if seen is not None and now - seen.last_seen <= self.window:
            seen.count += 1
            seen.last_seen = now
            patch = {"count": seen.count, "lastTimestamp": ts, "message": message}
            try:
                await self.client.patch(EVENTS, seen.name, patch, namespace=seen.namespace, type="merge")
                return
            except Exception as e:
                if not is_not_found(e):
                    raise
                # The Event expired (TTL) or was deleted: write it anew, keeping the tally.
            count, first = seen.count, seen.first_timestamp
        else:
            count, first = 1, ts
        namespace = ref.get("namespace") or "default"
        name = self._unique_name(ref.get("name") or "unknown")
        source: dict[str, str] = {"component": self.component}
        if self.host:
            source["host"] = self.host
        body = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": ref, "reason": reason, "message": message, "source": source,
            "firstTimestamp": first, "lastTimestamp": ts, "count": count, "type": type,
            "eventTime": None, "reportingComponent": self.component, "reportingInstance": self.host or "",
        }
        self._seen.pop(key, None)
        await self.client.create(EVENTS, body, namespace=namespace)
        self._lru_put(self._seen, key, _Seen(name, namespace, count, first, now))


class FakeRecorder:
    """A recorder for tests of components: keeps ``(type, reason, message, involvedObject)``
    tuples in ``events`` instead of writing to the API."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, str, dict[str, Any]]] = []

    def event(self, obj: Mapping[str, Any], type: str, reason: str, message: str, *,
              field_path: str | None = None) -> None:
        self.events.append((type, reason, message, object_reference(obj, field_path)))

    async def flush(self, timeout: float | None = None) -> bool:
        return True

    async def stop(self, timeout: float = 5.0) -> None:
        return None
