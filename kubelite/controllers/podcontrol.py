"""Pod and owner plumbing shared by the workload controllers (ReplicaSet, Deployment,
DaemonSet, StatefulSet, Job): Kubernetes' ``controller_utils.go`` and ``controller_ref_manager.go``.

Pure helpers: pod state (active, ready, available), owner references, pod construction from a
template, timestamps, and the ranking that decides which pods a scale-down removes first.
Async helpers: ``claim`` (adopt matching orphans, release owned objects that no longer match,
through strategic-merge patches carrying the owned object's uid as a precondition) and
``slow_start_batch`` (create 1, 2, 4, ... at a time, stopping at the first failure so a bad
template or an exhausted quota costs one error, not five hundred).
Called by the controllers in this package; nothing here talks to the cluster except through
the ``Client`` it is handed.
"""
from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from kubelite.api.helpers.podutil import is_pod_active, is_pod_ready, pod_phase, pod_ready_since
from kubelite.api.helpers.times import try_parse_time
from kubelite.client import Client, Informer, copy_object, is_not_found
from kubelite.client.clock import REAL_CLOCK, Clock
from kubelite.client.resources import ResourceRef
from kubelite.controllers.base import Expectations
from kubelite.machinery.selectors import LabelSelector

Obj = dict[str, Any]
T = TypeVar("T", bound=Mapping[str, Any])

#: kube's per-sync cap on creations/deletions for one ReplicaSet (``BurstReplicas``)
BURST_REPLICAS = 500
#: ``SlowStartInitialBatchSize``
SLOW_START_INITIAL_BATCH = 1
POD_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"


# -- metadata -------------------------------------------------------------------------------

def meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def uid_of(obj: Mapping[str, Any]) -> str:
    return meta(obj).get("uid", "")


def name_of(obj: Mapping[str, Any]) -> str:
    return meta(obj).get("name", "")


def labels_of(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return meta(obj).get("labels") or {}


def annotations_of(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return meta(obj).get("annotations") or {}


def is_deleting(obj: Mapping[str, Any]) -> bool:
    return bool(meta(obj).get("deletionTimestamp"))


def controller_ref(obj: Mapping[str, Any]) -> Obj | None:
    """The owner reference with ``controller: true``, if any."""
    for ref in meta(obj).get("ownerReferences") or ():
        if ref.get("controller"):
            return ref  # type: ignore[no-any-return]
    return None


def owner_reference(owner: Mapping[str, Any], *, api_version: str | None = None,
                    kind: str | None = None) -> Obj:
    """A controller owner reference to ``owner``: ``controller`` and ``blockOwnerDeletion``
    set, as every Kubernetes workload controller writes it (foreground deletion waits for it)."""
    return {"apiVersion": api_version or owner.get("apiVersion", ""), "kind": kind or owner.get("kind", ""),
            "name": name_of(owner), "uid": uid_of(owner), "controller": True, "blockOwnerDeletion": True}


def creation_key(obj: Mapping[str, Any]) -> tuple[str, str]:
    """Sort key: oldest first, ties by name (kube's ``ByCreationTimestamp``). RFC 3339 strings
    in UTC sort chronologically."""
    return (meta(obj).get("creationTimestamp") or "", name_of(obj))


# -- pod state ------------------------------------------------------------------------------

def restart_count(pod: Mapping[str, Any]) -> int:
    return sum(int(s.get("restartCount") or 0) for s in (pod.get("status") or {}).get("containerStatuses") or ())


# -- pod construction -----------------------------------------------------------------------

def pod_from_template(template: Mapping[str, Any], owner: Mapping[str, Any], *,
                      generate_name: str | None = None, name: str | None = None,
                      api_version: str | None = None, kind: str | None = None) -> Obj:
    """A Pod built from a pod template (kube's ``GetPodFromTemplate``): the template's labels,
    annotations and finalizers, its spec, a controller owner reference to ``owner``; named
    ``name`` or generated from ``generate_name`` ("web-5d4f8-" -> "web-5d4f8-x7k2p")."""
    tmeta = template.get("metadata") or {}
    md: Obj = {"namespace": meta(owner).get("namespace")}
    if name:
        md["name"] = name
    else:
        md["generateName"] = generate_name or f"{name_of(owner)}-"
    for key in ("labels", "annotations"):
        if tmeta.get(key):
            md[key] = dict(tmeta[key])
    if tmeta.get("finalizers"):
        md["finalizers"] = list(tmeta["finalizers"])
    md["ownerReferences"] = [owner_reference(owner, api_version=api_version, kind=kind)]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md,
            "spec": copy_object(template.get("spec") or {})}


# -- ranking pods for scale-down ------------------------------------------------------------

_PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}


