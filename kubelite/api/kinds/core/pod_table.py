"""How ``kubectl get pods`` shows a pod: the Table columns and the cells of one row.

A port of the logic of Kubernetes' printPod (pkg/printers/internalversion/printers.go), used by
``PodStrategy.row``. The STATUS cell is the part users read most and the part with the most
rules: the pod phase, overridden by a pod-level reason, by the first unfinished init container
("Init:0/2", "Init:CrashLoopBackOff"), then by container waiting/terminated reasons
("ContainerCreating", "CrashLoopBackOff", "Completed", "ExitCode:1"), and finally by
"Terminating" once deletionTimestamp is set on a pod that has not finished.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from kubelite.api.helpers.times import parse_time
from kubelite.api.registry import AGE_COLUMN, NAME_COLUMN, Column, age, human_duration

POD_COLUMNS: tuple[Column, ...] = (
    NAME_COLUMN,
    Column("Ready", description="The aggregate readiness state of this pod for accepting traffic."),
    Column("Status", description="The aggregate status of the containers in this pod."),
    Column("Restarts", description="The number of times the containers in this pod have been restarted and when "
                                   "the last container in this pod has restarted."),
    AGE_COLUMN,
    Column("IP", priority=1, description="podIP address allocated to the pod. Routable at least within the cluster. "
                                         "Empty if not yet allocated."),
    Column("Node", priority=1, description="NodeName indicates in which node this pod is scheduled."),
    Column("Nominated Node", priority=1, description="nominatedNodeName is set only when this pod preempts other "
                                                     "pods on the node, but it cannot be scheduled right away as "
                                                     "preemption victims receive their graceful termination periods."),
    Column("Readiness Gates", priority=1, description="If specified, all readiness gates will be evaluated for pod "
                                                      "readiness."),
)


def _is_sidecar(container: dict[str, Any] | None) -> bool:
    return bool(container) and container.get("restartPolicy") == "Always"  # type: ignore[union-attr]


def _finished_at(cs: dict[str, Any]) -> dt.datetime | None:
    term = ((cs.get("lastState") or {}).get("terminated") or {})
    ts = term.get("finishedAt")
    if not ts:
        return None
    try:
        return parse_time(ts)
    except ValueError:
        return None


def _later(a: dt.datetime | None, b: dt.datetime | None) -> dt.datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def _dicts(items: Any) -> list[dict[str, Any]]:
    """The dict entries of a list that may be missing or hold nulls."""
    return [i for i in items or [] if isinstance(i, dict)]


def _condition_true(status: dict[str, Any], ctype: str) -> bool:
    return any(c.get("type") == ctype and c.get("status") == "True" for c in _dicts(status.get("conditions")))


def pod_status_reason(pod: dict[str, Any]) -> tuple[str, int, int, dt.datetime | None]:
    """(STATUS text, ready containers, restarts, last restart time) as printPod computes them."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    phase = status.get("phase", "")
    reason = status.get("reason") or phase
    for cond in _dicts(status.get("conditions")):
        if cond.get("type") == "PodScheduled" and cond.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    init_specs = {c.get("name"): c for c in _dicts(spec.get("initContainers"))}
    init_count = len(spec.get("initContainers") or [])
    restarts = sidecar_restarts = ready = 0
    last_restart: dt.datetime | None = None
    last_sidecar_restart: dt.datetime | None = None

    initializing = False
    for i, cs in enumerate(_dicts(status.get("initContainerStatuses"))):
        restarts += int(cs.get("restartCount") or 0)
        last_restart = _later(last_restart, _finished_at(cs))
        sidecar = _is_sidecar(init_specs.get(cs.get("name")))
        if sidecar:
            sidecar_restarts += int(cs.get("restartCount") or 0)
            last_sidecar_restart = _later(last_sidecar_restart, _finished_at(cs))
        state = cs.get("state") or {}
        term, waiting = state.get("terminated"), state.get("waiting")
        if term is not None and term.get("exitCode", 0) == 0:
            continue
        if sidecar and cs.get("started"):
            if cs.get("ready"):
                ready += 1
            continue
        if term is not None:
            if term.get("reason"):
                reason = "Init:" + term["reason"]
            elif term.get("signal"):
                reason = f"Init:Signal:{term['signal']}"
            else:
                reason = f"Init:ExitCode:{term.get('exitCode', 0)}"
        elif waiting is not None and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{init_count}"
        initializing = True
        break

    if not initializing or _condition_true(status, "Initialized"):
        restarts, last_restart = sidecar_restarts, last_sidecar_restart
        has_running = False
        for cs in reversed(_dicts(status.get("containerStatuses"))):
            restarts += int(cs.get("restartCount") or 0)
            last_restart = _later(last_restart, _finished_at(cs))
            state = cs.get("state") or {}
            waiting, term = state.get("waiting"), state.get("terminated")
            if waiting is not None and waiting.get("reason"):
                reason = waiting["reason"]
            elif term is not None and term.get("reason"):
                reason = term["reason"]
            elif term is not None:
                reason = f"Signal:{term['signal']}" if term.get("signal") else f"ExitCode:{term.get('exitCode', 0)}"
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        # A finished container next to a running one: the pod as a whole is still running.
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(status, "Ready") else "NotReady"

    deleting = bool((pod.get("metadata") or {}).get("deletionTimestamp"))
    if deleting and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif deleting and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    return reason, ready, restarts, last_restart


def pod_row(pod: dict[str, Any], now: dt.datetime) -> list[Any]:
    """NAME READY STATUS RESTARTS AGE IP NODE NOMINATED-NODE READINESS-GATES."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    reason, ready, restarts, last_restart = pod_status_reason(pod)
    total = len(spec.get("containers") or []) + sum(1 for c in spec.get("initContainers") or [] if _is_sidecar(c))
    restarts_cell = str(restarts)
    if restarts and last_restart is not None:
        restarts_cell = f"{restarts} ({human_duration(now - last_restart)} ago)"
    ips = status.get("podIPs") or []
    pod_ip = (ips[0] or {}).get("ip", "") if ips else status.get("podIP", "")
    gates = spec.get("readinessGates") or []
    gates_cell = "<none>"
    if gates:
        conds = {c.get("type"): c.get("status") for c in reversed(_dicts(status.get("conditions")))}
        true = sum(1 for g in gates if conds.get((g or {}).get("conditionType")) == "True")
        gates_cell = f"{true}/{len(gates)}"
    return [pod["metadata"].get("name", ""), f"{ready}/{total}", reason, restarts_cell, age(pod, now),
            pod_ip or "<none>", spec.get("nodeName") or "<none>", status.get("nominatedNodeName") or "<none>",
            gates_cell]
