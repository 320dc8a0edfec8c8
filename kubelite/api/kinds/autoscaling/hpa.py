"""autoscaling/v2 HorizontalPodAutoscaler: defaults, validation and ``kubectl get hpa`` columns.

v2 is the storage version; autoscaling/v1 objects are converted to and from it by
``hpa_v1`` (``kubectl autoscale`` writes v1, ``kubectl get hpa`` reads v2, both must see one
object). Defaults: ``minReplicas: 1``; no metrics means "80% average CPU utilization"; a
``behavior`` that is present gets Kubernetes' scale-up rules (4 pods or 100% per 15 s) and
scale-down rules (100% per 15 s) wherever it leaves them out. Served through ``RESOURCE``.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

from kubelite.api.kinds._shared import AGE_COLUMN, NAME_COLUMN, StatusStrategy, age_cell, set_default
from kubelite.api.registry import Column, ResourceType
from kubelite.api.validation import quantity_value, required, validate_label_selector
from kubelite.machinery.errors import FieldError, forbidden, invalid, not_supported

DEFAULT_CPU_UTILIZATION = 80
METRIC_SOURCE_FIELDS = {"Object": "object", "Pods": "pods", "Resource": "resource",
                        "ContainerResource": "containerResource", "External": "external"}
MAX_STABILIZATION_WINDOW = 3600
MAX_POLICY_PERIOD = 1800
_PATH_SEGMENT_BAD = re.compile(r"[/%]")


def cpu_utilization_metric(percent: int) -> dict[str, Any]:
    return {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                       "averageUtilization": percent}}}


def default_scale_up_rules() -> dict[str, Any]:
    return {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
            "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15},
                         {"type": "Percent", "value": 100, "periodSeconds": 15}]}


def default_scale_down_rules() -> dict[str, Any]:
    # stabilizationWindowSeconds stays unset: the controller's --horizontal-pod-autoscaler-
    # downscale-stabilization flag (300 s) applies then.
    return {"selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}


def _fill_rules(rules: dict[str, Any] | None, default: dict[str, Any]) -> dict[str, Any]:
    if rules is None:
        return default
    for key, value in default.items():
        set_default(rules, key, value)
    return rules


class HorizontalPodAutoscalerStrategy(StatusStrategy):
    # desiredReplicas has no omitempty in autoscaling/v2
    initial_status = {"desiredReplicas": 0}

    columns = (
        NAME_COLUMN,
        Column("Reference", description=(
            "scaleTargetRef points to the target resource to scale, and is used to the pods for which metrics should "
            "be collected, as well as to actually change the replica count.")),
        Column("Targets", description=(
            "metrics contains the specifications for which to use to calculate the desired replica count (the maximum"
            " replica count across all metrics will be used).")),
        Column("MinPods", description=(
            "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down.")),
        Column("MaxPods", description=(
            "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up.")),
        Column("Replicas", description=(
            "currentReplicas is current number of replicas of pods managed by this autoscaler, as last seen by the "
            "autoscaler.")),
        AGE_COLUMN,
    )

    def defaults(self, obj: dict[str, Any]) -> None:
        spec = obj.setdefault("spec", {})
        set_default(spec, "minReplicas", 1)
        if not spec.get("metrics"):
            spec["metrics"] = [cpu_utilization_metric(DEFAULT_CPU_UTILIZATION)]
        behavior = spec.get("behavior")
        if isinstance(behavior, dict):
            behavior["scaleUp"] = _fill_rules(behavior.get("scaleUp"), default_scale_up_rules())
            behavior["scaleDown"] = _fill_rules(behavior.get("scaleDown"), default_scale_down_rules())

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        return validate_hpa_spec(obj.get("spec") or {}, "spec")

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        ref = spec.get("scaleTargetRef") or {}
        min_pods = spec.get("minReplicas")
        return [
            obj["metadata"].get("name", ""),
            f"{ref.get('kind', '')}/{ref.get('name', '')}",
            format_metrics(spec.get("metrics") or [], status.get("currentMetrics") or []),
            "<unset>" if min_pods is None else str(min_pods),
            spec.get("maxReplicas") or 0,
            status.get("currentReplicas") or 0,
            age_cell(obj, now),
        ]


# --- validation ---------------------------------------------------------------------------------


def validate_hpa_spec(spec: dict[str, Any], path: str) -> list[FieldError]:
    errs = _validate_object_ref(spec.get("scaleTargetRef"), f"{path}.scaleTargetRef")
    min_r, max_r = spec.get("minReplicas"), spec.get("maxReplicas")
    if min_r is not None and (not isinstance(min_r, int) or min_r < 1):
        errs.append(invalid(f"{path}.minReplicas", min_r, "must be greater than or equal to 1"))
    if not isinstance(max_r, int) or max_r < 1:
        errs.append(invalid(f"{path}.maxReplicas", max_r, "must be greater than 0"))
    elif isinstance(min_r, int) and max_r < min_r:
        errs.append(invalid(f"{path}.maxReplicas", max_r, "must be greater than or equal to `minReplicas`"))
    for i, metric in enumerate(spec.get("metrics") or []):
        errs += _validate_metric(metric, f"{path}.metrics[{i}]")
    behavior = spec.get("behavior")
    if behavior is not None:
        for direction in ("scaleUp", "scaleDown"):
            if behavior.get(direction) is not None:
                errs += _validate_rules(behavior[direction], f"{path}.behavior.{direction}")
    return errs


def _validate_object_ref(ref: Any, path: str) -> list[FieldError]:
    ref = ref if isinstance(ref, dict) else {}
    errs: list[FieldError] = []
    for f in ("kind", "name"):
        value = ref.get(f)
        if not value:
            errs.append(required(f"{path}.{f}"))
        elif value in (".", "..") or _PATH_SEGMENT_BAD.search(value):
            errs.append(invalid(f"{path}.{f}", value, "may not contain '/' or '%' and may not be '.' or '..'"))
    return errs


def _validate_metric(metric: Any, path: str) -> list[FieldError]:
    if not isinstance(metric, dict):
        return [invalid(path, metric, "must be an object")]
    kind = metric.get("type")
    if not kind:
        return [required(f"{path}.type", "must specify a metric source type")]
    if kind not in METRIC_SOURCE_FIELDS:
        return [not_supported(f"{path}.type", kind, list(METRIC_SOURCE_FIELDS))]
    errs: list[FieldError] = []
    for other_type, field in METRIC_SOURCE_FIELDS.items():
        if other_type != kind and metric.get(field) is not None:
            errs.append(forbidden(f"{path}.{field}", "must populate the given metric source only"))
    field = METRIC_SOURCE_FIELDS[kind]
    source = metric.get(field)
    spath = f"{path}.{field}"
    if source is None:
        return errs + [required(spath, "must populate information for the given metric source")]
    target = source.get("target") or {}
    errs += _validate_target(target, f"{spath}.target")
    if kind in ("Resource", "ContainerResource"):
        if not source.get("name"):
            errs.append(required(f"{spath}.name"))
        if kind == "ContainerResource" and not source.get("container"):
            errs.append(required(f"{spath}.container"))
        has_value, has_util = target.get("averageValue") is not None, target.get("averageUtilization") is not None
        if has_value and has_util:
            errs.append(forbidden(f"{spath}.target.averageValue",
                                  "may not set both a target raw value and a target utilization"))
        elif not has_value and not has_util:
            errs.append(required(f"{spath}.target.averageUtilization",
                                 "must set either a target raw value or a target utilization"))
        return errs
    metric_id = source.get("metric") or {}
    if not metric_id.get("name"):
        errs.append(required(f"{spath}.metric.name", "must specify a metric name"))
    errs += validate_label_selector(metric_id.get("selector"), f"{spath}.metric.selector")
    if kind == "Object":
        errs += _validate_object_ref(source.get("describedObject"), f"{spath}.describedObject")
    if kind == "Pods":
        if target.get("averageValue") is None:
            errs.append(required(f"{spath}.target.averageValue", "must specify a positive target averageValue"))
    elif target.get("value") is None and target.get("averageValue") is None:
        errs.append(required(f"{spath}.target.value", "must set either a target value or averageValue"))
    return errs


def _validate_target(target: dict[str, Any], path: str) -> list[FieldError]:
    kind = target.get("type")
    if not kind:
        return [required(f"{path}.type", "must specify a metric target type")]
    errs: list[FieldError] = []
    if kind not in ("Utilization", "Value", "AverageValue"):
        errs.append(not_supported(f"{path}.type", kind, ["Utilization", "Value", "AverageValue"]))
    for f in ("value", "averageValue"):
        q = target.get(f)
        if q is None:
            continue
        try:
            positive = quantity_value(q) > 0
        except Exception:  # noqa: BLE001 - any parser complaint means "not a quantity"
            errs.append(invalid(f"{path}.{f}", q, "must be a quantity"))
            continue
        if not positive:
            errs.append(invalid(f"{path}.{f}", q, "must be positive"))
    util = target.get("averageUtilization")
    if util is not None and (not isinstance(util, int) or util < 1):
        errs.append(invalid(f"{path}.averageUtilization", util, "must be greater than 0"))
    return errs


def _validate_rules(rules: dict[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    window = rules.get("stabilizationWindowSeconds")
    if window is not None:
        if not isinstance(window, int) or window < 0:
            errs.append(invalid(f"{path}.stabilizationWindowSeconds", window, "must be greater than or equal to zero"))
        elif window > MAX_STABILIZATION_WINDOW:
            errs.append(invalid(f"{path}.stabilizationWindowSeconds", window,
                                f"must be less than or equal to {MAX_STABILIZATION_WINDOW}"))
    select = rules.get("selectPolicy")
    if select is not None and select not in ("Max", "Min", "Disabled"):
        errs.append(not_supported(f"{path}.selectPolicy", select, ["Max", "Min", "Disabled"]))
    policies = rules.get("policies")
    if not policies:
        errs.append(required(f"{path}.policies", "must specify at least one Policy"))
    for i, policy in enumerate(policies or []):
        ppath = f"{path}.policies[{i}]"
        if policy.get("type") not in ("Pods", "Percent"):
            errs.append(not_supported(f"{ppath}.type", policy.get("type") or "", ["Pods", "Percent"]))
        value = policy.get("value")
        if not isinstance(value, int) or value <= 0:
            errs.append(invalid(f"{ppath}.value", value, "must be greater than zero"))
        period = policy.get("periodSeconds")
        if not isinstance(period, int) or period <= 0:
            errs.append(invalid(f"{ppath}.periodSeconds", period, "must be greater than zero"))
        elif period > MAX_POLICY_PERIOD:
            errs.append(invalid(f"{ppath}.periodSeconds", period, f"must be less than or equal to {MAX_POLICY_PERIOD}"))
    return errs


# --- Table ----------------------------------------------------------------------------------------


def format_metrics(specs: list[dict[str, Any]], statuses: list[dict[str, Any]]) -> str:
    """The TARGETS cell: ``cpu: 30%/80%``, ``<unknown>`` for a value not measured yet,
    at most two metrics then ``+ N more...`` (the printers' ``formatHPAMetrics``)."""
    if not specs:
        return "<none>"
    parts = [_format_metric(spec, statuses[i] if i < len(statuses) else {}) for i, spec in enumerate(specs)]
    if len(parts) > 2:
        return f"{', '.join(parts[:2])} + {len(parts) - 2} more..."
    return ", ".join(parts)


def _format_metric(spec: dict[str, Any], status: dict[str, Any]) -> str:
    kind = spec.get("type")
    field = METRIC_SOURCE_FIELDS.get(kind or "")
    if field is None:
        return "<unknown type>"
    source = spec.get(field) or {}
    target = source.get("target") or {}
    current = (status.get(field) or {}).get("current") or {}
    unknown = "<unknown>"
    if kind in ("External", "Object"):
        if target.get("averageValue") is not None:
            return f"{current.get('averageValue', unknown)}/{target['averageValue']} (avg)"
        return f"{current.get('value', unknown)}/{target.get('value', '')}"
    if kind == "Pods":
        return f"{current.get('averageValue', unknown)}/{target.get('averageValue', '')}"
    name = source.get("name", "")
    if target.get("averageValue") is not None:
        return f"{name}: {current.get('averageValue', unknown)}/{target['averageValue']}"
    util = current.get("averageUtilization")
    shown = f"{util}%" if util is not None else unknown
    goal = f"{target['averageUtilization']}%" if target.get("averageUtilization") is not None else "<auto>"
    return f"{name}: {shown}/{goal}"


RESOURCE = ResourceType(
    group="autoscaling", version="v2", kind="HorizontalPodAutoscaler", plural="horizontalpodautoscalers",
    singular="horizontalpodautoscaler", namespaced=True, strategy=HorizontalPodAutoscalerStrategy(),
    schema="io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler", short_names=("hpa",), categories=("all",),
    subresources=("status",), storage_resource="autoscaling/horizontalpodautoscalers",
)
