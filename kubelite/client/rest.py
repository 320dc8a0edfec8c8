"""The async REST client: Kubernetes API verbs over a ``Transport``.

Controllers, the scheduler, simulated nodes, the kubelet and the CLI call ``Client`` to read and
write objects; informers call ``list``/``watch``. Objects are plain JSON dicts (decoded with
orjson). Error replies become ``ApiError`` (a ``StatusError`` carrying the server's Status);
a 410 on a watch becomes ``WatchExpired`` so informers know to relist. The hot path (create,
update, patch, bind: thousands a second from controllers) builds one path string, one small
query dict and one body, and decodes one reply -- nothing else is allocated per call.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, AsyncIterator, Mapping

import orjson

from kubelite.client.clock import REAL_CLOCK, Clock
from kubelite.client.resources import PODS, ResourceRef
from kubelite.client.transport import Response, StreamResponse, Transport
from kubelite.machinery.errors import StatusError

_REASONS = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
    405: "MethodNotAllowed", 406: "NotAcceptable", 409: "Conflict", 410: "Expired",
    413: "RequestEntityTooLarge", 415: "UnsupportedMediaType", 422: "Invalid",
    429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout",
}

PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    # Server-side apply takes YAML; JSON is valid YAML, and is what kubectl sends.
    "apply": "application/apply-patch+yaml",
}

_JSON = "application/json"


class ApiError(StatusError):
    """An error reply from the API server, built from its ``Status`` object: ``.code``,
    ``.reason``, ``.message``, ``.details``; ``.status()`` returns the Status as received."""

    def __init__(self, status: Mapping[str, Any], http_status: int | None = None) -> None:
        code = status.get("code") or http_status or 500
        super().__init__(int(code), status.get("reason") or _REASONS.get(int(code), "Unknown"),
                         status.get("message") or "", dict(status.get("details") or {}))
        self._body = dict(status)

    def status(self) -> dict[str, Any]:
        return self._body

    @classmethod
    def from_reply(cls, http_status: int, body: bytes) -> "ApiError":
        """From a non-2xx reply; a body that is not a Status (a proxy's HTML page, say) is
        wrapped into one, as client-go does."""
        status: Any = None
        if body:
            try:
                status = orjson.loads(body)
            except orjson.JSONDecodeError:
                status = None
        if isinstance(status, dict) and status.get("kind") == "Status":
            err_cls = WatchExpired if (status.get("code") or http_status) == 410 else cls
            return err_cls(status, http_status)
        text = body[:512].decode("utf-8", "replace").strip() if body else ""
        reason = _REASONS.get(http_status, "Unknown")
        message = text or f"the server responded with status {http_status} ({reason})"
        err_cls = WatchExpired if http_status == 410 else cls
        return err_cls({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                        "code": http_status, "reason": reason, "message": message}, http_status)


class WatchExpired(ApiError):
    """410 Gone/Expired: the requested resourceVersion is older than the server's history.
    The only recovery is a fresh list."""


def is_not_found(err: BaseException) -> bool:
    return isinstance(err, StatusError) and err.code == 404


def is_conflict(err: BaseException) -> bool:
    """409 Conflict on a stale resourceVersion (not AlreadyExists, which is also a 409)."""
    return isinstance(err, StatusError) and err.code == 409 and err.reason != "AlreadyExists"


def is_already_exists(err: BaseException) -> bool:
    return isinstance(err, StatusError) and err.code == 409 and err.reason == "AlreadyExists"


def is_gone(err: BaseException) -> bool:
    return isinstance(err, StatusError) and err.code == 410


@dataclass(slots=True)
class ListResult:
    """One list reply: ``items`` plus the list's ``resource_version`` (watch from it) and the
    ``continue_`` token of the next page (None on the last page)."""

    items: list[dict[str, Any]]
    resource_version: str
    continue_: str | None = None
    remaining_item_count: int | None = None


def selector_string(selector: str | Mapping[str, str] | None) -> str | None:
    """``{"app": "web", "tier": "fe"}`` -> ``"app=web,tier=fe"``; strings pass through."""
    if selector is None or isinstance(selector, str):
        return selector or None
    return ",".join(f"{k}={v}" for k, v in selector.items()) or None


def _fill_type(items: list[dict[str, Any]], ref: ResourceRef) -> None:
    # Items of a List reply carry no kind/apiVersion on kube-apiserver; consumers (event
    # recorder, owner references) need them, so put them back.
    if ref.kind:
        for item in items:
            if "kind" not in item:
                item["kind"] = ref.kind
                item["apiVersion"] = ref.api_version


class Watch:
    """An open watch: ``async for event_type, obj in watch`` yields ("ADDED" | "MODIFIED" |
    "DELETED" | "BOOKMARK", object). An ERROR event raises ``ApiError`` (``WatchExpired`` for 410).
    The stream opens on first iteration (or ``async with``); it closes at the end of the stream,
    on error, on ``close()`` or when leaving ``async with``."""

    __slots__ = ("_transport", "_path", "_query", "_ref", "_cm", "_lines")

    def __init__(self, transport: Transport, path: str, query: dict[str, str], ref: ResourceRef) -> None:
        self._transport = transport
        self._path = path
        self._query = query
        self._ref = ref
        self._cm: Any = None
        self._lines: AsyncIterator[bytes] | None = None

    async def _open(self) -> None:
        cm = self._transport.stream("GET", self._path, query=self._query)
        self._cm = False  # if entering fails, the watch is over
        stream: StreamResponse = await cm.__aenter__()
        self._cm = cm
        if not 200 <= stream.status < 300:
            body = b"\n".join([line async for line in stream])
            status = stream.status
            await self.close()
            raise ApiError.from_reply(status, body)
        self._lines = stream.__aiter__()

    async def __aenter__(self) -> "Watch":
        if self._cm is None:
            await self._open()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def __aiter__(self) -> "Watch":
        return self

    async def __anext__(self) -> tuple[str, dict[str, Any]]:
        if self._lines is None:
            if self._cm is not None:  # closed (False) or failed to open
                raise StopAsyncIteration
            await self._open()
        assert self._lines is not None
        while True:
            try:
                line = await self._lines.__anext__()
            except BaseException:  # end of stream, transport error or cancellation
                await self.close()
                raise
            if not line or line.isspace():
                continue
            try:
                event = orjson.loads(line)
                etype = event["type"]
                obj = event["object"]
            except (orjson.JSONDecodeError, KeyError, TypeError) as e:
                await self.close()
                raise ApiError({"code": 500, "reason": "InternalError",
                                "message": f"malformed watch event: {line[:200]!r}"}) from e
            if etype == "ERROR":
                await self.close()
                status = obj if isinstance(obj, dict) else {"message": str(obj)}
                code = int(status.get("code") or 500)
                raise (WatchExpired if code == 410 else ApiError)(status, code)
            if "kind" not in obj and self._ref.kind and etype != "BOOKMARK":
                obj["kind"] = self._ref.kind
                obj["apiVersion"] = self._ref.api_version
            return etype, obj

    async def close(self) -> None:
        # _cm: None = not opened yet, False = closed, else the open stream's context manager.
        cm, self._cm, self._lines = self._cm, False, None
        if cm:
            await cm.__aexit__(None, None, None)


class Client:
    """Kubernetes API verbs. ``field_manager`` is sent on writes unless a call overrides it
    (it names the component in ``managedFields``).

    Like client-go, a reply of 429 or 5xx that carries ``Retry-After`` is retried after that
    many seconds (at most ``max_retries`` times, each wait capped at 10 s): the server said
    it did not process the request. Other errors raise ``ApiError`` at once.
    """

    __slots__ = ("transport", "field_manager", "max_retries", "clock")

    def __init__(self, transport: Transport, *, field_manager: str | None = None, max_retries: int = 5,
                 clock: Clock | None = None) -> None:
        self.transport = transport
        self.field_manager = field_manager
        self.max_retries = max_retries
        self.clock = clock or REAL_CLOCK

    async def close(self) -> None:
        await self.transport.close()

    # -- plumbing -------------------------------------------------------------------------

    async def _send(self, method: str, path: str, query: Mapping[str, str] | None, body: bytes | None,
                    content_type: str | None, accept: str = _JSON) -> Response:
        resp = await self.transport.request(method, path, query=query, body=body,
                                            content_type=content_type, accept=accept)
        retries = 0
        while (resp.status == 429 or resp.status >= 500) and retries < self.max_retries:
            after = resp.headers.get("Retry-After") or resp.headers.get("retry-after")
            if after is None:
                break
            try:
                delay = min(max(float(after), 0.0), 10.0)
            except ValueError:
                break
            retries += 1
            await self.clock.sleep(delay)
            resp = await self.transport.request(method, path, query=query, body=body,
                                                content_type=content_type, accept=accept)
        return resp

    @staticmethod
    def _decode(resp: Response) -> Any:
        if 200 <= resp.status < 300:
            return orjson.loads(resp.body) if resp.body else {}
        raise ApiError.from_reply(resp.status, resp.body)

    def _write_query(self, field_manager: str | None, dry_run: bool,
                     field_validation: str | None = None) -> dict[str, str] | None:
        fm = field_manager or self.field_manager
        if fm is None and not dry_run and field_validation is None:
            return None
        q: dict[str, str] = {}
        if fm:
            q["fieldManager"] = fm
        if dry_run:
            q["dryRun"] = "All"
        if field_validation:
            q["fieldValidation"] = field_validation
        return q

    @staticmethod
    def _namespace_of(ref: ResourceRef, obj: Mapping[str, Any], namespace: str | None) -> str | None:
        if not ref.namespaced:
            return None
        ns = namespace or (obj.get("metadata") or {}).get("namespace")
        if not ns:
            raise ValueError(f"{ref.qualified}: a namespace is required (argument or metadata.namespace)")
        return ns

    async def request(self, method: str, path: str, *, query: Mapping[str, str] | None = None,
                      body: Any = None, content_type: str = _JSON, accept: str = _JSON,
                      raw: bool = False) -> Any:
        """Any request: ``body`` is bytes or a JSON-serialisable value. Returns the decoded
        JSON reply, or the ``Response`` with ``raw=True`` (error statuses raise either way)."""
        data = body if body is None or isinstance(body, bytes) else orjson.dumps(body)
        resp = await self._send(method, path, query, data, content_type if data is not None else None, accept)
        if raw:
            if not 200 <= resp.status < 300:
                raise ApiError.from_reply(resp.status, resp.body)
            return resp
        return self._decode(resp)

    # -- reads ----------------------------------------------------------------------------

    async def get(self, ref: ResourceRef, name: str, *, namespace: str | None = None,
                  subresource: str | None = None, resource_version: str | None = None) -> dict[str, Any]:
        query = {"resourceVersion": resource_version} if resource_version is not None else None
        resp = await self._send("GET", ref.item(namespace, name, subresource), query, None, None)
        return self._decode(resp)  # type: ignore[no-any-return]

    async def list(self, ref: ResourceRef, *, namespace: str | None = None,
                   label_selector: str | Mapping[str, str] | None = None, field_selector: str | None = None,
                   limit: int | None = None, continue_: str | None = None,
                   resource_version: str | None = None,
                   resource_version_match: str | None = None) -> ListResult:
        """One list call (one page when ``limit`` is set). ``namespace=None`` lists every
        namespace of a namespaced resource."""
        query: dict[str, str] = {}
        ls = selector_string(label_selector)
        if ls:
            query["labelSelector"] = ls
        if field_selector:
            query["fieldSelector"] = field_selector
        if limit:
            query["limit"] = str(limit)
        if continue_:
            query["continue"] = continue_
        if resource_version is not None:
            query["resourceVersion"] = resource_version
        if resource_version_match:
            query["resourceVersionMatch"] = resource_version_match
        resp = await self._send("GET", ref.collection(namespace), query or None, None, None)
        data = self._decode(resp)
        items = data.get("items") or []
        _fill_type(items, ref)
        meta = data.get("metadata") or {}
        return ListResult(items, meta.get("resourceVersion", ""), meta.get("continue") or None,
                          meta.get("remainingItemCount"))

    async def list_all(self, ref: ResourceRef, *, namespace: str | None = None,
                       label_selector: str | Mapping[str, str] | None = None,
                       field_selector: str | None = None, page_size: int = 500) -> ListResult:
        """Every item, following ``continue`` tokens. The result's ``resource_version`` is the
        first page's: continue tokens keep paging the snapshot taken at that revision. If a
        token expires mid-way (410), falls back to one unpaginated list, like client-go's pager."""
        first = await self.list(ref, namespace=namespace, label_selector=label_selector,
                                field_selector=field_selector, limit=page_size)
        items = first.items
        token = first.continue_
        while token:
            try:
                page = await self.list(ref, namespace=namespace, label_selector=label_selector,
                                       field_selector=field_selector, limit=page_size, continue_=token)
            except ApiError as e:
                if e.code != 410:
                    raise
                return await self.list(ref, namespace=namespace, label_selector=label_selector,
                                       field_selector=field_selector)
            items.extend(page.items)
            token = page.continue_
        return ListResult(items, first.resource_version)

    def watch(self, ref: ResourceRef, *, namespace: str | None = None, resource_version: str | None = None,
              label_selector: str | Mapping[str, str] | None = None, field_selector: str | None = None,
              allow_bookmarks: bool = True, timeout_seconds: int | None = None,
              send_initial_events: bool | None = None) -> Watch:
        """Open a watch (lazily, on first iteration or ``async with``). Events strictly after
        ``resource_version``; raises ``WatchExpired`` when that is older than the server's history."""
        query: dict[str, str] = {"watch": "true"}
        if resource_version is not None:
            query["resourceVersion"] = resource_version
        ls = selector_string(label_selector)
        if ls:
            query["labelSelector"] = ls
        if field_selector:
            query["fieldSelector"] = field_selector
        if allow_bookmarks:
            query["allowWatchBookmarks"] = "true"
        if timeout_seconds is not None:
            query["timeoutSeconds"] = str(int(timeout_seconds))
        if send_initial_events is not None:  # kube requires the match with it
            query["sendInitialEvents"] = "true" if send_initial_events else "false"
            query["resourceVersionMatch"] = "NotOlderThan"
        return Watch(self.transport, ref.collection(namespace), query, ref)

    # -- writes ---------------------------------------------------------------------------

    async def create(self, ref: ResourceRef, obj: Mapping[str, Any], *, namespace: str | None = None,
                     field_manager: str | None = None, dry_run: bool = False,
                     field_validation: str | None = None) -> dict[str, Any]:
        """POST ``obj``; its namespace is ``namespace`` or ``metadata.namespace``."""
        ns = self._namespace_of(ref, obj, namespace)
        resp = await self._send("POST", ref.collection(ns), self._write_query(field_manager, dry_run, field_validation),
                                orjson.dumps(obj), _JSON)
        return self._decode(resp)  # type: ignore[no-any-return]

    async def update(self, ref: ResourceRef, obj: Mapping[str, Any], *, namespace: str | None = None,
                     subresource: str | None = None, field_manager: str | None = None,
                     dry_run: bool = False) -> dict[str, Any]:
        """PUT ``obj`` (by ``metadata.name``); a ``metadata.resourceVersion`` makes it conditional
        (409 Conflict if stale)."""
        ns = self._namespace_of(ref, obj, namespace)
        name = (obj.get("metadata") or {}).get("name") or ""
        resp = await self._send("PUT", ref.item(ns, name, subresource), self._write_query(field_manager, dry_run),
                                orjson.dumps(obj), _JSON)
        return self._decode(resp)  # type: ignore[no-any-return]

    async def update_status(self, ref: ResourceRef, obj: Mapping[str, Any], *, namespace: str | None = None,
                            field_manager: str | None = None) -> dict[str, Any]:
        """PUT to the ``status`` subresource: only ``status`` changes."""
        return await self.update(ref, obj, namespace=namespace, subresource="status", field_manager=field_manager)

    async def patch(self, ref: ResourceRef, name: str, patch: Any, *, namespace: str | None = None,
                    type: str = "merge", field_manager: str | None = None, force: bool | None = None,
                    subresource: str | None = None, dry_run: bool = False) -> dict[str, Any]:
        """PATCH with ``type`` merge | json | strategic | apply. ``patch`` is bytes or a
        JSON-serialisable value (a list of operations for ``json``). ``apply`` needs a field
        manager and takes ``force`` to override conflicts."""
        ctype = PATCH_TYPES.get(type)
        if ctype is None:
            raise ValueError(f"unknown patch type {type!r}: expected one of {', '.join(PATCH_TYPES)}")
        query = self._write_query(field_manager, dry_run)
        if type == "apply":
            if not query or "fieldManager" not in query:
                raise ValueError("server-side apply needs a field manager")
            if force is not None:
                query["force"] = "true" if force else "false"
        body = patch if isinstance(patch, bytes) else orjson.dumps(patch)
        resp = await self._send("PATCH", ref.item(namespace, name, subresource), query, body, ctype)
        return self._decode(resp)  # type: ignore[no-any-return]

    @staticmethod
    def _delete_options(propagation_policy: str | None, grace_period_seconds: int | None,
                        preconditions: Mapping[str, str] | None, dry_run: bool) -> bytes | None:
        if propagation_policy is None and grace_period_seconds is None and not preconditions and not dry_run:
            return None
        opts: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation_policy is not None:
            opts["propagationPolicy"] = propagation_policy
        if grace_period_seconds is not None:
            opts["gracePeriodSeconds"] = grace_period_seconds
        if preconditions:
            opts["preconditions"] = dict(preconditions)
        if dry_run:
            opts["dryRun"] = ["All"]
        return orjson.dumps(opts)

    async def delete(self, ref: ResourceRef, name: str, *, namespace: str | None = None,
                     propagation_policy: str | None = None, grace_period_seconds: int | None = None,
                     preconditions: Mapping[str, str] | None = None, dry_run: bool = False) -> dict[str, Any]:
        """DELETE one object. ``propagation_policy``: Orphan | Background | Foreground;
        ``preconditions``: ``{"uid": ..., "resourceVersion": ...}``. Returns the server's reply:
        the object (still present with deletionTimestamp, or as deleted) or a Status."""
        body = self._delete_options(propagation_policy, grace_period_seconds, preconditions, dry_run)
        resp = await self._send("DELETE", ref.item(namespace, name), None, body,
                                _JSON if body is not None else None)
        return self._decode(resp)  # type: ignore[no-any-return]

    async def delete_collection(self, ref: ResourceRef, *, namespace: str | None = None,
                                label_selector: str | Mapping[str, str] | None = None,
                                field_selector: str | None = None,
                                propagation_policy: str | None = None) -> dict[str, Any]:
        """DELETE every object of the collection matching the selectors."""
        query: dict[str, str] = {}
        ls = selector_string(label_selector)
        if ls:
            query["labelSelector"] = ls
        if field_selector:
            query["fieldSelector"] = field_selector
        body = self._delete_options(propagation_policy, None, None, False)
        resp = await self._send("DELETE", ref.collection(namespace), query or None, body,
                                _JSON if body is not None else None)
        return self._decode(resp)  # type: ignore[no-any-return]

    # -- pod subresources -----------------------------------------------------------------

    async def bind(self, pod: str | Mapping[str, Any], node_name: str, *,
                   namespace: str | None = None, uid: str | None = None) -> dict[str, Any]:
        """POST a Binding to ``pods/{name}/binding`` (what the scheduler does). ``pod`` is a
        name or the pod itself (its namespace and uid are then used; the uid makes the
        binding fail if the pod was replaced by a namesake)."""
        if isinstance(pod, str):
            name = pod
        else:
            meta = pod.get("metadata") or {}
            name = meta.get("name") or ""
            namespace = namespace or meta.get("namespace")
            uid = uid or meta.get("uid")
        if not namespace:
            raise ValueError(f'binding pod "{name}": a namespace is required')
        metadata: dict[str, str] = {"name": name, "namespace": namespace}
        if uid:
            metadata["uid"] = uid
        body = {"apiVersion": "v1", "kind": "Binding", "metadata": metadata,
                "target": {"apiVersion": "v1", "kind": "Node", "name": node_name}}
        resp = await self._send("POST", PODS.item(namespace, name, "binding"), self._write_query(None, False),
                                orjson.dumps(body), _JSON)
        return self._decode(resp)  # type: ignore[no-any-return]

    async def evict(self, name: str, *, namespace: str, grace_period_seconds: int | None = None,
                    preconditions: Mapping[str, str] | None = None) -> dict[str, Any]:
        """POST a policy/v1 Eviction to ``pods/{name}/eviction`` (PodDisruptionBudgets apply;
        429 TooManyRequests when a budget forbids it)."""
        body: dict[str, Any] = {"apiVersion": "policy/v1", "kind": "Eviction",
                                "metadata": {"name": name, "namespace": namespace}}
        opts = self._delete_options(None, grace_period_seconds, preconditions, False)
        if opts is not None:
            body["deleteOptions"] = orjson.loads(opts)
        resp = await self._send("POST", PODS.item(namespace, name, "eviction"), None, orjson.dumps(body), _JSON)
        return self._decode(resp)  # type: ignore[no-any-return]
