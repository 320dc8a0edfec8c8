"""PodTopologySpread: ``spec.topologySpreadConstraints`` -- keep matching pods evenly spread
over the domains of a node label (zones, hostnames).

For each constraint the pods matching its ``labelSelector`` (plus ``matchLabelKeys`` taken from
the incoming pod's own labels), in the pod's namespace and not terminating, are counted per
domain (``topologyKey`` value) over the nodes the constraint applies to
(``nodeAffinityPolicy: Honor`` -- the default -- keeps only nodes matching the pod's node
selector/affinity; ``nodeTaintsPolicy: Honor`` only nodes whose taints it tolerates).

Filter (``whenUnsatisfiable: DoNotSchedule``): placing the pod in domain d gives
``skew = count(d) + (1 if the pod matches its own selector) - min over domains``, which must
not exceed ``maxSkew``. Zones a:2, b:0, maxSkew 1: a new matching pod fits only in b
(a: 2+1-0 = 3 > 1). With ``minDomains`` larger than the number of domains, the minimum is 0.
A node missing a topology key is UnschedulableAndUnresolvable.

Score (``ScheduleAnyway``, or the system defaults -- zone maxSkew 5 and hostname maxSkew 3
over the selector of the pod's Services / ReplicaSet / StatefulSet / RC -- when the pod has no
constraints): each node gets ``sum(count(domain) * log(domains + 2) + maxSkew - 1)``, then
``100 * (max + min - s) // max`` so the emptiest domain scores highest.

PreFilter extensions keep the counts right when preemption removes victims or nominated pods
are added.
"""
from __future__ import annotations

import math
from typing import Any, Callable

from kubelite.api.helpers.nodeaffinity import pod_matches_node_selector_and_affinity
from kubelite.api.helpers.taints import first_untolerated
from kubelite.machinery.errors import StatusError
from kubelite.machinery.selectors import IN, LabelSelector, Requirement, from_label_selector
from kubelite.scheduler.framework.interface import (
    ASSIGNED_POD, MAX_NODE_SCORE, NODE, SKIP, ActionType, ClusterEvent, ClusterEventWithHint, CycleState,
    PreFilterResult, QueueingHint, Status, unresolvable, unschedulable,
)
from kubelite.scheduler.framework.types import NodeInfo, PodInfo
from kubelite.scheduler.plugins.helper import GenerationMemo

NAME = "PodTopologySpread"
ERR_REASON_CONSTRAINTS_NOT_MATCH = "node(s) didn't match pod topology spread constraints"
ERR_REASON_NODE_LABEL_NOT_MATCH = ERR_REASON_CONSTRAINTS_NOT_MATCH + " (missing required label)"
HOSTNAME = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"
DO_NOT_SCHEDULE = "DoNotSchedule"
SCHEDULE_ANYWAY = "ScheduleAnyway"
_PRE_FILTER_KEY = "PreFilter" + NAME
_PRE_SCORE_KEY = "PreScore" + NAME
_MAX_INT32 = 2**31 - 1
# System default constraints (kube's "defaultingType: System").
SYSTEM_DEFAULT_CONSTRAINTS: tuple[dict[str, Any], ...] = (
    {"topologyKey": HOSTNAME, "maxSkew": 3}, {"topologyKey": ZONE, "maxSkew": 5})


class Constraint:
    __slots__ = ("max_skew", "topology_key", "selector", "min_domains", "honor_affinity", "honor_taints")

    def __init__(self, max_skew: int, topology_key: str, selector: LabelSelector, min_domains: int = 1,
                 honor_affinity: bool = True, honor_taints: bool = False) -> None:
        self.max_skew = max_skew
        self.topology_key = topology_key
        self.selector = selector
        self.min_domains = min_domains
        self.honor_affinity = honor_affinity
        self.honor_taints = honor_taints

    def includes_node(self, pod: PodInfo, node: NodeInfo) -> bool:
        """Node inclusion policies: does this node take part in the spreading at all?"""
        if self.honor_affinity and not pod_matches_node_selector_and_affinity(
                pod.node_selector, pod.required_node_affinity, node.labels, node.name):
            return False
        return not (self.honor_taints and node.taints and first_untolerated(node.taints, pod.tolerations) is not None)


