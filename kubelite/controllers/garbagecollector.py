"""The garbage collector: deletes objects whose owners are gone and carries out foreground and
orphan deletion (kube-controller-manager's ``garbagecollector``), for every kind -- custom
resources included.

**The graph.** Discovery (``discovery.py``) lists every resource that can be listed, watched
and deleted (events excepted); one informer per resource ("monitor") feeds a graph keyed by
uid: each object's coordinates, ownerReferences, deletion state, and the reverse edges
owner uid -> dependent uids. Discovery is redone every ``options["gc_discovery_seconds"]``
(default 30) and whenever a CRD changes, so new custom resources get monitors within moments.

**Work items** are uids. An object is queued when it appears or changes with an owner missing
from the graph, when it starts being deleted with the ``orphan`` or ``foregroundDeletion``
finalizer, when one of its owners disappears, and (for an owner waiting on its dependents) when
one of those dependents goes away.

**Deciding** (``attempt_to_delete``), for an object with owners, after re-reading it live:
each owner is *solid* (exists), *dangling* (absent -- always confirmed by a live GET before
anything is deleted; a uid mismatch counts as absent) or *waiting* (being deleted in the
foreground). With at least one solid owner only the references to dangling/waiting owners are
removed. Otherwise the object is deleted -- in the foreground if an owner waits on it and it has
dependents of its own, else with the policy its own finalizers ask for (Background by default).

**Foreground**: an owner with deletionTimestamp and ``foregroundDeletion`` has all its
dependents deleted; it keeps the finalizer until no dependent with ``blockOwnerDeletion: true``
is left, then the finalizer is removed and the API server deletes it. **Orphan**: an owner with
``orphan`` has its reference removed from every dependent, then loses the finalizer.

Example: Deployment d (uid D) -> ReplicaSet r (uid R, blockOwnerDeletion) -> pods p1, p2.
``kubectl delete deploy d --cascade=foreground``: d gets the finalizer; r is deleted with
Foreground because it has dependents; p1, p2 are deleted; r's finalizer goes, r goes; d's
finalizer goes, d goes. With ``--cascade=orphan`` r loses its ownerReference to D and stays.
"""
from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Mapping

from kubelite.client import (BUILTINS, CUSTOMRESOURCEDEFINITIONS, ApiError, ResourceRef, copy_object, is_not_found)
from kubelite.client.informer import Informer
from kubelite.controllers.base import Controller
from kubelite.controllers.discovery import ResourceMapper, discover

log = logging.getLogger(__name__)
Obj = dict[str, Any]

ORPHAN = "orphan"
FOREGROUND = "foregroundDeletion"
#: resources the collector never watches (high churn, never owners in practice)
IGNORED = frozenset({("", "events"), ("events.k8s.io", "events")})
DISCOVER_KEY = "::discover"
ABSENT_CACHE_SIZE = 500


@dataclass(frozen=True, slots=True)
class OwnerRef:
    uid: str
    api_version: str
    kind: str
    name: str
    block: bool


@dataclass(frozen=True, slots=True)
class Node:
    """One object in the graph (metadata only)."""

    uid: str
    ref: ResourceRef
    namespace: str | None
    name: str
    owners: tuple[OwnerRef, ...]
    deleting: bool
    finalizers: tuple[str, ...]

    @property
    def waiting_for_dependents(self) -> bool:
        return self.deleting and FOREGROUND in self.finalizers


def owner_refs(obj: Mapping[str, Any]) -> tuple[OwnerRef, ...]:
    out = []
    for r in (obj.get("metadata") or {}).get("ownerReferences") or ():
        if r.get("uid"):
            out.append(OwnerRef(str(r["uid"]), str(r.get("apiVersion") or ""), str(r.get("kind") or ""),
                                str(r.get("name") or ""), bool(r.get("blockOwnerDeletion"))))
    return tuple(out)


