"""Taints and tolerations: does a toleration tolerate a taint (core/v1
``Toleration.ToleratesTaint``) and which taint of a node a pod does not tolerate
(component-helpers ``FindMatchingUntoleratedTaint``). The scheduler, the DaemonSet controller,
the node lifecycle controller (taint eviction) and the node agent's admission all use these.

Rules, as in Kubernetes: a toleration with an effect matches only taints with that effect (an
empty effect matches every effect); a toleration with a key matches only that key (an empty key
matches every key); ``Exists`` then matches any value and ``Equal`` — or no operator — compares
values. So ``{operator: Exists}`` tolerates everything.

Invalid input (API validation rejects it; stored objects may predate that): an empty key with
``Equal`` compares values against every taint's value, exactly as Kubernetes' ToleratesTaint does
(two of kubelite's former copies refused it instead); an unknown operator (e.g. ``Gt``, gated off
in Kubernetes) tolerates nothing; a non-object entry in a taint or toleration list is ignored.
``Taint``/``Toleration`` are the compiled forms the scheduler keeps per pod and per node; the
``*_of``/dict-taking functions are for callers holding plain objects.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

TAINT_NO_SCHEDULE = "NoSchedule"
TAINT_PREFER_NO_SCHEDULE = "PreferNoSchedule"
TAINT_NO_EXECUTE = "NoExecute"
TAINT_EFFECTS = (TAINT_NO_SCHEDULE, TAINT_PREFER_NO_SCHEDULE, TAINT_NO_EXECUTE)
# Well-known taint keys (core/v1 well_known_taints.go): the node lifecycle controller sets them
# from node conditions, the node agent and DaemonSets tolerate them.
TAINT_NODE_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_NODE_UNREACHABLE = "node.kubernetes.io/unreachable"
TAINT_NODE_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
TAINT_NODE_MEMORY_PRESSURE = "node.kubernetes.io/memory-pressure"
TAINT_NODE_DISK_PRESSURE = "node.kubernetes.io/disk-pressure"
TAINT_NODE_PID_PRESSURE = "node.kubernetes.io/pid-pressure"
TAINT_NODE_NETWORK_UNAVAILABLE = "node.kubernetes.io/network-unavailable"
#: the effects that keep a pod off a node (what the scheduler's filter and kubelet admission check)
BLOCKING_EFFECTS = (TAINT_NO_SCHEDULE, TAINT_NO_EXECUTE)


class Taint(NamedTuple):
    key: str
    value: str
    effect: str


class Toleration(NamedTuple):
    key: str
    operator: str
    value: str
    effect: str

    def tolerates(self, taint: Taint) -> bool:
        """core/v1 ToleratesTaint."""
        if self.effect and self.effect != taint.effect:
            return False
        if self.key and self.key != taint.key:
            return False
        op = self.operator
        if op == "Exists":
            return True
        if op == "" or op == "Equal":
            return self.value == taint.value
        return False


def _s(v: Any) -> str:
    return "" if v is None else str(v)


def taint_of(raw: Mapping[str, Any]) -> Taint:
    return Taint(_s(raw.get("key")), _s(raw.get("value")), _s(raw.get("effect")))


def toleration_of(raw: Mapping[str, Any]) -> Toleration:
    return Toleration(_s(raw.get("key")), _s(raw.get("operator")), _s(raw.get("value")), _s(raw.get("effect")))


def parse_taints(raw: Any) -> tuple[Taint, ...]:
    """A node's ``spec.taints`` (None or a list) compiled; non-objects are skipped."""
    return tuple(taint_of(t) for t in raw or () if isinstance(t, Mapping))


def parse_tolerations(raw: Any) -> tuple[Toleration, ...]:
    """A pod's ``spec.tolerations`` compiled; non-objects are skipped."""
    return tuple(toleration_of(t) for t in raw or () if isinstance(t, Mapping))


def tolerates_taint(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    """Does one toleration (a dict) tolerate one taint (a dict)."""
    return toleration_of(toleration).tolerates(taint_of(taint))


def any_tolerates(tolerations: Iterable[Toleration], taint: Taint) -> bool:
    """Does some compiled toleration tolerate the compiled taint."""
    for t in tolerations:
        if t.tolerates(taint):
            return True
    return False


def first_untolerated(taints: Iterable[Taint], tolerations: tuple[Toleration, ...],
                      effects: tuple[str, ...] = BLOCKING_EFFECTS) -> Taint | None:
    """The first compiled taint with one of ``effects`` that no toleration tolerates."""
    for taint in taints:
        if taint.effect in effects and not any_tolerates(tolerations, taint):
            return taint
    return None


def find_untolerated_taint(taints: Iterable[Any], tolerations: Iterable[Any],
                           effects: Iterable[str] = BLOCKING_EFFECTS) -> Mapping[str, Any] | None:
    """The first taint (dict, as given) with one of ``effects`` that none of the tolerations
    (dicts) tolerates; None when all are tolerated."""
    wanted = tuple(effects)
    tols = parse_tolerations(tolerations)
    for raw in taints or ():
        if not isinstance(raw, Mapping):
            continue
        taint = taint_of(raw)
        if taint.effect in wanted and not any_tolerates(tols, taint):
            return raw
    return None


def matching_tolerations(tolerations: Iterable[Any], taint: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The tolerations (dicts, as given) that tolerate ``taint`` — taint eviction takes the
    smallest ``tolerationSeconds`` among them."""
    t = taint_of(taint)
    return [raw for raw in tolerations or () if isinstance(raw, Mapping) and toleration_of(raw).tolerates(t)]
