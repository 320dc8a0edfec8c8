"""Informers: a local, indexed cache of one resource kept current by list + watch.

Controllers, the scheduler and the kubelet read the cluster through informers instead of
polling: an ``Informer`` lists the resource (paginated), then watches from the list's
resourceVersion, applying each event to its ``Store`` and calling the registered handlers
(``on_add(obj)``, ``on_update(old, new)``, ``on_delete(obj)``) in event order. When the watch
ends cleanly (server timeout) it re-watches from the last resourceVersion seen (BOOKMARKs
advance it too). On 410 Expired it relists at once; on any other error it backs off
exponentially (0.8 s doubling to 30 s, jittered) and relists. A relist diffs the new list
against the cache, so handlers see only real changes: adds, updates for objects whose
resourceVersion moved, deletes (with the last cached object) for objects that vanished.

Objects handed out by the store or to handlers are shared with the cache: consumers must not
mutate them. Copy first (``copy_object``) when building an update.
``SharedInformerFactory`` hands every component the same informer for the same resource +
namespace + selectors, so a process holds one cache and one watch per resource.
"""
from __future__ import annotations

import asyncio
import inspect
import logging
import random
from typing import Any, Awaitable, Callable, Iterable, Iterator, Mapping

import orjson

from kubelite.client.clock import REAL_CLOCK, Clock
from kubelite.client.resources import ResourceRef
from kubelite.client.rest import Client, WatchExpired, selector_string

log = logging.getLogger(__name__)

Obj = dict[str, Any]
IndexFunc = Callable[[Obj], Iterable[str]]
AddHandler = Callable[[Obj], Any]
UpdateHandler = Callable[[Obj, Obj], Any]
DeleteHandler = Callable[[Obj], Any]


def object_key(obj: Mapping[str, Any]) -> str:
    """``namespace/name`` for namespaced objects, ``name`` for cluster-scoped ones."""
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{ns}/{meta.get('name', '')}" if ns else meta.get("name", "")


def _rv(obj: Mapping[str, Any]) -> str | None:
    return (obj.get("metadata") or {}).get("resourceVersion")


def split_key(key: str) -> tuple[str, str]:
    """``"ns/name"`` -> ``("ns", "name")``; ``"name"`` -> ``("", "name")``."""
    ns, sep, name = key.partition("/")
    return (ns, name) if sep else ("", ns)


def copy_object(obj: Any) -> Any:
    """A deep copy of a JSON object (via orjson: several times faster than ``copy.deepcopy``)."""
    return orjson.loads(orjson.dumps(obj))


# Common index functions -------------------------------------------------------------------


def index_by_namespace(obj: Obj) -> list[str]:
    ns = (obj.get("metadata") or {}).get("namespace")
    return [ns] if ns else []


