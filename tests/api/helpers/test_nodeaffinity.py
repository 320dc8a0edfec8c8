"""component-helpers nodeaffinity: requirements, terms, selectors, nodeSelector + required
affinity; table-driven, with the invalid input Kubernetes' lazy-error selector rejects."""
from __future__ import annotations

from typing import Any

import pytest

from kubelite.api.helpers.nodeaffinity import (
    NodeSelector, NodeSelectorTerm, match_node_selector_terms, pod_spec_matches_node,
)

Obj = dict[str, Any]
LABELS = {"zone": "z1", "cores": "8", "gpu": "", "weird": "1.5", "huge": "99999999999999999999",
          "big": "9223372036854775807"}


def expr(key: str, op: str, *values: Any) -> Obj:
    e: Obj = {"key": key, "operator": op}
    if values:
        e["values"] = list(values)
    return e


@pytest.mark.parametrize("requirement,expected", [
    (expr("zone", "In", "z1", "z2"), True),
    (expr("zone", "In", "z3"), False),
    (expr("absent", "In", "z1"), False),
    (expr("zone", "NotIn", "z3"), True),
    (expr("zone", "NotIn", "z1"), False),
    (expr("absent", "NotIn", "z1"), True),                 # absent label satisfies NotIn
    (expr("gpu", "Exists"), True),                         # empty value still exists
    (expr("absent", "Exists"), False),
    (expr("absent", "DoesNotExist"), True),
    (expr("zone", "DoesNotExist"), False),
    (expr("cores", "Gt", "4"), True),
    (expr("cores", "Gt", "8"), False),
    (expr("cores", "Lt", "10"), True),
    (expr("cores", "Lt", "09"), True),                     # label 8 < 9 (a leading zero parses)
    (expr("absent", "Gt", "1"), False),
    (expr("weird", "Gt", "1"), False),                     # non-integer label: no match
    (expr("zone", "Gt", "1"), False),
    (expr("huge", "Gt", "1"), False),                     # a label beyond int64 is no integer
    (expr("big", "Gt", "9223372036854775806"), True),      # int64 max still is
    # invalid requirements: the term never matches
    (expr("cores", "Lt", "+9"), False),                    # ParseInt takes the sign, but "+9" is no label value
    (expr("cores", "Gt", "-1"), False),                    # likewise "-1"
    (expr("cores", "Gt", "4.5"), False),
    (expr("cores", "Gt", " 4"), False),                    # Python int() would accept this; Go does not
    (expr("cores", "Gt", "4_0"), False),
    (expr("cores", "Gt", "99999999999999999999"), False),  # beyond int64
    (expr("cores", "Gt", "1", "2"), False),                # exactly one value
    (expr("cores", "Gt"), False),
    (expr("zone", "In"), False),                           # In needs values
    (expr("absent", "NotIn"), False),                      # NotIn needs values (would otherwise match)
    (expr("absent", "DoesNotExist", "x"), False),          # DoesNotExist takes none
    (expr("zone", "Equals", "z1"), False),                 # unknown operator
    (expr("bad key!", "Exists"), False),                   # key must be a qualified name
    (expr("absent", "NotIn", "not a label value"), False),
])
def test_requirement(requirement: Obj, expected: bool) -> None:
    term = NodeSelectorTerm({"matchExpressions": [requirement]})
    assert term.matches(LABELS, "n1") is expected
    node = {"metadata": {"name": "n1", "labels": LABELS}}
    assert match_node_selector_terms(node, [{"matchExpressions": [requirement]}]) is expected


@pytest.mark.parametrize("term,name,expected,has_errors", [
    ({}, "n1", False, False),                                                     # empty term matches nothing
    ({"matchExpressions": [], "matchFields": []}, "n1", False, False),
    ({"matchFields": [expr("metadata.name", "In", "n1")]}, "n1", True, False),
    ({"matchFields": [expr("metadata.name", "In", "n1")]}, "n2", False, False),
    ({"matchFields": [expr("metadata.name", "NotIn", "n1")]}, "n2", True, False),
    ({"matchFields": [expr("metadata.name", "In", "n1", "n2")]}, "n1", False, True),   # one value only
    ({"matchFields": [expr("metadata.name", "Exists")]}, "n1", False, True),            # In/NotIn only
    ({"matchFields": [expr("spec.unschedulable", "NotIn", "x")]}, "n1", True, False),   # unknown field reads ""
    ({"matchFields": [expr("spec.unschedulable", "In", "x")]}, "n1", False, False),
    ({"matchExpressions": [expr("zone", "In", "z1")], "matchFields": [expr("metadata.name", "In", "n1")]},
     "n1", True, False),
    ({"matchExpressions": [expr("zone", "In", "z9")], "matchFields": [expr("metadata.name", "In", "n1")]},
     "n1", False, False),
    ({"matchExpressions": ["junk"]}, "n1", False, True),
])
def test_term(term: Obj, name: str, expected: bool, has_errors: bool) -> None:
    compiled = NodeSelectorTerm(term)
    assert compiled.matches(LABELS, name) is expected
    assert bool(compiled.errors) is has_errors


def test_selector_ors_terms_and_skips_invalid_ones() -> None:
    bad = {"matchExpressions": [expr("cores", "Gt", "many")]}
    good = {"matchExpressions": [expr("zone", "In", "z1")]}
    assert NodeSelector({"nodeSelectorTerms": [bad, good]}).matches(LABELS, "n1")
    assert not NodeSelector({"nodeSelectorTerms": [bad]}).matches(LABELS, "n1")
    assert not NodeSelector({"nodeSelectorTerms": []}).matches(LABELS, "n1")
    pinned = NodeSelector({"nodeSelectorTerms": [{"matchFields": [expr("metadata.name", "In", "a")]},
                                                 {"matchFields": [expr("metadata.name", "In", "b")]}, bad]})
    assert pinned.node_names() == {"a", "b"}
    assert NodeSelector({"nodeSelectorTerms": [good]}).node_names() is None


REQ = {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
    "nodeSelectorTerms": [{"matchExpressions": [expr("zone", "In", "z1")]}]}}}}


@pytest.mark.parametrize("spec,labels,expected", [
    ({}, {}, True),
    ({"nodeSelector": {"disk": "ssd"}}, {"disk": "ssd"}, True),
    ({"nodeSelector": {"disk": "ssd"}}, {"disk": "hdd"}, False),
    ({"nodeSelector": {"disk": "ssd"}}, {}, False),
    (REQ, {"zone": "z1"}, True),
    (REQ, {"zone": "z2"}, False),
    ({**REQ, "nodeSelector": {"disk": "ssd"}}, {"zone": "z1"}, False),     # both must hold
    ({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {}}}}, {}, False),  # no terms
    ({"affinity": {"nodeAffinity": {}}}, {}, True),
])
def test_pod_spec_matches_node(spec: Obj, labels: dict[str, str], expected: bool) -> None:
    assert pod_spec_matches_node(spec, {"metadata": {"name": "n", "labels": labels}}) is expected
