"""Server-side apply and field ownership: what the API server calls on every write.

* ``apply(live, applied, ...)`` -- ``PATCH`` with ``application/apply-patch+yaml``: merges the
  applied configuration into the live object, removes fields this manager applied before and no
  longer applies (unless someone else owns them), detects conflicts with other managers and
  returns the new object with ``metadata.managedFields`` updated.
* ``record_update(old, new, ...)`` -- every other write (create, update, JSON/merge/strategic
  patch, status and scale writes): the fields the write changed become owned by its manager as
  an ``Update`` operation and are taken away from everybody else.

Worked example (the conflict kubectl shows after ``kubectl apply`` then ``apply --server-side``)::

    live:  spec.replicas: 2, managedFields: [kubectl-client-side-apply/Update owns .spec.replicas]
    apply --server-side of replicas: 3 with manager "kubectl", force=false
       -> .spec.replicas changes and is owned by another manager -> 409 Conflict
          'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas'
    (kubectl's own manager is allowed through when the value equals its last-applied annotation.)

Never owned: apiVersion, kind, metadata.{name, namespace, uid, resourceVersion, generation,
creationTimestamp, selfLink, managedFields}; ``status`` written through the main endpoint (kinds
with a status subresource); ``spec`` and ``metadata.labels`` written through ``/status``.
"""
from __future__ import annotations

import copy
import json
from typing import Any

from kubelite.api import schema as sch
from kubelite.machinery.apply import managed as mf
from kubelite.machinery.apply.fieldpath import (
    FieldSet,
    Path,
    path_sort_key,
    path_string,
    with_ancestors,
)
from kubelite.machinery.apply.typed import (
    MISSING,
    T,
    TypedError,
    compare,
    json_equal,
    merge,
    remove_paths,
    root_type,
    to_set,
)
from kubelite.machinery.errors import StatusError, bad_request

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
BEFORE_FIRST_APPLY = "before-first-apply"
_MAX_ANNOTATIONS_BYTES = 256 * 1024

_META_IGNORED = ("name", "namespace", "creationTimestamp", "selfLink", "uid", "clusterName",
                 "generation", "managedFields", "resourceVersion")
_TOP_IGNORED = ("apiVersion", "kind")


class _Auto:
    def __repr__(self) -> str:
        return "AUTO"


AUTO: Any = _Auto()


# ---------------------------------------------------------------------------------------------
# public API

def apply(live: dict[str, Any] | None, applied: dict[str, Any], *, manager: str, force: bool,
          schema: str | None, now: str, api_version: str, subresource: str = "",
          has_status: bool = True) -> dict[str, Any]:
    """Server-side apply of ``applied`` (the request body) onto ``live`` (None: create).

    ``schema`` is the OpenAPI definition of the kind (None for custom resources); ``now`` the
    RFC 3339 time stamped on the manager's entry. Raises 400 for a malformed configuration and
    409 Conflict (``details.causes`` of reason FieldManagerConflict) unless ``force``.
    """
    _check_applied(live, applied, api_version)
    t = root_type(schema)
    reset = _reset_paths(subresource, has_status)
    live_obj = live if live is not None else {}
    managers = _decode_or_empty(_managed_entries(live_obj))
    original = mf.snapshot(managers)
    if live is not None and not managers:
        # Fields that exist before anyone applied belong to a synthetic updater, so that a
        # first apply cannot silently take them over.
        _record(managers, {}, live_obj, t, reset, mf.make_key(BEFORE_FIRST_APPLY, mf.UPDATE, api_version),
                api_version, "", now)

    try:
        config_set = _filter(to_set(_strip(applied, reset), t, strict=True), reset)
        merged = merge(live_obj, applied, t)
    except TypedError as e:
        meta = applied.get("metadata")
        meta = meta if isinstance(meta, dict) else {}
        where = f"{meta.get('namespace', '')}/{meta.get('name', '')}; {api_version}, Kind={applied.get('kind', '')}"
        raise StatusError(422, "Invalid", f"failed to create typed patch object ({where}): {e}") from None

    key = mf.make_key(manager, mf.APPLY, api_version, subresource)
    last = managers.get(key)
    managers[key] = mf.Entry(manager or "unknown", mf.APPLY, api_version, subresource,
                             last.time if last else None, config_set)
    if last is not None and last.fields:
        merged = _prune(merged, t, last.fields, managers, reset)

    diff = compare(_strip(live_obj, reset), _strip(merged, reset), t)
    changed = _filter(diff.changed, reset)
    removed = _filter(diff.removed, reset)
    conflicts = {k: m.fields & changed for k, m in managers.items() if k != key and m.fields & changed}
    if conflicts and not force:
        allowed = _allowed_by_last_applied(live_obj, t, reset, api_version) if manager == "kubectl" else None
        remaining = {k: s - allowed for k, s in conflicts.items() if s - allowed} if allowed is not None else conflicts
        if remaining:
            raise _conflict_error(remaining, managers)
    for k, m in managers.items():
        if k != key:
            m.fields -= changed
            m.fields -= removed
    _drop_empty(managers)

    if key in managers and (last is None or not _same_object(live_obj, merged)):
        managers[key].time = now
    if manager == "kubectl" and _has_last_applied(merged):
        _set_last_applied(merged, applied)
    _store(merged, managers, original, _managed_entries(live_obj))
    return merged


