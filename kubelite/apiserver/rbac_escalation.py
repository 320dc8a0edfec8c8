"""RBAC escalation prevention: nobody grants through a Role or a binding what it does not hold.

Kubernetes' ``pkg/registry/rbac`` rules, applied inside the write path of the four RBAC kinds
(an admission hook of the generic store, so create, update, patch and server-side apply are all
covered, after defaulting and patching, as kube's policy-based storage sees them):

- Role / ClusterRole create or update: allowed when the caller is in ``system:masters``
  (``EscalationAllowed``), or may ``escalate`` roles/clusterroles (``RoleEscalationAuthorized``),
  or already holds every rule it writes (``ConfirmNoEscalation``: the caller's rules in the
  object's namespace -- cluster-wide ones only for a ClusterRole -- *cover* the new rules).
  Setting or changing an ``aggregationRule`` needs full authority (``*`` on everything), since
  an aggregated role gathers anything.
- RoleBinding / ClusterRoleBinding create or update: allowed for ``system:masters``, or with
  the ``bind`` verb on the referenced role in the binding's namespace (``BindingAuthorized``), or
  when the caller holds the referenced role's rules there.
- An update that only touches what the garbage collector needs (ownerReferences, finalizers) is
  never checked (``IsOnlyMutatingGCFields``).

Refusals are 403 Forbidden with kube's message, e.g. ``roles.rbac.authorization.k8s.io "r" is
forbidden: user "bob" (groups=["system:authenticated"]) is attempting to grant RBAC permissions
not currently held:\\n{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}``.

The covering logic (``covers``, ``breakdown``, ``compact``, ``compact_string``) is pure; the
hook learns the caller from ``request.CURRENT_USER`` (set per request by the server, unset for
the server's own bootstrap writes, which are trusted like kube's loopback client).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubelite.api.registry import ResourceType
from kubelite.apiserver.request import CURRENT_USER, UserInfo
from kubelite.machinery.errors import StatusError, qualified

if TYPE_CHECKING:
    from kubelite.apiserver.authz import Authorizer

Rule = dict[str, Any]
GROUP = "rbac.authorization.k8s.io"
#: what ``aggregationRule`` needs: everything (kube's ``fullAuthority``)
FULL_AUTHORITY: list[Rule] = [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
                              {"verbs": ["*"], "nonResourceURLs": ["*"]}]


# -- pure: does one set of rules cover another (policy_comparator.go) ----------------------------

def breakdown(rule: Rule) -> list[Rule]:
    """One rule as atomic rules of one verb, one group, one resource (and one resource name),
    or one verb and one non-resource URL: each is then covered by a single owner rule or not."""
    out: list[Rule] = []
    names = rule.get("resourceNames") or []
    for group in rule.get("apiGroups") or []:
        for resource in rule.get("resources") or []:
            for verb in rule.get("verbs") or []:
                base = {"apiGroups": [group], "resources": [resource], "verbs": [verb]}
                if names:
                    out += [{**base, "resourceNames": [n]} for n in names]
                else:
                    out.append(base)
    for url in rule.get("nonResourceURLs") or []:
        for verb in rule.get("verbs") or []:
            out.append({"nonResourceURLs": [url], "verbs": [verb]})
    return out


def _resources_cover(owner: list[str], wanted: list[str]) -> bool:
    if "*" in owner:
        return True
    for path in wanted:
        if path in owner:
            continue
        # pods/log is covered by */log, never plain pods by anything but pods or *
        if "/" not in path or "*/" + path.split("/", 1)[1] not in owner:
            return False
    return True


def _url_covers(owner: str, path: str) -> bool:
    return owner == path or (owner.endswith("*") and path.startswith(owner.rstrip("*")))


def rule_covers(owner: Rule, sub: Rule) -> bool:
    """Whether ``owner`` (any rule) covers ``sub`` (an atomic rule from ``breakdown``)."""
    verbs, groups = owner.get("verbs") or [], owner.get("apiGroups") or []
    if "*" not in verbs and not set(sub.get("verbs") or []) <= set(verbs):
        return False
    if "*" not in groups and not set(sub.get("apiGroups") or []) <= set(groups):
        return False
    if not _resources_cover(owner.get("resources") or [], sub.get("resources") or []):
        return False
    urls = owner.get("nonResourceURLs") or []
    if not all(any(_url_covers(o, p) for o in urls) for p in sub.get("nonResourceURLs") or []):
        return False
    owner_names, sub_names = owner.get("resourceNames") or [], sub.get("resourceNames") or []
    if not sub_names:
        return not owner_names
    return not owner_names or set(sub_names) <= set(owner_names)


def covers(owner_rules: list[Rule], rules: list[Rule]) -> tuple[bool, list[Rule]]:
    """(all covered, the atomic rules that are not)."""
    missing = [sub for rule in rules for sub in breakdown(rule)
               if not any(rule_covers(o, sub) for o in owner_rules)]
    return not missing, missing


def compact(rules: list[Rule]) -> list[Rule]:
    """Merge atomic rules on the same group/resource(/name) into one rule with several verbs
    (``CompactRules``), so a message lists ``Verbs:["get" "list"]`` once."""
    out: list[Rule] = []
    simple: dict[tuple[str, str, str], Rule] = {}
    for r in rules:
        groups, resources, names = r.get("apiGroups") or [], r.get("resources") or [], r.get("resourceNames") or []
        if r.get("nonResourceURLs") or len(names) > 1 or len(groups) != 1 or len(resources) != 1:
            out.append(r)
            continue
        key = (groups[0], resources[0], names[0] if names else "")
        if key in simple:
            simple[key]["verbs"] = simple[key]["verbs"] + list(r.get("verbs") or [])
        else:
            simple[key] = {**r, "verbs": list(r.get("verbs") or [])}
    return out + list(simple.values())


def _q(values: list[str] | tuple[str, ...]) -> str:
    """Go's ``%q`` of a []string: ``["a" "b"]``."""
    return "[" + " ".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "]"