def node_of(ref: ResourceRef, obj: Mapping[str, Any]) -> Node:
    meta = obj.get("metadata") or {}
    return Node(uid=str(meta.get("uid") or ""), ref=ref, namespace=meta.get("namespace") or None,
                name=str(meta.get("name") or ""), owners=owner_refs(obj), deleting=bool(meta.get("deletionTimestamp")),
                finalizers=tuple(meta.get("finalizers") or ()))


def classify(states: Mapping[str, str]) -> tuple[list[str], list[str], list[str]]:
    """Owner uid -> "solid" | "dangling" | "waiting" | "unknown", split into (solid, dangling,
    waiting). Unknown owners (an unresolvable kind, a failed lookup) count as solid: when in
    doubt, nothing is deleted."""
    solid = [u for u, s in states.items() if s in ("solid", "unknown")]
    dangling = [u for u, s in states.items() if s == "dangling"]
    waiting = [u for u, s in states.items() if s == "waiting"]
    return solid, dangling, waiting


def deletion_decision(states: Mapping[str, str], finalizers: tuple[str, ...] | list[str],
                      has_dependents: bool) -> tuple[str, Any]:
    """What to do with an object whose owners are in ``states``:
    ("keep", None), ("remove-refs", [uids]) or ("delete", propagation policy)."""
    solid, dangling, waiting = classify(states)
    if solid:
        if dangling or waiting:
            return "remove-refs", dangling + waiting
        return "keep", None
    if waiting and has_dependents:
        return "delete", "Foreground"
    if ORPHAN in finalizers:
        return "delete", "Orphan"
    if FOREGROUND in finalizers:
        return "delete", "Foreground"
    return "delete", "Background"


