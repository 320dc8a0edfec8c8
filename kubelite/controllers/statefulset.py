"""The StatefulSet controller (Kubernetes' ``pkg/controller/statefulset``).

Each replica has a stable identity: pod ``<set>-<ordinal>`` (ordinals from
``spec.ordinals.start``, default 0) with hostname = its name and subdomain = ``serviceName``,
labels ``statefulset.kubernetes.io/pod-name`` and ``apps.kubernetes.io/pod-index``, and one
PersistentVolumeClaim per ``volumeClaimTemplates`` entry named ``<claim>-<set>-<ordinal>``,
created before the pod and kept when the pod goes (unless
``persistentVolumeClaimRetentionPolicy`` says Delete: then the claim is owned by the set, or
by the condemned pod when scaling down, and the garbage collector removes it).

One sync, for ``podManagementPolicy: OrderedReady`` (monotonic)::

    replicas 3, pods {web-0: Running+Ready, web-1: Pending}
    -> web-0 fine; web-1 exists but is not ready: stop and wait (web-2 is not created yet)
    scale 3 -> 1 once all are ready: delete web-2, wait until it is gone, then web-1

``Parallel`` creates and deletes without waiting. Updates: ``RollingUpdate`` deletes the
highest-ordinal pod not at the update revision, one at a time and only while all others are
healthy, down to ``partition`` (pods below keep the current revision); it is then recreated
from the new template. ``OnDelete`` only uses the new template for pods the user deletes.
Revisions are ControllerRevisions (``revisions.py``); pods carry
``controller-revision-hash: <revision name>``; status reports currentRevision/updateRevision
and the counts of pods at each. Started by the controller manager.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any, ClassVar

from kubelite.api.helpers.podutil import is_pod_available, is_pod_ready, pod_phase
from kubelite.client import (
    CONTROLLERREVISIONS,
    NORMAL,
    PERSISTENTVOLUMECLAIMS,
    PODS,
    STATEFULSETS,
    WARNING,
    copy_object,
    is_already_exists,
    is_not_found,
)
from kubelite.client.informer import index_by_controller_uid, object_key
from kubelite.controllers import revisions as hist
from kubelite.controllers.base import Controller
from kubelite.controllers.podcontrol import (
    claim, controller_ref, ensure_index, index_by_namespace, is_deleting, labels_of, meta, name_of,
    owner_reference, pod_from_template, uid_of, write_status,
)
from kubelite.machinery.selectors import LabelSelector, from_label_selector

log = logging.getLogger(__name__)
Obj = dict[str, Any]

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
REVISION_LABEL = hist.CONTROLLER_REVISION_HASH


# -- identity (pure) ------------------------------------------------------------------------

def ordinal_of(set_name: str, pod_name: str) -> int | None:
    """``web-2`` of set ``web`` -> 2; another set's pod (``web-x-0``) -> None."""
    m = re.fullmatch(re.escape(set_name) + r"-(\d+)", pod_name)
    return int(m.group(1)) if m else None


def start_ordinal(sts: Mapping[str, Any]) -> int:
    return int(((sts.get("spec") or {}).get("ordinals") or {}).get("start") or 0)


def replicas_of(sts: Mapping[str, Any]) -> int:
    r = (sts.get("spec") or {}).get("replicas")
    return 1 if r is None else int(r)


def claim_name(claim_template: Mapping[str, Any], pod_name: str) -> str:
    return f"{name_of(claim_template)}-{pod_name}"


def is_healthy(pod: Mapping[str, Any] | None, min_ready: int, now: Any) -> bool:
    return (pod is not None and not is_deleting(pod) and pod_phase(pod) == "Running"
            and is_pod_ready(pod) and is_pod_available(pod, min_ready, now))


def revision_of(pod: Mapping[str, Any]) -> str:
    return labels_of(pod).get(REVISION_LABEL, "")


def uses_revision(sts: Mapping[str, Any], ordinal: int, current: str, update: str) -> str:
    """Which revision a new pod for ``ordinal`` gets: below the partition, the current one."""
    strategy = (sts.get("spec") or {}).get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") == "RollingUpdate":
        partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
        if ordinal - start_ordinal(sts) < partition:
            return current
        return update
    # OnDelete: new pods (replacing deleted ones) use the update revision.
    return update


