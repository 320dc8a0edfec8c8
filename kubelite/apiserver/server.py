"""The API server assembled: storage → store + watch hub → handlers, behind authn and authz.

``ApiServer.handle(ApiRequest)`` is the one entry point used by both the HTTPS front end
(``http.py``) and in-process clients (``local.py``). It serves the non-resource paths itself
(/version, health, discovery, OpenAPI) and hands resource paths to ``ResourceHandlers``.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from typing import Any, Awaitable, Callable

from kubelite.api.kinds import BUILTIN
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kubelite.apiserver import (admission, audit, authz, codec, crds, impersonation, reviews, serviceaccounts,
                               subresources, version)
from kubelite.apiserver.discovery import AGGREGATED_CT, AGGREGATED_CT_BETA, Discovery
from kubelite.apiserver.encryption import EncryptionManager
from kubelite.apiserver.handlers import ResourceHandlers, parse_resource_path
from kubelite.apiserver.health import Health
from kubelite.apiserver.version import version_info
from kubelite.apiserver.namespaces import NamespaceIndex
from kubelite.apiserver.openapi import OpenAPIBuilder
from kubelite.apiserver.request import CURRENT_USER, ApiRequest, ApiResponse, UserInfo, json_response
from kubelite.apiserver.rbac_escalation import EscalationCheck
from kubelite.apiserver.resources import ResourceRegistry
from kubelite.apiserver.store import Store, now_utc
from kubelite.apiserver.watch import WatchHub
from kubelite.machinery import errors
from kubelite.machinery.errors import StatusError
from kubelite.storage import Storage

log = logging.getLogger(__name__)

PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/version"})


class ApiServer:
    def __init__(self, storage: Storage, *, server_address: str = "127.0.0.1:6443",
                 clock: Callable[[], dt.datetime] = now_utc,
                 service_cidr: str = "10.43.0.0/16", node_port_range: tuple[int, int] = (30000, 32767),
                 service_account_key: bytes | None = None, event_ttl: int = 3600) -> None:
        self.storage = storage
        self.clock = clock
        self.server_address = server_address
        self.registry = ResourceRegistry(list(BUILTIN))
        self.store = Store(storage, clock=clock)
        if event_ttl > 0:  # kube-apiserver --event-ttl: Events expire this long after their last write
            self.store.ttl["core/events"] = event_ttl
        self.hub = WatchHub(storage)
        self.discovery = Discovery(self.registry)
        self.openapi = OpenAPIBuilder()
        self.resources = ResourceHandlers(self.registry, self.store, self.hub, clock)
        self.authorizer = authz.Authorizer(self.store, self.registry)
        self.allocator = admission.ServiceAllocator(self.store, self.registry, service_cidr, node_port_range)
        self.store.admission.append(self.allocator)
        self.store.admission.append(admission.PodAdmission(self.store, self.registry))
        self.store.admission.append(EscalationCheck(self.authorizer))
        self.namespaces = NamespaceIndex(self)
        self.store.namespace_check = self.namespaces.check
        self.crds = crds.CRDServer(self)
        reviews.install(self)
        subresources.install(self)
        #: bearer-token authenticators (service account tokens...), asked in order; TokenReview
        #: answers from them and the HTTPS front end authenticates with the same list
        self.token_authenticators: list[Callable[[str], Awaitable[UserInfo | None]]] = []
        #: ``--anonymous-auth``: requests without credentials are system:anonymous (True) or 401
        self.anonymous_auth = True
        #: ``--api-audiences``: a service-account token must name one (kube's default: the issuer)
        self.api_audiences: list[str] = list(serviceaccounts.DEFAULT_AUDIENCES)
        # Service account tokens; without a key from the data dir (in-process tests) the key
        # lives only as long as this server.
        serviceaccounts.install(self, serviceaccounts.TokenIssuer(
            service_account_key or ec.generate_private_key(ec.SECP256R1()).private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())))
        #: encryption at rest (``--secrets-encryption``): the server bundle sets a live manager
        #: when it wraps the storage in ``EncryptingStorage``; this one only reports "disabled"
        self.encryption = EncryptionManager(None)
        #: the audit log (``--audit-log-path``/``--audit-policy-file``; the server bundle sets it)
        self.audit = audit.Auditor()
        #: serves pods/log, exec, attach, portforward once a node agent provides it
        self.node_streamer: Callable[..., Any] | None = None
        self.ready = asyncio.Event()
        #: set when stop() begins: /readyz fails from then on (kube's "shutdown" check)
        self.stopping = False
        self.health = Health()
        self._install_health()
        self.started_at = time.monotonic()
        self._tasks: list[asyncio.Task[Any]] = []

    def rt(self, group: str, version: str, plural: str):  # noqa: ANN201 - ResourceType
        rt = self.registry.lookup(group, version, plural)
        assert rt is not None, (group, version, plural)
        return rt

    async def start(self) -> None:
        await asyncio.to_thread(version.load)
        await self.storage.start()
        await self.hub.start()
        self.authorizer.start(self.hub)
        await self.allocator.load()
        await self.crds.start()
        await self.namespaces.start()
        from kubelite.apiserver.bootstrap import bootstrap

        await bootstrap(self)
        self.ready.set()

    async def stop(self) -> None:
        self.stopping = True
        await self.authorizer.stop()
        await self.crds.stop()
        await self.namespaces.stop()
        await self.hub.stop()
        await self.storage.close()
        codec.shutdown_decoders()

    # -- entry point -----------------------------------------------------------------------

    async def handle(self, req: ApiRequest) -> ApiResponse:
        if self.audit.enabled:
            return await self.audit.serve(req, self._handle, decode=self._decode_for_audit)
        return await self._handle(req)

    def _decode_for_audit(self, body: bytes, content_type: str) -> Any:
        from kubelite.apiserver import codec

        return codec.decode_body(body, content_type, self.resources.resolve_kind)

    async def _handle(self, req: ApiRequest) -> ApiResponse:
        try:
            return await self._dispatch(req)
        except StatusError as e:
            return json_response(e.status(), e.code)
        except Exception as e:  # noqa: BLE001 - never a traceback to the client
            log.exception("internal error serving %s %s", req.method, req.path)
            err = errors.internal(type(e).__name__ + ": " + str(e))
            return json_response(err.status(), 500)

    async def _dispatch(self, req: ApiRequest) -> ApiResponse:
        path = req.path.rstrip("/") or "/"
        if impersonation.requested(req.headers):
            req.user = await self._impersonate(req)
            audit.note_impersonation(req.user)
        if path in PUBLIC_PATHS:
            return await self._public(path, req)
        segs = [s for s in path.split("/") if s]
        if not _is_resource_path(segs):
            # discovery, OpenAPI, "/": non-resource URLs, authorized by RBAC nonResourceURLs
            # (system:discovery grants them to every authenticated user; anonymous gets 403)
            await self.authorizer.check_path(req.user, req.method.lower(), req.path)
        if not segs:
            return json_response({"paths": sorted(["/api", "/api/v1", "/apis", "/healthz", "/livez",
                                                   "/readyz", "/version", "/openapi/v3"])})
        head = segs[0]
        if head == "api":
            if len(segs) == 1:
                return self._discovery_root(req, core=True)
            if segs[1] != "v1":
                raise errors.StatusError(404, "NotFound", "the server could not find the requested resource")
            if len(segs) == 2:
                return ApiResponse(200, self.discovery.resource_list("", "v1") or b"{}")
            return await self._resource(req, "", "v1", segs[2:])
        if head == "apis":
            if len(segs) == 1:
                return self._discovery_root(req, core=False)
            if len(segs) == 2:
                doc = self.discovery.api_group(segs[1])
                if doc is None:
                    raise errors.StatusError(404, "NotFound", "the server could not find the requested resource")
                return ApiResponse(200, doc)
            if len(segs) == 3:
                doc = self.discovery.resource_list(segs[1], segs[2])
                if doc is None:
                    raise errors.StatusError(404, "NotFound", "the server could not find the requested resource")
                return ApiResponse(200, doc)
            return await self._resource(req, segs[1], segs[2], segs[3:])
        if head == "openapi":
            return self._openapi(req, segs)
        if head == "v1-kubelite" and len(segs) == 3 and segs[1] == "encrypt":
            # k3s' /v1-k3s/encrypt/{status,config}: what `kubelite secrets-encrypt` calls
            return json_response(await self.encryption.handle(req.method, segs[2], req.body))
        raise errors.StatusError(404, "NotFound", "the server could not find the requested resource")

    async def _impersonate(self, req: ApiRequest) -> UserInfo:
        """``kubectl --as/--as-group/--as-uid``: act as another user if the caller may
        impersonate each part of it (``impersonation.Request``, kube's WithImpersonation)."""
        return await impersonation.impersonate(self.authorizer, req.user, req.headers)

    async def _public(self, path: str, req: ApiRequest) -> ApiResponse:
        if path == "/version":
            return json_response(version_info())
        endpoint = "readyz" if path == "/readyz" else "livez"  # /healthz: kube's older livez
        return await self.health.respond(endpoint, req.query, req.query_all.get("exclude", []))

    def _install_health(self) -> None:
        """The checks of /livez and /readyz; components started later add their own."""
        storage = self.storage

        async def ping() -> str | None:
            return None

        async def readable() -> str | None:
            return await storage.check_readable()

        async def writable() -> str | None:
            return storage.check_writable()

        async def hub() -> str | None:
            return self.hub.health()

        def task_check(owner: Any, what: str) -> Callable[[], Awaitable[str | None]]:
            async def check() -> str | None:
                task = getattr(owner, "_task", None)
                if task is None:
                    return f"{what} not started"
                if task.done():
                    return f"{what} stopped"
                return None
            return check

        async def bootstrapped() -> str | None:
            return None if self.ready.is_set() else "not finished"

        async def shutdown() -> str | None:
            return "the server is shutting down" if self.stopping else None

        h = self.health
        h.add("ping", ping, live=True)
        h.add("storage", readable)
        h.add("storage-writer", writable, live=True)
        h.add("watch-hub", hub, live=True)
        h.add("poststarthook/crd-informer-synced", task_check(self.crds, "CRD server"))
        h.add("poststarthook/namespace-index", task_check(self.namespaces, "namespace index"))
        h.add("poststarthook/bootstrap", bootstrapped)
        h.add("shutdown", shutdown)

    def _discovery_root(self, req: ApiRequest, core: bool) -> ApiResponse:
        accept = req.accept
        if "as=APIGroupDiscoveryList" in accept:
            # the client lists v2 before v2beta1; honour the first it names
            beta = accept.find("v=v2beta1") != -1 and (accept.find("v=v2;") == -1 or accept.find("v=v2beta1") < accept.find("v=v2;"))
            body = self.discovery.aggregated(core, beta)
            return ApiResponse(200, body, AGGREGATED_CT_BETA if beta else AGGREGATED_CT)
        if core:
            return ApiResponse(200, self.discovery.api_versions(self.server_address))
        return ApiResponse(200, self.discovery.api_group_list())

    def _openapi(self, req: ApiRequest, segs: list[str]) -> ApiResponse:
        if len(segs) < 2 or segs[1] != "v3":
            raise errors.StatusError(404, "NotFound", "the server could not find the requested resource")
        resources = self.registry.all()
        if len(segs) == 2:
            return json_response(self.openapi.root(resources, generation=self.registry.generation))
        gv_path = "/".join(segs[2:])
        doc = self.openapi.group_version_doc(gv_path, resources, generation=self.registry.generation)
        if doc is None:
            raise errors.StatusError(404, "NotFound", "the server could not find the requested resource")
        headers = {"Cache-Control": "public, immutable" if req.query.get("hash") else "no-cache, private",
                   "Etag": '"' + self.openapi.hash_of(gv_path, resources, generation=self.registry.generation) + '"'}
        return ApiResponse(200, doc, "application/json", headers)

    async def _resource(self, req: ApiRequest, group: str, version: str, segs: list[str]) -> ApiResponse:
        t = parse_resource_path(self.registry, req.method, group, version, segs, dict(req.query))
        audit.note_target(t)
        await self.authorizer.check(req.user, t.verb, t.rt, t.namespace, t.name, t.subresource)
        token = CURRENT_USER.set(req.user)
        try:
            return await self.resources.handle(req, t)
        finally:
            CURRENT_USER.reset(token)


def _is_resource_path(segs: list[str]) -> bool:
    """/api/v1/<resource>... and /apis/<group>/<version>/<resource>... (kube's RequestInfo)."""
    return (len(segs) >= 3 and segs[0] == "api") or (len(segs) >= 4 and segs[0] == "apis")