def deletion_rank(pod: Mapping[str, Any], colocated: int, now: dt.datetime) -> tuple[Any, ...]:
    """Sort key putting the pod to delete first first (kube's ``ActivePodsWithRanks``):

    1. unscheduled before scheduled; 2. Pending < Unknown < Running; 3. not ready before ready;
    4. lower ``controller.kubernetes.io/pod-deletion-cost`` first; 5. more pods of the same
    owner on the same node (``colocated``) first; 6. ready for less time first; 7. more
    restarts first; 8. newer first.

    Example: [a: Running ready since 10:00, b: Pending, c: Running not ready] -> b, c, a.
    """
    scheduled = bool((pod.get("spec") or {}).get("nodeName"))
    phase = _PHASE_RANK.get(pod_phase(pod), 3)
    ready = is_pod_ready(pod)
    try:
        cost = int(annotations_of(pod).get(POD_DELETION_COST, "0"))
    except ValueError:
        cost = 0
    since = pod_ready_since(pod) if ready else None
    # Ready more recently = shorter readiness = deleted first: sort by -timestamp.
    ready_key = -(since.timestamp()) if since else 0.0
    created = try_parse_time(meta(pod).get("creationTimestamp"))
    created_key = -(created.timestamp()) if created else 0.0
    return (scheduled, phase, ready, cost, -colocated, ready_key, -restart_count(pod), created_key, name_of(pod))


def rank_for_deletion(pods: Sequence[T], related: Iterable[Mapping[str, Any]] = (),
                      now: dt.datetime | None = None) -> list[T]:
    """``pods`` ordered deletion-first. ``related`` are the pods of every sibling owner (e.g. all
    ReplicaSets of one Deployment); a pod sharing its node with many related pods goes first,
    spreading what is left across nodes."""
    now = now or dt.datetime.now(dt.UTC)
    per_node: dict[str, int] = {}
    seen: set[str] = set()
    for p in list(related) + list(pods):
        uid = uid_of(p) or name_of(p)
        if uid in seen or not is_pod_active(p):
            continue
        seen.add(uid)
        node = (p.get("spec") or {}).get("nodeName") or ""
        per_node[node] = per_node.get(node, 0) + 1

    def key(p: Mapping[str, Any]) -> tuple[Any, ...]:
        node = (p.get("spec") or {}).get("nodeName") or ""
        return deletion_rank(p, per_node.get(node, 0) if node else 0, now)

    return sorted(pods, key=key)


# -- informer helpers -----------------------------------------------------------------------

def ensure_index(informer: Informer, name: str, fn: Callable[[Obj], Iterable[str]]) -> None:
    """Add an index unless another controller sharing the informer already did."""
    try:
        informer.add_index(name, fn)
    except ValueError:
        pass


def index_by_namespace(obj: Obj) -> list[str]:
    ns = meta(obj).get("namespace")
    return [ns] if ns else []


def index_by_owner_uid(obj: Obj) -> list[str]:
    """Every owner's uid (controller or not)."""
    return [r.get("uid", "") for r in meta(obj).get("ownerReferences") or ()]


# -- adoption -------------------------------------------------------------------------------

async def claim(client: Client, resource: ResourceRef, owner: Mapping[str, Any], selector: LabelSelector,
                candidates: Iterable[Mapping[str, Any]], *, api_version: str, kind: str,
                adopt_filter: Callable[[Mapping[str, Any]], bool] | None = None) -> list[Obj]:
    """Kubernetes' ``ClaimObjects``: return the objects ``owner`` controls after adopting
    orphans that match ``selector`` and releasing owned ones that no longer match.

    An owner being deleted adopts nothing. Patches are strategic merges keyed on the owner
    reference uid and carry the object's own uid, so a recreated namesake is never touched;
    a 404 (the object went away) is not an error.
    """
    owner_uid = uid_of(owner)
    claimed: list[Obj] = []
    for obj in candidates:
        ref = controller_ref(obj)
        matches = selector.matches(labels_of(obj))
        if ref is not None:
            if ref.get("uid") != owner_uid:
                continue
            if matches or is_deleting(obj):
                claimed.append(obj)  # type: ignore[arg-type]
                continue
            if is_deleting(owner):
                claimed.append(obj)  # type: ignore[arg-type]
                continue
            patch = {"metadata": {"uid": uid_of(obj),
                                  "ownerReferences": [{"$patch": "delete", "uid": owner_uid}]}}
            try:
                await client.patch(resource, name_of(obj), patch, namespace=meta(obj).get("namespace"),
                                   type="strategic")
            except Exception as e:
                if not (is_not_found(e) or getattr(e, "code", None) == 409):
                    raise
            continue
        if not matches or is_deleting(owner) or is_deleting(obj):
            continue
        if adopt_filter is not None and not adopt_filter(obj):
            continue
        patch = {"metadata": {"uid": uid_of(obj),
                              "ownerReferences": [owner_reference(owner, api_version=api_version, kind=kind)]}}
        try:
            adopted = await client.patch(resource, name_of(obj), patch, namespace=meta(obj).get("namespace"),
                                         type="strategic")
        except Exception as e:
            if is_not_found(e) or getattr(e, "code", None) in (409, 422):
                continue
            raise
        claimed.append(adopted)
    return claimed


