"""API discovery documents, generated from the resource registry.

Both forms kubectl knows: the aggregated ``APIGroupDiscoveryList`` (apidiscovery.k8s.io/v2,
asked for first, recognised by its exact Content-Type) for ``/api`` and ``/apis``, and the
legacy ``APIVersions`` / ``APIGroupList`` / ``APIResourceList`` documents (``kubectl auth can-i``
always GETs ``/api/v1``). Documents are rebuilt only when the registry's generation changes.
"""
from __future__ import annotations

from typing import Any

import orjson

from kubelite.api.registry import ResourceType
from kubelite.apiserver.resources import ResourceRegistry

AGGREGATED_CT = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
AGGREGATED_CT_BETA = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
SUB_VERBS = ("get", "patch", "update")


def _scale_kind() -> dict[str, str]:
    return {"group": "autoscaling", "version": "v1", "kind": "Scale"}


def _subresource_info(rt: ResourceType, sub: str) -> tuple[dict[str, str], tuple[str, ...]]:
    """(responseKind, verbs) of a subresource as kube-apiserver advertises it."""
    own = {"group": rt.group, "version": rt.version, "kind": rt.kind}
    return {
        "status": (own, SUB_VERBS),
        "scale": (_scale_kind(), SUB_VERBS),
        "binding": ({"group": "", "version": "v1", "kind": "Binding"}, ("create",)),
        "eviction": ({"group": "policy", "version": "v1", "kind": "Eviction"}, ("create",)),
        "log": ({"group": "", "version": "v1", "kind": "Pod"}, ("get",)),
        "exec": ({"group": "", "version": "v1", "kind": "PodExecOptions"}, ("create", "get")),
        "attach": ({"group": "", "version": "v1", "kind": "PodAttachOptions"}, ("create", "get")),
        "portforward": ({"group": "", "version": "v1", "kind": "PodPortForwardOptions"}, ("create", "get")),
        "proxy": ({"group": "", "version": "v1", "kind": "NodeProxyOptions"}, ("create", "delete", "get", "patch", "update")),
        "finalize": (own, ("update",)),
        "token": ({"group": "authentication.k8s.io", "version": "v1", "kind": "TokenRequest"}, ("create",)),
    }.get(sub, (own, SUB_VERBS))


class Discovery:
    def __init__(self, registry: ResourceRegistry) -> None:
        self.registry = registry
        self._gen = -1
        self._cache: dict[str, bytes] = {}

    def _fresh(self) -> dict[str, bytes]:
        if self._gen != self.registry.generation:
            self._cache = {}
            self._gen = self.registry.generation
        return self._cache

    def _cached(self, key: str, build: Any) -> bytes:
        cache = self._fresh()
        if key not in cache:
            cache[key] = orjson.dumps(build())
        return cache[key]

    # -- aggregated (apidiscovery.k8s.io/v2) ------------------------------------------------

    def aggregated(self, core: bool, beta: bool = False) -> bytes:
        return self._cached(f"agg:{core}:{beta}", lambda: self._aggregated(core, beta))

    def _aggregated(self, core: bool, beta: bool) -> dict[str, Any]:
        items = []
        for group, versions in self.registry.groups().items():
            if (group == "") != core:
                continue
            vs = []
            for v in versions:
                resources = []
                for rt in sorted(self.registry.in_group_version(group, v), key=lambda r: r.plural):
                    entry: dict[str, Any] = {
                        "resource": rt.plural,
                        "responseKind": {"group": "", "version": "", "kind": rt.kind},
                        "scope": "Namespaced" if rt.namespaced else "Cluster",
                        "singularResource": rt.singular,
                        "verbs": sorted(rt.verbs),
                    }
                    if rt.short_names:
                        entry["shortNames"] = list(rt.short_names)
                    if rt.categories:
                        entry["categories"] = list(rt.categories)
                    subs = []
                    for sub in rt.subresources:
                        kind, verbs = _subresource_info(rt, sub)
                        subs.append({"subresource": sub, "responseKind": kind, "verbs": list(verbs)})
                    if subs:
                        entry["subresources"] = subs
                    resources.append(entry)
                vs.append({"version": v, "resources": resources, "freshness": "Current"})
            item: dict[str, Any] = {"metadata": {"name": group} if group else {}, "versions": vs}
            items.append(item)
        return {"kind": "APIGroupDiscoveryList",
                "apiVersion": "apidiscovery.k8s.io/v2beta1" if beta else "apidiscovery.k8s.io/v2",
                "metadata": {}, "items": items}

    # -- legacy -----------------------------------------------------------------------------

    def api_versions(self, server_address: str) -> bytes:
        return orjson.dumps({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]})

    def _group(self, group: str, versions: list[str]) -> dict[str, Any]:
        gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"name": group, "versions": gvs, "preferredVersion": gvs[0]}

    def api_group_list(self) -> bytes:
        return self._cached("groups", lambda: {
            "kind": "APIGroupList", "apiVersion": "v1",
            "groups": [self._group(g, vs) for g, vs in self.registry.groups().items() if g]})

    def api_group(self, group: str) -> bytes | None:
        versions = self.registry.groups().get(group)
        if not versions or not group:
            return None
        return orjson.dumps({"kind": "APIGroup", "apiVersion": "v1", **self._group(group, versions)})

    def resource_list(self, group: str, version: str) -> bytes | None:
        types = self.registry.in_group_version(group, version)
        if not types:
            return None
        return self._cached(f"rl:{group}/{version}", lambda: self._resource_list(group, version, types))

    def _resource_list(self, group: str, version: str, types: list[ResourceType]) -> dict[str, Any]:
        resources = []
        for rt in sorted(types, key=lambda r: r.plural):
            entry: dict[str, Any] = {"name": rt.plural, "singularName": rt.singular,
                                     "namespaced": rt.namespaced, "kind": rt.kind, "verbs": sorted(rt.verbs)}
            if rt.short_names:
                entry["shortNames"] = list(rt.short_names)
            if rt.categories:
                entry["categories"] = list(rt.categories)
            resources.append(entry)
            for sub in rt.subresources:
                kind, verbs = _subresource_info(rt, sub)
                sub_entry: dict[str, Any] = {"name": f"{rt.plural}/{sub}", "singularName": "",
                                             "namespaced": rt.namespaced, "kind": kind["kind"], "verbs": list(verbs)}
                if kind["group"] != rt.group or kind["version"] != rt.version:
                    sub_entry["group"], sub_entry["version"] = kind["group"], kind["version"]
                resources.append(sub_entry)
        return {"kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": f"{group}/{version}" if group else version, "resources": resources}