def record_update(old: dict[str, Any] | None, new: dict[str, Any], *, manager: str, now: str,
                  api_version: str, subresource: str = "", schema: str | None = AUTO,
                  has_status: bool = True) -> None:
    """Update ``new["metadata"]["managedFields"]`` in place for a non-apply write.

    ``old`` is the stored object (None on create). The fields the write added or modified
    become owned by ``manager`` (operation Update, time ``now``); fields it removed or took over
    leave every other manager. When nothing changed the entries stay byte-identical. ``schema``
    defaults to the built-in definition for ``new``'s apiVersion/kind (None for CRs).
    """
    meta = new.get("metadata")
    if not isinstance(meta, dict):
        meta = new["metadata"] = {}
    old_entries = _managed_entries(old) if old is not None else None
    new_entries = meta.get("managedFields", MISSING)
    if subresource:
        base = old_entries  # subresources never take managedFields from the request
    elif mf.is_reset(new_entries):
        base = []
    elif isinstance(new_entries, list) and new_entries and _decode_or_empty(new_entries):
        # A write may carry managedFields (a PUT of a GET, kubectl's SSA migration patch);
        # valid ones win over the stored ones.
        base = new_entries
    else:
        base = old_entries
    managers = _decode_or_empty(base)
    if old is not None and not managers:
        # An object nobody tracks stays untracked (kube only starts tracking on create).
        meta.pop("managedFields", None)
        return
    if schema is AUTO:
        schema = schema_for(new.get("apiVersion", api_version), new.get("kind", ""))
    t = root_type(schema)
    reset = _reset_paths(subresource, has_status)
    original = mf.snapshot(managers)
    _record(managers, old if old is not None else {}, new, t, reset,
            mf.make_key(manager, mf.UPDATE, api_version, subresource), api_version, subresource, now)
    mf.cap_update_managers(managers)
    _store(new, managers, original, base)


def schema_for(api_version: str, kind: str) -> str | None:
    """The OpenAPI definition of a built-in kind (``apps/v1``, ``Deployment`` ->
    ``io.k8s.api.apps.v1.Deployment``), or None (custom resources)."""
    group, _, version = api_version.rpartition("/")
    pkg = _GROUP_PACKAGES.get(group)
    if pkg is None or not kind:
        return None
    name = f"{pkg}.{version}.{kind}"
    return name if sch.has_message(name) else None


_GROUP_PACKAGES = {
    "": "io.k8s.api.core",
    "apps": "io.k8s.api.apps",
    "autoscaling": "io.k8s.api.autoscaling",
    "batch": "io.k8s.api.batch",
    "policy": "io.k8s.api.policy",
    "authentication.k8s.io": "io.k8s.api.authentication",
    "authorization.k8s.io": "io.k8s.api.authorization",
    "coordination.k8s.io": "io.k8s.api.coordination",
    "discovery.k8s.io": "io.k8s.api.discovery",
    "events.k8s.io": "io.k8s.api.events",
    "networking.k8s.io": "io.k8s.api.networking",
    "rbac.authorization.k8s.io": "io.k8s.api.rbac",
    "scheduling.k8s.io": "io.k8s.api.scheduling",
    "storage.k8s.io": "io.k8s.api.storage",
    "admissionregistration.k8s.io": "io.k8s.api.admissionregistration",
    "certificates.k8s.io": "io.k8s.api.certificates",
    "node.k8s.io": "io.k8s.api.node",
    "flowcontrol.apiserver.k8s.io": "io.k8s.api.flowcontrol",
    "apiextensions.k8s.io": "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions",
    "resource.k8s.io": "io.k8s.api.resource",
    "apiregistration.k8s.io": "io.k8s.kube-aggregator.pkg.apis.apiregistration",
}


