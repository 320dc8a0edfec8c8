"""Authorization: system:masters may do anything; everyone else is judged by RBAC.

RBAC rules come from the Roles/ClusterRoles and their bindings in the store; they are read
through a short-lived cache so that an authorization decision costs no storage round trip on
the hot path, and a changed binding takes effect within a second.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from kubelite.api.registry import ResourceType
from kubelite.apiserver.request import UserInfo
from kubelite.machinery import errors

_CACHE_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Attributes:
    user: UserInfo
    verb: str
    group: str
    resource: str
    subresource: str = ""
    namespace: str = ""
    name: str = ""


class Authorizer:
    def __init__(self, store: Any, registry: Any) -> None:
        self.store = store
        self.registry = registry
        self._cache: tuple[float, dict[str, Any]] | None = None

    async def check(self, user: UserInfo, verb: str, rt: ResourceType, namespace: str | None,
                    name: str, subresource: str) -> None:
        if user.is_master:
            return
        attrs = Attributes(user, verb, rt.group, rt.plural, subresource, namespace or "", name)
        allowed, _ = await self.authorize(attrs)
        if not allowed:
            resource = rt.plural + (f"/{subresource}" if subresource else "")
            raise errors.forbidden_request(user.name, verb, resource, rt.group, namespace or "", name=name, kind=rt.plural)

    async def _rbac(self) -> dict[str, Any]:
        now = time.monotonic()
        if self._cache and now - self._cache[0] < _CACHE_SECONDS:
            return self._cache[1]
        data: dict[str, Any] = {}
        for plural in ("roles", "clusterroles", "rolebindings", "clusterrolebindings"):
            rt = self.registry.lookup("rbac.authorization.k8s.io", "v1", plural)
            data[plural] = (await self.store.list(rt, None)).items if rt else []
        self._cache = (now, data)
        return data

    async def authorize(self, a: Attributes) -> tuple[bool, str]:
        if a.user.is_master:
            return True, "system:masters may do anything"
        data = await self._rbac()
        roles = {(r["metadata"].get("namespace", ""), r["metadata"]["name"]): r for r in data["roles"]}
        croles = {r["metadata"]["name"]: r for r in data["clusterroles"]}
        for b in data["clusterrolebindings"]:
            if _binds(b, a.user):
                role = croles.get((b.get("roleRef") or {}).get("name", ""))
                if role and _rules_allow(role.get("rules") or [], a):
                    return True, f'RBAC: allowed by ClusterRoleBinding "{b["metadata"]["name"]}"'
        if a.namespace:
            for b in data["rolebindings"]:
                if b["metadata"].get("namespace") != a.namespace or not _binds(b, a.user):
                    continue
                ref = b.get("roleRef") or {}
                role = croles.get(ref.get("name", "")) if ref.get("kind") == "ClusterRole" else roles.get((a.namespace, ref.get("name", "")))
                if role and _rules_allow(role.get("rules") or [], a):
                    return True, f'RBAC: allowed by RoleBinding "{b["metadata"]["name"]}/{a.namespace}"'
        return False, ""

    async def rules_for(self, user: UserInfo, namespace: str) -> list[dict[str, Any]]:
        """The resource rules that apply to ``user`` in ``namespace`` (SelfSubjectRulesReview)."""
        if user.is_master:
            return [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]
        data = await self._rbac()
        croles = {r["metadata"]["name"]: r for r in data["clusterroles"]}
        roles = {(r["metadata"].get("namespace", ""), r["metadata"]["name"]): r for r in data["roles"]}
        out: list[dict[str, Any]] = []
        for b in data["clusterrolebindings"]:
            if _binds(b, user):
                out += (croles.get((b.get("roleRef") or {}).get("name", "")) or {}).get("rules") or []
        for b in data["rolebindings"]:
            if b["metadata"].get("namespace") == namespace and _binds(b, user):
                ref = b.get("roleRef") or {}
                role = croles.get(ref.get("name", "")) if ref.get("kind") == "ClusterRole" else roles.get((namespace, ref.get("name", "")))
                out += (role or {}).get("rules") or []
        return [r for r in out if r.get("resources") or r.get("apiGroups")]


def _binds(binding: dict[str, Any], user: UserInfo) -> bool:
    for s in binding.get("subjects") or []:
        kind, name = s.get("kind"), s.get("name")
        if kind == "User" and name == user.name:
            return True
        if kind == "Group" and name in user.groups:
            return True
        if kind == "ServiceAccount" and user.name == f"system:serviceaccount:{s.get('namespace', '')}:{name}":
            return True
    return False


def _rules_allow(rules: list[dict[str, Any]], a: Attributes) -> bool:
    resource = a.resource + (f"/{a.subresource}" if a.subresource else "")
    for r in rules:
        verbs = r.get("verbs") or []
        if "*" not in verbs and a.verb not in verbs:
            continue
        groups = r.get("apiGroups") or []
        if "*" not in groups and a.group not in groups:
            continue
        resources = r.get("resources") or []
        if "*" not in resources and resource not in resources and f"{a.resource}/*" not in resources \
                and not (a.subresource and f"*/{a.subresource}" in resources):
            continue
        names = r.get("resourceNames") or []
        if names and a.name not in names:
            continue
        return True
    return False