def compact_string(rule: Rule) -> str:
    parts = []
    for field, label in (("apiGroups", "APIGroups"), ("resources", "Resources"),
                         ("nonResourceURLs", "NonResourceURLs"), ("resourceNames", "ResourceNames"),
                         ("verbs", "Verbs")):
        if rule.get(field):
            parts.append(f"{label}:{_q(rule[field])}")
    return "{" + ", ".join(parts) + "}"


def escalation_message(user: UserInfo, missing: list[Rule]) -> str:
    lines = sorted({compact_string(r) for r in compact(missing)})
    return (f'user "{user.name}" (groups={_q(user.groups)}) is attempting to grant RBAC permissions '
            "not currently held:\n" + "\n".join(lines))


def only_gc_fields_changed(new: dict[str, Any], old: dict[str, Any]) -> bool:
    """``IsOnlyMutatingGCFields``: the update changes nothing but ownerReferences/finalizers."""
    ignore = {"ownerReferences", "finalizers", "managedFields", "resourceVersion"}

    def strip(o: dict[str, Any]) -> dict[str, Any]:
        meta = {k: v for k, v in (o.get("metadata") or {}).items() if k not in ignore}
        return {**{k: v for k, v in o.items() if k not in ("metadata", "apiVersion", "kind")}, "metadata": meta}
    return strip(new) == strip(old)


# -- the write-path hook -------------------------------------------------------------------------

def forbidden(rt: ResourceType, name: str, message: str) -> StatusError:
    return StatusError(403, "Forbidden", f'{qualified(rt.plural, rt.group)} "{name}" is forbidden: {message}',
                       {"name": name, "group": rt.group, "kind": rt.plural})


class EscalationCheck:
    """Store admission hook for roles, clusterroles, rolebindings and clusterrolebindings."""

    def __init__(self, authorizer: "Authorizer") -> None:
        self.authorizer = authorizer

    async def __call__(self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None, *,
                       dry_run: bool) -> None:
        if rt.group != GROUP:
            return
        user = CURRENT_USER.get()
        if user is None or user.is_master:
            return  # the server's own writes, system:masters (kube's EscalationAllowed)
        if old is not None and only_gc_fields_changed(obj, old):
            return
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace", "") if rt.namespaced else ""
        name = meta.get("name", "")
        if rt.plural in ("roles", "clusterroles"):
            await self._check_role(rt, obj, old, user, namespace, name)
        elif rt.plural in ("rolebindings", "clusterrolebindings"):
            await self._check_binding(rt, obj, user, namespace, name)

    async def _check_role(self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None,
                          user: UserInfo, namespace: str, name: str) -> None:
        from kubelite.apiserver.authz import Attributes

        allowed, _ = await self.authorizer.authorize(Attributes(user, "escalate", GROUP, rt.plural, "", namespace, name))
        if allowed:
            return
        held = await self.authorizer.all_rules_for(user, namespace)
        ok, missing = covers(held, [r for r in obj.get("rules") or [] if isinstance(r, dict)])
        if not ok:
            raise forbidden(rt, name, escalation_message(user, missing))
        aggregation = obj.get("aggregationRule")
        if rt.plural == "clusterroles" and aggregation is not None and (
                old is None or aggregation != old.get("aggregationRule")):
            if not covers(held, FULL_AUTHORITY)[0]:
                raise forbidden(rt, name, "must have cluster-admin privileges to use the aggregationRule")

    async def _check_binding(self, rt: ResourceType, obj: dict[str, Any], user: UserInfo,
                             namespace: str, name: str) -> None:
        from kubelite.apiserver.authz import Attributes

        ref = obj.get("roleRef") or {}
        kind, role_name = ref.get("kind"), ref.get("name", "")
        role_plural = {"ClusterRole": "clusterroles", "Role": "roles"}.get(kind or "")
        if role_plural is None:
            return  # validation refuses the kind
        allowed, _ = await self.authorizer.authorize(
            Attributes(user, "bind", ref.get("apiGroup") or GROUP, role_plural, "", namespace, role_name))
        if allowed:
            return
        role = await self.authorizer.role(role_plural, namespace, role_name)
        if role is None:
            singular = role_plural[:-1]
            raise forbidden(rt, name, f'{singular}.{GROUP} "{role_name}" not found')
        held = await self.authorizer.all_rules_for(user, namespace)
        ok, missing = covers(held, [r for r in role.get("rules") or [] if isinstance(r, dict)])
        if not ok:
            raise forbidden(rt, name, escalation_message(user, missing))
