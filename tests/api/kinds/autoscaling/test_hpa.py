"""HPAs: v2 defaults and validation, the v1 <-> v2 conversion through one storage, columns."""
from __future__ import annotations

import copy

import pytest

from kubelite.api.kinds.autoscaling import hpa_v1
from kubelite.api.kinds.autoscaling.hpa import RESOURCE as HPA_V2
from kubelite.api.kinds.autoscaling.hpa_v1 import RESOURCE as HPA_V1, from_storage, to_storage
from tests.api.kinds.kindtest import create, created, fields, meta, row, update

REF = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}


def v1(**spec: object) -> dict:
    return {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": meta(),
            "spec": {"scaleTargetRef": REF, "maxReplicas": 5, **spec}}


def v2(**spec: object) -> dict:
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": meta(),
            "spec": {"scaleTargetRef": REF, "maxReplicas": 5, **spec}}


def cpu(percent: int) -> dict:
    return {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                       "averageUtilization": percent}}}


MEMORY = {"type": "Resource", "resource": {"name": "memory",
                                           "target": {"type": "AverageValue", "averageValue": "100Mi"}}}
PODS = {"type": "Pods", "pods": {"metric": {"name": "rps"}, "target": {"type": "AverageValue", "averageValue": "10"}}}
EXTERNAL = {"type": "External", "external": {"metric": {"name": "queue", "selector": {"matchLabels": {"q": "a"}}},
                                             "target": {"type": "Value", "value": "30"}}}
OBJECT = {"type": "Object", "object": {"describedObject": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                                                           "name": "main"},
                                       "metric": {"name": "hits"}, "target": {"type": "AverageValue",
                                                                              "averageValue": "2k"}}}


def test_v2_defaults() -> None:
    h = created(HPA_V2, v2())
    assert h["spec"]["minReplicas"] == 1
    assert h["spec"]["metrics"] == [cpu(80)]
    assert h["status"] == {"desiredReplicas": 0}


def test_v2_behavior_defaults_fill_gaps_only() -> None:
    h = created(HPA_V2, v2(behavior={"scaleDown": {"stabilizationWindowSeconds": 60}}))
    b = h["spec"]["behavior"]
    assert b["scaleDown"] == {"stabilizationWindowSeconds": 60, "selectPolicy": "Max",
                              "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}
    assert b["scaleUp"]["policies"] == [{"type": "Pods", "value": 4, "periodSeconds": 15},
                                        {"type": "Percent", "value": 100, "periodSeconds": 15}]
    assert "behavior" not in created(HPA_V2, v2())["spec"]


@pytest.mark.parametrize("spec,expected", [
    ({"minReplicas": 0}, ["spec.minReplicas"]),
    ({"minReplicas": 6}, ["spec.maxReplicas"]),
    ({"maxReplicas": 0}, ["spec.maxReplicas"]),
    ({"scaleTargetRef": {"kind": "Deployment"}}, ["spec.scaleTargetRef.name"]),
    ({"metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization"}}}]},
     ["spec.metrics[0].resource.target.averageUtilization"]),
    ({"metrics": [{"type": "Pods", "resource": {"name": "cpu"}}]},
     ["spec.metrics[0].resource", "spec.metrics[0].pods"]),
    ({"metrics": [{"type": "Magic"}]}, ["spec.metrics[0].type"]),
    ({"metrics": [{"type": "External", "external": {"metric": {"name": "q"}, "target": {"type": "Value",
                                                                                       "value": "-1"}}}]},
     ["spec.metrics[0].external.target.value"]),
    ({"behavior": {"scaleUp": {"policies": [{"type": "Pods", "value": 0, "periodSeconds": 1900}]}}},
     ["spec.behavior.scaleUp.policies[0].value", "spec.behavior.scaleUp.policies[0].periodSeconds"]),
])
def test_v2_invalid(spec: dict, expected: list[str]) -> None:
    assert fields(create(HPA_V2, v2(**spec))) == expected


