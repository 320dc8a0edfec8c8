"""Pure Deployment arithmetic and bookkeeping (Kubernetes' ``deployment/util``): no I/O.

Used by the deployment controller's phases (``sync``, ``rolling``, ``recreate``, ``rollback``,
``progress``) and by tests. Objects are plain dicts; functions never mutate their inputs unless
the name says so (``set_*`` on a copy the caller owns).

Surge and unavailability, worked through (``resolve_fenceposts``)::

    replicas 10, maxSurge 25%, maxUnavailable 25%
    surge       = ceil(10 * 25 / 100)  = ceil(2.5)  = 3   -> at most 13 pods in all
    unavailable = floor(10 * 25 / 100) = floor(2.5) = 2   -> at least 8 pods available
    (both 0 after rounding, e.g. 1 replica at 0%/25%: unavailable becomes 1 so a rollout can move)

The rolling update then alternates two moves until done (see ``rolling.py``):
scale the new ReplicaSet up to ``13 - (pods of all sets)``, and scale old sets down by
``(available of all sets) - 8``, never below what keeps 8 available.

Proportional scaling while a rollout is in flight (``proportions``): deployment scaled 10 -> 20
with old RS 8 and new RS 5 (13 = 10 + surge 3): allowed = 20 + 5 (new surge) = 25, so 12 pods
are added in proportion to each set's share of the 13 recorded in ``max-replicas``:
old 8 * 25/13 = 15.38 -> 15 (+7), new 5 * 25/13 = 9.6 -> 10 (+5): 15 + 10 = 25.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kubelite.controllers.podcontrol import (
    controller_ref,
    creation_key,
    meta,
    name_of,
    uid_of,
)
from kubelite.controllers.revisions import compute_hash

Obj = dict[str, Any]

POD_TEMPLATE_HASH = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
ROLLBACK_TO = "deprecated.deployment.rollback.to"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
#: never copied from a Deployment onto its ReplicaSets (nor back on rollback)
SKIPPED_ANNOTATIONS = frozenset({LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS,
                                 ROLLBACK_TO, "deployment.kubernetes.io/error-selector-overlapping-with",
                                 "deployment.kubernetes.io/selector-updated-at"})

# Condition reasons, verbatim from Kubernetes (kubectl and dashboards match on them).
REASON_RS_UPDATED = "ReplicaSetUpdated"
REASON_RS_CREATE_ERROR = "ReplicaSetCreateError"
REASON_NEW_RS_CREATED = "NewReplicaSetCreated"
REASON_FOUND_NEW_RS = "FoundNewReplicaSet"
REASON_NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
REASON_TIMED_OUT = "ProgressDeadlineExceeded"
REASON_PAUSED = "DeploymentPaused"
REASON_RESUMED = "DeploymentResumed"
REASON_MIN_AVAILABLE = "MinimumReplicasAvailable"
REASON_MIN_UNAVAILABLE = "MinimumReplicasUnavailable"
MAX_INT32 = 2**31 - 1


# -- int-or-percent ---------------------------------------------------------------------------

def scaled_value(value: int | str | None, total: int, round_up: bool) -> int:
    """``intstr.GetScaledValueFromIntOrPercent``: 3 -> 3; "25%" of 10 -> 3 (up) or 2 (down)."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if not text.endswith("%"):
        try:
            return int(text)
        except ValueError:
            raise ValueError("invalid value for IntOrString: invalid type: string is not a percentage") from None
    try:
        pct = int(text[:-1])
    except ValueError:
        raise ValueError(f"invalid value for IntOrString: invalid value {text!r}") from None
    # Integer arithmetic: exact where Go's float ceil/floor is exact, and never off by one.
    q, r = divmod(pct * total, 100)
    return q + (1 if round_up and r else 0)


