"""Registering the API server's own group/versions as local APIServices, as kube-aggregator's
autoregister controller does: the built-in ones once at start (``automanaged: onstart``) and
those CRDs serve whenever a CRD changes (``automanaged: "true"``). Each is reported Available
(reason Local); one this server registered earlier that it no longer serves is removed.
What the objects look like is ``kubelite.api.kinds.apiregistration.apiservice``'s business.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubelite.api.kinds.apiregistration import apiservice
from kubelite.machinery.errors import StatusError

if TYPE_CHECKING:
    from kubelite.apiserver.server import ApiServer


async def sync(server: "ApiServer", wanted: list[dict[str, Any]], *, managed: str) -> None:
    """Make the APIServices labelled ``automanaged: <managed>`` exactly ``wanted``."""
    rt = server.rt("apiregistration.k8s.io", "v1", "apiservices")
    store = server.store
    by_name = {o["metadata"]["name"]: o for o in wanted}
    now = server.clock().strftime("%Y-%m-%dT%H:%M:%SZ")
    for name, obj in by_name.items():
        current = await store.try_get(rt, None, name)
        if current is None:
            try:
                current = await store.create(rt, obj, namespace=None, manager="kube-aggregator")
            except StatusError as e:
                if e.code != 409:
                    raise
                current = await store.try_get(rt, None, name)
        elif (current["metadata"].get("labels") or {}).get(apiservice.AUTOMANAGED_LABEL) == managed \
                and current.get("spec") != obj["spec"]:
            def respec(cur: dict[str, Any], spec: dict[str, Any] = obj["spec"]) -> dict[str, Any]:
                cur["spec"] = spec
                return cur
            current, _ = await store.update(rt, None, name, respec, manager="kube-aggregator")
        if current is not None and current.get("spec", {}).get("service") is None \
                and apiservice.available_cell(current) != "True":
            def set_available(cur: dict[str, Any]) -> dict[str, Any]:
                cur["status"] = apiservice.local_available(now)
                return cur
            await store.update(rt, None, name, set_available, subresource="status", manager="kube-aggregator")
    for obj in (await store.list(rt, None)).items:
        labels = obj["metadata"].get("labels") or {}
        if labels.get(apiservice.AUTOMANAGED_LABEL) == managed and obj["metadata"]["name"] not in by_name:
            try:
                await store.delete(rt, None, obj["metadata"]["name"])
            except StatusError as e:
                if e.code != 404:
                    raise
