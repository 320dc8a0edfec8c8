"""The RollingUpdate strategy (Kubernetes' ``deployment/rolling.go``): pure planning plus the
one async driver the deployment controller calls.

Each sync makes at most one kind of move, then waits for the ReplicaSets' status to change:

1. *Scale the new ReplicaSet up* to fill the surge budget: total pods <= replicas + maxSurge.
2. Otherwise *scale old ReplicaSets down*, first removing their unavailable pods (they count
   for nothing), then available ones while total available stays >= replicas - maxUnavailable.

Worked example: replicas 10, maxSurge 3, maxUnavailable 2 (min available 8); old RS has 10
available pods, new template applied.

====  ===========================================  ============  ==============
step  move                                         new (avail)   old (avail)
====  ===========================================  ============  ==============
1     new up: 13 - 10 = 3                          3 (0)         10 (10)
2     old down: 10 available - 8 = 2               3 (0)         8 (8)
3     new up: 13 - 11 = 2                          5 (0)         8 (8)
4     (no move: available 8 = minimum; waiting for the new pods)
5     3 new pods ready -> old down: 11 - 8 = 3     5 (3)         5 (5)
====  ===========================================  ============  ==============

and so on until new = 10 and old = 0. ``plan_step`` is this table as a function (tests drive it
with hypothesis); ``rollout_rolling`` applies it through the controller.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from kubelite.controllers.deployment import util
from kubelite.controllers.podcontrol import creation_key, name_of

if TYPE_CHECKING:
    from kubelite.controllers.deployment.sync import DeploymentController

Obj = dict[str, Any]


@dataclass(frozen=True)
class RSView:
    """What planning needs of a ReplicaSet: spec size, available pods, age."""

    name: str
    replicas: int
    available: int
    created: str = ""

    @classmethod
    def of(cls, rs: Mapping[str, Any]) -> RSView:
        return cls(name_of(rs), util.replicas_of(rs), int((rs.get("status") or {}).get("availableReplicas") or 0),
                   creation_key(rs)[0])


def new_rs_target(replicas: int, surge: int, new: RSView, olds: Sequence[RSView]) -> int | None:
    """The new RS's next size, or None when it needs no change."""
    if new.replicas == replicas:
        return None
    if new.replicas > replicas:
        return replicas
    current = new.replicas + sum(o.replicas for o in olds)
    limit = replicas + surge
    if current >= limit:
        return None
    return new.replicas + min(limit - current, replicas - new.replicas)


def old_rs_targets(replicas: int, unavailable: int, new: RSView | None, olds: Sequence[RSView]) -> dict[str, int]:
    """New sizes for the old ReplicaSets this step ({} = nothing to do).

    ``unavailable`` is the Deployment's maxUnavailable in pods (already capped at replicas)."""
    # An old RS just scaled down may still report the pods it is deleting as available (the
    # ReplicaSet controller writes status from the pod list it had before deleting). It will
    # never have more available pods than it wants: counting the stale figure would scale it
    # down again at once and break maxUnavailable (Kubernetes refuses that step with an error).
    olds = [replace(o, available=min(o.available, o.replicas)) for o in olds]
    active_olds = [o for o in olds if o.replicas > 0]
    if not active_olds:
        return {}
    all_pods = sum(o.replicas for o in olds) + (new.replicas if new else 0)
    min_available = replicas - unavailable
    new_unavailable = (new.replicas - new.available) if new else 0
    budget = all_pods - min_available - new_unavailable
    if budget <= 0:
        return {}
    sizes = {o.name: o.replicas for o in active_olds}
    ordered = sorted(active_olds, key=lambda o: (o.created, o.name))
    # 1. Unhealthy replicas first: they cost no availability.
    cleaned = 0
    for o in ordered:
        if cleaned >= budget:
            break
        size = sizes[o.name]
        if size == 0 or size <= o.available:
            continue
        n = min(budget - cleaned, size - o.available)
        sizes[o.name] = size - n
        cleaned += n
    # 2. Then available ones, down to the minimum availability.
    available = sum(o.available for o in olds) + (new.available if new else 0)
    if available > min_available:
        to_remove = available - min_available
        removed = 0
        for o in ordered:
            if removed >= to_remove:
                break
            size = sizes[o.name]
            if size == 0:
                continue
            n = min(size, to_remove - removed)
            sizes[o.name] = size - n
            removed += n
    return {o.name: sizes[o.name] for o in active_olds if sizes[o.name] != o.replicas}


def plan_step(replicas: int, surge: int, unavailable: int, new: RSView,
              olds: Sequence[RSView]) -> tuple[int | None, dict[str, int]]:
    """One sync of a rolling update: (new RS size or None, old RS sizes). Only one of the two
    is ever non-empty -- the controller waits for status after each move."""
    target = new_rs_target(replicas, surge, new, olds)
    if target is not None:
        return target, {}
    return None, old_rs_targets(replicas, min(unavailable, replicas), new, olds)


async def rollout_rolling(dc: DeploymentController, d: Obj, rss: list[Obj]) -> None:
    new_rs, old_rss = await dc.get_all_rss_and_sync_revision(d, rss, create=True)
    all_rss: list[Obj] = [*old_rss, *([new_rs] if new_rs is not None else [])]
    replicas = util.replicas_of(d)
    if new_rs is not None:
        target = new_rs_target(replicas, util.max_surge(d), RSView.of(new_rs), [RSView.of(o) for o in old_rss])
        if target is not None:
            _, new_rs = await dc.scale_replica_set(new_rs, target, d)
            all_rss = [*old_rss, new_rs]
            await dc.sync_rollout_status(all_rss, new_rs, d)
            return
    olds = [RSView.of(o) for o in old_rss]
    targets = old_rs_targets(replicas, util.max_unavailable(d), RSView.of(new_rs) if new_rs else None, olds)
    if targets:
        updated: list[Obj] = []
        for o in old_rss:
            if name_of(o) in targets:
                _, o = await dc.scale_replica_set(o, targets[name_of(o)], d)
            updated.append(o)
        all_rss = [*updated, *([new_rs] if new_rs is not None else [])]
        await dc.sync_rollout_status(all_rss, new_rs, d)
        return
    if util.deployment_complete(d, d.get("status") or {}):
        await dc.cleanup_deployment(old_rss, d)
    await dc.sync_rollout_status(all_rss, new_rs, d)
