"""Every built-in kind kubelite serves, and lookups over them.

``BUILTIN`` lists one ``ResourceType`` per served group/version/resource: core/v1 first, then
each API group package (``kinds/<group>/``) in the order kube-apiserver lists its groups.
It is built on first access (PEP 562), so importing ``kubelite.api.kinds.core.pod`` alone
stays cheap and free of import cycles; a group whose import fails raises at that first
access, naming the group -- the server must never start with a kind silently missing.

Adding a kind: write its module in its group package and list it in that package's
``RESOURCES``. The API server, discovery, OpenAPI and the Table code read everything from here.
"""
from __future__ import annotations

import importlib
from functools import cache
from typing import Any

from kubelite.api.registry import ResourceType

#: group packages, in kube-apiserver's discovery order
GROUP_PACKAGES = (
    "core", "apps", "events", "authentication", "authorization", "autoscaling", "batch",
    "networking", "policy", "rbac", "storage", "scheduling", "coordination", "discovery",
    "resource", "apiextensions",
)

#: every built-in resource type (computed on first access by ``__getattr__`` below; the bare
#: annotation gives type checkers the type without creating the attribute)
BUILTIN: list[ResourceType]

__all__ = ["BUILTIN", "GROUP_PACKAGES", "builtin", "by_group_version_kind", "by_group_version_resource",
           "lookup", "find", "storage_version_of", "versions_of"]


@cache
def builtin() -> tuple[ResourceType, ...]:
    """All built-in resource types (the value of ``BUILTIN``)."""
    out: list[ResourceType] = []
    for name in GROUP_PACKAGES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except Exception as e:  # noqa: BLE001 - re-raised with the group named
            raise ImportError(f"built-in kinds of group package {name!r} failed to import: {e}") from e
        resources = getattr(module, "RESOURCES", None)
        if not isinstance(resources, list):
            raise ImportError(f"{module.__name__} has no RESOURCES list")
        out.extend(resources)
    seen: dict[tuple[str, str, str], ResourceType] = {}
    for rt in out:
        key = (rt.group, rt.version, rt.plural)
        if key in seen:
            raise ImportError(f"resource {rt.plural} of {rt.group_version} is defined twice")
        seen[key] = rt
    return tuple(out)


def __getattr__(name: str) -> Any:
    if name == "BUILTIN":
        return list(builtin())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@cache
def by_group_version_kind() -> dict[tuple[str, str, str], ResourceType]:
    """``{("apps", "v1", "Deployment"): <ResourceType>}`` (core's group is "")."""
    return {(rt.group, rt.version, rt.kind): rt for rt in builtin()}


@cache
def by_group_version_resource() -> dict[tuple[str, str, str], ResourceType]:
    """``{("apps", "v1", "deployments"): <ResourceType>}``."""
    return {(rt.group, rt.version, rt.plural): rt for rt in builtin()}


def lookup(api_version: str, kind: str) -> ResourceType | None:
    """The type of an object by its ``apiVersion`` and ``kind`` (``"apps/v1"``, ``"Deployment"``)."""
    group, _, version = api_version.rpartition("/")
    return by_group_version_kind().get((group, version, kind))


def find(name: str, group: str | None = None) -> list[ResourceType]:
    """Types a user-typed resource name may mean, the way kubectl resolves ``kubectl get <name>``:
    plural, singular, short name or kind (case-insensitive), optionally qualified
    ``deployments.apps``. Every served version matches; callers pick the preferred one."""
    name = name.lower()
    if group is None and "." in name:
        name, _, group = name.partition(".")
    out = []
    for rt in builtin():
        if group is not None and rt.group != group and not rt.group.startswith(group + "."):
            continue
        if name in (rt.plural, rt.singular, rt.kind.lower()) or name in rt.short_names:
            out.append(rt)
    return out


def versions_of(storage_resource: str) -> list[ResourceType]:
    """Every served version that shares ``storage_resource`` (``autoscaling/horizontalpodautoscalers``)."""
    return [rt for rt in builtin() if rt.storage_resource == storage_resource]


def storage_version_of(storage_resource: str) -> ResourceType:
    """The version objects of ``storage_resource`` are stored in: the one without converters.

    HPAs are stored as autoscaling/v2 and events.k8s.io Events as core/v1 Events.
    """
    candidates = [rt for rt in versions_of(storage_resource) if rt.to_storage is None]
    if len(candidates) != 1:
        raise KeyError(f"no single storage version for {storage_resource}: {[rt.group_version for rt in candidates]}")
    return candidates[0]
