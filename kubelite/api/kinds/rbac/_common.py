"""Rules, role references and subjects: the validation the four RBAC kinds share.

RBAC object names are *path segments*, not DNS names: ``system:controller:deployment-controller``
is a valid ClusterRole name, so these kinds set ``name_validator = is_path_segment_name``.
A rule names resources (apiGroups + resources, optionally resourceNames) *or* non-resource
URLs, and namespaced Roles cannot grant URLs. Used by role.py, clusterrole.py,
rolebinding.py and clusterrolebinding.py; pure functions.
"""
from __future__ import annotations

from typing import Any

from kubelite.api.kinds._shared import CREATED_AT_COLUMN, NAME_COLUMN, created_at_row, set_default
from kubelite.api.validation import is_dns1123_subdomain, required
from kubelite.machinery.errors import FieldError, invalid, not_supported

GROUP = "rbac.authorization.k8s.io"
SUBJECT_KINDS = ["ServiceAccount", "User", "Group"]
#: Roles and ClusterRoles have no printer in Kubernetes: the default NAME / CREATED AT table
ROLE_COLUMNS = (NAME_COLUMN, CREATED_AT_COLUMN)
role_row = created_at_row


def is_path_segment_name(name: str) -> list[str]:
    """``path.IsValidPathSegmentName``: anything usable as one URL path segment."""
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in name]


def validate_rules(rules: Any, path: str, *, namespaced: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, rule in enumerate(rules or []):
        rpath = f"{path}[{i}]"
        if not isinstance(rule, dict):
            errs.append(invalid(rpath, rule, "must be an object"))
            continue
        if not rule.get("verbs"):
            errs.append(required(f"{rpath}.verbs", "verbs must contain at least one value"))
        urls = rule.get("nonResourceURLs") or []
        if urls:
            if namespaced:
                errs.append(invalid(f"{rpath}.nonResourceURLs", urls,
                                    "namespaced rules cannot apply to non-resource URLs"))
            if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
                errs.append(invalid(f"{rpath}.nonResourceURLs", urls,
                                    "rules cannot apply to both regular resources and non-resource URLs"))
            continue
        if not rule.get("apiGroups"):
            errs.append(required(f"{rpath}.apiGroups", "resource rules must supply at least one api group"))
        if not rule.get("resources"):
            errs.append(required(f"{rpath}.resources", "resource rules must supply at least one resource"))
    return errs


def default_binding(obj: dict[str, Any]) -> None:
    """Bindings default ``roleRef.apiGroup`` and User/Group subjects' ``apiGroup`` to RBAC's group."""
    role_ref = set_default(obj, "roleRef", {})
    if not role_ref.get("apiGroup"):
        role_ref["apiGroup"] = GROUP
    for subject in obj.get("subjects") or []:
        if isinstance(subject, dict) and not subject.get("apiGroup"):
            if subject.get("kind") in ("User", "Group"):
                subject["apiGroup"] = GROUP
            elif subject.get("kind") == "ServiceAccount":
                subject["apiGroup"] = ""


def validate_binding(obj: dict[str, Any], *, role_kinds: list[str], namespaced: bool) -> list[FieldError]:
    ref = obj.get("roleRef") or {}
    errs: list[FieldError] = []
    if ref.get("apiGroup") != GROUP:
        errs.append(not_supported("roleRef.apiGroup", ref.get("apiGroup", ""), [GROUP]))
    if ref.get("kind") not in role_kinds:
        errs.append(not_supported("roleRef.kind", ref.get("kind", ""), role_kinds))
    name = ref.get("name")
    if not name:
        errs.append(required("roleRef.name"))
    else:
        errs += [invalid("roleRef.name", name, m) for m in is_path_segment_name(name)]
    for i, subject in enumerate(obj.get("subjects") or []):
        errs += _validate_subject(subject, f"subjects[{i}]", namespaced=namespaced)
    return errs


def validate_binding_update(obj: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    # A binding's meaning is its roleRef; changing it means deleting and recreating the binding.
    if (obj.get("roleRef") or {}) != (old.get("roleRef") or {}):
        return [invalid("roleRef", _ref_text(obj.get("roleRef") or {}), "cannot change roleRef")]
    return []


def _ref_text(ref: dict[str, Any]) -> str:
    group, kind, name = ref.get("apiGroup", ""), ref.get("kind", ""), ref.get("name", "")
    return f'rbac.RoleRef{{APIGroup:"{group}", Kind:"{kind}", Name:"{name}"}}'


def _validate_subject(subject: dict[str, Any], path: str, *, namespaced: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    name, kind, group = subject.get("name") or "", subject.get("kind"), subject.get("apiGroup") or ""
    if not name:
        errs.append(required(f"{path}.name"))
    if kind == "ServiceAccount":
        if name:
            errs += [invalid(f"{path}.name", name, m) for m in is_dns1123_subdomain(name)]
        if group:
            errs.append(not_supported(f"{path}.apiGroup", group, [""]))
        if not namespaced and not subject.get("namespace"):
            errs.append(required(f"{path}.namespace"))
    elif kind in ("User", "Group"):
        if group != GROUP:
            errs.append(not_supported(f"{path}.apiGroup", group, [GROUP]))
    else:
        errs.append(not_supported(f"{path}.kind", kind or "", SUBJECT_KINDS))
    return errs


def subjects_strings(subjects: list[dict[str, Any]]) -> tuple[str, str, str]:
    """The wide USERS / GROUPS / SERVICEACCOUNTS cells (``ns/name`` for service accounts)."""
    users = [s.get("name", "") for s in subjects if s.get("kind") == "User"]
    groups = [s.get("name", "") for s in subjects if s.get("kind") == "Group"]
    sas = [f"{s.get('namespace', '')}/{s.get('name', '')}" for s in subjects if s.get("kind") == "ServiceAccount"]
    return ", ".join(users), ", ".join(groups), ", ".join(sas)
