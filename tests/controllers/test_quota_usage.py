"""Table-driven tests of ResourceQuota usage computation."""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from kubelite.controllers.resourcequota import (needed_resources, parse_count_name, pod_amounts,
                                                pod_counts_for_quota, quota_usage, usage_equal)

Obj = dict[str, Any]
NOW = dt.datetime(2025, 1, 1, 12, 0, tzinfo=dt.timezone.utc)


def mkpod(requests: dict[str, str] | None = None, limits: dict[str, str] | None = None, *, phase: str = "Running",
          deletion: str | None = None, grace: int | None = None, **spec: Any) -> Obj:
    res: Obj = {}
    if requests:
        res["requests"] = requests
    if limits:
        res["limits"] = limits
    meta: Obj = {"name": "p", "namespace": "ns"}
    if deletion:
        meta["deletionTimestamp"] = deletion
        meta["deletionGracePeriodSeconds"] = grace
    return {"metadata": meta, "spec": {"containers": [{"name": "c", "resources": res}], **spec},
            "status": {"phase": phase}}


def test_module_example() -> None:
    pods = [mkpod({"cpu": "500m"}), mkpod({"cpu": "250m"}), mkpod({"cpu": "1"}, phase="Succeeded")]
    assert quota_usage({"pods": "4", "requests.cpu": "2"}, {("pods", ""): pods}, now=NOW) == \
        {"pods": "2", "requests.cpu": "750m"}


@pytest.mark.parametrize("hard,pods,expected", [
    ({"cpu": "4", "memory": "1Gi"}, [mkpod({"cpu": "1", "memory": "128Mi"}), mkpod({"cpu": "1.5", "memory": "128Mi"})],
     {"cpu": "2500m", "memory": "256Mi"}),
    ({"limits.cpu": "4", "limits.memory": "2Gi"}, [mkpod(limits={"cpu": "2", "memory": "1Gi"}), mkpod()],
     {"limits.cpu": "2", "limits.memory": "1Gi"}),
    ({"requests.nvidia.com/gpu": "4"}, [mkpod({"nvidia.com/gpu": "1"})], {"requests.nvidia.com/gpu": "1"}),
    ({"count/pods": "10", "pods": "10"}, [mkpod(), mkpod(phase="Failed")], {"count/pods": "1", "pods": "1"}),
    ({"pods": "10"}, [], {"pods": "0"}),
])
def test_pod_usage(hard: dict[str, str], pods: list[Obj], expected: dict[str, str]) -> None:
    assert quota_usage(hard, {("pods", ""): pods}, now=NOW) == expected


def test_init_container_counts_when_it_alone_needs_more() -> None:
    p = mkpod({"cpu": "100m"})
    p["spec"]["initContainers"] = [{"name": "big", "resources": {"requests": {"cpu": "1"}}},
                                   {"name": "sidecar", "restartPolicy": "Always",
                                    "resources": {"requests": {"cpu": "200m"}}}]
    # Sidecar (after "big") runs with the containers: 100m + 200m = 300m; "big" alone: 1.
    assert str(pod_amounts(p, "requests")["cpu"]) == "1"
    p["spec"]["initContainers"][0]["resources"]["requests"]["cpu"] = "250m"
    assert str(pod_amounts(p, "requests")["cpu"]) == "300m"
    p["spec"]["overhead"] = {"cpu": "50m"}
    assert str(pod_amounts(p, "requests")["cpu"]) == "350m"


@pytest.mark.parametrize("deletion,grace,expected", [
    (None, None, True),
    ("2025-01-01T11:59:50Z", 30, True),    # deletion time + grace is still ahead
    ("2025-01-01T11:59:00Z", 30, False),   # past deletion time + grace
])
def test_terminating_pods_count_until_grace_ends(deletion: str | None, grace: int | None, expected: bool) -> None:
    assert pod_counts_for_quota(mkpod(deletion=deletion, grace=grace), NOW) is expected


@pytest.mark.parametrize("scopes,selector,expected_pods", [
    (["BestEffort"], None, "1"),
    (["NotBestEffort"], None, "2"),
    (["Terminating"], None, "1"),
    (["NotTerminating"], None, "2"),
    ([], {"matchExpressions": [{"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]}, "1"),
    ([], {"matchExpressions": [{"scopeName": "PriorityClass", "operator": "DoesNotExist"}]}, "2"),
    ([], {"matchExpressions": [{"scopeName": "BestEffort", "operator": "Exists"}]}, "1"),
])
def test_scopes(scopes: list[str], selector: Obj | None, expected_pods: str) -> None:
    pods = [mkpod(), mkpod({"cpu": "1"}, activeDeadlineSeconds=30), mkpod({"cpu": "1"}, priorityClassName="high")]
    assert quota_usage({"pods": "9"}, {("pods", ""): pods}, now=NOW, scopes=scopes,
                       scope_selector=selector)["pods"] == expected_pods


def test_services_and_claims_and_counts() -> None:
    services: list[Obj] = [{"spec": {"type": "ClusterIP", "ports": [{"port": 80}]}},
                {"spec": {"type": "NodePort", "ports": [{"port": 80}, {"port": 443}]}},
                {"spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}},
                {"spec": {"type": "LoadBalancer", "allocateLoadBalancerNodePorts": False, "ports": [{"port": 80}]}}]
    claims: list[Obj] = [{"spec": {"storageClassName": "fast", "resources": {"requests": {"storage": "1Gi"}}}},
              {"spec": {"resources": {"requests": {"storage": "512Mi"}}}}]
    deployments = [{"metadata": {"name": "a"}}, {"metadata": {"name": "b"}}]
    hard = {"services": "10", "services.nodeports": "10", "services.loadbalancers": "2",
            "persistentvolumeclaims": "5", "requests.storage": "10Gi",
            "fast.storageclass.storage.k8s.io/requests.storage": "5Gi",
            "fast.storageclass.storage.k8s.io/persistentvolumeclaims": "1",
            "count/deployments.apps": "5", "configmaps": "3", "count/configmaps": "3"}
    used = quota_usage(hard, {("services", ""): services, ("persistentvolumeclaims", ""): claims,
                              ("deployments", "apps"): deployments, ("configmaps", ""): [{}, {}]}, now=NOW)
    assert used == {"services": "4", "services.nodeports": "3", "services.loadbalancers": "2",
                    "persistentvolumeclaims": "2", "requests.storage": "1536Mi",
                    "fast.storageclass.storage.k8s.io/requests.storage": "1Gi",
                    "fast.storageclass.storage.k8s.io/persistentvolumeclaims": "1",
                    "count/deployments.apps": "2", "configmaps": "2", "count/configmaps": "2"}


def test_needed_resources_and_count_names() -> None:
    assert parse_count_name("count/deployments.apps") == ("deployments", "apps")
    assert parse_count_name("count/widgets.example.com") == ("widgets", "example.com")
    assert parse_count_name("count/pods") == ("pods", "")
    assert parse_count_name("pods") is None
    assert needed_resources({"cpu": "1", "services.nodeports": "1", "requests.storage": "1",
                             "count/jobs.batch": "1", "secrets": "1"}) == \
        {("pods", ""), ("services", ""), ("persistentvolumeclaims", ""), ("jobs", "batch"), ("secrets", "")}


def test_usage_equal_compares_values() -> None:
    assert usage_equal({"cpu": "1000m"}, {"cpu": "1"})
    assert not usage_equal({"cpu": "1"}, {"cpu": "2"})
    assert not usage_equal({"cpu": "1"}, {"memory": "1"})
