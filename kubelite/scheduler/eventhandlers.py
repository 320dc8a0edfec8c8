"""Informer event handlers: turn node and pod watch events into cache updates, queue updates
and cluster events (kube-scheduler's eventhandlers.go).

Routing:

- a *bound* pod (``spec.nodeName`` set, whoever bound it) goes to the cache -- it uses
  resources and can be an affinity target -- and its arrival / departure is an
  AssignedPodAdd / AssignedPodDelete event for the queue;
- an *unbound* pod goes to the queue, but only if ``spec.schedulerName`` is ours;
- a pod that reached Succeeded/Failed no longer counts anywhere;
- a node change is classified (allocatable, labels, taints/unschedulable, conditions) so the
  queue retries only the pods that change can help; a heartbeat that changes nothing a
  plugin looks at is not an event.

``ClusterListers`` answers the two cluster lookups plugins need beyond nodes and pods:
namespace labels (pod affinity ``namespaceSelector``) and the default spreading selector of a
pod (the selectors of its Services and of its ReplicaSet / StatefulSet / RC owner).
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from kubelite.api.helpers.podutil import is_pod_terminal
from kubelite.machinery.errors import StatusError
from kubelite.machinery.selectors import EQUALS, LabelSelector, Requirement, from_label_selector
from kubelite.scheduler.framework.interface import (
    ASSIGNED_POD, EVENT_ASSIGNED_POD_ADD, EVENT_ASSIGNED_POD_DELETE, EVENT_NODE_ADD, EVENT_NODE_DELETE, NODE,
    ActionType, ClusterEvent,
)
from kubelite.scheduler.framework.types import PodInfo, resource_list

if TYPE_CHECKING:
    from kubelite.client import Informer
    from kubelite.scheduler.scheduler import Scheduler

log = logging.getLogger(__name__)

def _spec(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("spec") or {}


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("metadata") or {}


def is_assigned(pod: dict[str, Any]) -> bool:
    return bool(_spec(pod).get("nodeName"))


def _conditions(node: dict[str, Any]) -> dict[str, str]:
    return {c.get("type", ""): c.get("status", "") for c in (node.get("status") or {}).get("conditions") or ()}


def node_update_event(old: dict[str, Any], new: dict[str, Any]) -> ClusterEvent | None:
    """Classify a node update by what the plugins care about; None if nothing relevant."""
    action = ActionType(0)
    old_status, new_status = old.get("status") or {}, new.get("status") or {}
    if old_status.get("allocatable") != new_status.get("allocatable"):
        action |= ActionType.UPDATE_NODE_ALLOCATABLE
    if _meta(old).get("labels") != _meta(new).get("labels"):
        action |= ActionType.UPDATE_NODE_LABEL
    if (_spec(old).get("taints") != _spec(new).get("taints")
            or bool(_spec(old).get("unschedulable")) != bool(_spec(new).get("unschedulable"))):
        action |= ActionType.UPDATE_NODE_TAINT
    if _conditions(old) != _conditions(new):
        action |= ActionType.UPDATE_NODE_CONDITION
    if not action:
        return None
    return ClusterEvent(NODE, action, "NodeUpdate")


def assigned_pod_update_event(old: dict[str, Any], new: dict[str, Any]) -> ClusterEvent | None:
    action = ActionType(0)
    if _meta(old).get("labels") != _meta(new).get("labels"):
        action |= ActionType.UPDATE_POD_LABEL
    old_req = [resource_list((c.get("resources") or {}).get("requests")) for c in _spec(old).get("containers") or ()]
    new_req = [resource_list((c.get("resources") or {}).get("requests")) for c in _spec(new).get("containers") or ()]
    if old_req != new_req:
        action |= ActionType.UPDATE_POD_SCALE_DOWN
    if not action:
        return None
    return ClusterEvent(ASSIGNED_POD, action, "AssignedPodUpdate")


class ClusterListers:
    """Namespace labels and default spreading selectors from optional informers."""

    def __init__(self, *, namespaces: "Informer | None" = None, services: "Informer | None" = None,
                 replicasets: "Informer | None" = None, statefulsets: "Informer | None" = None,
                 replicationcontrollers: "Informer | None" = None,
                 priority_classes: "Informer | None" = None) -> None:
        self.namespaces = namespaces
        self.services = services
        self.replicasets = replicasets
        self.statefulsets = statefulsets
        self.replicationcontrollers = replicationcontrollers
        self.priority_classes = priority_classes

    def namespace_labels(self, namespace: str) -> dict[str, str] | None:
        if self.namespaces is None:
            return None
        ns = self.namespaces.get(namespace)
        return (_meta(ns).get("labels") or {}) if ns is not None else None

    def resolve_priority(self, pod: dict[str, Any]) -> int | None:
        """``spec.priority`` (set by the Priority admission plugin); if absent, the value of
        ``priorityClassName`` or of the global-default PriorityClass; None if unknown."""
        spec = _spec(pod)
        prio = spec.get("priority")
        if isinstance(prio, int):
            return prio
        if self.priority_classes is None:
            return None
        name = spec.get("priorityClassName")
        if name:
            pc = self.priority_classes.get(name)
            return int(pc.get("value") or 0) if pc is not None else None
        for pc in self.priority_classes.list():
            if pc.get("globalDefault"):
                return int(pc.get("value") or 0)
        return None

    def default_selector(self, pod: PodInfo) -> LabelSelector | None:
        """kube's DefaultSelector: the union of the pod's Services' selectors and its
        controller's selector (ReplicaSet / StatefulSet / ReplicationController)."""
        reqs: dict[str, Requirement] = {}
        if self.services is not None:
            for svc in self.services.list(pod.namespace):
                sel = _spec(svc).get("selector")
                if sel and all(pod.labels.get(k) == v for k, v in sel.items()):
                    for k, v in sel.items():
                        reqs[f"{k}={v}"] = Requirement(k, EQUALS, (str(v),))
        owner = next((r for r in _meta(pod.pod).get("ownerReferences") or () if r.get("controller")), None)
        if owner is not None:
            kind, name = owner.get("kind"), owner.get("name") or ""
            key = f"{pod.namespace}/{name}"
            if kind == "ReplicationController" and self.replicationcontrollers is not None:
                rc = self.replicationcontrollers.get(key)
                for k, v in ((_spec(rc).get("selector") or {}) if rc else {}).items():
                    reqs[f"{k}={v}"] = Requirement(k, EQUALS, (str(v),))
            elif kind in ("ReplicaSet", "StatefulSet"):
                inf = self.replicasets if kind == "ReplicaSet" else self.statefulsets
                obj = inf.get(key) if inf is not None else None
                if obj is not None:
                    try:
                        sel = from_label_selector(_spec(obj).get("selector"))
                    except StatusError:
                        sel = None
                    if sel is not None:
                        for r in sel.requirements:
                            reqs[str(r)] = r
        if not reqs:
            return None
        return LabelSelector(reqs.values())


