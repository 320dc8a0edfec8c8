"""Fluent builders for scheduler tests: ``make_pod("p").req(cpu="500m").node_selector(disk="ssd")``,
``make_node("n1").capacity(cpu="4", memory="32Gi").label(zone="a").taint("k", "v", "NoSchedule")``.
``.obj()`` gives the JSON dict, ``.info()`` the scheduler's PodInfo / NodeInfo."""
from __future__ import annotations

import copy
import itertools
from typing import Any

from kubelite.scheduler.framework.types import NodeInfo, PodInfo

_uid = itertools.count(1)


class PodBuilder:
    def __init__(self, name: str, namespace: str) -> None:
        self._o: dict[str, Any] = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}-{next(_uid)}",
                         "creationTimestamp": "2025-01-01T00:00:00Z"},
            "spec": {"containers": [{"name": "c", "image": "pause"}], "schedulerName": "default-scheduler"},
            "status": {"phase": "Pending"},
        }

    @property
    def _spec(self) -> dict[str, Any]:
        return self._o["spec"]  # type: ignore[no-any-return]

    def req(self, **resources: str) -> "PodBuilder":
        """Requests of the (first) container; extended names with '_' for '/', '.' for '.':
        ``req(cpu="1", **{"nvidia.com/gpu": "1"})``."""
        c = self._spec["containers"][0]
        c.setdefault("resources", {}).setdefault("requests", {}).update(resources)
        return self

    def container(self, **resources: str) -> "PodBuilder":
        """Add another container with these requests."""
        self._spec["containers"].append({"name": f"c{len(self._spec['containers'])}", "image": "pause",
                                         "resources": {"requests": dict(resources)}})
        return self

    def init_container(self, sidecar: bool = False, **resources: str) -> "PodBuilder":
        c: dict[str, Any] = {"name": f"init{len(self._spec.get('initContainers', []))}", "image": "pause",
                             "resources": {"requests": dict(resources)}}
        if sidecar:
            c["restartPolicy"] = "Always"
        self._spec.setdefault("initContainers", []).append(c)
        return self

    def labels(self, **labels: str) -> "PodBuilder":
        self._o["metadata"].setdefault("labels", {}).update(labels)
        return self

    def label(self, key: str, value: str) -> "PodBuilder":
        self._o["metadata"].setdefault("labels", {})[key] = value
        return self

    def priority(self, p: int) -> "PodBuilder":
        self._spec["priority"] = p
        return self

    def preemption_policy(self, policy: str) -> "PodBuilder":
        self._spec["preemptionPolicy"] = policy
        return self

    def node(self, name: str) -> "PodBuilder":
        self._spec["nodeName"] = name
        return self

    def scheduler_name(self, name: str) -> "PodBuilder":
        self._spec["schedulerName"] = name
        return self

    def node_selector(self, **sel: str) -> "PodBuilder":
        self._spec.setdefault("nodeSelector", {}).update(sel)
        return self

    def node_affinity_in(self, key: str, *values: str, op: str = "In") -> "PodBuilder":
        """A required node affinity term (each call adds another ORed term)."""
        req = self._spec.setdefault("affinity", {}).setdefault("nodeAffinity", {}).setdefault(
            "requiredDuringSchedulingIgnoredDuringExecution", {"nodeSelectorTerms": []})
        req["nodeSelectorTerms"].append({"matchExpressions": [{"key": key, "operator": op, "values": list(values)}]})
        return self

    def node_name_affinity(self, *names: str) -> "PodBuilder":
        req = self._spec.setdefault("affinity", {}).setdefault("nodeAffinity", {}).setdefault(
            "requiredDuringSchedulingIgnoredDuringExecution", {"nodeSelectorTerms": []})
        req["nodeSelectorTerms"].append({"matchFields": [{"key": "metadata.name", "operator": "In",
                                                          "values": list(names)}]})
        return self

    def preferred_node(self, weight: int, key: str, *values: str, op: str = "In") -> "PodBuilder":
        pref = self._spec.setdefault("affinity", {}).setdefault("nodeAffinity", {}).setdefault(
            "preferredDuringSchedulingIgnoredDuringExecution", [])
        pref.append({"weight": weight, "preference": {"matchExpressions": [
            {"key": key, "operator": op, "values": list(values)}]}})
        return self

    def toleration(self, key: str = "", value: str = "", effect: str = "", operator: str = "Equal") -> "PodBuilder":
        t = {"key": key, "operator": operator, "effect": effect}
        if operator == "Equal":
            t["value"] = value
        self._spec.setdefault("tolerations", []).append(t)
        return self

    def host_port(self, port: int, protocol: str = "TCP", ip: str = "") -> "PodBuilder":
        p: dict[str, Any] = {"containerPort": port, "hostPort": port, "protocol": protocol}
        if ip:
            p["hostIP"] = ip
        self._spec["containers"][0].setdefault("ports", []).append(p)
        return self

    def spread(self, max_skew: int, key: str, when: str = "DoNotSchedule", min_domains: int | None = None,
               **match: str) -> "PodBuilder":
        c: dict[str, Any] = {"maxSkew": max_skew, "topologyKey": key, "whenUnsatisfiable": when,
                             "labelSelector": {"matchLabels": dict(match)}}
        if min_domains is not None:
            c["minDomains"] = min_domains
        self._spec.setdefault("topologySpreadConstraints", []).append(c)
        return self

    def _pod_term(self, kind: str, key: str, weight: int | None, namespaces: list[str] | None,
                  match: dict[str, str]) -> "PodBuilder":
        term: dict[str, Any] = {"labelSelector": {"matchLabels": match}, "topologyKey": key}
        if namespaces is not None:
            term["namespaces"] = namespaces
        aff = self._spec.setdefault("affinity", {}).setdefault(kind, {})
        if weight is None:
            aff.setdefault("requiredDuringSchedulingIgnoredDuringExecution", []).append(term)
        else:
            aff.setdefault("preferredDuringSchedulingIgnoredDuringExecution", []).append(
                {"weight": weight, "podAffinityTerm": term})
        return self

    def pod_affinity(self, key: str, *, weight: int | None = None, namespaces: list[str] | None = None,
                     **match: str) -> "PodBuilder":
        return self._pod_term("podAffinity", key, weight, namespaces, match)

    def pod_anti_affinity(self, key: str, *, weight: int | None = None, namespaces: list[str] | None = None,
                          **match: str) -> "PodBuilder":
        return self._pod_term("podAntiAffinity", key, weight, namespaces, match)

    def gate(self, name: str) -> "PodBuilder":
        self._spec.setdefault("schedulingGates", []).append({"name": name})
        return self

    def start_time(self, ts: str) -> "PodBuilder":
        self._o["status"]["startTime"] = ts
        return self

    def nominated(self, node: str) -> "PodBuilder":
        self._o["status"]["nominatedNodeName"] = node
        return self

    def terminating(self) -> "PodBuilder":
        self._o["metadata"]["deletionTimestamp"] = "2025-01-01T00:00:00Z"
        return self

    def owner(self, kind: str, name: str) -> "PodBuilder":
        self._o["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": kind, "name": name,
                                                   "uid": f"owner-{name}", "controller": True}]
        return self

    def obj(self) -> dict[str, Any]:
        return copy.deepcopy(self._o)

    def info(self) -> PodInfo:
        return PodInfo(self.obj())


