"""``metadata.managedFields`` entries: decoding, encoding, manager identity, the 10-updater cap.

A *manager* is identified like kube-apiserver does it: Update managers by (name, "Update",
apiVersion, subresource) -- one entry per API version written with -- and Apply managers by
(name, "Apply", subresource) whatever version they applied with. Entries are written in kube's
field order and sorted by (operation, time, manager, apiVersion, subresource). Used by
``fieldmanager`` only.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubelite.api.helpers.times import try_parse_time
from kubelite.machinery.apply.fieldpath import FieldSet, from_fields_v1, to_fields_v1

APPLY, UPDATE = "Apply", "Update"
MAX_UPDATE_MANAGERS = 10
ANCIENT_CHANGES = "ancient-changes"

Key = tuple[str, str, str, str]  # (manager, operation, apiVersion or "" for Apply, subresource)


@dataclass(slots=True)
class Entry:
    manager: str
    operation: str
    api_version: str
    subresource: str = ""
    time: str | None = None
    fields: FieldSet = field(default_factory=set)

    @property
    def key(self) -> Key:
        return make_key(self.manager, self.operation, self.api_version, self.subresource)


def make_key(manager: str, operation: str, api_version: str, subresource: str = "") -> Key:
    return (manager or "unknown", operation, "" if operation == APPLY else api_version, subresource)


Managers = dict[Key, Entry]


def decode(entries: Any) -> Managers:
    """Parse a managedFields list; ValueError (with kube's wording) if any entry is malformed."""
    if entries is None:
        return {}
    if not isinstance(entries, list):
        raise ValueError("managedFields must be a list")
    out: Managers = {}
    for i, e in enumerate(entries):
        if not isinstance(e, dict):
            raise ValueError(f"managed fields entry {i} must be an object")
        op = e.get("operation")
        if op not in (APPLY, UPDATE):
            raise ValueError("operation must be `Apply` or `Update`")
        api_version = e.get("apiVersion") or ""
        if not api_version:
            raise ValueError("apiVersion must not be empty")
        ftype = e.get("fieldsType") or ""
        if ftype == "":
            raise ValueError(f"missing fieldsType in managed fields entry {i}")
        if ftype != "FieldsV1":
            raise ValueError(f'invalid fieldsType "{ftype}" in managed fields entry {i}')
        fields = from_fields_v1(e.get("fieldsV1") or {})
        entry = Entry(str(e.get("manager") or ""), op, str(api_version), str(e.get("subresource") or ""),
                      e.get("time"), fields)
        out[entry.key] = entry
    return out


def is_reset(entries: Any) -> bool:
    """``managedFields: []`` (or ``[{}]``) in a write asks to drop all ownership."""
    if not isinstance(entries, list):
        return False
    return len(entries) == 0 or (len(entries) == 1 and entries[0] == {})


def _seconds(t: str | None) -> float:
    if not t:
        return 0.0
    parsed = try_parse_time(t)
    return 0.0 if parsed is None else parsed.timestamp() // 1


def encode(managers: Managers) -> list[dict[str, Any]]:
    """Entries sorted as kube sorts them; empty sets are dropped."""
    entries = [m for m in managers.values() if m.fields]
    entries.sort(key=lambda m: (m.operation, _seconds(m.time), m.manager, m.api_version, m.subresource))
    out = []
    for m in entries:
        e: dict[str, Any] = {"manager": m.manager, "operation": m.operation, "apiVersion": m.api_version}
        if m.time is not None:
            e["time"] = m.time
        e["fieldsType"] = "FieldsV1"
        e["fieldsV1"] = to_fields_v1(m.fields)
        if m.subresource:
            e["subresource"] = m.subresource
        out.append(e)
    return out


def snapshot(managers: Managers) -> dict[Key, tuple[str | None, str, frozenset]]:
    """A comparable copy, to tell whether bookkeeping changed anything."""
    return {k: (m.time, m.api_version, frozenset(m.fields)) for k, m in managers.items() if m.fields}


def cap_update_managers(managers: Managers, limit: int = MAX_UPDATE_MANAGERS) -> None:
    """Keep at most ``limit`` Update managers: fold the oldest into an "ancient-changes" entry
    per API version (kube's capManagersManager)."""
    updaters = [k for k, m in managers.items() if m.operation == UPDATE and m.fields]
    if len(updaters) <= limit:
        return
    updaters.sort(key=lambda k: (_seconds(managers[k].time), k))
    first_by_version: dict[str, Key] = {}
    length = len(updaters)
    for k in updaters:
        if length <= limit:
            break
        m = managers[k]
        bucket = make_key(ANCIENT_CHANGES, UPDATE, m.api_version)
        first = first_by_version.get(m.api_version)
        if first is None:
            first_by_version[m.api_version] = k
            continue
        if bucket not in managers:
            f = managers.pop(first)
            managers[bucket] = Entry(ANCIENT_CHANGES, UPDATE, m.api_version, "", f.time, set(f.fields))
        b = managers[bucket]
        b.fields |= m.fields
        b.time = m.time
        del managers[k]
        length -= 1


def describe(key: Key, api_version: str) -> str:
    """A manager as kube prints it in conflicts: ``"kubectl-client-side-apply" using apps/v1``."""
    name, operation, _, subresource = key
    out = _go_quote(name)
    if subresource:
        out += f" with subresource {_go_quote(subresource)}"
    if operation == UPDATE:
        out += f" using {api_version}"
    return out


def _go_quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
