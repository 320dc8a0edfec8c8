"""The node lifecycle controller: notices nodes that stop reporting, taints them, and evicts
their pods when the pods' tolerations run out (kube-controller-manager's ``nodelifecycle``
controller with its taint-eviction half).

**Health.** A node agent proves it is alive by renewing its Lease ``kube-node-lease/<node>``
(and by posting status heartbeats). The controller records, on its own clock, when it last saw
either change (``probe``); it never compares the agent's timestamps with its own clock, so clock
skew cannot make a node look dead. When nothing changed for longer than
``options["node_monitor_grace_period"]`` (default 40 s; ``node_startup_grace_period``, default
60 s, for a node that never posted Ready) the node's Ready, MemoryPressure, DiskPressure and
PIDPressure conditions become ``Unknown`` with reason ``NodeStatusUnknown`` and message
"Kubelet stopped posting node status." (``NodeStatusNeverUpdated`` / "Kubelet never posted
node status." if it never did).

**Taints** follow the conditions: Ready Unknown -> ``node.kubernetes.io/unreachable`` with
effects NoSchedule and NoExecute, Ready False -> ``node.kubernetes.io/not-ready`` (both
effects); MemoryPressure/DiskPressure/PIDPressure/NetworkUnavailable True and
``spec.unschedulable`` add their NoSchedule taints. Taints added get ``timeAdded``. A node whose
agent posts Ready True again loses them. While Ready is not True, the pods on the node get
their Ready condition set False (so endpoints drop them at once).

**Eviction.** A pod on a node with NoExecute taints that it does not tolerate is deleted at
once; one that tolerates them all is deleted when its shortest ``tolerationSeconds`` among the
matching tolerations has passed since the taint was added (or since the controller first saw
the pod, if later); a matching toleration without ``tolerationSeconds`` tolerates forever.
Pods lacking tolerations for not-ready/unreachable get Kubernetes' DefaultTolerationSeconds
(``options["default_toleration_seconds"]``, 300). Example: unreachable tainted at 10:00:00; a
pod tolerating it for 60 s goes at 10:01:00, a pod without tolerations at 10:05:00. Evicted pods
get a ``DisruptionTarget`` condition (``DeletionByTaintManager``) and a deletion with their
normal grace period.

All times come from the context's clock; a node key re-queues itself for the moment its next
deadline (grace expiry or an eviction) falls due.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from kubelite.api.helpers.conditions import get_condition
from kubelite.api.helpers.podutil import get_pod_ready_condition, is_pod_ready, is_pod_terminal, update_pod_condition
from kubelite.api.helpers.taints import (
    TAINT_NODE_DISK_PRESSURE, TAINT_NODE_MEMORY_PRESSURE, TAINT_NODE_NETWORK_UNAVAILABLE, TAINT_NODE_NOT_READY,
    TAINT_NODE_PID_PRESSURE, TAINT_NODE_UNREACHABLE, TAINT_NODE_UNSCHEDULABLE, matching_tolerations,
)
from kubelite.api.helpers.times import format_time, try_parse_time
from kubelite.client import LEASES, NODES, PODS, ApiError, copy_object, index_by_node_name, is_not_found
from kubelite.controllers.base import Controller

log = logging.getLogger(__name__)
Obj = dict[str, Any]

LEASE_NAMESPACE = "kube-node-lease"
TAINT_UNREACHABLE = TAINT_NODE_UNREACHABLE
TAINT_NOT_READY = TAINT_NODE_NOT_READY
CONDITION_TAINTS = {
    "MemoryPressure": TAINT_NODE_MEMORY_PRESSURE,
    "DiskPressure": TAINT_NODE_DISK_PRESSURE,
    "PIDPressure": TAINT_NODE_PID_PRESSURE,
    "NetworkUnavailable": TAINT_NODE_NETWORK_UNAVAILABLE,
}
TAINT_UNSCHEDULABLE = TAINT_NODE_UNSCHEDULABLE
MANAGED_TAINT_KEYS = frozenset({TAINT_UNREACHABLE, TAINT_NOT_READY, TAINT_UNSCHEDULABLE, *CONDITION_TAINTS.values()})
#: conditions the kubelet owns that go Unknown with Ready
KUBELET_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
DEFAULT_GRACE = 40.0
DEFAULT_STARTUP_GRACE = 60.0
DEFAULT_TOLERATION_SECONDS = 300
def unknown_conditions(node: Mapping[str, Any], now: dt.datetime) -> list[Obj] | None:
    """The node's conditions with the kubelet-owned ones set Unknown; None if already so."""
    conds = [dict(c) for c in (node.get("status") or {}).get("conditions") or ()]
    changed = False
    created = (node.get("metadata") or {}).get("creationTimestamp") or format_time(now)
    for ctype in KUBELET_CONDITIONS:
        cur = next((c for c in conds if c.get("type") == ctype), None)
        if cur is None:
            conds.append({"type": ctype, "status": "Unknown", "reason": "NodeStatusNeverUpdated",
                          "message": "Kubelet never posted node status.", "lastHeartbeatTime": created,
                          "lastTransitionTime": format_time(now)})
            changed = True
        elif cur.get("status") != "Unknown":
            cur.update(status="Unknown", reason="NodeStatusUnknown", message="Kubelet stopped posting node status.",
                       lastTransitionTime=format_time(now))
            changed = True
    return conds if changed else None


