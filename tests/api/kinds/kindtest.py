"""Shared helpers for the non-core kind tests: object builders and the server's pipelines.

``create``/``update`` run a strategy the way ``kubelite.apiserver.store`` does (defaults,
prepare, validate), so tests see exactly what a client would get back.
"""
from __future__ import annotations

import copy
import datetime as dt
from typing import Any

NOW = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.timezone.utc)
CREATED = "2024-05-01T11:55:00Z"  # five minutes before NOW
UID = "6a1b2c3d-0000-4000-8000-000000000001"


def meta(name: str = "web", namespace: str | None = "default", **extra: Any) -> dict[str, Any]:
    m: dict[str, Any] = {"name": name, "creationTimestamp": CREATED, "uid": UID, **extra}
    if namespace is not None:
        m["namespace"] = namespace
    return m


def container(name: str = "app", image: str = "nginx:1.27", **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": image, **extra}


def template(labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": "web"} if labels is None else labels},
            "spec": {"containers": [container()], **spec}}


def workload(kind: str, api_version: str = "apps/v1", name: str = "web", **spec: Any) -> dict[str, Any]:
    """A Deployment/ReplicaSet/DaemonSet/StatefulSet selecting app=web with a matching template."""
    body: dict[str, Any] = {"selector": {"matchLabels": {"app": "web"}}, "template": template()}
    body.update(spec)
    return {"apiVersion": api_version, "kind": kind, "metadata": meta(name), "spec": body}


def fields(errs: list[Any]) -> list[str]:
    return [e.field for e in errs]


def create(rt: Any, obj: dict[str, Any]) -> list[Any]:
    rt.strategy.defaults(obj)
    rt.strategy.prepare_for_create(obj)
    return rt.strategy.validate(obj)


def created(rt: Any, obj: dict[str, Any]) -> dict[str, Any]:
    """The object as stored after a successful create (asserts it was valid)."""
    errs = create(rt, obj)
    assert errs == [], errs
    return obj


def update(rt: Any, new: dict[str, Any], old: dict[str, Any]) -> list[Any]:
    rt.strategy.defaults(new)
    rt.strategy.prepare_for_update(new, old)
    return rt.strategy.validate_update(new, old)


def changed(obj: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``obj`` with the dotted ``path`` set to ``value`` (``None`` deletes it)."""
    out = copy.deepcopy(obj)
    *parents, last = path.split(".")
    cur = out
    for p in parents:
        cur = cur.setdefault(p, {})
    if value is None:
        cur.pop(last, None)
    else:
        cur[last] = value
    return out


def row(rt: Any, obj: dict[str, Any]) -> dict[str, Any]:
    """Table cells keyed by column name (every column, wide ones included)."""
    cells = rt.strategy.row(obj, NOW)
    assert len(cells) == len(rt.strategy.columns)
    return {c.name: v for c, v in zip(rt.strategy.columns, cells, strict=True)}
