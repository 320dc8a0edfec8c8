"""What a kind is to the API server: its names, its schema, and its *strategy*.

One generic store serves every kind (``kubelite.apiserver.store``); everything that differs
per kind lives in a ``Strategy`` (defaults, validation, what the main and the status endpoints
may change, field selectors, Table columns) attached to a ``ResourceType``. Adding a kind means
writing its module in ``kubelite/api/kinds/`` and adding it to ``BUILTIN`` there -- never
touching the generic store.

Objects are plain JSON dicts throughout. Strategies are pure: no I/O, no clock except the
``now`` they are handed.
"""
from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Callable

from kubelite.api.helpers.times import try_parse_time
from kubelite.machinery.errors import FieldError

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True, slots=True)
class Column:
    """A Table column (meta.k8s.io/v1 TableColumnDefinition). priority>0: only with -o wide."""

    name: str
    type: str = "string"
    format: str = ""
    description: str = ""
    priority: int = 0

    def definition(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "format": self.format,
                "description": self.description, "priority": self.priority}


NAME_COLUMN = Column("Name", format="name", description="Name must be unique within a namespace.")
AGE_COLUMN = Column("Age", description="CreationTimestamp is a timestamp representing the server time when this object was created.")


class Strategy:
    """Per-kind behaviour with generic defaults. Subclass and override what differs.

    The API server calls, in order:
      create:  defaults → prepare_for_create → validate
      update:  defaults → prepare_for_update(new, old) → validate_update(new, old)
      status:  prepare_for_status_update(new, old) → validate_update(new, old)
    """

    #: kind has a status subresource: the main endpoint ignores status changes, and
    #: the status endpoint ignores everything but status.
    has_status: bool = True
    #: a PUT to a missing object creates it (Kubernetes allows this for a few kinds, e.g. Lease)
    allow_create_on_update: bool = False
    #: subresources that write a slice of the object through the generic get/update/patch path
    #: under their own rules (pods/resize): ``prepare_for_subresource_update`` and
    #: ``validate_subresource_update`` replace the main endpoint's prepare and validate steps
    update_subresources: tuple[str, ...] = ()

    def defaults(self, obj: dict[str, Any]) -> None:
        """Fill server-side defaults in place (e.g. ports[].protocol=TCP)."""

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        """Field errors of a new object (metadata is validated generically by the server)."""
        return []

    def validate_update(self, obj: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        """Field errors of an update (default: the create rules plus nothing immutable)."""
        return self.validate(obj)

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        """Reset what a client may not set on create (default: nothing)."""

    def prepare_for_update(self, obj: dict[str, Any], old: dict[str, Any]) -> None:
        """Main endpoint update: status changes are ignored when the kind has a status subresource."""
        if self.has_status:
            if "status" in old:
                obj["status"] = old["status"]
            else:
                obj.pop("status", None)

    def prepare_for_status_update(self, obj: dict[str, Any], old: dict[str, Any]) -> None:
        """Status endpoint: only ``status`` changes; everything else is taken from ``old``."""
        status = obj.get("status")
        managed = (obj.get("metadata") or {}).get("managedFields")
        obj.clear()
        obj.update({k: copy.deepcopy(v) for k, v in old.items() if k != "status"})
        if managed is not None:
            obj["metadata"]["managedFields"] = managed
        if status is not None:
            obj["status"] = status

    def prepare_for_subresource_update(self, subresource: str, obj: dict[str, Any], old: dict[str, Any]) -> None:
        """An ``update_subresources`` write: keep only what that subresource may change."""
        raise NotImplementedError(subresource)

    def validate_subresource_update(self, subresource: str, obj: dict[str, Any],
                                    old: dict[str, Any]) -> list[FieldError]:
        """Field errors of an ``update_subresources`` write."""
        raise NotImplementedError(subresource)

    def spec_changed(self, obj: dict[str, Any], old: dict[str, Any]) -> bool:
        """Whether metadata.generation must be bumped (default: anything but metadata/status changed)."""
        ignore = {"metadata", "status", "kind", "apiVersion"}
        keys = (set(obj) | set(old)) - ignore
        return any(obj.get(k) != old.get(k) for k in keys)

    def field_labels(self, obj: dict[str, Any]) -> dict[str, str]:
        """Fields a fieldSelector may use, besides metadata.name and metadata.namespace."""
        return {}

    def graceful_delete_seconds(self, obj: dict[str, Any], requested: int | None) -> int:
        """Seconds the object lingers (marked with deletionTimestamp) before it really goes;
        0 deletes at once. Pods bound to a node wait for their kubelet; most kinds go at once."""
        return 0

    def deletion_blocked(self, obj: dict[str, Any]) -> bool:
        """Besides metadata.finalizers, whether something else keeps a deleted object alive
        (a namespace's spec.finalizers, until the namespace controller has drained it)."""
        return False

    def mark_deleted(self, obj: dict[str, Any]) -> None:
        """Adjust an object that has just been marked for deletion (namespace: phase Terminating)."""

    columns: tuple[Column, ...] = (NAME_COLUMN, AGE_COLUMN)

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        """Table cells, one per column in ``columns`` (default: name and age)."""
        return [obj["metadata"].get("name", ""), age(obj, now)]


@dataclass(frozen=True, slots=True)
class ScalePaths:
    """Where a kind keeps what the ``scale`` subresource reads and writes (dotted JSON paths)."""

    spec_replicas: str = "spec.replicas"
    status_replicas: str = "status.replicas"
    label_selector: str | None = "status.selector"  # a string selector path, or None
    selector_from_spec: bool = True  # build the selector string from spec.selector (built-ins)


@dataclass(slots=True)
class ResourceType:
    """A resource served at one group/version, e.g. apps/v1 deployments."""

    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    strategy: Strategy
    schema: str | None = None  # OpenAPI definition name of the kind's message (built-ins)
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    subresources: tuple[str, ...] = ()  # "status", "scale" (pods add binding, log, ...)
    scale: ScalePaths | None = None
    #: storage location shared by every version of a resource ("group/plural" by default)
    storage_resource: str = ""
    #: converts an object of this version to the storage version, and back
    to_storage: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    from_storage: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    #: reads but never stored (SelfSubjectAccessReview, TokenReview...): POST returns a computed object
    virtual: bool = False
    list_kind: str = field(default="")

    def __post_init__(self) -> None:
        if not self.storage_resource:
            self.storage_resource = f"{self.group or 'core'}/{self.plural}"
        if not self.list_kind:
            self.list_kind = self.kind + "List"

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def api_version(self) -> str:
        return self.group_version


def age(obj: dict[str, Any], now: dt.datetime) -> str:
    """Kubernetes' short human duration since creation ("5s", "3m2s", "4h", "12d")."""
    created = try_parse_time(obj.get("metadata", {}).get("creationTimestamp"))
    if created is None:
        return "<unknown>"
    return human_duration(now - created)


def human_duration(d: dt.timedelta) -> str:
    """Mirror of apimachinery's duration.HumanDuration."""
    seconds = int(d.total_seconds())
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 60 * 2:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        s = seconds % 60
        return f"{minutes}m{s}s" if s else f"{minutes}m"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        m = minutes % 60
        return f"{hours}h{m}m" if m else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d{h}h" if h else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y{dy}d" if dy else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"
