"""What a simulated kubelet writes for a pod: admission, a pod IP, and the pod's status when it
starts running, when it completes, or when it is rejected.

``SimCluster`` (runner.py) calls these pure functions from its pod sync; they never touch the
API. Statuses mirror the real kubelet's: containers sorted by name, ``Initialized`` /
``ContainersReady`` / ``Ready`` / ``PodReadyToStartContainers`` / ``PodScheduled`` conditions,
init containers completed at once (sidecars -- init containers with ``restartPolicy: Always``
-- keep running), image references normalised like containerd reports them (``nginx`` ->
``docker.io/library/nginx:latest``). Admission follows the kubelet's resource fit
(``kubelite.api.helpers.resources``, shared with the node agent): a pod whose requests do not
fit the node's allocatable next to the pods already admitted fails with ``OutOfcpu`` /
``OutOfmemory`` / ``OutOfpods`` ... (only reachable by pods bound without the scheduler, e.g.
created with ``spec.nodeName``).
"""
from __future__ import annotations

import hashlib
import ipaddress
from typing import Any, Mapping

from kubelite.api.helpers.conditions import transition_time
from kubelite.api.helpers.podutil import readiness_gate_problem
from kubelite.machinery import quantity

Obj = dict[str, Any]
#: conditions the kubelet owns; others (DisruptionTarget, readiness gates...) are kept as found
KUBELET_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")


# -- what the sim keeps of a pod ------------------------------------------------------------------

_CONTAINER_FIELDS = ("name", "image", "resources", "restartPolicy")


def slim_pod(pod: Mapping[str, Any]) -> Obj:
    """The parts of a pod this module reads (identity, deletion, the containers' names, images
    and requests, restart policy, readiness gates, hostNetwork, overhead, and the status); the
    pod cache keeps only these. Dropping managedFields, labels, env, volumes... roughly halves
    the memory 10,000 cached pods take."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    slim_meta = {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "deletionTimestamp",
                                       "deletionGracePeriodSeconds") if k in meta}
    slim_spec: Obj = {k: spec[k] for k in ("nodeName", "restartPolicy", "hostNetwork", "readinessGates",
                                           "overhead") if k in spec}
    for field in ("containers", "initContainers"):
        if spec.get(field):
            slim_spec[field] = [{k: c[k] for k in _CONTAINER_FIELDS if k in c} for c in spec[field]]
    return {"metadata": slim_meta, "spec": slim_spec, "status": pod.get("status") or {}}


# -- pod IPs --------------------------------------------------------------------------------------


class PodIPPool:
    """Pod IPs of one node's CIDR, handed out round-robin like host-local IPAM (a freed address
    is reused only after the rest of the range), so a recreated pod rarely gets a dead pod's IP.

    Example: 10.64.0.0/24 hands out 10.64.0.1 .. 10.64.0.254 (network and broadcast skipped).
    """

    __slots__ = ("network", "_first", "_size", "_next", "_by_key", "_used")

    def __init__(self, cidr: str) -> None:
        self.network = ipaddress.IPv4Network(cidr, strict=False)
        self._first = int(self.network.network_address) + 1
        self._size = max(self.network.num_addresses - 2, 0)
        self._next = 0
        self._by_key: dict[str, int] = {}
        self._used: set[int] = set()

    def __len__(self) -> int:
        return len(self._by_key)

    def get(self, key: str) -> str | None:
        off = self._by_key.get(key)
        return None if off is None else str(ipaddress.IPv4Address(self._first + off))

    def allocate(self, key: str) -> str | None:
        """The key's address (the same one on every call until released); None when full."""
        if key in self._by_key:
            return self.get(key)
        for i in range(self._size):
            off = (self._next + i) % self._size
            if off not in self._used:
                self._used.add(off)
                self._by_key[key] = off
                self._next = (off + 1) % self._size
                return self.get(key)
        return None

    def reserve(self, key: str, ip: str) -> bool:
        """Record an address a pod already has (after a restart); False if outside the range or taken."""
        try:
            off = int(ipaddress.IPv4Address(ip)) - self._first
        except ValueError:
            return False
        if not 0 <= off < self._size or (off in self._used and self._by_key.get(key) != off):
            return False
        self.release(key)
        self._used.add(off)
        self._by_key[key] = off
        return True

    def release(self, key: str) -> None:
        off = self._by_key.pop(key, None)
        if off is not None:
            self._used.discard(off)


# -- admission ------------------------------------------------------------------------------------


def milli_map(resources: Mapping[str, str]) -> dict[str, int]:
    return {k: quantity.to_milli(v) for k, v in resources.items()}


# -- statuses -------------------------------------------------------------------------------------


