"""DefaultPreemption: when no node fits a pod, find the node where evicting the fewest and least
important lower-priority pods makes it fit. A pure decision: the plugin returns the node and
the victims (``PostFilterResult``); the scheduler deletes them through its binder and sets
``status.nominatedNodeName`` on the preemptor.

Steps, as kube's preemption evaluator:

1. Eligibility: ``preemptionPolicy: Never`` pods never preempt; a pod already nominated to a
   node where a lower-priority pod is still terminating waits for it instead of preempting
   again.
2. Candidates: only nodes whose filter status was Unschedulable (not ...AndUnresolvable: a
   taint or a missing label does not go away by deleting pods). From a random offset, dry-run
   up to max(10% of them, 100) nodes: remove every pod of lower priority, check the filters
   pass (with nominated pods), then add the victims back one by one, most important first
   (higher priority, then earlier start), keeping each one that still leaves room.
3. Pick one node, by in turn: fewest PodDisruptionBudget violations (always 0 here: PDBs are
   not consulted yet), the lowest highest-victim priority, the lowest sum of victim
   priorities, the fewest victims, the latest start among the most important victims, the
   first found.

Example: a priority-1000 pod needs 2 cpu. Node a (4 cpu, full) runs four 1-cpu pods, two of
priority 10 and two of priority 500; node b (2 cpu, full) runs one 2-cpu pod of priority 100.
On a, evicting the priority-10 pods frees 2 cpu (the priority-500 pods are reprieved); on b the
priority-100 pod must go. a wins at criterion 2 (highest victim priority 10 < 100).

When no node can be freed, the status message explains it per node, becoming the
"preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2
Preemption is not helpful for scheduling." part of the FailedScheduling event.
"""
from __future__ import annotations

import random
from typing import Any

from kubelite.scheduler.framework.interface import Code, CycleState, PostFilterResult, Status
from kubelite.scheduler.framework.types import Diagnosis, NodeInfo, PodInfo, fit_error_message

NAME = "DefaultPreemption"
NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"
NEVER = "not eligible due to preemptionPolicy=Never."
TERMINATING = "not eligible due to a terminating pod on the nominated node."
_INT32_OFFSET = 2**31
_NO_START = "9999-12-31T23:59:59Z"  # a pod that has not started counts as started "now"


def more_important(a: PodInfo, b: PodInfo) -> bool:
    """Higher priority first; among equals, the pod that started earlier."""
    if a.priority != b.priority:
        return a.priority > b.priority
    return (a.start_time or _NO_START) < (b.start_time or _NO_START)


def _importance_key(p: PodInfo) -> tuple[int, str]:
    return (-p.priority, p.start_time or _NO_START)


class Candidate:
    __slots__ = ("node_name", "victims", "pdb_violations")

    def __init__(self, node_name: str, victims: list[PodInfo], pdb_violations: int = 0) -> None:
        self.node_name = node_name
        self.victims = victims  # most important first
        self.pdb_violations = pdb_violations

    def __repr__(self) -> str:
        return f"Candidate({self.node_name}, victims={[v.key for v in self.victims]})"


def pick_one_node_for_preemption(candidates: list[Candidate]) -> Candidate | None:
    """Kube's pickOneNodeForPreemption criteria, applied in order until one node is left."""
    if not candidates:
        return None

    def keep_min(cands: list[Candidate], key: Any) -> list[Candidate]:
        best = min(key(c) for c in cands)
        return [c for c in cands if key(c) == best]

    cands = [c for c in candidates if c.victims]
    if not cands:
        return candidates[0]
    for key in (lambda c: c.pdb_violations,
                lambda c: c.victims[0].priority,
                lambda c: sum(v.priority + _INT32_OFFSET for v in c.victims),
                lambda c: len(c.victims)):
        cands = keep_min(cands, key)
        if len(cands) == 1:
            return cands[0]

    def earliest_start_of_most_important(c: Candidate) -> str:
        top = c.victims[0].priority
        return min((v.start_time or _NO_START) for v in c.victims if v.priority == top)

    # The node whose most important victims started the latest loses the least work.
    latest = max(earliest_start_of_most_important(c) for c in cands)
    for c in cands:
        if earliest_start_of_most_important(c) == latest:
            return c
    return cands[0]


