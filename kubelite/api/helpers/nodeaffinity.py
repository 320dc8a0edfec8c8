"""Node selectors: does a node match a ``NodeSelectorTerm``, a ``NodeSelector`` (required node
affinity, a PersistentVolume's ``nodeAffinity.required``) and a pod's ``nodeSelector`` plus
required node affinity — component-helpers ``scheduling/corev1/nodeaffinity``
(``NodeSelector``, ``RequiredNodeAffinity``, ``MatchNodeSelectorTerms``). The scheduler's
NodeAffinity and topology-spread plugins, the DaemonSet controller, the PV binder and the node
agent's admission all use this one copy.

Rules: terms are ORed, the requirements in one term ANDed, and a term with neither
``matchExpressions`` nor ``matchFields`` matches nothing. Label operators: ``In`` (label present
with one of the values), ``NotIn`` (absent, or none of the values), ``Exists``,
``DoesNotExist``, ``Gt``/``Lt`` (label and the one value both base-10 int64, compared as
numbers). ``matchFields`` knows ``metadata.name`` (other field keys read as ""), with ``In`` or
``NotIn`` and exactly one value. ``nodeSelector`` entries are exact label equality.

Invalid input, as Kubernetes' lazy-error selector treats it: a term with any malformed
requirement — unknown operator, ``In``/``NotIn`` without values, ``Exists``/``DoesNotExist``
with values, ``Gt``/``Lt`` without exactly one integer value (``"1.5"``, ``"ten"``, beyond
int64; ``"-1"``/``"+1"`` too, as they are no label values), a key that is not a qualified
name, a value that is not a label value, a field
requirement that is not ``In``/``NotIn`` with one value — never matches, while the other terms
still can; ``NodeSelectorTerm.errors`` says why. A node label that is not an integer simply
fails ``Gt``/``Lt``. Python's lenient ``int()`` (``" 5"``, ``"5_0"``) is not used.

The classes are the compiled forms: compile once per pod (the scheduler does, in ``PodInfo``),
then match thousands of nodes via ``matches(labels, node_name)``. As in Kubernetes, a term's
``matchExpressions`` become a label selector: the requirement checks and label matching are
``machinery.selectors``' (``labels.NewRequirement``), not repeated here.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from kubelite.machinery.errors import StatusError
from kubelite.machinery.selectors import (
    DOES_NOT_EXIST, EXISTS, GREATER_THAN, IN, LESS_THAN, NOT_IN, Requirement, new_requirement,
)

#: NodeSelectorOperator -> the labels package's operator (``nodeSelectorRequirementsAsSelector``)
LABEL_OPERATORS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST,
                   "Gt": GREATER_THAN, "Lt": LESS_THAN}
FIELD_OPERATORS = ("In", "NotIn")
NODE_NAME_FIELD = "metadata.name"


def _s(v: Any) -> str:
    return "" if v is None else str(v)


def _values(raw: Mapping[str, Any]) -> list[str]:
    values = raw.get("values") or ()
    return [_s(v) for v in values] if isinstance(values, (list, tuple)) else [_s(values)]


def _label_requirement(raw: Mapping[str, Any]) -> Requirement | str:
    """One ``matchExpressions`` entry as a labels requirement (``labels.NewRequirement``'s
    checks, in ``machinery.selectors``), or the reason it is malformed."""
    op = _s(raw.get("operator"))
    if op not in LABEL_OPERATORS:
        return f'operator: Unsupported value: "{op}": supported values: ' + ", ".join(f'"{o}"' for o in LABEL_OPERATORS)
    try:
        return new_requirement(_s(raw.get("key")), LABEL_OPERATORS[op], _values(raw))
    except StatusError as e:
        return e.message


class FieldRequirement(NamedTuple):
    """One ``matchFields`` entry: ``metadata.name`` In / NotIn one value (``fields.OneTerm*Selector``)."""

    key: str
    op: str
    value: str

    def matches(self, node_name: str) -> bool:
        v = node_name if self.key == NODE_NAME_FIELD else ""  # fields.Set: other fields read as ""
        return (v == self.value) if self.op == "In" else (v != self.value)


def _field_requirement(raw: Mapping[str, Any]) -> FieldRequirement | str:
    op, values = _s(raw.get("operator")), _values(raw)
    if op not in FIELD_OPERATORS:
        return f'operator: Unsupported value: "{op}": supported values: "In", "NotIn"'
    if len(values) != 1:
        return "values: Invalid value: must have one element"
    return FieldRequirement(_s(raw.get("key")), op, values[0])


class NodeSelectorTerm:
    """``matchExpressions`` (a label selector) AND ``matchFields`` against the node's name."""

    __slots__ = ("labels", "fields", "names", "errors", "_matchable")

    def __init__(self, raw: Mapping[str, Any]) -> None:
        exprs, fields = raw.get("matchExpressions") or (), raw.get("matchFields") or ()
        self.errors: list[str] = []
        reqs: list[Requirement] = []
        for e in exprs:
            r = _label_requirement(e) if isinstance(e, Mapping) else "matchExpressions: must be an object"
            (self.errors.append(r) if isinstance(r, str) else reqs.append(r))
        self.fields: tuple[FieldRequirement, ...] = ()
        frs: list[FieldRequirement] = []
        for f in fields:
            fr = _field_requirement(f) if isinstance(f, Mapping) else "matchFields: must be an object"
            (self.errors.append(fr) if isinstance(fr, str) else frs.append(fr))
        self.fields = tuple(frs)
        # The label selector the expressions make (labels.Selector); matched requirement by
        # requirement below, one call less per pod x node than LabelSelector.matches.
        self.labels: tuple[Requirement, ...] = tuple(reqs)
        # The node names this term can only match (metadata.name In [x]), for PreFilterResult.
        names: frozenset[str] | None = None
        for fr in frs:
            if fr.key == NODE_NAME_FIELD and fr.op == "In":
                names = frozenset((fr.value,)) if names is None else names & {fr.value}
        self.names = names
        # a malformed term, or one with no requirement at all, matches nothing
        self._matchable = not self.errors and bool(self.labels or self.fields)

    def matches(self, labels: Mapping[str, str], node_name: str) -> bool:
        if not self._matchable:
            return False
        for r in self.labels:
            if not r.matches(labels):
                return False
        for f in self.fields:
            if not f.matches(node_name):
                return False
        return True