def resolve_fenceposts(max_surge: int | str | None, max_unavailable: int | str | None, desired: int) -> tuple[int, int]:
    """(surge, unavailable) in pods: surge rounds up, unavailable rounds down; if both come out
    0, unavailable is 1 (a rollout must be able to move)."""
    surge = scaled_value(max_surge, desired, True)
    unavailable = scaled_value(max_unavailable, desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def replicas_of(obj: Mapping[str, Any] | None) -> int:
    if obj is None:
        return 0
    r = (obj.get("spec") or {}).get("replicas")
    return 1 if r is None else int(r)


def _status(obj: Mapping[str, Any] | None, key: str) -> int:
    if obj is None:
        return 0
    return int((obj.get("status") or {}).get(key) or 0)


def is_rolling(d: Mapping[str, Any]) -> bool:
    return ((d.get("spec") or {}).get("strategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"


def _rolling_params(d: Mapping[str, Any]) -> tuple[Any, Any]:
    ru = ((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
    return ru.get("maxSurge", "25%"), ru.get("maxUnavailable", "25%")


def max_surge(d: Mapping[str, Any]) -> int:
    if not is_rolling(d):
        return 0
    surge, _ = resolve_fenceposts(*_rolling_params(d), replicas_of(d))
    return surge


def max_unavailable(d: Mapping[str, Any]) -> int:
    """Unavailable pods a RollingUpdate tolerates (0 for Recreate or 0 replicas; never more
    than replicas)."""
    replicas = replicas_of(d)
    if not is_rolling(d) or replicas == 0:
        return 0
    _, unavailable = resolve_fenceposts(*_rolling_params(d), replicas)
    return min(unavailable, replicas)


# -- templates and hashes -------------------------------------------------------------------

def template_hash(template: Mapping[str, Any], collision_count: int | None) -> str:
    return compute_hash(template, collision_count)


def strip_hash(template: Mapping[str, Any]) -> Obj:
    """A copy of a pod template without the ``pod-template-hash`` label (and without an
    emptied labels map)."""
    t = dict(template)
    md = dict(t.get("metadata") or {})
    labels = dict(md.get("labels") or {})
    labels.pop(POD_TEMPLATE_HASH, None)
    if labels:
        md["labels"] = labels
    else:
        md.pop("labels", None)
    t["metadata"] = md
    return t


def _normal(template: Mapping[str, Any]) -> Obj:
    t = strip_hash(template)
    md = {k: v for k, v in (t.get("metadata") or {}).items() if v not in (None, {}, [], "")}
    t["metadata"] = md
    if not md:
        t.pop("metadata")
    return t


def equal_ignore_hash(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Pod templates equal apart from the hash label (kube's ``EqualIgnoreHash``)."""
    return _normal(a) == _normal(b)


def find_new_rs(d: Mapping[str, Any], rss: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The oldest ReplicaSet whose template equals the Deployment's (several can exist after
    a hash collision; the oldest wins so the choice is stable)."""
    template = (d.get("spec") or {}).get("template") or {}
    for rs in sorted(rss, key=creation_key):
        if equal_ignore_hash((rs.get("spec") or {}).get("template") or {}, template):
            return rs
    return None


def owned_by(obj: Mapping[str, Any], owner: Mapping[str, Any]) -> bool:
    ref = controller_ref(obj)
    return ref is not None and ref.get("uid") == uid_of(owner)


# -- revisions ------------------------------------------------------------------------------

def revision(obj: Mapping[str, Any]) -> int:
    try:
        return int((meta(obj).get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def max_revision(rss: Iterable[Mapping[str, Any]]) -> int:
    return max((revision(rs) for rs in rss), default=0)


def last_revision(rss: Iterable[Mapping[str, Any]]) -> int:
    """The second highest revision (what ``rollback to 0`` means)."""
    revs = sorted({revision(rs) for rs in rss}, reverse=True)
    return revs[1] if len(revs) > 1 else 0


def copy_annotations_to_rs(d: Mapping[str, Any], rs_meta: Obj) -> bool:
    """Copy the Deployment's annotations (except the skipped ones) onto the RS metadata."""
    changed = False
    annotations = rs_meta.setdefault("annotations", {})
    for k, v in (meta(d).get("annotations") or {}).items():
        if k in SKIPPED_ANNOTATIONS or annotations.get(k) == v:
            continue
        annotations[k] = v
        changed = True
    return changed


def set_replicas_annotations(rs_meta: Obj, desired: int, maximum: int) -> bool:
    annotations = rs_meta.setdefault("annotations", {})
    changed = False
    for key, value in ((DESIRED_REPLICAS, str(desired)), (MAX_REPLICAS, str(maximum))):
        if annotations.get(key) != value:
            annotations[key] = value
            changed = True
    return changed


def replicas_annotations_need_update(rs: Mapping[str, Any], desired: int, maximum: int) -> bool:
    a = meta(rs).get("annotations") or {}
    return a.get(DESIRED_REPLICAS) != str(desired) or a.get(MAX_REPLICAS) != str(maximum)


def _int_annotation(rs: Mapping[str, Any], key: str) -> int | None:
    v = (meta(rs).get("annotations") or {}).get(key)
    if v is None:
        return None
    try:
        return int(v)
    except ValueError:
        return None


def desired_replicas_annotation(rs: Mapping[str, Any]) -> int | None:
    return _int_annotation(rs, DESIRED_REPLICAS)


def max_replicas_annotation(rs: Mapping[str, Any]) -> int | None:
    return _int_annotation(rs, MAX_REPLICAS)


def set_new_rs_annotations(d: Mapping[str, Any], rs_meta: Obj, new_revision: int, exists: bool) -> bool:
    """Kube's ``SetNewReplicaSetAnnotations`` on a metadata dict the caller owns: copy the
    Deployment's annotations, raise the revision to ``new_revision`` when lower (the RS
    reused by a rollback gets the top revision, its old one appended to ``revision-history``),
    and on creation record desired/max replicas. Returns whether anything changed."""
    changed = copy_annotations_to_rs(d, rs_meta)
    annotations = rs_meta.setdefault("annotations", {})
    old = annotations.get(REVISION)
    try:
        old_num = int(old) if old is not None else 0
    except ValueError:
        old_num = 0
    if old_num < new_revision:
        annotations[REVISION] = str(new_revision)
        changed = True
        if old is not None:
            history = [h for h in annotations.get(REVISION_HISTORY, "").split(",") if h]
            history.append(old)
            annotations[REVISION_HISTORY] = ",".join(history)
    if not exists:
        replicas = replicas_of(d)
        if set_replicas_annotations(rs_meta, replicas, replicas + max_surge(d)):
            changed = True
    return changed


# -- counting -------------------------------------------------------------------------------

def total_spec_replicas(rss: Iterable[Mapping[str, Any] | None]) -> int:
    return sum(replicas_of(rs) for rs in rss if rs is not None)


def total_status(rss: Iterable[Mapping[str, Any] | None], key: str) -> int:
    return sum(_status(rs, key) for rs in rss if rs is not None)


def active(rss: Iterable[Mapping[str, Any] | None]) -> list[Mapping[str, Any]]:
    """ReplicaSets with replicas > 0."""
    return [rs for rs in rss if rs is not None and replicas_of(rs) > 0]


def new_rs_new_replicas(d: Mapping[str, Any], all_rss: Sequence[Mapping[str, Any] | None],
                        new_rs: Mapping[str, Any]) -> int:
    """How big the new ReplicaSet may be now. RollingUpdate: fill up to replicas + maxSurge
    pods in all sets, but not beyond replicas. Example: replicas 10, surge 3, old 10, new 0
    -> new may have 3 (13 total). Recreate: replicas."""
    replicas = replicas_of(d)
    if not is_rolling(d):
        return replicas
    current = total_spec_replicas(all_rss)
    limit = replicas + max_surge(d)
    if current >= limit:
        return replicas_of(new_rs)
    scale_up = min(limit - current, replicas - replicas_of(new_rs))
    return replicas_of(new_rs) + max(scale_up, 0)


def is_saturated(d: Mapping[str, Any], rs: Mapping[str, Any] | None) -> bool:
    """The new RS has all the Deployment's replicas, recorded and available."""
    if rs is None:
        return False
    replicas = replicas_of(d)
    return (replicas_of(rs) == replicas and desired_replicas_annotation(rs) == replicas
            and _status(rs, "availableReplicas") == replicas)


def find_active_or_latest(new_rs: Mapping[str, Any] | None,
                          old_rss: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The only active RS, or the newest when none is active; None when several are active
    (then scaling is proportional)."""
    if new_rs is None and not old_rss:
        return None
    newest_first = sorted(old_rss, key=creation_key, reverse=True)
    sets = active([*newest_first, new_rs])
    if not sets:
        return new_rs if new_rs is not None else newest_first[0]
    if len(sets) == 1:
        return sets[0]
    return None


def round_half_away(x: float) -> int:
    """Go's ``math.Round``: halves away from zero (Python's round() goes to even)."""
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


def rs_fraction(rs: Mapping[str, Any], d: Mapping[str, Any]) -> int:
    """How many pods ``rs`` should gain (or lose) for the Deployment's new size, in proportion
    to its share of the size recorded in its ``max-replicas`` annotation."""
    replicas = replicas_of(d)
    if replicas == 0:
        return -replicas_of(rs)
    deployment_replicas = replicas + max_surge(d)
    annotated = max_replicas_annotation(rs)
    if annotated is None:
        # Unannotated (adopted) set: use the Deployment's observed pod count.
        annotated = _status(d, "replicas")
    if annotated == 0:
        return 0
    new_size = replicas_of(rs) * deployment_replicas / annotated
    return round_half_away(new_size) - replicas_of(rs)


def proportion(rs: Mapping[str, Any] | None, d: Mapping[str, Any], to_add: int, added: int) -> int:
    if rs is None or replicas_of(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = rs_fraction(rs, d)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def proportional_sizes(d: Mapping[str, Any], rss: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """New sizes (by RS name) for the active sets when the Deployment is resized mid-rollout.
    Larger sets are handled first (newer first on ties when growing, older first when
    shrinking) and the rounding leftover goes to the first one."""
    sets = active(rss)
    replicas = replicas_of(d)
    allowed = replicas + max_surge(d) if replicas > 0 else 0
    to_add = allowed - total_spec_replicas(sets)
    if to_add > 0:
        ordered = sorted(sets, key=lambda r: (-replicas_of(r), _neg_creation(r)))
    else:
        ordered = sorted(sets, key=lambda r: (-replicas_of(r), creation_key(r)))
    sizes: dict[str, int] = {}
    added = 0
    for rs in ordered:
        p = proportion(rs, d, to_add, added)
        sizes[name_of(rs)] = replicas_of(rs) + p
        added += p
    if ordered and to_add != added:
        first = name_of(ordered[0])
        sizes[first] = max(sizes[first] + (to_add - added), 0)
    return sizes


def _neg_creation(rs: Mapping[str, Any]) -> tuple[str, str]:
    # Newer first: invert each character so lexicographic order reverses.
    ts, name = creation_key(rs)
    return ("".join(chr(0x10FFFF - ord(c)) for c in ts), "".join(chr(0x10FFFF - ord(c)) for c in name))


# -- conditions and status ------------------------------------------------------------------

def get_condition(status: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for c in status.get("conditions") or ():
        if c.get("type") == kind:
            return c
    return None


def new_condition(kind: str, status: str, reason: str, message: str, now: str) -> Obj:
    return {"type": kind, "status": status, "lastUpdateTime": now, "lastTransitionTime": now,
            "reason": reason, "message": message}


def set_condition(status: Obj, cond: Obj) -> None:
    """Kube's ``SetDeploymentCondition``: no-op when status and reason are unchanged; keeps
    lastTransitionTime when only the reason changes."""
    current = get_condition(status, cond["type"])
    if current is not None and current.get("status") == cond["status"] and current.get("reason") == cond["reason"]:
        return
    cond = dict(cond)
    if current is not None and current.get("status") == cond["status"]:
        cond["lastTransitionTime"] = current.get("lastTransitionTime", cond["lastTransitionTime"])
    status["conditions"] = [c for c in status.get("conditions") or () if c.get("type") != cond["type"]] + [cond]


def remove_condition(status: Obj, kind: str) -> None:
    conds = [c for c in status.get("conditions") or () if c.get("type") != kind]
    if conds:
        status["conditions"] = conds
    else:
        status.pop("conditions", None)


def calculate_status(all_rss: Sequence[Mapping[str, Any] | None], new_rs: Mapping[str, Any] | None,
                     d: Mapping[str, Any], now: str) -> Obj:
    """The Deployment status implied by its ReplicaSets, with the Available condition set."""
    sets = [rs for rs in all_rss if rs is not None]
    available = total_status(sets, "availableReplicas")
    unavailable = max(total_spec_replicas(sets) - available, 0)
    old = d.get("status") or {}
    status: Obj = {
        "observedGeneration": meta(d).get("generation", 0),
        "replicas": total_status(sets, "replicas"),
        "updatedReplicas": _status(new_rs, "replicas"),
        "readyReplicas": total_status(sets, "readyReplicas"),
        "availableReplicas": available,
        "unavailableReplicas": unavailable,
    }
    if old.get("collisionCount") is not None:
        status["collisionCount"] = old["collisionCount"]
    if old.get("conditions"):
        status["conditions"] = [dict(c) for c in old["conditions"]]
    if available >= replicas_of(d) - max_unavailable(d):
        set_condition(status, new_condition("Available", "True", REASON_MIN_AVAILABLE,
                                            "Deployment has minimum availability.", now))
    else:
        set_condition(status, new_condition("Available", "False", REASON_MIN_UNAVAILABLE,
                                            "Deployment does not have minimum availability.", now))
    # Kubernetes omits zero counters (omitempty), which kubectl then prints as <none>/0.
    for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas", "unavailableReplicas"):
        if not status[k]:
            del status[k]
    return status


def has_progress_deadline(d: Mapping[str, Any]) -> bool:
    pds = (d.get("spec") or {}).get("progressDeadlineSeconds")
    return pds is not None and pds != MAX_INT32


def deployment_complete(d: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
    replicas = replicas_of(d)
    return ((status.get("updatedReplicas") or 0) == replicas and (status.get("replicas") or 0) == replicas
            and (status.get("availableReplicas") or 0) == replicas
            and (status.get("observedGeneration") or 0) >= meta(d).get("generation", 0))


def deployment_progressing(d: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Any progress since the last status: more updated, fewer old, more ready or available."""
    old = d.get("status") or {}
    old_old = (old.get("replicas") or 0) - (old.get("updatedReplicas") or 0)
    new_old = (new.get("replicas") or 0) - (new.get("updatedReplicas") or 0)
    return ((new.get("updatedReplicas") or 0) > (old.get("updatedReplicas") or 0) or new_old < old_old
            or (new.get("readyReplicas") or 0) > (old.get("readyReplicas") or 0)
            or (new.get("availableReplicas") or 0) > (old.get("availableReplicas") or 0))


def status_equal(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    keys = ("observedGeneration", "replicas", "updatedReplicas", "readyReplicas", "availableReplicas",
            "unavailableReplicas", "collisionCount", "conditions")
    return all((a.get(k) or 0) == (b.get(k) or 0) for k in keys)


def selects_all(d: Mapping[str, Any]) -> bool:
    sel = (d.get("spec") or {}).get("selector") or {}
    return not sel.get("matchLabels") and not sel.get("matchExpressions")


def rs_owner_uid(rs: Mapping[str, Any]) -> str:
    ref = controller_ref(rs)
    return ref.get("uid", "") if ref else ""