def index_by_controller_uid(obj: Obj) -> list[str]:
    """The uid of the owner reference marked ``controller: true`` (ReplicaSet -> its pods)."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or ():
        if ref.get("controller"):
            return [ref.get("uid", "")]
    return []


def index_by_node_name(obj: Obj) -> list[str]:
    """Pods by ``spec.nodeName`` (unscheduled pods index under "")."""
    return [(obj.get("spec") or {}).get("nodeName") or ""]


class Store:
    """Objects by key plus any number of secondary indexes. Not thread-safe: one event loop."""

    __slots__ = ("_items", "_indexers", "_indices", "_values")

    def __init__(self) -> None:
        self._items: dict[str, Obj] = {}
        self._indexers: dict[str, IndexFunc] = {}
        # index name -> indexed value -> keys; and index name -> key -> its values (for removal)
        self._indices: dict[str, dict[str, set[str]]] = {}
        self._values: dict[str, dict[str, tuple[str, ...]]] = {}

    def add_index(self, name: str, fn: IndexFunc) -> None:
        if name in self._indexers:
            raise ValueError(f"index {name!r} already exists")
        self._indexers[name] = fn
        self._indices[name] = {}
        self._values[name] = {}
        for key, obj in self._items.items():
            self._index_one(name, fn, key, obj)

    def _index_one(self, name: str, fn: IndexFunc, key: str, obj: Obj) -> None:
        values = tuple(fn(obj))
        self._values[name][key] = values
        index = self._indices[name]
        for v in values:
            bucket = index.get(v)
            if bucket is None:
                index[v] = {key}
            else:
                bucket.add(key)

    def _unindex(self, key: str) -> None:
        for name, per_key in self._values.items():
            values = per_key.pop(key, ())
            index = self._indices[name]
            for v in values:
                bucket = index.get(v)
                if bucket is not None:
                    bucket.discard(key)
                    if not bucket:
                        del index[v]

    def upsert(self, key: str, obj: Obj) -> Obj | None:
        """Insert or replace; returns the previous object."""
        old = self._items.get(key)
        if old is not None and self._indexers:
            self._unindex(key)
        self._items[key] = obj
        for name, fn in self._indexers.items():
            self._index_one(name, fn, key, obj)
        return old

    def remove(self, key: str) -> Obj | None:
        old = self._items.pop(key, None)
        if old is not None and self._indexers:
            self._unindex(key)
        return old

    def get(self, key: str) -> Obj | None:
        return self._items.get(key)

    def by_index(self, name: str, value: str) -> list[Obj]:
        if name not in self._indices:
            raise KeyError(f"no index named {name!r}")
        items = self._items
        return [items[k] for k in self._indices[name].get(value, ())]

    def index_keys(self, name: str, value: str) -> list[str]:
        if name not in self._indices:
            raise KeyError(f"no index named {name!r}")
        return list(self._indices[name].get(value, ()))

    def keys(self) -> list[str]:
        return list(self._items)

    def list(self) -> list[Obj]:
        return list(self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._items))


class _Handlers:
    __slots__ = ("on_add", "on_update", "on_delete")

    def __init__(self, on_add: AddHandler | None, on_update: UpdateHandler | None,
                 on_delete: DeleteHandler | None) -> None:
        self.on_add = on_add
        self.on_update = on_update
        self.on_delete = on_delete


class Informer:
    """List + watch one resource into a ``Store``; see the module docstring for semantics.

    ``resync`` > 0 re-delivers every cached object as ``on_update(obj, obj)`` that often (the
    level-triggered safety net for controllers). Handlers run on the informer's task, in event
    order; they should be quick (enqueue a key). A handler that returns an awaitable is awaited
    before the next event. Handler exceptions are logged, never stop the informer.
    """

    def __init__(self, client: Client, resource: ResourceRef, *, namespace: str | None = None,
                 label_selector: str | Mapping[str, str] | None = None, field_selector: str | None = None,
                 resync: float = 0.0, clock: Clock | None = None, page_size: int = 500,
                 backoff_initial: float = 0.8, backoff_max: float = 30.0,
                 watch_timeout: tuple[int, int] = (300, 600)) -> None:
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.label_selector = selector_string(label_selector)
        self.field_selector = field_selector or None
        self.resync = resync
        self.clock = clock or REAL_CLOCK
        self.page_size = page_size
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.watch_timeout = watch_timeout
        self.store = Store()
        self._handlers: list[_Handlers] = []
        self._rv = ""
        self._synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.relists = 0  # how many lists were made (observability and tests)

    @property
    def name(self) -> str:
        scope = f"{self.namespace}/" if self.namespace else ""
        sel = "".join(f"[{s}]" for s in (self.label_selector, self.field_selector) if s)
        return f"informer:{scope}{self.resource.qualified}{sel}"

    # -- consumers ------------------------------------------------------------------------

    def add_handler(self, *, on_add: AddHandler | None = None, on_update: UpdateHandler | None = None,
                    on_delete: DeleteHandler | None = None) -> None:
        """Register handlers. Objects already cached are replayed to ``on_add`` at once, so a
        handler added late sees the same world as one added before ``start()``."""
        h = _Handlers(on_add, on_update, on_delete)
        self._handlers.append(h)
        if on_add is not None:
            for obj in self.store.list():
                res = self._call(on_add, obj)
                if inspect.isawaitable(res):
                    asyncio.ensure_future(res)

    def add_index(self, name: str, fn: IndexFunc) -> None:
        self.store.add_index(name, fn)

    def by_index(self, name: str, value: str) -> list[Obj]:
        return self.store.by_index(name, value)

    def get(self, key: str) -> Obj | None:
        """The cached object for ``ns/name`` (or ``name``); do not mutate it."""
        return self.store.get(key)

    def get_by(self, name: str, namespace: str | None = None) -> Obj | None:
        return self.store.get(f"{namespace}/{name}" if namespace else name)

    def list(self, namespace: str | None = None) -> list[Obj]:
        """Cached objects, optionally of one namespace (uses the "namespace" index if present)."""
        if namespace is None:
            return self.store.list()
        try:
            return self.store.by_index("namespace", namespace)
        except KeyError:
            prefix = namespace + "/"
            return [o for k, o in self.store._items.items() if k.startswith(prefix)]  # noqa: SLF001

    @property
    def has_synced(self) -> bool:
        """True once the first list has been applied to the store."""
        return self._synced.is_set()

    @property
    def resource_version(self) -> str:
        """The last resourceVersion seen (list, event or bookmark)."""
        return self._rv

    async def wait_synced(self, timeout: float | None = None) -> bool:
        try:
            await asyncio.wait_for(self._synced.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        """Run in a task named after the informer (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.run(), name=self.name)
        return self._task

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def run(self) -> None:
        """List and watch until cancelled (for callers owning the task, e.g. a TaskGroup)."""
        resync_task: asyncio.Task[None] | None = None
        if self.resync > 0:
            resync_task = asyncio.get_running_loop().create_task(self._resync_loop(), name=self.name + ":resync")
        failures = 0
        need_list = True
        try:
            while True:
                try:
                    if need_list:
                        await self._relist()
                        need_list = False
                    started = self.clock.now()
                    progressed = await self._watch_once()
                    if progressed:
                        failures = 0
                    elif self.clock.now() - started < 1.0:
                        # An empty stream that ended at once (client-go's "very short watch"):
                        # the server is unwell; don't spin, but the cache is still valid.
                        failures += 1
                        await self.clock.sleep(self._backoff(failures))
                except asyncio.CancelledError:
                    raise
                except WatchExpired as e:
                    # Our resourceVersion fell out of the server's history: relist, at once the
                    # first time, with back-off if it keeps happening.
                    log.info("%s: %s; relisting", self.name, e.message)
                    need_list = True
                    if failures:
                        await self.clock.sleep(self._backoff(failures))
                    failures += 1
                except Exception as e:  # noqa: BLE001 - any failure: back off and relist
                    failures += 1
                    delay = self._backoff(failures)
                    log.warning("%s: %s: %s; retrying in %.1fs", self.name, type(e).__name__, e, delay)
                    need_list = True
                    await self.clock.sleep(delay)
        finally:
            if resync_task is not None:
                resync_task.cancel()

    def _backoff(self, failures: int) -> float:
        base = min(self.backoff_initial * float(1 << min(failures - 1, 30)), self.backoff_max)
        return base * random.uniform(1.0, 1.2)

    async def _relist(self) -> None:
        result = await self.client.list_all(self.resource, namespace=self.namespace,
                                            label_selector=self.label_selector,
                                            field_selector=self.field_selector, page_size=self.page_size)
        self.relists += 1
        store = self.store
        seen: set[str] = set()
        for obj in result.items:
            key = object_key(obj)
            seen.add(key)
            old = store.upsert(key, obj)
            if old is None:
                await self._dispatch_add(obj)
            elif _rv(old) != _rv(obj):
                await self._dispatch_update(old, obj)
        for key in [k for k in store.keys() if k not in seen]:
            old = store.remove(key)
            if old is not None:
                await self._dispatch_delete(old)
        self._rv = result.resource_version
        self._synced.set()

    async def _watch_once(self) -> bool:
        """One watch stream until the server ends it. Returns whether any event arrived."""
        timeout = random.randint(*self.watch_timeout)
        store = self.store
        progressed = False
        async with self.client.watch(self.resource, namespace=self.namespace, resource_version=self._rv,
                                     label_selector=self.label_selector, field_selector=self.field_selector,
                                     allow_bookmarks=True, timeout_seconds=timeout) as events:
            async for etype, obj in events:
                progressed = True
                rv = (obj.get("metadata") or {}).get("resourceVersion")
                if etype == "BOOKMARK":
                    if rv:
                        self._rv = rv
                    continue
                key = object_key(obj)
                if etype == "DELETED":
                    store.remove(key)
                    await self._dispatch_delete(obj)
                else:  # ADDED / MODIFIED; an ADDED for a known key is an update and vice versa
                    old = store.upsert(key, obj)
                    if old is None:
                        await self._dispatch_add(obj)
                    else:
                        await self._dispatch_update(old, obj)
                if rv:
                    self._rv = rv
        return progressed

    async def _resync_loop(self) -> None:
        while True:
            await self.clock.sleep(self.resync)
            if not self.has_synced:
                continue
            for obj in self.store.list():
                await self._dispatch_update(obj, obj)

    # -- dispatch -------------------------------------------------------------------------

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception:  # noqa: BLE001 - a consumer's bug must not kill the cache
            log.exception("%s: handler %r failed", self.name, fn)
            return None

    async def _await(self, res: Awaitable[Any]) -> None:
        try:
            await res
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001
            log.exception("%s: async handler failed", self.name)

    async def _dispatch_add(self, obj: Obj) -> None:
        for h in self._handlers:
            if h.on_add is not None:
                res = self._call(h.on_add, obj)
                if res is not None and inspect.isawaitable(res):
                    await self._await(res)

    async def _dispatch_update(self, old: Obj, new: Obj) -> None:
        for h in self._handlers:
            if h.on_update is not None:
                res = self._call(h.on_update, old, new)
                if res is not None and inspect.isawaitable(res):
                    await self._await(res)

    async def _dispatch_delete(self, obj: Obj) -> None:
        for h in self._handlers:
            if h.on_delete is not None:
                res = self._call(h.on_delete, obj)
                if res is not None and inspect.isawaitable(res):
                    await self._await(res)


