"""NodeResourcesFit (filter + least/most-allocated score) and NodeResourcesBalancedAllocation.

Fit's Filter compares the pod's requests with what is left on the node: ``allocatable -
requested by the pods already there (running and assumed)``, for cpu, memory,
ephemeral-storage, the pod count and every extended resource the pod asks for
(``nvidia.com/gpu``, ``hugepages-2Mi``, ...). One reason per short resource, so the
FailedScheduling histogram reads "2 Insufficient cpu, 1 Insufficient nvidia.com/gpu". A
resource the pod does not request is never checked (a 0-cpu pod fits an overcommitted node).
When the pod's request alone exceeds the node's allocatable, the rejection is
UnschedulableAndUnresolvable: evicting pods from that node cannot help, so preemption skips it.

Scores (0..100, default weights cpu 1, memory 1), with *non-zero* requests (100m / 200Mi for
containers that request nothing) so BestEffort pods spread too:

- LeastAllocated: ``(allocatable - requested) * 100 // allocatable`` per resource, weighted
  mean. A 4-cpu node with 1 cpu requested, scheduling a 1-cpu pod: (4000-2000)*100//4000 = 50.
- MostAllocated (strategy ``MostAllocated``): ``requested * 100 // allocatable``, bin-packing.
- BalancedAllocation: ``(1 - std(fractions)) * 100`` where fraction = requested/allocatable
  per resource (real requests, capped at 1); two resources give std = |f_cpu - f_mem| / 2. A
  node at 50% cpu, 10% memory after placement: (1 - 0.2) * 100 = 80. Skipped for pods that
  request nothing (they would all pile onto the most balanced node).
"""
from __future__ import annotations

import itertools
import math
import operator
from typing import Any

from kubelite.scheduler.framework.interface import (
    ASSIGNED_POD, NODE, SKIP, ActionType, ClusterEvent, ClusterEventWithHint, Code, CycleState, QueueingHint, Status,
)
from kubelite.scheduler.framework.types import CPU, EPHEMERAL_STORAGE, MEMORY, NodeInfo, PodInfo, resource_list
from kubelite.scheduler.plugins.helper import GenerationMemo

FIT = "NodeResourcesFit"
BALANCED = "NodeResourcesBalancedAllocation"
LEAST_ALLOCATED = "LeastAllocated"
MOST_ALLOCATED = "MostAllocated"
TOO_MANY_PODS = "Too many pods"
_MISS = object()


def _insufficient(name: str) -> str:
    return f"Insufficient {name}"


def fits_request(pod: PodInfo, node: NodeInfo, ignored: frozenset[str] = frozenset(),
                 ignored_groups: frozenset[str] = frozenset()) -> tuple[list[str], bool]:
    """(reasons the pod does not fit, whether any is unresolvable on this node)."""
    reasons: list[str] = []
    unresolvable = False
    if len(node.pods) + 1 > node.alloc_pods:
        reasons.append(TOO_MANY_PODS)
        unresolvable = node.alloc_pods < 1
    if pod.cpu > 0 and pod.cpu > node.alloc_cpu - node.req_cpu:
        reasons.append(_insufficient(CPU))
        unresolvable = unresolvable or pod.cpu > node.alloc_cpu
    if pod.mem > 0 and pod.mem > node.alloc_mem - node.req_mem:
        reasons.append(_insufficient(MEMORY))
        unresolvable = unresolvable or pod.mem > node.alloc_mem
    if pod.eph > 0 and pod.eph > node.alloc_eph - node.req_eph:
        reasons.append(_insufficient(EPHEMERAL_STORAGE))
        unresolvable = unresolvable or pod.eph > node.alloc_eph
    for name, want in pod.scalar.items():
        if name in ignored or (ignored_groups and name.split("/", 1)[0] in ignored_groups):
            continue
        alloc = node.alloc_scalar.get(name, 0)
        if want > alloc - node.req_scalar.get(name, 0):
            reasons.append(_insufficient(name))
            unresolvable = unresolvable or want > alloc
    return reasons, unresolvable


def _least(requested: int, capacity: int) -> int:
    if capacity == 0 or requested > capacity:
        return 0
    return (capacity - requested) * 100 // capacity


def _most(requested: int, capacity: int) -> int:
    if capacity == 0:
        return 0
    if requested > capacity:
        return 100
    return requested * 100 // capacity


