"""Pod phase, conditions and container statuses from container views (pure)."""
from __future__ import annotations

import pytest

from kubelite.kubelet.pods.backoff import CrashBackoff, backoff_message
from kubelite.kubelet.pods.status import Attempt, ContainerView, PodFacts, container_status, phase, pod_status


def running(name: str = "c", ready: bool = True, started: bool = True) -> ContainerView:
    return ContainerView(name, "img", current=Attempt("fake://1", 0, True, started_at=1000.0), ready=ready,
                         started=started)


def exited(name: str = "c", code: int = 0, waiting: str = "", restarting: bool = False) -> ContainerView:
    return ContainerView(name, "img", current=Attempt("fake://1", 0, False, started_at=1000.0, finished_at=1010.0,
                                                      exit_code=code), waiting_reason=waiting, restarting=restarting)


def waiting(name: str = "c") -> ContainerView:
    return ContainerView(name, "img", waiting_reason="ContainerCreating")


def sidecar(run: bool = True) -> ContainerView:
    v = running("side") if run else waiting("side")
    v.sidecar = True
    return v


@pytest.mark.parametrize("policy,inits,containers,init_failed,want", [
    ("Always", [], [waiting()], False, "Pending"),
    ("Always", [], [running()], False, "Running"),
    ("Always", [running("i", started=True)], [waiting()], False, "Pending"),      # init container still running
    ("Always", [exited("i", 0)], [running()], False, "Running"),
    ("Never", [exited("i", 1)], [waiting()], True, "Failed"),
    ("Never", [], [exited("a", 0), exited("b", 1)], False, "Failed"),
    ("Never", [], [exited("a", 0), exited("b", 0)], False, "Succeeded"),
    ("OnFailure", [], [exited("a", 0)], False, "Succeeded"),
    ("OnFailure", [], [exited("a", 1, "CrashLoopBackOff", restarting=True)], False, "Running"),
    ("Always", [], [exited("a", 1, "CrashLoopBackOff", restarting=True)], False, "Running"),
    ("Always", [], [exited("a", 0)], False, "Running"),
    ("Never", [], [running("a"), exited("b", 1)], False, "Running"),
    ("Never", [sidecar()], [exited("a", 0)], False, "Succeeded"),                   # sidecars don't hold a pod
    ("Always", [sidecar(run=False)], [waiting()], False, "Pending"),
])
def test_phase(policy: str, inits: list, containers: list, init_failed: bool, want: str) -> None:
    assert phase(policy, inits, containers, init_failed) == want


def test_container_status_shapes() -> None:
    v = running()
    v.previous = Attempt("fake://0", 0, False, started_at=900.0, finished_at=950.0, exit_code=2)
    v.restart_count = 1
    s = container_status(v)
    assert s["state"] == {"running": {"startedAt": "1970-01-01T00:16:40Z"}}
    assert s["lastState"]["terminated"]["exitCode"] == 2
    assert s["lastState"]["terminated"]["reason"] == "Error"
    assert s["ready"] and s["started"] and s["restartCount"] == 1 and s["containerID"] == "fake://1"
    crash = exited("c", 1, "CrashLoopBackOff")
    crash.waiting_message = "back-off 10s ..."
    s = container_status(crash)
    assert s["state"] == {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s ..."}}
    assert s["lastState"]["terminated"]["exitCode"] == 1
    assert not s["ready"] and not s["started"]
    s = container_status(waiting())
    assert s["state"] == {"waiting": {"reason": "ContainerCreating"}} and "containerID" not in s
    s = container_status(exited("c", 0))
    assert s["state"]["terminated"]["reason"] == "Completed"


def conds(status: dict) -> dict:
    return {c["type"]: (c["status"], c.get("reason", ""), c.get("message", "")) for c in status["conditions"]}


POD = {"metadata": {"name": "p"}, "spec": {"restartPolicy": "Always"},
       "status": {"conditions": [{"type": "PodScheduled", "status": "True"}]}}


def facts(**kw: object) -> PodFacts:
    return PodFacts(host_ip="1.2.3.4", pod_ip="1.2.3.4", start_time="2026-01-01T00:00:00Z", sandbox_ready=True, **kw)


def test_conditions_ready_and_unready() -> None:
    st = pod_status(POD, [], [running("a"), running("b", ready=False)], facts(), "NOW")
    c = conds(st)
    assert c["Ready"] == ("False", "ContainersNotReady", "containers with unready status: [b]")
    assert c["ContainersReady"] == c["Ready"]
    assert c["Initialized"][0] == "True" and c["PodReadyToStartContainers"][0] == "True"
    assert c["PodScheduled"][0] == "True"                    # kept as the scheduler wrote it
    st = pod_status(POD, [], [running("a"), running("b")], facts(), "NOW")
    assert conds(st)["Ready"][0] == "True"


def test_conditions_initializing_and_completed() -> None:
    st = pod_status(POD, [running("init-1")], [waiting("a")], facts(), "NOW")
    c = conds(st)
    assert st["phase"] == "Pending"
    assert c["Initialized"] == ("False", "ContainersNotInitialized", "containers with incomplete status: [init-1]")
    done = {**POD, "spec": {"restartPolicy": "Never"}}
    st = pod_status(done, [exited("init-1")], [exited("a")], facts(), "NOW")
    c = conds(st)
    assert st["phase"] == "Succeeded"
    assert c["Ready"] == ("False", "PodCompleted", "") and c["ContainersReady"] == ("False", "PodCompleted", "")
    assert c["Initialized"] == ("True", "PodCompleted", "")
    assert c["PodReadyToStartContainers"][0] == "False"


def test_transition_time_kept_while_status_unchanged() -> None:
    first = pod_status(POD, [], [running()], facts(), "T1")
    again = pod_status({**POD, "status": first}, [], [running()], facts(), "T2")
    assert again["conditions"] == first["conditions"]
    flipped = pod_status({**POD, "status": first}, [], [running(ready=False)], facts(), "T3")
    assert conds(flipped)["Ready"][0] == "False"
    assert next(c for c in flipped["conditions"] if c["type"] == "Ready")["lastTransitionTime"] == "T3"


def test_readiness_gates() -> None:
    gated = {**POD, "spec": {"readinessGates": [{"conditionType": "example.com/lb"}]}}
    st = pod_status(gated, [], [running()], facts(), "NOW")
    assert conds(st)["Ready"][:2] == ("False", "ReadinessGatesNotReady")
    assert conds(st)["ContainersReady"][0] == "True"


def test_backoff_windows() -> None:
    b = CrashBackoff()
    key = "uid/c"
    assert b.wait_left(key, 0.0, 0.0) == 0          # first exit: restart at once
    b.next(key, 0.0)
    assert b.wait_left(key, 1.0, 1.0) == 10.0        # second exit: wait 10 s
    b.next(key, 11.0)
    assert b.delay(key) == 20.0
    for t in range(5):
        b.next(key, 12.0 + t)
    assert b.delay(key) == 300.0                     # capped at 5 min
    assert b.wait_left(key, 100.0, 100.0 + 601) == 0   # a long stable run forgets the history


@pytest.mark.parametrize("window,want", [(10, "10s"), (20, "20s"), (80, "1m20s"), (300, "5m0s")])
def test_backoff_message(window: float, want: str) -> None:
    assert backoff_message(window, "app", "web", "default", "u1") == \
        f"back-off {want} restarting failed container=app pod=web_default(u1)"
