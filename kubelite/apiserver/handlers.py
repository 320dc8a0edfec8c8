"""Resource request handling: URL → (resource, namespace, name, subresource, verb) → store.

``ResourceHandlers.handle`` serves every ``/api/v1/...`` and ``/apis/<group>/<version>/...``
request: CRUD, list (selectors, pagination, Table output), watch (streamed), the four patch
types, and the status/scale subresources. Non-resource paths (discovery, OpenAPI, health) live
in ``server.py``; subresources that need a node (log, exec, port-forward) in later modules.
"""
from __future__ import annotations

import copy
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, cast

import orjson

from kubelite.api import conformance
from kubelite.api.helpers.times import format_time
from kubelite.api.registry import ResourceType
from kubelite.apiserver import codec, fields, listoptions, tables
from kubelite.apiserver.request import ApiRequest, ApiResponse, json_response
from kubelite.apiserver.resources import ResourceRegistry
from kubelite.apiserver.store import Obj, Store
from kubelite.apiserver.watch import Change, WatchHub
from kubelite.machinery import errors
from kubelite.machinery.apply import apply as server_side_apply
from kubelite.machinery.apply import schema_for
from kubelite.machinery.errors import StatusError
from kubelite.machinery.patch import json_patch, merge_patch, strategic_merge
from kubelite.storage import Compacted

log = logging.getLogger(__name__)

NAMESPACE_SUBRESOURCES = ("status", "finalize")
#: connect subresources that need the create verb for any method (exec, attach, port-forward)
CONNECT_CREATE = ("exec", "attach", "portforward")
BOOKMARK_INTERVAL = 30.0
#: seconds a read of a not-yet-reached resourceVersion waits (kube's watch cache blockTimeout)
FRESH_WAIT = 3.0
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
DELETE_OPTIONS = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"


@dataclass(slots=True)
class Target:
    rt: ResourceType
    namespace: str | None
    name: str
    subresource: str
    verb: str
    #: what follows a ``proxy`` subresource (``nodes/N/proxy/stats/summary`` -> "stats/summary")
    path: str = ""


def parse_resource_path(registry: ResourceRegistry, method: str, group: str, version: str,
                        segs: list[str], query: dict[str, str]) -> Target:
    """Resolve the segments after ``/api/v1`` or ``/apis/g/v`` to a Target (404 if unknown)."""
    namespace: str | None = None
    if len(segs) >= 3 and segs[0] == "namespaces" and not (len(segs) == 3 and segs[2] in NAMESPACE_SUBRESOURCES):
        namespace, segs = segs[1], segs[2:]
    proxy_path = ""
    if len(segs) > 3 and segs[2] == "proxy":
        proxy_path, segs = "/".join(segs[3:]), segs[:3]
    if not segs or len(segs) > 3:
        raise errors.StatusError(404, "NotFound", "the server could not find the requested resource")
    rt = registry.lookup(group, version, segs[0])
    if rt is None:
        raise errors.StatusError(404, "NotFound", "the server could not find the requested resource")
    if namespace is not None and not rt.namespaced:
        raise errors.StatusError(404, "NotFound", "the server could not find the requested resource")
    name = segs[1] if len(segs) > 1 else ""
    sub = segs[2] if len(segs) > 2 else ""
    if sub and sub not in rt.subresources:
        raise errors.StatusError(404, "NotFound", "the server could not find the requested resource")
    if rt.namespaced and namespace is None and name:
        raise errors.StatusError(404, "NotFound", "the server could not find the requested resource")
    watch = query.get("watch") in ("true", "1")
    verb = {
        "GET": ("watch" if watch else "get") if name else ("watch" if watch else "list"),
        "POST": "create", "PUT": "update", "PATCH": "patch",
        "DELETE": "delete" if name else "deletecollection",
    }.get(method, "")
    if not verb:
        raise errors.method_not_allowed()
    # kube-apiserver registers a route only for the verbs a resource serves: PUT/PATCH on a
    # collection, POST on an item, or e.g. DELETE of the namespaces collection is 405 -- never
    # a write to some other object.
    if (not name and method in ("PUT", "PATCH")) or (name and not sub and method == "POST") or (
            not sub and verb not in rt.verbs):
        raise errors.method_not_allowed()
    if rt.namespaced and namespace is None and verb not in ("list", "watch"):
        raise errors.StatusError(404, "NotFound", "the server could not find the requested resource")
    if sub in CONNECT_CREATE:
        # Streams are authorized as "create" whatever the HTTP method: a WebSocket handshake is a
        # GET, and reading a pod must not grant a shell in it (kube 1.30+).
        verb = "create"
    return Target(rt, namespace if rt.namespaced else None, name, sub, verb, proxy_path)


