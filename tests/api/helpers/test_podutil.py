"""Pod readiness, availability, phases, conditions and container statuses (podutil), table-driven."""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from kubelite.api.helpers import podutil as P

Obj = dict[str, Any]
NOW = dt.datetime(2026, 1, 1, 10, 0, 10, tzinfo=dt.timezone.utc)


def pod(phase: str | None = "Running", ready: str | None = "True", since: str | None = "2026-01-01T10:00:00Z",
        deleting: bool = False) -> Obj:
    status: Obj = {}
    if phase:
        status["phase"] = phase
    if ready is not None:
        cond: Obj = {"type": "Ready", "status": ready}
        if since:
            cond["lastTransitionTime"] = since
        status["conditions"] = [{"type": "PodScheduled", "status": "True"}, cond]
    meta: Obj = {"name": "p"}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T10:00:05Z"
    return {"metadata": meta, "status": status}


@pytest.mark.parametrize("p,ready,avail0,avail5,avail10", [
    (pod(), True, True, True, False),                       # ready 10 s: > 5 s, not > 10 s (strict, as Kubernetes)
    (pod(ready="False"), False, False, False, False),
    (pod(ready="Unknown"), False, False, False, False),
    (pod(ready=None), False, False, False, False),
    (pod(since=None), True, True, False, False),           # no transition time: only minReadySeconds 0
    (pod(since="garbage"), True, True, False, False),
    ({"status": "junk"}, False, False, False, False),
    ({}, False, False, False, False),
])
def test_ready_and_available(p: Obj, ready: bool, avail0: bool, avail5: bool, avail10: bool) -> None:
    assert P.is_pod_ready(p) is ready
    assert P.is_pod_available(p, 0, NOW) is avail0
    assert P.is_pod_available(p, 5, NOW) is avail5
    assert P.is_pod_available(p, 10, NOW) is avail10


@pytest.mark.parametrize("p,phase,terminal,active", [
    (pod("Running"), "Running", False, True),
    (pod(None), "Pending", False, True),                    # no phase yet: Pending
    (pod("Succeeded"), "Succeeded", True, False),
    (pod("Failed"), "Failed", True, False),
    (pod("Running", deleting=True), "Running", False, False),
    (pod("Unknown"), "Unknown", False, True),
])
def test_phase(p: Obj, phase: str, terminal: bool, active: bool) -> None:
    assert P.pod_phase(p) == phase
    assert P.is_pod_terminal(p) is terminal
    assert P.is_pod_active(p) is active


@pytest.mark.parametrize("status,cond,changed,ltt", [
    ({}, {"type": "Ready", "status": "False"}, True, "T1"),
    ({"conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": "T0"}]},
     {"type": "Ready", "status": "False"}, False, "T0"),
    ({"conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": "T0"}]},
     {"type": "Ready", "status": "False", "reason": "PodCompleted"}, True, "T0"),
    ({"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "T0"}]},
     {"type": "Ready", "status": "False"}, True, "T1"),
    ({"conditions": None}, {"type": "Ready", "status": "True"}, True, "T1"),
])
def test_update_pod_condition(status: Obj, cond: Obj, changed: bool, ltt: str) -> None:
    assert P.update_pod_condition(status, cond, "T1") is changed
    assert P.get_pod_condition({"status": status}, "Ready")["lastTransitionTime"] == ltt  # type: ignore[index]


STATUSES = {"spec": {"containers": [{"name": "app"}, {"name": "side"}]},
            "status": {"containerStatuses": [{"name": "app", "ready": True}, {"name": "side", "ready": False}, "junk"],
                       "initContainerStatuses": [{"name": "init", "ready": False}],
                       "ephemeralContainerStatuses": [{"name": "debug"}]}}


@pytest.mark.parametrize("name,found", [("app", True), ("init", True), ("debug", True), ("nope", False)])
def test_get_container_status(name: str, found: bool) -> None:
    cs = P.get_container_status(STATUSES, name)
    assert (cs is not None and cs["name"] == name) is found


@pytest.mark.parametrize("p,expected", [
    (STATUSES, False),
    ({"spec": {"containers": [{"name": "app"}]}, "status": STATUSES["status"]}, True),
    ({"spec": {"containers": [{"name": "x"}]}, "status": {}}, False),
    ({"spec": {"containers": []}, "status": {}}, True),
])
def test_all_containers_ready(p: Obj, expected: bool) -> None:
    assert P.all_containers_ready(p) is expected


@pytest.mark.parametrize("gates,conditions,expected", [
    ([], [], None),
    ([{"conditionType": "example.com/lb"}], [{"type": "example.com/lb", "status": "True"}], None),
    ([{"conditionType": "example.com/lb"}], [],
     'corresponding condition of pod readiness gate "example.com/lb" does not exist.'),
    ([{"conditionType": "example.com/lb"}], [{"type": "example.com/lb", "status": "False"}],
     'the status of pod readiness gate "example.com/lb" is not "True", but False'),
    ([None], ["junk"], 'corresponding condition of pod readiness gate "None" does not exist.'),
])
def test_readiness_gate_problem(gates: list[Any], conditions: list[Any], expected: str | None) -> None:
    assert P.readiness_gate_problem({"spec": {"readinessGates": gates}, "status": {"conditions": conditions}}) == expected
