"""Would this pod fit this node? The node-level predicates the DaemonSet controller evaluates
itself (Kubernetes' ``daemon_controller.go`` + the scheduler helpers it calls): node selector,
required node affinity, and taints vs tolerations. Pure functions on plain dicts.

The scheduler has its own plugins for the same rules; the controller layer may not import the
scheduler, and the rules are small, so they live here too.

Taint semantics: a toleration with an empty key and ``Exists`` tolerates everything; an empty
effect matches every effect; ``Equal`` (the default operator) compares values. ``NoSchedule``
untolerated -> no new daemon pod, but an existing one may stay; ``NoExecute`` untolerated ->
the pod must go too. ``PreferNoSchedule`` never blocks.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

Obj = dict[str, Any]


def toleration_tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    op = toleration.get("operator") or "Equal"
    if not key:
        return op == "Exists"
    if key != taint.get("key"):
        return False
    if op == "Exists":
        return True
    return (toleration.get("value") or "") == (taint.get("value") or "")


def untolerated(taints: Iterable[Mapping[str, Any]], tolerations: Iterable[Mapping[str, Any]],
                effects: Iterable[str]) -> Mapping[str, Any] | None:
    """The first taint with one of ``effects`` that no toleration tolerates."""
    wanted = set(effects)
    tols = list(tolerations)
    for taint in taints:
        if taint.get("effect") in wanted and not any(toleration_tolerates(t, taint) for t in tols):
            return taint
    return None


def _requirement_matches(req: Mapping[str, Any], values_of: Mapping[str, str]) -> bool:
    key, op = req.get("key", ""), req.get("operator", "")
    values = [str(v) for v in req.get("values") or []]
    present = key in values_of
    value = values_of.get(key)
    if op == "In":
        return present and value in values
    if op == "NotIn":
        return not present or value not in values
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt"):
        if not present or len(values) != 1:
            return False
        try:
            lhs, rhs = int(str(value)), int(values[0])
        except ValueError:
            return False
        return lhs > rhs if op == "Gt" else lhs < rhs
    return False


def term_matches(term: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """A NodeSelectorTerm: every expression on labels and every field requirement holds; an
    empty term matches nothing (as in Kubernetes)."""
    exprs = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not exprs and not fields:
        return False
    labels = (node.get("metadata") or {}).get("labels") or {}
    node_fields = {"metadata.name": (node.get("metadata") or {}).get("name", "")}
    return all(_requirement_matches(e, labels) for e in exprs) and \
        all(_requirement_matches(f, node_fields) for f in fields)


def node_selector_matches(pod_spec: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """``nodeSelector`` and required node affinity (terms are ORed)."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    for k, v in (pod_spec.get("nodeSelector") or {}).items():
        if labels.get(k) != v:
            return False
    required = (((pod_spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution"))
    if required:
        terms = required.get("nodeSelectorTerms") or []
        if not any(term_matches(t, node) for t in terms):
            return False
    return True


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
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
)
NETWORK_UNAVAILABLE: Obj = {"key": "node.kubernetes.io/network-unavailable", "operator": "Exists",
                            "effect": "NoSchedule"}


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
    if not node_selector_matches(pod_spec, node):
        return False, False
    taints = (node.get("spec") or {}).get("taints") or []
    tolerations = pod_spec.get("tolerations") or []
    if untolerated(taints, tolerations, ("NoExecute",)) is not None:
        return False, False
    if untolerated(taints, tolerations, ("NoSchedule",)) is not None:
        return False, True
    return True, True
