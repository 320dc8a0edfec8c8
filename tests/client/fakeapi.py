"""An in-memory, dict-backed fake of the Kubernetes REST API for client tests.

It speaks through ``MockTransport``: CRUD with resourceVersions and optimistic concurrency,
merge patches, label/field selectors, pagination, pods/binding, and watches that replay history
after a resourceVersion, can be ended, can emit BOOKMARKs, and answer 410 Expired for a compacted
resourceVersion (``compact()``) or on demand (``expire_watches()``). ``hooks`` let a test answer
a request itself (to inject failures) before the fake handles it.
"""
from __future__ import annotations

import asyncio
import copy
import itertools
from typing import Any, AsyncIterator, Callable

import orjson

from kubelite.client.transport import LineStream, MockTransport, Request, Response

JSON_HEADERS = {"content-type": "application/json"}


def status(code: int, reason: str, message: str) -> Response:
    return Response(code, JSON_HEADERS, orjson.dumps({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "code": code, "reason": reason, "message": message}))


def ok(obj: Any, code: int = 200) -> Response:
    return Response(code, JSON_HEADERS, orjson.dumps(obj))


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def _label_match(labels: dict[str, str], selector: str) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k.strip()) == v.strip():
                return False
        elif "=" in term:
            k, v = term.replace("==", "=").split("=", 1)
            if labels.get(k.strip()) != v.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def _field_value(obj: dict[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    return "" if cur is None else str(cur)


def _field_match(obj: dict[str, Any], selector: str) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            k, v = term.split("!=", 1)
            if _field_value(obj, k) == v:
                return False
        else:
            k, v = term.replace("==", "=").split("=", 1)
            if _field_value(obj, k) != v:
                return False
    return True


class _Watcher:
    def __init__(self, resource: str, namespace: str | None, query: dict[str, str]) -> None:
        self.resource = resource
        self.namespace = namespace
        self.label_selector = query.get("labelSelector", "")
        self.field_selector = query.get("fieldSelector", "")
        self.bookmarks = query.get("allowWatchBookmarks") == "true"
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()

    def matches(self, resource: str, obj: dict[str, Any]) -> bool:
        if resource != self.resource:
            return False
        meta = obj.get("metadata", {})
        if self.namespace and meta.get("namespace") != self.namespace:
            return False
        if self.label_selector and not _label_match(meta.get("labels") or {}, self.label_selector):
            return False
        return not self.field_selector or _field_match(obj, self.field_selector)


class FakeAPI:
    """State: ``objects[(resource, namespace, name)]`` where resource is ``group/plural``."""

    def __init__(self) -> None:
        self.rv = 0
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.history: list[tuple[int, str, str, dict[str, Any]]] = []
        self.compacted = 0
        self.watchers: list[_Watcher] = []
        self.hooks: list[Callable[[Request], Response | None]] = []
        self.requests: list[Request] = []
        self.uids = itertools.count(1)
        self.transport = MockTransport(self.handle)

    # -- direct manipulation (bypassing HTTP) ---------------------------------------------

    def _commit(self, resource: str, etype: str, obj: dict[str, Any]) -> None:
        self.history.append((self.rv, resource, etype, copy.deepcopy(obj)))
        line = orjson.dumps({"type": etype, "object": obj})
        for w in self.watchers:
            if w.matches(resource, obj):
                w.queue.put_nowait(line)

    def put(self, resource: str, obj: dict[str, Any], etype: str | None = None) -> dict[str, Any]:
        """Store ``obj`` as if written by someone else (bumps RV, notifies watchers)."""
        meta = obj.setdefault("metadata", {})
        key = (resource, meta.get("namespace", ""), meta["name"])
        self.rv += 1
        meta["resourceVersion"] = str(self.rv)
        meta.setdefault("uid", f"uid-{next(self.uids)}")
        meta.setdefault("creationTimestamp", "2025-01-01T00:00:00Z")
        existed = key in self.objects
        self.objects[key] = copy.deepcopy(obj)
        self._commit(resource, etype or ("MODIFIED" if existed else "ADDED"), obj)
        return obj

    def remove(self, resource: str, namespace: str, name: str) -> dict[str, Any]:
        obj = self.objects.pop((resource, namespace, name))
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self._commit(resource, "DELETED", obj)
        return obj

    def compact(self) -> None:
        """Forget history up to now: watches from an older RV get 410."""
        self.compacted = self.rv
        self.history.clear()

    def expire_watches(self) -> None:
        """Send an ERROR 410 event to every open watch, then end it."""
        line = orjson.dumps({"type": "ERROR", "object": {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "code": 410,
            "reason": "Expired", "message": "too old resource version"}})
        for w in self.watchers:
            w.queue.put_nowait(line)
            w.queue.put_nowait(None)

    def end_watches(self) -> None:
        for w in self.watchers:
            w.queue.put_nowait(None)

    def bookmark(self) -> None:
        for w in self.watchers:
            if w.bookmarks:
                w.queue.put_nowait(orjson.dumps({"type": "BOOKMARK", "object": {
                    "kind": "Pod", "apiVersion": "v1", "metadata": {"resourceVersion": str(self.rv)}}}))

    def get(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.objects.get((resource, namespace, name))

    def of(self, resource: str) -> list[dict[str, Any]]:
        return [o for (r, _, _), o in sorted(self.objects.items()) if r == resource]

    # -- HTTP ------------------------------------------------------------------------------

    @staticmethod
    def parse(path: str) -> tuple[str, str | None, str | None, str | None]:
        parts = path.strip("/").split("/")
        if parts[0] == "api":
            group, rest = "", parts[2:]
        else:
            group, rest = parts[1], parts[3:]
        ns = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            ns, rest = rest[1], rest[2:]
        plural = rest[0]
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        return f"{group}/{plural}", ns, name, sub

    async def handle(self, req: Request) -> Any:
        self.requests.append(req)
        for hook in list(self.hooks):
            res = hook(req)
            if res is not None:
                return res
        resource, ns, name, sub = self.parse(req.path)
        if name is None:
            if req.method == "GET":
                return self._watch(resource, ns, req.query) if req.query.get("watch") == "true" \
                    else self._list(resource, ns, req.query)
            if req.method == "POST":
                return self._create(resource, ns, req.json())
            return status(405, "MethodNotAllowed", "not supported by the fake")
        key = (resource, ns or "", name)
        cur = self.objects.get(key)
        if req.method == "POST" and sub == "binding":
            if cur is None:
                return status(404, "NotFound", f'pods "{name}" not found')
            binding = req.json()
            if cur["spec"].get("nodeName"):
                return status(409, "Conflict", f'pod {name} is already assigned to node "{cur["spec"]["nodeName"]}"')
            cur = copy.deepcopy(cur)
            cur["spec"]["nodeName"] = binding["target"]["name"]
            self.put(resource, cur)
            return ok({"kind": "Status", "apiVersion": "v1", "status": "Success", "code": 201}, 201)
        if cur is None:
            return status(404, "NotFound", f'{resource.split("/")[1]} "{name}" not found')
        if req.method == "GET":
            return ok(cur)
        if req.method == "PUT":
            new = req.json()
            rv = new.get("metadata", {}).get("resourceVersion")
            if rv and rv != cur["metadata"]["resourceVersion"]:
                return status(409, "Conflict", f'Operation cannot be fulfilled on {resource} "{name}": '
                                               "the object has been modified; please apply your changes "
                                               "to the latest version and try again")
            if sub == "status":
                merged = copy.deepcopy(cur)
                merged["status"] = new.get("status")
                new = merged
            new["metadata"]["uid"] = cur["metadata"]["uid"]
            new["metadata"]["creationTimestamp"] = cur["metadata"]["creationTimestamp"]
            return ok(self.put(resource, new))
        if req.method == "PATCH":
            if req.content_type != "application/merge-patch+json":
                return status(415, "UnsupportedMediaType", f"fake supports merge patch only, got {req.content_type}")
            new = merge_patch(cur, req.json())
            return ok(self.put(resource, new))
        if req.method == "DELETE":
            opts = req.json() or {}
            pre = opts.get("preconditions") or {}
            if pre.get("resourceVersion") and pre["resourceVersion"] != cur["metadata"]["resourceVersion"]:
                return status(409, "Conflict", "precondition failed: resourceVersion")
            if pre.get("uid") and pre["uid"] != cur["metadata"]["uid"]:
                return status(409, "Conflict", "precondition failed: uid")
            return ok(self.remove(resource, ns or "", name))
        return status(405, "MethodNotAllowed", req.method)

    def _create(self, resource: str, ns: str | None, obj: dict[str, Any]) -> Response:
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = f"{meta['generateName']}{next(self.uids):05x}"
        if ns:
            meta["namespace"] = ns
        if (resource, ns or "", meta.get("name")) in self.objects:
            return status(409, "AlreadyExists", f'{resource.split("/")[1]} "{meta["name"]}" already exists')
        meta.pop("resourceVersion", None)
        return ok(self.put(resource, obj), 201)

    def _select(self, resource: str, ns: str | None, query: dict[str, str]) -> list[dict[str, Any]]:
        probe = _Watcher(resource, ns, query)
        return [o for o in self.of(resource) if probe.matches(resource, o)]

    def _list(self, resource: str, ns: str | None, query: dict[str, str]) -> Response:
        items = self._select(resource, ns, query)
        limit = int(query.get("limit", "0") or 0)
        start = int(query.get("continue", "0") or 0)
        meta: dict[str, Any] = {"resourceVersion": str(self.rv)}
        if limit:
            page = items[start:start + limit]
            if start + limit < len(items):
                meta["continue"] = str(start + limit)
                meta["remainingItemCount"] = len(items) - start - limit
            items = page
        # Like kube-apiserver: list items carry no kind/apiVersion.
        out = []
        for o in items:
            o = dict(o)
            o.pop("kind", None)
            o.pop("apiVersion", None)
            out.append(o)
        return ok({"kind": "List", "apiVersion": "v1", "metadata": meta, "items": out})

    def _watch(self, resource: str, ns: str | None, query: dict[str, str]) -> Any:
        rv = int(query.get("resourceVersion") or self.rv)
        if rv < self.compacted:
            async def expired() -> AsyncIterator[bytes]:
                yield orjson.dumps({"type": "ERROR", "object": {
                    "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "code": 410,
                    "reason": "Expired", "message": f"too old resource version: {rv} ({self.compacted})"}})
            return LineStream(200, expired(), JSON_HEADERS)
        w = _Watcher(resource, ns, query)
        for hrv, hres, etype, obj in self.history:
            if hrv > rv and w.matches(hres, obj):
                w.queue.put_nowait(orjson.dumps({"type": etype, "object": obj}))
        self.watchers.append(w)

        async def lines() -> AsyncIterator[bytes]:
            while True:
                line = await w.queue.get()
                if line is None:
                    return
                yield line

        def closed() -> None:
            if w in self.watchers:
                self.watchers.remove(w)

        return LineStream(200, lines(), JSON_HEADERS, on_close=closed)
