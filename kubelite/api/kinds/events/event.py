"""events.k8s.io/v1 Event: the structured view of the Events stored as core/v1.

Both APIs read and write one store (``core/events``, core/v1 shape), as in Kubernetes, so an
event recorded through either shows up in ``kubectl get events`` and ``kubectl events``.
Field mapping (events.k8s.io <-> core/v1):

  regarding <-> involvedObject       note <-> message
  reportingController <-> reportingComponent
  deprecatedSource <-> source         deprecatedCount <-> count
  deprecatedFirstTimestamp/LastTimestamp <-> firstTimestamp/lastTimestamp
  eventTime, series, action, related, reason, type, reportingInstance: same name

Creating through events.k8s.io is strict (Kubernetes' rules for new-style events): eventTime,
reportingController, reportingInstance, action, reason are required, type is Normal or
Warning, the deprecated fields must stay unset, and most fields never change afterwards.
Error paths use the core field names, exactly as Kubernetes reports them.
Served through ``RESOURCE``; the Table matches ``kubectl get events``.
"""
from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from kubelite.api.helpers.times import try_parse_time
from kubelite.api.kinds._shared import NAME_COLUMN
from kubelite.api.registry import Column, ResourceType, Strategy, human_duration
from kubelite.api.validation import is_dns1123_subdomain, is_qualified_name, required, validate_immutable
from kubelite.machinery.errors import FieldError, invalid

REPORTING_INSTANCE_LIMIT = 128
ACTION_LIMIT = 128
REASON_LIMIT = 128
NOTE_LIMIT = 1024

#: events.k8s.io field -> core/v1 field (both directions)
_RENAMED = {
    "regarding": "involvedObject",
    "note": "message",
    "reportingController": "reportingComponent",
    "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
}
_SAME = ("reason", "type", "eventTime", "series", "action", "related", "reportingInstance")


def to_storage(event: dict[str, Any]) -> dict[str, Any]:
    """An events.k8s.io/v1 Event in the stored core/v1 shape."""
    out: dict[str, Any] = {"apiVersion": "v1", "kind": "Event", "metadata": copy.deepcopy(event.get("metadata") or {})}
    for name in _SAME:
        if event.get(name) is not None:
            out[name] = copy.deepcopy(event[name])
    for new, old in _RENAMED.items():
        if event.get(new) is not None:
            out[old] = copy.deepcopy(event[new])
    return out


def from_storage(core: dict[str, Any]) -> dict[str, Any]:
    """A stored core/v1 Event as events.k8s.io/v1 (empty strings and a zero count left out,
    as Go's ``omitempty`` would)."""
    out: dict[str, Any] = {"apiVersion": "events.k8s.io/v1", "kind": "Event",
                           "metadata": copy.deepcopy(core.get("metadata") or {})}
    for name in _SAME:
        if core.get(name) not in (None, ""):
            out[name] = copy.deepcopy(core[name])
    for new, old in _RENAMED.items():
        value = core.get(old)
        if value in (None, "", 0, {}) and new != "regarding":
            continue
        out[new] = copy.deepcopy(value) if value is not None else {}
    return out


def _core(event: dict[str, Any]) -> dict[str, Any]:
    """The core/v1 shape of ``event`` whichever shape it comes in."""
    return event if "involvedObject" in event or event.get("apiVersion") == "v1" else to_storage(event)


