"""The scheduler's view of pods and nodes: ``PodInfo``, ``NodeInfo``, and why a pod did not fit.

``PodInfo`` is a pod parsed once (requests in millicores/bytes, tolerations, selectors and
affinity compiled) so that the filters, which run for every (pod, node) pair, only compare
integers and look up dicts. ``NodeInfo`` is a node plus the pods on it and the aggregates the
plugins need (requested and allocatable resources, used host ports, pods with affinity),
maintained incrementally by ``add_pod``/``remove_pod``; the cache (``cache.py``) owns the live
ones and clones the changed ones into each cycle's snapshot. Both wrap the informer's dicts,
which are shared and never mutated.

Resource arithmetic follows kube-scheduler:

- a pod's request is the sum over containers, raised to the largest init container (an init
  container runs alone), with restartable ("sidecar") init containers added to both, plus
  ``spec.overhead``. Example: containers 2 + 1 cpu, init containers 2 and 3 cpu -> max(3, 3) = 3;
- for *scoring* a container that requests no cpu/memory counts as 100m / 200Mi ("non-zero"
  requests), so BestEffort pods still spread;
- cpu is in millicores, everything else in integral units (bytes for memory).

``Diagnosis`` and ``FitError`` turn the per-node filter statuses into the message users read in
``kubectl describe pod``: "0/3 nodes are available: 2 Insufficient cpu, 1 node(s) had
untolerated taint {node.kubernetes.io/unreachable: }. preemption: ...".
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Mapping

from kubelite.api.helpers.nodeaffinity import NodeSelector, NodeSelectorTerm, PreferredSchedulingTerm
from kubelite.api.helpers.taints import TAINT_PREFER_NO_SCHEDULE, Taint, Toleration, parse_taints, parse_tolerations
from kubelite.machinery.errors import StatusError
from kubelite.machinery.quantity import to_int, to_milli
from kubelite.scheduler.framework.interface import Status
from kubelite.scheduler.framework.terms import AffinityTerm, WeightedAffinityTerm

CPU = "cpu"
MEMORY = "memory"
EPHEMERAL_STORAGE = "ephemeral-storage"
PODS = "pods"
DEFAULT_MILLI_CPU_REQUEST = 100               # 0.1 core, for scoring pods that request none
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024    # 200 MiB
DEFAULT_SCHEDULER_NAME = "default-scheduler"
_ZERO_IP = "0.0.0.0"


@lru_cache(maxsize=8192)
def _milli(q: Any) -> int:
    return to_milli(q)


@lru_cache(maxsize=8192)
def _units(q: Any) -> int:
    return to_int(q)


def quantity_units(name: str, q: Any) -> int:
    """A resource quantity as the scheduler counts it: millicores for cpu, units otherwise.
    Malformed quantities (the API server validates, so only from a misbehaving writer) count 0."""
    try:
        return _milli(q) if name == CPU else _units(q)
    except (ValueError, TypeError):
        return 0


def resource_list(raw: Any) -> dict[str, int]:
    """``{"cpu": "500m", "memory": "1Gi"}`` -> ``{"cpu": 500, "memory": 1073741824}``."""
    if not raw or not isinstance(raw, dict):
        return {}
    return {str(k): quantity_units(str(k), v) for k, v in raw.items()}


def _add(into: dict[str, int], other: Mapping[str, int]) -> None:
    for k, v in other.items():
        into[k] = into.get(k, 0) + v


def _max(into: dict[str, int], other: Mapping[str, int]) -> None:
    for k, v in other.items():
        if v > into.get(k, 0):
            into[k] = v


def pod_requests(spec: Mapping[str, Any], *, non_zero: bool = False) -> dict[str, int]:
    """The pod's effective request per resource (see the module docstring). With ``non_zero``,
    containers that leave cpu/memory unset count 100m/200Mi (for scoring only)."""

    def container_reqs(c: Mapping[str, Any]) -> dict[str, int]:
        reqs = resource_list((c.get("resources") or {}).get("requests"))
        if non_zero:
            reqs.setdefault(CPU, DEFAULT_MILLI_CPU_REQUEST)
            reqs.setdefault(MEMORY, DEFAULT_MEMORY_REQUEST)
        return reqs

    total: dict[str, int] = {}
    for c in spec.get("containers") or ():
        _add(total, container_reqs(c))
    init_max: dict[str, int] = {}
    sidecars: dict[str, int] = {}
    for c in spec.get("initContainers") or ():
        reqs = container_reqs(c)
        if c.get("restartPolicy") == "Always":
            # A sidecar keeps running next to the app containers and later init containers.
            _add(total, reqs)
            _add(sidecars, reqs)
            effective = dict(sidecars)
        else:
            effective = dict(reqs)
            _add(effective, sidecars)
        _max(init_max, effective)
    _max(total, init_max)
    if not non_zero:
        _add(total, resource_list(spec.get("overhead")))
    return total


def _is_terminating(meta: Mapping[str, Any]) -> bool:
    return bool(meta.get("deletionTimestamp"))


class PodInfo:
    """A pod as the scheduler sees it. ``node_name`` is where it runs or is assumed to run.

    Construction never raises for a pod the API server accepted; a pod whose affinity cannot be
    compiled (say a label selector with an invalid operator written before validation existed)
    keeps ``parse_error`` and InterPodAffinity rejects it as unresolvable, as kube does.
    """

    __slots__ = (
        "pod", "key", "namespace", "name", "uid", "labels", "node_name", "scheduler_name", "priority",
        "preemption_policy", "cpu", "mem", "eph", "scalar", "nz_cpu", "nz_mem", "tolerations",
        "node_selector", "required_node_affinity", "preferred_node_affinity", "required_affinity",
        "required_anti_affinity", "preferred_affinity", "preferred_anti_affinity", "host_ports",
        "topology_spread", "scheduling_gates", "terminating", "start_time", "created",
        "nominated_node_name", "resource_version", "parse_error",
    )

    def __init__(self, pod: dict[str, Any], *, priority: int | None = None) -> None:
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        status = pod.get("status") or {}
        self.pod = pod
        self.namespace: str = meta.get("namespace") or ""
        self.name: str = meta.get("name") or ""
        self.key = f"{self.namespace}/{self.name}"
        self.uid: str = meta.get("uid") or ""
        self.labels: dict[str, str] = meta.get("labels") or {}
        self.resource_version: str = meta.get("resourceVersion") or ""
        self.node_name: str = spec.get("nodeName") or ""
        self.scheduler_name: str = spec.get("schedulerName") or DEFAULT_SCHEDULER_NAME
        p = spec.get("priority") if priority is None else priority
        self.priority: int = p if isinstance(p, int) else 0
        self.preemption_policy: str = spec.get("preemptionPolicy") or "PreemptLowerPriority"
        self.terminating = _is_terminating(meta)
        self.start_time: str = status.get("startTime") or ""
        self.created: str = meta.get("creationTimestamp") or ""
        self.nominated_node_name: str = status.get("nominatedNodeName") or ""
        self.scheduling_gates: tuple[str, ...] = tuple(
            str(g.get("name", "")) for g in spec.get("schedulingGates") or () if isinstance(g, dict))
        self.parse_error: str | None = None

        reqs = pod_requests(spec)
        self.cpu = reqs.pop(CPU, 0)
        self.mem = reqs.pop(MEMORY, 0)
        self.eph = reqs.pop(EPHEMERAL_STORAGE, 0)
        reqs.pop(PODS, None)
        # Extended resources (nvidia.com/gpu), hugepages-*: only the ones actually requested.
        self.scalar: dict[str, int] = {k: v for k, v in reqs.items() if v}
        nz = pod_requests(spec, non_zero=True)
        self.nz_cpu = nz.get(CPU, 0)
        self.nz_mem = nz.get(MEMORY, 0)

        self.tolerations: tuple[Toleration, ...] = parse_tolerations(spec.get("tolerations"))
        ns = spec.get("nodeSelector")
        self.node_selector: dict[str, str] = ns if isinstance(ns, dict) else {}
        affinity = spec.get("affinity") or {}
        node_aff = affinity.get("nodeAffinity") or {}
        req = node_aff.get("requiredDuringSchedulingIgnoredDuringExecution")
        self.required_node_affinity: NodeSelector | None = NodeSelector(req) if isinstance(req, dict) else None
        self.preferred_node_affinity: tuple[PreferredSchedulingTerm, ...] = tuple(
            PreferredSchedulingTerm(int(t.get("weight") or 0), NodeSelectorTerm(t.get("preference") or {}))
            for t in node_aff.get("preferredDuringSchedulingIgnoredDuringExecution") or ()
            if isinstance(t, dict) and t.get("weight"))
        self.required_affinity: tuple[AffinityTerm, ...] = ()
        self.required_anti_affinity: tuple[AffinityTerm, ...] = ()
        self.preferred_affinity: tuple[WeightedAffinityTerm, ...] = ()
        self.preferred_anti_affinity: tuple[WeightedAffinityTerm, ...] = ()
        pa, paa = affinity.get("podAffinity"), affinity.get("podAntiAffinity")
        if pa or paa:
            try:
                self.required_affinity = self._terms(pa, False)  # type: ignore[assignment]
                self.required_anti_affinity = self._terms(paa, False)  # type: ignore[assignment]
                self.preferred_affinity = self._terms(pa, True)  # type: ignore[assignment]
                self.preferred_anti_affinity = self._terms(paa, True)  # type: ignore[assignment]
            except StatusError as e:
                self.parse_error = f"parsing pod affinity of {self.key}: {e.message}"
        ports = []
        for c in spec.get("containers") or ():
            for port in c.get("ports") or ():
                hp = port.get("hostPort") if isinstance(port, dict) else None
                if hp:
                    ports.append((port.get("hostIP") or _ZERO_IP, port.get("protocol") or "TCP", int(hp)))
        self.host_ports: tuple[tuple[str, str, int], ...] = tuple(ports)
        tsc = spec.get("topologySpreadConstraints")
        self.topology_spread: list[dict[str, Any]] = tsc if isinstance(tsc, list) else []

    def _terms(self, raw: Any, preferred: bool) -> tuple[Any, ...]:
        if not raw:
            return ()
        if preferred:
            return tuple(WeightedAffinityTerm(int(w.get("weight") or 0), AffinityTerm(self.namespace, w.get("podAffinityTerm") or {}))
                         for w in raw.get("preferredDuringSchedulingIgnoredDuringExecution") or () if isinstance(w, dict))
        return tuple(AffinityTerm(self.namespace, t)
                     for t in raw.get("requiredDuringSchedulingIgnoredDuringExecution") or () if isinstance(t, dict))

    @property
    def has_affinity(self) -> bool:
        """Any pod (anti-)affinity term: such pods are listed apart in the snapshot."""
        return bool(self.required_affinity or self.required_anti_affinity or self.preferred_affinity
                    or self.preferred_anti_affinity)

    def assumed(self, node_name: str) -> "PodInfo":
        """A shallow copy placed on ``node_name`` (what the cache holds between the scheduling
        decision and the bind being observed). The pod dict stays shared and unmodified."""
        out = PodInfo.__new__(PodInfo)
        for slot in PodInfo.__slots__:
            setattr(out, slot, getattr(self, slot))
        out.node_name = node_name
        return out

    def __repr__(self) -> str:
        where = f" on {self.node_name}" if self.node_name else ""
        return f"PodInfo({self.key}{where}, prio={self.priority})"


_generation = itertools.count(1)


def next_generation() -> int:
    return next(_generation)


class NodeInfo:
    """A node with its pods and precomputed aggregates. ``node`` is None for the placeholder
    that holds pods whose node the cache has not seen yet (they are accounted, never listed)."""

    __slots__ = (
        "node", "name", "labels", "taints", "unschedulable", "alloc_cpu", "alloc_mem", "alloc_eph",
        "alloc_pods", "alloc_scalar", "pods", "pods_with_affinity", "pods_with_required_anti_affinity",
        "req_cpu", "req_mem", "req_eph", "req_scalar", "nz_cpu", "nz_mem", "used_ports", "generation",
        "prefer_no_schedule", "hard_taints",
    )

    def __init__(self, node: dict[str, Any] | None = None, name: str = "") -> None:
        self.node: dict[str, Any] | None = None
        self.name = name
        self.labels: dict[str, str] = {}
        self.taints: tuple[Taint, ...] = ()
        self.unschedulable = False
        self.prefer_no_schedule = False
        self.hard_taints = False
        self.alloc_cpu = self.alloc_mem = self.alloc_eph = self.alloc_pods = 0
        self.alloc_scalar: dict[str, int] = {}
        self.pods: dict[str, PodInfo] = {}
        self.pods_with_affinity: dict[str, PodInfo] = {}
        self.pods_with_required_anti_affinity: dict[str, PodInfo] = {}
        self.req_cpu = self.req_mem = self.req_eph = 0
        self.req_scalar: dict[str, int] = {}
        self.nz_cpu = self.nz_mem = 0
        # (protocol, port) -> {hostIP: count}
        self.used_ports: dict[tuple[str, int], dict[str, int]] = {}
        self.generation = next_generation()
        if node is not None:
            self.set_node(node)

    def set_node(self, node: dict[str, Any]) -> None:
        meta = node.get("metadata") or {}
        spec = node.get("spec") or {}
        self.node = node
        self.name = meta.get("name") or self.name
        self.labels = meta.get("labels") or {}
        self.taints = parse_taints(spec.get("taints"))
        self.unschedulable = bool(spec.get("unschedulable"))
        self.prefer_no_schedule = any(t.effect == TAINT_PREFER_NO_SCHEDULE for t in self.taints)
        self.hard_taints = any(t.effect != TAINT_PREFER_NO_SCHEDULE for t in self.taints)
        alloc = resource_list((node.get("status") or {}).get("allocatable"))
        self.alloc_cpu = alloc.pop(CPU, 0)
        self.alloc_mem = alloc.pop(MEMORY, 0)
        self.alloc_eph = alloc.pop(EPHEMERAL_STORAGE, 0)
        self.alloc_pods = alloc.pop(PODS, 0)
        self.alloc_scalar = alloc
        self.generation = next_generation()

    def remove_node(self) -> None:
        self.node = None
        self.generation = next_generation()

    # -- pods -------------------------------------------------------------------------------

    def add_pod(self, pi: PodInfo) -> None:
        self.pods[pi.key] = pi
        if pi.has_affinity:
            self.pods_with_affinity[pi.key] = pi
            if pi.required_anti_affinity:
                self.pods_with_required_anti_affinity[pi.key] = pi
        self._account(pi, 1)
        self.generation = next_generation()

    def remove_pod(self, pi: PodInfo) -> bool:
        old = self.pods.pop(pi.key, None)
        if old is None:
            return False
        self.pods_with_affinity.pop(pi.key, None)
        self.pods_with_required_anti_affinity.pop(pi.key, None)
        self._account(old, -1)  # subtract what was added, even if `pi` is a newer version
        self.generation = next_generation()
        return True

    def _account(self, pi: PodInfo, sign: int) -> None:
        self.req_cpu += sign * pi.cpu
        self.req_mem += sign * pi.mem
        self.req_eph += sign * pi.eph
        self.nz_cpu += sign * pi.nz_cpu
        self.nz_mem += sign * pi.nz_mem
        if pi.scalar:
            rs = self.req_scalar
            for k, v in pi.scalar.items():
                rs[k] = rs.get(k, 0) + sign * v
        for ip, proto, port in pi.host_ports:
            ips = self.used_ports.setdefault((proto, port), {})
            n = ips.get(ip, 0) + sign
            if n > 0:
                ips[ip] = n
            else:
                ips.pop(ip, None)
                if not ips:
                    del self.used_ports[(proto, port)]

    def port_conflict(self, ip: str, proto: str, port: int) -> bool:
        """Whether (ip, protocol, port) clashes with a used host port (0.0.0.0 clashes with any IP)."""
        ips = self.used_ports.get((proto, port))
        if not ips:
            return False
        return ip == _ZERO_IP or _ZERO_IP in ips or ip in ips

    def clone(self) -> "NodeInfo":
        """A copy that can be changed (preemption's what-if) without touching this one: the
        containers are copied, the PodInfos and node dict shared (they are immutable)."""
        out = NodeInfo.__new__(NodeInfo)
        out.node = self.node
        out.name = self.name
        out.labels = self.labels
        out.taints = self.taints
        out.unschedulable = self.unschedulable
        out.prefer_no_schedule = self.prefer_no_schedule
        out.hard_taints = self.hard_taints
        out.alloc_cpu, out.alloc_mem, out.alloc_eph, out.alloc_pods = (
            self.alloc_cpu, self.alloc_mem, self.alloc_eph, self.alloc_pods)
        out.alloc_scalar = self.alloc_scalar
        out.pods = dict(self.pods)
        out.pods_with_affinity = dict(self.pods_with_affinity)
        out.pods_with_required_anti_affinity = dict(self.pods_with_required_anti_affinity)
        out.req_cpu, out.req_mem, out.req_eph = self.req_cpu, self.req_mem, self.req_eph
        out.req_scalar = dict(self.req_scalar)
        out.nz_cpu, out.nz_mem = self.nz_cpu, self.nz_mem
        out.used_ports = {k: dict(v) for k, v in self.used_ports.items()}
        out.generation = self.generation
        return out

    def __repr__(self) -> str:
        return (f"NodeInfo({self.name}, cpu {self.req_cpu}/{self.alloc_cpu}m, mem {self.req_mem}/{self.alloc_mem}, "
                f"pods {len(self.pods)}/{self.alloc_pods})")


# -- why a pod did not fit ----------------------------------------------------------------------

NO_NODE_AVAILABLE = "0/{} nodes are available"


@dataclass(slots=True)
class Diagnosis:
    """Per-node rejection statuses of one cycle, plus messages from PreFilter/PostFilter.
    ``absent_status`` is the status of nodes never filtered (excluded by a PreFilterResult)."""

    node_to_status: dict[str, Status] = field(default_factory=dict)
    absent_status: Status | None = None
    unschedulable_plugins: set[str] = field(default_factory=set)
    pre_filter_msg: str = ""
    post_filter_msg: str = ""


def fit_error_message(num_all_nodes: int, diagnosis: Diagnosis) -> str:
    """Kubernetes' FitError text. Reasons are counted over nodes, printed as "<n> <reason>"
    and sorted as strings (so "10 X" sorts before "2 Y", exactly as kube prints it); each part
    ends with a period, so a preemption message that itself ends in "." yields "..", as in
    kube-scheduler's events."""
    msg = NO_NODE_AVAILABLE.format(num_all_nodes) + ":"
    if diagnosis.pre_filter_msg:
        msg += f" {diagnosis.pre_filter_msg}."
    else:
        counts: dict[str, int] = {}
        for status in diagnosis.node_to_status.values():
            for reason in status.reasons:
                counts[reason] = counts.get(reason, 0) + 1
        absent = num_all_nodes - len(diagnosis.node_to_status)
        if absent > 0 and diagnosis.absent_status is not None:
            for reason in diagnosis.absent_status.reasons:
                counts[reason] = counts.get(reason, 0) + absent
        parts = sorted(f"{n} {reason}" for reason, n in counts.items())
        if parts:
            msg += f" {', '.join(parts)}."
    if diagnosis.post_filter_msg:
        msg += f" {diagnosis.post_filter_msg}."
    return msg


class FitError(Exception):
    """No node fits the pod. ``str()`` is the FailedScheduling message."""

    def __init__(self, pod: PodInfo, num_all_nodes: int, diagnosis: Diagnosis) -> None:
        super().__init__()
        self.pod = pod
        self.num_all_nodes = num_all_nodes
        self.diagnosis = diagnosis

    def __str__(self) -> str:
        return fit_error_message(self.num_all_nodes, self.diagnosis)


class NoNodesAvailable(Exception):
    """The cluster has no nodes at all."""

    def __str__(self) -> str:
        return "no nodes available to schedule pods"