def _cluster_size(handle: Any, nodes: list[NodeInfo]) -> int:
    snap = handle.snapshot() if handle is not None else None
    return max(len(snap.list()) if snap is not None else 0, len(nodes))


class Fit:
    """NodeResourcesFit. Args (all optional): ``ignoredResources``, ``ignoredResourceGroups``,
    ``scoringStrategy: {type: LeastAllocated|MostAllocated, resources: [{name, weight}]}``."""

    name = FIT

    def __init__(self, args: Any = None, handle: Any = None) -> None:
        args = args or {}
        self.ignored = frozenset(args.get("ignoredResources") or ())
        self.ignored_groups = frozenset(args.get("ignoredResourceGroups") or ())
        strategy = args.get("scoringStrategy") or {}
        self.strategy = strategy.get("type") or LEAST_ALLOCATED
        if self.strategy not in (LEAST_ALLOCATED, MOST_ALLOCATED):
            raise ValueError(f"{FIT}: unsupported scoring strategy {self.strategy!r}")
        resources = strategy.get("resources") or [{"name": CPU, "weight": 1}, {"name": MEMORY, "weight": 1}]
        self.resources = [(str(r["name"]), int(r.get("weight") or 1)) for r in resources]
        # The default (cpu, memory, weight 1 each) gets an inlined fast path.
        self._default = self.resources == [(CPU, 1), (MEMORY, 1)]
        self._fn = _least if self.strategy == LEAST_ALLOCATED else _most
        self.handle = handle
        self._filter_memo = GenerationMemo()
        self._score_memo = GenerationMemo()

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        # Fast path first: this runs for every (pod, node) pair.
        if (len(node.pods) < node.alloc_pods and pod.cpu + node.req_cpu <= node.alloc_cpu
                and pod.mem + node.req_mem <= node.alloc_mem and pod.eph + node.req_eph <= node.alloc_eph
                and not pod.scalar):
            return None
        reasons, unresolvable = fits_request(pod, node, self.ignored, self.ignored_groups)
        if not reasons:
            return None
        return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE if unresolvable else Code.UNSCHEDULABLE, *reasons)

    def _cluster_size(self, nodes: list[NodeInfo]) -> int:
        return _cluster_size(self.handle, nodes)

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[Status | None]:
        """``filter`` over many nodes (BatchFilterPlugin), memoised per node generation: the
        result depends only on the node and the pod's requests."""
        if pod.scalar:
            return [self.filter(state, pod, n) for n in nodes]
        cpu, mem, eph = pod.cpu, pod.mem, pod.eph
        memo = self._filter_memo.table((cpu, mem, eph), self._cluster_size(nodes))
        get = memo.get
        out = [get(n.generation, _MISS) for n in nodes]
        # All-None (every node fits, all remembered) is the common case and the cheapest test.
        if out.count(None) != len(out) and any(map(operator.is_, out, itertools.repeat(_MISS))):
            slow = self.filter
            for i, n in enumerate(nodes):
                if out[i] is _MISS:
                    st = (None if (len(n.pods) < n.alloc_pods and cpu + n.req_cpu <= n.alloc_cpu
                                   and mem + n.req_mem <= n.alloc_mem and eph + n.req_eph <= n.alloc_eph)
                          else slow(state, pod, n))
                    memo[n.generation] = out[i] = st
        return out  # type: ignore[return-value]

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        """``score`` over many nodes (BatchScorePlugin), memoised per node generation."""
        memo = self._score_memo.table((pod.nz_cpu, pod.nz_mem, pod.eph, tuple(pod.scalar.items())),
                                       self._cluster_size(nodes))
        get = memo.get
        out = [get(n.generation, -1) for n in nodes]
        if -1 in out:
            score = self.score
            for i, n in enumerate(nodes):
                if out[i] == -1:
                    memo[n.generation] = out[i] = score(state, pod, n)
        return out  # type: ignore[return-value]

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        if self._default and self.strategy == LEAST_ALLOCATED:
            ac, am = node.alloc_cpu, node.alloc_mem
            rc, rm = node.nz_cpu + pod.nz_cpu, node.nz_mem + pod.nz_mem
            sc = (ac - rc) * 100 // ac if ac and rc <= ac else 0
            sm = (am - rm) * 100 // am if am and rm <= am else 0
            if ac and am:
                return (sc + sm) // 2
            return sc if ac else sm
        total = weights = 0
        fn = self._fn
        for name, weight in self.resources:
            alloc, req = _allocatable_and_requested(node, pod, name, non_zero=True)
            if alloc == 0:
                continue
            total += fn(req, alloc) * weight
            weights += weight
        return total // weights if weights else 0

    def events_to_register(self) -> list[ClusterEventWithHint]:
        def node_hint(pod: PodInfo, old: Any, new: Any) -> QueueingHint:
            # Worth a retry only if the pod's request fits the node's (new) allocatable at all.
            if new is None:
                return QueueingHint.QUEUE
            alloc = resource_list((new.get("status") or {}).get("allocatable"))
            if pod.cpu > alloc.get(CPU, 0) or pod.mem > alloc.get(MEMORY, 0):
                return QueueingHint.QUEUE_SKIP
            for name, want in pod.scalar.items():
                if want > alloc.get(name, 0):
                    return QueueingHint.QUEUE_SKIP
            return QueueingHint.QUEUE
        return [
            ClusterEventWithHint(ClusterEvent(ASSIGNED_POD, ActionType.DELETE | ActionType.UPDATE_POD_SCALE_DOWN)),
            ClusterEventWithHint(ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_ALLOCATABLE), node_hint),
        ]