def dry_run(req: ApiRequest) -> bool:
    values = req.query_all.get("dryRun") or ([req.query["dryRun"]] if "dryRun" in req.query else [])
    for v in values:
        if v != "All":
            raise errors.bad_request(f'unsupported dry run value "{v}"; only All is supported')
    return bool(values)


def int_param(req: ApiRequest, name: str) -> int | None:
    raw = req.query.get(name)
    if raw in (None, ""):
        return None
    try:
        value = int(raw)
    except ValueError:
        raise errors.bad_request(f'invalid value for {name}: "{raw}" is not an integer') from None
    if not INT64_MIN <= value <= INT64_MAX:  # kube parses these as int64
        raise errors.bad_request(f'invalid value for {name}: strconv.ParseInt: parsing "{raw}": value out of range')
    return value


def field_validation(req: ApiRequest) -> str:
    mode = req.query.get("fieldValidation", "") or "Warn"
    if mode not in ("Strict", "Warn", "Ignore"):
        raise errors.bad_request(f"fieldValidation must be one of Ignore, Warn, or Strict; got {mode}")
    return mode


class ResourceHandlers:
    def __init__(self, registry: ResourceRegistry, store: Store, hub: WatchHub,
                 clock: Callable[[], dt.datetime]) -> None:
        self.registry = registry
        self.store = store
        self.hub = hub
        self.clock = clock
        #: extra handlers for subresources: (plural, subresource) -> coroutine(req, target)
        self.subresource_handlers: dict[tuple[str, str], Callable[[ApiRequest, Target], Any]] = {}
        #: handlers for virtual kinds (reviews): kind -> coroutine(req, target, body)
        self.virtual_handlers: dict[str, Callable[[ApiRequest, Target, Obj], Any]] = {}

    def resolve_kind(self, api_version: str, kind: str) -> str | None:
        if api_version == "meta.k8s.io/v1" or (kind == "DeleteOptions"):
            return "io.k8s.apimachinery.pkg.apis.meta.v1." + kind
        rt = self.registry.by_kind(api_version, kind)
        if rt is not None:
            return rt.schema
        # Subresource bodies (TokenRequest, Binding, Eviction, Scale) are built-in messages
        # that are not resources of their own.
        return schema_for(api_version, kind)

    async def handle(self, req: ApiRequest, t: Target) -> ApiResponse:
        special = self.subresource_handlers.get((t.rt.plural, t.subresource)) if t.subresource else None
        if special is not None:
            return await special(req, t)
        if t.rt.virtual:
            if t.verb != "create":
                raise errors.method_not_allowed()
            handler = self.virtual_handlers.get(t.rt.kind)
            if handler is None:
                raise errors.method_not_allowed(f"{t.rt.kind} is not served by this server")
            body = await self._body(req, t)
            self._check_kind(t, body)
            dry_run(req)  # validates the value; reviews store nothing either way
            # type-checked and validated like a stored kind, so a handler sees a well-formed question
            warnings = fields.check_fields(t.rt, body, field_validation(req))
            meta = body.setdefault("metadata", {})
            if t.namespace is not None:
                if meta.get("namespace") and meta["namespace"] != t.namespace:
                    raise errors.bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request")
                meta["namespace"] = t.namespace
            errs = t.rt.strategy.validate(body)
            if errs:
                raise errors.invalid_object(t.rt.kind, t.rt.group, meta.get("name", ""), errs)
            resp = await handler(req, t, body)
            if warnings:
                resp.headers["Warning"] = warning_header(warnings)
            return resp
        if t.subresource == "scale":
            return await self._scale(req, t)
        if t.subresource not in ("", "status") and t.subresource not in t.rt.strategy.update_subresources:
            raise errors.StatusError(404, "NotFound", "the server could not find the requested resource")
        if t.verb == "get":
            obj = await self.store.get(t.rt, t.namespace, t.name)
            return self._object_response(req, t.rt, obj)
        if t.verb == "list":
            return await self._list(req, t)
        if t.verb == "watch":
            return await self._watch(req, t)
        if t.verb == "create":
            return await self._create(req, t)
        if t.verb == "update":
            return await self._update(req, t)
        if t.verb == "patch":
            return await self._patch(req, t)
        if t.verb == "delete":
            return await self._delete(req, t)
        if t.verb == "deletecollection":
            return await self._delete_collection(req, t)
        raise errors.method_not_allowed()

    # -- bodies and responses --------------------------------------------------------------

    async def _body(self, req: ApiRequest, t: Target) -> Obj:
        obj = await codec.decode_body_async(req.body, req.content_type, self.resolve_kind)
        if not isinstance(obj, dict):
            raise errors.bad_request("the request body must be a JSON object")
        return obj

    def _check_kind(self, t: Target, obj: Obj) -> None:
        kind, av = obj.get("kind"), obj.get("apiVersion")
        if kind is not None and not isinstance(kind, str) or av is not None and not isinstance(av, str):
            raise errors.bad_request("apiVersion and kind must be strings")
        if kind and kind != t.rt.kind:
            raise errors.bad_request(
                f"the kind of the object ({kind}) does not match the kind of the request ({t.rt.kind})")
        if av and av != t.rt.api_version:
            raise errors.bad_request(
                f"the API version in the data ({av}) does not match the expected API version ({t.rt.api_version})")
        meta = obj.get("metadata")
        if meta is not None and not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")

    def _object_response(self, req: ApiRequest, rt: ResourceType, obj: Obj, status: int = 200,
                         warnings: list[str] | None = None) -> ApiResponse:
        kind = codec.wants_as(req.accept)
        if kind == "Table":
            include = req.query.get("includeObject", "Metadata")
            out: Any = tables.table(rt, [obj], self.clock(), include=include)
        elif kind.startswith("PartialObjectMetadata"):
            out = tables.partial_metadata(obj)
        else:
            out = obj
        body, ctype = codec.encode(out, req.accept)
        headers = {}
        if warnings:
            headers["Warning"] = warning_header(warnings)
        return ApiResponse(status, body, ctype, headers)

    # -- list and watch ------------------------------------------------------------------

    def _matcher(self, req: ApiRequest, rt: ResourceType) -> Callable[[Obj], bool] | None:
        return fields.matcher(rt, req.query.get("labelSelector", ""), req.query.get("fieldSelector", ""))

    async def _wait_fresh(self, revision: int) -> None:
        """A read at least as new as ``revision``: wait (up to FRESH_WAIT seconds, as kube's
        watch cache does) for the store to get there, else 504 "Too large resource version"."""
        current = self.store.storage.current_revision()
        if revision <= current:
            return
        if not await self.hub.wait_for(revision, FRESH_WAIT):
            raise errors.too_large_resource_version(revision, self.store.storage.current_revision())

    async def _list(self, req: ApiRequest, t: Target) -> ApiResponse:
        limit = int_param(req, "limit") or 0
        if limit < 0:
            raise errors.bad_request("limit must be non-negative")
        listoptions.check(req.query, watch=False)
        continue_token = req.query.get("continue", "")
        exact = await self._list_revision(req, continue_token)
        page = await self.store.list(t.rt, t.namespace, match=self._matcher(req, t.rt), limit=limit,
                                     continue_token=continue_token, revision=exact)
        rv = str(page.resource_version)
        kind = codec.wants_as(req.accept)
        if kind == "Table":
            out: Any = tables.table(t.rt, page.items, self.clock(), include=req.query.get("includeObject", "Metadata"),
                                    resource_version=rv, continue_token=page.continue_token)
        else:
            items = page.items
            list_kind = t.rt.list_kind
            api_version = t.rt.api_version
            if kind.startswith("PartialObjectMetadata"):
                items = [tables.partial_metadata(o) for o in items]
                list_kind, api_version = "PartialObjectMetadataList", "meta.k8s.io/v1"
            meta: dict[str, Any] = {"resourceVersion": rv}
            if page.continue_token:
                meta["continue"] = page.continue_token
            out = {"kind": list_kind, "apiVersion": api_version, "metadata": meta, "items": items}
        body, ctype = codec.encode(out, req.accept)
        return ApiResponse(200, body, ctype)

    async def _list_revision(self, req: ApiRequest, continue_token: str) -> int:
        """The revision a LIST (its options already validated) is served at, 0 = the latest:
        ``resourceVersionMatch=Exact`` lists at that revision, ``NotOlderThan`` (the default for
        a non-zero version) at the latest once the store has reached it."""
        raw = req.query.get("resourceVersion", "")
        if raw in ("", "0") or continue_token:
            return 0
        revision = _parse_revision(raw)
        await self._wait_fresh(revision)
        return revision if req.query.get("resourceVersionMatch") == listoptions.EXACT else 0

    async def _watch(self, req: ApiRequest, t: Target) -> ApiResponse:
        match = self._matcher(req, t.rt)
        if t.name:  # GET .../name?watch=true: a watch narrowed to one object
            by_name = t.name
            base = match
            match = (lambda o: o["metadata"].get("name") == by_name and (base is None or base(o)))
        listoptions.check(req.query, watch=True)
        raw_rv = req.query.get("resourceVersion", "")
        timeout = int_param(req, "timeoutSeconds")
        bookmarks = req.query.get("allowWatchBookmarks") in ("true", "1")
        send_initial = listoptions.send_initial_events(req.query)
        as_kind = codec.wants_as(req.accept)
        initial: list[Obj] = []
        # A streaming list (sendInitialEvents=true) ends its synthetic ADDED events with a
        # bookmark annotated initial-events-end, which client-go's reflector waits for.
        end_bookmark = bool(send_initial) and bookmarks
        if send_initial or (send_initial is None and raw_rv in ("", "0")):
            # "Get state and start at most recent" (or the state not older than the given
            # revision, which the current state is): ADDED events for what exists, then changes.
            if raw_rv not in ("", "0"):
                await self._wait_fresh(_parse_revision(raw_rv))
            page = await self.store.list(t.rt, t.namespace, match=match)
            initial, after = page.items, page.resource_version
        elif raw_rv in ("", "0"):  # sendInitialEvents=false: "start at most recent", no state
            after = self.store.storage.current_revision()
        else:
            after = _parse_revision(raw_rv)
            await self._wait_fresh(after)  # a future version: wait for it, else 504 (kube's cacher)
        try:
            sub = self.hub.subscribe(t.rt.storage_resource, t.namespace or "", after)
        except Compacted:
            sub = None
        encoder = _EventEncoder(t.rt, as_kind, self.clock, req.query.get("includeObject", "Metadata"))
        # Table rows carry per-watcher state (column headers once, ages): not shareable.
        shared_key = None if as_kind == "Table" else (
            "events", t.rt.api_version, as_kind, req.query.get("labelSelector", ""),
            req.query.get("fieldSelector", ""), t.name)
        loop_timeout = float(timeout) if timeout else None
        clock = self.clock

        async def stream() -> AsyncIterator[bytes]:
            if sub is None:
                yield encoder.expired(after)
                return
            deadline = clock().timestamp() + loop_timeout if loop_timeout else None
            try:
                for obj in initial:
                    yield encoder.event("ADDED", obj, None)
                if end_bookmark:
                    yield encoder.bookmark(after, initial_events_end=True)
                while True:
                    wait = BOOKMARK_INTERVAL if bookmarks else None
                    if deadline is not None:
                        remaining = deadline - clock().timestamp()
                        if remaining <= 0:
                            return
                        wait = min(wait, remaining) if wait else remaining
                    try:
                        ch = await sub.next(wait)
                    except StopAsyncIteration:
                        return
                    except Compacted:
                        yield encoder.expired(sub.last)
                        return
                    if ch is None:
                        if bookmarks and (deadline is None or deadline - clock().timestamp() > 0):
                            yield encoder.bookmark(max(sub.last, self.hub.revision if sub.last >= self.hub.floor else sub.last))
                        continue
                    if shared_key is None:
                        for etype, obj in _transitions(ch, match, t.rt):
                            yield encoder.event(etype, obj, ch)
                        continue
                    # Watchers of the same kind with the same selectors (every informer of a
                    # resource) get the same bytes: filter and encode once per change.
                    encoded = ch.cache.get(shared_key)
                    if encoded is None:
                        encoded = ch.cache[shared_key] = b"".join(
                            encoder.event(etype, obj, ch) for etype, obj in _transitions(ch, match, t.rt))
                    if encoded:
                        yield encoded
            finally:
                sub.close()

        return ApiResponse(200, content_type="application/json", stream=stream(),
                           headers={"Cache-Control": "no-cache, private"})

    # -- writes ----------------------------------------------------------------------------

    def _manager(self, req: ApiRequest, required: bool = False) -> str:
        manager = req.query.get("fieldManager", "")
        if required and not manager:
            raise errors.bad_request("PATCH, application/apply-patch+yaml requires fieldManager parameter")
        if len(manager) > 128:
            raise errors.bad_request("fieldManager: Too long: may not be longer than 128")
        if manager:
            return manager
        ua = req.headers.get("User-Agent", req.headers.get("user-agent", ""))
        return ua.split("/", 1)[0] if ua else "unknown"

    async def _create(self, req: ApiRequest, t: Target) -> ApiResponse:
        if t.name or t.subresource:
            raise errors.method_not_allowed()
        obj = await self._body(req, t)
        self._check_kind(t, obj)
        warnings = await codec.off_loop(len(req.body), fields.check_fields, t.rt, obj, field_validation(req))
        created = await self.store.create(t.rt, obj, namespace=t.namespace, manager=self._manager(req),
                                          dry_run=dry_run(req))
        return self._object_response(req, t.rt, created, 201, warnings)

    async def _update(self, req: ApiRequest, t: Target) -> ApiResponse:
        body = await self._body(req, t)
        self._check_kind(t, body)
        mode = field_validation(req)
        warnings = await codec.off_loop(len(req.body), fields.check_fields, t.rt, body, mode)
        sent_rv = str((body.get("metadata") or {}).get("resourceVersion") or "")
        rt = t.rt

        def mutate(current: Obj) -> Obj:
            if sent_rv and sent_rv != current["metadata"].get("resourceVersion"):
                raise errors.conflict(rt.plural, rt.group, t.name, errors.STALE_OBJECT)
            return copy.deepcopy(body)

        async def create() -> Obj:
            if t.subresource:
                raise errors.not_found(rt.plural, rt.group, t.name)
            if sent_rv:
                raise errors.not_found(rt.plural, rt.group, t.name)
            new = copy.deepcopy(body)
            new.setdefault("metadata", {})["name"] = t.name
            return await self.store.create(rt, new, namespace=t.namespace, manager=self._manager(req),
                                           dry_run=dry_run(req))

        meta = body.get("metadata") or {}
        if meta.get("name") and meta["name"] != t.name:
            raise errors.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({t.name})")
        obj, was_created = await self.store.update(
            rt, t.namespace, t.name, mutate, subresource=t.subresource, manager=self._manager(req),
            dry_run=dry_run(req), create=create if rt.strategy.allow_create_on_update else None)
        return self._object_response(req, rt, obj, 201 if was_created else 200, warnings)

    async def _patch(self, req: ApiRequest, t: Target) -> ApiResponse:
        ctype = codec.media_type(req.content_type)
        rt = t.rt
        patch = await codec.decode_body_async(req.body, req.content_type)
        mode = field_validation(req)
        warnings: list[str] = []
        is_apply = ctype == "application/apply-patch+yaml"
        if is_apply:
            if not isinstance(patch, dict):
                raise errors.bad_request("the apply configuration must be an object")
            self._check_kind(t, patch)
            manager = self._manager(req, required=True)
            force = req.query.get("force") in ("true", "1")
            warnings = fields.check_fields(rt, patch, mode)
        else:
            manager = self._manager(req)
            if ctype not in ("application/json-patch+json", "application/merge-patch+json",
                             "application/strategic-merge-patch+json"):
                raise errors.StatusError(415, "UnsupportedMediaType", 'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json')
            if ctype == "application/strategic-merge-patch+json" and rt.schema is None:
                raise errors.StatusError(415, "UnsupportedMediaType",
                                         "strategic merge patch is not supported for custom resources; use a merge or JSON patch")
        now = self.clock()

        def mutate(current: Obj) -> Obj:
            rv = current["metadata"].get("resourceVersion")
            if is_apply:
                new = server_side_apply(current, patch, manager=manager, force=force, schema=rt.schema,
                                        now=format_time(now), api_version=rt.api_version)
            elif ctype == "application/json-patch+json":
                if not isinstance(patch, list):
                    raise errors.bad_request("json patch must be a list of operations")
                new = json_patch(current, patch)
                codec.check_depth(new)  # each add may nest deeper than any one body
            elif ctype == "application/merge-patch+json":
                new = merge_patch(current, patch)
            else:
                if not isinstance(patch, dict):
                    raise errors.bad_request("strategic merge patch must be an object")
                new = strategic_merge(current, patch, cast(str, rt.schema))  # None refused above (415)
            if not isinstance(new, dict):
                raise errors.bad_request("the patched object must be a JSON object")
            codec.check_size(new)  # every patch type: the result, not just the body, is bounded
            new_meta = new.get("metadata")
            if isinstance(new_meta, dict):
                new_rv = new_meta.get("resourceVersion")
                if new_rv and str(new_rv) != rv:
                    raise errors.conflict(rt.plural, rt.group, t.name, errors.STALE_OBJECT)
            if not is_apply:
                warnings[:] = fields.check_fields(rt, new, mode)
            return new

        async def create() -> Obj:
            if not is_apply or t.subresource:
                raise errors.not_found(rt.plural, rt.group, t.name)
            new = server_side_apply(None, patch, manager=manager, force=force, schema=rt.schema,
                                    now=format_time(now), api_version=rt.api_version)
            new.setdefault("metadata", {})["name"] = t.name
            return await self.store.create(rt, new, namespace=t.namespace, manager=manager,
                                           dry_run=dry_run(req), managed=False)

        obj, created = await self.store.update(
            rt, t.namespace, t.name, mutate, subresource=t.subresource, manager=manager,
            dry_run=dry_run(req), create=create, record_manager=not is_apply)
        return self._object_response(req, rt, obj, 201 if created else 200, warnings)

    async def _delete_options(self, req: ApiRequest) -> dict[str, Any]:
        opts: dict[str, Any] = {}
        if req.body and req.body.strip():
            body = await codec.decode_body_async(req.body, req.content_type or "application/json", self.resolve_kind)
            if not isinstance(body, dict):
                raise errors.bad_request("DeleteOptions must be an object")
            errs = conformance.type_errors(body, DELETE_OPTIONS)
            if errs:
                raise conformance.cannot_handle("DeleteOptions", "v1", errs[0].message)
            conformance.drop_nulls(body, DELETE_OPTIONS)
            opts = body
        if "propagationPolicy" in req.query:
            opts["propagationPolicy"] = req.query["propagationPolicy"]
        if "orphanDependents" in req.query:
            opts["orphanDependents"] = req.query["orphanDependents"] == "true"
        grace = int_param(req, "gracePeriodSeconds")
        if grace is not None:
            opts["gracePeriodSeconds"] = grace
        policy = opts.get("propagationPolicy")
        if policy is None and opts.get("orphanDependents") is not None:
            opts["propagationPolicy"] = "Orphan" if opts["orphanDependents"] else "Background"
        if opts.get("propagationPolicy") not in (None, "Orphan", "Background", "Foreground"):
            raise errors.bad_request(f'propagationPolicy: Unsupported value: "{policy}"')
        dr = opts.get("dryRun") or []
        if dr and dr != ["All"]:
            raise errors.bad_request("dryRun: only All is supported")
        return opts

    async def _delete(self, req: ApiRequest, t: Target) -> ApiResponse:
        if t.subresource:
            raise errors.method_not_allowed()
        opts = await self._delete_options(req)
        is_dry = dry_run(req) or opts.get("dryRun") == ["All"]
        obj, _ = await self.store.delete(t.rt, t.namespace, t.name, propagation=opts.get("propagationPolicy"),
                                         grace_seconds=opts.get("gracePeriodSeconds"),
                                         preconditions=opts.get("preconditions"), dry_run=is_dry)
        return self._object_response(req, t.rt, obj, 200)

    async def _delete_collection(self, req: ApiRequest, t: Target) -> ApiResponse:
        opts = await self._delete_options(req)
        is_dry = dry_run(req) or opts.get("dryRun") == ["All"]
        page = await self.store.list(t.rt, t.namespace, match=self._matcher(req, t.rt))
        deleted = []
        for obj in page.items:
            meta = obj["metadata"]
            try:
                gone, _ = await self.store.delete(t.rt, meta.get("namespace"), meta["name"],
                                                  propagation=opts.get("propagationPolicy"),
                                                  grace_seconds=opts.get("gracePeriodSeconds"), dry_run=is_dry)
                deleted.append(gone)
            except StatusError as e:
                if e.code != 404:
                    raise
        out = {"kind": t.rt.list_kind, "apiVersion": t.rt.api_version,
               "metadata": {"resourceVersion": str(page.resource_version)}, "items": deleted}
        return json_response(out)

    # -- scale subresource ---------------------------------------------------------------

    async def _scale(self, req: ApiRequest, t: Target) -> ApiResponse:
        rt = t.rt
        paths = rt.scale
        if paths is None:
            raise errors.StatusError(404, "NotFound", "the server could not find the requested resource")
        if t.verb == "get":
            obj = await self.store.get(rt, t.namespace, t.name)
            return json_response(fields.scale_of(rt, obj))
        if t.verb not in ("update", "patch"):
            raise errors.method_not_allowed()
        ctype = codec.media_type(req.content_type)
        body = await codec.decode_body_async(req.body, req.content_type, self.resolve_kind)

        def mutate(current: Obj) -> Obj:
            scale = fields.scale_of(rt, current)
            if t.verb == "update":
                new_scale = body
                sent = str((body.get("metadata") or {}).get("resourceVersion") or "") if isinstance(body, dict) else ""
                if sent and sent != current["metadata"].get("resourceVersion"):
                    raise errors.conflict(rt.plural, rt.group, t.name, errors.STALE_OBJECT)
            elif ctype == "application/json-patch+json":
                if not isinstance(body, list):
                    raise errors.bad_request("json patch must be a list of operations")
                new_scale = json_patch(scale, body)
            elif ctype == "application/merge-patch+json":
                new_scale = merge_patch(scale, body)
            elif ctype == "application/strategic-merge-patch+json":
                new_scale = merge_patch(scale, body)  # Scale has no lists: SMP == merge patch
            else:
                raise errors.StatusError(415, "UnsupportedMediaType", f"unsupported patch type {ctype}")
            spec = new_scale.get("spec") if isinstance(new_scale, dict) else None
            if not isinstance(new_scale, dict) or (spec is not None and not isinstance(spec, dict)):
                raise conformance.cannot_handle("Scale", "v1", "the object and its spec must be JSON objects")
            replicas = (spec or {}).get("replicas")
            if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
                raise errors.invalid_object("Scale", "autoscaling", t.name, [
                    errors.invalid("spec.replicas", replicas, "must be greater than or equal to 0")])
            fields.set_path(current, paths.spec_replicas, replicas)
            return current

        obj, _ = await self.store.update(rt, t.namespace, t.name, mutate, manager=self._manager(req),
                                         dry_run=dry_run(req))
        return json_response(fields.scale_of(rt, obj))


