"""Compiled scheduling terms: tolerations vs taints, node selectors, pod affinity terms.

``PodInfo`` (``types.py``) compiles a pod's tolerations, ``nodeSelector``, node affinity and
pod (anti-)affinity once, when the pod enters the queue or the cache; the plugins
(tainttoleration, nodeunschedulable, nodeaffinity, podtopologyspread, interpodaffinity,
defaultpreemption) then match them against thousands of nodes and pods per cycle without
re-reading the JSON. The semantics are those of component-helpers' ``nodeaffinity`` and
kube-scheduler's ``AffinityTerm``:

- a toleration with an empty key and ``Exists`` tolerates every taint; an empty effect matches
  every effect; ``Equal`` (or no operator) compares values;
- ``nodeSelectorTerms`` are ORed, the requirements inside one term ANDed, and a term with no
  requirements matches nothing; ``matchFields`` supports ``metadata.name`` only;
  ``Gt``/``Lt`` compare the label as an integer (a non-integer label never matches);
- a pod affinity term without ``namespaces`` and ``namespaceSelector`` means "the pod's own
  namespace"; an empty ``namespaceSelector`` ({}) means every namespace; a missing
  ``labelSelector`` selects no pod.
"""
from __future__ import annotations

from typing import Any, Mapping, NamedTuple

from kubelite.machinery.selectors import LabelSelector, from_label_selector

TAINT_NO_SCHEDULE = "NoSchedule"
TAINT_PREFER_NO_SCHEDULE = "PreferNoSchedule"
TAINT_NO_EXECUTE = "NoExecute"
TAINT_NODE_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"


class Taint(NamedTuple):
    key: str
    value: str
    effect: str


class Toleration(NamedTuple):
    key: str
    operator: str
    value: str
    effect: str

    def tolerates(self, taint: Taint) -> bool:
        if self.effect and self.effect != taint.effect:
            return False
        if self.key and self.key != taint.key:
            return False
        if self.operator == "Exists":
            return True
        if self.operator in ("", "Equal"):
            return self.value == taint.value
        return False


def parse_taints(raw: Any) -> tuple[Taint, ...]:
    out = []
    for t in raw or ():
        if isinstance(t, dict):
            out.append(Taint(str(t.get("key") or ""), str(t.get("value") or ""), str(t.get("effect") or "")))
    return tuple(out)


def parse_tolerations(raw: Any) -> tuple[Toleration, ...]:
    out = []
    for t in raw or ():
        if isinstance(t, dict):
            out.append(Toleration(str(t.get("key") or ""), str(t.get("operator") or ""),
                                  str(t.get("value") or ""), str(t.get("effect") or "")))
    return tuple(out)


def tolerates_taint(tolerations: tuple[Toleration, ...], taint: Taint) -> bool:
    for t in tolerations:
        if t.tolerates(taint):
            return True
    return False


def first_untolerated(taints: tuple[Taint, ...], tolerations: tuple[Toleration, ...],
                      effects: tuple[str, ...] = (TAINT_NO_SCHEDULE, TAINT_NO_EXECUTE)) -> Taint | None:
    """The first taint with one of ``effects`` that no toleration tolerates (None if all are)."""
    for taint in taints:
        if taint.effect in effects and not tolerates_taint(tolerations, taint):
            return taint
    return None


# -- node selectors -----------------------------------------------------------------------------


def _int_or_none(s: str) -> int | None:
    t = s[1:] if s[:1] in "+-" else s
    if not t.isdigit() or not t.isascii():
        return None
    return int(s)


class NodeSelectorRequirement:
    """One ``matchExpressions``/``matchFields`` entry, compiled."""

    __slots__ = ("key", "op", "values", "number")

    def __init__(self, key: str, op: str, values: list[str]) -> None:
        self.key = key
        self.op = op
        self.values = frozenset(values)
        self.number: int | None = None
        if op in ("Gt", "Lt"):
            self.number = _int_or_none(values[0]) if len(values) == 1 else None

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.op
        if op == "In":
            v = labels.get(self.key)
            return v is not None and v in self.values
        if op == "NotIn":
            v = labels.get(self.key)
            return v is None or v not in self.values
        if op == "Exists":
            return self.key in labels
        if op == "DoesNotExist":
            return self.key not in labels
        if op in ("Gt", "Lt"):
            v = labels.get(self.key)
            if v is None or self.number is None:
                return False
            n = _int_or_none(v)
            if n is None:
                return False
            return n > self.number if op == "Gt" else n < self.number
        return False  # unknown operator: validation forbids it; never match


