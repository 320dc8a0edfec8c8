"""Fluent-ish builders for core/v1 objects used by the kind tests (plain dicts, like the API)."""
from __future__ import annotations

import copy
import datetime as dt
from typing import Any

NOW = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.timezone.utc)
CREATED = "2024-05-01T11:55:00Z"  # five minutes before NOW


def meta(name: str = "web", namespace: str | None = "default", **extra: Any) -> dict[str, Any]:
    m: dict[str, Any] = {"name": name, "creationTimestamp": CREATED, **extra}
    if namespace is not None:
        m["namespace"] = namespace
    return m


def container(name: str = "app", image: str = "nginx:1.27", **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": image, **extra}


def pod(*containers: dict[str, Any], name: str = "web", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta(name),
            "spec": {"containers": list(containers) or [container()], **spec}}


def with_status(obj: dict[str, Any], **status: Any) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    out["status"] = {**(out.get("status") or {}), **status}
    return out


def fields(errs: list[Any]) -> list[str]:
    return [e.field for e in errs]


def create(rt: Any, obj: dict[str, Any]) -> list[Any]:
    """Run a kind's create pipeline (defaults -> prepare -> validate), as the API server does."""
    rt.strategy.defaults(obj)
    rt.strategy.prepare_for_create(obj)
    return rt.strategy.validate(obj)


def update(rt: Any, new: dict[str, Any], old: dict[str, Any]) -> list[Any]:
    """Run a kind's main-endpoint update pipeline."""
    rt.strategy.defaults(new)
    rt.strategy.prepare_for_update(new, old)
    return rt.strategy.validate_update(new, old)
