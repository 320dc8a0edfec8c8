"""Table-driven tests of node health, taints and toleration expiry."""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from kubelite.controllers.nodelifecycle import (TAINT_NOT_READY, TAINT_UNREACHABLE, desired_managed_taints,
                                                eviction_delay, eviction_time, reconcile_taints,
                                                unknown_conditions)

Obj = dict[str, Any]
T0 = dt.datetime(2025, 1, 1, 10, 0, tzinfo=dt.timezone.utc)
UNREACHABLE = {"key": TAINT_UNREACHABLE, "effect": "NoExecute", "timeAdded": "2025-01-01T10:00:00Z"}


def pod_with(*tolerations: Obj) -> Obj:
    return {"metadata": {"uid": "u"}, "spec": {"tolerations": list(tolerations)}}


@pytest.mark.parametrize("pod,taints,expected", [
    (pod_with(), [UNREACHABLE], 300.0),                                              # default toleration
    (pod_with({"key": TAINT_UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60}),
     [UNREACHABLE], 60.0),
    (pod_with({"key": TAINT_UNREACHABLE, "operator": "Exists", "effect": "NoExecute"}), [UNREACHABLE], None),
    (pod_with({"operator": "Exists"}), [UNREACHABLE, {"key": "custom", "effect": "NoExecute"}], None),
    (pod_with(), [{"key": "custom", "effect": "NoExecute"}], 0.0),                    # not tolerated: now
    (pod_with(), [{"key": "custom", "effect": "NoSchedule"}], None),                  # only NoExecute evicts
    (pod_with({"key": TAINT_UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 10},
              {"operator": "Exists"}), [UNREACHABLE], 10.0),                         # the shortest wins
    (pod_with({"key": TAINT_UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": -5}),
     [UNREACHABLE], 0.0),
])
def test_eviction_delay(pod: Obj, taints: list[Obj], expected: float | None) -> None:
    assert eviction_delay(pod, taints, 300) == expected


def test_eviction_time_from_taint_or_first_sight() -> None:
    p = pod_with({"key": TAINT_UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60})
    assert eviction_time(p, [UNREACHABLE], 300, first_seen=T0 - dt.timedelta(hours=1)) == T0 + dt.timedelta(seconds=60)
    # A pod that arrived after the taint gets its full toleration from its arrival.
    later = T0 + dt.timedelta(seconds=100)
    assert eviction_time(p, [UNREACHABLE], 300, first_seen=later) == later + dt.timedelta(seconds=60)
    # A taint without timeAdded counts from when it was first seen.
    bare = {"key": TAINT_UNREACHABLE, "effect": "NoExecute"}
    seen = {f"{TAINT_UNREACHABLE}:NoExecute": T0 + dt.timedelta(seconds=5)}
    assert eviction_time(pod_with(), [bare], 300, first_seen=T0, taint_seen=seen) == T0 + dt.timedelta(seconds=305)
    assert eviction_time(pod_with({"operator": "Exists"}), [UNREACHABLE], 300, first_seen=T0) is None


def node(ready: str | None = "True", *, taints: list[Obj] | None = None, unschedulable: bool = False,
         **conds: str) -> Obj:
    conditions = []
    if ready is not None:
        conditions.append({"type": "Ready", "status": ready, "lastHeartbeatTime": "2025-01-01T09:00:00Z",
                           "lastTransitionTime": "2025-01-01T08:00:00Z", "reason": "KubeletReady"})
    conditions += [{"type": t, "status": s} for t, s in conds.items()]
    spec: Obj = {"taints": taints or []}
    if unschedulable:
        spec["unschedulable"] = True
    return {"metadata": {"name": "n1", "creationTimestamp": "2025-01-01T07:00:00Z"}, "spec": spec,
            "status": {"conditions": conditions}}


@pytest.mark.parametrize("n,expected", [
    (node("True"), set()),
    (node("Unknown"), {(TAINT_UNREACHABLE, "NoSchedule"), (TAINT_UNREACHABLE, "NoExecute")}),
    (node("False"), {(TAINT_NOT_READY, "NoSchedule"), (TAINT_NOT_READY, "NoExecute")}),
    (node("True", MemoryPressure="True", DiskPressure="False"), {("node.kubernetes.io/memory-pressure", "NoSchedule")}),
    (node("True", unschedulable=True), {("node.kubernetes.io/unschedulable", "NoSchedule")}),
    (node(None), set()),
])
def test_desired_taints(n: Obj, expected: set[tuple[str, str]]) -> None:
    assert desired_managed_taints(n) == expected


def test_reconcile_taints_keeps_others_and_time_added() -> None:
    custom = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
    n = node("Unknown", taints=[custom, {"key": TAINT_UNREACHABLE, "effect": "NoSchedule",
                                         "timeAdded": "2025-01-01T09:59:00Z"}])
    new = reconcile_taints(n, T0)
    assert new == [custom, {"key": TAINT_UNREACHABLE, "effect": "NoSchedule", "timeAdded": "2025-01-01T09:59:00Z"},
                   {"key": TAINT_UNREACHABLE, "effect": "NoExecute", "timeAdded": "2025-01-01T10:00:00Z"}]
    assert reconcile_taints({**n, "spec": {"taints": new}}, T0) is None
    back = node("True", taints=new)
    assert reconcile_taints(back, T0) == [custom]


def test_unknown_conditions() -> None:
    n = node("True", MemoryPressure="False")
    conds = unknown_conditions(n, T0)
    assert conds is not None
    by_type = {c["type"]: c for c in conds}
    assert by_type["Ready"]["status"] == "Unknown"
    assert by_type["Ready"]["reason"] == "NodeStatusUnknown"
    assert by_type["Ready"]["message"] == "Kubelet stopped posting node status."
    assert by_type["Ready"]["lastHeartbeatTime"] == "2025-01-01T09:00:00Z"  # kept
    assert by_type["Ready"]["lastTransitionTime"] == "2025-01-01T10:00:00Z"
    assert by_type["DiskPressure"]["reason"] == "NodeStatusNeverUpdated"
    assert unknown_conditions({**n, "status": {"conditions": conds}}, T0) is None
    fresh = unknown_conditions(node(None), T0)
    assert fresh is not None and {c["reason"] for c in fresh} == {"NodeStatusNeverUpdated"}
