"""Kubelet-side admission of a pod bound to this node (pure): does it fit next to the pods
already admitted, does the node satisfy its nodeSelector / required node affinity, does it
tolerate the node's NoExecute taints. A rejected pod fails with the kubelet's reason and
message (``OutOfcpu`` "Pod was rejected: Node didn't have enough resource: cpu, requested:
2000, used: 31000, capacity: 32000", ``NodeAffinity`` "Pod was rejected: Predicate
NodeAffinity failed", ``Taint``...). Only reachable by pods bound without the scheduler
(``spec.nodeName`` set at creation) or by a node whose capacity shrank.

Selector and toleration matching use ``kubelite.api.helpers`` when it exists (the one home of
those semantics); until then the minimal forms below are used.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from kubelite.machinery import quantity

Obj = Mapping[str, Any]


def _add(total: dict[str, int], container: Obj) -> None:
    for name, q in (((container.get("resources") or {}).get("requests")) or {}).items():
        try:
            total[name] = total.get(name, 0) + quantity.to_milli(q)
        except ValueError:
            continue


def pod_requests(pod: Obj) -> dict[str, int]:
    """Effective requests in milli-units: max(running set incl. sidecars, each init container
    with the sidecars started before it) + overhead -- the kubelet's and scheduler's formula."""
    spec = pod.get("spec") or {}
    running: dict[str, int] = {}
    for c in spec.get("containers") or ():
        _add(running, c)
    sidecars: dict[str, int] = {}
    peak: dict[str, int] = {}
    for c in spec.get("initContainers") or ():
        if c.get("restartPolicy") == "Always":
            _add(sidecars, c)
            continue
        step = dict(sidecars)
        _add(step, c)
        for k, v in step.items():
            peak[k] = max(peak.get(k, 0), v)
    for k, v in sidecars.items():
        running[k] = running.get(k, 0) + v
    total = {k: max(running.get(k, 0), peak.get(k, 0)) for k in set(running) | set(peak)}
    for name, q in (spec.get("overhead") or {}).items():
        try:
            total[name] = total.get(name, 0) + quantity.to_milli(q)
        except ValueError:
            continue
    return total


def _shown(resource: str, milli: int) -> int:
    return milli if resource == "cpu" else -(-milli // 1000)


def check_fit(requests: Mapping[str, int], allocatable: Mapping[str, str], used: Mapping[str, int],
              pods_used: int) -> tuple[str, str] | None:
    alloc = {k: quantity.to_milli(v) for k, v in allocatable.items() if quantity.is_valid(v)}
    max_pods = alloc.get("pods", 110_000) // 1000
    if pods_used + 1 > max_pods:
        return ("OutOfpods", "Pod was rejected: Node didn't have enough resource: pods, requested: 1, "
                             f"used: {pods_used}, capacity: {max_pods}")
    for name in sorted(requests):
        want = requests[name]
        if want <= 0 or name == "pods":
            continue
        have = alloc.get(name, 0)
        if used.get(name, 0) + want > have:
            return (f"OutOf{name}", f"Pod was rejected: Node didn't have enough resource: {name}, "
                                    f"requested: {_shown(name, want)}, used: {_shown(name, used.get(name, 0))}, "
                                    f"capacity: {_shown(name, have)}")
    return None


def _requirement(req: Obj, labels: Mapping[str, str]) -> bool:
    key, op, values = req.get("key", ""), req.get("operator", ""), [str(v) for v in req.get("values") or ()]
    has = key in labels
    if op == "In":
        return has and labels[key] in values
    if op == "NotIn":
        return not has or labels[key] not in values
    if op == "Exists":
        return has
    if op == "DoesNotExist":
        return not has
    if op in ("Gt", "Lt") and has and len(values) == 1:
        try:
            a, b = int(labels[key]), int(values[0])
        except ValueError:
            return False
        return a > b if op == "Gt" else a < b
    return False


def node_matches(pod: Obj, node: Obj) -> bool:
    spec = pod.get("spec") or {}
    labels = (node.get("metadata") or {}).get("labels") or {}
    for k, v in (spec.get("nodeSelector") or {}).items():
        if labels.get(k) != v:
            return False
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = required.get("nodeSelectorTerms")
    if terms:
        name = (node.get("metadata") or {}).get("name", "")
        fields = {"metadata.name": name}
        ok = False
        for term in terms:
            exprs = term.get("matchExpressions") or ()
            fexprs = term.get("matchFields") or ()
            if not exprs and not fexprs:
                continue
            if all(_requirement(r, labels) for r in exprs) and all(_requirement(r, fields) for r in fexprs):
                ok = True
                break
        if not ok:
            return False
    return True


def tolerates(toleration: Obj, taint: Obj) -> bool:
    if toleration.get("effect") and toleration.get("effect") != taint.get("effect"):
        return False
    if toleration.get("key") and toleration.get("key") != taint.get("key"):
        return False
    op = toleration.get("operator") or "Equal"
    if op == "Exists":
        return True
    return bool(toleration.get("key")) and (toleration.get("value") or "") == (taint.get("value") or "")


def untolerated_noexecute(pod: Obj, taints: Iterable[Obj]) -> Obj | None:
    tols = (pod.get("spec") or {}).get("tolerations") or ()
    for t in taints:
        if t.get("effect") == "NoExecute" and not any(tolerates(tol, t) for tol in tols):
            return t
    return None


def admit(pod: Obj, node: Obj, used: Mapping[str, int], pods_used: int) -> tuple[str, str] | None:
    """None if the kubelet admits ``pod``, else (reason, message)."""
    if not node_matches(pod, node):
        return ("NodeAffinity", "Pod was rejected: Predicate NodeAffinity failed")
    taint = untolerated_noexecute(pod, (node.get("spec") or {}).get("taints") or ())
    if taint is not None:
        return ("Taint", f"Pod was rejected: Predicate TaintToleration failed: node(s) had untolerated taint "
                         f"{{{taint.get('key')}: {taint.get('value', '')}}}")
    allocatable = (node.get("status") or {}).get("allocatable") or {}
    return check_fit(pod_requests(pod), allocatable, used, pods_used)