class DefaultPreemption:
    """Args: ``minCandidateNodesPercentage`` (10), ``minCandidateNodesAbsolute`` (100)."""

    name = NAME

    def __init__(self, args: Any = None, handle: Any = None) -> None:
        args = args or {}
        self.handle = handle
        self.min_pct = int(args.get("minCandidateNodesPercentage", 10))
        self.min_abs = int(args.get("minCandidateNodesAbsolute", 100))
        self.rng: random.Random = getattr(handle, "rng", None) or random.Random()

    def num_candidates(self, num_nodes: int) -> int:
        n = num_nodes * self.min_pct // 100
        return min(max(n, self.min_abs), num_nodes)

    def eligible(self, pod: PodInfo, statuses: dict[str, Status]) -> tuple[bool, str]:
        if pod.preemption_policy == "Never":
            return False, NEVER
        nominated = pod.nominated_node_name
        if nominated:
            st = statuses.get(nominated)
            if st is not None and st.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                return True, ""
            node = self.handle.snapshot().get(nominated)
            if node is not None:
                for p in node.pods.values():
                    if p.priority < pod.priority and p.terminating:
                        return False, TERMINATING
        return True, ""

    def post_filter(self, state: CycleState, pod: PodInfo,
                    statuses: dict[str, Status]) -> tuple[PostFilterResult | None, Status | None]:
        ok, msg = self.eligible(pod, statuses)
        if not ok:
            return None, Status(Code.UNSCHEDULABLE, "preemption: " + msg)
        all_nodes = self.handle.snapshot().list()
        if not all_nodes:
            return None, Status(Code.ERROR, "preemption: no nodes available")
        candidates, node_status = self.find_candidates(state, pod, all_nodes, statuses)
        if not candidates:
            diag = Diagnosis(node_to_status=node_status)
            text = fit_error_message(len(all_nodes), diag)
            # An empty nominated node name clears a stale nomination of the pod.
            return PostFilterResult(""), Status(Code.UNSCHEDULABLE, "preemption: " + text)
        best = pick_one_node_for_preemption(candidates)
        if best is None:
            return None, Status(Code.UNSCHEDULABLE, "preemption: no candidate node for preemption")
        return PostFilterResult(best.node_name, list(best.victims)), None

    def find_candidates(self, state: CycleState, pod: PodInfo, all_nodes: list[NodeInfo],
                        statuses: dict[str, Status]) -> tuple[list[Candidate], dict[str, Status]]:
        """Dry-run preemption; returns the candidates and, for every node that is not one,
        why (the statuses the "preemption: ..." message counts)."""
        node_status: dict[str, Status] = {}
        potential: list[NodeInfo] = []
        for node in all_nodes:
            st = statuses.get(node.name)
            if st is None or st.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                node_status[node.name] = Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, NOT_HELPFUL)
            else:
                potential.append(node)
        if not potential:
            return [], node_status
        offset = self.rng.randrange(len(potential))
        wanted = self.num_candidates(len(potential))
        non_violating: list[Candidate] = []
        for i in range(len(potential)):
            node = potential[(offset + i) % len(potential)]
            victims, st = self.select_victims_on_node(state.clone(), pod, node.clone())
            if st is None and victims:
                non_violating.append(Candidate(node.name, victims))
                if len(non_violating) >= wanted:
                    break
                continue
            if st is None:
                st = Status(Code.ERROR, f'expected at least one victim pod on node "{node.name}"')
            node_status[node.name] = st
        return non_violating, node_status

    def select_victims_on_node(self, state: CycleState, pod: PodInfo,
                               node: NodeInfo) -> tuple[list[PodInfo], Status | None]:
        """On a private copy of the node (and cycle state): the minimal set of lower-priority
        pods to evict, most important first; or why none works."""
        fh = self.handle
        potential = [p for p in node.pods.values() if p.priority < pod.priority]
        if not potential:
            return [], Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, NO_VICTIMS)
        for p in potential:
            node.remove_pod(p)
            st = fh.run_pre_filter_extension_remove_pod(state, pod, p, node)
            if not Status.is_success(st):
                return [], st
        st = fh.run_filter_with_nominated_pods(state, pod, node)
        if not Status.is_success(st):
            return [], st
        potential.sort(key=_importance_key)
        victims: list[PodInfo] = []
        # No PodDisruptionBudgets yet: every victim is "non-violating"; reprieve in order.
        for p in potential:
            node.add_pod(p)
            st = fh.run_pre_filter_extension_add_pod(state, pod, p, node)
            if not Status.is_success(st):
                return [], st
            if not Status.is_success(fh.run_filter_with_nominated_pods(state, pod, node)):
                node.remove_pod(p)
                st = fh.run_pre_filter_extension_remove_pod(state, pod, p, node)
                if not Status.is_success(st):
                    return [], st
                victims.append(p)
        return victims, None


def new(args: Any, handle: Any) -> DefaultPreemption:
    return DefaultPreemption(args, handle)
