"""rbac.authorization.k8s.io/v1 ClusterRole: cluster-wide rules, optionally aggregated.

An ``aggregationRule`` names label selectors; the clusterrole-aggregation controller then
owns ``rules`` and fills them from every matching ClusterRole (how ``admin``/``edit``/``view``
pick up CRD permissions). Table: NAME and CREATED AT. No status. Served through ``RESOURCE``.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from kubelite.api.kinds.rbac._common import ROLE_COLUMNS, is_path_segment_name, role_row, validate_rules
from kubelite.api.registry import ResourceType, Strategy
from kubelite.api.validation import required, validate_label_selector
from kubelite.machinery.errors import FieldError


class ClusterRoleStrategy(Strategy):
    has_status = False
    name_validator = staticmethod(is_path_segment_name)
    columns = ROLE_COLUMNS

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = validate_rules(obj.get("rules"), "rules", namespaced=False)
        aggregation = obj.get("aggregationRule")
        if aggregation is not None:
            selectors = aggregation.get("clusterRoleSelectors") or []
            if not selectors:
                errs.append(required("aggregationRule.clusterRoleSelectors",
                                     "at least one clusterRoleSelector required if aggregationRule is non-nil"))
            for i, sel in enumerate(selectors):
                errs += validate_label_selector(sel, f"aggregationRule.clusterRoleSelectors[{i}]")
        return errs

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        return role_row(obj)


RESOURCE = ResourceType(
    group="rbac.authorization.k8s.io", version="v1", kind="ClusterRole", plural="clusterroles", singular="clusterrole",
    namespaced=False, strategy=ClusterRoleStrategy(), schema="io.k8s.api.rbac.v1.ClusterRole",
)
