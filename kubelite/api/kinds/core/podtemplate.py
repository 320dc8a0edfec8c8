"""The PodTemplate kind: a stored pod template (``template`` defaulted and validated like a pod's).

Columns follow Kubernetes' printer: NAME, CONTAINERS, IMAGES, POD LABELS -- no AGE.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from kubelite.api.kinds.core.pod import default_pod_template, validate_pod_template
from kubelite.api.kinds.core.common import container_cells, format_labels
from kubelite.api.registry import NAME_COLUMN, Column, ResourceType, Strategy
from kubelite.machinery.errors import FieldError


class PodTemplateStrategy(Strategy):
    has_status = False
    columns = (
        NAME_COLUMN,
        Column("Containers", description="Names of each container in the template."),
        Column("Images", description="Images referenced by each container in the template."),
        Column("Pod Labels", description="The labels for the pod template."),
    )

    def defaults(self, obj: dict[str, Any]) -> None:
        template = obj.get("template")
        if isinstance(template, dict):
            default_pod_template(template)

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        return validate_pod_template(obj.get("template"), "template")

    def spec_changed(self, obj: dict[str, Any], old: dict[str, Any]) -> bool:
        return obj.get("template") != old.get("template")

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        template = obj.get("template") or {}
        names, images = container_cells((template.get("spec") or {}).get("containers"))
        return [obj["metadata"].get("name", ""), names, images,
                format_labels((template.get("metadata") or {}).get("labels"))]


POD_TEMPLATE = ResourceType(
    group="", version="v1", kind="PodTemplate", plural="podtemplates", singular="podtemplate", namespaced=True,
    strategy=PodTemplateStrategy(), schema="io.k8s.api.core.v1.PodTemplate",
)
