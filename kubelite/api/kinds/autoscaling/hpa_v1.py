"""autoscaling/v1 HorizontalPodAutoscaler: the v1 view of the HPAs stored as autoscaling/v2.

v1 only knows ``targetCPUUtilizationPercentage``. As in Kubernetes, converting v2 to v1 keeps
that as the CPU utilization metric and parks everything v1 cannot express in annotations,
so a v1 read-modify-write (``kubectl edit hpa.v1.autoscaling``) loses nothing:

  ``autoscaling.alpha.kubernetes.io/metrics``          other metrics, as v1 MetricSpecs
  ``autoscaling.alpha.kubernetes.io/current-metrics``  status.currentMetrics, as v1 MetricStatuses
  ``autoscaling.alpha.kubernetes.io/conditions``       status.conditions
  ``autoscaling.alpha.kubernetes.io/behavior``         spec.behavior

Converting back reads and removes them. Worked example: ``kubectl autoscale deploy web
--max=5 --cpu-percent=60`` posts v1 ``{targetCPUUtilizationPercentage: 60}``, stored as v2
``metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization,
averageUtilization: 60}}}]``; a v1 HPA without any target is stored with the implicit 80%.

The v1 strategy works on v1-shaped objects and validates through the v2 rules.
``to_storage``/``from_storage`` are the converters on ``RESOURCE``.
"""
from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

from kubelite.api.kinds._shared import StatusStrategy, set_default
from kubelite.api.kinds.autoscaling.hpa import (
    DEFAULT_CPU_UTILIZATION, HorizontalPodAutoscalerStrategy, cpu_utilization_metric, validate_hpa_spec,
)
from kubelite.api.registry import ResourceType
from kubelite.machinery.errors import FieldError, bad_request

METRICS_ANNOTATION = "autoscaling.alpha.kubernetes.io/metrics"
CURRENT_METRICS_ANNOTATION = "autoscaling.alpha.kubernetes.io/current-metrics"
CONDITIONS_ANNOTATION = "autoscaling.alpha.kubernetes.io/conditions"
BEHAVIOR_ANNOTATION = "autoscaling.alpha.kubernetes.io/behavior"
ROUND_TRIP_ANNOTATIONS = (METRICS_ANNOTATION, CURRENT_METRICS_ANNOTATION, CONDITIONS_ANNOTATION, BEHAVIOR_ANNOTATION)


def _dumps(value: Any) -> str:
    # Go's json.Marshal: compact, no spaces.
    return json.dumps(value, separators=(",", ":"))