def parse_constraints(pod: PodInfo, action: str) -> list[Constraint]:
    """The pod's constraints with ``whenUnsatisfiable == action``; StatusError if a selector is
    malformed."""
    out = []
    for c in pod.topology_spread:
        if not isinstance(c, dict) or (c.get("whenUnsatisfiable") or DO_NOT_SCHEDULE) != action:
            continue
        selector = from_label_selector(c.get("labelSelector"))
        extra = [Requirement(k, IN, (pod.labels[k],)) for k in c.get("matchLabelKeys") or () if k in pod.labels]
        if extra and not (selector.requirements == () and not selector.empty):  # "nothing" stays nothing
            selector = LabelSelector(list(selector.requirements) + extra)
        out.append(Constraint(int(c.get("maxSkew") or 1), str(c.get("topologyKey") or ""), selector,
                              int(c.get("minDomains") or 1),
                              (c.get("nodeAffinityPolicy") or "Honor") == "Honor",
                              (c.get("nodeTaintsPolicy") or "Ignore") == "Honor"))
    return out


def count_matching(node: NodeInfo, selector: LabelSelector, namespace: str) -> int:
    """Pods on ``node`` in ``namespace``, not terminating, selected by ``selector``."""
    n = 0
    for p in node.pods.values():
        if p.namespace == namespace and not p.terminating and selector.matches(p.labels):
            n += 1
    return n


def _has_all_keys(labels: dict[str, str], constraints: list[Constraint]) -> bool:
    for c in constraints:
        if c.topology_key not in labels:
            return False
    return True


class _PreFilterState:
    """Counts per (topologyKey, value), the number of domains per key, and each key's two
    least-populated domains (kube's "critical paths") so the minimum survives updates."""

    __slots__ = ("constraints", "pair_count", "domains", "critical")

    def __init__(self, constraints: list[Constraint]) -> None:
        self.constraints = constraints
        self.pair_count: dict[tuple[str, str], int] = {}
        self.domains: dict[str, int] = {}
        self.critical: dict[str, list[list[Any]]] = {}

    def clone(self) -> "_PreFilterState":
        out = _PreFilterState(self.constraints)
        out.pair_count = dict(self.pair_count)
        out.domains = dict(self.domains)
        out.critical = {k: [list(p[0]), list(p[1])] for k, p in self.critical.items()}
        return out

    def update_critical(self, key: str, value: str, num: int) -> None:
        p = self.critical.setdefault(key, [["", _MAX_INT32], ["", _MAX_INT32]])
        if value == p[0][0]:
            i = 0
        elif value == p[1][0]:
            i = 1
        else:
            i = -1
        if i >= 0:
            p[i][1] = num
            if p[0][1] > p[1][1]:
                p[0], p[1] = p[1], p[0]
        elif num < p[0][1]:
            p[1] = p[0]
            p[0] = [value, num]
        elif num < p[1][1]:
            p[1] = [value, num]

    def min_match(self, key: str, min_domains: int) -> int:
        if self.domains.get(key, 0) < min_domains:
            return 0
        p = self.critical.get(key)
        return p[0][1] if p else _MAX_INT32

    def update_with_pod(self, updated: PodInfo, preemptor: PodInfo, node: NodeInfo, delta: int) -> None:
        if updated.namespace != preemptor.namespace or node.node is None:
            return
        if not _has_all_keys(node.labels, self.constraints):
            return
        for c in self.constraints:
            if not c.selector.matches(updated.labels) or not c.includes_node(preemptor, node):
                continue
            pair = (c.topology_key, node.labels[c.topology_key])
            n = self.pair_count.get(pair, 0) + delta
            self.pair_count[pair] = n
            self.update_critical(pair[0], pair[1], n)


class _PreScoreState:
    __slots__ = ("constraints", "ignored", "pair_count", "weights", "counters")

    def __init__(self) -> None:
        self.constraints: list[Constraint] = []
        self.counters: list[Callable[[NodeInfo], int]] = []
        self.ignored: set[str] = set()
        self.pair_count: dict[tuple[str, str], int] = {}
        self.weights: list[float] = []


