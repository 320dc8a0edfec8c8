"""Kubelet-side admission of a pod bound to this node (pure): does it fit next to the pods
already admitted, does the node satisfy its nodeSelector / required node affinity, does it
tolerate the node's NoExecute taints. A rejected pod fails with the kubelet's reason and
message (``OutOfcpu`` "Pod was rejected: Node didn't have enough resource: cpu, requested:
2000, used: 31000, capacity: 32000", ``NodeAffinity`` "Pod was rejected: Predicate
NodeAffinity failed", ``Taint``...). Only reachable by pods bound without the scheduler
(``spec.nodeName`` set at creation) or by a node whose capacity shrank.

Selector and toleration matching are ``kubelite.api.helpers``' (``nodeaffinity``, ``taints``):
the same code the scheduler's Filter runs, so a pod the scheduler placed is never rejected here
for a reason the scheduler judged otherwise.
"""
from __future__ import annotations

from typing import Any, Mapping

from kubelite.api.helpers import resources
from kubelite.api.helpers.nodeaffinity import pod_spec_matches_node
from kubelite.api.helpers.resources import pod_requests
from kubelite.api.helpers.taints import TAINT_NO_EXECUTE, find_untolerated_taint
from kubelite.machinery import quantity

Obj = Mapping[str, Any]


def check_fit(requests: Mapping[str, int], allocatable: Mapping[str, str], used: Mapping[str, int],
              pods_used: int) -> tuple[str, str] | None:
    """The node's allocatable as reported (quantity strings; pods 110 when absent) against the
    shared resource fit."""
    alloc = {k: quantity.to_milli(v) for k, v in allocatable.items() if quantity.is_valid(v)}
    alloc.setdefault("pods", 110_000)
    return resources.check_fit(requests, alloc, used, pods_used)


def admit(pod: Obj, node: Obj, used: Mapping[str, int], pods_used: int) -> tuple[str, str] | None:
    """None if the kubelet admits ``pod``, else (reason, message)."""
    if not pod_spec_matches_node(pod.get("spec") or {}, node):
        return ("NodeAffinity", "Pod was rejected: Predicate NodeAffinity failed")
    taint = find_untolerated_taint((node.get("spec") or {}).get("taints") or (),
                                   (pod.get("spec") or {}).get("tolerations") or (), (TAINT_NO_EXECUTE,))
    if taint is not None:
        return ("Taint", f"Pod was rejected: Predicate TaintToleration failed: node(s) had untolerated taint "
                         f"{{{taint.get('key')}: {taint.get('value', '')}}}")
    allocatable = (node.get("status") or {}).get("allocatable") or {}
    return check_fit(pod_requests(pod), allocatable, used, pods_used)
