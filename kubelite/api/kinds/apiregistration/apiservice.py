"""apiregistration.k8s.io/v1 APIService: which server answers one group/version.

A *local* APIService (no ``spec.service``) is served by the API server itself; kube-apiserver
registers one for each built-in group/version at start (``local_apiservices``: named
``<version>.<group>``, labelled ``kube-aggregator.kubernetes.io/automanaged: onstart``, with
kube's discovery priorities) and one for each group/version a CRD serves (``crd_apiservices``,
``automanaged: "true"``), and reports them ``Available`` (reason ``Local``). An APIService
naming a Service delegates the group to that Service: stored and validated as kube-aggregator
does (``ValidateAPIService``); proxying requests to it and its availability checks are not
done yet, so its AVAILABLE column reads ``Unknown``. Cluster-scoped, status subresource.
Served through ``RESOURCE``.
"""
from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from kubelite.api.kinds._shared import StatusStrategy
from kubelite.api.registry import AGE_COLUMN, NAME_COLUMN, Column, ResourceType, age
from kubelite.api.validation import (
    child, index, is_dns1035_label, is_dns1123_subdomain, is_valid_port_num, required,
)
from kubelite.machinery.errors import FieldError, invalid, not_supported

AUTOMANAGED_LABEL = "kube-aggregator.kubernetes.io/automanaged"
CONDITION_STATUSES = ["True", "False", "Unknown"]

#: kube-apiserver's discovery priorities of its built-in group/versions (group minimum,
#: version priority); the aggregator registers a local APIService for each one it serves
PRIORITIES: dict[tuple[str, str], tuple[int, int]] = {
    ("", "v1"): (18000, 1),
    ("apps", "v1"): (17800, 15),
    ("events.k8s.io", "v1"): (17750, 15),
    ("authentication.k8s.io", "v1"): (17700, 15),
    ("authorization.k8s.io", "v1"): (17600, 15),
    ("autoscaling", "v1"): (17500, 15),
    ("autoscaling", "v2"): (17500, 30),
    ("batch", "v1"): (17400, 15),
    ("certificates.k8s.io", "v1"): (17300, 15),
    ("networking.k8s.io", "v1"): (17200, 15),
    ("policy", "v1"): (17100, 15),
    ("rbac.authorization.k8s.io", "v1"): (17000, 15),
    ("storage.k8s.io", "v1"): (16800, 15),
    ("apiextensions.k8s.io", "v1"): (16700, 15),
    ("admissionregistration.k8s.io", "v1"): (16700, 15),
    ("scheduling.k8s.io", "v1"): (16600, 15),
    ("coordination.k8s.io", "v1"): (16500, 15),
    ("node.k8s.io", "v1"): (16300, 15),
    ("discovery.k8s.io", "v1"): (16200, 15),
    ("flowcontrol.apiserver.k8s.io", "v1"): (16100, 21),
    ("resource.k8s.io", "v1"): (15900, 15),
}


