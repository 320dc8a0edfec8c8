"""core/v1 ToleratesTaint and FindMatchingUntoleratedTaint, table-driven (valid and invalid input)."""
from __future__ import annotations

from typing import Any

import pytest

from kubelite.api.helpers.taints import (
    Taint, find_untolerated_taint, first_untolerated, matching_tolerations, parse_taints, parse_tolerations,
    tolerates_taint,
)

Obj = dict[str, Any]
GPU = {"key": "gpu", "value": "a100", "effect": "NoSchedule"}


@pytest.mark.parametrize("toleration,taint,expected", [
    ({"key": "gpu", "operator": "Equal", "value": "a100", "effect": "NoSchedule"}, GPU, True),
    ({"key": "gpu", "value": "a100"}, GPU, True),                                 # no operator = Equal, no effect = all
    ({"key": "gpu", "value": "t4"}, GPU, False),                                  # value differs
    ({"key": "gpu", "operator": "Exists"}, GPU, True),                            # any value
    ({"key": "gpu", "operator": "Exists", "effect": "NoExecute"}, GPU, False),    # effect differs
    ({"key": "tpu", "operator": "Exists"}, GPU, False),                           # key differs
    ({"operator": "Exists"}, GPU, True),                                          # empty key + Exists: everything
    ({"operator": "Exists", "effect": "NoSchedule"}, GPU, True),
    ({"operator": "Exists", "effect": "NoExecute"}, GPU, False),
    ({"key": "k", "operator": "Equal"}, {"key": "k", "effect": "NoExecute"}, True),  # "" == ""
    # invalid input (validation rejects it), decided as Kubernetes does:
    ({"operator": "Equal"}, {"key": "any", "effect": "NoExecute"}, True),         # empty key + Equal: compares values
    ({"operator": "Equal", "value": "x"}, {"key": "any", "value": "y", "effect": "NoExecute"}, False),
    ({"key": "k", "operator": "Gt", "value": "1"}, {"key": "k", "value": "2", "effect": "NoSchedule"}, False),  # gated off
    ({"key": "k", "operator": "bogus"}, {"key": "k", "effect": "NoSchedule"}, False),
    ({"key": "k", "value": None}, {"key": "k", "effect": "NoSchedule"}, True),    # null value reads as ""
])
def test_tolerates_taint(toleration: Obj, taint: Obj, expected: bool) -> None:
    assert tolerates_taint(toleration, taint) is expected
    # the compiled form the scheduler uses agrees
    assert parse_tolerations([toleration])[0].tolerates(parse_taints([taint])[0]) is expected


NODE_TAINTS = [{"key": "soft", "effect": "PreferNoSchedule"}, {"key": "a", "effect": "NoSchedule"},
               {"key": "b", "value": "1", "effect": "NoExecute"}]


@pytest.mark.parametrize("tolerations,effects,expected", [
    ([], ("NoSchedule", "NoExecute"), "a"),
    ([{"key": "a", "operator": "Exists"}], ("NoSchedule", "NoExecute"), "b"),
    ([{"key": "a", "operator": "Exists"}, {"key": "b", "value": "1"}], ("NoSchedule", "NoExecute"), None),
    ([], ("NoExecute",), "b"),                                  # filter by effect
    ([], ("PreferNoSchedule",), "soft"),
    ([{"operator": "Exists"}], ("NoSchedule", "NoExecute", "PreferNoSchedule"), None),
    (["junk", None, {"key": "a", "operator": "Exists"}], ("NoSchedule",), None),   # non-objects ignored
])
def test_find_untolerated_taint(tolerations: list[Any], effects: tuple[str, ...], expected: str | None) -> None:
    found = find_untolerated_taint(NODE_TAINTS + ["junk"], tolerations, effects)
    assert (found or {}).get("key") == expected
    compiled = first_untolerated(parse_taints(NODE_TAINTS), parse_tolerations(tolerations), effects)
    assert (compiled.key if compiled else None) == expected


@pytest.mark.parametrize("tolerations,expected", [
    ([], []),
    ([{"key": "b", "operator": "Exists", "tolerationSeconds": 60}, {"key": "c", "operator": "Exists"},
      {"operator": "Exists"}], [60, None]),
])
def test_matching_tolerations(tolerations: list[Obj], expected: list[Any]) -> None:
    got = matching_tolerations(tolerations, {"key": "b", "value": "1", "effect": "NoExecute"})
    assert [t.get("tolerationSeconds") for t in got] == expected


def test_parse_skips_non_objects() -> None:
    assert parse_taints([{"key": "k", "effect": "NoSchedule"}, "x", None]) == (Taint("k", "", "NoSchedule"),)
    assert parse_tolerations(None) == ()
