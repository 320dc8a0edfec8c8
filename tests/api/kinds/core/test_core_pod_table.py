"""``kubectl get pods`` cells for realistic pod states (printPod semantics)."""
from __future__ import annotations

import pytest

from kubelite.api.kinds.core.pod import POD
from tests.api.kinds.core.builders import NOW, container, pod, with_status

RUNNING = {"running": {"startedAt": "2024-05-01T11:56:00Z"}}


def cs(name: str = "app", ready: bool = True, restarts: int = 0, state: dict | None = None,
       last: dict | None = None, **extra: object) -> dict:
    out = {"name": name, "ready": ready, "restartCount": restarts, "state": state or RUNNING, **extra}
    if last:
        out["lastState"] = last
    return out


def row(p: dict) -> list:
    return POD.strategy.row(p, NOW)


def test_columns_match_kubectl() -> None:
    cols = POD.strategy.columns
    assert [c.name for c in cols] == ["Name", "Ready", "Status", "Restarts", "Age", "IP", "Node", "Nominated Node",
                                      "Readiness Gates"]
    assert [c.priority for c in cols] == [0, 0, 0, 0, 0, 1, 1, 1, 1]
    assert cols[0].format == "name"


def test_pending_unscheduled() -> None:
    p = with_status(pod(), phase="Pending")
    assert row(p) == ["web", "0/1", "Pending", "0", "5m", "<none>", "<none>", "<none>", "<none>"]


def test_running_ready_with_ip_and_node() -> None:
    p = with_status(pod(nodeName="n1"), phase="Running", podIP="10.244.0.7", podIPs=[{"ip": "10.244.0.7"}],
                    containerStatuses=[cs()])
    assert row(p) == ["web", "1/1", "Running", "0", "5m", "10.244.0.7", "n1", "<none>", "<none>"]


@pytest.mark.parametrize("statuses,expected", [
    ([cs(ready=False, state={"waiting": {"reason": "ContainerCreating"}})], ("0/1", "ContainerCreating")),
    ([cs(ready=False, state={"waiting": {"reason": "CrashLoopBackOff"}}, restarts=3,
         last={"terminated": {"exitCode": 1, "finishedAt": "2024-05-01T11:58:00Z"}})], ("0/1", "CrashLoopBackOff")),
    ([cs(ready=False, state={"terminated": {"exitCode": 0, "reason": "Completed"}})], ("0/1", "Completed")),
    ([cs(ready=False, state={"terminated": {"exitCode": 2}})], ("0/1", "ExitCode:2")),
    ([cs(ready=False, state={"terminated": {"exitCode": 137, "signal": 9}})], ("0/1", "Signal:9")),
])
def test_container_reasons(statuses: list, expected: tuple) -> None:
    p = with_status(pod(), phase="Running", containerStatuses=statuses)
    r = row(p)
    assert (r[1], r[2]) == expected


def test_restarts_with_last_restart_age() -> None:
    p = with_status(pod(), phase="Running", containerStatuses=[
        cs(restarts=2, last={"terminated": {"exitCode": 1, "finishedAt": "2024-05-01T11:55:00Z"}})])
    assert row(p)[3] == "2 (5m ago)"


def test_completed_next_to_running_is_running_or_not_ready() -> None:
    statuses = [cs("a", ready=True), cs("b", ready=False, state={"terminated": {"exitCode": 0, "reason": "Completed"}})]
    p = with_status(pod(container("a"), container("b")), phase="Running", containerStatuses=statuses,
                    conditions=[{"type": "Ready", "status": "True"}])
    # containers are walked last-to-first: b's "Completed" is seen, then a is running
    assert row(p)[1:3] == ["1/2", "Running"]
    p["status"]["conditions"] = []
    assert row(p)[2] == "NotReady"


@pytest.mark.parametrize("init_statuses,expected", [
    ([cs("i1", ready=False, state={"waiting": {"reason": "PodInitializing"}})], "Init:0/2"),
    ([cs("i1", ready=False, state={"terminated": {"exitCode": 0}}),
      cs("i2", ready=False, state={"running": {}})], "Init:1/2"),
    ([cs("i1", ready=False, state={"waiting": {"reason": "ImagePullBackOff"}})], "Init:ImagePullBackOff"),
    ([cs("i1", ready=False, state={"terminated": {"exitCode": 3}})], "Init:ExitCode:3"),
    ([cs("i1", ready=False, state={"terminated": {"exitCode": 1, "reason": "Error"}})], "Init:Error"),
])
def test_init_container_status(init_statuses: list, expected: str) -> None:
    p = with_status(pod(initContainers=[container("i1"), container("i2")]), phase="Pending",
                    initContainerStatuses=init_statuses,
                    containerStatuses=[cs(ready=False, state={"waiting": {"reason": "PodInitializing"}})])
    assert row(p)[2] == expected


def test_sidecar_counts_toward_ready_total() -> None:
    p = with_status(pod(initContainers=[container("proxy", restartPolicy="Always")]), phase="Running",
                    initContainerStatuses=[cs("proxy", started=True)], containerStatuses=[cs()])
    assert row(p)[1:3] == ["2/2", "Running"]


def test_terminating_and_gated() -> None:
    p = with_status(pod(), phase="Running", containerStatuses=[cs()])
    p["metadata"]["deletionTimestamp"] = "2024-05-01T11:59:00Z"
    assert row(p)[2] == "Terminating"
    p["status"]["phase"] = "Succeeded"
    p["status"]["containerStatuses"] = [cs(ready=False, state={"terminated": {"exitCode": 0, "reason": "Completed"}})]
    assert row(p)[2] == "Completed"  # a finished pod is not "Terminating"
    g = with_status(pod(), phase="Pending", conditions=[{"type": "PodScheduled", "status": "False",
                                                         "reason": "SchedulingGated"}])
    assert row(g)[2] == "SchedulingGated"


def test_pod_level_reason_and_readiness_gates() -> None:
    p = with_status(pod(readinessGates=[{"conditionType": "example.com/a"}, {"conditionType": "example.com/b"}]),
                    phase="Failed", reason="Evicted",
                    conditions=[{"type": "example.com/a", "status": "True"}])
    r = row(p)
    assert r[2] == "Evicted"
    assert r[8] == "1/2"
