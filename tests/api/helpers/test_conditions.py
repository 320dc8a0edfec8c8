"""Setting and reading status conditions: lastTransitionTime moves only with the status."""
from __future__ import annotations

from typing import Any

import pytest

from kubelite.api.helpers.conditions import (
    find_condition, get_condition, is_condition_true, remove_condition, set_condition, transition_time,
    update_condition,
)

Obj = dict[str, Any]
OLD = {"type": "Ready", "status": "True", "lastTransitionTime": "T0", "reason": "R", "message": "M"}


@pytest.mark.parametrize("start,args,changed,expected", [
    ([], ("Ready", "True", "R", "M"), True,
     [{"type": "Ready", "status": "True", "lastTransitionTime": "T1", "reason": "R", "message": "M"}]),
    ([OLD], ("Ready", "True", "R", "M"), False, [OLD]),                                   # nothing new
    ([OLD], ("Ready", "True", "R2", "M"), True,                                           # same status: keep time
     [{"type": "Ready", "status": "True", "lastTransitionTime": "T0", "reason": "R2", "message": "M"}]),
    ([OLD], ("Ready", "False", "R", "M"), True,                                           # status flips: new time
     [{"type": "Ready", "status": "False", "lastTransitionTime": "T1", "reason": "R", "message": "M"}]),
    (["junk", OLD], ("Other", "True", "", ""), True,                                      # non-objects kept
     ["junk", OLD, {"type": "Other", "status": "True", "lastTransitionTime": "T1", "reason": "", "message": ""}]),
])
def test_set_condition(start: list[Any], args: tuple[str, ...], changed: bool, expected: list[Any]) -> None:
    conds = [dict(c) if isinstance(c, dict) else c for c in start]
    assert set_condition(conds, *args, "T1") is changed
    assert conds == expected


def test_set_condition_update_time_field() -> None:
    conds: list[Any] = [dict(OLD, lastUpdateTime="T0")]
    assert set_condition(conds, "Ready", "True", "R", "M2", "T1", update_time_field="lastUpdateTime")
    assert conds[0]["lastUpdateTime"] == "T1" and conds[0]["lastTransitionTime"] == "T0"


@pytest.mark.parametrize("new,changed,ltt", [
    ({"type": "Ready", "status": "True", "reason": "R", "message": "M"}, False, "T0"),
    ({"type": "Ready", "status": "True", "reason": "R", "message": "M", "lastProbeTime": "P"}, True, "T0"),
    ({"type": "Ready", "status": "False", "reason": "R", "message": "M"}, True, "T1"),
    ({"type": "New", "status": "True"}, True, "T1"),
])
def test_update_condition(new: Obj, changed: bool, ltt: str) -> None:
    conds: list[Any] = [dict(OLD)]
    assert update_condition(conds, new, "T1") is changed
    assert find_condition(conds, new["type"])["lastTransitionTime"] == ltt  # type: ignore[index]


@pytest.mark.parametrize("obj,ctype,found,true", [
    ({"status": {"conditions": [OLD]}}, "Ready", True, True),
    ({"status": {"conditions": [dict(OLD, status="Unknown")]}}, "Ready", True, False),
    ({"status": {"conditions": None}}, "Ready", False, False),
    ({"status": "bogus"}, "Ready", False, False),
    ({}, "Ready", False, False),
    ({"status": {"conditions": ["x", 3, None]}}, "Ready", False, False),
])
def test_get_condition(obj: Obj, ctype: str, found: bool, true: bool) -> None:
    assert (get_condition(obj, ctype) is not None) is found
    assert is_condition_true(obj, ctype) is true


def test_remove_condition() -> None:
    conds: list[Any] = [dict(OLD), {"type": "X"}]
    assert remove_condition(conds, "Ready") and conds == [{"type": "X"}]
    assert not remove_condition(conds, "Ready")


@pytest.mark.parametrize("previous,status,expected", [
    (None, "True", "NOW"),
    ({"status": "True", "lastTransitionTime": "T0"}, "True", "T0"),
    ({"status": "True", "lastTransitionTime": "T0"}, "False", "NOW"),
    ({"status": "True", "lastTransitionTime": None}, "True", "NOW"),     # no time to keep
    ({"status": "True"}, "True", "NOW"),
])
def test_transition_time(previous: Obj | None, status: str, expected: str) -> None:
    assert transition_time(previous, status, "NOW") == expected
