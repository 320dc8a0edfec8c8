"""Compiled pod (anti-)affinity terms (kube-scheduler's ``AffinityTerm``).

``PodInfo`` (``types.py``) compiles a pod's tolerations, ``nodeSelector``, node affinity and
pod (anti-)affinity once, when the pod enters the queue or the cache; the plugins
(tainttoleration, nodeunschedulable, nodeaffinity, podtopologyspread, interpodaffinity,
defaultpreemption) then match them against thousands of nodes and pods per cycle without
re-reading the JSON. Taints/tolerations and node selectors are compiled by the shared core/v1
helpers (``kubelite.api.helpers.taints`` / ``.nodeaffinity``); the pod affinity terms, which only
the scheduler evaluates, live here:

- a pod affinity term without ``namespaces`` and ``namespaceSelector`` means "the pod's own
  namespace"; an empty ``namespaceSelector`` ({}) means every namespace; a missing
  ``labelSelector`` selects no pod.
"""
from __future__ import annotations

from typing import Any, Mapping, NamedTuple

from kubelite.machinery.selectors import LabelSelector, from_label_selector

# -- pod affinity terms -------------------------------------------------------------------------


class AffinityTerm:
    """A compiled ``PodAffinityTerm``: which pods (selector), in which namespaces, spread over
    which node label (topology key)."""

    __slots__ = ("selector", "namespaces", "namespace_selector", "topology_key")

    def __init__(self, owner_namespace: str, raw: Mapping[str, Any]) -> None:
        self.selector: LabelSelector = from_label_selector(raw.get("labelSelector"))
        ns_sel = raw.get("namespaceSelector")
        namespaces = [str(n) for n in raw.get("namespaces") or ()]
        if not namespaces and ns_sel is None:
            namespaces = [owner_namespace]
        self.namespaces = frozenset(namespaces)
        self.namespace_selector: LabelSelector | None = None if ns_sel is None else from_label_selector(ns_sel)
        self.topology_key = str(raw.get("topologyKey") or "")

    def matches(self, namespace: str, labels: Mapping[str, str], ns_labels: Mapping[str, str] | None) -> bool:
        """Whether a pod in ``namespace`` with ``labels`` is selected; ``ns_labels`` are the
        labels of that namespace (None if unknown: treated as no labels)."""
        if namespace not in self.namespaces:
            sel = self.namespace_selector
            if sel is None or not sel.matches(ns_labels if ns_labels is not None else {}):
                return False
        return self.selector.matches(labels)


class WeightedAffinityTerm(NamedTuple):
    weight: int
    term: AffinityTerm
