"""The Recreate strategy (Kubernetes' ``deployment/recreate.go``): every old pod goes before any
new pod starts.

One sync does the first step that applies: scale every old ReplicaSet to 0; else, while any old
pod still exists (not Succeeded/Failed), wait; else create the new ReplicaSet if needed and
scale it to ``spec.replicas``; once complete, prune history. Example: 3 replicas of v1 ->
v1 scaled to 0 ("Scaled down replica set web-7c6 from 3 to 0"), pods terminate, then v2 is
created with 3 replicas. Called by the deployment controller's ``sync``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kubelite.api.helpers.podutil import is_pod_terminal
from kubelite.controllers.deployment import util
from kubelite.controllers.podcontrol import (
    uid_of,
)

if TYPE_CHECKING:
    from kubelite.controllers.deployment.sync import DeploymentController

Obj = dict[str, Any]


def old_pods_running(new_rs: Mapping[str, Any] | None, old_rss: Sequence[Mapping[str, Any]],
                     pods_by_rs: Mapping[str, Sequence[Mapping[str, Any]]]) -> bool:
    """Whether any pod of an old ReplicaSet may still be running (by status count, or any of
    its pods in the cache that has not finished)."""
    if util.total_status(old_rss, "replicas") > 0:
        return True
    new_uid = uid_of(new_rs) if new_rs is not None else None
    for rs_uid, pods in pods_by_rs.items():
        if rs_uid == new_uid:
            continue
        if any(not is_pod_terminal(p) for p in pods):
            return True
    return False


async def rollout_recreate(dc: DeploymentController, d: Obj, rss: list[Obj],
                           pods_by_rs: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
    new_rs, old_rss = await dc.get_all_rss_and_sync_revision(d, rss, create=False)
    all_rss: list[Obj] = [*old_rss, *([new_rs] if new_rs is not None else [])]
    scaled_down = False
    updated_old: list[Obj] = []
    for rs in old_rss:
        if util.replicas_of(rs) > 0:
            changed, rs = await dc.scale_replica_set(rs, 0, d)
            scaled_down = scaled_down or changed
        updated_old.append(rs)
    if scaled_down:
        await dc.sync_rollout_status([*updated_old, *([new_rs] if new_rs is not None else [])], new_rs, d)
        return
    if old_pods_running(new_rs, old_rss, pods_by_rs):
        await dc.sync_rollout_status(all_rss, new_rs, d)
        return
    if new_rs is None:
        new_rs, old_rss = await dc.get_all_rss_and_sync_revision(d, rss, create=True)
        all_rss = [*old_rss, *([new_rs] if new_rs is not None else [])]
    if new_rs is not None:
        _, new_rs = await dc.scale_replica_set(new_rs, util.replicas_of(d), d)
        all_rss = [*old_rss, new_rs]
    if util.deployment_complete(d, d.get("status") or {}):
        await dc.cleanup_deployment(old_rss, d)
    await dc.sync_rollout_status(all_rss, new_rs, d)