class GarbageCollector(Controller):
    name = "garbagecollector"
    workers = 4

    def setup(self) -> None:
        self.nodes: dict[str, Node] = {}
        self.dependents: dict[str, set[str]] = {}
        self.monitors: dict[tuple[str, str], Informer] = {}
        self.mapper = ResourceMapper(BUILTINS.values())
        self.discovery_period = float(self.ctx.options.get("gc_discovery_seconds") or 30.0)
        self._absent: OrderedDict[str, None] = OrderedDict()
        self._discover_lock = asyncio.Lock()
        crds = self.ctx.factory.informer(CUSTOMRESOURCEDEFINITIONS)
        crds.add_handler(on_add=lambda _: self.queue.add(DISCOVER_KEY),
                         on_update=lambda _o, _n: self.queue.add(DISCOVER_KEY),
                         on_delete=lambda _: self.queue.add(DISCOVER_KEY))
        self.queue.add(DISCOVER_KEY)

    # -- monitors ---------------------------------------------------------------------------

    async def resync_monitors(self) -> None:
        """Start a monitor for every deletable resource, stop those no longer served."""
        async with self._discover_lock:
            disc = await discover(self.client)
            wanted = {(r.ref.group, r.ref.plural): r.ref for r in disc.with_verbs("list", "watch", "delete")
                      if (r.ref.group, r.ref.plural) not in IGNORED}
            self.mapper = ResourceMapper(list({r.ref for r in disc.resources}) + list(BUILTINS.values()))
            failed_groups = {gv.rpartition("/")[0] if "/" in gv else "" for gv in disc.failed}
            for key, ref in wanted.items():
                inf = self.monitors.get(key)
                if inf is not None and inf.resource == ref:
                    continue
                if inf is not None:  # the preferred version changed
                    await self._stop_monitor(key)
                self._start_monitor(key, ref)
            for key in [k for k in self.monitors if k not in wanted and k[0] not in failed_groups]:
                await self._stop_monitor(key)

    def _start_monitor(self, key: tuple[str, str], ref: ResourceRef) -> None:
        inf = self.ctx.factory.informer(ref)
        inf.add_handler(on_add=lambda obj: self._observe(ref, obj, None),
                        on_update=lambda old, new: self._observe(ref, new, old),
                        on_delete=self._forget)
        inf.start()
        self.monitors[key] = inf
        log.debug("garbagecollector: monitoring %s", ref.qualified)

    async def _stop_monitor(self, key: tuple[str, str]) -> None:
        inf = self.monitors.pop(key)
        await inf.stop()
        # The resource is no longer served (its CRD went away): its objects are gone too.
        for obj in inf.store.list():
            self._forget(obj)

    def monitors_synced(self) -> bool:
        return all(inf.has_synced for inf in self.monitors.values())

    # -- the graph --------------------------------------------------------------------------

    def _observe(self, ref: ResourceRef, obj: Obj, old: Obj | None) -> None:
        node = node_of(ref, obj)
        if not node.uid:
            return
        prev = self.nodes.get(node.uid)
        self.nodes[node.uid] = node
        prev_owners = {o.uid for o in prev.owners} if prev else set()
        new_owners = {o.uid for o in node.owners}
        for u in new_owners - prev_owners:
            self.dependents.setdefault(u, set()).add(node.uid)
        for u in prev_owners - new_owners:
            deps = self.dependents.get(u)
            if deps is not None:
                deps.discard(node.uid)
                if not deps:
                    del self.dependents[u]
            owner = self.nodes.get(u)
            if owner is not None and owner.waiting_for_dependents:
                self.queue.add(u)  # one fewer dependent to wait for
        if node.deleting and (ORPHAN in node.finalizers or FOREGROUND in node.finalizers):
            self.queue.add(node.uid)
            if node.waiting_for_dependents and not (prev and prev.waiting_for_dependents):
                for dep in self.dependents.get(node.uid, ()):
                    self.queue.add(dep)
        if node.owners and (prev is None or prev.owners != node.owners):
            for o in node.owners:
                owner = self.nodes.get(o.uid)
                if owner is None or owner.waiting_for_dependents:
                    self.queue.add(node.uid)
                    break

    def _forget(self, obj: Obj) -> None:
        uid = str((obj.get("metadata") or {}).get("uid") or "")
        node = self.nodes.pop(uid, None)
        if node is None:
            return
        for o in node.owners:
            deps = self.dependents.get(o.uid)
            if deps is not None:
                deps.discard(uid)
                if not deps:
                    del self.dependents[o.uid]
            owner = self.nodes.get(o.uid)
            if owner is not None and owner.waiting_for_dependents:
                self.queue.add(o.uid)
        for dep in self.dependents.get(uid, ()):
            self.queue.add(dep)

    def dependents_of(self, uid: str) -> list[Node]:
        return [self.nodes[d] for d in sorted(self.dependents.get(uid, ())) if d in self.nodes]

    # -- work -------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        if key == DISCOVER_KEY:
            try:
                await self.resync_monitors()
            finally:
                self.queue.add_after(DISCOVER_KEY, self.discovery_period)
            return
        if not self.monitors_synced():
            self.queue.add_after(key, 0.2)  # decide only on a complete graph
            return
        node = self.nodes.get(key)
        if node is None:
            return
        if node.deleting and ORPHAN in node.finalizers:
            await self.orphan_dependents(node)
        elif node.waiting_for_dependents:
            await self.process_deleting_dependents(node)
        elif node.owners:
            await self.attempt_to_delete(node)

    async def _get(self, node: Node) -> Obj | None:
        try:
            obj = await self.client.get(node.ref, node.name, namespace=node.namespace)
        except ApiError as e:
            if is_not_found(e):
                return None
            raise
        if (obj.get("metadata") or {}).get("uid") != node.uid:
            return None  # replaced by a namesake
        return obj

    async def owner_state(self, dependent: Node, owner: OwnerRef) -> str:
        known = self.nodes.get(owner.uid)
        if known is not None and (not known.ref.namespaced or known.namespace == dependent.namespace):
            return "waiting" if known.waiting_for_dependents else "solid"
        if owner.uid in self._absent:
            return "dangling"
        ref = self.mapper.ref_for(owner.api_version, owner.kind)
        if ref is None:
            log.info("garbagecollector: %s %s/%s: owner kind %s %s is not served; keeping it",
                     dependent.ref.qualified, dependent.namespace or "", dependent.name, owner.api_version, owner.kind)
            return "unknown"
        if ref.namespaced and not dependent.namespace:
            return "dangling"  # a cluster-scoped object cannot be owned by a namespaced one
        try:
            obj = await self.client.get(ref, owner.name, namespace=dependent.namespace if ref.namespaced else None)
        except ApiError as e:
            if not is_not_found(e):
                raise
            self._remember_absent(owner.uid)
            return "dangling"
        meta = obj.get("metadata") or {}
        if meta.get("uid") != owner.uid:
            self._remember_absent(owner.uid)
            return "dangling"
        if meta.get("deletionTimestamp") and FOREGROUND in (meta.get("finalizers") or ()):
            return "waiting"
        return "solid"

    def _remember_absent(self, uid: str) -> None:
        self._absent[uid] = None
        while len(self._absent) > ABSENT_CACHE_SIZE:
            self._absent.popitem(last=False)

    async def attempt_to_delete(self, node: Node) -> None:
        latest = await self._get(node)
        if latest is None:
            return
        meta = latest.get("metadata") or {}
        if meta.get("deletionTimestamp") and FOREGROUND not in (meta.get("finalizers") or ()):
            return  # already on its way out
        current = node_of(node.ref, latest)
        states: dict[str, str] = {}
        for o in current.owners:
            states[o.uid] = await self.owner_state(current, o)
        action, arg = deletion_decision(states, current.finalizers, bool(self.dependents.get(node.uid)))
        if action == "keep":
            return
        if action == "remove-refs":
            await self.remove_owner_refs(current, set(arg))
            return
        log.info("garbagecollector: deleting %s %s/%s (owners %s; propagation %s)", node.ref.qualified,
                 node.namespace or "", node.name,
                 ", ".join(f"{o.kind}/{o.name}: {states[o.uid]}" for o in current.owners), arg)
        try:
            await self.client.delete(node.ref, node.name, namespace=node.namespace, propagation_policy=arg,
                                     preconditions={"uid": node.uid})
        except ApiError as e:
            if not is_not_found(e) and e.code != 409:  # gone, or replaced by a namesake
                raise

    async def remove_owner_refs(self, node: Node, uids: set[str]) -> None:
        """Drop the ownerReferences naming ``uids`` from the object (re-read live)."""
        obj = await self._get(node)
        if obj is None:
            return
        refs = obj["metadata"].get("ownerReferences") or []
        kept = [r for r in refs if r.get("uid") not in uids]
        if len(kept) == len(refs):
            return
        new = copy_object(obj)
        new["metadata"]["ownerReferences"] = kept
        try:
            await self.client.update(node.ref, new, namespace=node.namespace)
        except ApiError as e:
            if not is_not_found(e):
                raise  # a conflict is retried with a fresh read

    async def remove_finalizer(self, node: Node, finalizer: str) -> None:
        obj = await self._get(node)
        if obj is None:
            return
        fins = obj["metadata"].get("finalizers") or []
        if finalizer not in fins:
            return
        new = copy_object(obj)
        new["metadata"]["finalizers"] = [f for f in fins if f != finalizer]
        try:
            await self.client.update(node.ref, new, namespace=node.namespace)
        except ApiError as e:
            if not is_not_found(e):
                raise

    async def orphan_dependents(self, owner: Node) -> None:
        for dep in self.dependents_of(owner.uid):
            await self.remove_owner_refs(dep, {owner.uid})
        await self.remove_finalizer(owner, ORPHAN)

    async def process_deleting_dependents(self, owner: Node) -> None:
        deps = self.dependents_of(owner.uid)
        blocking = [d for d in deps if any(o.uid == owner.uid and o.block for o in d.owners)]
        if not blocking:
            await self.remove_finalizer(owner, FOREGROUND)
            return
        for d in deps:
            if not d.deleting or d.waiting_for_dependents:
                self.queue.add(d.uid)


__all__ = ["GarbageCollector", "Node", "OwnerRef", "classify", "deletion_decision", "node_of", "owner_refs"]
