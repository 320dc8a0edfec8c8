"""Rollout progress: the ``Progressing`` condition and the progress deadline (Kubernetes'
``deployment/progress.go``). Pure: ``rollout_status`` returns the new status and how long to
wait before looking again; the controller writes and requeues.

With ``progressDeadlineSeconds: 600``: while pods are being updated, made ready or available
the condition reads ``True ReplicaSetUpdated "ReplicaSet "web-5d4f8" is progressing."`` and its
``lastUpdateTime`` moves with every bit of progress; when the rollout completes,
``True NewReplicaSetAvailable "ReplicaSet "web-5d4f8" has successfully progressed."``; if
600 s pass after the last progress, ``False ProgressDeadlineExceeded "ReplicaSet "web-5d4f8"
has timed out progressing."`` -- which ``kubectl rollout status`` reports as an error.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from kubelite.api.helpers.conditions import find_condition
from kubelite.api.helpers.times import format_time, try_parse_time
from kubelite.controllers.deployment import util
from kubelite.controllers.podcontrol import (
    name_of,
)

Obj = dict[str, Any]


def timed_out(d: Mapping[str, Any], status: Mapping[str, Any], now: dt.datetime) -> bool:
    if not util.has_progress_deadline(d):
        return False
    cond = find_condition(status.get("conditions"), "Progressing")
    if cond is None or cond.get("reason") == util.REASON_NEW_RS_AVAILABLE:
        return False
    if cond.get("reason") == util.REASON_TIMED_OUT:
        return True
    since = try_parse_time(cond.get("lastUpdateTime"))
    if since is None:
        return False
    deadline = since + dt.timedelta(seconds=int((d.get("spec") or {}).get("progressDeadlineSeconds") or 0))
    return deadline < now


def rollout_status(all_rss: Sequence[Mapping[str, Any] | None], new_rs: Mapping[str, Any] | None,
                   d: Mapping[str, Any], now: dt.datetime) -> tuple[Obj, float | None]:
    """(new status, seconds until the deadline should be re-checked or None)."""
    stamp = format_time(now)
    status = util.calculate_status(all_rss, new_rs, d, stamp)
    if not util.has_progress_deadline(d):
        util.remove_condition(status, "Progressing")
    current = find_condition(status.get("conditions"), "Progressing")
    complete = ((status.get("replicas") or 0) == (status.get("updatedReplicas") or 0) and current is not None
                and current.get("reason") == util.REASON_NEW_RS_AVAILABLE)
    subject = f'ReplicaSet "{name_of(new_rs)}"' if new_rs is not None else f'Deployment "{name_of(d)}"'
    if util.has_progress_deadline(d) and not complete:
        if util.deployment_complete(d, status):
            util.set_condition(status, util.new_condition("Progressing", "True", util.REASON_NEW_RS_AVAILABLE,
                                                          f"{subject} has successfully progressed.", stamp))
        elif util.deployment_progressing(d, status):
            cond = util.new_condition("Progressing", "True", util.REASON_RS_UPDATED, f"{subject} is progressing.", stamp)
            # Progress refreshes lastUpdateTime even when the reason is unchanged (the
            # deadline counts from the last progress), keeping lastTransitionTime.
            if current is not None:
                if current.get("status") == "True":
                    cond["lastTransitionTime"] = current.get("lastTransitionTime", stamp)
                util.remove_condition(status, "Progressing")
            util.set_condition(status, cond)
        elif timed_out(d, status, now):
            util.set_condition(status, util.new_condition("Progressing", "False", util.REASON_TIMED_OUT,
                                                          f"{subject} has timed out progressing.", stamp))
    # Promote a ReplicaSet's ReplicaFailure (e.g. quota exceeded) onto the Deployment.
    failure = None
    for rs in all_rss:
        if rs is not None:
            failure = find_condition((rs.get("status") or {}).get("conditions"), "ReplicaFailure") or failure
    if failure is not None:
        util.set_condition(status, {"type": "ReplicaFailure", "status": failure.get("status", "True"),
                                    "lastUpdateTime": failure.get("lastTransitionTime", stamp),
                                    "lastTransitionTime": failure.get("lastTransitionTime", stamp),
                                    "reason": failure.get("reason", ""), "message": failure.get("message", "")})
    else:
        util.remove_condition(status, "ReplicaFailure")
    return status, requeue_after(d, status, now)


def requeue_after(d: Mapping[str, Any], status: Mapping[str, Any], now: dt.datetime) -> float | None:
    """Seconds until a stuck rollout's deadline passes (so the controller looks again then)."""
    cond = find_condition(status.get("conditions"), "Progressing")
    if not util.has_progress_deadline(d) or cond is None:
        return None
    if util.deployment_complete(d, status) or cond.get("reason") == util.REASON_TIMED_OUT:
        return None
    since = try_parse_time(cond.get("lastUpdateTime"))
    if since is None:
        return None
    deadline = since + dt.timedelta(seconds=int((d.get("spec") or {}).get("progressDeadlineSeconds") or 0))
    return max((deadline - now).total_seconds(), 0.0) + 1.0


def paused_condition(d: Mapping[str, Any], now: str) -> Obj | None:
    """The Progressing condition to record when the Deployment was paused or resumed, or None."""
    if not util.has_progress_deadline(d):
        return None
    cond = find_condition((d.get("status") or {}).get("conditions"), "Progressing")
    if cond is not None and cond.get("reason") == util.REASON_TIMED_OUT:
        return None  # a reported timeout is not overwritten by pausing
    paused_recorded = cond is not None and cond.get("reason") == util.REASON_PAUSED
    paused = bool((d.get("spec") or {}).get("paused"))
    if paused and not paused_recorded:
        return util.new_condition("Progressing", "Unknown", util.REASON_PAUSED, "Deployment is paused", now)
    if not paused and paused_recorded:
        return util.new_condition("Progressing", "Unknown", util.REASON_RESUMED, "Deployment is resumed", now)
    return None
