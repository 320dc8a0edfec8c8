"""apps/v1 ControllerRevision: an immutable snapshot of a DaemonSet's or StatefulSet's template.

The daemonset and statefulset controllers write one per template version (``data`` holds the
patch, ``revision`` its number) and roll back by reading them. ``data`` never changes after
create. No status. Served through ``RESOURCE``.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from kubelite.api.kinds._shared import AGE_COLUMN, NAME_COLUMN, age_cell, nonneg
from kubelite.api.registry import Column, ResourceType, Strategy
from kubelite.api.validation import required, validate_immutable
from kubelite.machinery.errors import FieldError


class ControllerRevisionStrategy(Strategy):
    has_status = False

    columns = (
        NAME_COLUMN,
        Column("Controller", description="Controller of the object"),
        Column("Revision", description="Revision indicates the revision of the state represented by Data."),
        AGE_COLUMN,
    )

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs: list[FieldError] = []
        if obj.get("data") is None:
            errs.append(required("data", "data is mandatory"))
        errs += nonneg(obj.get("revision"), "revision")
        return errs

    def validate_update(self, obj: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        return self.validate(obj) + validate_immutable(obj.get("data"), old.get("data"), "data")

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        return [obj["metadata"].get("name", ""), controller_name(obj), obj.get("revision") or 0, age_cell(obj, now)]


def controller_name(obj: dict[str, Any]) -> str:
    """The printers' ``kind.group/name`` of the controlling owner (``statefulset.apps/web``)."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            api_version = ref.get("apiVersion", "")
            group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
            kind = ref.get("kind", "")
            group_kind = f"{kind}.{group}" if group else kind
            return f"{group_kind.lower()}/{ref.get('name', '')}" if kind else ref.get("name", "")
    return "<none>"


RESOURCE = ResourceType(
    group="apps", version="v1", kind="ControllerRevision", plural="controllerrevisions",
    singular="controllerrevision", namespaced=True, strategy=ControllerRevisionStrategy(),
    schema="io.k8s.api.apps.v1.ControllerRevision",
)
