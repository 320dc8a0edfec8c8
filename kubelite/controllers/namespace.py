"""The namespace controller: empties a namespace being deleted, then releases it
(kube-controller-manager's ``namespace`` controller).

``kubectl delete namespace x`` only marks the namespace (deletionTimestamp, phase Terminating):
the API server keeps it while ``spec.finalizers`` holds ``kubernetes``. This controller then

1. discovers every namespaced resource that can be listed and deleted (``discovery.py`` --
   custom resources included, since CRDs appear in discovery),
2. deletes everything of each in the namespace (``deletecollection`` where offered, else one by
   one; background propagation, so owned objects are collected too),
3. lists again and records what is left as namespace conditions, as Kubernetes does:
   ``NamespaceDeletionDiscoveryFailure``, ``NamespaceDeletionGroupVersionParsingFailure``,
   ``NamespaceDeletionContentFailure``, ``NamespaceContentRemaining`` (``pods. has 2 resource
   instances``) and ``NamespaceFinalizersRemaining`` (``example.com/guard in 1 resource
   instances``) -- True with the problem, or False with the "all clear" reason,
4. once nothing is left (and discovery was complete), removes ``kubernetes`` from
   ``spec.finalizers`` through ``PUT /api/v1/namespaces/<ns>/finalize``; the API server deletes
   the namespace when no finalizers remain.

While content remains the key is re-queued after an estimate: the longest remaining pod grace
period, or 15 s per object held by finalizers, halved and capped by
``options["namespace_requeue_max_seconds"]`` (default 15) so progress is noticed quickly.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any, Mapping

from kubelite.api.helpers.conditions import set_condition
from kubelite.api.helpers.times import format_time, parse_time
from kubelite.client import NAMESPACES, ApiError, copy_object, is_not_found, split_key
from kubelite.controllers.base import Controller
from kubelite.controllers.discovery import APIResource, discover

log = logging.getLogger(__name__)
Obj = dict[str, Any]

FINALIZER = "kubernetes"
FINALIZER_ESTIMATE_SECONDS = 15

DISCOVERY_FAILURE = "NamespaceDeletionDiscoveryFailure"
GV_PARSING_FAILURE = "NamespaceDeletionGroupVersionParsingFailure"
CONTENT_FAILURE = "NamespaceDeletionContentFailure"
CONTENT_REMAINING = "NamespaceContentRemaining"
FINALIZERS_REMAINING = "NamespaceFinalizersRemaining"
CONDITION_TYPES = (DISCOVERY_FAILURE, GV_PARSING_FAILURE, CONTENT_FAILURE, CONTENT_REMAINING, FINALIZERS_REMAINING)
OK_REASONS = {
    DISCOVERY_FAILURE: ("ResourcesDiscovered", "All resources successfully discovered"),
    GV_PARSING_FAILURE: ("ParsedGroupVersions", "All legacy kube types successfully parsed"),
    CONTENT_FAILURE: ("ContentDeleted", "All content successfully deleted, may be waiting on finalization"),
    CONTENT_REMAINING: ("ContentRemoved", "All content successfully removed"),
    FINALIZERS_REMAINING: ("ContentHasNoFinalizers", "All content-preserving finalizers finished"),
}


@dataclass
class DeletionReport:
    """What one pass over a namespace found: per resource the objects still there and per
    finalizer the objects it holds, failed deletions, failed discovery, and an estimate of
    the seconds until the rest is gone."""

    remaining: dict[str, int] = field(default_factory=dict)        # "pods." / "widgets.example.com"
    finalizers: dict[str, int] = field(default_factory=dict)
    delete_errors: list[str] = field(default_factory=list)
    discovery_errors: dict[str, str] = field(default_factory=dict)
    estimate: int = 0

    @property
    def done(self) -> bool:
        return not (any(self.remaining.values()) or self.delete_errors or self.discovery_errors)


def _now(clock_wall: dt.datetime) -> str:
    return format_time(clock_wall)


def desired_conditions(report: DeletionReport) -> dict[str, tuple[str, str, str]]:
    """condition type -> (status, reason, message) for ``report``."""
    out: dict[str, tuple[str, str, str]] = {}
    if report.discovery_errors:
        groups = ", ".join(f"{gv}: {msg}" for gv, msg in sorted(report.discovery_errors.items()))
        out[DISCOVERY_FAILURE] = ("True", "DiscoveryFailed",
                                  f"Discovery failed for some groups, {len(report.discovery_errors)} failing: {groups}")
    if report.delete_errors:
        msgs = sorted(report.delete_errors)
        out[CONTENT_FAILURE] = ("True", "ContentDeletionFailed",
                                f"Failed to delete all resource types, {len(msgs)} remaining: {', '.join(msgs)}")
    left = sorted(f"{res} has {n} resource instances" for res, n in report.remaining.items() if n)
    if left:
        out[CONTENT_REMAINING] = ("True", "SomeResourcesRemain", f"Some resources are remaining: {', '.join(left)}")
    held = sorted(f"{fin} in {n} resource instances" for fin, n in report.finalizers.items() if n)
    if held:
        out[FINALIZERS_REMAINING] = ("True", "SomeFinalizersRemain",
                                     f"Some content in the namespace has finalizers remaining: {', '.join(held)}")
    for t in CONDITION_TYPES:
        if t not in out:
            reason, message = OK_REASONS[t]
            out[t] = ("False", reason, message)
    return out


def update_conditions(conditions: list[Obj], desired: Mapping[str, tuple[str, str, str]], now: str) -> tuple[list[Obj], bool]:
    """Merge ``desired`` into ``conditions`` (lastTransitionTime moves only when the status
    does); returns the new list and whether anything changed."""
    out: list[Obj] = [dict(c) for c in conditions]
    changed = False
    for ctype in CONDITION_TYPES:
        changed |= set_condition(out, ctype, *desired[ctype], now)
    return out, changed


def _resource_label(res: APIResource) -> str:
    return f"{res.ref.plural}.{res.ref.group}"


def _pod_estimate(obj: Obj, now: dt.datetime) -> int:
    """Seconds until a terminating pod's grace period ends (Kubernetes' estimate)."""
    meta = obj.get("metadata") or {}
    ts = meta.get("deletionTimestamp")
    if not ts:
        grace = (obj.get("spec") or {}).get("terminationGracePeriodSeconds")
        return int(grace or 30)
    try:
        deadline = parse_time(ts)
    except ValueError:
        return 0
    if deadline is None:
        return 0
    return max(0, int((deadline - now).total_seconds()))


class NamespaceController(Controller):
    name = "namespace"
    workers = 2

    def setup(self) -> None:
        self.namespaces = self.ctx.factory.informer(NAMESPACES)
        self.namespaces.add_handler(on_add=self._maybe, on_update=lambda old, new: self._maybe(new))
        self.requeue_max = float(self.ctx.options.get("namespace_requeue_max_seconds") or FINALIZER_ESTIMATE_SECONDS)

    def _maybe(self, ns: Obj) -> None:
        if (ns.get("metadata") or {}).get("deletionTimestamp"):
            self.enqueue(ns)

    async def sync(self, key: str) -> None:
        _, name = split_key(key)
        # The latest state, not the cache: several writers edit a terminating namespace.
        try:
            ns = await self.client.get(NAMESPACES, name)
        except ApiError as e:
            if is_not_found(e):
                return
            raise
        meta = ns.get("metadata") or {}
        if not meta.get("deletionTimestamp"):
            return
        if (ns.get("status") or {}).get("phase") != "Terminating":
            ns = await self._write_status(ns, phase="Terminating")
        if FINALIZER not in ((ns.get("spec") or {}).get("finalizers") or ()):
            return  # our part is done; other finalizers (or metadata.finalizers) hold it
        report = await self.delete_content(name)
        ns = await self._write_conditions(ns, report)
        if not report.done:
            delay = min(self.requeue_max, max(1.0, report.estimate / 2))
            log.info("namespace %s: content remains (%s); checking again in %.1fs", name,
                     ", ".join(f"{k}={v}" for k, v in report.remaining.items() if v) or "errors", delay)
            self.queue.add_after(key, delay)
            return
        await self._finalize(ns)

    async def delete_content(self, namespace: str) -> DeletionReport:
        """Delete everything in ``namespace`` once, then list what is left."""
        report = DeletionReport()
        disc = await discover(self.client)
        report.discovery_errors = dict(disc.failed)
        now = self.clock.wall()
        for res in disc.namespaced("list", "delete"):
            if res.ref.plural == "events" and res.ref.group == "events.k8s.io":
                continue  # the same objects as core/v1 events
            label = _resource_label(res)
            try:
                await self._delete_all(res, namespace)
            except ApiError as e:
                if e.code not in (404, 405):
                    report.delete_errors.append(f"{label}: {e.message or e.reason}")
            try:
                items = (await self.client.list_all(res.ref, namespace=namespace)).items
            except ApiError as e:
                if e.code not in (404, 405):
                    report.delete_errors.append(f"{label}: {e.message or e.reason}")
                continue
            if not items:
                continue
            report.remaining[label] = len(items)
            for item in items:
                fins = (item.get("metadata") or {}).get("finalizers") or []
                for f in fins:
                    report.finalizers[f] = report.finalizers.get(f, 0) + 1
                if res.ref.plural == "pods" and not res.ref.group:
                    report.estimate = max(report.estimate, _pod_estimate(item, now))
                elif fins:
                    report.estimate = max(report.estimate, FINALIZER_ESTIMATE_SECONDS)
        return report

    async def _delete_all(self, res: APIResource, namespace: str) -> None:
        if res.supports("deletecollection"):
            try:
                await self.client.delete_collection(res.ref, namespace=namespace, propagation_policy="Background")
                return
            except ApiError as e:
                if e.code not in (404, 405):
                    raise
        for item in (await self.client.list_all(res.ref, namespace=namespace)).items:
            meta = item.get("metadata") or {}
            if meta.get("deletionTimestamp"):
                continue
            try:
                await self.client.delete(res.ref, meta["name"], namespace=namespace, propagation_policy="Background")
            except ApiError as e:
                if not is_not_found(e):
                    raise

    async def _write_status(self, ns: Obj, *, phase: str | None = None,
                            conditions: list[Obj] | None = None) -> Obj:
        new = copy_object(ns)
        status = new.setdefault("status", {})
        if phase is not None:
            status["phase"] = phase
        if conditions is not None:
            status["conditions"] = conditions
        try:
            return await self.client.update_status(NAMESPACES, new)
        except ApiError as e:
            if is_not_found(e):
                return ns
            raise

    async def _write_conditions(self, ns: Obj, report: DeletionReport) -> Obj:
        current = list((ns.get("status") or {}).get("conditions") or [])
        merged, changed = update_conditions(current, desired_conditions(report), _now(self.clock.wall()))
        if not changed:
            return ns
        return await self._write_status(ns, conditions=merged)

    async def _finalize(self, ns: Obj) -> None:
        name = ns["metadata"]["name"]
        body = copy_object(ns)
        body.setdefault("spec", {})["finalizers"] = [f for f in (ns.get("spec") or {}).get("finalizers") or []
                                                     if f != FINALIZER]
        try:
            await self.client.request("PUT", NAMESPACES.item(None, name, "finalize"), body=body)
        except ApiError as e:
            if is_not_found(e) and await self._gone(name):
                return
            raise
        log.info("namespace %s: emptied and finalized", name)

    async def _gone(self, name: str) -> bool:
        try:
            await self.client.get(NAMESPACES, name)
        except ApiError as e:
            return is_not_found(e)
        return False