class EventStrategy(Strategy):
    has_status = False

    columns = (
        Column("Last Seen", description="The time at which the most recent occurrence of this event was recorded."),
        Column("Type", description="Type of this event (Normal, Warning), new types could be added in the future"),
        Column("Reason", description=(
            "This should be a short, machine understandable string that gives the reason for the transition into the "
            "object's current status.")),
        Column("Object", description="The object that this event is about."),
        Column("Subobject", priority=1, description=(
            "If referring to a piece of an object instead of an entire object, this string should contain a valid "
            "JSON/Go field access statement, such as desiredState.manifest.containers[2].")),
        Column("Source", priority=1, description=(
            "The component reporting this event. Should be a short machine understandable string.")),
        Column("Message", description="A human-readable description of the status of this operation."),
        Column("First Seen", priority=1, description=(
            "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)")),
        Column("Count", priority=1, description="The number of times this event has occurred."),
        Column("Name", priority=1, format="name", description=NAME_COLUMN.description),
    )

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = _validate_common(obj)
        errs += _validate_series(obj)
        if not obj.get("eventTime"):
            errs.append(required("eventTime"))
        kind = obj.get("type")
        if kind not in ("Normal", "Warning"):
            errs.append(invalid("type", "", f"has invalid value: {kind or ''}"))
        for f in ("deprecatedFirstTimestamp", "deprecatedLastTimestamp", "deprecatedCount"):
            if obj.get(f):
                errs.append(invalid(f, "", "needs to be unset"))
        source = obj.get("deprecatedSource") or {}
        if source.get("component") or source.get("host"):
            errs.append(invalid("deprecatedSource", "", "needs to be unset"))
        return errs

    def validate_update(self, obj: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = _validate_common(obj)
        if obj.get("series") != old.get("series"):
            errs += _validate_series(obj)
        new_core, old_core = _core(obj), _core(old)
        for f in ("involvedObject", "reason", "message", "source", "firstTimestamp", "lastTimestamp", "count",
                  "type", "eventTime", "action", "related", "reportingComponent", "reportingInstance"):
            errs += validate_immutable(new_core.get(f), old_core.get(f), f)
        return errs

    def field_labels(self, obj: dict[str, Any]) -> dict[str, str]:
        core = _core(obj)
        ref = core.get("involvedObject") or {}
        labels = {f"regarding.{k}": str(ref.get(k) or "")
                  for k in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")}
        labels.update({
            "reason": core.get("reason") or "",
            "reportingController": core.get("reportingComponent") or "",
            "source": (core.get("source") or {}).get("component") or "",
            "type": core.get("type") or "",
        })
        return labels

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        return event_row(_core(obj), now)


def _validate_common(obj: dict[str, Any]) -> list[FieldError]:
    """Kubernetes' ``legacyValidateEvent`` for an event that has an eventTime (new style)."""
    core = _core(obj)
    errs: list[FieldError] = []
    namespace = (core.get("metadata") or {}).get("namespace") or ""
    involved_ns = (core.get("involvedObject") or {}).get("namespace") or ""
    if core.get("eventTime"):
        if not involved_ns and namespace not in ("default", "kube-system"):
            errs.append(invalid("involvedObject.namespace", involved_ns, "does not match event.namespace"))
        controller = core.get("reportingComponent") or ""
        if not controller:
            errs.append(required("reportingController"))
        else:
            errs += [invalid("reportingController", controller, m) for m in is_qualified_name(controller)]
        for f, limit in (("reportingInstance", REPORTING_INSTANCE_LIMIT), ("action", ACTION_LIMIT),
                         ("reason", REASON_LIMIT)):
            value = core.get(f) or ""
            if not value:
                errs.append(required(f))
            if len(value) > limit:
                errs.append(invalid(f, "", f"can have at most {limit} characters"))
        if len(core.get("message") or "") > NOTE_LIMIT:
            errs.append(invalid("message", "", f"can have at most {NOTE_LIMIT} characters"))
    elif (involved_ns and namespace != involved_ns) or (not involved_ns and namespace not in ("", "default")):
        errs.append(invalid("involvedObject.namespace", involved_ns, "does not match event.namespace"))
    errs += [invalid("namespace", namespace, m) for m in is_dns1123_subdomain(namespace)] if namespace else []
    return errs


def _validate_series(obj: dict[str, Any]) -> list[FieldError]:
    series = obj.get("series")
    if series is None:
        return []
    errs: list[FieldError] = []
    if (series.get("count") or 0) < 2:
        errs.append(invalid("series.count", "", "should be at least 2"))
    if not series.get("lastObservedTime"):
        errs.append(required("series.lastObservedTime"))
    return errs


# --- Table (shared by both Event APIs: Kubernetes prints them from the same internal type) ------


def _since(ts: str | None, now: dt.datetime) -> str:
    return human_duration(now - t) if (t := try_parse_time(ts)) is not None else "<unknown>"


def event_row(core: dict[str, Any], now: dt.datetime) -> list[Any]:
    """``printEvent`` on a core/v1-shaped event (all wide cells included)."""
    first = _since(core.get("firstTimestamp") or core.get("eventTime"), now)
    last = _since(core.get("lastTimestamp"), now) if core.get("lastTimestamp") else first
    count = core.get("count") or 0
    series = core.get("series")
    if series:
        last = _since(series.get("lastObservedTime"), now)
        count = series.get("count") or 0
    elif count == 0:
        count = 1  # singleton events of the new API carry no count
    ref = core.get("involvedObject") or {}
    target = ref.get("kind", "").lower()
    if ref.get("name"):
        target = f"{target}/{ref['name']}"
    source = core.get("source") or {}
    component = source.get("component") or core.get("reportingComponent") or ""
    host = source.get("host") or core.get("reportingInstance") or ""
    return [last, core.get("type", ""), core.get("reason", ""), target, ref.get("fieldPath", ""),
            f"{component}, {host}" if host else component, (core.get("message") or "").strip(), first, count,
            (core.get("metadata") or {}).get("name", "")]


RESOURCE = ResourceType(
    group="events.k8s.io", version="v1", kind="Event", plural="events", singular="event", namespaced=True,
    strategy=EventStrategy(), schema="io.k8s.api.events.v1.Event", short_names=("ev",),
    storage_resource="core/events", to_storage=to_storage, from_storage=from_storage,
)
