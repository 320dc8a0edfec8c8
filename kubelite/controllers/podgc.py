"""The pod garbage collector (kube-controller-manager's ``podgc``): removes pods nobody else
will ever remove.

Every ``options["podgc_period_seconds"]`` (default 20) one pass:

1. **terminated pods** (phase Succeeded/Failed) beyond ``options["terminated_pod_gc_threshold"]``
   (default 12500; 0 or less disables): the oldest (by creationTimestamp) are deleted until the
   threshold is met -- with 12 503 finished pods and the default, the 3 oldest go;
2. **orphaned pods**, bound to a node that does not exist: a missing node is quarantined for
   ``options["podgc_orphan_grace_seconds"]`` (default 40) -- a node agent may be registering it
   -- then confirmed absent by a live GET; its pods are marked Failed with a ``DisruptionTarget``
   condition (reason ``DeletionByPodGC``) and force-deleted;
3. **terminating pods on out-of-service nodes** (taint ``node.kubernetes.io/out-of-service`` and
   Ready not True): force-deleted, as their kubelet will not;
4. **unscheduled terminating pods** (deletionTimestamp, no nodeName): force-deleted.

The work queue holds one key (``podgc``) that re-queues itself; time comes from the context's
clock, so tests advance a fake clock through the quarantine.
"""
from __future__ import annotations

import logging
from typing import Any, Iterable, Mapping

from kubelite.api.helpers.conditions import is_condition_true
from kubelite.api.helpers.podutil import is_pod_terminal
from kubelite.api.helpers.times import format_time
from kubelite.client import NODES, PODS, ApiError, copy_object, is_not_found
from kubelite.controllers.base import Controller

log = logging.getLogger(__name__)
Obj = dict[str, Any]

KEY = "podgc"
DEFAULT_THRESHOLD = 12500
DEFAULT_PERIOD = 20.0
DEFAULT_QUARANTINE = 40.0
OUT_OF_SERVICE_TAINT = "node.kubernetes.io/out-of-service"


def terminated_to_delete(pods: Iterable[Mapping[str, Any]], threshold: int) -> list[Mapping[str, Any]]:
    """The oldest finished pods beyond ``threshold`` (none when the threshold is <= 0)."""
    if threshold <= 0:
        return []
    done = [p for p in pods if is_pod_terminal(p)]
    excess = len(done) - threshold
    if excess <= 0:
        return []
    done.sort(key=lambda p: ((p.get("metadata") or {}).get("creationTimestamp") or "",
                             (p.get("metadata") or {}).get("name") or ""))
    return done[:excess]


def out_of_service(node: Mapping[str, Any]) -> bool:
    return any(t.get("key") == OUT_OF_SERVICE_TAINT and t.get("effect") in ("NoExecute", "NoSchedule")
               for t in (node.get("spec") or {}).get("taints") or ())


class PodGCController(Controller):
    name = "podgc"
    workers = 1

    def setup(self) -> None:
        self.pods = self.ctx.factory.informer(PODS)
        self.nodes = self.ctx.factory.informer(NODES)
        opts = self.ctx.options
        self.threshold = int(opts.get("terminated_pod_gc_threshold", DEFAULT_THRESHOLD))
        self.period = float(opts.get("podgc_period_seconds") or DEFAULT_PERIOD)
        self.quarantine = float(opts.get("podgc_orphan_grace_seconds", DEFAULT_QUARANTINE))
        #: missing node name -> when it was first seen missing (clock.now())
        self.missing_since: dict[str, float] = {}
        self.queue.add(KEY)

    async def sync(self, key: str) -> None:
        try:
            await self.gc_once()
        finally:
            self.queue.add_after(KEY, self.period)

    async def gc_once(self) -> None:
        pods = self.pods.list()
        for pod in terminated_to_delete(pods, self.threshold):
            await self._delete(dict(pod), force=False)
        await self._gc_orphaned(pods)
        nodes = {n["metadata"]["name"]: n for n in self.nodes.list()}
        for pod in pods:
            meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
            if not meta.get("deletionTimestamp"):
                continue
            node = nodes.get(spec.get("nodeName") or "")
            if not spec.get("nodeName"):
                await self._delete(pod, force=True)
            elif node is not None and out_of_service(node) and not is_condition_true(node, "Ready"):
                await self._mark_failed(pod, "PodGC: node is out of service")
                await self._delete(pod, force=True)

    async def _gc_orphaned(self, pods: list[Obj]) -> None:
        now = self.clock.now()
        known = {n["metadata"]["name"] for n in self.nodes.list()}
        wanted = {str((p.get("spec") or {}).get("nodeName") or "") for p in pods} - {""} - known
        for name in list(self.missing_since):
            if name not in wanted:
                del self.missing_since[name]
        for name in sorted(wanted):
            since = self.missing_since.setdefault(name, now)
            if now - since < self.quarantine:
                continue
            if await self._node_exists(name):
                self.missing_since.pop(name, None)
                continue
            for pod in pods:
                if (pod.get("spec") or {}).get("nodeName") == name:
                    log.info("podgc: deleting orphaned pod %s/%s (node %s does not exist)",
                             pod["metadata"].get("namespace"), pod["metadata"].get("name"), name)
                    await self._mark_failed(pod, "PodGC: node no longer exists")
                    await self._delete(pod, force=True)
            self.missing_since.pop(name, None)

    async def _node_exists(self, name: str) -> bool:
        try:
            await self.client.get(NODES, name)
        except ApiError as e:
            if is_not_found(e):
                return False
            raise
        return True

    async def _mark_failed(self, pod: Obj, message: str) -> None:
        """Record why the pod goes (DisruptionTarget) and, if still running, fail it."""
        if is_pod_terminal(pod):
            return
        new = copy_object(pod)
        status = new.setdefault("status", {})
        status["phase"] = "Failed"
        conds = [c for c in status.get("conditions") or [] if c.get("type") != "DisruptionTarget"]
        conds.append({"type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC",
                      "message": message, "lastTransitionTime": format_time(self.clock.wall())})
        status["conditions"] = conds
        try:
            await self.client.update_status(PODS, new)
        except ApiError as e:
            if not is_not_found(e) and e.code != 409:
                log.info("podgc: marking %s/%s failed: %s", pod["metadata"].get("namespace"),
                         pod["metadata"].get("name"), e)

    async def _delete(self, pod: Obj, *, force: bool) -> None:
        meta = pod["metadata"]
        try:
            await self.client.delete(PODS, meta["name"], namespace=meta.get("namespace"),
                                     grace_period_seconds=0 if force else None,
                                     preconditions={"uid": meta.get("uid", "")})
        except ApiError as e:
            if not is_not_found(e) and e.code != 409:
                raise
