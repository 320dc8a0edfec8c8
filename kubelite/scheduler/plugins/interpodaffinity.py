"""InterPodAffinity: ``affinity.podAffinity`` / ``podAntiAffinity``, required and preferred.

PreFilter counts, per topology domain (``(topologyKey, value)``):

- ``existing_anti``: domains holding a pod whose *required anti-affinity* selects the incoming
  pod (only nodes listed in the snapshot's "pods with required anti-affinity" are visited);
- ``affinity`` / ``anti``: domains holding pods selected by the incoming pod's required affinity
  / anti-affinity terms (all nodes are visited, only for pods that have such terms).

Filter, in kube's order: a domain in ``existing_anti`` -> "node(s) didn't satisfy existing pods
anti-affinity rules"; the pod's anti-affinity hit -> "node(s) didn't match pod anti-affinity
rules" (both Unschedulable: evicting the pods could help); every affinity term must see a
matching pod in the node's domain -> else "node(s) didn't match pod affinity rules"
(UnschedulableAndUnresolvable). The first pod of a group whose affinity selects itself may go
anywhere that has the topology keys, provided no pod anywhere matches yet.

Score: each existing pod contributes, to every node sharing its domain, the incoming pod's
preferred term weights it matches (+ for affinity, - for anti-affinity), and its own
preferred terms (and required affinity terms, with weight 1) that match the incoming pod.
Normalised min..max -> 0..100.

PreFilter extensions update the counts for preemption and nominated pods.
"""
from __future__ import annotations

from typing import Any

from kubelite.scheduler.framework.interface import (
    ASSIGNED_POD, MAX_NODE_SCORE, NODE, SKIP, ActionType, ClusterEvent, ClusterEventWithHint, CycleState,
    PreFilterResult, QueueingHint, Status, unresolvable, unschedulable,
)
from kubelite.scheduler.framework.terms import AffinityTerm
from kubelite.scheduler.framework.types import NodeInfo, PodInfo

NAME = "InterPodAffinity"
ERR_EXISTING_ANTI = "node(s) didn't satisfy existing pods anti-affinity rules"
ERR_AFFINITY = "node(s) didn't match pod affinity rules"
ERR_ANTI = "node(s) didn't match pod anti-affinity rules"
HARD_POD_AFFINITY_WEIGHT = 1
_PRE_FILTER_KEY = "PreFilter" + NAME
_PRE_SCORE_KEY = "PreScore" + NAME

Counts = dict[tuple[str, str], int]


def _add_counts(counts: Counts, terms: tuple[AffinityTerm, ...], target: PodInfo, node: NodeInfo,
                ns_labels: dict[str, str] | None, delta: int) -> None:
    """For each term selecting ``target``, add ``delta`` to the node's domain of that term."""
    labels = node.labels
    for t in terms:
        value = labels.get(t.topology_key)
        if value is not None and t.matches(target.namespace, target.labels, ns_labels):
            pair = (t.topology_key, value)
            counts[pair] = counts.get(pair, 0) + delta


def _all_match(terms: tuple[AffinityTerm, ...], pod: PodInfo, ns_labels: dict[str, str] | None) -> bool:
    return all(t.matches(pod.namespace, pod.labels, ns_labels) for t in terms)


class _PreFilterState:
    __slots__ = ("existing_anti", "affinity", "anti", "ns_labels")

    def __init__(self, ns_labels: dict[str, str] | None) -> None:
        self.existing_anti: Counts = {}
        self.affinity: Counts = {}
        self.anti: Counts = {}
        self.ns_labels = ns_labels

    def clone(self) -> "_PreFilterState":
        out = _PreFilterState(self.ns_labels)
        out.existing_anti = dict(self.existing_anti)
        out.affinity = dict(self.affinity)
        out.anti = dict(self.anti)
        return out


