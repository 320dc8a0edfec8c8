"""The DaemonSet controller (Kubernetes' ``pkg/controller/daemon``): one pod per eligible node.

A node is eligible when the pod template (plus the default DaemonSet tolerations for
not-ready/unreachable/pressure/unschedulable nodes) matches its ``nodeSelector`` and required
node affinity and tolerates its NoSchedule/NoExecute taints (``nodefit.should_run``). Each sync:

- *manage*: create a pod on every eligible node without one, pinned there by a required node
  affinity on ``metadata.name`` (the scheduler then binds it, as in Kubernetes); delete failed
  daemon pods (they are recreated), surplus duplicates (the oldest stays), and pods on nodes
  that no longer qualify (NoSchedule alone lets an existing pod stay). Nodes joining or
  leaving re-sync every DaemonSet.
- *RollingUpdate*: pods whose ``controller-revision-hash`` differs from the current revision
  are replaced. With ``maxSurge: 0``, old pods are deleted while at most ``maxUnavailable``
  (of desired nodes, percentages rounded up) daemon pods are unavailable; an unavailable old
  pod is always fair game. With ``maxSurge`` > 0 a new pod starts next to the old one and the
  old one goes once the new one is available. ``OnDelete`` waits for the user.
- *history*: the template is kept as a ControllerRevision ``<ds>-<hash>``; surplus revisions
  beyond ``revisionHistoryLimit`` no pod uses are deleted.
- *status*: desiredNumberScheduled, currentNumberScheduled, numberMisscheduled, numberReady,
  updatedNumberScheduled, numberAvailable, numberUnavailable, observedGeneration.

Example: 3 nodes, one tainted ``dedicated=db:NoSchedule`` -> desiredNumberScheduled 2; adding a
toleration for it -> a third pod, pinned to that node. Started by the controller manager.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from kubelite.api.helpers.podutil import is_pod_available, is_pod_ready, pod_phase
from kubelite.client import (
    CONTROLLERREVISIONS,
    DAEMONSETS,
    NODES,
    NORMAL,
    PODS,
    WARNING,
    copy_object,
    is_not_found,
)
from kubelite.client.informer import index_by_controller_uid, object_key
from kubelite.controllers import nodefit
from kubelite.controllers import revisions as hist
from kubelite.controllers.base import Controller
from kubelite.controllers.deployment.util import scaled_value
from kubelite.controllers.podcontrol import (
    PodExpectations, claim, controller_ref, creation_key, ensure_index, index_by_namespace, is_deleting,
    labels_of, meta, name_of, pod_from_template, slow_start_batch, uid_of, write_status,
)
from kubelite.machinery.selectors import LabelSelector, from_label_selector

log = logging.getLogger(__name__)
Obj = dict[str, Any]

TEMPLATE_GENERATION_LABEL = "pod-template-generation"


def pod_template(ds: Mapping[str, Any], hash_: str) -> Obj:
    """The template daemon pods are made from: the DaemonSet's, plus default tolerations and
    the revision hash / template generation labels."""
    template = copy_object((ds.get("spec") or {}).get("template") or {})
    spec = template.setdefault("spec", {})
    nodefit.add_daemon_tolerations(spec)
    labels = template.setdefault("metadata", {}).setdefault("labels", {})
    labels[hist.CONTROLLER_REVISION_HASH] = hash_
    labels[TEMPLATE_GENERATION_LABEL] = str(meta(ds).get("generation", 1))
    return template


def rolling_params(ds: Mapping[str, Any], desired: int) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) in pods; both round up; both 0 -> unavailable 1."""
    ru = (((ds.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate") or {})
    surge = scaled_value(ru.get("maxSurge", 0), desired, True)
    unavailable = scaled_value(ru.get("maxUnavailable", 1), desired, True)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def split_by_hash(pods: list[Obj], hash_: str) -> tuple[list[Obj], list[Obj]]:
    new = [p for p in pods if labels_of(p).get(hist.CONTROLLER_REVISION_HASH) == hash_]
    old = [p for p in pods if labels_of(p).get(hist.CONTROLLER_REVISION_HASH) != hash_]
    return new, old


def plan_rolling_update(node_pods: Mapping[str, list[Obj]], hash_: str, max_surge: int, max_unavailable: int,
                        min_ready: int, now: Any) -> tuple[list[Obj], list[str]]:
    """(old pods to delete, nodes to start a new pod on) for one step of a rolling update."""
    to_delete: list[Obj] = []
    new_nodes: list[str] = []
    if max_surge == 0:
        unavailable = 0
        candidates: list[Obj] = []
        for node, pods in sorted(node_pods.items()):
            new, old = split_by_hash([p for p in pods if not is_deleting(p)], hash_)
            if len(new) > 1 or len(old) > 1:
                continue  # duplicates: manage() cleans them first
            if not old:
                if new and not is_pod_available(new[0], min_ready, now):
                    unavailable += 1
                continue
            if not is_pod_available(old[0], min_ready, now):
                unavailable += 1
                to_delete.append(old[0])  # already unavailable: replacing it costs nothing
            else:
                candidates.append(old[0])
        budget = max(max_unavailable - unavailable, 0)
        return to_delete + candidates[:budget], []
    surging = 0
    candidate_nodes: list[str] = []
    for node, pods in sorted(node_pods.items()):
        new, old = split_by_hash([p for p in pods if not is_deleting(p)], hash_)
        if not old:
            continue
        if not new:
            if not is_pod_available(old[0], min_ready, now):
                new_nodes.append(node)
            else:
                candidate_nodes.append(node)
            continue
        if is_pod_available(new[0], min_ready, now):
            to_delete.extend(old)
        else:
            surging += 1
    budget = max(max_surge - surging, 0)
    return to_delete, new_nodes + candidate_nodes[:budget]


class DaemonSetController(Controller):
    name: ClassVar[str] = "daemonset"
    workers: ClassVar[int] = 2

    def setup(self) -> None:
        f = self.ctx.factory
        self.expectations = PodExpectations(self.clock)
        self.ds_informer = f.informer(DAEMONSETS)
        self.pod_informer = f.informer(PODS)
        self.node_informer = f.informer(NODES)
        self.rev_informer = f.informer(CONTROLLERREVISIONS)
        ensure_index(self.ds_informer, "namespace", index_by_namespace)
        ensure_index(self.pod_informer, "namespace", index_by_namespace)
        ensure_index(self.pod_informer, "controller", index_by_controller_uid)
        ensure_index(self.rev_informer, "controller", index_by_controller_uid)
        self.ds_informer.add_handler(on_add=self.enqueue, on_update=lambda o, n: self.enqueue(n),
                                     on_delete=self._ds_deleted)
        self.pod_informer.add_handler(on_add=self._pod_added, on_update=self._pod_updated,
                                      on_delete=self._pod_deleted)
        self.node_informer.add_handler(on_add=self._node_changed, on_update=self._node_updated,
                                       on_delete=self._node_changed)

    @staticmethod
    def selector(ds: Mapping[str, Any]) -> LabelSelector:
        try:
            return from_label_selector((ds.get("spec") or {}).get("selector"))
        except Exception:  # noqa: BLE001
            return LabelSelector.nothing()

    # -- handlers -----------------------------------------------------------------------------

    def _ds_deleted(self, ds: Obj) -> None:
        self.expectations.forget(object_key(ds))

    def _owner_key(self, pod: Mapping[str, Any]) -> str | None:
        ref = controller_ref(pod)
        if ref is None or ref.get("kind") != "DaemonSet":
            return None
        key = f"{meta(pod).get('namespace')}/{ref.get('name')}"
        ds = self.ds_informer.get(key)
        return key if ds is not None and uid_of(ds) == ref.get("uid") else None

    def _pod_added(self, pod: Obj) -> None:
        if is_deleting(pod):
            self._pod_deleted(pod)
            return
        key = self._owner_key(pod)
        if key is not None:
            self.expectations.observed_add(key)
            self.enqueue(key)
        elif controller_ref(pod) is None:
            for ds in self.ds_informer.by_index("namespace", meta(pod).get("namespace", "")):
                if self.selector(ds).matches(labels_of(pod)):
                    self.enqueue(ds)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if meta(old).get("resourceVersion") == meta(new).get("resourceVersion"):
            return
        if is_deleting(new):
            self._pod_deleted(new)
            return
        for key in {self._owner_key(old), self._owner_key(new)} - {None}:
            self.enqueue(key)  # type: ignore[arg-type]
            ds = self.ds_informer.get(key)  # type: ignore[arg-type]
            min_ready = int(((ds or {}).get("spec") or {}).get("minReadySeconds") or 0)
            if min_ready and not is_pod_ready(old) and is_pod_ready(new):
                self.enqueue(key, after=min_ready + 1.0)  # type: ignore[arg-type]

    def _pod_deleted(self, pod: Obj) -> None:
        key = self._owner_key(pod)
        if key is not None:
            self.expectations.deletion_observed(key, uid_of(pod))
            self.enqueue(key)

    def _node_updated(self, old: Obj, new: Obj) -> None:
        if (labels_of(old) != labels_of(new) or (old.get("spec") or {}) != (new.get("spec") or {})
                or (old.get("status") or {}).get("conditions") != (new.get("status") or {}).get("conditions")):
            self._node_changed(new)

    def _node_changed(self, node: Obj) -> None:
        for ds in self.ds_informer.list():
            self.enqueue(ds)

    # -- sync ---------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        cached = self.ds_informer.get(key)
        if cached is None:
            self.expectations.forget(key)
            return
        ds: Obj = copy_object(cached)
        if not (ds.get("spec") or {}).get("selector"):
            return
        nodes = {name_of(n): n for n in self.node_informer.list()}
        revision, collision = await self._construct_history(ds)
        hash_ = hist.revision_hash(revision)
        ns = meta(ds).get("namespace", "")
        pods = await claim(self.client, PODS, ds, self.selector(ds), self.pod_informer.by_index("namespace", ns),
                           api_version="apps/v1", kind="DaemonSet")
        node_pods: dict[str, list[Obj]] = {}
        for pod in pods:
            target = nodefit.target_node(pod)
            node_pods.setdefault(target or "", []).append(pod)
        template = pod_template(ds, hash_)
        if not is_deleting(ds) and self.expectations.satisfied(key):
            await self._manage(key, ds, template, nodes, node_pods)
            strategy = ((ds.get("spec") or {}).get("updateStrategy") or {}).get("type", "RollingUpdate")
            if strategy == "RollingUpdate":
                await self._rolling_update(key, ds, template, nodes, node_pods, hash_)
            await self._cleanup_history(ds, pods, revision)
        status = self._status(ds, template, nodes, node_pods, hash_, collision)
        old = ds.get("status") or {}
        if any((old.get(k) or 0) != (v or 0) for k, v in status.items()):
            await write_status(self.client, DAEMONSETS, ds, status)
        min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
        if min_ready and status["numberReady"] != status["numberAvailable"]:
            self.enqueue(key, after=float(min_ready))

    async def _manage(self, key: str, ds: Obj, template: Obj, nodes: Mapping[str, Obj],
                      node_pods: Mapping[str, list[Obj]]) -> None:
        create_on: list[str] = []
        delete: list[Obj] = []
        surge = self._surge_enabled(ds, len(nodes))
        for node_name, node in sorted(nodes.items()):
            run, keep = nodefit.should_run(template["spec"], node)
            pods = [p for p in node_pods.get(node_name, []) if not is_deleting(p)]
            if run and not pods:
                create_on.append(node_name)
            elif keep:
                alive = []
                for p in pods:
                    if pod_phase(p) == "Failed":
                        self.recorder.event(ds, WARNING, "FailedDaemonPod",
                                            f"Found failed daemon pod {meta(p).get('namespace')}/{name_of(p)} on node "
                                            f"{node_name}, will try to kill it")
                        delete.append(p)
                    else:
                        alive.append(p)
                allowed = 2 if surge else 1
                if len(alive) > allowed or (len(alive) == 2 and len({labels_of(p).get(hist.CONTROLLER_REVISION_HASH)
                                                                      for p in alive}) == 1):
                    alive.sort(key=creation_key)
                    delete.extend(alive[1:])
            else:
                delete.extend(pods)
        # Unscheduled pods pinned to nodes that no longer exist can never run.
        for node_name, pods in node_pods.items():
            if node_name not in nodes:
                delete.extend(p for p in pods if not is_deleting(p) and not (p.get("spec") or {}).get("nodeName"))
        await self._sync_nodes(key, ds, template, delete, create_on)

    def _surge_enabled(self, ds: Obj, desired: int) -> bool:
        strategy = (ds.get("spec") or {}).get("updateStrategy") or {}
        return strategy.get("type", "RollingUpdate") == "RollingUpdate" and rolling_params(ds, desired)[0] > 0

    async def _rolling_update(self, key: str, ds: Obj, template: Obj, nodes: Mapping[str, Obj],
                              node_pods: Mapping[str, list[Obj]], hash_: str) -> None:
        if not self.expectations.satisfied(key):
            return  # manage() just acted; look again once the cache shows it
        eligible = {n: node_pods.get(n, []) for n, node in nodes.items()
                    if nodefit.should_run(template["spec"], node)[1]}
        desired = sum(1 for node in nodes.values() if nodefit.should_run(template["spec"], node)[0])
        surge, unavailable = rolling_params(ds, desired)
        min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
        delete, create_on = plan_rolling_update(eligible, hash_, surge, unavailable, min_ready, self.clock.wall())
        await self._sync_nodes(key, ds, template, delete, create_on)

    async def _sync_nodes(self, key: str, ds: Obj, template: Obj, delete: list[Obj], create_on: list[str]) -> None:
        if not delete and not create_on:
            return
        self.expectations.expect_deletions(key, [uid_of(p) for p in delete], adds=len(create_on))

        async def create(i: int) -> None:
            pod = pod_from_template(template, ds, api_version="apps/v1", kind="DaemonSet")
            nodefit.pin_to_node(pod["spec"], create_on[i])
            try:
                created = await self.client.create(PODS, pod)
            except Exception as e:
                self.recorder.event(ds, WARNING, "FailedCreate", f"Error creating: {getattr(e, 'message', e)}")
                raise
            self.recorder.event(ds, NORMAL, "SuccessfulCreate", f"Created pod: {name_of(created)}")

        async def remove(pod: Obj) -> None:
            try:
                await self.client.delete(PODS, name_of(pod), namespace=meta(pod).get("namespace"),
                                         preconditions={"uid": uid_of(pod)})
            except Exception as e:
                if not is_not_found(e):
                    self.expectations.deletion_observed(key, uid_of(pod))
                    self.recorder.event(ds, WARNING, "FailedDelete", f"Error deleting: {getattr(e, 'message', e)}")
                    raise
                self.expectations.deletion_observed(key, uid_of(pod))
                return
            self.recorder.event(ds, NORMAL, "SuccessfulDelete", f"Deleted pod: {name_of(pod)}")

        done, err = await slow_start_batch(len(create_on), create)
        if done < len(create_on):
            self.expectations.lower(key, adds=len(create_on) - done)
        results = await asyncio.gather(*(remove(p) for p in delete), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if err is not None:
            raise err
        if failures:
            raise failures[0]

    def _status(self, ds: Obj, template: Obj, nodes: Mapping[str, Obj], node_pods: Mapping[str, list[Obj]],
                hash_: str, collision: int | None) -> Obj:
        min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
        now = self.clock.wall()
        desired = current = misscheduled = ready = updated = available = 0
        for node_name, node in nodes.items():
            run, _ = nodefit.should_run(template["spec"], node)
            pods = [p for p in node_pods.get(node_name, []) if not is_deleting(p)]
            if run:
                desired += 1
                if pods:
                    current += 1
                    pod = min(pods, key=creation_key)
                    if is_pod_ready(pod):
                        ready += 1
                        if is_pod_available(pod, min_ready, now):
                            available += 1
                    if any(labels_of(p).get(hist.CONTROLLER_REVISION_HASH) == hash_ for p in pods):
                        updated += 1
            elif pods:
                misscheduled += 1
        status: Obj = {"currentNumberScheduled": current, "numberMisscheduled": misscheduled,
                       "desiredNumberScheduled": desired, "numberReady": ready,
                       "observedGeneration": meta(ds).get("generation", 0), "updatedNumberScheduled": updated,
                       "numberAvailable": available, "numberUnavailable": max(desired - available, 0)}
        if collision is not None:
            status["collisionCount"] = collision
        return status

    # -- history ------------------------------------------------------------------------------

    async def _construct_history(self, ds: Obj) -> tuple[Obj, int | None]:
        owned = hist.owned_revisions(ds, self.rev_informer.by_index("controller", uid_of(ds)))
        collision = (ds.get("status") or {}).get("collisionCount")
        equal = hist.find_equal_revision(ds, owned)
        if equal is not None:
            if owned and name_of(equal) != name_of(owned[-1]):
                bumped = copy_object(equal)
                bumped["revision"] = hist.next_revision_number(owned)
                return await self.client.update(CONTROLLERREVISIONS, bumped), collision
            return copy_object(equal), collision
        return await hist.create_revision(self.client, ds, hist.next_revision_number(owned), collision,
                                          kind="DaemonSet")

    async def _cleanup_history(self, ds: Obj, pods: list[Obj], current: Obj) -> None:
        limit = int((ds.get("spec") or {}).get("revisionHistoryLimit") or 10)
        owned = hist.owned_revisions(ds, self.rev_informer.by_index("controller", uid_of(ds)))
        live = {labels_of(p).get(hist.CONTROLLER_REVISION_HASH, "") for p in pods} | {hist.revision_hash(current)}
        for rev in hist.revisions_to_prune(owned, limit, live):
            try:
                await self.client.delete(CONTROLLERREVISIONS, name_of(rev), namespace=meta(rev).get("namespace"))
            except Exception as e:
                if not is_not_found(e):
                    raise
