"""The deployment controller: handlers, ``sync(key)`` and the moves shared by every strategy
(Kubernetes' ``deployment_controller.go`` + ``sync.go``).

``sync`` reads the Deployment and its ReplicaSets from the caches and does one of:

- selector empty -> warn ``SelectingAll`` and do nothing else;
- being deleted -> status only;
- paused -> scale and prune only (no rollout), Progressing ``Unknown/DeploymentPaused``;
- ``deprecated.deployment.rollback.to`` set -> ``rollback.rollback``;
- a *scaling event* (some active RS records a different ``desired-replicas``) -> ``scale``:
  the one active set takes the new size, or every active set grows/shrinks in proportion;
- otherwise the strategy: ``rolling.rollout_rolling`` or ``recreate.rollout_recreate``.

The new ReplicaSet is ``<deployment>-<pod-template-hash>``: the Deployment's template with the
hash label added to its labels, selector and template (``util.template_hash`` of the template
and ``status.collisionCount``; a name clash with a foreign ReplicaSet bumps the count). Its
revision is one more than the highest old revision, and a reused ReplicaSet (``kubectl rollout
undo``) is raised to that top revision. The Deployment's own revision annotation follows.
Started by the controller manager.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from kubelite.api.helpers.times import format_time
from kubelite.client import (
    DEPLOYMENTS,
    NORMAL,
    PODS,
    REPLICASETS,
    WARNING,
    copy_object,
    is_already_exists,
    is_not_found,
)
from kubelite.client.informer import index_by_controller_uid, object_key
from kubelite.controllers.base import Controller
from kubelite.controllers.deployment import progress, util
from kubelite.controllers.deployment.recreate import rollout_recreate
from kubelite.controllers.deployment.rollback import rollback, rollback_to
from kubelite.controllers.deployment.rolling import rollout_rolling
from kubelite.controllers.podcontrol import (
    claim,
    controller_ref,
    ensure_index,
    index_by_namespace,
    is_deleting,
    labels_of,
    meta,
    name_of,
    owner_reference,
    uid_of,
    write_status,
)
from kubelite.machinery.selectors import LabelSelector, from_label_selector

log = logging.getLogger(__name__)
Obj = dict[str, Any]


def _replace(target: Obj, new: Mapping[str, Any]) -> None:
    target.clear()
    target.update(new)


class DeploymentController(Controller):
    name: ClassVar[str] = "deployment"
    workers: ClassVar[int] = 4

    def setup(self) -> None:
        f = self.ctx.factory
        self.d_informer = f.informer(DEPLOYMENTS)
        self.rs_informer = f.informer(REPLICASETS)
        self.pod_informer = f.informer(PODS)
        ensure_index(self.d_informer, "namespace", index_by_namespace)
        ensure_index(self.rs_informer, "namespace", index_by_namespace)
        ensure_index(self.rs_informer, "controller", index_by_controller_uid)
        ensure_index(self.pod_informer, "namespace", index_by_namespace)
        ensure_index(self.pod_informer, "controller", index_by_controller_uid)
        self.d_informer.add_handler(**self.enqueue_handlers())
        self.rs_informer.add_handler(on_add=self._rs_added, on_update=self._rs_updated, on_delete=self._rs_deleted)
        self.pod_informer.add_handler(on_delete=self._pod_deleted)

    # -- handlers -----------------------------------------------------------------------------

    @staticmethod
    def selector(d: Mapping[str, Any]) -> LabelSelector:
        try:
            return from_label_selector((d.get("spec") or {}).get("selector"))
        except Exception:  # noqa: BLE001
            return LabelSelector.nothing()

    def _owner_of(self, rs: Mapping[str, Any]) -> Obj | None:
        ref = controller_ref(rs)
        if ref is None or ref.get("kind") != "Deployment":
            return None
        d = self.d_informer.get(f"{meta(rs).get('namespace')}/{ref.get('name')}")
        return d if d is not None and uid_of(d) == ref.get("uid") else None

    def _matching(self, rs: Mapping[str, Any]) -> list[Obj]:
        labels = labels_of(rs)
        return [d for d in self.d_informer.by_index("namespace", meta(rs).get("namespace", ""))
                if labels and self.selector(d).matches(labels)]

    def _rs_added(self, rs: Obj) -> None:
        owner = self._owner_of(rs)
        if owner is not None:
            self.enqueue(owner)
        elif controller_ref(rs) is None:
            for d in self._matching(rs):
                self.enqueue(d)

    def _rs_updated(self, old: Obj, new: Obj) -> None:
        if meta(old).get("resourceVersion") == meta(new).get("resourceVersion"):
            return
        old_owner, new_owner = self._owner_of(old), self._owner_of(new)
        if old_owner is not None and (new_owner is None or uid_of(new_owner) != uid_of(old_owner)):
            self.enqueue(old_owner)
        if new_owner is not None:
            self.enqueue(new_owner)
        elif controller_ref(new) is None and (labels_of(old) != labels_of(new) or controller_ref(old) is not None):
            for d in self._matching(new):
                self.enqueue(d)

    def _rs_deleted(self, rs: Obj) -> None:
        owner = self._owner_of(rs)
        if owner is not None:
            self.enqueue(owner)

    def _pod_deleted(self, pod: Obj) -> None:
        # Recreate waits for the last old pod to go away.
        ref = controller_ref(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        rs = self.rs_informer.get(f"{meta(pod).get('namespace')}/{ref.get('name')}")
        owner = self._owner_of(rs) if rs is not None else None
        if owner is not None and not util.is_rolling(owner):
            self.enqueue(owner)

    # -- sync ---------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        cached = self.d_informer.get(key)
        if cached is None:
            return
        d: Obj = copy_object(cached)
        if util.selects_all(d):
            self.recorder.event(d, WARNING, "SelectingAll",
                                "This deployment is selecting all pods. A non-empty selector is required.")
            status = d.get("status") or {}
            if status.get("observedGeneration") != meta(d).get("generation"):
                await write_status(self.client, DEPLOYMENTS, d,
                                   {**status, "observedGeneration": meta(d).get("generation")})
            return
        rss = await self.claim_replica_sets(d)
        if is_deleting(d):
            new_rs, old_rss = await self.get_all_rss_and_sync_revision(d, rss, create=False)
            await self.sync_deployment_status([*old_rss, new_rs], new_rs, d)
            return
        await self.check_paused_conditions(d)
        if (d.get("spec") or {}).get("paused"):
            await self.sync_scale(d, rss)
            return
        if rollback_to(d) is not None:
            await rollback(self, d, rss)
            return
        if self.is_scaling_event(d, rss):
            await self.sync_scale(d, rss)
            return
        if util.is_rolling(d):
            await rollout_rolling(self, d, rss)
        else:
            await rollout_recreate(self, d, rss, self.pods_by_rs(d, rss))

    async def claim_replica_sets(self, d: Obj) -> list[Obj]:
        candidates = self.rs_informer.by_index("namespace", meta(d).get("namespace", ""))
        return await claim(self.client, REPLICASETS, d, self.selector(d), candidates,
                           api_version="apps/v1", kind="Deployment")

    def pods_by_rs(self, d: Obj, rss: list[Obj]) -> dict[str, list[Obj]]:
        selector = self.selector(d)
        out: dict[str, list[Obj]] = {uid_of(rs): [] for rs in rss}
        for pod in self.pod_informer.by_index("namespace", meta(d).get("namespace", "")):
            ref = controller_ref(pod)
            if ref is not None and ref.get("uid") in out and selector.matches(labels_of(pod)):
                out[ref["uid"]].append(pod)
        return out

    def is_scaling_event(self, d: Obj, rss: list[Obj]) -> bool:
        replicas = util.replicas_of(d)
        for rs in util.active(rss):
            desired = util.desired_replicas_annotation(rs)
            if desired is not None and desired != replicas:
                return True
        return False

    async def check_paused_conditions(self, d: Obj) -> None:
        cond = progress.paused_condition(d, self._stamp())
        if cond is None:
            return
        status = copy_object(d.get("status") or {})
        util.set_condition(status, cond)
        _replace(d, await write_status(self.client, DEPLOYMENTS, d, status))

    def _stamp(self) -> str:
        return format_time(self.clock.wall())

    # -- the new ReplicaSet and revisions ----------------------------------------------------

    async def get_all_rss_and_sync_revision(self, d: Obj, rss: list[Obj], *,
                                            create: bool) -> tuple[Obj | None, list[Obj]]:
        new = util.find_new_rs(d, rss)
        old_rss = [rs for rs in rss if new is None or uid_of(rs) != uid_of(new)]
        new_rs = await self.get_new_replica_set(d, rss, old_rss, create)
        return new_rs, old_rss

    async def get_new_replica_set(self, d: Obj, rss: list[Obj], old_rss: list[Obj], create: bool) -> Obj | None:
        existing = util.find_new_rs(d, rss)
        new_revision = util.max_revision(old_rss) + 1
        spec = d.get("spec") or {}
        if existing is not None:
            rs = copy_object(existing)
            changed = util.set_new_rs_annotations(d, rs["metadata"], new_revision, True)
            min_ready = spec.get("minReadySeconds") or 0
            if changed or (rs["spec"].get("minReadySeconds") or 0) != min_ready:
                rs["spec"]["minReadySeconds"] = min_ready
                # The Deployment's revision follows on the next sync, from the updated RS.
                return await self.client.update(REPLICASETS, rs)  # type: ignore[no-any-return]
            await self._set_deployment_revision(d, util.revision(rs))
            status = copy_object(d.get("status") or {})
            if util.has_progress_deadline(d) and util.get_condition(status, "Progressing") is None:
                util.set_condition(status, util.new_condition(
                    "Progressing", "True", util.REASON_FOUND_NEW_RS, f'Found new replica set "{name_of(rs)}"',
                    self._stamp()))
                _replace(d, await write_status(self.client, DEPLOYMENTS, d, status))
            return rs
        if not create:
            return None
        collision = (d.get("status") or {}).get("collisionCount")
        template = copy_object(spec.get("template") or {})
        h = util.template_hash(template, collision)
        template.setdefault("metadata", {}).setdefault("labels", {})[util.POD_TEMPLATE_HASH] = h
        selector = copy_object(spec.get("selector") or {})
        selector.setdefault("matchLabels", {})[util.POD_TEMPLATE_HASH] = h
        new_rs: Obj = {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": f"{name_of(d)}-{h}", "namespace": meta(d).get("namespace"),
                         "labels": dict(template["metadata"]["labels"]),
                         "ownerReferences": [owner_reference(d, api_version="apps/v1", kind="Deployment")]},
            "spec": {"replicas": 0, "minReadySeconds": spec.get("minReadySeconds") or 0,
                     "selector": selector, "template": template},
        }
        new_rs["spec"]["replicas"] = util.new_rs_new_replicas(d, [*old_rss, new_rs], new_rs)
        util.set_new_rs_annotations(d, new_rs["metadata"], new_revision, False)
        already_exists = False
        try:
            created = await self.client.create(REPLICASETS, new_rs)
        except Exception as e:
            if is_already_exists(e):
                found = self.rs_informer.get(f"{meta(d).get('namespace')}/{name_of(new_rs)}")
                if found is None:
                    found = await self.client.get(REPLICASETS, name_of(new_rs), namespace=meta(d).get("namespace"))
                if util.owned_by(found, d) and util.equal_ignore_hash(
                        (found.get("spec") or {}).get("template") or {}, spec.get("template") or {}):
                    created, already_exists = found, True
                else:
                    # A foreign ReplicaSet holds our name: hash again with a higher collision count.
                    status = copy_object(d.get("status") or {})
                    status["collisionCount"] = int(collision or 0) + 1
                    _replace(d, await write_status(self.client, DEPLOYMENTS, d, status))
                    raise
            else:
                if util.has_progress_deadline(d):
                    msg = f'Failed to create new replica set "{name_of(new_rs)}": {getattr(e, "message", e)}'
                    status = copy_object(d.get("status") or {})
                    util.set_condition(status, util.new_condition("Progressing", "False", util.REASON_RS_CREATE_ERROR,
                                                                  msg, self._stamp()))
                    self.recorder.event(d, WARNING, "FailedCreate", msg)
                    await write_status(self.client, DEPLOYMENTS, d, status)
                raise
        if not already_exists and util.replicas_of(created) > 0:
            self.recorder.event(d, NORMAL, "ScalingReplicaSet",
                                f"Scaled up replica set {name_of(created)} from 0 to {util.replicas_of(created)}")
        await self._set_deployment_revision(d, new_revision)
        if not already_exists and util.has_progress_deadline(d):
            status = copy_object(d.get("status") or {})
            util.set_condition(status, util.new_condition("Progressing", "True", util.REASON_NEW_RS_CREATED,
                                                          f'Created new replica set "{name_of(created)}"',
                                                          self._stamp()))
            _replace(d, await write_status(self.client, DEPLOYMENTS, d, status))
        return created  # type: ignore[no-any-return]

    async def _set_deployment_revision(self, d: Obj, revision: int) -> None:
        if revision <= 0 or (meta(d).get("annotations") or {}).get(util.REVISION) == str(revision):
            return
        # Through /status, as Kubernetes does: an annotation change on the main endpoint
        # would bump the Deployment's generation.
        patched = await self.client.patch(DEPLOYMENTS, name_of(d),
                                          {"metadata": {"annotations": {util.REVISION: str(revision)}}},
                                          namespace=meta(d).get("namespace"), subresource="status")
        _replace(d, patched)

    # -- scaling ------------------------------------------------------------------------------

    async def scale_replica_set(self, rs: Obj, size: int, d: Obj) -> tuple[bool, Obj]:
        """Set ``rs`` to ``size`` replicas (and the desired/max annotations); event when the
        size changes. Returns (whether the size changed, the ReplicaSet as now stored)."""
        replicas = util.replicas_of(d)
        maximum = replicas + util.max_surge(d)
        size_changed = util.replicas_of(rs) != size
        if not size_changed and not util.replicas_annotations_need_update(rs, replicas, maximum):
            return False, rs
        updated = copy_object(rs)
        old_size = util.replicas_of(rs)
        updated["spec"]["replicas"] = size
        util.set_replicas_annotations(updated["metadata"], replicas, maximum)
        stored = await self.client.update(REPLICASETS, updated)
        if size_changed:
            direction = "up" if size > old_size else "down"
            self.recorder.event(d, NORMAL, "ScalingReplicaSet",
                                f"Scaled {direction} replica set {name_of(rs)} from {old_size} to {size}")
        return size_changed, stored

    async def sync_scale(self, d: Obj, rss: list[Obj]) -> None:
        """Kube's ``sync``: scale (no rollout), prune history, write status."""
        new_rs, old_rss = await self.get_all_rss_and_sync_revision(d, rss, create=False)
        new_rs, old_rss = await self.scale(d, new_rs, old_rss)
        if (d.get("spec") or {}).get("paused") and rollback_to(d) is None:
            await self.cleanup_deployment(old_rss, d)
        await self.sync_deployment_status([*old_rss, new_rs], new_rs, d)

    async def scale(self, d: Obj, new_rs: Obj | None, old_rss: list[Obj]) -> tuple[Obj | None, list[Obj]]:
        replicas = util.replicas_of(d)
        only = util.find_active_or_latest(new_rs, old_rss)
        if only is not None:
            if util.replicas_of(only) != replicas:
                _, stored = await self.scale_replica_set(copy_object(only), replicas, d)
                return self._swap(new_rs, old_rss, stored)
            return new_rs, old_rss
        if util.is_saturated(d, new_rs):
            out = []
            for rs in old_rss:
                if util.replicas_of(rs) > 0:
                    _, rs = await self.scale_replica_set(rs, 0, d)
                out.append(rs)
            return new_rs, out
        if util.is_rolling(d):
            sizes = util.proportional_sizes(d, [*old_rss, *([new_rs] if new_rs else [])])
            for active_rs in util.active([*old_rss, new_rs]):
                size = sizes.get(name_of(active_rs))
                if size is not None:
                    _, stored = await self.scale_replica_set(dict(active_rs), size, d)
                    new_rs, old_rss = self._swap(new_rs, old_rss, stored)
        return new_rs, old_rss

    @staticmethod
    def _swap(new_rs: Obj | None, old_rss: list[Obj], stored: Obj) -> tuple[Obj | None, list[Obj]]:
        if new_rs is not None and uid_of(new_rs) == uid_of(stored):
            return stored, old_rss
        return new_rs, [stored if uid_of(rs) == uid_of(stored) else rs for rs in old_rss]

    async def cleanup_deployment(self, old_rss: list[Obj], d: Obj) -> None:
        """Delete the oldest idle ReplicaSets beyond ``revisionHistoryLimit``."""
        limit = (d.get("spec") or {}).get("revisionHistoryLimit")
        if limit is None:
            return
        cleanable = [rs for rs in old_rss if not is_deleting(rs)]
        surplus = len(cleanable) - int(limit)
        if surplus <= 0:
            return
        for rs in sorted(cleanable, key=lambda r: (util.revision(r), meta(r).get("creationTimestamp") or ""))[:surplus]:
            status = rs.get("status") or {}
            if (status.get("replicas") or 0) != 0 or util.replicas_of(rs) != 0 or \
                    meta(rs).get("generation", 0) > (status.get("observedGeneration") or 0):
                continue
            try:
                await self.client.delete(REPLICASETS, name_of(rs), namespace=meta(rs).get("namespace"),
                                         preconditions={"uid": uid_of(rs)})
            except Exception as e:
                if not is_not_found(e):
                    raise

    # -- status -------------------------------------------------------------------------------

    async def sync_deployment_status(self, all_rss: list[Obj | None], new_rs: Obj | None, d: Obj) -> None:
        status = util.calculate_status(all_rss, new_rs, d, self._stamp())
        if not util.status_equal(d.get("status") or {}, status):
            _replace(d, await write_status(self.client, DEPLOYMENTS, d, status))

    async def sync_rollout_status(self, all_rss: list[Obj], new_rs: Obj | None, d: Obj) -> None:
        status, after = progress.rollout_status(all_rss, new_rs, d, self.clock.wall())
        if not util.status_equal(d.get("status") or {}, status):
            _replace(d, await write_status(self.client, DEPLOYMENTS, d, status))
        if after is not None:
            self.enqueue(object_key(d), after=after)
