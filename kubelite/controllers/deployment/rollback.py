"""Rollback through the ``deprecated.deployment.rollback.to`` annotation (Kubernetes'
``deployment/rollback.go``; what ``spec.rollbackTo`` became in apps/v1).

``kubectl rollout undo`` does not use this: it patches the template back itself, and the
controller's ``get_all_rss_and_sync_revision`` then gives the reused ReplicaSet the next
revision. This path serves clients that still set the annotation: revision N (0 = the one
before the current) is looked up among the Deployment's ReplicaSets, its template (minus the
hash label) and annotations are copied onto the Deployment, and the annotation is removed.
Events: ``DeploymentRollback`` "Rolled back deployment "web" to revision 2",
``DeploymentRollbackRevisionNotFound``, ``DeploymentRollbackTemplateUnchanged``.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kubelite.client import DEPLOYMENTS, NORMAL, WARNING, copy_object
from kubelite.controllers.deployment import util
from kubelite.controllers.podcontrol import meta, name_of

if TYPE_CHECKING:
    from kubelite.controllers.deployment.sync import DeploymentController

Obj = dict[str, Any]


def rollback_to(d: Mapping[str, Any]) -> int | None:
    """The requested revision, or None when no rollback is asked for (or it is unparsable)."""
    value = (meta(d).get("annotations") or {}).get(util.ROLLBACK_TO)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def rolled_back(d: Mapping[str, Any], rs: Mapping[str, Any]) -> Obj:
    """A copy of ``d`` with ``rs``'s template (hash label removed) and copyable annotations,
    and without the rollback annotation."""
    out = copy_object(d)
    out["spec"]["template"] = util.strip_hash(copy_object((rs.get("spec") or {}).get("template") or {}))
    annotations = {k: v for k, v in (meta(d).get("annotations") or {}).items() if k in util.SKIPPED_ANNOTATIONS}
    for k, v in (meta(rs).get("annotations") or {}).items():
        if k not in util.SKIPPED_ANNOTATIONS:
            annotations[k] = v
    annotations.pop(util.ROLLBACK_TO, None)
    out["metadata"]["annotations"] = annotations
    return out


async def rollback(dc: DeploymentController, d: Obj, rss: list[Obj]) -> None:
    target = rollback_to(d)
    new_rs, old_rss = await dc.get_all_rss_and_sync_revision(d, rss, create=True)
    all_rss = [*old_rss, *([new_rs] if new_rs is not None else [])]
    if target == 0:
        target = util.last_revision(all_rss)
        if target == 0:
            dc.recorder.event(d, WARNING, "DeploymentRollbackRevisionNotFound", "Unable to find last revision.")
            await _clear(dc, d)
            return
    for rs in all_rss:
        if util.revision(rs) != target:
            continue
        if util.equal_ignore_hash((rs.get("spec") or {}).get("template") or {},
                                  (d.get("spec") or {}).get("template") or {}):
            dc.recorder.event(d, WARNING, "DeploymentRollbackTemplateUnchanged",
                              f'The rollback revision contains the same template as current deployment "{name_of(d)}"')
            await _clear(dc, d)
            return
        updated = rolled_back(d, rs)
        await dc.client.update(DEPLOYMENTS, updated)
        dc.recorder.event(d, NORMAL, "DeploymentRollback", f'Rolled back deployment "{name_of(d)}" to revision {target}')
        return
    dc.recorder.event(d, WARNING, "DeploymentRollbackRevisionNotFound", "Unable to find the revision to rollback to.")
    await _clear(dc, d)


async def _clear(dc: DeploymentController, d: Obj) -> None:
    await dc.client.patch(DEPLOYMENTS, name_of(d), {"metadata": {"annotations": {util.ROLLBACK_TO: None}}},
                          namespace=meta(d).get("namespace"))
