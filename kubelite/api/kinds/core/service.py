"""The Service kind: defaults, validation, update rules and ``kubectl get svc`` columns.

Defaults mirror SetDefaults_Service (type ClusterIP, sessionAffinity None, ports' protocol TCP
and targetPort = port, traffic policies) plus what kube-apiserver's service REST layer fills
in without allocating anything (ipFamilies / ipFamilyPolicy, clusterIP <-> clusterIPs). The
*allocation* of cluster IPs and node ports is the API server's job; this module only checks
the values a client supplies (clusterIP is "None" or an IP, nodePort in 30000-32767) and keeps
allocated values across updates that omit them, as Kubernetes' patchAllocatedValues does (so
``kubectl apply`` of a manifest without clusterIP does not try to clear it).
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from kubelite.api.kinds.core.common import ensure_map, format_labels
from kubelite.api.registry import AGE_COLUMN, NAME_COLUMN, Column, ResourceType, Strategy, age
from kubelite.api.validation import (
    child, index, invalid_shown, is_dns1035_label, is_dns1123_label, is_dns1123_subdomain, is_qualified_name,
    is_valid_ip,
    is_valid_port_num, required, validate_cidr, validate_enum, validate_ip, validate_labels,
    validate_port_num_or_name,
)
from kubelite.machinery.errors import FieldError, duplicate, forbidden, invalid, not_supported

SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")
PROTOCOLS = ("TCP", "UDP", "SCTP")
NODE_PORT_RANGE = (30000, 32767)
MAX_CLIENT_IP_AFFINITY_SECONDS = 86400
DEFAULT_CLIENT_IP_AFFINITY_SECONDS = 10800


def _externally_accessible(spec: dict[str, Any]) -> bool:
    t = spec.get("type")
    return t in ("LoadBalancer", "NodePort") or (t == "ClusterIP" and bool(spec.get("externalIPs")))


def default_service(svc: dict[str, Any]) -> None:
    spec = ensure_map(svc, "spec")
    if not spec.get("sessionAffinity"):
        spec["sessionAffinity"] = "None"
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        timeout = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get("timeoutSeconds")
        if timeout is None:
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": DEFAULT_CLIENT_IP_AFFINITY_SECONDS}}
    if not spec.get("type"):
        spec["type"] = "ClusterIP"
    for port in spec.get("ports") or []:
        if not isinstance(port, dict):
            continue
        if not port.get("protocol"):
            port["protocol"] = "TCP"
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port")
    if _externally_accessible(spec) and not spec.get("externalTrafficPolicy"):
        spec["externalTrafficPolicy"] = "Cluster"
    if spec.get("internalTrafficPolicy") is None and spec["type"] in ("ClusterIP", "NodePort", "LoadBalancer"):
        spec["internalTrafficPolicy"] = "Cluster"
    if spec["type"] == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        spec["allocateLoadBalancerNodePorts"] = True
    # clusterIP and clusterIPs[0] are the same address; a client may give either.
    if spec.get("clusterIP") and not spec.get("clusterIPs"):
        spec["clusterIPs"] = [spec["clusterIP"]]
    elif spec.get("clusterIPs") and not spec.get("clusterIP"):
        spec["clusterIP"] = spec["clusterIPs"][0]
    if spec["type"] != "ExternalName":
        # kubelite clusters are single-stack IPv4. Headless services without a selector get
        # RequireDualStack, as kube-apiserver gives them (their endpoints may be of any family).
        headless = spec.get("clusterIP") == "None"
        if not spec.get("ipFamilyPolicy"):
            spec["ipFamilyPolicy"] = "RequireDualStack" if headless and not spec.get("selector") else "SingleStack"
        if not spec.get("ipFamilies"):
            spec["ipFamilies"] = ["IPv4"]
    status = ensure_map(svc, "status")
    if isinstance(status, dict):
        lb = ensure_map(status, "loadBalancer")
        if spec["type"] == "LoadBalancer":
            for ing in lb.get("ingress") or []:
                if isinstance(ing, dict) and ing.get("ip") and not ing.get("ipMode"):
                    ing["ipMode"] = "VIP"


def _go_port_key(port: dict[str, Any]) -> str:
    return (f'core.ServicePort{{Name:"", Protocol:"{port.get("protocol", "")}", AppProtocol:(*string)(nil), '
            f'Port:{port.get("port", 0)}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:""}}, NodePort:0}}')


def _validate_ports(spec: dict[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    ports = spec.get("ports") or []
    headless = spec.get("clusterIP") == "None"
    if not ports and not headless and spec.get("type") != "ExternalName":
        errs.append(required(child(path, "ports")))
    names: set[str] = set()
    seen: set[tuple[Any, Any]] = set()
    node_ports: set[tuple[Any, Any]] = set()
    for i, port in enumerate(ports):
        p = index(child(path, "ports"), i)
        if not isinstance(port, dict):
            errs.append(invalid(p, port, "must be an object"))
            continue
        name = port.get("name") or ""
        if len(ports) > 1 and not name:
            errs.append(required(child(p, "name")))
        elif name:
            errs += [invalid(child(p, "name"), name, m) for m in is_dns1123_label(name)]
            if name in names:
                errs.append(duplicate(child(p, "name"), name))
            names.add(name)
        errs += [invalid(child(p, "port"), port.get("port"), m) for m in is_valid_port_num(port.get("port"))]
        errs += validate_enum(port.get("protocol"), child(p, "protocol"), PROTOCOLS)
        if port.get("targetPort") is not None:
            errs += validate_port_num_or_name(port["targetPort"], child(p, "targetPort"))
        if port.get("appProtocol"):
            errs += [invalid(child(p, "appProtocol"), port["appProtocol"], m)
                     for m in is_qualified_name(str(port["appProtocol"]))]
        node_port = port.get("nodePort")
        if node_port:
            if spec.get("type") == "ClusterIP":
                errs.append(forbidden(child(p, "nodePort"), "may not be used when `type` is 'ClusterIP'"))
            elif not isinstance(node_port, int) or not NODE_PORT_RANGE[0] <= node_port <= NODE_PORT_RANGE[1]:
                errs.append(invalid(child(p, "nodePort"), node_port,
                                    "provided port is not in the valid range. The range of valid ports is "
                                    f"{NODE_PORT_RANGE[0]}-{NODE_PORT_RANGE[1]}"))
            key = (node_port, port.get("protocol"))
            if key in node_ports:
                errs.append(duplicate(child(p, "nodePort"), node_port))
            node_ports.add(key)
        key2 = (port.get("port"), port.get("protocol"))
        if key2 in seen:
            errs.append(FieldError(p, f"Duplicate value: {_go_port_key(port)}", "FieldValueDuplicate"))
        seen.add(key2)
    return errs


def _go_strings(values: list[Any]) -> str:
    return "[]string{" + ", ".join(f'"{v}"' for v in values) + "}"


def _validate_cluster_ips(spec: dict[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    ips = spec.get("clusterIPs") or []
    cip = spec.get("clusterIP") or ""
    if spec.get("type") == "ExternalName":
        if cip or ips:
            errs.append(forbidden(child(path, "clusterIPs"), "may not be set for ExternalName services"))
        return errs
    if cip and ips and ips[0] != cip:
        errs.append(invalid_shown(child(path, "clusterIPs"), _go_strings(ips), "first value must match `clusterIP`"))
    for i, ip in enumerate(ips):
        p = index(child(path, "clusterIPs"), i)
        if ip == "None":
            if i > 0 or len(ips) > 1:
                errs.append(invalid(p, ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
            elif spec.get("type") in ("NodePort", "LoadBalancer"):
                errs.append(invalid(p, ip, f"may not be set to 'None' for {spec['type']} services"))
            continue
        if not isinstance(ip, str) or not is_valid_ip(ip):
            errs.append(invalid(p, ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
            continue
        families = spec.get("ipFamilies") or []
        family = "IPv6" if ":" in ip else "IPv4"
        if i < len(families) and families[i] in ("IPv4", "IPv6") and families[i] != family:
            errs.append(invalid(p, ip, f"expected an {families[i]} value as indicated by `ipFamilies[{i}]`"))
    if len(ips) > 2:
        errs.append(invalid_shown(child(path, "clusterIPs"), _go_strings(ips), "may only hold up to 2 values"))
    return errs


def validate_service_spec(spec: Any, path: str = "spec") -> list[FieldError]:
    if not isinstance(spec, dict):
        return [required(path)]
    errs = validate_enum(spec.get("type"), child(path, "type"), SERVICE_TYPES)
    errs += _validate_ports(spec, path)
    errs += _validate_cluster_ips(spec, path)
    errs += validate_labels(spec.get("selector"), child(path, "selector"))
    errs += validate_enum(spec.get("sessionAffinity"), child(path, "sessionAffinity"), ("ClientIP", "None"))
    if spec.get("sessionAffinity") == "ClientIP":
        t = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get("timeoutSeconds")
        if not isinstance(t, int) or not 0 < t <= MAX_CLIENT_IP_AFFINITY_SECONDS:
            errs.append(invalid(child(path, "sessionAffinityConfig", "clientIP", "timeoutSeconds"), t,
                                f"must be greater than 0 and less than {MAX_CLIENT_IP_AFFINITY_SECONDS}"))
    elif spec.get("sessionAffinityConfig") is not None:
        errs.append(invalid(child(path, "sessionAffinityConfig"), "{}",
                            f"must not be set when session affinity is {spec.get('sessionAffinity')}"))
    if spec.get("type") == "ExternalName":
        name = spec.get("externalName")
        if not name:
            errs.append(required(child(path, "externalName")))
        else:
            msgs = is_dns1123_subdomain(str(name).rstrip("."))
            if not msgs and "." not in str(name).rstrip("."):
                msgs = ["should be a domain with at least two segments separated by dots"]
            errs += [invalid(child(path, "externalName"), name, m) for m in msgs]
    etp = spec.get("externalTrafficPolicy")
    if etp:
        if not _externally_accessible(spec):
            errs.append(invalid(child(path, "externalTrafficPolicy"), etp,
                                "may only be set for externally-accessible services"))
        else:
            errs += validate_enum(etp, child(path, "externalTrafficPolicy"), ("Cluster", "Local"))
    # Required only for these types: other values of `type` have their own error already.
    errs += validate_enum(spec.get("internalTrafficPolicy"), child(path, "internalTrafficPolicy"), ("Cluster", "Local"),
                          required_=spec.get("type") in ("ClusterIP", "NodePort", "LoadBalancer"))
    if spec.get("ipFamilyPolicy"):
        errs += validate_enum(spec["ipFamilyPolicy"], child(path, "ipFamilyPolicy"),
                              ("SingleStack", "PreferDualStack", "RequireDualStack"))
    families = spec.get("ipFamilies") or []
    for i, fam in enumerate(families):
        p = index(child(path, "ipFamilies"), i)
        if fam not in ("IPv4", "IPv6"):
            errs.append(not_supported(p, fam, ["IPv4", "IPv6"]))
        elif fam in families[:i]:
            errs.append(duplicate(p, fam))
    for i, ip in enumerate(spec.get("externalIPs") or []):
        errs += validate_ip(ip, index(child(path, "externalIPs"), i))
    for i, cidr in enumerate(spec.get("loadBalancerSourceRanges") or []):
        errs += validate_cidr(cidr, index(child(path, "loadBalancerSourceRanges"), i))
    hc = spec.get("healthCheckNodePort")
    if hc and not (spec.get("type") == "LoadBalancer" and etp == "Local"):
        errs.append(invalid(child(path, "healthCheckNodePort"), hc,
                            "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"))
    return errs


def _patch_allocated_values(spec: dict[str, Any], old_spec: dict[str, Any]) -> None:
    """Keep server-allocated values an update omits (Kubernetes' patchAllocatedValues)."""
    if old_spec.get("type") != "ExternalName" and spec.get("type") != "ExternalName":
        if not spec.get("clusterIP") and old_spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]
        if not spec.get("clusterIPs") and old_spec.get("clusterIPs"):
            spec["clusterIPs"] = list(old_spec["clusterIPs"])
    if spec.get("type") in ("NodePort", "LoadBalancer") and old_spec.get("type") in ("NodePort", "LoadBalancer"):
        by_name = {p.get("name", ""): p.get("nodePort") for p in old_spec.get("ports") or [] if isinstance(p, dict)}
        for p in spec.get("ports") or []:
            if isinstance(p, dict) and not p.get("nodePort") and by_name.get(p.get("name", "")):
                p["nodePort"] = by_name[p.get("name", "")]
    if not spec.get("healthCheckNodePort") and old_spec.get("healthCheckNodePort") \
            and spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local":
        spec["healthCheckNodePort"] = old_spec["healthCheckNodePort"]


