"""The core/v1 Event kind: validation, field selectors and ``kubectl get events`` columns.

Events are written by controllers and kubelets (``kubelite.client`` event recorder) and read by
``kubectl describe`` / ``get events``, which select them with ``involvedObject.*`` field
selectors. Validation follows Kubernetes' legacyValidateEvent: old-style events (no
``eventTime``) must live in their involved object's namespace; new-style events (with
``eventTime``) need reportingController, reportingInstance, action and reason. The LAST SEEN
column prefers ``series.lastObservedTime``, then ``lastTimestamp``, then the first timestamp.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from kubelite.api.helpers.times import try_parse_time
from kubelite.api.registry import NAME_COLUMN, Column, ResourceType, Strategy, human_duration
from kubelite.api.validation import is_dns1123_subdomain, is_qualified_name, required
from kubelite.machinery.errors import FieldError, invalid

REPORTING_INSTANCE_LIMIT = 128
ACTION_LIMIT = 128
REASON_LIMIT = 128
NOTE_LIMIT = 1024


def _since(ts: Any, now: dt.datetime) -> str:
    t = try_parse_time(ts)
    return "<unknown>" if t is None else human_duration(now - t)


def validate_event(ev: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    ns = (ev.get("metadata") or {}).get("namespace") or ""
    involved = ev.get("involvedObject") or {}
    inv_ns = involved.get("namespace") or ""
    if not ev.get("eventTime"):
        if not inv_ns:
            if ns not in ("", "default"):
                errs.append(invalid("involvedObject.namespace", inv_ns, "does not match event.namespace"))
        elif ns != inv_ns:
            errs.append(invalid("involvedObject.namespace", inv_ns, "does not match event.namespace"))
    else:
        if not inv_ns and ns not in ("default", "kube-system"):
            errs.append(invalid("involvedObject.namespace", inv_ns, "does not match event.namespace"))
        rc = ev.get("reportingComponent") or ""
        if not rc:
            errs.append(required("reportingComponent"))
        else:
            errs += [invalid("reportingComponent", rc, m) for m in is_qualified_name(rc)]
        for field_name, limit in (("reportingInstance", REPORTING_INSTANCE_LIMIT), ("action", ACTION_LIMIT),
                                  ("reason", REASON_LIMIT)):
            v = ev.get(field_name) or ""
            if not v:
                errs.append(required(field_name))
            elif len(v) > limit:
                errs.append(invalid(field_name, "", f"can have at most {limit} characters"))
        if len(ev.get("message") or "") > NOTE_LIMIT:
            errs.append(invalid("message", "", f"can have at most {NOTE_LIMIT} characters"))
    if ns:
        errs += [invalid("namespace", ns, m) for m in is_dns1123_subdomain(ns)]
    return errs


class EventStrategy(Strategy):
    has_status = False
    columns = (
        Column("Last Seen", description="The time at which the most recent occurrence of this event was recorded."),
        Column("Type", description="Type of this event (Normal, Warning), new types could be added in the future"),
        Column("Reason", description="This should be a short, machine understandable string that gives the reason "
                                     "for the transition into the object's current status."),
        Column("Object", description="The object that this event is about."),
        Column("Subobject", priority=1, description="If referring to a piece of an object instead of an entire "
                                                    "object, this string should contain a valid JSON/Go field access "
                                                    "statement, such as desiredState.manifest.containers[2]."),
        Column("Source", priority=1, description="The component reporting this event. Should be a short machine "
                                                 "understandable string."),
        Column("Message", description="A human-readable description of the status of this operation."),
        Column("First Seen", priority=1, description="The time at which the event was first recorded. (Time of "
                                                     "server receipt is in TypeMeta.)"),
        Column("Count", priority=1, description="The number of times this event has occurred."),
        Column(NAME_COLUMN.name, format="name", priority=1, description=NAME_COLUMN.description),
    )

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        return validate_event(obj)

    def spec_changed(self, obj: dict[str, Any], old: dict[str, Any]) -> bool:
        return False  # events have no spec; count/lastTimestamp bumps are not generations

    def field_labels(self, obj: dict[str, Any]) -> dict[str, str]:
        inv = obj.get("involvedObject") or {}
        source = (obj.get("source") or {}).get("component") or obj.get("reportingComponent") or ""
        return {
            "involvedObject.kind": inv.get("kind", ""),
            "involvedObject.namespace": inv.get("namespace", ""),
            "involvedObject.name": inv.get("name", ""),
            "involvedObject.uid": inv.get("uid", ""),
            "involvedObject.apiVersion": inv.get("apiVersion", ""),
            "involvedObject.resourceVersion": inv.get("resourceVersion", ""),
            "involvedObject.fieldPath": inv.get("fieldPath", ""),
            "reason": obj.get("reason", ""),
            "reportingComponent": obj.get("reportingComponent", ""),
            "source": source,
            "type": obj.get("type", ""),
        }

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        first = _since(obj.get("firstTimestamp") or obj.get("eventTime"), now)
        last = _since(obj.get("lastTimestamp"), now) if obj.get("lastTimestamp") else first
        count = obj.get("count") or 0
        series = obj.get("series")
        if isinstance(series, dict):
            last = _since(series.get("lastObservedTime"), now)
            count = series.get("count") or 0
        elif not count:
            count = 1  # singleton events of the new API carry no count
        inv = obj.get("involvedObject") or {}
        kind = str(inv.get("kind", "")).lower()
        target = f"{kind}/{inv['name']}" if inv.get("name") else kind
        source = obj.get("source") or {}
        component = source.get("component") or obj.get("reportingComponent") or ""
        instance = source.get("host") or obj.get("reportingInstance") or ""
        return [last, obj.get("type", ""), obj.get("reason", ""), target, inv.get("fieldPath", ""),
                f"{component}, {instance}" if instance else component, str(obj.get("message", "")).strip(),
                first, count, obj["metadata"].get("name", "")]


EVENT = ResourceType(
    group="", version="v1", kind="Event", plural="events", singular="event", namespaced=True,
    strategy=EventStrategy(), schema="io.k8s.api.core.v1.Event", short_names=("ev",),
)