def normalize_image(image: str) -> str:
    """``nginx`` -> ``docker.io/library/nginx:latest``; ``ghcr.io/a/b@sha256:..`` unchanged."""
    name, digest = (image.split("@", 1) + [""])[:2] if "@" in image else (image, "")
    first, sep, _ = name.partition("/")
    if not sep:
        name = f"docker.io/library/{name}"
    elif "." not in first and ":" not in first and first != "localhost":
        name = f"docker.io/{name}"
    if digest:
        return f"{name}@{digest}"
    if ":" not in name.rsplit("/", 1)[-1]:
        name += ":latest"
    return name


def image_id(image: str) -> str:
    ref = normalize_image(image)
    if "@" in ref:
        return ref
    repo = ref.rsplit(":", 1)[0]
    return f"{repo}@sha256:{hashlib.sha256(ref.encode()).hexdigest()}"


def container_id(pod_uid: str, name: str, attempt: int = 0) -> str:
    return "sim://" + hashlib.sha256(f"{pod_uid}/{name}/{attempt}".encode()).hexdigest()


def _condition(ctype: str, status: str, now: str, old: Mapping[str, Mapping[str, Any]],
               reason: str | None = None, message: str | None = None) -> Obj:
    cond: Obj = {"type": ctype, "status": status, "lastProbeTime": None,
                 "lastTransitionTime": transition_time(old.get(ctype), status, now)}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


def _conditions(pod: Mapping[str, Any], mine: list[Obj]) -> list[Obj]:
    """Ours first in kubelet order, then any condition another writer added (kept as found)."""
    others = [c for c in (pod.get("status") or {}).get("conditions") or ()
              if isinstance(c, dict) and c.get("type") not in KUBELET_CONDITIONS]
    return mine + others


