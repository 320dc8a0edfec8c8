"""Small helpers the core kinds share: Table-cell formatting (Kubernetes printers' vocabulary)
and tolerant access to nested maps while defaulting.

Kept inside ``kinds/core`` because the other groups' shared helpers (``kinds/_shared.py``)
import the pod-spec functions from this package; importing them back would be circular.
"""
from __future__ import annotations

from typing import Any

from kubelite.api.registry import Column
from kubelite.machinery.quantity import canonical

CREATED_AT_COLUMN = Column("Created At", type="date", description="CreationTimestamp is a timestamp representing "
                                                                  "the server time when this object was created.")


def format_labels(labels: dict[str, str] | None) -> str:
    """``labels.FormatLabels``: ``a=1,b=2`` sorted by key, ``<none>`` when empty."""
    if not labels:
        return "<none>"
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def container_cells(containers: list[Any] | None) -> tuple[str, str]:
    """The printers' ``layoutContainerCells``: comma-joined container names and images."""
    cs = [c for c in containers or [] if isinstance(c, dict)]
    return ",".join(c.get("name") or "" for c in cs), ",".join(c.get("image") or "" for c in cs)


def quantity_cell(q: Any) -> str:
    """A quantity as ``Quantity.String()`` prints it (canonical form when it parses)."""
    try:
        return canonical(q)
    except ValueError:
        return str(q)


def ensure_map(parent: dict[str, Any], key: str) -> dict[str, Any]:
    """``parent[key]`` as a dict, creating it when missing or null (``setdefault`` keeps a null)."""
    value = parent.get(key)
    if not isinstance(value, dict):
        value = parent[key] = {}
    return value
