"""The ``pods/resize`` subresource: in-place changes of a running pod's cpu and memory (GA in
Kubernetes 1.35, KEP-1287).

The main endpoint may not touch a pod's resources; ``resize`` may touch nothing else. A write
keeps the stored pod and takes from the request only the ``resources`` and ``resizePolicy`` of
the regular and sidecar (``restartPolicy: Always`` init) containers, matched by name; then kube's
``ValidatePodResize`` rules apply: only cpu and memory change, no request or limit is removed,
plain init containers keep their resources, the QoS class stays, and the pod is still valid
(requests within limits). Applying the new values is the kubelet's business: it reports them
in ``status.containerStatuses[].resources`` and the ``PodResizePending``/``PodResizeInProgress``
conditions.
"""
from __future__ import annotations

import copy
from typing import Any

from kubelite.api.validation import child, index
from kubelite.machinery.errors import FieldError, forbidden, invalid, invalid_object

RESIZABLE = ("cpu", "memory")


def _sidecar(c: Any) -> bool:
    return isinstance(c, dict) and c.get("restartPolicy") == "Always"


def _by_name(containers: Any) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in containers or () if isinstance(c, dict) and isinstance(c.get("name"), str)}


def prepare(obj: dict[str, Any], old: dict[str, Any]) -> None:
    """Make ``obj`` the stored pod with the request's container resources (in place)."""
    sent = obj["spec"] if isinstance(obj.get("spec"), dict) else {}
    managed = (obj.get("metadata") or {}).get("managedFields")
    result = copy.deepcopy(old)
    spec = result.setdefault("spec", {})
    for field in ("containers", "initContainers"):
        wanted = _by_name(sent.get(field))
        for c in spec.get(field) or ():
            name = c.get("name") if isinstance(c, dict) else None
            new = wanted.get(name) if isinstance(name, str) else None
            if new is None:
                continue
            for key in ("resources", "resizePolicy"):
                if key in new:
                    c[key] = copy.deepcopy(new[key])
                else:
                    c.pop(key, None)
    # A reordered, renamed, added or removed container is refused, not silently repaired.
    for field in ("containers", "initContainers"):
        names = [c.get("name") for c in sent.get(field) or () if isinstance(c, dict)]
        if field in sent and names != [c.get("name") for c in spec.get(field) or ()]:
            raise invalid_object("Pod", "", old["metadata"]["name"], [
                forbidden(child("spec", field), "containers may not be renamed or reordered on resize")])
    obj.clear()
    obj.update(result)
    if managed is not None:
        obj["metadata"]["managedFields"] = managed


def _removed(new: dict[str, Any] | None, old: dict[str, Any] | None) -> bool:
    return any(k not in (new or {}) for k in old or {})


def _resizable_only(res: Any) -> dict[str, Any]:
    res = copy.deepcopy(res) if isinstance(res, dict) else {}
    for section in ("requests", "limits"):
        vals = res.get(section)
        if isinstance(vals, dict):
            for name in RESIZABLE:
                vals.pop(name, None)
            if not vals:
                res.pop(section)
    return res


def validate(obj: dict[str, Any], old: dict[str, Any], *, qos_class: Any, validate_spec: Any) -> list[FieldError]:
    """kube's ValidatePodResize for a prepared ``obj`` (``prepare`` ran on it)."""
    errs: list[FieldError] = []
    spec, old_spec = obj.get("spec") or {}, old.get("spec") or {}
    for field in ("containers", "initContainers"):
        for i, (c, o) in enumerate(zip(spec.get(field) or [], old_spec.get(field) or [])):
            path = child(index(child("spec", field), i), "resources")
            new_res, old_res = c.get("resources") or {}, o.get("resources") or {}
            if field == "initContainers" and not _sidecar(o):
                if new_res != old_res:
                    errs.append(forbidden(path, "resources for non-sidecar init containers are immutable"))
                continue
            if _removed(new_res.get("requests"), old_res.get("requests")):
                errs.append(forbidden(child(path, "requests"), "resource requests cannot be removed"))
            if _removed(new_res.get("limits"), old_res.get("limits")):
                errs.append(forbidden(child(path, "limits"), "resource limits cannot be removed"))
    # everything but the cpu and memory values must be as it was
    munged_new, munged_old = copy.deepcopy(spec), copy.deepcopy(old_spec)
    for s in (munged_new, munged_old):
        for field in ("containers", "initContainers"):
            for c in s.get(field) or ():
                if isinstance(c, dict):
                    c["resources"] = _resizable_only(c.get("resources"))
    if munged_new != munged_old:
        errs.append(forbidden("spec", "only cpu and memory resources are mutable"))
    old_qos = (old.get("status") or {}).get("qosClass") or qos_class(old)
    if qos_class(obj) != old_qos:
        errs.append(invalid("spec", old_qos, "Pod QOS Class may not change as a result of resizing"))
    return errs + validate_spec(spec, "spec")
