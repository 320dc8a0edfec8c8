"""rbac.authorization.k8s.io/v1 Role: namespaced permission rules (no non-resource URLs).

Table: Kubernetes has no printer for roles, so ``kubectl get roles`` shows NAME and CREATED AT.
No status. Served through ``RESOURCE``.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from kubelite.api.kinds.rbac._common import ROLE_COLUMNS, is_path_segment_name, role_row, validate_rules
from kubelite.api.registry import ResourceType, Strategy
from kubelite.machinery.errors import FieldError


class RoleStrategy(Strategy):
    has_status = False
    name_validator = staticmethod(is_path_segment_name)
    columns = ROLE_COLUMNS

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        return validate_rules(obj.get("rules"), "rules", namespaced=True)

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        return role_row(obj)


RESOURCE = ResourceType(
    group="rbac.authorization.k8s.io", version="v1", kind="Role", plural="roles", singular="role",
    namespaced=True, strategy=RoleStrategy(), schema="io.k8s.api.rbac.v1.Role",
)