def _external_ip(spec: dict[str, Any], status: dict[str, Any]) -> str:
    t = spec.get("type")
    ext = list(spec.get("externalIPs") or [])
    if t in ("ClusterIP", "NodePort"):
        return ",".join(ext) if ext else "<none>"
    if t == "LoadBalancer":
        ingress = [i for i in (status.get("loadBalancer") or {}).get("ingress") or [] if isinstance(i, dict)]
        lb = sorted({str(i.get("ip") or i.get("hostname")) for i in ingress if i.get("ip") or i.get("hostname")})
        # Server-side tables are generated "wide", so the 16-character clipping never applies.
        if ext:
            return ",".join(lb + ext)
        return ",".join(lb) if lb else "<pending>"
    if t == "ExternalName":
        return spec.get("externalName", "")
    return "<unknown>"


def _ports_cell(ports: list[Any]) -> str:
    pieces = []
    for p in ports or []:
        if not isinstance(p, dict):
            continue
        if p.get("nodePort"):
            pieces.append(f"{p.get('port')}:{p['nodePort']}/{p.get('protocol', '')}")
        else:
            pieces.append(f"{p.get('port')}/{p.get('protocol', '')}")
    return ",".join(pieces) or "<none>"


class ServiceStrategy(Strategy):
    has_status = True
    name_validator = staticmethod(is_dns1035_label)
    columns = (
        NAME_COLUMN,
        Column("Type", description="type determines how the Service is exposed."),
        Column("Cluster-IP", description="clusterIP is the IP address of the service and is usually assigned "
                                         "randomly."),
        Column("External-IP", description="externalIPs is a list of IP addresses for which nodes in the cluster "
                                          "will also accept traffic for this service."),
        Column("Port(s)", description="The list of ports that are exposed by this service."),
        AGE_COLUMN,
        Column("Selector", priority=1, description="Route service traffic to pods with label keys and values "
                                                   "matching this selector."),
    )

    def defaults(self, obj: dict[str, Any]) -> None:
        default_service(obj)

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        obj["status"] = {"loadBalancer": {}}

    def prepare_for_update(self, obj: dict[str, Any], old: dict[str, Any]) -> None:
        super().prepare_for_update(obj, old)
        spec, old_spec = obj.get("spec"), old.get("spec") or {}
        if isinstance(spec, dict):
            _patch_allocated_values(spec, old_spec)

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        return validate_service_spec(obj.get("spec"))

    def validate_update(self, obj: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = self.validate(obj)
        spec, old_spec = obj.get("spec") or {}, old.get("spec") or {}
        if "ExternalName" not in (spec.get("type"), old_spec.get("type")):
            old_ips, new_ips = old_spec.get("clusterIPs") or [], spec.get("clusterIPs") or []
            if old_ips and not new_ips:
                errs.append(invalid_shown(index("spec.clusterIPs", 0), _go_strings(new_ips),
                                          "primary clusterIP can not be unset"))
            elif old_ips and new_ips and old_ips[0] != new_ips[0]:
                errs.append(invalid_shown(index("spec.clusterIPs", 0), _go_strings(new_ips), "may not change once set"))
        for i, ing in enumerate(((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []):
            if isinstance(ing, dict) and ing.get("ip"):
                errs += validate_ip(ing["ip"], child(index("status.loadBalancer.ingress", i), "ip"))
        return errs

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
        return [obj["metadata"].get("name", ""), spec.get("type", ""), ips[0] if ips else "<none>",
                _external_ip(spec, status), _ports_cell(spec.get("ports") or []), age(obj, now),
                format_labels(spec.get("selector"))]


SERVICE = ResourceType(
    group="", version="v1", kind="Service", plural="services", singular="service", namespaced=True,
    strategy=ServiceStrategy(), schema="io.k8s.api.core.v1.Service", short_names=("svc",), categories=("all",),
    subresources=("status",),
)