class SharedInformerFactory:
    """One ``Informer`` per (resource, namespace, label selector, field selector) per process.

    ``informer()`` may be called before or after ``start()``; ``start()`` starts whatever has
    not started yet, so components registered late are picked up by calling it again.
    """

    def __init__(self, client: Client, *, resync: float = 0.0, clock: Clock | None = None) -> None:
        self.client = client
        self.resync = resync
        self.clock = clock
        self._informers: dict[tuple[ResourceRef, str | None, str | None, str | None], Informer] = {}

    def informer(self, resource: ResourceRef, *, namespace: str | None = None,
                 label_selector: str | Mapping[str, str] | None = None,
                 field_selector: str | None = None) -> Informer:
        key = (resource, namespace, selector_string(label_selector), field_selector or None)
        inf = self._informers.get(key)
        if inf is None:
            inf = Informer(self.client, resource, namespace=namespace, label_selector=label_selector,
                           field_selector=field_selector, resync=self.resync, clock=self.clock)
            self._informers[key] = inf
        return inf

    @property
    def informers(self) -> list[Informer]:
        return list(self._informers.values())

    def start(self) -> list[asyncio.Task[None]]:
        return [inf.start() for inf in self._informers.values()]

    async def wait_for_sync(self, timeout: float | None = None) -> bool:
        """Wait until every informer has synced; False on timeout."""
        results = await asyncio.gather(*(i.wait_synced(timeout) for i in self._informers.values()))
        return all(results)

    async def stop(self) -> None:
        await asyncio.gather(*(inf.stop() for inf in self._informers.values()))
