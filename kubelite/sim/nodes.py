"""Hollow nodes as data: the options that shape them, their addresses, and the Node and Lease
objects a kubelet would write for them.

``SimCluster`` (runner.py) and ``kubelite sim`` (cli) call these pure functions; nothing here
does I/O. ``node_options(...)`` validates user input (``--label k=v``, ``--taint k=v:Effect``,
``--extended nvidia.com/gpu=4``, quantities, the name prefix) and raises a 400/422
``StatusError`` naming the bad value. Addressing is by *slot*: slot ``s`` owns node IP
``10.200.0.0 + s + 1`` (10.200.0.0/13) and the ``s``-th pod block of 10.64.0.0/10, one /24
when ``pods`` <= 254 (so slot 0 -> 10.200.0.1 and 10.64.0.0/24, slot 300 -> 10.200.1.45 and
10.65.44.0/24). Those ranges stay clear of k3s' usual pod and service CIDRs (10.42/16,
10.43/16), so simulated pods never look like Services.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import kubelite
from kubelite.api.validation import is_dns1123_subdomain, is_qualified_name, is_valid_label_value
from kubelite.machinery import quantity
from kubelite.machinery.errors import FieldError, StatusError, bad_request, invalid, invalid_object

SIM_LABEL = "kubelite.io/simulated"
NODE_LEASE_NAMESPACE = "kube-node-lease"
#: simulated kubelets run the API level the server reports
KUBELET_VERSION = kubelite.KUBERNETES_VERSION
RUNTIME_VERSION = "sim://1"
KUBELET_PORT = 10250
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
REGION = "sim"

NODE_IP_BASE = ipaddress.IPv4Network("10.200.0.0/13")
POD_IP_BASE = ipaddress.IPv4Network("10.64.0.0/10")

# Condition type -> (status, reason, message) as a healthy kubelet reports it.
HEALTHY_CONDITIONS: dict[str, tuple[str, str, str]] = {
    "NetworkUnavailable": ("False", "RouteCreated", "simulated node network is up"),
    "MemoryPressure": ("False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    "DiskPressure": ("False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    "PIDPressure": ("False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    "Ready": ("True", "KubeletReady", "kubelet is posting ready status"),
}


@dataclass(frozen=True)
class NodeOptions:
    """Validated shape of every simulated node (see ``node_options``)."""

    prefix: str = "sim"
    capacity: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[Mapping[str, str], ...] = ()
    zones: tuple[str, ...] = ("zone-a", "zone-b", "zone-c")
    pod_block_prefix: int = 24

    @property
    def max_pods(self) -> int:
        return quantity.to_int(self.capacity["pods"])

    @property
    def max_slots(self) -> int:
        """How many nodes fit the address plan (node IPs and pod blocks)."""
        blocks = 2 ** (self.pod_block_prefix - POD_IP_BASE.prefixlen)
        return min(blocks, NODE_IP_BASE.num_addresses - 2)


def _pairs(items: Mapping[str, Any] | Iterable[str] | None, what: str) -> dict[str, str]:
    """``{"k": "v"}`` or ``["k=v", ...]`` -> dict; 400 for an item without ``=``."""
    if items is None:
        return {}
    if isinstance(items, Mapping):
        return {str(k): str(v) for k, v in items.items()}
    out: dict[str, str] = {}
    for item in items:
        k, sep, v = str(item).partition("=")
        if not sep or not k:
            raise bad_request(f"invalid {what} {item!r}: expected KEY=VALUE")
        out[k] = v
    return out


def parse_taint(spec: str | Mapping[str, Any]) -> dict[str, str]:
    """``"dedicated=gpu:NoSchedule"`` or ``"dedicated:NoSchedule"`` -> a Node taint."""
    if isinstance(spec, Mapping):
        taint = {k: str(v) for k, v in spec.items() if k in ("key", "value", "effect") and v is not None}
    else:
        kv, sep, effect = str(spec).rpartition(":")
        if not sep:
            raise bad_request(f"invalid taint {spec!r}: expected KEY[=VALUE]:EFFECT")
        key, _, value = kv.partition("=")
        taint = {"key": key, "effect": effect}
        if value:
            taint["value"] = value
    return taint


def _check_taints(taints: Sequence[Mapping[str, str]]) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[tuple[str, str]] = set()
    for i, t in enumerate(taints):
        path = f"spec.taints[{i}]"
        key = t.get("key", "")
        errs += [invalid(path + ".key", key, m) for m in is_qualified_name(key)]
        if t.get("value"):
            errs += [invalid(path + ".value", t["value"], m) for m in is_valid_label_value(t["value"])]
        if t.get("effect") not in TAINT_EFFECTS:
            errs.append(invalid(path + ".effect", t.get("effect"), "must be one of " + ", ".join(TAINT_EFFECTS)))
        if (key, t.get("effect", "")) in seen:
            errs.append(invalid(path, f"{key}:{t.get('effect')}", "taints must be unique by key and effect pair"))
        seen.add((key, t.get("effect", "")))
    return errs


def node_options(*, prefix: str = "sim", cpu: str | int = "32", memory: str = "256Gi", pods: int | str = 110,
                 ephemeral_storage: str = "1Ti", zones: Sequence[str] | str | None = None,
                 labels: Mapping[str, str] | Iterable[str] | None = None,
                 taints: Iterable[str | Mapping[str, Any]] | None = None,
                 extended: Mapping[str, Any] | Iterable[str] | None = None) -> NodeOptions:
    """Validate and normalise the node-shaping options; 400/422 ``StatusError`` on bad input.

    ``zones`` is a list or a comma-separated string; an empty list means no zone label.
    """
    errs: list[FieldError] = []
    if not prefix:
        raise bad_request("the node prefix must not be empty")
    for m in is_dns1123_subdomain(f"{prefix}-0"):
        errs.append(invalid("prefix", prefix, m))
    capacity: dict[str, str] = {"cpu": str(cpu), "memory": str(memory), "pods": str(pods),
                                "ephemeral-storage": str(ephemeral_storage),
                                "hugepages-1Gi": "0", "hugepages-2Mi": "0"}
    for name, q in _pairs(extended, "extended resource").items():
        errs += [invalid(f"extended[{name}]", name, m) for m in is_qualified_name(name)]
        if "/" not in name:
            errs.append(invalid(f"extended[{name}]", name, "extended resources must be domain-qualified "
                                                        "(e.g. nvidia.com/gpu)"))
        capacity[name] = str(q)
    for name, q in capacity.items():
        if not quantity.is_valid(q) or quantity.parse_quantity(q).value < 0:
            errs.append(invalid(f"capacity[{name}]", q, "must be a non-negative quantity"))
    node_labels = _pairs(labels, "label")
    for k, v in node_labels.items():
        errs += [invalid(f"labels[{k}]", k, m) for m in is_qualified_name(k)]
        errs += [invalid(f"labels[{k}]", v, m) for m in is_valid_label_value(v)]
    if zones is None:
        zone_list: tuple[str, ...] = NodeOptions.zones
    elif isinstance(zones, str):
        zone_list = tuple(z.strip() for z in zones.split(",") if z.strip())
    else:
        zone_list = tuple(zones)
    for z in zone_list:
        errs += [invalid("zones", z, m) for m in is_valid_label_value(z)]
    taint_list = tuple(parse_taint(t) for t in (taints or ()))
    errs += _check_taints(taint_list)
    if errs:
        raise invalid_object("Node", "", f"{prefix}-0", errs)
    max_pods = quantity.to_int(capacity["pods"])
    # The smallest block holding max_pods addresses besides network and broadcast, at least a /24.
    block = 24
    while 2 ** (32 - block) - 2 < max_pods:
        block -= 1
    if block <= POD_IP_BASE.prefixlen:
        raise invalid_object("Node", "", f"{prefix}-0",
                             [invalid("pods", pods, "too many pods per node for the simulated pod network")])
    return NodeOptions(prefix=prefix, capacity=capacity, labels=node_labels, taints=taint_list,
                       zones=zone_list, pod_block_prefix=block)


# -- addressing -----------------------------------------------------------------------------------


def node_name(prefix: str, index: int) -> str:
    return f"{prefix}-{index}"


def slot_node_ip(slot: int) -> str:
    """Slot 0 -> 10.200.0.1, slot 255 -> 10.200.1.0 (every address of the /13 is a valid host)."""
    return str(NODE_IP_BASE.network_address + slot + 1)


def slot_pod_cidr(slot: int, block_prefix: int = 24) -> str:
    size = 2 ** (32 - block_prefix)
    return f"{POD_IP_BASE.network_address + slot * size}/{block_prefix}"


def node_ip_slot(ip: str) -> int | None:
    """Inverse of ``slot_node_ip``; None for an address outside the plan."""
    try:
        addr = ipaddress.IPv4Address(ip)
    except ValueError:
        return None
    if addr not in NODE_IP_BASE:
        return None
    slot = int(addr) - int(NODE_IP_BASE.network_address) - 1
    return slot if slot >= 0 else None


def node_addresses(node: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(InternalIP, spec.podCIDR) of an existing Node, for re-registration."""
    ip = next((a.get("address") for a in (node.get("status") or {}).get("addresses") or ()
               if isinstance(a, dict) and a.get("type") == "InternalIP"), None)
    return ip, (node.get("spec") or {}).get("podCIDR") or None


