"""RBAC kinds: rule shapes, binding defaults and references, immutable roleRef, names, columns."""
from __future__ import annotations

import pytest

from kubelite.api.kinds.rbac.clusterrole import RESOURCE as CLUSTER_ROLE
from kubelite.api.kinds.rbac.clusterrolebinding import RESOURCE as CLUSTER_ROLE_BINDING
from kubelite.api.kinds.rbac.role import RESOURCE as ROLE
from kubelite.api.kinds.rbac.rolebinding import RESOURCE as ROLE_BINDING
from tests.api.kinds.kindtest import CREATED, changed, create, created, fields, meta, row, update

READ_PODS = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}


def role(*rules: dict, kind: str = "Role", rt_ns: str | None = "default") -> dict:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": meta("reader", rt_ns),
            "rules": list(rules)}


@pytest.mark.parametrize("rule,expected", [
    (READ_PODS, []),
    ({"apiGroups": [""], "resources": ["pods"]}, ["rules[0].verbs"]),
    ({"verbs": ["get"]}, ["rules[0].apiGroups", "rules[0].resources"]),
    ({"verbs": ["get"], "nonResourceURLs": ["/healthz"]}, ["rules[0].nonResourceURLs"]),
])
def test_role_rules(rule: dict, expected: list[str]) -> None:
    assert fields(create(ROLE, role(rule))) == expected


def test_cluster_roles_may_grant_urls_but_not_mixed() -> None:
    assert create(CLUSTER_ROLE, role({"verbs": ["get"], "nonResourceURLs": ["/healthz"]}, kind="ClusterRole",
                                     rt_ns=None)) == []
    mixed = {"verbs": ["get"], "nonResourceURLs": ["/healthz"], "resources": ["pods"]}
    errs = create(CLUSTER_ROLE, role(mixed, kind="ClusterRole", rt_ns=None))
    assert errs[0].message.endswith("rules cannot apply to both regular resources and non-resource URLs")


def test_aggregation_rule_needs_selectors() -> None:
    obj = role(kind="ClusterRole", rt_ns=None)
    obj["aggregationRule"] = {"clusterRoleSelectors": []}
    assert fields(create(CLUSTER_ROLE, obj)) == ["aggregationRule.clusterRoleSelectors"]


def test_names_are_path_segments() -> None:
    validator = CLUSTER_ROLE.strategy.name_validator
    assert validator("system:controller:deployment-controller") == []
    assert validator("a/b") == ["may not contain '/'"]
    assert validator("..") == ["may not be '..'"]


def test_role_table_is_name_and_created_at() -> None:
    assert row(ROLE, created(ROLE, role(READ_PODS))) == {"Name": "reader", "Created At": CREATED}
    assert ROLE.strategy.columns[1].type == "date"


def binding(kind: str = "RoleBinding", ref_kind: str = "Role", *subjects: dict, ns: str | None = "default") -> dict:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": meta("read-pods", ns),
            "roleRef": {"kind": ref_kind, "name": "reader"}, "subjects": list(subjects)}


def test_binding_defaults() -> None:
    b = created(ROLE_BINDING, binding("RoleBinding", "Role", {"kind": "User", "name": "jane"},
                                      {"kind": "ServiceAccount", "name": "default"}))
    assert b["roleRef"]["apiGroup"] == "rbac.authorization.k8s.io"
    assert b["subjects"][0]["apiGroup"] == "rbac.authorization.k8s.io"
    assert b["subjects"][1]["apiGroup"] == ""


@pytest.mark.parametrize("subject,expected", [
    ({"kind": "Group", "name": "devs"}, []),
    ({"kind": "Robot", "name": "r2"}, ["subjects[0].kind"]),
    ({"kind": "User"}, ["subjects[0].name"]),
    ({"kind": "ServiceAccount", "name": "sa", "apiGroup": "rbac.authorization.k8s.io"}, ["subjects[0].apiGroup"]),
])
def test_binding_subjects(subject: dict, expected: list[str]) -> None:
    assert fields(create(ROLE_BINDING, binding("RoleBinding", "Role", subject))) == expected


def test_cluster_role_binding_rules() -> None:
    errs = create(CLUSTER_ROLE_BINDING, binding("ClusterRoleBinding", "Role",
                                                {"kind": "ServiceAccount", "name": "sa"}, ns=None))
    assert fields(errs) == ["roleRef.kind", "subjects[0].namespace"]


def test_role_ref_is_immutable() -> None:
    old = created(ROLE_BINDING, binding("RoleBinding", "Role", {"kind": "User", "name": "jane"}))
    errs = update(ROLE_BINDING, changed(old, "roleRef.name", "writer"), old)
    assert fields(errs) == ["roleRef"] and errs[0].message.endswith("cannot change roleRef")
    assert update(ROLE_BINDING, changed(old, "subjects", []), old) == []


def test_binding_columns() -> None:
    b = created(CLUSTER_ROLE_BINDING, binding("ClusterRoleBinding", "ClusterRole", {"kind": "User", "name": "jane"},
                                              {"kind": "Group", "name": "devs"}, {"kind": "User", "name": "joe"},
                                              {"kind": "ServiceAccount", "name": "sa", "namespace": "ci"}, ns=None))
    assert row(CLUSTER_ROLE_BINDING, b) == {"Name": "read-pods", "Role": "ClusterRole/reader", "Age": "5m",
                                            "Users": "jane, joe", "Groups": "devs", "ServiceAccounts": "ci/sa"}