def new_pod(sts: Mapping[str, Any], template: Mapping[str, Any], ordinal: int, revision_name: str) -> Obj:
    """The pod for ``ordinal`` from ``template`` (the revision's), with identity and storage."""
    name = f"{name_of(sts)}-{ordinal}"
    pod = pod_from_template(template, sts, name=name, api_version="apps/v1", kind="StatefulSet")
    labels = pod["metadata"].setdefault("labels", {})
    labels[POD_NAME_LABEL] = name
    labels[POD_INDEX_LABEL] = str(ordinal)
    labels[REVISION_LABEL] = revision_name
    spec = pod["spec"]
    spec["hostname"] = name
    service = (sts.get("spec") or {}).get("serviceName")
    if service:
        spec["subdomain"] = service
    claims = (sts.get("spec") or {}).get("volumeClaimTemplates") or []
    if claims:
        volumes = [v for v in spec.get("volumes") or [] if v.get("name") not in {name_of(c) for c in claims}]
        for c in claims:
            volumes.append({"name": name_of(c), "persistentVolumeClaim": {"claimName": claim_name(c, name)}})
        spec["volumes"] = volumes
    return pod


def new_claim(sts: Mapping[str, Any], claim_template: Mapping[str, Any], pod_name: str) -> Obj:
    labels = dict(((sts.get("spec") or {}).get("selector") or {}).get("matchLabels") or {})
    labels.update(labels_of(claim_template))
    md: Obj = {"name": claim_name(claim_template, pod_name), "namespace": meta(sts).get("namespace"),
               "labels": labels}
    if meta(claim_template).get("annotations"):
        md["annotations"] = dict(meta(claim_template)["annotations"])
    policy = (sts.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}
    if policy.get("whenDeleted") == "Delete":
        ref = owner_reference(sts, api_version="apps/v1", kind="StatefulSet")
        ref["controller"] = False  # a claim is owned, not controlled, by the set
        md["ownerReferences"] = [ref]
    spec = copy_object(claim_template.get("spec") or {})
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": md, "spec": spec}


def compute_status(sts: Mapping[str, Any], pods: list[Obj], current: str, update: str,
                   collision_count: int | None, now: Any) -> Obj:
    min_ready = int((sts.get("spec") or {}).get("minReadySeconds") or 0)
    status: Obj = {"observedGeneration": meta(sts).get("generation", 0), "replicas": 0, "readyReplicas": 0,
                   "currentReplicas": 0, "updatedReplicas": 0, "availableReplicas": 0,
                   "currentRevision": current, "updateRevision": update}
    if collision_count is not None:
        status["collisionCount"] = collision_count
    for pod in pods:
        status["replicas"] += 1
        if pod_phase(pod) == "Running" and is_pod_ready(pod):
            status["readyReplicas"] += 1
            if is_pod_available(pod, min_ready, now):
                status["availableReplicas"] += 1
        if not is_deleting(pod):
            rev = revision_of(pod)
            if rev == current:
                status["currentReplicas"] += 1
            if rev == update:
                status["updatedReplicas"] += 1
    strategy = ((sts.get("spec") or {}).get("updateStrategy") or {}).get("type", "RollingUpdate")
    # completeRollingUpdate: once every pod runs the update revision, it becomes current.
    if strategy == "RollingUpdate" and status["updatedReplicas"] == status["replicas"] \
            and status["readyReplicas"] == status["replicas"]:
        status["currentReplicas"] = status["updatedReplicas"]
        status["currentRevision"] = update
    old_conditions = (sts.get("status") or {}).get("conditions")
    if old_conditions:
        status["conditions"] = old_conditions
    return status


