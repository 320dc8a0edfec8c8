"""Field-level request helpers: selector matching, fieldValidation, and the scale subresource.

``matcher`` compiles labelSelector/fieldSelector query parameters into one predicate per
request (evaluated for every listed object and every watch event). ``check_fields`` applies
the fieldValidation directive: unknown fields are an error (Strict), a warning (Warn) or
silently dropped (Ignore) -- for built-ins against their schema, for custom resources against
the CRD's structural schema.
"""
from __future__ import annotations

from typing import Any, Callable

from kubelite.api import conformance
from kubelite.api.registry import ResourceType
from kubelite.machinery import errors
from kubelite.machinery.selectors import parse_field_selector, parse_label_selector, selector_to_string

Obj = dict[str, Any]


def _field_set(rt: ResourceType, obj: Obj) -> dict[str, str]:
    meta = obj.get("metadata", {})
    out = {"metadata.name": meta.get("name", ""), "metadata.namespace": meta.get("namespace", "")}
    out.update(rt.strategy.field_labels(obj))
    return out


def _supported_fields(rt: ResourceType) -> set[str]:
    try:
        extra = rt.strategy.field_labels({"metadata": {}, "spec": {}, "status": {}})
    except Exception:  # noqa: BLE001 - a strategy that needs more of the object still has its keys
        extra = {}
    return {"metadata.name", "metadata.namespace", *extra}


def matcher(rt: ResourceType, label_selector: str, field_selector: str) -> Callable[[Obj], bool] | None:
    preds: list[Callable[[Obj], bool]] = []
    if label_selector:
        lsel = parse_label_selector(label_selector)
        preds.append(lambda o: lsel.matches(o.get("metadata", {}).get("labels") or {}))
    if field_selector:
        fsel = parse_field_selector(field_selector)
        supported = _supported_fields(rt)
        for req in fsel.requirements:
            if req.field not in supported:
                raise errors.bad_request(f'field label not supported: {req.field}')
        preds.append(lambda o: fsel.matches(_field_set(rt, o)))
    if not preds:
        return None
    if len(preds) == 1:
        return preds[0]
    return lambda o: all(p(o) for p in preds)


def check_fields(rt: ResourceType, obj: Obj, mode: str) -> list[str]:
    """Decode a request object as kube-apiserver's typed decoder would, in place: wrong JSON
    types are a 400, nulls become absent fields or zero values, and fieldValidation decides
    about unknown fields. Returns warnings for Warn mode."""
    if rt.schema is not None:
        errs = conformance.type_errors(obj, rt.schema)
        if errs:  # kube-apiserver reports the first decoding error
            raise conformance.cannot_handle(rt.kind, rt.version, errs[0].message)
        conformance.drop_nulls(obj, rt.schema)  # null means what Go's decoder makes of it
        unknown = conformance.unknown_fields(obj, rt.schema)
        if unknown:
            conformance.prune_unknown(obj, rt.schema)
    else:
        prune = getattr(rt.strategy, "prune", None)
        unknown = prune(obj) if prune is not None else []
    if not unknown or mode == "Ignore":
        return []
    if mode == "Strict":
        raise errors.bad_request(conformance.strict_message(unknown))
    return conformance.warnings(unknown)


def get_path(obj: Obj, path: str) -> Any:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def set_path(obj: Obj, path: str, value: Any) -> None:
    parts = path.split(".")
    cur = obj
    for part in parts[:-1]:
        cur = cur.setdefault(part, {})
    cur[parts[-1]] = value


def scale_of(rt: ResourceType, obj: Obj) -> Obj:
    """The autoscaling/v1 Scale view of an object with a scale subresource."""
    paths = rt.scale
    assert paths is not None
    meta = obj["metadata"]
    status: dict[str, Any] = {"replicas": get_path(obj, paths.status_replicas) or 0}
    selector = None
    if paths.selector_from_spec:
        sel = (obj.get("spec") or {}).get("selector")
        if isinstance(sel, dict) and ("matchLabels" in sel or "matchExpressions" in sel):
            selector = selector_to_string(sel)
        elif isinstance(sel, dict):  # ReplicationController: a plain label map
            selector = ",".join(f"{k}={v}" for k, v in sorted(sel.items()))
    elif paths.label_selector:
        selector = get_path(obj, paths.label_selector)
    if selector:
        status["selector"] = selector
    return {
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in meta},
        "spec": {"replicas": get_path(obj, paths.spec_replicas) or 0},
        "status": status,
    }

