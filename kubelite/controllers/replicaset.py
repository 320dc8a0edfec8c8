"""The ReplicaSet controller (and the ReplicationController controller, which shares it).

Keeps ``spec.replicas`` active pods for every ReplicaSet, as ``pkg/controller/replicaset`` does:

- *Claim*: active pods in the namespace that match the selector and have no controller are
  adopted (ownerReference with controller=true); owned pods whose labels no longer match are
  released. Only claimed pods count.
- *Manage*: too few -> create the difference (at most 500 per sync) from the template, named
  ``<rs>-<5 random chars>`` by ``generateName``, in slow-start batches 1, 2, 4, ...; too many ->
  delete the surplus, choosing unscheduled before scheduled, Pending before Running, not-ready
  before ready, then pods crowded on one node, recently-ready, restarting and newer pods
  (``podcontrol.rank_for_deletion``). Failed and deleted pods are not active, so they are
  replaced. Events ``SuccessfulCreate`` / ``SuccessfulDelete`` (``FailedCreate`` /
  ``FailedDelete`` as warnings) on the ReplicaSet.
- *Expectations*: after creating 3 pods the controller waits until its informer has seen 3
  new pods (or 5 minutes pass) before managing the set again, so a lagging cache never causes
  a double create.
- *Status* (written last): replicas, fullyLabeledReplicas, readyReplicas, availableReplicas
  (ready for ``minReadySeconds``), observedGeneration, and a ``ReplicaFailure`` condition while
  creates or deletes fail.

``ReplicaSetController`` and ``ReplicationControllerController`` differ only in resource, kind
and selector shape (a LabelSelector vs. a plain map). Started by the controller manager.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from kubelite.api.helpers.podutil import is_pod_active, is_pod_available, is_pod_ready
from kubelite.api.helpers.times import format_time
from kubelite.client import (
    NORMAL,
    PODS,
    REPLICASETS,
    REPLICATIONCONTROLLERS,
    WARNING,
    is_not_found,
)
from kubelite.client.informer import index_by_controller_uid, object_key
from kubelite.client.resources import ResourceRef
from kubelite.controllers.base import Controller
from kubelite.controllers.podcontrol import (
    BURST_REPLICAS, PodExpectations, claim, controller_ref, ensure_index, index_by_namespace, is_deleting,
    labels_of, meta, name_of, pod_from_template, rank_for_deletion, slow_start_batch, uid_of, write_status,
)
from kubelite.machinery.selectors import (
    LabelSelector,
    from_label_selector,
    selector_from_labels,
)

log = logging.getLogger(__name__)
Obj = dict[str, Any]


def calculate_status(rs: Mapping[str, Any], pods: list[Obj], manage_error: BaseException | None,
                     diff: int, now: Any) -> Obj:
    """The status the ReplicaSet should report for its claimed active ``pods``.

    ``diff`` is (active pods - desired) as seen before managing; it says whether a failure was
    a create (diff < 0) or a delete. Conditions other than ReplicaFailure are kept."""
    spec = rs.get("spec") or {}
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    template_selector = selector_from_labels(template_labels)
    min_ready = int(spec.get("minReadySeconds") or 0)
    old = rs.get("status") or {}
    status: Obj = {
        "replicas": len(pods),
        "fullyLabeledReplicas": sum(1 for p in pods if template_selector.matches(labels_of(p))),
        "readyReplicas": sum(1 for p in pods if is_pod_ready(p)),
        "availableReplicas": sum(1 for p in pods if is_pod_available(p, min_ready, now)),
        "observedGeneration": meta(rs).get("generation", 0),
    }
    conditions = [dict(c) for c in old.get("conditions") or () if c.get("type") != "ReplicaFailure"]
    failure = next((c for c in old.get("conditions") or () if c.get("type") == "ReplicaFailure"), None)
    if manage_error is not None:
        if failure is not None:
            conditions.append(dict(failure))
        else:
            reason = "FailedCreate" if diff < 0 else "FailedDelete"
            conditions.append({"type": "ReplicaFailure", "status": "True", "lastTransitionTime": format_time(now),
                               "reason": reason, "message": str(getattr(manage_error, "message", "") or manage_error)})
    if conditions:
        status["conditions"] = conditions
    # Kubernetes omits zero counts (omitempty) except replicas.
    for k in ("fullyLabeledReplicas", "readyReplicas", "availableReplicas"):
        if not status[k]:
            del status[k]
    return status


def status_equal(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    keys = ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas", "observedGeneration",
            "conditions")
    return all((a.get(k) or 0) == (b.get(k) or 0) for k in keys)


class ReplicaSetController(Controller):
    name: ClassVar[str] = "replicaset"
    workers: ClassVar[int] = 4
    resource: ClassVar[ResourceRef] = REPLICASETS
    kind: ClassVar[str] = "ReplicaSet"
    api_version: ClassVar[str] = "apps/v1"

    def setup(self) -> None:
        self.expectations = PodExpectations(self.clock)
        self.rs_informer = self.ctx.factory.informer(self.resource)
        self.pod_informer = self.ctx.factory.informer(PODS)
        ensure_index(self.rs_informer, "namespace", index_by_namespace)
        ensure_index(self.rs_informer, "controller", index_by_controller_uid)
        ensure_index(self.pod_informer, "namespace", index_by_namespace)
        ensure_index(self.pod_informer, "controller", index_by_controller_uid)
        self.rs_informer.add_handler(on_add=self.enqueue, on_update=self._rs_updated, on_delete=self._rs_deleted)
        self.pod_informer.add_handler(on_add=self._pod_added, on_update=self._pod_updated,
                                      on_delete=self._pod_deleted)

    # -- selectors ----------------------------------------------------------------------------

    def selector(self, rs: Mapping[str, Any]) -> LabelSelector:
        try:
            return from_label_selector((rs.get("spec") or {}).get("selector"))
        except Exception:  # noqa: BLE001 - validation makes this unreachable; match nothing
            return LabelSelector.nothing()

    # -- event handlers: compute keys, enqueue --------------------------------------------------

    def _rs_updated(self, old: Obj, new: Obj) -> None:
        self.enqueue(new)

    def _rs_deleted(self, rs: Obj) -> None:
        self.expectations.forget(object_key(rs))
        self.enqueue(rs)

    def _owner_of(self, pod: Mapping[str, Any]) -> Obj | None:
        ref = controller_ref(pod)
        if ref is None or ref.get("kind") != self.kind:
            return None
        owner = self.rs_informer.get(f"{meta(pod).get('namespace')}/{ref.get('name')}")
        if owner is None or uid_of(owner) != ref.get("uid"):
            return None
        return owner

    def _matching_sets(self, pod: Mapping[str, Any]) -> list[Obj]:
        labels = labels_of(pod)
        if not labels:
            return []
        sets = self.rs_informer.by_index("namespace", meta(pod).get("namespace", ""))
        return [rs for rs in sets if self.selector(rs).matches(labels)]

    def _pod_added(self, pod: Obj) -> None:
        if is_deleting(pod):
            self._pod_deleted(pod)
            return
        owner = self._owner_of(pod)
        if owner is not None:
            key = object_key(owner)
            self.expectations.observed_add(key)
            self.enqueue(key)
            return
        if controller_ref(pod) is None:
            for rs in self._matching_sets(pod):
                self.enqueue(rs)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if meta(old).get("resourceVersion") == meta(new).get("resourceVersion"):
            return
        labels_changed = labels_of(old) != labels_of(new)
        if is_deleting(new):
            self._pod_deleted(new)
            if labels_changed:
                self._pod_deleted(old)
            return
        old_owner, new_owner = self._owner_of(old), self._owner_of(new)
        if old_owner is not None and (new_owner is None or uid_of(old_owner) != uid_of(new_owner)):
            self.enqueue(old_owner)
        if new_owner is not None:
            self.enqueue(new_owner)
            min_ready = int((new_owner.get("spec") or {}).get("minReadySeconds") or 0)
            if min_ready > 0 and not is_pod_ready(old) and is_pod_ready(new):
                # Becomes available minReadySeconds later; nothing else will wake us then.
                self.enqueue(new_owner, after=min_ready + 1.0)
            return
        if controller_ref(new) is None and (labels_changed or controller_ref(old) is not None):
            for rs in self._matching_sets(new):
                self.enqueue(rs)

    def _pod_deleted(self, pod: Obj) -> None:
        owner = self._owner_of(pod)
        if owner is None:
            return
        key = object_key(owner)
        self.expectations.deletion_observed(key, uid_of(pod))
        self.enqueue(key)

    # -- sync ---------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        rs = self.rs_informer.get(key)
        if rs is None:
            self.expectations.forget(key)
            return
        needs_sync = self.expectations.satisfied(key)
        selector = self.selector(rs)
        ns = meta(rs).get("namespace", "")
        candidates = [p for p in self.pod_informer.by_index("namespace", ns) if is_pod_active(p)]
        pods = await claim(self.client, PODS, rs, selector, candidates, api_version=self.api_version,
                           kind=self.kind)
        spec_replicas = (rs.get("spec") or {}).get("replicas")
        replicas = int(spec_replicas) if spec_replicas is not None else 1
        diff = len(pods) - replicas
        manage_error: BaseException | None = None
        if needs_sync and not is_deleting(rs):
            try:
                await self.manage_replicas(key, rs, pods, replicas)
            except Exception as e:  # noqa: BLE001 - reported in status, then retried
                manage_error = e
        now = self.clock.wall()
        status = calculate_status(rs, pods, manage_error, diff, now)
        if not status_equal(rs.get("status") or {}, status):
            await write_status(self.client, self.resource, rs, status, retries=1)
        if manage_error is not None:
            raise manage_error
        min_ready = int((rs.get("spec") or {}).get("minReadySeconds") or 0)
        if min_ready > 0 and status.get("readyReplicas", 0) != status.get("availableReplicas", 0):
            self.enqueue(key, after=float(min_ready))

    async def manage_replicas(self, key: str, rs: Obj, pods: list[Obj], replicas: int) -> None:
        diff = len(pods) - replicas
        if diff < 0:
            count = min(-diff, BURST_REPLICAS)
            self.expectations.expect(key, adds=count)
            template = (rs.get("spec") or {}).get("template") or {}

            async def create(_: int) -> None:
                pod = pod_from_template(template, rs, api_version=self.api_version, kind=self.kind)
                try:
                    created = await self.client.create(PODS, pod)
                except Exception as e:
                    self.recorder.event(rs, WARNING, "FailedCreate", f"Error creating: {getattr(e, 'message', e)}")
                    raise
                self.recorder.event(rs, NORMAL, "SuccessfulCreate", f"Created pod: {name_of(created)}")

            done, err = await slow_start_batch(count, create)
            if done < count:
                # The skipped and failed creations will never be observed.
                self.expectations.lower(key, adds=count - done)
            if err is not None:
                raise err
        elif diff > 0:
            count = min(diff, BURST_REPLICAS)
            victims = rank_for_deletion(pods, self._related_pods(rs), self.clock.wall())[:count]
            self.expectations.expect_deletions(key, [uid_of(p) for p in victims])
            results = await asyncio.gather(*(self._delete_pod(rs, p) for p in victims), return_exceptions=True)
            first: BaseException | None = None
            for pod, res in zip(victims, results):
                if isinstance(res, BaseException):
                    self.expectations.deletion_observed(key, uid_of(pod))
                    first = first or res
            if first is not None:
                raise first

    async def _delete_pod(self, rs: Obj, pod: Obj) -> None:
        try:
            await self.client.delete(PODS, name_of(pod), namespace=meta(pod).get("namespace"),
                                     preconditions={"uid": uid_of(pod)})
        except Exception as e:
            if is_not_found(e):
                return  # already gone: that is what we wanted
            self.recorder.event(rs, WARNING, "FailedDelete", f"Error deleting: {getattr(e, 'message', e)}")
            raise
        self.recorder.event(rs, NORMAL, "SuccessfulDelete", f"Deleted pod: {name_of(pod)}")

    def _related_pods(self, rs: Obj) -> list[Obj]:
        """Active pods of every ReplicaSet sharing this one's controller (a Deployment's
        siblings), for spreading the survivors across nodes."""
        ref = controller_ref(rs)
        if ref is None:
            return list(self.pod_informer.by_index("controller", uid_of(rs)))
        related: list[Obj] = []
        for sibling in self.rs_informer.by_index("controller", ref.get("uid", "")):
            related.extend(p for p in self.pod_informer.by_index("controller", uid_of(sibling)) if is_pod_active(p))
        return related


class ReplicationControllerController(ReplicaSetController):
    """core/v1 ReplicationController: a ReplicaSet whose selector is a plain label map (and
    defaults to the template's labels)."""

    name: ClassVar[str] = "replicationcontroller"
    resource: ClassVar[ResourceRef] = REPLICATIONCONTROLLERS
    kind: ClassVar[str] = "ReplicationController"
    api_version: ClassVar[str] = "v1"

    def selector(self, rs: Mapping[str, Any]) -> LabelSelector:
        spec = rs.get("spec") or {}
        sel = spec.get("selector") or ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        if not sel:
            return LabelSelector.nothing()
        return selector_from_labels({str(k): str(v) for k, v in sel.items()})


__all__ = ["ReplicaSetController", "ReplicationControllerController", "calculate_status", "status_equal"]
