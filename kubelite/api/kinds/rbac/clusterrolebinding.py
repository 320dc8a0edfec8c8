"""rbac.authorization.k8s.io/v1 ClusterRoleBinding: grants a ClusterRole in every namespace.

Only ClusterRoles can be bound here, and service account subjects must name their
namespace. ``roleRef`` is immutable. Same columns as RoleBinding. Served through ``RESOURCE``.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from kubelite.api.kinds.rbac._common import (
    default_binding, is_path_segment_name, validate_binding, validate_binding_update,
)
from kubelite.api.kinds.rbac.rolebinding import BINDING_COLUMNS, binding_row
from kubelite.api.registry import Column, ResourceType, Strategy
from kubelite.machinery.errors import FieldError


class ClusterRoleBindingStrategy(Strategy):
    has_status = False
    name_validator = staticmethod(is_path_segment_name)
    columns = BINDING_COLUMNS[:3] + (
        Column("Users", priority=1, description="Users in the clusterRoleBinding"),
        Column("Groups", priority=1, description="Groups in the clusterRoleBinding"),
        Column("ServiceAccounts", priority=1, description="ServiceAccounts in the clusterRoleBinding"),
    )

    def defaults(self, obj: dict[str, Any]) -> None:
        default_binding(obj)

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        return validate_binding(obj, role_kinds=["ClusterRole"], namespaced=False)

    def validate_update(self, obj: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        return self.validate(obj) + validate_binding_update(obj, old)

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        return binding_row(obj, now)


RESOURCE = ResourceType(
    group="rbac.authorization.k8s.io", version="v1", kind="ClusterRoleBinding", plural="clusterrolebindings",
    singular="clusterrolebinding", namespaced=False, strategy=ClusterRoleBindingStrategy(),
    schema="io.k8s.api.rbac.v1.ClusterRoleBinding",
)
