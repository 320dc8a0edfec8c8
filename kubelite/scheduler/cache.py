"""The scheduler cache: live ``NodeInfo``s built from the node and pod informers plus the pods
the scheduler has *assumed* onto nodes, and the per-cycle immutable ``Snapshot`` of them.

Who calls it: the informer event handlers (``eventhandlers.py``) add/update/remove nodes and
bound pods; the scheduling loop assumes a pod the moment it picks a node (so the next cycle
already sees the resources taken, without waiting for the bind to round-trip), and forgets it
if binding fails; when the informer later reports the pod bound, the assumed entry is
confirmed. At the start of each cycle ``update_snapshot`` refreshes the cycle's snapshot.

Incremental snapshots, as kube's: every change to a ``NodeInfo`` stamps it with a new global
generation and moves its name to the end of ``_recent``. ``update_snapshot`` walks ``_recent``
from the end and clones only nodes newer than the snapshot's generation -- after one bind,
that is one node, not 5,000. Node additions and removals rebuild the node list; a change to a
node hosting pods with (anti-)affinity rebuilds the short affinity lists. The snapshot also
keeps counters (cordoned nodes, tainted nodes, nodes with PreferNoSchedule taints) that let plugins skip
whole phases when they cannot matter.
"""
from __future__ import annotations

import builtins
import logging
from typing import Any

from kubelite.scheduler.framework.types import NodeInfo, PodInfo

log = logging.getLogger(__name__)


