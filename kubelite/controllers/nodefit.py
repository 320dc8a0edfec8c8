"""Would this pod fit this node? The node-level predicates the DaemonSet controller evaluates
itself (Kubernetes' ``daemon_controller.go`` + the scheduler helpers it calls): node selector,
required node affinity, and taints vs tolerations. Pure functions on plain dicts.

The matching itself is the shared core/v1 helpers' (``kubelite.api.helpers.taints`` and
``.nodeaffinity``, the same code the scheduler runs); this module adds the DaemonSet rules on
top: ``NoSchedule`` untolerated -> no new daemon pod, but an existing one may stay;
``NoExecute`` untolerated -> the pod must go too. ``PreferNoSchedule`` never blocks.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubelite.api.helpers.nodeaffinity import pod_spec_matches_node
from kubelite.api.helpers.taints import (
    TAINT_NO_EXECUTE, TAINT_NO_SCHEDULE, TAINT_NODE_DISK_PRESSURE, TAINT_NODE_MEMORY_PRESSURE,
    TAINT_NODE_NETWORK_UNAVAILABLE, TAINT_NODE_NOT_READY, TAINT_NODE_PID_PRESSURE, TAINT_NODE_UNREACHABLE,
    TAINT_NODE_UNSCHEDULABLE, find_untolerated_taint,
)

Obj = dict[str, Any]


def pin_to_node(pod_spec: Obj, node_name: str) -> None:
    """Kube's ``ReplaceDaemonSetPodNodeNameNodeAffinity``: require ``metadata.name == node`` in
    every required node-affinity term (creating one if there is none), so the scheduler
    places the daemon pod exactly there while honouring the rest of its affinity."""
    field = {"key": "metadata.name", "operator": "In", "values": [node_name]}
    affinity = pod_spec.setdefault("affinity", {})
    node_aff = affinity.setdefault("nodeAffinity", {})
    required = node_aff.get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    terms = required.get("nodeSelectorTerms") or []
    if not terms:
        terms = [{"matchFields": [field]}]
    else:
        terms = [{**t, "matchFields": [field]} for t in terms]
    node_aff["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": terms}


def target_node(pod: Mapping[str, Any]) -> str | None:
    """Where a daemon pod is (``spec.nodeName``) or is pinned to (its metadata.name field
    requirement), for pods the scheduler has not placed yet."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    for term in required.get("nodeSelectorTerms") or []:
        for f in term.get("matchFields") or []:
            if f.get("key") == "metadata.name" and f.get("operator") == "In" and len(f.get("values") or []) == 1:
                return str(f["values"][0])
    return None


#: what every DaemonSet pod tolerates (``AddOrUpdateDaemonPodTolerations``)
DAEMON_TOLERATIONS: tuple[Obj, ...] = (
    {"key": TAINT_NODE_NOT_READY, "operator": "Exists", "effect": TAINT_NO_EXECUTE},
    {"key": TAINT_NODE_UNREACHABLE, "operator": "Exists", "effect": TAINT_NO_EXECUTE},
    {"key": TAINT_NODE_DISK_PRESSURE, "operator": "Exists", "effect": TAINT_NO_SCHEDULE},
    {"key": TAINT_NODE_MEMORY_PRESSURE, "operator": "Exists", "effect": TAINT_NO_SCHEDULE},
    {"key": TAINT_NODE_PID_PRESSURE, "operator": "Exists", "effect": TAINT_NO_SCHEDULE},
    {"key": TAINT_NODE_UNSCHEDULABLE, "operator": "Exists", "effect": TAINT_NO_SCHEDULE},
)
NETWORK_UNAVAILABLE: Obj = {"key": TAINT_NODE_NETWORK_UNAVAILABLE, "operator": "Exists", "effect": TAINT_NO_SCHEDULE}


def add_daemon_tolerations(pod_spec: Obj) -> None:
    tolerations = list(pod_spec.get("tolerations") or [])
    extra = list(DAEMON_TOLERATIONS) + ([NETWORK_UNAVAILABLE] if pod_spec.get("hostNetwork") else [])
    for t in extra:
        # Replace a same-key/effect toleration (AddOrUpdate), else append.
        tolerations = [x for x in tolerations if not (x.get("key") == t["key"] and x.get("effect") == t["effect"])]
        tolerations.append(dict(t))
    pod_spec["tolerations"] = tolerations


def should_run(pod_spec: Mapping[str, Any], node: Mapping[str, Any]) -> tuple[bool, bool]:
    """(should a daemon pod be created on ``node``, may an existing one keep running)."""
    wanted_node = pod_spec.get("nodeName")
    if wanted_node and wanted_node != (node.get("metadata") or {}).get("name"):
        return False, False
    if not pod_spec_matches_node(pod_spec, node):
        return False, False
    taints = (node.get("spec") or {}).get("taints") or []
    tolerations = pod_spec.get("tolerations") or []
    if find_untolerated_taint(taints, tolerations, (TAINT_NO_EXECUTE,)) is not None:
        return False, False
    if find_untolerated_taint(taints, tolerations, (TAINT_NO_SCHEDULE,)) is not None:
        return False, True
    return True, True