def _prune(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def _is_cpu_utilization(metric: dict[str, Any]) -> bool:
    res = metric.get("resource") or {}
    return (metric.get("type") == "Resource" and res.get("name") == "cpu"
            and (res.get("target") or {}).get("averageUtilization") is not None)


# --- v2 -> v1 ---------------------------------------------------------------------------------------


def _metric_spec_to_v1(m: dict[str, Any]) -> dict[str, Any]:
    kind = m.get("type")
    out: dict[str, Any] = {"type": kind}
    if kind == "Object" and m.get("object") is not None:
        src, target = m["object"], m["object"].get("target") or {}
        metric = src.get("metric") or {}
        out["object"] = _prune({"target": src.get("describedObject") or {}, "metricName": metric.get("name", ""),
                                "targetValue": target.get("value", "0"), "selector": metric.get("selector"),
                                "averageValue": target.get("averageValue")})
    elif kind == "Pods" and m.get("pods") is not None:
        src, target = m["pods"], m["pods"].get("target") or {}
        metric = src.get("metric") or {}
        out["pods"] = _prune({"metricName": metric.get("name", ""),
                              "targetAverageValue": target.get("averageValue", "0"),
                              "selector": metric.get("selector")})
    elif kind in ("Resource", "ContainerResource") and m.get(_field(kind)) is not None:
        src = m[_field(kind)]
        target = src.get("target") or {}
        out[_field(kind)] = _prune({"name": src.get("name", ""),
                                    "targetAverageUtilization": target.get("averageUtilization"),
                                    "targetAverageValue": target.get("averageValue"),
                                    "container": src.get("container")})
    elif kind == "External" and m.get("external") is not None:
        src, target = m["external"], m["external"].get("target") or {}
        metric = src.get("metric") or {}
        out["external"] = _prune({"metricName": metric.get("name", ""), "metricSelector": metric.get("selector"),
                                  "targetValue": target.get("value"), "targetAverageValue": target.get("averageValue")})
    return out


def _metric_status_to_v1(m: dict[str, Any]) -> dict[str, Any]:
    kind = m.get("type")
    out: dict[str, Any] = {"type": kind}
    if kind == "Object" and m.get("object") is not None:
        src, cur = m["object"], m["object"].get("current") or {}
        metric = src.get("metric") or {}
        out["object"] = _prune({"target": src.get("describedObject") or {}, "metricName": metric.get("name", ""),
                                "currentValue": cur.get("value", "0"), "selector": metric.get("selector"),
                                "averageValue": cur.get("averageValue")})
    elif kind == "Pods" and m.get("pods") is not None:
        src, cur = m["pods"], m["pods"].get("current") or {}
        metric = src.get("metric") or {}
        out["pods"] = _prune({"metricName": metric.get("name", ""), "currentAverageValue": cur.get("averageValue", "0"),
                              "selector": metric.get("selector")})
    elif kind in ("Resource", "ContainerResource") and m.get(_field(kind)) is not None:
        src = m[_field(kind)]
        cur = src.get("current") or {}
        out[_field(kind)] = _prune({"name": src.get("name", ""),
                                    "currentAverageUtilization": cur.get("averageUtilization"),
                                    "currentAverageValue": cur.get("averageValue", "0"),
                                    "container": src.get("container")})
    elif kind == "External" and m.get("external") is not None:
        src, cur = m["external"], m["external"].get("current") or {}
        metric = src.get("metric") or {}
        out["external"] = _prune({"metricName": metric.get("name", ""), "metricSelector": metric.get("selector"),
                                  "currentValue": cur.get("value", "0"),
                                  "currentAverageValue": cur.get("averageValue")})
    return out


def _field(kind: str) -> str:
    return "containerResource" if kind == "ContainerResource" else kind.lower()


def from_storage(v2: dict[str, Any]) -> dict[str, Any]:
    """A stored autoscaling/v2 HPA as autoscaling/v1."""
    meta = copy.deepcopy(v2.get("metadata") or {})
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in ROUND_TRIP_ANNOTATIONS}
    spec2, status2 = v2.get("spec") or {}, v2.get("status") or {}
    spec: dict[str, Any] = {"scaleTargetRef": copy.deepcopy(spec2.get("scaleTargetRef") or {})}
    if spec2.get("minReplicas") is not None:
        spec["minReplicas"] = spec2["minReplicas"]
    spec["maxReplicas"] = spec2.get("maxReplicas", 0)
    others = []
    for m in spec2.get("metrics") or []:
        if _is_cpu_utilization(m):
            spec.setdefault("targetCPUUtilizationPercentage", m["resource"]["target"]["averageUtilization"])
        else:
            others.append(_metric_spec_to_v1(m))
    status: dict[str, Any] = {}
    for f in ("observedGeneration", "lastScaleTime"):
        if status2.get(f) is not None:
            status[f] = status2[f]
    status["currentReplicas"] = status2.get("currentReplicas", 0)
    status["desiredReplicas"] = status2.get("desiredReplicas", 0)
    current = status2.get("currentMetrics") or []
    for m in current:
        util = ((m.get("resource") or {}).get("current") or {}).get("averageUtilization")
        if m.get("type") == "Resource" and (m.get("resource") or {}).get("name") == "cpu" and util is not None:
            status["currentCPUUtilizationPercentage"] = util
    if others:
        annotations[METRICS_ANNOTATION] = _dumps(others)
    if current:
        annotations[CURRENT_METRICS_ANNOTATION] = _dumps([_metric_status_to_v1(m) for m in current])
    if status2.get("conditions"):
        annotations[CONDITIONS_ANNOTATION] = _dumps(status2["conditions"])
    if spec2.get("behavior") is not None:
        annotations[BEHAVIOR_ANNOTATION] = _dumps(spec2["behavior"])
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    out: dict[str, Any] = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": meta,
                           "spec": spec}
    if "status" in v2:
        out["status"] = status
    return out