def _status_equal(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    keys = set(a) | set(b)
    return all((a.get(k) or 0) == (b.get(k) or 0) for k in keys)


class StatefulSetController(Controller):
    name: ClassVar[str] = "statefulset"
    workers: ClassVar[int] = 2

    def setup(self) -> None:
        f = self.ctx.factory
        self.set_informer = f.informer(STATEFULSETS)
        self.pod_informer = f.informer(PODS)
        self.pvc_informer = f.informer(PERSISTENTVOLUMECLAIMS)
        self.rev_informer = f.informer(CONTROLLERREVISIONS)
        ensure_index(self.set_informer, "namespace", index_by_namespace)
        ensure_index(self.pod_informer, "namespace", index_by_namespace)
        ensure_index(self.pod_informer, "controller", index_by_controller_uid)
        ensure_index(self.rev_informer, "controller", index_by_controller_uid)
        self.set_informer.add_handler(**self.enqueue_handlers())
        self.pod_informer.add_handler(**self.enqueue_handlers(self._set_key_for_pod))

    @staticmethod
    def selector(sts: Mapping[str, Any]) -> LabelSelector:
        try:
            return from_label_selector((sts.get("spec") or {}).get("selector"))
        except Exception:  # noqa: BLE001
            return LabelSelector.nothing()

    def _set_key_for_pod(self, pod: Obj) -> str | None:
        ref = controller_ref(pod)
        ns = meta(pod).get("namespace", "")
        if ref is not None:
            return f"{ns}/{ref.get('name')}" if ref.get("kind") == "StatefulSet" else None
        for sts in self.set_informer.by_index("namespace", ns):
            if ordinal_of(name_of(sts), name_of(pod)) is not None and self.selector(sts).matches(labels_of(pod)):
                return object_key(sts)
        return None

    # -- sync ---------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        cached = self.set_informer.get(key)
        if cached is None:
            return
        sts: Obj = copy_object(cached)
        ns = meta(sts).get("namespace", "")
        candidates = [p for p in self.pod_informer.by_index("namespace", ns)]
        pods = await claim(self.client, PODS, sts, self.selector(sts), candidates, api_version="apps/v1",
                           kind="StatefulSet",
                           adopt_filter=lambda p: ordinal_of(name_of(sts), name_of(p)) is not None)
        pods = [p for p in pods if ordinal_of(name_of(sts), name_of(p)) is not None]
        current, update, collision = await self._revisions(sts)
        templates = {name_of(current): hist.template_of_revision(current), name_of(update): hist.template_of_revision(update)}
        if not is_deleting(sts):
            await self._update_pods(sts, pods, name_of(current), name_of(update), templates)
        pods = [p for p in self.pod_informer.by_index("controller", uid_of(sts))
                if ordinal_of(name_of(sts), name_of(p)) is not None]
        status = compute_status(sts, pods, name_of(current), name_of(update), collision, self.clock.wall())
        if not _status_equal(sts.get("status") or {}, status):
            await write_status(self.client, STATEFULSETS, sts, status)
        await self._truncate_history(sts, pods, status)
        min_ready = int((sts.get("spec") or {}).get("minReadySeconds") or 0)
        if min_ready and status["readyReplicas"] != status["availableReplicas"]:
            self.enqueue(key, after=float(min_ready))

    async def _revisions(self, sts: Obj) -> tuple[Obj, Obj, int | None]:
        """(current revision, update revision, collision count), creating the update revision
        if the template changed."""
        owned = hist.owned_revisions(sts, self.rev_informer.by_index("controller", uid_of(sts)))
        collision = (sts.get("status") or {}).get("collisionCount")
        equal = hist.find_equal_revision(sts, owned)
        latest = owned[-1] if owned else None
        if equal is not None and latest is not None and name_of(equal) == name_of(latest):
            update: Obj = copy_object(equal)
        elif equal is not None:
            # Rolled back to an older template: it becomes the newest revision again.
            update = copy_object(equal)
            update["revision"] = hist.next_revision_number(owned)
            update = await self.client.update(CONTROLLERREVISIONS, update)
        else:
            update, collision = await hist.create_revision(self.client, sts, hist.next_revision_number(owned), collision,
                                                          kind="StatefulSet")
        current_name = (sts.get("status") or {}).get("currentRevision")
        current = next((copy_object(r) for r in owned if name_of(r) == current_name), None) or update
        return current, update, collision

    async def _update_pods(self, sts: Obj, pods: list[Obj], current: str, update: str,
                           templates: Mapping[str, Obj]) -> None:
        spec = sts.get("spec") or {}
        monotonic = spec.get("podManagementPolicy", "OrderedReady") != "Parallel"
        min_ready = int(spec.get("minReadySeconds") or 0)
        now = self.clock.wall()
        start, replicas = start_ordinal(sts), replicas_of(sts)
        by_ordinal: dict[int, Obj] = {}
        condemned: list[Obj] = []
        pod: Obj | None
        for pod in pods:
            o = ordinal_of(name_of(sts), name_of(pod))
            assert o is not None
            if start <= o < start + replicas:
                by_ordinal[o] = pod
            else:
                condemned.append(pod)
        condemned.sort(key=lambda p: -(ordinal_of(name_of(sts), name_of(p)) or 0))
        # The first pod (lowest ordinal, then highest condemned) that is not healthy.
        # (a missing replica counts as unhealthy: "" never equals a pod's uid)
        first_bad = next((o for o in range(start, start + replicas)
                          if not is_healthy(by_ordinal.get(o), min_ready, now)), None)
        unhealthy: str | None = None
        if first_bad is not None:
            unhealthy = uid_of(by_ordinal[first_bad]) if first_bad in by_ordinal else ""
        else:
            bad = next((p for p in condemned if not is_healthy(p, min_ready, now)), None)
            unhealthy = uid_of(bad) if bad is not None else None

        for o in range(start, start + replicas):
            pod = by_ordinal.get(o)
            if pod is not None and pod_phase(pod) in ("Failed", "Succeeded") and not is_deleting(pod):
                await self._delete_pod(sts, pod)
                if monotonic:
                    return
                continue
            if pod is None:
                rev = uses_revision(sts, o, current, update)
                await self._create_pod(sts, new_pod(sts, templates[rev], o, rev))
                if monotonic:
                    return
                continue
            if is_deleting(pod):
                if monotonic:
                    return
                continue
            if monotonic and not is_healthy(pod, min_ready, now):
                return
            await self._ensure_claims(sts, name_of(pod), condemned=False)

        for pod in condemned:
            if is_deleting(pod):
                if monotonic:
                    return
                continue
            if monotonic and unhealthy is not None and unhealthy != uid_of(pod):
                return  # scale down only once everything else is healthy
            await self._ensure_claims(sts, name_of(pod), condemned=True, pod=pod)
            await self._delete_pod(sts, pod)
            if monotonic:
                return

        strategy = spec.get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") != "RollingUpdate":
            return
        partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
        for o in range(start + replicas - 1, start + partition - 1, -1):
            pod = by_ordinal.get(o)
            if pod is None:
                continue
            if revision_of(pod) != update and not is_deleting(pod):
                await self._delete_pod(sts, pod)
                return
            if not is_healthy(pod, min_ready, now):
                return

    async def _create_pod(self, sts: Obj, pod: Obj) -> None:
        await self._ensure_claims(sts, name_of(pod), condemned=False)
        try:
            await self.client.create(PODS, pod)
        except Exception as e:
            if is_already_exists(e):
                return
            self.recorder.event(sts, WARNING, "FailedCreate",
                                f"create Pod {name_of(pod)} in StatefulSet {name_of(sts)} failed error: "
                                f"{getattr(e, 'message', e)}")
            raise
        self.recorder.event(sts, NORMAL, "SuccessfulCreate",
                            f"create Pod {name_of(pod)} in StatefulSet {name_of(sts)} successful")

    async def _delete_pod(self, sts: Obj, pod: Obj) -> None:
        try:
            await self.client.delete(PODS, name_of(pod), namespace=meta(pod).get("namespace"),
                                     preconditions={"uid": uid_of(pod)})
        except Exception as e:
            if is_not_found(e):
                return
            self.recorder.event(sts, WARNING, "FailedDelete",
                                f"delete Pod {name_of(pod)} in StatefulSet {name_of(sts)} failed error: "
                                f"{getattr(e, 'message', e)}")
            raise
        self.recorder.event(sts, NORMAL, "SuccessfulDelete",
                            f"delete Pod {name_of(pod)} in StatefulSet {name_of(sts)} successful")

    async def _ensure_claims(self, sts: Obj, pod_name: str, *, condemned: bool, pod: Obj | None = None) -> None:
        """Create missing claims for ``pod_name``; for a condemned pod under
        ``whenScaled: Delete``, make the pod own its claims so they go with it."""
        ns = meta(sts).get("namespace", "")
        policy = (sts.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}
        for template in (sts.get("spec") or {}).get("volumeClaimTemplates") or []:
            name = claim_name(template, pod_name)
            existing = self.pvc_informer.get(f"{ns}/{name}")
            if existing is None and not condemned:
                try:
                    await self.client.create(PERSISTENTVOLUMECLAIMS, new_claim(sts, template, pod_name))
                except Exception as e:
                    if not is_already_exists(e):
                        self.recorder.event(sts, WARNING, "FailedCreate",
                                            f"create Claim {name} for Pod {pod_name} in StatefulSet {name_of(sts)} "
                                            f"failed error: {getattr(e, 'message', e)}")
                        raise
                    continue
                self.recorder.event(sts, NORMAL, "SuccessfulCreate",
                                    f"create Claim {name} Pod {pod_name} in StatefulSet {name_of(sts)} success")
                continue
            if existing is not None and is_deleting(existing) and not condemned:
                raise RuntimeError(f"pvc {name} is being deleted; waiting before creating pod {pod_name}")
            if existing is not None and condemned and pod is not None and policy.get("whenScaled") == "Delete":
                refs = list(meta(existing).get("ownerReferences") or [])
                if not any(r.get("uid") == uid_of(pod) for r in refs):
                    ref = owner_reference(pod, api_version="v1", kind="Pod")
                    ref["controller"] = False
                    await self.client.patch(PERSISTENTVOLUMECLAIMS, name, {"metadata": {"ownerReferences": refs + [ref]}},
                                            namespace=ns)

    async def _truncate_history(self, sts: Obj, pods: list[Obj], status: Mapping[str, Any]) -> None:
        limit = int((sts.get("spec") or {}).get("revisionHistoryLimit") or 10)
        owned = hist.owned_revisions(sts, self.rev_informer.by_index("controller", uid_of(sts)))
        live = {revision_of(p) for p in pods} | {status.get("currentRevision", ""), status.get("updateRevision", "")}
        live_hashes = {hist.revision_hash(r) for r in owned if name_of(r) in live}
        for rev in hist.revisions_to_prune(owned, limit, live_hashes):
            try:
                await self.client.delete(CONTROLLERREVISIONS, name_of(rev), namespace=meta(rev).get("namespace"))
            except Exception as e:
                if not is_not_found(e):
                    raise