class NodeBuilder:
    def __init__(self, name: str) -> None:
        self._o: dict[str, Any] = {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "spec": {},
            "status": {"allocatable": {"cpu": "4", "memory": "32Gi", "pods": "110"},
                       "capacity": {"cpu": "4", "memory": "32Gi", "pods": "110"},
                       "conditions": [{"type": "Ready", "status": "True"}]},
        }

    def capacity(self, **resources: str) -> "NodeBuilder":
        """Replace allocatable (and capacity) with exactly these resources."""
        self._o["status"]["allocatable"] = dict(resources)
        self._o["status"]["capacity"] = dict(resources)
        return self

    def extra(self, **resources: str) -> "NodeBuilder":
        self._o["status"]["allocatable"].update(resources)
        return self

    def label(self, **labels: str) -> "NodeBuilder":
        self._o["metadata"]["labels"].update(labels)
        return self

    def labels(self, labels: dict[str, str]) -> "NodeBuilder":
        self._o["metadata"]["labels"].update(labels)
        return self

    def taint(self, key: str, value: str = "", effect: str = "NoSchedule") -> "NodeBuilder":
        self._o["spec"].setdefault("taints", []).append({"key": key, "value": value, "effect": effect})
        return self

    def unschedulable(self) -> "NodeBuilder":
        self._o["spec"]["unschedulable"] = True
        return self

    def obj(self) -> dict[str, Any]:
        return copy.deepcopy(self._o)

    def info(self, *pods: PodBuilder | PodInfo) -> NodeInfo:
        ni = NodeInfo(self.obj())
        for p in pods:
            pi = p if isinstance(p, PodInfo) else p.info()
            if not pi.node_name:
                pi = pi.assumed(ni.name)
            ni.add_pod(pi)
        return ni


def make_pod(name: str = "p", namespace: str = "default") -> PodBuilder:
    return PodBuilder(name, namespace)


def make_node(name: str = "n1") -> NodeBuilder:
    return NodeBuilder(name)