def _old_conditions(pod: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {str(c.get("type")): c for c in (pod.get("status") or {}).get("conditions") or () if isinstance(c, dict)}


def _started_at(pod: Mapping[str, Any], name: str, field: str) -> str | None:
    for cs in (pod.get("status") or {}).get(field) or ():
        if isinstance(cs, dict) and cs.get("name") == name:
            state = cs.get("state") or {}
            return ((state.get("running") or {}).get("startedAt")
                    or (state.get("terminated") or {}).get("startedAt"))
    return None


def running_status(pod: Mapping[str, Any], *, pod_ip: str, host_ip: str, now: str) -> Obj:
    """The status of a pod whose containers all started: phase Running, IPs, conditions True
    (Ready subject to readiness gates), init containers Completed."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    uid = meta.get("uid", "")
    old_status = pod.get("status") or {}
    start = old_status.get("startTime") or now
    old = _old_conditions(pod)
    gate_problem = readiness_gate_problem(pod)
    ready = ("True", None, None) if gate_problem is None else ("False", "ReadinessGatesNotReady", gate_problem)
    conditions = _conditions(pod, [
        _condition("PodReadyToStartContainers", "True", now, old),
        _condition("Initialized", "True", now, old),
        _condition("Ready", ready[0], now, old, ready[1], ready[2]),
        _condition("ContainersReady", "True", now, old),
        _condition("PodScheduled", "True", now, old),
    ])
    init_statuses: list[Obj] = []
    for c in spec.get("initContainers") or ():
        name, image = c.get("name", ""), c.get("image", "")
        base = {"name": name, "image": normalize_image(image), "imageID": image_id(image),
                "containerID": container_id(uid, name), "restartCount": 0}
        if c.get("restartPolicy") == "Always":  # a sidecar keeps running
            base.update(ready=True, started=True, state={"running": {"startedAt": start}})
        else:
            base.update(ready=True, started=False, state={"terminated": {
                "exitCode": 0, "reason": "Completed", "startedAt": start, "finishedAt": start,
                "containerID": base["containerID"]}})
        base["lastState"] = {}
        init_statuses.append(base)
    statuses = []
    for c in sorted(spec.get("containers") or (), key=lambda c: c.get("name", "")):
        name, image = c.get("name", ""), c.get("image", "")
        statuses.append({"name": name, "ready": True, "started": True, "restartCount": 0,
                         "image": normalize_image(image), "imageID": image_id(image),
                         "containerID": container_id(uid, name), "lastState": {},
                         "state": {"running": {"startedAt": _started_at(pod, name, "containerStatuses") or now}}})
    status: Obj = {
        "phase": "Running",
        "conditions": conditions,
        "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
        "podIP": pod_ip, "podIPs": [{"ip": pod_ip}],
        "startTime": start,
        "containerStatuses": statuses,
    }
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    if old_status.get("qosClass"):
        status["qosClass"] = old_status["qosClass"]
    return status


def succeeded_status(pod: Mapping[str, Any], *, now: str) -> Obj:
    """Every container exited 0 (reason Completed); Ready and ContainersReady go False with
    reason PodCompleted, as the kubelet reports a finished Job pod. IPs are kept."""
    return terminated_status(pod, now=now, exit_code=0)


def terminated_status(pod: Mapping[str, Any], *, now: str, exit_code: int) -> Obj:
    """Every container (init containers and sidecars too) terminated with ``exit_code`` at
    ``now``: 0 -> reason Completed and phase Succeeded, else reason Error and phase Failed
    (the kubelet gives a pod whose containers all stopped a terminal phase, also when it is
    being deleted). Ready and ContainersReady go False (reason PodCompleted / PodFailed),
    PodReadyToStartContainers False (the sandbox is gone); IPs are kept.

    Example: a deleted pod whose container ignores SIGTERM and is killed when its grace period
    ends: exit_code 137 -> terminated {exitCode: 137, reason: Error}, phase Failed."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    uid = meta.get("uid", "")
    old_status = pod.get("status") or {}
    old = _old_conditions(pod)
    ok = exit_code == 0
    why = "PodCompleted" if ok else "PodFailed"
    conditions = _conditions(pod, [
        _condition("PodReadyToStartContainers", "False", now, old),
        _condition("Initialized", "True", now, old, "PodCompleted" if ok else None),
        _condition("Ready", "False", now, old, why),
        _condition("ContainersReady", "False", now, old, why),
        _condition("PodScheduled", "True", now, old),
    ])

    def terminated(c: Mapping[str, Any], field: str) -> Obj:
        name, image = c.get("name", ""), c.get("image", "")
        cid = container_id(uid, name)
        done = old_terminated(pod, name, field)
        if done is not None:  # an init container that completed long ago keeps its record
            state = done
        else:
            state = {"exitCode": exit_code, "reason": "Completed" if ok else "Error", "containerID": cid,
                     "startedAt": _started_at(pod, name, field) or old_status.get("startTime") or now,
                     "finishedAt": now}
        return {"name": name, "ready": False, "started": False, "restartCount": 0,
                "image": normalize_image(image), "imageID": image_id(image), "containerID": cid,
                "lastState": {}, "state": {"terminated": state}}

    status: Obj = {
        "phase": "Succeeded" if ok else "Failed",
        "conditions": conditions,
        "startTime": old_status.get("startTime") or now,
        "containerStatuses": [terminated(c, "containerStatuses")
                              for c in sorted(spec.get("containers") or (), key=lambda c: c.get("name", ""))],
    }
    for f in ("hostIP", "hostIPs", "podIP", "podIPs", "qosClass"):
        if old_status.get(f):
            status[f] = old_status[f]
    if spec.get("initContainers"):
        status["initContainerStatuses"] = [terminated(c, "initContainerStatuses") for c in spec["initContainers"]]
    return status


def old_terminated(pod: Mapping[str, Any], name: str, field: str) -> Obj | None:
    """The terminated state a container already reported (a completed init container)."""
    cs = next((c for c in (pod.get("status") or {}).get(field) or ()
               if isinstance(c, dict) and c.get("name") == name), None)
    term = ((cs or {}).get("state") or {}).get("terminated")
    return dict(term) if isinstance(term, dict) else None


def rejected_status(pod: Mapping[str, Any], reason: str, message: str, *, host_ip: str, now: str) -> Obj:
    """Admission failure: phase Failed with the kubelet's reason and message; nothing started."""
    status: Obj = {"phase": "Failed", "reason": reason, "message": message, "startTime": now,
                   "hostIP": host_ip, "hostIPs": [{"ip": host_ip}]}
    qos = (pod.get("status") or {}).get("qosClass")
    if qos:
        status["qosClass"] = qos
    return status


def is_running_ours(pod: Mapping[str, Any]) -> bool:
    """Whether the pod already shows a started status (adopted after a restart of the sim)."""
    status = pod.get("status") or {}
    return status.get("phase") == "Running" and bool(status.get("podIP"))


def has_readiness_gates(pod: Mapping[str, Any]) -> bool:
    return bool((pod.get("spec") or {}).get("readinessGates"))


def ready_mismatch(pod: Mapping[str, Any]) -> bool:
    """A running pod whose Ready condition disagrees with its readiness gates (a gate flipped)."""
    want = "True" if readiness_gate_problem(pod) is None else "False"
    ready = _old_conditions(pod).get("Ready")
    return ready is None or ready.get("status") != want


def status_patch(pod: Mapping[str, Any], status: Obj) -> Obj:
    """A merge patch for ``pods/status``; the uid makes the write fail on a namesake pod."""
    return {"metadata": {"uid": (pod.get("metadata") or {}).get("uid")}, "status": status}


def uses_host_network(pod: Mapping[str, Any]) -> bool:
    return bool((pod.get("spec") or {}).get("hostNetwork"))


def restart_always(pod: Mapping[str, Any]) -> bool:
    return ((pod.get("spec") or {}).get("restartPolicy") or "Always") == "Always"