# --- v1 -> v2 ---------------------------------------------------------------------------------------


def _metric_spec_from_v1(m: dict[str, Any]) -> dict[str, Any]:
    kind = m.get("type")
    out: dict[str, Any] = {"type": kind}
    if kind == "Object" and m.get("object") is not None:
        src = m["object"]
        avg = src.get("averageValue")
        out["object"] = {"describedObject": src.get("target") or {},
                         "metric": _prune({"name": src.get("metricName", ""), "selector": src.get("selector")}),
                         "target": _prune({"type": "AverageValue" if avg is not None else "Value",
                                           "value": _value(src.get("targetValue"), avg), "averageValue": avg})}
    elif kind == "Pods" and m.get("pods") is not None:
        src = m["pods"]
        out["pods"] = {"metric": _prune({"name": src.get("metricName", ""), "selector": src.get("selector")}),
                       "target": {"type": "AverageValue", "averageValue": src.get("targetAverageValue", "0")}}
    elif kind in ("Resource", "ContainerResource") and m.get(_field(kind)) is not None:
        src = m[_field(kind)]
        util = src.get("targetAverageUtilization")
        out[_field(kind)] = _prune({
            "name": src.get("name", ""), "container": src.get("container"),
            "target": _prune({"type": "Utilization" if util is not None else "AverageValue",
                              "averageUtilization": util, "averageValue": src.get("targetAverageValue")})})
    elif kind == "External" and m.get("external") is not None:
        src = m["external"]
        value = src.get("targetValue")
        out["external"] = {"metric": _prune({"name": src.get("metricName", ""), "selector": src.get("metricSelector")}),
                           "target": _prune({"type": "Value" if value is not None else "AverageValue",
                                             "value": value, "averageValue": src.get("targetAverageValue")})}
    return out


def _metric_status_from_v1(m: dict[str, Any]) -> dict[str, Any]:
    kind = m.get("type")
    out: dict[str, Any] = {"type": kind}
    if kind == "Object" and m.get("object") is not None:
        src = m["object"]
        out["object"] = {"describedObject": src.get("target") or {},
                         "metric": _prune({"name": src.get("metricName", ""), "selector": src.get("selector")}),
                         "current": _prune({"value": _value(src.get("currentValue"), src.get("averageValue")),
                                            "averageValue": src.get("averageValue")})}
    elif kind == "Pods" and m.get("pods") is not None:
        src = m["pods"]
        out["pods"] = {"metric": _prune({"name": src.get("metricName", ""), "selector": src.get("selector")}),
                       "current": {"averageValue": src.get("currentAverageValue", "0")}}
    elif kind in ("Resource", "ContainerResource") and m.get(_field(kind)) is not None:
        src = m[_field(kind)]
        out[_field(kind)] = _prune({
            "name": src.get("name", ""), "container": src.get("container"),
            "current": _prune({"averageValue": src.get("currentAverageValue", "0"),
                               "averageUtilization": src.get("currentAverageUtilization")})})
    elif kind == "External" and m.get("external") is not None:
        src = m["external"]
        out["external"] = {"metric": _prune({"name": src.get("metricName", ""), "selector": src.get("metricSelector")}),
                           "current": _prune({"value": _value(src.get("currentValue"), src.get("currentAverageValue")),
                                              "averageValue": src.get("currentAverageValue")})}
    return out


def _value(value: Any, average: Any) -> Any:
    """v1 keeps a plain value even when only an average is meant (it is then "0"). Kubernetes
    copies that "0" into v2; dropping it when an average is present keeps round trips exact."""
    if average is not None and value in (None, "0", 0):
        return None
    return "0" if value is None else value


def _load(annotations: dict[str, str], key: str) -> Any:
    raw = annotations.pop(key, None)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise bad_request(f"invalid {key} annotation: not JSON") from None


