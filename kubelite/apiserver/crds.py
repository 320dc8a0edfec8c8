"""Serving CustomResourceDefinitions: each CRD becomes ResourceTypes in the registry.

The CRD server follows the ``customresourcedefinitions`` storage through the watch hub, so a
CRD created by any client is served (discovery, OpenAPI, CRUD) as soon as its write commits;
deleting a CRD stops serving it and removes its custom objects. Custom objects are validated,
pruned and defaulted against the version's openAPIV3Schema (kubelite/api/structural.py).
"""
from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

from kubelite.api import structural
from kubelite.api.kinds.apiregistration import apiservice
from kubelite.apiserver import apiservices
from kubelite.api.registry import AGE_COLUMN, NAME_COLUMN, ResourceType, ScalePaths, Strategy
from kubelite.api.validation import is_dns1123_subdomain
from kubelite.machinery.errors import FieldError

if TYPE_CHECKING:
    from kubelite.apiserver.server import ApiServer

log = logging.getLogger(__name__)
CRD_STORAGE = "apiextensions.k8s.io/customresourcedefinitions"


class CustomResourceStrategy(Strategy):
    """Behaviour of the objects of one CRD version, driven by its schema."""

    def __init__(self, schema: dict[str, Any], columns: list[structural.PrinterColumn], has_status: bool) -> None:
        self.schema = schema
        self.has_status = has_status
        self.columns = (NAME_COLUMN, *columns) if columns else (NAME_COLUMN, AGE_COLUMN)
        self._printer = columns
        self.name_validator = is_dns1123_subdomain

    def prune(self, obj: dict[str, Any]) -> list[str]:
        return structural.prune(obj, self.schema)

    def defaults(self, obj: dict[str, Any]) -> None:
        structural.apply_defaults(obj, self.schema)

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        return structural.validate(obj, self.schema)

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        if not self._printer:
            return super().row(obj, now)
        return [obj["metadata"].get("name", ""), *structural.printer_cells(obj, self._printer, now)]


def resource_types(crd: dict[str, Any]) -> list[ResourceType]:
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group", "")
    storage_version = next((v["name"] for v in spec.get("versions") or [] if v.get("storage")), "")
    out = []
    for v in spec.get("versions") or []:
        if not v.get("served"):
            continue
        version = v["name"]
        schema = ((v.get("schema") or {}).get("openAPIV3Schema")) or {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        subs = v.get("subresources") or {}
        scale = subs.get("scale")
        scale_paths = None
        if scale is not None:
            scale_paths = ScalePaths(spec_replicas=scale.get("specReplicasPath", ".spec.replicas").lstrip("."),
                                     status_replicas=scale.get("statusReplicasPath", ".status.replicas").lstrip("."),
                                     label_selector=(scale.get("labelSelectorPath") or "").lstrip(".") or None,
                                     selector_from_spec=False)
        api_version = f"{group}/{version}"
        storage_api_version = f"{group}/{storage_version or version}"

        def from_storage(obj: dict[str, Any], av: str = api_version) -> dict[str, Any]:
            obj["apiVersion"] = av
            return obj

        def to_storage(obj: dict[str, Any], av: str = storage_api_version) -> dict[str, Any]:
            return {**obj, "apiVersion": av}

        out.append(ResourceType(
            group=group, version=version, kind=names.get("kind", ""), plural=names.get("plural", ""),
            singular=names.get("singular") or names.get("kind", "").lower(),
            namespaced=spec.get("scope") == "Namespaced",
            strategy=CustomResourceStrategy(schema, structural.printer_columns(v), "status" in subs),
            short_names=tuple(names.get("shortNames") or ()), categories=tuple(names.get("categories") or ()),
            subresources=tuple(s for s in ("status", "scale") if s in subs), scale=scale_paths,
            storage_resource=f"{group}/{names.get('plural', '')}",
            list_kind=names.get("listKind") or names.get("kind", "") + "List",
            from_storage=from_storage, to_storage=to_storage if len(spec.get("versions") or []) > 1 else None,
        ))
    return out


class CRDServer:
    def __init__(self, server: "ApiServer") -> None:
        self.server = server
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        rt = self.server.rt("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        page = await self.server.store.list(rt, None)
        for crd in page.items:
            self._serve(crd)
        sub = self.server.hub.subscribe(CRD_STORAGE, "", page.resource_version)
        await self._sync_apiservices()
        self._task = asyncio.create_task(self._follow(sub), name="crd-server")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _serve(self, crd: dict[str, Any]) -> None:
        try:
            types = resource_types(crd)
        except Exception:  # noqa: BLE001 - a broken CRD must not take the server down
            log.exception("cannot serve CRD %s", crd.get("metadata", {}).get("name"))
            types = []
        self.server.registry.set_crd(crd["metadata"]["name"], types)

    async def _follow(self, sub: Any) -> None:
        while True:
            try:
                ch = await sub.next()
            except StopAsyncIteration:
                return
            except Exception:  # noqa: BLE001 - fell behind: resubscribe from a fresh list
                log.warning("CRD watch restarted")
                await self.start()
                return
            if ch is None:
                continue
            if ch.type == "DELETE":
                await self._remove(ch.obj)
            else:
                self._serve(ch.obj)
            try:
                await self._sync_apiservices()
            except Exception:  # noqa: BLE001 - the APIService listing must not stop CRD serving
                log.exception("cannot sync the APIServices of CRD group/versions")

    async def _sync_apiservices(self) -> None:
        """kube's crdregistration controller: a local APIService (automanaged "true") for each
        group/version some CRD serves, removed when no CRD serves it any more."""
        registry = self.server.registry
        builtin = {(rt.group, rt.version) for rt in registry.all() if not registry.is_crd(rt)}
        served = sorted({(rt.group, rt.version) for rt in registry.all() if registry.is_crd(rt)} - builtin)
        await apiservices.sync(self.server, apiservice.crd_apiservices(served), managed="true")

    async def _remove(self, crd: dict[str, Any]) -> None:
        name = crd["metadata"]["name"]
        self.server.registry.set_crd(name, [])
        spec = crd.get("spec") or {}
        prefix = f"/registry/{spec.get('group', '')}/{(spec.get('names') or {}).get('plural', '')}/"
        storage = self.server.storage
        res = await storage.list(prefix)
        for kv in res.items:
            with contextlib.suppress(Exception):
                await storage.delete(kv.key)