def test_kubectl_autoscale_v1_reads_back_as_v2() -> None:
    h = v1(targetCPUUtilizationPercentage=60)
    assert create(HPA_V1, h) == []
    stored = to_storage(h)
    assert stored["apiVersion"] == "autoscaling/v2"
    assert stored["spec"] == {"scaleTargetRef": REF, "minReplicas": 1, "maxReplicas": 5, "metrics": [cpu(60)]}
    assert stored["status"] == {"currentReplicas": 0, "desiredReplicas": 0}


def test_v1_without_target_means_80_percent_cpu() -> None:
    assert to_storage(v1())["spec"]["metrics"] == [cpu(80)]


def test_v2_only_fields_survive_a_v1_round_trip() -> None:
    stored = created(HPA_V2, v2(metrics=[MEMORY, PODS, EXTERNAL, OBJECT, cpu(70)],
                                behavior={"scaleUp": {"selectPolicy": "Disabled"}}))
    stored["status"] = {"currentReplicas": 2, "desiredReplicas": 3,
                        "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {
                            "averageUtilization": 55, "averageValue": "120m"}}}],
                        "conditions": [{"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale",
                                        "lastTransitionTime": "2024-05-01T11:56:00Z"}]}
    as_v1 = from_storage(copy.deepcopy(stored))
    assert as_v1["spec"]["targetCPUUtilizationPercentage"] == 70
    assert as_v1["status"] == {"currentReplicas": 2, "desiredReplicas": 3, "currentCPUUtilizationPercentage": 55}
    assert set(as_v1["metadata"]["annotations"]) == set(hpa_v1.ROUND_TRIP_ANNOTATIONS)
    back = to_storage(as_v1)
    assert back["spec"] == stored["spec"]  # CPU was last, so the order survives too
    assert back["status"] == stored["status"]
    assert "annotations" not in back["metadata"]


def test_v1_metric_annotation_uses_v1_metric_shapes() -> None:
    as_v1 = from_storage(created(HPA_V2, v2(metrics=[MEMORY, PODS])))
    import json
    assert json.loads(as_v1["metadata"]["annotations"][hpa_v1.METRICS_ANNOTATION]) == [
        {"type": "Resource", "resource": {"name": "memory", "targetAverageValue": "100Mi"}},
        {"type": "Pods", "pods": {"metricName": "rps", "targetAverageValue": "10"}},
    ]


def test_v1_update_cannot_drop_status_annotations() -> None:
    stored = created(HPA_V2, v2())
    stored["status"]["conditions"] = [{"type": "ScalingActive", "status": "True"}]
    old = from_storage(stored)
    new = copy.deepcopy(old)
    del new["metadata"]["annotations"]
    new["spec"]["maxReplicas"] = 7
    assert update(HPA_V1, new, old) == []
    assert to_storage(new)["status"]["conditions"] == [{"type": "ScalingActive", "status": "True"}]


def test_v1_validation_uses_v2_rules() -> None:
    assert fields(create(HPA_V1, v1(targetCPUUtilizationPercentage=0))) == \
        ["spec.metrics[0].resource.target.averageUtilization"]


def test_columns() -> None:
    h = created(HPA_V2, v2(metrics=[cpu(80), MEMORY, PODS]))
    h["status"] = {"currentReplicas": 2, "desiredReplicas": 2, "currentMetrics": [
        {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 12}}}]}
    assert row(HPA_V2, h) == {"Name": "web", "Reference": "Deployment/web",
                              "Targets": "cpu: 12%/80%, memory: <unknown>/100Mi + 1 more...",
                              "MinPods": "1", "MaxPods": 5, "Replicas": 2, "Age": "5m"}
    # Through v1 the CPU metric moves last while statuses stay in place; like kubectl, cells pair
    # metrics and statuses by position (and v1's non-optional averageValue reads back as 0).
    assert row(HPA_V1, from_storage(h))["Targets"] == "memory: 0/100Mi, <unknown>/10 + 1 more..."


def test_one_storage_for_both_versions() -> None:
    assert HPA_V1.storage_resource == HPA_V2.storage_resource == "autoscaling/horizontalpodautoscalers"
    assert HPA_V2.to_storage is None and HPA_V1.to_storage is to_storage
    assert HPA_V1.short_names == HPA_V2.short_names == ("hpa",)
