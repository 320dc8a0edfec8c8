"""One scheduling decision, as a pure function: (framework, pod, snapshot) -> node or FitError.

The scheduling loop (``scheduler.py``) calls ``schedule_pod`` once per popped pod, between
refreshing the snapshot and assuming the result; nothing here awaits or writes anywhere. The
steps, as kube-scheduler's ``schedulePod``::

    PreFilter ──► Filter nodes (from a rotating start, until enough fit) ──► none? FitError
                                                                     └──► PreScore ─► Score ─► select

*How many nodes to filter.* Checking all 5,000 nodes for every pod is wasted work once enough
feasible ones are known; kube stops after ``numFeasibleNodesToFind``: all nodes below 100,
else ``percentageOfNodesToScore`` (adaptive by default: 50% - nodes/125, at least 5%) of
them, at least 100. 5,000 nodes -> 10% -> 500 nodes. The next cycle starts where this one
stopped, so every node gets its turn.

*Selection.* The highest total score wins; ties are broken uniformly at random (what kube's
reservoir sampling amounts to), which spreads identical pods over identical nodes.

A pod with ``status.nominatedNodeName`` (it preempted there) tries that node first and takes it
if it still fits.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

from kubelite.scheduler.framework.interface import Code, CycleState, Status
from kubelite.scheduler.framework.runtime import Framework
from kubelite.scheduler.framework.types import Diagnosis, FitError, NodeInfo, NoNodesAvailable, PodInfo

MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5


def num_feasible_nodes_to_find(num_all_nodes: int, percentage: int = 0) -> int:
    """How many feasible nodes to look for. 0 percentage = adaptive: 5,000 nodes -> 500,
    1,000 -> 420, 150 -> 100 (floor), 99 -> 99 (all)."""
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    if percentage <= 0:
        percentage = 50 - num_all_nodes // 125
        if percentage < MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND:
            percentage = MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND
    if percentage >= 100:
        return num_all_nodes
    n = num_all_nodes * percentage // 100
    return max(n, MIN_FEASIBLE_NODES_TO_FIND)


@dataclass(slots=True)
class ScheduleResult:
    suggested_host: str
    evaluated_nodes: int
    feasible_nodes: int


class Algorithm:
    """Holds the rotating start index between cycles; everything else is per call."""

    def __init__(self, *, rng: random.Random | None = None) -> None:
        self.next_start_node_index = 0
        self.rng = rng or random.Random()

    def schedule_pod(self, fwk: Framework, state: CycleState, pod: PodInfo, snapshot: object) -> ScheduleResult:
        """Pick a node for ``pod``. Raises ``FitError`` (no node fits) or ``NoNodesAvailable``;
        an Error status from a plugin raises ``SchedulingError``."""
        nodes: list[NodeInfo] = snapshot.list()  # type: ignore[attr-defined]
        if not nodes:
            raise NoNodesAvailable()
        feasible, diagnosis = self.find_nodes_that_fit(fwk, state, pod, snapshot)
        if not feasible:
            raise FitError(pod, len(nodes), diagnosis)
        if len(feasible) == 1:
            return ScheduleResult(feasible[0].name, 1 + len(diagnosis.node_to_status), 1)
        st = fwk.run_pre_score(state, pod, feasible)
        if not Status.is_success(st):
            raise SchedulingError(st)  # type: ignore[arg-type]
        scores = fwk.run_score(state, pod, feasible)
        host = self.select_host(feasible, scores)
        return ScheduleResult(host, len(feasible) + len(diagnosis.node_to_status), len(feasible))

    def find_nodes_that_fit(self, fwk: Framework, state: CycleState, pod: PodInfo,
                            snapshot: object) -> tuple[list[NodeInfo], Diagnosis]:
        all_nodes: list[NodeInfo] = snapshot.list()  # type: ignore[attr-defined]
        diagnosis = Diagnosis()
        result, st, rejectors = fwk.run_pre_filter(state, pod, all_nodes)
        if st is not None:
            if st.code == Code.ERROR:
                raise SchedulingError(st)
            # PreFilter rejected the pod: every node fails with that status.
            diagnosis.pre_filter_msg = st.message
            diagnosis.unschedulable_plugins = rejectors
            for n in all_nodes:
                diagnosis.node_to_status[n.name] = st
            return [], diagnosis
        # A pod that preempted tries its nominated node first.
        if pod.nominated_node_name:
            nominated = snapshot.get(pod.nominated_node_name)  # type: ignore[attr-defined]
            if nominated is not None and (result is None or result.node_names is None
                                          or nominated.name in result.node_names):
                s = fwk.run_filter_with_nominated_pods(state, pod, nominated)
                if s is None:
                    return [nominated], diagnosis
                if s.code == Code.ERROR:
                    raise SchedulingError(s)
        nodes = all_nodes
        if result is not None and result.node_names is not None:
            nodes = [n for n in (snapshot.get(name) for name in result.node_names)  # type: ignore[attr-defined]
                     if n is not None]
            nodes.sort(key=lambda n: n.name)
            diagnosis.absent_status = Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
                                             f"node(s) didn't satisfy plugin(s) [{' '.join(sorted(rejectors))}]")
            diagnosis.unschedulable_plugins |= rejectors
        feasible = self._filter(fwk, state, pod, nodes, diagnosis, fwk.profile.percentage_of_nodes_to_score,
                                len(all_nodes))
        return feasible, diagnosis

    def _filter(self, fwk: Framework, state: CycleState, pod: PodInfo, nodes: list[NodeInfo],
                diagnosis: Diagnosis, percentage: int, num_all: int) -> list[NodeInfo]:
        """Filter nodes in chunks, each as big as the number of feasible nodes still wanted:
        every Filter plugin (in profile order) runs over the chunk's surviving nodes in one
        batch, so a node's status is the first plugin that rejects it, as when the plugins
        run node by node, and no node is evaluated beyond the wanted count. Nodes holding
        nominated pods take the slow path (filters run with and without those pods)."""
        n = len(nodes)
        if n == 0:
            return []
        want = num_feasible_nodes_to_find(n, percentage)
        start = self.next_start_node_index % n
        order = nodes[start:] + nodes[:start] if start else nodes
        filters = fwk.filters(state)
        batch = fwk.batch_filters
        names_fn = getattr(fwk.nominator, "nominated_node_names", None)
        nominated = names_fn() if names_fn is not None else ()
        statuses = diagnosis.node_to_status
        rejectors = diagnosis.unschedulable_plugins
        feasible: list[NodeInfo] = []
        pos = 0
        while pos < n and len(feasible) < want:
            chunk = order[pos:pos + want - len(feasible)]
            pos += len(chunk)
            if nominated:
                slow = [x for x in chunk if x.name in nominated]
                if slow:
                    chunk = [x for x in chunk if x.name not in nominated]
                    for node in slow:
                        st = fwk.run_filter_with_nominated_pods(state, pod, node, filters)
                        if st is None:
                            feasible.append(node)
                        else:
                            self._reject(node, st, statuses, rejectors)
            for name, fn in filters:
                if not chunk:
                    break
                bf = batch.get(name)
                try:
                    results = bf(state, pod, chunk) if bf is not None else [fn(state, pod, x) for x in chunk]
                except Exception:  # rerun node by node: the runtime makes Error statuses
                    results = [fwk.run_filter(state, pod, x, ((name, fn),)) for x in chunk]
                if not any(results):
                    continue  # every node passed this plugin (statuses are truthy, None is not)
                survivors = []
                for node, st in zip(chunk, results):
                    if st is None or st.code == Code.SUCCESS:
                        survivors.append(node)
                    else:
                        self._reject(node, st.with_plugin(name), statuses, rejectors)
                chunk = survivors
            feasible.extend(chunk)
        if len(nodes) == num_all:
            self.next_start_node_index = (start + pos) % n
        return feasible

    @staticmethod
    def _reject(node: NodeInfo, st: Status, statuses: dict[str, Status], rejectors: set[str]) -> None:
        if st.code == Code.ERROR:
            raise SchedulingError(st)
        statuses[node.name] = st
        if st.plugin:
            rejectors.add(st.plugin)

    def select_host(self, nodes: list[NodeInfo], scores: list[int]) -> str:
        """The best-scoring node; ties broken uniformly at random (the distribution of kube's
        reservoir sampling, with one random draw)."""
        best = max(scores)
        count = scores.count(best)
        if count == len(scores):  # all tied (identical nodes): no need to list them
            return nodes[self.rng.randrange(count)].name
        tied = [i for i, s in enumerate(scores) if s == best]
        return nodes[tied[0] if count == 1 else tied[self.rng.randrange(count)]].name


class SchedulingError(Exception):
    """A plugin returned an Error status: the pod goes to backoff, not unschedulable."""

    def __init__(self, status: Status) -> None:
        super().__init__(status.message)
        self.status = status
