"""The Namespace kind: DNS-label names, the ``kubernetes`` finalizer, phase Active/Terminating.

On create a namespace gets ``spec.finalizers: [kubernetes]`` and ``status.phase: Active`` and,
like every namespace in Kubernetes since 1.21, the immutable label
``kubernetes.io/metadata.name=<name>``. The main endpoint cannot change ``spec.finalizers`` (only
the ``finalize`` subresource can) nor the status. *Deleting* a namespace -- setting
deletionTimestamp and phase Terminating, emptying it, removing the finalizer -- is the API
server's and the namespace controller's business, not this strategy's.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from kubelite.api.kinds.core.common import ensure_map
from kubelite.api.registry import AGE_COLUMN, NAME_COLUMN, Column, ResourceType, Strategy, age
from kubelite.api.validation import index, is_dns1123_label, is_qualified_name
from kubelite.machinery.errors import FieldError, invalid

NAME_LABEL = "kubernetes.io/metadata.name"
KUBERNETES_FINALIZER = "kubernetes"


def validate_namespace_finalizers(finalizers: Any, path: str = "spec.finalizers") -> list[FieldError]:
    """Finalizer names are qualified names; unprefixed ones must be the standard ``kubernetes``."""
    errs: list[FieldError] = []
    for i, f in enumerate(finalizers or []):
        p = index(path, i)
        msgs = is_qualified_name(str(f))
        if msgs:
            errs += [invalid(p, f, m) for m in msgs]
        elif "/" not in str(f) and f != KUBERNETES_FINALIZER:
            errs.append(invalid(p, f, "name is neither a standard finalizer name nor is it fully qualified"))
    return errs


class NamespaceStrategy(Strategy):
    has_status = True
    name_validator = staticmethod(is_dns1123_label)
    columns = (
        NAME_COLUMN,
        Column("Status", description="The status of the namespace"),
        AGE_COLUMN,
    )

    def defaults(self, obj: dict[str, Any]) -> None:
        meta = ensure_map(obj, "metadata")
        if meta.get("name"):
            ensure_map(meta, "labels")[NAME_LABEL] = meta["name"]
        status = obj.get("status")
        if isinstance(status, dict) and not status.get("phase"):
            status["phase"] = "Active"

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            spec = obj["spec"] = {}
        finalizers = list(spec.get("finalizers") or [])
        if KUBERNETES_FINALIZER not in finalizers:
            finalizers.append(KUBERNETES_FINALIZER)
        spec["finalizers"] = finalizers
        obj["status"] = {"phase": "Active"}

    def prepare_for_update(self, obj: dict[str, Any], old: dict[str, Any]) -> None:
        super().prepare_for_update(obj, old)
        # spec.finalizers changes only through the namespaces/<name>/finalize subresource. The
        # store does not tell a strategy which subresource it serves, so the one change finalize
        # exists for -- removing finalizers from a namespace being deleted -- is let through
        # here too; anything else keeps the stored list. (``prepare_for_finalize`` is the exact
        # Kubernetes rule for a server that dispatches the subresource to it.)
        old_spec = old.get("spec")
        if isinstance(old_spec, dict):
            spec = ensure_map(obj, "spec")
            old_list = list(old_spec.get("finalizers") or [])
            new_list = spec.get("finalizers") or []
            deleting = bool((old.get("metadata") or {}).get("deletionTimestamp"))
            if deleting and isinstance(new_list, list) and set(new_list) <= set(old_list):
                pass
            elif old_spec.get("finalizers") is not None:
                spec["finalizers"] = old_list
            else:
                spec.pop("finalizers", None)

    def prepare_for_finalize(self, obj: dict[str, Any], old: dict[str, Any]) -> None:
        """``namespaces/<name>/finalize``: spec.finalizers may change, the status may not
        (Kubernetes' namespaceFinalizeStrategy). The API server calls this instead of
        ``prepare_for_update`` for that subresource."""
        if "status" in old:
            obj["status"] = old["status"]
        else:
            obj.pop("status", None)

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        return validate_namespace_finalizers((obj.get("spec") or {}).get("finalizers"))

    def validate_update(self, obj: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = self.validate(obj)
        status, old_status = obj.get("status") or {}, old.get("status") or {}
        if status != old_status:
            phase = status.get("phase")
            if not (obj.get("metadata") or {}).get("deletionTimestamp"):
                if phase != "Active":
                    errs.append(invalid("status.Phase", phase or "",
                                        "may only be 'Active' if `deletionTimestamp` is empty"))
            elif phase != "Terminating":
                errs.append(invalid("status.Phase", phase or "",
                                    "may only be 'Terminating' if `deletionTimestamp` is not empty"))
        return errs

    def spec_changed(self, obj: dict[str, Any], old: dict[str, Any]) -> bool:
        # Namespaces carry no metadata.generation in Kubernetes.
        return False

    def deletion_blocked(self, obj: dict[str, Any]) -> bool:
        """A deleted namespace stays until the namespace controller has emptied it and removed
        ``kubernetes`` from spec.finalizers (through the finalize subresource)."""
        return bool((obj.get("spec") or {}).get("finalizers"))

    def mark_deleted(self, obj: dict[str, Any]) -> None:
        status = obj.get("status")
        if not isinstance(status, dict):
            status = obj["status"] = {}
        status["phase"] = "Terminating"

    def field_labels(self, obj: dict[str, Any]) -> dict[str, str]:
        return {"status.phase": (obj.get("status") or {}).get("phase", "")}

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        return [obj["metadata"].get("name", ""), (obj.get("status") or {}).get("phase", ""), age(obj, now)]


NAMESPACE = ResourceType(
    group="", version="v1", kind="Namespace", plural="namespaces", singular="namespace", namespaced=False,
    strategy=NamespaceStrategy(), schema="io.k8s.api.core.v1.Namespace", short_names=("ns",),
    # kube-apiserver offers no deletecollection on namespaces.
    verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
    subresources=("status", "finalize"),
)
