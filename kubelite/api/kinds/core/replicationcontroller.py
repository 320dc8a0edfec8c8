"""The ReplicationController kind: the original replica controller (a plain-map selector).

Defaults follow SetDefaults_ReplicationController: one replica, and a missing selector -- and
missing object labels -- are taken from the template's labels (so ``kubectl run``-era manifests
with only template labels work). Validation follows ValidateReplicationControllerSpec: the
selector is required and must match the template labels, the template's restartPolicy must be
Always and it may not set activeDeadlineSeconds. The status (``replicas`` always present, as
Go serialises it) is written by the controller through ``replicationcontrollers/status``.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from kubelite.api.kinds.core.pod import default_pod_template, validate_pod_template
from kubelite.api.kinds.core.common import container_cells, ensure_map, format_labels
from kubelite.api.registry import AGE_COLUMN, NAME_COLUMN, Column, ResourceType, ScalePaths, Strategy, age
from kubelite.api.validation import required, validate_labels, validate_nonnegative
from kubelite.machinery.errors import FieldError, invalid, not_supported


def _go_map(labels: dict[str, Any] | None) -> str:
    """Go's ``%#v`` of a map[string]string, as Kubernetes prints it in this error."""
    if labels is None:
        return "map[string]string(nil)"
    return "map[string]string{" + ", ".join(f'"{k}":"{v}"' for k, v in sorted(labels.items())) + "}"


def default_replication_controller(rc: dict[str, Any]) -> None:
    spec = ensure_map(rc, "spec")
    template = spec.get("template")
    labels = ((template or {}).get("metadata") or {}).get("labels") if isinstance(template, dict) else None
    if labels:
        if not spec.get("selector"):
            spec["selector"] = dict(labels)
        meta = ensure_map(rc, "metadata")
        if not meta.get("labels"):
            meta["labels"] = dict(labels)
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    if isinstance(template, dict):
        default_pod_template(template)


def validate_rc_spec(spec: Any, path: str = "spec") -> list[FieldError]:
    if not isinstance(spec, dict):
        return [required(path)]
    errs = validate_nonnegative(spec.get("replicas"), f"{path}.replicas")
    errs += validate_nonnegative(spec.get("minReadySeconds"), f"{path}.minReadySeconds")
    selector = spec.get("selector")
    if not selector:
        errs.append(required(f"{path}.selector"))
    else:
        errs += validate_labels(selector, f"{path}.selector")
    template = spec.get("template")
    tpath = f"{path}.template"
    if template is None:
        errs.append(required(tpath))
        return errs
    labels = ((template or {}).get("metadata") or {}).get("labels")
    if isinstance(selector, dict) and selector and not all((labels or {}).get(k) == v for k, v in selector.items()):
        errs.append(FieldError(f"{tpath}.metadata.labels", f"Invalid value: {_go_map(labels)}: `selector` does not "
                                                           "match template `labels`"))
    errs += validate_pod_template(template, tpath)
    tspec = (template or {}).get("spec") or {}
    if isinstance(tspec, dict):
        if tspec.get("restartPolicy") not in (None, "Always"):
            errs.append(not_supported(f"{tpath}.spec.restartPolicy", tspec["restartPolicy"], ["Always"]))
        if tspec.get("activeDeadlineSeconds") is not None:
            errs.append(invalid(f"{tpath}.spec.activeDeadlineSeconds", tspec["activeDeadlineSeconds"],
                                "activeDeadlineSeconds in ReplicationController is not Supported"))
    return errs


def validate_rc_status(status: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    for f in ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas", "observedGeneration"):
        errs += validate_nonnegative(status.get(f), f"status.{f}")
    replicas = status.get("replicas") or 0
    for f in ("fullyLabeledReplicas", "readyReplicas"):
        if (status.get(f) or 0) > replicas:
            errs.append(invalid(f"status.{f}", status[f], "cannot be greater than status.replicas"))
    if (status.get("availableReplicas") or 0) > (status.get("readyReplicas") or 0):
        errs.append(invalid("status.availableReplicas", status["availableReplicas"],
                            "cannot be greater than readyReplicas"))
    return errs


class ReplicationControllerStrategy(Strategy):
    has_status = True
    columns = (
        NAME_COLUMN,
        Column("Desired", type="integer", description="Replicas is the number of desired replicas."),
        Column("Current", type="integer", description="Replicas is the most recently observed number of replicas."),
        Column("Ready", type="integer", description="The number of ready replicas for this replication controller."),
        AGE_COLUMN,
        Column("Containers", priority=1, description="Names of each container in the template."),
        Column("Images", priority=1, description="Images referenced by each container in the template."),
        Column("Selector", priority=1, description="Selector is a label query over pods that should match the "
                                                   "Replicas count."),
    )

    def defaults(self, obj: dict[str, Any]) -> None:
        default_replication_controller(obj)

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        # `replicas` has no omitempty in ReplicationControllerStatus: a fresh RC reads replicas: 0.
        obj["status"] = {"replicas": 0}

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        return validate_rc_spec(obj.get("spec"))

    def validate_update(self, obj: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        return self.validate(obj) + validate_rc_status(obj.get("status") or {})

    def spec_changed(self, obj: dict[str, Any], old: dict[str, Any]) -> bool:
        return obj.get("spec") != old.get("spec")

    def field_labels(self, obj: dict[str, Any]) -> dict[str, str]:
        return {"status.replicas": str((obj.get("status") or {}).get("replicas") or 0)}

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        names, images = container_cells(((spec.get("template") or {}).get("spec") or {}).get("containers"))
        return [obj["metadata"].get("name", ""), spec.get("replicas") or 0, status.get("replicas") or 0,
                status.get("readyReplicas") or 0, age(obj, now), names, images, format_labels(spec.get("selector"))]


REPLICATION_CONTROLLER = ResourceType(
    group="", version="v1", kind="ReplicationController", plural="replicationcontrollers",
    singular="replicationcontroller", namespaced=True, strategy=ReplicationControllerStrategy(),
    schema="io.k8s.api.core.v1.ReplicationController", short_names=("rc",), categories=("all",),
    subresources=("status", "scale"), scale=ScalePaths(),
)