# ---------------------------------------------------------------------------------------------
# bookkeeping

def _record(managers: mf.Managers, old: dict[str, Any], new: dict[str, Any], t: T,
            reset: tuple[Path, ...], key: mf.Key, api_version: str, subresource: str, now: str) -> None:
    """The Update bookkeeping (structured-merge-diff's Updater.Update, seen through kube's
    managedFieldsUpdater): changed fields move to ``key``; removed fields leave everyone."""
    diff = compare(_strip(old, reset), _strip(new, reset), t)
    changed = _filter(diff.changed, reset)
    removed = _filter(diff.removed, reset)
    for m in managers.values():
        m.fields -= changed
        m.fields -= removed
    if changed:
        prev = managers.get(key)
        fields = (prev.fields if prev else set()) | changed
        managers[key] = mf.Entry(key[0], mf.UPDATE, api_version, subresource, now, fields)
    _drop_empty(managers)


def _prune(merged: dict[str, Any], t: T, last: FieldSet, managers: mf.Managers,
           reset: tuple[Path, ...]) -> dict[str, Any]:
    """Remove what the applier owned last time, no longer applies and nobody else owns.
    Example: last applied {.spec.replicas, .metadata.labels.a}, now {.metadata.labels.a}
    -> .spec.replicas is removed (if no other manager owns it), .spec stays if anyone owns
    something under it."""
    owned: FieldSet = set()
    for m in managers.values():
        owned |= m.fields
    owned = with_ancestors(owned)
    drop = {p for p in with_ancestors(last) if p not in owned and not _ignored(p, reset)}
    return remove_paths(merged, t, drop)


def _reset_paths(subresource: str, has_status: bool) -> tuple[Path, ...]:
    if subresource == "status":
        return (("f:spec",), ("f:metadata", "f:labels"))
    return (("f:status",),) if has_status else ()


def _ignored(p: Path, reset: tuple[Path, ...]) -> bool:
    if not p:
        return True
    if p[0] in ("f:apiVersion", "f:kind") or p == ("f:metadata",):
        return True
    if p[0] == "f:metadata" and len(p) > 1 and p[1][2:] in _META_IGNORED:
        return True
    return any(p[:len(r)] == r for r in reset)


def _filter(paths: FieldSet, reset: tuple[Path, ...]) -> FieldSet:
    return {p for p in paths if not _ignored(p, reset)}


def _strip(obj: Any, reset: tuple[Path, ...]) -> Any:
    """A shallow copy without the never-owned fields (so diffs skip managedFields etc.)."""
    if not isinstance(obj, dict):
        return obj
    out = {k: v for k, v in obj.items() if k not in _TOP_IGNORED}
    meta = out.get("metadata")
    if isinstance(meta, dict):
        out["metadata"] = {k: v for k, v in meta.items() if k not in _META_IGNORED}
    for r in reset:
        node = out
        names = [pe[2:] for pe in r]
        for name in names[:-1]:
            child = node.get(name)
            if not isinstance(child, dict):
                break
            node[name] = child = dict(child)
            node = child
        else:
            node.pop(names[-1], None)
    return out


def _drop_empty(managers: mf.Managers) -> None:
    for k in [k for k, m in managers.items() if not m.fields]:
        del managers[k]


def _managed_entries(obj: dict[str, Any] | None) -> Any:
    if not isinstance(obj, dict):
        return None
    meta = obj.get("metadata")
    return meta.get("managedFields") if isinstance(meta, dict) else None


def _decode_or_empty(entries: Any) -> mf.Managers:
    try:
        return mf.decode(entries)
    except ValueError:
        return {}