def add_all_event_handlers(sched: "Scheduler", *, pods: "Informer", nodes: "Informer") -> None:
    """Wire the pod and node informers to the scheduler's cache and queue."""
    cache, queue = sched.cache, sched.queue

    def pod_info(pod: dict[str, Any]) -> PodInfo:
        return sched.pod_info(pod)

    def responsible(pod: dict[str, Any]) -> bool:
        return (_spec(pod).get("schedulerName") or "default-scheduler") == sched.scheduler_name

    # -- nodes ------------------------------------------------------------------------------

    def on_node_add(node: dict[str, Any]) -> None:
        cache.add_node(node)
        queue.move_on_event(EVENT_NODE_ADD, None, node)

    def on_node_update(old: dict[str, Any], new: dict[str, Any]) -> None:
        cache.update_node(old, new)
        event = node_update_event(old, new)
        if event is not None:
            queue.move_on_event(event, old, new)

    def on_node_delete(node: dict[str, Any]) -> None:
        cache.remove_node(node)
        queue.move_on_event(EVENT_NODE_DELETE, node, None)

    nodes.add_handler(on_add=on_node_add, on_update=on_node_update, on_delete=on_node_delete)

    # -- pods -------------------------------------------------------------------------------

    def on_pod_add(pod: dict[str, Any]) -> None:
        if is_pod_terminal(pod):
            return
        if is_assigned(pod):
            cache.add_pod(pod_info(pod))
            queue.move_on_event(EVENT_ASSIGNED_POD_ADD, None, pod)
        elif responsible(pod):
            queue.add(pod_info(pod))

    def on_pod_update(old: dict[str, Any], new: dict[str, Any]) -> None:
        key = f"{_meta(new).get('namespace', '')}/{_meta(new).get('name', '')}"
        if is_pod_terminal(new):
            on_pod_delete(new)
            return
        if is_assigned(new):
            if not is_assigned(old):
                queue.delete(key)  # bound (by us or anyone): no longer pending
                cache.add_pod(pod_info(new))
                queue.move_on_event(EVENT_ASSIGNED_POD_ADD, None, new)
                return
            if _meta(old).get("resourceVersion") == _meta(new).get("resourceVersion"):
                return
            cache.update_pod(pod_info(new))
            event = assigned_pod_update_event(old, new)
            if event is not None:
                queue.move_on_event(event, old, new)
        elif responsible(new):
            queue.update(pod_info(new))
        else:
            queue.delete(key)  # schedulerName changed away from us

    def on_pod_delete(pod: dict[str, Any]) -> None:
        key = f"{_meta(pod).get('namespace', '')}/{_meta(pod).get('name', '')}"
        queue.delete(key)
        if cache.remove_pod(key) is not None:
            queue.move_on_event(EVENT_ASSIGNED_POD_DELETE, pod, None)

    pods.add_handler(on_add=on_pod_add, on_update=on_pod_update, on_delete=on_pod_delete)