class _EventEncoder:
    """Encodes watch events, sharing the JSON of an object between watchers of the same kind."""

    def __init__(self, rt: ResourceType, as_kind: str, clock: Callable[[], dt.datetime], include: str) -> None:
        self.rt = rt
        self.as_kind = as_kind
        self.clock = clock
        self.include = include
        self.first_table = True

    def _object_bytes(self, obj: Obj, ch: Change | None) -> bytes:
        rt = self.rt
        if self.as_kind == "Table":
            tab = tables.table(rt, [obj], self.clock(), include=self.include, resource_version=obj["metadata"].get("resourceVersion", ""),
                               with_columns=self.first_table)
            self.first_table = False
            return orjson.dumps(tab)
        if self.as_kind.startswith("PartialObjectMetadata"):
            return orjson.dumps(tables.partial_metadata(obj))
        if ch is not None and obj is ch.obj and rt.from_storage is None:
            key = ("json", rt.api_version)
            cached = ch.cache.get(key)
            if cached is None:
                cached = ch.cache[key] = orjson.dumps(obj)
            return cached
        return orjson.dumps(obj)

    def event(self, etype: str, obj: Obj, ch: Change | None) -> bytes:
        return b'{"type":"' + etype.encode() + b'","object":' + self._object_bytes(obj, ch) + b"}\n"

    def bookmark(self, revision: int, initial_events_end: bool = False) -> bytes:
        obj = {"kind": self.rt.kind, "apiVersion": self.rt.api_version,
               "metadata": {"resourceVersion": str(revision),
                            "annotations": {"k8s.io/initial-events-end": "true" if initial_events_end else "false"}}}
        return orjson.dumps({"type": "BOOKMARK", "object": obj}) + b"\n"

    def expired(self, revision: int) -> bytes:
        status = errors.gone(f"too old resource version: {revision}").status()
        return orjson.dumps({"type": "ERROR", "object": status}) + b"\n"