# -- taints -----------------------------------------------------------------------------------

def desired_managed_taints(node: Mapping[str, Any]) -> set[tuple[str, str]]:
    """(key, effect) of the controller-managed taints the node should carry."""
    out: set[tuple[str, str]] = set()
    ready = get_condition(node, "Ready")
    status = (ready or {}).get("status")
    if status == "Unknown":
        out |= {(TAINT_UNREACHABLE, "NoSchedule"), (TAINT_UNREACHABLE, "NoExecute")}
    elif status == "False":
        out |= {(TAINT_NOT_READY, "NoSchedule"), (TAINT_NOT_READY, "NoExecute")}
    for ctype, key in CONDITION_TAINTS.items():
        if (get_condition(node, ctype) or {}).get("status") == "True":
            out.add((key, "NoSchedule"))
    if (node.get("spec") or {}).get("unschedulable"):
        out.add((TAINT_UNSCHEDULABLE, "NoSchedule"))
    return out


def reconcile_taints(node: Mapping[str, Any], now: dt.datetime) -> list[Obj] | None:
    """The node's new taint list (others' taints untouched, managed ones as desired, existing
    ones keeping their timeAdded); None when nothing changes."""
    current = list((node.get("spec") or {}).get("taints") or [])
    want = desired_managed_taints(node)
    have = {(t.get("key"), t.get("effect")) for t in current if t.get("key") in MANAGED_TAINT_KEYS}
    if have == want:
        return None
    kept = [t for t in current if t.get("key") not in MANAGED_TAINT_KEYS or (t.get("key"), t.get("effect")) in want]
    for key, effect in sorted(want - have):
        kept.append({"key": key, "effect": effect, "timeAdded": format_time(now)})
    return kept


# -- tolerations ------------------------------------------------------------------------------

