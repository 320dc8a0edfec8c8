"""What the resource.k8s.io/v1 kinds share: a claim's device requests (ResourceClaim and
ResourceClaimTemplate), device selectors (those and DeviceClass), and their defaults.

Dynamic resource allocation (GA in Kubernetes 1.34): a claim asks for devices by class, a
driver publishes what it has in ResourceSlices, the scheduler allocates. kubelite serves and
validates the objects (the structural rules of kube's ``pkg/apis/resource/validation``: names,
exactly-one-of choices, enums, list bounds); it schedules no devices and evaluates no CEL
selector yet. Pure functions, no I/O.
"""
from __future__ import annotations

from typing import Any

from kubelite.api.validation import (
    child, index, is_dns1123_label, is_dns1123_subdomain, required, too_long, too_many, validate_enum,
)
from kubelite.machinery.errors import FieldError, duplicate, invalid

ALLOCATION_MODES = ("All", "ExactCount")
TOLERATION_OPERATORS = ("Equal", "Exists")
TAINT_EFFECTS = ("NoExecute", "NoSchedule", "None")
DEVICE_REQUESTS_MAX = 32
DEVICE_CONSTRAINTS_MAX = 32
DEVICE_CONFIG_MAX = 32
DEVICE_SELECTORS_MAX = 32
FIRST_AVAILABLE_MAX = 8
DEVICE_TOLERATIONS_MAX = 16
CEL_EXPRESSION_MAX = 10 * 1024
OPAQUE_PARAMETERS_MAX = 10 * 1024
_NOT_A_REQUEST = ("must be the name of a request in the claim or the name of a request and a subrequest "
                  "separated by '/'")


def _list(value: Any, path: str, maximum: int) -> tuple[list[Any], list[FieldError]]:
    if value is None:
        return [], []
    if not isinstance(value, list):
        return [], [invalid(path, value, "must be a list")]
    return value, ([too_many(path, len(value), maximum)] if len(value) > maximum else [])


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def default_exact(request: dict[str, Any]) -> None:
    """ExactDeviceRequest defaults: allocationMode ExactCount with count 1; toleration operator Equal."""
    if not request.get("allocationMode"):
        request["allocationMode"] = "ExactCount"
    if request["allocationMode"] == "ExactCount" and request.get("count") is None:
        request["count"] = 1
    for t in request.get("tolerations") or ():
        if isinstance(t, dict) and not t.get("operator"):
            t["operator"] = "Equal"


def default_claim_spec(spec: Any) -> None:
    devices = _dict(_dict(spec).get("devices"))
    for req in devices.get("requests") or ():
        if not isinstance(req, dict):
            continue
        if isinstance(req.get("exactly"), dict):
            default_exact(req["exactly"])
        for sub in req.get("firstAvailable") or ():
            if isinstance(sub, dict):
                default_exact(sub)


def validate_selectors(selectors: Any, path: str) -> list[FieldError]:
    items, errs = _list(selectors, path, DEVICE_SELECTORS_MAX)
    for i, sel in enumerate(items):
        p = index(path, i)
        cel = _dict(sel).get("cel")
        if cel is None:
            errs.append(required(p, "exactly one of `cel` is required"))
            continue
        expr = _dict(cel).get("expression")
        if not expr:
            errs.append(required(child(p, "cel", "expression")))
        elif not isinstance(expr, str):
            errs.append(invalid(child(p, "cel", "expression"), expr, "must be a string"))
        elif len(expr) > CEL_EXPRESSION_MAX:
            errs.append(too_long(child(p, "cel", "expression"), CEL_EXPRESSION_MAX))
    return errs


def validate_config(configs: Any, path: str, *, request_names: set[str] | None) -> list[FieldError]:
    """DeviceClaimConfiguration / DeviceClassConfiguration: opaque driver parameters."""
    items, errs = _list(configs, path, DEVICE_CONFIG_MAX)
    for i, cfg in enumerate(items):
        p = index(path, i)
        cfg = _dict(cfg)
        if request_names is not None:
            for j, name in enumerate(cfg.get("requests") or ()):
                if str(name).split("/", 1)[0] not in request_names:
                    errs.append(invalid(index(child(p, "requests"), j), name, _NOT_A_REQUEST))
        opaque = cfg.get("opaque")
        if opaque is None:
            errs.append(required(p, "exactly one of `opaque` is required"))
            continue
        errs += validate_driver_name(_dict(opaque).get("driver"), child(p, "opaque", "driver"))
        if _dict(opaque).get("parameters") is None:
            errs.append(required(child(p, "opaque", "parameters")))
    return errs


