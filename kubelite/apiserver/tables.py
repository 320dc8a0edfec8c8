"""Server-side printing: objects to meta.k8s.io/v1 Tables, and PartialObjectMetadata.

kubectl asks for ``as=Table`` on every human-readable get; the kind's strategy supplies the
columns and cells (kubelite/api/kinds), this module wraps them the way kube-apiserver does,
with a PartialObjectMetadata (or, with ``includeObject=Object``, the full object) per row so
``-A``, ``--show-labels`` and ``-L`` work.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from kubelite.api.registry import ResourceType


def partial_metadata(obj: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata", {})}


def _row(rt: ResourceType, obj: dict[str, Any], now: dt.datetime, include: str) -> dict[str, Any]:
    row: dict[str, Any] = {"cells": rt.strategy.row(obj, now)}
    if include == "Object":
        row["object"] = obj
    elif include != "None":
        row["object"] = partial_metadata(obj)
    return row


def table(rt: ResourceType, objs: list[dict[str, Any]], now: dt.datetime, *,
          include: str = "Metadata", resource_version: str = "", continue_token: str = "",
          with_columns: bool = True) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    if resource_version:
        meta["resourceVersion"] = resource_version
    if continue_token:
        meta["continue"] = continue_token
    return {
        "kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
        "columnDefinitions": [c.definition() for c in rt.strategy.columns] if with_columns else [],
        "rows": [_row(rt, o, now, include) for o in objs],
    }