async def slow_start_batch(count: int, fn: Callable[[int], Awaitable[Any]],
                           initial: int = SLOW_START_INITIAL_BATCH) -> tuple[int, BaseException | None]:
    """Call ``fn(i)`` ``count`` times in batches of 1, 2, 4, ...; stop after the first batch
    with a failure. Returns (successes, first error). Example: count 10 -> batches 1, 2, 4, 3."""
    done = 0
    batch = min(count, initial)
    while batch > 0:
        results = await asyncio.gather(*(fn(done + i) for i in range(batch)), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        done += batch - len(errors)
        if errors:
            for e in errors:
                if isinstance(e, asyncio.CancelledError):
                    raise e
            return done, errors[0]
        remaining = count - done
        batch = min(2 * batch, remaining)
    return done, None


class PodExpectations(Expectations):
    """``Expectations`` that remember *which* pods a deletion waits for (kube's
    ``UIDTrackingControllerExpectations``): a pod first seen with a deletionTimestamp and then
    seen DELETED counts once, not twice -- otherwise the controller would act on a cache that
    still shows the other pod it deleted, and delete one more."""

    def __init__(self, clock: Clock = REAL_CLOCK) -> None:
        super().__init__(clock)
        self._deleting: dict[str, set[str]] = {}

    def expect_deletions(self, key: str, uids: Iterable[str], adds: int = 0) -> None:
        """Expect these pods to be deleted (and ``adds`` creations) before acting again."""
        pending = set(uids)
        self._deleting[key] = pending
        self.expect(key, adds=adds, deletes=len(pending))

    def deletion_observed(self, key: str, uid: str) -> None:
        pending = self._deleting.get(key)
        if pending and uid in pending:
            pending.discard(uid)
            self.observed_delete(key)

    def forget(self, key: str) -> None:
        super().forget(key)
        self._deleting.pop(key, None)


async def write_status(client: Client, resource: ResourceRef, obj: Mapping[str, Any], status: Mapping[str, Any],
                       *, retries: int = 0) -> Obj:
    """PUT ``status`` on ``obj`` through the status subresource, conditional on the
    resourceVersion the status was computed from: a conflict raises and the sync is retried
    from fresher caches. ``retries`` > 0 re-reads and puts the same status again -- only for
    statuses derived entirely from other objects (a ReplicaSet's pod counts), never for ones
    that accumulate (a Job's counters, a CronJob's lastScheduleTime)."""
    new = dict(obj)
    new["status"] = dict(status)
    for attempt in range(retries + 1):
        try:
            return await client.update_status(resource, new)
        except Exception as e:
            if attempt >= retries or getattr(e, "code", None) != 409 or getattr(e, "reason", "") == "AlreadyExists":
                raise
            fresh = await client.get(resource, name_of(obj), namespace=meta(obj).get("namespace"))
            fresh["status"] = dict(status)
            if "observedGeneration" in status:
                # Only claim the generation we actually computed from.
                fresh["status"]["observedGeneration"] = status["observedGeneration"]
            new = fresh
    raise AssertionError("unreachable")


__all__ = [
    "BURST_REPLICAS",
    "POD_DELETION_COST",
    "PodExpectations",
    "annotations_of",
    "claim",
    "controller_ref",
    "creation_key",
    "deletion_rank",
    "ensure_index",
    "index_by_namespace",
    "index_by_owner_uid",
    "is_deleting",
    "labels_of",
    "meta",
    "name_of",
    "owner_reference",
    "pod_from_template",
    "rank_for_deletion",
    "restart_count",
    "slow_start_batch",
    "uid_of",
    "write_status",
]