class NodeSelectorTerm:
    """``matchExpressions`` against labels AND ``matchFields`` against ``metadata.name``."""

    __slots__ = ("expressions", "fields", "names")

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.expressions = tuple(NodeSelectorRequirement(str(e.get("key", "")), str(e.get("operator", "")),
                                                         [str(v) for v in e.get("values") or ()])
                                 for e in raw.get("matchExpressions") or ())
        self.fields = tuple(NodeSelectorRequirement(str(e.get("key", "")), str(e.get("operator", "")),
                                                    [str(v) for v in e.get("values") or ()])
                            for e in raw.get("matchFields") or ())
        # The node names this term can only match (metadata.name In [...]), for PreFilterResult.
        names: frozenset[str] | None = None
        for f in self.fields:
            if f.key == "metadata.name" and f.op == "In":
                names = f.values if names is None else names & f.values
        self.names = names

    def matches(self, labels: Mapping[str, str], node_name: str) -> bool:
        if not self.expressions and not self.fields:
            return False
        for r in self.expressions:
            if not r.matches(labels):
                return False
        for f in self.fields:
            if f.key != "metadata.name" or not f.matches({"metadata.name": node_name}):
                return False
        return True


class NodeSelector:
    """``requiredDuringSchedulingIgnoredDuringExecution``: the terms are ORed."""

    __slots__ = ("terms",)

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.terms = tuple(NodeSelectorTerm(t) for t in raw.get("nodeSelectorTerms") or () if isinstance(t, dict))

    def matches(self, labels: Mapping[str, str], node_name: str) -> bool:
        for t in self.terms:
            if t.matches(labels, node_name):
                return True
        return False

    def node_names(self) -> frozenset[str] | None:
        """Every node that can match, if each term pins ``metadata.name``; else None (any)."""
        out: set[str] = set()
        for t in self.terms:
            if t.names is None:
                return None
            out |= t.names
        return frozenset(out)


class PreferredSchedulingTerm(NamedTuple):
    weight: int
    term: NodeSelectorTerm


def pod_matches_node_selector_and_affinity(node_selector: Mapping[str, str], required: NodeSelector | None,
                                           labels: Mapping[str, str], node_name: str) -> bool:
    """``spec.nodeSelector`` AND required node affinity (what NodeAffinity's Filter checks, and
    what topology spread's ``nodeAffinityPolicy: Honor`` applies)."""
    for k, v in node_selector.items():
        if labels.get(k) != v:
            return False
    return required is None or required.matches(labels, node_name)


# -- pod affinity terms -------------------------------------------------------------------------


class AffinityTerm:
    """A compiled ``PodAffinityTerm``: which pods (selector), in which namespaces, spread over
    which node label (topology key)."""

    __slots__ = ("selector", "namespaces", "namespace_selector", "topology_key")

    def __init__(self, owner_namespace: str, raw: Mapping[str, Any]) -> None:
        self.selector: LabelSelector = from_label_selector(raw.get("labelSelector"))
        ns_sel = raw.get("namespaceSelector")
        namespaces = [str(n) for n in raw.get("namespaces") or ()]
        if not namespaces and ns_sel is None:
            namespaces = [owner_namespace]
        self.namespaces = frozenset(namespaces)
        self.namespace_selector: LabelSelector | None = None if ns_sel is None else from_label_selector(ns_sel)
        self.topology_key = str(raw.get("topologyKey") or "")

    def matches(self, namespace: str, labels: Mapping[str, str], ns_labels: Mapping[str, str] | None) -> bool:
        """Whether a pod in ``namespace`` with ``labels`` is selected; ``ns_labels`` are the
        labels of that namespace (None if unknown: treated as no labels)."""
        if namespace not in self.namespaces:
            sel = self.namespace_selector
            if sel is None or not sel.matches(ns_labels if ns_labels is not None else {}):
                return False
        return self.selector.matches(labels)


class WeightedAffinityTerm(NamedTuple):
    weight: int
    term: AffinityTerm
