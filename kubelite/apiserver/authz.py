"""Authorization: system:masters may do anything; everyone else is judged by RBAC.

RBAC rules come from the Roles/ClusterRoles and their bindings in the store; they are read
through a cache so that an authorization decision costs no storage round trip on the hot path.
The cache is dropped on every RBAC change the watch hub delivers (``start``), as kube's
authorizer follows its informers, and in any case after a second.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from kubelite.api.registry import ResourceType
from kubelite.apiserver.request import UserInfo
from kubelite.machinery import errors

_CACHE_SECONDS = 1.0
_RBAC_PLURALS = ("roles", "clusterroles", "rolebindings", "clusterrolebindings")
log = logging.getLogger(__name__)


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
        self._tasks: list[asyncio.Task[None]] = []
        #: bumped on each RBAC change, so a fill that raced with a change is not kept
        self._generation = 0

    def start(self, hub: Any) -> None:
        """Follow RBAC changes through the watch hub: each one drops the cache."""
        for plural in _RBAC_PLURALS:
            rt = self.registry.lookup("rbac.authorization.k8s.io", "v1", plural)
            if rt is not None:
                self._tasks.append(asyncio.create_task(self._follow(hub, rt.storage_resource),
                                                       name=f"authz-follow {plural}"))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()

    async def _follow(self, hub: Any, storage_resource: str) -> None:
        while True:
            sub = hub.subscribe(storage_resource, "", hub.revision)
            self._cache = None
            try:
                while True:
                    await sub.next()
                    self._cache = None
                    self._generation += 1
            except asyncio.CancelledError:
                sub.close()
                raise
            except (Exception, StopAsyncIteration):  # noqa: BLE001 - fell behind: resubscribe
                sub.close()
                await asyncio.sleep(0.1)

    async def check(self, user: UserInfo, verb: str, rt: ResourceType, namespace: str | None,
                    name: str, subresource: str) -> None:
        if user.is_master:
            return
        attrs = Attributes(user, verb, rt.group, rt.plural, subresource, namespace or "", name)
        allowed, _ = await self.authorize(attrs)
        if not allowed:
            resource = rt.plural + (f"/{subresource}" if subresource else "")
            raise errors.forbidden_request(user.name, verb, resource, rt.group, namespace or "")

    async def check_path(self, user: UserInfo, verb: str, path: str) -> None:
        """Authorize a non-resource request (``GET /apis``) or raise 403 as kube words it."""
        if not await self.authorize_path(user, verb, path):
            raise errors.StatusError(403, "Forbidden", f'forbidden: User "{user.name}" cannot {verb} path "{path}"')

    async def authorize_path(self, user: UserInfo, verb: str, path: str) -> bool:
        """Whether an RBAC ``nonResourceURLs`` rule bound cluster-wide allows ``verb`` on ``path``."""
        if user.is_master:
            return True
        for rule in await self.all_rules_for(user, ""):
            urls = rule.get("nonResourceURLs") or []
            verbs = rule.get("verbs") or []
            if ("*" in verbs or verb in verbs) and any(
                    u == path or (u.endswith("*") and path.startswith(u[:-1])) for u in urls):
                return True
        return False

    async def _rbac(self) -> dict[str, Any]:
        now = time.monotonic()
        if self._cache and now - self._cache[0] < _CACHE_SECONDS:
            return self._cache[1]
        generation = self._generation
        data: dict[str, Any] = {}
        for plural in _RBAC_PLURALS:
            rt = self.registry.lookup("rbac.authorization.k8s.io", "v1", plural)
            data[plural] = (await self.store.list(rt, None)).items if rt else []
        if generation == self._generation:
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

    async def all_rules_for(self, user: UserInfo, namespace: str) -> list[dict[str, Any]]:
        """Every rule that applies to ``user`` in ``namespace`` -- cluster-wide ones only when
        ``namespace`` is empty (kube's ``RulesFor``, what escalation checks compare against)."""
        data = await self._rbac()
        croles = {r["metadata"]["name"]: r for r in data["clusterroles"]}
        roles = {(r["metadata"].get("namespace", ""), r["metadata"]["name"]): r for r in data["roles"]}
        out: list[dict[str, Any]] = []
        for b in data["clusterrolebindings"]:
            if _binds(b, user):
                out += (croles.get((b.get("roleRef") or {}).get("name", "")) or {}).get("rules") or []
        if namespace:
            for b in data["rolebindings"]:
                if b["metadata"].get("namespace") == namespace and _binds(b, user):
                    ref = b.get("roleRef") or {}
                    role = croles.get(ref.get("name", "")) if ref.get("kind") == "ClusterRole" else roles.get((namespace, ref.get("name", "")))
                    out += (role or {}).get("rules") or []
        return [r for r in out if isinstance(r, dict)]

    async def role(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        """A Role (``plural`` = roles, in ``namespace``) or ClusterRole, read fresh from the store."""
        rt = self.registry.lookup("rbac.authorization.k8s.io", "v1", plural)
        if rt is None:
            return None
        return await self.store.try_get(rt, namespace if plural == "roles" else None, name)

    async def rules_for(self, user: UserInfo, namespace: str) -> list[dict[str, Any]]:
        """The resource rules that apply to ``user`` in ``namespace`` (SelfSubjectRulesReview)."""
        if user.is_master:
            return [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]
        out = await self.all_rules_for(user, namespace)
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