def effective_tolerations(pod: Mapping[str, Any], default_seconds: int) -> list[Mapping[str, Any]]:
    """The pod's tolerations plus the DefaultTolerationSeconds ones for not-ready/unreachable
    when it has none tolerating those taints."""
    tols = list((pod.get("spec") or {}).get("tolerations") or ())
    for key in (TAINT_NOT_READY, TAINT_UNREACHABLE):
        probe = {"key": key, "effect": "NoExecute"}
        if not matching_tolerations(tols, probe):
            tols.append({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": default_seconds})
    return tols


def eviction_delay(pod: Mapping[str, Any], taints: Iterable[Mapping[str, Any]], default_seconds: int) -> float | None:
    """Seconds the pod may stay under these taints (only NoExecute ones matter): 0 when one is
    not tolerated, the smallest tolerationSeconds of the matching tolerations, or None forever."""
    noexec = [t for t in taints if t.get("effect") == "NoExecute"]
    if not noexec:
        return None
    tols = effective_tolerations(pod, default_seconds)
    used: list[Mapping[str, Any]] = []
    for taint in noexec:
        matching = matching_tolerations(tols, taint)
        if not matching:
            return 0.0
        used += matching
    seconds = [t["tolerationSeconds"] for t in used if t.get("tolerationSeconds") is not None]
    if not seconds:
        return None
    return float(max(0, min(int(s) for s in seconds)))


def eviction_time(pod: Mapping[str, Any], taints: Iterable[Mapping[str, Any]], default_seconds: int,
                  first_seen: dt.datetime, taint_seen: Mapping[str, dt.datetime] | None = None) -> dt.datetime | None:
    """When the pod must go: the NoExecute taints' earliest timeAdded (or when they were first
    seen), not before the pod itself was first seen, plus ``eviction_delay``."""
    taints = list(taints)
    delay = eviction_delay(pod, taints, default_seconds)
    if delay is None:
        return None
    added = []
    for t in taints:
        if t.get("effect") != "NoExecute":
            continue
        when = try_parse_time(t.get("timeAdded")) or (taint_seen or {}).get(f"{t.get('key')}:{t.get('effect')}")
        if when is not None:
            added.append(when)
    start = max(min(added), first_seen) if added else first_seen
    return start + dt.timedelta(seconds=delay)


# -- the controller ---------------------------------------------------------------------------

@dataclass
class Health:
    probe: float
    renew: Any = None
    heartbeat: Any = None


class NodeLifecycleController(Controller):
    name = "nodelifecycle"
    workers = 2

    def setup(self) -> None:
        self.nodes = self.ctx.factory.informer(NODES)
        self.leases = self.ctx.factory.informer(LEASES, namespace=LEASE_NAMESPACE)
        self.pods = self.ctx.factory.informer(PODS)
        try:
            self.pods.add_index("node", index_by_node_name)
        except ValueError:
            pass
        opts = self.ctx.options
        self.grace = float(opts.get("node_monitor_grace_period") or DEFAULT_GRACE)
        self.startup_grace = float(opts.get("node_startup_grace_period") or DEFAULT_STARTUP_GRACE)
        self.default_toleration = int(opts.get("default_toleration_seconds") or DEFAULT_TOLERATION_SECONDS)
        self.health: dict[str, Health] = {}
        self.pod_first_seen: dict[str, dt.datetime] = {}
        self.taint_seen: dict[str, dict[str, dt.datetime]] = {}
        self.nodes.add_handler(**self.enqueue_handlers())
        self.leases.add_handler(on_add=self._lease, on_update=lambda o, n: self._lease(n))
        self.pods.add_handler(on_add=self._pod_added, on_update=lambda o, n: self._pod_added(n),
                              on_delete=self._pod_deleted)

    def _lease(self, lease: Obj) -> None:
        name = (lease.get("metadata") or {}).get("name")
        if name:
            self.queue.add(name)

    def _pod_added(self, pod: Obj) -> None:
        uid = (pod.get("metadata") or {}).get("uid")
        node = (pod.get("spec") or {}).get("nodeName")
        if not uid or not node:
            return
        if uid not in self.pod_first_seen:
            self.pod_first_seen[uid] = self.clock.wall()
            n = self.nodes.get(node)
            if n is not None and any(t.get("effect") == "NoExecute" for t in (n.get("spec") or {}).get("taints") or ()):
                self.queue.add(node)

    def _pod_deleted(self, pod: Obj) -> None:
        self.pod_first_seen.pop((pod.get("metadata") or {}).get("uid", ""), None)

    # -- sync -------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        node = self.nodes.get(key)
        if node is None:
            self.health.pop(key, None)
            self.taint_seen.pop(key, None)
            return
        now, wall = self.clock.now(), self.clock.wall()
        health = self._observe(key, node, now)
        ready = get_condition(node, "Ready")
        grace = self.startup_grace if ready is None else self.grace
        deadlines: list[float] = []
        if now - health.probe > grace:
            conds = unknown_conditions(node, wall)
            if conds is not None:
                log.info("node %s: no heartbeat for %.0fs; marking it Unknown", key, now - health.probe)
                node = await self._write_conditions(node, conds)
                self.recorder.event(node, "Normal", "NodeNotReady", f"Node {key} status is now: NodeNotReady")
        else:
            deadlines.append(health.probe + grace - now + 0.001)
        taints = reconcile_taints(node, wall)
        if taints is not None:
            node = await self._write_taints(node, taints)
        if (get_condition(node, "Ready") or {}).get("status") != "True":
            await self._mark_pods_not_ready(key, wall)
        next_eviction = await self._evict(key, node, wall)
        if next_eviction is not None:
            deadlines.append(next_eviction)
        if deadlines:
            self.queue.add_after(key, max(0.001, min(deadlines)))

    def _observe(self, name: str, node: Obj, now: float) -> Health:
        lease = self.leases.get(f"{LEASE_NAMESPACE}/{name}")
        renew = ((lease or {}).get("spec") or {}).get("renewTime")
        heartbeat = (get_condition(node, "Ready") or {}).get("lastHeartbeatTime")
        health = self.health.get(name)
        if health is None:
            # Everything starts as just heard from: a restarted controller must not condemn
            # nodes whose renewals it simply has not watched yet.
            health = self.health[name] = Health(probe=now, renew=renew, heartbeat=heartbeat)
        elif renew != health.renew or heartbeat != health.heartbeat:
            health.probe, health.renew, health.heartbeat = now, renew, heartbeat
        return health

    async def _write_conditions(self, node: Obj, conds: list[Obj]) -> Obj:
        new = copy_object(node)
        new.setdefault("status", {})["conditions"] = conds
        return await self.client.update_status(NODES, new)

    async def _write_taints(self, node: Obj, taints: list[Obj]) -> Obj:
        new = copy_object(node)
        new.setdefault("spec", {})["taints"] = taints
        if not taints:
            del new["spec"]["taints"]
        return await self.client.update(NODES, new)

    def _pods_on(self, node: str) -> list[Obj]:
        return [p for p in self.pods.by_index("node", node) if (p.get("spec") or {}).get("nodeName") == node]

    async def _mark_pods_not_ready(self, node: str, wall: dt.datetime) -> None:
        for pod in self._pods_on(node):
            if is_pod_terminal(pod):
                continue
            ready = get_pod_ready_condition(pod)
            if ready is None or ready.get("status") == "False":
                continue
            for attempt in range(2):
                # MarkPodsNotReady: only the status flips (reason and message stay).
                new = copy_object(pod)
                update_pod_condition(new["status"], {**(get_pod_ready_condition(new) or {}), "status": "False"},
                                     format_time(wall))
                try:
                    await self.client.update_status(PODS, new)
                    self.recorder.event(pod, "Warning", "NodeNotReady", "Node is not ready")
                    break
                except ApiError as e:
                    if is_not_found(e):
                        break
                    if e.code != 409 or attempt:
                        raise
                # Our cache lags a write by the kubelet: once more with the current pod.
                try:
                    pod = await self.client.get(PODS, pod["metadata"]["name"], namespace=pod["metadata"]["namespace"])
                except ApiError as e:
                    if is_not_found(e):
                        break
                    raise
                if not is_pod_ready(pod):
                    break

    async def _evict(self, name: str, node: Obj, wall: dt.datetime) -> float | None:
        """Delete the pods whose time is up; seconds until the next one, or None."""
        taints = [t for t in (node.get("spec") or {}).get("taints") or () if t.get("effect") == "NoExecute"]
        seen = self.taint_seen.setdefault(name, {})
        present = {f"{t.get('key')}:{t.get('effect')}" for t in taints}
        for k in list(seen):
            if k not in present:
                del seen[k]
        for k in present:
            seen.setdefault(k, wall)
        if not taints:
            return None
        soonest: float | None = None
        for pod in self._pods_on(name):
            meta = pod.get("metadata") or {}
            if meta.get("deletionTimestamp"):
                continue
            first = self.pod_first_seen.setdefault(meta.get("uid", ""), wall)
            when = eviction_time(pod, taints, self.default_toleration, first, seen)
            if when is None:
                continue
            if when <= wall:
                await self._evict_pod(pod)
            else:
                left = (when - wall).total_seconds()
                soonest = left if soonest is None else min(soonest, left)
        return soonest

    async def _evict_pod(self, pod: Obj) -> None:
        meta = pod["metadata"]
        ns, name = meta.get("namespace", ""), meta.get("name", "")
        log.info("node lifecycle: evicting pod %s/%s from node %s", ns, name, (pod.get("spec") or {}).get("nodeName"))
        self.recorder.event(pod, "Normal", "TaintManagerEviction", f"Marking for deletion Pod {ns}/{name}")
        new = copy_object(pod)
        status = new.setdefault("status", {})
        conds = [c for c in status.get("conditions") or [] if c.get("type") != "DisruptionTarget"]
        conds.append({"type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager",
                      "message": "Taint manager: deleting due to NoExecute taint",
                      "lastTransitionTime": format_time(self.clock.wall())})
        status["conditions"] = conds
        try:
            await self.client.update_status(PODS, new)
        except ApiError as e:
            if is_not_found(e):
                return
            if e.code != 409:
                raise
        try:
            await self.client.delete(PODS, name, namespace=ns, preconditions={"uid": meta.get("uid", "")})
        except ApiError as e:
            if not is_not_found(e) and e.code != 409:
                raise