def validate_driver_name(driver: Any, path: str) -> list[FieldError]:
    if not driver:
        return [required(path)]
    if not isinstance(driver, str):
        return [invalid(path, driver, "must be a string")]
    if len(driver) > 63:
        return [too_long(path, 63)]
    return [invalid(path, driver, m) for m in is_dns1123_subdomain(driver)]


def _validate_tolerations(tolerations: Any, path: str) -> list[FieldError]:
    items, errs = _list(tolerations, path, DEVICE_TOLERATIONS_MAX)
    for i, t in enumerate(items):
        t = _dict(t)
        p = index(path, i)
        errs += validate_enum(t.get("operator"), child(p, "operator"), TOLERATION_OPERATORS, required_=False)
        errs += validate_enum(t.get("effect"), child(p, "effect"), TAINT_EFFECTS, required_=False)
        if t.get("operator") == "Exists" and t.get("value"):
            errs.append(invalid(child(p, "value"), t["value"], "must be empty for operator `Exists`"))
    return errs


def _validate_exact(req: dict[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    cls = req.get("deviceClassName")
    if not cls:
        errs.append(required(child(path, "deviceClassName")))
    elif isinstance(cls, str):
        errs += [invalid(child(path, "deviceClassName"), cls, m) for m in is_dns1123_subdomain(cls)]
    errs += validate_selectors(req.get("selectors"), child(path, "selectors"))
    mode = req.get("allocationMode")
    errs += validate_enum(mode, child(path, "allocationMode"), ALLOCATION_MODES)
    count = req.get("count")
    if mode == "ExactCount" and isinstance(count, int) and count <= 0:
        errs.append(invalid(child(path, "count"), count, "must be greater than zero"))
    elif mode == "All" and count:
        errs.append(invalid(child(path, "count"), count, "must not be specified when allocationMode is 'All'"))
    errs += _validate_tolerations(req.get("tolerations"), child(path, "tolerations"))
    return errs


def _validate_name(name: Any, path: str, seen: set[str]) -> list[FieldError]:
    if not name:
        return [required(path)]
    if not isinstance(name, str):
        return [invalid(path, name, "must be a string")]
    errs = [invalid(path, name, m) for m in is_dns1123_label(name)]
    if name in seen:
        errs.append(duplicate(path, name))
    seen.add(name)
    return errs


def validate_claim_spec(spec: Any, path: str) -> list[FieldError]:
    """ResourceClaimSpec: requests (each exactly one of ``exactly`` and ``firstAvailable``),
    constraints naming those requests, and opaque configuration."""
    devices = _dict(_dict(spec).get("devices"))
    dpath = child(path, "devices")
    requests, errs = _list(devices.get("requests"), child(dpath, "requests"), DEVICE_REQUESTS_MAX)
    names: set[str] = set()
    for i, req in enumerate(requests):
        p = index(child(dpath, "requests"), i)
        req = _dict(req)
        errs += _validate_name(req.get("name"), child(p, "name"), names)
        exact, first = req.get("exactly"), req.get("firstAvailable")
        if exact is None and not first:
            errs.append(required(p, "exactly one of `exactly` or `firstAvailable` is required"))
        elif exact is not None and first:
            errs.append(invalid(p, "{`exactly`, `firstAvailable`}",
                                "exactly one of `exactly` or `firstAvailable` is required, but multiple fields are set"))
        elif exact is not None:
            errs += _validate_exact(_dict(exact), child(p, "exactly"))
        else:
            subs, sub_errs = _list(first, child(p, "firstAvailable"), FIRST_AVAILABLE_MAX)
            errs += sub_errs
            sub_names: set[str] = set()
            for j, sub in enumerate(subs):
                sp = index(child(p, "firstAvailable"), j)
                errs += _validate_name(_dict(sub).get("name"), child(sp, "name"), sub_names)
                errs += _validate_exact(_dict(sub), sp)
    constraints, c_errs = _list(devices.get("constraints"), child(dpath, "constraints"), DEVICE_CONSTRAINTS_MAX)
    errs += c_errs
    for i, c in enumerate(constraints):
        p = index(child(dpath, "constraints"), i)
        for j, name in enumerate(_dict(c).get("requests") or ()):
            if str(name).split("/", 1)[0] not in names:
                errs.append(invalid(index(child(p, "requests"), j), name, _NOT_A_REQUEST))
        if _dict(c).get("matchAttribute") is None and _dict(c).get("distinctAttribute") is None:
            errs.append(required(p, "exactly one of `matchAttribute` or `distinctAttribute` is required"))
    errs += validate_config(devices.get("config"), child(dpath, "config"), request_names=names)
    return errs
