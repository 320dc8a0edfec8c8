"""The Node kind: what a kubelet registers, its status defaults and ``kubectl get nodes`` columns.

A kubelet creates its Node *with* a status (capacity, addresses, nodeInfo), so unlike most
kinds the status given on create is kept. ``status.allocatable`` defaults to the capacity
(``kubectl top`` and the scheduler read allocatable). Taints are validated as Kubernetes does,
podCIDR and providerID may only be set once, and ``spec.unschedulable`` is a field selector
(``kubectl drain`` / cordon use it).
"""
from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from kubelite.api.helpers.conditions import find_condition
from kubelite.api.registry import AGE_COLUMN, NAME_COLUMN, Column, ResourceType, Strategy, age
from kubelite.api.validation import (
    child, index, is_qualified_name, is_valid_label_value, key, required,
    validate_cidr, validate_enum, validate_ip, validate_quantity,
)
from kubelite.machinery.errors import FieldError, forbidden, invalid

TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
ADDRESS_TYPES = ("Hostname", "InternalIP", "ExternalIP", "InternalDNS", "ExternalDNS")
ROLE_PREFIX = "node-role.kubernetes.io/"
ROLE_LABEL = "kubernetes.io/role"


def default_node(node: dict[str, Any]) -> None:
    spec = node.get("spec")
    if isinstance(spec, dict):
        # podCIDR is podCIDRs[0], as Kubernetes' v1 conversion keeps it (the list wins).
        if spec.get("podCIDR") and not spec.get("podCIDRs"):
            spec["podCIDRs"] = [spec["podCIDR"]]
        elif spec.get("podCIDRs") and isinstance(spec["podCIDRs"][0], str):
            spec["podCIDR"] = spec["podCIDRs"][0]
    status = node.get("status")
    if isinstance(status, dict) and status.get("allocatable") is None and isinstance(status.get("capacity"), dict):
        status["allocatable"] = copy.deepcopy(status["capacity"])


def validate_taints(taints: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[tuple[str, str]] = set()
    for i, t in enumerate(taints or []):
        p = index(path, i)
        if not isinstance(t, dict):
            errs.append(invalid(p, t, "must be an object"))
            continue
        k = t.get("key") or ""
        if not k:
            errs.append(required(child(p, "key")))
        else:
            errs += [invalid(child(p, "key"), k, m) for m in is_qualified_name(k)]
        if t.get("value"):
            errs += [invalid(child(p, "value"), t["value"], m) for m in is_valid_label_value(str(t["value"]))]
        errs += validate_enum(t.get("effect"), child(p, "effect"), TAINT_EFFECTS)
        pair = (k, str(t.get("effect")))
        if pair in seen:
            errs.append(invalid(p, f"{k}:{t.get('effect')}", "taints must be unique by key and effect pair"))
        seen.add(pair)
    return errs


def validate_node(node: dict[str, Any]) -> list[FieldError]:
    spec, status = node.get("spec") or {}, node.get("status") or {}
    errs = validate_taints(spec.get("taints"), "spec.taints")
    # podCIDR is a copy of podCIDRs[0] (see default_node); Kubernetes reports on podCIDRs only.
    for i, cidr in enumerate(spec.get("podCIDRs") or []):
        errs += validate_cidr(cidr, index("spec.podCIDRs", i))
    for section in ("capacity", "allocatable"):
        for name, q in (status.get(section) or {}).items():
            errs += validate_quantity(q, key(child("status", section), name))
    for i, addr in enumerate(status.get("addresses") or []):
        p = index("status.addresses", i)
        errs += validate_enum((addr or {}).get("type"), child(p, "type"), ADDRESS_TYPES)
        if (addr or {}).get("type") in ("InternalIP", "ExternalIP"):
            errs += validate_ip((addr or {}).get("address"), child(p, "address"))
    return errs


def node_roles(labels: dict[str, str]) -> list[str]:
    """Roles from ``node-role.kubernetes.io/<role>`` label keys and the ``kubernetes.io/role`` value."""
    roles: set[str] = set()
    for k, v in labels.items():
        if k.startswith(ROLE_PREFIX) and k[len(ROLE_PREFIX):]:
            roles.add(k[len(ROLE_PREFIX):])
        elif k == ROLE_LABEL and v:
            roles.add(v)
    return sorted(roles)


def _address(status: dict[str, Any], kind: str) -> str:
    for a in status.get("addresses") or []:
        if isinstance(a, dict) and a.get("type") == kind:
            return a.get("address", "")
    return "<none>"


class NodeStrategy(Strategy):
    has_status = True
    columns = (
        NAME_COLUMN,
        Column("Status", description="The status of the node"),
        Column("Roles", description="The roles of the node"),
        AGE_COLUMN,
        Column("Version", description="Kubelet Version reported by the node."),
        Column("Internal-IP", priority=1, description="List of addresses reachable to the node."),
        Column("External-IP", priority=1, description="List of addresses reachable to the node."),
        Column("OS-Image", priority=1, description="OS Image reported by the node from /etc/os-release (e.g. "
                                                   "Debian GNU/Linux 7 (wheezy))."),
        Column("Kernel-Version", priority=1, description="Kernel Version reported by the node from 'uname -r' "
                                                         "(e.g. 3.16.0-0.bpo.4-amd64)."),
        Column("Container-Runtime", priority=1, description="ContainerRuntime Version reported by the node through "
                                                            "runtime remote API (e.g. containerd://1.4.2)."),
    )

    def defaults(self, obj: dict[str, Any]) -> None:
        default_node(obj)

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        """The registering kubelet's status is kept (Kubernetes does not reset it either)."""

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        return validate_node(obj)

    def validate_update(self, obj: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = validate_node(obj)
        spec, old_spec = obj.get("spec") or {}, old.get("spec") or {}
        if old_spec.get("podCIDRs") and spec.get("podCIDRs") != old_spec["podCIDRs"]:
            errs.append(forbidden("spec.podCIDRs", 'node updates may not change podCIDR except from "" to valid'))
        if old_spec.get("providerID") and spec.get("providerID") != old_spec["providerID"]:
            errs.append(forbidden("spec.providerID", 'node updates may not change providerID except from "" to valid'))
        return errs

    def spec_changed(self, obj: dict[str, Any], old: dict[str, Any]) -> bool:
        return obj.get("spec") != old.get("spec")

    def field_labels(self, obj: dict[str, Any]) -> dict[str, str]:
        return {"spec.unschedulable": "true" if (obj.get("spec") or {}).get("unschedulable") else "false"}

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
        ready = find_condition(status.get("conditions"), "Ready")
        states = [] if ready is None else ["Ready" if ready.get("status") == "True" else "NotReady"]
        if not states:
            states = ["Unknown"]
        if spec.get("unschedulable"):
            states.append("SchedulingDisabled")
        info = status.get("nodeInfo") or {}
        return [meta.get("name", ""), ",".join(states), ",".join(node_roles(meta.get("labels") or {})) or "<none>",
                age(obj, now), info.get("kubeletVersion", ""), _address(status, "InternalIP"),
                _address(status, "ExternalIP"), info.get("osImage") or "<unknown>",
                info.get("kernelVersion") or "<unknown>", info.get("containerRuntimeVersion") or "<unknown>"]


NODE = ResourceType(
    group="", version="v1", kind="Node", plural="nodes", singular="node", namespaced=False,
    strategy=NodeStrategy(), schema="io.k8s.api.core.v1.Node", short_names=("no",), subresources=("status", "proxy"),
)
