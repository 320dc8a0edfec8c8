"""API discovery for the controllers that act on *every* resource: which resources the server
serves, with which verbs, and how an ownerReference's (apiVersion, kind) maps to a URL.

The namespace controller (deleting everything in a terminating namespace) and the garbage
collector (watching every kind that can own or be owned) call ``discover(client)``. It reads
the legacy discovery documents exactly as client-go's ``ServerPreferredResources`` does --
``GET /api/v1``, ``GET /apis``, then ``GET /apis/<group>/<preferred version>`` -- so custom
resources appear as soon as their CRD is established. Subresources (``pods/status``) are
dropped. A group whose document fails to load is reported in ``failed`` instead of failing the
whole discovery (the namespace controller turns that into a NamespaceDeletionDiscoveryFailure
condition and keeps going with what it has).
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from kubelite.client import ApiError, Client, ResourceRef

Obj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class APIResource:
    """One served resource at its preferred version and the verbs it supports."""

    ref: ResourceRef
    verbs: frozenset[str]

    def supports(self, *verbs: str) -> bool:
        return all(v in self.verbs for v in verbs)


@dataclass(slots=True)
class Discovery:
    """The result of one discovery round: the resources, and the group-versions that failed
    (``{"metrics.k8s.io/v1beta1": "503 ServiceUnavailable: ..."}``)."""

    resources: list[APIResource] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def namespaced(self, *verbs: str) -> list[APIResource]:
        return [r for r in self.resources if r.ref.namespaced and r.supports(*verbs)]

    def with_verbs(self, *verbs: str) -> list[APIResource]:
        return [r for r in self.resources if r.supports(*verbs)]

    def mapper(self) -> "ResourceMapper":
        return ResourceMapper(r.ref for r in self.resources)


def split_group_version(api_version: str) -> tuple[str, str]:
    """``"apps/v1"`` -> ("apps", "v1"); ``"v1"`` -> ("", "v1")."""
    group, sep, version = api_version.rpartition("/")
    return (group, version) if sep else ("", api_version)


def parse_resource_list(doc: Mapping[str, Any]) -> list[APIResource]:
    """The top-level resources of an ``APIResourceList`` (subresources dropped)."""
    group, version = split_group_version(str(doc.get("groupVersion") or ""))
    out: list[APIResource] = []
    for entry in doc.get("resources") or ():
        name = str(entry.get("name") or "")
        if not name or "/" in name:
            continue
        ref = ResourceRef(group, version, name, bool(entry.get("namespaced")), str(entry.get("kind") or ""))
        out.append(APIResource(ref, frozenset(entry.get("verbs") or ())))
    return out


async def discover(client: Client) -> Discovery:
    """Every resource the server serves at its group's preferred version (see module doc)."""
    result = Discovery()

    async def one(path: str, gv: str) -> None:
        try:
            doc = await client.request("GET", path)
        except ApiError as e:
            result.failed[gv] = f"{e.code} {e.reason}: {e.message}"
            return
        result.resources.extend(parse_resource_list(doc))

    await one("/api/v1", "v1")
    try:
        groups = await client.request("GET", "/apis")
    except ApiError as e:
        result.failed["/apis"] = f"{e.code} {e.reason}: {e.message}"
        return result
    paths = []
    for g in groups.get("groups") or ():
        preferred = (g.get("preferredVersion") or {}).get("groupVersion")
        if not preferred and g.get("versions"):
            preferred = g["versions"][0].get("groupVersion")
        if preferred:
            paths.append(preferred)
    await asyncio.gather(*(one(f"/apis/{gv}", gv) for gv in paths))
    result.resources.sort(key=lambda r: (r.ref.group, r.ref.plural))
    return result


class ResourceMapper:
    """(apiVersion, kind) -> ``ResourceRef``: the RESTMapper the garbage collector needs to turn
    an ownerReference into a URL. An exact group/version match wins; otherwise any served
    version of the same group and kind (an owner recorded as ``apps/v1beta2`` is the same
    object as ``apps/v1``)."""

    def __init__(self, refs: Iterable[ResourceRef]) -> None:
        self._exact: dict[tuple[str, str], ResourceRef] = {}
        self._by_group_kind: dict[tuple[str, str], ResourceRef] = {}
        for ref in refs:
            if not ref.kind:
                continue
            self._exact.setdefault((ref.api_version, ref.kind), ref)
            self._by_group_kind.setdefault((ref.group, ref.kind), ref)

    def ref_for(self, api_version: str, kind: str) -> ResourceRef | None:
        ref = self._exact.get((api_version, kind))
        if ref is not None:
            return ref
        group, _ = split_group_version(api_version)
        return self._by_group_kind.get((group, kind))

    def __len__(self) -> int:
        return len(self._exact)
