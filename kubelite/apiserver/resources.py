"""The set of resources this server serves right now: built-in kinds plus CRD-backed ones.

Discovery, OpenAPI, routing and protobuf decoding all read from here. ``generation`` bumps on
every change (a CRD established or removed) so caches derived from the set (discovery
documents, OpenAPI hashes) know when to rebuild.
"""
from __future__ import annotations

from collections import OrderedDict

from kubelite.api.registry import ResourceType

# Kubernetes' own preference order of built-in groups in discovery; CRD groups follow.
GROUP_ORDER = [
    "", "apiregistration.k8s.io", "apps", "events.k8s.io", "authentication.k8s.io",
    "authorization.k8s.io", "autoscaling", "batch", "certificates.k8s.io", "networking.k8s.io",
    "policy", "rbac.authorization.k8s.io", "storage.k8s.io", "admissionregistration.k8s.io",
    "apiextensions.k8s.io", "scheduling.k8s.io", "coordination.k8s.io", "node.k8s.io",
    "discovery.k8s.io", "flowcontrol.apiserver.k8s.io",
]
# Preferred version first where a group serves several.
VERSION_ORDER = {"autoscaling": ["v2", "v1"]}


class ResourceRegistry:
    def __init__(self, builtin: list[ResourceType]) -> None:
        self._by_gvr: dict[tuple[str, str, str], ResourceType] = {}
        self._by_gvk: dict[tuple[str, str], ResourceType] = {}
        self._crd_owned: dict[str, list[ResourceType]] = {}
        self.generation = 0
        for rt in builtin:
            self._add(rt)

    def _add(self, rt: ResourceType) -> None:
        self._by_gvr[(rt.group, rt.version, rt.plural)] = rt
        self._by_gvk.setdefault((rt.group_version, rt.kind), rt)

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_gvr.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        return self._by_gvk.get((api_version, kind))

    def all(self) -> list[ResourceType]:
        return list(self._by_gvr.values())

    def set_crd(self, crd_name: str, types: list[ResourceType]) -> None:
        """Serve (or re-serve) the resources of one CRD; an empty list stops serving it."""
        for rt in self._crd_owned.pop(crd_name, []):
            self._by_gvr.pop((rt.group, rt.version, rt.plural), None)
            if self._by_gvk.get((rt.group_version, rt.kind)) is rt:
                del self._by_gvk[(rt.group_version, rt.kind)]
        if types:
            self._crd_owned[crd_name] = types
            for rt in types:
                self._add(rt)
        self.generation += 1

    def is_crd(self, rt: ResourceType) -> bool:
        return any(rt in types for types in self._crd_owned.values())

    def groups(self) -> "OrderedDict[str, list[str]]":
        """group -> versions in preference order, groups in Kubernetes' order (core is "")."""
        found: dict[str, set[str]] = {}
        for rt in self._by_gvr.values():
            found.setdefault(rt.group, set()).add(rt.version)
        ordered: OrderedDict[str, list[str]] = OrderedDict()
        rank = {g: i for i, g in enumerate(GROUP_ORDER)}
        for g in sorted(found, key=lambda g: (rank.get(g, len(rank)), g)):
            pref = VERSION_ORDER.get(g)
            ordered[g] = sorted(found[g], key=lambda v: (pref.index(v) if pref and v in pref else 99, _version_key(v)))
        return ordered

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [rt for rt in self._by_gvr.values() if rt.group == group and rt.version == version]


def _version_key(v: str) -> tuple[int, int, int]:
    """Kubernetes version priority: GA > beta > alpha, higher numbers first."""
    import re

    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", v)
    if not m:
        return (3, 0, 0)
    major, stage, minor = int(m.group(1)), m.group(2), int(m.group(3) or 0)
    stage_rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (stage_rank, -major, -minor)
