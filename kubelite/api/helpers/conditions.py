"""Status conditions of any kind (``status.conditions``: Pod, Node, Namespace, Deployment,
Job, ...): find one, test it, and set one with Kubernetes' rule that ``lastTransitionTime``
moves only when ``status`` changes (podutil ``UpdatePodCondition``, apimachinery
``meta.SetStatusCondition``). Pod-specific readiness lives in ``podutil``.

Invalid input: entries of a conditions list that are not objects are skipped by the readers and
kept, untouched, by the writers; a missing list reads as empty.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

Obj = dict[str, Any]


def find_condition(conditions: Iterable[Any] | None, ctype: str) -> Mapping[str, Any] | None:
    """The condition of type ``ctype`` in a conditions list, or None."""
    for c in conditions or ():
        if isinstance(c, Mapping) and c.get("type") == ctype:
            return c
    return None


def get_condition(obj: Mapping[str, Any], ctype: str) -> Mapping[str, Any] | None:
    """The condition ``ctype`` of an object (``status.conditions``), or None."""
    status = obj.get("status")
    return find_condition(status.get("conditions") if isinstance(status, Mapping) else None, ctype)


def is_condition_true(obj: Mapping[str, Any], ctype: str) -> bool:
    c = get_condition(obj, ctype)
    return c is not None and c.get("status") == "True"


def transition_time(previous: Mapping[str, Any] | None, status: str, now: str) -> str:
    """The ``lastTransitionTime`` of a condition about to read ``status``: the previous one's
    when the status is unchanged (and it has one), else ``now``. The one rule every writer of
    conditions follows."""
    if previous is not None and previous.get("status") == status and previous.get("lastTransitionTime"):
        return str(previous["lastTransitionTime"])
    return now


def set_condition(conditions: list[Any], ctype: str, status: str, reason: str, message: str,
                  now: str, *, update_time_field: str | None = None) -> bool:
    """Insert or replace the condition ``ctype`` in place; ``lastTransitionTime`` is kept when
    the status does not change. Returns whether anything changed (a condition equal in status,
    reason and message is left alone, times included). ``update_time_field`` (e.g.
    "lastUpdateTime" for Deployments, "lastProbeTime" for Jobs) is refreshed on every change."""
    for i, c in enumerate(conditions):
        if not isinstance(c, Mapping) or c.get("type") != ctype:
            continue
        if c.get("status") == status and c.get("reason") == reason and c.get("message") == message:
            return False
        new: Obj = {"type": ctype, "status": status}
        if update_time_field:
            new[update_time_field] = now
        new["lastTransitionTime"] = transition_time(c, status, now)
        new["reason"] = reason
        new["message"] = message
        conditions[i] = new
        return True
    new = {"type": ctype, "status": status}
    if update_time_field:
        new[update_time_field] = now
    new.update({"lastTransitionTime": now, "reason": reason, "message": message})
    conditions.append(new)
    return True


def update_condition(conditions: list[Any], condition: Mapping[str, Any], now: str) -> bool:
    """podutil ``UpdatePodCondition``: put ``condition`` (a full condition object) in place of
    the one of its type, with ``lastTransitionTime`` = the old one's when the status is
    unchanged, else ``now``. Returns whether anything (status, reason, message, lastProbeTime,
    lastTransitionTime) changed."""
    new = dict(condition)
    ctype = new.get("type")
    for i, c in enumerate(conditions):
        if not isinstance(c, Mapping) or c.get("type") != ctype:
            continue
        new["lastTransitionTime"] = transition_time(c, str(new.get("status")), now)
        changed = any(c.get(f) != new.get(f) for f in ("status", "reason", "message", "lastProbeTime",
                                                        "lastTransitionTime"))
        conditions[i] = new
        return changed
    new["lastTransitionTime"] = now
    conditions.append(new)
    return True


def remove_condition(conditions: list[Any], ctype: str) -> bool:
    """Drop the condition ``ctype`` in place; whether there was one."""
    keep = [c for c in conditions if not (isinstance(c, Mapping) and c.get("type") == ctype)]
    removed = len(keep) != len(conditions)
    conditions[:] = keep
    return removed