def _allocatable_and_requested(node: NodeInfo, pod: PodInfo, name: str, *, non_zero: bool) -> tuple[int, int]:
    if name == CPU:
        return node.alloc_cpu, (node.nz_cpu + pod.nz_cpu) if non_zero else (node.req_cpu + pod.cpu)
    if name == MEMORY:
        return node.alloc_mem, (node.nz_mem + pod.nz_mem) if non_zero else (node.req_mem + pod.mem)
    if name == EPHEMERAL_STORAGE:
        return node.alloc_eph, node.req_eph + pod.eph
    want = pod.scalar.get(name, 0)
    if want == 0:
        return 0, 0  # a scarce resource the pod does not use does not steer its placement
    return node.alloc_scalar.get(name, 0), node.req_scalar.get(name, 0) + want


class BalancedAllocation:
    """NodeResourcesBalancedAllocation. Args: ``resources: [{name, weight}]`` (cpu, memory)."""

    name = BALANCED

    def __init__(self, args: Any = None, handle: Any = None) -> None:
        args = args or {}
        resources = args.get("resources") or [{"name": CPU}, {"name": MEMORY}]
        self.resources = [str(r["name"]) for r in resources]
        self._default = self.resources == [CPU, MEMORY]
        self.handle = handle
        self._memo = GenerationMemo()

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        if not pod.cpu and not pod.mem and not pod.scalar:
            return SKIP
        return None

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        """``score`` over many nodes (BatchScorePlugin), memoised per node generation."""
        memo = self._memo.table((pod.cpu, pod.mem, pod.eph, tuple(pod.scalar.items())), _cluster_size(self.handle, nodes))
        get = memo.get
        out = [get(n.generation, -1) for n in nodes]
        if -1 in out:
            score = self.score
            for i, n in enumerate(nodes):
                if out[i] == -1:
                    memo[n.generation] = out[i] = score(state, pod, n)
        return out  # type: ignore[return-value]

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        if self._default:
            ac, am = node.alloc_cpu, node.alloc_mem
            if ac and am:
                fc = min((node.req_cpu + pod.cpu) / ac, 1.0)
                fm = min((node.req_mem + pod.mem) / am, 1.0)
                return int((1.0 - abs(fc - fm) / 2) * 100)
        fractions = []
        for name in self.resources:
            alloc, req = _allocatable_and_requested(node, pod, name, non_zero=False)
            if alloc == 0:
                continue
            fractions.append(min(req / alloc, 1.0))
        std = 0.0
        if len(fractions) == 2:
            std = abs(fractions[0] - fractions[1]) / 2
        elif len(fractions) > 2:
            mean = sum(fractions) / len(fractions)
            std = math.sqrt(sum((f - mean) ** 2 for f in fractions) / len(fractions))
        return int((1.0 - std) * 100)


def new_fit(args: Any, handle: Any) -> Fit:
    return Fit(args, handle)


def new_balanced_allocation(args: Any, handle: Any) -> BalancedAllocation:
    return BalancedAllocation(args, handle)