class InterPodAffinity:
    """Args: ``hardPodAffinityWeight`` (default 1), ``ignorePreferredTermsOfExistingPods``."""

    name = NAME

    def __init__(self, args: Any = None, handle: Any = None) -> None:
        args = args or {}
        self.handle = handle
        self.hard_weight = int(args.get("hardPodAffinityWeight", HARD_POD_AFFINITY_WEIGHT))
        self.ignore_existing_preferred = bool(args.get("ignorePreferredTermsOfExistingPods", False))

    def _ns_labels(self, namespace: str) -> dict[str, str] | None:
        return self.handle.namespace_labels(namespace) if self.handle is not None else None

    def _other_ns_labels(self, pod: PodInfo) -> Any:
        cache: dict[str, dict[str, str] | None] = {}

        def get(ns: str) -> dict[str, str] | None:
            if ns not in cache:
                cache[ns] = self._ns_labels(ns)
            return cache[ns]
        return get

    # -- filter -----------------------------------------------------------------------------

    def pre_filter(self, state: CycleState, pod: PodInfo,
                   nodes: list[NodeInfo]) -> tuple[PreFilterResult | None, Status | None]:
        if pod.parse_error:
            return None, unresolvable(pod.parse_error)
        snap = self.handle.snapshot()
        with_anti = snap.have_pods_with_required_anti_affinity()
        if not pod.required_affinity and not pod.required_anti_affinity and not with_anti:
            return None, SKIP
        s = _PreFilterState(self._ns_labels(pod.namespace))
        # Existing pods whose required anti-affinity selects the incoming pod.
        for node in with_anti:
            for existing in node.pods_with_required_anti_affinity.values():
                _add_counts(s.existing_anti, existing.required_anti_affinity, pod, node, s.ns_labels, 1)
        # Pods selected by the incoming pod's own required terms.
        if pod.required_affinity or pod.required_anti_affinity:
            ns_of = self._other_ns_labels(pod)
            for node in snap.list():
                if not node.pods:
                    continue
                for existing in node.pods.values():
                    nsl = ns_of(existing.namespace) if existing.namespace != pod.namespace else s.ns_labels
                    if pod.required_affinity and _all_match(pod.required_affinity, existing, nsl):
                        _add_counts(s.affinity, pod.required_affinity, existing, node, nsl, 1)
                    if pod.required_anti_affinity:
                        _add_counts(s.anti, pod.required_anti_affinity, existing, node, nsl, 1)
        state.write(_PRE_FILTER_KEY, s)
        return None, None

    def pre_filter_extensions(self) -> "InterPodAffinity":
        return self

    def _update(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo, delta: int) -> None:
        s: _PreFilterState | None = state.get(_PRE_FILTER_KEY)
        if s is None:
            return
        nsl = self._ns_labels(other.namespace) if other.namespace != pod.namespace else s.ns_labels
        _add_counts(s.existing_anti, other.required_anti_affinity, pod, node, s.ns_labels, delta)
        if pod.required_affinity and _all_match(pod.required_affinity, other, nsl):
            _add_counts(s.affinity, pod.required_affinity, other, node, nsl, delta)
        _add_counts(s.anti, pod.required_anti_affinity, other, node, nsl, delta)

    def add_pod(self, state: CycleState, pod: PodInfo, to_add: PodInfo, node: NodeInfo) -> Status | None:
        self._update(state, pod, to_add, node, 1)
        return None

    def remove_pod(self, state: CycleState, pod: PodInfo, to_remove: PodInfo, node: NodeInfo) -> Status | None:
        self._update(state, pod, to_remove, node, -1)
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        s: _PreFilterState = state.read(_PRE_FILTER_KEY)
        labels = node.labels
        if s.existing_anti:
            for k, lv in labels.items():
                if s.existing_anti.get((k, lv), 0) > 0:
                    return unschedulable(ERR_EXISTING_ANTI)
        if pod.required_anti_affinity and s.anti:
            for t in pod.required_anti_affinity:
                v = labels.get(t.topology_key)
                if v is not None and s.anti.get((t.topology_key, v), 0) > 0:
                    return unschedulable(ERR_ANTI)
        if pod.required_affinity:
            ok = True
            for t in pod.required_affinity:
                v = labels.get(t.topology_key)
                if v is None or s.affinity.get((t.topology_key, v), 0) <= 0:
                    ok = False
                    break
            if not ok:
                # The first pod of a self-affine group: no pod anywhere matches yet, and the pod
                # matches its own terms -> any node with the topology keys will do.
                if any(n > 0 for n in s.affinity.values()) or not _all_match(pod.required_affinity, pod, s.ns_labels):
                    return unresolvable(ERR_AFFINITY)
                if any(t.topology_key not in labels for t in pod.required_affinity):
                    return unresolvable(ERR_AFFINITY)
        return None

    # -- score ------------------------------------------------------------------------------

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        if not nodes:
            return SKIP
        has_pref = bool(pod.preferred_affinity or pod.preferred_anti_affinity)
        if self.ignore_existing_preferred and not has_pref:
            return SKIP
        snap = self.handle.snapshot()
        visit = snap.list() if has_pref else snap.have_pods_with_affinity()
        if not visit:
            return SKIP
        ns_labels = self._ns_labels(pod.namespace)
        ns_of = self._other_ns_labels(pod)
        scores: dict[str, dict[str, int]] = {}

        def credit(t: AffinityTerm, weight: int, target: PodInfo, nsl: Any, node: NodeInfo) -> None:
            v = node.labels.get(t.topology_key)
            if v is not None and t.matches(target.namespace, target.labels, nsl):
                per_key = scores.setdefault(t.topology_key, {})
                per_key[v] = per_key.get(v, 0) + weight

        for node in visit:
            if not node.labels:
                continue
            existing_pods = node.pods.values() if has_pref else node.pods_with_affinity.values()
            for existing in existing_pods:
                if has_pref:
                    nsl = ns_of(existing.namespace) if existing.namespace != pod.namespace else ns_labels
                    for w, t in pod.preferred_affinity:
                        credit(t, w, existing, nsl, node)
                    for w, t in pod.preferred_anti_affinity:
                        credit(t, -w, existing, nsl, node)
                if self.hard_weight > 0:
                    for t in existing.required_affinity:
                        credit(t, self.hard_weight, pod, ns_labels, node)
                if not self.ignore_existing_preferred:
                    for w, t in existing.preferred_affinity:
                        credit(t, w, pod, ns_labels, node)
                    for w, t in existing.preferred_anti_affinity:
                        credit(t, -w, pod, ns_labels, node)
        if not scores:
            return SKIP
        state.write(_PRE_SCORE_KEY, scores)
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        scores: dict[str, dict[str, int]] = state.read(_PRE_SCORE_KEY)
        total = 0
        for key, per_value in scores.items():
            v = node.labels.get(key)
            if v is not None:
                total += per_value.get(v, 0)
        return total

    def normalize_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], scores: list[int]) -> None:
        if not scores:
            return
        lo, hi = min(scores), max(scores)
        diff = hi - lo
        for i, s in enumerate(scores):
            scores[i] = int(MAX_NODE_SCORE * ((s - lo) / diff)) if diff > 0 else 0

    # -- queueing ---------------------------------------------------------------------------

    def events_to_register(self) -> list[ClusterEventWithHint]:
        def pod_hint(pod: PodInfo, old: Any, new: Any) -> QueueingHint:
            other = PodInfo(new if new is not None else old)
            nsl = self._ns_labels(other.namespace)
            if new is not None:
                # A pod appeared (or relabelled): it may satisfy our affinity.
                if any(t.matches(other.namespace, other.labels, nsl) for t in pod.required_affinity):
                    return QueueingHint.QUEUE
                return QueueingHint.QUEUE_SKIP
            # A pod went away: it may have been what blocked us by anti-affinity.
            if any(t.matches(other.namespace, other.labels, nsl) for t in pod.required_anti_affinity):
                return QueueingHint.QUEUE
            own_nsl = self._ns_labels(pod.namespace)
            if any(t.matches(pod.namespace, pod.labels, own_nsl) for t in other.required_anti_affinity):
                return QueueingHint.QUEUE
            return QueueingHint.QUEUE_SKIP

        return [
            ClusterEventWithHint(ClusterEvent(ASSIGNED_POD, ActionType.ADD | ActionType.DELETE | ActionType.UPDATE_POD_LABEL),
                                 pod_hint),
            ClusterEventWithHint(ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_LABEL)),
        ]


def new(args: Any, handle: Any) -> InterPodAffinity:
    return InterPodAffinity(args, handle)