# -- objects --------------------------------------------------------------------------------------


def micro_time(t: dt.datetime) -> str:
    """metav1.MicroTime: ``2025-01-01T00:00:00.000000Z`` (Lease renewTime)."""
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def rfc3339(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


ConditionSummary = Mapping[str, tuple[str, str]]


def condition_summary(conditions: Iterable[Any] | None) -> dict[str, tuple[str, str]]:
    """``{type: (status, lastTransitionTime)}`` of a Node's conditions: all the sim keeps of
    them (a few hundred bytes instead of a few kB per node)."""
    return {c["type"]: (str(c.get("status")), c.get("lastTransitionTime") or "")
            for c in conditions or () if isinstance(c, dict) and c.get("type")}


def node_conditions(now: str, previous: ConditionSummary | None = None) -> list[dict[str, Any]]:
    """Healthy conditions with ``lastHeartbeatTime`` = now; ``lastTransitionTime`` is kept from
    ``previous`` (a ``condition_summary``) when the status did not change (Ready stays True),
    else now (e.g. the node lifecycle controller had set Ready=Unknown while we were away)."""
    prev = previous or {}
    out: list[dict[str, Any]] = []
    for ctype, (status, reason, message) in HEALTHY_CONDITIONS.items():
        old_status, since = prev.get(ctype, ("", ""))
        out.append({"type": ctype, "status": status, "lastHeartbeatTime": now,
                    "lastTransitionTime": since if old_status == status and since else now,
                    "reason": reason, "message": message})
    return out


def conditions_healthy(summary: ConditionSummary) -> bool:
    """Whether every condition a sim kubelet owns has its healthy status."""
    return all(summary.get(t, ("",))[0] == s for t, (s, _, _) in HEALTHY_CONDITIONS.items())


def node_labels(opts: NodeOptions, name: str, index: int) -> dict[str, str]:
    labels = {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "node.kubernetes.io/instance-type": "sim",
        SIM_LABEL: "true",
    }
    if opts.zones:
        labels["topology.kubernetes.io/region"] = REGION
        labels["topology.kubernetes.io/zone"] = opts.zones[index % len(opts.zones)]
    labels.update(opts.labels)
    return labels


def node_status(opts: NodeOptions, name: str, ip: str, now: str, boot_id: str) -> dict[str, Any]:
    digest = hashlib.sha256(name.encode()).hexdigest()
    return {
        "capacity": dict(opts.capacity),
        "allocatable": dict(opts.capacity),
        "conditions": node_conditions(now),
        "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": KUBELET_PORT}},
        "nodeInfo": {
            "machineID": digest[:32],
            "systemUUID": str(uuid.UUID(digest[32:64])),
            "bootID": boot_id,
            "kernelVersion": "6.1.0-sim",
            "osImage": "kubelite simulated node",
            "containerRuntimeVersion": RUNTIME_VERSION,
            "kubeletVersion": KUBELET_VERSION,
            "kubeProxyVersion": KUBELET_VERSION,
            "operatingSystem": "linux",
            "architecture": "amd64",
        },
    }


