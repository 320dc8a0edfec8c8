"""The pod status the kubelet reports, computed from what it knows of each container (pure).

The pod worker keeps one ``ContainerView`` per spec container (its current attempt from the
runtime, the last exited attempt, restart count, probe results, a waiting reason of its own
such as CrashLoopBackOff) and calls ``pod_status(...)``; the result is compared with what the
API holds and written only when it differs. Semantics follow the kubelet
(``pkg/kubelet/kubelet_pods.go`` getPhase / convertToAPIContainerStatuses and
``pkg/kubelet/status/generate.go``):

- phase: Pending while init containers run or a container waits for its first start; Running
  while any container runs or will be restarted; Succeeded when every container exited 0 and
  none will restart; Failed when all stopped, none will restart and one exited non-zero (or an
  init container failed under restartPolicy Never).
- conditions: PodReadyToStartContainers (sandbox up), Initialized ("containers with incomplete
  status: [a b]"), ContainersReady / Ready ("containers with unready status: [a]", reason
  ContainersNotReady; PodCompleted once terminal), PodScheduled kept as the scheduler wrote it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from kubelite.api.helpers.conditions import transition_time
from kubelite.api.helpers.podutil import readiness_gate_problem
from kubelite.api.helpers.times import format_unix_time

Obj = dict[str, Any]
KUBELET_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady")


@dataclass
class Attempt:
    """One run of a container as the runtime reported it."""

    container_id: str            # "process://abc..." (runtime name + id)
    attempt: int
    running: bool
    started_at: float = 0.0
    finished_at: float = 0.0
    exit_code: int = 0
    reason: str = ""
    message: str = ""
    image: str = ""
    image_id: str = ""


@dataclass
class ContainerView:
    """What the pod worker knows of one spec container."""

    name: str
    image: str
    current: Attempt | None = None       # the newest attempt (running or exited)
    previous: Attempt | None = None      # the one before (lastState)
    restart_count: int = 0
    waiting_reason: str = ""             # set while no attempt runs: ContainerCreating,
    waiting_message: str = ""            # CrashLoopBackOff, CreateContainerConfigError...
    started: bool = False                # startup probe passed (or none): liveness/readiness run
    ready: bool = False                  # readiness probe (or running with none)
    sidecar: bool = False
    ephemeral: bool = False              # spec.ephemeralContainers: never ready, never restarted
    restarting: bool = False             # exited, and the restart policy will run it again
    failed_at: float = 0.0               # when the last start attempt failed (config, image, create)


def terminated(a: Attempt) -> Obj:
    out: Obj = {"exitCode": a.exit_code, "reason": a.reason or ("Completed" if a.exit_code == 0 else "Error"),
                "startedAt": format_unix_time(a.started_at) if a.started_at else None,
                "finishedAt": format_unix_time(a.finished_at) if a.finished_at else None,
                "containerID": a.container_id}
    if a.message:
        out["message"] = a.message
    return out


def container_status(v: ContainerView) -> Obj:
    """One entry of containerStatuses / initContainerStatuses / ephemeralContainerStatuses, as
    kubectl shows it (an ephemeral container is never ready: it has no readiness)."""
    cur = v.current
    state: Obj
    last: Obj = {}
    if cur is not None and cur.running:
        state = {"running": {"startedAt": format_unix_time(cur.started_at)}}
        if v.previous is not None:
            last = {"terminated": terminated(v.previous)}
    elif cur is not None and not v.waiting_reason:
        state = {"terminated": terminated(cur)}
        if v.previous is not None:
            last = {"terminated": terminated(v.previous)}
    else:
        waiting: Obj = {"reason": v.waiting_reason or "ContainerCreating"}
        if v.waiting_message:
            waiting["message"] = v.waiting_message
        state = {"waiting": waiting}
        if cur is not None:  # waiting to restart: the last run is lastState
            last = {"terminated": terminated(cur)}
    running = cur is not None and cur.running
    out: Obj = {"name": v.name, "state": state, "lastState": last,
                "ready": bool(running and v.ready and not v.ephemeral), "restartCount": v.restart_count,
                "image": (cur.image if cur is not None and cur.image else v.image),
                "imageID": cur.image_id if cur is not None else "",
                "started": bool(running and v.started)}
    if cur is not None:
        out["containerID"] = cur.container_id
    return out


def init_done(v: ContainerView) -> bool:
    """An init container is done when it exited 0; a sidecar once it runs and started."""
    if v.sidecar:
        return v.current is not None and v.current.running and v.started
    return v.current is not None and not v.current.running and v.current.exit_code == 0 and not v.waiting_reason


def any_regular_started(containers: Sequence[ContainerView]) -> bool:
    return any(v.current is not None for v in containers)


def phase(restart_policy: str, inits: Sequence[ContainerView], containers: Sequence[ContainerView],
          init_failed: bool) -> str:
    """The pod phase (kubelet getPhase).

    Examples: init container running -> Pending; two containers, one running -> Running;
    restartPolicy Never, one exited 0 and one 1 -> Failed; Always, one in CrashLoopBackOff ->
    Running; OnFailure, all exited 0 -> Succeeded.
    """
    if init_failed:
        return "Failed"
    # Once a regular container started, the pod is initialized for good (a sidecar stopping at
    # the end, or an init container's record being gone, does not make it Pending again).
    if not any_regular_started(containers) and not all(init_done(v) for v in inits):
        return "Pending"
    running = waiting = stopped = succeeded = 0
    for v in containers:
        cur = v.current
        if cur is not None and cur.running:
            running += 1
        elif cur is not None and not v.waiting_reason:
            stopped += 1
            if cur.exit_code == 0:
                succeeded += 1
        elif cur is not None:  # waiting to restart after a run (CrashLoopBackOff)
            stopped += 1
        else:
            waiting += 1
    if waiting:
        return "Pending"
    if running:
        return "Running"
    if restart_policy == "Always":
        return "Running"
    if any(v.restarting for v in containers):
        return "Running"
    if stopped == succeeded:
        return "Succeeded"
    return "Failed"


def _cond(ctype: str, status: str, old: Mapping[str, Mapping[str, Any]], now: str,
          reason: str = "", message: str = "") -> Obj:
    prev = old.get(ctype)
    c: Obj = {"type": ctype, "status": status, "lastProbeTime": None,
              "lastTransitionTime": transition_time(prev, status, now)}
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return c


def conditions(pod: Mapping[str, Any], pod_phase: str, sandbox_ready: bool, inits: Sequence[ContainerView],
               containers: Sequence[ContainerView], now: str) -> list[Obj]:
    """The kubelet's four conditions, then every other condition as found (PodScheduled,
    DisruptionTarget, readiness gates...)."""
    old: dict[str, Obj] = {c["type"]: c for c in (pod.get("status") or {}).get("conditions") or ()
                           if isinstance(c, dict) and isinstance(c.get("type"), str)}
    terminal = pod_phase in ("Succeeded", "Failed")
    out = [_cond("PodReadyToStartContainers", "True" if sandbox_ready and not terminal else "False", old, now)]
    # Initialized
    if not inits:
        out.append(_cond("Initialized", "True", old, now))
    elif terminal and pod_phase == "Succeeded":
        out.append(_cond("Initialized", "True", old, now, "PodCompleted"))
    else:
        pending = [] if any_regular_started(containers) else [v.name for v in inits if not init_done(v)]
        if pending and not terminal:
            out.append(_cond("Initialized", "False", old, now, "ContainersNotInitialized",
                             f"containers with incomplete status: [{' '.join(pending)}]"))
        else:
            out.append(_cond("Initialized", "True", old, now))
    # ContainersReady and Ready
    if terminal:
        reason = "PodCompleted" if pod_phase == "Succeeded" else "PodFailed"
        cr = ("False", reason, "")
        rd = ("False", reason, "")
    else:
        unready = [v.name for v in (*[i for i in inits if i.sidecar], *containers)
                   if not (v.current is not None and v.current.running and v.ready)]
        if unready:
            msg = f"containers with unready status: [{' '.join(unready)}]"
            cr = ("False", "ContainersNotReady", msg)
            rd = cr
        else:
            cr = ("True", "", "")
            gate = readiness_gate_problem(pod)
            rd = cr if gate is None else ("False", "ReadinessGatesNotReady", gate)
        if pod_phase == "Pending" and not any_regular_started(containers) and any(not init_done(v) for v in inits):
            pending = [v.name for v in inits if not init_done(v)]
            msg = f"containers with incomplete status: [{' '.join(pending)}]"
            cr = ("False", "ContainersNotInitialized", msg) if cr[0] == "False" else cr
            rd = cr
    out.append(_cond("Ready", rd[0], old, now, rd[1], rd[2]))
    out.append(_cond("ContainersReady", cr[0], old, now, cr[1], cr[2]))
    others = [c for c in (pod.get("status") or {}).get("conditions") or ()
              if isinstance(c, dict) and c.get("type") not in KUBELET_CONDITIONS]
    return out + others


@dataclass
class PodFacts:
    """Everything beside the containers that goes into the status."""

    host_ip: str
    pod_ip: str
    start_time: str
    sandbox_ready: bool
    init_failed: bool = False
    reason: str = ""             # DeadlineExceeded, Evicted, UnexpectedAdmissionError...
    message: str = ""
    forced_phase: str = ""       # a phase decided outside the containers (deadline, rejection)
    extra: dict[str, Any] = field(default_factory=dict)


def pod_status(pod: Mapping[str, Any], inits: Sequence[ContainerView], containers: Sequence[ContainerView],
               facts: PodFacts, now: str, ephemeral: Sequence[ContainerView] = ()) -> Obj:
    """The full status to write. Container statuses are sorted by name (regular containers)
    and kept in spec order (init and ephemeral containers), as the kubelet reports them.
    Ephemeral containers count for neither the phase nor the conditions."""
    spec = pod.get("spec") or {}
    old_status = pod.get("status") or {}
    pod_phase = facts.forced_phase or phase(spec.get("restartPolicy") or "Always", inits, containers,
                                            facts.init_failed)
    status: Obj = {
        "phase": pod_phase,
        "conditions": conditions(pod, pod_phase, facts.sandbox_ready, inits, containers, now),
        "hostIP": facts.host_ip, "hostIPs": [{"ip": facts.host_ip}],
        "startTime": facts.start_time,
        "containerStatuses": [container_status(v) for v in sorted(containers, key=lambda v: v.name)],
    }
    if facts.pod_ip:
        status["podIP"] = facts.pod_ip
        status["podIPs"] = [{"ip": facts.pod_ip}]
    if inits:
        status["initContainerStatuses"] = [container_status(v) for v in inits]
    if ephemeral:
        status["ephemeralContainerStatuses"] = [container_status(v) for v in ephemeral]
    if facts.reason:
        status["reason"] = facts.reason
    if facts.message:
        status["message"] = facts.message
    for k in ("qosClass", "nominatedNodeName"):
        if old_status.get(k):
            status[k] = old_status[k]
    status.update(facts.extra)
    return status


def same_status(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether writing ``new`` would change what the API holds (the kubelet writes only then)."""
    keys = set(new) | {k for k in old if k not in ("qosClass", "nominatedNodeName", "resize")}
    return all(old.get(k) == new.get(k) for k in keys)