def to_storage(v1: dict[str, Any]) -> dict[str, Any]:
    """An autoscaling/v1 HPA in the stored autoscaling/v2 form."""
    meta = copy.deepcopy(v1.get("metadata") or {})
    annotations = dict(meta.get("annotations") or {})
    spec1, status1 = v1.get("spec") or {}, v1.get("status") or {}
    spec: dict[str, Any] = {"scaleTargetRef": copy.deepcopy(spec1.get("scaleTargetRef") or {})}
    if spec1.get("minReplicas") is not None:
        spec["minReplicas"] = spec1["minReplicas"]
    spec["maxReplicas"] = spec1.get("maxReplicas", 0)
    metrics = [_metric_spec_from_v1(m) for m in _load(annotations, METRICS_ANNOTATION) or []]
    if spec1.get("targetCPUUtilizationPercentage") is not None:
        metrics.append(cpu_utilization_metric(spec1["targetCPUUtilizationPercentage"]))
    # v1 always meant "80% CPU" when nothing was said; v2 spells it out.
    spec["metrics"] = metrics or [cpu_utilization_metric(DEFAULT_CPU_UTILIZATION)]
    behavior = _load(annotations, BEHAVIOR_ANNOTATION)
    if behavior is not None:
        spec["behavior"] = behavior
    status: dict[str, Any] = {}
    for f in ("observedGeneration", "lastScaleTime", "currentReplicas"):
        if status1.get(f) is not None:
            status[f] = status1[f]
    status["desiredReplicas"] = status1.get("desiredReplicas", 0)
    current = _load(annotations, CURRENT_METRICS_ANNOTATION)
    if current is not None:
        status["currentMetrics"] = [_metric_status_from_v1(m) for m in current]
    elif status1.get("currentCPUUtilizationPercentage") is not None:
        status["currentMetrics"] = [{"type": "Resource", "resource": {
            "name": "cpu", "current": {"averageUtilization": status1["currentCPUUtilizationPercentage"]}}}]
    conditions = _load(annotations, CONDITIONS_ANNOTATION)
    if conditions is not None:
        status["conditions"] = conditions
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    out: dict[str, Any] = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": meta,
                           "spec": spec}
    if "status" in v1:
        out["status"] = status
    return out


class HorizontalPodAutoscalerV1Strategy(StatusStrategy):
    """The v1 endpoint's strategy: v1 defaults, v2 validation, v2 Table cells."""

    # currentReplicas and desiredReplicas have no omitempty in autoscaling/v1
    initial_status = {"currentReplicas": 0, "desiredReplicas": 0}
    columns = HorizontalPodAutoscalerStrategy.columns

    def defaults(self, obj: dict[str, Any]) -> None:
        set_default(obj.setdefault("spec", {}), "minReplicas", 1)

    def prepare_for_update(self, obj: dict[str, Any], old: dict[str, Any]) -> None:
        super().prepare_for_update(obj, old)
        # The status travels partly in annotations in v1; the main endpoint may not change
        # status, so those annotations come from the stored object too (a v1 client that
        # drops them must not wipe the conditions and current metrics).
        annotations = obj.setdefault("metadata", {}).setdefault("annotations", {})
        old_annotations = (old.get("metadata") or {}).get("annotations") or {}
        for key in (CURRENT_METRICS_ANNOTATION, CONDITIONS_ANNOTATION):
            if key in old_annotations:
                annotations[key] = old_annotations[key]
            else:
                annotations.pop(key, None)
        if not annotations:
            obj["metadata"].pop("annotations")

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        return validate_hpa_spec(to_storage(obj).get("spec") or {}, "spec")

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        return _V2.row(to_storage(obj), now)


_V2 = HorizontalPodAutoscalerStrategy()

RESOURCE = ResourceType(
    group="autoscaling", version="v1", kind="HorizontalPodAutoscaler", plural="horizontalpodautoscalers",
    singular="horizontalpodautoscaler", namespaced=True, strategy=HorizontalPodAutoscalerV1Strategy(),
    schema="io.k8s.api.autoscaling.v1.HorizontalPodAutoscaler", short_names=("hpa",), categories=("all",),
    subresources=("status",), storage_resource="autoscaling/horizontalpodautoscalers",
    to_storage=to_storage, from_storage=from_storage,
)