def build_node(opts: NodeOptions, index: int, *, ip: str, pod_cidr: str, now: str, boot_id: str) -> dict[str, Any]:
    """The Node a kubelet registers: labels, podCIDR, taints (only at registration, as with
    ``--register-with-taints``) and a Ready status."""
    name = node_name(opts.prefix, index)
    spec: dict[str, Any] = {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr], "providerID": f"sim://{name}"}
    if opts.taints:
        spec["taints"] = [dict(t) for t in opts.taints]
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {
            "name": name,
            "labels": node_labels(opts, name, index),
            "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                            "volumes.kubernetes.io/controller-managed-attach-detach": "true"},
        },
        "spec": spec,
        "status": node_status(opts, name, ip, now, boot_id),
    }


def build_lease(name: str, node_uid: str | None, renew: str, duration: int) -> dict[str, Any]:
    """The node's heartbeat Lease in kube-node-lease, owned by the Node so that deleting the
    Node garbage-collects it (as the kubelet does)."""
    meta: dict[str, Any] = {"name": name, "namespace": NODE_LEASE_NAMESPACE}
    if node_uid:
        meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": name, "uid": node_uid}]
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta,
            "spec": {"holderIdentity": name, "leaseDurationSeconds": duration, "renewTime": renew}}


def require_positive(name: str, value: float | int, *, allow_zero: bool = False) -> None:
    if not isinstance(value, (int, float)) or value < 0 or (value == 0 and not allow_zero):
        raise StatusError(422, "Invalid", f"{name}: Invalid value: {value!r}: must be "
                                          f"{'non-negative' if allow_zero else 'greater than 0'}")