def _store(obj: dict[str, Any], managers: mf.Managers, original: dict[Any, Any], base: Any) -> None:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = obj["metadata"] = {}
    if mf.snapshot(managers) == original and isinstance(base, list) and base:
        meta["managedFields"] = copy.deepcopy(base)  # unchanged: keep the exact bytes
        return
    entries = mf.encode(managers)
    if entries:
        meta["managedFields"] = entries
    else:
        meta.pop("managedFields", None)


def _same_object(a: dict[str, Any], b: dict[str, Any]) -> bool:
    def without_mf(o: dict[str, Any]) -> dict[str, Any]:
        meta = o.get("metadata")
        if not isinstance(meta, dict) or "managedFields" not in meta:
            return o
        return {**o, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}
    return json_equal(without_mf(a), without_mf(b))


# ---------------------------------------------------------------------------------------------
# checks, conflicts, kubectl's last-applied annotation

def _check_applied(live: dict[str, Any] | None, applied: Any, api_version: str) -> None:
    if not isinstance(applied, dict):
        raise bad_request("error decoding YAML: the apply configuration must be an object")
    got = applied.get("apiVersion", "")
    if got != api_version:
        raise bad_request("Incorrect version specified in apply patch. "
                          f"Specified patch version: {got}, expected: {api_version}")
    kind = applied.get("kind", "")
    if live is not None and live.get("kind") and kind != live.get("kind"):
        group, _, version = api_version.rpartition("/")
        raise bad_request(f"invalid object type: {group + '/' if group else ''}{version}, Kind={kind}")
    meta = applied.get("metadata")
    if isinstance(meta, dict) and meta.get("managedFields") is not None:
        raise bad_request("metadata.managedFields must be nil")


def _conflict_error(conflicts: dict[mf.Key, FieldSet], managers: mf.Managers) -> StatusError:
    items: list[tuple[mf.Key, Path]] = []
    for k in sorted(conflicts):
        items.extend((k, p) for p in sorted(conflicts[k], key=path_sort_key))
    names = {k: mf.describe(k, managers[k].api_version) for k in conflicts}
    causes = [{"reason": "FieldManagerConflict", "message": f"conflict with {names[k]}", "field": path_string(p)}
              for k, p in items]
    if len(items) == 1:
        k, p = items[0]
        message = f"Apply failed with 1 conflict: conflict with {names[k]}: {path_string(p)}"
    else:
        lines: list[str] = []
        for k in sorted(conflicts):
            lines.append(f"conflicts with {names[k]}:")
            lines.extend(f"- {path_string(p)}" for p in sorted(conflicts[k], key=path_sort_key))
        message = f"Apply failed with {len(items)} conflicts: " + "\n".join(lines)
    return StatusError(409, "Conflict", message, {"causes": causes})


def _has_last_applied(obj: dict[str, Any]) -> bool:
    ann = (obj.get("metadata") or {}).get("annotations") or {}
    return bool(ann.get(LAST_APPLIED))


def _allowed_by_last_applied(live: dict[str, Any], t: T, reset: tuple[Path, ...],
                             api_version: str) -> FieldSet | None:
    """Fields kubectl may take over without a conflict: those its client-side last-applied
    annotation sets to the value the object still has (kube's lastAppliedManager)."""
    raw = ((live.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    if not raw:
        return None
    try:
        last = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(last, dict) or last.get("apiVersion") != api_version:
        return None
    try:
        last_set = _filter(to_set(_strip(last, reset), t, strict=True), reset)
    except TypedError:
        return None
    diff = compare(_strip(last, reset), _strip(live, reset), t)
    return last_set - diff.modified - diff.added - diff.removed


def _set_last_applied(obj: dict[str, Any], applied: dict[str, Any]) -> None:
    """Keep a client-side-applied object's annotation in step with what kubectl now applies."""
    cfg = copy.deepcopy(applied)
    ann = (cfg.get("metadata") or {}).get("annotations")
    if isinstance(ann, dict):
        ann.pop(LAST_APPLIED, None)
    value = json.dumps(cfg, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    annotations = obj.setdefault("metadata", {}).setdefault("annotations", {})
    annotations[LAST_APPLIED] = value
    if sum(len(k) + len(v) for k, v in annotations.items() if isinstance(v, str)) > _MAX_ANNOTATIONS_BYTES:
        del annotations[LAST_APPLIED]