class PodTopologySpread:
    """Args: ``defaultingType: System|List`` and ``defaultConstraints`` (for List)."""

    name = NAME

    def __init__(self, args: Any = None, handle: Any = None) -> None:
        args = args or {}
        self.handle = handle
        self.system_defaulted = (args.get("defaultingType") or "System") == "System"
        self.default_constraints: list[dict[str, Any]] = (
            list(SYSTEM_DEFAULT_CONSTRAINTS) if self.system_defaulted else list(args.get("defaultConstraints") or ()))
        self.default_selector: Callable[[PodInfo], LabelSelector | None] | None = getattr(handle, "default_selector", None)
        # Matching-pod counts per node generation: PreFilter/PreScore visit every node for
        # every pod of a spread workload, and between two pods almost no node changes.
        self._counts = GenerationMemo(max_tables=32)

    def _counter(self, namespace: str, selector: LabelSelector) -> Callable[[NodeInfo], int]:
        snap = self.handle.snapshot() if self.handle is not None else None
        table = self._counts.table((namespace, selector), len(snap.list()) if snap is not None else 0)

        def count(node: NodeInfo) -> int:
            n = table.get(node.generation)
            if n is None:
                n = table[node.generation] = count_matching(node, selector, namespace)
            return n  # type: ignore[return-value]
        return count

    # -- filter -----------------------------------------------------------------------------

    def pre_filter(self, state: CycleState, pod: PodInfo,
                   nodes: list[NodeInfo]) -> tuple[PreFilterResult | None, Status | None]:
        if not pod.topology_spread:
            return None, SKIP  # system defaults are ScheduleAnyway only: nothing to filter
        try:
            constraints = parse_constraints(pod, DO_NOT_SCHEDULE)
        except StatusError as e:
            return None, unresolvable(f"parsing topology spread constraints: {e.message}")
        if not constraints:
            return None, SKIP
        s = _PreFilterState(constraints)
        counters = [self._counter(pod.namespace, c.selector) for c in constraints]
        for node in self.handle.snapshot().list():
            if not _has_all_keys(node.labels, constraints):
                continue
            for c, count in zip(constraints, counters):
                if not c.includes_node(pod, node):
                    continue
                pair = (c.topology_key, node.labels[c.topology_key])
                s.pair_count[pair] = s.pair_count.get(pair, 0) + count(node)
        for (key, value), n in s.pair_count.items():
            s.domains[key] = s.domains.get(key, 0) + 1
            s.update_critical(key, value, n)
        state.write(_PRE_FILTER_KEY, s)
        return None, None

    def pre_filter_extensions(self) -> "PodTopologySpread":
        return self

    def add_pod(self, state: CycleState, pod: PodInfo, to_add: PodInfo, node: NodeInfo) -> Status | None:
        s = state.get(_PRE_FILTER_KEY)
        if s is not None:
            s.update_with_pod(to_add, pod, node, 1)
        return None

    def remove_pod(self, state: CycleState, pod: PodInfo, to_remove: PodInfo, node: NodeInfo) -> Status | None:
        s = state.get(_PRE_FILTER_KEY)
        if s is not None:
            s.update_with_pod(to_remove, pod, node, -1)
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        s: _PreFilterState = state.read(_PRE_FILTER_KEY)
        for c in s.constraints:
            value = node.labels.get(c.topology_key)
            if value is None:
                return unresolvable(ERR_REASON_NODE_LABEL_NOT_MATCH)
            self_match = 1 if c.selector.matches(pod.labels) else 0
            skew = s.pair_count.get((c.topology_key, value), 0) + self_match - s.min_match(c.topology_key, c.min_domains)
            if skew > c.max_skew:
                return unschedulable(ERR_REASON_CONSTRAINTS_NOT_MATCH)
        return None

    # -- score ------------------------------------------------------------------------------

    def _soft_constraints(self, pod: PodInfo) -> list[Constraint]:
        if pod.topology_spread:
            return parse_constraints(pod, SCHEDULE_ANYWAY)
        if not self.default_constraints or self.default_selector is None:
            return []
        selector = self.default_selector(pod)
        if selector is None or selector.empty:
            return []
        return [Constraint(int(c.get("maxSkew") or 1), str(c["topologyKey"]), selector)
                for c in self.default_constraints]

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        all_nodes = self.handle.snapshot().list()
        if not nodes or not all_nodes:
            return SKIP
        try:
            constraints = self._soft_constraints(pod)
        except StatusError:
            return SKIP  # kube ignores parse errors when scoring
        if not constraints:
            return SKIP
        s = _PreScoreState()
        s.constraints = constraints
        # Only non-default rules require every node to carry every key; with the system
        # defaults, nodes without a zone label still get hostname spreading.
        require_all = bool(pod.topology_spread) or not self.system_defaulted
        sizes = [0] * len(constraints)
        for node in nodes:
            if require_all and not _has_all_keys(node.labels, constraints):
                s.ignored.add(node.name)
                continue
            for i, c in enumerate(constraints):
                if c.topology_key == HOSTNAME:
                    continue  # counted per node in Score
                pair = (c.topology_key, node.labels.get(c.topology_key, ""))
                if pair not in s.pair_count:
                    s.pair_count[pair] = 0
                    sizes[i] += 1
        for i, c in enumerate(constraints):
            size = len(nodes) - len(s.ignored) if c.topology_key == HOSTNAME else sizes[i]
            s.weights.append(math.log(size + 2))
        s.counters = [self._counter(pod.namespace, c.selector) for c in constraints]
        if any(c.topology_key != HOSTNAME for c in constraints):
            for node in all_nodes:
                if require_all and not _has_all_keys(node.labels, constraints):
                    continue
                for c, count in zip(constraints, s.counters):
                    if c.topology_key == HOSTNAME or c.topology_key not in node.labels:
                        continue  # Score only reads domains of nodes that carry the key
                    if not c.includes_node(pod, node):
                        continue
                    pair = (c.topology_key, node.labels[c.topology_key])
                    if pair in s.pair_count:
                        s.pair_count[pair] += count(node)
        state.write(_PRE_SCORE_KEY, s)
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        s: _PreScoreState = state.read(_PRE_SCORE_KEY)
        if node.name in s.ignored:
            return 0
        total = 0.0
        for i, c in enumerate(s.constraints):
            value = node.labels.get(c.topology_key)
            if value is None:
                continue
            if c.topology_key == HOSTNAME:
                cnt = s.counters[i](node)
            else:
                cnt = s.pair_count.get((c.topology_key, value), 0)
            total += cnt * s.weights[i] + (c.max_skew - 1)
        return round(total)

    def normalize_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], scores: list[int]) -> None:
        s: _PreScoreState = state.read(_PRE_SCORE_KEY)
        lo, hi = None, 0
        for node, sc in zip(nodes, scores):
            if node.name in s.ignored:
                continue
            lo = sc if lo is None or sc < lo else lo
            hi = max(hi, sc)
        for i, node in enumerate(nodes):
            if node.name in s.ignored:
                scores[i] = 0
            elif hi == 0:
                scores[i] = MAX_NODE_SCORE
            else:
                scores[i] = MAX_NODE_SCORE * (hi + (lo or 0) - scores[i]) // hi

    # -- queueing ---------------------------------------------------------------------------

    def events_to_register(self) -> list[ClusterEventWithHint]:
        def pod_hint(pod: PodInfo, old: Any, new: Any) -> QueueingHint:
            other = new if new is not None else old
            meta = (other or {}).get("metadata") or {}
            if meta.get("namespace") != pod.namespace:
                return QueueingHint.QUEUE_SKIP
            try:
                constraints = parse_constraints(pod, DO_NOT_SCHEDULE)
            except StatusError:
                return QueueingHint.QUEUE_SKIP
            labels = meta.get("labels") or {}
            old_labels = ((old or {}).get("metadata") or {}).get("labels") or {}
            for c in constraints:
                if c.selector.matches(labels) or c.selector.matches(old_labels):
                    return QueueingHint.QUEUE
            return QueueingHint.QUEUE_SKIP

        def node_hint(pod: PodInfo, old: Any, new: Any) -> QueueingHint:
            keys = {str(c.get("topologyKey")) for c in pod.topology_spread if isinstance(c, dict)}
            for obj in (old, new):
                labels = ((obj or {}).get("metadata") or {}).get("labels") or {}
                if keys and keys <= set(labels):
                    return QueueingHint.QUEUE
            return QueueingHint.QUEUE_SKIP

        return [
            ClusterEventWithHint(ClusterEvent(ASSIGNED_POD, ActionType.ADD | ActionType.DELETE | ActionType.UPDATE_POD_LABEL),
                                 pod_hint),
            ClusterEventWithHint(ClusterEvent(NODE, ActionType.ADD | ActionType.DELETE | ActionType.UPDATE_NODE_LABEL
                                              | ActionType.UPDATE_NODE_TAINT), node_hint),
        ]


def new(args: Any, handle: Any) -> PodTopologySpread:
    return PodTopologySpread(args, handle)