def local_apiservices(group_versions: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The APIServices kube-apiserver auto-registers for the group/versions it serves itself
    (those without a known priority are skipped, as kube skips them)."""
    out = []
    for group, version in group_versions:
        prio = PRIORITIES.get((group, version))
        if prio is None:
            continue
        out.append({"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
                    "metadata": {"name": f"{version}.{group}", "labels": {AUTOMANAGED_LABEL: "onstart"}},
                    "spec": {"group": group, "version": version, "groupPriorityMinimum": prio[0],
                             "versionPriority": prio[1]}})
    return out


def crd_apiservices(group_versions: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The APIServices kube's crdregistration controller keeps for the group/versions CRDs
    serve: low priority (CRD groups sort after the built-in ones), kube-like version order."""
    return [{"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
             "metadata": {"name": f"{version}.{group}", "labels": {AUTOMANAGED_LABEL: "true"}},
             "spec": {"group": group, "version": version, "groupPriorityMinimum": 1000, "versionPriority": 100}}
            for group, version in group_versions]


def local_available(now: str) -> dict[str, Any]:
    """The status kube's local availability controller gives a local APIService."""
    return {"conditions": [{"type": "Available", "status": "True", "lastTransitionTime": now, "reason": "Local",
                            "message": "Local APIServices are always available"}]}


def available_cell(obj: dict[str, Any]) -> str:
    for cond in (obj.get("status") or {}).get("conditions") or ():
        if isinstance(cond, dict) and cond.get("type") == "Available":
            if cond.get("status") == "True":
                return "True"
            return f"{cond.get('status')} ({cond['reason']})" if cond.get("reason") else str(cond.get("status"))
    return "Unknown"


def _decoded_len(b64: str) -> int:
    try:
        return len(base64.b64decode(b64))
    except (ValueError, TypeError):
        return len(b64)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


class APIServiceStrategy(StatusStrategy):
    columns = (NAME_COLUMN,
               Column("Service", description="The reference to the service that hosts this API endpoint."),
               Column("Available", description="Whether this service is available."),
               AGE_COLUMN)

    @staticmethod
    def name_validator(name: str) -> list[str]:
        # IsPathSegmentName here; the version.group rule needs the spec (validate below)
        if name in (".", ".."):
            return [f"may not be '{name}'"]
        return [f"may not contain '{c}'" for c in ("/", "%") if c in name]

    def defaults(self, obj: dict[str, Any]) -> None:
        service = (obj.get("spec") or {}).get("service") if isinstance(obj.get("spec"), dict) else None
        if isinstance(service, dict) and service.get("port") is None:
            service["port"] = 443

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        spec = obj["spec"] if isinstance(obj.get("spec"), dict) else {}
        group, version = spec.get("group") or "", spec.get("version") or ""
        name = (obj.get("metadata") or {}).get("name") or ""
        errs: list[FieldError] = []
        wanted = f"{version}.{group}"
        if name and name != wanted:
            errs.append(invalid("metadata.name", name, f'must be `spec.version+"."+spec.group`: "{wanted}"'))
        if not group and version != "v1":
            errs.append(required("spec.group", "only v1 may have an empty group and it better be legacy kube"))
        if group:
            errs += [invalid("spec.group", group, m) for m in is_dns1123_subdomain(str(group))]
        errs += [invalid("spec.version", version, m) for m in is_dns1035_label(str(version))]
        gpm, vp = _int(spec.get("groupPriorityMinimum")), _int(spec.get("versionPriority"))
        if not 0 < gpm <= 20000:
            errs.append(invalid("spec.groupPriorityMinimum", gpm, "must be positive and less than 20000"))
        if not 0 < vp <= 1000:
            errs.append(invalid("spec.versionPriority", vp, "must be positive and less than 1000"))
        service = spec.get("service")
        ca = spec.get("caBundle") or ""
        if service is None:
            if ca:
                errs.append(invalid("spec.caBundle", f"{_decoded_len(ca)} bytes", "local APIServices may not have a caBundle"))
            if spec.get("insecureSkipTLSVerify"):
                errs.append(invalid("spec.insecureSkipTLSVerify", True, "local APIServices may not have insecureSkipTLSVerify"))
            return errs
        service = service if isinstance(service, dict) else {}
        if not service.get("namespace"):
            errs.append(required("spec.service.namespace"))
        if not service.get("name"):
            errs.append(required("spec.service.name"))
        port_errs = is_valid_port_num(service.get("port"))
        if port_errs:
            errs.append(invalid("spec.service.port", service.get("port"), "port is not valid: " + ", ".join(port_errs)))
        if spec.get("insecureSkipTLSVerify") and ca:
            errs.append(invalid("spec.insecureSkipTLSVerify", True, "may not be true if caBundle is present"))
        return errs

    def validate_update(self, obj: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = self.validate(obj)
        for i, cond in enumerate((obj.get("status") or {}).get("conditions") or ()):
            status = cond.get("status") if isinstance(cond, dict) else None
            if status not in CONDITION_STATUSES:
                errs.append(not_supported(child(index("status.conditions", i), "status"), status, CONDITION_STATUSES))
        return errs

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        service = (obj.get("spec") or {}).get("service")
        where = f"{service.get('namespace', '')}/{service.get('name', '')}" if isinstance(service, dict) else "Local"
        return [obj["metadata"].get("name", ""), where, available_cell(obj), age(obj, now)]


RESOURCE = ResourceType(
    group="apiregistration.k8s.io", version="v1", kind="APIService", plural="apiservices", singular="apiservice",
    namespaced=False, strategy=APIServiceStrategy(),
    schema="io.k8s.kube-aggregator.pkg.apis.apiregistration.v1.APIService",
    categories=("api-extensions",), subresources=("status",),
)