def _transitions(ch: Change, match: Callable[[Obj], bool] | None, rt: ResourceType) -> list[tuple[str, Obj]]:
    """Watch events a filtered watcher sees for one change (kube's watch cache rules): an object
    that starts matching is ADDED, one that stops matching is DELETED."""
    obj = ch.obj
    if rt.from_storage is not None:
        obj = rt.from_storage(copy.deepcopy(obj))
    if ch.type == "DELETE":
        return [("DELETED", obj)] if match is None or match(obj) else []
    if match is None:
        return [("ADDED" if ch.prev_raw is None else "MODIFIED", obj)]
    now_matches = match(obj)
    prev = ch.prev
    if prev is not None and rt.from_storage is not None:
        prev = rt.from_storage(copy.deepcopy(prev))
    was = prev is not None and match(prev)
    if now_matches:
        return [("MODIFIED" if was else "ADDED", obj)]
    if was and prev is not None:
        gone = copy.deepcopy(prev)
        gone["metadata"]["resourceVersion"] = obj["metadata"]["resourceVersion"]
        return [("DELETED", gone)]
    return []


def _parse_revision(raw: str) -> int:
    try:
        rev = int(raw)
    except ValueError:
        rev = -1
    if not 0 <= rev <= INT64_MAX:  # resourceVersions are unsigned, as kube parses them
        raise errors.bad_request(f'invalid resource version: "{raw}"')
    return rev


#: longest warning text sent; the rest is cut (unknown field names are the client's to choose)
MAX_WARNING_CHARS = 4096
MAX_WARNINGS = 64


def warning_header(warnings: list[str]) -> str:
    """The ``Warning`` header for ``warnings`` (RFC 7234 ``299 - "text"``, as kube sends them).
    Texts come from the request (unknown field names), so they are escaped: a quote or
    backslash, and any control character -- a newline would end the header, and the HTTP
    server refuses to send it at all."""
    texts = warnings[:MAX_WARNINGS]
    return ", ".join(f'299 - "{_quote(w[:MAX_WARNING_CHARS])}"' for w in texts)


def _quote(s: str) -> str:
    out = s.replace("\\", "\\\\").replace('"', '\\"')
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in out):
        out = "".join(ch if ord(ch) >= 0x20 and ord(ch) != 0x7F else f"\\x{ord(ch):02x}" for ch in out)
    return out
