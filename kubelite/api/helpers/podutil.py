"""Pod state as Kubernetes reads it (``k8s.io/kubectl``/``kubernetes/pkg/api/v1/pod``
``podutil``): phase, terminal/active, the Ready condition, availability after
``minReadySeconds``, setting a pod condition, and finding a container's status. Controllers
(ReplicaSet, StatefulSet, endpoints, disruption), the scheduler, ``kubelite sim``'s hollow
kubelet and the node agent use these.

Decisions: a pod without ``status.phase`` is Pending; a pod is ready only when its Ready
condition says "True" (absent or unparsable conditions: not ready); ``is_pod_available`` is
Kubernetes' ``IsPodAvailable`` — Ready and ``lastTransitionTime + minReadySeconds`` strictly
before ``now`` (a Ready condition without a readable lastTransitionTime is available only when
minReadySeconds is 0).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

from kubelite.api.helpers.conditions import find_condition, update_condition
from kubelite.api.helpers.times import try_parse_time

POD_PENDING, POD_RUNNING, POD_SUCCEEDED, POD_FAILED, POD_UNKNOWN = "Pending", "Running", "Succeeded", "Failed", "Unknown"
TERMINAL_PHASES = (POD_SUCCEEDED, POD_FAILED)

# Pod condition types (core/v1 PodConditionType), in the order the kubelet writes them.
POD_SCHEDULED = "PodScheduled"
POD_READY_TO_START_CONTAINERS = "PodReadyToStartContainers"
POD_INITIALIZED = "Initialized"
CONTAINERS_READY = "ContainersReady"
POD_READY = "Ready"
DISRUPTION_TARGET = "DisruptionTarget"


def _status(pod: Mapping[str, Any]) -> Mapping[str, Any]:
    s = pod.get("status")
    return s if isinstance(s, Mapping) else {}


def pod_phase(pod: Mapping[str, Any]) -> str:
    return _status(pod).get("phase") or POD_PENDING


def is_pod_terminal(pod: Mapping[str, Any]) -> bool:
    """Succeeded or Failed (``IsPodTerminal``)."""
    return pod_phase(pod) in TERMINAL_PHASES


def is_pod_deleting(pod: Mapping[str, Any]) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def is_pod_active(pod: Mapping[str, Any]) -> bool:
    """Not terminal and not being deleted (controller ``IsPodActive``)."""
    return not is_pod_terminal(pod) and not is_pod_deleting(pod)


def get_pod_condition(pod: Mapping[str, Any], ctype: str) -> Mapping[str, Any] | None:
    return find_condition(_status(pod).get("conditions"), ctype)


def get_pod_ready_condition(pod: Mapping[str, Any]) -> Mapping[str, Any] | None:
    return get_pod_condition(pod, POD_READY)


def is_pod_ready(pod: Mapping[str, Any]) -> bool:
    """The Ready condition is "True" (``IsPodReady``)."""
    c = get_pod_ready_condition(pod)
    return c is not None and c.get("status") == "True"


def pod_ready_since(pod: Mapping[str, Any]) -> dt.datetime | None:
    """When the pod last became Ready (None when not ready or the time is unreadable)."""
    c = get_pod_ready_condition(pod)
    if c is None or c.get("status") != "True":
        return None
    return try_parse_time(c.get("lastTransitionTime"))


def is_pod_available(pod: Mapping[str, Any], min_ready_seconds: int, now: dt.datetime) -> bool:
    """Ready for more than ``min_ready_seconds`` (``IsPodAvailable``). Example: Ready since
    10:00:00, minReadySeconds 5: unavailable at 10:00:05, available at 10:00:06."""
    if not is_pod_ready(pod):
        return False
    if min_ready_seconds == 0:
        return True
    since = pod_ready_since(pod)
    return since is not None and since + dt.timedelta(seconds=min_ready_seconds) < now


def update_pod_condition(status: dict[str, Any], condition: Mapping[str, Any], now: str) -> bool:
    """``UpdatePodCondition`` on a pod's status dict (``status.conditions`` created if absent);
    lastTransitionTime changes only when the status does. Returns whether anything changed."""
    conds = status.get("conditions")
    if not isinstance(conds, list):
        conds = status["conditions"] = []
    return update_condition(conds, condition, now)


def _container_status_lists(pod: Mapping[str, Any]) -> Iterator[Any]:
    status = _status(pod)
    for field in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
        yield from status.get(field) or ()


def get_container_status(pod: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    """The status of container ``name`` among the regular, init and ephemeral containers."""
    for cs in _container_status_lists(pod):
        if isinstance(cs, Mapping) and cs.get("name") == name:
            return cs
    return None


def all_containers_ready(pod: Mapping[str, Any]) -> bool:
    """Every container in ``spec.containers`` has a status with ``ready: true``."""
    names = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or () if isinstance(c, Mapping)]
    ready = {cs.get("name") for cs in _status(pod).get("containerStatuses") or ()
             if isinstance(cs, Mapping) and cs.get("ready") is True}
    return all(n in ready for n in names)


def readiness_gate_problem(pod: Mapping[str, Any]) -> str | None:
    """Why ``spec.readinessGates`` keep the pod unready, in the kubelet's words (None when every
    gate's condition is "True"); a Ready pod needs its containers ready and this None."""
    found = {c.get("type"): c for c in _status(pod).get("conditions") or () if isinstance(c, Mapping)}
    for gate in (pod.get("spec") or {}).get("readinessGates") or ():
        ctype = str((gate or {}).get("conditionType"))
        cond = found.get(ctype)
        if cond is None:
            return f'corresponding condition of pod readiness gate "{ctype}" does not exist.'
        if cond.get("status") != "True":
            return f'the status of pod readiness gate "{ctype}" is not "True", but {cond.get("status")}'
    return None
