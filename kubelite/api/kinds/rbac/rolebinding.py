"""rbac.authorization.k8s.io/v1 RoleBinding: grants a Role or ClusterRole within one namespace.

``roleRef`` cannot change after create. Service account subjects may leave ``namespace``
empty (meaning the binding's own). Table: NAME, ROLE (``Kind/name``), AGE, and with ``-o wide``
USERS, GROUPS, SERVICEACCOUNTS. No status. Served through ``RESOURCE``.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from kubelite.api.kinds._shared import AGE_COLUMN, NAME_COLUMN, age_cell
from kubelite.api.kinds.rbac._common import (
    default_binding, is_path_segment_name, subjects_strings, validate_binding, validate_binding_update,
)
from kubelite.api.registry import Column, ResourceType, Strategy
from kubelite.machinery.errors import FieldError

BINDING_COLUMNS = (
    NAME_COLUMN,
    Column("Role", description=(
        "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace.")),
    AGE_COLUMN,
    Column("Users", priority=1, description="Users in the roleBinding"),
    Column("Groups", priority=1, description="Groups in the roleBinding"),
    Column("ServiceAccounts", priority=1, description="ServiceAccounts in the roleBinding"),
)


def binding_row(obj: dict[str, Any], now: dt.datetime) -> list[Any]:
    ref = obj.get("roleRef") or {}
    users, groups, sas = subjects_strings(obj.get("subjects") or [])
    return [obj["metadata"].get("name", ""), f"{ref.get('kind', '')}/{ref.get('name', '')}", age_cell(obj, now),
            users, groups, sas]


class RoleBindingStrategy(Strategy):
    has_status = False
    name_validator = staticmethod(is_path_segment_name)
    columns = BINDING_COLUMNS

    def defaults(self, obj: dict[str, Any]) -> None:
        default_binding(obj)

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        return validate_binding(obj, role_kinds=["Role", "ClusterRole"], namespaced=True)

    def validate_update(self, obj: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        return self.validate(obj) + validate_binding_update(obj, old)

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        return binding_row(obj, now)


RESOURCE = ResourceType(
    group="rbac.authorization.k8s.io", version="v1", kind="RoleBinding", plural="rolebindings", singular="rolebinding",
    namespaced=True, strategy=RoleBindingStrategy(), schema="io.k8s.api.rbac.v1.RoleBinding",
)