class NodeSelector:
    """A ``NodeSelector`` (``nodeSelectorTerms``, ORed)."""

    __slots__ = ("terms",)

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.terms = tuple(NodeSelectorTerm(t) for t in raw.get("nodeSelectorTerms") or () if isinstance(t, Mapping))

    def matches(self, labels: Mapping[str, str], node_name: str) -> bool:
        for t in self.terms:
            if t.matches(labels, node_name):
                return True
        return False

    def node_names(self) -> frozenset[str] | None:
        """Every node that can match, if each term pins ``metadata.name``; else None (any)."""
        out: set[str] = set()
        for t in self.terms:
            if t.errors:
                continue  # matches nothing
            if t.names is None:
                return None
            out |= t.names
        return frozenset(out)


class PreferredSchedulingTerm(NamedTuple):
    weight: int
    term: NodeSelectorTerm


def _labels_and_name(node: Mapping[str, Any]) -> tuple[Mapping[str, str], str]:
    meta = node.get("metadata") or {}
    return meta.get("labels") or {}, _s(meta.get("name"))


def match_node_selector_terms(node: Mapping[str, Any], terms: Iterable[Mapping[str, Any]]) -> bool:
    """component-helpers ``MatchNodeSelectorTerms``: does the node match any of the terms."""
    labels, name = _labels_and_name(node)
    return NodeSelector({"nodeSelectorTerms": list(terms)}).matches(labels, name)


def matches_node_selector(node_selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """``spec.nodeSelector``: every entry equals the node's label."""
    return pod_matches_node_selector_and_affinity(node_selector or {}, None, labels, "")


def required_node_selector(pod_spec: Mapping[str, Any]) -> NodeSelector | None:
    """The compiled ``requiredDuringSchedulingIgnoredDuringExecution`` of a pod spec, or None."""
    required = (((pod_spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution"))
    return NodeSelector(required) if isinstance(required, Mapping) else None


def pod_matches_node_selector_and_affinity(node_selector: Mapping[str, str], required: NodeSelector | None,
                                           labels: Mapping[str, str], node_name: str) -> bool:
    """``spec.nodeSelector`` AND required node affinity, compiled (``RequiredNodeAffinity.Match``).
    The scheduler's Filter calls this for every pod x node: the loop is inline on purpose."""
    for k, v in node_selector.items():
        if labels.get(k) != v:
            return False
    return required is None or required.matches(labels, node_name)


def pod_spec_matches_node(pod_spec: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """A pod spec's ``nodeSelector`` and required node affinity against a node object."""
    labels, name = _labels_and_name(node)
    return pod_matches_node_selector_and_affinity(pod_spec.get("nodeSelector") or {},
                                                  required_node_selector(pod_spec), labels, name)