def _scheduling_fields_differ(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether a node update touches what NodeInfo derives from it."""
    om, nm = old.get("metadata") or {}, new.get("metadata") or {}
    return (om.get("labels") != nm.get("labels") or old.get("spec") != new.get("spec")
            or (old.get("status") or {}).get("allocatable") != (new.get("status") or {}).get("allocatable"))


class CacheError(Exception):
    """An impossible cache transition (assuming a pod twice, ...): a scheduler bug."""


class Snapshot:
    """The nodes as one scheduling cycle sees them. Plugins must not mutate it; preemption
    clones the NodeInfos it experiments on."""

    __slots__ = ("node_infos", "node_list", "_index", "_with_affinity", "_with_required_anti_affinity",
                 "generation", "structure_generation", "unschedulable_nodes", "prefer_no_schedule_nodes",
                 "tainted_nodes")

    def __init__(self) -> None:
        self.node_infos: dict[str, NodeInfo] = {}
        self.node_list: builtins.list[NodeInfo] = []
        self._index: dict[str, int] = {}
        self._with_affinity: builtins.list[NodeInfo] = []
        self._with_required_anti_affinity: builtins.list[NodeInfo] = []
        self.generation = 0
        self.structure_generation = -1
        self.unschedulable_nodes = 0
        self.prefer_no_schedule_nodes = 0
        self.tainted_nodes = 0  # nodes with NoSchedule/NoExecute taints

    def list(self) -> builtins.list[NodeInfo]:
        return self.node_list

    def get(self, name: str) -> NodeInfo | None:
        return self.node_infos.get(name)

    def have_pods_with_affinity(self) -> builtins.list[NodeInfo]:
        return self._with_affinity

    def have_pods_with_required_anti_affinity(self) -> builtins.list[NodeInfo]:
        return self._with_required_anti_affinity

    def __len__(self) -> int:
        return len(self.node_list)

    @classmethod
    def from_nodes(cls, nodes: builtins.list[NodeInfo]) -> "Snapshot":
        """A snapshot of the given NodeInfos (tests and what-if simulations)."""
        s = cls()
        s.node_infos = {n.name: n for n in nodes}
        s._rebuild()
        s._rebuild_affinity()
        return s

    def _rebuild(self) -> None:
        self.node_list = [n for n in self.node_infos.values() if n.node is not None]
        self._index = {n.name: i for i, n in enumerate(self.node_list)}
        self.unschedulable_nodes = sum(1 for n in self.node_list if n.unschedulable)
        self.prefer_no_schedule_nodes = sum(1 for n in self.node_list if n.prefer_no_schedule)
        self.tainted_nodes = sum(1 for n in self.node_list if n.hard_taints)

    def _rebuild_affinity(self) -> None:
        self._with_affinity = [n for n in self.node_list if n.pods_with_affinity]
        self._with_required_anti_affinity = [n for n in self.node_list if n.pods_with_required_anti_affinity]


class _PodState:
    __slots__ = ("info", "assumed", "binding_finished")

    def __init__(self, info: PodInfo, assumed: bool) -> None:
        self.info = info
        self.assumed = assumed
        self.binding_finished = False


class Cache:
    """Node and pod accounting for the scheduler. Single event loop; not thread-safe."""

    def __init__(self) -> None:
        self._nodes: dict[str, NodeInfo] = {}
        self._recent: dict[str, None] = {}  # node names, least recently changed first
        self._pods: dict[str, _PodState] = {}
        self._structure_generation = 0      # bumps when a node object appears or disappears

    # -- nodes ------------------------------------------------------------------------------

    def _touch(self, name: str) -> None:
        self._recent.pop(name, None)
        self._recent[name] = None

    def add_node(self, node: dict[str, Any]) -> NodeInfo:
        name = (node.get("metadata") or {}).get("name") or ""
        ni = self._nodes.get(name)
        if ni is None:
            ni = self._nodes[name] = NodeInfo(node)
        else:
            had_node = ni.node is not None
            ni.set_node(node)
            if had_node:
                self._touch(name)
                return ni
        self._structure_generation += 1
        self._touch(name)
        return ni

    def update_node(self, old: dict[str, Any] | None, new: dict[str, Any]) -> NodeInfo:
        name = (new.get("metadata") or {}).get("name") or ""
        ni = self._nodes.get(name)
        if ni is not None and ni.node is not None and old is not None and not _scheduling_fields_differ(old, new):
            # A heartbeat (conditions, timestamps): nothing a plugin reads changed, so keep the
            # generation -- and every result memoised for this node stays valid.
            ni.node = new
            return ni
        return self.add_node(new)

    def remove_node(self, node: dict[str, Any]) -> None:
        name = (node.get("metadata") or {}).get("name") or ""
        ni = self._nodes.get(name)
        if ni is None:
            return
        if ni.pods:
            # Pods still point at it: keep a placeholder until they are deleted too.
            ni.remove_node()
            self._touch(name)
        else:
            del self._nodes[name]
            self._recent.pop(name, None)
        self._structure_generation += 1

    def node(self, name: str) -> NodeInfo | None:
        return self._nodes.get(name)

    @property
    def node_count(self) -> int:
        return sum(1 for n in self._nodes.values() if n.node is not None)

    # -- pods -------------------------------------------------------------------------------

    def _node_for(self, name: str) -> NodeInfo:
        ni = self._nodes.get(name)
        if ni is None:
            ni = self._nodes[name] = NodeInfo(None, name)  # a pod on a node we have not seen yet
        return ni

    def _add_to_node(self, info: PodInfo) -> None:
        self._node_for(info.node_name).add_pod(info)
        self._touch(info.node_name)

    def _remove_from_node(self, info: PodInfo) -> None:
        ni = self._nodes.get(info.node_name)
        if ni is None:
            return
        ni.remove_pod(info)
        if ni.node is None and not ni.pods:
            del self._nodes[info.node_name]
            self._recent.pop(info.node_name, None)
        else:
            self._touch(info.node_name)

    def add_pod(self, info: PodInfo) -> None:
        """A bound pod observed by the informer (confirms an assumed pod)."""
        if not info.node_name:
            raise CacheError(f"pod {info.key} has no node")
        state = self._pods.get(info.key)
        if state is not None:
            if state.assumed and state.info.node_name != info.node_name:
                log.warning("pod %s was assumed on %s but bound to %s", info.key, state.info.node_name, info.node_name)
            self._remove_from_node(state.info)
        self._add_to_node(info)
        self._pods[info.key] = _PodState(info, assumed=False)

    def update_pod(self, info: PodInfo) -> None:
        self.add_pod(info)

    def remove_pod(self, key: str) -> PodInfo | None:
        state = self._pods.pop(key, None)
        if state is None:
            return None
        self._remove_from_node(state.info)
        return state.info

    def assume_pod(self, info: PodInfo) -> None:
        """Account ``info`` (already carrying its chosen ``node_name``) before it is bound."""
        if info.key in self._pods:
            raise CacheError(f"pod {info.key} is already in the cache, so can't be assumed")
        self._add_to_node(info)
        self._pods[info.key] = _PodState(info, assumed=True)

    def finish_binding(self, info: PodInfo) -> None:
        state = self._pods.get(info.key)
        if state is not None and state.assumed:
            state.binding_finished = True

    def forget_pod(self, info: PodInfo) -> None:
        """Undo ``assume_pod`` (binding failed)."""
        state = self._pods.get(info.key)
        if state is None or not state.assumed:
            return
        if state.info.node_name != info.node_name:
            raise CacheError(f"pod {info.key} was assumed on {state.info.node_name}, "
                             f"not {info.node_name}")
        del self._pods[info.key]
        self._remove_from_node(state.info)

    def is_assumed(self, key: str) -> bool:
        state = self._pods.get(key)
        return state is not None and state.assumed

    def get_pod(self, key: str) -> PodInfo | None:
        state = self._pods.get(key)
        return state.info if state is not None else None

    @property
    def pod_count(self) -> int:
        return len(self._pods)

    # -- snapshots --------------------------------------------------------------------------

    def update_snapshot(self, snap: Snapshot) -> None:
        """Bring ``snap`` up to date, cloning only the nodes changed since its last update."""
        restructure = snap.structure_generation != self._structure_generation
        affinity_changed = False
        newest = snap.generation
        infos = snap.node_infos
        for name in reversed(self._recent):
            ni = self._nodes.get(name)
            if ni is None:
                continue
            if ni.generation <= snap.generation:
                break
            newest = max(newest, ni.generation)
            old = infos.get(name)
            if ni.node is None:
                if old is not None:
                    del infos[name]
                    restructure = True
                continue
            clone = ni.clone()
            infos[name] = clone
            if old is None:
                restructure = True
                continue
            if old.pods_with_affinity or clone.pods_with_affinity:
                affinity_changed = True
            if not restructure:
                snap.node_list[snap._index[name]] = clone
                snap.unschedulable_nodes += clone.unschedulable - old.unschedulable
                snap.prefer_no_schedule_nodes += clone.prefer_no_schedule - old.prefer_no_schedule
                snap.tainted_nodes += clone.hard_taints - old.hard_taints
        snap.generation = newest
        if restructure:
            # Keep the cache's node order (creation order), so cycles walk nodes predictably.
            snap.node_infos = {name: infos[name] for name, ni in self._nodes.items()
                               if ni.node is not None and name in infos}
            snap._rebuild()
            snap.structure_generation = self._structure_generation
            affinity_changed = True
        if affinity_changed:
            snap._rebuild_affinity()

    def dump(self) -> dict[str, Any]:
        """Counts for logs and debugging."""
        return {"nodes": self.node_count, "pods": len(self._pods),
                "assumed": sum(1 for s in self._pods.values() if s.assumed)}
